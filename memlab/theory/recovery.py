"""Sparse and low-rank recovery from linear measurements y = A x + e (seed 003).

* LASSO / basis-pursuit denoising (its Lagrangian form), sklearn's scaling:

      min_a  1/(2M) ||y - D a||_2^2 + alpha ||a||_1          D (M, P),

  solved by skglm (working sets + Anderson-accelerated coordinate descent) with scikit-learn's
  coordinate descent as the fallback, plus an optional least-squares debiasing on the support.

* Nuclear-norm regularised least squares on an L x N matrix,

      min_X  1/2 ||y - A vec(X)||_2^2 + lambda ||X||_*         A (M, L N), X (L, N),

  two solvers, both batched over right-hand sides that share A, with warm starts and a capped
  iteration count so the failure region of a phase diagram costs a bounded time, on any torch
  device: accelerated proximal gradient (FISTA) with singular-value thresholding,
  gradient-based adaptive restart and lambda continuation (Toh & Yun 2010;
  :func:`nuclear_norm_apg`, fastest for a single well-posed problem), and over-relaxed ADMM
  whose x-update is an exact solve through a cached Cholesky factor of A A^T + rho I
  (:func:`nuclear_norm_admm`; converges in a few hundred iterations also near the phase
  transition, where APG needs thousands). The singular-value thresholding goes through the
  eigendecomposition of the small Gram matrix (:func:`svt`).

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
    saturation: float | None = None,
    screen_tol: float = 0.1,
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

    ``saturation`` (None: off) bounds the work in the failure region of a phase diagram: the
    problem is first solved to the loose tolerance ``screen_tol`` (same units as ``tol``); when
    that solution already has at least ``saturation * M`` non-zeros (M = rows of D: a support as
    large as the number of measurements, so sparse recovery has failed) it is returned as is
    (``info["saturated"]``), otherwise the solve continues from it, warm-started, to ``tol``.
    Saturated solves are where the coordinate descent is slowest (~80% of the LASSO time of
    the Fig. 2 sweep); stopping them at the loose tolerance changed their rMSE by a few percent
    (solver-path noise of the same size as between converged solvers) and never their success.
    """
    check_choice("backend", backend, LASSO_BACKENDS)
    check_range("alpha", float(alpha), 0.0, lo_open=True)
    # column-major, as both coordinate-descent backends want it (they copy a C-ordered D on
    # every fit: 64 MB at M = 2000); pass a Fortran-ordered D to share one copy across calls
    D = np.asfortranarray(_as_numpy(D), dtype=np.float64)
    y = np.asarray(_as_numpy(y), dtype=np.float64).reshape(-1)
    if D.ndim != 2 or D.shape[0] != y.shape[0]:
        raise ConfigError(f"D has shape {D.shape} and y has {y.shape}; need D (M, P) and y (M,)")
    if saturation is not None:
        check_range("saturation", float(saturation), 0.0, lo_open=True)
        check_range("screen_tol", float(screen_tol), float(tol))
    use = backend
    if backend == "auto":
        use = "skglm" if _skglm_available() else "sklearn"

    def make(rel_tol: float, warm: bool) -> Any:
        if use == "skglm":
            from skglm import Lasso

            return Lasso(alpha=alpha, fit_intercept=False, tol=rel_tol * alpha, max_iter=max_iter,
                         max_epochs=max_epochs, warm_start=warm)
        from sklearn.linear_model import Lasso

        return Lasso(alpha=alpha, fit_intercept=False, tol=rel_tol, max_iter=max_iter * 100, selection="cyclic",
                     warm_start=warm)

    info: dict[str, Any] = {"solver": use}
    iters = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: the cap is deliberate; see info
        if saturation is None:
            model = make(tol, False)
        else:
            model = make(screen_tol, True)
            model.fit(D, y)
            iters += int(np.max(getattr(model, "n_iter_", 0)))
            info["saturated"] = bool(np.count_nonzero(model.coef_) >= saturation * D.shape[0])
            if not info["saturated"]:
                model.tol = tol * alpha if use == "skglm" else tol  # continue from the screen
        if not info.get("saturated", False):
            model.fit(D, y)
            iters += int(np.max(getattr(model, "n_iter_", 0)))
    a = np.asarray(model.coef_, dtype=np.float64).reshape(-1).copy()
    info.update(iters=iters, nnz=int(np.count_nonzero(a)))
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


