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
per-step read weights (into one (B, T, R, N0 + T·W) buffer), squared distances and key
differences, O(B·R·N·(n+2)) each step, are (O(B·R·T²·(n+2)) in all, against O(B·T²·m) for
re-saving the memory). Everything in the backward that does not depend on the recursion is
done outside the step loop: the weight gradients after it, as products over all steps; with the
Python loops also the activation derivatives and the step normalisation's Jacobians, for all
steps before it (the C++ loop forms those row by row where it uses them, below).

At the paper's sizes a step is ~30 tiny tensor ops forward and ~26 backward, so the kernel is
written against per-op overhead (issue 14: the cost was dispatch, not arithmetic):

* C++ loops. For the translation group (the paper's models) on the CPU in float32/float64, the
  forward and backward step loops run in C++ (``csrc/lantm_scan.cpp``, operators
  ``memlab::lantm_tr_forward``/``lantm_tr_backward``, built on first use by
  ``memlab.memory.kernels.cpp``): the controller's and the instruction layer's products and the
  big sigmoids go through ATen, everything else (gates, heads, the read weighting over the slots
  and its backward) is plain loops over the workspace's buffers. The backward forms in its loop,
  row by row, what the Python loops prepare for all steps before theirs (``_scan_backward_cpp``),
  and recomputes the key differences and squared distances instead of saving them. Every setting
  of ``LANTMSpec`` is covered for that group (both weightings and temperature forms, any α, read
  first or not, write masks, initial slots, normalised, bounded or raw steps, interpolation on
  or off, any head counts and key size). The other groups, CUDA tensors, other dtypes and
  ``MEMLAB_NO_CPP=1`` (or a failed build) run the loops below, which compute the same maths;
  ``loop_kind`` says which run. Tests check both against the reference.

* Workspaces. The buffers of a call and every per-step view of them (one ``unbind`` or
  ``narrow`` per buffer, ~15,000 views at B = 32, T = 130, shared by forward and backward) form a
  ``_Workspace``. A training workspace is leased to the autograd graph and, when the graph is
  freed, goes back to a small pool (``_acquire``/``_release``), so the next call of the same shapes
  builds no buffer and no view; the backward adds its own buffers to it on first use. Everything
  that leaves the kernel is a copy (``_normal``). The loop bodies are only arithmetic writing with
  ``out=`` or in place (no ``cat``/``stack``, slicing, ``fill_`` or allocation per step).
* Compiled loops. Without the C++ loops, the translation group's forward and backward step
  loops are the functions ``_fwd_steps_tr``/``_bwd_steps_tr``, compiled with TorchScript on first
  use (about 1 µs less dispatch per op than Python; ``MEMLAB_NO_TORCHSCRIPT=1`` or
  ``USE_SCRIPT = False`` runs them as plain Python); the general groups run the Python loops of
  ``_scan_forward``/``_scan_backward``.
* No tanh in the controller: on this torch build tanh costs ~4 sigmoids. The kernel takes the g
  gates' rows of W_x, W_r and b doubled (``lantm_scan`` scales them with autograd), so one sigmoid
  over all four gate blocks gives tanh g = 2σ(2g) − 1 by one add; the cell state is kept as 2c,
  so tanh c = 2σ(2c) − 1 needs no doubling.
* Layouts: per-step rows contiguous — the instruction and controller-input gradients ``GQ``,
  ``GX`` are time-major (T, B, ·); addresses, the transposed memory ``MT`` and its gradient are
  planar (B, ·, N) so k − a, the read products and their accumulation run along the slots; the
  controller's pre-activations are written into the sigmoid buffer and the backward's LSTM
  derivative factors into ∂L/∂z itself (turned into ∂L/∂z_t in place at step t).
* Fewer ops: the slot gradients of one read head are accumulated without summing over heads, a
  slot's ∂L/∂log S and ∂L/∂M enter ∂L/∂q already times their activations' derivatives, σ'(g),
  σ'(h) are folded into the translation chains once per call, the cell and hidden gradients live
  in fixed buffers; and the step loops run under ``torch.inference_mode``.

Under ``no_grad`` nothing is saved and the per-step buffers are one step deep, so 8x lengths
only cost the slot buffers. On Linux the first CPU call asks glibc to keep freed memory
(``memlab.core.runtime.keep_freed_memory``): the per-call buffers otherwise come back as fresh
pages every step.

Shapes: B batch, T time, H controller cells, m memory width, n key dimension, P group
parameters, W write heads, R read heads, A = W + R heads (writes first), N0 initial slots,
Q instruction size.
"""

from __future__ import annotations

import math
import os
import warnings
import weakref
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from memlab.core.runtime import keep_freed_memory
from memlab.memory.lie_access import Z_FLOOR, LANTMParams, LANTMSpec, LANTMState, Trace
from memlab.memory.lie_groups import Translation


def _views(x: Tensor, dim: int, n: int) -> list[Tensor] | tuple[Tensor, ...]:
    """x.unbind(dim) when x holds all n steps, else [x.select(dim, 0)] * n (a one-step-deep buffer)."""
    return x.unbind(dim) if x.shape[dim] == n else [x.select(dim, 0)] * n


class _Workspace(dict):
    """Buffers of one kernel call and every per-step view of them (``_forward_buffers``; the
    backward's are added by ``_backward_buffers`` on first use). Building the views costs
    ~15,000 tensor views a training step at B = 32, T = 130, so a training workspace is kept for
    the next call of the same shapes (``_acquire``/``_release``): its buffers are fully rewritten
    (or zeroed) by every call, and everything that leaves the kernel is a copy."""

    __slots__ = ("key", "__weakref__")


_POOL: list[_Workspace] = []  # free training workspaces, most recently released last
_POOL_SIZE = 2


def _acquire(key) -> _Workspace | None:
    for i in range(len(_POOL) - 1, -1, -1):
        if _POOL[i].key == key:
            return _POOL.pop(i)
    return None


def _release(ws: _Workspace) -> None:
    _POOL.append(ws)
    del _POOL[:-_POOL_SIZE]


class _Lease:
    """Held by the autograd context: when the graph is freed (after backward, or unused), its
    workspace goes back to the pool."""

    __slots__ = ("__weakref__",)


def _sizes(spec: LANTMSpec) -> tuple[int, int, int, int, int, int, int]:
    """(H, m, n, W, R, A, P): controller cells, memory width, key dim, write/read/all heads, step size."""
    return spec.hidden, spec.mem_width, spec.key_dim, spec.write_heads, spec.read_heads, spec.heads, spec.P


def _columns(spec: LANTMSpec) -> tuple[tuple[int, int], ...]:
    """Column ranges of the instruction q: (key, step, sig, mem, temp), each (start, stop)."""
    o = spec.offsets()
    return o["key"], o["step"], o["sig"], o["mem"], o["temp"]


def _forward_buffers(T, B, N0, dtype, device, spec: LANTMSpec, save: bool, masked: bool) -> _Workspace:
    """The forward's buffers and all their per-step views (made once: one ``unbind`` per buffer)."""
    H, m, n, W, R, A, P = _sizes(spec)
    group, invnorm = spec.group, spec.weighting == "invnorm"
    fast_tr = isinstance(group, Translation)
    interp, norm_steps = spec.interpolate_steps, spec.normalise_steps
    (ok0, ok1), (os0, os1), (og0, og1), (om0, om1), _ = _columns(spec)
    Ts = T if save else 1

    def new(*shape):
        return torch.empty(shape, dtype=dtype, device=device)

    HR = new(T + 1, B, H + R * m)
    Hv, Rv = HR[..., :H], HR[..., H:].view(T + 1, B, R, m)
    C = new(T + 1, B, H)  # 2·c_t in row t+1 (tanh c = 2σ(2c) − 1)
    SIG, TG, TC, QB = new(Ts, B, 4 * H), new(Ts, B, H), new(Ts, B, H), new(Ts, B, spec.instr_size)  # SIG: z, then σ(z) in place
    SQ = new(T, B, 2 * A + W)  # σ of the gates g, h and the strengths (unmasked); the trace keeps g, h
    K, V = new(T + 1, B, A, n), new(T + 1, B, A, P)  # keys and steps after step t in row t+1
    tr_no_interp = fast_tr and not interp
    if fast_tr and not norm_steps:  # candidate steps ṽ: the raw instructions
        VT = QB[..., os0:os1].unflatten(-1, (A, P))
    elif tr_no_interp and norm_steps:  # v = ṽ
        VT = V[1:]
    else:
        VT = new(Ts, B, A, P)
    KBAR = new(Ts, B, A, n) if not fast_tr else None  # pre-action keys k̄ (the general groups' backward)
    TEMP = new(T, B, R) if not invnorm else None
    L = N0 + T * W
    aP, M_buf, S_buf = new(B, n, L), new(B, L, m), new(B, L)  # addresses planar: k − a runs along slots
    Wd = new(B, T, R, L) if save else None  # read weights of step t in row t (slots < N_t only)
    MASK = new(T, B, 1) if masked else None
    ws = _Workspace(
        T=T, B=B, N0=N0, save=save, L=L, HR=HR, Hv=Hv, Rv=Rv, C=C, SIG=SIG, TG=TG, TC=TC, QB=QB, SQ=SQ, K=K, V=V,
        VT=VT, KBAR=KBAR, TEMP=TEMP, aP=aP, M=M_buf, S=S_buf, Wd=Wd, MASK=MASK,
        eps_n=torch.tensor(spec.eps / n, dtype=dtype, device=device),  # 0-dim: no conversion per call
        zf_t=torch.tensor(Z_FLOOR, dtype=dtype, device=device),
        sqrt_delta_t=torch.tensor(math.sqrt(spec.step_delta), dtype=dtype, device=device),
        delta=torch.tensor(spec.step_delta, dtype=dtype, device=device),
        neg1=torch.tensor(-1.0, dtype=dtype, device=device),
    )
    ws.update(
        HR_t=HR.unbind(0), Hv_t=Hv.unbind(0), Rv_t=Rv.unbind(0), C_t=C.unbind(0), K_t=K.unbind(0), V_t=V.unbind(0),
        SQ_t=SQ.unbind(0),
        SIG_t=_views(SIG, 0, T), TG_t=_views(TG, 0, T), TC_t=_views(TC, 0, T), QB_t=_views(QB, 0, T),
        SG_t=_views(SIG[..., 2 * H : 3 * H], 0, T),
        I_t=_views(SIG[..., :H], 0, T), F_t=_views(SIG[..., H : 2 * H], 0, T), O_t=_views(SIG[..., 3 * H :], 0, T),
        Qsig_t=_views(QB[..., og0:og1], 0, T), Qmem_t=_views(QB[..., om0:om1], 0, T),
        Qkey_t=_views(QB[..., ok0:ok1].unflatten(-1, (A, n)), 0, T),
        Qstep_t=_views(QB[..., os0:os1].unflatten(-1, (A, P)), 0, T),
        VT_t=_views(VT, 0, T), KBAR_t=_views(KBAR, 0, T) if KBAR is not None else None,
        g_t=SQ[..., :A].unsqueeze(-1).unbind(0),  # (B, A, 1)
        hg_t=SQ[..., A : 2 * A].unsqueeze(-1).unbind(0),
        Ssig_t=SQ[..., 2 * A :].unbind(0),  # (B, W)
        mask_t=MASK.unbind(0) if masked else None,  # (B, 1)
        S_new=S_buf[:, N0:].view(B, T, W).unbind(1),  # the slots of step t
        M_new=M_buf[:, N0:].view(B, T, W * m).unbind(1),
        a_new=aP[:, :, N0:].view(B, n, T, W).unbind(2),  # (B, n, W)
        kw_t=K[1:, :, :W].transpose(-1, -2).unbind(0),  # (B, n, W): the write heads' addresses
        kr_t=K[1:, :, W:].unsqueeze(-1).unbind(0),  # (B, R, n, 1)
    )
    Ns = [N0 + (t if spec.read_first else t + 1) * W for t in range(T)]  # slots the reads of step t see
    a1, S1 = aP.unsqueeze(1), S_buf.unsqueeze(1)  # (``narrow`` makes a view ~2x faster than indexing)
    ws.update(
        Ns=Ns,
        a_N=[a1.narrow(3, 0, N) for N in Ns],  # (B, 1, n, N)
        S_N=[S1.narrow(2, 0, N) for N in Ns],  # (B, 1, N)
        M_N=[M_buf.narrow(1, 0, N) for N in Ns],  # (B, N, m)
        w_N=[x.narrow(2, 0, N) for x, N in zip(Wd.unbind(1), Ns)] if save else None,  # (B, R, N)
    )
    return ws


def _fwd_steps_tr(
    T: int, save: bool, interp: bool, norm_steps: bool, invnorm: bool, rescale: bool, nhalf: float,
    inverse_temp: bool, temp_min: float, ot0: int, ot1: int, Ns: List[int],
    xg: Tensor, HR_t: List[Tensor], U: Tensor, SIG_t: List[Tensor], SG_t: List[Tensor],
    TG_t: List[Tensor], F_t: List[Tensor], I_t: List[Tensor], O_t: List[Tensor], C_t: List[Tensor],
    TC_t: List[Tensor], Hv_t: List[Tensor], Wq: Tensor, bq: Tensor, QB_t: List[Tensor], Qsig_t: List[Tensor],
    SQ_t: List[Tensor], Ssig_t: List[Tensor], mask_t: Optional[List[Tensor]], S_new: List[Tensor],
    Qmem_t: List[Tensor], M_new: List[Tensor], Qstep_t: List[Tensor], Qkey_t: List[Tensor], VT_t: List[Tensor],
    V_t: List[Tensor], K_t: List[Tensor], g_t: List[Tensor], hg_t: List[Tensor], a_new: List[Tensor],
    kw_t: List[Tensor], TEMP: Optional[Tensor], Rv_t: List[Tensor], kr_t: List[Tensor], a_N: List[Tensor],
    S_N: List[Tensor], M_N: List[Tensor], w_N: Optional[List[Tensor]], neg1: Tensor, sqrt_delta: Tensor,
    eps_n: Tensor, zf: Tensor,
) -> Tuple[List[Tensor], List[Tensor]]:
    """The forward's step loop for the translation group (same arithmetic as the general loop of
    ``_scan_forward``), compiled with TorchScript when it can be (``_scripted``): ~1 µs less
    dispatch per op, ~28 ops a step. Returns the per-step key differences and squared distances
    (empty tensors at steps with nothing to read, and when not saving)."""
    diffs: List[Tensor] = []
    d2s: List[Tensor] = []
    tr_no_interp = not interp
    xg_t = xg.unbind(0)
    for t in range(T):
        # ---- controller: LSTM([x, ρ_{t−1}], h_{t−1}), gates i, f, g, o (g doubled)
        torch.addmm(xg_t[t], HR_t[t], U, out=SIG_t[t]).sigmoid_()
        tg = torch.add(neg1, SG_t[t], alpha=2, out=TG_t[t])  # tanh g = 2σ(2g) − 1
        c2 = torch.mul(F_t[t], C_t[t], out=C_t[t + 1]).addcmul_(I_t[t], tg, value=2)  # 2c
        tc = torch.add(neg1, torch.sigmoid(c2, out=TC_t[t]), alpha=2, out=TC_t[t])  # tanh c
        h = torch.mul(O_t[t], tc, out=Hv_t[t + 1])
        # ---- instructions
        torch.addmm(bq, h, Wq, out=QB_t[t])
        torch.sigmoid(Qsig_t[t], out=SQ_t[t])
        if mask_t is not None:
            torch.mul(Ssig_t[t], mask_t[t], out=S_new[t])
        else:
            S_new[t].copy_(Ssig_t[t])
        torch.tanh(Qmem_t[t], out=M_new[t])
        # ---- heads: ṽ = r / sqrt(‖r‖² + δ),  v = lerp(v_prev, ṽ, h),  k = lerp(k_prev, k̃, g) + v
        v = Qstep_t[t]
        if norm_steps:
            den = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
            v = torch.div(v, torch.hypot(den, sqrt_delta, out=den), out=V_t[t + 1] if tr_no_interp else VT_t[t])
        if interp:
            v = torch.lerp(V_t[t], v, hg_t[t], out=V_t[t + 1])
        elif not norm_steps:
            V_t[t + 1].copy_(v)
        torch.lerp(K_t[t], Qkey_t[t], g_t[t], out=K_t[t + 1]).add_(v)
        a_new[t].copy_(kw_t[t])
        temp = neg1
        if TEMP is not None:
            temp = torch.add(torch.nn.functional.softplus(QB_t[t][:, ot0:ot1]), temp_min, out=TEMP[t])
            if inverse_temp:
                temp = torch.reciprocal(temp, out=TEMP[t])
        # ---- read: w = u / Σu,  u = S φ(‖k − a‖²),  ρ = w M
        if Ns[t] == 0:
            Rv_t[t + 1].zero_()
            diffs.append(neg1)
            d2s.append(neg1)
            continue
        diff = torch.sub(kr_t[t], a_N[t])
        if invnorm:
            d2 = torch.addcmul(eps_n, diff, diff).sum(2)
            if rescale:
                u = (d2 / d2.amin(-1, keepdim=True)).pow_(nhalf).mul_(S_N[t])
            elif nhalf == -1.0:
                u = torch.div(S_N[t], d2)
            else:
                u = d2.pow(nhalf).mul_(S_N[t])
        else:
            d2 = torch.mul(diff, diff).sum(2)
            u = d2 / temp.neg().unsqueeze(-1)
            u = u.sub_(u.amax(-1, keepdim=True)).exp_().mul_(S_N[t])
        zs = u.sum(-1, keepdim=True).add_(zf)
        if w_N is not None:
            w = torch.div(u, zs, out=w_N[t])
        else:
            w = u.div_(zs)
        Rv_t[t + 1].copy_(torch.bmm(w, M_N[t]))
        if save:
            diffs.append(diff)
            d2s.append(d2)
    return diffs, d2s


def _bwd_steps_tr(
    T: int, R1: bool, norm_steps: bool, scale: float, Ns: List[int], GQ_t: List[Tensor], gr_t: List[Tensor],
    w_N: List[Tensor], d2s: List[Tensor], diffs: List[Tensor], MT_N: List[Tensor], rho_t: List[Tensor],
    gdot: Tensor, gdot_u: Tensor, GM_N: List[Tensor], GS_N: List[Tensor], GA_N: List[Tensor], TEMP: Optional[Tensor],
    row_T_t: Optional[List[Tensor]], DQT_t: Optional[List[Tensor]], GKr_t: List[Tensor], GKwT_t: List[Tensor],
    GA_new: List[Tensor], GM_new: List[Tensor], DQM_t: List[Tensor], row_M_t: List[Tensor], GS_new: List[Tensor],
    DQS_t: List[Tensor], row_S_t: List[Tensor], XC: Tensor, GK1_t: List[Tensor], DKV_t: List[Tensor],
    row_gh_t: List[Tensor], GH_t: List[Tensor], GQks_t: List[Tensor], PM_t: List[Tensor], gsu_t: List[Tensor],
    PMG: Tensor, gq_step_t: List[Tensor], OM_t: List[Tensor], Ybuf: Tensor, GXh_t: List[Tensor], WqT: Tensor,
    GHB: Tensor, GCB: Tensor, GCU: Tensor, do_tc_t: List[Tensor], GZ: Tensor, f_t: List[Tensor],
    GX_t: List[Tensor], UT: Tensor,
) -> Tensor:
    """The backward's step loop for the translation group (same arithmetic as the general loop of
    ``_scan_backward``), compiled with TorchScript when it can be (``_scripted``). Returns the last
    (step 0) [∂L/∂k̄_0, ∂L/∂v_0]; [∂L/∂k, ∂L/∂k + ∂L/∂v] carried out of step 0 are left in ``Ybuf``."""
    X = XC
    Y0, Y1 = Ybuf[:, 0], Ybuf[:, 1]
    H = GHB.shape[1]
    GZ_t, GZo_t = GZ.unbind(0), GZ[:, :, 3 * H :].unbind(0)
    GZ3_t = GZ[:, :, : 3 * H].view(T, GZ.shape[1], 3, H).unbind(0)
    for t in range(T - 1, -1, -1):
        gr = gr_t[t + 1]  # ∂L/∂ρ_t (B, R, m)
        # ---- read: ρ = w M,  w = u/Σu,  u = φ(d2) S
        if Ns[t] > 0:
            w, d2 = w_N[t], d2s[t]
            gw = torch.bmm(gr, MT_N[t])
            torch.linalg.vecdot(gr, rho_t[t], out=gdot)  # Σ_j ∂L/∂w_j w_j = g_ρ·ρ
            e = gw.sub_(gdot_u).mul_(w)
            if R1:
                GM_N[t].addcmul_(gr.transpose(1, 2), w)
                GS_N[t].add_(e)
            else:
                GM_N[t].baddbmm_(gr.transpose(1, 2), w)
                GS_N[t].add_(e.sum(1))
            if TEMP is None:
                e = e.div_(d2)
            else:
                temp = TEMP[t]
                assert row_T_t is not None
                torch.div((e * d2).sum(-1), temp * temp, out=row_T_t[t])
                e = e.div_(temp.unsqueeze(-1))
            G = torch.mul(e.unsqueeze(2), diffs[t])
            torch.sum(G, -1, out=GKr_t[t])
            GA_N[t].sub_(G if R1 else G.sum(1))
        # ---- the slots of step t
        GKwT_t[t].copy_(GA_new[t])
        torch.mul(GM_new[t], DQM_t[t], out=row_M_t[t])
        torch.mul(GS_new[t], DQS_t[t], out=row_S_t[t])
        # ---- heads: both chains at once
        X = torch.add(XC, GK1_t[t], alpha=scale)
        torch.linalg.vecdot(X, DKV_t[t], out=row_gh_t[t])
        torch.mul(X, GH_t[t], out=GQks_t[t])
        if norm_steps:
            torch.sum(torch.mul(PM_t[t], gsu_t[t], out=PMG), -1, out=gq_step_t[t])
        XC = torch.mul(X, OM_t[t], out=Ybuf)
        Y1.add_(Y0)
        if row_T_t is not None and DQT_t is not None:
            row_T_t[t].mul_(DQT_t[t])
        # ---- LSTM
        gh = torch.addmm(GXh_t[t + 1], GQ_t[t], WqT, out=GHB)
        GCB.addcmul_(gh, do_tc_t[t])
        GZ3_t[t].mul_(GCU)  # GZ holds Y (below) until step t turns its row into ∂L/∂z_t
        GZo_t[t].mul_(gh)
        GCB.mul_(f_t[t])
        GX_t[t].addmm_(GZ_t[t], UT)
    return X


_SCRIPTED: dict = {}
USE_SCRIPT = os.environ.get("MEMLAB_NO_TORCHSCRIPT", "") == ""  # tests turn it off to check the plain loop


def _scripted(fn):
    """``fn`` compiled by TorchScript (once), or ``fn`` itself where that is off or fails."""
    if not USE_SCRIPT:
        return fn
    out = _SCRIPTED.get(fn.__name__)
    if out is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit.script is deprecated upstream; it still runs here
                out = torch.jit.script(fn)
        except Exception:  # pragma: no cover - a torch without TorchScript
            out = fn
        _SCRIPTED[fn.__name__] = out
    return out


def _cpp_ops():
    """``torch.ops.memlab`` (``memlab.memory.kernels.cpp``), or None."""
    from memlab.memory.kernels import cpp

    return cpp.ops()


def _cpp_ok(xg: Tensor) -> bool:
    """Whether the translation group's loops run in C++ (``csrc/lantm_scan.cpp``): on the CPU, in
    float32 or float64, when the operators are built (not with ``MEMLAB_NO_CPP=1``)."""
    from memlab.memory.kernels import cpp

    return cpp.usable(xg, "lantm_tr_forward", "lantm_tr_backward")


def loop_kind(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> str:
    """Which step loops the translation group (the paper's models) runs for tensors of ``device``
    and ``dtype``: ``"cpp"`` (``csrc/lantm_scan.cpp``), ``"torchscript"`` or ``"python"``; the
    benchmarks record it beside their figures."""
    if _cpp_ok(torch.empty(0, device=device, dtype=dtype)):
        return "cpp"
    return "torchscript" if _scripted(_fwd_steps_tr) is not _fwd_steps_tr else "python"


def _scan_forward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0, mask, spec: LANTMSpec, save: bool,
                  ws: _Workspace | None = None):
    """Forward (no autograd inside). Returns (hs (T,B,H), reads (T,B,R,m), final, trace, saved).

    ``xg``, ``Uh``, ``Ur`` carry the g gates' columns doubled (tanh g = 2σ(2g) − 1; ``lantm_scan``
    scales them). Rows t+1 of ``HR`` hold [h_t | ρ_t], the controller's recurrent input of step
    t+1; row t+1 of ``C`` holds 2·c_t. Slot N0 + W·t + j holds write head j's step-t entry.
    Without ``save`` the buffers only the backward needs are one step deep. Every view the loop
    uses is made before it, in the workspace ``ws`` (built here when not given), so the loop body
    is only arithmetic with ``out=``; the translation group's loop is the C++ operator
    ``lantm_tr_forward`` where ``_cpp_ok`` (``ws["cpp"]`` records it for the backward), else
    ``_fwd_steps_tr``.
    """
    T, B, _ = xg.shape
    H, m, n, W, R, A, P = _sizes(spec)
    group, invnorm = spec.group, spec.weighting == "invnorm"
    fast_tr = isinstance(group, Translation)
    interp, norm_steps = spec.interpolate_steps, spec.normalise_steps
    ot0, ot1 = _columns(spec)[4]
    N0 = a0.shape[1]
    if ws is None:
        ws = _forward_buffers(T, B, N0, xg.dtype, xg.device, spec, save, mask is not None)
    HR, Hv, Rv, C, SQ, K, V, VT, TEMP = (ws[x] for x in ("HR", "Hv", "Rv", "C", "SQ", "K", "V", "VT", "TEMP"))
    aP, M_buf, S_buf, Wd = ws["aP"], ws["M"], ws["S"], ws["Wd"]
    Hv[0].copy_(h0)
    Rv[0].copy_(r0)
    torch.mul(c0, 2, out=C[0])
    K[0].copy_(k0)
    V[0].copy_(v0)
    aP[:, :, :N0].copy_(a0.transpose(1, 2))
    M_buf[:, :N0].copy_(M0)
    S_buf[:, :N0].copy_(S0)
    if mask is not None:
        ws["MASK"].copy_(mask.unsqueeze(-1))
    tr_no_interp = fast_tr and not interp
    # skip the nearest-slot rescaling of InvNorm when ε^(−α/2) cannot overflow (the weights are equal)
    rescale = invnorm and spec.alpha / 2 * -math.log10(spec.eps) > 0.4 * math.log10(torch.finfo(xg.dtype).max)
    nhalf = -spec.alpha / 2
    eps_n, zf_t, sqrt_delta_t, delta_t = ws["eps_n"], ws["zf_t"], ws["sqrt_delta_t"], ws["delta"]
    U = torch.cat([Uh, Ur], 0)  # (H + R·m, 4H)
    # ---- every per-step view (made once, in the workspace)
    HR_t, Hv_t, Rv_t, C_t, K_t, V_t, SQ_t = (ws[x] for x in ("HR_t", "Hv_t", "Rv_t", "C_t", "K_t", "V_t", "SQ_t"))
    SIG_t, TG_t, TC_t, QB_t, SG_t = (ws[x] for x in ("SIG_t", "TG_t", "TC_t", "QB_t", "SG_t"))
    I_t, F_t, O_t, Qsig_t, Qmem_t = (ws[x] for x in ("I_t", "F_t", "O_t", "Qsig_t", "Qmem_t"))
    Qkey_t, Qstep_t, VT_t, KBAR_t = ws["Qkey_t"], ws["Qstep_t"], ws["VT_t"], ws["KBAR_t"]
    g_t, hg_t, Ssig_t, mask_t = ws["g_t"], ws["hg_t"], ws["Ssig_t"], ws["mask_t"]
    S_new, M_new, a_new, kw_t, kr_t = (ws[x] for x in ("S_new", "M_new", "a_new", "kw_t", "kr_t"))
    Ns, a_N, S_N, M_N, w_N = (ws[x] for x in ("Ns", "a_N", "S_N", "M_N", "w_N"))
    diffs, d2s = [], []
    addmm, sigmoid, tanh, mul, sub, div, lerp, bmm, add = (torch.addmm, torch.sigmoid, torch.tanh, torch.mul, torch.sub,
                                                           torch.div, torch.lerp, torch.bmm, torch.add)
    neg1 = ws["neg1"]
    ws["cpp"] = fast_tr and _cpp_ok(xg)  # the backward follows the forward's choice
    if ws["cpp"]:
        ok0, os0, og0, om0 = (x[0] for x in _columns(spec)[:4])
        _cpp_ops().lantm_tr_forward(
            xg, U, Wq.contiguous(), bq.contiguous(), HR, C, ws["SIG"], ws["TC"], ws["QB"], SQ, K, V,
            VT if interp and norm_steps else None, TEMP, aP, M_buf, S_buf, Wd, ws["MASK"],
            [H, m, n, W, R, N0, ok0, os0, og0, om0, ot0, spec.read_first, interp, norm_steps, invnorm, bool(rescale),
             spec.softmax_temp == "inverse"],
            [float(nhalf), float(spec.eps), float(spec.step_delta), float(spec.temp_min), Z_FLOOR])
    elif fast_tr:
        L_ = list
        diffs, d2s = _scripted(_fwd_steps_tr)(
            T, save, interp, norm_steps, invnorm, bool(rescale), float(nhalf), spec.softmax_temp == "inverse",
            float(spec.temp_min), ot0, ot1, Ns, xg, L_(HR_t), U, L_(SIG_t), L_(SG_t), L_(TG_t), L_(F_t),
            L_(I_t), L_(O_t), L_(C_t), L_(TC_t), L_(Hv_t), Wq, bq, L_(QB_t), L_(Qsig_t), L_(SQ_t), L_(Ssig_t),
            None if mask_t is None else L_(mask_t), L_(S_new), L_(Qmem_t), L_(M_new), L_(Qstep_t), L_(Qkey_t),
            L_(VT_t), L_(V_t), L_(K_t), L_(g_t), L_(hg_t), L_(a_new), L_(kw_t), TEMP, L_(Rv_t), L_(kr_t), L_(a_N),
            L_(S_N), L_(M_N), None if w_N is None else L_(w_N), neg1, sqrt_delta_t, eps_n, zf_t)
    xg_t = xg.unbind(0) if not fast_tr else ()
    for t in range(T) if not fast_tr else ():  # the general groups
        s_ = t if save else 0
        # ---- controller: LSTM([x, ρ_{t−1}], h_{t−1}), gates i, f, g, o
        addmm(xg_t[t], HR_t[t], U, out=SIG_t[s_]).sigmoid_()  # (B, 4H), the g block doubled
        tg = add(neg1, SG_t[s_], alpha=2, out=TG_t[s_])  # tanh g = 2σ(2g) − 1
        c2 = mul(F_t[s_], C_t[t], out=C_t[t + 1]).addcmul_(I_t[s_], tg, value=2)  # 2c
        tc = add(neg1, sigmoid(c2, out=TC_t[s_]), alpha=2, out=TC_t[s_])  # tanh c = 2σ(2c) − 1
        h = mul(O_t[s_], tc, out=Hv_t[t + 1])  # (B, H)
        # ---- instructions: q = h Wq + bq
        addmm(bq, h, Wq, out=QB_t[s_])  # (B, Q)
        sq = sigmoid(Qsig_t[s_], out=SQ_t[t])  # g, h, strengths
        if not interp:
            sq[:, A : 2 * A].fill_(1.0)
        if mask is not None:
            mul(Ssig_t[t], mask_t[t], out=S_new[t])  # no write: strength 0, invisible to every read
        else:
            S_new[t].copy_(Ssig_t[t])
        tanh(Qmem_t[s_], out=M_new[t])  # memory vectors, appended
        # ---- heads
        vt = VT_t[s_].copy_(group.parameterise(Qstep_t[s_], norm_steps, delta_t))
        v = V_t[t + 1].copy_(group.interpolate(hg_t[t], vt, V_t[t]))
        kbar = lerp(K_t[t], Qkey_t[s_], g_t[t], out=KBAR_t[s_])
        K_t[t + 1].copy_(group.act(v, kbar))
        a_new[t].copy_(kw_t[t])  # append the write heads' addresses
        if not invnorm:
            temp = torch.add(F.softplus(QB_t[s_][:, ot0:ot1]), spec.temp_min, out=TEMP[t])  # (B, R)
            if spec.softmax_temp == "inverse":
                temp = torch.reciprocal(temp, out=TEMP[t])  # T = 1/β
        # ---- read: w = u / Σu,  u = S φ(‖k − a‖²),  ρ = w M
        if Ns[t] == 0:  # nothing written yet: ρ = 0
            Rv_t[t + 1].zero_()
            diffs.append(None)
            d2s.append(None)
            continue
        diff = sub(kr_t[t], a_N[t])  # k_r − a_i: (B, R, n, N)
        if invnorm:
            d2 = torch.addcmul(eps_n, diff, diff).sum(2)  # ‖k_r − a_i‖² + ε: (B, R, N)
            if rescale:
                u = (d2 / d2.amin(-1, keepdim=True)).pow_(nhalf).mul_(S_N[t])
            elif nhalf == -1.0:
                u = div(S_N[t], d2)
            else:
                u = d2.pow(nhalf).mul_(S_N[t])
        else:
            d2 = mul(diff, diff).sum(2)
            u = d2 / temp.neg().unsqueeze(-1)
            u = u.sub_(u.amax(-1, keepdim=True)).exp_().mul_(S_N[t])
        zs = u.sum(-1, keepdim=True).add_(zf_t)
        w = div(u, zs, out=w_N[t]) if save else u.div_(zs)  # (B, R, N)
        Rv_t[t + 1].copy_(bmm(w, M_N[t]))  # ρ (B, R, m) (bmm's out= into this strided row is ~4x slower)
        if save:
            diffs.append(diff)
            d2s.append(d2)
    if tr_no_interp:
        SQ[..., A : 2 * A].fill_(1.0)  # v = ṽ: h ≡ 1, as the trace shows
    hs, reads = Hv[1:], Rv[1:]  # (T, B, H), (T, B, R, m): views, copied once by ``_normal``
    final = LANTMState(Hv[T], C[T] * 0.5, Rv[T], K[T], V[T], aP.transpose(1, 2), M_buf, S_buf)
    gates = torch.stack([SQ[..., :A], SQ[..., A : 2 * A]], -1)  # (T, B, A, 2)
    trace = Trace(K[1:], gates, S_buf[:, N0:].reshape(B, T, W).transpose(0, 1), TEMP)
    saved = None
    if save:  # the workspace itself, with this call's per-step distances
        ws["diffs"], ws["d2s"] = diffs, d2s
        saved = ws
    return hs, reads, final, trace, saved


def _backward_buffers(sv: _Workspace, spec: LANTMSpec) -> dict:
    """The backward's buffers and their per-step views, added to the forward's workspace."""
    T, B, N0, L = sv["T"], sv["B"], sv["N0"], sv["L"]
    H, m, n, W, R, A, P = _sizes(spec)
    fast_tr, invnorm = isinstance(spec.group, Translation), spec.weighting == "invnorm"
    Q = spec.instr_size
    (ok0, ok1), (os0, os1), (og0, og1), (om0, om1), (ot0, ot1) = _columns(spec)
    Rm = R * m
    HR, SQ, QB, M_buf, Ns = sv["HR"], sv["SQ"], sv["QB"], sv["M"], sv["Ns"]

    def new(*shape):
        return HR.new_empty(shape)

    DO = new(T, B, H)
    DQ = new(T, B, Q - og0)  # activation derivatives of the columns from og0 on
    GQ = new(T, B, Q)  # time-major: each step's rows are contiguous
    GK = GQ[..., ok0:ok1].view(T, B, A, n)  # write heads: −Σ G over later reads; read heads: Σ_i G (∂L/∂k_r)
    GX = new(T + 1, B, H + Rm)  # row t+1: ∂L/∂[h_t, ρ_t]
    GXr = GX[..., H:].view(T + 1, B, R, m)
    GA, GM, GS = new(B, n, L), new(B, m, L), new(B, L)  # −Σ G, ∂L/∂Mᵀ (planar, as MT), ∂L/∂log S
    MT = new(B, m, L)  # the memory, transposed once
    gdot = new(B, R)
    GCB, GHB = new(B, H), new(B, H)  # ∂L/∂c_t (carried), ∂L/∂h_t
    DQa = DQ[..., 2 * A :]  # of log S, M: applied when a slot's row is copied into GQ
    bw = dict(gdot=gdot, gdot_u=gdot.unsqueeze(-1), DO=DO, DQ=DQ, GQ=GQ, GX=GX, GA=GA, GM=GM, GS=GS, MT=MT,
              GCB=GCB, GCU=GCB.unsqueeze(1), GHB=GHB,
              DQS_t=DQa[..., :W].unbind(0), DQM_t=DQa[..., W : W + W * m].view(T, B, W, m).unbind(0),
              GQgh_t=GQ[..., og0 : og0 + 2 * A].unbind(0), DQgh_t=DQ[..., : 2 * A].unbind(0),
              DQT_t=DQa[..., W + W * m :].unbind(0) if not invnorm else None,
              do_tc_t=DO.unbind(0),
              GQ_t=GQ.unbind(0), GKr_t=GK[:, :, W:].unbind(0),
              GKwT_t=GK[:, :, :W].transpose(-1, -2).unbind(0),  # (B, n, W)
              gq_step_t=GQ[..., os0:os1].view(T, B, A, P).unbind(0),
              row_S_t=GQ[..., og0 + 2 * A : og1].unbind(0), row_M_t=GQ[..., om0:om1].view(T, B, W, m).unbind(0),
              row_T_t=GQ[..., ot0:ot1].unbind(0) if not invnorm else None,
              GX_t=GX.unbind(0), GXh_t=GX[..., :H].unbind(0), gr_t=GXr.unbind(0),  # (B, R, m)
              GA_new=GA[:, :, N0:].view(B, n, T, W).unbind(2), GM_new=GM[:, :, N0:].view(B, m, T, W).transpose(1, 3).unbind(2),  # (B, W, m)
              GS_new=GS[:, N0:].view(B, T, W).unbind(1), GM_N=[GM.narrow(2, 0, N) for N in Ns],
              MT_N=[MT.narrow(2, 0, N) for N in Ns])  # (B, m, N)
    if R == 1:  # accumulate without summing over heads
        GA1, GS1 = GA.unsqueeze(1), GS.unsqueeze(1)
        bw.update(GA_N=[GA1.narrow(3, 0, N) for N in Ns], GS_N=[GS1.narrow(2, 0, N) for N in Ns])
    else:
        bw.update(GA_N=[GA.narrow(2, 0, N) for N in Ns], GS_N=[GS.narrow(1, 0, N) for N in Ns])
    if fast_tr:
        GH = SQ[..., : 2 * A].view(T, B, 2, A, 1)  # [g, h] (h ≡ 1 without interpolation)
        OM = new(T, B, 2, A, 1)
        DKV = new(T, B, 2, A, n)  # [k̃ − k_prev, ṽ − v_prev], for ∂L/∂g and ∂L/∂h
        ST = new(T, B, A, 1)
        PM = new(T, B, A, n, n)  # ∂ṽ/∂r = s (I − ṽ ṽᵀ), s = (‖r‖² + δ)^(−1/2)
        Ybuf = new(B, 2, A, n)
        bw.update(GH=GH, OM=OM, DKV=DKV, ST=ST, XC=new(B, 2, A, n), Ybuf=Ybuf, GH_t=GH.unbind(0), OM_t=OM.unbind(0),
                  DKV_t=DKV.unbind(0), PM=PM, PM_t=PM.unbind(0), PMG=new(B, A, n, n),
                  gsu_t=GQ[..., os0:os1].view(T, B, A, 1, n).unbind(0), GK1_t=GK.unsqueeze(2).unbind(0),  # (B, 1, A, n)
                  GQks_t=GQ[..., ok0:os1].view(T, B, 2, A, n).unbind(0),  # [key | step] columns, (B, 2, A, n)
                  row_gh_t=GQ[..., og0 : og0 + 2 * A].view(T, B, 2, A).unbind(0))  # [g | h] columns
    else:
        bw.update(GK_t=GK.unbind(0), row_g_t=GQ[..., og0 : og0 + A].unbind(0),
                  row_h_t=GQ[..., og0 + A : og0 + 2 * A].unbind(0))
    return bw


def _scan_backward(ghs, grs, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0, spec: LANTMSpec, sv: dict,
                   GZ: Tensor | None = None):
    """Back-propagation through time for ``_scan_forward``, by hand, newest step first.

    ∂L/∂q accumulates in one (T, B, Q) buffer ``GQ``; ∂L/∂[h_t, ρ_t] in ``GX`` (T+1, B, H + R·m),
    row t+1, seeded with the outputs' own gradients and completed by step t+1's ``addmm_``, so it
    is whole when step t runs. Slot gradients accumulate in ``GA`` (−Σ_r G, planar like the
    addresses), ``GM`` (∂L/∂M, planar like ``MT``) and ``GS`` (∂L/∂log S) over all N0 + T·W slots; a slot written at
    step t is read only at steps ≥ t, so when the loop reaches step t its row is complete and is
    copied into the instruction gradient of step t. Everything that does not depend on the
    recursion (activation derivatives, weight gradients) is done for all steps at once.
    """
    if sv.get("cpp"):  # the forward ran the C++ loop: so does the backward
        return _scan_backward_cpp(ghs, grs, xg, Uh, Ur, Wq, h0, k0, a0, S0, spec, sv, GZ)
    T, B, _ = xg.shape
    H, m, n, W, R, A, P = _sizes(spec)
    group, invnorm = spec.group, spec.weighting == "invnorm"
    fast_tr = isinstance(group, Translation)
    interp, norm_steps = spec.interpolate_steps, spec.normalise_steps
    Q = spec.instr_size
    (ok0, ok1), (os0, os1), (og0, og1), (om0, om1), (ot0, ot1) = _columns(spec)
    N0 = a0.shape[1]
    L = N0 + T * W
    Rm = R * m
    HR, C, SIG, TG, TC, QB, SQ = (sv[x] for x in ("HR", "C", "SIG", "TG", "TC", "QB", "SQ"))
    K, V, VT, KBAR, TEMP = (sv[x] for x in ("K", "V", "VT", "KBAR", "TEMP"))
    M_buf, S_buf, delta_t, Wd, w_N, M_N, Ns = (sv[x] for x in ("M", "S", "delta", "Wd", "w_N", "M_N", "Ns"))
    bw = sv.get("bwd")
    if bw is None:
        bw = sv["bwd"] = _backward_buffers(sv, spec)
    # ---- outside the recursion, vectorised over t.  gz = [gc, gc, gc, gh] * Y (z with its g block
    # doubled, g′ = 2g), Y = [tanh g · σ'(i), c_prev · σ'(f), i · ∂tanh g/∂g′ = i (1 − tanh² g)/2, tanh c · σ'(o)]
    SI, SF, SO = SIG[..., :H], SIG[..., H : 2 * H], SIG[..., 3 * H :]
    GZ = xg.new_empty(T, B, 4 * H) if GZ is None else GZ  # ∂L/∂z_t, also ∂L/∂xg
    Y = GZ.view(T, B, 4, H)  # written block by block, without temporaries (σ' = σ − σ²); row t becomes ∂L/∂z_t at step t
    Yi, Yf, Yg, Yo = Y.unbind(2)
    torch.addcmul(SI, SI, SI, value=-1, out=Yi).mul_(TG)
    torch.addcmul(SF, SF, SF, value=-1, out=Yf).mul_(C[:-1])  # C holds 2c: halved below
    torch.addcmul(SI, SI, torch.mul(TG, TG, out=Yg), value=-1, out=Yg)  # i (1 − tanh² g): halved below
    Y[:, :, 1:3].mul_(0.5)
    torch.addcmul(SO, SO, SO, value=-1, out=Yo).mul_(TC)
    DO = bw["DO"]
    torch.addcmul(SO, SO, torch.mul(TC, TC, out=DO), value=-1, out=DO)  # ∂h/∂c = o (1 − tanh² c)
    do_tc_t = bw["do_tc_t"]
    f_t = sv["F_t"]
    VR = QB[..., os0:os1].view(T, B, A, P)
    if fast_tr:
        # the key and step chains side by side, (B, 2, A, n): X = [∂L/∂k_t, ∂L/∂v_t] (P = n)
        GH_t, OM_t, DKV = bw["GH_t"], bw["OM_t"], bw["DKV"]
        torch.sub(1, bw["GH"], out=bw["OM"])
        torch.sub(QB[..., ok0:ok1].view(T, B, A, n), K[:-1], out=DKV[:, :, 0])
        if interp:
            torch.sub(VT, V[:-1], out=DKV[:, :, 1])
        else:
            DKV[:, :, 1].zero_()  # ∂L/∂h is multiplied by h(1 − h) = 0 anyway
        DKV_t, VT_t = bw["DKV_t"], sv["VT_t"]
        if norm_steps:
            ST, PM = bw["ST"], bw["PM"]
            torch.rsqrt(torch.linalg.vecdot(VR, VR).unsqueeze_(-1).add_(spec.step_delta), out=ST)
            torch.mul(VT.unsqueeze(-1), VT.unsqueeze(-2), out=PM).mul_(ST.unsqueeze(-1).neg())
            PM.diagonal(dim1=-2, dim2=-1).add_(ST)
            PM_t, PMG, gsu_t = bw["PM_t"], bw["PMG"], bw["gsu_t"]
    else:
        dk_t = (QB[..., ok0:ok1].view(T, B, A, n) - K[:-1]).unbind(0)  # k̃ − k_prev, for ∂L/∂g
        g_t, hg_t = sv["g_t"], sv["hg_t"]  # (B, A, 1)
        omg_t = torch.sub(1, SQ[..., :A]).unsqueeze_(-1).unbind(0)
        VT_t, Vprev_t, V_t, VR_t, KBAR_t = VT.unbind(0), V[:-1].unbind(0), V[1:].unbind(0), VR.unbind(0), KBAR.unbind(0)
    # ∂L/∂q = GQ * DQ, DQ the activation derivative of each column block (h ≡ 1 without interpolation: 0)
    S_all = S_buf[:, N0:].view(B, T, W).transpose(0, 1)
    mem_all = M_buf[:, N0:].view(B, T, W * m).transpose(0, 1)
    sqa, DQ = SQ[..., : 2 * A], bw["DQ"]
    torch.addcmul(sqa, sqa, sqa, value=-1, out=DQ[..., : 2 * A])  # σ' = σ − σ²
    torch.sub(1, S_all, out=DQ[..., 2 * A : 2 * A + W])
    torch.addcmul(sv["eps_n"].new_ones(()), mem_all, mem_all, value=-1, out=DQ[..., 2 * A + W : om1 - og0])  # 1 − tanh²
    if not invnorm:
        dT = torch.sigmoid(QB[..., ot0:ot1], out=DQ[..., ot0 - og0 : ot1 - og0])  # softplus' = sigmoid
        if spec.softmax_temp == "inverse":
            dT.mul_(TEMP * TEMP).neg_()  # T = 1/β: −σ·T²
    if fast_tr:  # σ'(g), σ'(h) folded into [k̃ − k_prev, ṽ − v_prev]: the per-step dot products give ∂L/∂q_g, ∂L/∂q_h
        DKV.mul_(DQ[..., : 2 * A].view(T, B, 2, A, 1))
    DQS_t, DQM_t, DQT_t, GQgh_t, DQgh_t = (bw[x] for x in ("DQS_t", "DQM_t", "DQT_t", "GQgh_t", "DQgh_t"))
    GQ = bw["GQ"].zero_()
    GQ_t, GKr_t, GKwT_t, gq_step_t = (bw[x] for x in ("GQ_t", "GKr_t", "GKwT_t", "gq_step_t"))
    if fast_tr:
        GK1_t, GQks_t, row_gh_t = bw["GK1_t"], bw["GQks_t"], bw["row_gh_t"]
        XC = bw["XC"].zero_()  # carried [∂L/∂k_t, ∂L/∂k_t + ∂L/∂v_t] through step t+1
        Ybuf = bw["Ybuf"]
        Y0, Y1 = Ybuf[:, 0], Ybuf[:, 1]
    else:
        GK_t, row_g_t, row_h_t = bw["GK_t"], bw["row_g_t"], bw["row_h_t"]
    row_S_t, row_M_t, row_T_t = bw["row_S_t"], bw["row_M_t"], bw["row_T_t"]
    GX = bw["GX"]
    GX[0].zero_()
    if ghs is not None:
        GX[1:, :, :H].copy_(ghs)
    else:
        GX[1:, :, :H].zero_()
    if grs is not None:
        GX[1:, :, H:].copy_(grs.reshape(T, B, Rm))
    else:
        GX[1:, :, H:].zero_()
    GX_t, GXh_t, gr_t = bw["GX_t"], bw["GXh_t"], bw["gr_t"]
    GA, GM, GS = bw["GA"].zero_(), bw["GM"].zero_(), bw["GS"].zero_()
    GA_new, GM_new, GS_new, GA_N, GS_N, GM_N = (bw[x] for x in ("GA_new", "GM_new", "GS_new", "GA_N", "GS_N", "GM_N"))
    if not fast_tr:
        GZ_t, GZ3_t, GZo_t = GZ.unbind(0), GZ[..., : 3 * H].view(T, B, 3, H).unbind(0), GZ[..., 3 * H :].unbind(0)
    GCB, GCU, GHB = bw["GCB"].zero_(), bw["GCU"], bw["GHB"]  # ∂L/∂c_t via step t+1 (then ∂L/∂c_0), ∂L/∂h_t
    gk_c, gv_c = torch.zeros_like(k0), torch.zeros_like(v0)  # ∂L/∂k_t via k̄_{t+1}, ∂L/∂v_t via v_{t+1}
    WqT, UT = Wq.t(), torch.cat([Uh, Ur], 0).t()  # (Q, H), (4H, H + R·m)
    rho_t = sv["Rv_t"][1:]
    bw["MT"].copy_(M_buf.transpose(1, 2))  # contiguous: the per-step (B, R, m) x (B, m, N) products run faster
    MT_N = bw["MT_N"]  # (B, m, N)
    gdot, gdot_u = bw["gdot"], bw["gdot_u"]  # the per-step dot product g_ρ·ρ
    # ∂d2/∂k = 2·diff; invnorm ∂L/∂d2 = e·(−α/2)/d2, softmax ∂L/∂d2 = −e/T: factor applied once per key
    scale = -spec.alpha if invnorm else -2.0
    addmm, mul, bmm, vecdot = torch.addmm, torch.mul, torch.bmm, torch.linalg.vecdot
    if fast_tr:
        L_ = list
        X = _scripted(_bwd_steps_tr)(
            T, R == 1, norm_steps, float(scale), Ns, L_(GQ_t), L_(gr_t), L_(w_N), L_(sv["d2s"]), L_(sv["diffs"]),
            L_(MT_N), L_(rho_t), gdot, gdot_u, L_(GM_N), L_(GS_N), L_(GA_N), TEMP,
            None if row_T_t is None else L_(row_T_t), None if DQT_t is None else L_(DQT_t), L_(GKr_t), L_(GKwT_t),
            L_(GA_new), L_(GM_new), L_(DQM_t), L_(row_M_t), L_(GS_new), L_(DQS_t), L_(row_S_t), XC, L_(GK1_t),
            L_(DKV_t), L_(row_gh_t), L_(GH_t), L_(GQks_t), L_(PM_t) if norm_steps else [], L_(gsu_t) if norm_steps else [],
            PMG if norm_steps else XC, L_(gq_step_t), L_(OM_t), Ybuf, L_(GXh_t), WqT, GHB, GCB, GCU, L_(do_tc_t),
            GZ, L_(f_t), L_(GX_t), UT)
    for t in range(T - 1, -1, -1) if not fast_tr else ():  # the general groups
        N = Ns[t]
        row = GQ_t[t]
        gr = gr_t[t + 1]  # ∂L/∂ρ_t (B, R, m)
        # ---- read: ρ = w M,  w = u/Σu,  u = φ(d2) S
        if N > 0:
            w, d2, diff = w_N[t], sv["d2s"][t], sv["diffs"][t]  # (B, R, N), (B, R, N), (B, R, n, N)
            gw = bmm(gr, MT_N[t])  # (B, R, N)
            # e_ri = ∂L/∂log u_ri = (∂L/∂w_ri − Σ_j ∂L/∂w_rj w_rj) w_ri;  Σ_j ∂L/∂w_rj w_rj = g_ρ·ρ
            vecdot(gr, rho_t[t], out=gdot)
            e = gw.sub_(gdot_u).mul_(w)
            if R == 1:
                GM_N[t].addcmul_(gr.transpose(1, 2), w)  # Σ_t g_ρ,tᵀ w_t
                GS_N[t].add_(e)
            else:
                GM_N[t].baddbmm_(gr.transpose(1, 2), w)
                GS_N[t].add_(e.sum(1))
            if invnorm:
                e = e.div_(d2)
            else:
                temp = TEMP[t]  # (B, R)
                torch.div((e * d2).sum(-1), temp * temp, out=row_T_t[t])  # ∂ log φ/∂T = d2/T²
                e = e.div_(temp.unsqueeze(-1))
            G = mul(e.unsqueeze(2), diff)  # (B, R, n, N)
            torch.sum(G, -1, out=GKr_t[t])
            GA_N[t].sub_(G if R == 1 else G.sum(1))
        # ---- the slots of step t: every read of them has been seen
        GKwT_t[t].copy_(GA_new[t])
        mul(GM_new[t], DQM_t[t], out=row_M_t[t])  # ∂L/∂q of the slot's columns: times the activations' derivatives
        mul(GS_new[t], DQS_t[t], out=row_S_t[t])
        # ---- heads:  k = v·k̄,  k̄ = lerp(k_prev, k̃, g),  v = interp(h, ṽ, v_prev)
        gk = torch.add(gk_c, GK_t[t], alpha=scale)  # ∂L/∂k_t (B, A, n)
        gv_a, gk = group.act_bwd(V_t[t], KBAR_t[t], gk)  # gk: ∂L/∂k̄
        ghg, gvt, gv_c = group.interpolate_bwd(hg_t[t], VT_t[t], Vprev_t[t], V_t[t], gv_c + gv_a)
        row_h_t[t].copy_(ghg.view(B, A))
        gq_step_t[t].copy_(group.parameterise_bwd(VR_t[t], VT_t[t], gvt, norm_steps, delta_t))
        vecdot(gk, dk_t[t], out=row_g_t[t])  # ∂L/∂g
        mul(gk, g_t[t], out=GK_t[t])
        gk_c = gk.mul_(omg_t[t])
        GQgh_t[t].mul_(DQgh_t[t])
        if not invnorm:
            row_T_t[t].mul_(DQT_t[t])
        # ---- LSTM: h = o tanh(c),  c = f c_prev + i g
        gh = addmm(GXh_t[t + 1], row, WqT, out=GHB)
        GCB.addcmul_(gh, do_tc_t[t])  # ∂L/∂c_t
        GZ3_t[t].mul_(GCU)  # GZ holds Y until step t turns its row into ∂L/∂z_t
        GZo_t[t].mul_(gh)
        GCB.mul_(f_t[t])
        GX_t[t].addmm_(GZ_t[t], UT)  # ∂L/∂[h_{t-1}, ρ_{t-1}] (+ the outputs' own gradient, already there)
    if fast_tr:  # ∂L/∂k_0, ∂L/∂v_0
        gk_c, gv_c = Y0, X[:, 1] * OM_t[0][:, 1]
    gU = HR[:-1].reshape(T * B, H + Rm).t() @ GZ.view(T * B, 4 * H)  # inputs [h_{t-1}, ρ_{t-1}]
    gWq = HR[1:, :, :H].reshape(T * B, H).t() @ GQ.view(T * B, Q)
    gbq = GQ.sum((0, 1))
    ga0 = GA[:, :, :N0].transpose(1, 2).mul(scale)  # (B, N0, n)
    gS0 = torch.where(S0 > 0, GS[:, :N0] / S0.clamp_min(1e-300), torch.zeros_like(S0))  # ∂L/∂S = ∂L/∂log S / S
    gM0 = GM[:, :, :N0].transpose(1, 2)
    gx0 = GX[0]
    return GZ, gU[:H], gU[H:], gWq, gbq, gx0[:, :H], GCB, gx0[:, H:].view(B, R, m), gk_c, gv_c, ga0, gM0, gS0


def _scan_backward_cpp(ghs, grs, xg, Uh, Ur, Wq, h0, k0, a0, S0, spec: LANTMSpec, sv: dict, GZ: Tensor | None):
    """``_scan_backward`` for the translation group with the C++ loop (``csrc/lantm_scan.cpp``):
    the same maths, with everything the Python loops prepare before the loop (the controller's
    derivative factors, the activations' derivatives, [k̃ − k_prev, ṽ − v_prev], ∂ṽ/∂r, the seeded
    ∂L/∂[h, ρ], zeroed accumulators) formed inside it, row by row where it is used, and the key
    differences and squared distances recomputed there instead of saved. The weight gradients
    are the same two products after the loop."""
    T, B, _ = xg.shape
    H, m, n, W, R, A, P = _sizes(spec)
    invnorm, interp, norm_steps = spec.weighting == "invnorm", spec.interpolate_steps, spec.normalise_steps
    (ok0, _), (os0, _), (og0, _), (om0, _), (ot0, _) = _columns(spec)
    Q, N0, L, Rm = spec.instr_size, a0.shape[1], sv["L"], R * m
    bw = sv.get("bwd_cpp")
    if bw is None:  # kept with the workspace: every entry is rewritten (or zeroed) by each call
        new = sv["HR"].new_empty
        bw = sv["bwd_cpp"] = dict(GQ=new(T, B, Q), GX=new(T + 1, B, H + Rm), GA=new(B, n, L), GM=new(B, m, L),
                                  GS=new(B, L), MT=new(B, m, L), XC=new(B, 2, A, n), GHB=new(B, H), GCB=new(B, H))
    GQ, GX, GA, GM, GS, XC, GCB = (bw[x] for x in ("GQ", "GX", "GA", "GM", "GS", "XC", "GCB"))
    GZ = xg.new_empty(T, B, 4 * H) if GZ is None else GZ  # ∂L/∂z_t, also ∂L/∂xg
    X = torch.empty_like(XC)  # [∂L/∂k_0, ∂L/∂v_0] of step 0
    scale = -spec.alpha if invnorm else -2.0  # ∂d2/∂k = 2·diff; InvNorm ∂ log φ/∂d2 = (−α/2)/d2, SoftMax −1/T
    HR = sv["HR"]
    _cpp_ops().lantm_tr_backward(
        None if ghs is None else ghs.contiguous(), None if grs is None else grs.contiguous(), GQ, GX, sv["QB"],
        sv["K"], sv["V"], sv["VT"] if interp and norm_steps else None, sv["SQ"], sv["aP"], sv["M"], sv["S"], bw["MT"],
        sv["Wd"], sv["TEMP"], GA, GM, GS, XC, X, Wq.t(), bw["GHB"], GCB, sv["C"], sv["TC"], GZ, sv["SIG"],
        torch.cat([Uh, Ur], 0).t(),
        [H, m, n, W, R, N0, ok0, os0, og0, om0, ot0, spec.read_first, interp, norm_steps, invnorm, False,
         spec.softmax_temp == "inverse"],
        [float(scale), float(spec.eps), float(spec.step_delta)])
    gU = HR[:-1].reshape(T * B, H + Rm).t() @ GZ.view(T * B, 4 * H)  # inputs [h_{t-1}, ρ_{t-1}]
    gWq = HR[1:].reshape(T * B, H + Rm)[:, :H].t() @ GQ.view(T * B, Q)  # h_t: a strided view BLAS reads as is
    gk_c = XC[:, 0]  # ∂L/∂k_0: carried out of step 0
    gv_c = X[:, 1] * (1 - sv["SQ"][0, :, A : 2 * A]).unsqueeze(-1)  # ∂L/∂v_0 = ∂L/∂v (1 − h_0)
    ga0 = GA[:, :, :N0].transpose(1, 2).mul(scale)  # (B, N0, n)
    gS0 = torch.where(S0 > 0, GS[:, :N0] / S0.clamp_min(1e-300), torch.zeros_like(S0))  # ∂L/∂S = ∂L/∂log S / S
    gM0 = GM[:, :, :N0].transpose(1, 2)
    gx0 = GX[0]
    return (GZ, gU[:H], gU[H:], gWq, GQ.sum((0, 1)), gx0[:, :H], GCB, gx0[:, H:].view(B, R, m), gk_c, gv_c, ga0, gM0,
            gS0)



class _LANTMScan(torch.autograd.Function):
    """Fused LANTM recurrence; differentiable in hs and reads (state and trace come back detached).
    ``xg``, ``Uh``, ``Ur`` carry the g gates' columns doubled (see ``_scan_forward``)."""

    @staticmethod
    def forward(ctx, xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0, mask, spec):
        T, B, _ = xg.shape
        key = (T, B, a0.shape[1], xg.dtype, xg.device, spec, mask is not None)
        with torch.inference_mode():
            ws = _acquire(key)
            if ws is None:
                ws = _forward_buffers(T, B, a0.shape[1], xg.dtype, xg.device, spec, True, mask is not None)
                ws.key = key
            hs, reads, final, trace, saved = _scan_forward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0,
                                                           mask, spec, save=True, ws=ws)
        ctx.spec = spec
        ctx.saved = saved  # inference tensors, read only by backward
        ctx.lease = _Lease()  # freed with the graph: the workspace goes back to the pool
        weakref.finalize(ctx.lease, _release, ws)
        ctx.save_for_backward(xg, Uh, Ur, Wq, bq, h0, c0, r0, k0, v0, a0, M0, S0)
        outs = _normal(hs, reads, *final, *(x for x in trace if x is not None))
        ctx.mark_non_differentiable(*outs[2:])
        return outs

    @staticmethod
    def backward(ctx, ghs, grs, *_):
        ins = ctx.saved_tensors
        spec, sv = ctx.spec, ctx.saved
        GZ = torch.empty_like(ins[0])  # a normal tensor: the largest gradient leaves without a copy
        with torch.inference_mode():
            grads = _scan_backward(ghs, grs, *ins, spec, sv, GZ)
        return (*_normal(*grads), None, None)


def _normal(*xs: Tensor) -> tuple[Tensor, ...]:
    """Plain copies of tensors made under ``torch.inference_mode`` (the step loops run there: it
    skips the view and version-counter bookkeeping of every small op, ~15% of the forward), so
    autograd and in-place updates accept what leaves the kernel."""
    return tuple(x.clone() if x.is_inference() else x for x in xs)


class _InputProjection(torch.autograd.Function):
    """xg = x W_xᵀ + b for x (T·B, E), W_x (4H, E): the gradient ∂L/∂x = g W_x is formed as
    (W_xᵀ gᵀ)ᵀ and ∂L/∂W_x as (xᵀ g)ᵀ, the matrix shapes a one-thread BLAS does ~4× faster than
    autograd's (T·B, 4H)·(4H, E) at E ≈ 7."""

    @staticmethod
    def forward(ctx, x: Tensor, Wx: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(x, Wx)
        return torch.addmm(b, x, Wx.t())

    @staticmethod
    def backward(ctx, g: Tensor):
        x, Wx = ctx.saved_tensors
        gx = (Wx.t() @ g.t()).t() if ctx.needs_input_grad[0] else None
        gW = (x.t() @ g).t() if ctx.needs_input_grad[1] else None
        gb = g.sum(0) if ctx.needs_input_grad[2] else None
        return gx, gW, gb


_G_DOUBLED: dict = {}


def _g_doubled(b: Tensor) -> Tensor:
    """(4H, 1) column of ones with 2 on the g gates' rows (cached per size, dtype and device)."""
    key = (b.shape[0], b.dtype, b.device)
    s = _G_DOUBLED.get(key)
    if s is None:
        H = b.shape[0] // 4
        with torch.inference_mode(False):  # a normal tensor, usable by autograd later
            s = _G_DOUBLED[key] = torch.ones(4 * H, 1, dtype=b.dtype, device=b.device)
            s[2 * H : 3 * H] = 2.0
    return s


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
    if xs.device.type == "cpu":
        keep_freed_memory()
    E = xs.shape[-1]
    s = _g_doubled(p.b)  # (4H, 1): the kernel takes the g gates' rows doubled (tanh g = 2σ(2g) − 1)
    Wx = p.W_x * s
    xg = _InputProjection.apply(xs.reshape(-1, E), Wx[:, :E], p.b * s[:, 0]).view(*xs.shape[:2], -1)  # (T, B, 4H)
    mask = None if write_mask is None else write_mask.to(xg.dtype)
    args = (xg, (p.W_r * s).t(), Wx[:, E:].t(), p.Wq, p.bq, state.h, state.c, state.reads, state.keys, state.steps,
            state.addresses, state.memory, state.strengths)
    if torch.is_grad_enabled() and any(x.requires_grad for x in args):
        outs = _LANTMScan.apply(*args, mask, spec)
    else:
        with torch.inference_mode():
            hs, reads, final, trace, _ = _scan_forward(*args, mask, spec, save=False)
        outs = _normal(hs, reads, *final, *(x for x in trace if x is not None))
    hs, reads, rest = outs[0], outs[1], list(outs[2:])
    return hs, reads, LANTMState(*rest[:8]), Trace(*rest[8:11], rest[11] if len(rest) > 11 else None)
