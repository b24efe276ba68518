"""capacity-tpr: tensor product representation: unbinding with orthonormal and random roles as
fillers grow (seed 001 eq. 2.58–2.59).

One unit: the whole analysis (seconds to a minute on one core). Records:
``results/capacity/tpr.jsonl``; figure ``tpr.png``; the combined ``README.md`` is re-rendered
from every capacity experiment's records.

    memlab run capacity-tpr [--quick] [--set role_size=32 trials=4]
"""

from __future__ import annotations

from memlab.experiments._capacity import CapacityExperiment
from memlab.theory.capacity.config import TPRCapacityConfig


class CapacityTPR(CapacityExperiment):
    stem = "tpr"
    title = "tensor product representation: unbinding as fillers grow (seed 001 eq. 2.58–2.59)"
    config_cls = TPRCapacityConfig


EXPERIMENT = CapacityTPR()
