"""Sparse distributed memory (seed 001 §2.4.4, Alg. 2.1, eq. 2.64–2.66; Kanerva 1988).

M hard locations with fixed random binary addresses A ∈ {0,1}^{M×D} and a counter vector per
location C ∈ ℤ^{M×Dc}. An item x = (x_a, x_c) is written to every location within radius r of its
address and read back by pooling the counters of the locations near the cue:

    M(x) = {m : d(m_a, x_a) ≤ r}                       (2.64)  Hamming distance
    C := C + y(A x_a) x_cᵀ                             (2.65)  Alg. 2.1: +1 for a 1 bit, −1 for a 0 bit
    x'_c = z(Cᵀ y(A x'_a))                             (2.66)  z(s) = 1 if s ≥ 0 else 0

y(·) is the 0/1 activation of eq. 2.64. Two similarity measures: "hamming" (activate if the
Hamming distance is ≤ r, r ∈ [0, D]; Kanerva's closed hypersphere — eq. 2.64 writes d < r, the same
set for r + 1) and "cosine" (activate if the cosine of the bipolar ±1 images is ≥ r, r ∈ [−1, 1];
for binary vectors cos = 1 − 2d/D). Content bits enter the counters in bipolar form (2x_c − 1).

A cue that activates no location reads all-zero counters, which z maps to all ones; ``read``
reports the number of active locations so callers can tell.

Shapes: addresses A (M, D) shared by the batch; counters C (B, M, Dc); addresses/contents of Q
items (B, Q, D)/(B, Q, Dc); cues (B, P, D); activations (B, P, M).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from memlab.core.errors import ConfigError
from memlab.memory.associative import AssociativeMemory, check_binary, check_choice, check_positive_int, check_range


# ----------------------------------------------------------------------------- pure functions
def hamming_distance(addresses: Tensor, x: Tensor) -> Tensor:
    """d(m_a, x_a) for every location. addresses (M, D), x (B, P, D), both {0,1} -> (B, P, M)."""
    a = 2 * addresses - 1  # bipolar images: a·x = D − 2 d
    return (x.shape[-1] - (2 * x - 1) @ a.transpose(-1, -2)) / 2


def activation(addresses: Tensor, x: Tensor, radius: float, metric: str = "hamming") -> Tensor:
    """y(A x_a) of eq. 2.64–2.66: 1 for the chosen locations, else 0. -> (B, P, M) float."""
    if metric == "hamming":
        return (hamming_distance(addresses, x) <= radius).to(x.dtype)
    cos = 1 - 2 * hamming_distance(addresses, x) / x.shape[-1]
    return (cos >= radius - 1e-6).to(x.dtype)


def sdm_write(C: Tensor, act: Tensor, contents: Tensor) -> Tensor:
    """Alg. 2.1 / eq. 2.65: C += Σ_q y_q (2 x_c^q − 1)ᵀ. C (B, M, Dc), act (B, Q, M), contents (B, Q, Dc)."""
    return C + act.transpose(-1, -2) @ (2 * contents - 1)


def sdm_read(C: Tensor, act: Tensor) -> Tensor:
    """Eq. 2.66: x'_c = z(Cᵀ y). C (B, M, Dc), act (B, P, M) -> (B, P, Dc) in {0, 1}."""
    return (act @ C >= 0).to(C.dtype)


def sdm_write_reference(C: Tensor, addresses: Tensor, x_a: Tensor, x_c: Tensor, radius: float) -> Tensor:
    """Alg. 2.1 literally, one item and one location at a time (slow reference).

    C (M, Dc), addresses (M, D), x_a (D,), x_c (Dc,) -> C (M, Dc).
    """
    C = C.clone()
    for m in range(addresses.shape[0]):
        if int((addresses[m] != x_a).sum()) <= radius:  # m ∈ M(x), eq. 2.64
            for i in range(x_c.shape[0]):
                C[m, i] += 1 if x_c[i] == 1 else -1
    return C


def hamming_radius_for_probability(D: int, p: float) -> int:
    """Smallest r with P(d ≤ r) ≥ p for a random address, d ~ Binomial(D, ½): the radius that
    activates about a fraction p of random locations."""
    check_range("p", p, 0, 1, lo_open=True)
    total, r = 0.0, 0
    for r in range(D + 1):
        total += math.comb(D, r) / 2.0**D
        if total >= p:
            break
    return r


def activation_probability(D: int, radius: int) -> float:
    """P(d ≤ r) for d ~ Binomial(D, ½): the expected fraction of locations a random cue activates."""
    return sum(math.comb(D, k) for k in range(int(radius) + 1)) / 2.0**D


# ----------------------------------------------------------------------------- the memory
class SparseDistributedMemory(AssociativeMemory):
    """Kanerva's SDM with ``locations`` hard addresses of ``address_size`` bits.

    Keys are addresses x_a (B, Q, D) and values contents x_c (B, Q, Dc), all in {0, 1}
    (self-addressing: values=None stores x_c = x_a). ``iterations`` > 1 re-reads the memory at the
    retrieved content (auto-associative SDM, needs Dc = D). Trace: counters (B, M, Dc).
    """

    def __init__(
        self,
        address_size: int,
        locations: int,
        radius: float,
        content_size: int | None = None,
        metric: str = "hamming",
        iterations: int = 1,
        seed: int = 0,
        device: str | torch.device | None = "cpu",
    ) -> None:
        super().__init__(device)
        check_positive_int("address_size", address_size)
        check_positive_int("locations", locations)
        check_choice("metric", metric, ["hamming", "cosine"])
        if metric == "hamming":
            check_range("radius", radius, 0, address_size)
        else:
            check_range("radius", radius, -1, 1)
        check_positive_int("iterations", iterations)
        content_size = address_size if content_size is None else content_size
        check_positive_int("content_size", content_size)
        if iterations > 1 and content_size != address_size:
            raise ConfigError(f"iterations={iterations} needs content_size == address_size; got {content_size} != {address_size}")
        self.key_size, self.value_size = address_size, content_size
        self.locations, self.radius, self.metric, self.iterations = locations, radius, metric, iterations
        g = torch.Generator().manual_seed(seed)
        self.addresses = torch.randint(0, 2, (locations, address_size), generator=g).float().to(self.device)  # A (M, D)
        self.last_active: Tensor | None = None

    def activate(self, x: Tensor) -> Tensor:
        """y(A x) (B, P, M) for addresses x (B, P, D)."""
        return activation(self.addresses, x, self.radius, self.metric)

    def empty(self, batch_size: int = 1) -> Tensor:
        return torch.zeros(batch_size, self.locations, self.value_size, device=self.device, dtype=self.dtype)

    def encode(self, keys: Tensor, values: Tensor | None = None) -> Tensor:
        keys, values, _ = self._pairs(keys, values, auto=self.value_size == self.key_size)
        check_binary("addresses", keys)
        check_binary("contents", values)
        act = self.activate(keys.to(self.dtype))
        return sdm_write(self.empty(keys.shape[0]), act, values.to(self.dtype))

    def decode(self, trace: Tensor, cues: Tensor) -> Tensor:
        cues, squeezed = self._cues(trace, cues)
        check_binary("cues", cues)
        x = cues.to(trace.dtype)
        for _ in range(self.iterations):
            act = self.activate(x)
            self.last_active = act.sum(-1)  # (B, P) number of chosen locations
            x = sdm_read(trace, act)
        return x.squeeze(0) if squeezed else x
