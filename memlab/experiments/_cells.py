"""Training cells shared by the experiments that train model × task × seed grids (automata-suite,
leaderboard): train a run folder in the store, or resume it, or reuse it when it is finished.

A cell is one run folder ``<store>/<name>``. ``train_or_resume`` trains it unless its summary
says it finished (``done`` or ``diverged``); a folder left by a killed process resumes from its
last checkpoint. With ``total_budget_s`` the wall-time budget is the cell's, over every session
(the trainer's ``max_time_s`` counts one session only), and the CPU seconds of every session are
kept in ``<run>/cell_cpu.json`` (written each epoch, so a killed session loses at most one epoch's).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from memlab.experiments.base import RunContext

#: summary statuses after which a cell is not trained again
FINISHED = ("done", "diverged")
CPU_FILE = "cell_cpu.json"


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object at ``path`` ({} when missing or unreadable: a file torn by a kill)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def last_metrics(run_dir: Path) -> dict[str, Any]:
    """The last complete line of ``metrics.jsonl`` ({} before the first epoch)."""
    from memlab.experiments.runner import read_records

    recs = read_records(run_dir / "metrics.jsonl")
    return recs[-1] if recs else {}


def train_or_resume(model: str, task: str, seed: int, *, name: str, ctx: RunContext, overrides: dict[str, Any],
                    total_budget_s: float | None = None, finished: tuple[str, ...] = FINISHED) -> dict[str, Any]:
    """Train (or resume, or reuse when finished) run ``name`` in ``ctx.store``; its summary.

    ``total_budget_s``: wall seconds of training for the cell over all its sessions; a resumed
    cell trains only for what is left (none left: the summary of its last checkpoint, with
    ``stop_reason = "max_time"``). None: ``overrides["train"]["max_time_s"]`` per session.
    ``finished``: the summary statuses that mean the cell is not trained again.
    """
    from memlab.core.config import deep_merge
    from memlab.core.io import atomic_write_json
    from memlab.training.run import train_run

    run_dir = ctx.store / name
    summary = read_json(run_dir / "summary.json")
    if summary.get("status") in finished:
        return summary
    if run_dir.exists() and not (run_dir / "config.json").exists():
        shutil.rmtree(run_dir)  # killed before its first save: nothing to resume, and a fresh run needs the name
    resume = (run_dir / "config.json").exists()
    callbacks = []
    if total_budget_s is not None:
        spent = float(last_metrics(run_dir).get("elapsed_s", 0.0)) if resume else 0.0
        left = total_budget_s - spent
        if left <= 0:  # the budget ran out in a session that was killed before it wrote its summary
            return {**summary, "status": "done", "stop_reason": "max_time", "elapsed_s": spent,
                    "epochs": int(last_metrics(run_dir).get("epoch", summary.get("epochs", 0)))}
        overrides = deep_merge(overrides, {"train": {"max_time_s": left}})
        cpu_path, cpu0 = run_dir / CPU_FILE, float(read_json(run_dir / CPU_FILE).get("cpu_s", 0.0)) if resume else 0.0
        c0 = time.process_time()

        def count_cpu(rec: dict[str, Any]) -> None:  # after every epoch: CPU seconds of all sessions so far
            atomic_write_json(cpu_path, {"cpu_s": round(cpu0 + time.process_time() - c0, 3), "epoch": rec["epoch"]})

        callbacks.append(count_cpu)
    return train_run(model, task, overrides, seed=seed, out=ctx.store, name=name, resume=resume,
                     progress=ctx.progress, device=ctx.device, callbacks=callbacks or None)
