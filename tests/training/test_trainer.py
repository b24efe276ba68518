"""Trainer: tiny overfit, kill-and-resume equality, non-finite steps never touch the weights."""

import json
import math

import pytest
import torch

from memlab.core.errors import ConfigError, MemlabError
from memlab.core.io import read_jsonl
from memlab.models import build_model
from memlab.tasks import make_task
from memlab.tasks.permutation import Copy
from memlab.training.run import train_run
from memlab.training.trainer import TrainConfig, Trainer

TINY = {
    "model": {"hidden": 128, "layers": 1, "embed": 16},
    "task": {"train_min": 2, "train_max": 4, "test_min": 2, "test_max": 4, "vocab": 16},
    "train": {"lr": 0.002, "max_epochs": 400, "eval_every": 10, "eval_batches": 20, "lr_halve_after": 0},
}


def test_lstm_baseline_overfits_copy_2_to_4(tmp_path):
    from memlab.evaluation.evaluate import evaluate_run

    s = train_run("lstm", "copy", TINY, seed=0, out=tmp_path, name="fit", progress=False)
    assert s["stop_reason"] == "target", s
    recs = evaluate_run(s["run_dir"], [1], batches=20)
    assert recs[0]["coarse"] == 1.0 and recs[0]["fine"] == 1.0
    assert recs[0]["n_sequences"] == 640 and recs[0]["lengths"] == [2, 4]


class _Killed(RuntimeError):
    pass


def _kill_at(epoch):
    def cb(rec):
        if rec["epoch"] == epoch:
            raise _Killed()
    return cb


def test_kill_and_resume_gives_the_same_weights(tmp_path):
    cfg = json.loads(json.dumps(TINY))
    cfg["train"].update(max_epochs=12, checkpoint_every=4, target_coarse=2.0)
    full = train_run("lstm", "copy", cfg, seed=3, out=tmp_path, name="full", progress=False)
    with pytest.raises(_Killed):  # dies after epoch 6; last checkpoint is epoch 4
        train_run("lstm", "copy", cfg, seed=3, out=tmp_path, name="killed", progress=False, callbacks=[_kill_at(6)])
    assert [r["epoch"] for r in read_jsonl(tmp_path / "killed" / "metrics.jsonl")] == list(range(1, 7))
    resumed = train_run(resume=tmp_path / "killed", progress=False)
    assert resumed["resumed"] and resumed["epochs"] == full["epochs"] == 12
    a = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "checkpoints" / "last.pt", weights_only=True)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    epochs = [r["epoch"] for r in read_jsonl(tmp_path / "killed" / "metrics.jsonl")]
    assert epochs == list(range(1, 13))  # the epochs after the checkpoint were re-run, not duplicated
    losses_full = [r["loss"] for r in read_jsonl(tmp_path / "full" / "metrics.jsonl")]
    losses_res = [r["loss"] for r in read_jsonl(tmp_path / "killed" / "metrics.jsonl")]
    assert losses_full == pytest.approx(losses_res, rel=1e-6)


