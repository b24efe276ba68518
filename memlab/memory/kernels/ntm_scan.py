"""Fused NTM sequence kernel: the composed NTM (controller + ``NTMAccess``) over a whole
sequence as ONE autograd node, with back-propagation through time written out by hand.

Why it is fast. At NTM sizes per-op overhead and memory passes, not arithmetic, are the cost:
under autograd the composed step is ~460 aten calls (views included) forward and backward.
Here a step is one pure function forward (``_fwd_step``, ~55 ops) and one backward
(``_bwd_step``, ~70 ops), run with autograd off:

* the controller reads y_{t−1} = [h_{t−1}, r_{t−1}] (the previous output) through one weight
  [W_h | W_r], so no per-step copies build its input;
* the addressing chain is batched over all heads with fused ops (``addcmul`` norms, ``lerp``
  interpolation, the shift as one product with the stacked rolls, softmax backward as one op);
* erase/add for one write head is two passes, M + w ∘ (a − e ∘ M), with nothing saved but M;
* the backward computes whatever does not depend on the recursion for all steps at once
  (activation and gate slopes, ratios of saved values) and the weight gradients as one matrix
  product each after the loop; no Python numbers enter the hot ops.

``compile=True`` (``model.compile=true``) runs the same two step functions through
``torch.compile``. At batch 32 most of what remains is passes over the N × W memory
(``memlab bench ntm-step``).

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

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

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
    compiled: bool = False  # the step functions through torch.compile

    def cuts(self) -> tuple[int, ...]:
        """End columns of k, β, g, s, γ, e in the head outputs (a runs from the last to the end)."""
        return tuple(sum(self.sizes[:j]) for j in range(1, 7))


def _fwd_step(xp: Tensor, y: Tensor, c: Tensor, M: Tensor, w: Tensor, W_hrT: Tensor, W_headsT: Tensor,
              b_heads: Tensor, consts: tuple[Tensor, Tensor, Tensor], spec: NTMSpec):
    """One step of the composed NTM, the arithmetic of ``ntm_step_ref`` in few ops (a pure function,
    so ``torch.compile`` can take it whole).

    xp (B, G): W_x x_t + b; y (B, C + Hr·W) = [h_{t−1}, r_{t−1}]; c (B, C); M (B, N, W);
    w (B, H, N); W_hrT (C + Hr·W, G): [W_h | W_r]ᵀ (zero h rows for a feed-forward controller);
    W_headsT (C, P); consts: ε/W, ε and 1 as 0-d tensors -> y_t, c_t, M_t, w_t and the step's
    tensors the backward reads (``_SAVED``).
    """
    C, Hr, Hw, N, W, S = spec.C, spec.Hr, spec.Hw, spec.N, spec.W, spec.S
    H, B = Hr + Hw, y.shape[0]
    o_k, o_b, o_g, o_s, o_y, o_e = spec.cuts()
    epsW, eps, one = consts
    pre = torch.addmm(xp, y, W_hrT)  # (B, G)
    if spec.kind == "lstm":  # gate order i, f, g, o (PyTorch's, as in memlab.controllers.lstm)
        sg = torch.sigmoid(pre)  # σ(i), σ(f), ·, σ(o)
        gg = torch.tanh(pre[:, 2 * C : 3 * C])
        c = torch.addcmul(sg[:, C : 2 * C] * c, sg[:, :C], gg)  # f c + i g
        tc = torch.tanh(c)
        h = sg[:, 3 * C :] * tc  # o tanh(c)
    else:
        h = torch.tanh(pre)
        sg = gg = tc = h
    out = torch.addmm(b_heads, h, W_headsT)  # (B, P)
    if spec.clip > 0:
        out = out.clamp(-spec.clip, spec.clip)
    th, so = torch.tanh(out), torch.sigmoid(out)
    sp = F.softplus(out[:, o_k:o_y])  # softplus of [β, g, s, γ]; β and γ − 1 are read from it
    k = th[:, :o_k].view(B, H, W)
    beta = sp[:, : o_b - o_k].unsqueeze(-1)  # (B, H, 1)
    g = so[:, o_b:o_g].unsqueeze(-1)  # (B, H, 1)
    s = torch.softmax(out[:, o_g:o_s].view(B, H, S), -1)  # (B, H, S)
    gam1 = sp[:, o_s - o_k :].unsqueeze(-1)  # γ − 1 (B, H, 1)
    e = so[:, o_y:o_e].view(B, Hw, W)
    a = th[:, o_e:].view(B, Hw, W)
    # content addressing on M_{t−1} (eqs. 5–6); ‖x‖ = sqrt(Σ (x² + ε/W)) = sqrt(Σx² + ε)
    kn = torch.addcmul(epsW, k, k).sum(-1, keepdim=True).sqrt_()  # (B, H, 1)
    mn = torch.addcmul(epsW, M, M).sum(-1).sqrt_().unsqueeze(1)  # (B, 1, N)
    D = torch.addcmul(eps, kn, mn)  # ‖k‖‖M‖ + ε (B, H, N)
    K = torch.bmm(k, M.transpose(1, 2)).div_(D)  # (B, H, N)
    wc = torch.softmax(beta * K, -1)
    wg = torch.lerp(w, wc, g)  # g w^c + (1 − g) w_{t−1} (eq. 7)
    # circular shift (eq. 8): w̃ = Σ_k s_k roll(w^g, o_k), as one product with the S rolls
    R4 = torch.stack([wg if o == 0 else torch.roll(wg, o, -1) for o in A.shift_offsets(S // 2)], 2)  # (B, H, S, N)
    ws = torch.linalg.vecdot(R4, s.unsqueeze(-1), dim=2).add_(eps)  # w̃ + ε (B, H, N)
    lw = torch.log(ws)
    wt = torch.softmax(torch.addcmul(lw, gam1, lw), -1)  # softmax(γ log(w̃ + ε)) (eq. 9)
    r = torch.bmm(wt[:, :Hr], M)  # (B, Hr, W): reads see M_{t−1}
    ww = wt[:, Hr:]  # (B, Hw, N)
    if Hw == 1:  # M ∘ (1 − w eᵀ) + w aᵀ = M + w ∘ (a − e ∘ M) (eqs. 3–4)
        M_new = torch.addcmul(M, ww.transpose(1, 2), torch.addcmul(a, M, e, value=-1.0))
    else:
        keep = torch.addcmul(one, ww.unsqueeze(-1), e.unsqueeze(2), value=-1.0).prod(1)  # Π_h (1 − w_h e_hᵀ)
        M_new = torch.baddbmm(M * keep, ww.transpose(1, 2), a)
    y_new = torch.cat([h, r.view(B, Hr * W)], 1)  # (B, C + Hr·W)
    return y_new, c, M_new, wt, (sg, gg, tc, out, k, beta, g, s, gam1, e, a, kn, mn, D, K, wc, R4, ws, lw)


# the per-step tensors ``_fwd_step`` hands the backward, in its order
_SAVED = ("sg", "gg", "tc", "out", "k", "beta", "g", "s", "gam1", "e", "a", "kn", "mn", "D", "K", "wc", "R4", "ws", "lw")


def _bwd_step(gY: Tensor, gM: Tensor, gw: Tensor, gc: Tensor, M: Tensor, wt: Tensor, sv: tuple, pre: tuple,
              W_heads: Tensor, W_hr: Tensor, spec: NTMSpec):
    """Back-propagation through one step of ``_fwd_step`` (a pure function, like it).

    gY (B, C + Hr·W): ∂/∂y_t = [h_t, r_t] from the output and the next step; gM, gw, gc: ∂/∂M_t,
    ∂/∂w_t, ∂/∂c_t; M = M_{t−1}, wt = w_t; sv: the step's ``_SAVED`` tensors; pre: the step's
    slices of what ``_scan_backward`` computed for all steps at once -> ∂/∂y_{t−1} (through the
    controller), ∂/∂M_{t−1}, ∂/∂w_{t−1}, ∂/∂c_{t−1}, ∂/∂(head outputs) (B, P), ∂/∂(pre-activations) (B, G).
    """
    C, Hr, Hw, N, W, S = spec.C, spec.Hr, spec.Hw, spec.N, spec.W, spec.S
    H, B = Hr + Hw, gY.shape[0]
    _sg, _gg, _tc, _out, k, _beta, g, s, _gam1, e, a, _kn, _mn, _D, K, wc, R4, _ws, lw = sv
    slope, gws, dw, bD, mn_col, kn_row, k_kn, nimn, dc, A3, Bo, fg = pre
    gh, gr = gY[:, :C], gY[:, C:].view(B, Hr, W)
    wr, ww = wt[:, :Hr], wt[:, Hr:]
    # erase then add: M_t = M ∘ Π_h (1 − w_h e_hᵀ) + Σ_h w_h a_hᵀ; g_e is −∂/∂e (the sign is in the slope)
    g_a = torch.bmm(ww, gM)  # (B, Hw, W)
    if Hw == 1:
        Q = gM * M  # (B, N, W)
        g_ww = torch.baddbmm(torch.bmm(a, gM.transpose(1, 2)), e, Q.transpose(1, 2), alpha=-1.0)  # (B, 1, N)
        g_e = torch.bmm(ww, Q)  # (B, 1, W)
        gM_prev = torch.addcmul(gM, ww.transpose(1, 2), gM * e, value=-1.0)  # gM ∘ (1 − w eᵀ)
    else:
        factors = 1.0 - ww.unsqueeze(-1) * e.unsqueeze(2)  # (B, Hw, N, W)
        g_ww_e, g_es = [], []
        for j in range(Hw):
            others = torch.cat([factors[:, :j], factors[:, j + 1 :]], 1).prod(1)  # (B, N, W)
            Qj = gM * M * others
            g_ww_e.append(torch.bmm(e[:, j : j + 1], Qj.transpose(1, 2)))
            g_es.append(torch.bmm(ww[:, j : j + 1], Qj))
        g_ww = torch.bmm(a, gM.transpose(1, 2)) - torch.cat(g_ww_e, 1)
        g_e = torch.cat(g_es, 1)
        gM_prev = gM * factors.prod(1)
    # reads r = w^r M_{t−1}; then sharpen w = softmax(γ log(w̃ + ε))
    g_wt = torch.cat([torch.bmm(gr, M.transpose(1, 2)), g_ww], 1).add_(gw)  # (B, H, N)
    g_z = torch._softmax_backward_data(g_wt, wt, -1, wt.dtype)
    g_gam = torch.linalg.vecdot(g_z, lw)  # (B, H)
    g_ws = g_z.mul_(gws)  # ∂/∂w̃ = g_z γ / (w̃ + ε)
    # shift: ∂/∂s_k = Σ_i g_w̃(i) roll(w^g, o_k)(i); ∂/∂w^g = Σ_k s_k roll(g_w̃, −o_k)
    g_s = torch._softmax_backward_data(torch.linalg.vecdot(R4, g_ws.unsqueeze(2)), s, -1, s.dtype)  # (B, H, S)
    G4 = torch.stack([g_ws if o == 0 else torch.roll(g_ws, -o, -1) for o in A.shift_offsets(S // 2)], 2)
    g_wg = torch.linalg.vecdot(G4, s.unsqueeze(-1), dim=2)  # (B, H, N)
    # interpolation w^g = w_{t−1} + g (w^c − w_{t−1})
    g_g = torch.linalg.vecdot(g_wg, dw)
    g_wc = g_wg * g
    gw_prev = g_wg.sub_(g_wc)  # (1 − g) ∂/∂w^g
    # content w^c = softmax(β K), K = k·M / D, D = ‖k‖‖M‖ + ε
    g_bK = torch._softmax_backward_data(g_wc, wc, -1, wc.dtype)
    g_beta = torch.linalg.vecdot(g_bK, K)
    g_dot = g_bK.mul_(bD)  # ∂/∂(k·M) = g_bK β / D
    g_D = g_dot * K  # −∂/∂D
    g_k = torch.bmm(g_dot, M).addcmul_(torch.bmm(g_D, mn_col), k_kn, value=-1.0)  # (B, H, W)
    cm = torch.bmm(kn_row, g_D).mul_(nimn)  # ∂/∂‖M_i‖ / ‖M_i‖ (B, 1, N)
    gM_prev.addcmul_(cm.transpose(1, 2), M)
    gM_prev.baddbmm_(torch.cat([wr, g_dot], 1).transpose(1, 2), torch.cat([gr, k], 1))  # reads and keys
    g_out = torch.cat([g_k.view(B, H * W), g_beta, g_g, g_s.view(B, H * S), g_gam, g_e.reshape(B, Hw * W),
                       g_a.reshape(B, Hw * W)], 1).mul_(slope)  # (B, P)
    gh = torch.addmm(gh, g_out, W_heads)  # (B, C)
    if spec.kind == "lstm":
        gc = torch.addcmul(gc, gh, dc)  # + ∂h/∂c = o (1 − tanh² c)
        g_pre = torch.cat([(gc.unsqueeze(1) * A3).view(B, 3 * C), gh * Bo], 1)  # ∂i, ∂f, ∂g, ∂o
        gc = gc * fg
    else:
        g_pre = gh * Bo  # tanh' of the feed-forward layer
    return torch.mm(g_pre, W_hr), gM_prev, gw_prev, gc, g_out, g_pre


_COMPILED: dict = {}


def _steps(compiled: bool):
    """(forward step, backward step), eager or through ``torch.compile`` (built once per process)."""
    if not compiled:
        return _fwd_step, _bwd_step
    if not _COMPILED:
        _COMPILED["fwd"] = torch.compile(_fwd_step, dynamic=False)
        _COMPILED["bwd"] = torch.compile(_bwd_step, dynamic=False)
    return _COMPILED["fwd"], _COMPILED["bwd"]


def _scan_forward(xproj, W_hr, W_heads, b_heads, M, w, y, c, spec: NTMSpec, save: bool):
    """Forward of ``ntm_scan`` with autograd off: ``_fwd_step`` over t.

    xproj (T, B, G); W_hr (G, C + Hr·W); y (B, C + Hr·W) = [h_0, r_0] -> Y (T+1, B, C + Hr·W)
    = [y_0 … y_T], the final (M, w, c) and, with ``save``, what the backward needs: the per-step
    ``_SAVED`` tensors, M_0 … M_{T−1}, w_0 … w_T, c_0 … c_{T−1}.
    """
    fwd = _steps(spec.compiled)[0]
    consts = (xproj.new_full((), spec.eps / spec.W), xproj.new_full((), spec.eps), xproj.new_ones(()))
    W_hrT, W_headsT = W_hr.t(), W_heads.t()
    Ys, Ms, ws, cs, saved = [y], [M], [w], [c], []
    for xp in xproj.unbind(0):
        y, c, M, w, sv = fwd(xp, y, c, M, w, W_hrT, W_headsT, b_heads, consts, spec)
        Ys.append(y)
        if save:
            Ms.append(M)
            ws.append(w)
            cs.append(c)
            saved.append(sv)
    Y = torch.stack(Ys)
    sv = {"Ms": Ms[:-1], "ws": ws, "cs": cs[:-1], "saved": saved, "Y": Y} if save else {}
    return Y, (M, w, c), sv


def _activation_slopes(outs: Tensor, spec: NTMSpec) -> Tensor:
    """d(activation)/d(head output) for all steps at once: (T, B, P), 0 where clipping was active.

    k, a: tanh → 1 − tanh²; β, γ: softplus → σ; g: σ → σ(1 − σ); e: −σ(1 − σ) (the backward
    step hands −∂/∂e); s: softmax, whose Jacobian is not elementwise (slope 1 here, applied in
    the backward step).
    """
    o_k, o_b, o_g, o_s, o_y, o_e = spec.cuts()
    th, sg = torch.tanh(outs), torch.sigmoid(outs)
    slope = torch.empty_like(outs)
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

    gys (T, B, C + Hr·W) and the gradients of the final (M, w, r, h, c) (None = zero) ->
    gradients of (xproj, W_hr, W_heads, b_heads, M_0, w_0, y_0 = [h_0, r_0], c_0). What does not
    depend on the recursion (activation slopes, gate slopes, ratios of saved values, weight
    gradients) is computed for all steps at once.
    """
    T, B, _ = gys.shape
    C, Hr = spec.C, spec.Hr
    bwd = _steps(spec.compiled)[1]
    need = ("sg", "gg", "tc", "out", "k", "beta", "gam1", "kn", "mn", "D", "wc", "ws")  # for the all-steps terms
    f = {name: torch.stack(v) for name, v in zip(_SAVED, zip(*sv["saved"])) if name in need}  # each (T, ...)
    ws_all = torch.stack(sv["ws"])  # w_0 … w_T (T+1, B, H, N)
    pre = {
        "slope": _activation_slopes(f["out"], spec),
        "gws": (f["gam1"] + 1.0) / f["ws"],  # γ / (w̃ + ε)
        "dw": f["wc"] - ws_all[:-1],  # w^c − w_{t−1}
        "bD": f["beta"] / f["D"],
        "mn_col": f["mn"].transpose(-1, -2),  # (T, B, N, 1)
        "kn_row": f["kn"].transpose(-1, -2),  # (T, B, 1, H)
        "k_kn": f["k"] / f["kn"],
        "nimn": -1.0 / f["mn"],
    }
    if spec.kind == "lstm":
        sg, gg, tc = f["sg"], f["gg"], f["tc"]
        i, fg, o = sg[..., :C], sg[..., C : 2 * C], sg[..., 3 * C :]
        ds = sg * (1.0 - sg)  # σ'
        pre["dc"] = o * (1.0 - tc * tc)  # ∂h/∂c
        pre["A3"] = torch.stack([gg * ds[..., :C], torch.stack(sv["cs"]) * ds[..., C : 2 * C],
                                 i * (1.0 - gg * gg)], 2)  # (T, B, 3, C): ∂c/∂(i, f, g pre-activations)
        pre["Bo"] = tc * ds[..., 3 * C :]  # ∂h/∂(o pre-activation)
        pre["fg"] = fg
    else:
        h = f["sg"]
        pre["Bo"] = 1.0 - h * h
        pre["dc"] = pre["A3"] = pre["fg"] = pre["Bo"]  # unused
    keys = ("slope", "gws", "dw", "bD", "mn_col", "kn_row", "k_kn", "nimn", "dc", "A3", "Bo", "fg")
    pres = list(zip(*(pre[k_].unbind(0) for k_ in keys)))
    gM, gw, gr, gh, gc = gfinal
    ref = sv["Ms"][0]
    H, N, W = spec.Hr + spec.Hw, spec.N, spec.W
    gM = ref.new_zeros(B, N, W) if gM is None else gM
    gw = ref.new_zeros(B, H, N) if gw is None else gw
    gc = ref.new_zeros(B, C) if gc is None else gc
    gY = gys[T - 1].clone()
    if gh is not None:
        gY[:, :C] += gh
    if gr is not None:
        gY[:, C:] += gr.reshape(B, -1)
    g_outs, g_pres = [None] * T, [None] * T
    Ms, wts, saved = sv["Ms"], sv["ws"][1:], sv["saved"]
    for t in range(T - 1, -1, -1):
        g_rest, gM, gw, gc, g_outs[t], g_pres[t] = bwd(gY, gM, gw, gc, Ms[t], wts[t], saved[t], pres[t],
                                                       W_heads, W_hr, spec)
        gY = g_rest + gys[t - 1] if t > 0 else g_rest
    g_pre_all, g_out_all = torch.stack(g_pres), torch.stack(g_outs)  # (T, B, G), (T, B, P)
    TB, Y = T * B, sv["Y"]
    g_W_hr = torch.mm(g_pre_all.view(TB, -1).t(), Y[:-1].reshape(TB, -1))
    g_out_flat = g_out_all.view(TB, -1)
    g_W_heads = torch.mm(g_out_flat.t(), Y[1:, :, :C].reshape(TB, C))
    return g_pre_all, g_W_hr, g_W_heads, g_out_flat.sum(0), gM, gw, gY, gc


