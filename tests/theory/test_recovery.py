"""Seed 003 recovery: LASSO and nuclear-norm APG / ADMM against cvxpy, exact recovery and failure."""

import math

import numpy as np
import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.theory import recovery, stm


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _rnn_problem(M, L, N, seed=0):
    net = stm.random_network(M, L, spectral_radius=0.99, generator=_gen(seed))
    return net, stm.measurement_operator(net.W, net.Z, N)


@pytest.mark.parametrize("backend", ["skglm", "sklearn"])
def test_lasso_matches_cvxpy_objective(backend):
    pytest.importorskip("cvxpy")
    if backend == "skglm":
        pytest.importorskip("skglm")
    _, A = _rnn_problem(30, 4, 20, seed=1)  # (30, 80)
    g = _gen(2)
    S, _ = stm.sparse_input(6, 4, 20, stm.time_basis("identity", 20), generator=g)
    y = (A @ stm.vec(S)).numpy() + 0.01 * torch.randn(30, generator=g, dtype=torch.float64).numpy()
    alpha = 1e-3
    a = recovery.lasso(A, y, alpha, backend=backend, tol=1e-6, max_iter=200)
    _, ref = recovery.lasso_cvxpy(A, y, alpha)
    ours = recovery.lasso_objective(A, y, a, alpha)
    assert abs(ours - ref) <= 1e-4 * abs(ref)


def test_lasso_saturation_screen():
    _, A = _rnn_problem(60, 4, 30, seed=17)  # (60, 120)
    I = stm.time_basis("identity", 30)
    g = _gen(18)
    alpha = 1e-4
    # inside the recovery region: the screen is not saturated and the solve goes on to tol
    S, _ = stm.sparse_input(6, 4, 30, I, generator=g)
    y = (A @ stm.vec(S)).numpy()
    a0 = recovery.lasso(A, y, alpha, tol=1e-6, max_iter=200)
    a1, info = recovery.lasso(A, y, alpha, tol=1e-6, max_iter=200, saturation=1.0, return_info=True)
    assert info["saturated"] is False
    o0, o1 = recovery.lasso_objective(A, y, a0, alpha), recovery.lasso_objective(A, y, a1, alpha)
    assert abs(o1 - o0) <= 1e-4 * abs(o0)
    # far outside (K = 2 M): the loose screen already uses every measurement and is returned
    S, _ = stm.sparse_input(120, 4, 30, I, generator=g)
    y = (A @ stm.vec(S)).numpy()
    _, info = recovery.lasso(A, y, alpha, saturation=0.9, return_info=True)
    assert info["saturated"] is True and info["nnz"] >= 0.9 * 60
    with pytest.raises(ConfigError, match="saturation"):
        recovery.lasso(A, y, alpha, saturation=-1.0)
    with pytest.raises(ConfigError, match="screen_tol"):
        recovery.lasso(A, y, alpha, tol=0.1, saturation=1.0, screen_tol=0.01)


