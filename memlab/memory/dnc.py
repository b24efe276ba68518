"""Differentiable Neural Computer memory access (Graves et al. 2016): usage, allocation,
temporal links, content and directional reads — the access only.

A controller (``memlab.controllers``: the LSTM by default, or a feed-forward layer, GRU, Elman)
reads [x_t, r_{t−1}] and gives h_t; the composition (``memlab.models.compose``) hands h_t to
this module, which addresses, writes and reads with the DNC functions of
``memlab.memory.addressing`` (DNC Methods):

    ξ_t       = interface(h_t)            keys, strengths, e_t, v_t, free/alloc/write gates, read modes
    ψ_t       = Π_r (1 − f^r_t w^r_{t−1})                         retention
    u_t       = (u_{t−1} + w^w_{t−1} − u_{t−1} ∘ w^w_{t−1}) ∘ ψ_t  usage
    a_t       = allocation(u_t)                                   free list by sorted usage
    w^w_t     = g^w_t [g^a_t a_t + (1 − g^a_t) C(M_{t−1}, k^w_t, β^w_t)]
    M_t       = M_{t−1} ∘ (1 − w^w_t e_tᵀ) + w^w_t v_tᵀ
    L_t, p_t  = temporal links and precedence from w^w_t
    w^r_t     = π_t[b] L_tᵀ w^r_{t−1} + π_t[c] C(M_t, k^r_t, β^r_t) + π_t[f] L_t w^r_{t−1}
    r_t       = w^rᵀ_t M_t
    y_t       = [h_t, r_t]                                        (the composition's output)

The write happens before the reads (as in the paper), so a read can return what was written
at the same step. Several write heads are supported (each with its own link matrix,
allocated one after another); the read modes then have 1 + 2·Hw entries.
Activations: keys raw, strengths oneplus (≥ 1), e_t, gates sigmoid, modes softmax;
interface outputs are clipped to ±``clip``; memory starts at zero and every normaliser
has an ε, so the first step on the all-zero memory is finite in value and gradient.

Kernels (``model.kernel``). ``reference``: the composed step (``dnc_step_ref`` =
``compose_step_ref``: the controller's ``forward``, then ``DNCAccess.forward``) in a loop, which ``model.compile=true``
runs through ``torch.compile``. ``fused`` (default): ``memlab.memory.kernels.dnc_scan``, the
whole sequence as one autograd node with hand-written BPTT and recomputed links, for an LSTM
(standard variant) or feed-forward controller and one write head; other layouts run the
reference. ``DNCCore(input_size, ...)`` builds the composed core as before.

Shapes: B batch, C controller output size, R read heads, Hw write heads, memory N × W.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError, check_finite
from memlab.memory import MemoryEntry
from memlab.memory import addressing as A


@dataclass
class DNCConfig:
    """``model.*`` settings of the DNC's memory access (the composition adds controller, kernel, …)."""

    memory_size: int = 128  # N locations
    word_size: int = 20  # W
    read_heads: int = 1  # R (the DNC paper used 4 for its larger tasks)
    write_heads: int = 1  # Hw
    clip: float = 20.0  # clip the interface vector to ±clip; 0 = off

    def validate(self) -> None:
        for name in ("memory_size", "word_size", "read_heads", "write_heads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name}={getattr(self, name)} is out of range; allowed: >= 1")
        check_finite("model.clip", self.clip)
        if self.clip < 0:
            raise ConfigError(f"model.clip={self.clip} is out of range; allowed: >= 0 (0 = no clipping)")


class DNCState(NamedTuple):
    """memory M_t (B, N, W); read_weights (B, R, N); write_weights (B, Hw, N);
    link L_t (B, Hw, N, N); precedence p_t (B, Hw, N); usage u_t (B, N); reads r_t (B, R, W)."""

    memory: Tensor
    read_weights: Tensor
    write_weights: Tensor
    link: Tensor
    precedence: Tensor
    usage: Tensor
    reads: Tensor


class Interface(NamedTuple):
    """The interface vector ξ_t split and activated (R read heads, Hw write heads)."""

    read_keys: Tensor  # k^r_t (B, R, W)
    read_strengths: Tensor  # β^r_t ≥ 1 (B, R)
    write_keys: Tensor  # k^w_t (B, Hw, W)
    write_strengths: Tensor  # β^w_t ≥ 1 (B, Hw)
    erase: Tensor  # e_t ∈ (0, 1) (B, Hw, W)
    write_vectors: Tensor  # v_t (B, Hw, W)
    free_gates: Tensor  # f^r_t (B, R)
    alloc_gates: Tensor  # g^a_t (B, Hw)
    write_gates: Tensor  # g^w_t (B, Hw)
    read_modes: Tensor  # π^r_t (B, R, 1 + 2Hw): [backward_1..Hw, forward_1..Hw, content]


