"""Fused LANTM sequence kernel: LSTM controller + Lie access memory in one autograd node.

Same recurrence as ``memlab.memory.lie_access.lantm_scan_ref`` (which composes THE LSTM of
``memlab.controllers.lstm`` with the access step), for every setting of ``LANTMSpec``: read
before or after the write, write masks (no writes while answering), initial memory slots,
steps with or without interpolation. The controller is inlined for speed with the same gate
order (i, f, g, o) as ``lstm_cell_step``; tests check the two agree in float64, values and
gradients, and gradcheck the kernel.

Why it is fast. One ``torch.autograd.Function`` over the whole sequence writes each slot once
into a preallocated (B, N0 + T·W, ·) buffer, reads only the visible prefix, and back-propagates
through time by hand from the final buffer: no per-step copies of the memory are saved; the
per-step read weights, squared distances and key differences, O(B·R·N·(n+2)) each step, are
(O(B·R·T²·(n+2)) in all, against O(B·T²·m) for re-saving the memory). Everything in the
backward that does not depend on the recursion (activation derivatives, weight gradients) is
done for all steps at once. At the paper's sizes a step is ~60 tiny tensor ops forward and
backward, so the kernel is written against per-op overhead: results go with ``out=`` into
preallocated buffers (no ``cat``/``stack`` per step), addresses are stored planar (B, n, N)
so k − a and its reductions run along the slots, and the step loops run under
``torch.inference_mode``. Under ``no_grad`` nothing is saved, so 8x lengths only cost the slot
buffers.

Shapes: B batch, T time, H controller cells, m memory width, n key dimension, P group
parameters, W write heads, R read heads, A = W + R heads (writes first), N0 initial slots,
Q instruction size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from memlab.memory.lie_access import Z_FLOOR, LANTMParams, LANTMSpec, LANTMState, Trace
from memlab.memory.lie_groups import Translation


def _scan_forward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0, mask, spec: LANTMSpec, save: bool):
    """Forward (no autograd inside). Returns (hs (T,B,H), reads (T,B,R,m), final, trace, saved).

    Rows t+1 of ``HR`` hold [h_t | ρ_t], the controller's recurrent input of step t+1. Slot
    N0 + W·t + j holds write head j's step-t entry. Without ``save`` the buffers only the
    backward needs are one step deep.
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
    N0 = a0.shape[1]
    Ts = T if save else 1
    new = xg.new_empty
    HR = new(T + 1, B, H + R * m)
    Hv, Rv = HR[..., :H], HR[..., H:].view(T + 1, B, R, m)
    Hv[0].copy_(h0)
    Rv[0].copy_(r0)
    C = new(T + 1, B, H)  # c_t in row t+1
    C[0].copy_(c0)
    SIG, TG, TC, QB = new(Ts, B, 4 * H), new(Ts, B, H), new(Ts, B, H), new(Ts, B, spec.instr_size)
    SQ = new(T, B, 2 * A)  # gates g, h (the trace keeps them)
    K, V = new(T + 1, B, A, n), new(T + 1, B, A, P)  # keys and steps after step t in row t+1
    K[0].copy_(k0)
    V[0].copy_(v0)
    VT = new(Ts, B, A, P)  # candidate steps ṽ
    KBAR = new(Ts if not fast_tr else 1, B, A, n)  # pre-action keys k̄ (the general groups' backward)
    TEMP = new(T, B, R) if not invnorm else None
    L = N0 + T * W
    aP, M_buf, S_buf = new(B, n, L), new(B, L, m), new(B, L)  # addresses planar: k − a runs along slots
    aP[:, :, :N0].copy_(a0.transpose(1, 2))
    M_buf[:, :N0].copy_(M0)
    S_buf[:, :N0].copy_(S0)
    # skip the nearest-slot rescaling of InvNorm when ε^(−α/2) cannot overflow (the weights are equal)
    rescale = invnorm and spec.alpha / 2 * -math.log10(spec.eps) > 0.4 * math.log10(torch.finfo(xg.dtype).max)
    nhalf = -spec.alpha / 2
    eps_n, zf_t = xg.new_tensor(spec.eps / n), xg.new_tensor(Z_FLOOR)  # 0-dim: no conversion per call
    sqrt_delta_t, delta_t = xg.new_tensor(math.sqrt(spec.step_delta)), xg.new_tensor(spec.step_delta)
    U = torch.cat([Uh, Ur], 0)  # (H + R·m, 4H)
    diffs, d2s, ws = [], [], []
    xg_t, HR_t, Hv_t, Rv_t, C_t, K_t, V_t, SQ_t = (x.unbind(0) for x in (xg, HR, Hv, Rv, C, K, V, SQ))
    for t in range(T):
        s_ = t if save else 0
        lo, hi = N0 + t * W, N0 + (t + 1) * W
        z = torch.addmm(xg_t[t], HR_t[t], U)  # (B, 4H): LSTM([x, ρ_{t−1}], h_{t−1}), gates i, f, g, o
        sg = torch.sigmoid(z, out=SIG[s_])  # the g block is unused
        tg = torch.tanh(z[:, 2 * H : 3 * H], out=TG[s_])
        c = torch.mul(sg[:, H : 2 * H], C_t[t], out=C_t[t + 1]).addcmul_(sg[:, :H], tg)
        tc = torch.tanh(c, out=TC[s_])
        h = torch.mul(sg[:, 3 * H :], tc, out=Hv_t[t + 1])  # (B, H)
        q = torch.addmm(bq, h, Wq, out=QB[s_])  # (B, Q): instructions
        sq = torch.sigmoid(q[:, og0 : og0 + 2 * A], out=SQ_t[t])  # (B, 2A): g, h
        if not spec.interpolate_steps:
            sq[:, A:].fill_(1.0)  # v = ṽ
        st = torch.sigmoid(q[:, og0 + 2 * A : og1], out=S_buf[:, lo:hi])  # strengths, appended
        if mask is not None:
            st.mul_(mask[t].unsqueeze(1))  # no write: strength 0, invisible to every read
        torch.tanh(q[:, om0:om1].view(B, W, m), out=M_buf[:, lo:hi])  # memory vectors, appended
        kt, vr = q[:, ok0:ok1].view(B, A, n), q[:, os0:os1].view(B, A, P)
        g, hg = sq[:, :A].unsqueeze(-1), sq[:, A:].unsqueeze(-1)
        if fast_tr:  # ṽ = r / sqrt(‖r‖² + δ),  v = lerp(v_prev, ṽ, h),  k = lerp(k_prev, k̃, g) + v
            if spec.normalise_steps:
                den = torch.hypot(torch.linalg.vector_norm(vr, dim=-1, keepdim=True), sqrt_delta_t)
                vt = torch.div(vr, den, out=VT[s_])
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
        aP[:, :, lo:hi].copy_(k[:, :W].transpose(1, 2))  # append the write heads' addresses
        if not invnorm:
            temp = torch.add(F.softplus(q[:, ot0:ot1]), spec.temp_min, out=TEMP[t])  # (B, R)
            if spec.softmax_temp == "inverse":
                temp = torch.reciprocal(temp, out=TEMP[t])  # T = 1/β
        N = lo if spec.read_first else hi  # slots the reads of step t see
        if N == 0:  # nothing written yet: ρ = 0
            Rv_t[t + 1].zero_()
            if save:
                diffs.append(None)
                d2s.append(None)
                ws.append(None)
            continue
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
            u = d2 / temp.neg().unsqueeze(-1)
            u = u.sub_(u.amax(-1, keepdim=True)).exp_().mul_(S)
        w = u.div_(u.sum(-1, keepdim=True).add_(zf_t))  # (B, R, N)
        Rv_t[t + 1].copy_(torch.bmm(w, M_buf[:, :N]))  # ρ (B, R, m)
        if save:
            diffs.append(diff)
            d2s.append(d2)
            ws.append(w)
    hs, reads = Hv[1:].clone(), Rv[1:].clone()  # (T, B, H), (T, B, R, m)
    final = LANTMState(Hv[T], C[T], Rv[T], K[T], V[T], aP.transpose(1, 2), M_buf, S_buf)
    gates = torch.stack([SQ[..., :A], SQ[..., A:]], -1)  # (T, B, A, 2)
    trace = Trace(K[1:], gates, S_buf[:, N0:].reshape(B, T, W).transpose(0, 1), TEMP)
    saved = None
    if save:
        saved = dict(HR=HR, C=C, SIG=SIG, TG=TG, TC=TC, QB=QB, SQ=SQ, K=K, V=V, VT=VT, KBAR=KBAR, TEMP=TEMP,
                     diffs=diffs, d2s=d2s, ws=ws, M=M_buf, S=S_buf, delta=delta_t)
    return hs, reads, final, trace, saved


