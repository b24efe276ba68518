"""The associative-memory contract of seed 001 §2.2.3: encoding ⊗, trace composition ⊕, decoding •.

An associative memory stores Q key–value pairs {x^k, y^k} in a memory trace m ∈ 𝓜 and returns a
(noisy) y^k when cued with x^k:

    ⊗ : 𝓧 × 𝓨 → 𝓜   (encode one pair into a trace)
    ⊕ : 𝓜 × 𝓜 → 𝓜   (compose traces; for most memories plain addition)
    • : 𝓧 × 𝓜 → 𝓨   (decode a value from a cue and the trace)

Every memory in this package (Hopfield, CMM, HRR, redundant HRR, TPR, SDM, fast weights) is a
subclass of :class:`AssociativeMemory` and works on batches of independent memories:

    keys   (B, Q, Dk)   the x^k, Q pairs per memory
    values (B, Q, Dv)   the y^k
    trace  (B, *S)      one memory trace per batch element (S depends on the memory)
    cues   (B, P, Dk)   P cues per memory
    out    (B, P, Dv)   the decoded values

Unbatched inputs (Q, Dk) are accepted and the batch dimension is dropped again on output.

Two ways to use a memory: functionally, ``m = mem.encode(keys, values)``, ``m = mem.compose(m, m2)``,
``y = mem.decode(m, cues)``; or statefully, ``mem.reset(B)``, ``mem.store(keys, values)``,
``y = mem.recall(cues)`` (which keeps the trace in ``mem.trace``).
"""

from __future__ import annotations

import abc
from typing import NamedTuple

import torch
from torch import Tensor

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.core.runtime import resolve_device


# ----------------------------------------------------------------------------- argument checks
def check_shape(name: str, x: Tensor, expected: tuple, what: str) -> None:
    """Raise ConfigError unless ``x.shape`` matches ``expected`` (``None`` entries are free).

    ``what`` spells the expected shape with symbols, e.g. ``"(B, Q, N) with N=64"``.
    """
    if not isinstance(x, Tensor):
        raise ConfigError(f"{name} is a {type(x).__name__}; allowed: a torch.Tensor of shape {what}")
    ok = x.dim() == len(expected) and all(e is None or s == e for s, e in zip(x.shape, expected))
    if not ok:
        raise ConfigError(f"{name} has shape {tuple(x.shape)}; allowed: {what}")


def check_pm1(name: str, x: Tensor) -> None:
    """Raise ConfigError unless every entry of ``x`` is -1 or +1 (Hopfield, eq. 2.22)."""
    bad = (x != 1) & (x != -1)
    if bool(bad.any()):
        v = x[bad].flatten()[0].item()
        raise ConfigError(f"{name} contains {v!r}; allowed values: -1, +1 (bipolar patterns)")


def check_binary(name: str, x: Tensor) -> None:
    """Raise ConfigError unless every entry of ``x`` is 0 or 1 (SDM, binary CMM)."""
    bad = (x != 0) & (x != 1)
    if bool(bad.any()):
        v = x[bad].flatten()[0].item()
        raise ConfigError(f"{name} contains {v!r}; allowed values: 0, 1 (binary patterns)")


def check_positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} is out of range; allowed: an integer >= 1")


def batched(x: Tensor, dims: int) -> tuple[Tensor, bool]:
    """Add a leading batch dimension if ``x`` has ``dims - 1`` dimensions; say whether it did."""
    if isinstance(x, Tensor) and x.dim() == dims - 1:
        return x.unsqueeze(0), True
    return x, False


# ----------------------------------------------------------------------------- item memory (cleanup)
class Cleanup(NamedTuple):
    index: Tensor  # (B, P) index of the nearest item
    item: Tensor  # (B, P, D) the item itself
    score: Tensor  # (B, P) its similarity


def cleanup(noisy: Tensor, items: Tensor) -> Cleanup:
    """Auto-associative cleanup (seed 001 after eq. 2.48): replace a noisy retrieval by the most
    similar item of an item memory.

    noisy (B, P, D) real or complex; items (K, D) shared or (B, K, D) per memory.
    Similarity is Re⟨ỹ, v⟩ = Re Σ ỹ_i conj(v_i) (the dot product for real vectors).
    """
    items_b = items.unsqueeze(0).expand(noisy.shape[0], -1, -1) if items.dim() == 2 else items
    if items_b.shape[-1] != noisy.shape[-1]:
        raise ConfigError(f"items have size {items_b.shape[-1]}; allowed: the retrieval size {noisy.shape[-1]}")
    score = (noisy @ items_b.conj().transpose(-1, -2)).real if noisy.is_complex() else noisy @ items_b.transpose(-1, -2)
    best, index = score.max(dim=-1)  # (B, P)
    item = torch.gather(items_b, 1, index.unsqueeze(-1).expand(-1, -1, items_b.shape[-1]))  # (B, P, D)
    return Cleanup(index, item, best)


