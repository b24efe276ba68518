"""The two abstract views of a memory in memlab.

``MemoryCore`` is the recurrent view used inside trained networks (seed 004 Fig. 1, seed 001):
a module with a state that maps one input step to one output step.

``SequenceMemory`` is the save/recover view of seed 000 (Def. 2.1): a memory space M with a
save map π: M × X → M and a recover map γ: M → X × M, evaluated in isolation.

Shapes: B batch, T time, I input size, O output size.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

State = Any  # a NamedTuple of tensors (possibly nested); each core documents its own


def tree_map(fn, *trees):
    """Apply ``fn`` leaf-wise over matching (Named)tuples / lists of tensors."""
    first = trees[0]
    if isinstance(first, Tensor) or first is None:
        return fn(*trees)
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # NamedTuple
        return type(first)(*(tree_map(fn, *parts) for parts in zip(*trees)))
    if isinstance(first, (tuple, list)):
        return type(first)(tree_map(fn, *parts) for parts in zip(*trees))
    return fn(*trees)


def tree_leaves(tree) -> list[Tensor]:
    if isinstance(tree, Tensor):
        return [tree]
    if isinstance(tree, (tuple, list)):
        return [leaf for part in tree for leaf in tree_leaves(part)]
    return []


def state_to_vector(state: State) -> Tensor:
    """Flatten a batched state into ``(B, S)`` (every leaf must have the batch as dim 0)."""
    leaves = [x for x in tree_leaves(state) if x.dim() > 0]
    if not leaves:
        raise ValueError("state has no batched tensors to flatten")
    b = leaves[0].shape[0]
    return torch.cat([x.reshape(b, -1).to(torch.get_default_dtype()) for x in leaves], dim=1)  # (B, S)


class MemoryCore(nn.Module, abc.ABC):
    """A recurrent memory: ``(x_t, state) -> (y_t, state)``.

    Subclasses set ``input_size`` and ``output_size`` and implement ``initial_state``,
    ``forward`` and ``state_size``. Cores with a faster whole-sequence path (a fused LSTM,
    a custom autograd kernel) override ``forward_sequence``; it must agree with stepping
    ``forward`` (tests check this for every registered core).
    """

    input_size: int
    output_size: int

    @abc.abstractmethod
    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """The state before the first input, batched to ``batch_size`` (may be learnable)."""

    @abc.abstractmethod
    def forward(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step. ``x_t``: (B, I). Returns ``y_t``: (B, O) and the next state."""

    @abc.abstractmethod
    def state_size(self, steps: int = 0) -> int:
        """Number of scalars in one example's state after ``steps`` inputs.

        Constant for fixed-size memories; grows with ``steps`` for unbounded ones (LANTM).
        """

    def forward_sequence(
        self, xs: Tensor, state: State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Run over ``xs``: (T, B, I). Returns ``ys``: (T, B, O) and the final state.

        With ``lengths`` (B,), example b only consumes ``xs[:lengths[b], b]``: its state stops
        changing after that and its outputs there are zero.
        """
        return run_core(self, xs, state, lengths)


def _masked_update(keep_new: Tensor, new: Tensor, old: Tensor) -> Tensor:
    if new.shape != old.shape:
        raise NotImplementedError(
            "this core's state changes shape over time; override forward_sequence to support lengths"
        )
    m = keep_new.reshape(-1, *([1] * (new.dim() - 1)))  # (B, 1, ...)
    return torch.where(m, new, old)


def run_core(
    core: MemoryCore, xs: Tensor, state: State | None = None, lengths: Tensor | None = None
) -> tuple[Tensor, State]:
    """Step ``core`` over ``xs``: (T, B, I) with an optional per-example length mask ``lengths``: (B,)."""
    if xs.dim() != 3:
        raise ValueError(f"xs must be (T, B, I); got shape {tuple(xs.shape)}")
    T, B, _ = xs.shape
    if state is None:
        state = core.initial_state(B, xs.device)
    if lengths is not None:
        lengths = torch.as_tensor(lengths, device=xs.device)
        if lengths.shape != (B,):
            raise ValueError(f"lengths must have shape ({B},); got {tuple(lengths.shape)}")
        if int(lengths.max()) > T or int(lengths.min()) < 0:
            raise ValueError(f"lengths must lie in [0, {T}]; got {lengths.tolist()}")
    ys = []
    for t in range(T):
        y, new_state = core(xs[t], state)
        if lengths is not None:
            active = lengths > t  # (B,)
            new_state = tree_map(lambda n, o: _masked_update(active, n, o), new_state, state)
            y = y * active.unsqueeze(-1).to(y.dtype)
        state = new_state
        ys.append(y)
    return torch.stack(ys, 0), state  # (T, B, O)


class SequenceMemory(abc.ABC):
    """A sequence memory (M, π, γ) on an input space X = R^d (seed 000, Def. 2.1).

    ``save(m, x)`` is π: M × X → M and ``recover(m)`` is γ: M → X × M. The memory is
    *perfect* (Def. 3.1) when ``recover(save(m, x)) == (x, m)`` for every m, x; then the
    iterated maps are inverses too (Thm 3.2): ``recover_n(save_n(m, x_1..x_n), n)`` returns
    ``x_n, ..., x_1`` and the original m.

    Items are batched: ``x`` is (B, d).
    """

    item_size: int

    @abc.abstractmethod
    def initial_memory(self, batch_size: int, device: torch.device | str | None = None) -> Any:
        """The empty memory m_0 for a batch."""

    @abc.abstractmethod
    def save(self, m: Any, x: Tensor) -> Any:
        """π(m, x): store item ``x`` (B, d); returns the new memory."""

    @abc.abstractmethod
    def recover(self, m: Any) -> tuple[Tensor, Any]:
        """γ(m): returns the most recently retrievable item (B, d) and the remaining memory."""

    def save_n(self, m: Any, xs: Tensor) -> Any:
        """Iterated save π^n(m, x_1, …, x_n) for ``xs``: (n, B, d)."""
        for x in xs:
            m = self.save(m, x)
        return m

    def recover_n(self, m: Any, n: int) -> tuple[Tensor, Any]:
        """Iterated recover γ^n(m): returns items (n, B, d) in recovery order and the memory left."""
        if n < 0:
            raise ValueError(f"n={n} must be >= 0")
        out = []
        for _ in range(n):
            x, m = self.recover(m)
            out.append(x)
        if not out:
            return torch.empty(0), m
        return torch.stack(out, 0), m

    def memory_vector(self, m: Any) -> Tensor:
        """The memory as a flat (B, S) vector, for recover maps fitted from outside (profiles)."""
        return state_to_vector(m)


class Batch(NamedTuple):
    """A batch from a task (see ``memlab.tasks.base``).

    inputs:  (T, B) long tokens, or (T, B, D) float vectors
    targets: (T, B) long tokens, or (T, B, D) float vectors; only read where ``mask``
    mask:    (T, B) bool, True on the scored response phase
    lengths: (B,) long, the task's length parameter k of each example
    n_input: (B,) long, time steps before the response phase starts
    seq_len: (B,) long, total time steps of each example (the rest is padding)
    """

    inputs: Tensor
    targets: Tensor
    mask: Tensor
    lengths: Tensor
    n_input: Tensor
    seq_len: Tensor

    def to(self, device) -> "Batch":
        return Batch(*(x.to(device) for x in self))


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about a task's data.

    kind: "symbolic" (inputs/targets are token ids in [0, n_tokens)) or "binary"
          (inputs are (T, B, input_size) floats, targets (T, B, output_size) bits).
    """

    name: str
    kind: str
    input_size: int  # n_tokens for symbolic tasks
    output_size: int  # n_tokens for symbolic tasks
    n_tokens: int = 0
    vocab: int = 0  # data symbols (symbolic)
