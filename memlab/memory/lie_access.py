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
(B, T·W, n+m+1) slot buffer.

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
    """Forward of the fused kernel (no autograd inside). Returns (hs, final state, trace, saved)."""
    T, B, _ = xg.shape
    H, m, n, W, R, A, P = spec.hidden, spec.mem_width, spec.key_dim, spec.write_heads, spec.read_heads, spec.heads, spec.P
    group, invnorm = spec.group, spec.weighting == "invnorm"
    o = spec.offsets()
    ok0, ok1 = o["key"]
    os0, os1 = o["step"]
    og0, og1 = o["sig"]
    om0, om1 = o["mem"]
    ot0, ot1 = o["temp"]
    # preallocated dictionary, one record [a (n) | M (m) | S (1)] per slot; slot W·t + j holds write
    # head j's step-t entry, so the slots written so far are always the prefix [:N]
    rec = xg.new_zeros(B, T * W, n + m + 1)
    a_buf, M_buf, S_buf = rec[..., :n], rec[..., n : n + m], rec[..., n + m]
    # skip the nearest-slot rescaling of InvNorm when ε^(−α/2) cannot overflow (the weights are equal)
    rescale = invnorm and spec.alpha / 2 * -math.log10(spec.eps) > 0.4 * math.log10(torch.finfo(xg.dtype).max)
    nhalf = -spec.alpha / 2
    sizes = [ok1 - ok0, os1 - os0, og1 - og0, om1 - om0, ot1 - ot0]
    # 0-dim tensors: adding a Python float costs a dtype conversion per call
    eps_t, zf_t, delta_t = (xg.new_tensor(x) for x in (spec.eps, Z_FLOOR, spec.step_delta))
    U = torch.cat([Uh, Ur], 0)  # (H + R·m, 4H)
    h, c, r, k, v = h0, c0, r0, k0, v0
    hs, cs, rs, sigs, tgs, tcs, qs, sqs = [], [], [], [], [], [], [], []
    ks, vs, kbars, vts, ws, d2s, diffs, temps = [], [], [], [], [], [], [], []
    for t, xg_t in enumerate(xg.unbind(0)):
        z = torch.addmm(xg_t, torch.cat([h, r.view(B, R * m)], 1), U)  # (B, 4H): LSTM(x, c, ρ ⊕ h)
        sg = torch.sigmoid(z[:, : 3 * H])  # [i, f, o]
        tg = torch.tanh(z[:, 3 * H :])
        i_g, f_g, o_g = sg.chunk(3, 1)
        c_prev = c
        c = torch.addcmul(f_g * c, i_g, tg)
        tc = torch.tanh(c)
        h = o_g * tc  # (B, H)
        q = torch.addmm(bq, h, Wq)  # (B, Q)
        kt, vr, sq, mem, tq = q.split(sizes, 1)
        kt, vr = kt.view(B, A, n), vr.view(B, A, P)
        sq = torch.sigmoid(sq)  # (B, 2A + W): g, h, S
        g, hg, s = sq.split([A, A, W], 1)
        mem = torch.tanh(mem)  # (B, W·m)
        vt = group.parameterise(vr, spec.normalise_steps, delta_t)
        v_prev, k_prev = v, k
        v = group.interpolate(hg.unsqueeze(-1), vt, v_prev)
        kbar = torch.lerp(k_prev, kt, g.unsqueeze(-1))
        k = group.act(v, kbar)  # (B, A, n)
        N = (t + 1) * W
        rec[:, t * W : N] = torch.cat([k[:, :W], mem.view(B, W, m), s.unsqueeze(-1)], -1)  # append
        kr = k[:, W:]  # (B, R, n)
        diff = kr.unsqueeze(2) - a_buf[:, None, :N]  # k_r − a_i: (B, R, N, n)
        d2 = (diff * diff).sum(-1)  # (B, R, N)
        if invnorm:
            d2.add_(eps_t)
            temp = None
            if rescale:
                u = (d2 / d2.amin(-1, keepdim=True)).pow_(nhalf).mul_(S_buf[:, None, :N])
            elif nhalf == -1.0:
                u = torch.div(S_buf[:, None, :N], d2)
            else:
                u = d2.pow(nhalf).mul_(S_buf[:, None, :N])
        else:
            temp = F.softplus(tq).add_(spec.temp_min)  # (B, R)
            u = d2 / temp.neg().unsqueeze(-1)
            u = u.sub_(u.amax(-1, keepdim=True)).exp_().mul_(S_buf[:, None, :N])
        w = u.div_(u.sum(-1, keepdim=True).add_(zf_t))  # (B, R, N)
        r = torch.bmm(w, M_buf[:, :N])  # (B, R, m)
        hs.append(h)
        ks.append(k)
        sqs.append(sq)
        temps.append(temp)
        if save:
            cs.append(c_prev)
            rs.append(r)
            sigs.append(sg)
            tgs.append(tg)
            tcs.append(tc)
            qs.append(q)
            vs.append(v)
            kbars.append(kbar)
            vts.append(vt)
            ws.append(w)
            d2s.append(d2)
            diffs.append(diff)
    hs_t = torch.stack(hs)  # (T, B, H)
    sq_t = torch.stack(sqs)  # (T, B, 2A + W)
    ks_t = torch.stack(ks)  # (T, B, A, n)
    temps_t = torch.stack(temps) if temps[0] is not None else None
    final = LANTMState(h, c, r, k, v, a_buf, M_buf, S_buf)
    trace = Trace(ks_t, torch.stack([sq_t[..., :A], sq_t[..., A : 2 * A]], -1), sq_t[..., 2 * A :], temps_t)
    saved = None
    if save:
        saved = dict(cs=cs, rs=rs, sigs=sigs, tgs=tgs, tcs=tcs, qs=qs, vs=vs, kbars=kbars, vts=vts,
                     ws=ws, d2s=d2s, diffs=diffs, temps=temps, hs=hs, sqs=sqs, ks=ks, a=a_buf, M=M_buf, S=S_buf)
    return hs_t, final, trace, saved


