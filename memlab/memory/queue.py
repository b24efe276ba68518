"""Neural queue (Grefenstette et al. 2015, §3.2): the neural stack read and popped from the bottom.

Controls as for the stack (``stack.py``): push d_t, pop u_t, value v_t from h_t. Values still
enter at row t (the back); pops and reads work from row 1 (the front) upwards:

    V_t[i] = V_{t−1}[i] for i < t,   V_t[t] = v_t
    s_t[i] = max(0, s_{t−1}[i] − max(0, u_t − Σ_{j=1}^{i−1} s_{t−1}[j]))  for i < t,   s_t[t] = d_t
    r_t    = Σ_{i=1}^{t} min(s_t[i], max(0, 1 − Σ_{j=1}^{i−1} s_t[j])) · V_t[i]

Worked example (hand-computed in the tests) with the stack's controls (d, u) = (0.8, 0),
(0.5, 0.1), (0.9, 0.9): strengths [0.8], [0.7, 0.5], [0, 0.3, 0.9] and reads 0.8·v_1,
0.7·v_1 + 0.3·v_2, 0.3·v_2 + 0.7·v_3.

As a model, ``queue`` is the queue-augmented LSTM (the LSTM controller by default; see ``stack.py``).

Shapes: B batch, n rows so far, W value width.
"""

from __future__ import annotations

import torch
from torch import Tensor

from memlab.memory import MemoryEntry
from memlab.memory.stack import StackAccess, StackConfig, StackState, below

# --------------------------------------------------------------------------- maths


def pop_from_bottom(s: Tensor, u: Tensor) -> Tensor:
    """s'[i] = max(0, s[i] − max(0, u − Σ_{j<i} s[j])): pop strength u from the front. s (B, n), u (B,) -> (B, n)."""
    return (s - (u.unsqueeze(-1) - below(s)).clamp(min=0)).clamp(min=0)


def queue_update(s_prev: Tensor, d: Tensor, u: Tensor) -> Tensor:
    """s_t: pop u_t from the front of s_{t−1}, then push d_t at the back. (B, n), (B,), (B,) -> (B, n + 1)."""
    return torch.cat([pop_from_bottom(s_prev, u), d.unsqueeze(-1)], dim=-1)


def read_weights_bottom(s: Tensor) -> Tensor:
    """min(s[i], max(0, 1 − Σ_{j<i} s[j])): weight of row i in a read from the front. (B, n) -> (B, n)."""
    return torch.minimum(s, (1.0 - below(s)).clamp(min=0))


def queue_read(V: Tensor, s: Tensor) -> Tensor:
    """r_t: V (B, n, W), s (B, n) -> (B, W)."""
    return torch.einsum("bn,bnw->bw", read_weights_bottom(s), V)


def queue_update_ref(s_prev: Tensor, d: Tensor, u: Tensor) -> Tensor:
    """Per-element loop of the queue's strength update."""
    B, n = s_prev.shape
    rows = []
    for i in range(n):
        lower = s_prev.new_zeros(B)
        for j in range(i):
            lower = lower + s_prev[:, j]
        rows.append((s_prev[:, i] - (u - lower).clamp(min=0)).clamp(min=0))
    rows.append(d)
    return torch.stack(rows, dim=-1)


def queue_read_ref(V: Tensor, s: Tensor) -> Tensor:
    """Per-element loop of the queue's read."""
    B, n, W = V.shape
    r = V.new_zeros(B, W)
    for i in range(n):
        lower = s.new_zeros(B)
        for j in range(i):
            lower = lower + s[:, j]
        r = r + torch.minimum(s[:, i], (1.0 - lower).clamp(min=0)).unsqueeze(-1) * V[:, i]
    return r


# --------------------------------------------------------------------------- module


class QueueAccess(StackAccess):
    """The neural queue: ``forward(h_t (B, C), state)`` -> (r_t (B, W), state)."""

    def step(self, V: Tensor, s: Tensor, d: Tensor, u: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        V = torch.cat([V, v], dim=1)  # (B, n + 1, W)
        s = queue_update(s, d[:, 0], u[:, 0])  # (B, n + 1)
        return V, s, queue_read(V, s)


ENTRY = MemoryEntry(
    config_cls=StackConfig,
    build=QueueAccess,
    description="Neural queue (Grefenstette et al. 2015): continuous enqueue/dequeue strengths, read from the front",
    smoke={"controller_size": 8, "word_size": 4},
)

__all__ = ["QueueAccess", "StackState", "queue_update", "queue_read", "queue_update_ref", "queue_read_ref",
           "pop_from_bottom", "read_weights_bottom", "ENTRY"]
