"""Fisher memory curve of a linear recurrent network (seed 001 eq. 2.26–2.28; Ganguli et al. 2008).

The network x(n) = W x(n-1) + v s(n) + z(n), with white noise ⟨z_i z_j⟩ = ε δ_ij, carries
Fisher information about the signal k steps back

    J(k) = v^T W^{kT} C_n^{-1} W^k v,    C_n = ε Σ_{k≥0} W^k W^{kT}          (eq. 2.27)

where C_n solves the discrete Lyapunov equation C_n = W C_n W^T + ε I. For a normal W
(W W^T = W^T W, eigenvalues λ_i, orthonormal eigenvectors u_i)

    J(k) = (1/ε) Σ_i |u_i^H v|² |λ_i|^{2k} (1 - |λ_i|²)                    (eq. 2.28)

(the seed writes eq. 2.28 with ε = 1 and v in the eigenbasis). With ‖v‖ = 1 and ε = 1 the total
memory J_tot = Σ_k J(k) is exactly 1 for every normal network, and at most N for any network
(Ganguli et al. 2008). Non-normal networks can beat 1: a delay line (W = shift, v = e_1) has
J(k) = 1/(k+1) for k < N, so J_tot = H_N (the harmonic number), and an amplifying chain of gain
α has J(k) = (1 - α^{-2}) / (1 - α^{-2(k+1)}), so J_tot ≈ N(1 - α^{-2}) → N. (These two closed
forms are from Ganguli et al. 2008, not from seed 001.)

All arrays are float64 NumPy. Shapes: N neurons, K lags.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from memlab.core.errors import ConfigError, check_range


def check_network(W: np.ndarray, v: np.ndarray | None = None, eps: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate a linear network: W square (N, N), v (N,), ε > 0. Returns float64 copies."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ConfigError(f"W must be a square (N, N) matrix; got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ConfigError("W has non-finite entries")
    if v is not None:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.shape[0] != W.shape[0]:
            raise ConfigError(f"v must have N={W.shape[0]} entries; got {v.shape[0]}")
    if eps is not None:
        check_range("eps (noise variance)", eps, 0.0, lo_open=True)
    return W, v


def spectral_radius(W: np.ndarray) -> float:
    return float(np.abs(np.linalg.eigvals(W)).max())


def _check_stable(W: np.ndarray) -> None:
    rho = spectral_radius(W)
    if rho >= 1.0:
        raise ConfigError(f"W has spectral radius {rho:.4g} >= 1; the noise covariance Σ_k W^k W^kT diverges")


def lyapunov_sum(W: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Σ_{k≥0} W^k Q W^{kT} (N, N) for spectral radius < 1: the solution of X = W X W^T + Q."""
    _check_stable(W)
    N = W.shape[0]
    if not np.any(np.linalg.matrix_power(W, N)):
        # nilpotent (delay lines, feed-forward chains): the series is a finite sum of PSD terms,
        # exact, while the Lyapunov solver's bilinear transform is ill-posed for all-zero spectra
        X, P = np.zeros((N, N)), np.eye(N)
        for _ in range(N):
            X += P @ Q @ P.T
            P = W @ P
        return X
    X = sla.solve_discrete_lyapunov(W, Q)
    return 0.5 * (X + X.T)


def noise_covariance(W: np.ndarray, eps: float) -> np.ndarray:
    """C_n = ε Σ_k W^k W^{kT} (N, N), the solution of C = W C W^T + ε I."""
    W, _ = check_network(W, eps=eps)
    return lyapunov_sum(W, eps * np.eye(W.shape[0]))


def fisher_total(W: np.ndarray, v: np.ndarray, eps: float) -> float:
    """J_tot = Σ_{k≥0} J(k) = tr(C_n^{-1} G) with G = Σ_k W^k v v^T W^{kT}, summed over all lags."""
    W, v = check_network(W, v, eps)
    C = noise_covariance(W, eps)
    G = lyapunov_sum(W, np.outer(v, v))
    return float(np.trace(sla.cho_solve(sla.cho_factor(C), G)))