def _admm(
    A: torch.Tensor, Y: torch.Tensor, chol: torch.Tensor, prox: Any, Z: torch.Tensor, max_iter: int, tol: float,
    relax: float,
) -> tuple[torch.Tensor, int, torch.Tensor]:
    """Scaled-form ADMM iterations shared by :func:`lasso_admm` and :func:`nuclear_norm_admm`.

    min_x 1/2 ||y - A x||^2 + g(x) split as x = z, batched over the rows of Y (B, M); A: (M, P);
    chol: Cholesky factor of A A^T + rho I (float64); prox: the prox of g / rho on (B, P);
    Z: (B, P) start. Returns (z, iterations run, converged (B,) bool); the steps and the
    stopping rule are those documented in :func:`nuclear_norm_admm`.
    """
    U = torch.zeros_like(Z)
    conv = torch.zeros(Z.shape[0], dtype=torch.bool, device=Z.device)
    it = 0
    for it in range(1, max_iter + 1):
        V = Z - U
        w = torch.cholesky_solve((Y - V @ A.T).double().T, chol).T.to(A.dtype)  # (A A^T + rho I)^-1 (y - A v)
        X = V + w @ A
        Xh = relax * X + (1 - relax) * Z
        Zn = prox(Xh + U)
        U = U + Xh - Zn
        pri = (X - Zn).norm(dim=1) <= tol * torch.maximum(X.norm(dim=1), Zn.norm(dim=1))
        dual = (Zn - Z).norm(dim=1) <= tol * U.norm(dim=1)
        Z = Zn
        conv = pri & dual
        if bool(conv.all()):
            break
    return Z, it, conv