def test_lasso_admm_matches_cvxpy_batched_and_debiased():
    pytest.importorskip("cvxpy")
    _, A = _rnn_problem(30, 4, 20, seed=1)  # (30, 80)
    g = _gen(2)
    I = stm.time_basis("identity", 20)
    Ss = [stm.sparse_input(K, 4, 20, I, generator=g)[0] for K in (3, 6, 25)]
    Y = torch.stack([A @ stm.vec(S) for S in Ss]) + 0.01 * torch.randn(3, 30, generator=g, dtype=torch.float64)
    alpha = 1e-3
    a, info = recovery.lasso_admm(A, Y, alpha, max_iter=20000, tol=1e-9, debias=False)
    assert a.shape == (3, 80) and all(info["converged"])
    for b in range(3):  # the same program as lasso / lasso_cvxpy, per right-hand side
        _, ref = recovery.lasso_cvxpy(A, Y[b].numpy(), alpha)
        assert abs(recovery.lasso_objective(A, Y[b], a[b], alpha) - ref) <= 1e-4 * abs(ref)
        single, _ = recovery.lasso_admm(A, Y[b:b + 1], alpha, max_iter=20000, tol=1e-9, debias=False)
        np.testing.assert_allclose(single[0], a[b], atol=1e-7)
    # debiasing as in lasso(): a noiseless sparse problem is recovered exactly
    y0 = (A @ stm.vec(Ss[0])).unsqueeze(0)
    a0, _ = recovery.lasso_admm(A, y0, 1e-7, max_iter=5000, tol=1e-8)
    assert stm.rmse(stm.synthesize(torch.from_numpy(a0[0]), I, 4, 20), Ss[0]).item() < 1e-8
    with pytest.raises(ConfigError, match="alpha"):
        recovery.lasso_admm(A, Y, 0.0)
    with pytest.raises(ConfigError, match="shape"):
        recovery.lasso_admm(A, Y[:, :10], alpha)
    with pytest.raises(ConfigError, match="factor"):
        recovery.lasso_admm(A, Y, alpha, factor=recovery.admm_factor(A[:10]))


def _small_nuclear_problem():
    L, N, M = 4, 6, 18
    _, A = _rnn_problem(M, L, N, seed=3)
    S, _, _ = stm.lowrank_input(1, L, N, generator=_gen(4))
    y = A @ stm.vec(S) + 0.05 * torch.randn(M, generator=_gen(5), dtype=torch.float64)
    return A, y, 0.05, (L, N)


def test_nuclear_matches_cvxpy_objective():
    pytest.importorskip("cvxpy")
    A, y, lam, shape = _small_nuclear_problem()
    res = recovery.nuclear_norm_apg(A, y, lam, shape, max_iter=20000, tol=1e-12)
    assert res.converged
    _, ref = recovery.nuclear_cvxpy(A, y, lam, shape, solver="SCS", eps=1e-10, max_iters=200000)
    assert abs(res.objective.item() - ref) <= 1e-4 * abs(ref)
    # our objective is also what nuclear_objective computes for the returned X
    torch.testing.assert_close(recovery.nuclear_objective(A, y.unsqueeze(0), res.X.unsqueeze(0), lam)[0], res.objective)


def test_svt_is_the_nuclear_prox():
    g = _gen(6)
    X = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    out = recovery.svt(X, 0.7)
    for b in range(3):
        U, s, Vh = torch.linalg.svd(X[b], full_matrices=False)
        torch.testing.assert_close(out[b], U @ torch.diag(torch.clamp(s - 0.7, min=0)) @ Vh)
    # prox optimality: X - prox(X) is a subgradient of thr ||.||_* at prox(X), spectral norm <= thr
    assert torch.linalg.matrix_norm(X - out, ord=2).max() <= 0.7 + 1e-10


def test_nuclear_batched_equals_single_and_warm_start():
    L, N, M = 5, 12, 40
    _, A = _rnn_problem(M, L, N, seed=7)
    g = _gen(8)
    Sb = torch.stack([stm.lowrank_input(R, L, N, generator=g)[0] for R in (1, 2, 3)])
    Y = stm.vec(Sb) @ A.T
    kw = dict(max_iter=3000, tol=1e-10)
    batch = recovery.nuclear_norm_apg(A, Y, 1e-3, (L, N), **kw)
    for b in range(3):
        single = recovery.nuclear_norm_apg(A, Y[b], 1e-3, (L, N), **kw)
        torch.testing.assert_close(single.X, batch.X[b], atol=1e-6, rtol=0)
    warm = recovery.nuclear_norm_apg(A, Y, 1e-3, (L, N), X0=batch.X, max_iter=3000, tol=1e-8)
    assert warm.iters < 50 and bool(warm.converged.all())


