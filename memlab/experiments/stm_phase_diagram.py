"""Seed 003, Fig. 2: rMSE phase diagrams of a random linear RNN's short-term memory.

One unit = one network (one compression gamma, one trial) and every (panel, rho) recovery
problem it measures (:func:`memlab.theory.stm.phase.phase_unit`): sparse inputs by LASSO and
low-rank inputs by nuclear-norm minimisation, each with a low- and a high-coherence input basis.
Records go to ``results/stm/phase_records.jsonl``; the summary ``phase_summary.md`` (50%-success
transitions, Donoho-Tanner, coherence and noise-floor checks) and ``fig2_phase_diagram.png`` are
rendered from them. ``trials`` is not part of the config hash: more trials extend a finished run.

    memlab run stm-phase-diagram [--quick] [--set trials=40 gammas=0.1,0.25 …] [--jobs N]
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from memlab.experiments._records import NUMBER, check_records, malformed
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.experiments.runner import read_meta
from memlab.theory.stm.config import QUICK_PHASE, PhaseConfig


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "above grid" if x > 0 else "below grid"
    return f"{x:.3f}"


#: what a user can do about a corrupt meta file when a summary is rendered
FIX_META = "delete it (it holds the run times only) or rerun the experiment"


def phase_summary(cfg: PhaseConfig, checks: dict[str, Any], meta: dict[str, Any], records: list[dict]) -> str:
    """Markdown summary of the phase-diagram checks, from records (and the run times in ``meta``)."""
    from memlab.theory.stm.bounds import donoho_tanner

    inv = meta.get("invocations") or []
    lines = [
        "# Seed 003, Fig. 2: rMSE phase diagrams (memlab run stm-phase-diagram)",
        "",
        f"L={cfg.L}, N={cfg.N} (L N = {cfg.L * cfg.N}), {cfg.trials} trials per point, orthogonal W "
        f"(radius {cfg.spectral_radius}), noise_std {cfg.noise_std}, {len(records)} recovery problems. "
        f"Success: rMSE <= {cfg.success_rmse}. gamma grid {list(cfg.gammas)}.",
        "",
        f"Wall time {meta.get('wall_seconds_total', 0):.0f} s over {len(inv)} invocation(s); "
        f"worker CPU {meta.get('worker_cpu_seconds_total', 0):.0f} s "
        f"(1-min load average at the end of the last run: "
        f"{inv[-1].get('loadavg_1min', float('nan')) if inv else float('nan'):.1f}).",
        "",
        "## 50%-success transition rho_50 per gamma",
        "",
        "| gamma | " + " | ".join(sorted(checks["transitions"])) + " | Donoho-Tanner rho*(gamma) |",
        "|---|" + "---|" * (len(checks["transitions"]) + 1),
    ]
    for g in sorted({g for t in checks["transitions"].values() for g in t}):
        row = [_fmt(checks["transitions"][p].get(g, math.nan)) for p in sorted(checks["transitions"])]
        lines.append(f"| {g} | " + " | ".join(row) + f" | {_fmt(float(donoho_tanner(g)[0]))} |")
    lines += ["", "(above grid: every rho succeeded; below grid: the smallest rho on the grid already failed.)", "",
              "## Checks", ""]
    for d in checks["donoho_tanner"]:
        lines.append(f"- Donoho-Tanner, delta={d['delta']}: measured rho_50 = {_fmt(d['rho_measured'])}, "
                     f"asymptotic l1 curve rho* = {d['rho_dt']:.3f}")
    for kind, v in checks["coherence_lowers"].items():
        lines.append(f"- {kind}: high coherence (DCT in time) lowers rho_50 at {v['lower_at']} of {v['compared']} "
                     f"gammas (strictly lower everywhere: {v['strictly_lower']})")
    for p, v in checks["noise_floor"].items():
        lines.append(f"- {p}: median rMSE within 10x the oracle noise floor at {v['points']} of {v['of']} "
                     f"(gamma, rho) points with M < LN; smallest such gamma: {v['min_gamma']}")
    return "\n".join(lines) + "\n"


#: what every phase-diagram record holds (checked before a summary or figure is drawn from it)
PHASE_FIELDS = {"gamma_index": int, "trial": int, "panel": str, "gamma": NUMBER, "rho_nominal": NUMBER, "rmse": NUMBER,
                "floor": NUMBER, "M": int, "L": int, "N": int}


class StmPhaseDiagram(Experiment):
    name = "stm-phase-diagram"
    title = "seed 003 Fig. 2: rMSE phase diagrams over compression and complexity (sparse / low-rank inputs)"
    config_cls = PhaseConfig
    default_out = "results/stm"
    records_file = "phase_records.jsonl"
    record_fields = PHASE_FIELDS
    meta_file = "phase_meta.json"
    hash_exclude = ("trials",)
    summary_file = "phase_summary.md"
    figure_file = "fig2_phase_diagram.png"

    def quick_overrides(self) -> dict[str, Any]:
        return dict(QUICK_PHASE)

    def units(self, cfg: PhaseConfig) -> list[Unit]:
        # trial-major (a run stopped early still covers the grid), larger networks first in a trial
        return [Unit(f"g{gi}-t{t}", {"gamma_index": gi, "trial": t})
                for t in range(cfg.trials) for gi in reversed(range(len(cfg.gammas)))]

    def unit_key(self, record: dict[str, Any]) -> str:
        check_records([record], {"gamma_index": int, "trial": int}, self.records_file)
        return f"g{record['gamma_index']}-t{record['trial']}"

    def run_unit(self, cfg: PhaseConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        from memlab.theory.stm.phase import phase_unit

        return phase_unit(cfg, unit.params["gamma_index"], unit.params["trial"], ctx.device)

    def _records(self, cfg: PhaseConfig, records: list[dict], out_dir: Path) -> list[dict]:
        check_records(records, PHASE_FIELDS, str(Path(out_dir) / self.records_file))
        return [r for r in records if r["trial"] < cfg.trials]

    def summarise(self, cfg: PhaseConfig, records: list[dict], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text
        from memlab.theory.stm.phase import phase_checks

        records = self._records(cfg, records, out_dir)
        with malformed(str(Path(out_dir) / self.records_file)):
            checks = phase_checks(records, cfg)
            text = phase_summary(cfg, checks, read_meta(Path(out_dir) / self.meta_file, FIX_META), records)
        atomic_write_text(Path(out_dir) / self.summary_file, text)
        dt = {f"rho50_at_delta_{d['delta']}": d["rho_measured"] for d in checks["donoho_tanner"]}
        return dict(problems=len(records), summary=str(Path(out_dir) / self.summary_file), **dt,
                    high_coherence_lower={k: v["strictly_lower"] for k, v in checks["coherence_lowers"].items()},
                    noise_floor_points={k: v["points"] for k, v in checks["noise_floor"].items()})

    def plot(self, cfg: PhaseConfig, records: list[dict], out_dir: Path) -> list[Path]:
        from memlab.plots.stm import phase_diagram_figure
        from memlab.theory.stm.phase import phase_checks

        records = self._records(cfg, records, out_dir)
        if not records:
            return []
        with malformed(str(Path(out_dir) / self.records_file)):
            checks = phase_checks(records, cfg)
            return [phase_diagram_figure(
                records, Path(out_dir) / self.figure_file, transitions=checks["transitions"],
                title=f"L={cfg.L}, N={cfg.N}, {cfg.trials} trials/point, noise {cfg.noise_std}, "
                      f"success: rMSE <= {cfg.success_rmse}")]


EXPERIMENT = StmPhaseDiagram()
