"""LANTM commands: ``memlab plot lantm`` (Fig. 7/8 key-space figure) and ``memlab reproduce lantm``
(seed 004 Tables 3 and 4 from run records, the paper's numbers beside ours).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from memlab.cli import area_group
from memlab.core.errors import ConfigError, MemlabError

# seed 004 Table 3: task -> model -> (1x coarse, 1x fine, 2x coarse, 2x fine), percent
PAPER_TABLE3: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "copy": {"lantm-invnorm": (100, 100, 100, 100), "lantm-softmax": (100, 100, 99, 100), "lstm": (58, 97, 0, 52)},
    "reverse": {"lantm-invnorm": (100, 100, 100, 100), "lantm-softmax": (1, 12, 0, 4), "lstm": (65, 95, 0, 44)},
    "bigramFlip": {"lantm-invnorm": (100, 100, 99, 100), "lantm-softmax": (12, 40, 0, 10), "lstm": (98, 100, 4, 58)},
    "double": {"lantm-invnorm": (100, 100, 100, 100), "lantm-softmax": (100, 100, 100, 100), "lstm": (98, 100, 2, 60)},
    "addition": {"lantm-invnorm": (100, 100, 99, 100), "lantm-softmax": (17, 61, 0, 29), "lstm": (97, 100, 6, 64)},
}
# seed 004 Table 4 (LANTM-InvNorm): task -> scale -> (coarse, fine), percent
PAPER_TABLE4: dict[str, dict[int, tuple[int, int]]] = {
    "copy": {4: (100, 100), 5: (91, 100)},
    "reverse": {4: (91, 98), 5: (12, 65)},
    "bigramFlip": {4: (96, 100), 8: (12, 96)},
    "double": {4: (86, 99), 8: (21, 90)},
    "addition": {4: (2, 95)},
}
TASKS = ("copy", "reverse", "bigramFlip", "double", "addition")
MODELS = ("lantm-invnorm", "lantm-softmax", "lstm")


# --------------------------------------------------------------------------- plot


def trace_record(run_dir: str | Path, length: int, seed: int = 0, checkpoint: str = "best",
                 device: str = "cpu") -> dict[str, Any]:
    """Run a trained LANTM on one example of ``length`` and record what its heads did (see
    ``memlab.plots.lantm`` for the fields)."""
    import torch

    from memlab.core.io import provenance
    from memlab.core.runtime import make_generator
    from memlab.models.lantm import LANTMModel
    from memlab.training.run import build_from_config, read_run_config
    from memlab.training.trainer import load_model_weights

    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    model, task, _ = build_from_config(config, device)
    if not isinstance(model, LANTMModel):
        raise MemlabError(f"run {run_dir} is a {config['model']} run; `plot lantm` needs a LANTM run")
    ckpt = run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not ckpt.exists():
        ckpt = run_dir / "checkpoints" / "last.pt"
    if not ckpt.exists():
        raise MemlabError(f"run {run_dir} has no checkpoint (looked for {checkpoint}.pt and last.pt)")
    epoch = load_model_weights(model, ckpt, device)
    if length < 1:
        raise ConfigError(f"length={length} is out of range; allowed: >= 1")
    batch = task.sample(1, length, make_generator(seed, 77, length))
    model.eval()
    with torch.no_grad():
        out, tr, _ = model.trace(batch.to(device))
    W = model.core.spec.write_heads
    T = int(batch.seq_len[0])
    n_in = int(batch.n_input[0])  # first </s> at t = n_in
    mask = batch.mask[:, 0]
    resp = torch.nonzero(mask).flatten()
    n_ans = len(resp) - 1  # answer symbols; the last response step is <e>
    keys = tr.keys[:T, 0].cpu()  # (T, A, n)
    gates = tr.gates[:T, 0].cpu()  # (T, A, 2)
    reads = keys[n_in - 1 : n_in - 1 + n_ans, W, :2]  # read keys whose values feed the answer outputs
    pred = out.argmax(-1)[:, 0].cpu()
    rec = {
        "kind": "lantm_trace", "run_dir": str(run_dir), "model": config["model"], "task": config["task"],
        "checkpoint": f"{ckpt.name}@{epoch}", "length": length, "sample_seed": seed, "eoi": n_in,
        # writes of the input phase (<s>, the input and the first </s>): the slots that hold the data
        "writes": keys[: n_in + 1, 0, :2].tolist(), "strengths": tr.strengths[: n_in + 1, 0, 0].cpu().tolist(),
        "reads": reads.tolist(),
        "gates": {"write key": gates[:, 0, 0].tolist(), "write step": gates[:, 0, 1].tolist(),
                  "read key": gates[:, W, 0].tolist(), "read step": gates[:, W, 1].tolist()},
        "answer": batch.targets[mask, 0].tolist(), "prediction": pred[mask.cpu()].tolist(),
    }
    rec["symbols_wrong"] = sum(int(a != p) for a, p in zip(rec["answer"], rec["prediction"]))
    rec.update(provenance(seed=seed))
    return rec


def cmd_plot(args: argparse.Namespace) -> dict:
    from memlab.core.io import atomic_write_json
    from memlab.plots.lantm import key_space_figure

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {out} must end in .png")
    rec = trace_record(args.run_dir, args.length, seed=args.seed, checkpoint=args.checkpoint, device=args.device)
    rec_path = out.with_suffix(".json")
    atomic_write_json(rec_path, rec)
    rec = json.loads(rec_path.read_text())  # the figure is drawn from the record as saved
    key_space_figure(rec, out, title=f"{rec['model']} on {rec['task']}, length {rec['length']} ({rec['checkpoint']})")
    print(f"wrote {out} and {rec_path}: {rec['symbols_wrong']} of {len(rec['answer'])} symbols wrong")
    return {"png": str(out), "record": str(rec_path), "symbols_wrong": rec["symbols_wrong"],
            "symbols": len(rec["answer"])}


# --------------------------------------------------------------------------- reproduce


def _csv(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    for it in items:
        if it not in allowed:
            raise ConfigError(f"{what} {it!r} is not allowed; choose from {', '.join(allowed)}")
    if not items:
        raise ConfigError(f"no {what} given; choose from {', '.join(allowed)}")
    return items


def eval_scales(model: str, task: str) -> list[int]:
    """Scales evaluated for a cell: 1x and 2x (Table 3), plus Table 4's for LANTM-InvNorm."""
    return [1, 2] + (sorted(PAPER_TABLE4[task]) if model == "lantm-invnorm" else [])


