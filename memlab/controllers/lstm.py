"""LSTM cell as a ``MemoryCore`` with the variants of seed 002 (Sak et al. LSTMP, Gers et al.).

THE one LSTM of memlab: the controllers of the NTM, DNC and LANTM compositions are this core,
and the fused kernels that inline it (``memlab.memory.kernels``) use its gate order.

    i_t = σ(W_ix x_t + W_ir r_{t-1} + w_ic ⊙ c_{t-1} + b_i)
    f_t = σ(W_fx x_t + W_fr r_{t-1} + w_fc ⊙ c_{t-1} + b_f)        (f_t ≡ 1 without a forget gate)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g(W_cx x_t + W_cr r_{t-1} + b_c)   (g = tanh; the CEC, eq. 2.37)
    o_t = σ(W_ox x_t + W_or r_{t-1} + w_oc ⊙ c_t + b_o)
    m_t = o_t ⊙ h(c_t)                                               (h = tanh)
    r_t = W_rm m_t   with a recurrent projection, else r_t = m_t;   y_t = r_t

Peephole weights w_ic, w_fc, w_oc are diagonal (vectors), as in seed 002 Fig. 2.
Without a forget gate (``forget_gate=False``) the cell is the original LSTM of Hochreiter &
Schmidhuber (1997): a constant error carousel with self-weight 1.

Gate rows are stacked in PyTorch's order (i, f, g, o), so the standard variant (forget gate, no
peepholes, optional projection) runs its ``forward_sequence`` through PyTorch's fused LSTM kernel;
the other variants precompute the input projections and loop. Both agree with stepping.

Shapes: B batch, T time, I input size, H cells, P = proj_size or H (size of r_t and y_t).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError, check_range
from memlab.controllers.feedforward import check_finite
from memlab.core.interfaces import MemoryCore, run_core


class LSTMState(NamedTuple):
    r: Tensor  # (B, P) recurrent output r_t (= m_t without projection)
    c: Tensor  # (B, H) cell state c_t


def lstm_cell_step(
    x_t: Tensor,
    r: Tensor,
    c: Tensor,
    W_x: Tensor,
    W_r: Tensor,
    b: Tensor,
    peep: Tensor | None,
    W_rm: Tensor | None,
    forget_gate: bool,
) -> tuple[Tensor, Tensor]:
    """One LSTM(P) step. x_t (B, I), r (B, P), c (B, H); W_x (4H, I), W_r (4H, P), b (4H,);
    peep (3, H) = (w_ic, w_fc, w_oc) or None; W_rm (P, H) or None. Returns (r_t (B, P), c_t (B, H))."""
    z = x_t @ W_x.T + r @ W_r.T + b  # (B, 4H)
    zi, zf, zg, zo = z.chunk(4, dim=1)  # (B, H) each
    if peep is not None:
        zi = zi + peep[0] * c
        zf = zf + peep[1] * c
    i = torch.sigmoid(zi)
    f = torch.sigmoid(zf) if forget_gate else torch.ones_like(c)
    c_new = f * c + i * torch.tanh(zg)
    if peep is not None:
        zo = zo + peep[2] * c_new
    m = torch.sigmoid(zo) * torch.tanh(c_new)  # (B, H)
    r_new = m @ W_rm.T if W_rm is not None else m  # (B, P)
    return r_new, c_new


@dataclass
class LSTMCoreConfig:
    input_size: int = 1
    hidden_size: int = 32
    forget_gate: bool = True
    peepholes: bool = False
    proj_size: int = 0  # 0: no recurrent projection
    forget_bias: float = 1.0  # initial b_f (Gers et al.: positive, so the cell starts by remembering)
    init_scale: float = 1.0  # weights ~ U(-k, k), k = init_scale / sqrt(H)
    seed: int = 0

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1)
        check_range("hidden_size", self.hidden_size, 1)
        check_range("proj_size", self.proj_size, 0)
        check_range("init_scale", self.init_scale, 0.0)
        check_finite("forget_bias", self.forget_bias)
        check_finite("init_scale", self.init_scale)


class LSTMCore(MemoryCore):
    """One LSTM cell layer; ``y_t = r_t`` (output_size = proj_size or hidden_size)."""

    def __init__(self, cfg: LSTMCoreConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or LSTMCoreConfig(**kw)
        cfg.validate()
        self.cfg = cfg
        H, I = cfg.hidden_size, cfg.input_size
        P = cfg.proj_size or H
        if cfg.proj_size and cfg.proj_size >= H:
            raise ConfigError(f"proj_size={cfg.proj_size} must be < hidden_size={H} (or 0 for none)")
        self.input_size, self.output_size, self.H, self.P = I, P, H, P
        g = torch.Generator().manual_seed(cfg.seed)
        k = cfg.init_scale / H**0.5

        def unif(*shape):
            return (torch.rand(*shape, generator=g) * 2 - 1) * k

        self.W_x = nn.Parameter(unif(4 * H, I))  # (4H, I)
        self.W_r = nn.Parameter(unif(4 * H, P))  # (4H, P)
        b = unif(4 * H)
        b[H : 2 * H] = cfg.forget_bias
        self.b = nn.Parameter(b)  # (4H,)
        self.peep = nn.Parameter(unif(3, H)) if cfg.peepholes else None  # (3, H)
        self.W_rm = nn.Parameter(unif(P, H)) if cfg.proj_size else None  # (P, H)

    @property
    def standard(self) -> bool:
        """Forget gate, no peepholes, no projection: the variant fused kernels (torch.lstm, ntm_scan) run."""
        return self.cfg.forget_gate and self.peep is None and self.W_rm is None

    def initial_state(self, batch_size: int, device=None) -> LSTMState:
        dev, dt = device or self.W_x.device, self.W_x.dtype
        return LSTMState(torch.zeros(batch_size, self.P, device=dev, dtype=dt), torch.zeros(batch_size, self.H, device=dev, dtype=dt))

    def forward(self, x_t: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        r, c = lstm_cell_step(x_t, state.r, state.c, self.W_x, self.W_r, self.b, self.peep, self.W_rm, self.cfg.forget_gate)
        return r, LSTMState(r, c)

    def state_size(self, steps: int = 0) -> int:
        return self.P + self.H

    def forward_sequence(self, xs: Tensor, state: LSTMState | None = None, lengths: Tensor | None = None):
        """xs: (T, B, I) -> ys (T, B, P) and the final state; fused kernel for the standard variant."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        T, B, _ = xs.shape
        state = state or self.initial_state(B, xs.device)
        if self.cfg.forget_gate and self.peep is None:
            params = [self.W_x, self.W_r, self.b, torch.zeros_like(self.b)]
            if self.W_rm is not None:
                params.append(self.W_rm)
            ys, r, c = torch.lstm(xs, (state.r.unsqueeze(0), state.c.unsqueeze(0)), params, True, 1, 0.0, self.training, False, False)
            return ys, LSTMState(r[0], c[0])  # ys: (T, B, P)
        xproj = xs @ self.W_x.T  # (T, B, 4H): input projections of every step at once
        zero_x = torch.zeros(B, 0, device=xs.device, dtype=xs.dtype)
        empty_W = self.W_x.new_zeros(4 * self.H, 0)
        r, c = state
        ys = []
        for t in range(T):
            r, c = lstm_cell_step(zero_x, r, c, empty_W, self.W_r, self.b + xproj[t], self.peep, self.W_rm, self.cfg.forget_gate)
            ys.append(r)
        return torch.stack(ys, 0), LSTMState(r, c)


CONFIG, CORE = LSTMCoreConfig, LSTMCore  # registry hooks (memlab.controllers.CONTROLLERS)
