"""HRR and the redundant associative memory: noise variance vs Q and S, cleanup (seed 001 eq. 2.42–2.51)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from memlab.core.runtime import make_generator, resolve_device
from memlab.memory.associative import cleanup
from memlab.memory.hrr import HRR, random_phases, random_real
from memlab.memory.redundant import random_permutations, redundant_decode, redundant_encode
from memlab.theory.capacity.config import HRRCapacityConfig
from memlab.theory.capacity.common import _bar, _point, normal_cdf


def _noise_ratio(out: Tensor, target: Tensor) -> float:
    """Noise energy over signal energy, E|ỹ − y|² / E|y|² (the per-element variance for unit items)."""
    return float(((out - target).abs() ** 2).mean() / (target.abs() ** 2).mean())


def run_hrr(cfg: HRRCapacityConfig, progress: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    dev = resolve_device(device)
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