def run_cell(model: str, task: str, seed: int, runs: Path, records: Path, *, max_time: float, max_epochs: int,
             eval_batches: int, progress: bool, device: str, extra: dict | None = None,
             continue_done: bool = False) -> list[dict]:
    """Train (or resume, or reuse) one table cell's run, then evaluate it unless already evaluated.

    ``continue_done`` resumes runs that already stopped (e.g. with a higher ``train.target_coarse``).
    """
    from memlab.core.io import append_jsonl, read_jsonl
    from memlab.evaluation.evaluate import evaluate_run
    from memlab.training.run import train_run

    name = f"{model}-{task}-s{seed}"
    run_dir = runs / name
    summary_path = run_dir / "summary.json"
    done = summary_path.exists() and json.loads(summary_path.read_text()).get("status") == "done"
    done = done and not continue_done
    t0 = time.perf_counter()
    from memlab.core.config import deep_merge

    train_over = deep_merge({"train": {"max_epochs": max_epochs, "max_time_s": max_time}}, extra or {})
    if not done:
        resume = (run_dir / "config.json").exists()
        print(f"== {name}: {'resuming' if resume else 'training'} (max {max_time:.0f} s, {max_epochs} epochs)", flush=True)
        train_run(model, task, train_over, seed=seed, out=runs, name=name, resume=resume, progress=progress,
                  device=device)
    train_s = time.perf_counter() - t0
    summary = json.loads(summary_path.read_text())
    old = [r for r in (read_jsonl(records) if records.exists() else []) if r.get("run_id") == name
           and r.get("epochs") == summary.get("epochs")]
    if old:
        print(f"== {name}: already evaluated at epoch {summary.get('epochs')}", flush=True)
        return old
    t1 = time.perf_counter()
    recs = evaluate_run(run_dir, eval_scales(model, task), batches=eval_batches, device=device, progress=progress)
    for r in recs:
        r.update(epochs=summary.get("epochs"), train_elapsed_s=summary.get("elapsed_s"),
                 session_train_s=round(train_s, 1), eval_s=round(time.perf_counter() - t1, 1),
                 stop_reason=summary.get("stop_reason"))
    append_jsonl(records, recs)
    return recs


