"""``train.log=tensorboard``: each epoch's scalars reach ``<run>/tb/`` (read back with TensorBoard's
own event reader, equal to metrics.jsonl), a resumed run does not duplicate epochs, and without
the package (or without a run folder) the setting is a one-line error naming the extra."""

import sys

import pytest

from memlab.cli import main
from memlab.core.errors import ConfigError
from memlab.core.io import read_jsonl
from memlab.models import build_model
from memlab.tasks import make_task
from memlab.training.run import train_run
from memlab.training.trainer import TrainConfig, Trainer

SMALL = {"model": {"hidden": 8, "embed": 4},
         "task": {"train_min": 1, "train_max": 2, "test_min": 1, "test_max": 2, "vocab": 4},
         "train": {"max_epochs": 3, "batches_per_epoch": 2, "batch_size": 4, "eval_every": 1, "eval_batches": 2,
                   "checkpoint_every": 1, "target_coarse": 2.0, "log": "tensorboard"}}
TAGS = {"train/loss": "loss", "train/fine": "fine", "train/coarse": "coarse", "test/fine": "test_fine",
        "test/coarse": "test_coarse", "lr": "lr", "grad_norm": "grad_norm"}


def _scalars(tb_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_scalars_are_written_per_epoch_and_equal_the_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    s = train_run("lstm", "copy", SMALL, seed=0, out=tmp_path, name="tb", progress=False)
    assert s["status"] == "done"
    metrics = read_jsonl(tmp_path / "tb" / "metrics.jsonl")
    scalars = _scalars(tmp_path / "tb" / "tb")
    assert set(TAGS) <= set(scalars)
    for tag, key in TAGS.items():
        assert [step for step, _ in scalars[tag]] == [1, 2, 3], tag
        assert [v for _, v in scalars[tag]] == pytest.approx([r[key] for r in metrics], rel=1e-6), tag
    assert all(r["grad_norm"] > 0 for r in metrics)


def test_a_resumed_run_logs_each_epoch_once(tmp_path):
    pytest.importorskip("tensorboard")
    cfg = {**SMALL, "train": {**SMALL["train"], "max_epochs": 2}}
    train_run("lstm", "copy", cfg, seed=0, out=tmp_path, name="r", progress=False)
    cfg["train"]["max_epochs"] = 4
    train_run("lstm", "copy", cfg, seed=0, out=tmp_path, name="r", resume=True, progress=False)
    assert [step for step, _ in _scalars(tmp_path / "r" / "tb")["train/loss"]] == [1, 2, 3, 4]


def test_without_the_package_the_setting_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # importing it now raises ImportError
    args = ["train", "--model", "lstm", "--task", "copy", "--out", str(tmp_path), "--set", "train.log=tensorboard",
            "model.hidden=8", "model.embed=4", "train.max_epochs=1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.log=tensorboard needs the tensorboard package" in err[0], err
    assert "memlab[tensorboard]" in err[0]
    assert not any(tmp_path.iterdir())  # no run folder was left behind


def test_a_bad_value_and_a_missing_run_folder_are_one_line_errors(tmp_path, capsys):
    assert main(["train", "--model", "lstm", "--task", "copy", "--out", str(tmp_path), "--set", "train.log=wandb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.log='wandb' is not allowed; choose one of none, tensorboard" in err[0], err
    task = make_task("copy")
    with pytest.raises(ConfigError, match="needs a run folder"):
        Trainer(build_model("lstm", task.spec, overrides={"hidden": 8, "embed": 4}), task,
                TrainConfig(log="tensorboard"), progress=False)
