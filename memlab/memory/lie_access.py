"""Lie Access memory (seed 004 §3, Fig. 1, Fig. 5): the maths, the access step and its reference scan.

The memory is a growing dictionary: each write head appends one slot per step holding an
address a_i ∈ R^n, a memory vector M_i = tanh(·) ∈ R^m and a strength S_i ∈ [0, 1] (§3.2);
nothing is ever erased. A read head turns its key k into weights w_i over the slots (§3.1)
and reads ρ = Σ_i w_i M_i.

Keys move by random access or Lie access (§3.3–3.4), per head and step:

    k̄ = g·k̃ + (1−g)·k_prev          # gate g ∈ [0,1] mixes the candidate key k̃ with the old key
    v = h·ṽ + (1−h)·v_prev            # step interpolation (group-specific, memlab.memory.lie_groups)
    k = v·k̄                           # Lie action

The controller is THE LSTM of ``memlab.controllers.lstm`` (``lstm_cell_step``, gates i, f, g, o)
reading [x_t, ρ_{t−1}]; its h_t emits every head's instructions through one linear layer.
``lantm_step_ref`` composes the two; ``lantm_scan_ref`` steps it over a sequence (plain
PyTorch and autograd, memory grown with ``torch.cat``: slow but obvious). The fused kernel
``memlab.memory.kernels.lantm_scan`` is tested against it. The access module ``LieAccess`` is
a ``memlab.memory.MemoryAccess`` (registry ``ENTRY``: the generic composition drives it with
any controller); the paper's models compose it in ``memlab.models.lantm.LANTMCore``.

Settings of the released code (issue 13), all in ``LANTMSpec`` and the step functions:
``read_first`` (each step reads the memory as it was before this step's write), a write mask
(no writes while answering), ``interpolate_steps`` (off: v = ṽ) and initial slots in the state.

Shapes: B batch, T time, H controller cells, E input size, m memory width, n key dimension,
P group parameters per step, W write heads, R read heads, A = W + R heads (writes first),
N slots written so far (N0 initial slots, then W more per step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from memlab.controllers.lstm import lstm_cell_step
from memlab.memory.lie_groups import LieGroup, make_group

# --------------------------------------------------------------------------- read weightings (§3.1)


def squared_distances(k: Tensor, a: Tensor) -> Tensor:
    """‖k_r − a_i‖² for read keys ``k`` (B, R, n) and addresses ``a`` (B, N, n) -> (B, R, N).

    Computed from differences (not ‖k‖² − 2k·a + ‖a‖²) so an exact key gives exactly 0.
    """
    return (k.unsqueeze(2) - a.unsqueeze(1)).square().sum(-1)  # (B, R, N)


#: added to Σ_i u_i: a row with no strength anywhere reads zeros with finite gradients, not NaN
#: (u is scaled so its largest entry is that slot's strength, so this only matters when S < 1e-30)
Z_FLOOR = 1e-30


def _normalise_rows(u: Tensor) -> Tensor:
    """u / (Σ_i u_i + Z_FLOOR) over the last dim."""
    return u / (u.sum(-1, keepdim=True) + Z_FLOOR)


def invnorm_weights(k: Tensor, a: Tensor, s: Tensor, alpha: float = 2.0, eps: float = 1e-9) -> Tensor:
    """InvNorm read weights (seed 004 §3.1), α-general and stabilised by ε:

        w_i = S_i (‖k − a_i‖² + ε)^(−α/2) / Σ_j S_j (‖k − a_j‖² + ε)^(−α/2)

    Note: the seed's stabilised formula writes the exponent as −2 on (‖k − a‖² + ε), which
    disagrees with its own definition ‖k − a‖^(−2) (that would be exponent −1 on the squared
    norm). We implement the α-general form above; α = 2 reproduces the ‖k − a‖^(−2) definition.

    As k → a_i the weight on i tends to 1 (distinct addresses, S_i > 0). The powers are taken
    relative to the nearest slot (a common factor that cancels in the normalisation and is
    treated as a constant), so large α cannot overflow.

    k: (B, R, n) read keys;  a: (B, N, n) addresses;  s: (B, N) strengths in [0, 1].
    Returns w: (B, R, N), rows summing to 1 (all zeros if every strength is 0, and N = 0 is fine).
    """
    d2 = squared_distances(k, a) + eps  # (B, R, N)
    if d2.shape[-1] == 0:
        return d2
    ref = d2.amin(-1, keepdim=True).detach()  # (B, R, 1)
    u = (d2 / ref).pow(-alpha / 2) * s.unsqueeze(1)  # (B, R, N)
    return _normalise_rows(u)


def softmax_weights(k: Tensor, a: Tensor, s: Tensor, temperature: Tensor) -> Tensor:
    """SoftMax read weights (seed 004 §3.1): w_i ∝ S_i exp(−‖k − a_i‖² / T).

    k: (B, R, n);  a: (B, N, n);  s: (B, N);  temperature T: (B, R), > 0.
    Returns w: (B, R, N) (max-shifted before exp, so no overflow; zeros if all strengths are 0).
    """
    logits = -squared_distances(k, a) / temperature.unsqueeze(-1)  # (B, R, N)
    if logits.shape[-1] == 0:
        return logits
    u = torch.exp(logits - logits.amax(-1, keepdim=True).detach()) * s.unsqueeze(1)
    return _normalise_rows(u)


def read_memory(w: Tensor, M: Tensor) -> Tensor:
    """ρ_r = Σ_i w_ri M_i: weights (B, R, N), memory (B, N, m) -> (B, R, m)."""
    return torch.bmm(w, M)


def address(k_prev: Tensor, k_cand: Tensor, g: Tensor, v: Tensor, group: LieGroup) -> tuple[Tensor, Tensor]:
    """§3.3: k̄ = g·k̃ + (1−g)·k_prev, k = v·k̄.  k_*: (..., n), g: (..., 1), v: (..., P) -> (k̄, k)."""
    kbar = torch.lerp(k_prev, k_cand, g)
    return kbar, group.act(v, kbar)


#: how the write heads' key gate g and step gate h behave: ``learned`` (the seed: biases start at
#: ``write_gate_bias`` and train) or ``shut`` (held at σ(SHUT_GATE_BIAS) ≈ 1e-13 for every step)
WRITE_GATES = ("learned", "shut")
SHUT_GATE_BIAS = -30.0


def gate_columns(spec: "LANTMSpec", gate: str, heads: str) -> list[int]:
    """Columns of the instruction q holding the ``gate`` ("key": g, "step": h) of the ``heads``
    ("write": heads 0..W−1, "read": W..A−1); the sigmoid block is [g (A) | h (A) | strength (W)]."""
    o0, A, W = spec.offsets()["sig"][0], spec.heads, spec.write_heads
    first = o0 + (A if gate == "step" else 0)
    return list(range(first, first + W)) if heads == "write" else list(range(first + W, first + A))


def write_gate_columns(spec: "LANTMSpec") -> list[int]:
    """Columns of the instruction q holding the write heads' key gates g and step gates h."""
    return gate_columns(spec, "key", "write") + gate_columns(spec, "step", "write")


