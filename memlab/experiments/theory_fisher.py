"""theory-fisher: Fisher memory curves J(k) of linear networks (seed 001 eq. 2.27–2.28).

J(k) for orthogonal, symmetric and Gaussian networks, delay lines and amplifying chains, against
the closed forms (eq. 2.28 for normal W, Ganguli's delay line) and J_tot against N
(:func:`memlab.theory.fisher.fisher_experiment`). Was ``memlab theory fisher --N … --k-max …``.

    memlab run theory-fisher [--quick] [--set N=50 k_max=100 rho=0.95 eps=0.5]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab.experiments._records import NUMBER
from memlab.experiments._theory import TheoryExperiment, cell, fmt
from memlab.theory.checks import check_int, check_memory, check_number, check_seed


@dataclass
class FisherConfig:
    """N neurons; eps: noise variance; k_max: largest lag; rho: spectral radius of the random networks."""

    N: int = 20
    eps: float = 1.0
    k_max: int = 60
    rho: float = 0.9
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        check_int("N", self.N, 2)
        check_number("eps (noise variance)", self.eps, 0.0, lo_open=True)
        check_int("k_max", self.k_max, 1)
        check_number("rho (spectral radius)", self.rho, 0.0, 1.0, lo_open=True, hi_open=True)
        # the Lyapunov solves and Schur forms hold about ten N x N float64 matrices at once
        check_memory(f"N={self.N}", 8 * (10 * self.N**2 + 3 * (self.k_max + 1) * self.N), "use a smaller N")


class TheoryFisher(TheoryExperiment):
    name = "theory-fisher"
    title = "Fisher memory curves J(k) of linear networks against the closed forms (seed 001 eq. 2.27–2.28)"
    analysis = "fisher"
    config_cls = FisherConfig
    record_fields = {"kind": str, "family": str, "N": int, "J_total": NUMBER}
    record_kinds = ("curve", "total_vs_N")

    def quick_overrides(self) -> dict[str, Any]:
        return {"N": 6, "k_max": 12}

    def compute(self, cfg: FisherConfig, device: str) -> list[dict]:
        from memlab.theory.fisher import fisher_experiment

        return fisher_experiment(N=cfg.N, eps=cfg.eps, k_max=cfg.k_max, rho=cfg.rho, seed=cfg.seed)

    def headline(self, cfg: FisherConfig, records: list[dict]) -> dict[str, Any]:
        curves = [r for r in records if r.get("kind") == "curve"]
        diffs = [r["max_rel_diff_closed"] for r in curves if r["max_rel_diff_closed"] is not None]
        return {
            "J_total": {r["family"]: round(r["J_total"], 6) for r in curves},
            "prediction": {r["family"]: round(r["prediction"], 6) for r in curves if "prediction" in r},
            "max_rel_diff_closed_form": max(diffs) if diffs else None,
        }

    def section(self, records: list[dict]) -> list[str]:
        lines: list[str] = []
        r0 = records[0]
        lines += [f"## Fisher memory curve (`fisher.jsonl`, `fisher.png`; seed {r0.get('seed')}, commit {r0.get('commit')})", ""]
        lines += ["| network | normal | J_tot | prediction | closed form | max rel. diff |", "|---|---|---|---|---|---|"]
        for r in (r for r in records if r["kind"] == "curve"):
            pred = f"{fmt(r['prediction'])} ({cell(r['prediction_label'])})" if "prediction" in r else "—"
            lines.append(f"| {cell(r['family'])} | {r['normal']} | {fmt(r['J_total'], 6)} | {pred} | {r['closed_form'] or '—'} | {fmt(r['max_rel_diff_closed']) if r['max_rel_diff_closed'] is not None else '—'} |")
        tot = [r for r in records if r["kind"] == "total_vs_N"]
        if tot:
            lines += ["", "Delay lines / amplifying chains, J_tot versus N:", "", "| alpha | N | J_tot | H_N | N(1-alpha^-2) |", "|---|---|---|---|---|"]
            lines += [f"| {r['alpha']:g} | {r['N']} | {fmt(r['J_total'], 6)} | {fmt(r['harmonic_number'], 6)} | {fmt(r['N_one_minus_alpha_m2'], 6)} |" for r in tot]
        curves = [r for r in records if r["kind"] == "curve"]
        normal = [r["J_total"] for r in curves if r["normal"]]
        diffs = [r["max_rel_diff_closed"] for r in curves if r["max_rel_diff_closed"] is not None]
        lines += ["", "Findings (computed from the records):", ""]
        if normal:
            lines.append(f"- Normal networks: J_tot = {', '.join(f'{x:.10f}' for x in normal)} (theory: ‖v‖²/ε = 1).")
        if diffs:
            lines.append(f"- Closed forms (eq. 2.28 for normal W; Ganguli's delay-line formula) match the Lyapunov formula eq. 2.27 to {max(diffs):.1e} relative.")
        h = [abs(r["J_total"] - r["harmonic_number"]) for r in tot if r["alpha"] == 1]
        if h:
            lines.append(f"- Delay line (α = 1): J_tot = H_N for every N tested (max |J_tot − H_N| = {max(h):.1e}); it grows only like log N.")
        amp = [r for r in tot if r["alpha"] > 1]
        if amp:
            gap = [r["J_total"] - r["N_one_minus_alpha_m2"] for r in amp]
            below = all(r["J_total"] <= r["N"] + 1e-9 for r in amp)
            lines.append(f"- Amplifying chains: J_tot − N(1−α⁻²) stays in [{min(gap):.3f}, {max(gap):.3f}] while N grows to {max(r['N'] for r in amp)}, so J_tot ≈ N(1−α⁻²) → N; J_tot ≤ N always: {below}.")
        lines.append("")
        return lines

    def figure(self, records: list[dict], path: Path) -> Path:
        from memlab.plots.theory import plot_fisher

        return plot_fisher(records, path)


EXPERIMENT = TheoryFisher()
