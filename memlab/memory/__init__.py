"""Memory mechanisms: one file each (the maths as pure functions at the top, a thin module below).

``MEMORIES`` is the registry of *recurrent memory accesses* — memories that a controller drives
step by step inside a trained network — keyed by file name: name -> module path. Each such
module defines ``ENTRY``, a :class:`MemoryEntry`; ``memlab.models`` turns every entry into a
model (embedding -> controller + this access -> readout, ``model.controller=lstm|gru|elman|feedforward``).
A new recurrent memory is one file here, one line in ``MEMORIES`` and one test file
(docs/CONTRIBUTING.md shows the recipe). Modules are imported on first use, so this package
imports no torch. (Save/recover memories of seed 000 have their own registry,
``memlab.memory.associative.ASSOCIATIVE_MEMORIES``.)

The access contract (:class:`MemoryAccess`), with B batch, C controller output size, R = ``read_size``:

    read_size: int                                     R
    initial_state(batch_size, device) -> state       a NamedTuple of tensors, batch first
    reads(state) -> r_{t−1} (B, R)                    what the controller sees with x_t
    forward(h_t (B, C), state) -> (r_t (B, R), state) address, read and write given h_t
    state_size() -> int                               scalars in one example's state
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from memlab.core.errors import ConfigError

MEMORIES: dict[str, str] = {
    "ntm": "memlab.memory.ntm",
    "dnc": "memlab.memory.dnc",
    "stack": "memlab.memory.stack",
    "queue": "memlab.memory.queue",
    "deque": "memlab.memory.deque",
    "stack-rnn": "memlab.memory.stack_rnn",
}


class MemoryAccess(Protocol):
    """What a composition needs from a memory access module (an ``nn.Module``).

    Optional: ``fused_sequence(controller, xs, memory_state, controller_state)`` -> ``(ys,
    memory_state, controller_state)`` or None where no kernel covers the controller
    (``model.kernel=fused``); ``trace_step(state) -> dict[str, Tensor]`` for weighting plots.
    """

    read_size: int

    def initial_state(self, batch_size: int, device: Any = None) -> Any: ...

    def reads(self, state: Any) -> Any: ...

    def forward(self, h: Any, state: Any) -> tuple[Any, Any]: ...

    def state_size(self) -> int: ...


@dataclass(frozen=True)
class MemoryEntry:
    """One registered recurrent memory.

    config_cls: its typed config dataclass (its own settings only; unknown keys are errors).
    build: ``build(cfg, controller_size) -> MemoryAccess``.
    kernels: the ``model.kernel`` values it supports, the default first ("reference" always works).
    smoke: tiny settings for the registry smoke test (its own keys and the composition's, e.g. controller_size).
    """

    config_cls: type
    build: Callable[[Any, int], Any]
    description: str = ""
    kernels: tuple[str, ...] = ("reference",)
    smoke: dict[str, Any] = field(default_factory=dict)


def memory_entry(name: str) -> MemoryEntry:
    """The ``ENTRY`` of recurrent memory ``name`` (one-line ConfigError naming the allowed ones)."""
    if name not in MEMORIES:
        raise ConfigError(f"unknown memory {name!r}; choose one of {', '.join(MEMORIES)}")
    return importlib.import_module(MEMORIES[name]).ENTRY


__all__ = ["MEMORIES", "MemoryAccess", "MemoryEntry", "memory_entry"]
