"""LSTM cell as a ``MemoryCore`` with the variants of seed 002 (Sak et al. LSTMP, Gers et al.).

THE one LSTM of memlab: the controllers of the NTM, DNC and LANTM compositions are this core,
and the fused kernels that inline it (``memlab.memory.kernels``) use its gate order.

    i_t = σ(W_ix x_t + W_ir r_{t-1} + w_ic ⊙ c_{t-1} + b_i)
    f_t = σ(W_fx x_t + W_fr r_{t-1} + w_fc ⊙ c_{t-1} + b_f)        (f_t ≡ 1 without a forget gate)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g(W_cx x_t + W_cr r_{t-1} + b_c)   (g = tanh; the CEC, eq. 2.37)
    o_t = σ(W_ox x_t + W_or r_{t-1} + w_oc ⊙ c_t + b_o)
    m_t = o_t ⊙ h(c_t)                                               (h = tanh; eq. 2.38)
    r_t = W_rm m_t   with a recurrent projection, else r_t = m_t          (fed back as r_{t−1})
    p_t = W_pm m_t   with a non-recurrent projection (not fed back)
    y_t = [r_t, p_t], or y_t = W_yr r_t + W_yp p_t + b_y with ``y_size`` > 0 (seed 002 Fig. 1)

Every variant of seed 001 eq. 2.38–2.41 / seed 002 is a setting of this one cell:

    forget_gate=False        the 1997 LSTM (Hochreiter & Schmidhuber): f_t ≡ 1, a constant
                             error carousel with self-weight 1
    forget_bias=1.0          forget gate with a positive initial bias (Gers et al.): starts by remembering
    input_bias, output_bias  initial b_i, b_o (seed 002: negative, so the cell starts closed);
                             None keeps the uniform initialisation
    peepholes=True           diagonal w_ic, w_fc, w_oc from the CEC to the gates (seed 002 Fig. 2)
    proj_size=P              LSTMP recurrent projection r_t (P < H)
    nonrec_proj_size=Q       LSTMP non-recurrent projection p_t (Q ≤ H)
    y_size=K                 the output layer y_t of seed 002 Fig. 1 inside the core (without it
                             the model's readout applies W_y to [r_t, p_t], the same map)

Gate rows are stacked in PyTorch's order (i, f, g, o), so the standard variant (forget gate, no
peepholes, no non-recurrent projection, optional recurrent projection) runs its
``forward_sequence`` through PyTorch's fused LSTM kernel; the other variants precompute the
input projections and loop. Both agree with stepping.

Shapes: B batch, T time, I input size, H cells, P = proj_size or H (size of r_t), Q = nonrec_proj_size,
O = output size (K = y_size if set, else P + Q).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError, check_finite, check_range
from memlab.core.interfaces import MemoryCore, run_core


class LSTMState(NamedTuple):
    r: Tensor  # (B, P) recurrent output r_t (= m_t without projection)
    c: Tensor  # (B, H) cell state c_t


def lstm_memory_step(
    x_t: Tensor, r: Tensor, c: Tensor, W_x: Tensor, W_r: Tensor, b: Tensor, peep: Tensor | None, forget_gate: bool
) -> tuple[Tensor, Tensor]:
    """Gates, CEC and cell output (eq. 2.38–2.41). x_t (B, I), r (B, P), c (B, H); W_x (4H, I),
    W_r (4H, P), b (4H,); peep (3, H) = (w_ic, w_fc, w_oc) or None. Returns (m_t (B, H), c_t (B, H))."""
    z = x_t @ W_x.T + r @ W_r.T + b  # (B, 4H)
    zi, zf, zg, zo = z.chunk(4, dim=1)  # (B, H) each
    if peep is not None:
        zi = zi + peep[0] * c
        zf = zf + peep[1] * c
    i = torch.sigmoid(zi)
    f = torch.sigmoid(zf) if forget_gate else torch.ones_like(c)
    c_new = f * c + i * torch.tanh(zg)  # eq. 2.40
    if peep is not None:
        zo = zo + peep[2] * c_new
    return torch.sigmoid(zo) * torch.tanh(c_new), c_new  # m_t = o_t ⊙ h(c_t), eq. 2.38


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
    m, c_new = lstm_memory_step(x_t, r, c, W_x, W_r, b, peep, forget_gate)  # (B, H) each
    r_new = m @ W_rm.T if W_rm is not None else m  # (B, P)
    return r_new, c_new


def lstmp_output(r: Tensor, p: Tensor | None, W_yr: Tensor | None, W_yp: Tensor | None, b_y: Tensor | None) -> Tensor:
    """The LSTMP output of seed 002 Fig. 1: y_t = W_yr r_t + W_yp p_t + b_y, or [r_t, p_t] without
    an output layer (W_yr None). r (B, P), p (B, Q) or None; W_yr (K, P), W_yp (K, Q), b_y (K,)."""
    if W_yr is None:
        return r if p is None else torch.cat([r, p], dim=1)  # (B, P + Q)
    y = r @ W_yr.T + b_y  # (B, K)
    return y if p is None else y + p @ W_yp.T


@dataclass
class LSTMCoreConfig:
    input_size: int = 1
    hidden_size: int = 32
    forget_gate: bool = True
    peepholes: bool = False
    proj_size: int = 0  # 0: no recurrent projection
    nonrec_proj_size: int = 0  # 0: no non-recurrent projection p_t
    y_size: int = 0  # 0: y_t = [r_t, p_t]; K > 0: y_t = W_yr r_t + W_yp p_t + b_y of size K
    forget_bias: float = 1.0  # initial b_f (Gers et al.: positive, so the cell starts by remembering)
    input_bias: float | None = None  # initial b_i (seed 002: negative); None: uniform like the rest
    output_bias: float | None = None  # initial b_o (seed 002: negative); None: uniform like the rest
    init_scale: float = 1.0  # weights ~ U(-k, k), k = init_scale / sqrt(H)
    seed: int = 0

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1)
        check_range("hidden_size", self.hidden_size, 1)
        check_range("proj_size", self.proj_size, 0)
        check_range("nonrec_proj_size", self.nonrec_proj_size, 0)
        check_range("y_size", self.y_size, 0)
        for name in ("input_bias", "output_bias"):
            if getattr(self, name) is not None:
                check_finite(name, getattr(self, name))
        check_range("init_scale", self.init_scale, 0.0)
        check_finite("forget_bias", self.forget_bias)


class LSTMCore(MemoryCore):
    """One LSTM cell layer; y_t = r_t (output_size = proj_size or hidden_size), or the LSTMP output
    [r_t, p_t] / W_yr r_t + W_yp p_t + b_y with a non-recurrent projection or ``y_size``."""

    def __init__(self, cfg: LSTMCoreConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or LSTMCoreConfig(**kw)
        cfg.validate()
        self.cfg = cfg
        H, I = cfg.hidden_size, cfg.input_size
        P = cfg.proj_size or H
        if cfg.proj_size and cfg.proj_size >= H:
            raise ConfigError(f"proj_size={cfg.proj_size} must be < hidden_size={H} (or 0 for none)")
        if cfg.nonrec_proj_size > H:
            raise ConfigError(f"nonrec_proj_size={cfg.nonrec_proj_size} is larger than the cell; allowed: 0 (none) "
                              f"to hidden_size={H}")
        Q, K = cfg.nonrec_proj_size, cfg.y_size
        self.input_size, self.output_size, self.H, self.P, self.Q = I, K or P + Q, H, P, Q
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
        self.W_pm = nn.Parameter(unif(Q, H)) if Q else None  # (Q, H)
        self.W_yr = nn.Parameter(unif(K, P)) if K else None  # (K, P)
        self.W_yp = nn.Parameter(unif(K, Q)) if K and Q else None  # (K, Q)
        self.b_y = nn.Parameter(torch.zeros(K)) if K else None  # (K,)
        with torch.no_grad():  # after every draw, so the other weights do not depend on these settings
            if cfg.input_bias is not None:
                self.b[:H] = cfg.input_bias
            if cfg.output_bias is not None:
                self.b[3 * H :] = cfg.output_bias

    @property
    def standard(self) -> bool:
        """Forget gate, no peepholes, no projection, y_t = r_t: the variant fused kernels (torch.lstm, ntm_scan) run."""
        return self.cfg.forget_gate and self.peep is None and self.W_rm is None and self.W_pm is None and self.W_yr is None

    def initial_state(self, batch_size: int, device=None) -> LSTMState:
        dev, dt = device or self.W_x.device, self.W_x.dtype
        return LSTMState(torch.zeros(batch_size, self.P, device=dev, dtype=dt), torch.zeros(batch_size, self.H, device=dev, dtype=dt))

    @property
    def plain_output(self) -> bool:
        """y_t = r_t (no non-recurrent projection, no output layer)."""
        return self.W_pm is None and self.W_yr is None

    def _out(self, m: Tensor, c: Tensor) -> tuple[Tensor, LSTMState]:
        """m_t, c_t (B, H) -> y_t (B, O) and the state (r_t, c_t)."""
        r = m @ self.W_rm.T if self.W_rm is not None else m  # (B, P)
        p = m @ self.W_pm.T if self.W_pm is not None else None  # (B, Q)
        return lstmp_output(r, p, self.W_yr, self.W_yp, self.b_y), LSTMState(r, c)

    def forward(self, x_t: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        m, c = lstm_memory_step(x_t, state.r, state.c, self.W_x, self.W_r, self.b, self.peep, self.cfg.forget_gate)
        return self._out(m, c)

    def state_size(self, steps: int = 0) -> int:
        return self.P + self.H

    def forward_sequence(self, xs: Tensor, state: LSTMState | None = None, lengths: Tensor | None = None):
        """xs: (T, B, I) -> ys (T, B, O) and the final state; fused kernel for the standard variant."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        T, B, _ = xs.shape
        state = state or self.initial_state(B, xs.device)
        if self.cfg.forget_gate and self.peep is None and self.plain_output:
            params = [self.W_x, self.W_r, self.b, torch.zeros_like(self.b)]
            if self.W_rm is not None:
                params.append(self.W_rm)
            ys, r, c = torch.lstm(xs, (state.r.unsqueeze(0), state.c.unsqueeze(0)), params, True, 1, 0.0, self.training, False, False)
            return ys, LSTMState(r[0], c[0])  # ys: (T, B, P)
        xproj = xs @ self.W_x.T  # (T, B, 4H): input projections of every step at once
        zero_x = torch.zeros(B, 0, device=xs.device, dtype=xs.dtype)
        empty_W = self.W_x.new_zeros(4 * self.H, 0)
        ys = []
        for t in range(T):
            m, c = lstm_memory_step(zero_x, state.r, state.c, empty_W, self.W_r, self.b + xproj[t], self.peep, self.cfg.forget_gate)
            y, state = self._out(m, c)
            ys.append(y)
        return torch.stack(ys, 0), state


CONFIG, CORE = LSTMCoreConfig, LSTMCore  # registry hooks (memlab.controllers.CONTROLLERS)
