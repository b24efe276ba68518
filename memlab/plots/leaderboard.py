"""Figures of the leaderboard report, one function per figure, each from the leaderboard records only
(``memlab report``; schema in ``memlab/experiments/leaderboard.py``).

Every function takes the cell records and a PNG path and returns the path. A model keeps one
colour in every figure (its order of first appearance in the records). Medians over seeds are
lines or points, the spread over seeds (min–max) a band; a model with no score for a task is
still named in the legend with the statuses of its cells, never silently left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memlab.report.records import CLASSES, Row, summarise

Records = list[dict[str, Any]]
MARKERS = "os^Dv<>pP*hX"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def model_colours(records: Records) -> dict[str, Any]:
    """model -> a colour, by order of first appearance: tab10's ten, then tab20's ten lighter shades
    (each model after the tenth also gets a dashed line: :func:`model_ls`)."""
    import matplotlib

    models = list(dict.fromkeys(r["model"] for r in records))
    tab20 = matplotlib.colormaps["tab20"]
    return {m: tab20((2 * i) % 20 + (i // 10) % 2) for i, m in enumerate(models)}


def model_ls(records: Records) -> dict[str, str]:
    """model -> line style: solid for the first ten models, dashed for the next ten, dotted after."""
    models = list(dict.fromkeys(r["model"] for r in records))
    return {m: ("-", "--", ":")[min(i // 10, 2)] for i, m in enumerate(models)}


def _save(fig: Any, path: Path, dpi: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return path


def _absent(row: Row, stat_name: str = "mean_coarse") -> str:
    st = getattr(row, stat_name)
    return "/".join(st.missing) or "no scores"


# ----------------------------------------------------------------------------- one function per figure
def plot_length_curves(records: Records, task: str, path: Path, dpi: int = 72) -> Path:
    """Coarse (left) and fine (right) score vs scale (log2 axis) or test length for every model on
    ``task``: median over seeds, min–max band."""
    plt = _plt()
    rows = [r for r in summarise(records) if r.task == task]
    colours, styles = model_colours(records), model_ls(records)
    kinds = {p.key[0] for r in rows for p in r.points}
    fig, axes = plt.subplots(1, 2, figsize=(6.8, 2.7), sharey=True)
    for ax, which in zip(axes, ("coarse", "fine")):
        for row in rows:
            pts = [(p.key[1], getattr(p, which)) for p in row.points if getattr(p, which).ok]
            c = colours[row.model]
            if not pts:
                ax.plot([], [], ls="none", marker="x", color=c, label=f"{row.model}: {_absent(row)}")
                continue
            xs = [x for x, _ in pts]
            ax.plot(xs, [100 * s.median for _, s in pts], marker="o", ls=styles[row.model], ms=3, color=c,
                    label=row.model)
            ax.fill_between(xs, [100 * s.lo for _, s in pts], [100 * s.hi for _, s in pts], color=c, alpha=0.15,
                            lw=0)
        if kinds == {"scale"}:
            ax.set_xscale("log", base=2)
            ticks = sorted({p.key[1] for r in rows for p in r.points})
            ax.set_xticks(ticks, [f"{t}x" for t in ticks])
            ax.set_xlabel("length scale (× training range)")
        else:
            ax.set_xlabel("test length" if kinds == {"length"} else "scale or length")
        ax.set_title(f"{task}: {which} score")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("% (median, min–max)")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return _save(fig, path, dpi)


def plot_class_summary(records: Records, path: Path, dpi: int = 72) -> Path:
    """Per automaton class (regular, dcf, cs): each model's mean over the class's tasks of its median
    coarse score (averaged over test lengths); the whisker spans the class's tasks (min–max)."""
    from memlab.report.records import class_summary

    plt = _plt()
    summ = class_summary(summarise(records))
    colours = model_colours(records)
    classes = [c for c in CLASSES if any(c in cells for cells in summ.values())]
    models = list(summ)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(classes) + 0.25 * len(models)), 3.2))
    width = 0.8 / max(1, len(models))
    for j, m in enumerate(models):
        for i, c in enumerate(classes):
            x = i - 0.4 + width * (j + 0.5)
            cell = summ[m].get(c)
            if cell is None or cell.mean is None:
                ax.text(x, 1, "–" if cell is None else "none", ha="center", va="bottom", fontsize=6, rotation=90,
                        color=colours[m])
                continue
            ax.bar(x, 100 * cell.mean, width, color=colours[m])
            ax.errorbar(x, 100 * cell.mean, yerr=[[100 * (cell.mean - cell.lo)], [100 * (cell.hi - cell.mean)]],
                        color="k", lw=0.8, capsize=2)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[m]) for m in models]
    ax.legend(handles, models, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    ax.set_xticks(range(len(classes)), classes)
    ax.set_ylim(0, 103)
    ax.set_ylabel("coarse % (mean over tasks)")
    ax.set_title("automaton classes: mean over tasks of the median over seeds")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path, dpi)


