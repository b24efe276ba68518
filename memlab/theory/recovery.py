"""Sparse and low-rank recovery from linear measurements y = A x + e (seed 003).

* LASSO / basis-pursuit denoising (its Lagrangian form), sklearn's scaling:

      min_a  1/(2M) ||y - D a||_2^2 + alpha ||a||_1          D (M, P),

  solved by skglm (working sets + Anderson-accelerated coordinate descent) with scikit-learn's
  coordinate descent as the fallback, plus an optional least-squares debiasing on the support.

* Nuclear-norm regularised least squares on an L x N matrix,

      min_X  1/2 ||y - A vec(X)||_2^2 + lambda ||X||_*         A (M, L N), X (L, N),

  by accelerated proximal gradient (FISTA) with singular-value thresholding, gradient-based
  adaptive restart and lambda continuation (Toh & Yun 2010), batched over right-hand sides that
  share A (one batched SVD per iteration), with warm starts and a capped iteration count so
  the failure region of a phase diagram costs a bounded time. Runs on any torch device.

* cvxpy references of both programs (:func:`lasso_cvxpy`, :func:`nuclear_cvxpy`) for tests
  and benchmarks only; cvxpy is imported lazily.

vec is time-major as in ``memlab.theory.stm``: vec(X)[n L + l] = X[l, n].
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
import torch

from memlab.core.errors import ConfigError, check_choice, check_range

LASSO_BACKENDS: tuple[str, ...] = ("auto", "skglm", "sklearn")


# ----------------------------------------------------------------------------------------------
# LASSO
# ----------------------------------------------------------------------------------------------


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def lasso_objective(D: Any, y: Any, a: Any, alpha: float) -> float:
    """1/(2M) ||y - D a||^2 + alpha ||a||_1 for D (M, P), y (M,), a (P,)."""
    D, y, a = _as_numpy(D), _as_numpy(y), _as_numpy(a)
    r = y - D @ a
    return float(r @ r / (2 * D.shape[0]) + alpha * np.abs(a).sum())


def lasso_alpha(D: Any, tau: float, factor: float = 1.0) -> float:
    """The universal weight alpha = factor tau sqrt(2 log P) c / M for noise of std tau.

    c is the RMS column norm of D; then ||D^T e||_inf / M <= alpha with high probability, the
    condition under which the BPDN/LASSO error is O(tau sqrt(K log P)).
    """
    D = _as_numpy(D)
    M, P = D.shape
    c = math.sqrt(float((D**2).sum()) / P)
    return max(factor * tau * math.sqrt(2 * math.log(max(P, 2))) * c / M, 1e-12)


def _skglm_available() -> bool:
    try:
        import skglm  # noqa: F401
    except ImportError:
        return False
    return True


def lasso(
    D: Any,
    y: Any,
    alpha: float,
    *,
    backend: str = "auto",
    tol: float = 1e-2,
    max_iter: int = 50,
    max_epochs: int = 20_000,
    debias: bool = False,
    debias_iters: int = 100,
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Solve the LASSO for D (M, P) and y (M,) -> a (P,) (numpy, float64).

    backend: ``skglm`` (default when installed), ``sklearn`` (coordinate descent) or ``auto``.
    ``tol`` is relative: skglm stops when its KKT violation (gradient distance to the
    subdifferential, in the 1/M-scaled objective's units) is below ``tol * alpha`` (an
    absolute tolerance is meaningless when alpha is set from a small noise level: near the
    phase transition tol = 1e-5 absolute left rMSE 100x above the floor); scikit-learn gets
    ``tol`` for its own relative duality-gap criterion.
    ``max_iter`` caps skglm's working-set iterations (sklearn: ``max_iter * 100`` epochs), so
    hopeless problems in the failure region stop in bounded time. ``debias`` refits the
    non-zeros by least squares when the support has fewer than M entries (removes the l1
    shrinkage bias so successful recoveries reach the noise floor).
    """
    check_choice("backend", backend, LASSO_BACKENDS)
    check_range("alpha", float(alpha), 0.0, lo_open=True)
    D = np.ascontiguousarray(_as_numpy(D), dtype=np.float64)
    y = np.asarray(_as_numpy(y), dtype=np.float64).reshape(-1)
    if D.ndim != 2 or D.shape[0] != y.shape[0]:
        raise ConfigError(f"D has shape {D.shape} and y has {y.shape}; need D (M, P) and y (M,)")
    use = backend
    if backend == "auto":
        use = "skglm" if _skglm_available() else "sklearn"
    if use == "skglm":
        from skglm import Lasso

        model = Lasso(alpha=alpha, fit_intercept=False, tol=tol * alpha, max_iter=max_iter, max_epochs=max_epochs)
    else:
        from sklearn.linear_model import Lasso

        model = Lasso(alpha=alpha, fit_intercept=False, tol=tol, max_iter=max_iter * 100, selection="cyclic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: the cap is deliberate; see info
        model.fit(D, y)
    a = np.asarray(model.coef_, dtype=np.float64).reshape(-1).copy()
    iters = int(np.max(getattr(model, "n_iter_", 0)))
    info: dict[str, Any] = {"solver": use, "iters": iters, "nnz": int(np.count_nonzero(a))}
    if debias:
        supp = np.flatnonzero(a)
        if 0 < supp.size < D.shape[0]:
            # least squares on the support, warm-started at the LASSO values; LSQR with a cap
            # rather than a dense solve, which costs M |supp|^2 on large failed supports
            from scipy.sparse.linalg import lsqr

            Ds = D[:, supp]
            corr = lsqr(Ds, y - Ds @ a[supp], atol=1e-10, btol=1e-10, iter_lim=debias_iters)[0]
            a[supp] += corr
            info["debiased"] = True
    return (a, info) if return_info else a


def lasso_cvxpy(D: Any, y: Any, alpha: float, solver: str = "CLARABEL") -> tuple[np.ndarray, float]:
    """Reference LASSO by cvxpy (tests/benchmarks only): returns (a, objective)."""
    import cvxpy as cp

    D, y = _as_numpy(D), _as_numpy(y)
    M, P = D.shape
    a = cp.Variable(P)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(y - D @ a) / (2 * M) + alpha * cp.norm1(a)))
    prob.solve(solver=solver)
    return np.asarray(a.value), float(prob.value)