# ----------------------------------------------------------------------------- the interface
class AssociativeMemory(abc.ABC):
    """A batch of associative memories with the seed's three functions ⊗ ⊕ •.

    Subclasses set ``key_size`` (Dk), ``value_size`` (Dv) and implement ``empty``, ``encode`` and
    ``decode``. ``compose`` is addition unless overridden; ``write`` (how ``store`` adds pairs to an
    existing trace) is ``compose(trace, encode(keys, values))`` unless the learning rule depends
    on the current trace (Widrow–Hoff, decaying fast weights).
    """

    key_size: int
    value_size: int
    #: dtype of keys/values (complex for the phase-form HRR)
    dtype: torch.dtype = torch.float32

    def __init__(self, device: str | torch.device | None = "cpu") -> None:
        self.device = resolve_device(device)
        self.trace: Tensor | None = None

    # -- the seed's three functions ---------------------------------------------------------
    @abc.abstractmethod
    def empty(self, batch_size: int = 1) -> Tensor:
        """The trace of a memory holding nothing: (B, *S)."""

    @abc.abstractmethod
    def encode(self, keys: Tensor, values: Tensor | None = None) -> Tensor:
        """⊗ then ⊕ over the pairs: keys (B, Q, Dk), values (B, Q, Dv) -> trace (B, *S)."""

    def compose(self, m1: Tensor, m2: Tensor) -> Tensor:
        """⊕: combine two traces (B, *S) -> (B, *S)."""
        return m1 + m2

    @abc.abstractmethod
    def decode(self, trace: Tensor, cues: Tensor) -> Tensor:
        """•: trace (B, *S), cues (B, P, Dk) -> retrieved values (B, P, Dv)."""

    def write(self, trace: Tensor, keys: Tensor, values: Tensor | None = None) -> Tensor:
        """Add pairs to an existing trace: trace ⊕ (keys ⊗ values)."""
        return self.compose(trace, self.encode(keys, values))

    # -- stateful convenience ---------------------------------------------------------------
    def reset(self, batch_size: int = 1) -> "AssociativeMemory":
        check_positive_int("batch_size", batch_size)
        self.trace = self.empty(batch_size)
        return self

    def store(self, keys: Tensor, values: Tensor | None = None) -> Tensor:
        """Store pairs (B, Q, Dk)/(B, Q, Dv) (or unbatched (Q, ·)) into ``self.trace``."""
        kb, _ = batched(keys, 3)
        if self.trace is None or self.trace.shape[0] != kb.shape[0]:
            self.trace = self.empty(kb.shape[0])
        self.trace = self.write(self.trace, keys, values)
        return self.trace

    def recall(self, cues: Tensor) -> Tensor:
        """Decode cues (B, P, Dk) (or unbatched (P, Dk)) from ``self.trace``."""
        if self.trace is None:
            raise ConfigError("recall before store: the memory is empty; call store(keys, values) first")
        return self.decode(self.trace, cues)

    # -- helpers for subclasses -------------------------------------------------------------
    def _pairs(self, keys: Tensor, values: Tensor | None, auto: bool = False) -> tuple[Tensor, Tensor, bool]:
        """Check and batch keys (B, Q, Dk) and values (B, Q, Dv); ``auto`` lets values default to keys."""
        keys, squeezed = batched(keys, 3)
        check_shape("keys", keys, (None, None, self.key_size), f"(B, Q, {self.key_size}) or (Q, {self.key_size})")
        if values is None:
            if not auto:
                raise ConfigError("values=None is not allowed for a hetero-associative memory; pass values (B, Q, Dv)")
            values = keys
        else:
            values, _ = batched(values, 3)
            check_shape(
                "values", values, (keys.shape[0], keys.shape[1], self.value_size),
                f"({keys.shape[0]}, {keys.shape[1]}, {self.value_size}) to match keys",
            )
        return keys.to(self.device), values.to(self.device), squeezed

    def _cues(self, trace: Tensor, cues: Tensor) -> tuple[Tensor, bool]:
        cues, squeezed = batched(cues, 3)
        check_shape(
            "cues", cues, (trace.shape[0], None, self.key_size),
            f"({trace.shape[0]}, P, {self.key_size}) to match the trace batch, or (P, {self.key_size})",
        )
        return cues.to(self.device), squeezed


# ----------------------------------------------------------------------------- registry
#: every associative memory: name -> (module, class); a new memory is one file plus one line here
ASSOCIATIVE_MEMORIES: dict[str, tuple[str, str]] = {
    "hopfield": ("memlab.memory.hopfield", "Hopfield"),
    "cmm": ("memlab.memory.cmm", "CorrelationMatrixMemory"),
    "hrr": ("memlab.memory.hrr", "HRR"),
    "redundant": ("memlab.memory.redundant", "RedundantAssociativeMemory"),
    "tpr": ("memlab.memory.tpr", "TensorProductRepresentation"),
    "sdm": ("memlab.memory.sdm", "SparseDistributedMemory"),
    "fast-weights": ("memlab.memory.fast_weights", "FastWeights"),
}


def get_associative(name: str) -> type[AssociativeMemory]:
    """The class registered as ``name`` (imported lazily to keep this module dependency-free)."""
    import importlib

    check_choice("memory", name, ASSOCIATIVE_MEMORIES)
    module, cls = ASSOCIATIVE_MEMORIES[name]
    return getattr(importlib.import_module(module), cls)


__all__ = [
    "ASSOCIATIVE_MEMORIES",
    "get_associative",
    "AssociativeMemory",
    "Cleanup",
    "batched",
    "check_binary",
    "check_choice",
    "check_pm1",
    "check_positive_int",
    "check_range",
    "check_shape",
    "cleanup",
]
