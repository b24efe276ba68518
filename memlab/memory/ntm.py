"""Neural Turing Machine (Graves, Wayne & Danihelka 2014) as a ``MemoryCore``.

One step, with controller output h_t and the NTM addressing of ``memlab.memory.addressing``:

    h_t            = controller([x_t, r_{t−1}], h_{t−1})          LSTM or feed-forward
    k, β, g, s, γ  = heads(h_t)                                    per head (read and write)
    w_t            = sharpen(shift(interp(content(M_{t−1}, k, β), w_{t−1}, g), s), γ)
    r_t            = w^r_t M_{t−1}                                  reads see the memory before this step's write
    M_t            = M_{t−1} ∘ Π(1 − w^w_t e_tᵀ) + Σ w^w_t a_tᵀ     erase then add
    y_t            = [h_t, r_t]

All heads address the same M_{t−1}, so their addressing runs as one batched call.

Numerical safety by construction (the usual NaN sources of public NTMs): ε in every norm and
normaliser (``addressing``), β = softplus ≥ 0, γ = 1 + softplus ≥ 1, sharpening as
softmax(γ log(w + ε)), controller outputs clipped to ±``clip`` (Collier & Beel 2018), and the
memory initialised to a small constant (1e-6) by default, which Collier & Beel report to
converge about twice as fast as learned or random initialisation (the other options:
``memory_init="learned"``, a parameter N × W, or ``"random"``, N(0, 0.5²) drawn per
sequence from the global RNG). The initial weightings are
learned but start focused on location 0: a uniform start over a constant memory is a
symmetric fixed point that location-based addressing could never leave.

Parameterisation of the head outputs (Collier & Beel 2018): k = tanh, β = softplus,
g = sigmoid, s = softmax over the 2R + 1 shifts, γ = 1 + softplus, e = sigmoid, a = tanh.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from memlab.core.errors import ConfigError
from memlab.core.interfaces import MemoryCore, run_core, tree_map
from memlab.memory import addressing as A

ControllerKind = Literal["lstm", "ff"]
MemoryInit = Literal["constant", "learned", "random"]


class NTMState(NamedTuple):
    """memory M_t: (B, N, W); weights w_t: (B, Hr + Hw, N), read heads first;
    reads r_t: (B, Hr, W); h, c: (B, C) controller state (c unused by a feed-forward controller)."""

    memory: Tensor
    weights: Tensor
    reads: Tensor
    h: Tensor
    c: Tensor


class Controller(nn.Module):
    """LSTM (gate order i, f, o, g) or one tanh layer over [x_t, r_{t−1}].

    ``step(xproj, rest, h, c)`` takes the input part of the pre-activations already projected
    (``project_input``), so whole sequences can project x_1..x_T in one matrix product.
    """

    def __init__(self, kind: ControllerKind, input_size: int, read_size: int, size: int):
        super().__init__()
        if kind not in ("lstm", "ff"):
            raise ConfigError(f"controller={kind!r} is not allowed; choose one of lstm, ff")
        self.kind, self.input_size, self.size = kind, input_size, size
        gates = 4 * size if kind == "lstm" else size
        self.w_x = nn.Linear(input_size, gates)
        self.w_r = nn.Linear(read_size, gates, bias=False)
        self.w_h = nn.Linear(size, gates, bias=False) if kind == "lstm" else None
        if kind == "lstm":
            with torch.no_grad():  # forget-gate bias 1 (Gers et al. 2000)
                self.w_x.bias[size : 2 * size].fill_(1.0)

    def project_input(self, x: Tensor) -> Tensor:
        """W_x x + b for x: (..., I) -> (..., G)."""
        return self.w_x(x)

    def recurrent_weight(self) -> Tensor:
        """[W_r, W_h]: (G, read_size + C) — concatenated once per sequence."""
        if self.w_h is None:
            return self.w_r.weight
        return torch.cat([self.w_r.weight, self.w_h.weight], dim=1)

    def step(self, xproj: Tensor, r_prev: Tensor, h: Tensor, c: Tensor, w_rec: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """xproj: (B, G); r_prev: (B, Hr·W); h, c: (B, C) -> (h_t, c_t)."""
        if w_rec is None:
            w_rec = self.recurrent_weight()
        rest = torch.cat([r_prev, h], dim=1) if self.w_h is not None else r_prev  # (B, Hr·W [+ C])
        pre = torch.addmm(xproj, rest, w_rec.t())  # (B, G)
        if self.kind == "ff":
            return torch.tanh(pre), c
        C = self.size
        sig = torch.sigmoid(pre[:, : 3 * C])  # (B, 3C): i, f, o
        g = torch.tanh(pre[:, 3 * C :])  # (B, C)
        c = sig[:, C : 2 * C] * c + sig[:, :C] * g
        h = sig[:, 2 * C :] * torch.tanh(c)
        return h, c


class NTMCore(MemoryCore):
    """NTM with ``read_heads`` + ``write_heads`` heads over an N × W memory.

    ``forward(x_t (B, I), state)`` -> ``(y_t (B, C + Hr·W), state)``; ``forward_sequence``
    is the fast path (input projection for all steps in one product, recurrent weights
    concatenated once) and agrees with stepping ``forward``. With ``compile_step`` the step
    inside ``forward_sequence`` goes through ``torch.compile``: the ~50 small ops of a step
    fuse into a few kernels, which is where the time goes at NTM sizes (per-op overhead,
    not arithmetic). It pays off for runs longer than the ~1 min of compilation.
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
        shift_range: int = 1,
        memory_init: MemoryInit = "constant",
        init_value: float = 1e-6,
        clip: float = 20.0,
        eps: float = A.EPS,
        compile_step: bool = False,
    ):
        super().__init__()
        if memory_size < 1 or word_size < 1 or read_heads < 1 or write_heads < 1 or controller_size < 1:
            raise ConfigError("NTM sizes (memory_size, word_size, read_heads, write_heads, controller_size) must be >= 1")
        if not 0 <= shift_range <= (memory_size - 1) // 2:
            raise ConfigError(
                f"shift_range={shift_range} does not fit memory_size={memory_size}; allowed: 0 <= shift_range <= {(memory_size - 1) // 2}"
            )
        if memory_init not in ("constant", "learned", "random"):
            raise ConfigError(f"memory_init={memory_init!r} is not allowed; choose one of constant, learned, random")
        self.input_size = input_size
        self.N, self.W, self.Hr, self.Hw = memory_size, word_size, read_heads, write_heads
        self.H = read_heads + write_heads
        self.S = 2 * shift_range + 1
        self.memory_init, self.init_value, self.clip, self.eps = memory_init, init_value, clip, eps
        self.compile_step = compile_step
        self._compiled_step = None  # built on first use (torch.compile is lazy and process-local)
        self.controller = Controller(controller, input_size, read_heads * word_size, controller_size)
        self.output_size = controller_size + read_heads * word_size
        H, W, S = self.H, self.W, self.S
        # head outputs laid out by kind so all heads are addressed in one batched call:
        # [k (H·W) | β (H) | g (H) | s (H·S) | γ (H) | e (Hw·W) | a (Hw·W)]
        self.sizes = [H * W, H, H, H * S, H, write_heads * W, write_heads * W]
        self.heads = nn.Linear(controller_size, sum(self.sizes))
        self.h0 = nn.Parameter(torch.zeros(controller_size))
        self.c0 = nn.Parameter(torch.zeros(controller_size))
        w0 = torch.zeros(H, memory_size)
        w0[:, 0] = 10.0  # softmax ≈ 0.99 on location 0; see the module docstring
        self.w0_logits = nn.Parameter(w0)
        if memory_init == "learned":
            self.m0 = nn.Parameter(torch.randn(memory_size, word_size) * 0.5)
        else:
            self.m0 = None

    # ------------------------------------------------------------------ state
    def initial_state(self, batch_size: int, device=None) -> NTMState:
        device = device if device is not None else self.h0.device
        dtype = self.h0.dtype
        if self.memory_init == "constant":
            memory = torch.full((batch_size, self.N, self.W), self.init_value, device=device, dtype=dtype)
        elif self.memory_init == "learned":
            memory = self.m0.unsqueeze(0).expand(batch_size, -1, -1)
        else:
            memory = torch.randn(batch_size, self.N, self.W, device=device, dtype=dtype) * 0.5
        weights = torch.softmax(self.w0_logits, -1).unsqueeze(0).expand(batch_size, -1, -1)  # (B, H, N)
        reads = A.read_memory(memory, weights[:, : self.Hr])  # (B, Hr, W)
        h = self.h0.unsqueeze(0).expand(batch_size, -1)
        c = self.c0.unsqueeze(0).expand(batch_size, -1)
        return NTMState(memory, weights, reads, h, c)

    def state_size(self, steps: int = 0) -> int:
        C = self.controller.size
        return self.N * self.W + self.H * self.N + self.Hr * self.W + 2 * C

    # ------------------------------------------------------------------ step
    def head_params(self, h: Tensor) -> tuple[Tensor, ...]:
        """Controller output h_t (B, C) -> k (B,H,W), β, g, γ (B,H), s (B,H,S), e, a (B,Hw,W)."""
        B = h.shape[0]
        out = self.heads(h)
        if self.clip > 0:
            out = out.clamp(-self.clip, self.clip)
        k, beta, g, s, gamma, e, a = torch.split(out, self.sizes, dim=1)
        k = torch.tanh(k).view(B, self.H, self.W)  # (B, H, W)
        beta = F.softplus(beta)  # β_t ≥ 0
        g = torch.sigmoid(g)  # g_t ∈ (0, 1)
        s = torch.softmax(s.view(B, self.H, self.S), -1)  # (B, H, S)
        gamma = A.oneplus(gamma)  # γ_t ≥ 1
        e = torch.sigmoid(e).view(B, self.Hw, self.W)  # (B, Hw, W)
        a = torch.tanh(a).view(B, self.Hw, self.W)  # (B, Hw, W)
        return k, beta, g, s, gamma, e, a

    def _step(self, xproj: Tensor, state: NTMState, w_rec: Tensor | None = None) -> tuple[Tensor, NTMState]:
        B = xproj.shape[0]
        h, c = self.controller.step(xproj, state.reads.reshape(B, -1), state.h, state.c, w_rec)
        k, beta, g, s, gamma, e, a = self.head_params(h)
        w = A.ntm_address(state.memory, state.weights, k, beta, g, s, gamma, self.eps)  # (B, H, N)
        reads = A.read_memory(state.memory, w[:, : self.Hr])  # (B, Hr, W)
        memory = A.erase_add(state.memory, w[:, self.Hr :], e, a)  # (B, N, W)
        y = torch.cat([h, reads.reshape(B, -1)], dim=1)  # (B, C + Hr·W)
        return y, NTMState(memory, w, reads, h, c)

    def forward(self, x_t: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """x_t: (B, I) -> y_t: (B, C + Hr·W) and the next state."""
        return self._step(self.controller.project_input(x_t), state)

    def forward_sequence(self, xs: Tensor, state: NTMState | None = None, lengths: Tensor | None = None):
        """xs: (T, B, I) -> ys: (T, B, C + Hr·W), final state."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        B = xs.shape[1]
        if state is None:
            state = self.initial_state(B, xs.device)
        xproj = self.controller.project_input(xs)  # (T, B, G), one product for all steps
        w_rec = self.controller.recurrent_weight()
        step = self._step
        if self.compile_step:
            if self._compiled_step is None:
                self._compiled_step = torch.compile(self._step, dynamic=False)
            step = self._compiled_step
            state = tree_map(lambda x: x.contiguous(), state)  # one stride pattern: no recompiles after t = 0
        ys = []
        # unbind, not xproj[t]: indexing would give each step's backward a full (T, B, G) zero tensor
        for xp in xproj.unbind(0):
            y, state = step(xp, state, w_rec)
            ys.append(y)
        return torch.stack(ys, 0), state  # (T, B, O)

    @torch.no_grad()
    def trace(self, xs: Tensor) -> dict[str, Tensor]:
        """Weightings over time for plots: read (T, B, Hr, N), write (T, B, Hw, N), and memory (T, B, N, W)."""
        T, B, _ = xs.shape
        state = self.initial_state(B, xs.device)
        reads, writes, mems = [], [], []
        for t in range(T):
            _, state = self(xs[t], state)
            reads.append(state.weights[:, : self.Hr])
            writes.append(state.weights[:, self.Hr :])
            mems.append(state.memory)
        return {"read": torch.stack(reads), "write": torch.stack(writes), "memory": torch.stack(mems)}