# ----------------------------------------------------------------------------------------------
# nuclear norm
# ----------------------------------------------------------------------------------------------


class NuclearResult(NamedTuple):
    """X: (B, L, N) solutions; iters: iterations run; converged: (B,) bool; objective: (B,)."""

    X: torch.Tensor
    iters: int
    converged: torch.Tensor
    objective: torch.Tensor


def _vec(X: torch.Tensor) -> torch.Tensor:
    return X.transpose(-1, -2).reshape(*X.shape[:-2], -1)  # (B, N L), time-major


def _unvec(x: torch.Tensor, L: int, N: int) -> torch.Tensor:
    return x.reshape(*x.shape[:-1], N, L).transpose(-1, -2)  # (B, L, N)


def svt(X: torch.Tensor, thr: torch.Tensor | float) -> torch.Tensor:
    """Singular-value thresholding prox of thr ||.||_*:  U max(Sigma - thr, 0) V^T.

    X: (B, L, N); thr: scalar or (B,). Returns (B, L, N).
    """
    U, s, Vh = torch.linalg.svd(X, full_matrices=False)  # (B, L, k), (B, k), (B, k, N)
    thr_t = torch.as_tensor(thr, dtype=s.dtype, device=s.device)
    if thr_t.dim() == 1:
        thr_t = thr_t.unsqueeze(-1)
    s = torch.clamp(s - thr_t, min=0.0)
    return (U * s.unsqueeze(-2)) @ Vh


def nuclear_objective(A: torch.Tensor, Y: torch.Tensor, X: torch.Tensor, lam: torch.Tensor | float) -> torch.Tensor:
    """1/2 ||y - A vec(X)||^2 + lambda ||X||_*, batched: A (M, LN), Y (B, M), X (B, L, N) -> (B,)."""
    r = Y - _vec(X) @ A.T
    nuc = torch.linalg.svdvals(X).sum(-1)
    return 0.5 * (r**2).sum(-1) + torch.as_tensor(lam, dtype=X.dtype, device=X.device) * nuc


def operator_norm_sq(A: torch.Tensor, iters: int = 50, generator: torch.Generator | None = None) -> float:
    """||A||_2^2 (the Lipschitz constant of the data term's gradient).

    Exact SVD for small A; otherwise power iteration on A^T A with a 2% safety margin (power
    iteration approaches from below, and a step larger than 1/||A||^2 can diverge).
    """
    if min(A.shape) <= 256:
        return float(torch.linalg.matrix_norm(A, ord=2)) ** 2
    v = torch.randn(A.shape[1], dtype=A.dtype, generator=generator).to(A.device)
    v = v / v.norm()
    s = 0.0
    for _ in range(iters):
        w = A.T @ (A @ v)
        s = float(w.norm())
        v = w / s
    return 1.02 * s


def nuclear_lambda(A: torch.Tensor, tau: float, L: int, N: int, factor: float = 1.0) -> float:
    """lambda = factor tau c (sqrt(L) + sqrt(N)): about ||A^*(e)||_op for noise of std tau.

    A^*(e) reshaped to L x N has i.i.d.-like entries of std tau c (c: RMS column norm of A),
    whose spectral norm is ~ tau c (sqrt(L) + sqrt(N)).
    """
    c = math.sqrt(float((A**2).sum()) / A.shape[1])
    return max(factor * tau * c * (math.sqrt(L) + math.sqrt(N)), 1e-12)


