"""Metrics, complexities, the Donoho-Tanner curve and 50%-success transitions (seed 003)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------


def rmse(S_hat: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """Relative MSE ||S_hat - S||_F^2 / ||S||_F^2 over the last two dims (batched)."""
    num = ((S_hat - S) ** 2).sum(dim=(-2, -1)) if S.dim() >= 2 else ((S_hat - S) ** 2).sum(-1)
    den = (S**2).sum(dim=(-2, -1)) if S.dim() >= 2 else (S**2).sum(-1)
    return num / den


def compression(M: int, L: int, N: int) -> float:
    """gamma = M / (L N)."""
    return M / (L * N)


def sparse_complexity(K: int, M: int) -> float:
    """rho = K / M."""
    return K / M


def lowrank_complexity(R: int, M: int, L: int, N: int) -> float:
    """rho = R (L + N - R) / M: degrees of freedom of a rank-R L x N matrix per measurement."""
    return R * (L + N - R) / M


def sparsity_for(rho: float, M: int) -> int:
    """K = round(rho M) (may be 0 when rho M < 0.5)."""
    return int(round(rho * M))


def rank_for(rho: float, M: int, L: int, N: int) -> int:
    """The rank R in [0, min(L, N)] whose complexity R (L + N - R) / M is closest to rho."""
    Rs = np.arange(0, min(L, N) + 1)
    return int(Rs[np.argmin(np.abs(Rs * (L + N - Rs) / M - rho))])


def donoho_tanner(delta: float | np.ndarray) -> np.ndarray:
    """The asymptotic l1 (signed, weak) phase transition rho*(delta) of Donoho & Tanner.

    Parametric form (Donoho, Maleki & Montanari 2009): for t > 0,
    delta = 2 phi(t) / (t + 2 (phi(t) - t Phi(-t))),  rho = 1 - t Phi(-t) / phi(t);
    inverted in t by bisection (delta is decreasing in t).
    """
    def dr(t: float) -> tuple[float, float]:
        phi = math.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
        Phi = 0.5 * math.erfc(t / math.sqrt(2))  # Phi(-t)
        return 2 * phi / (t + 2 * (phi - t * Phi)), 1 - t * Phi / phi

    d = np.atleast_1d(np.asarray(delta, dtype=float))
    out = np.empty_like(d)
    for i, di in enumerate(d):
        lo, hi = 1e-8, 40.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if dr(mid)[0] > di:
                lo = mid
            else:
                hi = mid
        out[i] = dr(0.5 * (lo + hi))[1]
    return out


def on_grid(rho_actual: float, rho_nominal: float, grid: Sequence[float]) -> bool:
    """True when ``rho_nominal`` is the grid value nearest the realisable ``rho_actual``.

    Ranks are integers, so at small M one rank R(L+N-R)/M can be nearest to several grid
    values (or far from all); each problem is kept once, in its nearest cell.
    """
    return min(grid, key=lambda g: abs(g - rho_actual)) == rho_nominal


def success_curve(records: Sequence[dict[str, Any]], panel: str, threshold: float) -> dict[float, list[tuple[float, float]]]:
    """{gamma: [(rho_nominal, fraction of trials with rmse <= threshold), ...]} sorted by rho."""
    acc: dict[tuple[float, float], list[bool]] = {}
    for r in records:
        if r["panel"] == panel:
            acc.setdefault((r["gamma"], r["rho_nominal"]), []).append(r["rmse"] <= threshold)
    out: dict[float, list[tuple[float, float]]] = {}
    for (g, rho), v in sorted(acc.items()):
        out.setdefault(g, []).append((rho, float(np.mean(v))))
    return out


def transition_rho(curve: Sequence[tuple[float, float]], level: float = 0.5) -> float:
    """The rho where the success fraction first falls below ``level`` (linear interpolation).

    ``curve`` is [(rho, success fraction)] sorted by rho. Returns -inf when even the smallest
    rho fails (the transition lies below the grid) and +inf when every rho succeeds.
    """
    prev = None
    for rho, p in curve:
        if p < level:
            if prev is None:
                return -math.inf
            r0, p0 = prev
            return float(r0 + (p0 - level) * (rho - r0) / (p0 - p))
        prev = (rho, p)
    return math.inf
