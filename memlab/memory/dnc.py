"""Differentiable Neural Computer (Graves et al. 2016) as a ``MemoryCore``.

One step (DNC Methods, with the pure functions of ``memlab.memory.addressing``):

    h_t       = controller([x_t, r_{t−1}], h_{t−1})
    ξ_t       = interface(h_t)            keys, strengths, e_t, v_t, free/alloc/write gates, read modes
    ψ_t       = Π_r (1 − f^r_t w^r_{t−1})                         retention
    u_t       = (u_{t−1} + w^w_{t−1} − u_{t−1} ∘ w^w_{t−1}) ∘ ψ_t  usage
    a_t       = allocation(u_t)                                   free list by sorted usage
    w^w_t     = g^w_t [g^a_t a_t + (1 − g^a_t) C(M_{t−1}, k^w_t, β^w_t)]
    M_t       = M_{t−1} ∘ (1 − w^w_t e_tᵀ) + w^w_t v_tᵀ
    L_t, p_t  = temporal links and precedence from w^w_t
    w^r_t     = π_t[b] L_tᵀ w^r_{t−1} + π_t[c] C(M_t, k^r_t, β^r_t) + π_t[f] L_t w^r_{t−1}
    r_t       = w^rᵀ_t M_t
    y_t       = [h_t, r_t]

The write happens before the reads (as in the paper), so a read can return what was written
at the same step. Several write heads are supported (each with its own link matrix,
allocated one after another); the read modes then have 1 + 2·Hw entries.
Activations: keys raw, strengths oneplus (≥ 1), e_t, gates sigmoid, modes softmax;
controller outputs are clipped to ±``clip``; memory starts at zero and every normaliser
has an ε, so the first step on the all-zero memory is finite in value and gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError
from memlab.core.interfaces import MemoryCore, run_core
from memlab.memory import addressing as A
from memlab.memory.ntm import Controller, ControllerKind


class DNCState(NamedTuple):
    """memory M_t (B, N, W); read_weights (B, R, N); write_weights (B, Hw, N);
    link L_t (B, Hw, N, N); precedence p_t (B, Hw, N); usage u_t (B, N); reads r_t (B, R, W);
    h, c (B, C) controller state."""

    memory: Tensor
    read_weights: Tensor
    write_weights: Tensor
    link: Tensor
    precedence: Tensor
    usage: Tensor
    reads: Tensor
    h: Tensor
    c: Tensor


class DNCCore(MemoryCore):
    """DNC with ``read_heads`` read heads and ``write_heads`` write heads over N × W memory.

    ``forward(x_t (B, I), state)`` -> ``(y_t (B, C + R·W), state)``.
    """

    def __init__(
        self,
        input_size: int,
        *,
        controller: ControllerKind = "lstm",
        controller_size: int = 100,
        memory_size: int = 128,
        word_size: int = 20,
        read_heads: int = 1,
        write_heads: int = 1,
        clip: float = 20.0,
        eps: float = A.EPS,
    ):
        super().__init__()
        if min(memory_size, word_size, read_heads, write_heads, controller_size) < 1:
            raise ConfigError("DNC sizes (memory_size, word_size, read_heads, write_heads, controller_size) must be >= 1")
        self.input_size = input_size
        self.N, self.W, self.R, self.Hw = memory_size, word_size, read_heads, write_heads
        self.clip, self.eps = clip, eps
        self.controller = Controller(controller, input_size, read_heads * word_size, controller_size)
        self.output_size = controller_size + read_heads * word_size
        R, Hw, W = read_heads, write_heads, word_size
        self.n_modes = 1 + 2 * Hw
        # interface vector ξ_t laid out by kind:
        # [k^r (R·W) | β^r (R) | k^w (Hw·W) | β^w (Hw) | e (Hw·W) | v (Hw·W) | f (R) | g^a (Hw) | g^w (Hw) | π (R·(1+2Hw))]
        self.sizes = [R * W, R, Hw * W, Hw, Hw * W, Hw * W, R, Hw, Hw, R * self.n_modes]
        self.interface = nn.Linear(controller_size, sum(self.sizes))
        self.h0 = nn.Parameter(torch.zeros(controller_size))
        self.c0 = nn.Parameter(torch.zeros(controller_size))

    def initial_state(self, batch_size: int, device=None) -> DNCState:
        device = device if device is not None else self.h0.device
        B, N, W, R, Hw = batch_size, self.N, self.W, self.R, self.Hw
        z = dict(device=device, dtype=self.h0.dtype)
        return DNCState(
            memory=torch.zeros(B, N, W, **z),
            read_weights=torch.zeros(B, R, N, **z),
            write_weights=torch.zeros(B, Hw, N, **z),
            link=torch.zeros(B, Hw, N, N, **z),
            precedence=torch.zeros(B, Hw, N, **z),
            usage=torch.zeros(B, N, **z),
            reads=torch.zeros(B, R, W, **z),
            h=self.h0.unsqueeze(0).expand(B, -1),
            c=self.c0.unsqueeze(0).expand(B, -1),
        )

    def state_size(self, steps: int = 0) -> int:
        N, W, R, Hw, C = self.N, self.W, self.R, self.Hw, self.controller.size
        return N * W + R * N + Hw * N + Hw * N * N + Hw * N + N + R * W + 2 * C

    def interface_params(self, h: Tensor) -> dict[str, Tensor]:
        """Controller output h_t (B, C) -> the interface vector ξ_t, split and activated."""
        B, R, Hw, W = h.shape[0], self.R, self.Hw, self.W
        xi = self.interface(h)
        if self.clip > 0:
            xi = xi.clamp(-self.clip, self.clip)
        kr, br, kw, bw, e, v, f, ga, gw, pi = torch.split(xi, self.sizes, dim=1)
        return {
            "read_keys": kr.view(B, R, W),  # k^r_t
            "read_strengths": A.oneplus(br),  # β^r_t ≥ 1, (B, R)
            "write_keys": kw.view(B, Hw, W),  # k^w_t
            "write_strengths": A.oneplus(bw),  # β^w_t ≥ 1, (B, Hw)
            "erase": torch.sigmoid(e).view(B, Hw, W),  # e_t
            "write_vectors": v.view(B, Hw, W),  # v_t
            "free_gates": torch.sigmoid(f),  # f^r_t, (B, R)
            "alloc_gates": torch.sigmoid(ga),  # g^a_t, (B, Hw)
            "write_gates": torch.sigmoid(gw),  # g^w_t, (B, Hw)
            "read_modes": torch.softmax(pi.view(B, R, self.n_modes), -1),  # π^r_t
        }

    def _step(self, xproj: Tensor, s: DNCState, w_rec: Tensor | None = None) -> tuple[Tensor, DNCState]:
        B = xproj.shape[0]
        h, c = self.controller.step(xproj, s.reads.reshape(B, -1), s.h, s.c, w_rec)
        p = self.interface_params(h)
        psi = A.retention(p["free_gates"], s.read_weights)  # ψ_t (B, N)
        usage = A.usage_update(s.usage, s.write_weights, psi)  # u_t (B, N)
        w_content = A.content_weighting(s.memory, p["write_keys"], p["write_strengths"], self.eps)  # (B, Hw, N)
        w_alloc = A.write_allocations(usage, p["write_gates"], self.eps)  # (B, Hw, N)
        ww = A.write_weighting(w_content, w_alloc, p["alloc_gates"], p["write_gates"])  # (B, Hw, N)
        memory = A.erase_add(s.memory, ww, p["erase"], p["write_vectors"])  # (B, N, W)
        link = A.link_update(s.link, s.precedence, ww)  # (B, Hw, N, N)
        precedence = A.precedence_update(s.precedence, ww)  # (B, Hw, N)
        fwd, bwd = A.directional_weightings(link, s.read_weights)  # (B, R, Hw, N) each
        r_content = A.content_weighting(memory, p["read_keys"], p["read_strengths"], self.eps)  # (B, R, N)
        wr = A.read_weighting(r_content, fwd, bwd, p["read_modes"])  # (B, R, N)
        reads = A.read_memory(memory, wr)  # (B, R, W)
        y = torch.cat([h, reads.reshape(B, -1)], dim=1)  # (B, C + R·W)
        return y, DNCState(memory, wr, ww, link, precedence, usage, reads, h, c)

    def forward(self, x_t: Tensor, state: DNCState) -> tuple[Tensor, DNCState]:
        """x_t: (B, I) -> y_t: (B, C + R·W) and the next state."""
        return self._step(self.controller.project_input(x_t), state)

    def forward_sequence(self, xs: Tensor, state: DNCState | None = None, lengths: Tensor | None = None):
        """xs: (T, B, I) -> ys: (T, B, C + R·W), final state (input projection hoisted)."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        B = xs.shape[1]
        if state is None:
            state = self.initial_state(B, xs.device)
        xproj = self.controller.project_input(xs)  # (T, B, G)
        w_rec = self.controller.recurrent_weight()
        ys = []
        # unbind, not xproj[t]: indexing would give each step's backward a full (T, B, G) zero tensor
        for xp in xproj.unbind(0):
            y, state = self._step(xp, state, w_rec)
            ys.append(y)
        return torch.stack(ys, 0), state

    @torch.no_grad()
    def trace(self, xs: Tensor) -> dict[str, Tensor]:
        """Weightings over time for plots: read (T, B, R, N), write (T, B, Hw, N), usage (T, B, N)."""
        T, B, _ = xs.shape
        state = self.initial_state(B, xs.device)
        reads, writes, usage = [], [], []
        for t in range(T):
            _, state = self(xs[t], state)
            reads.append(state.read_weights)
            writes.append(state.write_weights)
            usage.append(state.usage)
        return {"read": torch.stack(reads), "write": torch.stack(writes), "usage": torch.stack(usage)}

