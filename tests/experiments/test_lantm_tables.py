"""lantm-tables: one run per (model, task, seed) cell, evaluated at its scales; tables with the
median over seeds and the worst/best seed beside the paper's numbers."""

from __future__ import annotations

import json

import pytest

from memlab.cli import main
from memlab.experiments.lantm_tables import EXPERIMENT, eval_scales, render_tables


def rec(seed, coarse, fine, scale=1, task="copy", model="lantm-invnorm", **kw):
    lengths = {1: [2, 64], 2: [65, 128], 4: [193, 256]}[scale]
    return {"model": model, "task": task, "scale": scale, "seed": seed, "coarse": coarse, "fine": fine,
            "lengths": lengths, **kw}


def test_one_seed_shows_its_numbers():
    md = render_tables([rec(0, 0.5, 0.75, epochs=3, train_elapsed_s=600.0), rec(0, 0.25, 0.875, scale=4)])
    assert "| copy | lantm-invnorm | unrecorded | 1 | 50.0% | 75.0% |  |  | 100% | 100% | 100% | 100% | 3 | 10 min |" in md
    assert "| copy | 4x | unrecorded | 193–256 | 1 | 25.0% | 87.5% | 100% | 100% |" in md
    assert "| copy | lstm |  |  |  |  |  |  | 58% | 97% | 0% | 52% |  |  |" in md  # not run: blank


def test_seeds_give_the_median_and_the_worst_and_best():
    recs = [rec(0, 0.2, 0.5, epochs=100, train_elapsed_s=60.0), rec(1, 1.0, 1.0, epochs=300, train_elapsed_s=180.0),
            rec(2, 0.6, 0.9, epochs=200, train_elapsed_s=120.0),
            rec(1, 0.1, 0.1, scale=2), rec(1, 0.3, 0.4, scale=2)]  # seed 1's newest 2x record counts
    md = render_tables(recs)
    assert ("| copy | lantm-invnorm | unrecorded | 3 | 60.0% [20.0%–100.0%] | 90.0% [50.0%–100.0%] | 30.0% | 40.0% | "
            "100% | 100% | 100% | 100% | 200 | 2 min |") in md


def test_units_and_old_records():
    cfg = EXPERIMENT.config_cls(tasks=("copy", "reverse"), models=("lstm",), seeds=(0, 1))
    assert [u.key for u in EXPERIMENT.units(cfg)] == ["lstm-copy-s0@paper", "lstm-copy-s1@paper",
                                                       "lstm-reverse-s0@paper", "lstm-reverse-s1@paper"]
    assert EXPERIMENT.unit_key({"run_id": "lantm-invnorm-copy-s1", "scale": 1}) == "lantm-invnorm-copy-s1"
    again = EXPERIMENT.config_cls(tasks=("copy",), models=("lstm",), continue_done=True, max_epochs=50)
    assert [u.key for u in EXPERIMENT.units(again)] == ["lstm-copy-s0@paper+continue@50"]
    assert eval_scales("lantm-invnorm", "copy") == [1, 2, 4, 5] and eval_scales("lstm", "copy") == [1, 2]


