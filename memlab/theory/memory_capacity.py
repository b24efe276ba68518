"""Linear memory capacity of a reservoir (Jaeger 2002; the echo-state view of seed 001 §2.3).

A network x(t) = f(W x(t-1) + v u(t) + z(t)) driven by i.i.d. u(t) ~ N(0, σ²) is read out
linearly: y_k(t) = w_k^T x(t) + b_k is trained to output u(t-k). The memory function is the
squared correlation r²(k) = corr²(y_k(t), u(t-k)), and the capacity MC = Σ_{k≥0} r²(k)
(lag 0 is the current input).

For a linear network (f = identity) with state noise variance ε the optimal readout is known:
with C = W C W^T + σ² v v^T + ε I (discrete Lyapunov) and m_k = W^k v,

    r²(k) = σ² m_k^T C^{-1} m_k,      Σ_{k≥0} r²(k) = σ² tr(C^{-1} G),   G = Σ_k m_k m_k^T,

so without noise MC = tr(I_N) = N for every controllable (generic) pair (W, v): Jaeger's bound
MC ≤ N is reached. A regression estimate on T samples is biased up: at every lag the in-sample
r² of N regressors on pure noise is ≈ N/T, so Σ_{k≤K} over-counts by ≈ (K+1)N/T; held-out
estimates remove that bias (and are biased down instead).

Shapes: T time, N neurons, K+1 lags (0..K).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.theory.fisher import check_network, propagated_inputs, spectral_radius


def state_covariance(W: np.ndarray, v: np.ndarray, sigma2: float = 1.0, eps: float = 0.0) -> np.ndarray:
    """Stationary state covariance C = W C W^T + σ² v v^T + ε I: (N, N)."""
    W, v = check_network(W, v)
    check_range("sigma2", sigma2, 0.0, lo_open=True)
    check_range("eps", eps, 0.0)
    rho = spectral_radius(W)
    if rho >= 1.0:
        raise ConfigError(f"W has spectral radius {rho:.4g} >= 1; the linear network has no stationary state")
    C = sla.solve_discrete_lyapunov(W, sigma2 * np.outer(v, v) + eps * np.eye(W.shape[0]))
    return 0.5 * (C + C.T)


def memory_function_closed_form(W: np.ndarray, v: np.ndarray, k_max: int, sigma2: float = 1.0, eps: float = 0.0) -> np.ndarray:
    """r²(k) for k = 0..k_max of a linear network with the optimal linear readout: (k_max + 1,)."""
    C = state_covariance(W, v, sigma2, eps)
    M = propagated_inputs(np.asarray(W, float), np.asarray(v, float).reshape(-1), k_max)  # (K, N)
    try:
        cf = sla.cho_factor(C)
    except np.linalg.LinAlgError:
        raise ConfigError("the state covariance is singular: (W, v) is not controllable; add noise (eps > 0)") from None
    return sigma2 * np.einsum("kn,nk->k", M, sla.cho_solve(cf, M.T))


def memory_capacity_closed_form(W: np.ndarray, v: np.ndarray, sigma2: float = 1.0, eps: float = 0.0) -> float:
    """MC = Σ_{k≥0} r²(k) = σ² tr(C^{-1} G) summed over all lags (= N without noise)."""
    W, v = check_network(W, v)
    C = state_covariance(W, v, sigma2, eps)
    G = sla.solve_discrete_lyapunov(W, np.outer(v, v))
    try:
        return float(sigma2 * np.trace(np.linalg.solve(C, G)))
    except np.linalg.LinAlgError:
        raise ConfigError("the state covariance is singular: (W, v) is not controllable; add noise (eps > 0)") from None


def simulate_reservoir(
    W: np.ndarray,
    v: np.ndarray,
    T: int,
    nonlinearity: str = "linear",
    eps: float = 0.0,
    washout: int = 200,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Drive x(t) = f(W x(t-1) + v u(t) + z(t)) with u ~ N(0, 1) i.i.d. for washout + T steps.

    Returns states X (T, N) and inputs u (T,) after the washout.
    """
    W, v = check_network(W, v)
    check_choice("nonlinearity", nonlinearity, ("linear", "tanh"))
    check_range("T", T, 1)
    check_range("washout", washout, 0)
    check_range("eps", eps, 0.0)
    rng = np.random.default_rng(seed)
    total = T + washout
    u = rng.standard_normal(total)
    z = np.sqrt(eps) * rng.standard_normal((total, W.shape[0])) if eps > 0 else None
    X = np.empty((total, W.shape[0]))
    x = np.zeros(W.shape[0])
    for t in range(total):
        net = W @ x + v * u[t]
        if z is not None:
            net = net + z[t]
        x = np.tanh(net) if nonlinearity == "tanh" else net
        X[t] = x
    return X[washout:], u[washout:]


