"""Temporal bases Psi_t and the sparse / low-rank input models of seed 003."""

from __future__ import annotations

import math

import torch

from memlab.core.errors import check_choice, check_range
from memlab.theory.stm.config import BASES, TEMPORAL_FACTORS, _check_int, check_dims
from memlab.theory.stm.network import unvec

def dct_matrix(N: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Orthonormal DCT-II synthesis basis (N, N): column m is cos(pi (2n+1) m / 2N), normalised."""
    n = torch.arange(N, dtype=dtype).unsqueeze(1)
    m = torch.arange(N, dtype=dtype).unsqueeze(0)
    D = torch.cos(math.pi * (2 * n + 1) * m / (2 * N))
    return D / D.norm(dim=0, keepdim=True)


def haar_matrix(N: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Orthonormal Haar wavelet synthesis basis (N, N), as many levels as N is divisible by 2.

    Each level maps the current approximation block of even length n to n/2 pair averages
    (a+b)/sqrt2 followed by n/2 pair differences (a-b)/sqrt2; the analysis matrix is
    orthogonal, and its transpose (returned) holds the wavelets as columns.
    """
    T = torch.eye(N, dtype=dtype)  # analysis transform, rows = atoms
    n = N
    while n >= 2 and n % 2 == 0:
        h = n // 2
        step = torch.eye(N, dtype=dtype)
        block = torch.zeros(n, n, dtype=dtype)
        idx = torch.arange(h)
        block[idx, 2 * idx] = block[idx, 2 * idx + 1] = 1 / math.sqrt(2)
        block[h + idx, 2 * idx] = 1 / math.sqrt(2)
        block[h + idx, 2 * idx + 1] = -1 / math.sqrt(2)
        step[:n, :n] = block
        T = step @ T
        n = h
    return T.T.contiguous()


def time_basis(
    name: str, N: int, *, coherence: float | None = None, generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """An orthonormal temporal basis Psi_t (N, N), atoms as columns.

    ``identity`` (canonical, incoherent with sinusoids), ``dct`` (sinusoids: high coherence),
    ``random`` (Haar-random orthobasis), ``haar`` (Haar wavelets). The coherence knob
    ``coherence`` = c in [0, 1] instead returns the orthogonal polar factor of
    (1 - c) I + c DCT, moving from the canonical basis (c = 0) to the DCT (c = 1).
    """
    _check_int("N (time steps)", N, 1)
    if coherence is not None:
        check_range("coherence", float(coherence), 0.0, 1.0)
        G = (1 - coherence) * torch.eye(N, dtype=dtype) + coherence * dct_matrix(N, dtype)
        U, _, Vh = torch.linalg.svd(G)
        return U @ Vh
    check_choice("basis", name, BASES)
    if name == "identity":
        return torch.eye(N, dtype=dtype)
    if name == "dct":
        return dct_matrix(N, dtype)
    if name == "haar":
        return haar_matrix(N, dtype)
    q, r = torch.linalg.qr(torch.randn(N, N, generator=generator, dtype=dtype))
    return (q * torch.sign(torch.diagonal(r)).unsqueeze(0)).contiguous()


def apply_time_basis(A: torch.Tensor, Psi_t: torch.Tensor, L: int) -> torch.Tensor:
    """The dictionary A (Psi_t kron I_L)  (M, N L), i.e. the operator acting on coefficients a.

    A: (M, N L) time-major; Psi_t: (N, N). Costs M N^2 L instead of forming the Kronecker.
    """
    M, NL = A.shape
    N = NL // L
    A3 = A.reshape(M, N, L)  # (M, N, L)
    return torch.einsum("mnl,nk->mkl", A3, Psi_t.to(A)).reshape(M, NL)


def synthesize(a: torch.Tensor, Psi_t: torch.Tensor, L: int, N: int) -> torch.Tensor:
    """S = unvec((Psi_t kron I_L) a): coefficients a (..., N L) -> inputs (..., L, N)."""
    Acoef = unvec(a, L, N)  # (..., L, N): row l holds the temporal coefficients of input l
    return Acoef @ Psi_t.to(a).T


def sparse_input(
    K: int, L: int, N: int, Psi_t: torch.Tensor, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A K-sparse input stream: a (N L) with K N(0,1) entries at random places, S = Psi a (L, N).

    Raises ConfigError unless 1 <= K <= L N.
    """
    check_dims(1, L, N)
    _check_int("K (sparsity)", K, 1, L * N)
    a = torch.zeros(N * L, dtype=Psi_t.dtype)
    idx = torch.randperm(N * L, generator=generator)[:K]
    a[idx] = torch.randn(K, generator=generator, dtype=Psi_t.dtype)
    return synthesize(a, Psi_t, L, N), a


def lowrank_input(
    R: int, L: int, N: int, *, temporal: str = "gaussian", generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64, coherence: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A rank-R input matrix S = Q V^T (L, N) with Q (L, R) ~ N(0, 1).

    The temporal factor V (N, R) is ``gaussian`` (incoherent with the network's sinusoidal
    modes), or R random atoms of a temporal basis (``dct``: sinusoids, highly coherent),
    or of the knob basis when ``coherence`` is given. Returns (S, Q, V).
    Raises ConfigError unless 1 <= R <= min(L, N).
    """
    check_dims(1, L, N)
    _check_int("R (rank)", R, 1, min(L, N))
    Q = torch.randn(L, R, generator=generator, dtype=dtype)
    if coherence is None and temporal == "gaussian":
        V = torch.randn(N, R, generator=generator, dtype=dtype)
    else:
        if coherence is None:
            check_choice("temporal", temporal, TEMPORAL_FACTORS)
        Psi = time_basis(temporal, N, coherence=coherence, generator=generator, dtype=dtype)
        cols = torch.randperm(N, generator=generator)[:R]
        V = Psi[:, cols] * math.sqrt(N)  # same scale as Gaussian columns
    return Q @ V.T, Q, V
