"""Run folders: resolve a typed config, train, checkpoint, resume, index in the store.

A run folder ``<out>/<run_id>/`` holds ``config.json`` (model, task, seed, every resolved
setting, commit), ``metrics.jsonl`` (one record per epoch), ``events.jsonl`` (non-finite
steps, learning-rate changes), ``checkpoints/last.pt`` and ``best.pt``, ``evals.jsonl`` and
``summary.json``. ``<out>/index.sqlite`` indexes every run and evaluation.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from memlab.core.config import deep_merge, from_dict, to_dict
from memlab.core.errors import ConfigError, MemlabError
from memlab.core.io import atomic_write_json, now_iso, provenance

SECTIONS = ("model", "task", "train")


def resolve_config(model: str, task: str, overrides: dict[str, Any] | None = None, seed: int = 0,
                   device: str = "cpu") -> dict[str, Any]:
    """Full, checked run config: per-model/per-task defaults, then ``overrides``.

    ``overrides`` has sections ``model``, ``task`` and ``train`` (dotted CLI keys
    ``model.hidden=100`` land there); any other key is an error.
    """
    from memlab.models import get_entry
    from memlab.tasks import get_task_class
    from memlab.training.trainer import TrainConfig

    overrides = dict(overrides or {})
    for key, value in overrides.items():
        if key not in SECTIONS or not isinstance(value, dict):
            raise ConfigError(f"unknown key {key!r}; settings are model.*, task.* or train.* (e.g. train.lr=0.01)")
    entry = get_entry(model)
    task_cls = get_task_class(task)
    task_cfg = from_dict(task_cls.Config, overrides.get("task", {}), prefix="task.")
    task_obj = task_cls(task_cfg)  # checks the ranges hold allowed lengths
    model_cfg = from_dict(entry.config_cls, deep_merge(entry.model_defaults(task_obj.name), overrides.get("model", {})),
                          prefix="model.")
    train_cfg = from_dict(TrainConfig, deep_merge(entry.train_defaults(task_obj.name), overrides.get("train", {})),
                          prefix="train.")
    return {
        "model": model,
        "task": task_obj.name,
        "seed": int(seed),
        "device": device,
        "model_cfg": to_dict(model_cfg),
        "task_cfg": to_dict(task_cfg),
        "train": to_dict(train_cfg),
    }


def build_from_config(config: dict[str, Any], device: str | None = None):
    """(model, task, train_cfg) from a resolved config; the model is seeded by config['seed']."""
    from memlab.core.runtime import resolve_device, seed_everything
    from memlab.models import get_entry
    from memlab.tasks import get_task_class
    from memlab.training.trainer import TrainConfig

    entry = get_entry(config["model"])
    task_cls = get_task_class(config["task"])
    task = task_cls(from_dict(task_cls.Config, config["task_cfg"], prefix="task."))
    model_cfg = from_dict(entry.config_cls, config["model_cfg"], prefix="model.")
    train_cfg = from_dict(TrainConfig, config["train"], prefix="train.")
    seed_everything(int(config["seed"]))
    model = entry.build(model_cfg, task.spec).to(resolve_device(device or config.get("device", "cpu")))
    return model, task, train_cfg


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise MemlabError(f"run folder {run_dir} does not exist")
    if not path.exists():
        raise MemlabError(f"{run_dir} is not a memlab run folder (no config.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise MemlabError(f"{path} is corrupt (not valid JSON)") from None


def default_run_id(model: str, task: str, seed: int) -> str:
    return f"{model}-{task}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}"


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
    """Train a model on a task in a run folder; returns a summary with ``run_dir``.

    ``resume`` may be a run folder (its config is used; model/task/overrides must be None),
    or True with ``name`` naming a run under ``out``; a fresh run whose folder already
    exists is an error, so nothing already saved is overwritten.
    """
    from memlab.core.runtime import resolve_device

    if resume and not isinstance(resume, bool):
        run_dir = Path(resume)
        config = read_run_config(run_dir)
        if model or task or overrides:
            raise ConfigError("--resume RUN takes its settings from the run; drop --model/--task/--set")
        out = run_dir.parent
    else:
        if not model or not task:
            raise ConfigError("train needs --model and --task (or --resume RUN)")
        config = resolve_config(model, task, overrides, seed, device)
        run_dir = Path(out) / (name or default_run_id(model, config["task"], seed))
        if resume:
            if not (run_dir / "config.json").exists():
                raise MemlabError(f"cannot resume: run folder {run_dir} does not exist")
            old = read_run_config(run_dir)
            if {k: old.get(k) for k in ("model", "task", "seed", "model_cfg", "task_cfg")} != {
                k: config.get(k) for k in ("model", "task", "seed", "model_cfg", "task_cfg")
            }:
                raise ConfigError(f"cannot resume {run_dir}: its config differs from the one requested")
            config = old | {"train": config["train"]}  # training limits may be extended on resume
        elif (run_dir / "config.json").exists():
            raise MemlabError(f"run folder {run_dir} already exists; pass --resume to continue it or choose --name")
    dev = resolve_device(device if device != "cpu" else config.get("device", "cpu"))
    config.setdefault("created", now_iso())
    config.update(provenance())  # commit and time of this (possibly resumed) session
    run_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_run(run_dir):
        return _train_locked(run_dir, out, config, dev, progress=progress, callbacks=callbacks)


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
    f = open(run_dir / ".lock", "a+")
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


def _train_locked(run_dir: Path, out, config: dict[str, Any], dev, *, progress: bool, callbacks) -> dict[str, Any]:
    from memlab.store import Store
    from memlab.training.trainer import Trainer

    atomic_write_json(run_dir / "config.json", config)
    model_obj, task_obj, train_cfg = build_from_config(config, str(dev))
    store = Store(out)
    trainer = Trainer(model_obj, task_obj, train_cfg, seed=config["seed"], device=dev, run_dir=run_dir,
                      callbacks=callbacks, progress=progress)
    resumed = trainer.resume()
    store.upsert_run(run_dir.name, run_dir, config, "running", trainer.summary())
    status = "failed"
    try:
        summary = trainer.fit()
        status = "done"
    except KeyboardInterrupt:
        trainer.save_checkpoint()
        status = "interrupted"
        raise
    finally:
        s = trainer.summary()
        s.update(run_dir=str(run_dir), run_id=run_dir.name, model=config["model"], task=config["task"],
                 seed=config["seed"], status=status, resumed=resumed, n_params=sum(p.numel() for p in model_obj.parameters()))
        atomic_write_json(run_dir / "summary.json", s)
        store.upsert_run(run_dir.name, run_dir, config, status, s)
    return s
