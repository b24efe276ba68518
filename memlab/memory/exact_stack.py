"""The exact stack: a perfect sequence memory (seed 000, Def. 3.1, Thm 3.2).

The memory is the list of saved items, m = (x_1, …, x_n) ∈ M = ⋃_n X^n:

    π(m, x) = (x_1, …, x_n, x)          (save appends)
    γ(m)    = (x_n, (x_1, …, x_{n-1}))  (recover pops the last item)

so γ(π(m, x)) = (x, m) exactly, and by Thm 3.2 the iterated maps are inverses: saving
x_1 … x_n then recovering n times gives x_n, …, x_1 and the original memory. The price is the
dimension: after n saves the memory holds n·d numbers, growing without bound (Thm 3.3 says a
perfect smooth memory must be infinite-dimensional).

``ExactStackCore`` is the same memory as a ``MemoryCore`` (its state grows with every step), so
that the memory profile and gradient tools can treat it like any recurrent core.

Shapes: B batch, n items saved so far, d item size.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from memlab.core.errors import ConfigError, MemlabError, check_range
from memlab.core.interfaces import MemoryCore, SequenceMemory


class StackMemory(NamedTuple):
    items: Tensor  # (B, n, d), oldest first


def stack_save(m: StackMemory, x: Tensor) -> StackMemory:
    """π(m, x): append x (B, d) on top of the stack (B, n, d) -> (B, n+1, d)."""
    return StackMemory(torch.cat([m.items, x.unsqueeze(1)], dim=1))


def stack_recover(m: StackMemory) -> tuple[Tensor, StackMemory]:
    """γ(m): pop the top item (B, d); the rest (B, n-1, d) is the remaining memory."""
    if m.items.shape[1] == 0:
        raise MemlabError("cannot recover from an empty stack memory (nothing was saved)")
    return m.items[:, -1], StackMemory(m.items[:, :-1])


class ExactStack(SequenceMemory):
    """The perfect memory of seed 000 as a ``SequenceMemory`` on X = R^d."""

    def __init__(self, item_size: int):
        check_range("item_size", item_size, 1)
        self.item_size = item_size

    def initial_memory(self, batch_size: int, device=None, dtype: torch.dtype | None = None) -> StackMemory:
        return StackMemory(torch.zeros(batch_size, 0, self.item_size, device=device, dtype=dtype or torch.get_default_dtype()))

    def save(self, m: StackMemory, x: Tensor) -> StackMemory:
        if x.dim() != 2 or x.shape[1] != self.item_size:
            raise ConfigError(f"item must be (B, {self.item_size}); got shape {tuple(x.shape)}")
        return stack_save(m, x)

    def recover(self, m: StackMemory) -> tuple[Tensor, StackMemory]:
        return stack_recover(m)

    def memory_vector(self, m: StackMemory) -> Tensor:
        return m.items.reshape(m.items.shape[0], -1)  # (B, n·d)

    def memory_size(self, steps: int) -> int:
        """Dimension of the memory after ``steps`` saves: n·d, unbounded."""
        return steps * self.item_size


class ExactStackCore(MemoryCore):
    """The exact stack as a recurrent core: the state is the stack, ``y_t`` is the top item x_t."""

    def __init__(self, item_size: int):
        super().__init__()
        check_range("item_size", item_size, 1)
        self.input_size = self.output_size = item_size

    def initial_state(self, batch_size: int, device=None) -> StackMemory:
        return StackMemory(torch.zeros(batch_size, 0, self.input_size, device=device))

    def forward(self, x_t: Tensor, state: StackMemory) -> tuple[Tensor, StackMemory]:
        return x_t, stack_save(state, x_t)

    def state_size(self, steps: int = 0) -> int:
        return steps * self.input_size

    def forward_sequence(self, xs: Tensor, state: StackMemory | None = None, lengths: Tensor | None = None):
        """xs: (T, B, d) -> ys = xs and the stack with all T items pushed."""
        if lengths is not None:
            raise NotImplementedError("ExactStackCore does not support ragged lengths (its state grows)")
        state = state or self.initial_state(xs.shape[1], xs.device)
        return xs, StackMemory(torch.cat([state.items, xs.transpose(0, 1).to(state.items.dtype)], dim=1))
