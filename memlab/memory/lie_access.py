"""Lie Access memory and the LANTM core (seed 004 §3, Fig. 1, Fig. 5).

The memory is a growing dictionary: each write head appends one slot per step holding an
address a_i ∈ R^n, a memory vector M_i = tanh(·) ∈ R^m and a strength S_i ∈ [0, 1] (§3.2);
nothing is ever erased. A read head turns its key k into weights w_i over the slots (§3.1)
and reads ρ = Σ_i w_i M_i.

Keys move by random access or Lie access (§3.3–3.4), per head and step:

    k̄ = g·k̃ + (1−g)·k_prev          # gate g ∈ [0,1] mixes the candidate key k̃ with the old key
    v = h·ṽ + (1−h)·v_prev            # step interpolation (group-specific, memlab.memory.lie_groups)
    k = v·k̄                           # Lie action

Math first (pure functions with shapes), then the sequence kernels, then the ``nn.Module``.

Kernels. ``lantm_scan_ref`` is the obviously-correct reference: plain per-step PyTorch with
autograd, growing the memory with ``torch.cat``. ``lantm_scan`` is the fast path: one
``torch.autograd.Function`` over the whole sequence that writes each slot once into a
preallocated (B, T·W, ·) buffer, reads only the written prefix, and back-propagates through
time by hand from the final buffer (no per-step copies of the memory are saved; the per-step
read weights, squared distances and key differences, O(B·R·N·(n+2)) each step, are; that is
O(B·R·T²·(n+2)) in all, against O(B·T²·m) for re-saving the memory). Everything in the backward
that does not depend on the recursion (activation derivatives, weight gradients) is done for
all steps at once. Tests check the two agree in float64, values and gradients, and gradcheck
the kernel. Under ``no_grad`` nothing is saved, so long sequences (8x lengths) only cost the
(B, T·W, n+m+1) slot buffers.

At the paper's sizes a step is ~60 tiny tensor ops forward and backward, so the kernel is
written against per-op overhead: results go with ``out=`` into preallocated buffers (no
``cat``/``stack`` per step), addresses are stored planar (B, n, T·W) so that k − a and its
reductions run along the slots, and the step loops run under ``torch.inference_mode``
(``memlab bench lantm-step`` measures it against the reference; figures in BENCHMARKS.md).

Shapes: B batch, T time, H controller cells, E input size, m memory width, n key dimension,
P group parameters per step, W write heads, R read heads, A = W + R heads (writes first),
N slots written so far (N = W·(t+1) after step t).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from memlab.core.interfaces import MemoryCore
from memlab.memory.lie_groups import LieGroup, Translation, make_group

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


# --------------------------------------------------------------------------- kernel spec and parameters


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
    step_delta: float  # δ in ṽ = r / sqrt(‖r‖² + δ)
    temp_min: float  # softmax temperature T = softplus(·) + temp_min

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
    """Tensors of the recurrence (views of the module's parameters).

    Uh: (H, 4H), Ur: (R·m, 4H) recurrent LSTM weights, gate order [i, f, o, g];
    Wq: (H, Q), bq: (Q,) instruction layer.
    """

    Uh: Tensor
    Ur: Tensor
    Wq: Tensor
    bq: Tensor


class LANTMState(NamedTuple):
    """State after a step. Memory tensors grow by W slots per step.

    h, c: (B, H) LSTM;  reads ρ: (B, R, m);  keys k: (B, A, n);  steps v: (B, A, P);
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
    """What the heads did, for plots (Fig. 7/8): keys (T, B, A, n) after the action, gates
    (T, B, A, 2) = [key gate g, step gate h], strengths (T, B, W), temperatures (T, B, R) or None."""

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
    mem = torch.tanh(q[:, o["mem"][0] : o["mem"][1]]).reshape(B, W, m)
    temp = None
    if spec.weighting == "softmax":
        temp = F.softplus(q[:, o["temp"][0] : o["temp"][1]]) + spec.temp_min  # (B, R)
    return kt, vr, g, hg, s, mem, temp


# --------------------------------------------------------------------------- reference step and scan


def lantm_step_ref(xg_t: Tensor, state: LANTMState, p: LANTMParams, spec: LANTMSpec) -> tuple[LANTMState, tuple]:
    """One LANTM step (Fig. 1, Fig. 5), plain PyTorch. ``xg_t``: (B, 4H), the input part x_t W_x + b
    of the LSTM pre-activations. Order within a step: controller, write (append), then read, so a
    read can see the slot written in the same step. Returns the new state and (k, gates, S, T)."""
    H, W = spec.hidden, spec.write_heads
    B = xg_t.shape[0]
    z = xg_t + state.h @ p.Uh + state.reads.reshape(B, -1) @ p.Ur  # (B, 4H): LSTM(x, c, ρ ⊕ h)
    i, f, o = torch.sigmoid(z[:, : 3 * H]).chunk(3, -1)
    c = f * state.c + i * torch.tanh(z[:, 3 * H :])
    h = o * torch.tanh(c)  # (B, H)
    q = h @ p.Wq + p.bq  # (B, Q): instructions e^(t)
    kt, vr, g, hg, s, mem, temp = _split_instructions(q, spec)
    vt = spec.group.parameterise(vr, spec.normalise_steps, spec.step_delta)  # ṽ (B, A, P)
    v = spec.group.interpolate(hg, vt, state.steps)  # (B, A, P)
    _, k = address(state.keys, kt, g, v, spec.group)  # (B, A, n)
    a = torch.cat([state.addresses, k[:, :W]], 1)  # (B, N, n): append, never erase
    M = torch.cat([state.memory, mem], 1)  # (B, N, m)
    S = torch.cat([state.strengths, s], 1)  # (B, N)
    kr = k[:, W:]  # (B, R, n)
    if spec.weighting == "invnorm":
        w = invnorm_weights(kr, a, S, spec.alpha, spec.eps)
    else:
        w = softmax_weights(kr, a, S, temp)
    rho = read_memory(w, M)  # (B, R, m)
    gates = torch.cat([g, hg], -1)  # (B, A, 2)
    return LANTMState(h, c, rho, k, v, a, M, S), (k, gates, s, temp)


def lantm_scan_ref(
    xg: Tensor, p: LANTMParams, state: LANTMState, spec: LANTMSpec
) -> tuple[Tensor, LANTMState, Trace]:
    """Reference scan: step ``lantm_step_ref`` over ``xg`` (T, B, 4H). Returns hs (T, B, H), the
    final state and the trace. Memory grows by concatenation (O(T²) traffic; slow but obvious)."""
    hs, ks, gs, ss, ts = [], [], [], [], []
    for t in range(xg.shape[0]):
        state, (k, gates, s, temp) = lantm_step_ref(xg[t], state, p, spec)
        hs.append(state.h)
        ks.append(k)
        gs.append(gates)
        ss.append(s)
        ts.append(temp)
    trace = Trace(torch.stack(ks), torch.stack(gs), torch.stack(ss), torch.stack(ts) if ts[0] is not None else None)
    return torch.stack(hs), state, trace


# --------------------------------------------------------------------------- fast kernel


def _scan_forward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, spec: LANTMSpec, save: bool):
    """Forward of the fused kernel (no autograd inside). Returns (hs, final state, trace, saved).

    Every per-step result is written with ``out=`` into a preallocated buffer (no ``cat``, no
    ``stack``): [h_t | ρ_t] rows of ``HR`` are the LSTM's recurrent input of step t+1, slots go
    straight into the address, memory and strength buffers. Without ``save`` the buffers that
    only the backward needs are one step deep.
    """
    T, B, _ = xg.shape
    H, m, n, W, R, A, P = spec.hidden, spec.mem_width, spec.key_dim, spec.write_heads, spec.read_heads, spec.heads, spec.P
    group, invnorm = spec.group, spec.weighting == "invnorm"
    fast_tr = isinstance(group, Translation)
    o = spec.offsets()
    ok0, ok1 = o["key"]
    os0, os1 = o["step"]
    og0, og1 = o["sig"]
    om0, om1 = o["mem"]
    ot0, ot1 = o["temp"]
    Ts = T if save else 1  # depth of the buffers only the backward reads
    new = xg.new_empty
    HR = new(T + 1, B, H + R * m)  # row t+1: [h_t | ρ_t]
    Hv, Rv = HR[..., :H], HR[..., H:].view(T + 1, B, R, m)
    Hv[0].copy_(h0)
    Rv[0].copy_(r0)
    C = new(T + 1, B, H)  # c_t in row t+1
    C[0].copy_(c0)
    SIG, TG, TC, QB = new(Ts, B, 3 * H), new(Ts, B, H), new(Ts, B, H), new(Ts, B, spec.instr_size)
    SQ = new(T, B, 2 * A)  # gates g, h (the trace keeps them)
    K, V = new(T + 1, B, A, n), new(T + 1, B, A, P)  # keys and steps after step t in row t+1
    K[0].copy_(k0)
    V[0].copy_(v0)
    VT = new(Ts, B, A, P)  # candidate steps ṽ
    KBAR = new(Ts if not fast_tr else 1, B, A, n)  # pre-action keys k̄ (the general groups' backward)
    TEMP = new(T, B, R) if not invnorm else None
    # the dictionary: slot W·t + j holds write head j's step-t entry, so what is written is a prefix
    # addresses are kept planar, (B, n, T·W): k − a and its reductions then run along the slots
    aP, M_buf, S_buf = new(B, n, T * W), new(B, T * W, m), new(B, T * W)
    # skip the nearest-slot rescaling of InvNorm when ε^(−α/2) cannot overflow (the weights are equal)
    rescale = invnorm and spec.alpha / 2 * -math.log10(spec.eps) > 0.4 * math.log10(torch.finfo(xg.dtype).max)
    nhalf = -spec.alpha / 2
    # 0-dim tensors: adding a Python float costs a dtype conversion per call
    eps_n, zf_t, delta_t = (xg.new_tensor(x) for x in (spec.eps / n, Z_FLOOR, spec.step_delta))
    sqrt_delta_t = xg.new_tensor(math.sqrt(spec.step_delta))
    U = torch.cat([Uh, Ur], 0)  # (H + R·m, 4H)
    diffs, d2s, ws = [], [], []
    xg_t, HR_t, Hv_t, Rv_t, C_t, K_t, V_t, SQ_t = (x.unbind(0) for x in (xg, HR, Hv, Rv, C, K, V, SQ))
    for t in range(T):
        s_ = t if save else 0
        lo, N = t * W, (t + 1) * W
        z = torch.addmm(xg_t[t], HR_t[t], U)  # (B, 4H): LSTM(x, c, ρ ⊕ h)
        sg = torch.sigmoid(z[:, : 3 * H], out=SIG[s_])  # [i, f, o]
        tg = torch.tanh(z[:, 3 * H :], out=TG[s_])
        c = torch.mul(sg[:, H : 2 * H], C_t[t], out=C_t[t + 1]).addcmul_(sg[:, :H], tg)
        tc = torch.tanh(c, out=TC[s_])
        h = torch.mul(sg[:, 2 * H :], tc, out=Hv_t[t + 1])  # (B, H)
        q = torch.addmm(bq, h, Wq, out=QB[s_])  # (B, Q): instructions
        sq = torch.sigmoid(q[:, og0 : og0 + 2 * A], out=SQ_t[t])  # (B, 2A): g, h
        torch.sigmoid(q[:, og0 + 2 * A : og1], out=S_buf[:, lo:N])  # strengths, appended
        torch.tanh(q[:, om0:om1].view(B, W, m), out=M_buf[:, lo:N])  # memory vectors, appended
        kt, vr = q[:, ok0:ok1].view(B, A, n), q[:, os0:os1].view(B, A, P)
        g, hg = sq[:, :A].unsqueeze(-1), sq[:, A:].unsqueeze(-1)
        if fast_tr:  # ṽ = r / sqrt(‖r‖² + δ),  v = lerp(v_prev, ṽ, h),  k = lerp(k_prev, k̃, g) + v
            if spec.normalise_steps:
                den = torch.hypot(torch.linalg.vector_norm(vr, dim=-1, keepdim=True), sqrt_delta_t)
                vt = torch.div(vr, den, out=VT[s_])  # r / sqrt(‖r‖² + δ)
            else:
                vt = VT[s_].copy_(vr)
            v = torch.lerp(V_t[t], vt, hg, out=V_t[t + 1])
            kbar = torch.lerp(K_t[t], kt, g, out=KBAR[0])
            k = torch.add(kbar, v, out=K_t[t + 1])  # (B, A, n)
        else:
            vt = VT[s_].copy_(group.parameterise(vr, spec.normalise_steps, delta_t))
            v = V_t[t + 1].copy_(group.interpolate(hg, vt, V_t[t]))
            kbar = torch.lerp(K_t[t], kt, g, out=KBAR[s_])
            k = K_t[t + 1].copy_(group.act(v, kbar))
        aP[:, :, lo:N].copy_(k[:, :W].transpose(1, 2))  # append the write heads' addresses
        diff = torch.sub(k[:, W:].unsqueeze(-1), aP[:, None, :, :N])  # k_r − a_i: (B, R, n, N)
        S = S_buf[:, None, :N]
        if invnorm:
            d2 = torch.addcmul(eps_n, diff, diff).sum(2)  # ‖k_r − a_i‖² + ε: (B, R, N)
            if rescale:
                u = (d2 / d2.amin(-1, keepdim=True)).pow_(nhalf).mul_(S)
            elif nhalf == -1.0:
                u = torch.div(S, d2)
            else:
                u = d2.pow(nhalf).mul_(S)
        else:
            d2 = torch.mul(diff, diff).sum(2)
            temp = torch.add(F.softplus(q[:, ot0:ot1]), spec.temp_min, out=TEMP[t])  # (B, R)
            u = d2 / temp.neg().unsqueeze(-1)
            u = u.sub_(u.amax(-1, keepdim=True)).exp_().mul_(S)
        w = u.div_(u.sum(-1, keepdim=True).add_(zf_t))  # (B, R, N)
        Rv_t[t + 1].copy_(torch.bmm(w, M_buf[:, :N]))  # ρ (B, R, m) (bmm into a strided out= loops over B)
        if save:
            diffs.append(diff)
            d2s.append(d2)
            ws.append(w)
    hs = Hv[1:].clone()  # (T, B, H)
    final = LANTMState(Hv[T], C[T], Rv[T], K[T], V[T], aP.transpose(1, 2), M_buf, S_buf)
    gates = torch.stack([SQ[..., :A], SQ[..., A:]], -1)  # (T, B, A, 2)
    trace = Trace(K[1:], gates, S_buf.view(B, T, W).transpose(0, 1), TEMP)
    saved = None
    if save:
        saved = dict(HR=HR, C=C, SIG=SIG, TG=TG, TC=TC, QB=QB, SQ=SQ, K=K, V=V, VT=VT, KBAR=KBAR, TEMP=TEMP,
                     diffs=diffs, d2s=d2s, ws=ws, M=M_buf, S=S_buf)
    return hs, final, trace, saved


