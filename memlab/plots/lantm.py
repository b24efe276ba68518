"""LANTM figures (seed 004 appendix B: Fig. 7/8/10 ``key_space_figure``, Fig. 9 ``bigramflip_figure``,
Fig. 11 ``addition_figure``), drawn from trace records only.

A trace record (built by ``trace_record`` of the LANTM tables experiment from a checkpoint, saved
as JSON next to the PNG) holds, for one example:

    writes:    [[x, y], ...]   write-head-0 addresses of the input phase (<s>, the n input symbols,
                               the first </s>; first two key coordinates), so input symbol j is writes[j+1]
    strengths: [s, ...]        their memory strengths
    reads:     [[x, y], ...]   read-head-0 keys whose values feed the answer symbols, in order
    gates:     {"write key": [...], "write step": [...], "read key": [...], "read step": [...]}
    eoi:       time step of the first </s>
    answer, prediction: token ids over the response phase (answer symbols and <e>)
    task, length: the task name and input length
    inputs:    (optional) the input symbols' token ids, for the problems of Fig. 10/11 e–f
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _arrays(rec: dict[str, Any]):
    writes = np.asarray(rec["writes"], dtype=float).reshape(-1, 2)
    strengths = np.asarray(rec["strengths"], dtype=float)
    reads = np.asarray(rec["reads"], dtype=float).reshape(-1, 2)
    return writes, strengths, reads


def _keyspace(ax, rec: dict[str, Any], lo: int, hi: int, label_every: int, mark: int | None = None) -> None:
    """Writes (red, fill = strength) and reads lo..hi-1 (blue, numbered), zoomed onto those reads
    when they are a part; ``mark``: a read to ring in yellow (Fig. 8/9: the first mistake)."""
    plt = _plt()
    writes, strengths, reads = _arrays(rec)
    ax.scatter(writes[:, 0], writes[:, 1], s=60, facecolors=plt.cm.Reds(np.clip(strengths, 0, 1)),
               edgecolors="red", linewidths=1.0, label="write (fill: strength)", zorder=2)
    part = reads[lo:hi]
    if len(part):
        ax.plot(part[:, 0], part[:, 1], "-", color="tab:blue", lw=0.8, zorder=3)
        ax.scatter(part[:, 0], part[:, 1], s=14, color="tab:blue", label="read (answer phase)", zorder=4)
        for i in range(0, len(part), label_every):
            ax.annotate(str(lo + i), part[i], fontsize=7, color="navy", xytext=(3, 3), textcoords="offset points")
    if mark is not None and lo <= mark < hi:
        ax.scatter(*reads[mark], s=90, facecolors="none", edgecolors="gold", linewidths=2.0, zorder=5,
                   label=f"read {mark}: diverges")
    if (lo, hi) != (0, len(reads)) and len(part):
        c, r = part.mean(0), max(np.ptp(part, 0).max() / 2, 1.0) * 1.3
        ax.set_xlim(c[0] - r, c[0] + r)
        ax.set_ylim(c[1] - r, c[1] + r)
    ax.set_aspect("equal", adjustable="box" if (lo, hi) != (0, len(reads)) else "datalim")
    ax.set_xlabel("key x")


def _gates(ax, rec: dict[str, Any]) -> None:
    palette = {"write key": "tab:red", "write step": "tab:orange", "read key": "tab:green", "read step": "tab:blue"}
    for name, vals in rec["gates"].items():
        ax.plot(np.arange(len(vals)), vals, label=name, color=palette.get(name), lw=1.2)
    ax.axvline(rec["eoi"], ls="--", color="gray", lw=0.8)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("time step")
    ax.set_ylabel("gate value")
    ax.legend(loc="center right", fontsize=7, ncol=2)


def _strip(ax, rec: dict[str, Any]) -> None:
    from matplotlib import colors

    plt = _plt()
    answer = np.asarray(rec["answer"], dtype=int)
    pred = np.asarray(rec["prediction"], dtype=int)
    n_tok = int(max(answer.max(initial=0), pred.max(initial=0))) + 1
    strip = np.stack([answer, pred]).astype(float) / max(n_tok - 1, 1)
    rgb = plt.cm.gist_ncar(strip)[..., :3]
    diff = np.where(answer == pred, 0, 1)
    diff_rgb = np.array([colors.to_rgb("tab:blue"), colors.to_rgb("tab:red")])[diff][None]
    ax.imshow(np.concatenate([rgb, diff_rgb], 0), aspect="auto", interpolation="nearest")
    ax.set_yticks([0, 1, 2], ["answer", "prediction", "difference"], fontsize=8)
    ax.set_xlabel("response position")
    ax.set_title(f"answer / prediction / difference: {int(diff.sum())} of {len(answer)} symbols wrong", fontsize=9)


def _save(fig, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return out


def target_write(task: str, i: int, n: int) -> int | None:
    """Index into ``writes`` of the slot answer symbol i should read (input symbol j is writes[j+1]):
    copy i, reverse n−1−i, bigramFlip i with its pair partner (i xor 1); None for other tasks."""
    j = {"copy": i, "reverse": n - 1 - i, "bigramflip": i ^ 1}.get(task.lower())
    return None if j is None or not 0 <= j < n else j + 1


def divergence_index(rec: dict[str, Any]) -> int | None:
    """First answer position whose read key is farther from its target write (``target_write``)
    than half the median spacing of the input writes; None if the reads never diverge (or the
    task has no one-slot target)."""
    writes, _, reads = _arrays(rec)
    n = len(writes) - 2  # <s> and the first </s> around the n inputs
    if n < 2 or len(reads) == 0:
        return None
    spacing = float(np.median(np.linalg.norm(np.diff(writes[1 : n + 1], axis=0), axis=1)))
    for i, r in enumerate(reads[:n]):
        j = target_write(rec.get("task", ""), i, n)
        if j is None:
            return None
        if np.linalg.norm(r - writes[j]) > spacing / 2:
            return i
    return None


def key_space_figure(rec: dict[str, Any], out: str | Path, title: str | None = None) -> Path:
    """Write a Fig. 7-style PNG: (a) key space (overview, beginning, end), (b) gate values over
    time, (c) answer/prediction/difference."""
    plt = _plt()
    reads = _arrays(rec)[2]
    fig = plt.figure(figsize=(11, 11))
    gs = fig.add_gridspec(3, 3, height_ratios=[5, 2, 1.1], hspace=0.4, wspace=0.3)
    ax = fig.add_subplot(gs[0, 0])
    _keyspace(ax, rec, 0, len(reads), max(1, len(reads) // 20))
    ax.set_ylabel("key y")
    ax.legend(loc="best", fontsize=7)
    ax.set_title(title or "(a) read and write locations", fontsize=10, loc="left")
    k = min(10, len(reads))
    _keyspace(fig.add_subplot(gs[0, 1]), rec, 0, k, 1)
    fig.axes[-1].set_title(f"beginning (reads 0–{k - 1})", fontsize=9)
    _keyspace(fig.add_subplot(gs[0, 2]), rec, len(reads) - k, len(reads), 1)
    fig.axes[-1].set_title(f"end (reads {len(reads) - k}–{len(reads) - 1})", fontsize=9)
    axg = fig.add_subplot(gs[1, :])
    _gates(axg, rec)
    axg.set_title("(b) gate values (dashed: first </s>)", fontsize=10)
    axs = fig.add_subplot(gs[2, :])
    _strip(axs, rec)
    axs.set_title("(c) " + axs.get_title(), fontsize=10)
    return _save(fig, out)


def bigramflip_figure(recs: Sequence[dict[str, Any]], out: str | Path, title: str | None = None) -> Path:
    """Fig. 9 (bigramFlip, e.g. lengths 128 and 256 side by side): per record a column with (a) the
    key space overview, its beginning, its end and the keys around where the reads start to
    diverge from the writes (ringed; ``divergence_index``), (b) gate values, (c) answer/prediction."""
    plt = _plt()
    fig = plt.figure(figsize=(6.5 * len(recs), 17))
    gs = fig.add_gridspec(6, len(recs), height_ratios=[4, 3, 3, 3, 2, 1.1], hspace=0.45, wspace=0.25)
    for c, rec in enumerate(recs):
        reads = _arrays(rec)[2]
        d = divergence_index(rec)
        ax = fig.add_subplot(gs[0, c])
        _keyspace(ax, rec, 0, len(reads), max(1, len(reads) // 20), mark=d)
        ax.legend(loc="best", fontsize=7)
        ax.set_title(f"(a) length {rec.get('length', len(reads))}: read and write locations", fontsize=10, loc="left")
        k = min(10, len(reads))
        _keyspace(fig.add_subplot(gs[1, c]), rec, 0, k, 1, mark=d)
        fig.axes[-1].set_title(f"beginning (reads 0–{k - 1})", fontsize=9)
        _keyspace(fig.add_subplot(gs[2, c]), rec, len(reads) - k, len(reads), 1, mark=d)
        fig.axes[-1].set_title(f"end (reads {len(reads) - k}–{len(reads) - 1})", fontsize=9)
        ax4 = fig.add_subplot(gs[3, c])
        if d is None:
            _keyspace(ax4, rec, 0, len(reads), max(1, len(reads) // 20))
            ax4.set_title("the reads follow the writes throughout", fontsize=9)
        else:
            lo = max(0, d - 5)
            _keyspace(ax4, rec, lo, min(len(reads), d + 6), 1, mark=d)
            ax4.set_title(f"around read {d}, where the reads diverge from the writes", fontsize=9)
        _gates(fig.add_subplot(gs[4, c]), rec)
        fig.axes[-1].set_title("(b) gate values (dashed: first </s>)", fontsize=10)
        _strip(fig.add_subplot(gs[5, c]), rec)
    if title:
        fig.suptitle(title)
    return _save(fig, out)


#: digit tasks' token ids: 0–9 digits, then <s>, </s>, <e> (shown as $), padding
_DIGIT_MARKS = {12: "$"}


def _digits(tokens: Sequence[int]) -> str:
    return "".join(str(t) if 0 <= t <= 9 else _DIGIT_MARKS.get(int(t), "?") for t in tokens)


def addition_problem(rec: dict[str, Any]) -> list[str]:
    """Fig. 11 e–f text lines, most significant digit first: the problem x + y (when the record
    has ``inputs``: interleaved x_1 y_1 x_2 y_2 …, least significant first), the answer, the
    prediction, and '*' under every wrong symbol. '$' is the end symbol <e>."""
    def msb_first(tokens: Sequence[int]) -> list[int]:  # digits reversed, the final <e> kept last
        t = [int(x) for x in tokens]
        return t[:-1][::-1] + t[-1:]

    answer, pred = msb_first(rec["answer"]), msb_first(rec["prediction"])
    lines = []
    inputs = rec.get("inputs")
    if inputs:
        xs, ys = _digits(inputs[0::2])[::-1], _digits(inputs[1::2])[::-1]
        lines += [f"  {xs}", f"+ {ys}"]
    lines += [f"= {_digits(answer)}", f"→ {_digits(pred)}", "  " + "".join("*" if a != p else " " for a, p in zip(answer, pred))]
    return lines


def addition_figure(recs: Sequence[dict[str, Any]], out: str | Path, title: str | None = None) -> Path:
    """Fig. 11 (addition, e.g. 32 and 64 digits side by side): per record a column with (a) read and
    write locations, (b) gate values, (e/f) the problem, the answer and the prediction with '*'
    under wrong digits ('$': end symbol)."""
    plt = _plt()
    fig = plt.figure(figsize=(7 * len(recs), 12))
    gs = fig.add_gridspec(3, len(recs), height_ratios=[5, 2, 1.6], hspace=0.4, wspace=0.25)
    for c, rec in enumerate(recs):
        reads = _arrays(rec)[2]
        ax = fig.add_subplot(gs[0, c])
        _keyspace(ax, rec, 0, len(reads), max(1, len(reads) // 20))
        ax.legend(loc="best", fontsize=7)
        ax.set_title(f"(a) {rec.get('length', '?')} digits: read and write locations", fontsize=10, loc="left")
        _gates(fig.add_subplot(gs[1, c]), rec)
        fig.axes[-1].set_title("(b) gate values (dashed: first </s>)", fontsize=10)
        axt = fig.add_subplot(gs[2, c])
        axt.axis("off")
        wrong = sum(int(a != p) for a, p in zip(rec["answer"], rec["prediction"]))
        axt.set_title(f"(e) problem and response: {wrong} of {len(rec['answer'])} symbols wrong", fontsize=10, loc="left")
        axt.text(0, 1, "\n".join(addition_problem(rec)), family="monospace", fontsize=7, va="top", transform=axt.transAxes)
    if title:
        fig.suptitle(title)
    return _save(fig, out)


def heads_figure(records: Sequence[dict[str, Any]], out: str | Path) -> Path:
    """``memlab run lantm-heads``: each run's share of traced problems answered right against the
    median read key gate g of its answer reads, one marker per task (records only)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    markers = "osD^vP*X"
    for i, task in enumerate(sorted({r["task"] for r in records})):
        rs = [r for r in records if r["task"] == task and r.get("g_answer") is not None]
        ax.scatter([r["g_answer"] for r in rs], [r["samples_right"] for r in rs], marker=markers[i % len(markers)],
                   alpha=0.7, label=f"{task} ({len(rs)})")
    ax.set_xlabel("median read key gate g while answering (0: steps along the line, 1: emitted keys)")
    ax.set_ylabel("traced problems answered right")
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=8, loc="center right")
    ax.set_title("LANTM read heads while answering", fontsize=10)
    return _save(fig, out)
