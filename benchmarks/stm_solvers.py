"""Seed 003 solvers, side by side on the same problems: per-problem time and rMSE.

LASSO (sparse inputs, canonical basis): skglm vs scikit-learn coordinate descent vs cvxpy
(default conic solver). Nuclear norm (rank-2 inputs): our accelerated proximal gradient
(float64, float32, and float32 batched over 8 right-hand sides sharing the operator, time per
problem) vs cvxpy + SCS. Full size: L = 40, N = 100, M = 1000 (gamma = 0.25), the issue's
reference shape; ``quick``: L = 8, N = 25, M = 60.

Times are wall-clock (``seconds``) and process CPU (``cpu_seconds``; steadier on a shared
machine). Run: ``python benchmarks/stm_solvers.py [--quick]``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable


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
    return out


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
    import torch

    from memlab.theory import recovery, stm

    # ---- nuclear norm: rank 2 (rho = 2 (L + N - 2) / M)
    R = 2 if not quick else 1
    B = 8
    Ss = torch.stack([stm.lowrank_input(R, L, N, generator=gen)[0] for _ in range(B)])  # (B, L, N)
    Y = stm.vec(Ss) @ A.T + stm.state_noise(net, N, noise_std, B, gen)  # (B, M)
    lam = recovery.nuclear_lambda(A, tau, L, N)
    Ad = A.to(dev)
    nuc: dict[str, Any] = dict(R=R, rho=R * (L + N - R) / M, lam=lam, batch=B)
    kw: dict[str, Any] = dict(max_iter=300, tol=1e-5, stage_iters=50, stage_tol=1e-4)

    def ours(dtype, batch, **over):
        Yd = (Y if batch else Y[:1]).to(dev, dtype)
        res = recovery.nuclear_norm_apg(Ad.to(dtype), Yd, lam, (L, N), **{**kw, **over})
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return res

    # the phase-diagram settings (300 iterations at most), and run to convergence in float64
    # (same minimiser as SCS, so the same rMSE)
    variants = (("apg_float64", torch.float64, False, {}), ("apg_float32", torch.float32, False, {}),
                ("apg_float32_batched", torch.float32, True, {}),
                ("apg_float64_converged", torch.float64, False, dict(max_iter=3000, tol=1e-8)),
                ("apg_float32_batched_converged", torch.float32, True, dict(max_iter=3000, tol=1e-6)))
    for name, dtype, batch, over in variants:
        res, wall, cpu = _timed(lambda: ours(dtype, batch, **over))
        n = B if batch else 1
        err = stm.rmse(res.X.double().cpu(), Ss[:n])
        nuc[name] = dict(seconds=wall / n, cpu_seconds=cpu / n, iters=res.iters, rmse=float(err.mean()))
    try:
        import cvxpy  # noqa: F401

        (Xc, _), wall, cpu = _timed(lambda: recovery.nuclear_cvxpy(An, Y[0].numpy(), lam, (L, N), solver="SCS"))
        nuc["cvxpy_scs"] = dict(seconds=wall, cpu_seconds=cpu,
                                rmse=float(stm.rmse(torch.from_numpy(Xc), Ss[0])))
        for name, *_ in variants:
            nuc[f"speedup_{name}_vs_scs_wall"] = nuc["cvxpy_scs"]["seconds"] / nuc[name]["seconds"]
            nuc[f"speedup_{name}_vs_scs_cpu"] = nuc["cvxpy_scs"]["cpu_seconds"] / nuc[name]["cpu_seconds"]
    except ImportError:
        nuc["cvxpy_scs"] = "not installed"
    return nuc


if __name__ == "__main__":
    argv = sys.argv[1:]
    only = tuple(a.split("=", 1)[1] for a in argv if a.startswith("--only="))
    print(json.dumps(run(quick="--quick" in argv, parts=only or ("lasso", "nuclear")), indent=2, default=str))
