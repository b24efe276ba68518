"""Fused NTM sequence kernel: the composed NTM (controller + ``NTMAccess``) over a whole
sequence as ONE autograd node, with back-propagation through time written out by hand.

Why it is fast. At NTM sizes a step is ~50 small tensor ops forward and ~100 under autograd
backward, and per-op overhead, not arithmetic, is the cost. ``ntm_scan``'s forward runs the
arithmetic of the composed step with autograd off (into preallocated buffers) and its
backward needs fewer ops: activation slopes and weight gradients for all steps at once, the
circular shift as rolls, no graph kept.

The controller is inlined for speed: THE LSTM of ``memlab.controllers.lstm`` (standard variant,
PyTorch gate order i, f, g, o) or the one tanh layer of ``memlab.controllers.feedforward``.
``controller_operands`` turns such a controller into the kernel's operands (input
pre-activations for every step, the recurrent weight [W_r | W_h]); any other controller has no
kernel and runs the composed reference step. The reference is ``ntm_step_ref`` in
``memlab.memory.ntm`` (the controller's own ``forward`` then ``NTMAccess.forward``); tests check
agreement in float64 (values, every parameter gradient, gradcheck, graph freed by refcounting).

Shapes: T time, B batch, I input size, C controller size, G gate rows (4C for an LSTM, C for a
feed-forward layer), Hr read and Hw write heads (H = Hr + Hw), memory N × W, S = 2R + 1 shifts,
P head-output size.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from memlab.memory import addressing as A


class ScanState(NamedTuple):
    """What the kernel carries between steps: memory M (B, N, W), weights w (B, H, N) read heads
    first, reads r (B, Hr, W), controller output h and cell c (B, C) (c unused by a feed-forward
    controller, h too: it reads only [x_t, r_{t−1}])."""

    memory: Tensor
    weights: Tensor
    reads: Tensor
    h: Tensor
    c: Tensor


def controller_operands(controller, xs: Tensor) -> tuple[str, Tensor, Tensor] | None:
    """(kind, xproj (T, B, G), W_rec (G, Hr·W [+ C])) of a controller the kernel inlines, else None.

    The controller reads [x_t, r_{t−1}] (its ``input_size`` = I + Hr·W): the x part of the input
    weights and the bias are applied to every step at once (xproj); the r part and, for the
    LSTM, the recurrent weight form W_rec. Gradients reach the controller's parameters through
    these two tensors by ordinary autograd.
    """
    from memlab.controllers.feedforward import FeedForwardCore
    from memlab.controllers.lstm import LSTMCore

    T, B, I = xs.shape
    if isinstance(controller, LSTMCore) and controller.standard:
        W_in, W_h, kind = controller.W_x, controller.W_r, "lstm"
    elif isinstance(controller, FeedForwardCore):
        W_in, W_h, kind = controller.W, None, "ff"
    else:
        return None
    xproj = torch.addmm(controller.b, xs.reshape(T * B, I), W_in[:, :I].T).view(T, B, W_in.shape[0])  # (T, B, G)
    W_rec = W_in[:, I:] if W_h is None else torch.cat([W_in[:, I:], W_h], 1)  # (G, Hr·W [+ C])
    return kind, xproj, W_rec

class NTMSpec(NamedTuple):
    """Static sizes of the fused kernel: controller kind and size C, Hr read and Hw write heads
    (H = Hr + Hw, reads first), memory N × W, S = 2R + 1 shifts, head-output split ``sizes``,
    output clip (0 = off) and ε."""

    kind: str
    C: int
    Hr: int
    Hw: int
    N: int
    W: int
    S: int
    sizes: tuple[int, ...]
    clip: float
    eps: float

    def cuts(self) -> tuple[int, ...]:
        """End columns of k, β, g, s, γ, e in the head outputs (a runs from the last to the end)."""
        return tuple(sum(self.sizes[:j]) for j in range(1, 7))


# per-step tensors the backward reads: M_{t−1}, head values, 1 − w eᵀ ("keep"), ‖k‖, ‖M‖, K, β / D ("bD"),
# w^c, w^c − w_{t−1} ("dw"), roll(w^g, o_k) ("rolled"), γ / (w̃ + ε) ("gws"), log(w̃ + ε) ("lw"), w_t
_SAVED = ("M", "k", "beta", "g", "s", "gamma", "e", "a", "keep", "kn", "mn", "K", "bD", "wc", "dw", "rolled",
          "gws", "lw", "wt")


def _scan_forward(xproj, W_rec, W_heads, b_heads, M, w, r, h, c, spec: NTMSpec, save: bool):
    """Forward of ``ntm_scan`` with autograd off; the arithmetic of ``ntm_step_ref``.

    xproj (T, B, G) -> ys (T, B, C + Hr·W), the final (M, w, r, h, c) and, with ``save``, what
    the backward needs: per-step lists (``_SAVED``) and (T, ...) buffers of the controller
    inputs ``rests``, the head outputs ``outs`` and, for an LSTM, the gates and cells. Results go
    into preallocated buffers (``out=``) to keep the op count per step low.
    """
    T, B, _ = xproj.shape
    C, Hr, Hw, N, W, S = spec.C, spec.Hr, spec.Hw, spec.N, spec.W, spec.S
    H = Hr + Hw
    lstm, eps, clip = spec.kind == "lstm", spec.eps, spec.clip
    offsets = A.shift_offsets(S // 2)
    o_k, o_b, o_g, o_s, o_y, o_e = spec.cuts()
    eps_t, one = xproj.new_full((1, 1, 1), eps), xproj.new_ones(())  # made once, not per step
    ys = xproj.new_empty(T, B, C + Hr * W)
    # h_t is the first part of y_t, but hs is a buffer of its own: the backward keeps it, and a
    # view of the output ys kept on ctx is a reference cycle through ys.grad_fn that only the
    # cyclic garbage collector frees, often too late (training grew by ~10 MB a step)
    hs = xproj.new_empty(T, B, C)
    rests = xproj.new_empty(T, B, Hr * W + (C if lstm else 0))  # [r_{t−1}, h_{t−1}] per step
    outs = xproj.new_empty(T, B, W_heads.shape[0])  # head outputs after clipping
    if lstm:
        gates = xproj.new_empty(T, B, 4 * C)  # σ(i), σ(f), tanh(g), σ(o)
        cells = xproj.new_empty(T + 1, B, C)  # c_0 … c_T
        cells[0] = c
    sv: dict = {k: [] for k in _SAVED}
    for t in range(T):
        rest = rests[t]
        rest[:, : Hr * W] = r.reshape(B, Hr * W)
        if lstm:
            rest[:, Hr * W :] = h
            pre = torch.addmm(xproj[t], rest, W_rec.t())  # (B, 4C)
            gt = gates[t]  # gate order i, f, g, o (PyTorch's, as in memlab.controllers.lstm)
            torch.sigmoid(pre, out=gt)
            torch.tanh(pre[:, 2 * C : 3 * C], out=gt[:, 2 * C : 3 * C])
            c = torch.addcmul(gt[:, C : 2 * C] * c, gt[:, :C], gt[:, 2 * C : 3 * C], out=cells[t + 1])  # f c + i g
            torch.mul(gt[:, 3 * C :], torch.tanh(c), out=hs[t])  # o tanh(c)
        else:
            torch.tanh(torch.addmm(xproj[t], rest, W_rec.t()), out=hs[t])
        h = hs[t]
        out = torch.addmm(b_heads, h, W_heads.t(), out=outs[t])  # (B, P)
        if clip > 0:
            out.clamp_(-clip, clip)
        th, sg = torch.tanh(out), torch.sigmoid(out)
        k = th[:, :o_k].view(B, H, W)
        beta = F.softplus(out[:, o_k:o_b])  # (B, H)
        g = sg[:, o_b:o_g]  # (B, H)
        s = torch.softmax(out[:, o_g:o_s].view(B, H, S), -1)  # (B, H, S)
        gamma = F.softplus(out[:, o_s:o_y]).add_(1.0)  # (B, H), γ ≥ 1
        e = sg[:, o_y:o_e].view(B, Hw, W)
        a = th[:, o_e:].view(B, Hw, W)
        # content addressing on M_{t−1} (NTM eqs. 5–6)
        kn = (k * k).sum(-1).add_(eps).sqrt_()  # (B, H)
        mn = (M * M).sum(-1).add_(eps).sqrt_()  # (B, N)
        D = torch.baddbmm(eps_t, kn.unsqueeze(-1), mn.unsqueeze(1))  # ‖k‖‖M‖ + ε (B, H, N)
        K = torch.bmm(k, M.transpose(1, 2)).div_(D)  # (B, H, N)
        wc = torch.softmax(beta.unsqueeze(-1) * K, -1)
        dw = wc - w
        wg = torch.addcmul(w, g.unsqueeze(-1), dw)  # g w^c + (1 − g) w_{t−1}  (eq. 7)
        # circular shift (eq. 8): w̃ = Σ_k s_k roll(w^g, o_k); rolls beat a gather + matmul at these sizes
        rolled = [wg if o == 0 else torch.roll(wg, o, -1) for o in offsets]  # each (B, H, N)
        ws = torch.full_like(wg, eps)  # w̃ + ε
        for j, wr_ in enumerate(rolled):
            ws.addcmul_(s[..., j : j + 1], wr_)
        lw = torch.log(ws)
        wt = torch.softmax(gamma.unsqueeze(-1) * lw, -1)  # (eq. 9)
        r = torch.bmm(wt[:, :Hr], M)  # (B, Hr, W): reads see M_{t−1}
        ys[t, :, C:] = r.view(B, Hr * W)
        ww = wt[:, Hr:]  # (B, Hw, N)
        if Hw == 1:
            keep = torch.addcmul(one, ww.transpose(1, 2), e, value=-1.0)  # 1 − w eᵀ (B, N, W)
        else:
            keep = torch.addcmul(one, ww.unsqueeze(-1), e.unsqueeze(2), value=-1.0).prod(1)
        M_new = torch.baddbmm(M * keep, ww.transpose(1, 2), a)  # erase then add (eqs. 3–4)
        if save:
            for name, v in zip(_SAVED, (M, k, beta, g, s, gamma, e, a, keep, kn, mn, K, beta.unsqueeze(-1) / D, wc, dw,
                                        rolled, gamma.unsqueeze(-1) / ws, lw, wt)):
                sv[name].append(v)
        M, w = M_new, wt
    ys[:, :, :C] = hs
    if save:
        sv.update(rests=rests, outs=outs, hs=hs)
        if lstm:
            sv.update(gates=gates, cells=cells)
    # outputs are never tensors the backward keeps (w_T is the saved wt of the last step, h_T and
    # c_T live in saved buffers): an output kept on ctx is the same cycle as above
    return ys, (M, w.clone() if save else w, r, h.clone(), c.clone() if lstm else c), sv


def _activation_slopes(outs: Tensor, spec: NTMSpec) -> Tensor:
    """d(activation)/d(head output) for all steps at once: (T, B, P), 0 where clipping was active.

    k, a: tanh → 1 − tanh²; β, γ: softplus → σ; g, e: σ → σ(1 − σ); s: softmax, whose Jacobian
    is not elementwise (slope 1 here, applied in the backward step).
    """
    o_k, o_b, o_g, o_s, o_y, o_e = spec.cuts()
    th, sg = torch.tanh(outs), torch.sigmoid(outs)
    slope = torch.empty_like(outs)
    slope[..., :o_k] = 1.0 - th[..., :o_k] ** 2
    slope[..., o_k:o_b] = sg[..., o_k:o_b]
    slope[..., o_b:o_g] = sg[..., o_b:o_g] * (1.0 - sg[..., o_b:o_g])
    slope[..., o_g:o_s] = 1.0
    slope[..., o_s:o_y] = sg[..., o_s:o_y]
    slope[..., o_y:o_e] = sg[..., o_y:o_e] * (1.0 - sg[..., o_y:o_e])
    slope[..., o_e:] = 1.0 - th[..., o_e:] ** 2
    if spec.clip > 0:
        slope.mul_(outs.abs() < spec.clip)  # clamp passes no gradient where it bit
    return slope


def _scan_backward(gys, gfinal, W_rec, W_heads, spec: NTMSpec, sv: dict):
    """Back-propagation through time of ``_scan_forward`` by hand, from the last step back.

    gys (T, B, O) and the gradients of the final (M, w, r, h, c) (None = zero) -> gradients of
    (xproj, W_rec, W_heads, b_heads, M_0, w_0, r_0, h_0, c_0). Whatever does not depend on the
    recursion (activation slopes, weight gradients) is done for all steps at once.
    """
    T, B, _ = gys.shape
    C, Hr, Hw, N, W, S = spec.C, spec.Hr, spec.Hw, spec.N, spec.W, spec.S
    H = Hr + Hw
    lstm = spec.kind == "lstm"
    ref = sv["M"][0]
    shapes = ((B, N, W), (B, H, N), (B, Hr, W), (B, C), (B, C))
    gM, gw, gr, gh, gc = (ref.new_zeros(sh) if g is None else g.clone() for g, sh in zip(gfinal, shapes))
    offsets = A.shift_offsets(S // 2)
    slopes = _activation_slopes(sv["outs"], spec)  # (T, B, P)
    g_out_all = torch.empty_like(slopes)
    g_pre_all = ref.new_empty(T, B, W_rec.shape[0])
    if lstm:
        gates, cells = sv["gates"], sv["cells"]
        tc = torch.tanh(cells[1:])  # (T, B, C)
        do_c = gates[..., 3 * C :] * (1.0 - tc * tc)  # ∂h/∂c = o (1 − tanh² c)
        gate_slopes = gates * (1.0 - gates)  # σ' for i, f, o
        gate_slopes[..., 2 * C : 3 * C] = 1.0 - gates[..., 2 * C : 3 * C] ** 2  # tanh' for g
    else:
        hs = sv["hs"]
        ff_slope = 1.0 - hs * hs
    gyh, gyr = gys[..., :C], gys[..., C:].reshape(T, B, Hr, W)
    for t in range(T - 1, -1, -1):
        M, wt, e, a, keep = sv["M"][t], sv["wt"][t], sv["e"][t], sv["a"][t], sv["keep"][t]
        gh = gh + gyh[t]
        gr = gr + gyr[t]
        wr, ww = wt[:, :Hr], wt[:, Hr:]
        # erase then add: M_t = M ∘ Π_h (1 − w_h e_hᵀ) + Σ_h w_h a_hᵀ
        g_a = torch.bmm(ww, gM)  # (B, Hw, W)
        if Hw == 1:
            Q = gM * M  # (B, N, W)
            g_ww = torch.baddbmm(torch.bmm(a, gM.transpose(1, 2)), e, Q.transpose(1, 2), alpha=-1.0)  # (B, 1, N)
            g_e = torch.bmm(ww, Q).neg_()  # (B, 1, W)
        else:
            factors = torch.addcmul(M.new_ones(()), ww.unsqueeze(-1), e.unsqueeze(2), value=-1.0)  # (B, Hw, N, W)
            g_ww_e, g_e = [], []
            for j in range(Hw):
                others = torch.cat([factors[:, :j], factors[:, j + 1 :]], 1).prod(1)  # (B, N, W)
                Q = gM * M * others
                g_ww_e.append(torch.bmm(e[:, j : j + 1], Q.transpose(1, 2)))
                g_e.append(-torch.bmm(ww[:, j : j + 1], Q))
            g_ww = torch.bmm(a, gM.transpose(1, 2)) - torch.cat(g_ww_e, 1)
            g_e = torch.cat(g_e, 1)
        gM_prev = gM * keep
        # reads r = w^r M_{t−1}
        g_wt = torch.cat([torch.bmm(gr, M.transpose(1, 2)), g_ww], 1).add_(gw)  # (B, H, N)
        gM_prev.baddbmm_(wr.transpose(1, 2), gr)
        # sharpen: w = softmax(γ log(w̃ + ε))
        g_z = (g_wt - (g_wt * wt).sum(-1, keepdim=True)).mul_(wt)
        g_gamma = (g_z * sv["lw"][t]).sum(-1)  # (B, H)
        g_ws = g_z.mul_(sv["gws"][t])  # ∂/∂w̃ = g_z γ / (w̃ + ε)
        # shift: w̃(i) = Σ_k w^g((i − o_k) mod N) s_k
        s = sv["s"][t]
        g_s = torch.cat([(g_ws * wr_).sum(-1, keepdim=True) for wr_ in sv["rolled"][t]], -1)  # (B, H, S)
        g_wg = torch.zeros_like(g_ws)  # Σ_k s_k roll(g_w̃, −o_k)
        for j, o in enumerate(offsets):
            g_wg.addcmul_(s[..., j : j + 1], g_ws if o == 0 else torch.roll(g_ws, -o, -1))
        # interpolation: w^g = w_{t−1} + g (w^c − w_{t−1})
        g = sv["g"][t]
        g_g = (g_wg * sv["dw"][t]).sum(-1)  # (B, H)
        g_wc = g.unsqueeze(-1) * g_wg
        gw = g_wg.sub_(g_wc)  # to w_{t−1}
        # content: w^c = softmax(β K), K = k·M / (‖k‖‖M‖ + ε)
        wc, K, kn, mn, k = sv["wc"][t], sv["K"][t], sv["kn"][t], sv["mn"][t], sv["k"][t]
        g_bK = (g_wc - (g_wc * wc).sum(-1, keepdim=True)).mul_(wc)
        g_beta = (g_bK * K).sum(-1)
        g_dot = g_bK.mul_(sv["bD"][t])  # β / D
        g_D = g_dot * K  # minus ∂/∂D
        g_kn = torch.bmm(g_D, mn.unsqueeze(-1)).squeeze(-1).div_(kn).neg_()  # (B, H): −Σ_n g_D mn / ‖k‖
        g_mn = torch.bmm(kn.unsqueeze(1), g_D).squeeze(1).div_(mn).neg_()  # (B, N): −Σ_h g_D ‖k‖ / ‖M‖
        g_k = torch.baddbmm(g_kn.unsqueeze(-1) * k, g_dot, M)  # (B, H, W)
        gM_prev.baddbmm_(g_dot.transpose(1, 2), k).addcmul_(g_mn.unsqueeze(-1), M)
        # head outputs: gradients by part, times the activation slopes
        g_out = g_out_all[t]
        torch.cat([g_k.view(B, H * W), g_beta, g_g, ((g_s - (g_s * s).sum(-1, keepdim=True)) * s).view(B, H * S),
                   g_gamma, g_e.reshape(B, Hw * W), g_a.reshape(B, Hw * W)], 1, out=g_out)
        g_out.mul_(slopes[t])
        gh = torch.addmm(gh, g_out, W_heads)  # (B, C)
        # controller
        g_pre = g_pre_all[t]
        if lstm:
            gt = gates[t]
            gc = torch.addcmul(gc, gh, do_c[t])
            torch.cat([gc * gt[:, 2 * C : 3 * C], gc * cells[t], gc * gt[:, :C], gh * tc[t]], 1, out=g_pre)  # ∂i, ∂f, ∂g, ∂o
            g_pre.mul_(gate_slopes[t])
            gc = gc * gt[:, C : 2 * C]
        else:
            torch.mul(gh, ff_slope[t], out=g_pre)
        g_rest = torch.mm(g_pre, W_rec)  # (B, Hr·W [+ C])
        gr = g_rest[:, : Hr * W].view(B, Hr, W)
        gh = g_rest[:, Hr * W :] if lstm else torch.zeros_like(gh)
        gM = gM_prev
    TB = T * B
    g_W_rec = torch.mm(g_pre_all.view(TB, -1).t(), sv["rests"].view(TB, -1))
    g_out_flat = g_out_all.view(TB, -1)
    g_W_heads = torch.mm(g_out_flat.t(), sv["hs"].reshape(TB, C))
    return g_pre_all, g_W_rec, g_W_heads, g_out_flat.sum(0), gM, gw, gr, gh, gc


class _NTMScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xproj, W_rec, W_heads, b_heads, M0, w0, r0, h0, c0, spec):
        with torch.inference_mode():  # fewer dispatch steps per op than no_grad; outputs copied back below
            ys, final, sv = _scan_forward(xproj, W_rec, W_heads, b_heads, M0, w0, r0, h0, c0, spec, save=True)
        ctx.sv, ctx.spec = sv, spec  # inference tensors, read only by the backward
        ctx.save_for_backward(W_rec, W_heads)
        return _normal(ys, *final)

    @staticmethod
    def backward(ctx, gys, *gfinal):
        W_rec, W_heads = ctx.saved_tensors
        with torch.inference_mode():
            grads = _scan_backward(gys.contiguous(), gfinal, W_rec, W_heads, ctx.spec, ctx.sv)
        grads = _normal(*grads)
        if ctx.spec.kind != "lstm":  # a feed-forward controller reads neither h_{t−1} nor c (c goes around the node)
            grads = (*grads[:-2], None, None)
        return (*grads, None)


def _normal(*xs: Tensor) -> tuple[Tensor, ...]:
    """Ordinary copies of tensors made under ``torch.inference_mode`` (autograd rejects those)."""
    return tuple(x.clone() for x in xs)


def ntm_scan(xproj: Tensor, W_rec: Tensor, W_heads: Tensor, b_heads: Tensor, state: ScanState,
             spec: NTMSpec) -> tuple[Tensor, ScanState]:
    """The composed NTM over a whole sequence as one autograd node (the fused kernel).

    xproj (T, B, G): the controller's input pre-activations W_x x_t + b for every step;
    W_rec (G, Hr·W [+ C]): [W_r, W_h]; W_heads (P, C), b_heads (P,): the head layer;
    state: the initial ``ScanState`` -> ys (T, B, C + Hr·W) and the final ``ScanState``.

    Forward and backward are written out by hand (``_scan_forward``, ``_scan_backward``), so a
    step costs ~45 tensor ops forward and ~90 backward with no autograd bookkeeping, and the
    weight gradients are one product over all steps. Under ``no_grad`` nothing is saved.
    Agrees with stepping ``ntm_step_ref`` in values and gradients (tests, float64).
    """
    args = (xproj, W_rec, W_heads, b_heads, state.memory, state.weights, state.reads, state.h, state.c)
    if torch.is_grad_enabled() and any(t.requires_grad for t in args):
        ys, *final = _NTMScan.apply(*args, spec)
    else:
        with torch.no_grad():
            ys, final, _ = _scan_forward(*args, spec, save=False)
            final = list(final)
    if spec.kind != "lstm":
        final[-1] = state.c  # unused by a feed-forward controller: the initial c, untouched
    return ys, ScanState(*final)