def interface_sizes(R: int, Hw: int, W: int) -> list[int]:
    """Widths of the parts of ξ_t, in order:
    [k^r (R·W) | β^r (R) | k^w (Hw·W) | β^w (Hw) | e (Hw·W) | v (Hw·W) | f (R) | g^a (Hw) | g^w (Hw) | π (R·(1+2Hw))]."""
    return [R * W, R, Hw * W, Hw, Hw * W, Hw * W, R, Hw, Hw, R * (1 + 2 * Hw)]


class DNCAccess(nn.Module):
    """DNC memory access driven by a controller output h_t of size ``controller_size``.

    ``forward(h_t (B, C), state)`` -> ``(r_t (B, R·W), state)``. Parameters: the interface
    layer ξ_t = clip(W_ξ h_t + b_ξ) only; the addressing maths is ``memlab.memory.addressing``.
    """

    def __init__(self, cfg: DNCConfig, controller_size: int, eps: float = A.EPS):
        super().__init__()
        self.cfg = cfg
        self.N, self.W, self.R, self.Hw = cfg.memory_size, cfg.word_size, cfg.read_heads, cfg.write_heads
        self.C, self.clip, self.eps = controller_size, float(cfg.clip), eps
        self.read_size = self.R * self.W
        self.n_modes = 1 + 2 * self.Hw
        self.sizes = interface_sizes(self.R, self.Hw, self.W)
        self.interface = nn.Linear(controller_size, sum(self.sizes))
        self.compile_kernel = False  # dnc_scan's step functions through torch.compile

    def initial_state(self, batch_size: int, device=None) -> DNCState:
        """All-zero memory, weightings, links, usage and reads."""
        B, N, W, R, Hw = batch_size, self.N, self.W, self.R, self.Hw
        z = dict(device=device if device is not None else self.interface.weight.device, dtype=self.interface.weight.dtype)
        return DNCState(
            memory=torch.zeros(B, N, W, **z), read_weights=torch.zeros(B, R, N, **z),
            write_weights=torch.zeros(B, Hw, N, **z), link=torch.zeros(B, Hw, N, N, **z),
            precedence=torch.zeros(B, Hw, N, **z), usage=torch.zeros(B, N, **z), reads=torch.zeros(B, R, W, **z),
        )

    def state_size(self) -> int:
        N, W, R, Hw = self.N, self.W, self.R, self.Hw
        return N * W + R * N + Hw * N + Hw * N * N + Hw * N + N + R * W

    def reads(self, state: DNCState) -> Tensor:
        """r_{t−1} flattened for the controller: (B, R·W)."""
        return state.reads.reshape(state.reads.shape[0], -1)

    def interface_params(self, h: Tensor) -> Interface:
        """Controller output h_t (B, C) -> the interface vector ξ_t, split and activated."""
        B, R, Hw, W = h.shape[0], self.R, self.Hw, self.W
        xi = self.interface(h)  # (B, P)
        if self.clip > 0:
            xi = xi.clamp(-self.clip, self.clip)
        kr, br, kw, bw, e, v, f, ga, gw, pi = torch.split(xi, self.sizes, dim=1)
        return Interface(
            kr.view(B, R, W), A.oneplus(br), kw.view(B, Hw, W), A.oneplus(bw), torch.sigmoid(e).view(B, Hw, W),
            v.view(B, Hw, W), torch.sigmoid(f), torch.sigmoid(ga), torch.sigmoid(gw),
            torch.softmax(pi.view(B, R, self.n_modes), -1),
        )

    def forward(self, h: Tensor, s: DNCState) -> tuple[Tensor, DNCState]:
        """h_t (B, C) and the state at t−1 -> r_t (B, R·W) and the state at t (the reference step)."""
        p = self.interface_params(h)
        psi = A.retention(p.free_gates, s.read_weights)  # ψ_t (B, N)
        usage = A.usage_update(s.usage, s.write_weights, psi)  # u_t (B, N)
        w_content = A.content_weighting(s.memory, p.write_keys, p.write_strengths, self.eps)  # (B, Hw, N)
        w_alloc = A.write_allocations(usage, p.write_gates, self.eps)  # (B, Hw, N)
        ww = A.write_weighting(w_content, w_alloc, p.alloc_gates, p.write_gates)  # w^w_t (B, Hw, N)
        memory = A.erase_add(s.memory, ww, p.erase, p.write_vectors)  # M_t (B, N, W)
        link = A.link_update(s.link, s.precedence, ww)  # L_t (B, Hw, N, N)
        precedence = A.precedence_update(s.precedence, ww)  # p_t (B, Hw, N)
        fwd, bwd = A.directional_weightings(link, s.read_weights)  # (B, R, Hw, N) each
        r_content = A.content_weighting(memory, p.read_keys, p.read_strengths, self.eps)  # (B, R, N)
        wr = A.read_weighting(r_content, fwd, bwd, p.read_modes)  # w^r_t (B, R, N)
        reads = A.read_memory(memory, wr)  # r_t (B, R, W)
        return reads.reshape(h.shape[0], -1), DNCState(memory, wr, ww, link, precedence, usage, reads)

    def fused_sequence(self, controller, xs: Tensor, state: DNCState, ctrl_state, compile: bool | None = None):
        """The whole sequence through ``dnc_scan`` with ``controller`` inlined.

        xs (T, B, I) -> (ys (T, B, C + R·W), final DNCState, final controller state), or None
        where the kernel does not cover the layout (the caller then runs the reference).
        ``compile``: the kernel's step functions through ``torch.compile`` (default
        ``self.compile_kernel``; seconds to compile once per shape, then the fastest path).
        """
        from memlab.memory.kernels.dnc_scan import dnc_scan
        from memlab.memory.kernels.ntm_scan import controller_operands

        if self.Hw != 1 or xs.shape[0] == 0:
            return None
        ops = controller_operands(controller, xs)
        if ops is None:
            return None
        kind, xproj, W_rec = ops
        if kind == "lstm":
            h, c = ctrl_state.r, ctrl_state.c
        else:  # a feed-forward controller reads neither h_{t−1} nor c
            h = c = state.memory.new_zeros(xs.shape[1], self.C)
        ys, fin, h, c = dnc_scan(kind, xproj, W_rec, self, state, h, c, compiled=self.compile_kernel if compile is None else compile)
        ctrl = type(ctrl_state)(h, c) if kind == "lstm" else ctrl_state
        return ys, DNCState(*fin), ctrl

    @staticmethod
    def upgrade_state_dict(sd: dict[str, Tensor], prefix: str, core) -> None:
        """Rename, in place, weights saved before the redesign (``DNCCore`` with the NTM's
        controller: ``controller.w_x`` (G, I) + bias, ``controller.w_r`` (G, R·W),
        ``controller.w_h`` (G, C), LSTM gate rows in the order i, f, o, g, and ``h0``, ``c0``,
        ``interface`` on the core) to the composed core's (``controller.W_x`` = [w_x | w_r] and
        ``W_r`` = w_h with rows i, f, g, o, or ``controller.W``; ``init_state``; ``access.interface``).
        ``ControlledMemory`` calls it when a state dict is loaded; new state dicts pass unchanged."""
        from memlab.controllers.legacy import rename_legacy_controller

        if not rename_legacy_controller(sd, prefix, core):
            return
        for name in ("interface.weight", "interface.bias"):
            if prefix + name in sd:
                sd[prefix + "access." + name] = sd.pop(prefix + name)

    def trace_step(self, state: DNCState) -> dict[str, Tensor]:
        """What the weighting plots read at one step: read (B, R, N), write (B, Hw, N), usage (B, N)."""
        return {"read": state.read_weights, "write": state.write_weights, "usage": state.usage}