def lasso_admm(
    D: torch.Tensor,
    Y: torch.Tensor,
    alpha: float | torch.Tensor,
    *,
    factor: "AdmmFactor | None" = None,
    max_iter: int = 300,
    tol: float = 1e-3,
    relax: float = 1.6,
    debias: bool = True,
    debias_iters: int = 100,
    D_debias: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The LASSO of :func:`lasso` for many right-hand sides sharing D, by batched ADMM.

    D: (M, P) torch (any dtype/device); Y: (B, M); alpha: scalar or (B,). Returns (a (B, P)
    float64 numpy, info). Same splitting as :func:`nuclear_norm_admm` on
    1/2 ||y - D a||^2 + M alpha ||a||_1 (the 1/(2M)-scaled objective times M), with
    soft-thresholding at M alpha / rho in place of the SVT and the x-update through the cached
    Cholesky factor of D D^T + rho I (:func:`admm_factor`; for D = A (Psi kron I) with an
    orthonormal Psi, D D^T = A A^T, so one factor serves every panel of a network). Each
    iteration costs two (B, M) x (M, P) products for the whole batch, which is why it beats
    coordinate descent on the dense, nearly saturated supports of the failure region. Stops as
    :func:`nuclear_norm_admm` does. ``debias``: least squares on each support with fewer than M
    entries, as in :func:`lasso` (on ``D_debias``, a float64 copy of D, when given).
    """
    check_range("max_iter", max_iter, 1)
    check_range("tol", float(tol), 0.0)
    check_range("relax", float(relax), 0.0, 2.0, lo_open=True, hi_open=True)
    if D.dim() != 2 or Y.dim() != 2 or Y.shape[1] != D.shape[0]:
        raise ConfigError(f"D has shape {tuple(D.shape)} and Y has {tuple(Y.shape)}; need D (M, P) and Y (B, M)")
    M, P = D.shape
    B = Y.shape[0]
    al = torch.as_tensor(alpha, dtype=torch.float64).expand(B).clone()
    if bool((al <= 0).any()):
        raise ConfigError(f"alpha={alpha!r} is out of range; allowed: > 0")
    fac = factor if factor is not None else admm_factor(D)
    if fac.chol.shape != (M, M):
        raise ConfigError(f"factor is for an operator with {fac.chol.shape[0]} rows; D has {M}")
    chol = fac.chol.to(D.device)
    thr = (M * al / fac.rho).to(D).unsqueeze(1)  # (B, 1)
    Yd = Y.to(D)
    Z0 = torch.zeros(B, P, dtype=D.dtype, device=D.device)
    Z, it, conv = _admm(D, Yd, chol, lambda Q: torch.sign(Q) * torch.clamp(Q.abs() - thr, min=0.0), Z0,
                        max_iter, tol, relax)
    a = Z.double().cpu().numpy()
    info: dict[str, Any] = {"solver": "admm", "iters": it, "converged": conv.cpu().tolist(),
                            "nnz": [int(n) for n in np.count_nonzero(a, axis=1)]}
    if debias:
        from scipy.sparse.linalg import lsqr

        Dn = D_debias if D_debias is not None else D.double().cpu().numpy()
        Yn = Y.double().cpu().numpy()
        for b in range(B):
            supp = np.flatnonzero(a[b])
            if 0 < supp.size < M:
                Ds = Dn[:, supp]
                a[b, supp] += lsqr(Ds, Yn[b] - Ds @ a[b, supp], atol=1e-10, btol=1e-10, iter_lim=debias_iters)[0]
    return a, info


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


SVT_METHODS: tuple[str, ...] = ("gram", "svd")


def svt(X: torch.Tensor, thr: torch.Tensor | float, method: str = "gram") -> torch.Tensor:
    """Singular-value thresholding prox of thr ||.||_*:  U max(Sigma - thr, 0) V^T.

    X: (B, L, N) (or (L, N)); thr: scalar or (B,). Returns X's shape and dtype.

    ``svd``: a batched thin SVD. ``gram`` (default; 2-4x faster for the 40 x 100 blocks of the
    phase diagram): the eigendecomposition of the small Gram matrix X X^T = U Sigma^2 U^T
    (X^T X when L > N), formed and decomposed in float64 whatever X's dtype, and then
    SVT(X) = U diag(max(1 - thr / sigma, 0)) U^T X, which is the same matrix because
    V^T = Sigma^-1 U^T X on the kept singular values. The float64 Gram keeps sigma accurate
    to ~1e-8 sigma_max, far below any threshold in use (in float32 the squared matrix would
    lose sigma below ~3e-4 sigma_max).
    """
    check_choice("method", method, SVT_METHODS)
    thr_t = torch.as_tensor(thr, dtype=torch.float64, device=X.device)
    if thr_t.dim() == 1:
        thr_t = thr_t.unsqueeze(-1)
    if method == "svd":
        U, s, Vh = torch.linalg.svd(X, full_matrices=False)  # (B, L, k), (B, k), (B, k, N)
        s = torch.clamp(s - thr_t.to(s.dtype), min=0.0)
        return (U * s.unsqueeze(-2)) @ Vh
    tall = X.shape[-2] > X.shape[-1]
    Xt = X.transpose(-1, -2) if tall else X  # (..., k, n) with k <= n
    Xd = Xt.to(torch.float64)
    w, U = torch.linalg.eigh(Xd @ Xd.transpose(-1, -2))  # (..., k), (..., k, k)
    sig = w.clamp_min(0.0).sqrt()
    f = torch.where(sig > thr_t, 1.0 - thr_t / sig.clamp_min(1e-300), torch.zeros_like(sig))
    P = (U * f.unsqueeze(-2)) @ U.transpose(-1, -2)  # U diag(f) U^T  (..., k, k)
    out = P.to(X.dtype) @ Xt
    return out.transpose(-1, -2) if tall else out


def nuclear_objective(A: torch.Tensor, Y: torch.Tensor, X: torch.Tensor, lam: torch.Tensor | float) -> torch.Tensor:
    """1/2 ||y - A vec(X)||^2 + lambda ||X||_*, batched: A (M, LN), Y (B, M), X (B, L, N) -> (B,)."""
    r = Y - _vec(X) @ A.T
    nuc = torch.linalg.svdvals(X).sum(-1)
    return 0.5 * (r**2).sum(-1) + torch.as_tensor(lam, dtype=X.dtype, device=X.device) * nuc


def operator_norm_sq(A: torch.Tensor, iters: int = 25, generator: torch.Generator | None = None) -> float:
    """||A||_2^2 (the Lipschitz constant of the data term's gradient).

    Exact SVD for small A; otherwise ``iters`` Lanczos steps (full reorthogonalisation) on
    A A^T (or A^T A, whichever is smaller), whose largest Ritz value approaches ||A||^2 from
    below much faster than power iteration (25 steps: within ~1e-4 on the phase-diagram
    operators, where 50 power steps were still ~1% low), times a 1% safety margin (a step
    larger than 1/||A||^2 can make the iteration diverge).
    """
    check_range("iters", iters, 2)
    if min(A.shape) <= 256:
        return float(torch.linalg.matrix_norm(A, ord=2)) ** 2
    M, P = A.shape
    n = min(M, P)
    op = (lambda v: A @ (v @ A)) if M <= P else (lambda v: (A @ v) @ A)
    v = torch.randn(n, dtype=A.dtype, generator=generator).to(A.device)
    v = v / v.norm()
    V = torch.empty(iters, n, dtype=A.dtype, device=A.device)
    alphas: list[float] = []
    betas: list[float] = []
    for j in range(iters):
        V[j] = v
        w = op(v)
        alphas.append(float(w @ v))
        for _ in range(2):  # full reorthogonalisation, twice is enough
            w = w - (V[: j + 1] @ w) @ V[: j + 1]
        beta = float(w.norm())
        if j == iters - 1 or beta <= 1e-10 * abs(alphas[-1]):
            break
        betas.append(beta)
        v = w / beta
    k = len(alphas)
    T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if k > 1:
        b = torch.tensor(betas[: k - 1], dtype=torch.float64)
        T = T + torch.diag(b, 1) + torch.diag(b, -1)
    return 1.01 * float(torch.linalg.eigvalsh(T)[-1])


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
    continuation: float = 0.1,
    stage_iters: int = 50,
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
    the iterate low-rank: without a warm start lambda starts at ``continuation`` ||A^* y||_op
    (X = 0 is optimal at ||A^* y||_op) and, per right-hand side, is multiplied by
    ``continuation`` whenever the relative change falls below ``stage_tol`` or after
    ``stage_iters`` iterations (momentum restarts). The defaults (0.1, 50, 1e-3) reach the
    minimiser's rMSE (within 5%) at L=40, N=100, M=1000 in ~150-210 iterations; the former
    (0.5, 50, 1e-4) took ~300-340, nearly all of them on the path.
    The step is 1/||A||^2 from ``lipschitz`` or :func:`operator_norm_sq`.
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


class AdmmFactor(NamedTuple):
    """The cached part of :func:`nuclear_norm_admm`'s x-update for one operator A (M, P).

    chol: (M, M) float64 lower Cholesky factor of A A^T + rho I; rho: the ADMM penalty.
    Several problems (right-hand sides, panels) that share A can share it.
    """

    chol: torch.Tensor
    rho: float


def admm_factor(A: torch.Tensor, rho: float | None = None, rho_scale: float = 0.01) -> AdmmFactor:
    """Factor A A^T + rho I (M x M) for :func:`nuclear_norm_admm`.

    ``rho`` defaults to ``rho_scale`` times the mean eigenvalue of A A^T (||A||_F^2 / M), the
    choice that converged fastest on the phase-diagram operators (0.003-0.01; 0.03 is already
    ~2x slower). A A^T is formed in A's dtype (M^2 P flops, the dominant setup cost) and
    factored in float64, where rho keeps it well conditioned (cond <= 1 + ||A||^2 / rho).
    """
    if A.dim() != 2:
        raise ConfigError(f"A has shape {tuple(A.shape)}; expected a matrix (M, P)")
    M = A.shape[0]
    if rho is None:
        check_range("rho_scale", float(rho_scale), 0.0, lo_open=True)
        rho = rho_scale * float((A.double() ** 2).sum()) / M
    check_range("rho", float(rho), 0.0, lo_open=True)
    G = (A @ A.T).double()
    G.diagonal().add_(float(rho))
    chol, info = torch.linalg.cholesky_ex(G)
    if int(info) != 0:  # pragma: no cover - rho > 0 makes G positive definite
        raise ConfigError(f"A A^T + rho I is not positive definite (rho={rho}); increase rho")
    return AdmmFactor(chol, float(rho))


def nuclear_norm_admm(
    A: torch.Tensor,
    Y: torch.Tensor,
    lam: float | torch.Tensor,
    shape: tuple[int, int],
    *,
    factor: AdmmFactor | None = None,
    X0: torch.Tensor | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    relax: float = 1.6,
) -> NuclearResult:
    """ADMM for min_X 1/2 ||y - A vec(X)||^2 + lambda ||X||_*, batched over right-hand sides.

    A: (M, L N) on any device; Y: (B, M) or (M,) sharing A; lam: scalar or (B,); shape: (L, N);
    factor: :func:`admm_factor` of A (computed when not given; pass it to reuse it across calls);
    X0: optional warm start (B, L, N). Splitting x = z (x = vec(X)), scaled dual u, penalty rho:

        x <- argmin 1/2 ||y - A x||^2 + rho/2 ||x - v||^2,  v = z - u
           = v + A^T (A A^T + rho I)^-1 (y - A v)            (Woodbury: an M x M solve, cached)
        x^ <- relax x + (1 - relax) z                         (over-relaxation, relax in (0, 2))
        z <- SVT(x^ + u, lambda / rho)
        u <- u + x^ - z

    Each iteration costs two products with A for the batch, two triangular solves (M^2 per
    right-hand side) and one batched SVT of (B, L, N); the exact x-update sets the components
    of x in the null space of A in one step, which is what makes APG slow on these
    problems: near the phase transition APG needed ~1000 iterations where ADMM needs ~200-300
    for the same objective (6 digits). Stops when, for every right-hand side, the primal and
    dual residuals satisfy ||x - z|| <= tol max(||x||, ||z||) and ||z_k+1 - z_k|| <= tol ||u||
    (Boyd et al. 2011, section 3.3, relative form), or after ``max_iter`` iterations.
    Returns z (exactly low-rank) in a :class:`NuclearResult`.
    """
    L, N = shape
    if A.dim() != 2 or A.shape[1] != L * N:
        raise ConfigError(f"A has shape {tuple(A.shape)}; expected (M, {L * N}) for X of shape ({L}, {N})")
    check_range("max_iter", max_iter, 1)
    check_range("tol", float(tol), 0.0)
    check_range("relax", float(relax), 0.0, 2.0, lo_open=True, hi_open=True)
    squeeze = Y.dim() == 1
    Yb = (Y.unsqueeze(0) if squeeze else Y).to(A)  # (B, M)
    B = Yb.shape[0]
    if Yb.shape[1] != A.shape[0]:
        raise ConfigError(f"Y has {Yb.shape[1]} measurements per right-hand side; A has {A.shape[0]} rows")
    lam_t = torch.as_tensor(lam, dtype=A.dtype, device=A.device).expand(B).clone()
    if bool((lam_t < 0).any()):
        raise ConfigError(f"lambda={lam!r} is out of range; allowed: >= 0")
    fac = factor if factor is not None else admm_factor(A)
    if fac.chol.shape != (A.shape[0], A.shape[0]):
        raise ConfigError(f"factor is for an operator with {fac.chol.shape[0]} rows; A has {A.shape[0]}")
    chol = fac.chol.to(A.device)
    rho = fac.rho
    thr = lam_t / rho
    Z0 = torch.zeros(B, L * N, dtype=A.dtype, device=A.device) if X0 is None else _vec(X0.to(A).expand(B, L, N))
    Z, it, conv = _admm(A, Yb, chol, lambda Q: _vec(svt(_unvec(Q, L, N), thr)), Z0, max_iter, tol, relax)
    Zm = _unvec(Z, L, N)
    obj = nuclear_objective(A, Yb, Zm, lam_t)
    if squeeze:
        return NuclearResult(Zm[0], it, conv[0], obj[0])
    return NuclearResult(Zm, it, conv, obj)


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
