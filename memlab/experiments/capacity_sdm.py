"""capacity-sdm: sparse distributed memory against Hopfield networks with equal weights: items and
cue noise (seed 001 eq. 2.64–2.66).

One unit: the whole analysis (seconds to a minute on one core). Records:
``results/capacity/sdm.jsonl``; figure ``sdm.png``; the combined ``README.md`` is re-rendered
from every capacity experiment's records.

    memlab run capacity-sdm [--quick] [--set address_size=128 locations=256,1024]
"""

from __future__ import annotations

from memlab.experiments._capacity import CapacityExperiment
from memlab.theory.capacity.config import SDMCapacityConfig


class CapacitySDM(CapacityExperiment):
    stem = "sdm"
    title = "sparse distributed memory vs Hopfield with equal weights (seed 001 eq. 2.64–2.66)"
    config_cls = SDMCapacityConfig


EXPERIMENT = CapacitySDM()
