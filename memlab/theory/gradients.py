"""Gradient flow through time in any ``MemoryCore`` (seed 001 eq. 2.29–2.37).

Back-propagated error from step T to step T-q is multiplied by the Jacobian

    J_q = ∂s_T / ∂s_{T-q} = A_T A_{T-1} ⋯ A_{T-q+1},   A_t = ∂s_t / ∂s_{t-1}

of the flattened state s. For an Elman network h_t = f(W h_{t-1} + U x_t), A_t = F'(t) W with
F'(t) = diag(f'(net(t))) (eq. 2.34), so by sub-multiplicativity (eq. 2.35–2.36)

    ‖J_q‖₂ ≤ (f'_max ‖W‖₂)^q,      |[J_q]_{uv}| ≤ n (f'_max ‖W‖₂)^q,

which vanishes when f'_max‖W‖ < 1 and may explode when > 1. An LSTM cell has the constant error
carousel c_t = f_t ⊙ c_{t-1} + …: with no forget gate (f ≡ 1, eq. 2.37) ∂c_T/∂c_{T-q} stays
near the identity, so its gradient neither vanishes nor explodes.

``step_jacobians`` gets each A_t by autograd from the core's own ``forward``, so it works for
every core with a fixed-size state; ``elman_jacobian_product`` is the hand-derived product for
Elman cores that the tests compare it with.

Shapes: T time, B batch, S flattened state size, Q the largest lag.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from memlab.core.errors import ConfigError, check_range
from memlab.core.interfaces import MemoryCore, State, tree_leaves


def flatten_state(state: State, complex_as_real: bool = False) -> Tensor:
    """Flatten a batched state into (B, S) keeping its dtype (``state_to_vector`` casts to the
    default dtype, which would throw away float64 precision here). ``complex_as_real``: a complex
    leaf gives its real and imaginary parts as two real scalars each (as ``state_size`` counts
    them), so the result is real and real leaves gain no zero imaginary parts."""
    leaves = [x for x in tree_leaves(state) if x.dim() > 0]
    if not leaves:
        raise ConfigError("state has no batched tensors to flatten")
    if complex_as_real:
        leaves = [torch.view_as_real(x) if x.is_complex() else x for x in leaves]
    dtype = leaves[0].dtype
    for x in leaves[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    return torch.cat([x.reshape(x.shape[0], -1).to(dtype) for x in leaves], dim=1)  # (B, S)


def vector_to_state(vec: Tensor, template: State) -> State:
    """Inverse of ``flatten_state``: split ``vec`` (B, S) into a state shaped like ``template``."""
    leaves = tree_leaves(template)
    sizes = [x[0].numel() for x in leaves]
    if sum(sizes) != vec.shape[1]:
        raise ConfigError(f"state vector has {vec.shape[1]} entries; the state has {sum(sizes)}")
    parts = iter(torch.split(vec, sizes, dim=1))

    def build(t):
        if isinstance(t, Tensor):
            p = next(parts)
            return p.reshape(t.shape).to(t.dtype)
        if isinstance(t, tuple) and hasattr(t, "_fields"):
            return type(t)(*(build(x) for x in t))
        if isinstance(t, (tuple, list)):
            return type(t)(build(x) for x in t)
        return t

    return build(template)


def run_states(core: MemoryCore, xs: Tensor, state: State | None = None) -> list[State]:
    """States s_0 … s_T of ``core`` stepped over xs (T, B, I) (no gradient)."""
    with torch.no_grad():
        state = state if state is not None else core.initial_state(xs.shape[1], xs.device)
        states = [state]
        for t in range(xs.shape[0]):
            _, state = core(xs[t], state)
            states.append(state)
    return states


def step_jacobians(core: MemoryCore, xs: Tensor, t_from: int, state: State | None = None) -> Tensor:
    """A_t = ∂s_t/∂s_{t-1} per example for t = t_from..T (1-based steps): (T - t_from + 1, B, S, S)."""
    T = xs.shape[0]
    check_range("t_from", t_from, 1, T)
    states = run_states(core, xs, state)
    sizes = {flatten_state(s).shape[1] for s in states[t_from - 1 :]}
    if len(sizes) != 1:
        raise ConfigError("step_jacobians needs a fixed-size state; this core's state grows over time")
    out = []
    for t in range(t_from, T + 1):
        prev = states[t - 1]
        s_prev = flatten_state(prev).detach()  # (B, S)

        def f(s: Tensor, x_t: Tensor = xs[t - 1], template: State = prev) -> Tensor:
            _, new = core(x_t, vector_to_state(s, template))
            return flatten_state(new).sum(0)  # (S,): examples are independent, so summing keeps blocks

        J = torch.autograd.functional.jacobian(f, s_prev, vectorize=True)  # (S_out, B, S_in)
        out.append(J.permute(1, 0, 2))  # (B, S, S)
    return torch.stack(out, 0)


def jacobian_products(A: Tensor) -> Tensor:
    """J_q = A_T ⋯ A_{T-q+1} for q = 1..Q from A (Q, B, S, S) ordered oldest first: (Q, B, S, S)."""
    Q = A.shape[0]
    J = A[-1]
    out = [J]
    for q in range(2, Q + 1):
        J = J @ A[Q - q]  # ∂s_T/∂s_{T-q} = ∂s_T/∂s_{T-q+1} · ∂s_{T-q+1}/∂s_{T-q}
        out.append(J)
    return torch.stack(out, 0)


def gradient_norms(
    core: MemoryCore,
    xs: Tensor,
    q_max: int,
    block: tuple[slice, slice] | None = None,
    ord: int | str = 2,
) -> np.ndarray:
    """‖∂s_T/∂s_{T-q}‖ for q = 1..q_max per example: (q_max, B).

    ``block`` = (rows, cols) picks a sub-block of the state, e.g. the LSTM cell c → c.
    ``ord``: 2 (spectral) or "fro".
    """
    T = xs.shape[0]
    check_range("q_max", q_max, 1)
    if q_max > T:
        raise ConfigError(f"q_max={q_max} lags go beyond the simulated length T={T}")
    return gradient_norms_blocks(core, xs, q_max, {"b": block}, ord)["b"]


def gradient_norms_blocks(
    core: MemoryCore, xs: Tensor, q_max: int, blocks: dict[str, tuple[slice, slice] | None], ord: int | str = 2
) -> dict[str, np.ndarray]:
    """``gradient_norms`` for several state blocks from one set of Jacobians: name -> (q_max, B)."""
    T = xs.shape[0]
    check_range("q_max", q_max, 1)
    if q_max > T:
        raise ConfigError(f"q_max={q_max} lags go beyond the simulated length T={T}")
    J = jacobian_products(step_jacobians(core, xs, T - q_max + 1))  # (Q, B, S, S)
    out = {}
    for name, block in blocks.items():
        Jb = J if block is None else J[..., block[0], block[1]]
        out[name] = torch.linalg.matrix_norm(Jb.double(), ord=ord).cpu().numpy()
    return out


# ----------------------------------------------------------------------------- Elman: eq. 2.34–2.36


def _elman_nets(core, xs: Tensor) -> list[Tensor]:
    """net(t) = W h_{t-1} + U x_t + b for t = 1..T: list of (B, N)."""
    nets = []
    with torch.no_grad():
        h = core.initial_state(xs.shape[1], xs.device).h
        for t in range(xs.shape[0]):
            net = h @ core.W.T + xs[t] @ core.U.T + core.b
            h = torch.tanh(net) if core.nonlinearity == "tanh" else net
            nets.append(net)
    return nets


def _fprime(core, net: Tensor) -> Tensor:
    return 1.0 - torch.tanh(net) ** 2 if core.nonlinearity == "tanh" else torch.ones_like(net)


def elman_jacobian_product(core, xs: Tensor, q_max: int) -> Tensor:
    """Hand-derived J_q = Π_{m=0}^{q-1} F'(T-m) W for an ``ElmanCore``: (q_max, B, N, N)."""
    T = xs.shape[0]
    if q_max > T:
        raise ConfigError(f"q_max={q_max} lags go beyond the simulated length T={T}")
    nets = _elman_nets(core, xs)
    W = core.W.detach()
    out = []
    J = None
    for m in range(q_max):
        A = _fprime(core, nets[T - 1 - m]).unsqueeze(-1) * W  # (B, N, N): diag(f'(net)) W
        J = A if J is None else J @ A
        out.append(J)
    return torch.stack(out, 0)