def read_key_gate_columns(spec: "LANTMSpec") -> list[int]:
    """Columns of the instruction q holding the read heads' key gates g."""
    return gate_columns(spec, "key", "read")


def read_step_gate_columns(spec: "LANTMSpec") -> list[int]:
    """Columns of the instruction q holding the read heads' step gates h."""
    return gate_columns(spec, "step", "read")


def shut_write_gates(Wq: Tensor, bq: Tensor, spec: "LANTMSpec") -> tuple[Tensor, Tensor]:
    """The instruction layer with the write heads' gates shut: Wq (H, Q), bq (Q,) -> the same with
    the g and h columns of the write heads zeroed and their biases at ``SHUT_GATE_BIAS``.

    So g = h = σ(−30) ≈ 9e-14 at every step whatever h_t is: with ``interpolate_steps`` each write
    head keeps its start step and moves k_t = v_0·k_{t−1} (without it, v = ṽ and only g is held),
    the "straight line within the group of actions" of §3.4 reached "by merely left saturating the
    gates g and h for all t" (seed 004). Tweak 1 of §4 only
    starts these gates shut (bias −10); trained, they open by a few percent and the write line
    bends (stop 31). Those entries of Wq and bq get no gradient."""
    cols = write_gate_columns(spec)
    keep = torch.ones_like(bq)
    keep[cols] = 0.0
    return Wq * keep, bq * keep + (1.0 - keep) * SHUT_GATE_BIAS


