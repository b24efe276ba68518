"""Seed 003 solvers, side by side on the same problems: per-problem time and rMSE.

LASSO (sparse inputs, canonical basis): skglm vs scikit-learn coordinate descent vs cvxpy
(default conic solver). Nuclear norm (rank-2 inputs): our APG and ADMM (float64 and float32,
single problems and batches of 8 right-hand sides sharing the operator, time per problem) vs
cvxpy + SCS (default tolerances) on the first problem. Full size: L = 40, N = 100, M = 1000
(gamma = 0.25), the issue's reference shape; ``quick``: L = 8, N = 25, M = 60.

Speed-ups are compared at equal rMSE: every variant records the rMSE of its solution of the
problem SCS solved, ``equal_rmse`` says whether it is at most 5% above SCS's, and
``rmse_over_minimiser_max`` compares every right-hand side with the program's minimiser (APG run
to 1e-10). The headline figures (top level) are the single float64 problem (APG) and the
configuration the phase diagram runs (ADMM, float32, batched). Our times are the median of 3
runs; SCS runs once. Times are wall-clock (``seconds``) and process CPU (``cpu_seconds``; steadier
on a shared machine), one thread. Run: ``memlab bench stm-solvers`` (writes
results/bench/stm-solvers.json) or ``python benchmarks/stm_solvers.py [--quick]``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable

RMSE_TOL = 0.05  # "equal rMSE": ours at most 5% above SCS's on the same problem


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run(quick: bool = False, device: str = "cpu", parts: tuple[str, ...] = ("lasso", "nuclear")) -> dict:
    """Time our LASSO and nuclear-norm solvers against their references; returns a dict."""
    import torch

    from memlab.core.runtime import make_generator, resolve_device
    from memlab.theory import recovery, stm

    dev = resolve_device(device)
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass
    L, N, M = (8, 25, 60) if quick else (40, 100, 1000)
    noise_std = 1e-2
    gen = make_generator(2024, M)
    net = stm.random_network(M, L, generator=gen)
    A = stm.measurement_operator(net.W, net.Z, N)
    tau = stm.noise_level(net, N, noise_std)
    out: dict[str, Any] = dict(L=L, N=N, M=M, gamma=M / (L * N), noise_std=noise_std, device=str(dev),
                               threads=1, quick=quick)

    # ---- LASSO: K = 0.15 M (inside the Donoho-Tanner region at gamma = 0.25)
    K = max(1, round(0.15 * M))
    I = stm.time_basis("identity", N)
    S, _ = stm.sparse_input(K, L, N, I, generator=gen)
    y = (A @ stm.vec(S) + stm.state_noise(net, N, noise_std, 1, gen)[0]).numpy()
    An = A.numpy()
    if "lasso" in parts:
        out["lasso"] = _lasso(An, y, S, I, L, N, M, K, tau)
    if "nuclear" in parts:
        out["nuclear"] = _nuclear(A, An, net, gen, dev, L, N, M, tau, noise_std, quick)
    return {**_headline(out), **out}


def _lasso(An, y, S, I, L, N, M, K, tau) -> dict:
    import torch

    from memlab.theory import recovery, stm

    alpha = recovery.lasso_alpha(An, tau)
    recovery.lasso(An[:20, :40], y[:20], alpha)  # compile skglm's numba kernels outside the timing
    lasso: dict[str, Any] = {}
    runs = {
        "skglm": lambda: recovery.lasso(An, y, alpha, backend="skglm"),
        "sklearn": lambda: recovery.lasso(An, y, alpha, backend="sklearn", tol=1e-6),
    }
    try:
        import cvxpy  # noqa: F401

        runs["cvxpy"] = lambda: recovery.lasso_cvxpy(An, y, alpha)[0]
    except ImportError:
        lasso["cvxpy"] = "not installed"
    for name, fn in runs.items():
        a, wall, cpu = _timed(fn)
        lasso[name] = dict(seconds=wall, cpu_seconds=cpu, objective=recovery.lasso_objective(An, y, a, alpha),
                           rmse=float(stm.rmse(stm.synthesize(torch.from_numpy(a), I, L, N), S)))
    res = dict(K=K, rho=K / M, alpha=alpha, **lasso)
    if isinstance(lasso.get("cvxpy"), dict):
        res["speedup_skglm_vs_cvxpy_cpu"] = lasso["cvxpy"]["cpu_seconds"] / lasso["skglm"]["cpu_seconds"]
    res["speedup_skglm_vs_sklearn_cpu"] = lasso["sklearn"]["cpu_seconds"] / lasso["skglm"]["cpu_seconds"]
    return res


def _nuclear(A, An, net, gen, dev, L, N, M, tau, noise_std, quick) -> dict:
    import statistics

    import torch

    from memlab.theory import recovery, stm

    # ---- nuclear norm: rank 2 (rho = 2 (L + N - 2) / M)
    R = 2 if not quick else 1
    B = 8
    Ss = torch.stack([stm.lowrank_input(R, L, N, generator=gen)[0] for _ in range(B)])  # (B, L, N)
    Y = stm.vec(Ss) @ A.T + stm.state_noise(net, N, noise_std, B, gen)  # (B, M)
    lam = recovery.nuclear_lambda(A, tau, L, N)
    Ad = A.to(dev)
    nuc: dict[str, Any] = dict(R=R, rho=R * (L + N - R) / M, lam=lam, batch=B, repeats=3,
                               rmse_tolerance=RMSE_TOL)
    # the minimiser's rMSE per right-hand side (APG run far past convergence, float64)
    ref = recovery.nuclear_norm_apg(Ad, Y.to(dev), lam, (L, N), max_iter=5000, tol=1e-10)
    ref_rmse = stm.rmse(ref.X.double().cpu(), Ss)
    nuc["minimiser_rmse_rhs0"] = float(ref_rmse[0])

    def solve(kind, dtype, batch, kw):
        Yd = (Y if batch else Y[:1]).to(dev, dtype)
        Adt = Ad.to(dtype)
        if kind == "apg":
            res = recovery.nuclear_norm_apg(Adt, Yd, lam, (L, N), **kw)
        else:  # the factorisation of A A^T + rho I is part of the timed solve
            res = recovery.nuclear_norm_admm(Adt, Yd, lam, (L, N), **kw)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return res

    apg_kw = dict(max_iter=1000, tol=1e-5)  # default continuation (0.1, 50 iterations, 1e-3)
    variants = (
        ("apg_float64", "apg", torch.float64, False, apg_kw),
        ("apg_float32", "apg", torch.float32, False, apg_kw),
        ("apg_float32_batched", "apg", torch.float32, True, apg_kw),
        ("admm_float64", "admm", torch.float64, False, dict(max_iter=1000, tol=1e-3)),
        # what `memlab run stm-phase-diagram` runs on its low-rank panels
        ("admm_float32_batched", "admm", torch.float32, True, dict(max_iter=500, tol=1e-3)),
        # the previous phase-diagram settings: stopped at 300 iterations, 30% above the minimiser's rMSE
        ("apg_float64_previous", "apg", torch.float64, False,
         dict(max_iter=300, tol=1e-5, continuation=0.5, stage_iters=50, stage_tol=1e-4)),
    )
    for name, kind, dtype, batch, kw in variants:
        n = B if batch else 1
        runs = [_timed(lambda: solve(kind, dtype, batch, kw)) for _ in range(3)]
        res = runs[0][0]
        err = stm.rmse(res.X.double().cpu(), Ss[:n])
        nuc[name] = dict(seconds=statistics.median(r[1] for r in runs) / n,
                         cpu_seconds=statistics.median(r[2] for r in runs) / n, iters=res.iters,
                         rmse=float(err[0]), rmse_over_minimiser_max=float((err / ref_rmse[:n]).max()),
                         rmse_mean=float(err.mean()))
    try:
        import cvxpy  # noqa: F401

        (Xc, _), wall, cpu = _timed(lambda: recovery.nuclear_cvxpy(An, Y[0].numpy(), lam, (L, N), solver="SCS"))
        scs_rmse = float(stm.rmse(torch.from_numpy(Xc), Ss[0]))
        nuc["cvxpy_scs"] = dict(seconds=wall, cpu_seconds=cpu, rmse=scs_rmse,
                                rmse_over_minimiser=scs_rmse / float(ref_rmse[0]))
        for name, *_ in variants:
            v = nuc[name]
            # equal rMSE: ours (on the right-hand side SCS solved) at most RMSE_TOL above SCS's
            v["equal_rmse"] = v["rmse"] <= scs_rmse * (1 + RMSE_TOL)
            v["speedup_vs_scs_cpu"] = nuc["cvxpy_scs"]["cpu_seconds"] / v["cpu_seconds"]
            v["speedup_vs_scs_wall"] = nuc["cvxpy_scs"]["seconds"] / v["seconds"]
    except ImportError:
        nuc["cvxpy_scs"] = "not installed"
    return nuc


def _headline(out: dict) -> dict:
    """Flat figures for BENCHMARKS.md (the nested records stay under lasso / nuclear)."""
    h: dict[str, Any] = {}
    nuc = out.get("nuclear")
    if isinstance(nuc, dict) and isinstance(nuc.get("cvxpy_scs"), dict):
        scs = nuc["cvxpy_scs"]
        h["nuclear_scs_cpu_s"] = scs["cpu_seconds"]
        h["nuclear_scs_rmse"] = scs["rmse"]
        for name, label in (("apg_float64", "single problem, float64, APG"),
                            ("admm_float32_batched", "phase-diagram configuration: ADMM, float32, 8 problems batched")):
            v = nuc[name]
            h[f"nuclear_{name}_cpu_s_per_problem"] = v["cpu_seconds"]
            h[f"nuclear_{name}_rmse"] = v["rmse"]
            h[f"nuclear_{name}_equal_rmse"] = v["equal_rmse"]
            h[f"nuclear_{name}_speedup_vs_scs_cpu"] = v["speedup_vs_scs_cpu"]
            h[f"nuclear_{name}_is"] = label
        h["nuclear_target_speedup"] = 15.0
    las = out.get("lasso")
    if isinstance(las, dict) and "speedup_skglm_vs_cvxpy_cpu" in las:
        h["lasso_skglm_speedup_vs_cvxpy_cpu"] = las["speedup_skglm_vs_cvxpy_cpu"]
    return h


if __name__ == "__main__":
    argv = sys.argv[1:]
    only = tuple(a.split("=", 1)[1] for a in argv if a.startswith("--only="))
    print(json.dumps(run(quick="--quick" in argv, parts=only or ("lasso", "nuclear")), indent=2, default=str))
