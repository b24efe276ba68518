"""Scores of a model at exact lengths or at length scales, as records (seed 004 Tables 3–4).

Scale 1x is the training range; scale n x is lengths (n−1)m+1 … nm where m is the largest
training length. Fine = fraction of response symbols (``<e>`` included) that are right;
coarse = fraction of sequences that are entirely right. Each evaluation draws ``batches``
batches of ``batch_size`` fresh problems from a generator seeded by (seed, scale) or
(seed, length), so the same seed always scores the same problems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from memlab.core.errors import ConfigError, MemlabError, check_range
from memlab.core.io import append_jsonl, provenance
from memlab.core.runtime import make_generator
from memlab.tasks.base import MAX_LENGTH, ScoreCounts, Task

#: upper bound on ``batches`` of one evaluation (a loop bound, not a memory one)
MAX_BATCHES = 1_000_000


def state_bytes(model: nn.Module, steps: int) -> int:
    """Bytes of one example's memory state after ``steps`` steps (``state_size`` of the model's
    core, which memories report from their settings without allocating; 0 for a model without
    one). A memory of 10⁹ slots is then a one-line error before its first batch is allocated."""
    size = getattr(getattr(model, "core", None), "state_size", None)
    if size is None:
        return 0
    itemsize = next((p.element_size() for p in model.parameters()), 4)
    return itemsize * int(size(steps))


def check_model_batch(model: nn.Module, task: Task, batch_size: int, k: int, device: torch.device | str,
                      extra_bytes_per_step: int = 0, what: str = "") -> None:
    """``task.check_batch`` for ``model``'s batches of lengths up to ``k``: the memory's state
    (``state_bytes``) counts per example. Call it before allocating."""
    task.check_batch(batch_size, k, device=device, extra_bytes_per_step=extra_bytes_per_step,
                     extra_bytes_per_example=state_bytes(model, task.max_steps(k)), what=what)


def evaluate_batches(
    model: nn.Module, task: Task, lo: int, hi: int, batches: int, batch_size: int,
    generator: torch.Generator, device: torch.device | str,
) -> ScoreCounts:
    """Fine/coarse counts over ``batches`` fresh batches with lengths uniform in [lo, hi].

    The model runs in eval mode without gradients and is put back in its previous mode.
    """
    check_range("batches", batches, 1, MAX_BATCHES)
    device = torch.device(device)
    check_model_batch(model, task, batch_size, hi, device)
    counts = ScoreCounts()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for _ in range(batches):
                batch = task.sample_range(batch_size, lo, hi, generator).to(device)
                counts += task.score(model(batch), batch)
    finally:
        model.train(was_training)
    return counts


def parse_scales(text: str | Iterable[int]) -> list[int]:
    """``"1,2,4"`` -> [1, 2, 4]; every scale must be an integer >= 1 (the task bounds the top)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for it in items:
        try:
            n = int(str(it).strip())
        except ValueError:
            raise ConfigError(f"scale {it!r} is not an integer; use e.g. --scales 1,2,4") from None
        if not 1 <= n <= MAX_LENGTH:
            raise ConfigError(f"scale={n} is out of range; allowed: integers 1 <= scale <= {MAX_LENGTH}")
        out.append(n)
    if not out:
        raise ConfigError("no scales given; use e.g. --scales 1,2")
    return out


