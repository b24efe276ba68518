"""Figures of seed 003 (short-term memory of random linear RNNs), drawn from records only."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

PANEL_TITLES = {
    "sparse-low": "sparse, low coherence",
    "sparse-high": "sparse, high coherence",
    "lowrank-low": "low-rank, low coherence",
    "lowrank-high": "low-rank, high coherence",
}


def _grid(records: Sequence[dict[str, Any]], panel: str) -> tuple[list[float], list[float], np.ndarray]:
    """(gammas, rhos, mean rMSE (n_rho, n_gamma)) of one panel; NaN where no problem exists."""
    recs = [r for r in records if r["panel"] == panel]
    gammas = sorted({r["gamma"] for r in recs})
    rhos = sorted({r["rho_nominal"] for r in recs})
    acc: dict[tuple[float, float], list[float]] = {}
    for r in recs:
        acc.setdefault((r["gamma"], r["rho_nominal"]), []).append(r["rmse"])
    Z = np.full((len(rhos), len(gammas)), np.nan)
    for (g, rho), v in acc.items():
        Z[rhos.index(rho), gammas.index(g)] = float(np.mean(v))
    return gammas, rhos, Z


def phase_diagram_figure(
    records: Sequence[dict[str, Any]],
    path: str | Path,
    *,
    transitions: dict[str, dict[float, float]] | None = None,
    title: str = "",
) -> Path:
    """Fig. 2: four heatmaps of log10 mean rMSE over (gamma = M/LN, rho), from phase records.

    ``transitions`` ({panel: {gamma: rho at 50% success}}) is drawn as white dots; the sparse
    panels also show the Donoho-Tanner l1 curve.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from memlab.theory.stm import donoho_tanner

    panels = [p for p in PANEL_TITLES if any(r["panel"] == p for r in records)]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), squeeze=False, layout="constrained")
    vmin, vmax = -6.0, 0.0
    im = None
    for ax, panel in zip(axes.ravel(), list(PANEL_TITLES)):
        if panel not in panels:
            ax.axis("off")
            continue
        gammas, rhos, Z = _grid(records, panel)
        logZ = np.log10(np.clip(Z, 10**vmin, None))
        # cell edges halfway between grid values, so uneven grids draw correctly
        ge = _edges(gammas)
        re = _edges(rhos)
        im = ax.pcolormesh(ge, re, logZ, cmap="viridis", vmin=vmin, vmax=vmax, shading="flat")
        if transitions and panel in transitions:
            pts = sorted((g, r) for g, r in transitions[panel].items() if math.isfinite(r))
            if pts:
                ax.plot(*zip(*pts), "o-", color="white", ms=4, lw=1, label="50% success")
        if panel.startswith("sparse"):
            d = np.linspace(max(ge[0], 0.01), ge[-1], 100)
            ax.plot(d, donoho_tanner(d), "r--", lw=1.2, label="Donoho-Tanner l1")
        ax.set_xlim(ge[0], ge[-1])
        ax.set_ylim(re[0], re[-1])
        ax.set_title(PANEL_TITLES[panel])
        ax.set_xlabel(r"compression $\gamma = M / LN$")
        ax.set_ylabel(r"complexity $\rho = K/M$" if panel.startswith("sparse") else r"$\rho = R(L+N-R)/M$")
        if ax.get_legend_handles_labels()[0]:  # a low-rank panel without a transition has nothing to label
            ax.legend(loc="upper right", fontsize=7, framealpha=0.5)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), label=r"$\log_{10}$ mean rMSE")
    if title:
        fig.suptitle(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _edges(v: Sequence[float]) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if len(v) == 1:
        return np.array([v[0] * 0.9, v[0] * 1.1])
    mid = 0.5 * (v[1:] + v[:-1])
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def recall_length_figure(records: Sequence[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Fig. 3: top, the stored (decaying) sequence: column-energy weight rho^{2k} of input lag k;
    bottom, mean rMSE (with quartiles over trials) against recall length r, optimum marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rs = sorted({r["r"] for r in records})
    by = {r_: [x["rmse"] for x in records if x["r"] == r_ and math.isfinite(x["rmse"])] for r_ in rs}
    mean = np.array([np.mean(by[r_]) for r_ in rs])
    q1 = np.array([np.percentile(by[r_], 25) for r_ in rs])
    q3 = np.array([np.percentile(by[r_], 75) for r_ in rs])
    radius = records[0]["radius"]
    T = records[0]["T"]
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(7, 7), layout="constrained")
    k = np.arange(min(T, max(rs) + 1))
    ax0.semilogy(k, radius ** (2 * k), color="k")
    ax0.axvline(rs[int(np.argmin(mean))], color="r", ls="--", lw=1)
    ax0.set_xlabel("input lag k (steps into the past)")
    ax0.set_ylabel(r"stored energy $\|W^k Z\|^2$ (relative)")
    ax0.set_title(f"a long stream fades in the state (spectral radius {radius})")
    ax1.fill_between(rs, q1, q3, alpha=0.25, label="quartiles over trials")
    ax1.loglog(rs, mean, "o-", label="mean rMSE")
    i = int(np.argmin(mean))
    ax1.axvline(rs[i], color="r", ls="--", lw=1, label=f"optimal recall length r* = {rs[i]}")
    ax1.set_xlabel("recall length r (most recent inputs recovered)")
    ax1.set_ylabel("rMSE over the recovered window")
    ax1.text(0.02, 0.05, "omission errors", transform=ax1.transAxes, fontsize=8)
    ax1.text(0.75, 0.05, "recall errors", transform=ax1.transAxes, fontsize=8)
    ax1.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
