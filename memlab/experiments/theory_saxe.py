"""theory-saxe: learning dynamics of a deep linear network (seed 001 eq. 2.12–2.18, Saxe et al.).

Full-batch gradient descent on hierarchically structured items from a decoupled small start
(where eq. 2.18 is exact up to O(lr)) and from small random weights: mode strengths a(t) against
the closed form, and MDS of the hidden representations (:func:`memlab.theory.saxe.saxe_records`).
Was ``memlab theory saxe --depth … --lr …``.

    memlab run theory-saxe [--quick] [--set depth=4 lr=0.001 t_max=20]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab.core.errors import ConfigError
from memlab.experiments._records import NUMBER
from memlab.experiments._theory import TheoryExperiment, fmt
from memlab.theory.checks import check_int, check_number, check_seed

#: gradient-descent steps t_max / lr at most (a tiny lr would otherwise loop for hours)
MAX_STEPS = 10_000_000


@dataclass
class SaxeConfig:
    """depth: levels of the item hierarchy (2^depth items); lr: step (tau = 1/lr); t_max: training time
    in units of tau; a0: initial mode strength of the decoupled start."""

    depth: int = 3
    lr: float = 0.002
    t_max: float = 14.0
    a0: float = 1e-3
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        check_int("depth", self.depth, 1, 10)
        check_number("lr", self.lr, 0.0, 1.0, lo_open=True)
        check_number("t_max", self.t_max, 0.0, lo_open=True)
        check_number("a0", self.a0, 0.0, lo_open=True)
        if self.t_max / self.lr > MAX_STEPS:
            raise ConfigError(f"t_max/lr = {self.t_max / self.lr:.3g} gradient steps; allowed: at most {MAX_STEPS:,} "
                              "(raise lr or lower t_max)")


class TheorySaxe(TheoryExperiment):
    name = "theory-saxe"
    title = "deep linear network learning dynamics: mode strengths against eq. 2.18, MDS of the hidden layer"
    analysis = "saxe"
    config_cls = SaxeConfig
    record_fields = {"init": str, "depth": int, "lr": NUMBER, "steps": int, "s": list, "t": list, "a_sim": list, "max_rel_dev": NUMBER}

    def quick_overrides(self) -> dict[str, Any]:
        return {"depth": 2, "lr": 0.01, "t_max": 10.0}

    def compute(self, cfg: SaxeConfig, device: str) -> list[dict]:
        from memlab.theory.saxe import saxe_records

        return saxe_records(depth=cfg.depth, lr=cfg.lr, t_max=cfg.t_max, a0=cfg.a0, seed=cfg.seed)

    def headline(self, cfg: SaxeConfig, records: list[dict]) -> dict[str, Any]:
        return ({f"max_rel_dev_{r['init']}": round(r["max_rel_dev"], 5) for r in records}
                | {"singular_values": [round(s, 4) for s in records[0]["s"]]})

    def section(self, records: list[dict]) -> list[str]:
        import numpy as np

        lines: list[str] = []
        lines += [f"## Deep linear network learning dynamics (`saxe.jsonl`, `saxe.png`; seed {records[0].get('seed')})", ""]
        lines += ["| start | depth | lr | steps | singular values s | max over t, α of \\|a_sim − a_eq2.18\\| / s_α |", "|---|---|---|---|---|---|"]
        for r in records:
            note = " (a(0) fitted per mode)" if r["init"] == "random" else ""
            lines.append(f"| {r['init']}{note} | {r['depth']} | {r['lr']} | {r['steps']} | {', '.join(fmt(s, 3) for s in dict.fromkeys(round(s, 6) for s in r['s']))} | {r['max_rel_dev']:.3%} |")
        dec = next((r for r in records if r["init"] == "decoupled"), None)
        if dec:
            t, a, sv = np.array(dec["t"]), np.array(dec["a_sim"]), np.array(dec["s"])
            half = {round(float(x), 4): float(t[np.argmax(a[:, j] >= x / 2)]) if np.any(a[:, j] >= x / 2) else float("inf") for j, x in enumerate(sv)}
            lines += ["", f"Findings: from a decoupled small start, simulated gradient descent and eq. 2.18 agree to {dec['max_rel_dev']:.2%} of s_α (target ≤ 2%: {'met' if dec['max_rel_dev'] <= 0.02 else 'NOT met'}). Time (t/τ) for each mode to reach s_α/2: " + ", ".join(f"s = {k:g}: {v:.2f}" for k, v in sorted(half.items(), reverse=True)) + "."]
        lines.append("")
        return lines

    def figure(self, records: list[dict], path: Path) -> Path:
        from memlab.plots.theory import plot_saxe

        return plot_saxe(records, path)


EXPERIMENT = TheorySaxe()
