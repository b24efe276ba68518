"""Typed configs of the capacity analyses (no torch here, so listing or validating stays fast)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from memlab.core.errors import ConfigError
from memlab.theory.checks import check_memory, check_number, check_numbers, check_seed


#: loop bounds (a larger value would only run longer: both loops stop early when they converge)
MAX_SWEEPS = 10_000
MAX_EPOCHS = 10_000_000
#: counts that are capped where they are used (min(Q, starts), min(Q, cues)) or only set a ratio
MAX_COUNT = 1_000_000


def _check_positive_tuple(name: str, values, integer: bool = True) -> None:
    if not values:
        raise ConfigError(f"{name} is empty; allowed: a non-empty list of positive numbers")
    for v in values:
        check_number(name, v, 0, lo_open=True)
        if integer and int(v) != v:
            raise ConfigError(f"{name} contains {v!r}; allowed: positive integers")


@dataclass
class HopfieldCapacityConfig:
    """Hopfield capacity vs load α = Q/N (eq. 2.22–2.25)."""

    sizes: tuple[int, ...] = (100, 250, 500, 1000)
    #: loads for the one-step crosstalk measurement (cheap: one synchronous update)
    loads: tuple[float, ...] = (
        0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.15, 0.16, 0.17, 0.18, 0.19, 0.20, 0.21,
        0.22, 0.24, 0.26, 0.30, 0.35, 0.40,
    )
    #: loads for the asynchronous dynamics runs (stability of retrieval, recall from noisy cues)
    stability_loads: tuple[float, ...] = (0.04, 0.08, 0.10, 0.12, 0.13, 0.14, 0.15, 0.16, 0.18, 0.20, 0.24, 0.30)
    #: one-step runs use max(2, ceil(bit_budget / N²)) networks per point
    bit_budget: int = 2_000_000
    #: dynamics runs use max(2, ceil(state_budget / N)) networks, each started from ``starts`` patterns
    state_budget: int = 4000
    starts: int = 16
    cue_noise: float = 0.1
    bit_error: float = 0.01
    overlap_threshold: float = 0.9
    max_sweeps: int = 30
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        _check_positive_tuple("sizes", self.sizes)
        _check_positive_tuple("loads", self.loads, integer=False)
        _check_positive_tuple("stability_loads", self.stability_loads, integer=False)
        check_number("cue_noise", self.cue_noise, 0, 0.5)
        check_number("bit_error", self.bit_error, 0, 0.5, lo_open=True)
        check_number("overlap_threshold", self.overlap_threshold, 0, 1, lo_open=True)
        for k in ("bit_budget", "state_budget"):
            check_number(k, getattr(self, k), 1)
        check_number("starts", self.starts, 1, MAX_COUNT)  # min(Q, starts) are run: more is a typo
        check_number("max_sweeps", self.max_sweeps, 1, MAX_SWEEPS)
        n = max(self.sizes)
        nets = max(2, math.ceil(self.bit_budget / n**2), math.ceil(self.state_budget / n))
        q = max(1, round(max(max(self.loads), max(self.stability_loads)) * n))
        check_memory(f"hopfield sizes up to N={n}", 4 * 8 * nets * (n * n + q * n), "use smaller sizes")


@dataclass
class CMMCapacityConfig:
    """Correlation matrix memory: Hebbian vs Widrow–Hoff (eq. 2.52–2.55)."""

    key_size: int = 64
    value_size: int = 32
    #: number of pairs for the correlated-keys sweep
    pairs: int = 32
    pair_counts: tuple[int, ...] = (1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 128)
    correlations: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    trials: int = 8
    epochs: int = 100_000
    tol: float = 1e-6
    #: a recall counts as exact when ‖ỹ − y‖/‖y‖ < exact_tol
    exact_tol: float = 1e-3
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        for k in ("key_size", "value_size", "pairs", "trials"):
            check_number(k, getattr(self, k), 1)
        check_number("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_positive_tuple("pair_counts", self.pair_counts)
        check_numbers("correlations", self.correlations, 0, 1, hi_open=True)
        if self.pairs > self.key_size:
            raise ConfigError(f"pairs={self.pairs} exceeds key_size={self.key_size}; allowed: pairs <= key_size (linearly independent keys)")
        q = max(max(self.pair_counts), self.pairs)
        per_trial = q * self.key_size + q * q + self.key_size * self.value_size + q * self.value_size
        check_memory(f"cmm with {q} pairs of key_size={self.key_size}", 6 * 8 * self.trials * per_trial, "use smaller sizes")


@dataclass
class HRRCapacityConfig:
    """HRR and redundant associative memory: noise variance ∝ Q/S (eq. 2.51) and cleanup."""

    size: int = 512
    pairs: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256)
    copies: tuple[int, ...] = (1, 2, 4, 8, 16)
    trials: int = 4
    vocab: int = 1000
    cleanup_pairs: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256)
    cleanup_copies: tuple[int, ...] = (1, 4, 16)
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        for k in ("size", "trials", "vocab"):
            check_number(k, getattr(self, k), 1)
        for k in ("pairs", "copies", "cleanup_pairs", "cleanup_copies"):
            _check_positive_tuple(k, getattr(self, k))
        if min(self.pairs) < 2:
            raise ConfigError(f"pairs={self.pairs}; allowed: every entry >= 2 (the noise needs another pair)")
        if max(self.cleanup_pairs) > self.vocab:
            raise ConfigError(f"cleanup_pairs up to {max(self.cleanup_pairs)} exceed vocab={self.vocab}; allowed: <= vocab")
        q, s = max(max(self.pairs), max(self.cleanup_pairs)), max(max(self.copies), max(self.cleanup_copies))
        check_memory(f"hrr with size={self.size}, {q} pairs, {s} copies",
                     6 * 16 * self.trials * self.size * (q * s + q + self.vocab), "use smaller sizes")


@dataclass
class SDMCapacityConfig:
    """SDM (Alg. 2.1, eq. 2.64–2.66) against Hopfield networks with equal numbers of weights."""

    address_size: int = 256
    locations: tuple[int, ...] = (256, 4096, 16384)
    #: Hopfield sizes: N = D has D² weights = SDM with M = D; N = 1024 has the weights of M = 4096, D = 256
    hopfield_sizes: tuple[int, ...] = (256, 1024)
    items: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
    cue_noise: float = 0.05
    noise_items: int = 32
    noise_levels: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
    #: radius from Kanerva's optimal activation probability p = (2 M Q_d)^(-1/3) at Q_d = M / design_ratio
    design_ratio: int = 16
    #: cues evaluated per memory (a subset of the stored items)
    cues: int = 128
    max_sweeps: int = 30
    accuracy_level: float = 0.99
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        check_number("address_size", self.address_size, 1)
        for k in ("locations", "hopfield_sizes", "items"):
            _check_positive_tuple(k, getattr(self, k))
        check_number("cue_noise", self.cue_noise, 0, 0.5)
        check_numbers("noise_levels", self.noise_levels, 0, 0.5)
        for k in ("noise_items", "design_ratio", "cues"):
            check_number(k, getattr(self, k), 1, MAX_COUNT)
        check_number("max_sweeps", self.max_sweeps, 1, MAX_SWEEPS)
        check_number("accuracy_level", self.accuracy_level, 0, 1)
        d, m, n = self.address_size, max(self.locations), max(self.hopfield_sizes)
        check_memory(f"sdm with {m} locations of {d} bits and Hopfield N={n}",
                     3 * 8 * (m * d + n * n + max(*self.items, self.noise_items) * max(d, n) * 4), "use smaller sizes")


@dataclass
class TPRCapacityConfig:
    """TPR unbinding with orthonormal and random roles as the number of fillers grows (eq. 2.58–2.59)."""

    role_size: int = 64
    filler_size: int = 64
    fillers: tuple[int, ...] = (1, 2, 4, 8, 16, 24, 32, 48, 64, 80, 96, 128, 192, 256)
    trials: int = 8
    vocab: int = 1000
    exact_tol: float = 1e-3
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        for k in ("role_size", "filler_size", "trials", "vocab"):
            check_number(k, getattr(self, k), 1)
        _check_positive_tuple("fillers", self.fillers)
        if max(self.fillers) > self.vocab:
            raise ConfigError(f"fillers up to {max(self.fillers)} exceed vocab={self.vocab}; allowed: <= vocab")
        R, F = self.role_size, self.filler_size
        per_trial = self.vocab * F + max(self.fillers) * (R + F) + R * F
        check_memory(f"tpr with role_size={R}, filler_size={F}, vocab={self.vocab}", 6 * 8 * self.trials * per_trial,
                     "use smaller sizes")


@dataclass
class FastWeightsCapacityConfig:
    """Fast weights A(t) = λ A(t−1) + η h hᵀ (eq. 2.56): retrieval vs age of the stored item."""

    size: int = 128
    items: int = 256
    decays: tuple[float, ...] = (1.0, 0.99, 0.95, 0.9, 0.8)
    rate: float = 1.0
    trials: int = 64
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        for k in ("size", "items", "trials"):
            check_number(k, getattr(self, k), 1)
        check_numbers("decays", self.decays, 0, 1)
        check_number("rate", self.rate, 0, lo_open=True)
        per_trial = self.items * self.size + self.size**2 + self.items**2
        check_memory(f"fast weights with size={self.size}, items={self.items}", 6 * 8 * self.trials * per_trial,
                     "use smaller sizes")
