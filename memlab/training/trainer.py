"""A model-agnostic trainer implementing the seed 004 protocol by default.

RMSProp with momentum 0.95 (or Adam, SGD: ``train.optimizer``); epochs of ``batches_per_epoch`` batches of
``batch_size``; after ``lr_halve_after`` epochs the learning rate halves whenever the best training error
has not improved for ``lr_patience`` epochs (``plateau_halving``); optional decay per step or per N epochs
(``lr_decay``); gradient clipping by value and by norm; periodic test evaluation; stop at a target test
score, ``max_epochs`` or ``max_time_s``.

Robustness: a non-finite loss or gradient never reaches the weights. The step is skipped and the learning
rate halved; after ``nonfinite_patience`` such steps in a row the last good checkpoint is restored. A
checkpoint is *good* only if its epoch took every step and ended with a finite loss and finite weights:
``last.pt`` is never overwritten by a bad epoch, so a restore always lands on weights that trained. After
``max_restores`` restores without a good epoch in between the run stops with ``stop_reason = "diverged"``.
Step losses above ``explosion_factor`` times the running median of recent step losses (and above the first
loss) are summed up in one ``loss_explosion`` event per epoch. Checkpoints are atomic; a resumed run with
the same seed produces the same weights as an uninterrupted one, because each epoch's data comes from a
generator seeded by (seed, epoch) and all optimiser and schedule state is checkpointed.

The trainer knows nothing about the model beyond ``SequenceModel.forward(batch)`` and the task's
``loss``/``score``; callbacks receive each epoch's metrics record. One optional hook: a model whose
attribute ``fits_in_closed_form`` is true (the ESN with ``model.readout=ridge``) takes no gradient steps;
each epoch the trainer hands it the epoch's batches, ``model.fit_closed_form(batches)``, which refines a
closed-form fit over every batch seen so far (its statistics live in the model's state_dict, so checkpoints
and resume hold them), and the epoch's loss and scores are those of the fitted model on the same batches. A
non-finite closed-form fit stops the run as ``diverged`` (there is no step to skip).

``train.log=tensorboard`` also writes each epoch's scalars (train/loss, train/fine, train/coarse, test/fine,
test/coarse, lr, grad_norm: the mean pre-clipping gradient norm of the epoch's steps) to ``<run>/tb/``; it
needs a run folder and the ``tensorboard`` extra.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from memlab.core.errors import ConfigError, MemlabError
from memlab.core.io import append_jsonl, atomic_torch_save, read_jsonl, write_jsonl
from memlab.core.runtime import make_generator
from memlab.evaluation.evaluate import check_model_batch, evaluate_batches
from memlab.evaluation.load import read_checkpoint
from memlab.tasks.base import ScoreCounts, Task
from memlab.training.config import TrainConfig

__all__ = ["Trainer", "TrainConfig", "make_optimizer"]  # scoring and loading runs: memlab.evaluation


def _grads_finite(params: list[nn.Parameter]) -> bool:
    return all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in params)


def _params_finite(params: list[nn.Parameter]) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in params)


def tensorboard_writer_class() -> type:
    """``torch.utils.tensorboard.SummaryWriter``, or a one-line ConfigError naming the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("train.log=tensorboard needs the tensorboard package; install it with "
                          "pip install 'memlab[tensorboard]' (or use train.log=none)") from None
    return SummaryWriter


