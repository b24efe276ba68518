"""Sparse distributed memory against Hopfield networks with equal weights (seed 001 Alg. 2.1, eq. 2.64–2.66)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from memlab.core.runtime import make_generator, resolve_device
from memlab.memory import hopfield as hop
from memlab.memory.sdm import SparseDistributedMemory, activation_probability, hamming_radius_for_probability
from memlab.theory.capacity.config import SDMCapacityConfig
from memlab.theory.capacity.common import _bar, _point, crossing_or_bound


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


def run_sdm(cfg: SDMCapacityConfig, progress: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    dev = resolve_device(device)
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
