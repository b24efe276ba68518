"""Typed configs of the two seed 003 experiments and the checks they share (no torch here, so
listing or validating an experiment stays fast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memlab.core.errors import ConfigError, check_choice
from memlab.theory.checks import check_int, check_memory, check_number, check_numbers, check_seed

W_FAMILIES: tuple[str, ...] = ("orthogonal", "gaussian", "symmetric")
BASES: tuple[str, ...] = ("identity", "dct", "random", "haar")
TEMPORAL_FACTORS: tuple[str, ...] = ("gaussian",) + BASES
#: trials per point: 10^5 recovery problems per point already take days; more is a typo
MAX_TRIALS = 100_000


def _check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    return check_int(name, value, lo, hi)


def check_dims(M: int, L: int, N: int) -> None:
    """Raise ConfigError unless M, L, N are positive integers."""
    _check_int("M (network size)", M, 1)
    _check_int("L (inputs per step)", L, 1)
    _check_int("N (time steps)", N, 1)


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
        check_seed(self.seed)
        check_dims(1, self.L, self.N)
        _check_int("trials", self.trials, 1, MAX_TRIALS)
        if not self.gammas:
            raise ConfigError("gammas is empty; give at least one compression M/(LN) in (0, 1]")
        for g in self.gammas:
            check_number("gamma", g, 0.0, 1.0, lo_open=True)
            if round(g * self.L * self.N) < 1:
                raise ConfigError(f"gamma={g} gives M={round(g * self.L * self.N)}; M must be >= 1")
        # sparse: K = rho M non-zeros are drawn, and K > M measurements can never be recovered;
        # low-rank: the rank is capped at min(L, N), so a large rho costs nothing but is off the grid
        check_numbers("rho (sparse)", self.rhos_sparse, 0.0, 1.0, lo_open=True)
        check_numbers("rho (low-rank)", self.rhos_lowrank, 0.0, 10.0, lo_open=True)
        check_choice("family", self.family, W_FAMILIES)
        # as in the recall experiment: r >= 1 makes W^{N-1} Z the largest block (inputs never fade)
        check_number("spectral_radius", self.spectral_radius, 0.0, 1.0, lo_open=True, hi_open=True)
        check_number("noise_std", self.noise_std, 0.0)
        for name in ("low_basis", "high_basis"):
            check_choice(name, getattr(self, name), BASES)
        for name in ("low_temporal", "high_temporal"):
            check_choice(name, getattr(self, name), TEMPORAL_FACTORS)
        if not self.panels:
            raise ConfigError("panels is empty; allowed: sparse-low, sparse-high, lowrank-low, lowrank-high")
        for p in self.panels:
            check_choice("panel", p, ("sparse-low", "sparse-high", "lowrank-low", "lowrank-high"))
        check_number("success_rmse", self.success_rmse, 0.0, lo_open=True)
        check_number("lasso_saturation", self.lasso_saturation, 0.0)
        check_choice("lasso_backend", self.lasso_backend, ("auto", "skglm", "sklearn", "admm"))
        check_number("lasso_tol", self.lasso_tol, 0.0, lo_open=True)
        _check_int("lasso_max_epochs", self.lasso_max_epochs, 1)
        _check_int("lasso_admm_max_iter", self.lasso_admm_max_iter, 1)
        check_number("lasso_admm_tol", self.lasso_admm_tol, 0.0)
        check_choice("nuclear_dtype", self.nuclear_dtype, ("float32", "float64"))
        check_number("nuclear_continuation", self.nuclear_continuation, 0.0, 1.0, lo_open=True)
        check_choice("nuclear_solver", self.nuclear_solver, ("admm", "apg"))
        _check_int("nuclear_max_iter", self.nuclear_max_iter, 1)
        _check_int("nuclear_stage_iters", self.nuclear_stage_iters, 1)
        check_number("nuclear_tol", self.nuclear_tol, 0.0)
        check_number("nuclear_stage_tol", self.nuclear_stage_tol, 0.0)
        # the operator A (M, L N) and its copies (dictionary, solver dtype, numpy) plus A A^T's factor
        LN = self.L * self.N
        M = max(1, round(max(self.gammas) * LN))
        check_memory(f"L={self.L}, N={self.N} with gamma={max(self.gammas)} (M={M})", 8 * (6 * M * LN + 2 * M * M),
                     "use smaller L, N or gammas")


QUICK_PHASE = dict(
    L=10, N=20, trials=3, gammas=(0.1, 0.25, 0.5), rhos_sparse=(0.1, 0.25, 0.5),
    rhos_lowrank=(0.3, 0.6, 1.0),
)


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
        check_seed(self.seed)
        check_dims(self.M, self.L, self.T)
        check_number("density", self.density, 0.0, 1.0, lo_open=True)
        check_number("spectral_radius", self.spectral_radius, 0.0, 1.0, lo_open=True, hi_open=True)
        check_number("noise_std", self.noise_std, 0.0)
        check_number("lasso_tol", self.lasso_tol, 0.0, lo_open=True)
        _check_int("trials", self.trials, 1, MAX_TRIALS)
        if not self.rs:
            raise ConfigError("rs is empty; give recall lengths 1 <= r <= T")
        for r in self.rs:
            _check_int("r (recall length)", r, 1, self.T)
        # the operator A (M, L T) and the window copies handed to the LASSO
        check_memory(f"M={self.M}, L={self.L}, T={self.T}", 8 * 3 * self.M * self.L * self.T, "use smaller M, L or T")
