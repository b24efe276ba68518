"""Tensor product representation (seed 001 §2.4.3, eq. 2.58–2.63; Smolensky 1990).

Filler–role bindings superposed in one tensor, decoded by a tensor dot product:

    T = Σ_i f_i ⊗ r_i                                   (2.58)
    f_j = T • u_j                                        (2.59)

where u_j is the unbinding vector of role j: u_j = r_j for orthonormal roles (exact), the dual
basis (rows of (Rᵀ)⁺, u_jᵀ r_i = δ_ij) for linearly independent roles (exact), or r_j itself for
random roles (crosstalk Σ_{i≠j} f_i (r_iᵀ r_j)).

Nested roles build trees (Fig. 2.6a, eq. 2.61–2.63): a filler at path p = (p_1, …, p_d) is bound to
r_{p} = r_{p_1} ⊗ … ⊗ r_{p_d}; e.g. B ⊗ r_0 ⊗ r_1 = B ⊗ r_{01}. Fillers at different depths live in
different tensor orders and are superposed as a direct sum (one tensor per depth).

Shapes: fillers F (B, Q, Df), roles R (B, Q, Dr), T (B, Df, Dr), unbinding vectors (B, P, Dr).
"""

from __future__ import annotations

import torch
from torch import Tensor

from memlab.core.errors import ConfigError
from memlab.memory.associative import AssociativeMemory, check_positive_int


# ----------------------------------------------------------------------------- pure functions
def tpr_bind(fillers: Tensor, roles: Tensor) -> Tensor:
    """Eq. 2.58: T = Σ_i f_i ⊗ r_i. fillers (B, Q, Df), roles (B, Q, Dr) -> T (B, Df, Dr)."""
    return fillers.transpose(-1, -2) @ roles


def tpr_unbind(T: Tensor, u: Tensor) -> Tensor:
    """Eq. 2.59: f = T • u (contract the role index). T (B, Df, Dr), u (B, P, Dr) -> (B, P, Df)."""
    return u @ T.transpose(-1, -2)


def unbinding_vectors(roles: Tensor) -> Tensor:
    """Dual basis of linearly independent roles: U with U Rᵀ = I. roles (B, Q, Dr) -> (B, Q, Dr)."""
    return torch.linalg.pinv(roles).transpose(-1, -2)


def orthonormal_roles(
    batch: int, count: int, size: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Q ≤ Dr random orthonormal role vectors (B, Q, Dr) (QR of a Gaussian matrix)."""
    if count > size:
        raise ConfigError(f"count={count} orthonormal roles in {size} dimensions; allowed: count <= {size}")
    g = torch.randn(batch, size, count, generator=generator, dtype=torch.float64)
    q, _ = torch.linalg.qr(g)  # (B, Dr, Q)
    return q.transpose(-1, -2).to(dtype)


def random_roles(batch: int, count: int, size: int, generator: torch.Generator | None = None) -> Tensor:
    """Random unit-norm roles (B, Q, Dr): nearly orthogonal in high dimension, never exactly."""
    r = torch.randn(batch, count, size, generator=generator)
    return r / r.norm(dim=-1, keepdim=True)


def role_path(roles: Tensor, path: str) -> Tensor:
    """r_p = r_{p_1} ⊗ r_{p_2} ⊗ … (eq. 2.62–2.63). roles (K, Dr) (K symbols, e.g. 0 = left,
    1 = right); path a string of digits -> (Dr,)*len(path)."""
    if not path or any(not c.isdigit() or int(c) >= roles.shape[0] for c in path):
        raise ConfigError(f"path={path!r} is not allowed; use a non-empty string of role indices 0..{roles.shape[0] - 1}")
    out = roles[int(path[0])]
    for c in path[1:]:
        out = torch.tensordot(out, roles[int(c)], dims=0)  # outer product, one more order
    return out


def encode_tree(fillers: dict[str, Tensor], roles: Tensor) -> dict[int, Tensor]:
    """Eq. 2.61–2.63: T = Σ_p f_p ⊗ r_p, kept as a direct sum over depths.

    fillers {path: (B, Df)}, roles (K, Dr) -> {depth d: (B, Df, Dr, …, Dr) with d role indices}.
    """
    T: dict[int, Tensor] = {}
    for path, f in fillers.items():
        r = role_path(roles, path)
        term = f.reshape(*f.shape, *([1] * r.dim())) * r  # (B, Df, Dr^d)
        T[len(path)] = T[len(path)] + term if len(path) in T else term
    return T


def decode_tree(T: dict[int, Tensor], path: str, unbind_roles: Tensor) -> Tensor:
    """f_p = T_d • u_{p_1} • … • u_{p_d} (contract every role index). unbind_roles (K, Dr) are the
    unbinding vectors (the roles themselves if orthonormal). Returns (B, Df)."""
    d = len(path)
    if d not in T:
        raise ConfigError(f"path={path!r} has depth {d}; allowed depths: {sorted(T)}")
    u = role_path(unbind_roles, path)
    return torch.tensordot(T[d], u, dims=d)


# ----------------------------------------------------------------------------- the memory
class TensorProductRepresentation(AssociativeMemory):
    """Order-2 TPR (B, Df, Dr): keys are roles (Dr), values are fillers (Df); cues are unbinding
    vectors (pass roles for orthonormal roles, ``unbinding_vectors(roles)`` otherwise)."""

    def __init__(self, role_size: int, filler_size: int, device: str | torch.device | None = "cpu") -> None:
        super().__init__(device)
        check_positive_int("role_size", role_size)
        check_positive_int("filler_size", filler_size)
        self.key_size, self.value_size = role_size, filler_size

    def empty(self, batch_size: int = 1) -> Tensor:
        return torch.zeros(batch_size, self.value_size, self.key_size, device=self.device, dtype=self.dtype)

    def encode(self, keys: Tensor, values: Tensor | None = None) -> Tensor:
        roles, fillers, _ = self._pairs(keys, values)
        return tpr_bind(fillers.to(self.dtype), roles.to(self.dtype))

    def decode(self, trace: Tensor, cues: Tensor) -> Tensor:
        cues, squeezed = self._cues(trace, cues)
        out = tpr_unbind(trace, cues.to(trace.dtype))
        return out.squeeze(0) if squeezed else out