# --------------------------------------------------------------------------- spec, parameters, state


class LANTMSpec(NamedTuple):
    """Static settings of the recurrence (hashable; no tensors)."""

    hidden: int  # H
    mem_width: int  # m
    key_dim: int  # n
    write_heads: int  # W
    read_heads: int  # R
    group: LieGroup
    weighting: str  # "invnorm" | "softmax"
    alpha: float
    eps: float
    normalise_steps: bool
    step_delta: float  # δ in ṽ = r / sqrt(‖r‖² + δ); δ = 1 is the released code's bounded step
    temp_min: float  # softmax temperature T = softplus(·) + temp_min
    read_first: bool = False  # read the memory as it was before this step's write
    interpolate_steps: bool = True  # v = h·ṽ + (1−h)·v_prev; off: v = ṽ
    softmax_temp: str = "softplus"  # T = softplus(z) + T_min | "inverse": 1/T = softplus(z) + T_min

    @property
    def heads(self) -> int:
        return self.write_heads + self.read_heads

    @property
    def P(self) -> int:
        return self.group.param_size

    def offsets(self) -> dict[str, tuple[int, int]]:
        """Column ranges of the instruction vector q (B, Q) emitted by the controller each step.

        [ k̃ (A·n) | raw step (A·P) | sigmoid block: g (A), h (A), strength (W) | tanh: memory (W·m) | T (R) ]
        """
        A, W, R, n, m, P = self.heads, self.write_heads, self.read_heads, self.key_dim, self.mem_width, self.P
        sizes = [("key", A * n), ("step", A * P), ("sig", 2 * A + W), ("mem", W * m),
                 ("temp", R if self.weighting == "softmax" else 0)]
        out, o = {}, 0
        for name, size in sizes:
            out[name] = (o, o + size)
            o += size
        return out

    @property
    def instr_size(self) -> int:
        return self.offsets()["temp"][1]


class LANTMParams(NamedTuple):
    """Tensors of the recurrence (the module's parameters).

    W_x: (4H, E + R·m) controller input weights over [x_t | ρ_{t−1}];  W_r: (4H, H);  b: (4H,)
    (gate rows i, f, g, o, as ``lstm_cell_step``);  Wq: (H, Q), bq: (Q,) instruction layer.
    """

    W_x: Tensor
    W_r: Tensor
    b: Tensor
    Wq: Tensor
    bq: Tensor


class LANTMState(NamedTuple):
    """State after a step. Memory tensors grow by W slots per step.

    h, c: (B, H) controller;  reads ρ: (B, R, m);  keys k: (B, A, n);  steps v: (B, A, P);
    addresses a: (B, N, n);  memory M: (B, N, m);  strengths S: (B, N).
    """

    h: Tensor
    c: Tensor
    reads: Tensor
    keys: Tensor
    steps: Tensor
    addresses: Tensor
    memory: Tensor
    strengths: Tensor


class Trace(NamedTuple):
    """What the heads did, for plots (Fig. 7–11): keys (T, B, A, n) after the action, gates
    (T, B, A, 2) = [key gate g, step gate h], strengths (T, B, W) as written (0 where writes are
    off), temperatures (T, B, R) or None."""

    keys: Tensor
    gates: Tensor
    strengths: Tensor
    temperatures: Tensor | None


