"""Experiments: one file per reproduced table, figure or sweep, run by one runner.

``EXPERIMENTS`` maps each name (the file name with ``_`` → ``-``) to its module; the module is
imported only when the experiment is used, so listing names stays light. Each module holds
``EXPERIMENT``, an instance of :class:`memlab.experiments.base.Experiment`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from memlab.core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from memlab.experiments.base import Experiment

#: name -> module path (one line per experiment)
EXPERIMENTS: dict[str, str] = {
    "lantm-tables": "memlab.experiments.lantm_tables",
    "lantm-heads": "memlab.experiments.lantm_heads",
    "ntm-table": "memlab.experiments.ntm_table",
    "demo": "memlab.experiments.demo",
    "stm-phase-diagram": "memlab.experiments.stm_phase_diagram",
    "stm-recall-length": "memlab.experiments.stm_recall_length",
    "capacity-hopfield": "memlab.experiments.capacity_hopfield",
    "capacity-cmm": "memlab.experiments.capacity_cmm",
    "capacity-hrr": "memlab.experiments.capacity_hrr",
    "capacity-tpr": "memlab.experiments.capacity_tpr",
    "capacity-sdm": "memlab.experiments.capacity_sdm",
    "capacity-fast-weights": "memlab.experiments.capacity_fast_weights",
    "theory-fisher": "memlab.experiments.theory_fisher",
    "theory-linear-capacity": "memlab.experiments.theory_linear_capacity",
    "theory-gradients": "memlab.experiments.theory_gradients",
    "theory-saxe": "memlab.experiments.theory_saxe",
    "theory-profile": "memlab.experiments.theory_profile",
    "automata-suite": "memlab.experiments.automata_suite",
    "transduction": "memlab.experiments.transduction",
    "esn-capacity": "memlab.experiments.esn_capacity",
    "lsm-separation": "memlab.experiments.lsm_separation",
    "lsm-delayed-recall": "memlab.experiments.lsm_delayed_recall",
    "memn2n-babi": "memlab.experiments.memn2n_babi",
    "attention-seq2seq": "memlab.experiments.attention_seq2seq",
    "captioning": "memlab.experiments.captioning",
    "fast-weights-retrieval": "memlab.experiments.fast_weights_retrieval",
    "associative-lstm-noise": "memlab.experiments.associative_lstm_noise",
    "leaderboard": "memlab.experiments.leaderboard",
}


def get_experiment(name: str) -> "Experiment":
    """The experiment registered as ``name`` (one-line ConfigError naming the allowed ones)."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose one of {', '.join(sorted(EXPERIMENTS))}")
    return importlib.import_module(EXPERIMENTS[name]).EXPERIMENT
