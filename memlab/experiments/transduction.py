"""Grefenstette et al. 2015's transduction result: stack-augmented LSTM vs LSTM on reversal, the
queue on copy (and the deque on both), scored inside and beyond the training lengths.

Each unit trains one ``model:task`` cell (lengths ``train_min``–``train_max``, 8–64 as in the
paper, vocabulary 128) for at most ``max_time`` wall seconds, then scores its final checkpoint on
the training range and the longer range (65–128 by default; fine = symbols right, coarse =
sequences right) and at exact lengths every ``curve_stride`` up to the longest test length
(``accuracy_vs_length.png``). The claim to check: on reversal the stack reaches near 100% coarse
beyond the training lengths where the LSTM does not; the queue likewise on copy.

    memlab run transduction --quick
    memlab run transduction --set seeds=0 max_time=300 size=64
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from memlab.core.errors import ConfigError, check_range
from memlab.experiments.automata_suite import length_allowed, run_name, size_overrides, train_and_evaluate
from memlab.experiments._records import NUMBER
from memlab.experiments.base import Experiment, RunContext, Unit

CELLS = ("lstm:reverse", "stack:reverse", "deque:reverse", "lstm:copy", "queue:copy", "deque:copy")


@dataclass
class TransductionConfig:
    """cells: ``model:task`` pairs; the paper's lengths (train 8–64, test 65–128, vocabulary 128)."""

    cells: tuple[str, ...] = CELLS
    seeds: tuple[int, ...] = (0, 1, 2)
    size: int = 256
    vocab: int = 128
    train_min: int = 8
    train_max: int = 64
    test_min: int = 65
    test_max: int = 128
    max_time: float = 900.0
    max_epochs: int = 100_000
    batch_size: int = 32
    lr: float = 1e-3
    eval_batches: int = 10
    eval_batch_size: int = 32
    curve_stride: int = 8  # exact lengths train_min, +stride, … up to test_max for the figure; 0 = none
    checkpoint: Literal["last", "best"] = "last"
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        from memlab.models import MODELS
        from memlab.tasks import get_task_class

        if not self.cells or not self.seeds:
            raise ConfigError("cells and seeds must each name at least one")
        for c in self.cells:
            m, _, t = c.partition(":")
            if not t or m not in MODELS:
                raise ConfigError(f"cells: {c!r} is not MODEL:TASK with a known model; e.g. stack:reverse")
            get_task_class(t)
        for s in self.seeds:
            check_range("seeds", s, 0, 2**63 - 1)
        for k, lo in (("size", 1), ("vocab", 2), ("train_min", 1), ("max_epochs", 1), ("batch_size", 1),
                      ("eval_batches", 1), ("eval_batch_size", 1), ("curve_stride", 0)):
            check_range(k, getattr(self, k), lo, 1_000_000_000)
        check_range("train_max", self.train_max, self.train_min, 100_000)
        check_range("test_min", self.test_min, 1, 100_000)
        check_range("test_max", self.test_max, self.test_min, 100_000)
        check_range("max_time", self.max_time, 0, lo_open=True)
        check_range("lr", self.lr, 0, lo_open=True)


