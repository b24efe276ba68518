"""Hopfield capacity vs load alpha = Q/N (seed 001 §2.3.1, eq. 2.22–2.25)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from memlab.core.runtime import make_generator, resolve_device
from memlab.memory import hopfield as hop
from memlab.theory.capacity.config import HopfieldCapacityConfig
from memlab.theory.capacity.common import _bar, _point, crossing, crossing_or_bound, normal_cdf


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


def run_hopfield(cfg: HopfieldCapacityConfig, progress: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    dev = resolve_device(device)
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
