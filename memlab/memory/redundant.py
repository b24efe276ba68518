"""Redundant associative memory (seed 001 §2.4.2, eq. 2.49–2.51; Danihelka et al. 2016).

S complex HRR traces, each storing the pairs under a different fixed random permutation P_s of
the key:

    c_s = Σ_k (P_s x^k) ⊛ y^k                                               (2.49)
    ỹ^k = (1/S) Σ_s conj(P_s x^k) ⊛ c_s                                      (2.50)
        = y^k + Σ_{k'≠k} y^{k'} ⊛ (1/S) Σ_s P_s[conj(x^k) ⊛ x^{k'}]          (2.51)

(⊛ is the element-wise complex product of eq. 2.43.) With unit-modulus keys the conjugate is the
inverse; the permutations decorrelate the S noise terms, so for random unit-phase keys and
unit-modulus values the noise of each element has variance (Q − 1)/S — O(Q/S).

Shapes: permutations (S, N) long; keys/values (B, Q, N) complex; trace (B, S, N); cues (B, P, N).
"""

from __future__ import annotations

import torch
from torch import Tensor

from memlab.memory.associative import AssociativeMemory, check_choice, check_positive_int
from memlab.memory.hrr import random_phases


# ----------------------------------------------------------------------------- pure functions
def random_permutations(copies: int, size: int, generator: torch.Generator | None = None, identity_first: bool = False) -> Tensor:
    """S fixed random permutations of N positions (S, N); ``identity_first`` makes P_1 = I."""
    perms = torch.stack([torch.randperm(size, generator=generator) for _ in range(copies)])
    if identity_first:
        perms[0] = torch.arange(size)
    return perms


def permute(x: Tensor, perms: Tensor) -> Tensor:
    """P_s x for every copy: x (B, Q, N), perms (S, N) -> (B, S, Q, N)."""
    return x[..., perms].movedim(-2, 1)  # x[..., perms] is (B, Q, S, N)


def redundant_encode(keys: Tensor, values: Tensor, perms: Tensor) -> Tensor:
    """Eq. 2.49: c_s = Σ_k (P_s x^k) ⊛ y^k. keys, values (B, Q, N), perms (S, N) -> c (B, S, N)."""
    return (permute(keys, perms) * values.unsqueeze(1)).sum(2)


def redundant_decode(c: Tensor, cues: Tensor, perms: Tensor, exact: bool = False) -> Tensor:
    """Eq. 2.50: ỹ = (1/S) Σ_s conj(P_s x) ⊛ c_s. c (B, S, N), cues (B, P, N) -> (B, P, N).

    ``exact`` uses 1/(P_s x) instead of the conjugate (they agree for unit-modulus keys).
    """
    px = permute(cues, perms)  # (B, S, P, N)
    inv = 1.0 / px if exact else px.conj()
    return (inv * c.unsqueeze(2)).mean(1)


# ----------------------------------------------------------------------------- the memory
class RedundantAssociativeMemory(AssociativeMemory):
    """S permuted complex HRR copies of one memory (B, S, N). ``seed`` fixes the permutations."""

    def __init__(
        self,
        size: int,
        copies: int = 4,
        inverse: str = "approximate",
        seed: int = 0,
        device: str | torch.device | None = "cpu",
    ) -> None:
        super().__init__(device)
        check_positive_int("size", size)
        check_positive_int("copies", copies)
        check_choice("inverse", inverse, ["exact", "approximate"])
        self.key_size = self.value_size = size
        self.copies, self.exact = copies, inverse == "exact"
        self.dtype = torch.complex64
        g = torch.Generator().manual_seed(seed)
        self.perms = random_permutations(copies, size, g).to(self.device)  # (S, N)

    def empty(self, batch_size: int = 1) -> Tensor:
        return torch.zeros(batch_size, self.copies, self.key_size, device=self.device, dtype=self.dtype)

    def encode(self, keys: Tensor, values: Tensor | None = None) -> Tensor:
        keys, values, _ = self._pairs(keys, values)
        return redundant_encode(keys.to(self.dtype), values.to(self.dtype), self.perms)

    def decode(self, trace: Tensor, cues: Tensor) -> Tensor:
        cues, squeezed = self._cues(trace, cues)
        out = redundant_decode(trace, cues.to(self.dtype), self.perms, self.exact)
        return out.squeeze(0) if squeezed else out

    def random_items(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> Tensor:
        """Unit-phase random keys (..., N)."""
        return random_phases(shape, generator).to(self.device)
