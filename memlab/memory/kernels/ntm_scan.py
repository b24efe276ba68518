"""Fused NTM sequence kernel: the composed NTM (controller + ``NTMAccess``) over a whole
sequence as ONE autograd node, with back-propagation through time written out by hand.

Why it is fast. At NTM sizes per-op overhead and memory passes, not arithmetic, are the cost:
under autograd the composed step is ~460 aten calls (views included) forward and backward.
Here a step is one pure function forward (``_fwd_step``, ~45 kernels) and one backward
(``_bwd_step``, ~60 kernels), run with autograd off:

* the controller reads y_{t−1} = [h_{t−1}, r_{t−1}] (the previous output) through one weight
  [W_h | W_r], so no per-step copies build its input;
* the memory is kept TRANSPOSED inside the kernel, Mt (B, W, N): every broadcast over it (erase
  and add, the norm gradient ∂‖M_i‖, the write-weight scaling) then runs along contiguous rows
  of N, not rows of W = 20, which made those passes 3–5× slower at batch 32; the norms ‖M_i‖
  are one reduction over W;
* the addressing chain is batched over all heads; the circular shift reads the S windows of
  w^g padded circularly by R (no rolls, no stacked copies); softmax backward is one op;
* erase/add for one write head is M − w ∘ (e ∘ M − a), with nothing saved but M; the backward
  updates the memory gradient in place;
* every sequence buffer (M_0 … M_T, the outputs, the tensors the backward reads, its own
  gradient rows) is carved from one block reused across calls (``_Arena``): steps write into
  it with ``out=``, so nothing is stacked afterwards and the block's pages are not faulted in
  again every training step;
* the backward computes whatever does not depend on the recursion for all steps at once
  (activation and LSTM gate slopes, ratios of saved values) from those buffers, and the weight
  gradients as one matrix product each after the loop; no Python numbers enter the hot ops.

The loops in C++. On CPU, where the operator library of ``memlab.memory.kernels.cpp`` builds,
the forward and backward loops run as two C++ operators (``csrc/ntm_scan.cpp``:
``ntm_scan_fwd``, ``ntm_scan_bwd``), the same algorithm and memory layout as the Python step
functions below: the matrix products stay ATen calls, the exponentials, logarithms and the gates'
tanh/σ are ATen vector kernels over the whole (B, ·) buffers of a step, and everything else of a
step (head activations, content similarity, interpolation, circular shift, sharpen, reads,
erase/add, and all their gradients) is one plain loop nest per batch row over rows of N. That
removes the per-op cost of ~100 Python-issued calls a step (a training step 1.7× faster at
B = 32, 4× at B = 1 than these Python loops; ``memlab bench ntm-step`` records ``fast_loops``).
The sequence buffers are one block from ``_Arena`` as here, laid out by the C++ side. CUDA
tensors, ``compile=True``, dtypes other than float32 and float64, ``MEMLAB_NO_CPP=1`` and a
failed build run the Python loops, which stay tested against the same references
(tests/memory/test_ntm.py runs every fused-kernel test on both loops, and the two against each
other in float32).

``compile=True`` (``model.compile=true``) runs the same two step functions through
``torch.compile`` (``memlab bench ntm-step`` times both; what remains at batch 32 is passes
over the N × W memory and the controller's matrix products, at batch 1 per-op dispatch).

The controller is inlined: THE LSTM of ``memlab.controllers.lstm`` (standard variant,
PyTorch gate order i, f, g, o) or the one tanh layer of ``memlab.controllers.feedforward``.
``controller_operands`` turns such a controller into the kernel's operands (input
pre-activations for every step, the recurrent weight [W_r | W_h]); any other controller has no
kernel and runs the composed reference step (``memlab.models.compose.compose_step_ref``: the
controller's own ``forward`` then ``NTMAccess.forward``). Tests check agreement in float64
(values, every parameter gradient, gradcheck, graph freed by refcounting, compiled steps).

Shapes: T time, B batch, I input size, C controller size, G gate rows (4C for an LSTM, C for a
feed-forward layer), Hr read and Hw write heads (H = Hr + Hw), memory N × W, S = 2R + 1 shifts,
P head-output size.
"""

from __future__ import annotations

import functools
import math
import weakref
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from memlab.memory import addressing as A
from memlab.memory.kernels import cpp


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


@functools.lru_cache(maxsize=64)
def _cuts(sizes: tuple[int, ...]) -> tuple[int, ...]:
    """``NTMSpec.cuts``, computed once per head layout (it is asked for every step)."""
    return tuple(sum(sizes[:j]) for j in range(1, 7))


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
    compiled: bool = False  # the step functions through torch.compile

    def cuts(self) -> tuple[int, ...]:
        """End columns of k, β, g, s, γ, e in the head outputs (a runs from the last to the end)."""
        return _cuts(self.sizes)


