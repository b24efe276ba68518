"""Loading a trained run: its config, model, task and checkpoint, with one-line errors.

A run folder (see ``memlab.training.run``) holds ``config.json`` and ``checkpoints/last.pt``
(weights, optimizer state, epoch: written at the end of every good checkpoint interval) and
``checkpoints/best.pt`` (weights at the best test score; only runs with ``train.eval_every``
> 0 have one). ``checkpoint="best"`` falls back to ``last.pt`` when the run has no best.pt —
the one documented fallback; the loaded path is returned so records can say which it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from memlab.core.errors import ConfigError, MemlabError
from memlab.core.io import CHECKPOINT_CHOICES, is_checkpoint_name, safe_torch_load
from memlab.tasks.base import Task
from memlab.training.config import RunConfig, TrainConfig, read_run_config


@dataclass
class LoadedRun:
    """A run ready to evaluate: the model (eval mode, on ``device``) holds the checkpoint's weights."""

    run_dir: Path
    config: RunConfig
    model: nn.Module
    task: Task
    train: TrainConfig
    checkpoint_path: Path
    epoch: int
    device: torch.device
    summary: dict[str, Any] = field(default_factory=dict)


def read_checkpoint(path: str | Path, device: torch.device | str = "cpu", *, need_optimizer: bool = False) -> dict[str, Any]:
    """A memlab checkpoint as a dict; MemlabError (one line) when it is missing, corrupt, not a
    memlab checkpoint, or (``need_optimizer``) has no optimizer state to resume from."""
    state = safe_torch_load(path, map_location=device)
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise MemlabError(f"checkpoint {path} is not a memlab checkpoint (no model weights)")
    if need_optimizer:
        missing = [k for k in ("optimizer", "epoch", "lr", "torch_rng") if k not in state]
        if missing:
            raise MemlabError(f"checkpoint {path} cannot be resumed: it has no {', '.join(missing)} "
                              "(a best.pt copied over last.pt?); restore the run's own last.pt or start a new run")
    return state


def load_model_weights(model: nn.Module, path: str | Path, device: torch.device | str = "cpu") -> int:
    """Load the weights of a ``best.pt``/``last.pt`` checkpoint into ``model``; returns its epoch.

    A checkpoint of another model or other sizes is one MemlabError line naming the first
    mismatched tensor.
    """
    state = read_checkpoint(path, device)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()
        detail = next((ln.strip() for ln in first[1:] if ln.strip()), first[0] if first else type(e).__name__)
        raise MemlabError(f"checkpoint {path} does not match the run's model ({detail})") from None
    try:
        return int(state.get("epoch", 0))
    except (TypeError, ValueError):
        raise MemlabError(f"checkpoint {path} is corrupt (epoch {state.get('epoch')!r})") from None


def checkpoint_path(run_dir: str | Path, checkpoint: str = "best") -> Path:
    """The file ``checkpoint`` (best or last) of ``run_dir`` resolves to (best falls back to last)."""
    if not is_checkpoint_name(checkpoint):
        raise ConfigError(f"checkpoint={checkpoint!r} is not allowed; choose {CHECKPOINT_CHOICES}")
    ckpt_dir = Path(run_dir) / "checkpoints"
    path = ckpt_dir / f"{checkpoint}.pt"
    if checkpoint == "best" and not path.exists():
        path = ckpt_dir / "last.pt"
    if not path.exists():
        looked = "best.pt or last.pt" if checkpoint == "best" else f"{checkpoint}.pt"
        raise MemlabError(f"run {run_dir} has no checkpoint to load (looked for {looked} in {ckpt_dir})")
    return path


def build_run(config: RunConfig, device: torch.device | str | None = None):
    """(model, task, train_cfg) of a resolved config; the model is seeded by ``config.seed``.

    A model whose weights do not fit in memory is one ConfigError line, not an allocator crash.
    """
    from memlab.core.config import from_dict
    from memlab.core.runtime import resolve_device, seed_everything
    from memlab.models import get_entry
    from memlab.tasks import get_task_class

    entry = get_entry(config.model)
    task_cls = get_task_class(config.task)
    task = task_cls(from_dict(task_cls.Config, config.task_cfg, prefix="task."))
    model_cfg = from_dict(entry.config_cls, config.model_cfg, prefix="model.")
    dev = resolve_device(device or config.device)
    seed_everything(int(config.seed))
    try:
        model = entry.build(model_cfg, task.spec).to(dev)
    except (MemoryError, torch.OutOfMemoryError) as e:
        raise ConfigError(f"model {config.model} with these sizes does not fit in memory ({type(e).__name__}); "
                          "lower model.* sizes") from None
    except RuntimeError as e:
        if not any(w in str(e).lower() for w in ("alloc", "memory", "overflow")):  # overflow: sizes past int64
            raise
        raise ConfigError(f"model {config.model} with these sizes does not fit in memory "
                          f"({str(e).strip().splitlines()[0][:240]}); lower model.* sizes") from None
    return model, task, config.train


def load_run(run_dir: str | Path, checkpoint: str = "best", device: torch.device | str | None = "cpu",
             model_overrides: dict[str, Any] | None = None) -> LoadedRun:
    """Load a run folder's model at its ``best`` (falling back to ``last``) or ``last`` checkpoint.

    ``model_overrides``: model settings that change how the trained weights are used, not their
    shapes (e.g. the Stack-RNN's ``eval_actions`` or ``depth``), merged over the run's own; a
    setting that changes a weight's shape fails as a checkpoint of other model sizes.
    Every failure is one MemlabError/ConfigError line: no folder, no or corrupt config.json
    (``null``, ``[]``, no ``task``, unknown keys), no checkpoint, a corrupt one, or one from
    other model sizes.
    """
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    if model_overrides:  # resolved (typed, checked) by the model's config class, as the run's own are
        import dataclasses

        from memlab.core.config import deep_merge, from_dict, to_dict
        from memlab.models import get_entry

        merged = deep_merge(dict(config.model_cfg), dict(model_overrides))
        resolved = to_dict(from_dict(get_entry(config.model).config_cls, merged, prefix="model."))
        config = dataclasses.replace(config, model_cfg=resolved)
    path = checkpoint_path(run_dir, checkpoint)
    model, task, train = build_run(config, device)
    dev = next((p.device for p in model.parameters()), torch.device(device or "cpu"))
    epoch = load_model_weights(model, path, dev)
    model.eval()
    summary: dict[str, Any] = {}
    summary_path = run_dir / "summary.json"
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            summary = {}
        if not isinstance(summary, dict):
            summary = {}
    return LoadedRun(run_dir, config, model, task, train, path, epoch, torch.device(dev), summary)
