"""Tensor product representation: unbinding with orthonormal / random roles (seed 001 eq. 2.58–2.59)."""

from __future__ import annotations

import math
from typing import Any

import torch

from memlab.core.runtime import make_generator, resolve_device
from memlab.memory.associative import cleanup
from memlab.memory.tpr import orthonormal_roles, random_roles, tpr_bind, tpr_unbind, unbinding_vectors
from memlab.theory.capacity.config import TPRCapacityConfig
from memlab.theory.capacity.common import _bar, _point, _relative_error


def run_tpr(cfg: TPRCapacityConfig, progress: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    dev = resolve_device(device)
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