def _fwd_step(xp: Tensor, y: Tensor, c: Tensor, Mt: Tensor, w: Tensor, W_hrT: Tensor, W_headsT: Tensor,
              b_heads: Tensor, consts: tuple[Tensor, Tensor, Tensor], spec: NTMSpec, y_out: Tensor,
              c_out: Tensor | None, w_out: Tensor | None, slots: list | None, Q: Tensor):
    """One step of the composed NTM, the arithmetic of ``compose_step_ref`` in few ops (a pure function,
    so ``torch.compile`` can take it whole).

    xp (B, G): W_x x_t + b; y (B, C + Hr·W) = [h_{t−1}, r_{t−1}]; c (B, C); Mt (B, W, N): the memory
    M_{t−1} TRANSPOSED (so every broadcast over it runs along rows of N); w (B, H, N);
    W_hrT (C + Hr·W, G): [W_h | W_r]ᵀ (zero h rows for a feed-forward controller); W_headsT (C, P);
    consts: ε/W, ε and 1 as 0-d tensors; y_out (B, C + Hr·W), c_out (B, C), w_out (B, H, N) or None: where
    y_t = [h_t, r_t], c_t and w_t are written; slots: this step's rows of the sequence buffers (``_SLOTS``) to write into, or None (nothing
    saved) -> c_t, Mt_t, w_t and the step's tensors the backward reads (``_SAVED``).
    """
    C, Hr, Hw, N, W, S = spec.C, spec.Hr, spec.Hw, spec.N, spec.W, spec.S
    H, B, R = Hr + Hw, y.shape[0], spec.S // 2
    o_k, o_b, o_g, o_s, o_y, o_e = spec.cuts()
    epsW, eps, one = consts
    sl = slots if slots is not None else (None,) * len(_SLOTS)
    s_M, s_out, s_sg, s_gg, s_tc, s_kn, s_mn, s_D, s_K, s_wc, s_ws, s_lw, s_th, s_so, s_sp = sl
    pre = torch.addmm(xp, y, W_hrT)  # (B, G)
    if spec.kind == "lstm":  # gate order i, f, g, o (PyTorch's, as in memlab.controllers.lstm)
        i_, f_, _, o_ = torch.sigmoid(pre, out=s_sg).view(B, 4, C).unbind(1)  # σ(i), σ(f), ·, σ(o)
        gg = torch.tanh(pre[:, 2 * C : 3 * C], out=s_gg)
        c = torch.addcmul(f_ * c, i_, gg, out=c_out)  # f c + i g
        h = o_ * torch.tanh(c, out=s_tc)  # o tanh(c)
    else:
        h = torch.tanh(pre)
    out = torch.addmm(b_heads, h, W_headsT, out=s_out)  # (B, P)
    if spec.clip > 0:
        out = out.clamp_(-spec.clip, spec.clip)
    # [k | β | g | s | γ | e | a]: k, a = tanh; β, γ − 1 = softplus; g, e = σ; s = softmax (into sequence
    # buffers when saving: the backward's slopes read them). Under torch.compile (spec.compiled) a few
    # steps keep their former form: with the eager forms of this file the compiled kernel's gradients
    # were wrong (test_compiled_kernel_steps_match_composed_reference_float64; not bisected further)
    if s_th is None or not spec.compiled:
        th, so = torch.tanh(out, out=s_th), torch.sigmoid(out, out=s_so)
        sp = F.softplus(out[:, o_k:o_y]) if s_sp is None else torch.ops.aten.softplus.out(out[:, o_k:o_y], 1, 20, out=s_sp)
    else:
        th, so = s_th.copy_(torch.tanh(out)), s_so.copy_(torch.sigmoid(out))
        sp = s_sp.copy_(F.softplus(out[:, o_k:o_y]))
    k, _, _, _, _, _, a = th.split(spec.sizes, 1)
    _, _, g, _, _, e, _ = so.split(spec.sizes, 1)
    beta, _, _, gam1 = sp.split(spec.sizes[1:5], 1)
    s = torch.softmax(out[:, o_g:o_s].view(B, H, S), -1)  # (B, H, S)
    k, a, e = k.view(B, H, W), a.view(B, Hw, W), e.view(B, Hw, W)
    beta, g, gam1 = beta.view(B, H, 1), g.view(B, H, 1), gam1.view(B, H, 1)  # β, g, γ − 1
    # content addressing on M_{t−1} (eqs. 5–6); ‖x‖ = sqrt(Σ (x² + ε/W)) = sqrt(Σx² + ε)
    kn = torch.sum(torch.addcmul(epsW, k, k), -1, keepdim=True, out=s_kn).sqrt_()  # (B, H, 1)
    if spec.compiled:  # (B, 1, N)
        mn = torch.linalg.vecdot(Mt, Mt, dim=1, out=None if s_mn is None else s_mn.view(B, N))
        mn = mn.add_(eps).sqrt_().view(B, 1, N)
    else:  # the squares into the workspace Q
        mn = torch.sum(torch.mul(Mt, Mt, out=Q), 1, keepdim=True, out=s_mn).add_(eps).sqrt_()
    D = torch.addcmul(eps, kn, mn, out=s_D)  # ‖k‖‖M‖ + ε (B, H, N)
    K = torch.bmm(k, Mt, out=s_K).div_(D)  # (B, H, N)
    wc = torch._softmax(beta * K, -1, False, out=s_wc)  # softmax_i(β K) (B, H, N)
    wg = torch.lerp(w, wc, g)  # g w^c + (1 − g) w_{t−1} (eq. 7)
    # circular shift (eq. 8): w̃(i) = Σ_k s_k w^g(i − o_k), o_k = k − R, read from w^g padded circularly
    # by R on each side (wp(j) = w^g(j − R), so w^g(i − o_k) = wp(i + 2R − k))
    wp = F.pad(wg, (R, R), mode="circular") if R else wg  # (B, H, N + 2R)
    win, sk = wp.unfold(-1, N, 1).unbind(-2), s.unsqueeze(-1).unbind(-2)  # windows of wp (B, H, N); s_k (B, H, 1)
    ws = torch.addcmul(eps, win[2 * R], sk[0], out=s_ws)  # w̃ + ε (B, H, N)
    for j in range(1, S):
        ws.addcmul_(win[2 * R - j], sk[j])
    lw = torch.log(ws, out=s_lw)
    wt = torch._softmax(torch.addcmul(lw, gam1, lw), -1, False, out=w_out)  # softmax(γ log(w̃ + ε)) (eq. 9)
    wr, ww = wt.split([Hr, Hw], 1)  # (B, Hr, N), (B, Hw, N)
    r = torch.bmm(wr, Mt.transpose(1, 2))  # (B, Hr, W): reads see M_{t−1}
    if Hw == 1:  # M ∘ (1 − w eᵀ) + w aᵀ = M − w ∘ (e ∘ M − a) (eqs. 3–4), transposed
        # two passes over the memory, no temporary: X = e ∘ M − a into the new memory's row, then M − w ∘ X
        if spec.compiled:
            Mt_new = torch.addcmul(Mt, (Mt * e.view(B, W, 1)).sub_(a.view(B, W, 1)), ww, value=-1.0, out=s_M)
        else:
            X = torch.mul(Mt, e.view(B, W, 1), out=s_M).sub_(a.view(B, W, 1))
            Mt_new = torch.addcmul(Mt, X, ww, value=-1.0, out=X)
    else:
        keep = torch.addcmul(one, e.unsqueeze(-1), ww.unsqueeze(2), value=-1.0).prod(1)  # Π_h (1 − e_h w_hᵀ) (B, W, N)
        Mt_new = torch.baddbmm(Mt * keep, a.transpose(1, 2), ww, out=s_M)
    torch.cat([h, r.view(B, Hr * W)], 1, out=y_out)  # y_t (B, C + Hr·W)
    return c, Mt_new, wt, (k, g, s, e, a, kn, mn, K, wc, wp, lw)


