"""Neural Turing Machine memory access (Graves, Wayne & Danihelka 2014): the heads only.

A controller (``memlab.controllers``: the LSTM by default, or a feed-forward layer, GRU, Elman)
reads [x_t, r_{t−1}] and gives h_t; the composition (``memlab.models.compose``) hands h_t to
this access module, which addresses, reads and writes the memory with the NTM addressing of
``memlab.memory.addressing``:

    k, β, g, s, γ, e, a = heads(h_t)                                per head (read and write)
    w_t  = sharpen(shift(interp(content(M_{t−1}, k, β), w_{t−1}, g), s), γ)     (eqs. 5–9)
    r_t  = w^r_t M_{t−1}                                  reads see the memory before this step's write
    M_t  = M_{t−1} ∘ Π(1 − w^w_t e_tᵀ) + Σ w^w_t a_tᵀ     erase then add (eqs. 3–4)
    y_t  = [h_t, r_t]                                     (the composition's output)

All heads address the same M_{t−1}, so their addressing runs as one batched call.

Numerical safety by construction (the usual NaN sources of public NTMs): ε in every norm and
normaliser (``addressing``), β = softplus ≥ 0, γ = 1 + softplus ≥ 1, sharpening as
softmax(γ log(w + ε)), head outputs clipped to ±``clip`` (Collier & Beel 2018), and the
memory initialised to a small constant (1e-6) by default, which Collier & Beel report to
converge about twice as fast as learned or random initialisation (the other options:
``memory_init="learned"``, a parameter N × W, or ``"random"``, N(0, 0.5²) drawn per
sequence from the global RNG). The initial weightings are learned but start focused on
location 0: a uniform start over a constant memory is a symmetric fixed point that
location-based addressing could never leave.

Parameterisation of the head outputs (Collier & Beel 2018): k = tanh, β = softplus,
g = sigmoid, s = softmax over the 2R + 1 shifts, γ = 1 + softplus, e = sigmoid, a = tanh.

Kernels (``model.kernel``). ``reference``: the composed step (controller ``forward``, then
``NTMAccess.forward``) in a loop, which ``model.compile=true`` runs through ``torch.compile``.
``fused`` (default): ``memlab.memory.kernels.ntm_scan``, the whole sequence as one autograd node
with hand-written BPTT, for the LSTM (standard variant) and feed-forward controllers; other
controllers run the reference. With ``fused``, ``model.compile=true`` compiles the kernel's
step functions (``fused_sequence(..., compile=True)``). ``autograd``, the old name of ``reference``, is accepted when an
old config is read.

Shapes: B batch, C controller output size, Hr read and Hw write heads (H = Hr + Hw, read heads
first), memory N × W, S = 2R + 1 shifts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from memlab.core.errors import ConfigError, check_alloc, check_choice
from memlab.memory import MemoryEntry
from memlab.memory import addressing as A
from memlab.memory.kernels.ntm_scan import NTMSpec, ScanState, controller_operands, ntm_scan

MemoryInit = Literal["constant", "learned", "random"]
MEMORY_INITS = ("constant", "learned", "random")


@dataclass
class NTMConfig:
    """The NTM access settings (validated once, with the composition's, as ``model.*`` keys)."""

    memory_size: int = 128  # N locations
    word_size: int = 20  # W
    read_heads: int = 1
    write_heads: int = 1
    shift_range: int = 1  # shifts −R..R
    memory_init: str = "constant"  # constant | learned | random
    init_value: float = 1e-6  # the constant of memory_init="constant"
    clip: float = 20.0  # clip head outputs to ±clip; 0 = off

    def validate(self) -> None:
        check_choice("model.memory_init", self.memory_init, MEMORY_INITS)
        for name in ("memory_size", "word_size", "read_heads", "write_heads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name}={getattr(self, name)} is out of range; allowed: >= 1")
        r_max = (self.memory_size - 1) // 2
        if not 0 <= self.shift_range <= r_max:
            raise ConfigError(
                f"model.shift_range={self.shift_range} is wider than the memory (memory_size={self.memory_size}); "
                f"allowed: 0 <= shift_range <= {r_max}"
            )
        if not math.isfinite(self.init_value):
            raise ConfigError(f"model.init_value={self.init_value} is not allowed; expected a finite number")
        if not (math.isfinite(self.clip) and self.clip >= 0):
            raise ConfigError(f"model.clip={self.clip} is out of range; allowed: >= 0 (0 = no clipping), finite")
        # the parameters that grow with N (initial weighting logits, and M_0 when learned), before any is allocated
        n_params = self.memory_size * (self.read_heads + self.write_heads
                                       + (self.word_size if self.memory_init == "learned" else 0))
        learned = f", word_size={self.word_size} (memory_init=learned)" if self.memory_init == "learned" else ""
        check_alloc(f"model.memory_size={self.memory_size} with read_heads={self.read_heads}, "
                    f"write_heads={self.write_heads}{learned}", 4 * n_params, hint="lower them")


class NTMState(NamedTuple):
    """memory M_t: (B, N, W); weights w_t: (B, Hr + Hw, N), read heads first; reads r_t: (B, Hr, W)."""

    memory: Tensor
    weights: Tensor
    reads: Tensor


class NTMAccess(nn.Module):
    """NTM heads over an N × W memory, driven by a controller output h_t of size ``controller_size``.

    ``forward(h_t (B, C), state)`` -> ``(r_t (B, Hr·W), state)``. Parameters: the head layer
    (C -> P), the initial weighting logits (H, N) and, with ``memory_init="learned"``, M_0 (N, W).
    """

    def __init__(self, cfg: NTMConfig, controller_size: int):
        super().__init__()
        self.cfg = cfg
        self.N, self.W, self.Hr, self.Hw = cfg.memory_size, cfg.word_size, cfg.read_heads, cfg.write_heads
        self.H = self.Hr + self.Hw
        self.S = 2 * cfg.shift_range + 1
        self.C = controller_size
        self.eps = A.EPS
        self.read_size = self.Hr * self.W
        H, W, S = self.H, self.W, self.S
        # head outputs laid out by kind so all heads are addressed in one batched call:
        # [k (H·W) | β (H) | g (H) | s (H·S) | γ (H) | e (Hw·W) | a (Hw·W)]
        self.sizes = [H * W, H, H, H * S, H, self.Hw * W, self.Hw * W]
        self.heads = nn.Linear(controller_size, sum(self.sizes))
        w0 = torch.zeros(H, self.N)
        w0[:, 0] = 10.0  # softmax ≈ 0.99 on location 0; see the module docstring
        self.w0_logits = nn.Parameter(w0)
        self.m0 = nn.Parameter(torch.randn(self.N, W) * 0.5) if cfg.memory_init == "learned" else None

    def initial_state(self, batch_size: int, device=None) -> NTMState:
        device = device if device is not None else self.w0_logits.device
        dtype, init = self.w0_logits.dtype, self.cfg.memory_init
        if init == "constant":
            memory = torch.full((batch_size, self.N, self.W), self.cfg.init_value, device=device, dtype=dtype)
        elif init == "learned":
            memory = self.m0.unsqueeze(0).expand(batch_size, -1, -1)
        else:
            memory = torch.randn(batch_size, self.N, self.W, device=device, dtype=dtype) * 0.5
        weights = torch.softmax(self.w0_logits, -1).unsqueeze(0).expand(batch_size, -1, -1)  # (B, H, N)
        return NTMState(memory, weights, A.read_memory(memory, weights[:, : self.Hr]))  # reads (B, Hr, W)

    def state_size(self) -> int:
        return self.N * self.W + self.H * self.N + self.Hr * self.W

    def reads(self, state: NTMState) -> Tensor:
        """r_{t−1} flattened for the controller: (B, Hr·W)."""
        return state.reads.reshape(state.reads.shape[0], -1)

    def head_params(self, h: Tensor) -> tuple[Tensor, ...]:
        """Controller output h_t (B, C) -> k (B,H,W), β, g, γ (B,H), s (B,H,S), e, a (B,Hw,W)."""
        B = h.shape[0]
        out = self.heads(h)
        if self.cfg.clip > 0:
            out = out.clamp(-self.cfg.clip, self.cfg.clip)
        k, beta, g, s, gamma, e, a = torch.split(out, self.sizes, dim=1)
        k = torch.tanh(k).view(B, self.H, self.W)  # (B, H, W)
        beta = F.softplus(beta)  # β_t ≥ 0
        g = torch.sigmoid(g)  # g_t ∈ (0, 1)
        s = torch.softmax(s.view(B, self.H, self.S), -1)  # (B, H, S)
        gamma = A.oneplus(gamma)  # γ_t ≥ 1
        e = torch.sigmoid(e).view(B, self.Hw, self.W)  # (B, Hw, W)
        a = torch.tanh(a).view(B, self.Hw, self.W)  # (B, Hw, W)
        return k, beta, g, s, gamma, e, a

    def forward(self, h: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """h_t (B, C) -> r_t (B, Hr·W) and the next state (the reference step of the access)."""
        B = h.shape[0]
        k, beta, g, s, gamma, e, a = self.head_params(h)
        w = A.ntm_address(state.memory, state.weights, k, beta, g, s, gamma, self.eps)  # (B, H, N)
        reads = A.read_memory(state.memory, w[:, : self.Hr])  # (B, Hr, W)
        memory = A.erase_add(state.memory, w[:, self.Hr :], e, a)  # (B, N, W)
        return reads.reshape(B, -1), NTMState(memory, w, reads)

    def spec(self, kind: str) -> NTMSpec:
        """The static sizes the fused kernel needs, for controller kind ``lstm`` or ``ff``."""
        return NTMSpec(kind, self.C, self.Hr, self.Hw, self.N, self.W, self.S, tuple(self.sizes),
                       float(self.cfg.clip), float(self.eps))

    def fused_sequence(self, controller, xs: Tensor, state: NTMState, ctrl_state, compile: bool = False):
        """The whole sequence through ``ntm_scan`` with ``controller`` inlined.

        xs (T, B, I) -> (ys (T, B, C + Hr·W), final NTMState, final controller state), or None
        when the kernel does not cover this controller (the caller then runs the reference).
        ``compile``: the kernel's step functions through ``torch.compile`` (``model.compile=true``).
        """
        ops = controller_operands(controller, xs)
        if ops is None:
            return None
        kind, xproj, W_rec = ops
        if kind == "lstm":
            h, c = ctrl_state.r, ctrl_state.c
        else:  # a feed-forward controller reads neither h_{t−1} nor c
            h = c = state.memory.new_zeros(xs.shape[1], self.C)
        ys, fin = ntm_scan(xproj, W_rec, self.heads.weight, self.heads.bias, ScanState(*state, h, c), self.spec(kind),
                           compile=compile)
        ctrl = type(ctrl_state)(fin.h, fin.c) if kind == "lstm" else ctrl_state
        return ys, NTMState(fin.memory, fin.weights, fin.reads), ctrl

    @staticmethod
    def upgrade_state_dict(sd: dict[str, Tensor], prefix: str, core) -> None:
        """Rename, in place, weights saved before the redesign (a core with its own controller:
        ``controller.w_x`` (G, I) + bias, ``controller.w_r`` (G, Hr·W), ``controller.w_h`` (G, C),
        LSTM gate rows in the order i, f, o, g, and ``h0``, ``c0``, ``heads``, ``w0_logits``,
        ``m0`` on the core) to the composed core's (``controller.W_x`` = [w_x | w_r] and ``W_r`` =
        w_h with rows i, f, g, o, or ``controller.W``; ``init_state``; ``access.*``).
        ``ControlledMemory`` calls it when a state dict is loaded; new state dicts pass unchanged."""
        from memlab.controllers.legacy import rename_legacy_controller

        if not rename_legacy_controller(sd, prefix, core):
            return
        for name in ("heads.weight", "heads.bias", "w0_logits", "m0"):
            if prefix + name in sd:
                sd[prefix + "access." + name] = sd.pop(prefix + name)

    def trace_step(self, state: NTMState) -> dict[str, Tensor]:
        """What the weighting plots read at one step: read (B, Hr, N), write (B, Hw, N), memory (B, N, W)."""
        return {"read": state.weights[:, : self.Hr], "write": state.weights[:, self.Hr :], "memory": state.memory}


ENTRY = MemoryEntry(
    config_cls=NTMConfig,
    build=NTMAccess,
    description="Neural Turing Machine (Graves et al. 2014): N x W memory, content + location heads",
    kernels=("fused", "reference"),
    smoke={"controller_size": 8, "memory_size": 8, "word_size": 4},
)


def NTMCore(input_size: int, *, controller: str = "lstm", controller_size: int = 100, kernel: str = "fused",
            compile_step: bool = False, **access):
    """An NTM core (controller + ``NTMAccess``) for input size I, as a ``MemoryCore``.

    Kept for callers of the old class (analyses build ``NTMCore(1, controller_size=16, ...)``);
    it is ``memlab.models.compose.make_core("ntm", ...)``. ``access`` holds ``NTMConfig`` keys.
    """
    from memlab.models.compose import make_core

    return make_core("ntm", input_size, controller=controller, controller_size=controller_size, kernel=kernel,
                     compile=compile_step, **access)


__all__ = ["NTMConfig", "NTMState", "NTMAccess", "NTMCore", "NTMSpec", "ScanState", "ntm_scan", "ENTRY"]

