"""Correlation matrix memory: Hebbian vs Widrow–Hoff recall (seed 001 eq. 2.52–2.55)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from memlab.core.runtime import make_generator, resolve_device
from memlab.memory.cmm import cmm_recall, hebbian_matrix, least_squares_matrix, widrow_hoff
from memlab.memory.tpr import orthonormal_roles
from memlab.theory.capacity.config import CMMCapacityConfig
from memlab.theory.capacity.common import _bar, _point, _relative_error


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


def run_cmm(cfg: CMMCapacityConfig, progress: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    dev = resolve_device(device)
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