class _LANTMScan(torch.autograd.Function):
    """Fused LANTM recurrence; differentiable in hs only (state and trace are returned detached)."""

    @staticmethod
    def forward(ctx, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, spec):
        with torch.inference_mode():  # see _inference
            hs, final, trace, saved = _scan_forward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, spec, save=True)
        ctx.spec = spec
        ctx.saved = saved  # inference tensors, read only by backward
        ctx.save_for_backward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0)
        outs = _normal(hs, *final, *(x for x in trace if x is not None))
        ctx.mark_non_differentiable(*outs[1:])
        return outs

    @staticmethod
    def backward(ctx, ghs, *_):
        xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0 = ctx.saved_tensors
        spec, sv = ctx.spec, ctx.saved
        with torch.inference_mode():
            grads = _scan_backward(ghs, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, spec, sv)
        return (*_normal(*grads), None)


def _normal(*xs: Tensor) -> tuple[Tensor, ...]:
    """Plain copies of tensors made under ``torch.inference_mode``.

    The kernels run their step loops in inference mode, which skips the view and version-counter
    bookkeeping of every small op (about 15% of the forward's time); what leaves the kernel is
    copied back into ordinary tensors so autograd and in-place updates accept it.
    """
    return tuple(x.clone() if x.is_inference() else x for x in xs)


