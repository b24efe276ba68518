"""capacity-hopfield: Hopfield network: one-step bit error and retrieval stability against the load
Q/N (seed 001 eq. 2.22–2.25).

One unit per network size N (the seeds depend on N and the load index only, so a unit equals the
same size inside a full run). Records: ``results/capacity/hopfield.jsonl``; figure
``hopfield.png``; the combined ``README.md`` is re-rendered from every capacity experiment's
records.

    memlab run capacity-hopfield [--quick] [--set sizes=100,250 max_sweeps=20]
"""

from __future__ import annotations

from typing import Any

from memlab.experiments._capacity import CapacityExperiment
from memlab.experiments.base import Unit
from memlab.theory.capacity.config import HopfieldCapacityConfig


class CapacityHopfield(CapacityExperiment):
    stem = "hopfield"
    title = "Hopfield network: bit error and retrieval stability vs load Q/N (seed 001 eq. 2.22–2.25)"
    config_cls = HopfieldCapacityConfig

    def units(self, cfg: HopfieldCapacityConfig) -> list[Unit]:
        return [Unit(f"N={N}", {"N": N}) for N in sorted(cfg.sizes, reverse=True)]  # slowest first

    def unit_key(self, record: dict[str, Any]) -> str:
        return f"N={record['N']}" if "N" in record else "legacy"  # old config/headline records: no unit

    def measure(self, cfg: HopfieldCapacityConfig, unit: Unit, device: str) -> list[dict[str, Any]]:
        from memlab.core.config import replace
        from memlab.theory.capacity import run_hopfield

        return run_hopfield(replace(cfg, sizes=(unit.params["N"],)), device=device)


EXPERIMENT = CapacityHopfield()
