"""Figures and the markdown summary of the capacity experiments, rendered from records only.

``render_figure(stem, records_path, png_path)`` draws one figure per experiment from its JSONL
records (``memlab.theory.capacity`` writes them); ``render_summary(out_dir)`` writes
``out_dir/README.md`` from the headline records of every ``*.jsonl`` found there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from memlab.core.errors import ConfigError
from memlab.core.io import atomic_write_text, read_jsonl

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


def _headline(records: Records) -> dict[str, Any]:
    return next((r["headline"] for r in records if r.get("kind") == "headline"), {})


# ----------------------------------------------------------------------------- one function per figure
def plot_hopfield(records: Records, path: Path) -> Path:
    plt = _plt()
    head = _headline(records)
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
    head = _headline(records)
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


def render_figure(stem: str, records_path: str | Path, png_path: str | Path) -> Path:
    """Draw the figure of experiment ``stem`` from its JSONL records."""
    if stem not in FIGURES:
        raise ConfigError(f"figure {stem!r} is not known; choose one of {', '.join(FIGURES)}")
    return FIGURES[stem](read_jsonl(records_path), Path(png_path))


# ----------------------------------------------------------------------------- markdown summary
def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
            return f"{x:.1e}"
        return f"{x:.{digits}f}"
    return str(x)


def _md_hopfield(h: dict[str, Any]) -> list[str]:
    fs = h.get("stable_finite_size_fit") or {}
    lines = [
        f"- one-step criterion: {h['criterion_one_step']}.",
        f"- stability criterion: {h['criterion_stable']}.",
        f"- cue criterion: {h['criterion_cue']}.",
        "",
        "| N | α at 1% one-step bit error | α where retrieval stops being stable | α where noisy-cue recall fails |",
        "|---|---|---|---|",
    ]
    for N in sorted(h["one_step_capacity"], key=float):
        lines.append(f"| {N} | {_f(h['one_step_capacity'][N])} | {_f(h['stable_capacity'].get(N))} | {_f(h['cue_capacity'].get(N))} |")
    lines.append(f"| theory | {_f(h['one_step_theory'])} (Φ(−1/√α) = 1%; seed 0.18) | 0.138 (N → ∞) | |")
    sc = h.get("one_step_capacity_self_coupling") or {}
    if sc:
        lines += ["", f"- {h['note_self_coupling']}. With w_ii = Q kept, the 1% crossing is at "
                  + ", ".join(f"N={n}: {_f(sc[n])}" for n in sorted(sc, key=float))
                  + f" (theory Φ(−(1+α)/√α) = 1% at {_f(h['one_step_theory_self_coupling'])})."]
    if fs.get("alpha_infinity") is not None:
        lines += ["", f"Finite-size fit of the stability load, α(N) = α∞ + a/√N: α∞ = {_f(fs['alpha_infinity'])}, a = {_f(fs['slope'], 2)}."]
    return lines


def _md_cmm(h: dict[str, Any]) -> list[str]:
    D = h.get("random_keys_key_size")
    cor_h, cor_w = h["correlated_hebbian_error"], h["correlated_widrow_hoff_error"]
    lines = [
        f"- exact: {h['criterion_exact']}.",
        f"- orthonormal keys (Q ≤ {D}): Hebbian max relative error {_f(h['orthonormal_max_hebbian_error'])} — exact.",
        f"- random keys in D = {D}: Hebbian exact only up to Q = {h['random_keys_hebbian_exact_up_to_Q']}; "
        f"Widrow–Hoff exact up to Q = {h['random_keys_widrow_hoff_exact_up_to_Q']} within the epoch cap.",
        f"- linearly independent correlated keys: Widrow–Hoff exact where Hebbian fails in "
        f"{h['independent_keys_where_hebbian_fails_and_widrow_hoff_exact']} of {h['correlated_settings']} settings "
        f"(up to {h['correlated_widrow_hoff_max_epochs']} epochs).",
        "",
        "| key correlation ρ | Hebbian error | Widrow–Hoff error |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {_f(cor_h[k])} | {_f(cor_w[k])} |" for k in sorted(cor_h, key=float)]
    return lines


def _md_hrr(h: dict[str, Any]) -> list[str]:
    fit = h["fit"]
    lines = [
        f"- variance: {h['criterion_variance']}.",
        f"- log–log fit over {fit['points']} (Q, S) points of the redundant memory: variance ∝ (Q−1)^{_f(fit['slope_Q'])} · "
        f"S^{_f(fit['slope_S'])}, constant {_f(fit['constant'])}, R² = {_f(fit['r2'], 4)} (eq. 2.51: exponents 1 and −1, constant 1).",
    ]
    for form, v in h.get("real_form_fit", {}).items():
        lines.append(f"- {form} (S = 1): variance ∝ (Q−1)^{_f(v['slope_Q'])}, constant {_f(v['constant'])}.")
    lines += [f"- cleanup: {h['criterion_cleanup']}; cleanup never lowers accuracy: {h['cleanup_raises_accuracy_everywhere']}.", "",
              "| S | Q | raw bit accuracy | after cleanup |", "|---|---|---|---|"]
    table = h["cleanup_raw_vs_cleaned_bit_accuracy_by_S_and_Q"]
    for S in sorted(table, key=float):
        for Q in sorted(table[S], key=float):
            raw, cl = table[S][Q]
            lines.append(f"| {S} | {Q} | {_f(raw)} | {_f(cl)} |")
    return lines


def _md_sdm(h: dict[str, Any]) -> list[str]:
    lines = [f"- capacity: {h['criterion_capacity']}.", f"- noise tolerance: {h['criterion_noise']}.",
             "- “< x” means already below 99% at the first grid point x, “> x” still above at the last.", "",
             "| memory | weights (counters) | pattern bits | items at 99% bits | items / pattern bit | cue noise tolerated |",
             "|---|---|---|---|---|---|"]
    for name, c in sorted(h["capacity"].items(), key=lambda kv: (kv[0].split()[0], kv[1]["weights"])):
        lines.append(f"| {name} | {c['weights']:,} | {c['pattern_bits']} | {_f(c['items_at_99pct_bits'], 1)} | "
                     f"{_f(c['items_per_pattern_bit'], 3)} | {_f(h['noise_tolerance'].get(name))} |")
    return lines


def _md_tpr(h: dict[str, Any]) -> list[str]:
    err = h["random_direct_error"]
    acc = h["random_direct_cleanup_accuracy"]
    lines = [f"- {h['criterion']}.",
             f"- orthonormal roles: max error {_f(h['orthonormal_max_error'])}, exact up to Q = {h['orthonormal_exact_up_to_Q']} = R.",
             f"- random roles with the dual basis: exact up to Q = {h['random_dual_exact_up_to_Q']}.", "",
             "| Q | random roles, u = r: error | cleanup accuracy |", "|---|---|---|"]
    lines += [f"| {q} | {_f(err[q])} | {_f(acc[q])} |" for q in sorted(err, key=float)]
    return lines


def _md_fast_weights(h: dict[str, Any]) -> list[str]:
    lines = [f"- {h['criterion']}.", "", "| decay λ | retrieval span (steps) |", "|---|---|"]
    lines += [f"| {lam} | {h['span'][lam]} |" for lam in sorted(h["span"], key=float, reverse=True)]
    return lines


SECTIONS: dict[str, tuple[str, Callable[[dict[str, Any]], list[str]]]] = {
    "hopfield": ("Hopfield network (eq. 2.22–2.25)", _md_hopfield),
    "cmm": ("Correlation matrix memory (eq. 2.52–2.55)", _md_cmm),
    "hrr": ("HRR and redundant associative memory (eq. 2.42–2.51)", _md_hrr),
    "sdm": ("Sparse distributed memory vs Hopfield (Alg. 2.1, eq. 2.64–2.66)", _md_sdm),
    "tpr": ("Tensor product representation (eq. 2.58–2.59)", _md_tpr),
    "fast-weights": ("Fast weights (eq. 2.56)", _md_fast_weights),
}


def render_summary(out_dir: str | Path) -> Path:
    """Write ``out_dir/README.md`` from the headline records of the experiments found there."""
    out_dir = Path(out_dir)
    lines = ["# Capacity experiments (seed 001 §2.3.1, §2.4.2–2.4.4)", "",
             "Rendered by `memlab.plots.capacity.render_summary` from the records in this folder; "
             "regenerate with `memlab capacity all` (or one memory at a time).", ""]
    for stem, (title, fn) in SECTIONS.items():
        path = out_dir / f"{stem}.jsonl"
        if not path.exists():
            continue
        recs = read_jsonl(path)
        h = _headline(recs)
        cfg = next((r for r in recs if r.get("kind") == "config"), {})
        if not h:
            continue
        lines += [f"## {title}", "", f"![{stem}]({stem}.png)", "",
                  f"`{stem}.jsonl` — commit {cfg.get('commit', '?')}, seed {cfg.get('seed', '?')}, "
                  f"{_f(cfg.get('seconds'), 1)} s on {cfg.get('threads', '?')} thread(s).", ""]
        lines += fn(h) + [""]
    return atomic_write_text(out_dir / "README.md", "\n".join(lines))


__all__ = ["FIGURES", "render_figure", "render_summary"] + [f"plot_{k.replace('-', '_')}" for k in FIGURES]
