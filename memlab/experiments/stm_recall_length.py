"""Seed 003, Fig. 3: recall length — recover the last r inputs of a long sparse stream.

One unit = one trial (one network driven by a T-step stream; LASSO recovery of the last r inputs
for every r in ``rs``, :func:`memlab.theory.stm.recall.recall_length_trial`). Records go to
``results/stm/recall_records.jsonl``; ``recall_summary.md`` (mean rMSE per r, the optimal r*)
and ``fig3_recall_length.png`` are rendered from them. ``trials`` is not part of the config hash.

    memlab run stm-recall-length [--quick] [--set trials=40 M=300 …] [--jobs N]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memlab.experiments._records import NUMBER, check_records, malformed
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.experiments.runner import read_meta
from memlab.experiments.stm_phase_diagram import FIX_META
from memlab.theory.stm.config import RecallConfig


def recall_table(records: list[dict]) -> tuple[list[int], dict[int, float]]:
    """The recall lengths r and the mean rMSE at each (NaN windows, all-zero inputs, skipped)."""
    import numpy as np

    rs = sorted({r["r"] for r in records})
    return rs, {r_: float(np.nanmean([x["rmse"] for x in records if x["r"] == r_])) for r_ in rs}


#: what every recall-length record holds (rmse is NaN for a window of all-zero inputs)
RECALL_FIELDS = {"trial": int, "r": int, "rmse": NUMBER}


class StmRecallLength(Experiment):
    name = "stm-recall-length"
    title = "seed 003 Fig. 3: rMSE against the recall length r on a long stream; the optimal r*"
    config_cls = RecallConfig
    default_out = "results/stm"
    records_file = "recall_records.jsonl"
    record_fields = RECALL_FIELDS
    meta_file = "recall_meta.json"
    hash_exclude = ("trials",)
    summary_file = "recall_summary.md"
    figure_file = "fig3_recall_length.png"

    def quick_overrides(self) -> dict[str, Any]:
        return dict(M=60, T=400, trials=3, rs=(2, 5, 10, 20, 40, 80, 160))

    def units(self, cfg: RecallConfig) -> list[Unit]:
        return [Unit(f"t{t}", {"trial": t}) for t in range(cfg.trials)]

    def unit_key(self, record: dict[str, Any]) -> str:
        check_records([record], {"trial": int}, self.records_file)
        return f"t{record['trial']}"

    def _records(self, cfg: RecallConfig, records: list[dict], out_dir: Path) -> list[dict]:
        check_records(records, RECALL_FIELDS, str(Path(out_dir) / self.records_file))
        return [r for r in records if r["trial"] < cfg.trials]

    def run_unit(self, cfg: RecallConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        from memlab.theory.stm.recall import recall_length_trial

        return recall_length_trial(cfg, unit.params["trial"], ctx.device)

    def summarise(self, cfg: RecallConfig, records: list[dict], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        records = self._records(cfg, records, out_dir)
        if not records:
            return {"problems": 0}
        with malformed(str(Path(out_dir) / self.records_file)):
            rs, mean = recall_table(records)
        r_opt = min(mean, key=mean.get)
        interior = rs[0] < r_opt < rs[-1]
        meta = read_meta(Path(out_dir) / self.meta_file, FIX_META)
        lines = ["# Seed 003, Fig. 3: recall length (memlab run stm-recall-length)", "",
                 f"M={cfg.M}, L={cfg.L}, stream length T={cfg.T}, density {cfg.density}, spectral radius "
                 f"{cfg.spectral_radius}, noise_std {cfg.noise_std}, {cfg.trials} trials.", "",
                 "| r | mean rMSE |", "|---|---|"]
        lines += [f"| {r_} | {mean[r_]:.4f} |" for r_ in rs]
        lines += ["", f"Optimal recall length r* = {r_opt} (interior optimum: {interior}). Wall time "
                  f"{meta.get('wall_seconds_total', 0):.0f} s, worker CPU {meta.get('worker_cpu_seconds_total', 0):.0f} s "
                  f"over {len(meta.get('invocations') or [])} invocation(s)."]
        atomic_write_text(Path(out_dir) / self.summary_file, "\n".join(lines) + "\n")
        return dict(problems=len(records), summary=str(Path(out_dir) / self.summary_file), r_opt=r_opt,
                    interior_optimum=interior, rmse_at_r_opt=mean[r_opt], rmse_at_r_min=mean[rs[0]],
                    rmse_at_r_max=mean[rs[-1]])

    def plot(self, cfg: RecallConfig, records: list[dict], out_dir: Path) -> list[Path]:
        from memlab.plots.stm import recall_length_figure

        records = self._records(cfg, records, out_dir)
        if not records:
            return []
        with malformed(str(Path(out_dir) / self.records_file)):
            return [recall_length_figure(
                records, Path(out_dir) / self.figure_file,
                title=f"M={cfg.M}, L={cfg.L}, density {cfg.density}, radius {cfg.spectral_radius}, {cfg.trials} trials")]


EXPERIMENT = StmRecallLength()