def _scan_backward(ghs, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, spec: LANTMSpec, sv: dict):
    """Back-propagation through time for ``_scan_forward``, by hand, newest step first.

    Gradients with respect to the instructions q accumulate in one (B, T, Q) buffer ``GQ``: the
    memory and strength columns of row t collect ∂L/∂M and ∂L/∂log S of slot t from every read
    that saw it, the key columns of the write heads collect ∂L/∂a (``GK``, same layout as the
    keys); when the loop reaches step t every read of slot t has been processed, so row t is
    complete. Everything that does not depend on the backward recursion is computed for all
    steps at once before the loop, and the weight gradients after it.
    """
    T, B, _ = xg.shape
    H, m, n, W, R, A, P = spec.hidden, spec.mem_width, spec.key_dim, spec.write_heads, spec.read_heads, spec.heads, spec.P
    group, invnorm = spec.group, spec.weighting == "invnorm"
    fast_tr = isinstance(group, Translation)
    o = spec.offsets()
    Q = spec.instr_size
    ok0, ok1 = o["key"]
    os0, os1 = o["step"]
    og0, og1 = o["sig"]
    om0, om1 = o["mem"]
    ot0, ot1 = o["temp"]
    HR, C, SIG, TG, TC, QB, SQ = (sv[x] for x in ("HR", "C", "SIG", "TG", "TC", "QB", "SQ"))
    K, V, VT, KBAR, TEMP = (sv[x] for x in ("K", "V", "VT", "KBAR", "TEMP"))
    M_buf, S_buf = sv["M"], sv["S"]
    ghs_t = ghs.unbind(0) if ghs is not None else None
    # ---- everything outside the recursion, vectorised over t
    # gz = [gc, gc, gh, gc] * Y with Y = [tanh g, c_prev, tanh c, i] * activation derivatives
    Y = torch.cat([TG, C[:-1], TC, SIG[..., :H]], -1).mul_(torch.cat([SIG * (1 - SIG), 1 - TG * TG], -1))
    Y4_t = Y.view(T, B, 4, H).unbind(0)
    Yo_t = Y[..., 2 * H : 3 * H].unbind(0)
    do_tc_t = (SIG[..., 2 * H :] * (1 - TC * TC)).unbind(0)  # ∂h/∂c = o (1 − tanh² c)
    f_t = SIG[..., H : 2 * H].unbind(0)
    dk_t = (QB[..., ok0:ok1].view(T, B, A, n) - K[:-1]).unbind(0)  # k̃ − k_prev, for ∂L/∂g
    g_all, hg_all = SQ[..., :A].unsqueeze(-1), SQ[..., A:].unsqueeze(-1)  # (T, B, A, 1)
    g_t, omg_t = g_all.unbind(0), (1 - g_all).unbind(0)
    hg_t, omh_t = hg_all.unbind(0), (1 - hg_all).unbind(0)
    VT_t, Vprev_t, V_t = VT.unbind(0), V[:-1].unbind(0), V[1:].unbind(0)
    VR_t = QB[..., os0:os1].view(T, B, A, P).unbind(0)
    if fast_tr:
        dv_t = (VT - V[:-1]).unbind(0)  # ṽ − v_prev, for ∂L/∂h
        if spec.normalise_steps:
            VR = QB[..., os0:os1].view(T, B, A, P)
            s_t = torch.rsqrt((VR * VR).sum(-1, keepdim=True) + spec.step_delta).unbind(0)
    # ∂L/∂q = GQ * DQ, DQ the activation derivative of each column block
    S_all = S_buf.view(B, T, W).transpose(0, 1)
    mem_all = M_buf.view(B, T, W * m).transpose(0, 1)
    dq = [SQ * (1 - SQ), 1 - S_all, 1 - mem_all * mem_all]  # ∂/∂q of g, h; of log S; of M
    if not invnorm:
        dq.append(torch.sigmoid(QB[..., ot0:ot1]))  # softplus' = sigmoid
    DQ_t = torch.cat([SQ.new_ones(T, B, A * (n + P))] + dq, -1).unbind(0)  # (B, Q) per step
    GQ = xg.new_zeros(B, T, Q)
    GQ_t = GQ.unbind(1)  # (B, Q) rows
    GK = GQ[..., ok0:ok1].view(B, T, A, n)  # write heads: ∂L/∂a (unscaled, see below); read heads: ∂L/∂k_r
    GK_t = GK.unbind(1)
    GKw_t = GK[:, :, :W].unbind(1)  # (B, W, n)
    GA = xg.new_zeros(B, n, T * W)  # −Σ_r G per slot, planar like the addresses
    GKr_t = GK[:, :, W:].unbind(1)  # (B, R, n)
    GM = GQ[..., om0:om1]  # (B, T, W·m): ∂L/∂M per slot
    GS = GQ[..., og0 + 2 * A : og1]  # (B, T, W): Σ_r e_ri = ∂L/∂log S_i
    GZ = xg.new_empty(T, B, 4 * H)
    GZ_t, GZ4_t = GZ.unbind(0), GZ.view(T, B, 4, H).unbind(0)
    gh_c = torch.zeros_like(h0)  # ∂L/∂h_t via z_{t+1}
    gr_c = torch.zeros_like(r0)  # ∂L/∂ρ_t via z_{t+1}
    gc_c = torch.zeros_like(c0)
    gk_c = torch.zeros_like(k0)  # ∂L/∂k_t via k̄_{t+1}
    gv_c = torch.zeros_like(v0)  # ∂L/∂v_t via v_{t+1}
    WqT, UT = Wq.t(), torch.cat([Uh, Ur], 0).t()  # (Q, H), (4H, H + R·m)
    Rv_t = HR[1:, :, H:].view(T, B, R, m).unbind(0)
    # ∂d2/∂k = 2(k − a) = 2·diff; invnorm: ∂L/∂d2 = e·(−α/2)/d2, softmax: ∂L/∂d2 = −e/T. GK holds
    # G = Σ e·diff (read heads) and −Σ_r G (write heads); the factor is applied once per key below
    scale = -spec.alpha if invnorm else -2.0
    delta_t = xg.new_tensor(spec.step_delta)
    for t in range(T - 1, -1, -1):
        lo, N, t1 = t * W, (t + 1) * W, t + 1
        w, d2, diff = sv["ws"][t], sv["d2s"][t], sv["diffs"][t]  # (B, R, N), (B, R, N), (B, R, n, N)
        row = GQ_t[t]
        # ---- read: ρ = w M,  w = u/Σu,  u = φ(d2) S
        if R == 1 and W == 1:  # outer product w_i g_ρ
            GM[:, :t1].addcmul_(w.transpose(1, 2), gr_c)
        else:
            GM[:, :t1].add_(torch.bmm(w.transpose(1, 2), gr_c).view(B, t1, W * m))
        gw = torch.bmm(gr_c, M_buf[:, :N].transpose(1, 2))  # (B, R, N)
        # e_ri = (∂L/∂w_ri − Σ_j ∂L/∂w_rj w_rj) w_ri = ∂L/∂log u_ri;  Σ_j ∂L/∂w_rj w_rj = g_ρ·ρ
        e = gw.sub_((gr_c * Rv_t[t]).sum(-1, keepdim=True)).mul_(w)
        GS[:, :t1].add_((e[:, 0] if R == 1 else e.sum(1)).view(B, t1, W))
        if invnorm:
            e.div_(d2)
        else:
            temp = TEMP[t]  # (B, R)
            torch.div((e * d2).sum(-1), temp * temp, out=row[:, ot0:ot1])  # ∂ log φ/∂T = d2/T²
            e.div_(temp.unsqueeze(-1))
        G = e.unsqueeze(2) * diff  # (B, R, n, N)
        torch.sum(G, -1, out=GKr_t[t])
        GA[:, :, :N].sub_(G[:, 0] if R == 1 else G.sum(1))
        GKw_t[t].copy_(GA[:, :, lo:N].transpose(1, 2))  # slot t is complete
        # ---- heads of step t (slot t is complete):  k = v·k̄,  k̄ = lerp(k_prev, k̃, g),  v = interp(h, ṽ, v_prev)
        gk = torch.add(gk_c, GK_t[t], alpha=scale)  # (B, A, n)
        gq_key = row[:, ok0:ok1].view(B, A, n)
        gq_step = row[:, os0:os1].view(B, A, P)
        if fast_tr:  # k = k̄ + v,  v = lerp(v_prev, ṽ, h),  ṽ = r·s
            gkbar = gk
            gv = torch.add(gv_c, gk)
            torch.sum(gv * dv_t[t], -1, out=row[:, og0 + A : og0 + 2 * A])  # ∂L/∂h
            gvt = gv * hg_t[t]
            gv_c = gv.mul_(omh_t[t])
            if spec.normalise_steps:
                vt = VT_t[t]
                dot = (vt * gvt).sum(-1, keepdim=True)
                torch.mul(torch.addcmul(gvt, vt, dot, value=-1), s_t[t], out=gq_step)
            else:
                gq_step.copy_(gvt)
        else:
            gv_a, gkbar = group.act_bwd(V_t[t], KBAR[t], gk)
            ghg, gvt, gv_c = group.interpolate_bwd(hg_t[t], VT_t[t], Vprev_t[t], V_t[t], gv_c + gv_a)
            row[:, og0 + A : og0 + 2 * A].copy_(ghg.view(B, A))
            gq_step.copy_(group.parameterise_bwd(VR_t[t], VT_t[t], gvt, spec.normalise_steps, delta_t))
        torch.sum(gkbar * dk_t[t], -1, out=row[:, og0 : og0 + A])  # ∂L/∂g
        torch.mul(gkbar, g_t[t], out=gq_key)
        gk_c = gkbar * omg_t[t]
        row.mul_(DQ_t[t])
        # ---- LSTM: h = o tanh(c),  c = f c_prev + i g
        if ghs_t is not None:
            gh_c.add_(ghs_t[t])
        gh = torch.addmm(gh_c, row, WqT)
        gc = torch.addcmul(gc_c, gh, do_tc_t[t])
        torch.mul(Y4_t[t], gc.unsqueeze(1), out=GZ4_t[t])
        torch.mul(Yo_t[t], gh, out=GZ_t[t][:, 2 * H : 3 * H])
        gc_c = gc.mul_(f_t[t])
        gx = torch.mm(GZ_t[t], UT)  # (B, H + R·m): ∂L/∂[h_{t-1}, ρ_{t-1}]
        gh_c = gx[:, :H]
        gr_c = gx[:, H:].view(B, R, m)
    gU = HR[:-1].reshape(T * B, H + R * m).t() @ GZ.view(T * B, 4 * H)  # inputs [h_{t-1}, ρ_{t-1}]
    hsB = HR[1:, :, :H].transpose(0, 1).reshape(B * T, H)
    gWq = hsB.t() @ GQ.view(B * T, Q)
    gbq = GQ.sum((0, 1))
    return GZ, gU[:H], gU[H:], gWq, gbq, gh_c, gc_c, gr_c, gk_c, gv_c


