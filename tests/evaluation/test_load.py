"""load_run: a trained run back as (model, task, config, checkpoint); every failure one line."""

import json
import shutil

import pytest
import torch

from memlab.core.errors import ConfigError, MemlabError
from memlab.evaluation import evaluate, load_model_weights, load_run
from memlab.training.run import train_run

TINY = {
    "model": {"hidden": 16, "layers": 1, "embed": 4},
    "task": {"train_min": 2, "train_max": 4, "test_min": 5, "test_max": 6, "vocab": 6},
    "train": {"lr": 0.01, "max_epochs": 2, "batches_per_epoch": 2, "batch_size": 4, "eval_every": 1,
              "eval_batches": 1, "target_coarse": 2.0},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("store")
    s = train_run("lstm", "copy", TINY, seed=1, out=out, name="r", progress=False)
    return out / "r", s


def _copy(run, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(run[0], dst)
    return dst


def test_load_run_best_and_last(run):
    r = load_run(run[0])
    assert r.checkpoint_path.name == "best.pt" and r.config.model == "lstm" and r.config.seed == 1
    assert r.task.name == "copy" and not r.model.training
    last = load_run(run[0], "last")
    assert last.checkpoint_path.name == "last.pt" and last.epoch == 2
    ref = torch.load(run[0] / "checkpoints" / "last.pt", weights_only=True)["model"]
    for k, v in last.model.state_dict().items():
        assert torch.equal(v, ref[k])


def test_best_falls_back_to_last_only_when_there_is_no_best(run, tmp_path):
    d = _copy(run, tmp_path)
    (d / "checkpoints" / "best.pt").unlink()
    assert load_run(d, "best").checkpoint_path.name == "last.pt"
    (d / "checkpoints" / "last.pt").unlink()
    with pytest.raises(MemlabError, match="has no checkpoint to load"):
        load_run(d, "best")
    with pytest.raises(ConfigError, match="choose best, last or bestKx"):
        load_run(run[0], "newest")


def test_tracked_scale_checkpoints_load_and_are_named(tmp_path):
    """A run trained with train.track_scales keeps best{k}x.pt; load_run and checkpoint_path take
    bestKx, and a bestKx the run did not keep is one line naming the file it looked for."""
    from memlab.evaluation import checkpoint_path

    over = {**TINY, "train": {**TINY["train"], "track_scales": [2], "max_epochs": 3}}
    s = train_run("lstm", "copy", over, seed=1, out=tmp_path, name="t", progress=False)
    r = load_run(tmp_path / "t", "best2x")
    assert r.checkpoint_path.name == "best2x.pt" and r.epoch == s["best_track"]["2"]["epoch"]
    with pytest.raises(MemlabError, match=r"has no checkpoint to load \(looked for best3x.pt in"):
        checkpoint_path(tmp_path / "t", "best3x")
    for bad in ("best0x", "bestx", "best2", "best1001x"):
        with pytest.raises(ConfigError, match="or bestKx"):
            checkpoint_path(tmp_path / "t", bad)


@pytest.mark.parametrize("text, match", [
    ("null", "must be a JSON object"),
    ("[]", "must be a JSON object"),
    ('{"model": "lstm"}', "lacks task"),
    ('{"model": "lstm", "task": "copy", "colour": 1}', "unknown key colour"),
    ('{"model": "lstm", "task": "copy", "seed": -1}', "seed=-1"),
    ('{"model": "lstm", "task": "copy", "train": {"lr": "nan"}}', "train.lr"),
    ("{not json", "corrupt"),
])
def test_bad_config_json_is_one_line(run, tmp_path, text, match):
    d = _copy(run, tmp_path)
    (d / "config.json").write_text(text)
    with pytest.raises(MemlabError, match=match) as e:
        load_run(d)
    assert "\n" not in str(e.value)


def test_missing_run_and_corrupt_or_foreign_checkpoint(run, tmp_path):
    with pytest.raises(MemlabError, match="does not exist"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MemlabError, match="no config.json"):
        load_run(tmp_path / "empty")
    d = _copy(run, tmp_path)
    (d / "checkpoints" / "best.pt").write_bytes(b"garbage")
    with pytest.raises(MemlabError, match="corrupt"):
        load_run(d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["model_cfg"]["hidden"] = 24  # a checkpoint of other sizes
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(MemlabError, match="does not match the run's model") as e:
        load_run(d, "last")
    assert "\n" not in str(e.value)
    torch.save({"epoch": 3}, tmp_path / "x.pt")
    with pytest.raises(MemlabError, match="no model weights"):
        load_model_weights(load_run(run[0]).model, tmp_path / "x.pt")


def test_committed_ntm_run_configs_still_parse():
    from pathlib import Path

    from memlab.training.config import read_run_config

    root = Path(__file__).resolve().parents[2] / "results" / "ntm" / "runs"
    dirs = sorted(p for p in root.iterdir() if (p / "config.json").exists())
    assert dirs
    for d in dirs:
        c = read_run_config(d)
        assert c.model in ("ntm", "dnc") and c.train.optimizer == "rmsprop" and c.commit


def test_evaluate_lengths_and_scales_agree_on_the_loaded_run(run):
    r = load_run(run[0])
    recs = evaluate(r.model, r.task, lengths=[3, "2-4"], batches=2, batch_size=4, seed=r.config.seed)
    assert [x["length"] for x in recs] == [3, "2-4"] and recs[0]["lengths"] == [3, 3]
    assert all(x["n_sequences"] == 8 and 0 <= x["fine"] <= 1 for x in recs)
    assert "commit" in recs[0] and "dirty" in recs[0]
    sc = evaluate(r.model, r.task, scales=[1], batches=2, batch_size=4, seed=r.config.seed)
    assert sc[0]["scale"] == 1 and sc[0]["lengths"] == [2, 4]
    with pytest.raises(ConfigError, match="either scales or lengths"):
        evaluate(r.model, r.task, scales=[1], lengths=[3])
    with pytest.raises(ConfigError, match="scale=10000000 is out of range"):
        evaluate(r.model, r.task, scales=[10_000_000])
    with pytest.raises(ConfigError, match="batches=0"):
        evaluate(r.model, r.task, scales=[1], batches=0)


def test_evaluate_run_records_only_where_asked(run, tmp_path):
    from memlab.core.io import read_jsonl
    from memlab.evaluation import evaluate_run
    from memlab.store import Store

    recs = evaluate_run(run[0], [1], batches=1, batch_size=4)
    assert recs[0]["checkpoint"].startswith("best.pt@") and recs[0]["run_id"] == "r"
    assert read_jsonl(run[0] / "evals.jsonl")[-1]["scale"] == 1
    assert Store(run[0].parent).evals("r")[-1]["scale"] == 1
    loose = tmp_path / "loose"  # a run folder outside any store: no index is created beside it
    shutil.copytree(run[0], loose / "r")
    evaluate_run(loose / "r", lengths="3", batches=1, batch_size=4)
    assert not (loose / "index.sqlite").exists() and (loose / "r" / "evals.jsonl").exists()
    n = len(read_jsonl(loose / "r" / "evals.jsonl"))
    evaluate_run(loose / "r", lengths=[3], batches=1, batch_size=4, record_in_run=False)
    assert len(read_jsonl(loose / "r" / "evals.jsonl")) == n


def test_model_overrides_change_use_not_weights(run, tmp_path):
    """``model_overrides`` merge over the run's model settings when it is loaded: a setting of how
    the weights are used (the Stack-RNN's eval_actions, its depth) loads the same weights; an
    unknown setting or one that changes a weight's shape is one line."""
    s = train_run("stack-rnn", "copy", {**TINY, "model": {"controller_size": 8, "depth": 6, "cell_size": 3}},
                  seed=0, out=tmp_path, name="sr", progress=False)
    assert s["epochs"] == 2
    base = load_run(tmp_path / "sr")
    other = load_run(tmp_path / "sr", model_overrides={"eval_actions": "hard", "depth": 12})
    assert other.model.core.access.cfg.eval_actions == "hard" and other.model.core.access.p == 12
    assert base.model.core.access.cfg.eval_actions == "soft" and base.model.core.access.p == 6
    assert json.loads((tmp_path / "sr" / "config.json").read_text())["model_cfg"]["depth"] == 6  # the run is untouched
    for (k, v), b in zip(other.model.state_dict().items(), base.model.state_dict().values()):
        assert torch.equal(v, b), k
    with pytest.raises(ConfigError, match="eval_actions") as e:
        load_run(tmp_path / "sr", model_overrides={"eval_actions": "sometimes"})
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="eval_actions"):
        load_run(run[0], model_overrides={"eval_actions": "hard"})  # the LSTM has no such setting
    with pytest.raises(MemlabError, match="model sizes|size"):
        load_run(tmp_path / "sr", model_overrides={"controller_size": 16})
