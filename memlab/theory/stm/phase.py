"""Fig. 2 of seed 003: one network per (gamma, trial) and every (panel, rho) problem it measures."""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch

from memlab.theory.stm.bases import apply_time_basis, lowrank_input, sparse_input, synthesize, time_basis
from memlab.theory.stm.bounds import (
    donoho_tanner, lowrank_complexity, on_grid, rank_for, rmse, sparse_complexity, sparsity_for, success_curve,
    transition_rho,
)
from memlab.theory.stm.config import PhaseConfig
from memlab.theory.stm.modes import coherence, lowrank_coherence, network_modes
from memlab.theory.stm.network import measurement_operator, noise_level, random_network, state_noise, vec


def phase_unit(cfg: PhaseConfig, gamma_index: int, trial: int, device: str = "cpu") -> list[dict[str, Any]]:
    """One network (one gamma, one trial) and every (panel, rho) problem it measures.

    The four panels share the network, so the operator A (M, L N) is built once; the right-hand
    sides of a panel share A (sparse: the dictionary A (Psi kron I)) and are solved as one batch
    by ADMM (the default solvers), every panel through one Cholesky factor of A A^T + rho I
    (D D^T = A A^T for an orthonormal Psi). The inputs are drawn before any solve, so every
    solver choice sees the same problems. Returns one record per
    problem: panel, gamma, M, rho (nominal and actual), K or R, rmse, mu, seconds, solver info.
    """
    from memlab.core.runtime import make_generator
    from memlab.theory import recovery

    L, N = cfg.L, cfg.N
    gamma = cfg.gammas[gamma_index]
    M = max(1, int(round(gamma * L * N)))
    gen = make_generator(cfg.seed, gamma_index, trial)
    t0 = time.perf_counter()
    net = random_network(M, L, spectral_radius=cfg.spectral_radius, family=cfg.family, generator=gen, device=device)
    A = measurement_operator(net.W, net.Z, N)  # (M, L N)
    tau = noise_level(net, N, cfg.noise_std)
    theta = network_modes(net, N)
    t_op = time.perf_counter() - t0
    base = dict(gamma=gamma, gamma_index=gamma_index, M=M, L=L, N=N, trial=trial, tau=tau)
    out: list[dict[str, Any]] = []
    A_np = A.cpu().numpy()
    c2 = float((A**2).mean()) * M  # mean squared column norm of A (and of A Psi)
    A_nuc, prep = None, None  # the low-rank panels share A in the solver's dtype and its factor / ||A||^2
    fac = None  # the factor of A A^T + rho I (in nuclear_dtype), shared by every ADMM panel
    for panel in cfg.panels:
        kind, coh = panel.split("-")
        if kind == "sparse":
            name = cfg.low_basis if coh == "low" else cfg.high_basis
            Psi = time_basis(name, N, generator=gen)
            mu = coherence(Psi, theta=theta)
            D = A_np if name == "identity" else apply_time_basis(A, Psi.to(A), L).cpu().numpy()
            D = np.asfortranarray(D)  # once per panel: the LASSO solvers work on columns
            alpha = recovery.lasso_alpha(D, tau)
            probs = []  # drawn first, in the same order for every backend
            for ri, rho in enumerate(cfg.rhos_sparse):
                K = sparsity_for(rho, M)
                if K < 1 or K > L * N:
                    continue
                S, a = sparse_input(K, L, N, Psi, generator=gen)
                e = state_noise(net, N, cfg.noise_std, 1, gen)[0]
                probs.append((ri, rho, K, S, A @ vec(S).to(A) + e))  # x[N] = A(S) + e
            if not probs:
                continue
            if cfg.lasso_backend == "admm":
                # the whole panel as one batch; D D^T = A A^T (orthonormal Psi): one factor per network
                t1 = time.perf_counter()
                if fac is None:
                    fac = recovery.admm_factor(A.to(getattr(torch, cfg.nuclear_dtype)))
                Dt = torch.from_numpy(np.ascontiguousarray(D)).to(A.device, getattr(torch, cfg.nuclear_dtype))
                a_all, binfo = recovery.lasso_admm(
                    Dt, torch.stack([p[4] for p in probs]), alpha, factor=fac,
                    max_iter=cfg.lasso_admm_max_iter, tol=cfg.lasso_admm_tol, D_debias=D)
                dt_each = (time.perf_counter() - t1) / len(probs)
                sols = [(a_all[i], dict(solver="admm", iters=binfo["iters"], converged=binfo["converged"][i],
                                        nnz=binfo["nnz"][i]), dt_each) for i in range(len(probs))]
            else:
                sols = []
                for *_, y in probs:
                    t1 = time.perf_counter()
                    a_hat, info = recovery.lasso(
                        D, y.cpu().numpy(), alpha, backend=cfg.lasso_backend,
                        tol=cfg.lasso_tol, max_epochs=cfg.lasso_max_epochs, debias=True, return_info=True,
                        saturation=cfg.lasso_saturation or None,
                    )
                    sols.append((a_hat, info, time.perf_counter() - t1))
            for (ri, rho, K, S, _), (a_hat, info, dt) in zip(probs, sols):
                S_hat = synthesize(torch.from_numpy(a_hat), Psi, L, N)
                out.append(dict(base, panel=panel, kind=kind, coherence=coh, basis=name, mu=mu,
                                rho_index=ri, rho_nominal=rho, rho=sparse_complexity(K, M), K=K,
                                rmse=float(rmse(S_hat, S)), floor=tau**2 * K / (c2 * float((S**2).sum())),
                                seconds=dt, solver=info))
        else:
            temporal = cfg.low_temporal if coh == "low" else cfg.high_temporal
            Rs, items = [], []
            for ri, rho in enumerate(cfg.rhos_lowrank):
                R = rank_for(rho, M, L, N)
                if R < 1 or not on_grid(lowrank_complexity(R, M, L, N), rho, cfg.rhos_lowrank):
                    continue
                S, _, V = lowrank_input(R, L, N, temporal=temporal, generator=gen)
                Rs.append((ri, rho, R, lowrank_coherence(V, theta=theta)))
                items.append(S)
            if not items:
                continue
            Sb = torch.stack(items).to(A)  # (B, L, N)
            E = state_noise(net, N, cfg.noise_std, len(items), gen)
            Y = vec(Sb) @ A.T + E  # (B, M)
            lam = recovery.nuclear_lambda(A, tau, L, N)
            # float32 products are ~3x faster and the rMSE floor here (~1e-6) is far above
            # float32 round-off; the measurements themselves are made in float64
            t1 = time.perf_counter()
            if A_nuc is None:
                A_nuc = A.to(getattr(torch, cfg.nuclear_dtype))
                if cfg.nuclear_solver == "admm":
                    fac = fac if fac is not None else recovery.admm_factor(A_nuc)
                    prep = fac
                else:
                    prep = recovery.operator_norm_sq(A_nuc)
            if cfg.nuclear_solver == "admm":
                res = recovery.nuclear_norm_admm(A_nuc, Y.to(A_nuc.dtype), lam, (L, N), factor=prep,
                                                 max_iter=cfg.nuclear_max_iter, tol=cfg.nuclear_tol)
            else:
                res = recovery.nuclear_norm_apg(
                    A_nuc, Y.to(A_nuc.dtype), lam, (L, N), max_iter=cfg.nuclear_max_iter, tol=cfg.nuclear_tol,
                    stage_iters=cfg.nuclear_stage_iters, stage_tol=cfg.nuclear_stage_tol,
                    continuation=cfg.nuclear_continuation, lipschitz=prep,
                )
            dt = (time.perf_counter() - t1) / len(items)
            errs = rmse(res.X.to(Sb), Sb)
            for b, (ri, rho, R, mu) in enumerate(Rs):
                out.append(dict(base, panel=panel, kind=kind, coherence=coh, basis=temporal, mu=mu,
                                rho_index=ri, rho_nominal=rho, rho=lowrank_complexity(R, M, L, N), R=R,
                                rmse=float(errs[b]), seconds=dt,
                                floor=tau**2 * R * (L + N - R) / (c2 * float((Sb[b] ** 2).sum())),
                                solver=dict(solver=f"{cfg.nuclear_solver}-svt", iters=res.iters, converged=bool(res.converged[b]))))
    for r in out:
        r["operator_seconds"] = t_op
    return out