def lantm_scan(
    xg: Tensor, p: LANTMParams, state: LANTMState, spec: LANTMSpec
) -> tuple[Tensor, LANTMState, Trace]:
    """Fast scan, same contract as ``lantm_scan_ref`` for a state with an empty memory.

    Differentiable in hs (T, B, H) with respect to ``xg``, the parameters and the initial
    h, c, ρ, k, v. The returned final state and trace carry no gradient. Under ``no_grad`` (or
    when nothing requires grad) it runs without saving anything for backward.
    """
    if state.addresses.shape[1] != 0:
        raise ValueError("lantm_scan starts from an empty memory; use lantm_scan_ref to continue a state")
    args = (xg, p.Uh, p.Ur, p.Wq, p.bq, state.h, state.c, state.reads, state.keys, state.steps)
    if torch.is_grad_enabled() and any(x.requires_grad for x in args):
        outs = _LANTMScan.apply(*args, spec)
        hs, final = outs[0], LANTMState(*outs[1:9])
        rest = list(outs[9:])
        trace = Trace(rest[0], rest[1], rest[2], rest[3] if len(rest) > 3 else None)
        return hs, final, trace
    with torch.inference_mode():
        hs, final, trace, _ = _scan_forward(*args, spec, save=False)
    hs, *rest = _normal(hs, *final, *(x for x in trace if x is not None))
    return hs, LANTMState(*rest[:8]), Trace(*rest[8:11], rest[11] if len(rest) > 11 else None)


