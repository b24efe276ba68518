"""Hopfield network (seed 001 §2.3.1, eq. 2.22–2.25): attractor dynamics as an associative memory.

N bipolar units x ∈ {-1, +1}^N, symmetric Hebbian weights with zero diagonal,

    w_ij = Σ_p x_i^p x_j^p,  w_ii = 0                         (2.24)
    x_i(t+1) = sign(Σ_j w_ij x_j(t))                           (2.22)
    E(x) = -½ Σ_ij w_ij x_i x_j                                 (2.23)

As an associative memory (footnote 1 of the seed): ⊗ is the outer product x^p x^pᵀ, ⊕ is
addition, • is the recurrent sign dynamics run to a fixed point. Keys are values (auto-association).

Sign convention: a unit whose local field is exactly 0 keeps its state, so an update never raises
the energy (ΔE = -Δx_i h_i ≤ 0 for asynchronous single-unit updates with w_ii = 0, w symmetric).

Shapes: W (B, N, N) one network per batch element; states x (B, P, N), P states run in each network.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from memlab.core.errors import ConfigError
from memlab.memory.associative import (
    AssociativeMemory,
    batched,
    check_choice,
    check_pm1,
    check_positive_int,
    check_range,
    check_shape,
)


# ----------------------------------------------------------------------------- pure functions
def hebbian_weights(patterns: Tensor, normalize: bool = False, zero_diagonal: bool = True) -> Tensor:
    """Eq. 2.24: w_ij = Σ_p x_i^p x_j^p, by default with w_ii = 0.

    patterns (B, Q, N) in {-1, +1} -> W (B, N, N), symmetric. ``normalize`` divides by N
    (does not change the sign dynamics, keeps energies O(N)). ``zero_diagonal=False`` keeps the
    self-coupling w_ii = Q that eq. 2.24 literally contains; it biases every unit towards its
    current state (fewer flips, many more spurious fixed points), and the seed's Q ≈ 0.18N figure
    is the zero-diagonal one.
    """
    W = patterns.transpose(-1, -2) @ patterns  # (B, N, N)
    if zero_diagonal:
        W = W - torch.diag_embed(torch.diagonal(W, dim1=-2, dim2=-1))  # no self-coupling
    return W / patterns.shape[-1] if normalize else W


def local_fields(W: Tensor, x: Tensor) -> Tensor:
    """h_i = Σ_j w_ij x_j. W (B, N, N) symmetric, x (B, P, N) -> h (B, P, N)."""
    return x @ W  # W symmetric, so x Wᵀ = x W


def sign_keep(h: Tensor, x: Tensor) -> Tensor:
    """sign(h) with ties (h == 0) keeping the previous state x. Shapes equal."""
    return torch.where(h > 0, torch.ones_like(x), torch.where(h < 0, -torch.ones_like(x), x))


def energy(W: Tensor, x: Tensor) -> Tensor:
    """Eq. 2.23: E(x) = -½ xᵀ W x. W (B, N, N), x (B, P, N) -> (B, P)."""
    return -0.5 * (local_fields(W, x) * x).sum(-1)


def sync_step(W: Tensor, x: Tensor) -> Tensor:
    """Eq. 2.22 applied to all units at once. W (B, N, N), x (B, P, N) -> (B, P, N)."""
    return sign_keep(local_fields(W, x), x)


def async_unit_update(W: Tensor, x: Tensor, i: int) -> Tensor:
    """Eq. 2.22 for unit i only (slow reference). W (B, N, N), x (B, P, N) -> new x (B, P, N)."""
    h_i = x @ W[:, :, i].unsqueeze(-1)  # (B, P, 1)
    x = x.clone()
    x[..., i : i + 1] = sign_keep(h_i, x[..., i : i + 1])
    return x


def async_sweep(W: Tensor, x: Tensor, order: Tensor) -> tuple[Tensor, Tensor]:
    """One asynchronous sweep: units updated one at a time in ``order`` (N,) (eq. 2.22).

    Keeps the local fields h = W x up to date incrementally (h += Δx_i w_{:,i}), so a sweep costs
    O(N²) per state like one synchronous step. W (B, N, N), x (B, P, N).
    Returns the new x (B, P, N) and the number of flipped units per state (B, P).
    """
    x = x.clone()
    h = local_fields(W, x)  # (B, P, N)
    flips = torch.zeros(x.shape[:-1], dtype=torch.long, device=x.device)
    for i in order.tolist():
        old = x[..., i]  # (B, P)
        new = sign_keep(h[..., i], old)
        delta = new - old  # 0 or ±2
        if bool(delta.any()):
            x[..., i] = new
            flips += (delta != 0).long()
            h += delta.unsqueeze(-1) * W[:, i, :].unsqueeze(1)  # (B, P, N); row i = column i
    return x, flips


class Dynamics(NamedTuple):
    state: Tensor  # (B, P, N) final state
    converged: Tensor  # (B, P) bool: a fixed point (sync: no unit changes) was reached
    steps: Tensor  # (B, P) sweeps (async) or steps (sync) until convergence or the cap


def run_async(W: Tensor, x: Tensor, generator: torch.Generator | None = None, max_sweeps: int = 100) -> Dynamics:
    """Asynchronous dynamics (random unit order each sweep) until no unit flips in a whole sweep.

    The same random order is used for every state of the batch in a sweep (each state still
    follows a valid asynchronous schedule). W (B, N, N), x (B, P, N).
    """
    n = x.shape[-1]
    steps = torch.zeros(x.shape[:-1], dtype=torch.long, device=x.device)
    converged = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
    for _ in range(max_sweeps):
        order = torch.randperm(n, generator=generator)
        x, flips = async_sweep(W, x, order)
        steps += (~converged).long()
        converged |= flips == 0
        if bool(converged.all()):
            break
    return Dynamics(x, converged, steps)


def run_sync(W: Tensor, x: Tensor, max_steps: int = 100) -> Dynamics:
    """Synchronous dynamics (all units at once) until a fixed point or ``max_steps``.

    Synchronous updates can end in a 2-cycle instead of a fixed point; such states report
    ``converged = False``. W (B, N, N), x (B, P, N).
    """
    steps = torch.zeros(x.shape[:-1], dtype=torch.long, device=x.device)
    converged = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
    for _ in range(max_steps):
        new = sync_step(W, x)
        same = (new == x).all(-1)
        steps += (~converged & ~same).long()
        converged |= same
        x = new
        if bool(converged.all()):
            break
    return Dynamics(x, converged, steps)


def is_fixed_point(W: Tensor, x: Tensor) -> Tensor:
    """Whether no single unit would change under eq. 2.22. W (B, N, N), x (B, P, N) -> (B, P) bool."""
    return (sync_step(W, x) == x).all(-1)


def one_step_bit_error(patterns: Tensor, W: Tensor | None = None, zero_diagonal: bool = True) -> Tensor:
    """Fraction of bits of each stored pattern flipped by one update from that pattern.

    This is the crosstalk criterion of eq. 2.25: bit i of x^p flips when the crosstalk
    Σ_{q≠p} x_i^q (x^p·x^q) (minus the removed self term) outweighs the signal (N-1) x_i^p.
    patterns (B, Q, N) -> (B, Q). ``W`` defaults to the Hebbian weights of ``patterns``.
    """
    W = hebbian_weights(patterns, zero_diagonal=zero_diagonal) if W is None else W
    return (sync_step(W, patterns) != patterns).float().mean(-1)


class FixedPointReport(NamedTuple):
    index: Tensor  # (B, P) index of the stored pattern with the largest |overlap|
    overlap: Tensor  # (B, P) the signed overlap m = x·x^p / N with that pattern
    fixed: Tensor  # (B, P) bool: x is a fixed point of eq. 2.22
    stored: Tensor  # (B, P) bool: x equals a stored pattern
    mirror: Tensor  # (B, P) bool: x equals the negation of a stored pattern (also a minimum of eq. 2.23)
    spurious: Tensor  # (B, P) bool: a fixed point that is neither a stored pattern nor its mirror


def classify_states(W: Tensor, x: Tensor, patterns: Tensor) -> FixedPointReport:
    """Tell retrieved patterns from mirrors and spurious fixed points.

    W (B, N, N), x (B, P, N), patterns (B, Q, N).
    """
    m = (x @ patterns.transpose(-1, -2)) / x.shape[-1]  # (B, P, Q) overlaps
    _, index = m.abs().max(-1)  # (B, P)
    best = torch.gather(m, -1, index.unsqueeze(-1)).squeeze(-1)
    fixed = is_fixed_point(W, x)
    stored = best >= 1 - 1e-6
    mirror = best <= -1 + 1e-6
    return FixedPointReport(index, best, fixed, stored, mirror, fixed & ~stored & ~mirror)


# ----------------------------------------------------------------------------- the memory
class Hopfield(AssociativeMemory):
    """A batch of Hopfield networks of N units (auto-associative: values are the keys).

    ``update``: "async" (random order, eq. 2.22 one unit at a time; energy never rises) or
    "sync" (all units at once). ``max_steps``: sweep/step cap. ``seed`` seeds the update order.
    Trace: W (B, N, N). ``decode(W, cues (B, P, N))`` -> fixed points (B, P, N).
    """

    def __init__(
        self,
        size: int,
        update: str = "async",
        max_steps: int = 100,
        normalize: bool = False,
        seed: int = 0,
        device: str | torch.device | None = "cpu",
    ) -> None:
        super().__init__(device)
        check_positive_int("size", size)
        check_choice("update", update, ["async", "sync"])
        check_positive_int("max_steps", max_steps)
        self.key_size = self.value_size = size
        self.update, self.max_steps, self.normalize = update, max_steps, normalize
        self.generator = torch.Generator().manual_seed(seed)
        self.last: Dynamics | None = None

    def empty(self, batch_size: int = 1) -> Tensor:
        return torch.zeros(batch_size, self.key_size, self.key_size, device=self.device, dtype=self.dtype)

    def encode(self, keys: Tensor, values: Tensor | None = None) -> Tensor:
        """Eq. 2.24. keys (B, Q, N) in ±1 (values must be None or equal to keys) -> W (B, N, N)."""
        keys, vals, _ = self._pairs(keys, values, auto=True)
        if vals is not keys and not torch.equal(vals, keys):
            raise ConfigError("values differ from keys; allowed: values=None or values equal to keys (a Hopfield network is auto-associative)")
        check_pm1("patterns", keys)
        return hebbian_weights(keys.to(self.dtype), self.normalize)

    def decode(self, trace: Tensor, cues: Tensor) -> Tensor:
        """Run the dynamics from each cue (B, P, N) in ±1 to a fixed point (or the cap)."""
        cues, squeezed = self._cues(trace, cues)
        check_pm1("cues", cues)
        x = cues.to(trace.dtype)
        self.last = run_async(trace, x, self.generator, self.max_steps) if self.update == "async" else run_sync(trace, x, self.max_steps)
        out = self.last.state
        return out.squeeze(0) if squeezed else out

    def energy(self, x: Tensor, trace: Tensor | None = None) -> Tensor:
        """Eq. 2.23 of states x (B, P, N) under ``trace`` (default ``self.trace``) -> (B, P)."""
        W = self.trace if trace is None else trace
        x, squeezed = batched(x, 3)
        check_shape("x", x, (W.shape[0], None, self.key_size), f"({W.shape[0]}, P, {self.key_size})")
        e = energy(W, x.to(W))
        return e.squeeze(0) if squeezed else e


def random_patterns(batch: int, count: int, size: int, generator: torch.Generator | None = None) -> Tensor:
    """Uniform random bipolar patterns (B, Q, N) in {-1, +1}."""
    check_range("count", count, 0)
    return torch.randint(0, 2, (batch, count, size), generator=generator).float() * 2 - 1


def flip_bits(x: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """Flip exactly k random bits of each bipolar state x (..., N)."""
    check_range("k", k, 0, x.shape[-1])
    scores = torch.rand(x.shape, generator=generator).to(x.device)
    idx = scores.argsort(-1)[..., :k]
    sign = torch.ones_like(x).scatter(-1, idx, -1.0)
    return x * sign
