"""The perfect infinite-dimensional memory of seed 000 §5, realised in a finite function basis.

The memory is a smooth function m: [-1, 1] → R^d and, for an item x ∈ R^d,

    π(m, x)(t) = ∫_0^t m(a) da + x          (save)
    γ(m)       = (m(0), dm/dt)              (recover)

γ(π(m, x)) = (x, m) by the fundamental theorem of calculus, so with every smooth function
allowed the memory is perfect. After saving x_1 … x_n into m_0 = 0,

    m_n(t) = Σ_{j=0}^{n-1} x_{n-j} t^j / j!,

a Taylor series whose j-th coefficient holds the item of lag j+1: bounded on [-1, 1]
(|m_n| ≤ e·max|x|) yet needing n basis functions.

``FunctionMemory`` stores m by K coefficients in a polynomial basis (monomial, Chebyshev or
Legendre) of degree < K. Integration raises the degree by one, so ``save`` truncates back to K
coefficients (the only approximation); ``m(0)`` and the derivative are exact in the basis. With
K ≥ n the n items come back exactly (up to round-off); with K < n the oldest are lost, so the
error falls as the basis grows: the finite-dimensional memory is imperfect (Thm 3.3) and holds
about K items of size d in K·d numbers.

Shapes: B batch, K basis size, d item size.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from numpy.polynomial import chebyshev, legendre, polynomial
from torch import Tensor

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.core.interfaces import SequenceMemory

BASES = ("monomial", "chebyshev", "legendre")
_MODULES = {"monomial": polynomial, "chebyshev": chebyshev, "legendre": legendre}
_PREFIX = {"monomial": "poly", "chebyshev": "cheb", "legendre": "leg"}


def _fn(basis: str, op: str):
    """numpy.polynomial routine ``op`` (int, der, val, vander) of ``basis``."""
    return getattr(_MODULES[basis], _PREFIX[basis] + op)


class FunctionState(NamedTuple):
    coef: Tensor  # (B, K, d): m(t) = Σ_j coef[:, j] φ_j(t)


@lru_cache(maxsize=64)
def basis_operators(basis: str, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linear maps on K coefficients (float64).

    Returns (S, e, z, D): S (K, K) is f ↦ ∫_0^t f truncated to degree < K; e (K,) the
    coefficients of the constant 1; z (K,) the values φ_j(0); D (K, K) is f ↦ df/dt.
    """
    check_choice("basis", basis, BASES)
    check_range("basis_size", K, 1)
    S, D = np.zeros((K, K)), np.zeros((K, K))
    z = np.zeros(K)
    for j in range(K):
        unit = np.zeros(K)
        unit[j] = 1.0
        integ = _fn(basis, "int")(unit, lbnd=0)
        S[:, j] = integ[:K]  # drop the degree-K coefficient: the truncation
        der = _fn(basis, "der")(unit)
        D[: len(der), j] = der
        z[j] = _fn(basis, "val")(0.0, unit)
    e = np.zeros(K)
    e[0] = 1.0  # φ_0 = 1 in all three bases
    return S, e, z, D


class FunctionMemory(SequenceMemory):
    """Seed 000 §5 memory with a K-function polynomial basis on [-1, 1] (float64)."""

    def __init__(self, item_size: int, basis_size: int, basis: str = "chebyshev"):
        check_range("item_size", item_size, 1)
        check_range("basis_size", basis_size, 1)
        check_choice("basis", basis, BASES)
        self.item_size, self.K, self.basis = item_size, basis_size, basis
        S, e, z, D = basis_operators(basis, basis_size)
        self._S, self._e, self._z, self._D = (torch.from_numpy(a) for a in (S, e, z, D))

    def initial_memory(self, batch_size: int, device=None) -> FunctionState:
        return FunctionState(torch.zeros(batch_size, self.K, self.item_size, dtype=torch.float64, device=device))

    def save(self, m: FunctionState, x: Tensor) -> FunctionState:
        """π(m, x) = ∫_0^t m + x. x: (B, d)."""
        if x.dim() != 2 or x.shape[1] != self.item_size:
            raise ConfigError(f"item must be (B, {self.item_size}); got shape {tuple(x.shape)}")
        S, e = self._S.to(m.coef.device), self._e.to(m.coef.device)
        coef = torch.einsum("kj,bjd->bkd", S, m.coef) + e.view(1, -1, 1) * x.to(torch.float64).unsqueeze(1)
        return FunctionState(coef)  # (B, K, d)

    def recover(self, m: FunctionState) -> tuple[Tensor, FunctionState]:
        """γ(m) = (m(0), dm/dt)."""
        z, D = self._z.to(m.coef.device), self._D.to(m.coef.device)
        x = torch.einsum("j,bjd->bd", z, m.coef)  # (B, d)
        return x, FunctionState(torch.einsum("kj,bjd->bkd", D, m.coef))

    def memory_vector(self, m: FunctionState) -> Tensor:
        return m.coef.reshape(m.coef.shape[0], -1)  # (B, K·d)

    def memory_size(self, steps: int = 0) -> int:
        return self.K * self.item_size

    def evaluate(self, m: FunctionState, t: Tensor) -> Tensor:
        """m(t) at points t (P,) -> (B, P, d)."""
        V = torch.from_numpy(_fn(self.basis, "vander")(t.detach().cpu().numpy().astype(np.float64), self.K - 1))  # (P, K)
        return torch.einsum("pk,bkd->bpd", V.to(m.coef.device), m.coef)


def recovery_error_by_lag(mem: SequenceMemory, n: int, batch: int = 256, seed: int = 0) -> np.ndarray:
    """Save n random N(0, I) items, recover n times with the memory's own γ; normalised MSE per lag.

    Returns (n,) where entry k-1 is E‖x̂ - x‖² / E‖x‖² for the item of lag k (k = 1: the last saved).
    """
    check_range("n", n, 1)
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(n, batch, mem.item_size, generator=g, dtype=torch.float64)  # (n, B, d)
    m = mem.save_n(mem.initial_memory(batch), xs)
    rec, _ = mem.recover_n(m, n)  # (n, B, d), rec[k-1] ≈ xs[n-k]
    truth = xs.flip(0)
    return (((rec.to(torch.float64) - truth) ** 2).sum(-1).mean(-1) / (truth**2).sum(-1).mean(-1)).numpy()
