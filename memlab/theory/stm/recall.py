"""Fig. 3 of seed 003: recover the last r inputs of a long sparse stream from one state."""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from memlab.theory.stm.bounds import rmse
from memlab.theory.stm.config import RecallConfig
from memlab.theory.stm.network import measurement_operator, noise_level, random_network, state_noise, unvec, vec


def recall_length_trial(cfg: RecallConfig, trial: int, device: str = "cpu") -> list[dict[str, Any]]:
    """One network driven by a T-step sparse stream; LASSO recovery of the last r inputs.

    The stream s[n] (L) has i.i.d. Bernoulli(density) x N(0, 1) entries. The state after T
    steps is x = sum_{k<T} W^k Z s[T-1-k] + e. Recovering only the last r inputs treats the
    older ones as interference (omission error, large for small r, weighted by r^{2r});
    recovering many inputs asks for more non-zeros than M measurements support and includes
    faded inputs (recall error). The LASSO weight uses the known noise-plus-interference level.
    Returns one record per r with the rmse over the recovered window.
    """
    from memlab.core.runtime import make_generator
    from memlab.theory import recovery

    gen = make_generator(cfg.seed, 10_000 + trial)
    net = random_network(cfg.M, cfg.L, spectral_radius=cfg.spectral_radius, generator=gen, device=device)
    A = measurement_operator(net.W, net.Z, cfg.T)  # (M, L T), last block = most recent input
    mask = torch.rand(cfg.L, cfg.T, generator=gen) < cfg.density
    S = torch.where(mask, torch.randn(cfg.L, cfg.T, generator=gen, dtype=torch.float64), torch.zeros(()))
    x = A @ vec(S).to(A) + state_noise(net, cfg.T, cfg.noise_std, 1, gen)[0]
    tau_noise = noise_level(net, cfg.T, cfg.noise_std)
    out = []
    for r in cfg.rs:
        cols = A[:, (cfg.T - r) * cfg.L:]  # (M, L r): the r most recent inputs
        # interference of the omitted inputs: E||sum_{k>=r} W^k Z s||^2 / M
        r2 = cfg.spectral_radius**2
        interf = cfg.density * cfg.L / cfg.M * (r2**r - r2**cfg.T) / (1 - r2)
        tau = math.sqrt(tau_noise**2 + interf)
        D = cols.cpu().numpy()
        t1 = time.perf_counter()
        s_hat = recovery.lasso(D, x.cpu().numpy(), recovery.lasso_alpha(D, tau), tol=cfg.lasso_tol, debias=False)
        dt = time.perf_counter() - t1
        S_win = S[:, cfg.T - r:]
        S_hat = unvec(torch.from_numpy(s_hat), cfg.L, r)
        out.append(dict(M=cfg.M, L=cfg.L, T=cfg.T, r=r, trial=trial, density=cfg.density,
                        radius=cfg.spectral_radius, rmse=float(rmse(S_hat, S_win)) if S_win.abs().sum() > 0 else float("nan"),
                        interference=interf, tau=tau, seconds=dt))
    return out
