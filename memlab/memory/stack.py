"""Neural stack (Grefenstette, Hermann, Suleyman & Blunsom 2015, §3.1): continuous push and pop.

The memory is a value matrix V_t, one row per step, and a strength vector s_t saying how much
of each row is still on the stack. The controller output h_t gives, per step,

    d_t = σ(W_d h_t + b_d)   push strength ∈ (0, 1)
    u_t = σ(W_u h_t + b_u)   pop strength ∈ (0, 1)
    v_t = tanh(W_v h_t + b_v) value (W)

and the stack updates and reads as (paper eqs. 1–3, rows i = 1 … t, row t the newest):

    V_t[i] = V_{t−1}[i] for i < t,   V_t[t] = v_t                                   (1)
    s_t[i] = max(0, s_{t−1}[i] − max(0, u_t − Σ_{j=i+1}^{t−1} s_{t−1}[j]))  for i < t
    s_t[t] = d_t                                                                    (2)
    r_t    = Σ_{i=1}^{t} min(s_t[i], max(0, 1 − Σ_{j=i+1}^{t} s_t[j])) · V_t[i]     (3)

so the pop u_t first removes strength from the top down, the push then adds row t with
strength d_t, and the read takes a total weight of at most 1 from the top down.

Worked example (the paper's Fig. 1, checked in the tests): with (d, u) = (0.8, 0), (0.5, 0.1),
(0.9, 0.9), the strengths are [0.8], [0.7, 0.5], [0.3, 0, 0.9] and the reads 0.8·v_1,
0.5·v_2 + 0.5·v_1 and 0.9·v_3 + 0·v_2 + 0.1·v_1.

The stack is unbounded: V_t and s_t grow by one row per step (the access's state changes shape
over time, like the LANTM's), so a step costs O(t·W) and a sequence O(T²·W).

The sums Σ_{j>i} are reversed exclusive cumulative sums; ``stack_update``/``stack_read`` are
the vectorised forms, ``stack_update_ref``/``stack_read_ref`` the per-element loops of eqs.
2–3 (``tests/memory/test_stack.py`` checks they agree in float64, values and gradients).
``max``/``min`` are written as ``clamp``/``minimum`` in both, so they take the same subgradient
at ties. The queue (``queue.py``) and the deque (``deque.py``) reuse the module below.

As a model: the registry line makes ``stack`` (and ``queue``, ``deque``) a model whose
controller is the LSTM by default (``model.controller=lstm``, the composition's default), so
``memlab train --model stack`` is Grefenstette et al.'s stack-augmented LSTM; any other
controller is a setting (``model.controller=gru|elman|feedforward``). There is no
``stack-lstm`` alias: it would be the same model under a second name (two run-folder names, two
hyperparameter rows for one thing).

Shapes: B batch, n rows so far, W value width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import check_range
from memlab.memory import MemoryEntry

# --------------------------------------------------------------------------- maths (eqs. 1–3)


def above(s: Tensor) -> Tensor:
    """Σ_{j>i} s[j] for every i: the strength lying above row i. s (B, n) -> (B, n)."""
    return s.sum(-1, keepdim=True) - s.cumsum(-1)  # total − inclusive prefix = exclusive suffix


def below(s: Tensor) -> Tensor:
    """Σ_{j<i} s[j] for every i: the strength lying below row i. s (B, n) -> (B, n)."""
    return s.cumsum(-1) - s


def pop_from_top(s: Tensor, u: Tensor) -> Tensor:
    """s'[i] = max(0, s[i] − max(0, u − Σ_{j>i} s[j])): pop strength u from the top down.

    s (B, n), u (B,) -> (B, n).
    """
    return (s - (u.unsqueeze(-1) - above(s)).clamp(min=0)).clamp(min=0)


def stack_update(s_prev: Tensor, d: Tensor, u: Tensor) -> Tensor:
    """s_t (eq. 2): pop u_t from the top of s_{t−1}, then push a row of strength d_t.

    s_prev (B, n), d (B,), u (B,) -> s_t (B, n + 1).
    """
    return torch.cat([pop_from_top(s_prev, u), d.unsqueeze(-1)], dim=-1)


def read_weights_top(s: Tensor) -> Tensor:
    """min(s[i], max(0, 1 − Σ_{j>i} s[j])): weight of row i in a read from the top. (B, n) -> (B, n).

    The weights are in [0, 1] and sum to min(1, Σ s) ≤ 1 (tests check both).
    """
    return torch.minimum(s, (1.0 - above(s)).clamp(min=0))


def stack_read(V: Tensor, s: Tensor) -> Tensor:
    """r_t (eq. 3): V (B, n, W), s (B, n) -> (B, W)."""
    return torch.einsum("bn,bnw->bw", read_weights_top(s), V)


def stack_update_ref(s_prev: Tensor, d: Tensor, u: Tensor) -> Tensor:
    """Per-element loop of eq. 2 (same clamp/minimum primitives as ``stack_update``)."""
    B, n = s_prev.shape
    rows = []
    for i in range(n):
        upper = s_prev.new_zeros(B)
        for j in range(i + 1, n):
            upper = upper + s_prev[:, j]
        rows.append((s_prev[:, i] - (u - upper).clamp(min=0)).clamp(min=0))
    rows.append(d)
    return torch.stack(rows, dim=-1)


def stack_read_ref(V: Tensor, s: Tensor) -> Tensor:
    """Per-element loop of eq. 3."""
    B, n, W = V.shape
    r = V.new_zeros(B, W)
    for i in range(n):
        upper = s.new_zeros(B)
        for j in range(i + 1, n):
            upper = upper + s[:, j]
        w = torch.minimum(s[:, i], (1.0 - upper).clamp(min=0))
        r = r + w.unsqueeze(-1) * V[:, i]
    return r


# --------------------------------------------------------------------------- module


@dataclass
class StackConfig:
    """Settings of the neural stack, queue and deque (``model.*`` keys with the composition's)."""

    word_size: int = 32  # W, the width of a pushed value v_t

    def validate(self) -> None:
        check_range("model.word_size", self.word_size, 1, 65_536)


class StackState(NamedTuple):
    """V_t: (B, n, W) values; s_t: (B, n) strengths; r_t: (B, R) the last read (R = W, 2W for the deque)."""

    V: Tensor
    s: Tensor
    r: Tensor


class StackAccess(nn.Module):
    """The neural stack driven by a controller output h_t (B, C): ``forward(h_t, state)`` ->
    (r_t (B, W), state). One linear layer C -> [d | u | v] (1 + 1 + W)."""

    n_ends = 1  # read/push/pop ends: 1 for the stack and queue, 2 for the deque

    def __init__(self, cfg: StackConfig, controller_size: int):
        super().__init__()
        self.cfg, self.W = cfg, cfg.word_size
        self.read_size = self.n_ends * self.W
        self.ctl = nn.Linear(controller_size, self.n_ends * (2 + self.W))  # per end: [d | u | v]

    def initial_state(self, batch_size: int, device=None) -> StackState:
        """The empty stack: no rows, a zero read."""
        w = self.ctl.weight
        device = device if device is not None else w.device
        return StackState(w.new_zeros(batch_size, 0, self.W, device=device), w.new_zeros(batch_size, 0, device=device),
                          w.new_zeros(batch_size, self.read_size, device=device))

    def state_size(self) -> int:
        """Scalars in the empty state (the rows grow by ``n_ends`` × (W + 1) per step)."""
        return self.read_size

    def reads(self, state: StackState) -> Tensor:
        """r_{t−1} for the controller: (B, R)."""
        return state.r

    def controls(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """h_t (B, C) -> d_t, u_t (B, E) in (0, 1) and v_t (B, E, W) in (−1, 1), E = ``n_ends``."""
        out = self.ctl(h).view(h.shape[0], self.n_ends, 2 + self.W)  # (B, E, 2 + W)
        return torch.sigmoid(out[..., 0]), torch.sigmoid(out[..., 1]), torch.tanh(out[..., 2:])

    def step(self, V: Tensor, s: Tensor, d: Tensor, u: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Eqs. 1–3: (V_{t−1}, s_{t−1}, d_t, u_t, v_t (B, 1, W)) -> (V_t, s_t, r_t)."""
        V = torch.cat([V, v], dim=1)  # (B, n + 1, W)
        s = stack_update(s, d[:, 0], u[:, 0])  # (B, n + 1)
        return V, s, stack_read(V, s)

    def forward(self, h: Tensor, state: StackState) -> tuple[Tensor, StackState]:
        """h_t (B, C) -> r_t (B, R) and the next state."""
        d, u, v = self.controls(h)
        V, s, r = self.step(state.V, state.s, d, u, v)
        return r, StackState(V, s, r)

    def trace_step(self, state: StackState) -> dict[str, Tensor]:
        """Fixed-shape views of one step for plots: the read (B, R) and the total strength Σ s_t (B, 1)."""
        return {"read": state.r, "strength": state.s.sum(-1, keepdim=True)}


ENTRY = MemoryEntry(
    config_cls=StackConfig,
    build=StackAccess,
    description="Neural stack (Grefenstette et al. 2015): continuous push/pop strengths, read from the top",
    smoke={"controller_size": 8, "word_size": 4},
)

__all__ = ["StackConfig", "StackState", "StackAccess", "stack_update", "stack_read", "stack_update_ref",
           "stack_read_ref", "pop_from_top", "read_weights_top", "above", "below", "ENTRY"]