class _NTMScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xproj, W_hr, W_heads, b_heads, M0, w0, y0, c0, spec):
        with torch.inference_mode():  # fewer dispatch steps per op than no_grad; outputs copied back below
            Y, final, sv = _scan_forward(xproj, W_hr, W_heads, b_heads, M0, w0, y0, c0, spec, save=True)
        ctx.sv, ctx.spec = sv, spec  # inference tensors, read only by the backward
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

    Forward and backward are written out by hand (``_fwd_step``, ``_bwd_step``): ~55 tensor ops
    a step forward and ~70 backward, no autograd bookkeeping, no Python numbers in the hot ops,
    and whatever does not depend on the recursion computed for all steps at once. Under
    ``no_grad`` nothing is saved. Agrees with stepping the composed reference in values and
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
    args = (xproj, W_hr, W_heads, b_heads, state.memory, state.weights, y0, state.c)
    if torch.is_grad_enabled() and any(t.requires_grad for t in args):
        ys, M, w, c = _NTMScan.apply(*args, spec)
    else:
        with torch.no_grad():
            Y, (M, w, c), _ = _scan_forward(*args, spec, save=False)
            ys = Y[1:]
    y = ys[-1]
    if spec.kind != "lstm":
        c = state.c  # unused by a feed-forward controller: the initial c, untouched
    return ys, ScanState(M, w, y[:, C:].reshape(B, spec.Hr, spec.W), y[:, :C], c)
