"""Neural deque (Grefenstette et al. 2015, §3.3): push, pop and read at both ends.

The controller gives a push d, pop u and value v for each end (top ⊤ and bottom ⊥). Rows are
ordered bottom (i = 1) to top; each step adds one row at each end:

    V_t = [v^⊥_t ; V_{t−1} ; v^⊤_t]                                         (B, n + 2, W)
    s'  = max(0, s_{t−1}[i] − max(0, u^⊤_t − Σ_{j>i} s_{t−1}[j]))            pop from the top
    s'' = max(0, s'[i] − max(0, u^⊥_t − Σ_{j<i} s'[j]))                      then from the bottom
    s_t = [d^⊥_t ; s'' ; d^⊤_t]
    r^⊤_t = Σ_i min(s_t[i], max(0, 1 − Σ_{j>i} s_t[j])) V_t[i]               read from the top
    r^⊥_t = Σ_i min(s_t[i], max(0, 1 − Σ_{j<i} s_t[j])) V_t[i]               read from the bottom
    r_t = [r^⊤_t ; r^⊥_t]                                                    (B, 2W)

The order of the two pops within a step (top first, then bottom on what is left) is this
implementation's reading; it matters only when the two pops reach the same rows, i.e. when
u^⊤ + u^⊥ exceeds the strength on the deque.

As a model, ``deque`` is the deque-augmented LSTM (the LSTM controller by default; see ``stack.py``).

Shapes: B batch, n rows so far, W value width.
"""

from __future__ import annotations

import torch
from torch import Tensor

from memlab.memory import MemoryEntry
from memlab.memory.queue import pop_from_bottom, queue_read, queue_update_ref, read_weights_bottom
from memlab.memory.stack import StackAccess, StackConfig, pop_from_top, read_weights_top, stack_read, stack_update_ref

# --------------------------------------------------------------------------- maths


def deque_update(s_prev: Tensor, d_top: Tensor, u_top: Tensor, d_bot: Tensor, u_bot: Tensor) -> Tensor:
    """s_t: pop u^⊤ from the top, then u^⊥ from the bottom, then push d^⊥ / d^⊤ at the ends.

    s_prev (B, n); d_top, u_top, d_bot, u_bot (B,) -> s_t (B, n + 2).
    """
    s = pop_from_bottom(pop_from_top(s_prev, u_top), u_bot)
    return torch.cat([d_bot.unsqueeze(-1), s, d_top.unsqueeze(-1)], dim=-1)


def deque_read(V: Tensor, s: Tensor) -> Tensor:
    """r_t = [r^⊤ ; r^⊥]: V (B, n, W), s (B, n) -> (B, 2W)."""
    return torch.cat([stack_read(V, s), queue_read(V, s)], dim=-1)


def deque_update_ref(s_prev: Tensor, d_top: Tensor, u_top: Tensor, d_bot: Tensor, u_bot: Tensor) -> Tensor:
    """Loop form: the stack's and the queue's per-element pops composed (the pushes they add dropped)."""
    zero = torch.zeros_like(d_top)
    s = stack_update_ref(s_prev, zero, u_top)[:, :-1]
    s = queue_update_ref(s, zero, u_bot)[:, :-1]
    return torch.cat([d_bot.unsqueeze(-1), s, d_top.unsqueeze(-1)], dim=-1)


def deque_read_ref(V: Tensor, s: Tensor) -> Tensor:
    """Loop form of ``deque_read``."""
    from memlab.memory.queue import queue_read_ref
    from memlab.memory.stack import stack_read_ref

    return torch.cat([stack_read_ref(V, s), queue_read_ref(V, s)], dim=-1)


# --------------------------------------------------------------------------- module


class DequeAccess(StackAccess):
    """The neural deque: ``forward(h_t (B, C), state)`` -> (r_t = [r^⊤, r^⊥] (B, 2W), state).
    One linear layer C -> [d^⊤ | u^⊤ | v^⊤ | d^⊥ | u^⊥ | v^⊥]."""

    n_ends = 2

    def step(self, V: Tensor, s: Tensor, d: Tensor, u: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        V = torch.cat([v[:, 1:2], V, v[:, 0:1]], dim=1)  # (B, n + 2, W): bottom value first, top value last
        s = deque_update(s, d[:, 0], u[:, 0], d[:, 1], u[:, 1])  # (B, n + 2)
        return V, s, deque_read(V, s)


ENTRY = MemoryEntry(
    config_cls=StackConfig,
    build=DequeAccess,
    description="Neural deque (Grefenstette et al. 2015): push/pop/read at both ends",
    smoke={"controller_size": 8, "word_size": 4},
)

__all__ = ["DequeAccess", "deque_update", "deque_read", "deque_update_ref", "deque_read_ref", "read_weights_top",
           "read_weights_bottom", "ENTRY"]
