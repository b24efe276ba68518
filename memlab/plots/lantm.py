"""LANTM figures (seed 004 Fig. 7/8, appendix B), drawn from a trace record.

A trace record (built by ``memlab.commands.lantm.trace_record`` from a checkpoint, saved as
JSON next to the PNG) holds, for one example:

    writes:    [[x, y], ...]   write-head-0 addresses, one per step (first two key coordinates)
    strengths: [s, ...]        their memory strengths
    reads:     [[x, y], ...]   read-head-0 keys emitted for the answer symbols, in order
    gates:     {"write key": [...], "write step": [...], "read key": [...], "read step": [...]}
    eoi:       time step of the first </s>
    answer, prediction: token ids over the response phase (answer symbols and <e>)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def key_space_figure(rec: dict[str, Any], out: str | Path, title: str | None = None) -> Path:
    """Write a Fig. 7-style PNG: (a) key space, (b) gate values over time, (c) answer/prediction/difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colors

    writes = np.asarray(rec["writes"], dtype=float).reshape(-1, 2)
    strengths = np.asarray(rec["strengths"], dtype=float)
    reads = np.asarray(rec["reads"], dtype=float).reshape(-1, 2)
    answer = np.asarray(rec["answer"], dtype=int)
    pred = np.asarray(rec["prediction"], dtype=int)

    fig = plt.figure(figsize=(9, 10))
    gs = fig.add_gridspec(3, 1, height_ratios=[5, 2, 1.1], hspace=0.35)
    ax = fig.add_subplot(gs[0])
    ax.scatter(writes[:, 0], writes[:, 1], s=60, facecolors=plt.cm.Reds(np.clip(strengths, 0, 1)),
               edgecolors="red", linewidths=1.0, label="write (fill: strength)", zorder=2)
    if len(reads):
        ax.plot(reads[:, 0], reads[:, 1], "-", color="tab:blue", lw=0.8, zorder=3)
        ax.scatter(reads[:, 0], reads[:, 1], s=14, color="tab:blue", label="read (answer phase)", zorder=4)
        every = max(1, len(reads) // 40)
        for i in range(0, len(reads), every):
            ax.annotate(str(i), reads[i], fontsize=7, color="navy", xytext=(3, 3), textcoords="offset points")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("key x")
    ax.set_ylabel("key y")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title or "(a) read and write locations")

    axg = fig.add_subplot(gs[1])
    palette = {"write key": "tab:red", "write step": "tab:orange", "read key": "tab:green", "read step": "tab:blue"}
    for name, vals in rec["gates"].items():
        axg.plot(np.arange(len(vals)), vals, label=name, color=palette.get(name), lw=1.2)
    axg.axvline(rec["eoi"], ls="--", color="gray", lw=0.8)
    axg.set_ylim(-0.05, 1.05)
    axg.set_xlabel("time step")
    axg.set_ylabel("gate value")
    axg.legend(loc="center right", fontsize=7, ncol=2)
    axg.set_title("(b) gate values (dashed: first </s>)", fontsize=10)

    axs = fig.add_subplot(gs[2])
    n_tok = int(max(answer.max(initial=0), pred.max(initial=0))) + 1
    strip = np.stack([answer, pred]).astype(float) / max(n_tok - 1, 1)
    rgb = plt.cm.gist_ncar(strip)[..., :3]
    diff = np.where(answer == pred, 0, 1)
    diff_rgb = np.array([colors.to_rgb("tab:blue"), colors.to_rgb("tab:red")])[diff][None]
    axs.imshow(np.concatenate([rgb, diff_rgb], 0), aspect="auto", interpolation="nearest")
    axs.set_yticks([0, 1, 2], ["answer", "prediction", "difference"], fontsize=8)
    axs.set_xlabel("response position")
    wrong = int(diff.sum())
    axs.set_title(f"(c) answer / prediction / difference: {wrong} of {len(answer)} symbols wrong", fontsize=10)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out