def render_summary(records: list[dict[str, Any]]) -> str:
    """SUMMARY.md: per (model, task) and range, the best and the median seed."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in records:
        if isinstance(r.get("length"), str):  # the two ranges; exact lengths feed the figure
            groups.setdefault((r["task"], r["model"], r["length"]), []).append(r)
    lines = [f"# Transduction (Grefenstette et al. 2015), {len(records)} records", "",
             "Rendered by `memlab table transduction` from `records.jsonl`. Per cell and length range: fine "
             "(symbols right) and coarse (sequences right) accuracy in %, best seed and median over seeds; "
             "train wall = median training seconds of the cell's runs.", "",
             "| task | model | lengths | seeds | fine best | coarse best | fine median | coarse median | train wall (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (t, m, L), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], int(kv[0][2].split("-")[0]))):
        best = max(rs, key=lambda r: (r["coarse"], r["fine"]))
        lines.append(f"| {t} | {m} | {L} | {len(rs)} | {100 * best['fine']:.1f} | {100 * best['coarse']:.1f} | "
                     f"{100 * statistics.median(r['fine'] for r in rs):.1f} | "
                     f"{100 * statistics.median(r['coarse'] for r in rs):.1f} | "
                     f"{statistics.median(r.get('train_elapsed_s') or 0 for r in rs):.0f} |")
    return "\n".join(lines) + "\n"


class Transduction(Experiment):
    name = "transduction"
    title = "Grefenstette et al. 2015: stack/queue/deque-LSTM vs LSTM on reversal and copy beyond training lengths"
    config_cls = TransductionConfig
    default_out = "results/transduction"
    default_store = "runs/transduction"
    hash_exclude = ("cells", "seeds", "max_time", "max_epochs")
    record_fields = {"task": str, "model": str, "length": (str, int), "fine": NUMBER, "coarse": NUMBER}

    def quick_overrides(self) -> dict[str, Any]:
        return {"cells": ("lstm:reverse", "stack:reverse"), "seeds": (0,), "size": 8, "vocab": 4, "train_min": 2,
                "train_max": 4, "test_min": 5, "test_max": 8, "max_epochs": 2, "max_time": 30.0, "batch_size": 4,
                "eval_batches": 1, "eval_batch_size": 4, "curve_stride": 3,
                "train": {"batches_per_epoch": 2, "eval_every": 1, "eval_batches": 1}}

    def units(self, cfg: TransductionConfig) -> list[Unit]:
        return [Unit(f"{c.replace(':', '-')}-s{s}", {"model": c.split(":")[0], "task": c.split(":")[1], "seed": s})
                for c in cfg.cells for s in cfg.seeds]

    def overrides(self, cfg: TransductionConfig, model: str, task: str) -> dict[str, Any]:
        from memlab.core.config import deep_merge
        from memlab.tasks import get_task_class

        train = {"optimizer": "adam", "lr": cfg.lr, "batch_size": cfg.batch_size, "max_time_s": cfg.max_time,
                 "max_epochs": cfg.max_epochs, "plateau_halving": False, "lr_decay": 1.0, "clip_norm": 1.0,
                 "clip_value": 0.0, "lr_halve_after": 0}
        task_cfg = {"train_min": cfg.train_min, "train_max": cfg.train_max, "test_min": cfg.test_min,
                    "test_max": cfg.test_max}
        if any(f == "vocab" for f in get_task_class(task).Config.__dataclass_fields__):
            task_cfg["vocab"] = cfg.vocab
        return {"model": deep_merge(size_overrides(model, cfg.size), cfg.model), "task": task_cfg,
                "train": deep_merge(train, cfg.train)}

    def run_unit(self, cfg: TransductionConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        from memlab.tasks import make_task

        p = unit.params
        over = self.overrides(cfg, p["model"], p["task"])
        task = make_task(p["task"], over["task"])
        lengths: list[int | str] = [f"{cfg.train_min}-{cfg.train_max}", f"{cfg.test_min}-{cfg.test_max}"]
        if cfg.curve_stride:
            lengths += [k for k in range(cfg.train_min, cfg.test_max + 1, cfg.curve_stride) if length_allowed(task, k)]
        return train_and_evaluate(p["model"], p["task"], p["seed"], name=run_name(unit.key, over), ctx=ctx,
                                  overrides=over, lengths=lengths, batches=cfg.eval_batches,
                                  batch_size=cfg.eval_batch_size, checkpoint=cfg.checkpoint)

    def summarise(self, cfg: TransductionConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        path = atomic_write_text(out_dir / "SUMMARY.md", render_summary(records))
        ood = {}
        for r in records:
            if r.get("length") == f"{cfg.test_min}-{cfg.test_max}":
                k = f"{r['model']}/{r['task']}"
                ood[k] = max(ood.get(k, 0.0), r["coarse"])
        return {"summary": str(path), "ood_coarse_best": ood}

    def plot(self, cfg: TransductionConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.automata import plot_accuracy_vs_length

        return [plot_accuracy_vs_length(records, out_dir / "accuracy_vs_length.png", train_max=cfg.train_max,
                                        metric="coarse")]


EXPERIMENT = Transduction()