def test_ctrl_c_records_interrupted_and_keeps_a_checkpoint(tmp_path):
    def ctrl_c(rec):
        if rec["epoch"] == 3:
            raise KeyboardInterrupt

    cfg = json.loads(json.dumps(TINY))
    cfg["train"].update(max_epochs=12, checkpoint_every=100, target_coarse=2.0)
    with pytest.raises(KeyboardInterrupt):
        train_run("lstm", "copy", cfg, seed=0, out=tmp_path, name="int", progress=False, callbacks=[ctrl_c])
    summary = json.loads((tmp_path / "int" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["stop_reason"] == "interrupted" and summary["epochs"] == 3
    assert torch.load(tmp_path / "int" / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 3


def test_a_run_folder_in_use_cannot_be_resumed_twice(tmp_path):
    from memlab.training.run import exclusive_run

    cfg = json.loads(json.dumps(TINY))
    cfg["train"].update(max_epochs=2, target_coarse=2.0)
    train_run("lstm", "copy", cfg, seed=0, out=tmp_path, name="busy", progress=False)
    with exclusive_run(tmp_path / "busy"):  # as if another process were training it
        with pytest.raises(MemlabError, match=r"busy is in use by another memlab process \(pid \d+\)"):
            train_run(resume=tmp_path / "busy", progress=False)
    assert train_run(resume=tmp_path / "busy", progress=False)["resumed"]  # free again


def test_existing_run_is_not_overwritten_and_resume_needs_a_run(tmp_path):
    cfg = json.loads(json.dumps(TINY))
    cfg["train"].update(max_epochs=1)
    train_run("lstm", "copy", cfg, out=tmp_path, name="r", progress=False)
    with pytest.raises(MemlabError, match="already exists"):
        train_run("lstm", "copy", cfg, out=tmp_path, name="r", progress=False)
    with pytest.raises(MemlabError, match="does not exist"):
        train_run(resume=tmp_path / "missing", progress=False)


class NaNCopy(Copy):
    """Copy whose loss is NaN on chosen calls."""

    bad_calls: set = set()

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.calls = 0

    def loss(self, outputs, batch):
        self.calls += 1
        loss = super().loss(outputs, batch)
        return loss * float("nan") if self.calls in self.bad_calls else loss


def _trainer(task, tmp_path=None, **kw):
    torch.manual_seed(0)
    model = build_model("lstm", task.spec, overrides=TINY["model"])
    cfg = TrainConfig(**{**TINY["train"], "max_epochs": 2, "batches_per_epoch": 3, "eval_every": 0, **kw})
    return Trainer(model, task, cfg, run_dir=tmp_path, progress=False)


def test_nonfinite_loss_skips_the_step_and_lowers_lr():
    task = NaNCopy(TINY["task"])
    task.bad_calls = {1}
    tr = _trainer(task)
    before = {k: v.clone() for k, v in tr.model.state_dict().items()}
    batch = task.sample(8, 3, torch.Generator().manual_seed(0))
    assert tr.train_step(batch) is None
    for k, v in tr.model.state_dict().items():
        assert torch.equal(v, before[k])
    assert tr.lr == pytest.approx(TINY["train"]["lr"] / 2)
    assert tr.events[0]["event"] == "nonfinite" and tr.events[0]["what"] == "loss"
    assert tr.train_step(batch) is not None  # later finite steps proceed
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_nonfinite_gradient_is_caught(monkeypatch):
    task = make_task("copy", TINY["task"])
    tr = _trainer(task)
    batch = task.sample(8, 3, torch.Generator().manual_seed(0))
    hook = tr.model.readout.weight.register_hook(lambda g: g * float("inf"))
    before = tr.model.readout.weight.detach().clone()
    assert tr.train_step(batch) is None
    hook.remove()
    assert torch.equal(tr.model.readout.weight, before)
    assert tr.events[-1]["what"] == "gradient"


def test_repeated_nonfinite_restores_last_checkpoint(tmp_path):
    task = NaNCopy(TINY["task"])
    task.bad_calls = {4, 5, 6}
    tr = _trainer(task, tmp_path, nonfinite_patience=3, checkpoint_every=1)
    tr.fit()
    kinds = [e["event"] for e in tr.events]
    assert kinds.count("nonfinite") == 3 and "restored" in kinds
    assert (tmp_path / "events.jsonl").exists()
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_train_config_ranges():
    from memlab.core.config import from_dict

    with pytest.raises(ConfigError, match="train.lr=0.0"):
        from_dict(TrainConfig, {"lr": 0}, prefix="train.")
    with pytest.raises(ConfigError, match="momentum"):
        from_dict(TrainConfig, {"momentum": 1.5}, prefix="train.")


def test_training_exports_only_training_names():
    from memlab.training import trainer

    assert "evaluate_batches" not in trainer.__all__ and "load_model_weights" not in trainer.__all__
    from memlab.training.config import TrainConfig as T2

    assert TrainConfig is T2