def test_nuclear_admm_matches_cvxpy_and_apg():
    pytest.importorskip("cvxpy")
    A, y, lam, shape = _small_nuclear_problem()
    res = recovery.nuclear_norm_admm(A, y, lam, shape, max_iter=20000, tol=1e-10)
    assert res.converged and res.X.shape == shape
    _, ref = recovery.nuclear_cvxpy(A, y, lam, shape, solver="SCS", eps=1e-10, max_iters=200000)
    assert abs(res.objective.item() - ref) <= 1e-4 * abs(ref)
    apg = recovery.nuclear_norm_apg(A, y, lam, shape, max_iter=20000, tol=1e-12)
    torch.testing.assert_close(res.X, apg.X, atol=1e-5, rtol=0)


def test_nuclear_admm_batched_factor_reuse_and_float32():
    L, N, M = 5, 12, 40
    _, A = _rnn_problem(M, L, N, seed=7)
    g = _gen(8)
    Sb = torch.stack([stm.lowrank_input(R, L, N, generator=g)[0] for R in (1, 2, 3)])
    Y = stm.vec(Sb) @ A.T + 1e-3 * torch.randn(3, M, generator=g, dtype=torch.float64)
    lam = torch.tensor([1e-3, 2e-3, 1e-3], dtype=torch.float64)
    apg = recovery.nuclear_norm_apg(A, Y, lam, (L, N), max_iter=5000, tol=1e-11)
    fac = recovery.admm_factor(A)
    batch = recovery.nuclear_norm_admm(A, Y, lam, (L, N), factor=fac, max_iter=5000, tol=1e-9)
    assert bool(batch.converged.all())
    torch.testing.assert_close(batch.X, apg.X, atol=1e-5, rtol=0)
    torch.testing.assert_close(batch.objective, apg.objective, rtol=1e-6, atol=0)
    for b in range(3):  # a right-hand side alone gives the same answer, with the factor reused
        single = recovery.nuclear_norm_admm(A, Y[b], lam[b], (L, N), factor=fac, max_iter=5000, tol=1e-9)
        torch.testing.assert_close(single.X, batch.X[b], atol=1e-6, rtol=0)
    # float32 (the phase diagram's dtype) reaches the same rMSE
    f32 = recovery.nuclear_norm_admm(A.float(), Y.float(), lam.float(), (L, N), max_iter=2000, tol=1e-4)
    e64, e32 = stm.rmse(batch.X, Sb), stm.rmse(f32.X.double(), Sb)
    assert torch.all((e32 - e64).abs() <= 0.05 * e64 + 1e-6)
    # warm start at the solution converges at once
    warm = recovery.nuclear_norm_admm(A, Y, lam, (L, N), factor=fac, X0=batch.X, max_iter=5000, tol=1e-6)
    assert warm.iters < batch.iters


def test_svt_gram_equals_svd_and_operator_norm_lanczos():
    g = _gen(14)
    for shape in ((4, 7, 30), (2, 30, 7)):  # wide and tall blocks
        X = torch.randn(*shape, generator=g, dtype=torch.float64)
        thr = torch.tensor([0.5, 2.0, 3.0, 5.0][: shape[0]], dtype=torch.float64)
        torch.testing.assert_close(recovery.svt(X, thr, "gram"), recovery.svt(X, thr, "svd"), atol=1e-10, rtol=0)
        X32 = X.float()
        torch.testing.assert_close(recovery.svt(X32, 1.0), recovery.svt(X32, 1.0, "svd"), atol=1e-4, rtol=0)
    with pytest.raises(ConfigError, match="method"):
        recovery.svt(X, 1.0, "qr")
    # Lanczos (large A): an upper bound within the 1% margin
    _, A = _rnn_problem(300, 4, 100, seed=15)  # (300, 400): past the exact-SVD size
    exact = float(torch.linalg.matrix_norm(A, ord=2)) ** 2
    est = recovery.operator_norm_sq(A, generator=_gen(16))
    assert exact <= est <= 1.011 * exact