# the sequence buffers ``_fwd_step`` writes one row of per step (name: row shape), in its order:
# Mt_t, then what the backward reads for all steps at once
def _slot_shapes(spec: NTMSpec, B: int) -> dict[str, tuple[int, ...]]:
    H, N, G, P = spec.Hr + spec.Hw, spec.N, 4 * spec.C if spec.kind == "lstm" else spec.C, sum(spec.sizes)
    return {"M": (B, spec.W, N), "out": (B, sum(spec.sizes)), "sg": (B, G), "gg": (B, spec.C), "tc": (B, spec.C), "kn": (B, H, 1),
            "mn": (B, 1, N), "D": (B, H, N), "K": (B, H, N), "wc": (B, H, N), "ws": (B, H, N), "lw": (B, H, N),
            "th": (B, P), "so": (B, P), "sp": (B, sum(spec.sizes[1:5]))}


_SLOTS = ("M", "out", "sg", "gg", "tc", "kn", "mn", "D", "K", "wc", "ws", "lw", "th", "so", "sp")
# the per-step tensors ``_fwd_step`` hands the backward, in its order
_SAVED = ("k", "g", "s", "e", "a", "kn", "mn", "K", "wc", "wp", "lw")


def _bwd_step(gY: Tensor, gMt: Tensor, gw: Tensor, gc: Tensor, Mt: Tensor, wt: Tensor, sv: tuple, pre: tuple,
              W_heads: Tensor, W_hr: Tensor, spec: NTMSpec, g_out: Tensor, g_pre: Tensor, gy_prev: Tensor | None,
              Q: Tensor):
    """Back-propagation through one step of ``_fwd_step`` (a pure function, like it).

    gY (B, C + Hr·W): ∂/∂y_t = [h_t, r_t] from the output and the next step; gMt, gw, gc: ∂/∂Mt_t (B, W, N),
    ∂/∂w_t, ∂/∂c_t; Mt = Mt_{t−1}, wt = w_t; sv: the step's ``_SAVED`` tensors; pre: the step's rows
    of what ``_scan_backward`` computed for all steps at once and of the forward's slope buffers;
    g_out (B, P), g_pre (B, G): where ∂/∂(head outputs) and ∂/∂(pre-activations) are written;
    gy_prev: ∂L/∂y_{t−1} from the output (None at t = 0) -> ∂/∂y_{t−1} (output + through the
    controller), ∂/∂Mt_{t−1}, ∂/∂w_{t−1}, ∂/∂c_{t−1}.
    """
    C, Hr, Hw, N, W, S = spec.C, spec.Hr, spec.Hw, spec.N, spec.W, spec.S
    H, B, R = Hr + Hw, gY.shape[0], spec.S // 2
    k, g, s, e, a, kn, mn, K, wc, wp, lw = sv
    slope, gws, dw, bD, k_kn, nimn, ds, dc, fg = pre
    gh, gr = gY.split([C, Hr * W], 1)
    gr = gr.view(B, Hr, W)
    wr, ww = wt.split([Hr, Hw], 1)
    # erase then add: Mt_t = Mt ∘ Π_h (1 − e_h w_hᵀ) + Σ_h a_h w_hᵀ; g_e is −∂/∂e (the sign is in the slope)
    g_a = torch.bmm(ww, gMt.transpose(1, 2))  # (B, Hw, W)
    if Hw == 1:
        Qt = gMt * Mt if spec.compiled else torch.mul(gMt, Mt, out=Q)  # (B, W, N), eager: into the scan's workspace
        g_ww = torch.baddbmm(torch.bmm(a, gMt), e, Qt, alpha=-1.0)  # (B, 1, N)
        g_e = torch.bmm(ww, Qt.transpose(1, 2))  # (B, 1, W)
        # gM ∘ (1 − e wᵀ), in place: gMt is the scan's own buffer and Qt is spent
        gM_prev = gMt.addcmul_(torch.mul(gMt, e.view(B, W, 1), out=Qt), ww, value=-1.0)
    else:
        factors = 1.0 - e.unsqueeze(-1) * ww.unsqueeze(2)  # (B, Hw, W, N)
        g_ww_e, g_es = [], []
        for j in range(Hw):
            others = torch.cat([factors[:, :j], factors[:, j + 1 :]], 1).prod(1)  # (B, W, N)
            Qj = gMt * Mt * others
            g_ww_e.append(torch.bmm(e[:, j : j + 1], Qj))
            g_es.append(torch.bmm(ww[:, j : j + 1], Qj.transpose(1, 2)))
        g_ww = torch.bmm(a, gMt) - torch.cat(g_ww_e, 1)
        g_e = torch.cat(g_es, 1)
        gM_prev = gMt * factors.prod(1)
    # reads r = w^r M_{t−1}; then sharpen w = softmax(γ log(w̃ + ε))
    g_wt = torch.cat([torch.bmm(gr, Mt), g_ww], 1).add_(gw)  # (B, H, N)
    g_z = torch._softmax_backward_data(g_wt, wt, -1, wt.dtype)
    g_gam = torch.linalg.vecdot(g_z, lw)  # (B, H)
    g_ws = g_z.mul_(gws)  # ∂/∂w̃ = g_z γ / (w̃ + ε)
    # shift: ∂/∂w^g(m) = Σ_k s_k g_w̃(m + o_k) and ∂/∂s_k = Σ_m w^g(m) g_w̃(m + o_k), read from g_w̃
    # padded circularly (gp(j) = g_w̃(j − R), so g_w̃(m + o_k) = gp(m + k))
    if R:
        gp = F.pad(g_ws, (R, R), mode="circular")  # (B, H, N + 2R)
        wg = wp[..., R : R + N]
        if spec.compiled:
            g_s = torch.linalg.vecdot(gp.unfold(-1, N, 1), wg.unsqueeze(-2))  # (B, H, S)
        else:  # one batched product (the elementwise product with the overlapping windows is slow; under
            # torch.compile the reshape of the overlapping windows gave wrong ∂s, so there the old form)
            g_s = torch.bmm(gp.unfold(-1, N, 1).reshape(B * H, S, N), wg.reshape(B * H, N, 1)).view(B, H, S)
    else:
        gp, wg = g_ws, wp
        g_s = torch.linalg.vecdot(gp, wg).unsqueeze(-1)
    g_s = torch._softmax_backward_data(g_s, s, -1, s.dtype)
    win, sk = gp.unfold(-1, N, 1).unbind(-2), s.unsqueeze(-1).unbind(-2)
    g_wg = win[0] * sk[0]
    for j in range(1, S):
        g_wg.addcmul_(win[j], sk[j])
    # interpolation w^g = w_{t−1} + g (w^c − w_{t−1})
    g_g = torch.linalg.vecdot(g_wg, dw)
    g_wc = g_wg * g
    gw_prev = g_wg.sub_(g_wc)  # (1 − g) ∂/∂w^g
    # content w^c = softmax(β K), K = k·M / D, D = ‖k‖‖M‖ + ε
    g_bK = torch._softmax_backward_data(g_wc, wc, -1, wc.dtype)
    g_beta = torch.linalg.vecdot(g_bK, K)
    g_dot = g_bK.mul_(bD)  # ∂/∂(k·M) = g_bK β / D
    g_D = g_dot * K  # −∂/∂D
    g_k = torch.bmm(g_dot, Mt.transpose(1, 2)).addcmul_(torch.linalg.vecdot(g_D, mn).unsqueeze(-1), k_kn, value=-1.0)  # (B, H, W)
    cm = torch.bmm(kn.transpose(1, 2), g_D).mul_(nimn)  # ∂/∂‖M_i‖ / ‖M_i‖ (B, 1, N)
    gM_prev.addcmul_(Mt, cm)
    gM_prev.baddbmm_(torch.cat([gr, k], 1).transpose(1, 2), torch.cat([wr, g_dot], 1))  # reads and keys
    torch.cat([g_k.view(B, H * W), g_beta, g_g, g_s.view(B, H * S), g_gam, g_e.reshape(B, Hw * W),
               g_a.reshape(B, Hw * W)], 1, out=g_out).mul_(slope)  # (B, P)
    gh = torch.addmm(gh, g_out, W_heads)  # (B, C)
    if spec.kind == "lstm":
        gc = torch.addcmul(gc, gh, dc)  # + ∂h/∂c = o (1 − tanh² c)
        torch.cat([gc, gc, gc, gh], 1, out=g_pre).mul_(ds)  # ∂i, ∂f, ∂g, ∂o
        gc = gc * fg
    else:
        torch.mul(gh, ds, out=g_pre)  # tanh' of the feed-forward layer
    gy = torch.mm(g_pre, W_hr) if gy_prev is None else torch.addmm(gy_prev, g_pre, W_hr)
    return gy, gM_prev, gw_prev, gc


