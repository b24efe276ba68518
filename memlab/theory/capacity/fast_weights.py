"""Fast weights A(t) = lambda A(t-1) + eta h h^T: retrieval vs age (seed 001 eq. 2.56)."""

from __future__ import annotations

from typing import Any

import torch

from memlab.core.runtime import make_generator, resolve_device
from memlab.memory.associative import cleanup
from memlab.memory.fast_weights import fast_weight_read, fast_weight_trace
from memlab.theory.capacity.config import FastWeightsCapacityConfig
from memlab.theory.capacity.common import _bar, _point


def run_fast_weights(cfg: FastWeightsCapacityConfig, progress: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    dev = resolve_device(device)
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