def lagged_design(X: np.ndarray, u: np.ndarray, k_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows t = k_max..T-1: features X[t] (T', N) and targets U[t, k] = u[t-k] (T', k_max + 1)."""
    T = X.shape[0]
    check_range("k_max", k_max, 0)
    if k_max >= T - 1:
        raise ConfigError(f"k_max={k_max} lags need more than {k_max + 1} simulated steps; got T={T}")
    idx = np.arange(k_max, T)
    U = np.stack([u[idx - k] for k in range(k_max + 1)], axis=1)  # (T', K)
    return X[idx], U


def _squared_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise squared correlation of a (T, K) and b (T, K)."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    den = (a**2).sum(0) * (b**2).sum(0)
    return np.where(den > 0, (a * b).sum(0) ** 2 / np.where(den > 0, den, 1.0), 0.0)


def memory_function_regression(
    X: np.ndarray, u: np.ndarray, k_max: int, n_train: int | None = None, ridge: float = 0.0
) -> dict[str, np.ndarray]:
    """r²(k), k = 0..k_max, by least-squares readouts fitted on the first ``n_train`` usable steps.

    Returns {"train": in-sample r² (K,), "test": held-out r² on the remaining steps (K,)}.
    """
    F, U = lagged_design(np.asarray(X, float), np.asarray(u, float), k_max)
    n = F.shape[0]
    n_train = n_train or n // 2
    check_range("n_train", n_train, 2, n - 2)
    A = np.hstack([F, np.ones((n, 1))])  # (T', N+1) with a bias column
    Atr, Ate = A[:n_train], A[n_train:]
    if ridge > 0:
        coef = np.linalg.solve(Atr.T @ Atr + ridge * np.eye(A.shape[1]), Atr.T @ U[:n_train])
    else:
        coef = np.linalg.lstsq(Atr, U[:n_train], rcond=None)[0]  # (N+1, K)
    return {"train": _squared_corr(Atr @ coef, U[:n_train]), "test": _squared_corr(Ate @ coef, U[n_train:])}


# ----------------------------------------------------------------------------- experiment records


def capacity_experiment(
    N: int = 20,
    rho: float = 0.9,
    k_max: int = 60,
    T: int = 20000,
    n_trains: tuple[int, ...] = (100, 200, 500, 1000, 2000, 5000, 10000),
    tanh_N: int = 50,
    tanh_rhos: tuple[float, ...] = (0.3, 0.6, 0.8, 0.9, 0.95, 1.0, 1.1, 1.3),
    tanh_scales: tuple[float, ...] = (0.1, 1.0),
    tanh_T: int = 6000,
    seed: int = 0,
) -> list[dict]:
    """Closed form vs regression for a generic linear net, the finite-sample bias, tanh reservoirs."""
    from memlab.theory.fisher import gaussian_network, orthogonal_network

    recs: list[dict] = []
    nets = {"gaussian": gaussian_network(N, rho, seed), "orthogonal": orthogonal_network(N, rho, seed)}
    for name, (W, v) in nets.items():
        r2 = memory_function_closed_form(W, v, k_max)
        X, u = simulate_reservoir(W, v, T, seed=seed)
        reg = memory_function_regression(X, u, k_max, n_train=T // 2)
        recs.append(
            {
                "analysis": "capacity",
                "kind": "linear",
                "network": name,
                "N": N,
                "rho": rho,
                "k": list(range(k_max + 1)),
                "r2_closed": r2.tolist(),
                "r2_train": reg["train"].tolist(),
                "r2_test": reg["test"].tolist(),
                "MC_closed_infinite": memory_capacity_closed_form(W, v),
                "MC_closed_kmax": float(r2.sum()),
                "MC_train": float(reg["train"].sum()),
                "MC_test": float(reg["test"].sum()),
                "T": T,
            }
        )
    W, v = nets["gaussian"]
    X, u = simulate_reservoir(W, v, max(n_trains) + 5000 + k_max, seed=seed + 1)
    mc_closed = float(memory_function_closed_form(W, v, k_max).sum())
    for n_train in n_trains:
        reg = memory_function_regression(X[: n_train + 5000 + k_max], u[: n_train + 5000 + k_max], k_max, n_train=n_train)
        recs.append(
            {
                "analysis": "capacity",
                "kind": "finite_sample",
                "N": N,
                "rho": rho,
                "k_max": k_max,
                "n_train": n_train,
                "MC_train": float(reg["train"].sum()),
                "MC_test": float(reg["test"].sum()),
                "MC_closed_kmax": mc_closed,
                # E[in-sample r²] of N regressors on independent noise is N/(n-1): over-count at unmemorised lags
                "bias_prediction": (k_max + 1 - mc_closed) * N / (n_train - 1),
            }
        )
    Wt, vt = gaussian_network(tanh_N, 1.0, seed)
    for scale in tanh_scales:
        for r in tanh_rhos:
            X, u = simulate_reservoir(r * Wt, scale * vt, tanh_T, nonlinearity="tanh", seed=seed)
            reg = memory_function_regression(X, u, k_max, n_train=tanh_T // 2)
            recs.append(
                {
                    "analysis": "capacity",
                    "kind": "tanh",
                    "N": tanh_N,
                    "rho": r,
                    "input_scale": scale,
                    "k": list(range(k_max + 1)),
                    "r2_test": reg["test"].tolist(),
                    "MC_test": float(reg["test"].sum()),
                    "MC_train": float(reg["train"].sum()),
                }
            )
    return recs