_COMPILED: dict = {}


def _steps(compiled: bool):
    """(forward step, backward step), eager or through ``torch.compile`` (built once per process)."""
    if not compiled:
        return _fwd_step, _bwd_step
    if not _COMPILED:
        _COMPILED["fwd"] = torch.compile(_fwd_step, dynamic=False)
        _COMPILED["bwd"] = torch.compile(_bwd_step, dynamic=False)
    return _COMPILED["fwd"], _COMPILED["bwd"]


def _scan_forward(xproj, W_hr, W_heads, b_heads, Mt, w, y, c, spec: NTMSpec, save: bool):
    """Forward of ``ntm_scan`` with autograd off: ``_fwd_step`` over t.

    xproj (T, B, G); W_hr (G, C + Hr·W); Mt (B, W, N): M_0 transposed; y (B, C + Hr·W) = [h_0, r_0]
    -> Y (T+1, B, C + Hr·W) = [y_0 … y_T], the final (Mt, w, c) and, with ``save``, what the backward
    needs: the sequence buffers from ``_Arena`` (``_SLOTS`` rows per step, Y, c_0 … c_T, w_0 … w_T,
    and room for the backward), the per-step ``_SAVED`` tensors, Mt_0 … Mt_{T−1} and the lease
    that gives the buffers back when the autograd node is freed.
    """
    T, B, _ = xproj.shape
    fwd = _steps(spec.compiled)[0]
    consts = (xproj.new_full((), spec.eps / spec.W), xproj.new_full((), spec.eps), xproj.new_ones(()))
    W_hrT, W_headsT = W_hr.t().contiguous(), W_heads.t().contiguous()
    lease = None
    if save:  # every sequence buffer, the backward's included, carved from one reused block
        shapes = {"Y": (T + 1, *y.shape), "M0": (1, *Mt.shape)}
        shapes.update({n: (T, *shape) for n, shape in _slot_shapes(spec, B).items()})
        shapes.update({"c": (T + 1, *c.shape), "w": (T + 1, *w.shape), "dw": (T, *w.shape),
                       "ds": (T, B, xproj.shape[2]), "dc": (T, *c.shape),
                       "g_out": (T, B, sum(spec.sizes)), "g_pre": (T, B, xproj.shape[2]), "Q": Mt.shape,
                       "slope": (T, B, sum(spec.sizes)), "gws": (T, *w.shape), "bD": (T, *w.shape),
                       "k_kn": (T, B, w.shape[1], spec.W), "nimn": (T, B, 1, spec.N)})
        bufs, lease = _Arena.take(shapes, xproj)
        bufs["M0"][0].copy_(Mt)
        Ms = [bufs["M0"][0], *bufs["M"].unbind(0)]  # Mt_0 … Mt_T
        rows = list(zip(*(bufs[n].unbind(0) for n in _SLOTS)))  # step t's slots: rows[t]
        Y, Cs, Ws = bufs["Y"], bufs["c"], bufs["w"]
        Cs[0], Ws[0] = c, w
        Cs, Ws = Cs.unbind(0), Ws.unbind(0)
    else:  # the memory alternates between two buffers (fresh ones would fault their pages in every step)
        Y = xproj.new_empty(T + 1, *y.shape)
        Q = torch.empty_like(Mt)
        pair = [[torch.empty_like(Mt)] + [None] * (len(_SLOTS) - 1) for _ in range(2)]
    Y[0] = y
    saved, xps, Ys = [], xproj.unbind(0), Y.unbind(0)
    for t in range(T):
        if save:
            c, Mt, w, sv = fwd(xps[t], Ys[t], c, Ms[t], w, W_hrT, W_headsT, b_heads, consts, spec, Ys[t + 1],
                               Cs[t + 1], Ws[t + 1], rows[t], bufs["Q"])
            saved.append(sv)
        else:
            c, Mt, w, _ = fwd(xps[t], Ys[t], c, Mt, w, W_hrT, W_headsT, b_heads, consts, spec, Ys[t + 1], None, None,
                              pair[t % 2], Q)
    sv = {"bufs": bufs, "Ms": Ms[:-1], "saved": saved, "Y": Y, "lease": lease} if save else {}
    return Y, (Mt, w, c), sv


