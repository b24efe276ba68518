"""Attention maps (answer position × input position), from records only."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_attention_maps(runs: list[dict[str, Any]], path: Path) -> Path:
    """One heat map per record: α_ij of its ``example`` (rows: answer steps i labelled by the
    target symbol, columns: input positions j labelled by the input symbol)."""
    plt = _plt()
    import numpy as np

    n = len(runs)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.6), squeeze=False)
    for ax, r in zip(axes[0], runs):
        ex = r["example"]
        a = np.array(ex["alpha"])  # (L_out, S)
        ax.imshow(a, cmap="Greys", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(a.shape[1]))
        ax.set_xticklabels(ex["input"][: a.shape[1]], fontsize=6, rotation=90)
        ax.set_yticks(range(a.shape[0]))
        ax.set_yticklabels(ex["target"][: a.shape[0]], fontsize=6)
        ok = "right" if ex["predicted"] == ex["target"] else "wrong"
        ax.set_title(f"{r['task']}, {r['attention']} ({ok})", fontsize=8)
        ax.set_xlabel("input position j", fontsize=7)
    axes[0][0].set_ylabel("answer position i", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