def _split_instructions(q: Tensor, spec: LANTMSpec):
    """q (B, Q) -> k̃ (B,A,n), raw step (B,A,P), g (B,A,1), h (B,A,1), S (B,W), M (B,W,m), T (B,R)|None."""
    B = q.shape[0]
    A, W, m, n, P = spec.heads, spec.write_heads, spec.mem_width, spec.key_dim, spec.P
    o = spec.offsets()
    kt = q[:, o["key"][0] : o["key"][1]].reshape(B, A, n)
    vr = q[:, o["step"][0] : o["step"][1]].reshape(B, A, P)
    sq = torch.sigmoid(q[:, o["sig"][0] : o["sig"][1]])  # (B, 2A + W)
    g, hg, s = sq[:, :A].unsqueeze(-1), sq[:, A : 2 * A].unsqueeze(-1), sq[:, 2 * A :]
    if not spec.interpolate_steps:
        hg = torch.ones_like(hg)  # v = ṽ
    mem = torch.tanh(q[:, o["mem"][0] : o["mem"][1]]).reshape(B, W, m)
    temp = None
    if spec.weighting == "softmax":
        temp = F.softplus(q[:, o["temp"][0] : o["temp"][1]]) + spec.temp_min  # (B, R)
        if spec.softmax_temp == "inverse":
            temp = 1 / temp  # the controller emits a sharpness β = 1/T
    return kt, vr, g, hg, s, mem, temp


def _read(kr: Tensor, a: Tensor, S: Tensor, M: Tensor, temp: Tensor | None, spec: LANTMSpec) -> Tensor:
    """ρ (B, R, m) for read keys kr (B, R, n) over slots a (B, N, n), S (B, N), M (B, N, m)."""
    if spec.weighting == "invnorm":
        w = invnorm_weights(kr, a, S, spec.alpha, spec.eps)
    else:
        w = softmax_weights(kr, a, S, temp)
    return read_memory(w, M)


# --------------------------------------------------------------------------- reference step and scan


def lie_access_step_ref(
    h: Tensor, state: LANTMState, Wq: Tensor, bq: Tensor, spec: LANTMSpec, write: Tensor | None = None
) -> tuple[tuple[Tensor, ...], tuple]:
    """The memory access of one step, given the controller's output h (B, H).

    q = h Wq + bq → heads → (read before or after) append W slots → read. ``write`` (B,) of 0/1
    multiplies the new slots' strengths (0: nothing is written). Returns (ρ, k, v, a, M, S) and
    (k, gates, s, T) for the trace.
    """
    W = spec.write_heads
    q = h @ Wq + bq  # (B, Q): instructions e^(t)
    kt, vr, g, hg, s, mem, temp = _split_instructions(q, spec)
    if write is not None:
        s = s * write.unsqueeze(1)
    vt = spec.group.parameterise(vr, spec.normalise_steps, spec.step_delta)  # ṽ (B, A, P)
    v = spec.group.interpolate(hg, vt, state.steps)  # (B, A, P)
    _, k = address(state.keys, kt, g, v, spec.group)  # (B, A, n)
    a = torch.cat([state.addresses, k[:, :W]], 1)  # (B, N, n): append, never erase
    M = torch.cat([state.memory, mem], 1)  # (B, N, m)
    S = torch.cat([state.strengths, s], 1)  # (B, N)
    seen = (state.addresses, state.strengths, state.memory) if spec.read_first else (a, S, M)
    rho = _read(k[:, W:], seen[0], seen[1], seen[2], temp, spec)  # (B, R, m)
    return (rho, k, v, a, M, S), (k, torch.cat([g, hg], -1), s, temp)


