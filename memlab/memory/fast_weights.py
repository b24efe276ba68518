"""Fast-weight associative memory (seed 001 §2.4.3, eq. 2.56–2.57; Ba et al. 2016).

A correlation matrix memory whose trace decays, so recent associations dominate:

    A(t) = λ A(t−1) + η h(t) h(t)ᵀ                                   (2.56)
    h_{s+1}(t+1) = f([W h(t) + C x(t)] + A(t) h_s(t+1)),  h_0 = f(W h(t) + C x(t))   (2.57)

Unrolled, A(T) = λ^T A(0) + η Σ_{t=1}^T λ^{T−t} h(t) h(t)ᵀ: the item stored τ steps ago is read
back with weight η λ^τ ‖h‖². As an associative memory we allow hetero-association,
A ← λ A + η v kᵀ (k = v gives eq. 2.56), stored one pair per time step in order.

Shapes: A (B, Dv, Dk); a sequence of keys/values (B, T, Dk)/(B, T, Dv); cues (B, P, Dk).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from memlab.memory.associative import AssociativeMemory, check_positive_int, check_range


# ----------------------------------------------------------------------------- pure functions
def fast_weight_step(A: Tensor, k: Tensor, v: Tensor, lam: float, eta: float) -> Tensor:
    """Eq. 2.56 one step: A ← λ A + η v kᵀ. A (B, Dv, Dk), k (B, Dk), v (B, Dv)."""
    return lam * A + eta * v.unsqueeze(-1) * k.unsqueeze(-2)


def fast_weight_trace(keys: Tensor, values: Tensor, lam: float, eta: float, A0: Tensor | None = None) -> Tensor:
    """A(T) in closed form: λ^T A(0) + η Σ_t λ^{T−t} v(t) k(t)ᵀ. keys (B, T, Dk), values (B, T, Dv)
    -> (B, Dv, Dk). Equal to T applications of ``fast_weight_step``."""
    T = keys.shape[1]
    w = eta * lam ** torch.arange(T - 1, -1, -1, dtype=keys.dtype, device=keys.device)  # (T,) η λ^{T−t}
    A = (values * w.view(1, T, 1)).transpose(-1, -2) @ keys
    return A if A0 is None else A + lam**T * A0


def fast_weight_read(A: Tensor, cues: Tensor) -> Tensor:
    """A h: A (B, Dv, Dk), cues (B, P, Dk) -> (B, P, Dv)."""
    return cues @ A.transpose(-1, -2)


def inner_loop(
    A: Tensor, base: Tensor, steps: int = 1, f: Callable[[Tensor], Tensor] = torch.tanh,
    f0: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """Eq. 2.57: h_0 = f0(base), h_{s+1} = f(base + A h_s), base = W h(t) + C x(t) (B, D).
    A (B, D, D). Returns h_S (B, D). ``f0`` defaults to ``f``; Ba et al. layer-normalise inside
    the loop only (f = act ∘ LN) and keep the preliminary vector h_0 = act(base) (f0 = act)."""
    h = (f0 or f)(base)
    for _ in range(steps):
        h = f(base + (A @ h.unsqueeze(-1)).squeeze(-1))
    return h


# ----------------------------------------------------------------------------- the memory
class FastWeights(AssociativeMemory):
    """Decaying Hebbian memory. ``decay`` λ ∈ [0, 1], ``rate`` η > 0. ``store`` treats the Q pairs
    as Q consecutive time steps (the last pair is the most recent)."""

    def __init__(
        self,
        key_size: int,
        value_size: int | None = None,
        decay: float = 0.95,
        rate: float = 0.5,
        device: str | torch.device | None = "cpu",
    ) -> None:
        super().__init__(device)
        check_positive_int("key_size", key_size)
        value_size = key_size if value_size is None else value_size
        check_positive_int("value_size", value_size)
        check_range("decay", decay, 0, 1)
        check_range("rate", rate, 0, lo_open=True)
        self.key_size, self.value_size, self.decay, self.rate = key_size, value_size, decay, rate

    def empty(self, batch_size: int = 1) -> Tensor:
        return torch.zeros(batch_size, self.value_size, self.key_size, device=self.device, dtype=self.dtype)

    def encode(self, keys: Tensor, values: Tensor | None = None) -> Tensor:
        keys, values, _ = self._pairs(keys, values, auto=self.key_size == self.value_size)
        return fast_weight_trace(keys.to(self.dtype), values.to(self.dtype), self.decay, self.rate)

    def write(self, trace: Tensor, keys: Tensor, values: Tensor | None = None) -> Tensor:
        """Old trace decays by λ^Q while Q new pairs are written (not a plain ⊕)."""
        keys, values, _ = self._pairs(keys, values, auto=self.key_size == self.value_size)
        return fast_weight_trace(keys.to(self.dtype), values.to(self.dtype), self.decay, self.rate, trace)

    def decode(self, trace: Tensor, cues: Tensor) -> Tensor:
        cues, squeezed = self._cues(trace, cues)
        out = fast_weight_read(trace, cues.to(trace.dtype))
        return out.squeeze(0) if squeezed else out
