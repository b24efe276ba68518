"""Short-term memory of random linear RNNs as compressed sensing (seed 003).

Charles, Yap, Yin & Rozell, "Short-term sequence memory: compressive effects of recurrent
network dynamics" (and Charles, Yin & Rozell, JMLR 2017). A linear network

    x[n+1] = W x[n] + Z s[n] + eps[n],        x in R^M, s[n] in R^L,

run from x[0] = 0 for N steps holds the linear measurement x[N] = A(S) + e of the input matrix
S = [s[0], ..., s[N-1]] (L, N), with the measurement operator

    A = [W^{N-1} Z, ..., W Z, Z]               (M, L N),

acting on vec(S) = [s[0]; s[1]; ...; s[N-1]] (the *time-major* stacking: entry n L + l is
s_l[n]). The inputs are recovered from x[N] by LASSO when vec(S) = Psi a is K-sparse in a basis
Psi, and by nuclear-norm minimisation when S = Q V^T has rank R (see ``memlab.theory.recovery``).

Everything here is pure functions on torch tensors (float64 by default) with a ``device``; the
two Monte-Carlo drivers at the bottom (:func:`phase_unit`, :func:`recall_length_trial`) return
plain record dicts for the CLI to store and plot.

Coherence. For an orthogonal W = U diag(e^{i theta_k}) U^*, measurement k of U^* x[N] sees the
inputs only through their temporal DTFT at frequency theta_k (the network's *sinusoidal modes*
f_k[n] = e^{i theta_k n} / sqrt(N)). A basis whose temporal atoms are sinusoids concentrates
the signal on a few modes and defeats the random mixing: its coherence

    mu(Psi) = sqrt(N) max_{k, j} || reshape(psi_j) conj(f_k) ||_2      in [1, sqrt(N)]

is high (DCT in time: sqrt(N), through its constant atom); the canonical basis has mu = 1. For low-rank S the
analogue is mu^2(V) = (N / R) max_k || P_V f_k ||^2 in [1, N / R] for the temporal factor V.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

from memlab.core.errors import ConfigError, check_choice, check_range

W_FAMILIES: tuple[str, ...] = ("orthogonal", "gaussian", "symmetric")
BASES: tuple[str, ...] = ("identity", "dct", "random", "haar")
TEMPORAL_FACTORS: tuple[str, ...] = ("gaussian",) + BASES


# ----------------------------------------------------------------------------------------------
# argument checks (user errors are ConfigError with the allowed range)
# ----------------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name}={value!r} has the wrong type; expected an integer")
    check_range(name, int(value), lo, hi)
    return int(value)


def check_dims(M: int, L: int, N: int) -> None:
    """Raise ConfigError unless M, L, N are positive integers."""
    _check_int("M (network size)", M, 1)
    _check_int("L (inputs per step)", L, 1)
    _check_int("N (time steps)", N, 1)


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


# ----------------------------------------------------------------------------------------------
# bases and input models
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------


def rmse(S_hat: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """Relative MSE ||S_hat - S||_F^2 / ||S||_F^2 over the last two dims (batched)."""
    num = ((S_hat - S) ** 2).sum(dim=(-2, -1)) if S.dim() >= 2 else ((S_hat - S) ** 2).sum(-1)
    den = (S**2).sum(dim=(-2, -1)) if S.dim() >= 2 else (S**2).sum(-1)
    return num / den


def compression(M: int, L: int, N: int) -> float:
    """gamma = M / (L N)."""
    return M / (L * N)


def sparse_complexity(K: int, M: int) -> float:
    """rho = K / M."""
    return K / M


def lowrank_complexity(R: int, M: int, L: int, N: int) -> float:
    """rho = R (L + N - R) / M: degrees of freedom of a rank-R L x N matrix per measurement."""
    return R * (L + N - R) / M


def sparsity_for(rho: float, M: int) -> int:
    """K = round(rho M) (may be 0 when rho M < 0.5)."""
    return int(round(rho * M))


def rank_for(rho: float, M: int, L: int, N: int) -> int:
    """The rank R in [0, min(L, N)] whose complexity R (L + N - R) / M is closest to rho."""
    Rs = np.arange(0, min(L, N) + 1)
    return int(Rs[np.argmin(np.abs(Rs * (L + N - Rs) / M - rho))])


def donoho_tanner(delta: float | np.ndarray) -> np.ndarray:
    """The asymptotic l1 (signed, weak) phase transition rho*(delta) of Donoho & Tanner.

    Parametric form (Donoho, Maleki & Montanari 2009): for t > 0,
    delta = 2 phi(t) / (t + 2 (phi(t) - t Phi(-t))),  rho = 1 - t Phi(-t) / phi(t);
    inverted in t by bisection (delta is decreasing in t).
    """
    def dr(t: float) -> tuple[float, float]:
        phi = math.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
        Phi = 0.5 * math.erfc(t / math.sqrt(2))  # Phi(-t)
        return 2 * phi / (t + 2 * (phi - t * Phi)), 1 - t * Phi / phi

    d = np.atleast_1d(np.asarray(delta, dtype=float))
    out = np.empty_like(d)
    for i, di in enumerate(d):
        lo, hi = 1e-8, 40.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if dr(mid)[0] > di:
                lo = mid
            else:
                hi = mid
        out[i] = dr(0.5 * (lo + hi))[1]
    return out


# ----------------------------------------------------------------------------------------------
# Monte-Carlo drivers (records, not pictures)
# ----------------------------------------------------------------------------------------------


@dataclass
class PhaseConfig:
    """Fig. 2: rMSE phase diagrams over compression gamma and complexity rho.

    Panels: sparse/low-rank x low/high coherence. Low coherence = canonical basis (sparse) or a
    Gaussian temporal factor (low-rank); high = DCT in time for both.
    """

    L: int = 40
    N: int = 100
    trials: int = 20
    # 6 x 11 (sparse) and 6 x 8 (low-rank) points per coherence; the Donoho-Tanner checks need 0.1, 0.25 and 0.5
    gammas: tuple[float, ...] = (0.05, 0.1, 0.15, 0.25, 0.35, 0.5)
    rhos_sparse: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
    rhos_lowrank: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
    spectral_radius: float = 0.999
    family: str = "orthogonal"
    noise_std: float = 1e-2
    low_basis: str = "identity"
    high_basis: str = "dct"
    low_temporal: str = "gaussian"
    high_temporal: str = "dct"
    # "admm": every rho of a panel as one batch (recovery.lasso_admm, in nuclear_dtype), 3-4x
    # faster than coordinate descent per problem at gamma >= 0.25; skglm / sklearn / auto: one
    # coordinate-descent LASSO per problem (with lasso_tol, lasso_max_epochs, lasso_saturation)
    lasso_backend: str = "admm"
    lasso_tol: float = 1e-2
    lasso_max_epochs: int = 5000
    # stop a LASSO at the loose screen tolerance when its support already has >= this many
    # non-zeros per measurement (failed recovery; see recovery.lasso); 0 switches it off
    lasso_saturation: float = 1.0
    # lasso_backend="admm": the batched ADMM of recovery.lasso_admm (in nuclear_dtype)
    lasso_admm_max_iter: int = 300
    lasso_admm_tol: float = 1e-3
    # low-rank panels: ADMM (converges near the transition, where 300 APG iterations left the
    # rMSE up to 100x above the program's minimiser); nuclear_tol is ADMM's relative residual
    # tolerance (APG: relative change, use ~1e-5); the stage/continuation fields are APG's
    nuclear_solver: str = "admm"
    nuclear_max_iter: int = 500
    nuclear_tol: float = 1e-3
    nuclear_stage_iters: int = 50
    nuclear_stage_tol: float = 1e-3
    nuclear_continuation: float = 0.1
    nuclear_dtype: str = "float32"
    success_rmse: float = 1e-2
    seed: int = 3
    panels: tuple[str, ...] = ("sparse-low", "sparse-high", "lowrank-low", "lowrank-high")

    def validate(self) -> None:
        check_dims(1, self.L, self.N)
        _check_int("trials", self.trials, 1)
        if not self.gammas:
            raise ConfigError("gammas is empty; give at least one compression M/(LN) in (0, 1]")
        for g in self.gammas:
            check_range("gamma", g, 0.0, 1.0, lo_open=True)
            if round(g * self.L * self.N) < 1:
                raise ConfigError(f"gamma={g} gives M={round(g * self.L * self.N)}; M must be >= 1")
        for r in self.rhos_sparse:
            check_range("rho (sparse)", r, 0.0, None, lo_open=True)
        for r in self.rhos_lowrank:
            check_range("rho (low-rank)", r, 0.0, None, lo_open=True)
        check_choice("family", self.family, W_FAMILIES)
        check_range("spectral_radius", self.spectral_radius, 0.0, None, lo_open=True)
        check_range("noise_std", self.noise_std, 0.0)
        for name in ("low_basis", "high_basis"):
            check_choice(name, getattr(self, name), BASES)
        for name in ("low_temporal", "high_temporal"):
            check_choice(name, getattr(self, name), TEMPORAL_FACTORS)
        for p in self.panels:
            check_choice("panel", p, ("sparse-low", "sparse-high", "lowrank-low", "lowrank-high"))
        check_range("success_rmse", self.success_rmse, 0.0, lo_open=True)
        check_range("lasso_saturation", self.lasso_saturation, 0.0)
        check_choice("lasso_backend", self.lasso_backend, ("auto", "skglm", "sklearn", "admm"))
        _check_int("lasso_admm_max_iter", self.lasso_admm_max_iter, 1)
        check_range("lasso_admm_tol", self.lasso_admm_tol, 0.0)
        check_choice("nuclear_dtype", self.nuclear_dtype, ("float32", "float64"))
        check_range("nuclear_continuation", self.nuclear_continuation, 0.0, 1.0, lo_open=True)
        check_choice("nuclear_solver", self.nuclear_solver, ("admm", "apg"))
        _check_int("nuclear_max_iter", self.nuclear_max_iter, 1)
        check_range("nuclear_tol", self.nuclear_tol, 0.0)


QUICK_PHASE = dict(
    L=10, N=20, trials=3, gammas=(0.1, 0.25, 0.5), rhos_sparse=(0.1, 0.25, 0.5),
    rhos_lowrank=(0.3, 0.6, 1.0),
)


def phase_unit(cfg: PhaseConfig, gamma_index: int, trial: int, device: str = "cpu") -> list[dict[str, Any]]:
    """One network (one gamma, one trial) and every (panel, rho) problem it measures.

    The four panels share the network, so the operator A (M, L N) is built once; the right-hand
    sides of a panel share A (sparse: the dictionary A (Psi kron I)) and are solved as one batch
    by ADMM (the default solvers), every panel through one Cholesky factor of A A^T + rho I
    (D D^T = A A^T for an orthonormal Psi). The inputs are drawn before any solve, so every
    solver choice sees the same problems. Returns one record per
    problem: panel, gamma, M, rho (nominal and actual), K or R, rmse, mu, seconds, solver info.
    """
    from memlab.core.runtime import make_generator
    from memlab.theory import recovery

    L, N = cfg.L, cfg.N
    gamma = cfg.gammas[gamma_index]
    M = max(1, int(round(gamma * L * N)))
    gen = make_generator(cfg.seed, gamma_index, trial)
    t0 = time.perf_counter()
    net = random_network(M, L, spectral_radius=cfg.spectral_radius, family=cfg.family, generator=gen, device=device)
    A = measurement_operator(net.W, net.Z, N)  # (M, L N)
    tau = noise_level(net, N, cfg.noise_std)
    theta = network_modes(net, N)
    t_op = time.perf_counter() - t0
    base = dict(gamma=gamma, gamma_index=gamma_index, M=M, L=L, N=N, trial=trial, tau=tau)
    out: list[dict[str, Any]] = []
    A_np = A.cpu().numpy()
    c2 = float((A**2).mean()) * M  # mean squared column norm of A (and of A Psi)
    A_nuc, prep = None, None  # the low-rank panels share A in the solver's dtype and its factor / ||A||^2
    fac = None  # the factor of A A^T + rho I (in nuclear_dtype), shared by every ADMM panel
    for panel in cfg.panels:
        kind, coh = panel.split("-")
        if kind == "sparse":
            name = cfg.low_basis if coh == "low" else cfg.high_basis
            Psi = time_basis(name, N, generator=gen)
            mu = coherence(Psi, theta=theta)
            D = A_np if name == "identity" else apply_time_basis(A, Psi.to(A), L).cpu().numpy()
            D = np.asfortranarray(D)  # once per panel: the LASSO solvers work on columns
            alpha = recovery.lasso_alpha(D, tau)
            probs = []  # drawn first, in the same order for every backend
            for ri, rho in enumerate(cfg.rhos_sparse):
                K = sparsity_for(rho, M)
                if K < 1 or K > L * N:
                    continue
                S, a = sparse_input(K, L, N, Psi, generator=gen)
                e = state_noise(net, N, cfg.noise_std, 1, gen)[0]
                probs.append((ri, rho, K, S, A @ vec(S).to(A) + e))  # x[N] = A(S) + e
            if not probs:
                continue
            if cfg.lasso_backend == "admm":
                # the whole panel as one batch; D D^T = A A^T (orthonormal Psi): one factor per network
                t1 = time.perf_counter()
                if fac is None:
                    fac = recovery.admm_factor(A.to(getattr(torch, cfg.nuclear_dtype)))
                Dt = torch.from_numpy(np.ascontiguousarray(D)).to(A.device, getattr(torch, cfg.nuclear_dtype))
                a_all, binfo = recovery.lasso_admm(
                    Dt, torch.stack([p[4] for p in probs]), alpha, factor=fac,
                    max_iter=cfg.lasso_admm_max_iter, tol=cfg.lasso_admm_tol, D_debias=D)
                dt_each = (time.perf_counter() - t1) / len(probs)
                sols = [(a_all[i], dict(solver="admm", iters=binfo["iters"], converged=binfo["converged"][i],
                                        nnz=binfo["nnz"][i]), dt_each) for i in range(len(probs))]
            else:
                sols = []
                for *_, y in probs:
                    t1 = time.perf_counter()
                    a_hat, info = recovery.lasso(
                        D, y.cpu().numpy(), alpha, backend=cfg.lasso_backend,
                        tol=cfg.lasso_tol, max_epochs=cfg.lasso_max_epochs, debias=True, return_info=True,
                        saturation=cfg.lasso_saturation or None,
                    )
                    sols.append((a_hat, info, time.perf_counter() - t1))
            for (ri, rho, K, S, _), (a_hat, info, dt) in zip(probs, sols):
                S_hat = synthesize(torch.from_numpy(a_hat), Psi, L, N)
                out.append(dict(base, panel=panel, kind=kind, coherence=coh, basis=name, mu=mu,
                                rho_index=ri, rho_nominal=rho, rho=sparse_complexity(K, M), K=K,
                                rmse=float(rmse(S_hat, S)), floor=tau**2 * K / (c2 * float((S**2).sum())),
                                seconds=dt, solver=info))
        else:
            temporal = cfg.low_temporal if coh == "low" else cfg.high_temporal
            Rs, items = [], []
            for ri, rho in enumerate(cfg.rhos_lowrank):
                R = rank_for(rho, M, L, N)
                if R < 1 or not on_grid(lowrank_complexity(R, M, L, N), rho, cfg.rhos_lowrank):
                    continue
                S, _, V = lowrank_input(R, L, N, temporal=temporal, generator=gen)
                Rs.append((ri, rho, R, lowrank_coherence(V, theta=theta)))
                items.append(S)
            if not items:
                continue
            Sb = torch.stack(items).to(A)  # (B, L, N)
            E = state_noise(net, N, cfg.noise_std, len(items), gen)
            Y = vec(Sb) @ A.T + E  # (B, M)
            lam = recovery.nuclear_lambda(A, tau, L, N)
            # float32 products are ~3x faster and the rMSE floor here (~1e-6) is far above
            # float32 round-off; the measurements themselves are made in float64
            t1 = time.perf_counter()
            if A_nuc is None:
                A_nuc = A.to(getattr(torch, cfg.nuclear_dtype))
                if cfg.nuclear_solver == "admm":
                    fac = fac if fac is not None else recovery.admm_factor(A_nuc)
                    prep = fac
                else:
                    prep = recovery.operator_norm_sq(A_nuc)
            if cfg.nuclear_solver == "admm":
                res = recovery.nuclear_norm_admm(A_nuc, Y.to(A_nuc.dtype), lam, (L, N), factor=prep,
                                                 max_iter=cfg.nuclear_max_iter, tol=cfg.nuclear_tol)
            else:
                res = recovery.nuclear_norm_apg(
                    A_nuc, Y.to(A_nuc.dtype), lam, (L, N), max_iter=cfg.nuclear_max_iter, tol=cfg.nuclear_tol,
                    stage_iters=cfg.nuclear_stage_iters, stage_tol=cfg.nuclear_stage_tol,
                    continuation=cfg.nuclear_continuation, lipschitz=prep,
                )
            dt = (time.perf_counter() - t1) / len(items)
            errs = rmse(res.X.to(Sb), Sb)
            for b, (ri, rho, R, mu) in enumerate(Rs):
                out.append(dict(base, panel=panel, kind=kind, coherence=coh, basis=temporal, mu=mu,
                                rho_index=ri, rho_nominal=rho, rho=lowrank_complexity(R, M, L, N), R=R,
                                rmse=float(errs[b]), seconds=dt,
                                floor=tau**2 * R * (L + N - R) / (c2 * float((Sb[b] ** 2).sum())),
                                solver=dict(solver=f"{cfg.nuclear_solver}-svt", iters=res.iters, converged=bool(res.converged[b]))))
    for r in out:
        r["operator_seconds"] = t_op
    return out


def on_grid(rho_actual: float, rho_nominal: float, grid: Sequence[float]) -> bool:
    """True when ``rho_nominal`` is the grid value nearest the realisable ``rho_actual``.

    Ranks are integers, so at small M one rank R(L+N-R)/M can be nearest to several grid
    values (or far from all); each problem is kept once, in its nearest cell.
    """
    return min(grid, key=lambda g: abs(g - rho_actual)) == rho_nominal


def success_curve(records: Sequence[dict[str, Any]], panel: str, threshold: float) -> dict[float, list[tuple[float, float]]]:
    """{gamma: [(rho_nominal, fraction of trials with rmse <= threshold), ...]} sorted by rho."""
    acc: dict[tuple[float, float], list[bool]] = {}
    for r in records:
        if r["panel"] == panel:
            acc.setdefault((r["gamma"], r["rho_nominal"]), []).append(r["rmse"] <= threshold)
    out: dict[float, list[tuple[float, float]]] = {}
    for (g, rho), v in sorted(acc.items()):
        out.setdefault(g, []).append((rho, float(np.mean(v))))
    return out


def transition_rho(curve: Sequence[tuple[float, float]], level: float = 0.5) -> float:
    """The rho where the success fraction first falls below ``level`` (linear interpolation).

    ``curve`` is [(rho, success fraction)] sorted by rho. Returns -inf when even the smallest
    rho fails (the transition lies below the grid) and +inf when every rho succeeds.
    """
    prev = None
    for rho, p in curve:
        if p < level:
            if prev is None:
                return -math.inf
            r0, p0 = prev
            return float(r0 + (p0 - level) * (rho - r0) / (p0 - p))
        prev = (rho, p)
    return math.inf


def phase_checks(records: Sequence[dict[str, Any]], cfg: PhaseConfig) -> dict[str, Any]:
    """The checks of Fig. 2, computed from records.

    * ``transitions``: {panel: {gamma: rho where the success fraction (rmse <= success_rmse)
      crosses 1/2}};
    * ``donoho_tanner``: at delta = gamma in (0.1, 0.25, 0.5) (those in the grid), the measured
      sparse low-coherence rho_50 beside the asymptotic l1 curve rho*(delta);
    * ``coherence_lowers``: per kind, (gamma, rho_50 low, rho_50 high) and whether high is
      strictly lower everywhere both are finite;
    * ``noise_floor``: per panel, the grid points with M < L N whose median rMSE is within 10x
      the oracle noise floor (tau^2 dof / (c^2 ||S||^2)), and the smallest such gamma.
    """
    panels = sorted({r["panel"] for r in records})
    trans = {p: {g: transition_rho(c) for g, c in success_curve(records, p, cfg.success_rmse).items()} for p in panels}
    dt = []
    if "sparse-low" in trans:
        for d in (0.1, 0.25, 0.5):
            if d in trans["sparse-low"]:
                dt.append(dict(delta=d, rho_measured=trans["sparse-low"][d], rho_dt=float(donoho_tanner(d)[0])))
    lowers: dict[str, Any] = {}
    for kind in ("sparse", "lowrank"):
        lo, hi = trans.get(f"{kind}-low"), trans.get(f"{kind}-high")
        if lo is None or hi is None:
            continue
        rows = [(g, lo[g], hi.get(g, math.nan)) for g in sorted(lo)]
        # compare where both exist and are not the same bound (+-inf: beyond the grid)
        finite = [(g, a, b) for g, a, b in rows if not (math.isnan(a) or math.isnan(b) or (math.isinf(a) and a == b))]
        lowers[kind] = dict(rows=rows, strictly_lower=all(b < a for _, a, b in finite) if finite else None,
                            lower_at=sum(b < a for _, a, b in finite), compared=len(finite))
    floor: dict[str, Any] = {}
    for p in panels:
        pts: dict[tuple[float, float], list[tuple[float, float]]] = {}
        for r in records:
            if r["panel"] == p and r["M"] < r["L"] * r["N"]:
                pts.setdefault((r["gamma"], r["rho_nominal"]), []).append((r["rmse"], r["floor"]))
        hits = [k for k, v in pts.items()
                if np.median([a for a, _ in v]) <= 10 * np.median([b for _, b in v])]
        floor[p] = dict(points=len(hits), of=len(pts), min_gamma=min((g for g, _ in hits), default=None))
    return dict(transitions=trans, donoho_tanner=dt, coherence_lowers=lowers, noise_floor=floor)


@dataclass
class RecallConfig:
    """Fig. 3: recover the last r inputs of a long stream from one state, for a range of r."""

    M: int = 200
    L: int = 4
    T: int = 1500
    density: float = 0.1
    spectral_radius: float = 0.98
    noise_std: float = 1e-3
    rs: tuple[int, ...] = (5, 10, 20, 30, 40, 60, 80, 100, 130, 160, 200, 250, 300, 400, 500)
    trials: int = 20
    seed: int = 3
    lasso_tol: float = 1e-2

    def validate(self) -> None:
        check_dims(self.M, self.L, self.T)
        check_range("density", self.density, 0.0, 1.0, lo_open=True)
        check_range("spectral_radius", self.spectral_radius, 0.0, 1.0, lo_open=True, hi_open=True)
        check_range("noise_std", self.noise_std, 0.0)
        _check_int("trials", self.trials, 1)
        if not self.rs:
            raise ConfigError("rs is empty; give recall lengths 1 <= r <= T")
        for r in self.rs:
            _check_int("r (recall length)", r, 1, self.T)


def recall_length_trial(cfg: RecallConfig, trial: int, device: str = "cpu") -> list[dict[str, Any]]:
    """One network driven by a T-step sparse stream; LASSO recovery of the last r inputs.

    The stream s[n] (L) has i.i.d. Bernoulli(density) x N(0, 1) entries. The state after T
    steps is x = sum_{k<T} W^k Z s[T-1-k] + e. Recovering only the last r inputs treats the
    older ones as interference (omission error, large for small r, weighted by r^{2r});
    recovering many inputs asks for more non-zeros than M measurements support and includes
    faded inputs (recall error). The LASSO weight uses the known noise-plus-interference level.
    Returns one record per r with the rmse over the recovered window.
    """
    from memlab.core.runtime import make_generator
    from memlab.theory import recovery

    gen = make_generator(cfg.seed, 10_000 + trial)
    net = random_network(cfg.M, cfg.L, spectral_radius=cfg.spectral_radius, generator=gen, device=device)
    A = measurement_operator(net.W, net.Z, cfg.T)  # (M, L T), last block = most recent input
    mask = torch.rand(cfg.L, cfg.T, generator=gen) < cfg.density
    S = torch.where(mask, torch.randn(cfg.L, cfg.T, generator=gen, dtype=torch.float64), torch.zeros(()))
    x = A @ vec(S).to(A) + state_noise(net, cfg.T, cfg.noise_std, 1, gen)[0]
    tau_noise = noise_level(net, cfg.T, cfg.noise_std)
    out = []
    for r in cfg.rs:
        cols = A[:, (cfg.T - r) * cfg.L:]  # (M, L r): the r most recent inputs
        # interference of the omitted inputs: E||sum_{k>=r} W^k Z s||^2 / M
        r2 = cfg.spectral_radius**2
        interf = cfg.density * cfg.L / cfg.M * (r2**r - r2**cfg.T) / (1 - r2)
        tau = math.sqrt(tau_noise**2 + interf)
        D = cols.cpu().numpy()
        t1 = time.perf_counter()
        s_hat = recovery.lasso(D, x.cpu().numpy(), recovery.lasso_alpha(D, tau), tol=cfg.lasso_tol, debias=False)
        dt = time.perf_counter() - t1
        S_win = S[:, cfg.T - r:]
        S_hat = unvec(torch.from_numpy(s_hat), cfg.L, r)
        out.append(dict(M=cfg.M, L=cfg.L, T=cfg.T, r=r, trial=trial, density=cfg.density,
                        radius=cfg.spectral_radius, rmse=float(rmse(S_hat, S_win)) if S_win.abs().sum() > 0 else float("nan"),
                        interference=interf, tau=tau, seconds=dt))
    return out