class _LANTMScan(torch.autograd.Function):
    """Fused LANTM recurrence; differentiable in hs only (state and trace are returned detached)."""

    @staticmethod
    def forward(ctx, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, spec):
        hs, final, trace, saved = _scan_forward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, spec, save=True)
        ctx.spec = spec
        ctx.saved = saved
        ctx.save_for_backward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0)
        outs = (hs, *final, *(x for x in trace if x is not None))
        ctx.mark_non_differentiable(*outs[1:])
        return outs

    @staticmethod
    def backward(ctx, ghs, *_):
        xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0 = ctx.saved_tensors
        spec, sv = ctx.spec, ctx.saved
        grads = _scan_backward(ghs, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, spec, sv)
        return (*grads, None)


def _scan_backward(ghs, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, spec: LANTMSpec, sv: dict):
    """Back-propagation through time for ``_scan_forward``, by hand, newest step first.

    Slot gradients (g_a, g_M, and Σ_r e for the strength) accumulate in (B, T·W, ·) buffers; when
    the loop reaches step t every read that saw slot t has been processed, so slot t is complete.
    Everything that does not depend on the backward recursion is computed for all steps at once.
    """
    T, B, _ = xg.shape
    H, m, n, W, R, A, P = spec.hidden, spec.mem_width, spec.key_dim, spec.write_heads, spec.read_heads, spec.heads, spec.P
    group, invnorm = spec.group, spec.weighting == "invnorm"
    o = spec.offsets()
    ok0, ok1 = o["key"]
    os0, os1 = o["step"]
    ot0, ot1 = o["temp"]
    a_buf, M_buf, S_buf = sv["a"], sv["M"], sv["S"]
    hs = torch.stack(sv["hs"])  # (T, B, H); lists, not the outputs, are kept (no reference cycle)
    ghs_t = ghs.unbind(0) if ghs is not None else [torch.zeros_like(h0)] * T
    # ---- everything outside the recursion, vectorised over t
    sig = torch.stack(sv["sigs"])  # (T, B, 3H): [i, f, o]
    tg = torch.stack(sv["tgs"])  # (T, B, H)
    tcs = torch.stack(sv["tcs"])  # (T, B, H)
    c_prev = torch.stack(sv["cs"])  # (T, B, H)
    # gz = [gc, gc, gh, gc] * Y with Y = [tanh g, c_prev, tanh c, i] * activation derivatives
    Y = torch.cat([tg, c_prev, tcs, sig[..., :H]], -1).mul_(torch.cat([sig * (1 - sig), 1 - tg * tg], -1))
    Y_t = Y.unbind(0)
    do_tc_t = (sig[..., 2 * H :] * (1 - tcs * tcs)).unbind(0)  # ∂h/∂c = o (1 − tanh² c)
    f_t = sig[..., H : 2 * H].unbind(0)
    sq = torch.stack(sv["sqs"])  # (T, B, 2A + W): g, h, S
    Q = torch.stack(sv["qs"])  # (T, B, Q)
    Ktr = torch.stack(sv["ks"])  # (T, B, A, n)
    K_prev = torch.cat([k0.unsqueeze(0), Ktr[:-1]], 0)
    Vtr = torch.stack(sv["vs"])  # (T, B, A, P)
    V_prev = torch.cat([v0.unsqueeze(0), Vtr[:-1]], 0)
    kt_all = Q[..., ok0:ok1].reshape(T, B, A, n)
    dk_t = (kt_all - K_prev).unbind(0)  # k̃ − k_prev, for ∂L/∂g
    g_t = sq[..., :A].unsqueeze(-1).unbind(0)  # (B, A, 1)
    hg_t = sq[..., A : 2 * A].unsqueeze(-1).unbind(0)
    VR = Q[..., os0:os1].reshape(T, B, A, P)
    vr_t = VR.unbind(0)
    vprev_t = V_prev.unbind(0)
    # translation (the paper's group): the step maps' VJPs with their step-independent parts precomputed
    fast_tr = isinstance(group, Translation)
    if fast_tr:
        VT = torch.stack(sv["vts"])  # (T, B, A, P)
        dv_t = (VT - V_prev).unbind(0)  # ṽ − v_prev, for ∂L/∂h
        s_t = torch.rsqrt((VR * VR).sum(-1, keepdim=True) + spec.step_delta).unbind(0) if spec.normalise_steps else None
    # gq = [g_k̃, g_raw, g_g, g_h, Σe, g_M, g_T] * DQ: the activation derivative of each column block
    S_all = sq[..., 2 * A :]
    mem_all = M_buf.reshape(B, T, W * m).transpose(0, 1)  # (T, B, W·m)
    dq = [sq[..., : 2 * A] * (1 - sq[..., : 2 * A]), 1 - S_all, 1 - mem_all * mem_all]
    if not invnorm:
        dq.append(torch.sigmoid(Q[..., ot0:ot1]))  # softplus' = sigmoid
    ones = sq.new_ones(T, B, A * (n + P))  # the k̃ and raw-step columns are not squashed
    DQ_t = torch.cat([ones] + dq, -1).unbind(0)  # (B, Q) per step
    g_a = torch.zeros_like(a_buf)  # (B, TW, n)
    g_M = torch.zeros_like(M_buf)  # (B, TW, m)
    g_Se = torch.zeros_like(S_buf)  # Σ_r e_ri, (B, TW)
    gh_c = torch.zeros_like(h0)  # ∂L/∂h_t via z_{t+1}
    gr_c = torch.zeros_like(r0)  # ∂L/∂ρ_t via z_{t+1}
    gc_c = torch.zeros_like(c0)
    gk_c = torch.zeros_like(k0)  # ∂L/∂k_t via k̄_{t+1}
    gv_c = torch.zeros_like(v0)  # ∂L/∂v_t via v_{t+1}
    WqT, UT = Wq.t(), torch.cat([Uh, Ur], 0).t()  # (Q, H), (4H, H + R·m)
    sum_r = (lambda x: x.select(1, 0)) if R == 1 else (lambda x: x.sum(1))  # Σ over read heads
    gzs, gqs = [None] * T, [None] * T
    # ∂d2/∂k = 2(k − a) = 2·diff; invnorm: ∂L/∂d2 = e·(−α/2)/d2, softmax: ∂L/∂d2 = −e/T
    scale = -spec.alpha if invnorm else -2.0
    scale_t, delta_t = xg.new_tensor(scale), xg.new_tensor(spec.step_delta)
    for t in range(T - 1, -1, -1):
        lo, N = t * W, (t + 1) * W
        w, d2, diff = sv["ws"][t], sv["d2s"][t], sv["diffs"][t]  # (B, R, N), (B, R, N), (B, R, N, n)
        # ---- read: ρ = w M,  w = u/Σu,  u = φ(d2) S
        g_M[:, :N].add_(torch.bmm(w.transpose(1, 2), gr_c))
        gw = torch.bmm(gr_c, M_buf[:, :N].transpose(1, 2))  # (B, R, N)
        # e_ri = (∂L/∂w_ri − Σ_j ∂L/∂w_rj w_rj) w_ri = ∂L/∂log u_ri;  Σ_j ∂L/∂w_rj w_rj = g_ρ·ρ
        e = (gw - (gr_c * sv["rs"][t]).sum(-1, keepdim=True)).mul_(w)
        g_Se[:, :N].add_(sum_r(e))  # ∂L/∂log S_i
        if invnorm:
            gtemp = None
            e.div_(d2)
        else:
            temp = sv["temps"][t]  # (B, R)
            gtemp = (e * d2).sum(-1).div_(temp * temp)  # ∂ log φ/∂T = d2/T²
            e.div_(temp.unsqueeze(-1))
        G = e.unsqueeze(-1) * diff  # (B, R, N, n)
        gkr = G.sum(2).mul_(scale_t)  # (B, R, n)
        g_a[:, :N].add_(sum_r(G), alpha=-scale)
        # ---- heads of step t (slot t is complete):  k = v·k̄,  k̄ = lerp(k_prev, k̃, g),  v = interp(h, ṽ, v_prev)
        gk = torch.cat([g_a[:, lo:N], gkr], 1).add_(gk_c)  # (B, A, n)
        v, vt = sv["vs"][t], sv["vts"][t]
        if fast_tr:  # k = k̄ + v,  v = lerp(v_prev, ṽ, h),  ṽ = r·s
            gkbar = gk
            gv = gv_c + gk
            gvt = gv * hg_t[t]
            ghg = (gv * dv_t[t]).sum(-1, keepdim=True)
            gv_c = gv - gvt
            gvr = gvt if s_t is None else s_t[t] * (gvt - vt * (vt * gvt).sum(-1, keepdim=True))
        else:
            gv_a, gkbar = group.act_bwd(v, sv["kbars"][t], gk)
            gv = gv_c + gv_a
            ghg, gvt, gv_c = group.interpolate_bwd(hg_t[t], vt, vprev_t[t], v, gv)
            gvr = group.parameterise_bwd(vr_t[t], vt, gvt, spec.normalise_steps, delta_t)
        gkt = gkbar * g_t[t]
        gk_c = gkbar - gkt
        gg = (gkbar * dk_t[t]).sum(-1)  # (B, A)
        pieces = [gkt.view(B, A * n), gvr.reshape(B, A * P), gg, ghg.view(B, A), g_Se[:, lo:N],
                  g_M[:, lo:N].reshape(B, W * m)]
        if gtemp is not None:
            pieces.append(gtemp)
        gq = torch.cat(pieces, 1).mul_(DQ_t[t])
        gqs[t] = gq
        # ---- LSTM: h = o tanh(c),  c = f c_prev + i g
        gh = torch.addmm(gh_c.add_(ghs_t[t]), gq, WqT)
        gc = torch.addcmul(gc_c, gh, do_tc_t[t])
        gz = torch.cat([gc, gc, gh, gc], 1).mul_(Y_t[t])  # (B, 4H)
        gc_c = gc * f_t[t]
        gzs[t] = gz
        gx = gz @ UT  # (B, H + R·m): ∂L/∂[h_{t-1}, ρ_{t-1}]
        gh_c = gx[:, :H]
        gr_c = gx[:, H:].view(B, R, m)
    GZ = torch.stack(gzs)  # (T, B, 4H)
    GQ = torch.stack(gqs)  # (T, B, Q)
    h_in = torch.cat([h0.unsqueeze(0), hs[:-1]], 0).reshape(T * B, H)  # h_{t-1}
    r_in = torch.stack([r0] + sv["rs"][:-1]).reshape(T * B, R * m)  # ρ_{t-1}
    GZf = GZ.reshape(T * B, 4 * H)
    gUh = h_in.t() @ GZf
    gUr = r_in.t() @ GZf
    gWq = hs.reshape(T * B, H).t() @ GQ.reshape(T * B, -1)
    gbq = GQ.sum((0, 1))
    return GZ, gUh, gUr, gWq, gbq, gh_c, gc_c, gr_c, gk_c, gv_c


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
    hs, final, trace, _ = _scan_forward(*args, spec, save=False)
    return hs, final, trace


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
