"""Holographic reduced representation (seed 001 §2.4.2, eq. 2.42–2.48; Plate 1995).

Two forms of the same memory, a vector m of the item size N holding Q pairs:

* complex (phase) form, eq. 2.42–2.44: x ∈ ℂ^N, x[n] = x_a[n] e^{i x_φ[n]}; ⊗ is the element-wise
  product (moduli multiply, phases add);
* real form: x ∈ ℝ^N, ⊗ is circular convolution (x ⊛ y)[n] = Σ_k x[k] y[(n−k) mod N], computed
  with the FFT (it is the element-wise product in the Fourier domain, i.e. the complex form there).

Trace composition is addition (eq. 2.45): m = Σ_k x^k ⊗ y^k. Decoding multiplies by an inverse key
(eq. 2.46–2.48): ỹ = x⁻¹ ⊗ m = y + x⁻¹ ⊗ Σ_{k: x^k≠x} x^k ⊗ y^k (noise).

Inverses: ``exact`` — complex 1/x[n]; real irfft(1 / rfft(x)). ``approximate`` — complex conj(x)
(x_a^{-1} dropped); real the involution x*[n] = x[−n mod N] (conj in the Fourier domain, Plate's
approximate inverse, numerically stable). For unitary keys (|x[n]| = 1, or |rfft(x)| = 1) they
coincide and unbinding a single pair is exact.

Shapes: items (..., N); keys/values (B, Q, N); trace (B, N); cues (B, P, N).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from memlab.memory.associative import AssociativeMemory, check_choice, check_positive_int


# ----------------------------------------------------------------------------- complex (phase) form
def random_phases(shape: tuple[int, ...], generator: torch.Generator | None = None, dtype=torch.complex64) -> Tensor:
    """Unit-modulus vectors e^{iφ}, φ ~ U[−π, π) (eq. 2.42 with x_a = 1). shape (..., N)."""
    phi = (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi
    return torch.polar(torch.ones_like(phi), phi).to(dtype)


def bind_complex(x: Tensor, y: Tensor) -> Tensor:
    """Eq. 2.43–2.44: x ⊗ y = [x_a y_a e^{i(x_φ + y_φ)}] (element-wise product). (..., N)."""
    return x * y


def inverse_complex(x: Tensor, exact: bool = True) -> Tensor:
    """x⁻¹ = [x_a^{-1} e^{−i x_φ}] (exact) or conj(x) (approximate; equal when |x| = 1). (..., N)."""
    return 1.0 / x if exact else x.conj()


def unbind_complex(x: Tensor, m: Tensor, exact: bool = True) -> Tensor:
    """Eq. 2.46: ỹ = x⁻¹ ⊗ m. x (..., N), m broadcastable (..., N)."""
    return inverse_complex(x, exact) * m


# ----------------------------------------------------------------------------- real (convolution) form
def cconv(x: Tensor, y: Tensor) -> Tensor:
    """Circular convolution via FFT: (x ⊛ y)[n] = Σ_k x[k] y[(n − k) mod N]. (..., N) real."""
    n = x.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(x, n=n) * torch.fft.rfft(y, n=n), n=n)


def cconv_reference(x: Tensor, y: Tensor) -> Tensor:
    """The O(N²) definition of circular convolution (reference for ``cconv``). (..., N)."""
    n = x.shape[-1]
    idx = (torch.arange(n).view(n, 1) - torch.arange(n).view(1, n)) % n  # (n, k) -> (n − k) mod N
    return (x.unsqueeze(-2) * y[..., idx]).sum(-1)


def ccorr(x: Tensor, y: Tensor) -> Tensor:
    """Circular correlation (x # y)[n] = Σ_k x[k] y[(n + k) mod N] = x* ⊛ y. (..., N) real."""
    n = x.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(x, n=n).conj() * torch.fft.rfft(y, n=n), n=n)


def involution(x: Tensor) -> Tensor:
    """Plate's approximate inverse x*[n] = x[−n mod N]. (..., N)."""
    return torch.roll(torch.flip(x, dims=[-1]), shifts=1, dims=-1)


