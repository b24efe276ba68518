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

import importlib
from typing import Any, Callable, NamedTuple

#: public name -> submodule, imported on first use (``config`` needs no torch)
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("HopfieldCapacityConfig", "CMMCapacityConfig", "HRRCapacityConfig", "SDMCapacityConfig",
                     "TPRCapacityConfig", "FastWeightsCapacityConfig"), "config"),
    **dict.fromkeys(("crossing", "crossing_or_bound", "normal_cdf"), "common"),
    **dict.fromkeys(("run_hopfield", "summarize_hopfield", "finite_size_fit", "hopfield_bit_error_theory",
                     "hopfield_one_step_capacity_theory"), "hopfield"),
    **dict.fromkeys(("run_cmm", "summarize_cmm"), "cmm"),
    **dict.fromkeys(("run_hrr", "summarize_hrr", "fit_variance_law"), "hrr"),
    **dict.fromkeys(("run_sdm", "summarize_sdm", "sdm_radius"), "sdm"),
    **dict.fromkeys(("run_tpr", "summarize_tpr"), "tpr"),
    **dict.fromkeys(("run_fast_weights", "summarize_fast_weights"), "fast_weights"),
}


class CapacityAnalysis(NamedTuple):
    """One capacity analysis: its config class, measurement and headline functions."""

    config: type
    run: Callable[..., list[dict[str, Any]]]
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]]
    description: str


#: analysis -> (module, config class name, description)
_ANALYSES: dict[str, tuple[str, str, str]] = {
    "hopfield": ("hopfield", "HopfieldCapacityConfig", "Hopfield: one-step bit error and retrieval stability vs load Q/N"),
    "cmm": ("cmm", "CMMCapacityConfig",
            "correlation matrix memory: Hebbian vs Widrow-Hoff, orthonormal/random/correlated keys"),
    "hrr": ("hrr", "HRRCapacityConfig", "HRR and redundant associative memory: noise variance vs Q and S, cleanup"),
    "sdm": ("sdm", "SDMCapacityConfig", "sparse distributed memory vs Hopfield with equal weights: items and cue noise"),
    "tpr": ("tpr", "TPRCapacityConfig", "tensor product representation: orthonormal vs random roles as fillers grow"),
    "fast-weights": ("fast_weights", "FastWeightsCapacityConfig",
                     "fast weights: read-back strength and retrieval vs age for decays"),
}


def analysis(name: str) -> CapacityAnalysis:
    """The capacity analysis ``name`` (one of ``_ANALYSES``), its module imported now."""
    module, cfg, desc = _ANALYSES[name]
    mod = importlib.import_module(f"{__name__}.{module}")
    stem = module
    return CapacityAnalysis(getattr(importlib.import_module(f"{__name__}.config"), cfg), getattr(mod, f"run_{stem}"),
                            getattr(mod, f"summarize_{stem}"), desc)


#: small settings for smoke tests (seconds)
QUICK: dict[str, dict[str, Any]] = {
    "hopfield": dict(sizes=(60,), loads=(0.05, 0.2, 0.4), stability_loads=(0.05, 0.3), bit_budget=20_000, state_budget=120, starts=4),
    "cmm": dict(key_size=16, value_size=4, pairs=8, pair_counts=(2, 8, 24), correlations=(0.0, 0.8), trials=2, epochs=20_000),
    "hrr": dict(size=64, pairs=(2, 8, 32), copies=(1, 4), trials=2, vocab=50, cleanup_pairs=(4, 16), cleanup_copies=(1, 4)),
    "sdm": dict(address_size=64, locations=(64, 512), hopfield_sizes=(64,), items=(4, 16, 64), noise_levels=(0.0, 0.2), noise_items=8, cues=16),
    "tpr": dict(role_size=16, filler_size=8, fillers=(2, 16, 32), trials=2, vocab=40),
    "fast-weights": dict(size=32, items=32, decays=(1.0, 0.8), trials=2),
}

__all__ = sorted(set(_EXPORTS) | {"ANALYSES", "QUICK", "CapacityAnalysis", "analysis"})


def __getattr__(name: str) -> Any:
    if name == "ANALYSES":
        return {n: analysis(n) for n in _ANALYSES}
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