def propagated_inputs(W: np.ndarray, v: np.ndarray, k_max: int) -> np.ndarray:
    """m_k = W^k v for k = 0..k_max: (k_max + 1, N)."""
    check_range("k_max", k_max, 0)
    out = np.empty((k_max + 1, W.shape[0]))
    m = v.copy()
    for k in range(k_max + 1):
        out[k] = m
        m = W @ m
    return out


def fisher_memory_curve(W: np.ndarray, v: np.ndarray, eps: float, k_max: int) -> np.ndarray:
    """J(k) for k = 0..k_max by eq. 2.27 (any W with spectral radius < 1). Returns (k_max + 1,)."""
    W, v = check_network(W, v, eps)
    C = noise_covariance(W, eps)
    M = propagated_inputs(W, v, k_max)  # (K, N)
    cf = sla.cho_factor(C)
    return np.einsum("kn,nk->k", M, sla.cho_solve(cf, M.T))


def is_normal(W: np.ndarray, tol: float = 1e-10) -> bool:
    W = np.asarray(W, dtype=np.float64)
    return bool(np.linalg.norm(W @ W.T - W.T @ W) <= tol * max(1.0, np.linalg.norm(W) ** 2))


def fisher_memory_curve_normal(W: np.ndarray, v: np.ndarray, eps: float, k_max: int) -> np.ndarray:
    """J(k) for a normal W by the closed form eq. 2.28 (with the 1/ε the seed sets to 1)."""
    W, v = check_network(W, v, eps)
    check_range("k_max", k_max, 0)
    if not is_normal(W):
        raise ConfigError("W is not normal (W W^T != W^T W); use fisher_memory_curve")
    _check_stable(W)
    T, Z = sla.schur(W.astype(np.complex128), output="complex")  # W = Z T Z^H, T diagonal for normal W
    lam = np.diag(T)
    weight = np.abs(Z.conj().T @ v) ** 2  # |u_i^H v|²
    mag2 = np.abs(lam) ** 2
    k = np.arange(k_max + 1)[:, None]
    return (weight * mag2**k * (1.0 - mag2)).sum(1) / eps


def fisher_memory_matrix(W: np.ndarray, v: np.ndarray, eps: float, k_max: int) -> np.ndarray:
    """J(k, l) = v^T W^{kT} C_n^{-1} W^l v (K, K); its diagonal is the memory curve."""
    W, v = check_network(W, v, eps)
    C = noise_covariance(W, eps)
    M = propagated_inputs(W, v, k_max)
    return M @ sla.cho_solve(sla.cho_factor(C), M.T)


# ----------------------------------------------------------------------------- network families


