"""Figures of the recurrent-family experiments (fast weights, Associative LSTM), from records only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Records = list[dict[str, Any]]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_retrieval_curves(records: Records, path: Path) -> Path:
    """fast-weights-retrieval: test retrieval accuracy against training steps, one line per
    (model, seed) run, chance level dashed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours: dict[str, Any] = {}
    for r in sorted((r for r in records if r.get("kind") == "run"), key=lambda r: (r["model"], r["seed"])):
        steps, acc = zip(*r["curve"]) if r.get("curve") else ((), ())
        line = ax.plot(steps, acc, color=colours.get(r["model"]), label=None if r["model"] in colours else
                       f"{r['model']} (H={r['hidden']}, {r['n_params']} params)")
        colours.setdefault(r["model"], line[0].get_color())
    ax.axhline(0.1, ls="--", color="grey", lw=0.8, label="chance (10 digits)")
    ax.set_xlabel("training steps")
    ax.set_ylabel("test retrieval accuracy")
    ax.set_ylim(0, 1.02)
    pairs = next((r["pairs"] for r in records if "pairs" in r), "?")
    ax.set_title(f"associative retrieval, {pairs} key-value pairs (Ba et al. 2016)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_noise_vs_copies(records: Records, path: Path) -> Path:
    """associative-lstm-noise: retrieval noise variance against the number of copies S, one
    line per number of stored items Q, with the law (Q − 1)/S · (1 + (S − 1)/N) of each record dashed."""
    plt = _plt()
    pts = [r for r in records if r.get("kind") == "noise"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for Q in sorted({r["items"] for r in pts}):
        rs = sorted((r for r in pts if r["items"] == Q), key=lambda r: r["copies"])
        S = [r["copies"] for r in rs]
        line = ax.plot(S, [r["noise_var"] for r in rs], "o-", label=f"Q = {Q} items")
        ax.plot(S, [r["theory"] for r in rs], "--", color=line[0].get_color(), lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("copies S")
    ax.set_ylabel("retrieval noise variance per element")
    ax.set_title("redundant associative memory: noise falls as O(Q/S) (theory dashed)")
    if pts:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
