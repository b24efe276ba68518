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


def plot_caption_attention(record: dict[str, Any], path: Path) -> Path:
    """Rows: the record's sample canvases; columns: the canvas, then α of each generated word,
    upsampled from the CNN grid to the canvas and laid over it."""
    plt = _plt()
    import numpy as np

    samples = record["samples"]
    cols = 1 + max(len(s["alpha"]) for s in samples)
    fig, axes = plt.subplots(len(samples), cols, figsize=(2.2 * cols, 1.2 * len(samples) + 0.6), squeeze=False)
    for row, s in zip(axes, samples):
        img = np.array(s["image"])
        gh, gw = s["grid"]
        row[0].imshow(img, cmap="gray_r")
        row[0].set_title(f"{s['caption']} -> {s['predicted']}", fontsize=6)
        words = s["predicted"].split()
        for k, ax in enumerate(row[1:]):
            ax.imshow(img, cmap="gray_r")
            if k < len(s["alpha"]):
                a = np.array(s["alpha"][k]).reshape(gh, gw)
                up = np.kron(a, np.ones((img.shape[0] // gh, img.shape[1] // gw)))
                ax.imshow(up, cmap="Reds", alpha=0.6, extent=(-0.5, up.shape[1] - 0.5, up.shape[0] - 0.5, -0.5))
                ax.set_title(words[k] if k < len(words) else "", fontsize=7)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
