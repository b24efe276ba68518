"""Elman RNN as a ``MemoryCore`` (seed 001 eq. 2.26 / 2.29).

    h_t = f(W h_{t-1} + U x_t + b),   y_t = h_t,   f ∈ {tanh, identity}

``W`` is drawn once and scaled by ``w_scale``: ``orthogonal`` gives ‖W‖₂ = ρ(W) = w_scale
(a normal network, all |λ_i| = w_scale); ``gaussian`` is a Gaussian matrix rescaled to spectral
radius ``w_scale`` (non-normal, ‖W‖₂ > ρ(W)); ``identity`` is w_scale·I (a bank of leaky
integrators). Scaling W moves the network between the vanishing (f'_max‖W‖ < 1) and exploding
(> 1) regimes of eq. 2.36.

Shapes: B batch, T time, I input size, N hidden size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.core.interfaces import MemoryCore, run_core

NONLINEARITIES = ("tanh", "linear")
W_INITS = ("orthogonal", "gaussian", "identity")


class ElmanState(NamedTuple):
    h: Tensor  # (B, N)


def elman_step(x_t: Tensor, h: Tensor, W: Tensor, U: Tensor, b: Tensor, nonlinearity: str) -> Tensor:
    """One Elman step. x_t: (B, I), h: (B, N), W: (N, N), U: (N, I), b: (N,) -> (B, N)."""
    net = h @ W.T + x_t @ U.T + b  # (B, N): net_i(t) of eq. 2.30
    return torch.tanh(net) if nonlinearity == "tanh" else net


def init_recurrent(n: int, kind: str, scale: float, generator: torch.Generator | None = None) -> Tensor:
    """A recurrent matrix (N, N) of the given kind scaled to spectral radius ``scale``."""
    check_choice("w_init", kind, W_INITS)
    if kind == "identity":
        return scale * torch.eye(n)
    g = torch.randn(n, n, generator=generator)
    if kind == "orthogonal":
        q, r = torch.linalg.qr(g)
        q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)  # Haar-distributed
        return scale * q
    rho = torch.linalg.eigvals(g.double()).abs().max().item()
    return (scale / rho) * g


@dataclass
class ElmanConfig:
    input_size: int = 1
    hidden_size: int = 32
    nonlinearity: str = "tanh"
    w_init: str = "orthogonal"
    w_scale: float = 1.0  # spectral radius of W
    input_scale: float = 1.0  # U entries ~ N(0, input_scale² / I)
    bias: bool = False
    seed: int = 0

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1)
        check_range("hidden_size", self.hidden_size, 1)
        check_choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        check_choice("w_init", self.w_init, W_INITS)
        check_range("w_scale", self.w_scale, 0.0)
        check_range("input_scale", self.input_scale, 0.0)


class ElmanCore(MemoryCore):
    """Elman RNN core; ``y_t = h_t`` so ``output_size = hidden_size``."""

    def __init__(self, cfg: ElmanConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or ElmanConfig(**kw)
        cfg.validate()
        self.cfg = cfg
        self.input_size, self.output_size = cfg.input_size, cfg.hidden_size
        g = torch.Generator().manual_seed(cfg.seed)
        N, I = cfg.hidden_size, cfg.input_size
        self.W = nn.Parameter(init_recurrent(N, cfg.w_init, cfg.w_scale, g))  # (N, N)
        self.U = nn.Parameter(torch.randn(N, I, generator=g) * cfg.input_scale / I**0.5)  # (N, I)
        self.b = nn.Parameter(torch.zeros(N), requires_grad=cfg.bias)  # (N,)
        self.nonlinearity = cfg.nonlinearity

    @classmethod
    def from_weights(cls, W: Tensor, U: Tensor, b: Tensor | None = None, nonlinearity: str = "linear") -> "ElmanCore":
        """A core with given weights: W (N, N), U (N, I), b (N,). E.g. a leaky integrator W = [[λ]]."""
        W, U = torch.as_tensor(W, dtype=torch.get_default_dtype()), torch.as_tensor(U, dtype=torch.get_default_dtype())
        if W.dim() != 2 or W.shape[0] != W.shape[1]:
            raise ConfigError(f"W must be square (N, N); got shape {tuple(W.shape)}")
        if U.dim() != 2 or U.shape[0] != W.shape[0]:
            raise ConfigError(f"U must be (N, I) with N={W.shape[0]}; got shape {tuple(U.shape)}")
        core = cls(ElmanConfig(input_size=U.shape[1], hidden_size=W.shape[0], nonlinearity=nonlinearity, bias=b is not None))
        with torch.no_grad():
            core.W.copy_(W)
            core.U.copy_(U)
            if b is not None:
                core.b.copy_(torch.as_tensor(b))
        return core

    def initial_state(self, batch_size: int, device=None) -> ElmanState:
        return ElmanState(torch.zeros(batch_size, self.output_size, device=device or self.W.device, dtype=self.W.dtype))

    def forward(self, x_t: Tensor, state: ElmanState) -> tuple[Tensor, ElmanState]:
        h = elman_step(x_t, state.h, self.W, self.U, self.b, self.nonlinearity)
        return h, ElmanState(h)

    def state_size(self, steps: int = 0) -> int:
        return self.output_size

    def forward_sequence(self, xs: Tensor, state: ElmanState | None = None, lengths: Tensor | None = None):
        """Input projections for all steps in one matmul, then the recurrence. xs: (T, B, I)."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        T, B, _ = xs.shape
        h = (state or self.initial_state(B, xs.device)).h
        ux = xs @ self.U.T + self.b  # (T, B, N)
        ys = []
        for t in range(T):
            net = h @ self.W.T + ux[t]
            h = torch.tanh(net) if self.nonlinearity == "tanh" else net
            ys.append(h)
        return torch.stack(ys, 0), ElmanState(h)  # (T, B, N)


CONFIG, CORE = ElmanConfig, ElmanCore  # registry hooks (memlab.controllers.CONTROLLERS)