class _Arena:
    """One reused block per (dtype, device) for a sequence's buffers (~30 MB at B = 32, T = 41).

    Fresh large blocks cost a page fault per 4 KiB when first written (~13% of a training step at
    B = 32: the C allocator returns freed blocks to the system between steps). ``take`` hands the
    block out (nobody else gets it meanwhile); it comes back when the lease, kept with the
    autograd node, is freed with the graph, so a retained graph never shares it.
    """

    _free: dict = {}

    @classmethod
    def take(cls, shapes: dict[str, tuple[int, ...]], like: Tensor) -> tuple[dict[str, Tensor], object]:
        sizes = {n: math.prod(s) for n, s in shapes.items()}
        block = cls.lend(like)
        if block is None or block.numel() < sum(sizes.values()):
            block = like.new_empty(sum(sizes.values()))
        views, at = {}, 0
        for n, s in shapes.items():
            views[n] = block[at : at + sizes[n]].view(s)
            at += sizes[n]
        return views, cls.lease(block)

    @classmethod
    def lend(cls, like: Tensor) -> Tensor | None:
        """The free block for ``like``'s dtype and device (now out of the arena), or None."""
        return cls._free.pop((like.dtype, like.device), None)

    @classmethod
    def lease(cls, block: Tensor) -> object:
        """A lease that gives ``block`` back to the arena when it is freed."""
        lease = _Lease()
        weakref.finalize(lease, cls._give, (block.dtype, block.device), block)
        return lease

    @classmethod
    def _give(cls, key, block: Tensor) -> None:
        held = cls._free.get(key)
        if held is None or held.numel() < block.numel():
            cls._free[key] = block


