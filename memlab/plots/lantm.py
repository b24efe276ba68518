"""LANTM figures (seed 004 Fig. 7/8, appendix B), drawn from a trace record.

A trace record (built by ``memlab.commands.lantm.trace_record`` from a checkpoint, saved as
JSON next to the PNG) holds, for one example:

    writes:    [[x, y], ...]   write-head-0 addresses of the input phase (first two key coordinates)
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

    fig = plt.figure(figsize=(11, 11))
    gs = fig.add_gridspec(3, 3, height_ratios=[5, 2, 1.1], hspace=0.4, wspace=0.3)

    def keyspace(ax, lo: int, hi: int, label_every: int) -> None:
        """Writes, and reads lo..hi-1 (numbered), zoomed onto those reads when it is a part."""
        ax.scatter(writes[:, 0], writes[:, 1], s=60, facecolors=plt.cm.Reds(np.clip(strengths, 0, 1)),
                   edgecolors="red", linewidths=1.0, label="write (fill: strength)", zorder=2)
        part = reads[lo:hi]
        if len(part):
            ax.plot(part[:, 0], part[:, 1], "-", color="tab:blue", lw=0.8, zorder=3)
            ax.scatter(part[:, 0], part[:, 1], s=14, color="tab:blue", label="read (answer phase)", zorder=4)
            for i in range(0, len(part), label_every):
                ax.annotate(str(lo + i), part[i], fontsize=7, color="navy", xytext=(3, 3), textcoords="offset points")
        if (lo, hi) != (0, len(reads)) and len(part):
            c, r = part.mean(0), max(np.ptp(part, 0).max() / 2, 1.0) * 1.3
            ax.set_xlim(c[0] - r, c[0] + r)
            ax.set_ylim(c[1] - r, c[1] + r)
        ax.set_aspect("equal", adjustable="box" if (lo, hi) != (0, len(reads)) else "datalim")
        ax.set_xlabel("key x")

    ax = fig.add_subplot(gs[0, 0])
    keyspace(ax, 0, len(reads), max(1, len(reads) // 20))
    ax.set_ylabel("key y")
    ax.legend(loc="best", fontsize=7)
    ax.set_title(title or "(a) read and write locations", fontsize=10, loc="left")
    k = min(10, len(reads))
    keyspace(fig.add_subplot(gs[0, 1]), 0, k, 1)
    fig.axes[-1].set_title(f"beginning (reads 0–{k - 1})", fontsize=9)
    keyspace(fig.add_subplot(gs[0, 2]), len(reads) - k, len(reads), 1)
    fig.axes[-1].set_title(f"end (reads {len(reads) - k}–{len(reads) - 1})", fontsize=9)

    axg = fig.add_subplot(gs[1, :])
    palette = {"write key": "tab:red", "write step": "tab:orange", "read key": "tab:green", "read step": "tab:blue"}
    for name, vals in rec["gates"].items():
        axg.plot(np.arange(len(vals)), vals, label=name, color=palette.get(name), lw=1.2)
    axg.axvline(rec["eoi"], ls="--", color="gray", lw=0.8)
    axg.set_ylim(-0.05, 1.05)
    axg.set_xlabel("time step")
    axg.set_ylabel("gate value")
    axg.legend(loc="center right", fontsize=7, ncol=2)
    axg.set_title("(b) gate values (dashed: first </s>)", fontsize=10)

    axs = fig.add_subplot(gs[2, :])
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
