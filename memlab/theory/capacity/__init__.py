"""Capacity analyses of the associative memories of seed 001 §2.3.1 and §2.4.2–2.4.4.

Each analysis is a typed config, a ``run_*(cfg) -> records`` function that measures (seeded),
and a ``summarize_*(records) -> headline`` that derives the headline figures from the records
only. No IO and no figures here: the experiments ``capacity-<name>`` (``memlab.experiments``)
store the records, render ``results/capacity/README.md`` and draw the figures.

Analyses (``ANALYSES``, one module each):
  hopfield      one-step bit error and retrieval stability vs load Q/N (eq. 2.22–2.25)
  cmm           Hebbian vs Widrow–Hoff recall error: orthonormal, random and correlated keys (2.52–2.55)
  hrr           retrieval noise variance vs Q and S with a log–log fit; cleanup accuracy (2.42–2.51)
  sdm           SDM vs Hopfield with equal numbers of weights: accuracy vs items and vs cue noise (2.64–2.66)
  tpr           unbinding error with orthonormal / random roles as fillers grow (2.58–2.59)
  fast-weights  read-back strength and retrieval vs age for decays λ (2.56)
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from memlab.theory.capacity.cmm import CMMCapacityConfig, run_cmm, summarize_cmm
from memlab.theory.capacity.common import crossing, crossing_or_bound, normal_cdf
from memlab.theory.capacity.fast_weights import FastWeightsCapacityConfig, run_fast_weights, summarize_fast_weights
from memlab.theory.capacity.hopfield import (
    HopfieldCapacityConfig, finite_size_fit, hopfield_bit_error_theory, hopfield_one_step_capacity_theory,
    run_hopfield, summarize_hopfield,
)
from memlab.theory.capacity.hrr import HRRCapacityConfig, fit_variance_law, run_hrr, summarize_hrr
from memlab.theory.capacity.sdm import SDMCapacityConfig, run_sdm, sdm_radius, summarize_sdm
from memlab.theory.capacity.tpr import TPRCapacityConfig, run_tpr, summarize_tpr


class CapacityAnalysis(NamedTuple):
    """One capacity analysis: its config class, measurement and headline functions."""

    config: type
    run: Callable[..., list[dict[str, Any]]]
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]]
    description: str


ANALYSES: dict[str, CapacityAnalysis] = {
    "hopfield": CapacityAnalysis(HopfieldCapacityConfig, run_hopfield, summarize_hopfield,
                                 "Hopfield: one-step bit error and retrieval stability vs load Q/N"),
    "cmm": CapacityAnalysis(CMMCapacityConfig, run_cmm, summarize_cmm,
                            "correlation matrix memory: Hebbian vs Widrow-Hoff, orthonormal/random/correlated keys"),
    "hrr": CapacityAnalysis(HRRCapacityConfig, run_hrr, summarize_hrr,
                            "HRR and redundant associative memory: noise variance vs Q and S, cleanup"),
    "sdm": CapacityAnalysis(SDMCapacityConfig, run_sdm, summarize_sdm,
                            "sparse distributed memory vs Hopfield with equal weights: items and cue noise"),
    "tpr": CapacityAnalysis(TPRCapacityConfig, run_tpr, summarize_tpr,
                            "tensor product representation: orthonormal vs random roles as fillers grow"),
    "fast-weights": CapacityAnalysis(FastWeightsCapacityConfig, run_fast_weights, summarize_fast_weights,
                                     "fast weights: read-back strength and retrieval vs age for decays"),
}

#: small settings for smoke tests (seconds)
QUICK: dict[str, dict[str, Any]] = {
    "hopfield": dict(sizes=(60,), loads=(0.05, 0.2, 0.4), stability_loads=(0.05, 0.3), bit_budget=20_000, state_budget=120, starts=4),
    "cmm": dict(key_size=16, value_size=4, pairs=8, pair_counts=(2, 8, 24), correlations=(0.0, 0.8), trials=2, epochs=20_000),
    "hrr": dict(size=64, pairs=(2, 8, 32), copies=(1, 4), trials=2, vocab=50, cleanup_pairs=(4, 16), cleanup_copies=(1, 4)),
    "sdm": dict(address_size=64, locations=(64, 512), hopfield_sizes=(64,), items=(4, 16, 64), noise_levels=(0.0, 0.2), noise_items=8, cues=16),
    "tpr": dict(role_size=16, filler_size=8, fillers=(2, 16, 32), trials=2, vocab=40),
    "fast-weights": dict(size=32, items=32, decays=(1.0, 0.8), trials=2),
}

__all__ = [
    "ANALYSES", "QUICK", "CapacityAnalysis", "CMMCapacityConfig", "FastWeightsCapacityConfig", "HRRCapacityConfig",
    "HopfieldCapacityConfig", "SDMCapacityConfig", "TPRCapacityConfig", "crossing", "crossing_or_bound",
    "finite_size_fit", "fit_variance_law", "hopfield_bit_error_theory", "hopfield_one_step_capacity_theory",
    "normal_cdf", "run_cmm", "run_fast_weights", "run_hopfield", "run_hrr", "run_sdm", "run_tpr", "sdm_radius",
    "summarize_cmm", "summarize_fast_weights", "summarize_hopfield", "summarize_hrr", "summarize_sdm", "summarize_tpr",
]
