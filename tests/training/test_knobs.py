"""Trainer knobs: optimizer choice, RMSProp momentum 0, per-step lr decay, plateau halving on/off,
clipping by value and norm; defaults stay the seed 004 protocol."""

import math

import pytest
import torch

from memlab.core.config import from_dict
from memlab.core.errors import ConfigError, MemlabError
from memlab.models import build_model
from memlab.tasks import make_task
from memlab.training.config import TrainConfig
from memlab.training.trainer import Trainer

TASK = {"train_min": 2, "train_max": 4, "test_min": 5, "test_max": 6, "vocab": 6}
MODEL = {"hidden": 16, "layers": 1, "embed": 4}


def _trainer(run_dir=None, **kw):
    task = make_task("copy", TASK)
    torch.manual_seed(0)
    model = build_model("lstm", task.spec, overrides=MODEL)
    base = {"max_epochs": 2, "batches_per_epoch": 3, "batch_size": 4, "eval_every": 0, "target_coarse": 2.0}
    return Trainer(model, task, from_dict(TrainConfig, {**base, **kw}, prefix="train."), run_dir=run_dir,
                   progress=False)


def test_defaults_are_the_seed_004_protocol():
    c = TrainConfig()
    assert (c.optimizer, c.momentum, c.rms_alpha, c.lr_decay, c.plateau_halving, c.clip_norm, c.clip_value) == (
        "rmsprop", 0.95, 0.95, 1.0, True, 1.0, 0.0)
    assert (c.batch_size, c.batches_per_epoch, c.lr_halve_after, c.lr_patience) == (32, 10, 100, 30)
    opt = _trainer().opt
    assert isinstance(opt, torch.optim.RMSprop) and opt.defaults["momentum"] == 0.95


@pytest.mark.parametrize("name, cls", [("rmsprop", torch.optim.RMSprop), ("adam", torch.optim.Adam),
                                       ("sgd", torch.optim.SGD)])
def test_optimizer_choice(name, cls):
    tr = _trainer(optimizer=name, lr=0.01)
    assert isinstance(tr.opt, cls)
    before = [p.detach().clone() for p in tr.params]
    tr.fit()
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.params))


def test_rmsprop_momentum_zero_and_adam_betas():
    assert _trainer(momentum=0).opt.defaults["momentum"] == 0
    assert _trainer(optimizer="adam", adam_beta2=0.98).opt.defaults["betas"] == (0.9, 0.98)
    with pytest.raises(ConfigError, match="choose one of rmsprop, adam, sgd"):
        from_dict(TrainConfig, {"optimizer": "lbfgs"})


def test_lr_decay_multiplies_every_step():
    tr = _trainer(lr=0.01, lr_decay=0.9)
    tr.fit()  # 2 epochs x 3 steps
    assert tr.lr == pytest.approx(0.01 * 0.9 ** 6)
    assert tr.opt.param_groups[0]["lr"] == pytest.approx(tr.lr)
    tr = _trainer(lr=0.01, lr_decay=0.5, min_lr=0.004)
    tr.fit()
    assert tr.lr == pytest.approx(0.004)  # never below min_lr
    assert _trainer(lr=0.01).fit()["lr"] == 0.01  # 1.0 = off


def test_lr_decay_every_n_epochs_after_a_delay():
    """The released seed-004 schedule: ×decay once every N epochs once ``lr_decay_after`` epochs
    have passed; the metrics show the rate each epoch trained at."""
    seen = []
    tr = _trainer(lr=0.01, lr_decay=0.5, lr_decay_every=2, lr_decay_after=1, max_epochs=6, plateau_halving=False)
    tr.callbacks.append(lambda rec: seen.append(rec["lr"]))
    tr.fit()  # decays at the ends of epochs 3 and 5
    assert seen == pytest.approx([0.01, 0.01, 0.01, 0.005, 0.005, 0.0025])
    assert tr.lr == pytest.approx(0.0025) == tr.opt.param_groups[0]["lr"]
    tr = _trainer(lr=0.01, lr_decay=0.9, lr_decay_after=1)  # per step, from the second epoch on
    tr.fit()
    assert tr.lr == pytest.approx(0.01 * 0.9 ** 3)
    c = TrainConfig(lr_decay=0.5, lr_decay_every=2, lr_decay_after=1)
    assert [e for e in range(8) if c.decays(e, per_step=False)] == [3, 5, 7]
    assert not any(c.decays(e, per_step=True) for e in range(8))


def test_select_scale_tests_at_the_lengths_of_that_scale(monkeypatch):
    """``select_scale=k`` takes the periodic test (best.pt, the target) at the task's lengths of
    scale k (train_max 4: 1x = 2..4, 2x = 5..8); 0 keeps the task's test range (5..6 here)."""
    seen = []
    for scale, want in ((0, (5, 6)), (1, (2, 4)), (2, (5, 8)), (3, (9, 12))):
        tr = _trainer(eval_every=1, max_epochs=1, select_scale=scale)
        orig = tr.evaluate
        monkeypatch.setattr(tr, "evaluate", lambda lo, hi, *a, _o=orig, **k: seen.append((lo, hi)) or _o(lo, hi, *a, **k))
        recs = []
        tr.callbacks.append(recs.append)
        tr.fit()
        assert seen.pop() == want and tr.best_test["epoch"] == 1
        assert recs[0].get("test_scale", 0) == scale and "test_coarse" in recs[0]
    task = make_task("copy", {**TASK, "train_max": 200, "test_max": 200})
    with pytest.raises(ConfigError, match="scale=600 is out of range for copy"):
        Trainer(build_model("lstm", task.spec, overrides=MODEL), task, TrainConfig(select_scale=600), progress=False)