def _pct(x: float | None) -> str:
    """Ours to one decimal (the paper rounds to integers; 99.96% should not read as 100%)."""
    return "" if x is None else f"{100 * x:.1f}%"


def latest_records(records: list[dict]) -> dict[tuple[str, str, int], dict]:
    """(model, task, scale) -> the newest record, best seed first (the paper tabulates best scores)."""
    best: dict[tuple[str, str, int], dict] = {}
    newest: dict[tuple[str, str, int, int], dict] = {}
    for r in records:
        newest[(r["model"], r["task"], int(r["scale"]), int(r.get("seed", 0)))] = r
    for (m, t, s, _), r in newest.items():
        cur = best.get((m, t, s))
        if cur is None or (r["coarse"], r["fine"]) > (cur["coarse"], cur["fine"]):
            best[(m, t, s)] = r
    return best


def render_tables(records: list[dict]) -> str:
    """Tables 3 and 4 as markdown: ours (best over seeds, from records) beside the paper's."""
    best = latest_records(records)
    lines = ["# LANTM reproduction (seed 004 Tables 3 and 4)", "",
             "Rendered by `memlab reproduce lantm` from `records.jsonl` (one record per run, scale); "
             "\"ours\" is the best seed of each cell, evaluated on 100 batches of 32 fresh problems. "
             "Blank: not run. The paper's numbers are rounded to integers.", "",
             "## Table 3: 1x and 2x the training lengths", "",
             "| task | model | 1x coarse | 1x fine | 2x coarse | 2x fine | paper 1x coarse | paper 1x fine | "
             "paper 2x coarse | paper 2x fine | epochs | train time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for task in TASKS:
        for model in MODELS:
            r1, r2 = best.get((model, task, 1)), best.get((model, task, 2))
            p = PAPER_TABLE3[task][model]
            ep = (r1 or r2 or {}).get("epochs", "")
            tt = (r1 or r2 or {}).get("train_elapsed_s")
            lines.append(f"| {task} | {model} | {_pct(r1 and r1['coarse'])} | {_pct(r1 and r1['fine'])} | "
                         f"{_pct(r2 and r2['coarse'])} | {_pct(r2 and r2['fine'])} | {p[0]}% | {p[1]}% | {p[2]}% | "
                         f"{p[3]}% | {ep} | {'' if tt is None else f'{tt / 60:.0f} min'} |")
    lines += ["", "## Table 4: LANTM-InvNorm at larger scales", "",
              "Scale n x means lengths (n−1)m+1 … nm for training maximum m.", "",
              "| task | scale | lengths | coarse | fine | paper coarse | paper fine |", "|---|---|---|---|---|---|---|"]
    for task in TASKS:
        for scale, (pc, pf) in sorted(PAPER_TABLE4[task].items()):
            r = best.get(("lantm-invnorm", task, scale))
            lens = f"{r['lengths'][0]}–{r['lengths'][1]}" if r else ""
            lines.append(f"| {task} | {scale}x | {lens} | {_pct(r and r['coarse'])} | {_pct(r and r['fine'])} | "
                         f"{pc}% | {pf}% |")
    return "\n".join(lines) + "\n"


def cmd_reproduce(args: argparse.Namespace) -> dict:
    from memlab.core.io import atomic_write_text, read_jsonl

    tasks = _csv(args.tasks, TASKS, "task")
    models = _csv(args.models, MODELS, "model")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds {args.seeds!r} must be integers, e.g. 0,1,2") from None
    if args.max_time <= 0 or args.max_epochs < 1 or args.eval_batches < 1:
        raise ConfigError("--max-time must be > 0 and --max-epochs, --eval-batches >= 1")
    from memlab.core.config import parse_overrides

    extra = parse_overrides(args.set)
    out, runs = Path(args.out), Path(args.runs)
    out.mkdir(parents=True, exist_ok=True)
    records = out / "records.jsonl"
    t0 = time.perf_counter()
    cells = []
    if not args.tables_only:
        for task in tasks:
            for model in models:
                for seed in seeds:
                    c0 = time.perf_counter()
                    recs = run_cell(model, task, seed, runs, records, max_time=args.max_time,
                                    max_epochs=args.max_epochs, eval_batches=args.eval_batches,
                                    progress=not args.no_progress, device=args.device, extra=extra,
                                    continue_done=args.continue_done)
                    cells.append({"model": model, "task": task, "seed": seed,
                                  "wall_s": round(time.perf_counter() - c0, 1),
                                  **{f"{r['scale']}x_coarse": r["coarse"] for r in recs}})
                    # refresh the tables after every cell, so an interrupted reproduction still shows its results
                    atomic_write_text(out / "tables.md", render_tables(read_jsonl(records)))
    text = render_tables(read_jsonl(records) if records.exists() else [])
    path = atomic_write_text(out / "tables.md", text)
    if not args.json:
        print(text)
    return {"tables": str(path), "records": str(records), "cells": cells,
            "elapsed_s": round(time.perf_counter() - t0, 1)}


# --------------------------------------------------------------------------- registration


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``memlab plot lantm`` and ``memlab reproduce lantm``."""
    plot = area_group(sub, "plot")
    p = plot.add_parser("lantm", parents=[common], help="Fig. 7/8 key-space plot of a trained LANTM run")
    p.add_argument("run_dir", help="run folder of a lantm-invnorm / lantm-softmax run")
    p.add_argument("--length", type=int, required=True, help="input length of the example to run")
    p.add_argument("--out", required=True, help="PNG to write (the trace record goes beside it as .json)")
    p.add_argument("--seed", type=int, default=0, help="seed of the example")
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_plot)

    rep = area_group(sub, "reproduce")
    p = rep.add_parser("lantm", parents=[common], help="seed 004 Tables 3 and 4 (resumable; one run per cell)")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma list from {', '.join(TASKS)}")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma list from {', '.join(MODELS)}")
    p.add_argument("--seeds", default="0", help="comma list of seeds, e.g. 0,1,2")
    p.add_argument("--max-time", type=float, default=3600.0, help="wall-time cap per cell, seconds")
    p.add_argument("--max-epochs", type=int, default=1000, help="epoch cap per cell (10 batches of 32 each)")
    p.add_argument("--eval-batches", type=int, default=100, help="test batches per scale (seed 004: 100)")
    p.add_argument("--out", default="results/lantm", help="records.jsonl and tables.md go here")
    p.add_argument("--runs", default="runs/lantm", help="run folders (the store) go here")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra setting for every cell, e.g. train.lr=0.001 or train.target_coarse=0.99 (repeatable)")
    p.add_argument("--continue-done", action="store_true",
                   help="resume cells whose runs already stopped (with --set train.target_coarse=1 or more epochs)")
    p.add_argument("--tables-only", action="store_true", help="re-render the tables from records; train nothing")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_reproduce)
