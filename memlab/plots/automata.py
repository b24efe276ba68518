"""Figures of the automaton-class and transduction experiments, drawn from records only."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any


def plot_accuracy_vs_length(records: list[dict[str, Any]], path: Path, *, train_max: int,
                            metric: str = "fine") -> Path:
    """One panel per task (grouped by automaton class), accuracy vs evaluated length, one line per
    model (the median over seeds at each length); a dashed line marks the longest training length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = {"regular": 0, "dcf": 1, "cs": 2, "transduction": 3}
    tasks = sorted({r["task"] for r in records}, key=lambda t: (order.get(next(
        (r.get("automaton", "") for r in records if r["task"] == t), ""), 9), t))
    models = sorted({r["model"] for r in records})
    cols = min(4, max(1, len(tasks)))
    rows = math.ceil(len(tasks) / cols) if tasks else 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False, sharey=True)
    colors = {m: f"C{i % 10}" for i, m in enumerate(models)}  # one colour per model in every panel
    for ax, task in zip(axes.flat, tasks):
        for m in models:
            by_len: dict[int, list[float]] = {}
            for r in records:
                if r["task"] == task and r["model"] == m and isinstance(r.get("length"), int):
                    by_len.setdefault(r["length"], []).append(r[metric])
            if by_len:
                xs = sorted(by_len)
                ax.plot(xs, [statistics.median(by_len[x]) for x in xs], color=colors[m], lw=1.2)
        ax.axvline(train_max, color="gray", ls="--", lw=0.8)
        cls = next((r.get("automaton", "") for r in records if r["task"] == task), "")
        ax.set_title(f"{task} ({cls})" if cls else task, fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("length", fontsize=8)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes[0][0].set_ylabel(f"accuracy ({metric})")
    if models and tasks:
        from matplotlib.lines import Line2D

        axes[0][0].legend([Line2D([], [], color=colors[m]) for m in models], models, fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