def inverse_real(x: Tensor, exact: bool = True) -> Tensor:
    """Exact inverse irfft(1 / rfft(x)) (x ⊛ x⁻¹ = δ) or the involution x*. (..., N)."""
    if not exact:
        return involution(x)
    n = x.shape[-1]
    return torch.fft.irfft(1.0 / torch.fft.rfft(x, n=n), n=n)


def unbind_real(x: Tensor, m: Tensor, exact: bool = True) -> Tensor:
    """ỹ = x⁻¹ ⊛ m (eq. 2.46 in the convolution form). x (..., N), m broadcastable."""
    return cconv(inverse_real(x, exact), m)


def random_real(shape: tuple[int, ...], generator: torch.Generator | None = None) -> Tensor:
    """Plate's HRR items: i.i.d. N(0, 1/N) entries. shape (..., N)."""
    return torch.randn(shape, generator=generator) / math.sqrt(shape[-1])


def make_unitary(x: Tensor) -> Tensor:
    """Project real vectors onto unitary ones (|rfft(x)| = 1), whose involution is the exact inverse."""
    n = x.shape[-1]
    f = torch.fft.rfft(x, n=n)
    return torch.fft.irfft(f / f.abs().clamp_min(1e-12), n=n)


# ----------------------------------------------------------------------------- the memory
class HRR(AssociativeMemory):
    """A batch of holographic memories m (B, N).

    ``form``: "complex" (keys/values complex, eq. 2.42–2.48) or "real" (circular convolution).
    ``inverse``: "exact" or "approximate" (see module docstring).
    """

    def __init__(
        self,
        size: int,
        form: str = "complex",
        inverse: str = "approximate",
        device: str | torch.device | None = "cpu",
    ) -> None:
        super().__init__(device)
        check_positive_int("size", size)
        check_choice("form", form, ["complex", "real"])
        check_choice("inverse", inverse, ["exact", "approximate"])
        self.key_size = self.value_size = size
        self.form, self.exact = form, inverse == "exact"
        self.dtype = torch.complex64 if form == "complex" else torch.float32

    def bind(self, x: Tensor, y: Tensor) -> Tensor:
        """⊗ of matching items (..., N)."""
        return bind_complex(x, y) if self.form == "complex" else cconv(x, y)

    def unbind(self, x: Tensor, m: Tensor) -> Tensor:
        """x⁻¹ ⊗ m for items x (..., N) and a broadcastable trace m."""
        return unbind_complex(x, m, self.exact) if self.form == "complex" else cconv(inverse_real(x, self.exact), m)

    def empty(self, batch_size: int = 1) -> Tensor:
        return torch.zeros(batch_size, self.key_size, device=self.device, dtype=self.dtype)

    def encode(self, keys: Tensor, values: Tensor | None = None) -> Tensor:
        """Eq. 2.45: m = Σ_k x^k ⊗ y^k. keys, values (B, Q, N) -> m (B, N)."""
        keys, values, _ = self._pairs(keys, values)
        return self.bind(keys.to(self.dtype), values.to(self.dtype)).sum(1)

    def decode(self, trace: Tensor, cues: Tensor) -> Tensor:
        """Eq. 2.46: ỹ = x⁻¹ ⊗ m. trace (B, N), cues (B, P, N) -> (B, P, N)."""
        cues, squeezed = self._cues(trace, cues)
        out = self.unbind(cues.to(self.dtype), trace.unsqueeze(1))
        return out.squeeze(0) if squeezed else out

    def random_items(self, shape: tuple[int, ...], generator: torch.Generator | None = None, unitary: bool = True) -> Tensor:
        """Random items of this form: unit-phase vectors (complex) or N(0, 1/N) vectors (real,
        projected to unitary if ``unitary``). shape (..., N)."""
        if self.form == "complex":
            return random_phases(shape, generator).to(self.device)
        x = random_real(shape, generator)
        return (make_unitary(x) if unitary else x).to(self.device)