def plot_profiles(records: Records, path: Path, dpi: int = 72) -> Path:
    """Memory profiles of the trained memories beside the task scores: capacity vs state size
    (left, log x) and the task's median mean-coarse score vs capacity (right); one point per (model,
    task) with a profile; colour = model, marker = task."""
    plt = _plt()
    rows = [r for r in summarise(records) if r.profile is not None]
    colours = model_colours(records)
    tasks = list(dict.fromkeys(r.task for r in rows))
    marker = {t: MARKERS[i % len(MARKERS)] for i, t in enumerate(tasks)}
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4))
    for row in rows:
        cap, size = row.profile["capacity"], row.profile["state_size"]
        kw = dict(color=colours[row.model], marker=marker[row.task], s=28, alpha=0.85, edgecolors="k",
                  linewidths=0.4)
        axes[0].scatter(size, cap, **kw)
        if row.mean_coarse.ok:
            axes[1].scatter(cap, 100 * row.mean_coarse.median, **kw)
    axes[0].set_xscale("log")
    axes[0].set(xlabel="state size (scalars)", ylabel="capacity", title="trained memories: capacity vs state size")
    axes[1].set(xlabel="capacity", ylabel="task coarse % (mean over points)", title="task score vs capacity",
                ylim=(-3, 103))
    for ax in axes:
        ax.grid(alpha=0.3)
    models = list(dict.fromkeys(r.model for r in rows))
    handles = [plt.Line2D([], [], ls="none", marker="o", color=colours[m]) for m in models]
    handles += [plt.Line2D([], [], ls="none", marker=marker[t], color="0.5") for t in tasks]
    axes[1].legend(handles, models + tasks, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5),
                   frameon=False)
    return _save(fig, path, dpi)


def plot_profile_curves(records: Records, path: Path, dpi: int = 72) -> Path:
    """The profile curve (value per lag, the record's ``measure``) of each trained memory: one panel
    per task, one line per model."""
    plt = _plt()
    rows = [r for r in summarise(records) if r.profile is not None]
    colours, styles = model_colours(records), model_ls(records)
    tasks = list(dict.fromkeys(r.task for r in rows))
    cols = min(3, max(1, len(tasks)))
    nrows = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.4 * cols, 2.6 * max(1, nrows)), squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        for row in (r for r in rows if r.task == task):
            curve = sorted(row.profile["curve"])
            ax.plot([p[0] for p in curve], [p[1] for p in curve], marker="o", ls=styles[row.model], ms=2.5,
                    color=colours[row.model],
                    label=f"{row.model} (seed {row.profile_seed})")
        ax.set(title=task, xlabel="lag")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, frameon=False)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    measures = sorted({r.profile["measure"] for r in rows})
    fig.suptitle("; ".join(measures)[:160], fontsize=8)
    fig.tight_layout()
    return _save(fig, path, dpi)


def plot_cell(metrics: Records, record: dict[str, Any], path: Path, dpi: int = 72) -> Path:
    """One leaderboard cell: its training curve (left: loss; test coarse/fine where the trainer
    scored the training range, against sequences seen) and its scores (right: coarse and fine at
    each scale or test length). ``metrics`` are the run folder's ``metrics.jsonl`` rows, ``record``
    the cell's leaderboard record."""
    plt = _plt()
    fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(6.8, 2.5))
    per_epoch = record["sequences_seen"] / record["epochs"] if record.get("epochs") else 1.0
    xs = [r["epoch"] * per_epoch for r in metrics if "epoch" in r and r.get("loss") is not None]
    ax_l.plot(xs, [r["loss"] for r in metrics if "epoch" in r and r.get("loss") is not None], color="0.3", lw=1,
              label="training loss")
    ax_l.set_xlabel("sequences seen")
    ax_l.set_ylabel("loss")
    tested = [r for r in metrics if r.get("test_coarse") is not None]
    if tested:
        tw = ax_l.twinx()
        tw.plot([r["epoch"] * per_epoch for r in tested], [100 * r["test_coarse"] for r in tested], "o-", ms=3,
                color="C0", label="test coarse %")
        tw.plot([r["epoch"] * per_epoch for r in tested], [100 * r["test_fine"] for r in tested], "s--", ms=3,
                color="C1", label="test fine %")
        tw.set_ylim(-3, 103)
        tw.legend(fontsize=7, loc="center right", frameon=False)
    ax_l.set_title(f"{record['model']} on {record['task']}, seed {record['seed']}: training", fontsize=9)
    scores = [s for s in record.get("scores", []) if s.get("coarse") is not None]
    by_scale = all(s.get("scale") is not None for s in scores)
    key = [s["scale"] if by_scale else s["length"] for s in scores]
    for which, style in (("coarse", "o-"), ("fine", "s--")):
        ax_r.plot(key, [100 * s[which] for s in scores], style, ms=3, label=which)
    if scores and by_scale:
        ax_r.set_xscale("log", base=2)
        ax_r.set_xticks(key, [f"{k}x" for k in key])
    ax_r.set_xlabel("length scale (× training range)" if by_scale else "test length")
    ax_r.set_ylim(-3, 103)
    ax_r.set_ylabel("%")
    ax_r.set_title(f"{record['status']}: scores" + ("" if scores else " (none)"), fontsize=9)
    ax_r.legend(fontsize=7, frameon=False)
    for ax in (ax_l, ax_r):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path, dpi)
