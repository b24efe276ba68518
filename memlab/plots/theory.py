"""Figures of the ``theory-*`` experiments: one function per figure, each reading records only.

Every function takes the list of record dicts that the matching experiment wrote (its JSONL
records under ``results/theory``) and a PNG path, and returns the path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)
    _plt().close(fig)
    return path


def plot_fisher(records: list[dict], path: str | Path) -> Path:
    """Left: J(k) per network family (closed forms dashed). Right: J_tot vs N for delay lines."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in (r for r in records if r.get("kind") == "curve"):
        k, J = np.array(r["k"]), np.array(r["J"])
        line, = a.semilogy(k, np.maximum(J, 1e-16), label=f"{r['family']}  (J_tot={r['J_total']:.3g})")
        if r.get("J_closed") is not None:
            a.semilogy(k, np.maximum(np.array(r["J_closed"]), 1e-16), "--", color=line.get_color(), lw=1)
    a.set(xlabel="lag k", ylabel="Fisher memory J(k)", title=f"Fisher memory curves (N={records[0]['N']}, eps={records[0]['eps']:g})", ylim=(1e-6, 2))
    a.legend(fontsize=7)
    tot = [r for r in records if r.get("kind") == "total_vs_N"]
    for fam in dict.fromkeys(r["family"] for r in tot):
        rs = sorted((r for r in tot if r["family"] == fam), key=lambda r: r["N"])
        Ns = [r["N"] for r in rs]
        b.loglog(Ns, [r["J_total"] for r in rs], "o-", label=f"chain {fam}: measured")
        alpha = rs[0]["alpha"]
        ref = [r["harmonic_number"] for r in rs] if alpha == 1 else [r["N_one_minus_alpha_m2"] for r in rs]
        b.loglog(Ns, ref, "k:", lw=1)
    Ns = sorted({r["N"] for r in tot})
    b.loglog(Ns, Ns, "k-", lw=0.8, label="N (upper bound)")
    b.axhline(1.0, color="gray", lw=0.8, label="normal networks: 1")
    b.set_xscale("log", base=2)
    b.set_xticks(Ns, [str(n) for n in Ns])
    b.minorticks_off()
    b.set(xlabel="N", ylabel="total memory J_tot", title="J_tot: delay line = H_N, gain alpha: ≈ N(1-alpha^-2) (dotted)")
    b.legend(fontsize=7)
    return _save(fig, path)


def plot_capacity(records: list[dict], path: str | Path) -> Path:
    """r²(k) (closed vs regression), MC vs training size, tanh MC vs spectral radius."""
    plt = _plt()
    fig, axs = plt.subplots(1, 3, figsize=(16, 4.5))
    for r in (r for r in records if r.get("kind") == "linear"):
        k = np.array(r["k"])
        line, = axs[0].plot(k, r["r2_closed"], label=f"linear {r['network']}: closed form (MC={r['MC_closed_kmax']:.2f})")
        axs[0].plot(k, r["r2_test"], ".", color=line.get_color(), ms=3, label=f"  regression, held out (MC={r['MC_test']:.2f})")
    tanh = [r for r in records if r.get("kind") == "tanh"]
    if tanh:
        best = max(tanh, key=lambda r: r["MC_test"])
        axs[0].plot(best["k"], best["r2_test"], "k-", lw=1, label=f"tanh N={best['N']}, rho={best['rho']}, in={best['input_scale']} (MC={best['MC_test']:.1f})")
    axs[0].set(xlabel="lag k", ylabel="r²(k)", title="memory function")
    axs[0].legend(fontsize=7)
    fs = sorted((r for r in records if r.get("kind") == "finite_sample"), key=lambda r: r["n_train"])
    if fs:
        n = [r["n_train"] for r in fs]
        axs[1].semilogx(n, [r["MC_train"] for r in fs], "o-", label="in-sample regression")
        axs[1].semilogx(n, [r["MC_test"] for r in fs], "s-", label="held-out regression")
        axs[1].semilogx(n, [r["MC_closed_kmax"] + r["bias_prediction"] for r in fs], "k:", label="closed form + (K+1-MC)N/(n-1)")
        axs[1].axhline(fs[0]["MC_closed_kmax"], color="k", lw=0.8, label="closed form")
        axs[1].set(xlabel="training samples", ylabel="MC (lags 0..K)", title=f"finite-sample bias (N={fs[0]['N']}, K={fs[0]['k_max']})")
        axs[1].legend(fontsize=7)
    for sc in dict.fromkeys(r["input_scale"] for r in tanh):
        rs = sorted((r for r in tanh if r["input_scale"] == sc), key=lambda r: r["rho"])
        axs[2].plot([r["rho"] for r in rs], [r["MC_test"] for r in rs], "o-", label=f"tanh, input scale {sc:g}")
    if tanh:
        axs[2].axhline(tanh[0]["N"], color="k", lw=0.8, label="N")
        axs[2].set(xlabel="spectral radius rho", ylabel="MC (held out)", title=f"tanh reservoirs, N={tanh[0]['N']}")
        axs[2].legend(fontsize=7)
    return _save(fig, path)