def test_batch_lengths_one_per_batch_or_per_sequence(monkeypatch):
    """``batch_lengths=batch`` trains on one length per batch, drawn over the whole range (the
    released seed-004 code); the default draws one per sequence, as before (same stream)."""
    def lengths_seen(**kw):
        tr = _trainer(max_epochs=4, batch_size=8, **kw)
        seen, orig = [], tr.train_step
        monkeypatch.setattr(tr, "train_step", lambda b: seen.append(b.lengths.tolist()) or orig(b))
        tr.fit()
        return seen

    per_batch = lengths_seen(batch_lengths="batch")
    assert len(per_batch) == 12 and all(len(set(b)) == 1 for b in per_batch)
    assert {b[0] for b in per_batch} == {2, 3, 4}
    per_seq = lengths_seen()
    assert any(len(set(b)) > 1 for b in per_seq) and per_seq == lengths_seen(batch_lengths="sequence")
    task = make_task("copy", TASK)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(task.sample_range(8, 2, 4, g1).inputs, task.sample_range(8, 2, 4, g2, one_length=False).inputs)
    with pytest.raises(ConfigError, match="choose one of sequence, batch"):
        from_dict(TrainConfig, {"batch_lengths": "epoch"})


def test_plateau_halving_switch():
    kw = dict(lr=1e-9, max_epochs=6, lr_halve_after=1, lr_patience=1, min_lr=0)
    on, off = _trainer(**kw), _trainer(plateau_halving=False, **kw)
    on.fit(), off.fit()
    assert on.lr < 1e-9 and any(e["event"] == "lr_halved" for e in on.events)
    assert off.lr == 1e-9 and not any(e["event"] == "lr_halved" for e in off.events)
    low = _trainer(**{**kw, "min_lr": 1e-7})
    low.fit()
    assert low.lr == 1e-9  # a rate already under min_lr is never raised to it


def test_clip_value_bounds_every_gradient_element():
    tr = _trainer(clip_value=1e-4, clip_norm=0, optimizer="sgd", momentum=0, lr=1.0)
    task = tr.task
    batch = task.sample(4, 3, torch.Generator().manual_seed(0))
    seen = []
    orig = tr.opt.step

    def spy(*a, **k):
        seen.append(max(float(p.grad.abs().max()) for p in tr.params if p.grad is not None))
        return orig(*a, **k)

    tr.opt.step = spy
    assert tr.train_step(batch) is not None
    assert seen[0] <= 1e-4 + 1e-12


def test_track_scales_test_more_scales_and_choose_nothing(monkeypatch):
    """``track_scales`` adds tests at those scales' lengths to every periodic test, recorded as
    test{k}x_fine/coarse; the periodic test itself (best.pt) stays at the test range."""
    tr = _trainer(eval_every=1, max_epochs=2, track_scales=(2, 3))
    seen, recs = [], []
    orig = tr.evaluate
    monkeypatch.setattr(tr, "evaluate", lambda lo, hi, *a, **k: seen.append((lo, hi)) or orig(lo, hi, *a, **k))
    tr.callbacks.append(recs.append)
    tr.fit()
    assert seen == [(5, 6), (5, 8), (9, 12)] * 2
    assert all(0 <= r[f"test{k}x_{m}"] <= 1 for r in recs for k in (2, 3) for m in ("fine", "coarse"))
    assert _trainer(eval_every=1, max_epochs=1).cfg.track_scales == ()
    with pytest.raises(ConfigError, match="names a scale twice"):
        from_dict(TrainConfig, {"track_scales": (2, 2)}, prefix="train.")
    task = make_task("copy", {**TASK, "train_max": 200, "test_max": 200})
    with pytest.raises(ConfigError, match="scale=600 is out of range for copy"):
        Trainer(build_model("lstm", task.spec, overrides=MODEL), task, TrainConfig(track_scales=(600,)), progress=False)


def test_track_scales_leave_the_training_lengths_alone():
    """Regression: the tracked tests' lengths once leaked into training (a loop variable shared with
    the training range), so after the first periodic test every batch was drawn at the last tracked
    scale's lengths. Training batches stay in the task's training range whatever is tracked."""
    tr = _trainer(eval_every=1, max_epochs=3, track_scales=(2, 3))
    seen = []
    orig = tr.train_step
    tr.train_step = lambda b: seen.append((int(b.lengths.min()), int(b.lengths.max()))) or orig(b)
    tr.fit()
    lo, hi = tr.task.train_range
    assert len(seen) == 9 and all(lo <= a and b <= hi for a, b in seen), seen