def _scan_backward(ghs, grs, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0, spec: LANTMSpec, sv: dict):
    """Back-propagation through time for ``_scan_forward``, by hand, newest step first.

    ∂L/∂q accumulates in one (B, T, Q) buffer ``GQ``. Slot gradients accumulate in ``GA``
    (−Σ_r G, planar like the addresses), ``GM`` (∂L/∂M) and ``GS`` (∂L/∂log S) over all
    N0 + T·W slots; a slot written at step t is read only at steps ≥ t, so when the loop reaches
    step t its row is complete and is copied into the instruction gradient of step t.
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
    N0 = a0.shape[1]
    L = N0 + T * W
    HR, C, SIG, TG, TC, QB, SQ = (sv[x] for x in ("HR", "C", "SIG", "TG", "TC", "QB", "SQ"))
    K, V, VT, KBAR, TEMP = (sv[x] for x in ("K", "V", "VT", "KBAR", "TEMP"))
    M_buf, S_buf, delta_t = sv["M"], sv["S"], sv["delta"]
    ghs_t = ghs.unbind(0) if ghs is not None else None
    grs_t = grs.unbind(0) if grs is not None else None
    # ---- outside the recursion, vectorised over t.  gz = [gc, gc, gc, gh] * Y,
    # Y = [tanh g · σ'(i), c_prev · σ'(f), i · tanh'(g), tanh c · σ'(o)]
    SI, SF, SO = SIG[..., :H], SIG[..., H : 2 * H], SIG[..., 3 * H :]
    Y = torch.cat([TG, C[:-1], SI, TC], -1).mul_(
        torch.cat([SI * (1 - SI), SF * (1 - SF), 1 - TG * TG, SO * (1 - SO)], -1))
    Y3_t = Y[..., : 3 * H].view(T, B, 3, H).unbind(0)
    Yo_t = Y[..., 3 * H :].unbind(0)
    do_tc_t = (SO * (1 - TC * TC)).unbind(0)  # ∂h/∂c = o (1 − tanh² c)
    f_t = SF.unbind(0)
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
    # ∂L/∂q = GQ * DQ, DQ the activation derivative of each column block (h ≡ 1 without interpolation: 0)
    S_all = S_buf[:, N0:].reshape(B, T, W).transpose(0, 1)
    mem_all = M_buf[:, N0:].reshape(B, T, W * m).transpose(0, 1)
    dq = [SQ * (1 - SQ), 1 - S_all, 1 - mem_all * mem_all]  # of g, h; of log S; of M
    if not invnorm:
        dT = torch.sigmoid(QB[..., ot0:ot1])  # softplus' = sigmoid
        dq.append(dT if spec.softmax_temp == "softplus" else dT.mul_(TEMP * TEMP).neg_())  # T = 1/β: −σ·T²
    DQ_t = torch.cat([SQ.new_ones(T, B, A * (n + P))] + dq, -1).unbind(0)  # (B, Q) per step
    GQ = xg.new_zeros(B, T, Q)
    GQ_t = GQ.unbind(1)
    GK = GQ[..., ok0:ok1].view(B, T, A, n)  # write heads: ∂L/∂a (unscaled); read heads: ∂L/∂k_r
    GK_t, GKw_t, GKr_t = GK.unbind(1), GK[:, :, :W].unbind(1), GK[:, :, W:].unbind(1)
    GA, GM, GS = xg.new_zeros(B, n, L), xg.new_zeros(B, L, m), xg.new_zeros(B, L)
    GZ = xg.new_empty(T, B, 4 * H)
    GZ_t, GZ3_t = GZ.unbind(0), GZ[..., : 3 * H].view(T, B, 3, H).unbind(0)
    gh_c, gr_c, gc_c = torch.zeros_like(h0), torch.zeros_like(r0), torch.zeros_like(c0)  # via step t+1
    gk_c, gv_c = torch.zeros_like(k0), torch.zeros_like(v0)  # ∂L/∂k_t via k̄_{t+1}, ∂L/∂v_t via v_{t+1}
    WqT, UT = Wq.t(), torch.cat([Uh, Ur], 0).t()  # (Q, H), (4H, H + R·m)
    Rv_t = HR[1:, :, H:].view(T, B, R, m).unbind(0)
    # ∂d2/∂k = 2·diff; invnorm ∂L/∂d2 = e·(−α/2)/d2, softmax ∂L/∂d2 = −e/T: factor applied once per key
    scale = -spec.alpha if invnorm else -2.0
    for t in range(T - 1, -1, -1):
        lo, hi = N0 + t * W, N0 + (t + 1) * W
        N = lo if spec.read_first else hi
        row = GQ_t[t]
        if grs_t is not None:
            gr_c = gr_c + grs_t[t]
        # ---- read: ρ = w M,  w = u/Σu,  u = φ(d2) S
        if N > 0:
            w, d2, diff = sv["ws"][t], sv["d2s"][t], sv["diffs"][t]  # (B, R, N), (B, R, N), (B, R, n, N)
            GM[:, :N].add_(torch.bmm(w.transpose(1, 2), gr_c))
            gw = torch.bmm(gr_c, M_buf[:, :N].transpose(1, 2))  # (B, R, N)
            # e_ri = ∂L/∂log u_ri = (∂L/∂w_ri − Σ_j ∂L/∂w_rj w_rj) w_ri;  Σ_j ∂L/∂w_rj w_rj = g_ρ·ρ
            e = gw.sub_((gr_c * Rv_t[t]).sum(-1, keepdim=True)).mul_(w)
            GS[:, :N].add_(e.sum(1))
            if invnorm:
                e.div_(d2)
            else:
                temp = TEMP[t]  # (B, R)
                torch.div((e * d2).sum(-1), temp * temp, out=row[:, ot0:ot1])  # ∂ log φ/∂T = d2/T²
                e.div_(temp.unsqueeze(-1))
            G = e.unsqueeze(2) * diff  # (B, R, n, N)
            torch.sum(G, -1, out=GKr_t[t])
            GA[:, :, :N].sub_(G.sum(1))
        # ---- the slots of step t are complete
        GKw_t[t].copy_(GA[:, :, lo:hi].transpose(1, 2))
        row[:, om0:om1].copy_(GM[:, lo:hi].reshape(B, W * m))
        row[:, og0 + 2 * A : og1].copy_(GS[:, lo:hi])
        # ---- heads:  k = v·k̄,  k̄ = lerp(k_prev, k̃, g),  v = interp(h, ṽ, v_prev)
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
            gh_c = gh_c + ghs_t[t]
        gh = torch.addmm(gh_c, row, WqT)
        gc = torch.addcmul(gc_c, gh, do_tc_t[t])
        torch.mul(Y3_t[t], gc.unsqueeze(1), out=GZ3_t[t])
        torch.mul(Yo_t[t], gh, out=GZ_t[t][:, 3 * H :])
        gc_c = gc.mul_(f_t[t])
        gx = torch.mm(GZ_t[t], UT)  # (B, H + R·m): ∂L/∂[h_{t-1}, ρ_{t-1}]
        gh_c = gx[:, :H]
        gr_c = gx[:, H:].view(B, R, m)
    gU = HR[:-1].reshape(T * B, H + R * m).t() @ GZ.view(T * B, 4 * H)  # inputs [h_{t-1}, ρ_{t-1}]
    hsB = HR[1:, :, :H].transpose(0, 1).reshape(B * T, H)
    gWq = hsB.t() @ GQ.view(B * T, Q)
    gbq = GQ.sum((0, 1))
    ga0 = GA[:, :, :N0].transpose(1, 2).mul(scale)  # (B, N0, n)
    gS0 = torch.where(S0 > 0, GS[:, :N0] / S0.clamp_min(1e-300), torch.zeros_like(S0))  # ∂L/∂S = ∂L/∂log S / S
    return GZ, gU[:H], gU[H:], gWq, gbq, gh_c, gc_c, gr_c, gk_c, gv_c, ga0, GM[:, :N0], gS0


class _LANTMScan(torch.autograd.Function):
    """Fused LANTM recurrence; differentiable in hs and reads (state and trace come back detached)."""

    @staticmethod
    def forward(ctx, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0, mask, spec):
        with torch.inference_mode():
            hs, reads, final, trace, saved = _scan_forward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0,
                                                           mask, spec, save=True)
        ctx.spec = spec
        ctx.saved = saved  # inference tensors, read only by backward
        ctx.save_for_backward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0)
        outs = _normal(hs, reads, *final, *(x for x in trace if x is not None))
        ctx.mark_non_differentiable(*outs[2:])
        return outs

    @staticmethod
    def backward(ctx, ghs, grs, *_):
        ins = ctx.saved_tensors
        spec, sv = ctx.spec, ctx.saved
        with torch.inference_mode():
            grads = _scan_backward(ghs, grs, *ins, spec, sv)
        return (*_normal(*grads), None, None)


def _normal(*xs: Tensor) -> tuple[Tensor, ...]:
    """Plain copies of tensors made under ``torch.inference_mode`` (the step loops run there: it
    skips the view and version-counter bookkeeping of every small op, ~15% of the forward), so
    autograd and in-place updates accept what leaves the kernel."""
    return tuple(x.clone() if x.is_inference() else x for x in xs)


def lantm_scan(
    xs: Tensor, p: LANTMParams, state: LANTMState, spec: LANTMSpec, write_mask: Tensor | None = None
) -> tuple[Tensor, Tensor, LANTMState, Trace]:
    """Fast scan, same contract as ``lantm_scan_ref``: inputs ``xs`` (T, B, E); returns hs (T, B, H),
    reads (T, B, R, m), the final state and the trace.

    ``state`` may hold initial slots (addresses, memory, strengths); ``write_mask`` (T, B) of 0/1
    turns writes off (strength 0). Differentiable in hs and reads with respect to ``xg``, the
    parameters and every tensor of the initial state; the final state and trace carry no gradient.
    Under ``no_grad`` (or when nothing requires grad) nothing is saved for backward.
    """
    E = xs.shape[-1]
    xg = torch.addmm(p.b, xs.reshape(-1, E), p.W_x[:, :E].t()).view(*xs.shape[:2], -1)  # (T, B, 4H): x W_xᵀ + b
    mask = None if write_mask is None else write_mask.to(xg.dtype)
    args = (xg, p.W_r.t(), p.W_x[:, E:].t(), p.Wq, p.bq, state.h, state.c, state.reads, state.keys, state.steps,
            state.addresses, state.memory, state.strengths)
    if torch.is_grad_enabled() and any(x.requires_grad for x in args):
        outs = _LANTMScan.apply(*args, mask, spec)
    else:
        with torch.inference_mode():
            hs, reads, final, trace, _ = _scan_forward(*args, mask, spec, save=False)
        outs = _normal(hs, reads, *final, *(x for x in trace if x is not None))
    hs, reads, rest = outs[0], outs[1], list(outs[2:])
    return hs, reads, LANTMState(*rest[:8]), Trace(*rest[8:11], rest[11] if len(rest) > 11 else None)
