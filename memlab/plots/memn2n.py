"""Figures of the memn2n-babi experiment, from records only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Records = list[dict[str, Any]]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_babi_accuracy(records: Records, path: Path) -> Path:
    """Grouped bars: test accuracy per question family (x) and model (bars), median over seeds with
    min–max error bars (records of the largest training-set size)."""
    plt = _plt()
    import statistics

    runs = [r for r in records if r.get("kind") == "run"]
    if runs:
        n_max = max(r["n_train"] for r in runs)
        runs = [r for r in runs if r["n_train"] == n_max]
    qas = list(dict.fromkeys(r["qa"] for r in runs))
    models = list(dict.fromkeys(r["model"] for r in runs))
    fig, ax = plt.subplots(figsize=(max(6.4, 1.1 * len(qas) + 2), 4.2))
    width = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        acc, lo, hi = [], [], []
        for qa in qas:
            rs = [r["accuracy"] for r in runs if r["qa"] == qa and r["model"] == m]
            med = statistics.median(rs) if rs else 0.0
            acc.append(med)
            lo.append(med - min(rs, default=0.0))
            hi.append(max(rs, default=0.0) - med)
        ax.bar([q + (i - (len(models) - 1) / 2) * width for q in range(len(qas))], acc, width, label=m,
               yerr=[lo, hi], capsize=2, error_kw={"elinewidth": 0.8})
    ax.set_xticks(range(len(qas)))
    ax.set_xticklabels([q.replace("-", "\n", 1) for q in qas], fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("test accuracy")
    n = sorted({r["n_train"] for r in runs})
    ax.set_title(f"generated bAbI-style tasks, {', '.join(map(str, n))} training stories "
                 "(median over seeds, bars min–max)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_hop_attention(record: dict[str, Any], path: Path) -> Path:
    """Heat map of one story: sentence (rows, in story order) × hop (columns), p_i of each hop
    and, when the model has empty memory slots, a last row with their total weight 1 − Σ_i p_i."""
    plt = _plt()
    st = record["hop_story"]
    import numpy as np

    w = np.array(st["weights"]).T  # (sentences, hops)
    labels = list(st["sentences"])
    rest = 1 - w.sum(0)  # (hops,) weight on empty memory slots
    if (rest > 1e-3).any():
        w, labels = np.vstack([w, rest.clip(0, 1)]), labels + ["(empty memory slots)"]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(labels) + 1.8))
    im = ax.imshow(w, cmap="Blues", vmin=0, vmax=max(1e-9, float(w.max())), aspect="auto")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xticks(range(w.shape[1]))
    ax.set_xticklabels([f"hop {k + 1}" for k in range(w.shape[1])], fontsize=8)
    ax.set_title(f"{record['model']} on {record['qa']}\n{st['question']}  answer: {st['answer']}  "
                 f"predicted: {st['predicted']}", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