def lantm_step_ref(
    x_t: Tensor, state: LANTMState, p: LANTMParams, spec: LANTMSpec, write: Tensor | None = None
) -> tuple[LANTMState, tuple]:
    """One LANTM step (Fig. 1, Fig. 5): the controller LSTM reads [x_t, ρ_{t−1}] and h_{t−1}
    (``lstm_cell_step``), then ``lie_access_step_ref``. x_t: (B, E). Returns the new state and
    (k, gates, s, T) for the trace."""
    B = x_t.shape[0]
    x_in = torch.cat([x_t, state.reads.reshape(B, -1)], -1)  # (B, E + R·m)
    h, c = lstm_cell_step(x_in, state.h, state.c, p.W_x, p.W_r, p.b, None, None, True)
    (rho, k, v, a, M, S), tr = lie_access_step_ref(h, state, p.Wq, p.bq, spec, write)
    return LANTMState(h, c, rho, k, v, a, M, S), tr


def lantm_scan_ref(
    xs: Tensor, p: LANTMParams, state: LANTMState, spec: LANTMSpec, write_mask: Tensor | None = None
) -> tuple[Tensor, Tensor, LANTMState, Trace]:
    """Reference scan: ``lantm_step_ref`` over xs (T, B, E); ``write_mask`` (T, B) of 0/1 or None.
    Returns hs (T, B, H), reads (T, B, R, m), the final state and the trace."""
    hs, rs, ks, gs, ss, ts = [], [], [], [], [], []
    for t in range(xs.shape[0]):
        state, (k, gates, s, temp) = lantm_step_ref(xs[t], state, p, spec, None if write_mask is None else write_mask[t])
        hs.append(state.h)
        rs.append(state.reads)
        ks.append(k)
        gs.append(gates)
        ss.append(s)
        ts.append(temp)
    trace = Trace(torch.stack(ks), torch.stack(gs), torch.stack(ss), torch.stack(ts) if ts[0] is not None else None)
    return torch.stack(hs), torch.stack(rs), state, trace


# --------------------------------------------------------------------------- the access module


class AccessState(NamedTuple):
    """The access's part of ``LANTMState`` (no controller): reads ρ (B, R, m), keys (B, A, n),
    steps (B, A, P), addresses (B, N, n), memory (B, N, m), strengths (B, N)."""

    reads: Tensor
    keys: Tensor
    steps: Tensor
    addresses: Tensor
    memory: Tensor
    strengths: Tensor


#: how the start step v_0 enters the state: ``free`` as learned, ``normalised`` through the step map
INIT_STEPS = ("free", "normalised", "fixed")
#: strength of the learnable initial slots: ``one`` fixed at 1; ``learned`` S_0 = σ(s_0 + INIT_SLOT_BIAS),
#: s_0 learnable from 0, as the released code's initial memory strength (bias_init_mem_strength −10)
INIT_SLOT_STRENGTHS = ("one", "learned")
INIT_SLOT_BIAS = -10.0


