"""Divergence: bad epochs never overwrite last.pt, restores go to the last good one, a run that
cannot recover ends as `diverged`, and a finite loss explosion is an event."""

import json
from collections import Counter

import pytest
import torch

from memlab.core.io import read_jsonl
from memlab.training.run import train_run

TINY = {
    "model": {"hidden": 16, "layers": 1, "embed": 4},
    "task": {"train_min": 2, "train_max": 4, "test_min": 5, "test_max": 6, "vocab": 6},
    "train": {"max_epochs": 12, "batches_per_epoch": 4, "batch_size": 4, "eval_every": 0, "target_coarse": 2.0,
              "checkpoint_every": 1, "lr_halve_after": 0},
}


def _cfg(**train):
    cfg = json.loads(json.dumps(TINY))
    cfg["train"].update(train)
    return cfg


def test_lr_1e30_ends_diverged_on_the_initial_weights(tmp_path):
    s = train_run("lstm", "copy", _cfg(lr=1e30, max_restores=4), seed=0, out=tmp_path, name="d", progress=False)
    assert s["status"] == "diverged" and s["stop_reason"] == "diverged"
    assert "diverged" in s["message"] and "lower train.lr" in s["message"]
    kinds = Counter(e["event"] for e in read_jsonl(tmp_path / "d" / "events.jsonl"))
    assert kinds["restored"] == 4 and kinds["diverged"] == 1
    # no epoch was good, so last.pt still holds the initial weights (epoch 0), all finite
    last = torch.load(tmp_path / "d" / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] == 0 and all(torch.isfinite(v).all() for v in last["model"].values())
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["status"] == "diverged"
    from memlab.store import Store

    assert [r["status"] for r in Store(tmp_path).runs()] == ["diverged"]


def test_restores_land_on_the_last_good_checkpoint(tmp_path):
    """Good epochs at lr 0.01, then a blow-up: every restore reloads the last good epoch."""
    from memlab.models import build_model
    from memlab.tasks import make_task
    from memlab.training.config import TrainConfig
    from memlab.training.trainer import Trainer

    task = make_task("copy", TINY["task"])
    torch.manual_seed(0)
    model = build_model("lstm", task.spec, overrides=TINY["model"])
    tr = Trainer(model, task, TrainConfig(**{**TINY["train"], "lr": 0.01, "max_epochs": 3}), run_dir=tmp_path,
                 progress=False)
    tr.fit()
    good = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert good["epoch"] == 3
    tr.cfg.max_epochs, tr.cfg.max_restores = 6, 2
    tr._set_lr(1e30)
    tr.fit()
    assert tr.stop_reason == "diverged"
    after = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert after["epoch"] == 3  # bad epochs did not overwrite it
    for k, v in after["model"].items():
        assert torch.equal(v, good["model"][k])
    restored = [e for e in tr.events if e["event"] == "restored"]
    assert restored and all(e["checkpoint_epoch"] == 3 for e in restored)


def test_finite_loss_explosion_is_an_event(tmp_path):
    s = train_run("lstm", "copy", _cfg(lr=1e6, max_epochs=3), seed=0, out=tmp_path, name="x", progress=False)
    ev = [e for e in read_jsonl(tmp_path / "x" / "events.jsonl") if e["event"] == "loss_explosion"]
    assert ev and s["loss_explosions"] == len(ev)
    assert all(e["factor"] > 10 and e["steps"] >= 1 for e in ev)


def test_a_quiet_run_has_no_explosion_events(tmp_path):
    s = train_run("lstm", "copy", _cfg(lr=0.01, max_epochs=6), seed=0, out=tmp_path, name="q", progress=False)
    assert s["status"] == "done" and s["loss_explosions"] == 0 and s["restores"] == 0


def test_a_checkpoint_due_at_a_bad_epoch_is_taken_at_the_next_good_one(tmp_path):
    from memlab.models import build_model
    from memlab.tasks.permutation import Copy
    from memlab.training.config import TrainConfig
    from memlab.training.trainer import Trainer

    class NaNOnce(Copy):
        calls = 0

        def loss(self, outputs, batch):
            NaNOnce.calls += 1
            loss = super().loss(outputs, batch)
            return loss * float("nan") if NaNOnce.calls == 5 else loss  # a step in epoch 2

    task = NaNOnce(TINY["task"])
    torch.manual_seed(0)
    model = build_model("lstm", task.spec, overrides=TINY["model"])
    cfg = TrainConfig(**{**TINY["train"], "lr": 0.01, "max_epochs": 4, "checkpoint_every": 2})
    tr = Trainer(model, task, cfg, run_dir=tmp_path, progress=False, callbacks=[
        lambda rec: saved.append(torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["epoch"])])
    saved = []
    tr.fit()
    # epoch 2 (due) skipped a step: last.pt stays at epoch 0 through it; good epoch 3 takes it
    assert saved == [0, 0, 0, 3]
    assert torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 4
    assert any(e["event"] == "nonfinite" for e in tr.events)


def test_on_explosion_restore_brings_back_the_last_good_weights(tmp_path):
    """A finite loss explosion (lr jumped to 1e6 after good epochs): with ``on_explosion=restore`` the
    epoch is bad, the rate halves and the last good checkpoint is reloaded; the default only logs."""
    from memlab.models import build_model
    from memlab.tasks import make_task
    from memlab.training.config import TrainConfig
    from memlab.training.trainer import Trainer

    def trainer(mode, folder):
        task = make_task("copy", TINY["task"])
        torch.manual_seed(0)
        model = build_model("lstm", task.spec, overrides=TINY["model"])
        tr = Trainer(model, task, TrainConfig(**{**TINY["train"], "lr": 0.01, "max_epochs": 4, "on_explosion": mode}),
                     run_dir=folder, progress=False)
        tr.fit()
        good = {k: v.clone() for k, v in model.state_dict().items()}
        tr.cfg.max_epochs = 5
        tr._set_lr(1e6)
        tr.fit()
        return tr, model, good

    tr, model, good = trainer("restore", tmp_path / "r")
    kinds = [e["event"] for e in tr.events]
    assert "loss_explosion" in kinds and kinds[kinds.index("loss_explosion") + 1] == "restored"
    assert tr.lr == 5e5 and all(torch.equal(v, good[k]) for k, v in model.state_dict().items())
    last = torch.load(tmp_path / "r" / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] == 4  # the bad epoch did not overwrite it
    tr, model, good = trainer("log", tmp_path / "l")
    assert "loss_explosion" in [e["event"] for e in tr.events] and tr.summary()["restores"] == 0
    assert not all(torch.equal(v, good[k]) for k, v in model.state_dict().items())
