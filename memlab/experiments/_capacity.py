"""Shared by the six ``capacity-*`` experiments: the base class and ``results/capacity/README.md``.

Each capacity experiment (seed 001 §2.3.1, §2.4.2–2.4.4) writes ``<stem>.jsonl`` under
``results/capacity`` (point records; records from before the runner also hold one config and one
headline record), draws ``<stem>.png`` and re-renders the combined ``README.md`` from the records
of every capacity experiment found in the folder. The headline figures are recomputed from the
point records by the analysis' ``summarize_*`` (``memlab.theory.capacity``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from memlab.core.errors import MemlabError
from memlab.experiments._records import check_records, malformed
from memlab.experiments.base import Experiment, RunContext, Unit

Records = list[dict[str, Any]]


# ----------------------------------------------------------------------------- markdown, one section per memory
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


#: record kinds: measurements, and the config/headline records files from before the runner hold
KINDS = ("point", "config", "headline")


def points(records: Records) -> Records:
    return [r for r in records if r.get("kind") == "point"]


def checked(records: Records, where: str) -> Records:
    """``records`` if each has a known ``kind`` and each point its ``part``, else MemlabError."""
    check_records(records, {"kind": str}, where)
    bad = next((i for i, r in enumerate(records, 1) if r["kind"] not in KINDS), None)
    if bad is not None:
        raise MemlabError(f"{where}: record {bad} has kind={records[bad - 1]['kind']!r}; allowed: {', '.join(KINDS)}")
    return check_records(records, {"part": str}, where, when=lambda r: r["kind"] == "point")


def headline(stem: str, records: Records) -> dict[str, Any]:
    """The headline figures of capacity-``stem`` from its point records."""
    from memlab.theory.capacity import analysis

    return analysis(stem).summarize(points(records))


def _provenance_line(stem: str, records: Records) -> str:
    """Where the records come from: the config record of a pre-runner file, else the runner's fields."""
    cfg = next((r for r in records if r.get("kind") == "config"), None)
    if cfg is not None:
        return (f"`{stem}.jsonl` — commit {cfg.get('commit', '?')}, seed {cfg.get('seed', '?')}, "
                f"{_f(cfg.get('seconds'), 1)} s on {cfg.get('threads', '?')} thread(s).")
    pts = points(records)
    units = {r.get("unit"): r.get("unit_wall_s", 0.0) for r in pts}
    commit = pts[0].get("commit", "?") if pts else "?"
    return (f"`{stem}.jsonl` — commit {commit}, seed {pts[0].get('seed', '?') if pts else '?'}, "
            f"{_f(float(sum(units.values())), 1)} s of unit wall time over {len(units)} unit(s).")


def _records_of(out_dir: Path, stem: str) -> Records:
    """The records of capacity-``stem`` under ``out_dir`` (those of the configuration in its meta file)."""
    import json

    from memlab.core.io import read_jsonl

    recs = read_jsonl(out_dir / f"{stem}.jsonl")
    try:
        chash = json.loads((out_dir / f"{stem}.meta.json").read_text()).get("config_hash")
    except (OSError, ValueError, AttributeError):
        chash = None
    return [r for r in recs if isinstance(r, dict) and (chash is None or r.get("config_hash", chash) == chash)]


def render_readme(out_dir: str | Path) -> Path:
    """Write ``out_dir/README.md`` from the records of every capacity experiment found there."""
    from memlab.core.io import atomic_write_text

    out_dir = Path(out_dir)
    lines = ["# Capacity experiments (seed 001 §2.3.1, §2.4.2–2.4.4)", "",
             "Rendered from the records in this folder by `memlab table capacity-<memory>` (any one renders "
             "every section); regenerate a memory with `memlab run capacity-<memory>`.", ""]
    for stem, (title, fn) in SECTIONS.items():
        if not (out_dir / f"{stem}.jsonl").exists():
            continue
        where = str(out_dir / f"{stem}.jsonl")
        recs = checked(_records_of(out_dir, stem), where)
        if not points(recs):
            continue
        with malformed(where):
            lines += [f"## {title}", "", f"![{stem}]({stem}.png)", "", _provenance_line(stem, recs), ""]
            lines += fn(headline(stem, recs)) + [""]
    return atomic_write_text(out_dir / "README.md", "\n".join(lines))


# ----------------------------------------------------------------------------- the experiment
class CapacityExperiment(Experiment):
    """One capacity analysis as an experiment: one unit (``all``) unless a subclass splits it.

    Subclasses set ``stem`` (the analysis, e.g. ``"cmm"``) and ``config_cls``; the name is
    ``capacity-<stem>``, the records ``results/capacity/<stem>.jsonl``.
    """

    stem: str = ""
    default_out = "results/capacity"
    record_fields = {"kind": str}  # the rest per kind: checked in summarise (``checked_records``)

    def __init__(self) -> None:
        self.name = f"capacity-{self.stem}"
        self.records_file = f"{self.stem}.jsonl"
        self.meta_file = f"{self.stem}.meta.json"

    def quick_overrides(self) -> dict[str, Any]:
        from memlab.theory.capacity import QUICK

        return dict(QUICK[self.stem])

    def units(self, cfg: Any) -> list[Unit]:
        return [Unit("all", {})]

    def unit_key(self, record: dict[str, Any]) -> str:
        return "all"  # records from before the runner carry no unit: the whole analysis is one

    def measure(self, cfg: Any, unit: Unit, device: str) -> Records:
        from memlab.theory.capacity import analysis

        return analysis(self.stem).run(cfg, progress=False, device=device)

    def run_unit(self, cfg: Any, unit: Unit, ctx: RunContext) -> Records:
        import torch

        torch.manual_seed(cfg.seed)
        return self.measure(cfg, unit, ctx.device)

    def summarise(self, cfg: Any, records: Records, out_dir: Path) -> dict[str, Any]:
        where = str(Path(out_dir) / self.records_file)
        if not points(checked(records, where)):
            return {}
        with malformed(where):
            head = headline(self.stem, records)
        head["summary"] = str(render_readme(out_dir))
        return head

    def plot(self, cfg: Any, records: Records, out_dir: Path) -> list[Path]:
        from memlab.plots.capacity import FIGURES

        where = str(Path(out_dir) / self.records_file)
        if not points(checked(records, where)):
            return []
        with malformed(where):
            return [FIGURES[self.stem](records, Path(out_dir) / f"{self.stem}.png")]