class _Lease:
    """Held by an autograd node while its sequence buffers are in use."""


def _activation_slopes(outs: Tensor, th: Tensor, sg: Tensor, spec: NTMSpec, slope: Tensor) -> Tensor:
    """d(activation)/d(head output) for all steps at once: (T, B, P), 0 where clipping was active.

    k, a: tanh → 1 − tanh²; β, γ: softplus → σ; g: σ → σ(1 − σ); e: −σ(1 − σ) (the backward
    step hands −∂/∂e); s: softmax, whose Jacobian is not elementwise (slope 1 here, applied in
    the backward step).
    """
    o_k, o_b, o_g, o_s, o_y, o_e = spec.cuts()
    slope[..., :o_k] = 1.0 - th[..., :o_k] ** 2
    slope[..., o_k:o_b] = sg[..., o_k:o_b]
    slope[..., o_b:o_g] = sg[..., o_b:o_g] * (1.0 - sg[..., o_b:o_g])
    slope[..., o_g:o_s] = 1.0
    slope[..., o_s:o_y] = sg[..., o_s:o_y]
    slope[..., o_y:o_e] = sg[..., o_y:o_e] * (sg[..., o_y:o_e] - 1.0)
    slope[..., o_e:] = 1.0 - th[..., o_e:] ** 2
    if spec.clip > 0:
        slope.mul_(outs.abs() < spec.clip)  # clamp passes no gradient where it bit
    return slope


