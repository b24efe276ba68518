"""Run folders: resolve a typed config, train, checkpoint, resume, index in the store.

A run folder ``<out>/<run_id>/`` holds ``config.json`` (a ``RunConfig``: model, task, seed,
every resolved setting, provenance), ``metrics.jsonl`` (one record per epoch),
``events.jsonl`` (non-finite steps, restores, loss explosions, learning-rate changes),
``checkpoints/last.pt`` and ``best.pt``, ``evals.jsonl`` and ``summary.json``.
``<out>/index.sqlite`` indexes every run and evaluation.

A fresh run builds its model and checks its sizes before the folder is made, and removes the
folder again if it fails before its first epoch, so a retry with the same ``--name`` works.
The summary's ``status`` is ``done``, ``diverged`` (see the trainer: the CLI exits non-zero),
``interrupted`` or ``failed``.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from memlab.core.errors import ConfigError, MemlabError
from memlab.core.io import atomic_write_json, now_iso, provenance
from memlab.training.config import RunConfig, read_run_config, resolve_run_config, settings_of

__all__ = ["train_run", "resolve_config", "resolve_run_config", "build_from_config", "read_run_config",
           "exclusive_run", "default_run_id", "RunConfig"]


def resolve_config(model: str, task: str, overrides: dict[str, Any] | None = None, seed: int = 0,
                   device: str = "cpu") -> dict[str, Any]:
    """``resolve_run_config`` as the JSON dict written to config.json (for older callers)."""
    return resolve_run_config(model, task, overrides, seed, device).to_json()


def build_from_config(config: RunConfig | dict[str, Any], device: str | None = None):
    """(model, task, train_cfg) from a resolved config; the model is seeded by its seed."""
    from memlab.evaluation.load import build_run

    if not isinstance(config, RunConfig):
        config = RunConfig.from_json(config)
    return build_run(config, device)


def default_run_id(model: str, task: str, seed: int) -> str:
    return f"{model}-{task}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def _first_difference(was: dict[str, Any], now: dict[str, Any]) -> str:
    """``key: saved -> requested`` for the first setting where two ``settings_of`` dicts differ
    (sections named as in ``--set``: ``model.preset``, not ``model_cfg.preset``)."""
    from memlab.core.config import config_differences

    def named(d: dict[str, Any]) -> dict[str, Any]:
        return {k.removesuffix("_cfg"): v for k, v in d.items()}

    return (config_differences(named(was), named(now), limit=1) or ["no setting differs"])[0]


def train_run(
    model: str | None = None,
    task: str | None = None,
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
    out: str | Path = "runs",
    resume: bool | str | Path = False,
    progress: bool = True,
    device: str = "cpu",
    name: str | None = None,
    callbacks: list[Callable[[dict[str, Any]], None]] | None = None,
) -> dict[str, Any]:
    """Train a model on a task in a run folder; returns a summary with ``run_dir`` and ``status``.

    ``resume`` may be a run folder (its config is used; model/task/overrides must be None),
    or True with ``name`` naming a run under ``out``; a fresh run whose folder already
    exists is an error, so nothing already saved is overwritten. ``name`` must be one folder
    name (no ``/``, not ``.`` or ``..``).
    """
    from memlab.core.runtime import resolve_device
    from memlab.store import check_run_name

    fresh = False
    if resume and not isinstance(resume, bool):
        run_dir = Path(resume)
        config = read_run_config(run_dir)
        if model or task or overrides:
            raise ConfigError("--resume RUN takes its settings from the run; drop --model/--task/--set")
        out = run_dir.parent
    else:
        if not model or not task:
            raise ConfigError("train needs --model and --task (or --resume RUN)")
        if name is not None:
            check_run_name(name)
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise MemlabError(f"--out {out} is a file; it must be a folder for run folders")
        config = resolve_run_config(model, task, overrides, seed, device)
        run_dir = out / (name or default_run_id(model, config.task, seed))
        if resume:
            if not (run_dir / "config.json").exists():
                raise MemlabError(f"cannot resume: run folder {run_dir} does not exist")
            old = read_run_config(run_dir)
            was, now = settings_of(old), settings_of(config)
            if was != now:
                raise ConfigError(f"cannot resume {run_dir}: its config differs from the one requested "
                                  f"({_first_difference(was, now)})")
            old.train = config.train  # training limits may be extended on resume
            config = old
        elif run_dir.exists() and any(run_dir.iterdir()):
            raise MemlabError(f"run folder {run_dir} already exists; pass --resume to continue it or choose --name")
        else:
            fresh = True
    dev = resolve_device(device if device != "cpu" else config.device)
    if config.created is None:
        config.created = now_iso()
    prov = provenance()  # commit, diff hash and time of this (possibly resumed) session
    config.commit, config.dirty, config.diff_sha256, config.time = (
        prov["commit"], prov.get("dirty"), prov.get("diff_sha256"), prov["time"])
    model_obj, task_obj, train_cfg = build_from_config(config, str(dev))  # before any folder is made
    from memlab.training.trainer import Trainer

    trainer = Trainer(model_obj, task_obj, train_cfg, seed=config.seed, device=dev, run_dir=run_dir,
                      callbacks=callbacks, progress=progress)  # checks batch memory
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MemlabError(f"cannot create run folder {run_dir}: {e.strerror or e}") from None
    try:
        with exclusive_run(run_dir):
            return _train_locked(run_dir, Path(out), config, trainer, fresh=fresh)
    except KeyboardInterrupt:
        raise
    except BaseException:
        if fresh and trainer.epoch == 0:
            _discard(run_dir, Path(out))
        raise


def _discard(run_dir: Path, out: Path) -> None:
    """Remove a fresh run that failed before its first epoch (folder and index entry)."""
    from memlab.store import Store

    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        Store(out).remove_run(run_dir.name)
    except MemlabError:
        pass


@contextmanager
def exclusive_run(run_dir: Path):
    """Hold an exclusive lock on ``run_dir/.lock`` (with this process's pid in it) while a run
    trains, so a second ``memlab train --resume`` of the same folder fails at once instead of
    interleaving its checkpoints and metrics with the first. The operating system drops the
    lock when the process ends, however it ends. No-op where ``fcntl`` is missing (Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield
        return
    try:
        f = open(run_dir / ".lock", "a+")
    except OSError as e:
        raise MemlabError(f"cannot lock run folder {run_dir}: {e.strerror or e}") from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        pid = f.read().strip() or "?"
        f.close()
        raise MemlabError(f"run folder {run_dir} is in use by another memlab process (pid {pid}); "
                          "wait for it to finish or stop it first") from None
    try:
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield
    finally:
        f.close()  # closing the file releases the lock


def _train_locked(run_dir: Path, out: Path, config: RunConfig, trainer, *, fresh: bool) -> dict[str, Any]:
    from memlab.store import Store

    resumed = trainer.resume()  # first: a checkpoint that cannot be read leaves the run's files as they were
    atomic_write_json(run_dir / "config.json", config.to_json())
    store = Store(out)
    store.upsert_run(run_dir.name, run_dir, config, "running", trainer.summary())
    status = "failed"
    try:
        trainer.fit()
        status = "diverged" if trainer.stop_reason == "diverged" else "done"
    except KeyboardInterrupt:
        trainer.save_checkpoint()
        status = "interrupted"
        raise
    finally:
        s = trainer.summary()
        s.update(run_dir=str(run_dir), run_id=run_dir.name, model=config.model, task=config.task,
                 seed=config.seed, status=status, resumed=resumed,
                 n_params=sum(p.numel() for p in trainer.model.parameters()))
        closed_form = [e for e in trainer.events if e["event"] == "diverged" and e.get("what") == "closed_form"]
        if status == "diverged" and closed_form:
            s["message"] = (f"run {run_dir.name} diverged at epoch {trainer.epoch}: {closed_form[-1]['message']}; "
                            "check the model's settings")
        elif status == "diverged":
            s["message"] = (f"run {run_dir.name} diverged at epoch {trainer.epoch}: non-finite losses or gradients "
                            f"after {s['restores']} restores of the last good checkpoint "
                            f"({s['loss_explosions']} epochs with loss explosions); lower train.lr")
        if not (fresh and trainer.epoch == 0 and status == "failed"):  # a failed fresh run is discarded
            try:  # never mask the error that ended training (e.g. a full disk) with a second one
                atomic_write_json(run_dir / "summary.json", s)
                store.upsert_run(run_dir.name, run_dir, config, status, s)
            except MemlabError:
                if status in ("done", "diverged"):
                    raise
    return s
