"""capacity-hrr: HRR and the redundant associative memory: noise variance against Q and S, cleanup
(seed 001 eq. 2.42–2.51).

One unit: the whole analysis (seconds to a minute on one core). Records:
``results/capacity/hrr.jsonl``; figure ``hrr.png``; the combined ``README.md`` is re-rendered
from every capacity experiment's records.

    memlab run capacity-hrr [--quick] [--set size=256 copies=1,2,4]
"""

from __future__ import annotations

from memlab.experiments._capacity import CapacityExperiment
from memlab.theory.capacity.config import HRRCapacityConfig


class CapacityHRR(CapacityExperiment):
    stem = "hrr"
    title = "HRR / redundant memory: noise variance vs Q and S, cleanup (seed 001 eq. 2.42–2.51)"
    config_cls = HRRCapacityConfig


EXPERIMENT = CapacityHRR()
