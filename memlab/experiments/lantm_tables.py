"""Seed 004 Tables 3 and 4 (Lie Access Neural Turing Machines): every (model, task, seed) cell
trains one run in the store (``runs/lantm``, resumable), is evaluated at its scales, and the
tables (``results/lantm/tables.md``) show the median over seeds with the worst and best seed,
beside the paper's numbers.

    memlab run lantm-tables --set tasks=copy,reverse models=lantm-invnorm seeds=0,1,2
    memlab table lantm-tables
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from memlab.core.errors import check_range
from memlab.experiments.base import Experiment, RunContext, Unit

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
TaskName = Literal["copy", "reverse", "bigramFlip", "double", "addition"]
ModelName = Literal["lantm-invnorm", "lantm-softmax", "lstm"]


@dataclass
class LantmTablesConfig:
    """The cells (tasks × models × seeds), each run's budget, and extra settings for every cell
    (``--set train.lr=0.001 model.hidden=50``). ``continue_done`` resumes runs that already
    stopped (e.g. with ``train.target_coarse=1`` or more epochs) and evaluates them again."""

    tasks: tuple[TaskName, ...] = TASKS
    models: tuple[ModelName, ...] = MODELS
    seeds: tuple[int, ...] = (0,)
    max_time: float = 3600.0
    max_epochs: int = 1000
    eval_batches: int = 100
    continue_done: bool = False
    model: dict = field(default_factory=dict)
    task: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)

    def validate(self) -> None:
        for s in self.seeds:
            check_range("seeds", s, 0, 2**63 - 1)
        check_range("max_time", self.max_time, 0, 30 * 86400, lo_open=True)
        check_range("max_epochs", self.max_epochs, 1, 10_000_000)
        check_range("eval_batches", self.eval_batches, 1, 1_000_000)


def eval_scales(model: str, task: str) -> list[int]:
    """Scales evaluated for a cell: 1x and 2x (Table 3), plus Table 4's for LANTM-InvNorm."""
    return [1, 2] + (sorted(PAPER_TABLE4[task]) if model == "lantm-invnorm" else [])


# --------------------------------------------------------------------------- tables
def _pct(x: float | None) -> str:
    """Ours to one decimal (the paper rounds to integers; 99.96% should not read as 100%)."""
    return "" if x is None else f"{100 * x:.1f}%"


def seed_records(records: list[dict]) -> dict[tuple[str, str, int], list[dict]]:
    """(model, task, scale) -> the newest record of each seed, ordered by seed."""
    newest: dict[tuple[str, str, int, int], dict] = {}
    for r in records:
        newest[(r["model"], r["task"], int(r["scale"]), int(r.get("seed", 0)))] = r
    out: dict[tuple[str, str, int], list[dict]] = {}
    for (m, t, s, _), r in sorted(newest.items(), key=lambda kv: kv[0][3]):
        out.setdefault((m, t, s), []).append(r)
    return out


def _stat(recs: list[dict] | None, key: str) -> str:
    """The median over seeds; with more than one seed, [worst–best] after it."""
    if not recs:
        return ""
    vals = [float(r[key]) for r in recs]
    if len(vals) == 1:
        return _pct(vals[0])
    return f"{_pct(statistics.median(vals))} [{_pct(min(vals))}–{_pct(max(vals))}]"