# --------------------------------------------------------------------------- the core (nn.Module)


class LANTMCore(MemoryCore):
    """LSTM controller + Lie access memory (Fig. 1): ``(x_t, state) -> (h_t, state)``.

    The LSTM reads [embedded input x_t, previous reads ρ_{t−1}] (and h_{t−1}); its output h_t
    emits the instructions of every head through one linear layer. Output size is H (the model's
    softmax readout F(h_t) sits outside, in ``CoreSequenceModel``). The initial state (h, c, ρ,
    keys, steps) is learnable; the memory starts empty.

    Paper tweaks (seed 004 §4), both on by default: ``write_gate_bias`` initialises the biases of
    the write heads' key gate g and step gate h strongly negative (write in a straight line), and
    ``normalise_steps`` scales candidate steps to size ≈ 1 (the learnable initial step is not).
    """

    def __init__(
        self,
        input_size: int,
        hidden: int = 50,
        mem_width: int = 20,
        key_dim: int = 2,
        group: str = "translation",
        weighting: str = "invnorm",
        alpha: float = 2.0,
        eps: float = 1e-9,
        read_heads: int = 1,
        write_heads: int = 1,
        write_gate_bias: float = -6.0,
        normalise_steps: bool = True,
        step_delta: float = 1e-4,
        temp_min: float = 1e-3,
        impl: str = "fast",
    ):
        super().__init__()
        g = make_group(group, key_dim)
        self.spec = LANTMSpec(hidden, mem_width, key_dim, write_heads, read_heads, g, weighting, float(alpha),
                              float(eps), bool(normalise_steps), float(step_delta), float(temp_min))
        self.impl = impl
        self.input_size = input_size
        self.output_size = hidden
        H, R, A, Q = hidden, read_heads, self.spec.heads, self.spec.instr_size
        bound = 1 / math.sqrt(H)
        self.Wx = nn.Linear(input_size, 4 * H)  # x_t -> LSTM pre-activations (with the LSTM bias)
        self.Uh = nn.Parameter(torch.empty(H, 4 * H).uniform_(-bound, bound))
        self.Ur = nn.Parameter(torch.empty(R * mem_width, 4 * H).uniform_(-bound, bound))
        nn.init.uniform_(self.Wx.weight, -bound, bound)
        nn.init.uniform_(self.Wx.bias, -bound, bound)
        self.Wq = nn.Parameter(torch.empty(H, Q).uniform_(-bound, bound))
        self.bq = nn.Parameter(torch.zeros(Q))
        with torch.no_grad():
            o0 = self.spec.offsets()["sig"][0]
            W = write_heads
            self.bq[o0 : o0 + W] = write_gate_bias  # key gates g of the write heads
            self.bq[o0 + A : o0 + A + W] = write_gate_bias  # step gates h of the write heads
        self.h0 = nn.Parameter(torch.zeros(H))
        self.c0 = nn.Parameter(torch.zeros(H))
        self.r0 = nn.Parameter(torch.zeros(R, mem_width))
        # every head starts at the same key with the same step, so reads begin on the write line
        self.k0 = nn.Parameter(g.init_key(1).repeat(A, 1))
        self.v0 = nn.Parameter(g.init_step(1).repeat(A, 1))

    def params(self) -> LANTMParams:
        return LANTMParams(self.Uh, self.Ur, self.Wq, self.bq)

    def initial_state(self, batch_size: int, device=None) -> LANTMState:
        B, sp = batch_size, self.spec

        def ex(p: Tensor) -> Tensor:
            p = p if device is None else p.to(device)
            return p.unsqueeze(0).expand(B, *p.shape)

        empty = self.h0.new_zeros((B, 0)) if device is None else self.h0.new_zeros((B, 0), device=device)
        return LANTMState(ex(self.h0), ex(self.c0), ex(self.r0), ex(self.k0), ex(self.v0),
                          empty.new_zeros(B, 0, sp.key_dim), empty.new_zeros(B, 0, sp.mem_width), empty)

    def state_size(self, steps: int = 0) -> int:
        sp = self.spec
        fixed = 2 * sp.hidden + sp.read_heads * sp.mem_width + sp.heads * (sp.key_dim + sp.P)
        return fixed + steps * sp.write_heads * (sp.key_dim + sp.mem_width + 1)

    def forward(self, x_t: Tensor, state: LANTMState) -> tuple[Tensor, LANTMState]:
        """One step (the reference path). x_t: (B, E) -> h_t (B, H)."""
        state, _ = lantm_step_ref(self.Wx(x_t), state, self.params(), self.spec)
        return state.h, state

    def run(self, xs: Tensor, state: LANTMState | None = None, impl: str | None = None):
        """Whole sequence ``xs`` (T, B, E) -> (hs (T, B, H), final state, Trace)."""
        impl = impl or self.impl
        if state is None:
            state = self.initial_state(xs.shape[1], xs.device)
        xg = self.Wx(xs)  # (T, B, 4H)
        if impl == "fast" and state.addresses.shape[1] == 0:
            return lantm_scan(xg, self.params(), state, self.spec)
        return lantm_scan_ref(xg, self.params(), state, self.spec)

    def forward_sequence(self, xs: Tensor, state=None, lengths: Tensor | None = None):
        """(T, B, E) -> (hs (T, B, H), final state). With ``lengths``, steps past an example's
        length write slots of strength 0 (invisible to reads) and leave the rest of its state alone;
        its outputs there are zero (reference path)."""
        if lengths is None:
            hs, final, _ = self.run(xs, state)
            return hs, final
        return self._run_masked(xs, state, torch.as_tensor(lengths, device=xs.device))

    def _run_masked(self, xs: Tensor, state, lengths: Tensor):
        T, B, _ = xs.shape
        if lengths.shape != (B,) or int(lengths.max()) > T or int(lengths.min()) < 0:
            raise ValueError(f"lengths must have shape ({B},) with values in [0, {T}]")
        if state is None:
            state = self.initial_state(B, xs.device)
        xg, p, W = self.Wx(xs), self.params(), self.spec.write_heads
        ys = []
        for t in range(T):
            new, _ = lantm_step_ref(xg[t], state, p, self.spec)
            act = (lengths > t).to(xs.dtype)  # (B,)

            def keep(n: Tensor, o: Tensor) -> Tensor:
                m_ = act.view(-1, *([1] * (n.dim() - 1)))
                return m_ * n + (1 - m_) * o

            S = torch.cat([state.strengths, new.strengths[:, -W:] * act[:, None]], 1)
            state = LANTMState(keep(new.h, state.h), keep(new.c, state.c), keep(new.reads, state.reads),
                               keep(new.keys, state.keys), keep(new.steps, state.steps),
                               new.addresses, new.memory, S)
            ys.append(new.h * act[:, None])
        return torch.stack(ys), state
