"""Associative LSTM (Danihelka et al. 2016; seed 001 §2.4.2, eq. 2.49–2.51) as a trainable core.

An LSTM whose cell is a redundant holographic memory: S complex traces c_s, each storing the
gated input under a fixed permutation P_s of a learnt input key, read back with a learnt
output key (the maths of ``memory/redundant.py`` and ``memory/hrr.py``):

    f, i, o   = σ(ĝ_f), σ(ĝ_i), σ(ĝ_o)          real gates, shared by Re and Im     (2.41)
    r_i, r_o, u = bound(r̂_i), bound(r̂_o), bound(û)      complex N-vectors
    c_s,t     = f ⊙ c_s,t−1 + (P_s r_i) ⊛ (i ⊙ u)       s = 1 … S                (2.40 + 2.49)
    h_t       = o ⊙ bound((1/S) Σ_s conj(P_s r_o) ⊛ c_s,t)                      (2.38 + 2.50)

with [ĝ_f, ĝ_i, ĝ_o, r̂_i, r̂_o, û] = W_x x_t + W_h h_{t−1} + b, ⊛ the element-wise complex
product (eq. 2.43) and bound(z) = z / max(1, |z|) element-wise (keeps moduli ≤ 1). The read
conjugates the learnt output key as eq. 2.50 does (Danihelka et al. let the network learn the
conjugate; the two are the same model up to a sign flip of Im r̂_o's weights). h is complex;
y_t = [Re h_t, Im h_t], so ``hidden_size`` = 2N real outputs for N complex cells.

Shapes: B batch, I input size, N = hidden_size/2 complex cells, S copies; x (B, I), h (B, 2N)
real, c (B, S, N) complex, permutations (S, N) long.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError, check_range
from memlab.core.interfaces import MemoryCore
from memlab.memory.redundant import random_permutations, redundant_decode, redundant_encode


class AssociativeLSTMState(NamedTuple):
    h: Tensor  # (B, 2N) real: [Re h, Im h]
    c: Tensor  # (B, S, N) complex traces


# ----------------------------------------------------------------------------- pure functions
def bound(z: Tensor) -> Tensor:
    """z / max(1, |z|) element-wise: complex (..., N) with moduli clipped to 1."""
    return z / z.abs().clamp_min(1.0)


def to_complex(x: Tensor) -> Tensor:
    """[Re, Im] halves (..., 2N) real -> (..., N) complex."""
    re, im = x.chunk(2, dim=-1)
    return torch.complex(re, im)


def associative_lstm_step(x_t: Tensor, state: AssociativeLSTMState, W_x: Tensor, W_h: Tensor, b: Tensor,
                          perms: Tensor) -> tuple[Tensor, AssociativeLSTMState]:
    """One step (module docstring). W_x (9N, I), W_h (9N, 2N), b (9N,), perms (S, N).

    x_t (B, I), state (h (B, 2N), c (B, S, N)) -> h_t (B, 2N), new state.
    """
    N = perms.shape[1]
    z = x_t @ W_x.T + state.h @ W_h.T + b  # (B, 9N)
    gates, keys = z.split([3 * N, 6 * N], dim=1)
    f, i, o = torch.sigmoid(gates).chunk(3, dim=1)  # (B, N) each
    r_i, r_o, u = (bound(to_complex(k)) for k in keys.chunk(3, dim=1))  # (B, N) complex each
    write = redundant_encode(r_i.unsqueeze(1), (i * u).unsqueeze(1), perms)  # (B, S, N): (P_s r_i) ⊛ (i ⊙ u)
    c = f.unsqueeze(1) * state.c + write  # (B, S, N)
    read = redundant_decode(c, r_o.unsqueeze(1), perms).squeeze(1)  # (B, N): (1/S) Σ_s conj(P_s r_o) ⊛ c_s
    h = o * bound(read)  # (B, N) complex
    h_real = torch.cat([h.real, h.imag], dim=1)  # (B, 2N)
    return h_real, AssociativeLSTMState(h_real, c)


def associative_lstm_ref(xs: Tensor, state: AssociativeLSTMState, W_x: Tensor, W_h: Tensor, b: Tensor,
                         perms: Tensor) -> tuple[Tensor, AssociativeLSTMState]:
    """Reference loop: xs (T, B, I) -> hs (T, B, 2N) and the final state."""
    hs = []
    for x_t in xs.unbind(0):
        h, state = associative_lstm_step(x_t, state, W_x, W_h, b, perms)
        hs.append(h)
    return torch.stack(hs, 0), state


# ----------------------------------------------------------------------------- the core
@dataclass
class AssociativeLSTMConfig:
    """hidden_size = 2N real outputs (N complex cells, so it must be even); copies S ≥ 1;
    perm_seed fixes the permutations P_s (P_1 = identity)."""

    input_size: int = 1
    hidden_size: int = 64
    copies: int = 4
    forget_bias: float = 1.0
    perm_seed: int = 0
    seed: int = 0

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1)
        check_range("hidden_size", self.hidden_size, 2)
        if self.hidden_size % 2:
            raise ConfigError(f"hidden_size={self.hidden_size} is not allowed; the Associative LSTM needs an even "
                              "size (Re and Im halves of N complex cells)")
        check_range("copies", self.copies, 1, 4096)
        check_range("forget_bias", self.forget_bias)
        check_range("perm_seed", self.perm_seed, 0, 2**63 - 1)


class AssociativeLSTM(MemoryCore):
    """Associative LSTM layer; ``y_t = [Re h_t, Im h_t]`` (output_size = hidden_size = 2N)."""

    def __init__(self, cfg: AssociativeLSTMConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or AssociativeLSTMConfig(**kw)
        cfg.validate()
        self.cfg = cfg
        I, N = cfg.input_size, cfg.hidden_size // 2
        self.input_size, self.output_size, self.N = I, 2 * N, N
        g = torch.Generator().manual_seed(cfg.seed)
        k = 1.0 / (2 * N) ** 0.5
        self.W_x = nn.Parameter((torch.rand(9 * N, I, generator=g) * 2 - 1) * k)  # (9N, I)
        self.W_h = nn.Parameter((torch.rand(9 * N, 2 * N, generator=g) * 2 - 1) * k)  # (9N, 2N)
        b = torch.zeros(9 * N)
        b[:N] = cfg.forget_bias  # f first: start by remembering
        self.b = nn.Parameter(b)
        perms = random_permutations(cfg.copies, N, torch.Generator().manual_seed(cfg.perm_seed), identity_first=True)
        self.register_buffer("perms", perms)  # (S, N)

    def initial_state(self, batch_size: int, device=None) -> AssociativeLSTMState:
        dev, dt = device or self.W_x.device, self.W_x.dtype
        cdt = torch.complex128 if dt == torch.float64 else torch.complex64
        return AssociativeLSTMState(torch.zeros(batch_size, 2 * self.N, device=dev, dtype=dt),
                                    torch.zeros(batch_size, self.cfg.copies, self.N, device=dev, dtype=cdt))

    def forward(self, x_t: Tensor, state: AssociativeLSTMState) -> tuple[Tensor, AssociativeLSTMState]:
        return associative_lstm_step(x_t, state, self.W_x, self.W_h, self.b, self.perms)

    def state_size(self, steps: int = 0) -> int:
        return 2 * self.N + 2 * self.cfg.copies * self.N


CONFIG, CORE = AssociativeLSTMConfig, AssociativeLSTM  # controller hooks (a core with input_size/hidden_size)