def plot_gradients(records: list[dict], path: str | Path) -> Path:
    """‖∂s_T/∂s_{T-q}‖ vs q: Elman with the eq. 2.36 norm bound (dotted), LSTM cell blocks."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.8))
    for r in (r for r in records if r["core"].startswith("elman")):
        q = np.array(r["q"])  # (Q,)
        line, = a.semilogy(q, np.maximum(r["norm_geomean"], 1e-300), label=r["label"])
        a.fill_between(q, np.maximum(r["norm_min"], 1e-300), np.maximum(r["norm_max"], 1e-300), color=line.get_color(), alpha=0.15)
        a.semilogy(q, r["bound_norm"], ":", color=line.get_color(), lw=1)
    a.set(xlabel="q (steps back)", ylabel="||ds_T / ds_{T-q}||_2", title="Elman: measured (solid) vs (f'_max ||W||)^q (dotted)", ylim=(1e-30, 1e12))
    a.legend(fontsize=7)
    for r in (r for r in records if r["core"] in ("lstm", "ntm") and "norm_geomean" in r):
        ls = "--" if r["block"] == "full state" else "-"
        b.semilogy(r["q"], np.maximum(r["norm_geomean"], 1e-300), ls, label=r["label"], lw=2.2 if r["core"] == "ntm" else 1.5)
    b.axhline(1.0, color="k", lw=0.6)
    b.set(xlabel="q (steps back)", ylabel="norm (geometric mean over batch)", title="LSTM cell (CEC) and NTM memory: gradients stay alive")
    b.legend(fontsize=7)
    return _save(fig, path)


def plot_saxe(records: list[dict], path: str | Path) -> Path:
    """Mode strengths a_α(t) (simulation dots vs eq. 2.18 lines) and the MDS of hidden states."""
    plt = _plt()
    recs = {r["init"]: r for r in records}
    fig, axs = plt.subplots(1, 3, figsize=(17, 4.8))
    for ax, init in zip(axs[:2], ("decoupled", "random")):
        if init not in recs:
            continue
        r = recs[init]
        t, s = np.array(r["t"]), np.array(r["s"])
        a_sim, a_cf = np.array(r["a_sim"]), np.array(r["a_closed"])
        seen = set()
        for j in range(len(s)):
            key = round(s[j], 8)
            if key in seen:
                continue
            seen.add(key)
            line, = ax.plot(t, a_cf[:, j], lw=1.5, label=f"s={s[j]:.3f}")
            ax.plot(t[::4], a_sim[::4, j], "o", ms=3, color=line.get_color())
        extra = " (a(0) fitted)" if init == "random" else ""
        ax.set(xlabel="t / tau (= steps x lr)", ylabel="mode strength a(t)", title=f"{init} start{extra}: max |dev|/s = {r['max_rel_dev']:.2%}")
        ax.legend(fontsize=7, title="eq. 2.18 (lines), GD (dots)")
    r = recs.get("decoupled") or next(iter(recs.values()))
    coords = np.array(r["mds"])  # (K, P, 2)
    cmap = plt.get_cmap("tab10")
    for i, name in enumerate(r["items"]):
        axs[2].plot(coords[:, i, 0], coords[:, i, 1], "-", color=cmap(i % 10), lw=1)
        axs[2].plot(coords[-1, i, 0], coords[-1, i, 1], "o", color=cmap(i % 10))
    ends: dict[tuple, list[str]] = {}
    for i, name in enumerate(r["items"]):  # items whose 2-D embeddings coincide share one label
        ends.setdefault(tuple(np.round(coords[-1, i], 2)), []).append(name)
    for xy, names in ends.items():
        axs[2].annotate(", ".join(names), xy, fontsize=8, xytext=(4, 4), textcoords="offset points")
    axs[2].set(title="MDS (2-D) of hidden representations h_i = W1 x_i over training", xlabel="MDS 1", ylabel="MDS 2")
    return _save(fig, path)


def plot_profile(records: list[dict], path: str | Path) -> Path:
    """Error vs lag, error vs n, function-basis error vs K, and capacity vs state dimension."""
    plt = _plt()
    fig, axs = plt.subplots(2, 2, figsize=(14, 10))
    mods = [r for r in records if r.get("kind") == "module"]
    colors = plt.get_cmap("tab20").colors if len(mods) > 10 else plt.get_cmap("tab10").colors
    for i, r in enumerate(mods):
        last = r["rows"][-1]
        err = np.array(last["error_by_lag"])
        style = dict(color=colors[i % len(colors)], ls="-" if i < 10 else "--")
        axs[0, 0].semilogy(np.arange(1, len(err) + 1), np.maximum(err, 1e-16), marker="o", ms=3, label=f"{r['module']} (S={last['state_dim']}, cap={r['capacity']})", **style)
        axs[0, 1].plot([x["n"] for x in r["rows"]], [x["mean_error"] for x in r["rows"]], marker="o", ms=3, label=r["module"], **style)
    if mods:
        thr = mods[0]["threshold"]
        axs[0, 0].axhline(thr, color="k", lw=0.8, ls=":")
        axs[0, 0].set(xlabel="lag k (1 = last item)", ylabel="held-out recovery error", title=f"error vs lag after n={mods[0]['rows'][-1]['n']} items", ylim=(1e-16, 3))
        axs[0, 0].legend(fontsize=7)
        axs[0, 1].set(xlabel="sequence length n", ylabel="mean error over lags", title="error vs sequence length")
        axs[0, 1].legend(fontsize=7)
    fb = [r for r in records if r.get("kind") == "function_basis"]
    for basis in dict.fromkeys(r["basis"] for r in fb):
        rs = sorted((r for r in fb if r["basis"] == basis), key=lambda r: r["K"])
        K = [r["K"] for r in rs]
        line, = axs[1, 0].plot(K, [r["own_error_mean"] for r in rs], "o-", label=f"{basis}: own recover gamma")
        axs[1, 0].plot(K, [r["fit_error_mean"] for r in rs], "x--", color=line.get_color(), label=f"{basis}: fitted linear recover")
    if fb:
        n = fb[0]["n"]
        Ks = sorted({r["K"] for r in fb})
        axs[1, 0].plot(Ks, [max(0.0, 1 - k / n) for k in Ks], "k:", label="1 - K/n")
        axs[1, 0].set(xlabel="basis size K (memory dimension K·d)", ylabel="mean error over lags", title=f"seed 000 §5 memory in a K-function basis, n={n} items")
        axs[1, 0].legend(fontsize=7)
    cv = [r for r in records if r.get("kind") == "capacity_vs_dim"]
    for fam in dict.fromkeys(r["family"] for r in cv):
        rs = sorted((r for r in cv if r["family"] == fam), key=lambda r: r["state_dim"])
        axs[1, 1].plot([r["state_dim"] for r in rs], [r["capacity"] for r in rs], "o-", label=fam)
    if cv:
        S = sorted({r["state_dim"] for r in cv})
        d = cv[0]["item_size"]
        axs[1, 1].plot(S, [s / d for s in S], "k--", label="S/d (linear recover bound)")
        axs[1, 1].set(xlabel="state dimension S", ylabel=f"capacity (items, error < {cv[0]['threshold']})", title="Thm 3.3: finite memories hold at most S/d items")
        axs[1, 1].legend(fontsize=7)
    return _save(fig, path)
