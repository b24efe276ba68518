"""Capacity experiments for the associative memories of seed 001 §2.3.1 and §2.4.2–2.4.4.

Each experiment is a typed config, a ``run_*(cfg, progress) -> records`` function that measures
(seeded, tqdm progress bar), and a ``summarize_*(records) -> headline`` that derives the headline
figures from the records only. ``run_experiment(name, cfg, out_dir)`` writes
``<name>.jsonl`` (point records + one headline record), renders ``<name>.png`` and the markdown
summary from the records (``memlab.plots.capacity``).

Experiments (``EXPERIMENTS``):
  hopfield      one-step bit error and retrieval stability vs load Q/N (eq. 2.22–2.25)
  cmm           Hebbian vs Widrow–Hoff recall error: orthonormal, random and correlated keys (2.52–2.55)
  hrr           retrieval noise variance vs Q and S with a log–log fit; cleanup accuracy (2.42–2.51)
  sdm           SDM vs Hopfield with equal numbers of weights: accuracy vs items and vs cue noise (2.64–2.66)
  tpr           unbinding error with orthonormal / random roles as fillers grow (2.58–2.59)
  fast-weights  read-back strength and retrieval vs age for decays λ (2.56)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from memlab.core.config import to_dict
from memlab.core.errors import ConfigError, check_range
from memlab.core.io import provenance, write_jsonl
from memlab.core.runtime import make_generator, resolve_device
from memlab.memory import hopfield as hop
from memlab.memory.associative import cleanup
from memlab.memory.cmm import cmm_recall, hebbian_matrix, least_squares_matrix, widrow_hoff
from memlab.memory.fast_weights import fast_weight_read, fast_weight_trace
from memlab.memory.hrr import HRR, random_phases, random_real
from memlab.memory.redundant import random_permutations, redundant_decode, redundant_encode
from memlab.memory.sdm import SparseDistributedMemory, activation_probability, hamming_radius_for_probability
from memlab.memory.tpr import orthonormal_roles, random_roles, tpr_bind, tpr_unbind, unbinding_vectors


# ============================================================================= helpers
def crossing(xs: list[float], ys: list[float], level: float) -> float | None:
    """The first x where the piecewise-linear curve (xs, ys) crosses ``level`` (either direction);
    None if it never does. xs increasing."""
    for i in range(1, len(xs)):
        y0, y1 = ys[i - 1] - level, ys[i] - level
        if y0 == 0:
            return float(xs[i - 1])
        if y0 * y1 < 0 or y1 == 0:
            return float(xs[i - 1] + (xs[i] - xs[i - 1]) * y0 / (y0 - y1))
    return None


def crossing_or_bound(xs: list[float], ys: list[float], level: float) -> float | str:
    """``crossing``, or "< x_0" / "> x_last" when the curve starts below / stays above ``level``."""
    x = crossing(xs, ys, level)
    if x is not None or not xs:
        return x
    return f"< {xs[0]}" if ys[0] < level else f"> {xs[-1]}"


def normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def hopfield_bit_error_theory(load: float, self_coupling: bool = False) -> float:
    """Large-N per-bit error after one update from a stored pattern: P = Φ(−1/√α), α = Q/N
    (the crosstalk of eq. 2.25 is approximately N(0, QN) against a signal N). With the
    self-coupling w_ii = Q kept the signal is N + Q: P = Φ(−(1 + α)/√α)."""
    if load <= 0:
        return 0.0
    return normal_cdf(-(1 + load if self_coupling else 1) / math.sqrt(load))


def hopfield_one_step_capacity_theory(level: float = 0.01, self_coupling: bool = False) -> float:
    """α where the one-step bit error equals ``level``: 0.1848 for 1% (0.324 with self-coupling)."""
    from scipy.stats import norm

    z = -float(norm.ppf(level))
    if not self_coupling:
        return 1 / z**2
    s = (z - math.sqrt(z * z - 4)) / 2  # smaller root of s² − z s + 1 = 0, s = √α
    return s * s


def _check_positive_tuple(name: str, values, integer: bool = True) -> None:
    if not values:
        raise ConfigError(f"{name} is empty; allowed: a non-empty list of positive numbers")
    for v in values:
        check_range(name, v, 0, lo_open=True)
        if integer and int(v) != v:
            raise ConfigError(f"{name} contains {v!r}; allowed: positive integers")


def _relative_error(out: Tensor, target: Tensor) -> Tensor:
    """‖ỹ − y‖ / ‖y‖ per item: (..., D) -> (...)."""
    return (out - target).norm(dim=-1) / target.norm(dim=-1).clamp_min(1e-12)


def _bar(total: int, desc: str, progress: bool):
    return tqdm(total=total, desc=desc, disable=not progress, leave=False, dynamic_ncols=True)


def _point(experiment: str, part: str, seed: int, **fields: Any) -> dict[str, Any]:
    return {"kind": "point", "experiment": experiment, "part": part, "seed": seed, **fields}


# ============================================================================= Hopfield
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
    device: str = "cpu"

    def validate(self) -> None:
        _check_positive_tuple("sizes", self.sizes)
        _check_positive_tuple("loads", self.loads, integer=False)
        _check_positive_tuple("stability_loads", self.stability_loads, integer=False)
        check_range("cue_noise", self.cue_noise, 0, 0.5)
        check_range("bit_error", self.bit_error, 0, 0.5, lo_open=True)
        check_range("overlap_threshold", self.overlap_threshold, 0, 1, lo_open=True)
        for k in ("bit_budget", "state_budget", "starts", "max_sweeps"):
            check_range(k, getattr(self, k), 1)


def run_hopfield(cfg: HopfieldCapacityConfig, progress: bool = True) -> list[dict[str, Any]]:
    dev = resolve_device(cfg.device)
    recs: list[dict[str, Any]] = []
    bar = _bar(len(cfg.sizes) * (len(cfg.loads) + len(cfg.stability_loads)), "hopfield", progress)
    for N in cfg.sizes:
        # -- part 1: crosstalk criterion, eq. 2.25: bits flipped by one update from x^p
        trials = max(2, math.ceil(cfg.bit_budget / N**2))
        for j, load in enumerate(cfg.loads):
            g = make_generator(cfg.seed, N, j, 1)
            Q = max(1, round(load * N))
            p = hop.random_patterns(trials, Q, N, g).to(dev)
            err = hop.one_step_bit_error(p)  # (trials, Q)
            err_self = hop.one_step_bit_error(p, zero_diagonal=False)  # eq. 2.24 with w_ii = Q kept
            recs.append(_point(
                "hopfield", "one_step", cfg.seed, N=N, load=Q / N, Q=Q, networks=trials,
                bit_error_level=cfg.bit_error, bit_error=float(err.mean()), bit_error_theory=hopfield_bit_error_theory(Q / N),
                pattern_fixed_fraction=float((err == 0).float().mean()),
                bit_error_self_coupling=float(err_self.mean()),
                bit_error_self_coupling_theory=hopfield_bit_error_theory(Q / N, self_coupling=True),
            ))
            bar.update()
        # -- part 2: asynchronous dynamics from x^p (stability) and from a noisy cue (recall)
        nets = max(2, math.ceil(cfg.state_budget / N))
        for j, load in enumerate(cfg.stability_loads):
            g = make_generator(cfg.seed, N, j, 2)
            Q = max(1, round(load * N))
            P = min(Q, cfg.starts)
            p = hop.random_patterns(nets, Q, N, g).to(dev)
            W = hop.hebbian_weights(p)
            target = p[:, :P]  # (nets, P, N)
            cue = hop.flip_bits(target, round(cfg.cue_noise * N), g)
            t0 = time.perf_counter()
            dyn = hop.run_async(W, torch.cat([target, cue], 1), g, cfg.max_sweeps)
            m = (dyn.state * torch.cat([target, target], 1)).mean(-1)  # (nets, 2P) overlap with the intended pattern
            rep = hop.classify_states(W, dyn.state, p)
            far = rep.fixed & (rep.overlap.abs() < cfg.overlap_threshold)  # a fixed point near no stored pattern
            ms, mc = m[:, :P], m[:, P:]
            recs.append(_point(
                "hopfield", "dynamics", cfg.seed, N=N, load=Q / N, Q=Q, networks=nets, starts=P,
                cue_noise=cfg.cue_noise, overlap_threshold=cfg.overlap_threshold,
                stable_fraction=float((ms >= cfg.overlap_threshold).float().mean()),
                mean_final_overlap=float(ms.mean()),
                exact_fixed_fraction=float((ms == 1).float().mean()),
                cue_recall_fraction=float((mc >= cfg.overlap_threshold).float().mean()),
                cue_exact_fraction=float((mc == 1).float().mean()),
                mean_cue_overlap=float(mc.mean()),
                spurious_fraction=float(far[:, P:].float().mean()),
                converged_fraction=float(dyn.converged.float().mean()),
                mean_sweeps=float(dyn.steps.float().mean()),
                seconds=round(time.perf_counter() - t0, 3),
            ))
            bar.update()
    bar.close()
    return recs


def summarize_hopfield(records: list[dict[str, Any]]) -> dict[str, Any]:
    one = [r for r in records if r.get("part") == "one_step"]
    dyn = [r for r in records if r.get("part") == "dynamics"]
    level = one[0]["bit_error_level"] if one else 0.01
    thr = dyn[0]["overlap_threshold"] if dyn else 0.9
    noise = dyn[0]["cue_noise"] if dyn else 0.1
    out: dict[str, Any] = {
        "criterion_one_step": (
            f"load Q/N at which the mean fraction of bits of a stored pattern flipped by one synchronous "
            f"update from that pattern (eq. 2.22, Hebbian W of eq. 2.24, i.e. the crosstalk of eq. 2.25 "
            f"outweighing the signal) first exceeds {level:.0%}; seed: Q ≈ 0.18N (Rojas 2013)"
        ),
        "criterion_stable": (
            f"load Q/N at which fewer than half of the stored patterns, used as the start of asynchronous "
            f"dynamics (random order, to a fixed point), end with overlap m ≥ {thr} with themselves "
            f"(≤ {(1 - thr) / 2:.0%} bits wrong); mean-field theory (Amit et al. 1985): α_c ≈ 0.138"
        ),
        "criterion_cue": (
            f"load at which fewer than half of the {noise:.0%}-corrupted cues are completed to overlap ≥ {thr}"
        ),
        "one_step_theory": hopfield_one_step_capacity_theory(level),
        "one_step_capacity": {},
        "note_self_coupling": (
            "W has zero diagonal. Eq. 2.24 as printed keeps the self-coupling w_ii = Q; one update then flips "
            "fewer bits (signal N + Q instead of N), a bias towards the current state rather than more storage, "
            "so the seed's 0.18N is the zero-diagonal figure"
        ),
        "one_step_theory_self_coupling": hopfield_one_step_capacity_theory(level, self_coupling=True),
        "one_step_capacity_self_coupling": {},
        "stable_capacity": {},
        "cue_capacity": {},
    }
    for N in sorted({r["N"] for r in one}):
        rs = sorted((r for r in one if r["N"] == N), key=lambda r: r["load"])
        out["one_step_capacity"][str(N)] = crossing([r["load"] for r in rs], [r["bit_error"] for r in rs], level)
        if all("bit_error_self_coupling" in r for r in rs):
            out["one_step_capacity_self_coupling"][str(N)] = crossing_or_bound(
                [r["load"] for r in rs], [r["bit_error_self_coupling"] for r in rs], level)
    for N in sorted({r["N"] for r in dyn}):
        rs = sorted((r for r in dyn if r["N"] == N), key=lambda r: r["load"])
        xs = [r["load"] for r in rs]
        out["stable_capacity"][str(N)] = crossing(xs, [r["stable_fraction"] for r in rs], 0.5)
        out["cue_capacity"][str(N)] = crossing(xs, [r["cue_recall_fraction"] for r in rs], 0.5)
    out["stable_finite_size_fit"] = finite_size_fit(out["stable_capacity"])
    return out


def finite_size_fit(capacity: dict[str, float | None]) -> dict[str, float | None]:
    """Least squares α(N) = α∞ + a/√N over the sizes with a crossing (needs ≥ 3 sizes).

    Finite networks keep retrieval stable somewhat above the mean-field α_c = 0.138; this
    extrapolates the measured loads to N → ∞ (an empirical fit, not a theorem)."""
    pts = [(int(n), a) for n, a in capacity.items() if a is not None]
    if len(pts) < 3:
        return {"alpha_infinity": None, "slope": None, "sizes": len(pts)}
    X = np.array([[1.0, 1 / math.sqrt(n)] for n, _ in pts])
    (a0, a1), *_ = np.linalg.lstsq(X, np.array([a for _, a in pts]), rcond=None)
    return {"alpha_infinity": float(a0), "slope": float(a1), "sizes": len(pts)}


# ============================================================================= CMM
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
    device: str = "cpu"

    def validate(self) -> None:
        for k in ("key_size", "value_size", "pairs", "trials", "epochs"):
            check_range(k, getattr(self, k), 1)
        _check_positive_tuple("pair_counts", self.pair_counts)
        for c in self.correlations:
            check_range("correlations", c, 0, 1, hi_open=True)
        if self.pairs > self.key_size:
            raise ConfigError(f"pairs={self.pairs} exceeds key_size={self.key_size}; allowed: pairs <= key_size (linearly independent keys)")


def _correlated_keys(B: int, Q: int, D: int, rho: float, g: torch.Generator) -> Tensor:
    """Unit keys x_i ∝ √ρ c + √(1−ρ) z_i sharing a common direction c: E[x_i·x_j] ≈ ρ. (B, Q, D)."""
    c = torch.randn(B, 1, D, generator=g, dtype=torch.float64) / math.sqrt(D)
    z = torch.randn(B, Q, D, generator=g, dtype=torch.float64) / math.sqrt(D)
    x = math.sqrt(rho) * c + math.sqrt(1 - rho) * z
    return x / x.norm(dim=-1, keepdim=True)


def _cmm_measure(keys: Tensor, values: Tensor, cfg: CMMCapacityConfig) -> dict[str, Any]:
    heb = _relative_error(cmm_recall(hebbian_matrix(keys, values), keys), values)
    M, epochs = widrow_hoff(keys, values, epochs=cfg.epochs, tol=cfg.tol)
    wh = _relative_error(cmm_recall(M, keys), values)
    ls = _relative_error(cmm_recall(least_squares_matrix(keys, values), keys), values)
    G = keys @ keys.transpose(-1, -2)
    off = G - torch.diag_embed(torch.diagonal(G, dim1=-2, dim2=-1))
    Q = keys.shape[1]
    sv = torch.linalg.svdvals(keys)  # (B, min(Q, D))
    rank = int(torch.linalg.matrix_rank(keys).min())
    return dict(
        hebbian_error=float(heb.mean()), widrow_hoff_error=float(wh.mean()), least_squares_error=float(ls.mean()),
        hebbian_exact_fraction=float((heb < cfg.exact_tol).float().mean()),
        widrow_hoff_exact_fraction=float((wh < cfg.exact_tol).float().mean()),
        widrow_hoff_epochs=epochs,
        mean_abs_key_cosine=float(off.abs().sum((-1, -2)).mean() / max(1, Q * (Q - 1))),
        condition_number=float((sv[:, 0] / sv[:, -1].clamp_min(1e-300)).mean()) if Q <= keys.shape[-1] else float("inf"),
        min_rank=rank, linearly_independent=rank == Q,
    )


def run_cmm(cfg: CMMCapacityConfig, progress: bool = True) -> list[dict[str, Any]]:
    dev = resolve_device(cfg.device)
    B, D, V = cfg.trials, cfg.key_size, cfg.value_size
    recs: list[dict[str, Any]] = []
    ortho = [q for q in cfg.pair_counts if q <= D]
    bar = _bar(len(ortho) + len(cfg.pair_counts) + len(cfg.correlations), "cmm", progress)
    for Q in ortho:  # orthonormal keys: eq. 2.55 crosstalk vanishes
        g = make_generator(cfg.seed, Q, 1)
        keys = orthonormal_roles(B, Q, D, g, torch.float64).to(dev)
        values = torch.randn(B, Q, V, generator=g, dtype=torch.float64).to(dev)
        heb = _relative_error(cmm_recall(hebbian_matrix(keys, values), keys), values)
        recs.append(_point("cmm", "orthonormal", cfg.seed, Q=Q, key_size=D, hebbian_error=float(heb.mean()),
                           hebbian_max_error=float(heb.max()), hebbian_exact_fraction=float((heb < cfg.exact_tol).float().mean())))
        bar.update()
    for Q in cfg.pair_counts:  # random (nearly orthogonal, independent while Q ≤ D) keys
        g = make_generator(cfg.seed, Q, 2)
        keys = _correlated_keys(B, Q, D, 0.0, g).to(dev)
        values = torch.randn(B, Q, V, generator=g, dtype=torch.float64).to(dev)
        recs.append(_point("cmm", "random", cfg.seed, Q=Q, key_size=D, hebbian_error_theory=math.sqrt((Q - 1) / D),
                           **_cmm_measure(keys, values, cfg)))
        bar.update()
    for j, rho in enumerate(cfg.correlations):  # correlated keys, Q = pairs fixed
        g = make_generator(cfg.seed, j, 3)
        keys = _correlated_keys(B, cfg.pairs, D, rho, g).to(dev)
        values = torch.randn(B, cfg.pairs, V, generator=g, dtype=torch.float64).to(dev)
        recs.append(_point("cmm", "correlated", cfg.seed, Q=cfg.pairs, key_size=D, correlation=rho,
                           **_cmm_measure(keys, values, cfg)))
        bar.update()
    bar.close()
    return recs


def summarize_cmm(records: list[dict[str, Any]]) -> dict[str, Any]:
    orth = [r for r in records if r.get("part") == "orthonormal"]
    rnd = sorted((r for r in records if r.get("part") == "random"), key=lambda r: r["Q"])
    cor = sorted((r for r in records if r.get("part") == "correlated"), key=lambda r: r["correlation"])
    exact = [r["Q"] for r in rnd if r["widrow_hoff_exact_fraction"] == 1.0]
    heb_exact = [r["Q"] for r in rnd if r["hebbian_exact_fraction"] == 1.0]
    indep_fail = [r for r in cor if r["linearly_independent"] and r["hebbian_exact_fraction"] < 1 and r["widrow_hoff_exact_fraction"] == 1]
    return {
        "criterion_exact": "relative recall error ‖ỹ − y‖/‖y‖ < 1e-3 for every stored pair",
        "orthonormal_max_hebbian_error": max((r["hebbian_max_error"] for r in orth), default=None),
        "orthonormal_pairs_tested": [r["Q"] for r in orth],
        "random_keys_widrow_hoff_exact_up_to_Q": max(exact, default=None),
        "random_keys_hebbian_exact_up_to_Q": max(heb_exact, default=None),
        "random_keys_key_size": rnd[0]["key_size"] if rnd else None,
        "random_keys_hebbian_error_at_Q": {str(r["Q"]): r["hebbian_error"] for r in rnd},
        "correlated_hebbian_error": {str(r["correlation"]): r["hebbian_error"] for r in cor},
        "correlated_widrow_hoff_error": {str(r["correlation"]): r["widrow_hoff_error"] for r in cor},
        "correlated_widrow_hoff_max_epochs": max((r["widrow_hoff_epochs"] for r in cor), default=None),
        "independent_keys_where_hebbian_fails_and_widrow_hoff_exact": len(indep_fail),
        "correlated_settings": len(cor),
    }


# ============================================================================= HRR / redundant
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
    device: str = "cpu"

    def validate(self) -> None:
        for k in ("size", "trials", "vocab"):
            check_range(k, getattr(self, k), 1)
        for k in ("pairs", "copies", "cleanup_pairs", "cleanup_copies"):
            _check_positive_tuple(k, getattr(self, k))
        if min(self.pairs) < 2:
            raise ConfigError(f"pairs={self.pairs}; allowed: every entry >= 2 (the noise needs another pair)")
        if max(self.cleanup_pairs) > self.vocab:
            raise ConfigError(f"cleanup_pairs up to {max(self.cleanup_pairs)} exceed vocab={self.vocab}; allowed: <= vocab")


def _noise_ratio(out: Tensor, target: Tensor) -> float:
    """Noise energy over signal energy, E|ỹ − y|² / E|y|² (the per-element variance for unit items)."""
    return float(((out - target).abs() ** 2).mean() / (target.abs() ** 2).mean())


def run_hrr(cfg: HRRCapacityConfig, progress: bool = True) -> list[dict[str, Any]]:
    dev = resolve_device(cfg.device)
    N, B = cfg.size, cfg.trials
    recs: list[dict[str, Any]] = []
    bar = _bar(len(cfg.pairs) * (len(cfg.copies) + 3) + len(cfg.cleanup_pairs) * len(cfg.cleanup_copies), "hrr", progress)
    for i, Q in enumerate(cfg.pairs):
        # redundant memory (S = 1 is the plain complex HRR up to a fixed permutation), eq. 2.49–2.51
        for S in cfg.copies:
            g = make_generator(cfg.seed, i, S, 1)
            keys = random_phases((B, Q, N), g).to(dev)
            values = random_phases((B, Q, N), g).to(dev)
            perms = random_permutations(S, N, g).to(dev)
            out = redundant_decode(redundant_encode(keys, values, perms), keys, perms)
            recs.append(_point("hrr", "variance", cfg.seed, form="complex", Q=Q, S=S, N=N,
                               noise_variance=_noise_ratio(out, values), theory=(Q - 1) / S))
            bar.update()
        # the real circular-convolution form, S = 1
        for form, unitary, inverse in (("real", True, "approximate"), ("real", False, "approximate"), ("real", False, "exact")):
            g = make_generator(cfg.seed, i, 2)
            mem = HRR(N, form=form, inverse=inverse, device=dev)
            keys = mem.random_items((B, Q, N), g, unitary=unitary)
            values = random_real((B, Q, N), g).to(dev)
            out = mem.decode(mem.encode(keys, values), keys)
            label = f"real-{'unitary' if unitary else 'gaussian'}-{inverse}"
            recs.append(_point("hrr", "variance", cfg.seed, form=label, Q=Q, S=1, N=N,
                               noise_variance=_noise_ratio(out, values), theory=(Q - 1) if unitary else None))
            bar.update()
    for i, Q in enumerate(cfg.cleanup_pairs):
        for S in cfg.cleanup_copies:
            g = make_generator(cfg.seed, i, S, 3)
            vocab = (torch.randint(0, 2, (B, cfg.vocab, N), generator=g).float() * 2 - 1).to(torch.complex64).to(dev)
            idx = torch.stack([torch.randperm(cfg.vocab, generator=g)[:Q] for _ in range(B)]).to(dev)  # (B, Q)
            values = torch.gather(vocab, 1, idx.unsqueeze(-1).expand(-1, -1, N))
            keys = random_phases((B, Q, N), g).to(dev)
            perms = random_permutations(S, N, g).to(dev)
            out = redundant_decode(redundant_encode(keys, values, perms), keys, perms)
            raw_bits = (torch.sign(out.real) == values.real).float().mean()
            c = cleanup(out, vocab)
            recs.append(_point(
                "hrr", "cleanup", cfg.seed, Q=Q, S=S, N=N, vocab=cfg.vocab,
                raw_bit_accuracy=float(raw_bits),
                cleanup_item_accuracy=float((c.index == idx).float().mean()),
                cleanup_bit_accuracy=float((c.item.real == values.real).float().mean()),
                raw_bit_accuracy_theory=normal_cdf(1 / math.sqrt(max((Q - 1) / (2 * S), 1e-12))),
            ))
            bar.update()
    bar.close()
    return recs


def fit_variance_law(records: list[dict[str, Any]]) -> dict[str, float]:
    """Least squares log var = a log(Q − 1) + b log S + c over the complex/redundant points.

    Eq. 2.51 predicts a = 1, b = −1 and c = 0 (variance (Q − 1)/S for unit-modulus items)."""
    rs = [r for r in records if r.get("part") == "variance" and r.get("form") == "complex" and r["Q"] > 1]
    X = np.array([[math.log(r["Q"] - 1), math.log(r["S"]), 1.0] for r in rs])
    y = np.array([math.log(r["noise_variance"]) for r in rs])
    (a, b, c), *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ np.array([a, b, c])
    r2 = 1 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum())
    ratio = [r["noise_variance"] / ((r["Q"] - 1) / r["S"]) for r in rs]
    return {"slope_Q": float(a), "slope_S": float(b), "log_constant": float(c), "constant": float(math.exp(c)),
            "r2": r2, "points": len(rs), "mean_ratio_to_(Q-1)/S": float(np.mean(ratio))}


def summarize_hrr(records: list[dict[str, Any]]) -> dict[str, Any]:
    fit = fit_variance_law(records)
    cl = [r for r in records if r.get("part") == "cleanup"]
    gains = {}
    for S in sorted({r["S"] for r in cl}):
        rs = sorted((r for r in cl if r["S"] == S), key=lambda r: r["Q"])
        gains[str(S)] = {str(r["Q"]): [round(r["raw_bit_accuracy"], 4), round(r["cleanup_bit_accuracy"], 4)] for r in rs}
    real = [r for r in records if r.get("part") == "variance" and r["form"].startswith("real")]
    real_fit = {}
    for form in sorted({r["form"] for r in real}):
        rs = [r for r in real if r["form"] == form]
        a, c = np.polyfit([math.log(r["Q"] - 1) for r in rs], [math.log(r["noise_variance"]) for r in rs], 1)
        real_fit[form] = {"slope_Q": float(a), "constant": float(math.exp(c))}
    return {
        "criterion_variance": "noise variance = E|ỹ − y|² / E|y|² over all elements of all retrieved values (eq. 2.48/2.51 noise term)",
        "fit": fit,
        "real_form_fit": real_fit,
        "criterion_cleanup": "bit accuracy of sign(Re ỹ) against bipolar values, raw vs after nearest-item cleanup in the vocabulary",
        "cleanup_raw_vs_cleaned_bit_accuracy_by_S_and_Q": gains,
        "cleanup_raises_accuracy_everywhere": all(r["cleanup_bit_accuracy"] >= r["raw_bit_accuracy"] for r in cl),
    }


# ============================================================================= SDM vs Hopfield
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
    device: str = "cpu"

    def validate(self) -> None:
        check_range("address_size", self.address_size, 1)
        for k in ("locations", "hopfield_sizes", "items"):
            _check_positive_tuple(k, getattr(self, k))
        check_range("cue_noise", self.cue_noise, 0, 0.5)
        for v in self.noise_levels:
            check_range("noise_levels", v, 0, 0.5)
        for k in ("noise_items", "design_ratio", "cues", "max_sweeps"):
            check_range(k, getattr(self, k), 1)
        check_range("accuracy_level", self.accuracy_level, 0, 1)


def sdm_radius(D: int, M: int, design_ratio: int) -> tuple[int, float]:
    """Hamming radius with activation probability ≈ (2 M Q_d)^(-1/3), Q_d = M / design_ratio."""
    p = (2 * M * max(1.0, M / design_ratio)) ** (-1 / 3)
    r = hamming_radius_for_probability(D, p)
    return r, activation_probability(D, r)


def _bits_to_pm1(x: Tensor) -> Tensor:
    return 2 * x - 1


def _sdm_trial(M: int, D: int, Q: int, noise: float, cfg: SDMCapacityConfig, g: torch.Generator, dev) -> dict[str, float]:
    r, p = sdm_radius(D, M, cfg.design_ratio)
    mem = SparseDistributedMemory(D, M, r, seed=int(torch.randint(0, 2**31, (1,), generator=g)), device=dev)
    x = torch.randint(0, 2, (1, Q, D), generator=g).float().to(dev)
    trace = mem.encode(x)
    P = min(Q, cfg.cues)
    target = x[:, :P]
    cue = (hop.flip_bits(_bits_to_pm1(target), round(noise * D), g) + 1) / 2
    out = mem.decode(trace, cue)
    ok = (out == target).float()
    return {"bit_accuracy": float(ok.mean()), "exact_fraction": float(ok.min(-1).values.mean()), "radius": r,
            "activation_probability": p, "mean_active": float(mem.last_active.mean()), "weights": M * D}


def _hopfield_trial(N: int, Q: int, noise: float, cfg: SDMCapacityConfig, g: torch.Generator, dev) -> dict[str, float]:
    p = hop.random_patterns(1, Q, N, g).to(dev)
    W = hop.hebbian_weights(p)
    P = min(Q, cfg.cues)
    target = p[:, :P]
    cue = hop.flip_bits(target, round(noise * N), g)
    out = hop.run_async(W, cue, g, cfg.max_sweeps).state
    ok = (out == target).float()
    return {"bit_accuracy": float(ok.mean()), "exact_fraction": float(ok.min(-1).values.mean()), "weights": N * N}


def run_sdm(cfg: SDMCapacityConfig, progress: bool = True) -> list[dict[str, Any]]:
    dev = resolve_device(cfg.device)
    D = cfg.address_size
    models = [("sdm", M) for M in cfg.locations] + [("hopfield", N) for N in cfg.hopfield_sizes]
    recs: list[dict[str, Any]] = []
    bar = _bar(len(models) * (len(cfg.items) + len(cfg.noise_levels)), "sdm", progress)
    for kind, size in models:
        name = f"SDM M={size}, D={D}" if kind == "sdm" else f"Hopfield N={size}"
        for part, grid in (("items", cfg.items), ("noise", cfg.noise_levels)):
            for j, v in enumerate(grid):
                Q, noise = (int(v), cfg.cue_noise) if part == "items" else (cfg.noise_items, float(v))
                g = make_generator(cfg.seed, size, j, 1 if part == "items" else 2, 0 if kind == "sdm" else 1)
                res = _sdm_trial(size, D, Q, noise, cfg, g, dev) if kind == "sdm" else _hopfield_trial(size, Q, noise, cfg, g, dev)
                recs.append(_point("sdm", part, cfg.seed, model=kind, name=name, size=size, accuracy_level=cfg.accuracy_level,
                                   pattern_bits=D if kind == "sdm" else size, Q=Q, cue_noise=noise, **res))
                bar.update()
    bar.close()
    return recs


def summarize_sdm(records: list[dict[str, Any]]) -> dict[str, Any]:
    its = [r for r in records if r.get("part") == "items"]
    level = its[0]["accuracy_level"] if its else 0.99
    cap: dict[str, Any] = {}
    for name in dict.fromkeys(r["name"] for r in its):
        rs = sorted((r for r in its if r["name"] == name), key=lambda r: r["Q"])
        x = crossing_or_bound([r["Q"] for r in rs], [r["bit_accuracy"] for r in rs], level)
        cap[name] = {"items_at_99pct_bits": x, "weights": rs[0]["weights"], "pattern_bits": rs[0]["pattern_bits"],
                     "items_per_pattern_bit": x / rs[0]["pattern_bits"] if isinstance(x, float) else None}
    noise = [r for r in records if r.get("part") == "noise"]
    tol: dict[str, Any] = {}
    for name in dict.fromkeys(r["name"] for r in noise):
        rs = sorted((r for r in noise if r["name"] == name), key=lambda r: r["cue_noise"])
        tol[name] = crossing_or_bound([r["cue_noise"] for r in rs], [r["bit_accuracy"] for r in rs], level)
    cn = its[0]["cue_noise"] if its else None
    nq = noise[0]["Q"] if noise else None
    return {
        "criterion_capacity": f"stored items at which the bit accuracy of one recall from cues with {cn:.0%} flipped bits falls below 99% "
                              f"(SDM: one read, eq. 2.66; Hopfield: asynchronous dynamics to a fixed point)",
        "capacity": cap,
        "criterion_noise": f"cue noise (fraction of flipped bits) at which bit accuracy falls below 99% with {nq} stored items",
        "noise_tolerance": tol,
    }


# ============================================================================= TPR
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
    device: str = "cpu"

    def validate(self) -> None:
        for k in ("role_size", "filler_size", "trials", "vocab"):
            check_range(k, getattr(self, k), 1)
        _check_positive_tuple("fillers", self.fillers)
        if max(self.fillers) > self.vocab:
            raise ConfigError(f"fillers up to {max(self.fillers)} exceed vocab={self.vocab}; allowed: <= vocab")


def run_tpr(cfg: TPRCapacityConfig, progress: bool = True) -> list[dict[str, Any]]:
    dev = resolve_device(cfg.device)
    B, R, F = cfg.trials, cfg.role_size, cfg.filler_size
    recs: list[dict[str, Any]] = []
    bar = _bar(len(cfg.fillers), "tpr", progress)
    for j, Q in enumerate(cfg.fillers):
        g = make_generator(cfg.seed, j, 1)
        vocab = torch.randn(B, cfg.vocab, F, generator=g, dtype=torch.float64)
        vocab = (vocab / vocab.norm(dim=-1, keepdim=True)).to(dev)
        idx = torch.stack([torch.randperm(cfg.vocab, generator=g)[:Q] for _ in range(B)]).to(dev)
        f = torch.gather(vocab, 1, idx.unsqueeze(-1).expand(-1, -1, F))  # (B, Q, F)
        row: dict[str, Any] = {"Q": Q, "role_size": R, "filler_size": F, "direct_error_theory": math.sqrt((Q - 1) / R)}
        if Q <= R:
            ro = orthonormal_roles(B, Q, R, g, torch.float64).to(dev)
            e = _relative_error(tpr_unbind(tpr_bind(f, ro), ro), f)
            row.update(orthonormal_error=float(e.mean()), orthonormal_max_error=float(e.max()),
                       orthonormal_exact_fraction=float((e < cfg.exact_tol).float().mean()))
        rr = random_roles(B, Q, R, g).double().to(dev)
        T = tpr_bind(f, rr)
        direct = tpr_unbind(T, rr)
        dual = tpr_unbind(T, unbinding_vectors(rr))
        ed, eu = _relative_error(direct, f), _relative_error(dual, f)
        row.update(
            random_direct_error=float(ed.mean()), random_dual_error=float(eu.mean()),
            random_dual_exact_fraction=float((eu < cfg.exact_tol).float().mean()),
            random_direct_cleanup_accuracy=float((cleanup(direct, vocab).index == idx).float().mean()),
            random_dual_cleanup_accuracy=float((cleanup(dual, vocab).index == idx).float().mean()),
        )
        recs.append(_point("tpr", "fillers", cfg.seed, **row))
        bar.update()
    bar.close()
    return recs


def summarize_tpr(records: list[dict[str, Any]]) -> dict[str, Any]:
    rs = sorted((r for r in records if r.get("part") == "fillers"), key=lambda r: r["Q"])
    orth = [r for r in rs if "orthonormal_error" in r]
    R = rs[0]["role_size"] if rs else None
    return {
        "criterion": "relative unbinding error ‖T•u_j − f_j‖/‖f_j‖; exact when < 1e-3; cleanup = nearest filler of a 1000-item vocabulary",
        "orthonormal_max_error": max((r["orthonormal_max_error"] for r in orth), default=None),
        "orthonormal_exact_up_to_Q": max((r["Q"] for r in orth if r["orthonormal_exact_fraction"] == 1), default=None),
        "role_size": R,
        "random_direct_error": {str(r["Q"]): r["random_direct_error"] for r in rs},
        "random_dual_exact_up_to_Q": max((r["Q"] for r in rs if r["random_dual_exact_fraction"] == 1), default=None),
        "random_direct_cleanup_accuracy": {str(r["Q"]): r["random_direct_cleanup_accuracy"] for r in rs},
    }


# ============================================================================= fast weights
@dataclass
class FastWeightsCapacityConfig:
    """Fast weights A(t) = λ A(t−1) + η h hᵀ (eq. 2.56): retrieval vs age of the stored item."""

    size: int = 128
    items: int = 256
    decays: tuple[float, ...] = (1.0, 0.99, 0.95, 0.9, 0.8)
    rate: float = 1.0
    trials: int = 64
    seed: int = 0
    device: str = "cpu"

    def validate(self) -> None:
        for k in ("size", "items", "trials"):
            check_range(k, getattr(self, k), 1)
        for d in self.decays:
            check_range("decays", d, 0, 1)
        check_range("rate", self.rate, 0, lo_open=True)


def run_fast_weights(cfg: FastWeightsCapacityConfig, progress: bool = True) -> list[dict[str, Any]]:
    dev = resolve_device(cfg.device)
    B, T, D = cfg.trials, cfg.items, cfg.size
    recs: list[dict[str, Any]] = []
    bar = _bar(len(cfg.decays), "fast-weights", progress)
    for j, lam in enumerate(cfg.decays):
        g = make_generator(cfg.seed, j, 1)
        h = torch.randn(B, T, D, generator=g, dtype=torch.float64)
        h = (h / h.norm(dim=-1, keepdim=True)).to(dev)  # h(1..T), unit norm
        A = fast_weight_trace(h, h, lam, cfg.rate)
        out = fast_weight_read(A, h)  # (B, T, D): A h(t)
        signal = (out * h).sum(-1)  # read-back strength along h(t)
        cos = signal / out.norm(dim=-1).clamp_min(1e-12)
        hit = (cleanup(out, h).index == torch.arange(T, device=dev)).float()  # nearest stored item is the right one
        # E[hᵀ A h] = η λ^age (signal) + η Σ_{s≠t} λ^{age_s} E[(h_s·h_t)²] (crosstalk, E[(h_s·h_t)²] = 1/D)
        total = sum(lam**a for a in range(T))
        for t in range(T):
            age = T - 1 - t
            recs.append(_point("fast-weights", "age", cfg.seed, decay=lam, rate=cfg.rate, size=D, items=T, age=age,
                               strength=float(signal[:, t].mean()), signal_theory=cfg.rate * lam**age,
                               strength_theory=cfg.rate * (lam**age + (total - lam**age) / D),
                               cosine=float(cos[:, t].mean()), retrieval_accuracy=float(hit[:, t].mean())))
        bar.update()
    bar.close()
    return recs


def summarize_fast_weights(records: list[dict[str, Any]]) -> dict[str, Any]:
    rs = [r for r in records if r.get("part") == "age"]
    out: dict[str, Any] = {"criterion": "age (steps since storage) up to which ≥ 90% of items are the nearest stored item to their read-out A h",
                           "span": {}}
    for lam in sorted({r["decay"] for r in rs}, reverse=True):
        ages = sorted((r for r in rs if r["decay"] == lam), key=lambda r: r["age"])
        span = 0
        for r in ages:
            if r["retrieval_accuracy"] < 0.9:
                break
            span = r["age"] + 1
        out["span"][str(lam)] = span
    return out


# ============================================================================= registry and driver
class Experiment(NamedTuple):
    config: type
    run: Callable[..., list[dict[str, Any]]]
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]]
    description: str


EXPERIMENTS: dict[str, Experiment] = {
    "hopfield": Experiment(HopfieldCapacityConfig, run_hopfield, summarize_hopfield,
                           "Hopfield: one-step bit error and retrieval stability vs load Q/N"),
    "cmm": Experiment(CMMCapacityConfig, run_cmm, summarize_cmm,
                      "correlation matrix memory: Hebbian vs Widrow-Hoff, orthonormal/random/correlated keys"),
    "hrr": Experiment(HRRCapacityConfig, run_hrr, summarize_hrr,
                      "HRR and redundant associative memory: noise variance vs Q and S, cleanup"),
    "redundant": Experiment(HRRCapacityConfig, run_hrr, summarize_hrr,
                            "alias of hrr (the redundant memory is measured with S copies there)"),
    "sdm": Experiment(SDMCapacityConfig, run_sdm, summarize_sdm,
                      "sparse distributed memory vs Hopfield with equal weights: items and cue noise"),
    "tpr": Experiment(TPRCapacityConfig, run_tpr, summarize_tpr,
                      "tensor product representation: orthonormal vs random roles as fillers grow"),
    "fast-weights": Experiment(FastWeightsCapacityConfig, run_fast_weights, summarize_fast_weights,
                               "fast weights: read-back strength and retrieval vs age for decays"),
}

#: small settings for smoke tests (seconds)
QUICK: dict[str, dict[str, Any]] = {
    "hopfield": dict(sizes=(60,), loads=(0.05, 0.2, 0.4), stability_loads=(0.05, 0.3), bit_budget=20_000, state_budget=120, starts=4),
    "cmm": dict(key_size=16, value_size=4, pairs=8, pair_counts=(2, 8, 24), correlations=(0.0, 0.8), trials=2, epochs=20_000),
    "hrr": dict(size=64, pairs=(2, 8, 32), copies=(1, 4), trials=2, vocab=50, cleanup_pairs=(4, 16), cleanup_copies=(1, 4)),
    "redundant": dict(size=64, pairs=(2, 8, 32), copies=(1, 4), trials=2, vocab=50, cleanup_pairs=(4, 16), cleanup_copies=(1, 4)),
    "sdm": dict(address_size=64, locations=(64, 512), hopfield_sizes=(64,), items=(4, 16, 64), noise_levels=(0.0, 0.2), noise_items=8, cues=16),
    "tpr": dict(role_size=16, filler_size=8, fillers=(2, 16, 32), trials=2, vocab=40),
    "fast-weights": dict(size=32, items=32, decays=(1.0, 0.8), trials=2),
}


def experiment_file(name: str) -> str:
    """Records and figure share this stem (the redundant alias writes the hrr files)."""
    return "hrr" if name == "redundant" else name


def run_experiment(name: str, cfg: Any, out_dir: str | Path, progress: bool = True, plot: bool = True) -> dict[str, Any]:
    """Run, write ``<stem>.jsonl`` (config + points + headline records), render ``<stem>.png`` and
    ``README.md`` in ``out_dir``; return the headline dict (with the paths)."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"memory={name!r} is not allowed; choose one of {', '.join(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    points = exp.run(cfg, progress=progress)
    seconds = time.perf_counter() - t0
    head = exp.summarize(points)
    stem = experiment_file(name)
    prov = provenance(seed=cfg.seed, experiment=stem, seconds=round(seconds, 2), threads=torch.get_num_threads())
    records = [{"kind": "config", **prov, "config": to_dict(cfg)}]
    records += [{**prov, **r} for r in points]
    records.append({"kind": "headline", **prov, "headline": head})
    out_dir = Path(out_dir)
    path = write_jsonl(out_dir / f"{stem}.jsonl", records)
    result = {"experiment": stem, "records": str(path), "seconds": round(seconds, 2), **head}
    if plot:
        from memlab.plots.capacity import render_figure, render_summary

        result["figure"] = str(render_figure(stem, path, out_dir / f"{stem}.png"))
        result["summary"] = str(render_summary(out_dir))
    return result

