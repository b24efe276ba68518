"""Linear RNN x[n+1] = W x[n] + Z s[n] + eps[n] and its measurement operator (seed 003).

See :mod:`memlab.theory.stm` for the model and notation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.theory.stm.config import W_FAMILIES, check_dims

# ----------------------------------------------------------------------------------------------
# networks
# ----------------------------------------------------------------------------------------------


class Network(NamedTuple):
    """A linear RNN x[n+1] = W x[n] + Z s[n] + eps[n].

    W: (M, M) recurrent matrix, Z: (M, L) feed-forward matrix, family: how W was drawn,
    radius: its spectral radius.
    """

    W: torch.Tensor
    Z: torch.Tensor
    family: str
    radius: float


def random_network(
    M: int,
    L: int,
    *,
    spectral_radius: float = 0.999,
    family: str = "orthogonal",
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> Network:
    """Draw W (M, M) of the given family scaled to ``spectral_radius`` and Z (M, L) ~ N(0, 1/M).

    ``orthogonal``: W = r Q with Q Haar-orthogonal (QR of a Gaussian, sign-fixed), so every
    eigenvalue has modulus r; ``gaussian``: i.i.d. entries rescaled so max |eig| = r;
    ``symmetric``: (G + G^T)/2 rescaled likewise (real spectrum). Z has unit-norm columns on
    average, so the columns of A decay as r^k with the lag k.
    """
    check_dims(M, L, 1)
    check_choice("family", family, W_FAMILIES)
    check_range("spectral_radius", float(spectral_radius), 0.0, None, lo_open=True)
    g = torch.randn(M, M, generator=generator, dtype=dtype)
    if family == "orthogonal":
        q, r = torch.linalg.qr(g)
        W = q * torch.sign(torch.diagonal(r)).unsqueeze(0)  # Haar measure (Mezzadri 2007)
    else:
        if family == "symmetric":
            g = 0.5 * (g + g.T)
        W = g / torch.linalg.eigvals(g).abs().max().real
    W = spectral_radius * W
    Z = torch.randn(M, L, generator=generator, dtype=dtype) / math.sqrt(M)
    return Network(W.to(device), Z.to(device), family, float(spectral_radius))


def measurement_operator(W: torch.Tensor, Z: torch.Tensor, N: int) -> torch.Tensor:
    """A = [W^{N-1} Z, ..., W Z, Z]  (M, L N), so x[N] = A vec(S) for x[0] = 0, no noise.

    Built by repeated multiplication P_k = W P_{k-1} (P_0 = Z), never by forming W^k, so the
    cost is N M^2 L and nothing is raised to a power (stable for any spectral radius <= 1).
    Column n L + l multiplies s_l[n].
    """
    M, L = Z.shape
    check_dims(M, L, N)
    if W.shape != (M, M):
        raise ConfigError(f"W has shape {tuple(W.shape)}; expected ({M}, {M}) to match Z")
    A = torch.empty(M, N, L, dtype=Z.dtype, device=Z.device)  # (M, N, L): block n = W^{N-1-n} Z
    P = Z
    A[:, N - 1] = P
    for k in range(1, N):
        P = W @ P
        A[:, N - 1 - k] = P
    return A.reshape(M, N * L)


def vec(S: torch.Tensor) -> torch.Tensor:
    """vec(S) for S (..., L, N) -> (..., N L), time-major: entry n L + l is S[l, n]."""
    return S.transpose(-1, -2).reshape(*S.shape[:-2], S.shape[-1] * S.shape[-2])


def unvec(s: torch.Tensor, L: int, N: int) -> torch.Tensor:
    """Inverse of :func:`vec`: (..., N L) -> (..., L, N)."""
    return s.reshape(*s.shape[:-1], N, L).transpose(-1, -2)


def simulate(
    W: torch.Tensor,
    Z: torch.Tensor,
    S: torch.Tensor,
    eps: torch.Tensor | None = None,
    x0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run x[n+1] = W x[n] + Z s[n] + eps[n] for n = 0..N-1 and return x[N].

    S: (L, N) or (B, L, N); eps: None or (N, M) / (B, N, M); x0: None (zeros) or (M,) / (B, M).
    Returns (M,) or (B, M). This is the slow, obviously-correct reference for
    :func:`measurement_operator`.
    """
    squeeze = S.dim() == 2
    Sb = S.unsqueeze(0) if squeeze else S  # (B, L, N)
    B, _, N = Sb.shape
    M = W.shape[0]
    x = torch.zeros(B, M, dtype=W.dtype, device=W.device) if x0 is None else x0.expand(B, M).clone()
    if eps is not None and eps.dim() == 2:
        eps = eps.unsqueeze(0)
    for n in range(N):
        x = x @ W.T + Sb[:, :, n] @ Z.T
        if eps is not None:
            x = x + eps[:, n]
    return x[0] if squeeze else x


def noise_level(net: Network, N: int, noise_std: float) -> float:
    """RMS per-coordinate std tau of the accumulated state noise e = sum_k W^k eps[N-1-k].

    eps[n] ~ N(0, noise_std^2 / M I), so ||eps[n]|| ~ noise_std. For r-scaled orthogonal W
    this is exact: tau^2 = noise_std^2 / M sum_{k<N} r^{2k}; otherwise it uses
    sum_k ||W^k||_F^2 / M estimated through the operator blocks (E ||W^k Z||_F^2 = L/M ||W^k||_F^2).
    """
    M, L = net.Z.shape
    if net.family == "orthogonal":
        r2 = net.radius**2
        total = N if abs(r2 - 1.0) < 1e-15 else (1 - r2**N) / (1 - r2)
        return noise_std * math.sqrt(total / M)
    A = measurement_operator(net.W, net.Z, N)
    frob = float((A**2).sum()) * M / L  # ~ sum_k ||W^k||_F^2
    return noise_std * math.sqrt(frob / M / M)


def state_noise(
    net: Network, N: int, noise_std: float, batch: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw e = sum_{k<N} W^k eps[N-1-k]  (batch, M), eps[n] ~ N(0, noise_std^2/M I).

    For r-scaled orthogonal W, e is exactly N(0, tau^2 I) (W^k W^kT = r^{2k} I), drawn
    directly; other families are simulated by Horner's rule.
    """
    M = net.W.shape[0]
    if noise_std == 0:
        return torch.zeros(batch, M, dtype=net.W.dtype, device=net.W.device)
    if net.family == "orthogonal":
        tau = noise_level(net, N, noise_std)
        return tau * torch.randn(batch, M, generator=generator, dtype=net.W.dtype).to(net.W.device)
    e = torch.zeros(batch, M, dtype=net.W.dtype, device=net.W.device)
    for _ in range(N):
        eps = torch.randn(batch, M, generator=generator, dtype=net.W.dtype).to(net.W.device)
        e = e @ net.W.T + eps * (noise_std / math.sqrt(M))
    return e