def phase_checks(records: Sequence[dict[str, Any]], cfg: PhaseConfig) -> dict[str, Any]:
    """The checks of Fig. 2, computed from records.

    * ``transitions``: {panel: {gamma: rho where the success fraction (rmse <= success_rmse)
      crosses 1/2}};
    * ``donoho_tanner``: at delta = gamma in (0.1, 0.25, 0.5) (those in the grid), the measured
      sparse low-coherence rho_50 beside the asymptotic l1 curve rho*(delta);
    * ``coherence_lowers``: per kind, (gamma, rho_50 low, rho_50 high) and whether high is
      strictly lower everywhere both are finite;
    * ``noise_floor``: per panel, the grid points with M < L N whose median rMSE is within 10x
      the oracle noise floor (tau^2 dof / (c^2 ||S||^2)), and the smallest such gamma.
    """
    panels = sorted({r["panel"] for r in records})
    trans = {p: {g: transition_rho(c) for g, c in success_curve(records, p, cfg.success_rmse).items()} for p in panels}
    dt = []
    if "sparse-low" in trans:
        for d in (0.1, 0.25, 0.5):
            if d in trans["sparse-low"]:
                dt.append(dict(delta=d, rho_measured=trans["sparse-low"][d], rho_dt=float(donoho_tanner(d)[0])))
    lowers: dict[str, Any] = {}
    for kind in ("sparse", "lowrank"):
        lo, hi = trans.get(f"{kind}-low"), trans.get(f"{kind}-high")
        if lo is None or hi is None:
            continue
        rows = [(g, lo[g], hi.get(g, math.nan)) for g in sorted(lo)]
        # compare where both exist and are not the same bound (+-inf: beyond the grid)
        finite = [(g, a, b) for g, a, b in rows if not (math.isnan(a) or math.isnan(b) or (math.isinf(a) and a == b))]
        lowers[kind] = dict(rows=rows, strictly_lower=all(b < a for _, a, b in finite) if finite else None,
                            lower_at=sum(b < a for _, a, b in finite), compared=len(finite))
    floor: dict[str, Any] = {}
    for p in panels:
        pts: dict[tuple[float, float], list[tuple[float, float]]] = {}
        for r in records:
            if r["panel"] == p and r["M"] < r["L"] * r["N"]:
                pts.setdefault((r["gamma"], r["rho_nominal"]), []).append((r["rmse"], r["floor"]))
        hits = [k for k, v in pts.items()
                if np.median([a for a, _ in v]) <= 10 * np.median([b for _, b in v])]
        floor[p] = dict(points=len(hits), of=len(pts), min_gamma=min((g for g, _ in hits), default=None))
    return dict(transitions=trans, donoho_tanner=dt, coherence_lowers=lowers, noise_floor=floor)
