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

Modules: ``lasso`` (LASSO solvers), ``nuclear`` (nuclear-norm solvers, SVT), ``admm`` (the
ADMM iteration and Cholesky factor both batched solvers share).
"""

from __future__ import annotations

from memlab.theory.recovery.admm import AdmmFactor, admm_factor
from memlab.theory.recovery.lasso import (
    LASSO_BACKENDS, _skglm_available, lasso, lasso_admm, lasso_alpha, lasso_cvxpy, lasso_objective,
)
from memlab.theory.recovery.nuclear import (
    SVT_METHODS, NuclearResult, nuclear_cvxpy, nuclear_lambda, nuclear_norm_admm, nuclear_norm_apg,
    nuclear_objective, operator_norm_sq, svt,
)

__all__ = [
    "LASSO_BACKENDS", "SVT_METHODS", "AdmmFactor", "NuclearResult", "_skglm_available", "admm_factor", "lasso",
    "lasso_admm", "lasso_alpha", "lasso_cvxpy", "lasso_objective", "nuclear_cvxpy", "nuclear_lambda",
    "nuclear_norm_admm", "nuclear_norm_apg", "nuclear_objective", "operator_norm_sq", "svt",
]