def elman_bound(core, xs: Tensor, q_max: int) -> dict[str, np.ndarray]:
    """Eq. 2.35–2.36 for an ``ElmanCore``: f'_max over the last q steps, and the two bounds (q_max, B).

    Returns {"fprime_max", "norm_bound" = (f'_max ‖W‖₂)^q, "entry_bound" = n (f'_max ‖W‖₂)^q}.
    """
    T = xs.shape[0]
    nets = _elman_nets(core, xs)
    fp = torch.stack([_fprime(core, nets[T - 1 - m]).amax(-1) for m in range(q_max)], 0)  # (Q, B)
    fmax = torch.cummax(fp, dim=0).values.double().cpu().numpy()  # max over m = 1..q
    wnorm = float(torch.linalg.matrix_norm(core.W.detach().double(), ord=2))
    q = np.arange(1, q_max + 1)[:, None]
    nb = (fmax * wnorm) ** q
    return {"fprime_max": fmax, "w_norm": wnorm, "norm_bound": nb, "entry_bound": core.output_size * nb}


# ----------------------------------------------------------------------------- experiment records


def gradients_experiment(
    hidden: int = 32, T: int = 100, q_max: int = 60, batch: int = 8, seed: int = 0, device: str | torch.device = "cpu"
) -> list[dict]:
    """‖∂s_T/∂s_{T-q}‖ for Elman (tanh, linear) at several W scales and LSTM variants; plain records."""
    from memlab.controllers import ElmanCore, LSTMCore

    check_range("q_max", q_max, 1)
    if q_max > T:
        raise ConfigError(f"q_max={q_max} lags go beyond the simulated length T={T}")
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(T, batch, 1, generator=g, dtype=torch.float64).to(device)  # (T, B, 1)
    recs = []

    def summary(norms: np.ndarray) -> dict:
        logs = np.log10(np.maximum(norms, 1e-300))
        return {"norm_geomean": (10 ** logs.mean(1)).tolist(), "norm_min": norms.min(1).tolist(), "norm_max": norms.max(1).tolist()}

    for nl, scales in (("tanh", (0.5, 1.0, 1.5, 3.0)), ("linear", (0.9, 1.0, 1.1))):
        for s in scales:
            core = ElmanCore(input_size=1, hidden_size=hidden, nonlinearity=nl, w_init="orthogonal", w_scale=s, seed=seed).double().to(device)
            norms = gradient_norms(core, xs, q_max)
            b = elman_bound(core, xs, q_max)
            recs.append(
                {
                    "analysis": "gradients",
                    "core": f"elman_{nl}",
                    "label": f"Elman {nl}, ‖W‖={s:g}",
                    "w_scale": s,
                    "hidden": hidden,
                    "q": list(range(1, q_max + 1)),
                    **summary(norms),
                    "bound_norm": b["norm_bound"].max(1).tolist(),
                    "bound_entry": b["entry_bound"].max(1).tolist(),
                    "fprime_max": float(b["fprime_max"].max()),
                    "w_norm": b["w_norm"],
                    "within_bound": bool(np.all(norms <= b["norm_bound"] * (1 + 1e-9))),
                }
            )
    H = hidden
    for label, kw in (
        ("LSTM, no forget gate (CEC)", dict(forget_gate=False)),
        ("LSTM, forget bias 3", dict(forget_gate=True, forget_bias=3.0)),
        ("LSTM, forget bias 0", dict(forget_gate=True, forget_bias=0.0)),
        ("LSTM + peepholes, no forget gate", dict(forget_gate=False, peepholes=True)),
    ):
        core = LSTMCore(input_size=1, hidden_size=H, seed=seed, **kw).double().to(device)
        P = core.P
        blocks = {"cell c->c": (slice(P, P + H), slice(P, P + H)), "full state": None}
        for part, norms in gradient_norms_blocks(core, xs, q_max, blocks).items():
            recs.append(
                {
                    "analysis": "gradients",
                    "core": "lstm",
                    "label": f"{label}: {part}",
                    "variant": kw,
                    "block": part,
                    "hidden": H,
                    "q": list(range(1, q_max + 1)),
                    **summary(norms),
                }
            )
    try:  # any MemoryCore: an untrained NTM (memory block M and the full state)
        from memlab.memory.ntm import NTMCore

        torch.manual_seed(seed)
        ntm = NTMCore(1, controller_size=16, memory_size=16, word_size=4).double().to(device)
        n_mem = ntm.initial_state(1).memory[0].numel()
        blocks = {"memory M->M": (slice(0, n_mem), slice(0, n_mem)), "full state": None}
        for part, norms in gradient_norms_blocks(ntm, xs, q_max, blocks).items():
            recs.append(
                {
                    "analysis": "gradients",
                    "core": "ntm",
                    "label": f"NTM (untrained, 16x4 memory): {part}",
                    "block": part,
                    "q": list(range(1, q_max + 1)),
                    **summary(norms),
                }
            )
    except Exception as e:  # another helper's core changed: record that instead of failing the command
        recs.append({"analysis": "gradients", "core": "ntm", "kind": "skipped", "label": "NTM", "error": f"{type(e).__name__}: {e}"})
    return recs
