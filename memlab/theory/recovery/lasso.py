"""LASSO / basis-pursuit denoising: coordinate descent (skglm, sklearn), batched ADMM, cvxpy reference."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.theory.recovery.admm import AdmmFactor, _admm, admm_factor

LASSO_BACKENDS: tuple[str, ...] = ("auto", "skglm", "sklearn")


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


def lasso_admm(
    D: torch.Tensor,
    Y: torch.Tensor,
    alpha: float | torch.Tensor,
    *,
    factor: AdmmFactor | None = None,
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
