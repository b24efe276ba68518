"""Fast-weights RNN (Ba et al. 2016; seed 001 §2.4.3, eq. 2.56–2.57) as a trainable core.

An RNN whose hidden state is refined by an inner loop through a decaying Hebbian matrix A of
its own recent hidden states (the maths of ``memlab.memory.fast_weights``):

    A(t)       = λ A(t−1) + η h(t) h(t)ᵀ                                      (2.56)
    z          = W h(t) + C x(t) + b                                        (the slow part)
    h_0(t+1)   = f(z)                                                      (the preliminary vector)
    h_{s+1}(t+1) = f(LN[z + A(t) h_s(t+1)]),   s = 0 … S−1                 (2.57)
    h(t+1)     = h_S(t+1);  y_{t+1} = h(t+1)

LN is layer normalisation with a learned gain and bias (Ba et al. use it inside the loop so
that A h_s cannot blow the pre-activation up; the preliminary vector h_0 is not normalised:
normalising it too makes A h_0 ≫ z from the first step, the loop then returns the stored
past and drowns the current input, and associative retrieval stays near "recall the last
pair"); ``layer_norm=False`` gives the seed's eq. 2.57 exactly. S = 0 is the Elman RNN
h(t+1) = f(z) (the ablation without fast weights). Ba et al. use f = ReLU, λ = 0.95, η = 0.5, S = 1 and W initialised to 0.05·I.

Two forms of the recurrence:
* ``fast_weights_rnn_ref`` steps eq. 2.56 with the matrix A (B, H, H) (``fast_weight_step`` and
  ``inner_loop`` of ``memory/fast_weights.py``): obviously correct, stores A at every step.
* ``fast_weights_rnn_seq`` never forms A: A(t) v = λ^{t+1} A_in v + η Σ_{τ≤t} λ^{t−τ} h(τ) (h(τ)ᵀ v),
  a (B, t+1, H) history product (Ba et al. §3.1), so autograd keeps O(B·T·H) instead of
  O(B·T·H²); the final A comes from ``fast_weight_trace``. Tested equal in float64, with gradients.

Shapes: B batch, T time, I input size, H hidden size; x (B, I), h (B, H), A (B, H, H).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from memlab.core.errors import check_choice, check_range
from memlab.core.interfaces import MemoryCore, run_core
from memlab.memory.fast_weights import fast_weight_step, fast_weight_trace, inner_loop

ACTIVATIONS = ("relu", "tanh")
LN_EPS = 1e-5


class FastWeightsState(NamedTuple):
    h: Tensor  # (B, H) h(t), the last output
    A: Tensor  # (B, H, H) A(t−1), before h(t) is stored


class FastWeightsParams(NamedTuple):
    W: Tensor  # (H, H) slow recurrent weights
    C: Tensor  # (H, I) input weights
    b: Tensor  # (H,)
    gain: Tensor | None  # (H,) LN gain, None without layer normalisation
    bias: Tensor | None  # (H,) LN bias


# ----------------------------------------------------------------------------- pure functions
def activation_fn(activation: str) -> Callable[[Tensor], Tensor]:
    """f: the map of the preliminary vector h_0 = f(z) (B, H) -> (B, H)."""
    return torch.relu if activation == "relu" else torch.tanh


def squash(params: FastWeightsParams, activation: str) -> Callable[[Tensor], Tensor]:
    """f ∘ LN: the map the inner loop applies to every pre-activation z + A h_s (B, H) -> (B, H)."""
    act = activation_fn(activation)
    if params.gain is None:
        return act
    H = params.W.shape[0]
    return lambda z: act(F.layer_norm(z, (H,), params.gain, params.bias, LN_EPS))


def fast_weights_rnn_step(x_t: Tensor, state: FastWeightsState, params: FastWeightsParams, lam: float, eta: float,
                          steps: int, activation: str = "relu") -> tuple[Tensor, FastWeightsState]:
    """One step: A(t) = λ A(t−1) + η h(t) h(t)ᵀ (2.56), then S inner steps of eq. 2.57.

    x_t (B, I); state (h (B, H), A (B, H, H)) -> h(t+1) (B, H), state (h(t+1), A(t)).
    """
    A = fast_weight_step(state.A, state.h, state.h, lam, eta)  # (B, H, H)
    z = state.h @ params.W.T + x_t @ params.C.T + params.b  # (B, H)
    h = inner_loop(A, z, steps, squash(params, activation), activation_fn(activation))  # (B, H)
    return h, FastWeightsState(h, A)


def fast_weights_rnn_ref(xs: Tensor, state: FastWeightsState, params: FastWeightsParams, lam: float, eta: float,
                         steps: int, activation: str = "relu") -> tuple[Tensor, FastWeightsState]:
    """Reference loop of ``fast_weights_rnn_step``: xs (T, B, I) -> hs (T, B, H), final state."""
    hs = []
    for x_t in xs.unbind(0):
        h, state = fast_weights_rnn_step(x_t, state, params, lam, eta, steps, activation)
        hs.append(h)
    return torch.stack(hs, 0), state


def fast_weights_rnn_seq(xs: Tensor, state: FastWeightsState, params: FastWeightsParams, lam: float, eta: float,
                         steps: int, activation: str = "relu") -> tuple[Tensor, FastWeightsState]:
    """The same recurrence without forming A (module docstring): xs (T, B, I) -> hs (T, B, H), state."""
    T = xs.shape[0]
    f, f0 = squash(params, activation), activation_fn(activation)
    zx = xs @ params.C.T + params.b  # (T, B, H): input part of every step at once
    A_in = state.A
    use_A_in = steps > 0 and (A_in.requires_grad or bool(A_in.abs().amax() > 0))  # skip the zero start
    hist = [state.h]  # h(0), h(1), …: the vectors stored in A
    for t in range(T):
        H_t = torch.stack(hist, 1)  # (B, t+1, H)
        decay = eta * lam ** torch.arange(t, -1, -1, dtype=xs.dtype, device=xs.device)  # (t+1,) η λ^{t−τ}
        scale = lam ** (t + 1)

        def A_mul(v: Tensor) -> Tensor:  # A(t) v, v (B, H) -> (B, H)
            coef = (H_t @ v.unsqueeze(-1)).squeeze(-1) * decay  # (B, t+1): η λ^{t−τ} h(τ)ᵀ v
            out = (coef.unsqueeze(1) @ H_t).squeeze(1)  # (B, H)
            return out + scale * (A_in @ v.unsqueeze(-1)).squeeze(-1) if use_A_in else out

        z = hist[-1] @ params.W.T + zx[t]  # (B, H)
        h = f0(z)  # the preliminary vector (not layer-normalised)
        for _ in range(steps):
            h = f(z + A_mul(h))
        hist.append(h)
    hs = torch.stack(hist[1:], 0)  # (T, B, H)
    stored = torch.stack(hist[:-1], 1)  # (B, T, H): h(0) … h(T−1), the vectors in A(T−1)
    return hs, FastWeightsState(hs[-1], fast_weight_trace(stored, stored, lam, eta, A_in))


# ----------------------------------------------------------------------------- the core
@dataclass
class FastWeightsRNNConfig:
    """decay λ ∈ [0, 1], rate η > 0, inner_steps S >= 0, activation f, W initialised to w_init·I."""

    input_size: int = 1
    hidden_size: int = 64
    decay: float = 0.95
    rate: float = 0.5
    inner_steps: int = 1
    layer_norm: bool = True
    activation: str = "relu"
    w_init: float = 0.05
    seed: int = 0

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1)
        check_range("hidden_size", self.hidden_size, 1)
        check_range("decay", self.decay, 0, 1)
        check_range("rate", self.rate, 0, lo_open=True)
        check_range("inner_steps", self.inner_steps, 0, 100)
        check_range("w_init", self.w_init)
        check_choice("activation", self.activation, ACTIVATIONS)


class FastWeightsRNN(MemoryCore):
    """Ba et al.'s fast-weights RNN; ``y_t = h_t`` (output_size = hidden_size). State (h, A)."""

    def __init__(self, cfg: FastWeightsRNNConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or FastWeightsRNNConfig(**kw)
        cfg.validate()
        self.cfg = cfg
        H, I = cfg.hidden_size, cfg.input_size
        self.input_size, self.output_size, self.H = I, H, H
        g = torch.Generator().manual_seed(cfg.seed)
        self.W = nn.Parameter(cfg.w_init * torch.eye(H))  # (H, H)
        self.C = nn.Parameter((torch.rand(H, I, generator=g) * 2 - 1) / I**0.5)  # (H, I)
        self.b = nn.Parameter(torch.zeros(H))
        self.gain = nn.Parameter(torch.ones(H)) if cfg.layer_norm else None
        self.bias = nn.Parameter(torch.zeros(H)) if cfg.layer_norm else None

    @property
    def params(self) -> FastWeightsParams:
        return FastWeightsParams(self.W, self.C, self.b, self.gain, self.bias)

    def _args(self) -> tuple:
        return self.params, self.cfg.decay, self.cfg.rate, self.cfg.inner_steps, self.cfg.activation

    def initial_state(self, batch_size: int, device=None) -> FastWeightsState:
        dev, dt = device or self.W.device, self.W.dtype
        return FastWeightsState(torch.zeros(batch_size, self.H, device=dev, dtype=dt),
                                torch.zeros(batch_size, self.H, self.H, device=dev, dtype=dt))

    def forward(self, x_t: Tensor, state: FastWeightsState) -> tuple[Tensor, FastWeightsState]:
        return fast_weights_rnn_step(x_t, state, *self._args())

    def state_size(self, steps: int = 0) -> int:
        return self.H + self.H * self.H

    def forward_sequence(self, xs: Tensor, state: FastWeightsState | None = None, lengths: Tensor | None = None):
        """xs (T, B, I) -> ys (T, B, H) and the final state (the history form, A never formed)."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        state = state if state is not None else self.initial_state(xs.shape[1], xs.device)
        return fast_weights_rnn_seq(xs, state, *self._args())


CONFIG, CORE = FastWeightsRNNConfig, FastWeightsRNN  # controller hooks (a core with input_size/hidden_size)
