from typing import NamedTuple

import torch
from torch import nn

from memlab.core.interfaces import MemoryCore, run_core, state_to_vector, tree_map


class LeakState(NamedTuple):
    h: torch.Tensor  # (B, H)


class Leak(MemoryCore):
    """h_t = a h_{t-1} + W x_t; y_t = h_t."""

    def __init__(self, i=3, h=4):
        super().__init__()
        self.input_size, self.output_size = i, h
        self.W = nn.Linear(i, h, bias=False)

    def initial_state(self, batch_size, device=None):
        return LeakState(torch.zeros(batch_size, self.output_size, device=device))

    def forward(self, x, state):
        h = 0.5 * state.h + self.W(x)
        return h, LeakState(h)

    def state_size(self, steps=0):
        return self.output_size


def test_run_core_length_mask_freezes_state_and_zeroes_outputs():
    torch.manual_seed(0)
    core = Leak()
    xs = torch.randn(6, 3, 3)
    lengths = torch.tensor([6, 2, 0])
    ys, st = core.forward_sequence(xs, lengths=lengths)
    assert ys.shape == (6, 3, 4)
    for b, L in enumerate(lengths.tolist()):
        ys_b, st_b = run_core(core, xs[:L, b : b + 1]) if L else (None, core.initial_state(1))
        assert torch.allclose(st.h[b], st_b.h[0])
        assert (ys[L:, b] == 0).all()
        if L:
            assert torch.allclose(ys[:L, b], ys_b[:, 0])


def test_state_helpers():
    s = LeakState(torch.ones(2, 4))
    assert state_to_vector(s).shape == (2, 4)
    assert tree_map(lambda x: x * 2, s).h.sum() == 16