class LieAccess(nn.Module):
    """Lie access heads and memory: the instruction layer q = h Wq + bq and the learnable start
    (first reads ρ_0, keys k_0, steps v_0, and optionally ``init_slots`` learnable memory slots,
    the released code's "initial memory", with strength 1 or, ``init_slot_strength="learned"``,
    σ(s_0 − 10) as released).

    ``write_gate_bias`` initialises the biases of the write heads' key gate g and step gate h
    strongly negative so they write in a straight line (seed 004 §4, tweak 1);
    ``read_key_gate_bias`` the bias of the read heads' key gate g (0, σ = 0.5, unless set: the seed
    does not say; a negative value starts the reads moving by steps rather than to emitted keys),
    ``read_step_gate_bias`` that of their step gate h (negative: keep the previous step; with both
    negative a read head starts riding the write line, from the same start key and step).

    A ``memlab.memory.MemoryAccess``: ``initial_state``, ``reads`` and ``forward(h_t, state)``
    (write, then read, or read first) for the generic composition (``ENTRY``), and
    ``fused_sequence`` where the controller is a standard LSTM. ``memlab.models.lantm.LANTMCore``
    composes it with the LSTM for the paper's models (write masks, gated read output).
    """

    def __init__(self, spec: LANTMSpec, write_gate_bias: float = -6.0, init_slots: int = 0, init_step: str = "free",
                 init_slot_strength: str = "one", init_step_norm: float = 1.0, write_gates: str = "learned",
                 read_key_gate_bias: float = 0.0, read_step_gate_bias: float = 0.0):
        super().__init__()
        if not (isinstance(init_step_norm, (int, float)) and 0 < init_step_norm <= 100):
            raise ValueError(f"init_step_norm={init_step_norm!r}; allowed: a number in (0, 100]")
        if init_step_norm != 1.0 and spec.group.name != "translation":
            raise ValueError(f"init_step_norm={init_step_norm!r} needs group=translation (group={spec.group.name})")
        if init_step not in INIT_STEPS:
            raise ValueError(f"init_step={init_step!r}; choose one of {', '.join(INIT_STEPS)}")
        if init_slot_strength not in INIT_SLOT_STRENGTHS:
            raise ValueError(f"init_slot_strength={init_slot_strength!r}; choose one of {', '.join(INIT_SLOT_STRENGTHS)}")
        if write_gates not in WRITE_GATES:
            raise ValueError(f"write_gates={write_gates!r}; choose one of {', '.join(WRITE_GATES)}")
        self.spec = spec
        self.write_gates = write_gates
        self.init_step = init_step
        H, R, A, Q, m, n = spec.hidden, spec.read_heads, spec.heads, spec.instr_size, spec.mem_width, spec.key_dim
        self.read_size = R * m
        bound = 1 / H**0.5
        self.Wq = nn.Parameter(torch.empty(H, Q).uniform_(-bound, bound))
        self.bq = nn.Parameter(torch.zeros(Q))
        with torch.no_grad():
            self.bq[write_gate_columns(spec)] = write_gate_bias  # key gates g and step gates h of the write heads
            self.bq[read_key_gate_columns(spec)] = read_key_gate_bias  # key gates g of the read heads (0: σ = 0.5)
            self.bq[read_step_gate_columns(spec)] = read_step_gate_bias  # step gates h of the read heads
        self.r0 = nn.Parameter(torch.zeros(R, m))
        # every head starts at the same key with the same step, so reads begin on the write line
        self.k0 = nn.Parameter(spec.group.init_key(1).repeat(A, 1))
        # a random direction of norm init_step_norm (1 unless set; the seed does not say how v_0 starts)
        self.v0 = nn.Parameter(init_step_norm * spec.group.init_step(1).repeat(A, 1))
        self.init_slots = init_slots
        if init_slots:
            self.a0 = nn.Parameter(spec.group.init_key(1).repeat(init_slots, 1))  # (N0, n) on the start key
            self.m0 = nn.Parameter(torch.zeros(init_slots, m))  # M0 = tanh(m0)
            if init_slot_strength == "learned":
                self.s0 = nn.Parameter(torch.zeros(init_slots))  # S0 = σ(s0 + INIT_SLOT_BIAS)

    def initial_state(self, batch_size: int, device=None) -> AccessState:
        """The start state, batched: learnable ρ_0, k_0, v_0 and initial slots (else an empty memory)."""
        B, sp = batch_size, self.spec
        dev = device if device is not None else self.Wq.device

        def ex(p: Tensor) -> Tensor:
            return p.to(dev).unsqueeze(0).expand(B, *p.shape)

        if self.init_slots:
            a, M = ex(self.a0), ex(torch.tanh(self.m0))
            s0 = getattr(self, "s0", None)
            S = self.Wq.new_ones(B, self.init_slots, device=dev) if s0 is None else ex(torch.sigmoid(s0 + INIT_SLOT_BIAS))
        else:
            z = self.Wq.new_zeros
            a, M, S = z(B, 0, sp.key_dim, device=dev), z(B, 0, sp.mem_width, device=dev), z(B, 0, device=dev)
        return AccessState(ex(self.r0), ex(self.k0), ex(self.start_steps()), a, M, S)

    def start_steps(self) -> Tensor:
        """v_0 (A, P): the learnable start step, or with ``init_step="normalised"`` that parameter
        through the candidate steps' map ṽ = v/√(‖v‖² + δ) (``group.parameterise``), so a head
        whose step gate stays shut (write heads, bias −10) moves by a step of the same size as
        the controller's steps rather than by a free |v_0|; with ``init_step="fixed"`` v_0 as
        initialised (|v_0| = ``init_step_norm``), held out of training (no gradient reaches it)."""
        if self.init_step == "free":
            return self.v0
        if self.init_step == "fixed":
            return self.v0.detach()
        return self.spec.group.parameterise(self.v0, self.spec.normalise_steps, self.spec.step_delta)

    def instruction_layer(self) -> tuple[Tensor, Tensor]:
        """(Wq, bq) as the recurrence uses them: the parameters, or with ``write_gates="shut"``
        ``shut_write_gates`` of them."""
        if self.write_gates == "shut":
            return shut_write_gates(self.Wq, self.bq, self.spec)
        return self.Wq, self.bq

    def reads(self, state: AccessState) -> Tensor:
        """ρ_{t−1} flattened (B, R·m): what the controller sees beside x_t."""
        return state.reads.flatten(1)

    def forward(self, h: Tensor, state: AccessState) -> tuple[Tensor, AccessState]:
        """One access given the controller's h_t (B, H): (ρ_t (B, R·m), next state); always writes."""
        (rho, k, v, a, M, S), _ = lie_access_step_ref(h, state, *self.instruction_layer(), self.spec)
        return rho.flatten(1), AccessState(rho, k, v, a, M, S)

    def state_size(self, steps: int = 0) -> int:
        sp = self.spec
        fixed = sp.read_heads * sp.mem_width + sp.heads * (sp.key_dim + sp.P)
        return fixed + (self.init_slots + steps * sp.write_heads) * (sp.key_dim + sp.mem_width + 1)

    def fused_sequence(self, controller, xs: Tensor, mem: AccessState, ctrl):
        """The generic composition's whole sequence through the fused kernel: ys = [h_t, ρ_t]
        (T, B, H + R·m), the final access and controller states; None unless ``controller`` is a
        standard LSTM (forget gate, no peepholes, no projection)."""
        from memlab.controllers.lstm import LSTMCore, LSTMState
        from memlab.memory.kernels.lantm_scan import lantm_scan

        standard = (isinstance(controller, LSTMCore) and controller.cfg.forget_gate and controller.peep is None
                    and controller.W_rm is None)
        if not standard:
            return None
        p = LANTMParams(controller.W_x, controller.W_r, controller.b, *self.instruction_layer())
        hs, reads, final, _ = lantm_scan(xs, p, LANTMState(ctrl.r, ctrl.c, *mem), self.spec)
        return torch.cat([hs, reads.flatten(2)], -1), AccessState(*final[2:]), LSTMState(final.h, final.c)


