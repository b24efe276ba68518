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

Everything here is pure functions on torch tensors (float64 by default) with a ``device``:
``network`` (W, Z, the operator A, noise), ``bases`` (temporal bases and input models),
``modes`` (coherence with the network's modes), ``bounds`` (metrics, complexities, Donoho-Tanner,
transitions), and the two Monte-Carlo units, ``phase`` (Fig. 2, :func:`phase_unit`) and
``recall`` (Fig. 3, :func:`recall_length_trial`), which return plain record dicts for the
experiments ``stm-phase-diagram`` / ``stm-recall-length`` to store and plot.

Coherence. For an orthogonal W = U diag(e^{i theta_k}) U^*, measurement k of U^* x[N] sees the
inputs only through their temporal DTFT at frequency theta_k (the network's *sinusoidal modes*
f_k[n] = e^{i theta_k n} / sqrt(N)). A basis whose temporal atoms are sinusoids concentrates
the signal on a few modes and defeats the random mixing: its coherence

    mu(Psi) = sqrt(N) max_{k, j} || reshape(psi_j) conj(f_k) ||_2      in [1, sqrt(N)]

is high (DCT in time: sqrt(N), through its constant atom); the canonical basis has mu = 1. For low-rank S the
analogue is mu^2(V) = (N / R) max_k || P_V f_k ||^2 in [1, N / R] for the temporal factor V.
"""


from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule; imported on first use so ``memlab.theory.stm.config`` stays light
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("W_FAMILIES", "BASES", "TEMPORAL_FACTORS", "check_dims", "PhaseConfig", "QUICK_PHASE",
                     "RecallConfig"), "config"),
    **dict.fromkeys(("Network", "measurement_operator", "noise_level", "random_network", "simulate", "state_noise",
                     "unvec", "vec"), "network"),
    **dict.fromkeys(("apply_time_basis", "dct_matrix", "haar_matrix", "lowrank_input", "sparse_input", "synthesize",
                     "time_basis"), "bases"),
    **dict.fromkeys(("compression", "donoho_tanner", "lowrank_complexity", "on_grid", "rank_for", "rmse",
                     "sparse_complexity", "sparsity_for", "success_curve", "transition_rho"), "bounds"),
    **dict.fromkeys(("coherence", "lowrank_coherence", "mode_frequencies", "network_modes", "sinusoids"), "modes"),
    **dict.fromkeys(("phase_checks", "phase_unit"), "phase"),
    **dict.fromkeys(("recall_length_trial",), "recall"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