def delay_line(N: int, alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Feed-forward chain W = α·shift (x_{i+1} ← α x_i), v = e_1. Nilpotent, so always stable."""
    check_range("N", N, 1)
    check_range("alpha", alpha, 0.0, lo_open=True)
    W = alpha * np.eye(N, k=-1)
    v = np.zeros(N)
    v[0] = 1.0
    return W, v


def delay_line_fisher_closed_form(N: int, alpha: float, eps: float, k_max: int) -> np.ndarray:
    """J(k) = α^{2k} / (ε Σ_{j≤k} α^{2j}) for k < N, 0 beyond (Ganguli et al. 2008)."""
    check_range("eps (noise variance)", eps, 0.0, lo_open=True)
    k = np.arange(k_max + 1)
    J = np.array([alpha ** (2 * kk) / np.sum(alpha ** (2 * np.arange(kk + 1))) for kk in k]) / eps
    J[k >= N] = 0.0
    return J


def harmonic_number(N: int) -> float:
    return float(np.sum(1.0 / np.arange(1, N + 1)))


def orthogonal_network(N: int, rho: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """W = ρ·Q with Q Haar-orthogonal (normal, all |λ_i| = ρ) and a unit random v."""
    check_range("N", N, 1)
    rng = np.random.default_rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal((N, N)))
    Q = Q * np.sign(np.diag(R))
    v = rng.standard_normal(N)
    return rho * Q, v / np.linalg.norm(v)


def symmetric_network(N: int, rho: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random symmetric W (normal, real spectrum) rescaled to spectral radius ρ, unit v."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, N))
    W = A + A.T
    W *= rho / spectral_radius(W)
    v = rng.standard_normal(N)
    return W, v / np.linalg.norm(v)


def gaussian_network(N: int, rho: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random Gaussian W (non-normal) rescaled to spectral radius ρ, unit v."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((N, N))
    W *= rho / spectral_radius(W)
    v = rng.standard_normal(N)
    return W, v / np.linalg.norm(v)


# ----------------------------------------------------------------------------- experiment records


def fisher_experiment(N: int = 20, eps: float = 1.0, k_max: int = 60, rho: float = 0.9, seed: int = 0) -> list[dict]:
    """J(k) for several network families plus J_tot versus N for delay lines; plain-data records."""
    check_range("N", N, 2)
    check_range("k_max", k_max, 1)
    families = {
        f"orthogonal (normal), rho={rho}": orthogonal_network(N, rho, seed),
        f"symmetric (normal), rho={rho}": symmetric_network(N, rho, seed),
        f"gaussian (non-normal), rho={rho}": gaussian_network(N, rho, seed),
        "delay line, alpha=1": delay_line(N, 1.0),
        "amplifying chain, alpha=1.5": delay_line(N, 1.5),
        "amplifying chain, alpha=2": delay_line(N, 2.0),
    }
    recs = []
    for name, (W, v) in families.items():
        J = fisher_memory_curve(W, v, eps, k_max)
        closed, kind = None, None
        if is_normal(W):
            closed, kind = fisher_memory_curve_normal(W, v, eps, k_max), "normal eq. 2.28"
        elif name.startswith(("delay", "amplifying")):
            alpha = float(W[1, 0])
            closed, kind = delay_line_fisher_closed_form(N, alpha, eps, k_max), "delay line (Ganguli 2008)"
        rec = {
            "analysis": "fisher",
            "kind": "curve",
            "family": name,
            "N": N,
            "eps": eps,
            "spectral_radius": spectral_radius(W),
            "normal": is_normal(W),
            "k": list(range(k_max + 1)),
            "J": J.tolist(),
            "J_total": fisher_total(W, v, eps),  # all lags, not only k ≤ k_max
            "J_total_kmax": float(J.sum()),
            "closed_form": kind,
            "J_closed": None if closed is None else closed.tolist(),
            "max_rel_diff_closed": None if closed is None else float(np.max(np.abs(J - closed)) / np.max(np.abs(closed))),
        }
        if name.startswith("delay line"):
            rec["prediction"] = harmonic_number(N) / eps
            rec["prediction_label"] = "H_N / eps"
        elif name.startswith("amplifying"):
            a = float(W[1, 0])
            rec["prediction"] = N * (1 - a**-2) / eps
            rec["prediction_label"] = "N (1 - alpha^-2) / eps"
        elif rec["normal"]:
            rec["prediction"] = float(v @ v) / eps
            rec["prediction_label"] = "‖v‖² / eps"
        recs.append(rec)
    for alpha in (1.0, 1.5, 2.0):
        for n in (2, 4, 8, 16, 32, 64):
            W, v = delay_line(n, alpha)
            J = fisher_memory_curve(W, v, eps, n)
            recs.append(
                {
                    "analysis": "fisher",
                    "kind": "total_vs_N",
                    "family": f"alpha={alpha:g}",
                    "alpha": alpha,
                    "N": n,
                    "J_total": float(J.sum()),
                    "harmonic_number": harmonic_number(n) / eps,
                    "N_one_minus_alpha_m2": n * (1 - alpha**-2) / eps,
                }
            )
    return recs
