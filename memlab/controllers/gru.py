"""Gated recurrent unit (Cho et al. 2014) as a ``MemoryCore``, with PyTorch's equations and row order:

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t−1} + b_hr)            reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz)            update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t−1} + b_hn))  candidate
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1};   y_t = h_t

Rows are stacked (r, z, n) as in ``torch.nn.GRU``, so the weights copy over one to one (tested).
Shapes: B batch, T time, I input size, H hidden size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import check_range
from memlab.core.interfaces import MemoryCore, run_core


class GRUState(NamedTuple):
    h: Tensor  # (B, H)


def gru_step(x_t: Tensor, h: Tensor, W_x: Tensor, W_h: Tensor, b_x: Tensor, b_h: Tensor) -> Tensor:
    """One GRU step. x_t (B, I), h (B, H); W_x (3H, I), W_h (3H, H), b_x, b_h (3H,) -> h_t (B, H)."""
    gx = torch.addmm(b_x, x_t, W_x.T)  # (B, 3H)
    gh = torch.addmm(b_h, h, W_h.T)  # (B, 3H)
    xr, xz, xn = gx.chunk(3, dim=1)
    hr, hz, hn = gh.chunk(3, dim=1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return n + z * (h - n)  # (1 − z) n + z h


@dataclass
class GRUConfig:
    input_size: int = 1
    hidden_size: int = 32
    init_scale: float = 1.0  # weights ~ U(-k, k), k = init_scale / sqrt(H) (nn.GRU's default at 1)
    seed: int = 0

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1)
        check_range("hidden_size", self.hidden_size, 1)
        check_range("init_scale", self.init_scale, 0.0)  # finite too (check_range checks)


class GRUCore(MemoryCore):
    """One GRU layer; ``y_t = h_t`` (output_size = hidden_size)."""

    def __init__(self, cfg: GRUConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or GRUConfig(**kw)
        cfg.validate()
        self.cfg = cfg
        H, I = cfg.hidden_size, cfg.input_size
        self.input_size, self.output_size, self.H = I, H, H
        g = torch.Generator().manual_seed(cfg.seed)
        k = cfg.init_scale / H**0.5

        def unif(*shape):
            return (torch.rand(*shape, generator=g) * 2 - 1) * k

        self.W_x = nn.Parameter(unif(3 * H, I))  # (3H, I)
        self.W_h = nn.Parameter(unif(3 * H, H))  # (3H, H)
        self.b_x = nn.Parameter(unif(3 * H))  # (3H,)
        self.b_h = nn.Parameter(unif(3 * H))  # (3H,)

    def initial_state(self, batch_size: int, device=None) -> GRUState:
        return GRUState(torch.zeros(batch_size, self.H, device=device or self.W_x.device, dtype=self.W_x.dtype))

    def forward(self, x_t: Tensor, state: GRUState) -> tuple[Tensor, GRUState]:
        h = gru_step(x_t, state.h, self.W_x, self.W_h, self.b_x, self.b_h)
        return h, GRUState(h)

    def state_size(self, steps: int = 0) -> int:
        return self.H

    def forward_sequence(self, xs: Tensor, state: GRUState | None = None, lengths: Tensor | None = None):
        """xs (T, B, I) -> ys (T, B, H) and the final state, through PyTorch's fused GRU."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        h0 = (state or self.initial_state(xs.shape[1], xs.device)).h
        ys, h = torch.gru(xs, h0.unsqueeze(0), [self.W_x, self.W_h, self.b_x, self.b_h], True, 1, 0.0,
                          self.training, False, False)
        return ys, GRUState(h[0])  # ys: (T, B, H)


CONFIG, CORE = GRUConfig, GRUCore  # registry hooks (memlab.controllers.CONTROLLERS)
