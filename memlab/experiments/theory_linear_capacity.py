"""theory-linear-capacity: linear memory capacity MC = sum_k r^2(k) of reservoirs (seed 001).

Closed form against held-out regression for a generic and an orthogonal linear network, the
finite-sample bias of the in-sample estimate, and tanh reservoirs over spectral radius and input
scale (:func:`memlab.theory.memory_capacity.capacity_experiment`). Was ``memlab theory capacity``
(renamed: ``capacity-*`` are the associative-memory experiments).

    memlab run theory-linear-capacity [--quick] [--set N=30 T=40000 tanh_N=100]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab.core.errors import ConfigError
from memlab.experiments._records import NUMBER
from memlab.experiments._theory import TheoryExperiment, fmt
from memlab.theory.checks import check_int, check_memory, check_number, check_numbers, check_seed


@dataclass
class LinearCapacityConfig:
    """N, rho: the linear networks; k_max: largest lag K; T: simulated steps (half train, half test);
    n_trains: training sizes of the finite-sample study; tanh_*: the tanh reservoirs."""

    N: int = 20
    rho: float = 0.9
    k_max: int = 60
    T: int = 20000
    n_trains: tuple[int, ...] = (100, 200, 500, 1000, 2000, 5000, 10000)
    tanh_N: int = 50
    tanh_rhos: tuple[float, ...] = (0.3, 0.6, 0.8, 0.9, 0.95, 1.0, 1.1, 1.3)
    tanh_scales: tuple[float, ...] = (0.1, 1.0)
    tanh_T: int = 6000
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        check_int("N", self.N, 1)
        check_number("rho (spectral radius)", self.rho, 0.0, 1.0, lo_open=True, hi_open=True)
        check_int("k_max", self.k_max, 0)
        check_int("T", self.T, 1)
        check_int("tanh_N", self.tanh_N, 1)
        check_int("tanh_T", self.tanh_T, 1)
        check_numbers("n_trains", self.n_trains, 2, integer=True)
        check_numbers("tanh_rhos", self.tanh_rhos, 0.0, lo_open=True)
        check_numbers("tanh_scales", self.tanh_scales, 0.0, lo_open=True)
        for name, T in (("T", self.T), ("tanh_T", self.tanh_T)):
            if T // 2 < self.k_max + 4:
                raise ConfigError(f"{name}={T} is too short for k_max={self.k_max} lags; allowed: {name} >= {2 * (self.k_max + 4)}")
        # states (T, N) and the lagged targets (T, k_max + 1), a few copies each, for every simulation
        steps = max(self.T, max(self.n_trains) + 5000 + self.k_max, self.tanh_T)
        check_memory(f"T={self.T}, N={self.N}, tanh_N={self.tanh_N}, k_max={self.k_max}",
                     8 * 4 * steps * (max(self.N, self.tanh_N) + self.k_max + 1) + 8 * 10 * max(self.N, self.tanh_N) ** 2,
                     "use smaller sizes")


class TheoryLinearCapacity(TheoryExperiment):
    name = "theory-linear-capacity"
    title = "linear memory capacity MC = sum_k r²(k): closed form, regression, finite-sample bias, tanh reservoirs"
    analysis = "linear_capacity"
    config_cls = LinearCapacityConfig
    record_fields = {"kind": str, "N": int, "rho": NUMBER, "MC_test": NUMBER}
    record_kinds = ("linear", "finite_sample", "tanh")

    def quick_overrides(self) -> dict[str, Any]:
        return {"N": 6, "k_max": 12, "T": 800, "n_trains": (50, 200), "tanh_N": 8, "tanh_rhos": (0.5, 1.0),
                "tanh_scales": (1.0,), "tanh_T": 600}

    def compute(self, cfg: LinearCapacityConfig, device: str) -> list[dict]:
        from memlab.theory.memory_capacity import capacity_experiment

        return capacity_experiment(N=cfg.N, rho=cfg.rho, k_max=cfg.k_max, T=cfg.T, n_trains=cfg.n_trains,
                                   tanh_N=cfg.tanh_N, tanh_rhos=cfg.tanh_rhos, tanh_scales=cfg.tanh_scales,
                                   tanh_T=cfg.tanh_T, seed=cfg.seed)

    def headline(self, cfg: LinearCapacityConfig, records: list[dict]) -> dict[str, Any]:
        lin = {r["network"]: r for r in records if r.get("kind") == "linear"}
        fs = sorted((r for r in records if r.get("kind") == "finite_sample"), key=lambda r: r["n_train"])
        tanh = max((r for r in records if r.get("kind") == "tanh"), key=lambda r: r["MC_test"], default=None)
        return {
            "N": cfg.N,
            "MC_closed_infinite": {k: round(r["MC_closed_infinite"], 6) for k, r in lin.items()},
            "MC_regression_held_out": {k: round(r["MC_test"], 3) for k, r in lin.items()},
            "in_sample_bias_at_n_train": {r["n_train"]: round(r["MC_train"] - r["MC_closed_kmax"], 3) for r in fs},
            "tanh_best": None if tanh is None else {"N": tanh["N"], "rho": tanh["rho"], "input_scale": tanh["input_scale"],
                                                    "MC": round(tanh["MC_test"], 3)},
        }

    def section(self, records: list[dict]) -> list[str]:
        import numpy as np

        lines: list[str] = []
        r0 = records[0]
        lines += [f"## Linear memory capacity (`linear_capacity.jsonl`, `linear_capacity.png`; seed {r0.get('seed')})", ""]
        lines += ["| network | N | rho | MC closed form (all lags) | MC closed form (k ≤ K) | MC regression in-sample | MC regression held-out |", "|---|---|---|---|---|---|---|"]
        for r in (r for r in records if r["kind"] == "linear"):
            lines.append(f"| linear {r['network']} | {r['N']} | {r['rho']} | {fmt(r['MC_closed_infinite'], 6)} | {fmt(r['MC_closed_kmax'], 6)} | {fmt(r['MC_train'])} | {fmt(r['MC_test'])} |")
        fs = [r for r in records if r["kind"] == "finite_sample"]
        if fs:
            lines += ["", f"Finite-sample bias (linear gaussian, lags 0..{fs[0]['k_max']}):", "", "| n_train | MC in-sample | MC held-out | closed form | predicted in-sample bias |", "|---|---|---|---|---|"]
            lines += [f"| {r['n_train']} | {fmt(r['MC_train'])} | {fmt(r['MC_test'])} | {fmt(r['MC_closed_kmax'])} | +{fmt(r['bias_prediction'], 3)} |" for r in fs]
        th = [r for r in records if r["kind"] == "tanh"]
        if th:
            lines += ["", f"tanh reservoirs (N={th[0]['N']}), held-out MC:", "", "| rho | " + " | ".join(f"input scale {s:g}" for s in dict.fromkeys(r["input_scale"] for r in th)) + " |"]
            scales = list(dict.fromkeys(r["input_scale"] for r in th))
            lines.append("|---|" + "---|" * len(scales))
            for rho in dict.fromkeys(r["rho"] for r in th):
                cells = [next((fmt(r["MC_test"]) for r in th if r["rho"] == rho and r["input_scale"] == s), "—") for s in scales]
                lines.append(f"| {rho:g} | " + " | ".join(cells) + " |")
        lin = [r for r in records if r["kind"] == "linear"]
        lines += ["", "Findings (computed from the records):", ""]
        for r in lin:
            lines.append(f"- Linear {r['network']} network, N = {r['N']}: closed-form MC over all lags = {r['MC_closed_infinite']:.6f} (theory: N); held-out regression on {r['T'] // 2} samples gives {r['MC_test']:.3f}.")
        if fs:
            lo = fs[0]
            hi = fs[-1]
            lines.append(f"- Finite-sample bias: with {lo['n_train']} training samples the in-sample estimate is {lo['MC_train']:.2f} (+{lo['MC_train'] - lo['MC_closed_kmax']:.2f} over the closed form; predicted ≈ +{lo['bias_prediction']:.2f}) and the held-out one {lo['MC_test']:.2f}; with {hi['n_train']} they are {hi['MC_train']:.2f} and {hi['MC_test']:.2f} (closed form {hi['MC_closed_kmax']:.2f}).")
        if th:
            best = max(th, key=lambda r: r["MC_test"])
            mean_by_scale = {sc: np.mean([r["MC_test"] for r in th if r["input_scale"] == sc]) for sc in dict.fromkeys(r["input_scale"] for r in th)}
            lines.append(f"- tanh reservoirs: best MC {best['MC_test']:.2f} of N = {best['N']} at ρ = {best['rho']:g}, input scale {best['input_scale']:g}; mean MC over ρ by input scale: " + ", ".join(f"{sc:g} → {m:.2f}" for sc, m in mean_by_scale.items()) + ".")
        lines.append("")
        return lines

    def figure(self, records: list[dict], path: Path) -> Path:
        from memlab.plots.theory import plot_capacity

        return plot_capacity(records, path)


EXPERIMENT = TheoryLinearCapacity()
