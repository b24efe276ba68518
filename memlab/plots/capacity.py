"""Figures of the capacity experiments, one function per figure, each from records only.

``FIGURES[stem](records, png_path)`` draws the figure of experiment ``capacity-<stem>`` from its
records (point records; the headline is recomputed from them when a figure needs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


Records = list[dict[str, Any]]
TINY = 1e-17  # floor for exact zeros on log axes


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _part(records: Records, part: str) -> Records:
    return [r for r in records if r.get("kind") == "point" and r.get("part") == part]


def _series(rs: Records, key: str, x: str, y: str) -> dict[Any, tuple[list, list]]:
    out: dict[Any, tuple[list, list]] = {}
    for k in dict.fromkeys(r[key] for r in rs):
        pts = sorted((r[x], r[y]) for r in rs if r[key] == k and r.get(y) is not None)
        out[k] = ([p[0] for p in pts], [p[1] for p in pts])
    return out


def _headline(records: Records, stem: str) -> dict[str, Any]:
    """The headline figures of capacity-``stem``, recomputed from its point records."""
    from memlab.theory.capacity import analysis

    return analysis(stem).summarize([r for r in records if r.get("kind") == "point"])


# ----------------------------------------------------------------------------- one function per figure
def plot_hopfield(records: Records, path: Path) -> Path:
    plt = _plt()
    head = _headline(records, "hopfield")
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    one = _part(records, "one_step")
    for N, (xs, ys) in _series(one, "N", "load", "bit_error").items():
        ax[0].semilogy(xs, [max(y, 1e-6) for y in ys], "o-", ms=3, label=f"N={N}")
    if one and "bit_error_self_coupling" in one[0]:
        big = max(r["N"] for r in one)
        xs, ys = _series([r for r in one if r["N"] == big], "N", "load", "bit_error_self_coupling")[big]
        ax[0].semilogy(xs, [max(y, 1e-6) for y in ys], "^:", ms=3, color="gray", label=f"N={big}, w_ii = Q kept")
    if one:
        xs = sorted({r["load"] for r in one})
        ax[0].semilogy(xs, [max(r, 1e-6) for r in (next(o["bit_error_theory"] for o in one if o["load"] == x) for x in xs)], "k--", lw=1, label="Φ(−1/√α)")
        level = one[0]["bit_error_level"]
        ax[0].axhline(level, color="gray", lw=0.8)
        ax[0].axvline(0.18, color="tab:red", lw=0.8, ls=":", label="seed: 0.18")
    ax[0].set(xlabel="load α = Q/N", ylabel="bit error after one update", title="crosstalk criterion (eq. 2.25)", ylim=(1e-5, 0.2))
    ax[0].legend(fontsize=7)
    dyn = _part(records, "dynamics")
    for N, (xs, ys) in _series(dyn, "N", "load", "stable_fraction").items():
        (line,) = ax[1].plot(xs, ys, "o-", ms=3, label=f"N={N} from x^p")
        cx, cy = _series([r for r in dyn if r["N"] == N], "N", "load", "cue_recall_fraction")[N]
        ax[1].plot(cx, cy, "s--", ms=3, color=line.get_color(), alpha=0.6, label=f"N={N} from noisy cue")
    ax[1].axvline(0.138, color="tab:red", lw=0.8, ls=":", label="α_c = 0.138")
    ax[1].axhline(0.5, color="gray", lw=0.8)
    thr = dyn[0]["overlap_threshold"] if dyn else 0.9
    ax[1].set(xlabel="load α = Q/N", ylabel=f"fraction ending with overlap ≥ {thr}", title="retrieval after asynchronous dynamics")
    ax[1].legend(fontsize=6, ncol=2)
    for N, (xs, ys) in _series(dyn, "N", "load", "mean_final_overlap").items():
        ax[2].plot(xs, ys, "o-", ms=3, label=f"N={N}")
    ax[2].axvline(0.138, color="tab:red", lw=0.8, ls=":")
    ax[2].set(xlabel="load α = Q/N", ylabel="mean final overlap m", title="overlap of the fixed point with x^p")
    fs = head.get("stable_finite_size_fit") or {}
    if fs.get("alpha_infinity") is not None:
        ax[2].text(0.98, 0.95, f"α_stable(N) fit: {fs['alpha_infinity']:.3f} + {fs['slope']:.2f}/√N", ha="right", va="top",
                   transform=ax[2].transAxes, fontsize=8)
    ax[2].legend(fontsize=7)
    return _save(fig, path)


def plot_cmm(records: Records, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    orth, rnd, cor = _part(records, "orthonormal"), _part(records, "random"), _part(records, "correlated")
    D = (rnd or orth or [{"key_size": None}])[0]["key_size"]
    if orth:
        xs, ys = _series(orth, "part", "Q", "hebbian_error")["orthonormal"]
        ax[0].semilogy(xs, [max(y, TINY) for y in ys], "o-", ms=3, label="Hebbian, orthonormal keys")
    if rnd:
        for key, lab in (("hebbian_error", "Hebbian, random keys"), ("widrow_hoff_error", "Widrow–Hoff, random keys"),
                         ("least_squares_error", "least squares Y X⁺ (Widrow–Hoff limit)"), ("hebbian_error_theory", "√((Q−1)/D)")):
            xs, ys = _series(rnd, "part", "Q", key)["random"]
            ax[0].semilogy(xs, [max(y, TINY) for y in ys], "k--" if "theory" in key else "o-", ms=3, lw=1 if "theory" in key else 1.5, label=lab)
    if D:
        ax[0].axvline(D, color="gray", lw=0.8, ls=":", label=f"Q = D = {D}")
    ax[0].set(xlabel="stored pairs Q", ylabel="relative recall error", title="CMM recall error vs pairs (eq. 2.55)")
    ax[0].legend(fontsize=7)
    if cor:
        for key, lab in (("hebbian_error", "Hebbian"), ("widrow_hoff_error", "Widrow–Hoff")):
            xs, ys = _series(cor, "part", "correlation", key)["correlated"]
            ax[1].semilogy(xs, [max(y, TINY) for y in ys], "o-", ms=3, label=lab)
        ax[1].set(title=f"correlated keys, Q = {cor[0]['Q']}, D = {D} (linearly independent)")
    ax[1].set(xlabel="key correlation ρ (shared component)", ylabel="relative recall error")
    ax[1].legend(fontsize=8)
    return _save(fig, path)


def plot_hrr(records: Records, path: Path) -> Path:
    plt = _plt()
    head = _headline(records, "hrr")
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    var = _part(records, "variance")
    cx = [r for r in var if r["form"] == "complex"]
    for S, (xs, ys) in _series(cx, "S", "Q", "noise_variance").items():
        (line,) = ax[0].loglog(xs, ys, "o", ms=4, label=f"redundant, S={S}")
        ax[0].loglog(xs, [(q - 1) / S for q in xs], "-", lw=0.8, color=line.get_color())
    for form, (xs, ys) in _series([r for r in var if r["form"] != "complex"], "form", "Q", "noise_variance").items():
        ax[0].loglog(xs, ys, "x--", ms=4, lw=0.8, label=form)
    fit = head.get("fit") or {}
    if fit:
        ax[0].text(0.02, 0.98, f"fit: var ∝ (Q−1)^{fit['slope_Q']:.3f} · S^{fit['slope_S']:.3f}  (R²={fit['r2']:.4f})",
                   transform=ax[0].transAxes, va="top", fontsize=8)
    ax[0].set(xlabel="stored pairs Q", ylabel="noise variance E|ỹ−y|²/E|y|²", title="retrieval noise (eq. 2.51); lines: (Q−1)/S")
    ax[0].legend(fontsize=6, loc="lower right")
    cl = _part(records, "cleanup")
    for S in dict.fromkeys(r["S"] for r in cl):
        rs = sorted((r for r in cl if r["S"] == S), key=lambda r: r["Q"])
        (line,) = ax[1].semilogx([r["Q"] for r in rs], [r["raw_bit_accuracy"] for r in rs], "o--", ms=3, label=f"S={S} raw")
        ax[1].semilogx([r["Q"] for r in rs], [r["cleanup_bit_accuracy"] for r in rs], "o-", ms=3, color=line.get_color(), label=f"S={S} after cleanup")
    vocab = cl[0]["vocab"] if cl else "?"
    ax[1].set(xlabel="stored pairs Q", ylabel="bit accuracy", title=f"cleanup through an item memory ({vocab} items)", ylim=(0.45, 1.02))
    ax[1].legend(fontsize=7)
    return _save(fig, path)


def plot_sdm(records: Records, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    its, noise = _part(records, "items"), _part(records, "noise")
    labels = {r["name"]: f"{r['name']} ({r['weights']:,} weights)" for r in its + noise}
    for name, (xs, ys) in _series(its, "name", "Q", "bit_accuracy").items():
        ax[0].semilogx(xs, ys, "o-" if name.startswith("SDM") else "s--", ms=3, label=labels[name])
    level = its[0]["accuracy_level"] if its else 0.99
    ax[0].axhline(level, color="gray", lw=0.8)
    cn = its[0]["cue_noise"] if its else 0
    ax[0].set(xlabel="stored items Q", ylabel="bit accuracy", title=f"recall from cues with {cn:.0%} flipped bits")
    ax[0].legend(fontsize=7)
    for name, (xs, ys) in _series(noise, "name", "cue_noise", "bit_accuracy").items():
        ax[1].plot(xs, ys, "o-" if name.startswith("SDM") else "s--", ms=3, label=labels[name])
    ax[1].axhline(level, color="gray", lw=0.8)
    nq = noise[0]["Q"] if noise else "?"
    ax[1].set(xlabel="cue noise (fraction of flipped bits)", ylabel="bit accuracy", title=f"{nq} stored items")
    ax[1].legend(fontsize=7)
    return _save(fig, path)


def plot_tpr(records: Records, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    rs = sorted(_part(records, "fillers"), key=lambda r: r["Q"])
    R = rs[0]["role_size"] if rs else None
    for key, lab, st in (("orthonormal_error", "orthonormal roles, u = r", "o-"), ("random_direct_error", "random roles, u = r", "o-"),
                         ("random_dual_error", "random roles, dual u", "o-"), ("direct_error_theory", "√((Q−1)/R)", "k--")):
        pts = [(r["Q"], r[key]) for r in rs if r.get(key) is not None]
        ax[0].loglog([p[0] for p in pts], [max(p[1], TINY) for p in pts], st, ms=3, lw=1 if "theory" in key else 1.5, label=lab)
    if R:
        ax[0].axvline(R, color="gray", lw=0.8, ls=":", label=f"Q = R = {R}")
    ax[0].set(xlabel="bound fillers Q", ylabel="relative unbinding error", title="TPR decoding T • u_j (eq. 2.59)")
    ax[0].legend(fontsize=7)
    for key, lab in (("random_direct_cleanup_accuracy", "random roles, u = r"), ("random_dual_cleanup_accuracy", "random roles, dual u")):
        ax[1].semilogx([r["Q"] for r in rs], [r[key] for r in rs], "o-", ms=3, label=lab)
    if R:
        ax[1].axvline(R, color="gray", lw=0.8, ls=":")
    ax[1].set(xlabel="bound fillers Q", ylabel="filler accuracy after cleanup", title="nearest filler in the vocabulary")
    ax[1].legend(fontsize=7)
    return _save(fig, path)


def plot_fast_weights(records: Records, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    rs = _part(records, "age")
    for lam, (xs, ys) in _series(rs, "decay", "age", "strength").items():
        (line,) = ax[0].semilogy(xs, [max(y, 1e-12) for y in ys], "-", label=f"λ={lam}")
        tx, ty = _series([r for r in rs if r["decay"] == lam], "decay", "age", "strength_theory")[lam]
        ax[0].semilogy(tx, [max(y, 1e-12) for y in ty], "k:", lw=1, zorder=3, label="theory" if lam == max(r["decay"] for r in rs) else None)
    ax[0].set(xlabel="age (steps since storage)", ylabel="read-back strength hᵀ A h",
              title="A(t) = λA(t−1) + η h hᵀ (eq. 2.56)\ndotted: ηλ^age + crosstalk η Σ_{s≠t} λ^{age_s} / D")
    ax[0].legend(fontsize=7)
    for lam, (xs, ys) in _series(rs, "decay", "age", "retrieval_accuracy").items():
        ax[1].plot(xs, ys, "-", label=f"λ={lam}")
    ax[1].set(xlabel="age (steps since storage)", ylabel="nearest stored item is correct", title="retrieval vs age")
    ax[1].legend(fontsize=7)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    _plt().close(fig)
    tmp.replace(path)
    return path


FIGURES: dict[str, Callable[[Records, Path], Path]] = {
    "hopfield": plot_hopfield,
    "cmm": plot_cmm,
    "hrr": plot_hrr,
    "sdm": plot_sdm,
    "tpr": plot_tpr,
    "fast-weights": plot_fast_weights,
}


__all__ = ["FIGURES"] + [f"plot_{k.replace('-', '_')}" for k in FIGURES]