def test_quick_run_trains_evaluates_and_resumes(tmp_path, capsys):
    argv = ["run", "lantm-tables", "--quick", "--out", str(tmp_path / "res"), "--store", str(tmp_path / "runs"),
            "--jobs", "1", "--no-progress", "--json"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["units_run"] == 1 and res["cells"] == 1
    rows = [json.loads(l) for l in (tmp_path / "res" / "records.jsonl").read_text().splitlines()]
    reading = "paper+model.embed=4+model.hidden=16+model.layers=1+task.test_max=3+task.test_min=2+task.train_max=3+task.vocab=4"
    assert [r["scale"] for r in rows] == [1, 2] and all(r["unit"] == f"lstm-copy-s0@{reading}" for r in rows)
    assert rows[0]["epochs"] == 2 and rows[0]["model_cfg"]["hidden"] == 16 and rows[0]["train"]["max_epochs"] == 2
    # everything needed to rerun the cell: reading, settings, seed, commits, cost, the checkpoint evaluated
    assert rows[0]["reading"] == reading and rows[0]["seed"] == 0 and rows[0]["task_cfg"]["vocab"] == 4
    assert rows[0]["run_commit"] and rows[0]["commit"] and (not rows[0].get("dirty") or rows[0]["diff_sha256"])
    assert rows[0]["checkpoint"].endswith(f"@{rows[0]['checkpoint_epoch']}") and rows[0]["checkpoint_train_s"] >= 0
    assert rows[0]["checkpoint_sequences_seen"] == rows[0]["checkpoint_epoch"] * 10 * 32
    assert (tmp_path / "runs" / f"lstm-copy-s0-{reading}" / "checkpoints").is_dir()
    assert f"| copy | lstm | {reading} | 1 |" in (tmp_path / "res" / "tables.md").read_text()
    assert main(argv) == 0  # resumed: nothing left to run
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["units_run"] == 0
    # an unknown task is a one-line error naming the allowed ones
    assert main(["run", "lantm-tables", "--set", "tasks=copy,nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "bigramFlip" in err and len(err.strip().splitlines()) == 1


def test_readings_are_separate_rows_and_units():
    """Cells of another reading (preset or setting) never pool with, or count as done for, the default's."""
    cfg = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm", "lstm"), seeds=(0,))
    assert [u.key for u in EXPERIMENT.units(cfg)] == ["lantm-invnorm-copy-s0@reproduce", "lstm-copy-s0@paper"]
    text = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm", "lstm"), model={"preset": "paper-text"},
                                 train={"lr": 0.001, "max_epochs": 9})
    assert [u.key for u in EXPERIMENT.units(text)] == ["lantm-invnorm-copy-s0@paper-text+train.lr=0.001",
                                                        "lstm-copy-s0@paper+train.lr=0.001"]  # budget keys: no reading
    assert "lantm-invnorm-copy-s0" not in {u.key for u in EXPERIMENT.units(cfg)}  # old records' key
    s = {"model_cfg": {"preset": "reproduce"}, "train": {"lr": 0.01}, "task_cfg": {}}
    recs = [rec(0, 0.5, 0.5, reading="reproduce", **s), rec(0, 0.0, 0.1),  # an old record
            rec(1, 1.0, 1.0, reading="reproduce", **s),
            rec(0, 0.25, 0.25, reading="paper-text", model_cfg={"preset": "paper-text"}, train={"lr": 0.002})]
    md = render_tables(recs)
    assert "| copy | lantm-invnorm | reproduce | 2 | 75.0% [50.0%–100.0%] |" in md
    assert "| copy | lantm-invnorm | paper-text | 1 | 25.0% |" in md
    assert "| copy | lantm-invnorm | unrecorded | 1 | 0.0% |" in md
    # another task's cells in the same reading have other settings (sizes): no split
    bf = rec(0, 0.5, 0.5, task="bigramFlip", reading="reproduce", model_cfg={"preset": "reproduce", "hidden": 100},
             train={"lr": 0.01}, task_cfg={"train_max": 32})
    assert "| bigramFlip | lantm-invnorm | reproduce | 1 | 50.0% |" in render_tables(recs + [bf])
    # one reading label over different resolved settings (a default changed) is split, not pooled
    other = rec(2, 0.0, 0.0, reading="reproduce", model_cfg={"preset": "reproduce"}, train={"lr": 0.02}, task_cfg={})
    md = render_tables(recs + [other])
    assert "| copy | lantm-invnorm | reproduce [" in md and "| 2 | 75.0% [50.0%–100.0%] |" in md


def test_settings_added_later_at_their_neutral_value_keep_the_reading():
    """A record written before ``train.log`` or the epoch-wise decay existed and one written after,
    with the same training, are one reading; a decay schedule actually set is another."""
    old = rec(0, 1.0, 1.0, reading="reproduce", model_cfg={"preset": "reproduce"}, train={"lr": 0.01}, task_cfg={})
    new = rec(1, 0.5, 0.5, reading="reproduce", model_cfg={"preset": "reproduce"}, task_cfg={},
              train={"lr": 0.01, "log": "none", "lr_decay_every": 0, "lr_decay_after": 0, "select_scale": 0})
    assert "| copy | lantm-invnorm | reproduce | 2 | 75.0% [50.0%–100.0%] |" in render_tables([old, new])
    decayed = rec(1, 0.5, 0.5, reading="reproduce", model_cfg={"preset": "reproduce"}, task_cfg={},
                  train={"lr": 0.01, "lr_decay": 0.99, "lr_decay_every": 2, "lr_decay_after": 300})
    assert "| copy | lantm-invnorm | reproduce [" in render_tables([old, decayed])
    both = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm", "lstm"), model={"preset": "released"})
    assert [u.key for u in EXPERIMENT.units(both)] == ["lantm-invnorm-copy-s0@released", "lstm-copy-s0@released"]
    code = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm", "lstm"), model={"preset": "paper-code"})
    assert [u.key for u in EXPERIMENT.units(code)] == ["lantm-invnorm-copy-s0@paper-code", "lstm-copy-s0@paper"]
    later = rec(1, 0.5, 0.5, reading="reproduce", task_cfg={}, train={"lr": 0.01},
                model_cfg={"preset": "reproduce", "init_step": "free", "init_magnitude": 0.0, "init_slot_strength": "one"})
    assert "| copy | lantm-invnorm | reproduce | 2 |" in render_tables([old, later])  # model keys added later, neutral
    other = rec(1, 0.5, 0.5, reading="reproduce", task_cfg={}, train={"lr": 0.01},
                model_cfg={"preset": "reproduce", "init_slot_strength": "learned"})
    assert "| copy | lantm-invnorm | reproduce [" in render_tables([old, other])
    cfg2 = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm",), train={"select_scale": 1})
    assert [u.key for u in EXPERIMENT.units(cfg2)] == ["lantm-invnorm-copy-s0@reproduce+train.select_scale=1"]
    cfg = EXPERIMENT.config_cls(tasks=("reverse",), models=("lantm-invnorm",),
                                train={"lr_decay": 0.99, "lr_decay_every": 2, "lr_decay_after": 300, "log": "tensorboard"})
    assert [u.key for u in EXPERIMENT.units(cfg)] == [
        "lantm-invnorm-reverse-s0@reproduce+train.lr_decay=0.99+train.lr_decay_after=300+train.lr_decay_every=2"]


def test_disagreements_list_the_best_run_and_every_reading_tried():
    """A cell is noted when its best seed over all readings is > 5 points under the paper; a cell
    that reaches the paper (or beats it, like an LSTM's 2x) is not."""
    recs = [rec(0, 0.2, 0.5, scale=2, reading="reproduce", model_cfg={}, train={}),
            rec(1, 0.3, 0.6, scale=2, reading="reproduce", model_cfg={}, train={}),
            rec(0, 0.1, 0.4, scale=2, reading="paper-code", model_cfg={"preset": "paper-code"}, train={}),
            rec(0, 0.999, 1.0, scale=1, reading="reproduce", model_cfg={}, train={}),
            rec(0, 0.4, 0.9, scale=2, model="lstm", reading="paper", model_cfg={}, train={})]
    md = render_tables(recs)
    assert "## Where we disagree with the paper" in md
    assert "| copy | lantm-invnorm | 2x | 100% | 30.0% | reproduce, seed 1 | paper-code (1 seed), reproduce (2 seeds) |" in md
    assert "| copy | lantm-invnorm | 1x |" not in md and "| copy | lstm |" not in md.split("disagree")[1]
    assert "Where we disagree" not in render_tables([rec(0, 1.0, 1.0, reading="reproduce", model_cfg={}, train={})])


def test_an_unknown_preset_is_an_error_even_when_only_the_lstm_runs():
    from memlab.core.errors import ConfigError

    with pytest.raises(ConfigError, match="model.preset='bogus' is not allowed; choose one of paper-text"):
        EXPERIMENT.config_cls(tasks=("copy",), models=("lstm",), model={"preset": "bogus"}).validate()
    EXPERIMENT.config_cls(tasks=("copy",), models=("lstm",), model={"preset": "paper"}).validate()


def test_neutral_settings_cover_every_key_added_since_the_first_recorded_reading():
    """A setting added after records existed must be listed in ``_NEUTRAL_MODEL``/``_NEUTRAL_TRAIN``
    at its default (or be a budget/compute key): otherwise records written before it and after it
    split one reading into two rows. The oldest committed LANTM record with settings is the baseline."""
    import dataclasses
    from pathlib import Path

    from memlab.experiments import lantm_tables as lt
    from memlab.models.lantm import LANTMConfig
    from memlab.training.config import TrainConfig

    path = Path(__file__).resolve().parents[2] / "results" / "lantm" / "records.jsonl"
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    recorded = sorted((r for r in recs if r.get("model_cfg") and str(r.get("model", "")).startswith("lantm")),
                      key=lambda r: r["time"])
    assert recorded, "no LANTM record with settings in results/lantm/records.jsonl"
    first = recorded[0]
    for cls, old_keys, neutral, exempt in (
            (LANTMConfig, set(first["model_cfg"]), lt._NEUTRAL_MODEL, set(lt._NOT_READING) | {"preset"}),
            (TrainConfig, set(first["train"]), lt._NEUTRAL_TRAIN, set(lt._BUDGET))):
        cfg = cls()
        if hasattr(cfg, "validate"):
            cfg.validate()  # resolved: a None field takes the default preset's value, as in the records
        defaults = dataclasses.asdict(cfg)
        added = set(defaults) - old_keys - exempt
        assert added <= set(neutral), f"{cls.__name__}: {sorted(added - set(neutral))} added without a neutral value"
        for k, v in neutral.items():
            assert k in defaults and defaults[k] == v, f"{cls.__name__}.{k}: neutral {v!r} != default {defaults.get(k)!r}"
