"""Feed-forward controller: one tanh layer, the NTM's "feed-forward controller" (Graves et al. 2014).

    h_t = tanh(W x_t + b)          (inside a memory composition x_t = [x_t, r_{t−1}])

It has no recurrent state of its own (``FFState`` is empty): whatever it remembers lives in the
memory it drives. Shapes: B batch, I input size, H hidden size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import check_range
from memlab.core.interfaces import MemoryCore


class FFState(NamedTuple):
    """No state: a feed-forward controller forgets everything between steps."""


@dataclass
class FeedForwardConfig:
    input_size: int = 1
    hidden_size: int = 100
    init_scale: float = 1.0  # weights ~ U(-k, k), k = init_scale / sqrt(I) (nn.Linear's default at 1)
    seed: int = 0

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1)
        check_range("hidden_size", self.hidden_size, 1)
        check_range("init_scale", self.init_scale, 0.0)  # finite too (check_range checks)


class FeedForwardCore(MemoryCore):
    """``y_t = tanh(W x_t + b)``; W (H, I), b (H,); output_size = hidden_size."""

    def __init__(self, cfg: FeedForwardConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or FeedForwardConfig(**kw)
        cfg.validate()
        self.cfg = cfg
        self.input_size, self.output_size = cfg.input_size, cfg.hidden_size
        g = torch.Generator().manual_seed(cfg.seed)
        k = cfg.init_scale / cfg.input_size**0.5
        self.W = nn.Parameter((torch.rand(cfg.hidden_size, cfg.input_size, generator=g) * 2 - 1) * k)  # (H, I)
        self.b = nn.Parameter((torch.rand(cfg.hidden_size, generator=g) * 2 - 1) * k)  # (H,)

    def initial_state(self, batch_size: int, device=None) -> FFState:
        return FFState()

    def forward(self, x_t: Tensor, state: FFState) -> tuple[Tensor, FFState]:
        """x_t (B, I) -> h_t (B, H)."""
        return torch.tanh(torch.addmm(self.b, x_t, self.W.T)), state

    def state_size(self, steps: int = 0) -> int:
        return 0

    def forward_sequence(self, xs: Tensor, state: FFState | None = None, lengths: Tensor | None = None):
        """xs (T, B, I) -> ys (T, B, H): every step at once (no recurrence); padding steps give 0."""
        ys = torch.tanh(xs @ self.W.T + self.b)  # (T, B, H)
        if lengths is not None:
            t = torch.arange(xs.shape[0], device=xs.device).unsqueeze(1)  # (T, 1)
            ys = ys * (t < torch.as_tensor(lengths, device=xs.device).unsqueeze(0)).unsqueeze(-1).to(ys.dtype)
        return ys, FFState()


CONFIG, CORE = FeedForwardConfig, FeedForwardCore  # registry hooks (memlab.controllers.CONTROLLERS)
