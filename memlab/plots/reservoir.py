"""Figures of the reservoir experiments (esn-capacity, lsm-separation, lsm-delayed-recall), one
function per figure, each reading the experiment's point records only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Records = list[dict[str, Any]]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _points(records: Records) -> Records:
    return [r for r in records if r.get("kind") == "point"]


def plot_esn_capacity(records: Records, path: Path) -> Path:
    """(a) held-out MC vs N per activation, with MC = N and the closed form; (b) r²(k) of the largest N."""
    import numpy as np

    plt = _plt()
    pts = _points(records)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = sorted({r["N"] for r in pts})
    for act, marker in (("linear", "o"), ("tanh", "s")):
        rs = [r for r in pts if r["activation"] == act]
        if not rs:
            continue
        Ns = sorted({r["N"] for r in rs})
        mc = [np.mean([r["MC_test"] for r in rs if r["N"] == N]) for N in Ns]
        sd = [np.std([r["MC_test"] for r in rs if r["N"] == N]) for N in Ns]
        ax[0].errorbar(Ns, mc, yerr=sd, marker=marker, ms=4, capsize=2, label=f"{act} reservoir, held-out regression")
        closed = [np.mean([r["MC_closed_kmax"] for r in rs if r["N"] == N and r.get("MC_closed_kmax") is not None] or [np.nan]) for N in Ns]
        if act == "linear" and not np.all(np.isnan(closed)):
            ax[0].plot(Ns, closed, "k:", lw=1.2, label="linear closed form, same noise (k ≤ K)")
    if sizes:
        ax[0].plot(sizes, sizes, "k--", lw=1, label="MC = N")
    ax[0].set(xscale="log", yscale="log", xlabel="reservoir size N", ylabel="memory capacity Σ r²(k)",
              title="(a) linear memory capacity")
    ax[0].legend(fontsize=8)
    if pts:
        big = max(sizes)
        for act in ("linear", "tanh"):
            rs = [r for r in pts if r["N"] == big and r["activation"] == act]
            if rs:
                r2 = np.mean([r["r2"] for r in rs], axis=0)
                ax[1].plot(np.arange(len(r2)), r2, label=f"{act}, N={big}, held-out regression")
                if act == "linear" and all("r2_closed" in r for r in rs):
                    ax[1].plot(np.arange(len(r2)), np.mean([r["r2_closed"] for r in rs], axis=0), "k:", lw=1.2,
                               label="linear closed form")
        ax[1].set(xlabel="lag k", ylabel="held-out r²(k)", title="(b) memory function", ylim=(-0.02, 1.02))
        ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_lsm_separation(records: Records, path: Path) -> Path:
    """(a) state distance over time per input distance (Maass et al. 2002 Fig. 2B); (b) mean state
    distance against input distance, pair by pair."""
    plt = _plt()
    pts = sorted(_points(records), key=lambda r: r["level"])
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    cmap = plt.get_cmap("viridis")
    for i, r in enumerate(pts):
        ax[0].plot(r["t_ms"], r["state_distance_t"], color=cmap(i / max(1, len(pts) - 1)),
                   label=f"d(u,v) = {r['input_distance']:.3g}")
        ax[1].scatter(r["pair_input_distance"], r["pair_state_distance"], s=8, color=cmap(i / max(1, len(pts) - 1)))
    ax[0].set(xlabel="time (ms)", ylabel="state distance ‖x_u(t) − x_v(t)‖", title="(a) separation over time")
    ax[0].legend(fontsize=7)
    ax[1].set(xlabel="input distance d(u, v)", ylabel="time-averaged state distance", title="(b) state vs input distance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_lsm_delayed_recall(records: Records, path: Path) -> Path:
    """Held-out accuracy of the readout recalling the symbol from k steps ago, against k."""
    import numpy as np

    plt = _plt()
    pts = _points(records)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for model in dict.fromkeys(r["model"] for r in pts):
        acc = np.array([r["accuracy"] for r in pts if r["model"] == model])  # (trials, K + 1)
        ks = np.arange(acc.shape[1])
        ax.errorbar(ks, acc.mean(0), yerr=acc.std(0), marker="o", ms=3, capsize=2, label=model)
    if pts:
        ax.axhline(pts[0]["chance"], color="gray", ls="--", lw=1, label="chance")
    ax.set(xlabel="delay k (steps)", ylabel="held-out accuracy", title="delayed recall: symbol from k steps ago", ylim=(0, 1.02))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
