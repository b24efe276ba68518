"""Coherence of temporal bases and factors with the network's sinusoidal modes (seed 003)."""

from __future__ import annotations

import math

import torch

from memlab.theory.stm.network import Network


# ----------------------------------------------------------------------------------------------
# coherence with the network's sinusoidal modes
# ----------------------------------------------------------------------------------------------


def mode_frequencies(W: torch.Tensor | None, N: int, family: str | None = None) -> torch.Tensor:
    """Angles theta_k of W's eigenvalues (the network's modes), or the DFT grid 2 pi k / N.

    For a scaled orthogonal W (``family="orthogonal"``) the eigenvalues are r e^{+-i theta_k}
    and the symmetric part (W + W^T) / 2r has eigenvalues cos theta_k, so a symmetric
    eigensolver suffices (several times faster than a general one); the sign of theta does not
    change |<f_theta, psi>| for real psi.
    """
    if W is None:
        return 2 * math.pi * torch.arange(N, dtype=torch.float64) / N
    Wd = W.double().cpu()
    if family == "orthogonal":
        r = float(torch.linalg.matrix_norm(Wd[:, :1], ord=2))  # every column has norm r
        c = torch.linalg.eigvalsh(0.5 * (Wd + Wd.T) / r).clamp(-1.0, 1.0)
        return torch.arccos(c)
    return torch.angle(torch.linalg.eigvals(Wd))


def network_modes(net: Network, N: int) -> torch.Tensor:
    """theta_k of the network's modes (computed once per network; see :func:`mode_frequencies`)."""
    return mode_frequencies(net.W, N, net.family)


def sinusoids(theta: torch.Tensor, N: int) -> torch.Tensor:
    """Unit-norm modes f_k[n] = e^{i theta_k n} / sqrt(N)  (N, K) complex."""
    n = torch.arange(N, dtype=torch.float64).unsqueeze(1)
    return torch.exp(1j * n * theta.double().cpu().unsqueeze(0)) / math.sqrt(N)


def coherence(Psi_t: torch.Tensor, W: torch.Tensor | None = None, *, theta: torch.Tensor | None = None) -> float:
    """mu = sqrt(N) max_{k, j} |<f_k, psi_j>| of a temporal basis (N, N) with the modes of W.

    In [1, sqrt(N)] for an orthonormal basis: 1 for the canonical basis, sqrt(N) for the
    DCT (its constant atom is the mode theta = 0). For Psi = Psi_t kron I_L this equals the
    definition on L x N atoms in the module docstring. The modes are ``theta`` if given, else
    those of W, else the DFT grid.
    """
    N = Psi_t.shape[0]
    F = sinusoids(theta if theta is not None else mode_frequencies(W, N), N)  # (N, K)
    G = F.conj().T @ Psi_t.double().cpu().to(torch.complex128)  # (K, N): <f_k, psi_j>
    return float(math.sqrt(N) * G.abs().max())


def lowrank_coherence(V: torch.Tensor, W: torch.Tensor | None = None, *, theta: torch.Tensor | None = None) -> float:
    """mu^2 = (N / R) max_k ||P_V f_k||^2 of a temporal factor V (N, R), in [1, N / R]."""
    N, R = V.shape
    Qv, _ = torch.linalg.qr(V.double().cpu())
    F = sinusoids(theta if theta is not None else mode_frequencies(W, N), N)
    proj = Qv.to(torch.complex128).T @ F  # (R, K)
    return float(N / R * (proj.abs() ** 2).sum(0).max())
