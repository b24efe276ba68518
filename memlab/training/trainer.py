"""A model-agnostic trainer implementing the seed 004 protocol by default.

RMSProp with momentum 0.95; epochs of ``batches_per_epoch`` batches of ``batch_size``;
after ``lr_halve_after`` epochs the learning rate halves whenever the best training error
has not improved for ``lr_patience`` epochs; gradient-norm clipping; periodic test
evaluation; stop at a target test score, ``max_epochs`` or ``max_time_s``.

Robustness: a non-finite loss or gradient never reaches the weights. The step is skipped
and the learning rate lowered; after ``nonfinite_patience`` such steps in a row the last good
checkpoint is restored. Checkpoints are atomic; a resumed run with the same seed produces
the same weights as an uninterrupted one, because each epoch's data comes from a generator
seeded by (seed, epoch) and all optimiser state is checkpointed.

The trainer knows nothing about the model beyond ``SequenceModel.forward(batch)`` and the
task's ``loss``/``score``; callbacks receive each epoch's metrics record.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from memlab.core.errors import ConfigError, MemlabError
from memlab.core.io import append_jsonl, atomic_torch_save, read_jsonl, safe_torch_load, write_jsonl
from memlab.core.runtime import make_generator
from memlab.tasks.base import ScoreCounts, Task


@dataclass
class TrainConfig:
    """Training settings; defaults are the seed 004 protocol (LANTM column)."""

    lr: float = 0.02
    momentum: float = 0.95
    rms_alpha: float = 0.95  # RMSProp squared-gradient smoothing
    rms_eps: float = 1e-6
    batch_size: int = 32
    batches_per_epoch: int = 10
    max_epochs: int = 1000
    max_time_s: float = 0.0  # 0 = no limit
    clip_norm: float = 1.0  # 0 = no clipping
    lr_halve_after: int = 100  # epochs before halving may start; 0 = never halve
    lr_patience: int = 30
    min_lr: float = 1e-7
    eval_every: int = 20  # epochs between test evaluations; 0 = never
    eval_batches: int = 10
    target_coarse: float = 1.0  # stop when the test coarse score reaches this; > 1 = never
    checkpoint_every: int = 10
    nonfinite_patience: int = 3

    def validate(self) -> None:
        for name in ("lr", "rms_eps"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"train.{name}={getattr(self, name)} is out of range; allowed: > 0")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"train.momentum={self.momentum} is out of range; allowed: 0 <= momentum < 1")
        if not 0 < self.rms_alpha < 1:
            raise ConfigError(f"train.rms_alpha={self.rms_alpha} is out of range; allowed: 0 < rms_alpha < 1")
        for name in ("batch_size", "batches_per_epoch", "max_epochs", "eval_batches", "checkpoint_every",
                     "nonfinite_patience", "lr_patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name}={getattr(self, name)} is out of range; allowed: >= 1")
        for name in ("max_time_s", "clip_norm", "lr_halve_after", "eval_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name}={getattr(self, name)} is out of range; allowed: >= 0")


def evaluate_batches(
    model: nn.Module, task: Task, lo: int, hi: int, batches: int, batch_size: int,
    generator: torch.Generator, device: torch.device,
) -> ScoreCounts:
    """Fine/coarse counts over ``batches`` fresh batches with lengths uniform in [lo, hi]."""
    counts = ScoreCounts()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for _ in range(batches):
            batch = task.sample_range(batch_size, lo, hi, generator).to(device)
            counts += task.score(model(batch), batch)
    model.train(was_training)
    return counts


def _grads_finite(params: list[nn.Parameter]) -> bool:
    return all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in params)


class Trainer:
    """Train ``model`` on ``task``; writes metrics and checkpoints into ``run_dir`` if given."""

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        cfg: TrainConfig,
        *,
        seed: int = 0,
        device: torch.device | str = "cpu",
        run_dir: str | Path | None = None,
        callbacks: list[Callable[[dict[str, Any]], None]] | None = None,
        progress: bool = True,
    ):
        self.model, self.task, self.cfg, self.seed = model, task, cfg, seed
        self.device = torch.device(device)
        self.model.to(self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks or [])
        self.progress = progress
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = torch.optim.RMSprop(
            self.params, lr=cfg.lr, alpha=cfg.rms_alpha, eps=cfg.rms_eps, momentum=cfg.momentum
        )
        self.epoch = 0  # epochs completed
        self.lr = cfg.lr
        self.best_train_error = math.inf
        self.since_best = 0
        self.best_test: dict[str, Any] = {}
        self.nonfinite_streak = 0
        self.events: list[dict[str, Any]] = []
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self.sequences_seen = 0
        self.stop_reason = ""

    # ------------------------------------------------------------------ checkpoints
    @property
    def ckpt_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "epoch": self.epoch,
            "lr": self.lr,
            "best_train_error": self.best_train_error,
            "since_best": self.since_best,
            "best_test": dict(self.best_test),
            "elapsed": self.elapsed,
            "sequences_seen": self.sequences_seen,
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.lr = float(state["lr"])
        self.best_train_error = float(state["best_train_error"])
        self.since_best = int(state["since_best"])
        self.best_test = dict(state["best_test"])
        self.elapsed = float(state.get("elapsed", 0.0))
        self.sequences_seen = int(state.get("sequences_seen", 0))
        torch.set_rng_state(state["torch_rng"])
        self._set_lr(self.lr)

    def save_checkpoint(self) -> None:
        if self.ckpt_dir is None:
            return
        atomic_torch_save(self.ckpt_dir / "last.pt", self.state_dict())

    def resume(self) -> bool:
        """Restore the last checkpoint if there is one; drops metrics logged after it."""
        if self.ckpt_dir is None or not (self.ckpt_dir / "last.pt").exists():
            return False
        self.load_state_dict(safe_torch_load(self.ckpt_dir / "last.pt", map_location=self.device))
        metrics = self.run_dir / "metrics.jsonl"
        kept = [r for r in read_jsonl(metrics) if r.get("epoch", 0) <= self.epoch]
        write_jsonl(metrics, kept)
        return True

    # ------------------------------------------------------------------ training
    def _set_lr(self, lr: float) -> None:
        self.lr = lr
        for g in self.opt.param_groups:
            g["lr"] = lr

    def _log_event(self, kind: str, **info: Any) -> None:
        ev = {"event": kind, "epoch": self.epoch + 1, **info}
        self.events.append(ev)
        if self.run_dir is not None:
            append_jsonl(self.run_dir / "events.jsonl", [ev])

    def _nonfinite(self, what: str) -> None:
        self.opt.zero_grad(set_to_none=True)
        self.nonfinite_streak += 1
        self._set_lr(max(self.lr * 0.5, self.cfg.min_lr))
        self._log_event("nonfinite", what=what, lr=self.lr, streak=self.nonfinite_streak)
        if self.nonfinite_streak >= self.cfg.nonfinite_patience:
            self.nonfinite_streak = 0
            if self.ckpt_dir is not None and (self.ckpt_dir / "last.pt").exists():
                lr = self.lr
                state = safe_torch_load(self.ckpt_dir / "last.pt", map_location=self.device)
                self.model.load_state_dict(state["model"])
                self.opt.load_state_dict(state["optimizer"])
                self._set_lr(lr)
                self._log_event("restored", checkpoint_epoch=int(state["epoch"]), lr=lr)

    def train_step(self, batch) -> tuple[float, ScoreCounts] | None:
        """One optimiser step; returns (loss, counts) or None if the step was skipped."""
        outputs = self.model(batch)
        loss = self.task.loss(outputs, batch)
        if not torch.isfinite(loss):
            self._nonfinite("loss")
            return None
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.clip_norm > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.clip_norm)
            finite = bool(torch.isfinite(norm))
        else:
            finite = _grads_finite(self.params)
        if not finite:
            self._nonfinite("gradient")
            return None
        self.opt.step()
        self.nonfinite_streak = 0
        return float(loss.detach()), self.task.score(outputs.detach(), batch)

    def evaluate(self, lo: int, hi: int, batches: int, salt: int = 0) -> ScoreCounts:
        gen = make_generator(self.seed, 7_777_777, salt)
        return evaluate_batches(self.model, self.task, lo, hi, batches, self.cfg.batch_size, gen, self.device)

    def fit(self) -> dict[str, Any]:
        """Train until a stop condition; returns a summary dict."""
        cfg = self.cfg
        lo, hi = self.task.train_range
        t_lo, t_hi = self.task.test_range
        start = time.perf_counter()
        base_elapsed = self.elapsed
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.max_epochs, initial=self.epoch, desc="train", unit="ep", dynamic_ncols=True, mininterval=1.0)
        self.stop_reason = "max_epochs"
        try:
            while self.epoch < cfg.max_epochs:
                t0 = time.perf_counter()
                gen = make_generator(self.seed, self.epoch)
                counts, losses = ScoreCounts(), []
                for _ in range(cfg.batches_per_epoch):
                    batch = self.task.sample_range(cfg.batch_size, lo, hi, gen).to(self.device)
                    out = self.train_step(batch)
                    if out is not None:
                        losses.append(out[0])
                        counts += out[1]
                    self.sequences_seen += cfg.batch_size
                self.epoch += 1
                dt = time.perf_counter() - t0
                rec: dict[str, Any] = {
                    "epoch": self.epoch,
                    "loss": sum(losses) / len(losses) if losses else float("nan"),
                    "fine": counts.fine,
                    "coarse": counts.coarse,
                    "lr": self.lr,
                    "seq_per_s": cfg.batches_per_epoch * cfg.batch_size / max(dt, 1e-9),
                    "skipped": cfg.batches_per_epoch - len(losses),
                }
                # learning-rate halving on a plateau of the best training error (seed 004)
                err = 1.0 - counts.fine
                if err < self.best_train_error - 1e-12:
                    self.best_train_error, self.since_best = err, 0
                else:
                    self.since_best += 1
                if cfg.lr_halve_after and self.epoch > cfg.lr_halve_after and self.since_best >= cfg.lr_patience:
                    self._set_lr(max(self.lr * 0.5, cfg.min_lr))
                    self.since_best = 0
                    self._log_event("lr_halved", lr=self.lr)
                if cfg.eval_every and self.epoch % cfg.eval_every == 0:
                    test = self.evaluate(t_lo, t_hi, cfg.eval_batches, salt=self.epoch)
                    rec.update(test_fine=test.fine, test_coarse=test.coarse)
                    if not self.best_test or (test.coarse, test.fine) > (self.best_test["coarse"], self.best_test["fine"]):
                        self.best_test = {"epoch": self.epoch, "fine": test.fine, "coarse": test.coarse}
                        if self.ckpt_dir is not None:
                            atomic_torch_save(self.ckpt_dir / "best.pt", {"model": self.model.state_dict(), "epoch": self.epoch})
                self.elapsed = base_elapsed + time.perf_counter() - start
                rec["elapsed_s"] = self.elapsed
                if self.run_dir is not None:
                    append_jsonl(self.run_dir / "metrics.jsonl", [rec])
                for cb in self.callbacks:
                    cb(rec)
                if bar is not None:
                    post = {"loss": f"{rec['loss']:.3f}", "fine": f"{counts.fine:.3f}", "coarse": f"{counts.coarse:.2f}",
                            "lr": f"{self.lr:.2g}", "seq/s": f"{rec['seq_per_s']:.0f}"}
                    if "test_coarse" in rec:
                        post["test"] = f"{rec['test_fine']:.3f}/{rec['test_coarse']:.2f}"
                    bar.set_postfix(post, refresh=False)
                    bar.update(1)
                done = self.best_test and self.best_test["coarse"] >= cfg.target_coarse
                if self.epoch % cfg.checkpoint_every == 0 or done:
                    self.save_checkpoint()
                if done:
                    self.stop_reason = "target"
                    break
                if cfg.max_time_s and self.elapsed - base_elapsed >= cfg.max_time_s:
                    self.stop_reason = "max_time"
                    break
        except KeyboardInterrupt:
            self.stop_reason = "interrupted"
            raise
        finally:
            if bar is not None:
                bar.close()
        self.save_checkpoint()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        return {
            "epochs": self.epoch,
            "sequences_seen": self.sequences_seen,
            "elapsed_s": round(self.elapsed, 2),
            "lr": self.lr,
            "best_train_error": self.best_train_error,
            "best_test": self.best_test,
            "stop_reason": self.stop_reason,
            "nonfinite_events": sum(1 for e in self.events if e["event"] == "nonfinite"),
        }


def load_model_weights(model: nn.Module, path: str | Path, device: torch.device | str = "cpu") -> int:
    """Load weights from a ``best.pt``/``last.pt`` checkpoint; returns its epoch."""
    state = safe_torch_load(path, map_location=device)
    if not isinstance(state, dict) or "model" not in state:
        raise MemlabError(f"checkpoint {path} is not a memlab checkpoint (no model weights)")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise MemlabError(f"checkpoint {path} does not match the run's model ({str(e).splitlines()[0]})") from None
    return int(state.get("epoch", 0))