def _scan_backward(gys, gfinal, W_hr, W_heads, spec: NTMSpec, sv: dict):
    """Back-propagation through time of ``_scan_forward`` by hand, from the last step back.

    gys (T, B, C + Hr·W) and the gradients of the final (Mt, w, r, h, c) (None = zero) ->
    gradients of (xproj, W_hr, W_heads, b_heads, Mt_0, w_0, y_0 = [h_0, r_0], c_0). What does not
    depend on the recursion (activation slopes, ratios of saved values, weight gradients) is
    computed for all steps at once, from the forward's sequence buffers (no per-step stacking).
    """
    T, B, _ = gys.shape
    C, Hr, H, W = spec.C, spec.Hr, spec.Hr + spec.Hw, spec.W
    o_k, o_b, o_g, o_s, o_y, o_e = spec.cuts()
    bwd = _steps(spec.compiled)[1]
    f = sv["bufs"]
    outs = f["out"]  # (T, B, P), clipped
    sp = f["sp"]  # softplus of [β, g, s, γ] (T, B, ·), from the forward
    kt = f["th"][..., :o_k].view(T, B, H, W)
    G = f["sg"].shape[-1]
    one = outs.new_ones(())
    ds, dc = f["ds"], f["dc"]  # the controller's slopes, into their buffers
    if spec.kind == "lstm":  # pre-activation slopes of c (i, f, g) and of h (o), and ∂h/∂c = o (1 − tanh² c)
        SG, GG, TC, Cs = f["sg"], f["gg"], f["tc"], f["c"]
        torch.addcmul(SG, SG, SG, value=-1.0, out=ds)  # σ' = σ − σ²
        torch.addcmul(one, GG, GG, value=-1.0, out=ds[..., 2 * C : 3 * C])  # tanh' = 1 − g² in the g slot
        ds[..., :C].mul_(GG)  # ∂c/∂i: g σ'(i)
        ds[..., C : 2 * C].mul_(Cs[:-1])  # ∂c/∂f: c_{t−1} σ'(f)
        ds[..., 2 * C : 3 * C].mul_(SG[..., :C])  # ∂c/∂g: i tanh'(g)
        ds[..., 3 * C :].mul_(TC)  # ∂h/∂o: tanh(c) σ'(o)
        torch.addcmul(one, TC, TC, value=-1.0, out=dc).mul_(SG[..., 3 * C :])
    else:
        hs = sv["Y"][1:, :, :C]
        torch.addcmul(one, hs, hs, value=-1.0, out=ds)  # tanh' of the feed-forward layer
    pre = {
        "slope": _activation_slopes(outs, f["th"], f["so"], spec, f["slope"]),
        "gws": torch.div((sp[..., o_s - o_k :] + 1.0).unsqueeze(-1), f["ws"], out=f["gws"]),  # γ / (w̃ + ε) (T, B, H, N)
        "dw": torch.sub(f["wc"], f["w"][:-1], out=f["dw"]),  # w^c − w_{t−1}
        "bD": torch.div(sp[..., : o_b - o_k].unsqueeze(-1), f["D"], out=f["bD"]),  # β / D
        "k_kn": torch.div(kt, f["kn"], out=f["k_kn"]),  # (T, B, H, W)
        "nimn": torch.reciprocal(f["mn"], out=f["nimn"]).neg_(),  # −1 / ‖M_i‖ (T, B, 1, N)
        "ds": ds,
        "dc": dc,
        "fg": f["sg"][..., C : 2 * C] if spec.kind == "lstm" else dc,
    }
    keys = ("slope", "gws", "dw", "bD", "k_kn", "nimn", "ds", "dc", "fg")
    pres = list(zip(*(pre[k_].unbind(0) for k_ in keys)))
    gM, gw, gr, gh, gc = gfinal
    ref = sv["Ms"][0]
    N = spec.N
    gM = ref.new_zeros(B, W, N) if gM is None else gM.clone(memory_format=torch.contiguous_format)  # updated in place
    gw = ref.new_zeros(B, H, N) if gw is None else gw
    gc = ref.new_zeros(B, C) if gc is None else gc
    gY = gys[T - 1].clone()
    if gh is not None:
        gY[:, :C] += gh
    if gr is not None:
        gY[:, C:] += gr.reshape(B, -1)
    P = outs.shape[-1]
    g_outs, g_pres = f["g_out"], f["g_pre"]
    Ms, wts, saved = sv["Ms"], f["w"][1:].unbind(0), sv["saved"]
    go_rows, gp_rows, gy_rows = g_outs.unbind(0), g_pres.unbind(0), gys.unbind(0)
    for t in range(T - 1, -1, -1):
        gY, gM, gw, gc = bwd(gY, gM, gw, gc, Ms[t], wts[t], saved[t], pres[t], W_heads, W_hr, spec,
                             go_rows[t], gp_rows[t], gy_rows[t - 1] if t > 0 else None, f["Q"])
    TB, Y = T * B, sv["Y"]
    g_W_hr = torch.mm(g_pres.view(TB, G).t(), Y[:-1].reshape(TB, -1))
    g_out_flat = g_outs.view(TB, P)
    g_W_heads = torch.mm(g_out_flat.t(), Y[1:, :, :C].reshape(TB, C))
    return g_pres, g_W_hr, g_W_heads, g_out_flat.sum(0), gM, gw, gY, gc


def _cpp_ops(x: Tensor, spec: NTMSpec):
    """``torch.ops.memlab`` when the C++ loops (csrc/ntm_scan.cpp) run this call: float32 or float64
    CPU tensors, step functions not compiled, the library built and not disabled
    (``MEMLAB_NO_CPP=1``); else None."""
    if spec.compiled or not cpp.usable(x, "ntm_scan_fwd", "ntm_scan_bwd"):
        return None
    return cpp.ops()


def _cpp_args(spec: NTMSpec) -> tuple:
    """The static arguments of the C++ ops: dims [C, Hr, Hw, N, W, S], clip, ε, LSTM or not."""
    return [spec.C, spec.Hr, spec.Hw, spec.N, spec.W, spec.S], spec.clip, spec.eps, spec.kind == "lstm"


def _scan_forward_cpp(ops, xproj, W_hr, W_heads, b_heads, Mt, w, y, c, spec: NTMSpec, save: bool):
    """``_scan_forward`` by the C++ loops: the same returns, the saved state being the C++ op's
    block of sequence buffers (from ``_Arena``, with its lease) instead of Python's."""
    dims, clip, eps, lstm = _cpp_args(spec)
    block = (_Arena.lend(xproj) if save else None)
    block = xproj.new_empty(0) if block is None else block  # too small or empty: the op allocates one
    Y, Mt, w, c, block = ops.ntm_scan_fwd(xproj, W_hr.t(), W_heads.t(), b_heads, Mt, w, y, c, block, dims, clip,
                                          eps, lstm, save)
    sv = {"cpp": ops, "block": block, "lease": _Arena.lease(block)} if save else {}
    return Y, (Mt, w, c), sv


def _scan_backward_cpp(gys, gfinal, W_hr, W_heads, spec: NTMSpec, sv: dict):
    """``_scan_backward`` by the C++ loops, from the block the C++ forward filled."""
    gM, gw, gc = gfinal
    dims, clip, eps, lstm = _cpp_args(spec)
    return tuple(sv["cpp"].ntm_scan_bwd(gys, gM, gw, gc, W_hr, W_heads, sv["block"], dims, clip, eps, lstm))