@dataclass
class LieAccessConfig:
    """``model.*`` settings of the Lie access memory in the generic composition (the controller's
    size is the composition's ``controller_size``). Defaults: seed 004 §3–4 with the released
    code's reading first, initial slot and gate bias (``memlab.models.lantm`` documents them)."""

    mem_width: int = 20  # m
    key_dim: int = 2  # n
    group: str = "translation"
    weighting: str = "invnorm"  # invnorm | softmax
    alpha: float = 2.0
    eps: float = 1e-9
    read_heads: int = 1
    write_heads: int = 1
    temp_min: float = 1e-3
    softmax_temperature: str = "softplus"  # softplus | inverse
    read_first: bool = True
    normalise_steps: bool = True
    step_delta: float = 1e-4
    interpolate_steps: bool = True
    write_gate_bias: float = -10.0
    write_gates: str = "learned"  # learned | shut (the write heads' gates held shut)
    read_key_gate_bias: float = 0.0  # initial bias of the read heads' key gates
    read_step_gate_bias: float = 0.0  # initial bias of the read heads' step gates
    init_slots: int = 1

    def validate(self) -> None:
        from memlab.core.errors import ConfigError, check_choice, check_range
        from memlab.memory.lie_groups import GROUPS

        check_choice("model.group", self.group, GROUPS)
        check_choice("model.weighting", self.weighting, ("invnorm", "softmax"))
        check_choice("model.softmax_temperature", self.softmax_temperature, ("softplus", "inverse"))
        check_choice("model.write_gates", self.write_gates, WRITE_GATES)
        for name in ("mem_width", "key_dim", "read_heads", "write_heads"):
            check_range(f"model.{name}", getattr(self, name), 1)
        check_range("model.init_slots", self.init_slots, 0)
        for name in ("alpha", "eps", "step_delta"):
            check_range(f"model.{name}", getattr(self, name), 0, lo_open=True)
        check_range("model.temp_min", self.temp_min, 0)
        check_range("model.write_gate_bias", self.write_gate_bias, -1e4, 1e4)
        check_range("model.read_key_gate_bias", self.read_key_gate_bias, -1e4, 1e4)
        check_range("model.read_step_gate_bias", self.read_step_gate_bias, -1e4, 1e4)
        need = GROUPS[self.group].required_key_dim
        if need is not None and self.key_dim != need:
            raise ConfigError(f"model.group={self.group} acts on R^{need} only, but model.key_dim={self.key_dim}")
        if self.softmax_temperature == "inverse" and not self.temp_min > 0:
            raise ConfigError("model.softmax_temperature=inverse needs model.temp_min > 0")


