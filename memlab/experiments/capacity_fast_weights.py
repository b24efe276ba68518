"""capacity-fast-weights: fast weights: read-back strength and retrieval against the age of an item
for decays λ (seed 001 eq. 2.56).

One unit: the whole analysis (seconds to a minute on one core). Records:
``results/capacity/fast-weights.jsonl``; figure ``fast-weights.png``; the combined ``README.md``
is re-rendered from every capacity experiment's records.

    memlab run capacity-fast-weights [--quick] [--set decays=1,0.9 items=128]
"""

from __future__ import annotations

from memlab.experiments._capacity import CapacityExperiment
from memlab.theory.capacity.config import FastWeightsCapacityConfig


class CapacityFastWeights(CapacityExperiment):
    stem = "fast-weights"
    title = "fast weights: retrieval vs the age of an item for decays λ (seed 001 eq. 2.56)"
    config_cls = FastWeightsCapacityConfig


EXPERIMENT = CapacityFastWeights()