class _NTMScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xproj, W_hr, W_heads, b_heads, M0, w0, y0, c0, spec):
        ops = _cpp_ops(xproj, spec)
        with torch.inference_mode():  # fewer dispatch steps per op than no_grad; outputs copied back below
            if ops is not None:
                Y, final, sv = _scan_forward_cpp(ops, xproj, W_hr, W_heads, b_heads, M0, w0, y0, c0, spec, save=True)
            else:
                Y, final, sv = _scan_forward(xproj, W_hr, W_heads, b_heads, M0, w0, y0, c0, spec, save=True)
        ctx.sv, ctx.spec = sv, spec  # inference tensors, read only by the backward
        ctx.final = final  # views of the block (not outputs): the shapes of zero gradients
        ctx.save_for_backward(W_hr, W_heads)
        # outputs are copies, never tensors the backward keeps: an output (or a view of one) kept on
        # ctx is a reference cycle through its grad_fn that only the cyclic garbage collector frees,
        # often too late (training grew by ~10 MB a step)
        return _normal(Y[1:], *final)

    @staticmethod
    @once_differentiable  # the hand-written backward is not itself differentiable: an error, not silent zeros
    def backward(ctx, gys, gM, gw, gc):
        W_hr, W_heads = ctx.saved_tensors
        with torch.inference_mode():
            if "cpp" in ctx.sv:  # an output with no gradient (None) is a zero one to the C++ op
                gM, gw, gc = (torch.zeros_like(v) if g is None else g for g, v in zip((gM, gw, gc), ctx.final))
                grads = _scan_backward_cpp(gys.contiguous(), (gM, gw, gc), W_hr, W_heads, ctx.spec, ctx.sv)
            else:
                grads = _scan_backward(gys.contiguous(), (gM, gw, None, None, gc), W_hr, W_heads, ctx.spec, ctx.sv)
        return (*_normal(*grads), None)


def _normal(*xs: Tensor) -> tuple[Tensor, ...]:
    """Ordinary copies of tensors made under ``torch.inference_mode`` (autograd rejects those)."""
    return tuple(x.clone() for x in xs)


def ntm_scan(xproj: Tensor, W_rec: Tensor, W_heads: Tensor, b_heads: Tensor, state: ScanState,
             spec: NTMSpec, compile: bool = False) -> tuple[Tensor, ScanState]:
    """The composed NTM over a whole sequence as one autograd node (the fused kernel).

    xproj (T, B, G): the controller's input pre-activations W_x x_t + b for every step;
    W_rec (G, Hr·W [+ C]): [W_r, W_h] (``controller_operands``); W_heads (P, C), b_heads (P,):
    the head layer; state: the initial ``ScanState``; ``compile``: the step functions through
    ``torch.compile`` (seconds to compile once per shape) -> ys (T, B, C + Hr·W) and the final
    ``ScanState``.

    Forward and backward are written out by hand (``_fwd_step``, ``_bwd_step``): ~45 kernels a
    step forward and ~60 backward on the transposed memory, no autograd bookkeeping, no Python
    numbers in the hot ops, and whatever does not depend on the recursion computed for all steps
    at once; on CPU the same loops run in C++ where the library is built (module docstring).
    Under ``no_grad`` nothing is saved. Agrees with stepping the composed reference in values and
    gradients (tests, float64).
    """
    T, B, G = xproj.shape
    C, RW = spec.C, spec.Hr * spec.W
    if T == 0:  # no step: the initial state as given
        return xproj.new_zeros(0, B, C + RW), state
    spec = spec._replace(compiled=bool(compile))
    # the controller reads y_{t−1} = [h_{t−1}, r_{t−1}], the previous output, through W_hr = [W_h | W_r]
    # (zero h columns for a feed-forward controller, which reads r_{t−1} only)
    if spec.kind == "lstm":
        W_hr = torch.cat([W_rec[:, RW:], W_rec[:, :RW]], 1)
    else:
        W_hr = torch.cat([W_rec.new_zeros(G, C), W_rec], 1)
    y0 = torch.cat([state.h, state.reads.reshape(B, RW)], 1)  # (B, C + Hr·W)
    Mt0 = state.memory.transpose(1, 2).contiguous()  # (B, W, N): the kernel's layout
    args = (xproj, W_hr, W_heads, b_heads, Mt0, state.weights, y0, state.c)
    if torch.is_grad_enabled() and any(t.requires_grad for t in args):
        ys, Mt, w, c = _NTMScan.apply(*args, spec)
    else:
        ops = _cpp_ops(xproj, spec)
        with torch.no_grad():
            if ops is not None:  # its own block, not the arena's: the outputs are views of it
                Y, (Mt, w, c), _ = _scan_forward_cpp(ops, *args, spec, save=False)
            else:
                Y, (Mt, w, c), _ = _scan_forward(*args, spec, save=False)
            ys = Y[1:]
    M = Mt.transpose(1, 2).contiguous()  # (B, N, W)
    y = ys[-1]
    if spec.kind != "lstm":
        c = state.c  # unused by a feed-forward controller: the initial c, untouched
    return ys, ScanState(M, w, y[:, C:].reshape(B, spec.Hr, spec.W), y[:, :C], c)