def make_optimizer(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser ``cfg.optimizer`` names, with its settings from ``cfg``."""
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.rms_alpha, eps=cfg.rms_eps, momentum=cfg.momentum)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    raise ConfigError(f"train.optimizer={cfg.optimizer!r} is not allowed; choose one of rmsprop, adam, sgd")


def activation_bytes_per_step(model: nn.Module, task: Task) -> int:
    """A rough lower bound on the bytes one example keeps per time step for backprop: every
    weight matrix's outputs (the sum of their first dimensions) and the readout, each stored
    once for the forward pass and once as a gradient. Memories whose state grows with time
    (LANTM) or is saved per step (NTM, DNC kernels) need more; the check only has to catch
    requests that cannot possibly fit."""
    width = task.spec.output_size + sum(int(p.shape[0]) for p in model.parameters() if p.dim() >= 2)
    itemsize = next((p.element_size() for p in model.parameters()), 4)
    return 2 * itemsize * width


class Trainer:
    """Train ``model`` on ``task``; writes metrics and checkpoints into ``run_dir`` if given.

    Before anything is allocated the batch (``batch_size`` × the longest train/test length ×
    the model's activation width) is checked against the memory available on ``device``.
    """

    #: step losses kept for the running median of ``explosion_factor``
    LOSS_WINDOW = 50

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
        # the periodic test's lengths: the task's test range, or its lengths of scale select_scale
        self.select_range = task.scale_range(cfg.select_scale) if cfg.select_scale else task.test_range
        k = max(task.train_range[1], self.select_range[1])
        check_model_batch(model, task, cfg.batch_size, k, self.device,
                          extra_bytes_per_step=activation_bytes_per_step(model, task),
                          what=f"train.batch_size={cfg.batch_size} at lengths up to {k}")
        # scales tested beside the periodic test, for the record only (lengths checked now, not mid-run)
        self.track = [(k, task.scale_range(k)) for k in cfg.track_scales]
        if self.track:
            hi = max(r[1] for _, r in self.track)
            check_model_batch(model, task, cfg.batch_size, hi, self.device,
                              what=f"train.track_scales at lengths up to {hi}")
        self.model.to(self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks or [])
        self.progress = progress
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = make_optimizer(self.params, cfg)
        self.epoch = 0  # epochs completed
        self.lr = cfg.lr
        self.best_train_error = math.inf
        self.since_best = 0
        self.best_test: dict[str, Any] = {}
        self.best_track: dict[str, dict[str, Any]] = {}  # "k" -> best periodic score at tracked scale k
        self.nonfinite_streak = 0
        self.restores_since_good = 0
        self.recent_losses: list[float] = []  # the last LOSS_WINDOW step losses that did not explode
        self.first_loss: float | None = None  # the run's first finite step loss
        self._explosions: list[float] = []  # exploded step losses of the current epoch
        self.events: list[dict[str, Any]] = []
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self.sequences_seen = 0
        self.stop_reason = ""
        self.diverged = False
        self.state_good = True  # the weights now are those of a good epoch (or the initial ones)
        self._in_epoch = False
        self._save_due = False
        self._good_state: dict[str, Any] | None = None  # the last good checkpoint when there is no run_dir
        self.closed_form = bool(getattr(model, "fits_in_closed_form", False))  # see the module docstring
        self._grad_norms: list[float] = []  # pre-clipping gradient norms of the current epoch's steps
        self._writer_cls: type | None = None
        self._writer = None
        if cfg.log == "tensorboard":
            if self.run_dir is None:
                raise ConfigError("train.log=tensorboard writes to <run>/tb/ and needs a run folder (memlab train); "
                                  "allowed here: train.log=none")
            self._writer_cls = tensorboard_writer_class()

    # ------------------------------------------------------------------ checkpoints
    @property
    def ckpt_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "optimizer_name": self.cfg.optimizer,
            "epoch": self.epoch,
            "lr": self.lr,
            "best_train_error": self.best_train_error,
            "since_best": self.since_best,
            "best_test": dict(self.best_test),
            "best_track": {k: dict(v) for k, v in self.best_track.items()},
            "elapsed": self.elapsed,
            "sequences_seen": self.sequences_seen,
            "nonfinite_streak": self.nonfinite_streak,
            "recent_losses": list(self.recent_losses),
            "first_loss": self.first_loss,
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        try:
            self.model.load_state_dict(state["model"])
        except (RuntimeError, KeyError, TypeError) as e:
            lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
            raise MemlabError(f"{source} does not match the run's model "
                              f"({lines[1] if len(lines) > 1 else (lines[0] if lines else type(e).__name__)})") from None
        trained_with = state.get("optimizer_name", "rmsprop")  # checkpoints before the knob: RMSProp
        if trained_with != self.cfg.optimizer:
            raise MemlabError(f"{source} was trained with train.optimizer={trained_with}, not {self.cfg.optimizer}; "
                              f"resume with train.optimizer={trained_with} or start a new run")
        try:
            self.opt.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            raise MemlabError(f"{source} has optimizer state that does not fit train.optimizer="
                              f"{self.cfg.optimizer} ({str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__})") from None
        self.epoch = int(state["epoch"])
        self.lr = float(state["lr"])
        self.best_train_error = float(state.get("best_train_error", math.inf))
        self.since_best = int(state.get("since_best", 0))
        self.best_test = dict(state.get("best_test", {}))
        self.best_track = {str(k): dict(v) for k, v in (state.get("best_track") or {}).items()}
        self.elapsed = float(state.get("elapsed", 0.0))
        self.sequences_seen = int(state.get("sequences_seen", 0))
        self.nonfinite_streak = int(state.get("nonfinite_streak", 0))
        self.recent_losses = [float(x) for x in state.get("recent_losses", [])]
        self.first_loss = None if state.get("first_loss") is None else float(state["first_loss"])
        torch.set_rng_state(state["torch_rng"])
        self._set_lr(self.lr)

    def save_checkpoint(self) -> bool:
        """Save ``last.pt`` if the weights now are good (see the module docstring); returns
        whether it saved. Without a run folder the good state is kept in memory for restores."""
        if not self.state_good or self._in_epoch:
            return False
        if self.ckpt_dir is None:
            self._good_state = copy.deepcopy(self.state_dict())
            return True
        atomic_torch_save(self.ckpt_dir / "last.pt", self.state_dict())
        return True

    def _keep_best_tracked(self, k: int, score) -> None:
        """Keep ``best{k}x.pt``: the weights of the best periodic test at tracked scale k so far
        (coarse, then fine; the first epoch to reach a tie), as ``best.pt`` is for the selecting test."""
        best = self.best_track.get(str(k))
        if not self.state_good or (best and (score.coarse, score.fine) <= (best["coarse"], best["fine"])):
            return
        self.best_track[str(k)] = {"epoch": self.epoch, "fine": score.fine, "coarse": score.coarse}
        if self.ckpt_dir is not None:
            atomic_torch_save(self.ckpt_dir / f"best{k}x.pt", {"model": self.model.state_dict(), "epoch": self.epoch})

    def _last_good(self) -> dict[str, Any] | None:
        if self.ckpt_dir is None:
            return self._good_state
        path = self.ckpt_dir / "last.pt"
        return read_checkpoint(path, self.device, need_optimizer=True) if path.exists() else None

    def resume(self) -> bool:
        """Restore the last checkpoint if there is one; drops metrics logged after it.

        A checkpoint without optimizer state, of another model or other sizes, or of another
        optimizer is one MemlabError line.
        """
        if self.ckpt_dir is None or not (self.ckpt_dir / "last.pt").exists():
            return False
        path = self.ckpt_dir / "last.pt"
        self.load_state_dict(read_checkpoint(path, self.device, need_optimizer=True), f"checkpoint {path}")
        metrics = self.run_dir / "metrics.jsonl"
        kept = [r for r in read_jsonl(metrics) if r.get("epoch", 0) <= self.epoch]
        write_jsonl(metrics, kept)
        return True

    # ------------------------------------------------------------------ training
    def _lower_lr(self, factor: float) -> None:
        """Multiply the rate by ``factor`` < 1, never below ``min_lr`` (nor above where it was)."""
        self._set_lr(max(self.lr * factor, min(self.cfg.min_lr, self.lr)))

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
        self._lower_lr(0.5)
        self._log_event("nonfinite", what=what, lr=self.lr, streak=self.nonfinite_streak)
        if self.nonfinite_streak >= self.cfg.nonfinite_patience:
            self.nonfinite_streak = 0
            self._restore()

    def _restore(self) -> None:
        """Go back to the last good checkpoint, keeping the lowered learning rate."""
        state = self._last_good()
        if state is None:
            return
        lr = self.lr
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self._set_lr(lr)
        self.restores_since_good += 1
        self._log_event("restored", checkpoint_epoch=int(state["epoch"]), lr=lr, restores=self.restores_since_good)
        if self.restores_since_good >= self.cfg.max_restores:
            self.diverged = True
            self._log_event("diverged", restores=self.restores_since_good, lr=lr,
                            message=f"no good epoch after {self.restores_since_good} restores of the last good checkpoint")

    def train_step(self, batch) -> tuple[float, ScoreCounts] | None:
        """One optimiser step; returns (loss, counts) or None if the step was skipped."""
        cfg = self.cfg
        outputs = self.model(batch)
        loss = self.task.loss(outputs, batch)
        if not torch.isfinite(loss):
            self._nonfinite("loss")
            return None
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_value > 0:
            torch.nn.utils.clip_grad_value_(self.params, cfg.clip_value)  # NaN stays NaN and is caught below
        if cfg.clip_norm > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.clip_norm)  # the norm before clipping
            finite = bool(torch.isfinite(norm))
        else:
            finite = _grads_finite(self.params)
            grads = [p.grad for p in self.params if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if finite and grads else torch.zeros(())
        if not finite:
            self._nonfinite("gradient")
            return None
        self._grad_norms.append(float(norm))
        self.opt.step()
        self.nonfinite_streak = 0
        self._watch_loss(float(loss.detach()))
        if cfg.decays(self.epoch, per_step=True):
            self._lower_lr(cfg.lr_decay)
        return float(loss.detach()), self.task.score(outputs.detach(), batch)

    def closed_form_epoch(self, batches: list) -> list[tuple[float, ScoreCounts]]:
        """One epoch of a closed-form model: ``model.fit_closed_form(batches)``, then the fitted
        model's (loss, counts) on each batch; [] (and ``diverged``) when the fit is not finite."""
        self.model.fit_closed_form(batches)
        out = []
        with torch.no_grad():
            for batch in batches:
                outputs = self.model(batch)
                loss = self.task.loss(outputs, batch)
                if not torch.isfinite(loss):
                    self.diverged = True
                    self._log_event("diverged", what="closed_form",
                                    message="the closed-form fit gave a non-finite loss (non-finite states or a singular system)")
                    return []
                out.append((float(loss), self.task.score(outputs, batch)))
        return out

    def _log_scalars(self, rec: dict[str, Any]) -> None:
        """The epoch record's scalars to TensorBoard (``train.log=tensorboard``)."""
        if self._writer is None:
            return
        names = {"loss": "train/loss", "fine": "train/fine", "coarse": "train/coarse", "test_fine": "test/fine",
                 "test_coarse": "test/coarse", "lr": "lr", "grad_norm": "grad_norm"}
        for key, tag in names.items():
            if key in rec and math.isfinite(rec[key]):
                self._writer.add_scalar(tag, rec[key], rec["epoch"])
        self._writer.flush()

    def evaluate(self, lo: int, hi: int, batches: int, salt: int = 0) -> ScoreCounts:
        gen = make_generator(self.seed, 7_777_777, salt)
        return evaluate_batches(self.model, self.task, lo, hi, batches, self.cfg.batch_size, gen, self.device)

    def _watch_loss(self, loss: float) -> None:
        """Note a step loss above ``explosion_factor`` × the running median of recent step losses
        (and above the run's first loss, so that noise around a converged, tiny loss is not an
        explosion). Exploded losses stay out of the median, so a run that stays up there keeps
        being reported; one ``loss_explosion`` event per epoch sums them up."""
        if self.first_loss is None:
            self.first_loss = loss
        f = self.cfg.explosion_factor
        if f > 0 and self.recent_losses:
            median = statistics.median(self.recent_losses)
            if loss > f * median and loss > self.first_loss:
                self._explosions.append(loss)
                return
        self.recent_losses = (self.recent_losses + [loss])[-self.LOSS_WINDOW:]

    def _judge_epoch(self, loss: float, skipped: int) -> bool:
        """Whether the epoch just finished is good (every step taken, finite loss and weights);
        logs the epoch's loss explosions as one event; with ``on_explosion=restore`` an epoch with
        explosions is bad: the rate halves and the last good checkpoint comes back."""
        exploded = bool(self._explosions)
        if self._explosions:
            median = statistics.median(self.recent_losses) if self.recent_losses else float("nan")
            self._log_event("loss_explosion", steps=len(self._explosions), max_loss=max(self._explosions),
                            running_median=median, factor=max(self._explosions) / max(median, 1e-300))
            self._explosions = []
        if exploded and self.cfg.on_explosion == "restore":
            self._lower_lr(0.5)
            self._restore()
            return False
        return skipped == 0 and math.isfinite(loss) and _params_finite(self.params)

    def fit(self) -> dict[str, Any]:
        """Train until a stop condition; returns a summary dict."""
        cfg = self.cfg
        lo, hi = self.task.train_range
        t_lo, t_hi = self.select_range
        one = cfg.batch_lengths == "batch"
        start = time.perf_counter()
        base_elapsed = self.elapsed
        if self.epoch == 0 and self._last_good() is None:
            self.save_checkpoint()  # the initial weights: what a divergence in the first epochs restores
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.max_epochs, initial=self.epoch, desc="train", unit="ep", dynamic_ncols=True, mininterval=1.0)
        self.stop_reason = "max_epochs"
        if self._writer_cls is not None:  # purge_step: a resumed run drops the scalars logged after its checkpoint
            self._writer = self._writer_cls(str(self.run_dir / "tb"), purge_step=self.epoch + 1 if self.epoch else None)
        try:
            while self.epoch < cfg.max_epochs:
                t0 = time.perf_counter()
                gen = make_generator(self.seed, self.epoch)
                counts, losses = ScoreCounts(), []
                self._grad_norms = []
                self._in_epoch = True
                if self.closed_form:
                    batches = [self.task.sample_range(cfg.batch_size, lo, hi, gen, one).to(self.device)
                               for _ in range(cfg.batches_per_epoch)]
                    for step_loss, step_counts in self.closed_form_epoch(batches):
                        losses.append(step_loss)
                        counts += step_counts
                    self.sequences_seen += cfg.batch_size * len(batches)
                for _ in range(0 if self.closed_form else cfg.batches_per_epoch):
                    batch = self.task.sample_range(cfg.batch_size, lo, hi, gen, one).to(self.device)
                    out = self.train_step(batch)
                    if out is not None:
                        losses.append(out[0])
                        counts += out[1]
                    self.sequences_seen += cfg.batch_size
                    if self.diverged:
                        break
                self._in_epoch = False
                loss = sum(losses) / len(losses) if losses else float("nan")
                skipped = cfg.batches_per_epoch - len(losses)
                self.state_good = self._judge_epoch(loss, skipped)
                self.epoch += 1
                dt = time.perf_counter() - t0
                if self.state_good:
                    self.restores_since_good = 0
                rec: dict[str, Any] = {
                    "epoch": self.epoch,
                    "loss": loss,
                    "fine": counts.fine,
                    "coarse": counts.coarse,
                    "lr": self.lr,
                    "seq_per_s": cfg.batches_per_epoch * cfg.batch_size / max(dt, 1e-9),
                    "skipped": skipped,
                }
                if self._grad_norms:
                    rec["grad_norm"] = sum(self._grad_norms) / len(self._grad_norms)
                # learning-rate halving on a plateau of the best training error (seed 004)
                err = 1.0 - counts.fine
                if err < self.best_train_error - 1e-12:
                    self.best_train_error, self.since_best = err, 0
                else:
                    self.since_best += 1
                if not self.closed_form and cfg.decays(self.epoch, per_step=False):
                    self._lower_lr(cfg.lr_decay)
                if (not self.closed_form and cfg.plateau_halving and cfg.lr_halve_after and self.epoch > cfg.lr_halve_after
                        and self.since_best >= cfg.lr_patience):
                    self._lower_lr(0.5)
                    self.since_best = 0
                    self._log_event("lr_halved", lr=self.lr)
                if cfg.eval_every and self.epoch % cfg.eval_every == 0:
                    test = self.evaluate(t_lo, t_hi, cfg.eval_batches, salt=self.epoch)
                    rec.update(test_fine=test.fine, test_coarse=test.coarse)
                    if cfg.select_scale:
                        rec["test_scale"] = cfg.select_scale
                    for k, (k_lo, k_hi) in self.track:  # not lo/hi: those are the training lengths
                        tk = self.evaluate(k_lo, k_hi, cfg.eval_batches, salt=self.epoch * 1009 + k)
                        rec.update({f"test{k}x_fine": tk.fine, f"test{k}x_coarse": tk.coarse})
                        self._keep_best_tracked(k, tk)
                    if self.state_good and not self.best_test or (test.coarse, test.fine) > (self.best_test["coarse"], self.best_test["fine"]):
                        self.best_test = {"epoch": self.epoch, "fine": test.fine, "coarse": test.coarse}
                        if self.ckpt_dir is not None:
                            atomic_torch_save(self.ckpt_dir / "best.pt", {"model": self.model.state_dict(), "epoch": self.epoch})
                self.elapsed = base_elapsed + time.perf_counter() - start
                rec["elapsed_s"] = self.elapsed
                if self.run_dir is not None:
                    append_jsonl(self.run_dir / "metrics.jsonl", [rec])
                self._log_scalars(rec)
                for cb in self.callbacks:
                    cb(rec)
                if bar is not None:
                    post = {"loss": f"{rec['loss']:.3f}", "fine": f"{counts.fine:.3f}", "coarse": f"{counts.coarse:.2f}",
                            "lr": f"{self.lr:.2g}", "seq/s": f"{rec['seq_per_s']:.0f}"}
                    if "test_coarse" in rec:
                        post["test"] = f"{rec['test_fine']:.3f}/{rec['test_coarse']:.2f}"
                    bar.set_postfix(post, refresh=False)
                    bar.update(1)
                if self.diverged:
                    self.stop_reason = "diverged"
                    break
                done = self.best_test and self.best_test["coarse"] >= cfg.target_coarse
                # a checkpoint due at a bad epoch is taken at the next good one
                self._save_due |= self.epoch % cfg.checkpoint_every == 0 or bool(done)
                if self._save_due and self.save_checkpoint():
                    self._save_due = False
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
            if self._writer is not None:
                self._writer.close()
                self._writer = None
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
            **({"best_track": self.best_track} if self.best_track else {}),
            "stop_reason": self.stop_reason,
            "nonfinite_events": sum(1 for e in self.events if e["event"] == "nonfinite"),
            "restores": sum(1 for e in self.events if e["event"] == "restored"),
            "loss_explosions": sum(1 for e in self.events if e["event"] == "loss_explosion"),
        }