def test_track_scales_keep_each_scales_best_checkpoint(tmp_path, monkeypatch):
    """A tracked scale's best periodic test (coarse, then fine; the first epoch of a tie) keeps its
    weights as best{k}x.pt, survives a resume, and is in the summary; scores are scripted so the
    best epoch is known: 2x peaks at epoch 2, 3x at epoch 1 and again (a tie) at epoch 3."""
    from types import SimpleNamespace

    from memlab.core.io import safe_torch_load

    script = {2: [(0.5, 0.1), (0.9, 0.2), (0.9, 0.2), (0.1, 0.0)], 3: [(0.7, 0.0), (0.2, 0.0), (0.7, 0.0), (0.1, 0.0)]}
    tr = _trainer(run_dir=tmp_path, eval_every=1, max_epochs=3, track_scales=(2, 3))
    orig = tr.evaluate

    def scripted(lo, hi, batches, salt=0):
        k = {(5, 8): 2, (9, 12): 3}.get((lo, hi))
        if k is None:
            return orig(lo, hi, batches, salt=salt)
        fine, coarse = script[k][tr.epoch - 1]
        return SimpleNamespace(fine=fine, coarse=coarse)

    monkeypatch.setattr(tr, "evaluate", scripted)
    summary = tr.fit()
    assert {k: v["epoch"] for k, v in summary["best_track"].items()} == {"2": 2, "3": 1}
    assert safe_torch_load(tmp_path / "checkpoints" / "best2x.pt")["epoch"] == 2
    assert safe_torch_load(tmp_path / "checkpoints" / "best3x.pt")["epoch"] == 1
    # resumed for one more epoch: the kept bests come back from last.pt and a worse score changes nothing
    again = _trainer(run_dir=tmp_path, eval_every=1, max_epochs=4, track_scales=(2, 3))
    assert again.resume() and again.best_track == summary["best_track"]
    monkeypatch.setattr(again, "evaluate", lambda lo, hi, b, salt=0: scripted(lo, hi, b, salt) if (lo, hi) != (5, 6)
                        else orig(lo, hi, b, salt=salt))
    tr = again
    assert {k: v["epoch"] for k, v in again.fit()["best_track"].items()} == {"2": 2, "3": 1}
    assert safe_torch_load(tmp_path / "checkpoints" / "best3x.pt")["epoch"] == 1
    assert "best_track" not in _trainer(eval_every=1, max_epochs=1).fit()  # nothing tracked, nothing kept


@pytest.mark.parametrize("key, value", [("track_scales", (0,)), ("track_scales", (10**6,)), ("lr_decay", 0), ("lr_decay", 1.5), ("lr_decay", "nan"), ("clip_value", -1),
                                        ("clip_value", "inf"), ("momentum", 1), ("adam_beta1", 1.0),
                                        ("explosion_factor", 0.5), ("max_restores", 0), ("lr_decay_every", -1),
                                        ("lr_decay_after", "nan"), ("lr_decay_every", 10**11),
                                        ("select_scale", -1), ("select_scale", 1.5), ("select_scale", 10**6),
                                        ("on_explosion", "ignore")])
def test_knob_ranges(key, value):
    with pytest.raises(ConfigError, match=f"train.{key}"):
        from_dict(TrainConfig, {key: value}, prefix="train.")


def test_resume_with_another_optimizer_is_one_line(tmp_path):
    tr = _trainer(tmp_path, optimizer="adam")
    tr.fit()
    other = _trainer(tmp_path, optimizer="sgd")
    with pytest.raises(MemlabError, match="optimizer") as e:
        other.resume()
    assert "\n" not in str(e.value)


def test_resume_restores_the_decayed_lr_exactly(tmp_path):
    a = _trainer(tmp_path, lr=0.01, lr_decay=0.99, max_epochs=2)
    a.fit()
    b = _trainer(tmp_path, lr=0.01, lr_decay=0.99, max_epochs=4)
    assert b.resume() and b.lr == a.lr and not math.isnan(b.lr)


class _Killed(RuntimeError):
    pass


def test_kill_and_resume_is_bit_identical_with_adam_and_lr_decay(tmp_path):
    from memlab.training.run import train_run

    cfg = {"model": MODEL, "task": TASK,
           "train": {"optimizer": "adam", "lr": 0.01, "lr_decay": 0.97, "clip_value": 0.5, "max_epochs": 6,
                     "batches_per_epoch": 3, "batch_size": 4, "eval_every": 2, "eval_batches": 1,
                     "checkpoint_every": 2, "target_coarse": 2.0}}

    def kill(rec):
        if rec["epoch"] == 3:
            raise _Killed()

    full = train_run("lstm", "copy", cfg, seed=5, out=tmp_path, name="full", progress=False)
    with pytest.raises(_Killed):
        train_run("lstm", "copy", cfg, seed=5, out=tmp_path, name="k", progress=False, callbacks=[kill])
    res = train_run(resume=tmp_path / "k", progress=False)
    assert res["resumed"] and res["lr"] == full["lr"]
    a = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "k" / "checkpoints" / "last.pt", weights_only=True)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
