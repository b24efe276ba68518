"""theory-gradients: gradient flow ||ds_T/ds_{T-q}|| in Elman, LSTM and NTM cores (seed 001 eq. 2.35–2.36).

Geometric mean over a batch of random input sequences of the Jacobian norms back q steps, with
the bound (f'_max ||W||)^q for Elman cores (:func:`memlab.theory.gradients.gradients_experiment`).
Was ``memlab theory gradients --hidden … --q-max …``.

    memlab run theory-gradients [--quick] [--set hidden=64 T=200 q_max=150 batch=16]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab.core.errors import ConfigError
from memlab.experiments._theory import TheoryExperiment, cell, fmt
from memlab.theory.checks import check_int, check_memory, check_seed


@dataclass
class GradientsConfig:
    """hidden units, sequence length T, largest lag q_max (<= T), batch of random input sequences."""

    hidden: int = 32
    T: int = 100
    q_max: int = 60
    batch: int = 8
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        check_int("hidden", self.hidden, 1)
        check_int("T", self.T, 1)
        check_int("q_max", self.q_max, 1)
        check_int("batch", self.batch, 1)
        if self.q_max > self.T:
            raise ConfigError(f"q_max={self.q_max} lags go beyond the simulated length T={self.T}; allowed: q_max <= T")
        # per core: step Jacobians (T, B, S, S) and their products (q_max, B, S, S), S <= 2 hidden (LSTM)
        S = 2 * self.hidden
        check_memory(f"hidden={self.hidden}, T={self.T}, batch={self.batch}",
                     8 * 3 * (self.T + self.q_max) * self.batch * S * S, "use smaller sizes")


class TheoryGradients(TheoryExperiment):
    name = "theory-gradients"
    title = "gradient flow ||ds_T/ds_{T-q}|| in Elman, LSTM and NTM cores against (f'_max ||W||)^q"
    analysis = "gradients"
    config_cls = GradientsConfig
    record_fields = {"core": str, "label": str}

    def quick_overrides(self) -> dict[str, Any]:
        return {"hidden": 4, "T": 12, "q_max": 10, "batch": 2}

    def compute(self, cfg: GradientsConfig, device: str) -> list[dict]:
        from memlab.core.runtime import resolve_device
        from memlab.theory.gradients import gradients_experiment

        return gradients_experiment(hidden=cfg.hidden, T=cfg.T, q_max=cfg.q_max, batch=cfg.batch, seed=cfg.seed,
                                    device=resolve_device(device))

    def headline(self, cfg: GradientsConfig, records: list[dict]) -> dict[str, Any]:
        return {
            "q_max": cfg.q_max,
            "norm_at_q_max": {r["label"]: float(f"{r['norm_geomean'][-1]:.4g}") for r in records if "norm_geomean" in r},
            "elman_within_bound": all(r["within_bound"] for r in records if str(r.get("core", "")).startswith("elman")),
            "skipped": {r["label"]: r["error"] for r in records if r.get("kind") == "skipped"},
        }

    def section(self, records: list[dict]) -> list[str]:
        lines: list[str] = []
        r0 = records[0]
        q = r0["q"]
        pick = [i for i in (0, 9, 29, len(q) - 1) if i < len(q)]
        lines += [f"## Gradient flow (`gradients.jsonl`, `gradients.png`; seed {r0.get('seed')})", ""]
        lines += ["Geometric mean over the batch of ‖∂s_T/∂s_{T-q}‖₂; for Elman also the bound (f'_max‖W‖₂)^q of eq. 2.35–2.36.", ""]
        lines += ["| core | " + " | ".join(f"q={q[i]}" for i in pick) + f" | bound at q={q[-1]} | within bound |", "|---|" + "---|" * (len(pick) + 2)]
        for r in records:
            if "norm_geomean" not in r:
                continue
            b = fmt(r["bound_norm"][-1], 3) if "bound_norm" in r else "—"
            wb = str(r["within_bound"]) if "within_bound" in r else "—"
            lines.append(f"| {cell(r['label'])} | " + " | ".join(fmt(r["norm_geomean"][i], 3) for i in pick) + f" | {b} | {wb} |")
        el = [r for r in records if "within_bound" in r]
        cec = [r for r in records if r["core"] == "lstm" and "no forget" in r["label"] and r["block"].startswith("cell")]
        f0 = [r for r in records if r["core"] == "lstm" and "forget bias 0" in r["label"] and r["block"].startswith("cell")]
        lines += ["", "Findings (computed from the records):", ""]
        if el:
            lines.append(f"- Every measured Elman Jacobian norm lies below (f'_max‖W‖₂)^q: {all(r['within_bound'] for r in el)}.")
            on = [r["label"] for r in el if r["core"] == "elman_linear" and max(abs(a / b - 1) for a, b in zip(r["norm_geomean"], r["bound_norm"])) < 1e-4]
            if on:
                lines.append(f"- On the bound (within 1e-4 relative at every q): {', '.join(on)} (orthogonal W, f' ≡ 1).")
            regime = {"vanishing (< 1e-2)": [], "exploding (> 1e2)": [], "neither": []}
            for r in el:
                v = r["norm_geomean"][-1]
                regime["vanishing (< 1e-2)" if v < 1e-2 else "exploding (> 1e2)" if v > 1e2 else "neither"].append(f"{r['label']} ({v:.2g})")
            lines.append(f"- At q = {q[-1]}: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in regime.items() if v) + ".")
        if cec and f0:
            lines.append(f"- LSTM cell c→c at q = {q[-1]}: {cec[0]['norm_geomean'][-1]:.3g} without a forget gate (constant error carousel) versus {f0[0]['norm_geomean'][-1]:.3g} with forget bias 0.")
        ntm = [r for r in records if r["core"] == "ntm" and "norm_geomean" in r and r["block"].startswith("memory")]
        if ntm:
            lines.append(f"- Untrained NTM, memory block M→M at q = {q[-1]}: {ntm[0]['norm_geomean'][-1]:.3g} (tanh Elman with ‖W‖ = 1: {next((r['norm_geomean'][-1] for r in el if r['core'] == 'elman_tanh' and r['w_scale'] == 1.0), float('nan')):.3g}).")
        for r in (r for r in records if r.get("kind") == "skipped"):
            lines.append(f"- {r['label']} skipped: {cell(r['error'])}")
        lines.append("")
        return lines

    def figure(self, records: list[dict], path: Path) -> Path:
        from memlab.plots.theory import plot_gradients

        return plot_gradients(records, path)


EXPERIMENT = TheoryGradients()