def nuclear_norm_apg(
    A: torch.Tensor,
    Y: torch.Tensor,
    lam: float | torch.Tensor,
    shape: tuple[int, int],
    *,
    X0: torch.Tensor | None = None,
    max_iter: int = 500,
    tol: float = 1e-6,
    lipschitz: float | None = None,
    continuation: float = 0.5,
    stage_iters: int = 25,
    stage_tol: float = 1e-3,
    restart: bool = True,
) -> NuclearResult:
    """Accelerated proximal gradient for min_X 1/2 ||y - A vec(X)||^2 + lambda ||X||_*.

    A: (M, L N) on any device; Y: (B, M) or (M,) right-hand sides sharing A; lam: scalar or (B,);
    shape: (L, N); X0: optional warm start (B, L, N). Each iteration costs two products with A
    for the whole batch and one batched SVD of (B, L, N).

    Step 1/||A||^2; FISTA momentum t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2, reset per right-hand
    side when <Z_k - X_{k+1}, X_{k+1} - X_k> > 0 (O'Donoghue & Candes 2015).

    Continuation (why): with M < L N the data term is flat on the null space of A, where only
    the prox shrinks the iterate, by step * lambda per iteration; at a noise-level lambda that
    takes tens of thousands of iterations from a dense iterate. Following the path instead keeps
    the iterate low-rank: without a warm start lambda starts at ||A^* y||_op (where X = 0 is
    optimal) and, per right-hand side, is multiplied by ``continuation`` whenever the relative
    change falls below ``stage_tol`` or after ``stage_iters`` iterations (momentum restarts).
    Stops when every right-hand side is at its target lambda with relative change
    ||X_{k+1} - X_k|| / ||X_{k+1}|| < tol, or after ``max_iter`` iterations (``converged`` then
    says which did).
    """
    L, N = shape
    if A.dim() != 2 or A.shape[1] != L * N:
        raise ConfigError(f"A has shape {tuple(A.shape)}; expected (M, {L * N}) for X of shape ({L}, {N})")
    squeeze = Y.dim() == 1
    Yb = (Y.unsqueeze(0) if squeeze else Y).to(A)  # (B, M)
    B = Yb.shape[0]
    check_range("max_iter", max_iter, 1)
    check_range("continuation", continuation, 0.0, 1.0, lo_open=True)
    lam_t = torch.as_tensor(lam, dtype=A.dtype, device=A.device).expand(B).clone()
    if bool((lam_t < 0).any()):
        raise ConfigError(f"lambda={lam!r} is out of range; allowed: >= 0")
    Lc = lipschitz if lipschitz is not None else operator_norm_sq(A)
    step = 1.0 / Lc
    if X0 is None:
        X = torch.zeros(B, L, N, dtype=A.dtype, device=A.device)
        lam_k = torch.maximum(lam_t, continuation * torch.linalg.matrix_norm(_unvec(Yb @ A, L, N), ord=2))
    else:
        X = X0.to(A).expand(B, L, N).clone()
        lam_k = lam_t.clone()
    Z = X.clone()  # extrapolated point
    t = torch.ones(B, dtype=A.dtype, device=A.device)
    inner = torch.zeros(B, dtype=torch.long, device=A.device)
    rel = torch.full((B,), math.inf, dtype=A.dtype, device=A.device)
    it = 0
    for it in range(1, max_iter + 1):
        G = _unvec((_vec(Z) @ A.T - Yb) @ A, L, N)  # gradient A^*(A vec(Z) - y)  (B, L, N)
        Xn = svt(Z - step * G, step * lam_k)
        D = Xn - X
        rel = D.flatten(1).norm(dim=1) / Xn.flatten(1).norm(dim=1).clamp_min(1e-300)
        t_n = 0.5 * (1 + torch.sqrt(1 + 4 * t * t))
        beta = (t - 1) / t_n
        at_target = lam_k <= lam_t
        next_stage = ~at_target & ((rel < stage_tol) | (inner + 1 >= stage_iters))
        reset = next_stage
        if restart:
            reset = reset | (((Z - Xn) * D).sum(dim=(-2, -1)) > 0)
        beta = torch.where(reset, torch.zeros_like(beta), beta)
        t_n = torch.where(reset, torch.ones_like(t_n), t_n)
        Z = Xn + beta.view(B, 1, 1) * D
        X, t = Xn, t_n
        lam_k = torch.where(next_stage, torch.maximum(lam_t, lam_k * continuation), lam_k)
        inner = torch.where(next_stage, torch.zeros_like(inner), inner + 1)
        if bool(at_target.all()) and bool((rel < tol).all()):
            break
    obj = nuclear_objective(A, Yb, X, lam_t)
    conv = (rel < tol) & (lam_k <= lam_t)
    if squeeze:
        return NuclearResult(X[0], it, conv[0], obj[0])
    return NuclearResult(X, it, conv, obj)


def nuclear_cvxpy(
    A: Any, y: Any, lam: float, shape: tuple[int, int], solver: str = "SCS", **solver_opts: Any
) -> tuple[np.ndarray, float]:
    """Reference nuclear-norm program by cvxpy (tests/benchmarks only): returns (X (L, N), objective)."""
    import cvxpy as cp

    A, y = _as_numpy(A), _as_numpy(y)
    L, N = shape
    X = cp.Variable((L, N))
    # vec is time-major: vec(X) = X^T flattened row-major = cp.vec(X) with order "C" on X^T
    v = cp.vec(X.T, order="C")
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(y - A @ v) + lam * cp.normNuc(X)))
    prob.solve(solver=solver, **solver_opts)
    return np.asarray(X.value), float(prob.value)