ENTRY = MemoryEntry(
    config_cls=DNCConfig,
    build=DNCAccess,
    description="Differentiable Neural Computer (Graves et al. 2016): usage/allocation, temporal links, content reads",
    kernels=("fused", "reference"),
    smoke={"controller_size": 8, "memory_size": 8, "word_size": 4, "read_heads": 2},
)


def dnc_step_ref(core, x_t: Tensor, state):
    """The per-step reference of a DNC core: ``compose_step_ref`` (h_t = controller([x_t, r_{t−1}]),
    then ``DNCAccess.forward``), what ``model.kernel=reference`` loops and ``dnc_scan`` is tested against.

    core: a ``DNCCore``; x_t (B, I) -> y_t (B, C + R·W) and the next ``ComposedState``.
    """
    from memlab.models.compose import compose_step_ref

    return compose_step_ref(core, x_t, state)


def DNCCore(input_size: int, *, controller: str = "lstm", controller_size: int = 100, kernel: str = "fused",
            compile_step: bool = False, **access):
    """A DNC core (controller + ``DNCAccess``) for input size I, as a ``MemoryCore``.

    Kept for callers of the old class (analyses build ``DNCCore(1, controller_size=16, ...)``);
    it is ``memlab.models.compose.make_core("dnc", ...)``. ``access`` holds ``DNCConfig`` keys.
    """
    from memlab.models.compose import make_core

    return make_core("dnc", input_size, controller=controller, controller_size=controller_size, kernel=kernel,
                     compile=compile_step, **access)


__all__ = ["DNCConfig", "DNCState", "Interface", "DNCAccess", "DNCCore", "ENTRY", "dnc_step_ref", "interface_sizes"]
