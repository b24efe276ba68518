"""Tasks by automaton class (issue 15; seed 001 §2.5, Fig. 2.7): models × tasks × seeds.

Each unit trains one (model, task, seed) cell on lengths 1–``train_max`` for at most
``max_time`` seconds of wall time (or ``max_epochs``; a cell also stops once its test range
41–100 is solved), then scores its final checkpoint at every length 1, 1 + stride, … up to
``eval_max`` with ``memlab.evaluation.evaluate(lengths=…)``: one record per length.

The expected shape: every model solves the regular tasks; memories with a stack (stack, deque,
Stack-RNN) solve the deterministic context-free ones the LSTM fails; only tape/random-access
memories (NTM, LANTM, deque) get far on the context-sensitive ones.

    memlab run automata-suite --quick                        # seconds: 2 models, 2 tasks, tiny
    memlab run automata-suite --set models=lstm,stack seeds=0 max_time=120
    memlab table automata-suite / memlab plot automata-suite # SUMMARY.md, accuracy_vs_length.png

SUMMARY.md: per model and class, the mean over the class's tasks of the best seed's mean
accuracy (fine: per symbol; coarse: per sequence) over the lengths beyond training; then the
same per task, with the in-distribution score and the median wall time of the cells.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from memlab.core.errors import ConfigError, check_range
from memlab.experiments.base import Experiment, RunContext, Unit

SUITE_TASKS = ("parity", "even-pairs", "cycle-navigation", "modular-arithmetic",
               "reverse-string", "stack-manipulation", "modular-arithmetic-brackets", "dyck",
               "duplicate-string", "missing-duplicate", "odd-first", "binary-addition", "binary-multiplication",
               "bucket-sort")
SUITE_MODELS = ("lstm", "stack", "queue", "deque", "stack-rnn", "ntm", "lantm-invnorm")
CLASS_ORDER = ("regular", "dcf", "cs", "transduction")


@dataclass
class AutomataSuiteConfig:
    """models × tasks × seeds; per cell a wall-time budget; evaluation at lengths 1..eval_max."""

    models: tuple[str, ...] = SUITE_MODELS
    tasks: tuple[str, ...] = SUITE_TASKS
    seeds: tuple[int, ...] = (0, 1, 2)
    size: int = 256  # controller / LSTM hidden size of every model
    train_max: int = 40  # train on lengths 1..train_max
    max_time: float = 600.0  # wall seconds of training per cell
    max_epochs: int = 100_000
    batch_size: int = 32
    lr: float = 1e-3  # Adam, the same for every model
    eval_max: int = 500
    eval_stride: int = 1  # evaluate lengths 1, 1 + stride, …, and eval_max
    eval_batches: int = 1
    eval_batch_size: int = 32
    checkpoint: Literal["last", "best"] = "last"
    model: dict[str, Any] = field(default_factory=dict)  # extra model.* settings for every model
    # model settings applied only when the trained checkpoint is loaded for scoring (e.g. the Stack-RNN's
    # eval_actions=hard): training and its run folder are those of the same cell without them
    eval_model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)  # extra train.* settings

    def validate(self) -> None:
        from memlab.models import MODELS
        from memlab.tasks import get_task_class

        if not self.models or not self.tasks or not self.seeds:
            raise ConfigError("models, tasks and seeds must each name at least one")
        for m in self.models:
            if m not in MODELS:
                raise ConfigError(f"models: unknown model {m!r}; choose from {', '.join(MODELS)}")
        for t in self.tasks:
            get_task_class(t)
        for s in self.seeds:
            check_range("seeds", s, 0, 2**63 - 1)
        check_range("size", self.size, 1, 65_536)
        check_range("train_max", self.train_max, 1, 100_000)
        check_range("max_time", self.max_time, 0, lo_open=True)
        check_range("max_epochs", self.max_epochs, 1, 10**9)
        check_range("batch_size", self.batch_size, 1, 65_536)
        check_range("lr", self.lr, 0, lo_open=True)
        check_range("eval_max", self.eval_max, 1, 100_000)
        check_range("eval_stride", self.eval_stride, 1, 100_000)
        check_range("eval_batches", self.eval_batches, 1, 1_000_000)
        check_range("eval_batch_size", self.eval_batch_size, 1, 65_536)
        self._check_model_settings()

    def _check_model_settings(self) -> None:
        """``model`` and ``eval_model`` as each model resolves them for each task, before any cell
        trains (else an eval_model a model does not take would fail only after its training)."""
        from memlab.core.config import deep_merge
        from memlab.models import model_config

        for m in self.models:
            over = deep_merge(size_overrides(m, self.size), self.model)  # as AutomataSuite.overrides gives them
            for t in self.tasks:
                model_config(m, t, over)
                if self.eval_model:
                    model_config(m, t, deep_merge(over, self.eval_model), prefix="eval_model.")


def length_allowed(task: Any, k: int) -> bool:
    """Whether ``task`` has examples of length k (formal tasks know; others by their length multiple)."""
    allowed = getattr(task, "allowed", None)
    return allowed(k) if allowed is not None else k >= 1 and k % task.length_multiple == 0


def eval_lengths(cfg: Any, task: Any) -> list[int]:
    """The lengths a cell is scored at, those the task allows: every training length 1..train_max
    (so the in-distribution score covers them all, whatever the stride), then 1, 1 + stride, …,
    and eval_max."""
    lengths = {*range(1, min(cfg.train_max, cfg.eval_max) + 1), *range(1, cfg.eval_max + 1, cfg.eval_stride), cfg.eval_max}
    return [k for k in sorted(lengths) if length_allowed(task, k)]


def size_overrides(model: str, size: int) -> dict[str, Any]:
    """``size`` as each model family spells it (composed memories: the controller's size)."""
    from memlab.memory import MEMORIES

    if model == "lstm":
        return {"hidden": size, "layers": 1, "embed": 16}
    if model.startswith("lantm"):
        return {"hidden": size}
    if model in MEMORIES:
        return {"controller_size": size}
    return {}


def train_and_evaluate(model: str, task: str, seed: int, *, name: str, ctx: RunContext, overrides: dict[str, Any],
                       lengths: list[int | str], batches: int, batch_size: int, checkpoint: str,
                       eval_model: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Train (or resume, or reuse when done) run ``name`` in ``ctx.store``, load ``checkpoint``
    (with the model settings ``eval_model`` over the run's own), score it at ``lengths``: one
    record per length with the cell's training cost."""
    from memlab.evaluation import evaluate, load_run
    from memlab.experiments._cells import train_or_resume
    from memlab.tasks import automaton_class

    run_dir = ctx.store / name
    summary_path = run_dir / "summary.json"
    t0 = time.perf_counter()
    train_or_resume(model, task, seed, name=name, ctx=ctx, overrides=overrides, finished=("done",))
    train_s = time.perf_counter() - t0
    summary = json.loads(summary_path.read_text())
    run = load_run(run_dir, checkpoint, device=ctx.device, model_overrides=eval_model)
    t1 = time.perf_counter()
    recs = evaluate(run.model, run.task, lengths=lengths, batches=batches, batch_size=batch_size, seed=seed,
                    device=ctx.device)
    n_params = sum(p.numel() for p in run.model.parameters())
    for r in recs:
        r.update(model=model, seed=seed, automaton=automaton_class(task), run_id=name, epochs=summary.get("epochs"),
                 train_elapsed_s=summary.get("elapsed_s"), session_train_s=round(train_s, 1),
                 stop_reason=summary.get("stop_reason"), sequences_seen=summary.get("sequences_seen"),
                 checkpoint=f"{run.checkpoint_path.name}@{run.epoch}", n_params=n_params,
                 eval_s=round(time.perf_counter() - t1, 1))
        if eval_model:  # as the model resolved them (typed)
            r["eval_model"] = {k: run.config.model_cfg.get(k, v) for k, v in eval_model.items()}
    return recs


def run_name(key: str, overrides: dict[str, Any]) -> str:
    """The cell's run folder: its unit key and a hash of the settings that change what it learns
    (not its time or epoch budget), so another configuration never reuses the run."""
    import hashlib

    tr = {k: v for k, v in overrides.get("train", {}).items() if k not in ("max_time_s", "max_epochs")}
    blob = json.dumps({**overrides, "train": tr}, sort_keys=True, default=str).encode()
    return f"{key}-{hashlib.sha1(blob).hexdigest()[:8]}"


# --------------------------------------------------------------------------- summary


def cell_scores(records: list[dict[str, Any]], train_max: int) -> dict[tuple[str, str, int], dict[str, float]]:
    """(model, task, seed) -> mean fine/coarse over lengths <= train_max (``id_*``) and beyond (``ood_*``);
    ``id_n``: how many lengths <= train_max were scored."""
    cells: dict[tuple[str, str, int], dict[str, list[float]]] = {}
    for r in records:
        c = cells.setdefault((r["model"], r["task"], r["seed"]), {"id_fine": [], "id_coarse": [], "ood_fine": [],
                                                                   "ood_coarse": [], "wall": []})
        part = "id" if r["length"] <= train_max else "ood"
        c[f"{part}_fine"].append(r["fine"])
        c[f"{part}_coarse"].append(r["coarse"])
        c["wall"].append(r.get("train_elapsed_s") or 0.0)
    return {k: {**{m: (statistics.fmean(v) if v else float("nan")) for m, v in c.items()}, "id_n": len(c["id_fine"])}
            for k, c in cells.items()}


def best_over_seeds(scores: dict[tuple[str, str, int], dict[str, float]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(model, task) -> the seed with the best out-of-distribution fine score (ties: coarse), plus
    the seed count, the median training wall time and the median, min and max over seeds of the
    out-of-distribution scores (``ood_fine_median`` …)."""
    groups: dict[tuple[str, str], list[dict[str, float]]] = {}
    for (m, t, _), v in scores.items():
        groups.setdefault((m, t), []).append(v)

    def key(v: dict[str, float]) -> tuple[float, float]:
        ood = v["ood_fine"] if v["ood_fine"] == v["ood_fine"] else v["id_fine"]  # no OOD lengths: rank by ID
        return ood, v["ood_coarse"] if v["ood_coarse"] == v["ood_coarse"] else v["id_coarse"]

    def spread(v: list[dict[str, float]], m: str) -> dict[str, float]:
        xs = [x[m] for x in v if x[m] == x[m]]  # NaN (no lengths of that range scored) left out
        if not xs:
            return {f"{m}_median": float("nan"), f"{m}_min": float("nan"), f"{m}_max": float("nan")}
        return {f"{m}_median": statistics.median(xs), f"{m}_min": min(xs), f"{m}_max": max(xs)}

    return {k: {**max(v, key=key), "seeds": len(v), "wall_median": statistics.median(x["wall"] for x in v),
                **spread(v, "ood_fine"), **spread(v, "ood_coarse")}
            for k, v in groups.items()}


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.1f}"


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _spread(v: dict[str, Any], m: str) -> str:
    """median [min–max] over seeds, in %; the median alone for one seed."""
    if v["seeds"] == 1 or v[f"{m}_median"] != v[f"{m}_median"]:
        return _pct(v[f"{m}_median"])
    return f"{_pct(v[f'{m}_median'])} [{_pct(v[f'{m}_min'])}–{_pct(v[f'{m}_max'])}]"


def _class_table(models: list[str], classes: list[str], task_class: dict[str, str],
                 best: dict[tuple[str, str], dict[str, Any]], stat: str) -> list[str]:
    """Rows of model × class: the mean over a class's tasks of each task's ``ood_fine{stat}`` /
    ``ood_coarse{stat}`` (``stat``: "" the best seed's, "_median" the median seed's, which also
    names the fewest seeds of those tasks)."""
    from memlab.tasks.formal import AUTOMATA

    lines = ["| model | " + " | ".join(AUTOMATA.get(c, c) for c in classes) + " |", "|---|" + "---|" * len(classes)]
    for m in models:
        row = []
        for c in classes:
            vals = [best[(m, t)] for t in task_class if task_class[t] == c and (m, t) in best]
            vals = [v for v in vals if not stat or v[f"ood_fine{stat}"] == v[f"ood_fine{stat}"]]
            seeds = f"; {_seeds(min(v['seeds'] for v in vals))}" if stat and vals else ""
            row.append("–" if not vals else f"{_pct(statistics.fmean(v[f'ood_fine{stat}'] for v in vals))} / "
                                             f"{_pct(statistics.fmean(v[f'ood_coarse{stat}'] for v in vals))} "
                                             f"({len(vals)}{seeds})")
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    return lines


def render_summary(cfg: AutomataSuiteConfig, records: list[dict[str, Any]]) -> str:
    """SUMMARY.md from records only."""
    best = best_over_seeds(cell_scores(records, cfg.train_max))
    # every model with records: the config's (the last invocation's) first, then the suite's order, then
    # any other; a folder filled one model per invocation keeps them all
    have = {k[0] for k in best}
    models = list(dict.fromkeys(m for m in (*cfg.models, *SUITE_MODELS, *sorted(have)) if m in have))
    task_class = {r["task"]: r.get("automaton", "") for r in records}
    classes = [c for c in CLASS_ORDER if c in task_class.values()]
    max_len = max((r["length"] for r in records), default=0)
    lines = [f"# Tasks by automaton class ({len(records)} records)", "",
             "Rendered by `memlab table automata-suite` from `records-<model>.jsonl`. Trained on lengths 1–"
             f"{cfg.train_max}; scored at lengths up to {max_len}. Accuracy (%) = mean over the evaluated lengths "
             f"beyond {cfg.train_max} of the fine score (response symbols right, the end marker `<e>` included, so a "
             "one-symbol answer guessed at chance scores about 75%) / coarse score (sequences right) of the best "
             "seed; a class's score is the mean over its tasks that ran, their number in brackets (models that ran "
             "different tasks of a class are not compared on the same tasks). Train wall: seconds of training per cell "
             "(wall-time budget `max_time`; see the meta file for the machine's load).", "",
             "## By class (fine / coarse, out of distribution)", ""]
    lines += _class_table(models, classes, task_class, best, "")
    lines += ["", "## By class, median seed (fine / coarse, out of distribution)", "",
              "Each task's median over its seeds, then the mean over the class's tasks; the smallest number of "
              "seeds of those tasks follows the task count.", ""]
    lines += _class_table(models, classes, task_class, best, "_median")
    lines += ["", "## By task", "",
              "OOD: the best seed's score, then the median over seeds with the worst and best seed in brackets.", "",
              "| class | task | model | seeds | in-dist fine (lengths scored) | OOD fine | OOD coarse | "
              "OOD fine, median [min–max] | OOD coarse, median [min–max] | train wall (s, median) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for c in classes:
        for t in [t for t in task_class if task_class[t] == c]:
            for m in models:
                if (m, t) in best:
                    v = best[(m, t)]
                    lines.append(f"| {c} | {t} | {m} | {v['seeds']} | {_pct(v['id_fine'])} ({v['id_n']}) | {_pct(v['ood_fine'])} | "
                                 f"{_pct(v['ood_coarse'])} | {_spread(v, 'ood_fine')} | {_spread(v, 'ood_coarse')} | "
                                 f"{v['wall_median']:.0f} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- experiment


class AutomataSuite(Experiment):
    name = "automata-suite"
    title = "LSTM vs stack/queue/deque/Stack-RNN/NTM/LANTM on tasks by automaton class (issue 15)"
    config_cls = AutomataSuiteConfig
    default_out = "results/automata"
    default_store = "runs/automata"
    records_shard = "model"  # records-<model>.jsonl: one model's cells × lengths per file
    hash_exclude = ("models", "tasks", "seeds", "max_time", "max_epochs")
    hash_unless_set = ("eval_model",)  # added in stop 35: the folders made before keep their hash

    def quick_overrides(self) -> dict[str, Any]:
        return {"models": ("lstm", "stack"), "tasks": ("parity", "reverse-string"), "seeds": (0,), "size": 8,
                "train_max": 4, "max_time": 30.0, "max_epochs": 2, "batch_size": 4, "eval_max": 7, "eval_stride": 3,
                "eval_batch_size": 4, "train": {"batches_per_epoch": 2, "eval_every": 1, "eval_batches": 1}}

    def units(self, cfg: AutomataSuiteConfig) -> list[Unit]:
        return [Unit(f"{m}-{t}-s{s}", {"model": m, "task": t, "seed": s})
                for t in cfg.tasks for m in cfg.models for s in cfg.seeds]

    def overrides(self, cfg: AutomataSuiteConfig, model: str) -> dict[str, Any]:
        from memlab.core.config import deep_merge

        train = {"optimizer": "adam", "lr": cfg.lr, "batch_size": cfg.batch_size, "max_time_s": cfg.max_time,
                 "max_epochs": cfg.max_epochs, "plateau_halving": False, "lr_decay": 1.0, "clip_norm": 1.0,
                 "clip_value": 0.0, "lr_halve_after": 0}
        task = {"train_min": 1, "train_max": cfg.train_max, "test_min": cfg.train_max + 1,
                "test_max": max(cfg.train_max + 1, min(cfg.eval_max, 100))}
        return {"model": deep_merge(size_overrides(model, cfg.size), cfg.model), "task": task,
                "train": deep_merge(train, cfg.train)}

    def run_unit(self, cfg: AutomataSuiteConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        from memlab.tasks import make_task

        p = unit.params
        over = self.overrides(cfg, p["model"])
        lengths = eval_lengths(cfg, make_task(p["task"], over["task"]))
        return train_and_evaluate(p["model"], p["task"], p["seed"], name=run_name(unit.key, over), ctx=ctx,
                                  overrides=over, lengths=lengths, batches=cfg.eval_batches,
                                  batch_size=cfg.eval_batch_size, checkpoint=cfg.checkpoint, eval_model=cfg.eval_model)

    def summarise(self, cfg: AutomataSuiteConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        path = atomic_write_text(out_dir / "SUMMARY.md", render_summary(cfg, records))
        best = best_over_seeds(cell_scores(records, cfg.train_max))
        return {"summary": str(path), "cells": len({(r["model"], r["task"], r["seed"]) for r in records}),
                "ood_fine": {f"{m}/{t}": round(v["ood_fine"], 4) for (m, t), v in sorted(best.items())}}

    def plot(self, cfg: AutomataSuiteConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.automata import plot_accuracy_vs_length

        return [plot_accuracy_vs_length(records, out_dir / "accuracy_vs_length.png", train_max=cfg.train_max)]


EXPERIMENT = AutomataSuite()
