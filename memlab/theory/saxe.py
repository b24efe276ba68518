"""Learning dynamics of a deep linear network (seed 001 eq. 2.12–2.21; Saxe et al. 2019).

A two-layer linear network ŷ = W2 W1 x trained by full-batch gradient descent with step η on
L = (1/2P) Σ_i ‖y_i - W2 W1 x_i‖² follows, for small η and τ = 1/η (time in steps),

    τ dW1/dt = W2^T (Σ^yx - W2 W1 Σ^x),   τ dW2/dt = (Σ^yx - W2 W1 Σ^x) W1^T      (eq. 2.14–2.15)

With Σ^x = I and Σ^yx = U S V^T, each mode strength a_α(t) = u_α^T W2 W1 v_α of a
decoupled (balanced, diagonal in the SVD basis) start follows the closed form

    a_α(t) = s_α e^{2 s_α t/τ} / (e^{2 s_α t/τ} - 1 + s_α / a_α(0))                  (eq. 2.18)

a sigmoid that learns strong modes first. The hidden representation of item i is
h_i^α(t) = √a_α(t) v_i^α (eq. 2.21): on hierarchically structured data the broad
distinctions appear before the fine ones (progressive differentiation), seen in an MDS plot.

Shapes: P items, F features (outputs), H hidden units, R modes (rank of Σ^yx).
"""

from __future__ import annotations

import numpy as np

from memlab.core.errors import ConfigError, check_choice, check_range


def hierarchical_dataset(depth: int = 3) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Items at the leaves of a binary tree of ``depth`` levels; one feature per tree node.

    Returns X (P, P) with x_i = √P e_i (so Σ^x = X X^T / P = I), Y (F, P) with Y[node, i] = 1
    when item i lies under the node (F = 2^{depth+1} - 1), and the node names ("", "0", "01", …).
    """
    check_range("depth", depth, 1, 6)
    P = 2**depth
    nodes = [""] + [format(j, f"0{lvl}b") for lvl in range(1, depth + 1) for j in range(2**lvl)]
    leaves = [format(i, f"0{depth}b") for i in range(P)]
    Y = np.array([[1.0 if leaf.startswith(node) else 0.0 for leaf in leaves] for node in nodes])  # (F, P)
    X = np.sqrt(P) * np.eye(P)
    return X, Y, nodes


def correlations(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Σ^x = X X^T / P (D, D) and Σ^yx = Y X^T / P (F, D) for columns as examples."""
    P = X.shape[1]
    return X @ X.T / P, Y @ X.T / P


def mode_strength_closed_form(s: np.ndarray, a0: np.ndarray, t_over_tau: np.ndarray) -> np.ndarray:
    """Eq. 2.18 for modes s (R,), initial strengths a0 (R,) > 0 at times t/τ (K,): (K, R)."""
    s, a0 = np.asarray(s, float), np.asarray(a0, float)
    if np.any(a0 <= 0):
        raise ConfigError("eq. 2.18 needs initial mode strengths a_α(0) > 0")
    e = np.exp(2.0 * s[None, :] * np.asarray(t_over_tau, float)[:, None])  # (K, R)
    return s * e / (e - 1.0 + s / a0)