def test_recovery_exact_inside_and_fails_outside_sparse():
    L, N, M = 5, 40, 100  # gamma = 0.5, Donoho-Tanner rho* ~ 0.39
    _, A = _rnn_problem(M, L, N, seed=9)
    I = stm.time_basis("identity", N)
    g = _gen(10)
    errs = {}
    for K in (10, 80):  # rho = 0.1 (deep inside) and 0.8 (far outside)
        S, _ = stm.sparse_input(K, L, N, I, generator=g)
        y = A @ stm.vec(S)
        a = recovery.lasso(A, y, 1e-7, tol=1e-3, debias=True)
        errs[K] = stm.rmse(stm.synthesize(torch.from_numpy(a), I, L, N), S).item()
    assert errs[10] < 1e-8
    assert errs[80] > 0.05


def test_recovery_exact_inside_and_fails_outside_lowrank():
    L, N, M = 6, 20, 90  # gamma = 0.75
    _, A = _rnn_problem(M, L, N, seed=11)
    g = _gen(12)
    S1, _, _ = stm.lowrank_input(1, L, N, generator=g)  # rho = 25/90
    S4, _, _ = stm.lowrank_input(5, L, N, generator=g)  # rho = 105/90 > 1: more unknowns than data
    res = recovery.nuclear_norm_apg(A, stm.vec(torch.stack([S1, S4])) @ A.T, 1e-4, (L, N), max_iter=4000, tol=1e-9)
    e = stm.rmse(res.X, torch.stack([S1, S4]))
    assert e[0] < 1e-6
    assert e[1] > 0.05


def test_alpha_and_lambda_scale_with_noise():
    _, A = _rnn_problem(50, 3, 20, seed=13)
    assert recovery.lasso_alpha(A, 0.2) == pytest.approx(2 * recovery.lasso_alpha(A, 0.1))
    c = math.sqrt(float((A**2).sum()) / A.shape[1])
    assert recovery.nuclear_lambda(A, 0.1, 3, 20) == pytest.approx(0.1 * c * (math.sqrt(3) + math.sqrt(20)))
    assert recovery.operator_norm_sq(A) == pytest.approx(float(torch.linalg.matrix_norm(A, ord=2)) ** 2)


def test_bad_arguments():
    A = np.random.default_rng(0).standard_normal((10, 20))
    with pytest.raises(ConfigError, match="shape"):
        recovery.lasso(A, np.ones(9), 0.1)
    with pytest.raises(ConfigError, match="alpha"):
        recovery.lasso(A, np.ones(10), 0.0)
    with pytest.raises(ConfigError, match="backend"):
        recovery.lasso(A, np.ones(10), 0.1, backend="glmnet")
    At = torch.from_numpy(A)
    with pytest.raises(ConfigError, match="shape"):
        recovery.nuclear_norm_apg(At, torch.ones(10, dtype=torch.float64), 0.1, (3, 5))
    with pytest.raises(ConfigError, match="lambda"):
        recovery.nuclear_norm_apg(At, torch.ones(10, dtype=torch.float64), -1.0, (4, 5))
    with pytest.raises(ConfigError, match="shape"):
        recovery.nuclear_norm_admm(At, torch.ones(10, dtype=torch.float64), 0.1, (3, 5))
    with pytest.raises(ConfigError, match="lambda"):
        recovery.nuclear_norm_admm(At, torch.ones(10, dtype=torch.float64), -1.0, (4, 5))
    with pytest.raises(ConfigError, match="measurements"):
        recovery.nuclear_norm_admm(At, torch.ones(9, dtype=torch.float64), 0.1, (4, 5))
    with pytest.raises(ConfigError, match="relax"):
        recovery.nuclear_norm_admm(At, torch.ones(10, dtype=torch.float64), 0.1, (4, 5), relax=2.0)
    with pytest.raises(ConfigError, match="rho"):
        recovery.admm_factor(At, rho=-1.0)
    with pytest.raises(ConfigError, match="factor"):
        recovery.nuclear_norm_admm(At, torch.ones(10, dtype=torch.float64), 0.1, (4, 5),
                                   factor=recovery.admm_factor(At[:5]))
