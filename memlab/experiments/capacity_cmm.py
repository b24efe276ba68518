"""capacity-cmm: correlation matrix memory: Hebbian vs Widrow–Hoff recall with orthonormal, random
and correlated keys (seed 001 eq. 2.52–2.55).

One unit: the whole analysis (seconds to a minute on one core). Records:
``results/capacity/cmm.jsonl``; figure ``cmm.png``; the combined ``README.md`` is re-rendered
from every capacity experiment's records.

    memlab run capacity-cmm [--quick] [--set key_size=32 trials=4]
"""

from __future__ import annotations

from memlab.experiments._capacity import CapacityExperiment
from memlab.theory.capacity.config import CMMCapacityConfig


class CapacityCMM(CapacityExperiment):
    stem = "cmm"
    title = "correlation matrix memory: Hebbian vs Widrow–Hoff recall (seed 001 eq. 2.52–2.55)"
    config_cls = CMMCapacityConfig


EXPERIMENT = CapacityCMM()