def decoupled_init(U: np.ndarray, V: np.ndarray, hidden: int, a0: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """W1 = R √a0 V_R^T (H, D), W2 = U_R √a0 R^T (F, H): a balanced start diagonal in the SVD basis.

    R (H, R) has orthonormal columns drawn at random (the arbitrary rotation of eq. 2.19–2.20).
    """
    r = U.shape[1]
    if hidden < r:
        raise ConfigError(f"hidden={hidden} must be >= the number of modes {r}")
    rng = np.random.default_rng(seed)
    Rm, _ = np.linalg.qr(rng.standard_normal((hidden, r)))  # (H, R)
    W1 = np.sqrt(a0) * Rm @ V.T
    W2 = np.sqrt(a0) * U @ Rm.T
    return W1, W2


def simulate_gradient_descent(
    Sx: np.ndarray,
    Syx: np.ndarray,
    W1: np.ndarray,
    W2: np.ndarray,
    lr: float,
    steps: int,
    record_every: int = 1,
) -> dict[str, np.ndarray]:
    """Full-batch GD (eq. 2.12–2.13): W1 += η W2^T E, W2 += η E W1^T with E = Σ^yx - W2 W1 Σ^x.

    Returns {"step": (K,), "W1": (K, H, D), "W2": (K, F, H)} at every ``record_every`` steps.
    """
    check_range("lr", lr, 0.0, lo_open=True)
    check_range("steps", steps, 1)
    W1, W2 = W1.copy(), W2.copy()
    rec_s, rec1, rec2 = [], [], []
    for n in range(steps + 1):
        if n % record_every == 0 or n == steps:
            rec_s.append(n)
            rec1.append(W1.copy())
            rec2.append(W2.copy())
        if n == steps:
            break
        E = Syx - W2 @ W1 @ Sx  # (F, D)
        W1, W2 = W1 + lr * W2.T @ E, W2 + lr * E @ W1.T
    return {"step": np.array(rec_s), "W1": np.stack(rec1), "W2": np.stack(rec2)}


def mode_strengths(W1s: np.ndarray, W2s: np.ndarray, U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """a_α = u_α^T W2 W1 v_α for stacked weights (K, H, D), (K, F, H): (K, R)."""
    prod = np.einsum("kfh,khd->kfd", W2s, W1s)
    return np.einsum("fr,kfd,dr->kr", U, prod, V)


def group_degenerate(a: np.ndarray, s: np.ndarray, rtol: float = 1e-8) -> np.ndarray:
    """Average a (K, R) over modes with equal s_α: within a degenerate group the singular vectors
    are defined only up to a rotation, and the group mean of u_α^T W2 W1 v_α is rotation-invariant."""
    out = a.copy()
    done = np.zeros(len(s), bool)
    for i in range(len(s)):
        if done[i]:
            continue
        grp = np.isclose(s, s[i], rtol=rtol, atol=0.0)
        out[:, grp] = a[:, grp].mean(1, keepdims=True)
        done |= grp
    return out


def _fit_a0(t: np.ndarray, a: np.ndarray, s: float) -> float:
    """The a_α(0) whose eq. 2.18 curve is closest (max abs) to the simulated a (K,): grid + refine."""
    def dev(log_a0: float) -> float:
        return float(np.max(np.abs(mode_strength_closed_form(np.array([s]), np.array([10**log_a0]), t)[:, 0] - a)))

    grid = np.linspace(-14, np.log10(s) - 1e-6, 281)
    best = grid[int(np.argmin([dev(g) for g in grid]))]
    fine = np.linspace(best - 0.05, min(best + 0.05, np.log10(s) - 1e-6), 101)
    return float(10 ** fine[int(np.argmin([dev(g) for g in fine]))])


def saxe_experiment(
    depth: int = 3,
    hidden: int | None = None,
    lr: float = 0.002,
    t_max: float = 8.0,
    a0: float = 1e-3,
    init: str = "decoupled",
    init_scale: float = 1e-2,
    records: int = 200,
    seed: int = 0,
) -> dict:
    """GD on the hierarchical data of ``depth``; compare a_α(t) with eq. 2.18.

    ``init="decoupled"`` starts balanced in the SVD basis with a_α(0) = a0 (where eq. 2.18 is exact
    up to the O(η) discretisation); ``"random"`` uses N(0, init_scale²) weights (the small-weight
    regime the seed approximates). Time is reported as t/τ = steps·η.
    Returns arrays: t (K,), s (R,), a_sim (K, R), a_closed (K, R), hidden (K, P, H), and the
    max deviation |a_sim - a_closed| / s_α.
    """
    check_choice("init", init, ("decoupled", "random"))
    check_range("t_max", t_max, 0.0, lo_open=True)
    X, Y, nodes = hierarchical_dataset(depth)
    Sx, Syx = correlations(X, Y)
    U_full, s_full, Vt_full = np.linalg.svd(Syx, full_matrices=False)
    keep = s_full > 1e-10 * s_full[0]
    U, s, V = U_full[:, keep], s_full[keep], Vt_full[keep].T  # (F, R), (R,), (D, R)
    H = hidden or X.shape[0]
    rng = np.random.default_rng(seed)
    if init == "decoupled":
        W1, W2 = decoupled_init(U, V, H, a0, seed)
    else:
        W1 = init_scale * rng.standard_normal((H, X.shape[0]))
        W2 = init_scale * rng.standard_normal((Y.shape[0], H))
    steps = int(round(t_max / lr))
    sim = simulate_gradient_descent(Sx, Syx, W1, W2, lr, steps, record_every=max(1, steps // records))
    t = sim["step"] * lr
    a_sim = group_degenerate(mode_strengths(sim["W1"], sim["W2"], U, V), s)
    if init == "decoupled":
        a_init = a_sim[0]
    else:
        # From a random start u_α^T W2 W1 v_α(0) is noise (often negative) and the mode grows from
        # its aligned part, so eq. 2.18 is compared with one fitted a_α(0) per mode (a time shift).
        a_init = np.array([_fit_a0(t, a_sim[:, j], s[j]) for j in range(len(s))])
    a_closed = mode_strength_closed_form(s, a_init, t)
    hid = np.einsum("khd,dp->kph", sim["W1"], X)  # (K, P, H): h_i = W1 x_i
    return {
        "t": t,
        "s": s,
        "a_sim": a_sim,
        "a_closed": a_closed,
        "hidden": hid,
        "max_rel_dev": float(np.max(np.abs(a_sim - a_closed) / s[None, :])),
        "per_mode_dev": np.max(np.abs(a_sim - a_closed) / s[None, :], axis=0),
        "a0": a_init,
        "a0_fitted": init != "decoupled",
        "nodes": nodes,
        "steps": steps,
    }


def classical_mds(D: np.ndarray, dim: int = 2) -> np.ndarray:
    """Classical (Torgerson) MDS of a distance matrix D (M, M) into ``dim`` coordinates: (M, dim)."""
    M = D.shape[0]
    J = np.eye(M) - np.ones((M, M)) / M
    B = -0.5 * J @ (D**2) @ J
    w, E = np.linalg.eigh(B)
    idx = np.argsort(w)[::-1][:dim]
    return E[:, idx] * np.sqrt(np.maximum(w[idx], 0.0))


def mds_trajectories(hidden: np.ndarray, dim: int = 2) -> np.ndarray:
    """Embed all snapshots' item representations (K, P, H) jointly by classical MDS: (K, P, dim)."""
    K, P, H = hidden.shape
    Z = hidden.reshape(K * P, H)
    D = np.sqrt(np.maximum(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1), 0.0))
    return classical_mds(D, dim).reshape(K, P, dim)


# ----------------------------------------------------------------------------- experiment records


def saxe_records(depth: int = 3, lr: float = 0.002, t_max: float = 14.0, a0: float = 1e-3, seed: int = 0) -> list[dict]:
    """Decoupled and small-random starts on hierarchical data; mode curves and MDS coordinates."""
    recs = []
    for init in ("decoupled", "random"):
        r = saxe_experiment(depth=depth, lr=lr, t_max=t_max, a0=a0, init=init, seed=seed)
        coords = mds_trajectories(r["hidden"][:: max(1, len(r["t"]) // 40)])
        recs.append(
            {
                "analysis": "saxe",
                "init": init,
                "depth": depth,
                "lr": lr,
                "steps": r["steps"],
                "t": r["t"].tolist(),
                "s": r["s"].tolist(),
                "a_sim": r["a_sim"].tolist(),
                "a_closed": r["a_closed"].tolist(),
                "max_rel_dev": r["max_rel_dev"],
                "per_mode_dev": r["per_mode_dev"].tolist(),
                "mds_t": r["t"][:: max(1, len(r["t"]) // 40)].tolist(),
                "mds": coords.tolist(),
                "items": [format(i, f"0{depth}b") for i in range(2**depth)],
            }
        )
    return recs