def build_access(cfg: LieAccessConfig, controller_size: int) -> LieAccess:
    """The access for a controller of ``controller_size`` cells (``MemoryEntry.build``)."""
    spec = make_spec(controller_size, cfg.mem_width, cfg.key_dim, cfg.write_heads, cfg.read_heads, cfg.group,
                     cfg.weighting, cfg.alpha, cfg.eps, cfg.normalise_steps, cfg.step_delta, cfg.temp_min,
                     cfg.read_first, cfg.interpolate_steps, cfg.softmax_temperature)
    return LieAccess(spec, cfg.write_gate_bias, cfg.init_slots, write_gates=cfg.write_gates,
                     read_key_gate_bias=cfg.read_key_gate_bias, read_step_gate_bias=cfg.read_step_gate_bias)


def make_spec(hidden: int, mem_width: int, key_dim: int, write_heads: int, read_heads: int, group: str,
              weighting: str, alpha: float, eps: float, normalise_steps: bool, step_delta: float,
              temp_min: float, read_first: bool = False, interpolate_steps: bool = True,
              softmax_temp: str = "softplus") -> LANTMSpec:
    """A ``LANTMSpec`` with the group built by name (``memlab.memory.lie_groups.GROUPS``)."""
    return LANTMSpec(hidden, mem_width, key_dim, write_heads, read_heads, make_group(group, key_dim), weighting,
                     float(alpha), float(eps), bool(normalise_steps), float(step_delta), float(temp_min),
                     bool(read_first), bool(interpolate_steps), softmax_temp)


def __getattr__(name: str):
    """``ENTRY``: the registry entry (``memlab.memory.MEMORIES``), built on first use. ``LANTMCore``
    moved to ``memlab.models.lantm`` (the paper's composition); old imports keep working."""
    if name == "ENTRY":
        from memlab.memory import MemoryEntry

        return MemoryEntry(LieAccessConfig, build_access, "Lie access memory (seed 004), any controller",
                           kernels=("fused", "reference"), smoke=dict(controller_size=8, mem_width=4))
    if name == "LANTMCore":
        from memlab.models.lantm import LANTMCore

        return LANTMCore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
