"""Correlation matrix memory (seed 001 §2.4.3, eq. 2.52–2.55): Hebbian, Widrow–Hoff and binary.

Hebbian storage and dot-product recall of Q pairs (x_i, y_i):

    M = Σ_i y_i x_iᵀ                                            (2.52)
    ỹ_j = M x_j = Σ_{i≠j} y_i (x_iᵀ x_j) + y_j ‖x_j‖²             (2.53–2.55)

Recall is exact when the keys are orthonormal. Linearly independent keys are enough if the
Widrow–Hoff (delta / LMS) rule M ← M + η (y − M x) xᵀ is used instead: it converges to the
least-squares solution M = Y X⁺, which reproduces every stored value. With binary values a
threshold is applied to the recall (the binary/Willshaw CMM: clipped weights, threshold = number
of active key bits).

Shapes: keys X (B, Q, Dk), values Y (B, Q, Dv), M (B, Dv, Dk), cues (B, P, Dk).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from memlab.core.errors import ConfigError
from memlab.memory.associative import AssociativeMemory, check_binary, check_choice, check_positive_int, check_range


# ----------------------------------------------------------------------------- pure functions
def hebbian_matrix(keys: Tensor, values: Tensor) -> Tensor:
    """Eq. 2.52: M = Σ_i y_i x_iᵀ. keys (B, Q, Dk), values (B, Q, Dv) -> M (B, Dv, Dk)."""
    return values.transpose(-1, -2) @ keys


def cmm_recall(M: Tensor, cues: Tensor) -> Tensor:
    """Eq. 2.53: ỹ = M x. M (B, Dv, Dk), cues (B, P, Dk) -> (B, P, Dv)."""
    return cues @ M.transpose(-1, -2)


def least_squares_matrix(keys: Tensor, values: Tensor) -> Tensor:
    """The Widrow–Hoff fixed point from M = 0: M = Y X⁺ (minimum-norm least squares).

    keys (B, Q, Dk), values (B, Q, Dv) -> (B, Dv, Dk). Exact recall iff the keys are linearly independent.
    """
    return values.transpose(-1, -2) @ torch.linalg.pinv(keys).transpose(-1, -2)


def widrow_hoff(
    keys: Tensor,
    values: Tensor,
    M0: Tensor | None = None,
    lr: float | None = None,
    epochs: int = 10_000,
    tol: float = 1e-6,
    check_every: int = 100,
    min_progress: float = 1e-4,
) -> tuple[Tensor, int]:
    """Widrow–Hoff (delta) rule in epoch form: M ← M + η Σ_i (y_i − M x_i) x_iᵀ.

    keys (B, Q, Dk), values (B, Q, Dv), M0 (B, Dv, Dk) or None (zeros). ``lr`` defaults to
    1/λ_max(XᵀX) per memory, which makes the iteration converge for any keys (to Y X⁺ + the part of
    M0 orthogonal to the keys). Stops when max_i ‖y_i − M x_i‖ / ‖y_i‖ < ``tol``, or when that error
    shrank by less than a fraction ``min_progress`` over ``check_every`` epochs (it has stalled at the
    least-squares residual, e.g. for linearly dependent keys), or after ``epochs``.
    Returns M (B, Dv, Dk) and the number of epochs run.
    """
    B, _, Dk = keys.shape
    M = torch.zeros(B, values.shape[-1], Dk, dtype=keys.dtype, device=keys.device) if M0 is None else M0.clone()
    if lr is None:
        lam = torch.linalg.matrix_norm(keys, ord=2) ** 2  # (B,) largest eigenvalue of XᵀX
        eta = (1.0 / lam.clamp_min(1e-12)).view(B, 1, 1)
    else:
        eta = torch.full((B, 1, 1), float(lr), dtype=keys.dtype, device=keys.device)
    ynorm = values.norm(dim=-1).clamp_min(1e-12)  # (B, Q)
    last = math.inf
    for epoch in range(epochs):
        err = values - cmm_recall(M, keys)  # (B, Q, Dv)
        if epoch % check_every == 0:
            worst = float((err.norm(dim=-1) / ynorm).max())
            if worst < tol:
                return M, epoch
            # dependent keys: the error converges to the least-squares residual, not to 0
            if worst > last * (1 - min_progress):
                return M, epoch
            last = worst
        M = M + eta * (err.transpose(-1, -2) @ keys)  # η Σ_i e_i x_iᵀ
    return M, epochs


def widrow_hoff_sequential(keys: Tensor, values: Tensor, lr: float, epochs: int) -> Tensor:
    """Reference: the pair-by-pair LMS rule M ← M + η (y_i − M x_i) x_iᵀ. Shapes as ``widrow_hoff``."""
    B, Q, Dk = keys.shape
    M = torch.zeros(B, values.shape[-1], Dk, dtype=keys.dtype)
    for _ in range(epochs):
        for i in range(Q):
            x, y = keys[:, i], values[:, i]  # (B, Dk), (B, Dv)
            e = y - (M @ x.unsqueeze(-1)).squeeze(-1)
            M = M + lr * e.unsqueeze(-1) * x.unsqueeze(-2)
    return M


def binary_matrix(keys: Tensor, values: Tensor) -> Tensor:
    """Binary CMM storage: M = min(1, Σ_i y_i x_iᵀ) for keys and values in {0, 1}. -> (B, Dv, Dk)."""
    return hebbian_matrix(keys, values).clamp(max=1)


def binary_recall(M: Tensor, cues: Tensor, threshold: Tensor | float | None = None) -> Tensor:
    """Thresholded recall: ỹ = [M x ≥ θ] with θ = number of active cue bits unless given.

    M (B, Dv, Dk), cues (B, P, Dk) in {0, 1} -> (B, P, Dv) in {0, 1}.
    """
    s = cmm_recall(M, cues)
    theta = cues.sum(-1, keepdim=True) if threshold is None else threshold
    return (s >= theta).to(cues.dtype)


# ----------------------------------------------------------------------------- the memory
class CorrelationMatrixMemory(AssociativeMemory):
    """Q pairs in a (Dv × Dk) matrix. ``rule``: "hebbian" (eq. 2.52), "widrow_hoff" (delta rule)
    or "binary" (clipped Hebbian, thresholded recall; keys and values in {0, 1}).

    For "widrow_hoff", ``store`` runs the delta rule on the new pairs starting from the current
    trace (the online rule), so it is not a plain sum: ``write`` is overridden.
    """

    def __init__(
        self,
        key_size: int,
        value_size: int,
        rule: str = "hebbian",
        lr: float | None = None,
        epochs: int = 10_000,
        tol: float = 1e-6,
        device: str | torch.device | None = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(device)
        check_positive_int("key_size", key_size)
        check_positive_int("value_size", value_size)
        check_choice("rule", rule, ["hebbian", "widrow_hoff", "binary"])
        if lr is not None:
            check_range("lr", lr, 0, lo_open=True)
        check_positive_int("epochs", epochs)
        self.key_size, self.value_size, self.rule = key_size, value_size, rule
        self.lr, self.epochs, self.tol, self.dtype = lr, epochs, tol, dtype
        self.last_epochs = 0

    def empty(self, batch_size: int = 1) -> Tensor:
        return torch.zeros(batch_size, self.value_size, self.key_size, device=self.device, dtype=self.dtype)

    def encode(self, keys: Tensor, values: Tensor | None = None) -> Tensor:
        return self.write(self.empty(batched_len(keys)), keys, values)

    def compose(self, m1: Tensor, m2: Tensor) -> Tensor:
        return (m1 + m2).clamp(max=1) if self.rule == "binary" else m1 + m2

    def write(self, trace: Tensor, keys: Tensor, values: Tensor | None = None) -> Tensor:
        keys, values, _ = self._pairs(keys, values)
        keys, values = keys.to(self.dtype), values.to(self.dtype)
        if trace.shape[0] != keys.shape[0]:
            raise ConfigError(f"keys have batch {keys.shape[0]}; allowed: the trace batch {trace.shape[0]}")
        if self.rule == "hebbian":
            return trace + hebbian_matrix(keys, values)
        if self.rule == "binary":
            check_binary("keys", keys)
            check_binary("values", values)
            return (trace + hebbian_matrix(keys, values)).clamp(max=1)
        M, self.last_epochs = widrow_hoff(keys, values, trace, self.lr, self.epochs, self.tol)
        return M

    def decode(self, trace: Tensor, cues: Tensor) -> Tensor:
        cues, squeezed = self._cues(trace, cues)
        cues = cues.to(trace.dtype)
        if self.rule == "binary":
            check_binary("cues", cues)
            out = binary_recall(trace, cues)
        else:
            out = cmm_recall(trace, cues)
        return out.squeeze(0) if squeezed else out


def batched_len(x: Tensor) -> int:
    """Batch size of keys given as (B, Q, D) or unbatched (Q, D)."""
    return x.shape[0] if x.dim() == 3 else 1
