"""Fine and coarse scores at length scales (seed 004 Tables 3–4), written as records.

Scale 1x is the training range; scale n x is lengths (n−1)m+1 … nm where m is the largest
training length. Fine = fraction of response symbols (``<e>`` included) that are right;
coarse = fraction of sequences that are entirely right. Each evaluation draws ``batches``
batches of ``batch_size`` fresh problems from a generator seeded by (seed, scale).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from memlab.core.errors import ConfigError, MemlabError
from memlab.core.io import append_jsonl, provenance
from memlab.core.runtime import make_generator
from memlab.tasks.base import Task
from memlab.training.trainer import evaluate_batches


def parse_scales(text: str | Iterable[int]) -> list[int]:
    """``"1,2,4"`` -> [1, 2, 4]; every scale must be an integer >= 1."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for it in items:
        try:
            n = int(str(it).strip())
        except ValueError:
            raise ConfigError(f"scale {it!r} is not an integer; use e.g. --scales 1,2,4") from None
        if n < 1:
            raise ConfigError(f"scale={n} is out of range; allowed: integers >= 1")
        out.append(n)
    if not out:
        raise ConfigError("no scales given; use e.g. --scales 1,2")
    return out


def evaluate_model(model: nn.Module, task: Task, scales: Iterable[int], *, batches: int = 100,
                   batch_size: int = 32, seed: int = 0, device: torch.device | str = "cpu",
                   progress: bool = False) -> list[dict[str, Any]]:
    """Records {task, scale, lengths, fine, coarse, n_sequences, seed, commit, ...} per scale."""
    if batches < 1 or batch_size < 1:
        raise ConfigError(f"batches={batches}, batch_size={batch_size}: both must be >= 1")
    device = torch.device(device)
    model.to(device)
    recs = []
    for n in scales:
        lo, hi = task.scale_range(n)
        gen = make_generator(seed, 424242, n)
        counts = evaluate_batches(model, task, lo, hi, batches, batch_size, gen, device)
        rec = {"task": task.name, "scale": n, "lengths": [lo, hi], **counts.as_dict(), "batches": batches}
        rec.update(provenance(seed=seed))
        recs.append(rec)
        if progress:
            print(f"  {task.name} {n}x lengths {lo}-{hi}: fine {counts.fine:.4f} coarse {counts.coarse:.4f}", flush=True)
    return recs


def evaluate_run(run_dir: str | Path, scales: Iterable[int] = (1, 2), batches: int = 100, device: str = "cpu",
                 checkpoint: str = "best", batch_size: int = 32, progress: bool = False) -> list[dict[str, Any]]:
    """Evaluate a run's ``best`` (or ``last``) checkpoint; appends records to evals.jsonl and the store."""
    from memlab.core.runtime import resolve_device
    from memlab.store import Store
    from memlab.training.run import build_from_config, read_run_config
    from memlab.training.trainer import load_model_weights

    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint={checkpoint!r} is not allowed; choose one of best, last")
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    dev = resolve_device(device)
    model, task, _ = build_from_config(config, str(dev))
    ckpt = run_dir / "checkpoints" / f"{checkpoint}.pt"
    if checkpoint == "best" and not ckpt.exists():
        ckpt = run_dir / "checkpoints" / "last.pt"
    if not ckpt.exists():
        raise MemlabError(f"run {run_dir} has no checkpoint to evaluate (looked for {ckpt.name})")
    epoch = load_model_weights(model, ckpt, dev)
    recs = evaluate_model(model, task, parse_scales(scales) if isinstance(scales, str) else list(scales),
                          batches=batches, batch_size=batch_size, seed=int(config["seed"]), device=dev,
                          progress=progress)
    store = Store(run_dir.parent)
    for r in recs:
        r.update(run_id=run_dir.name, model=config["model"], checkpoint=f"{ckpt.name}@{epoch}")
        store.add_eval(r)
    append_jsonl(run_dir / "evals.jsonl", recs)
    return recs