def _median(recs: list[dict], key: str) -> float | None:
    vals = [float(r[key]) for r in recs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def render_tables(records: list[dict]) -> str:
    """Tables 3 and 4 as markdown: ours (median over seeds, [worst–best] seed) beside the paper's."""
    cells = seed_records(records)
    lines = ["# LANTM reproduction (seed 004 Tables 3 and 4)", "",
             "Rendered by `memlab table lantm-tables` from `records.jsonl` (one record per run and scale). "
             "\"Ours\" is the median over seeds of each seed's newest evaluation, on 100 batches of 32 fresh "
             "problems; with more than one seed, the worst and the best seed follow in brackets (the paper "
             "tabulates best scores). Blank: not run. The paper's numbers are rounded to integers.", "",
             "## Table 3: 1x and 2x the training lengths", "",
             "| task | model | seeds | 1x coarse | 1x fine | 2x coarse | 2x fine | paper 1x coarse | paper 1x fine | "
             "paper 2x coarse | paper 2x fine | epochs | train time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for task in TASKS:
        for model in MODELS:
            r1, r2 = cells.get((model, task, 1)), cells.get((model, task, 2))
            p = PAPER_TABLE3[task][model]
            rs = r1 or r2 or []
            ep, tt = _median(rs, "epochs"), _median(rs, "train_elapsed_s")
            ep_s = "" if ep is None else (f"{ep:.0f}" if len(rs) > 1 else str(rs[0]["epochs"]))
            lines.append(f"| {task} | {model} | {len(rs) or ''} | {_stat(r1, 'coarse')} | {_stat(r1, 'fine')} | "
                         f"{_stat(r2, 'coarse')} | {_stat(r2, 'fine')} | {p[0]}% | {p[1]}% | {p[2]}% | "
                         f"{p[3]}% | {ep_s} | {'' if tt is None else f'{tt / 60:.0f} min'} |")
    lines += ["", "## Table 4: LANTM-InvNorm at larger scales", "",
              "Scale n x means lengths (n−1)m+1 … nm for training maximum m.", "",
              "| task | scale | lengths | seeds | coarse | fine | paper coarse | paper fine |",
              "|---|---|---|---|---|---|---|---|"]
    for task in TASKS:
        for scale, (pc, pf) in sorted(PAPER_TABLE4[task].items()):
            rs = cells.get(("lantm-invnorm", task, scale))
            lens = f"{rs[0]['lengths'][0]}–{rs[0]['lengths'][1]}" if rs else ""
            lines.append(f"| {task} | {scale}x | {lens} | {len(rs) if rs else ''} | {_stat(rs, 'coarse')} | "
                         f"{_stat(rs, 'fine')} | {pc}% | {pf}% |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- experiment
class LantmTables(Experiment):
    name = "lantm-tables"
    title = "seed 004 Tables 3 and 4: LANTM-InvNorm/SoftMax and LSTM on five tasks -> results/lantm/tables.md"
    config_cls = LantmTablesConfig
    default_out = "results/lantm"
    default_store = "runs/lantm"
    # which cells exist and how long each trains do not change what a finished cell's record says
    # (each record carries its run's resolved settings)
    hash_exclude = ("tasks", "models", "seeds", "max_time", "max_epochs", "continue_done", "train")

    def quick_overrides(self) -> dict[str, Any]:
        return {"tasks": ("copy",), "models": ("lstm",), "max_epochs": 2, "max_time": 60.0, "eval_batches": 2,
                "model": {"hidden": 16, "layers": 1, "embed": 4},
                "task": {"vocab": 4, "train_max": 3, "test_min": 2, "test_max": 3},
                "train": {"eval_every": 1, "eval_batches": 1}}

    def units(self, cfg: LantmTablesConfig) -> list[Unit]:
        again = f"+continue@{cfg.max_epochs}" if cfg.continue_done else ""
        return [Unit(f"{m}-{t}-s{s}{again}", {"model": m, "task": t, "seed": s})
                for t in cfg.tasks for m in cfg.models for s in cfg.seeds]

    def unit_key(self, record: dict[str, Any]) -> str:
        return str(record.get("unit") or record["run_id"])  # records from before the runner: one per run

    def run_unit(self, cfg: LantmTablesConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        """Train (or resume, or reuse) the cell's run, then evaluate it at its scales."""
        from memlab.core.config import deep_merge
        from memlab.evaluation.evaluate import evaluate_run
        from memlab.training.run import train_run

        model, task, seed = unit.params["model"], unit.params["task"], unit.params["seed"]
        name = f"{model}-{task}-s{seed}"
        run_dir = ctx.store / name
        summary_path = run_dir / "summary.json"
        done = summary_path.exists() and json.loads(summary_path.read_text()).get("status") == "done"
        t0 = time.perf_counter()
        if not done or cfg.continue_done:
            over = deep_merge({"train": {"max_epochs": cfg.max_epochs, "max_time_s": cfg.max_time}},
                              {k: v for k, v in (("model", cfg.model), ("task", cfg.task), ("train", cfg.train)) if v})
            resume = (run_dir / "config.json").exists()
            if ctx.progress:
                print(f"== {name}: {'resuming' if resume else 'training'} (max {cfg.max_time:.0f} s, "
                      f"{cfg.max_epochs} epochs)", flush=True)
            train_run(model, task, over, seed=seed, out=ctx.store, name=name, resume=resume, progress=ctx.progress,
                      device=ctx.device)
        train_s = time.perf_counter() - t0
        summary = json.loads(summary_path.read_text())
        config = json.loads((run_dir / "config.json").read_text())
        t1 = time.perf_counter()
        recs = evaluate_run(run_dir, eval_scales(model, task), batches=cfg.eval_batches, device=ctx.device,
                            progress=ctx.progress)
        for r in recs:
            r.update(run_id=name, model=model, epochs=summary.get("epochs"),
                     train_elapsed_s=summary.get("elapsed_s"), session_train_s=round(train_s, 1),
                     eval_s=round(time.perf_counter() - t1, 1), stop_reason=summary.get("stop_reason"),
                     sequences_seen=summary.get("sequences_seen"), model_cfg=config.get("model_cfg"),
                     task_cfg=config.get("task_cfg"), train=config.get("train"))
        return recs

    def summarise(self, cfg: LantmTablesConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        path = atomic_write_text(out_dir / "tables.md", render_tables(records))
        cells = seed_records(records)
        head = {f"{m}/{t}/{s}x_coarse_median": statistics.median([r["coarse"] for r in rs])
                for (m, t, s), rs in sorted(cells.items()) if s in (1, 2)}
        return {"tables": str(path), "cells": len({(m, t) for m, t, _ in cells}),
                **{k: v for k, v in head.items() if not math.isnan(v)}}


EXPERIMENT = LantmTables()