def parse_lengths(text: str | Iterable[int | str]) -> list[int | str]:
    """``"20,40,1-10"`` -> [20, 40, "1-10"]: exact lengths, or ``lo-hi`` ranges (lengths uniform)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[int | str] = []
    for it in items:
        s = str(it).strip()
        try:
            lo, hi = length_bounds(s if "-" in s else int(s))
        except ConfigError:  # a number out of range: that message says what is allowed
            raise
        except ValueError:
            raise ConfigError(f"length {it!r} is not an integer or lo-hi range; use e.g. --lengths 20,40,1-10") from None
        out.append(lo if lo == hi and "-" not in s else f"{lo}-{hi}")
    if not out:
        raise ConfigError("no lengths given; use e.g. --lengths 20,40")
    return out


def length_bounds(length: int | str) -> tuple[int, int]:
    """``20`` -> (20, 20); ``"1-10"`` -> (1, 10); checked against 1 <= lo <= hi <= MAX_LENGTH."""
    if isinstance(length, str):
        lo_s, hi_s = length.split("-", 1)
        lo, hi = int(lo_s), int(hi_s)
    else:
        lo = hi = int(length)
    if not 1 <= lo <= hi <= MAX_LENGTH:
        raise ConfigError(f"length {length!r} is out of range; allowed: 1 <= lo <= hi <= {MAX_LENGTH}")
    return lo, hi


def evaluate(
    model: nn.Module, task: Task, *, scales: Sequence[int] | None = None, lengths: Sequence[int | str] | None = None,
    batches: int = 100, batch_size: int = 32, seed: int = 0, device: torch.device | str = "cpu",
    progress: bool = False,
) -> list[dict[str, Any]]:
    """One record per scale or per length: the one evaluator of memlab.

    Give exactly one of ``scales`` (seed 004: 1x = training range, n x = (n−1)m+1 … nm) or
    ``lengths`` (an int, or a ``"lo-hi"`` string for lengths uniform in a range). Records:
    ``{task, scale | length, lengths: [lo, hi], fine, coarse, n_sequences, n_symbols, <task
    extras such as bit_errors>, batches, batch_size, seed, commit, dirty, [diff_sha256], time}``.
    The generator of a scale is seeded by (seed, 424242, n), of a length by (seed, 515151, …),
    as the records already under results/ were.
    """
    if (scales is None) == (lengths is None):
        raise ConfigError("evaluate takes either scales or lengths (e.g. --scales 1,2 or --lengths 20,40)")
    check_range("batches", batches, 1, MAX_BATCHES)
    check_range("batch_size", batch_size, 1)
    device = torch.device(device)
    model.to(device)
    units: list[tuple[str, Any, int, int, torch.Generator]] = []
    if scales is not None:
        for n in parse_scales(list(scales)):
            lo, hi = task.scale_range(n)
            units.append(("scale", n, lo, hi, make_generator(seed, 424242, n)))
    else:
        for L in parse_lengths(list(lengths)):
            lo, hi = length_bounds(L)
            units.append(("length", L, lo, hi, make_generator(seed, 515151, lo if lo == hi else lo * 100_000 + hi)))
    for _, _, _, hi, _ in units:  # every size checked before any compute
        check_model_batch(model, task, batch_size, hi, device)
    recs = []
    for key, value, lo, hi, gen in units:
        counts = evaluate_batches(model, task, lo, hi, batches, batch_size, gen, device)
        rec = {"task": task.name, key: value, "lengths": [lo, hi], **counts.as_dict(), "batches": batches,
               "batch_size": batch_size}
        rec.update(provenance(seed=seed))
        recs.append(rec)
        if progress:
            print(f"  {task.name} {key} {value} (lengths {lo}-{hi}): fine {counts.fine:.4f} "
                  f"coarse {counts.coarse:.4f}", flush=True)
    return recs


def evaluate_model(model: nn.Module, task: Task, scales: Iterable[int], *, batches: int = 100,
                   batch_size: int = 32, seed: int = 0, device: torch.device | str = "cpu",
                   progress: bool = False) -> list[dict[str, Any]]:
    """``evaluate`` at ``scales`` (the older name, kept for callers)."""
    return evaluate(model, task, scales=list(scales), batches=batches, batch_size=batch_size, seed=seed,
                    device=device, progress=progress)


def evaluate_run(run_dir: str | Path, scales: Iterable[int] | str | None = (1, 2), batches: int = 100,
                 device: str = "cpu", checkpoint: str = "best", batch_size: int = 32, progress: bool = False,
                 lengths: Iterable[int | str] | str | None = None, record_in_run: bool = True) -> list[dict[str, Any]]:
    """Evaluate a run folder's checkpoint (see ``load_run``) at ``scales`` or ``lengths``.

    With ``record_in_run`` the records are appended to the run's evals.jsonl and, when the
    run sits in a store (its parent holds ``index.sqlite``), to the store's index; no index is
    created where there was none (e.g. the committed run folders under results/)."""
    from memlab.evaluation.load import load_run
    from memlab.store import Store

    if lengths is not None:
        scales = None
        lengths = parse_lengths(lengths) if isinstance(lengths, str) else list(lengths)
    elif isinstance(scales, str):
        scales = parse_scales(scales)
    run = load_run(run_dir, checkpoint, device=device)
    recs = evaluate(run.model, run.task, scales=None if scales is None else list(scales), lengths=lengths,
                    batches=batches, batch_size=batch_size, seed=run.config.seed, device=run.device,
                    progress=progress)
    for r in recs:
        r.update(run_id=run.run_dir.name, model=run.config.model, checkpoint=f"{run.checkpoint_path.name}@{run.epoch}")
    if record_in_run:
        store = Store(run.run_dir.parent)
        if store.path.exists():
            for r in recs:
                store.add_eval(r)
        append_jsonl(run.run_dir / "evals.jsonl", recs)
    return recs


__all__ = ["evaluate", "evaluate_batches", "evaluate_model", "evaluate_run", "parse_scales", "parse_lengths",
           "length_bounds", "MemlabError"]
