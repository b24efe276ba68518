"""Fused DNC sequence kernel: the whole sequence as one autograd node, BPTT written by hand.

``dnc_scan(kind, xproj, W_rec, access, state, h, c)`` runs the arithmetic of the composed
reference step (``memlab.models.compose.compose_step_ref``: controller, then
``DNCAccess.forward``) for every step with autograd off, and its backward is
back-propagation through time written out. Covered layouts: an LSTM controller of the
standard variant (gate order i, f, g, o) or a feed-forward controller, any number of read
heads, one write head; ``DNCAccess.fused_sequence`` returns None otherwise and the
composition runs the reference loop.

Why it is faster. Under autograd a DNC step is ~1,200 aten calls (views and autograd nodes
included), and at N = 128 much of the time is elementwise passes over the N × N link matrix,
each of whose intermediates autograd saves. Here

* a step is ~250 aten calls forward and ~400 backward (views included), no graph bookkeeping,
  no Python numbers in ops (each costs a dtype conversion: constants are tensors);
* the link matrix lives in two preallocated buffers and is updated in three passes,
  L_t = (1 − w_i) L − w_j L + w_i p_j; both directional reads are products over it, and their
  gradient reaches ∂L_t as one rank-2R product;
* the links are never saved: L is kept at the start of every segment of ⌈√T⌉ steps and
  the backward recomputes a segment's links into one buffer (the update needs only w^w_t and
  p_{t−1}, saved per step), so O(√T) link matrices live at once instead of O(T) (a training
  step at N = 128, B = 32, L = 20 peaks ~75 MB above the model; the reference ~225 MB);
* the controller's and the interface's weight gradients are one matrix product each over all
  steps after the loop, and the activation slopes are computed for all steps at once.

What remains is per-op dispatch (small sizes) and ~18 passes over N × N per step (N = 128):
``memlab bench dnc-step`` measures ~2× the reference at both size sets. ``compiled``
(``DNCAccess.compile_kernel``) runs the same maths as pure step functions (``_fwd_step``,
``_bwd_step``, ``_link_step``) through ``torch.compile``, which fuses the elementwise passes.

Tests (tests/memory/test_dnc.py) check the kernel against the reference in float64 (outputs,
final state, every parameter and initial-state gradient), gradcheck it, run it on an all-zero
memory and saturated gates, and check that its graph is freed by reference counting alone.

Shapes: T steps, B batch, C controller size, G its pre-activation width (4C for an LSTM),
R read heads, N memory locations, W word size, P interface width.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable



class DNCSpec(NamedTuple):
    """Static sizes: controller kind ("lstm" | "ff") and size C, R read heads, memory N × W,
    interface part ends ``cuts``, clip (0 = off), ε, and the link checkpoint interval ``seg``."""

    kind: str
    C: int
    R: int
    N: int
    W: int
    cuts: tuple[int, ...]
    clip: float
    eps: float
    seg: int
    compiled: bool = False  # the step functions through torch.compile


def _link_step(L: Tensor, ww: Tensor, p: Tensor) -> Tensor:
    """L_t = (1 − w_i − w_j) L_{t−1} + w_i p_j, diagonal 0. L (B, N, N); ww, p (B, N)."""
    Ln = torch.addcmul(ww.unsqueeze(-1) * p.unsqueeze(1), (1.0 - ww).unsqueeze(-1) - ww.unsqueeze(1), L)  # (B, N, N)
    Ln.diagonal(dim1=1, dim2=2).zero_()
    return Ln


def _link_into(L: Tensor, ww: Tensor, p: Tensor, out: Tensor, one: Tensor) -> Tensor:
    """``_link_step`` written into ``out`` (B, N, N) in three passes, without a temporary (one: 1 as a tensor)."""
    torch.mul(L, torch.sub(one, ww).unsqueeze(-1), out=out)
    out.addcmul_(L, ww.unsqueeze(1), value=-1.0)
    out.addcmul_(ww.unsqueeze(-1), p.unsqueeze(1))
    out.diagonal(dim1=1, dim2=2).zero_()
    return out


def _fwd_step(xp, r, h, c, M, wr, ww, L, p, u, W_rec, W_if, b_if, spec: DNCSpec):
    """One step of ``memlab.memory.dnc.dnc_step_ref`` with autograd off, written for the kernel.

    xp (B, G); r (B, R, W); h, c (B, C); M (B, N, W); wr (B, R, N); ww, p, u (B, N); L (B, N, N)
    -> (rest, gates, h, c, ξ, M, w^r, w^w, L, p, u, r) at t and ``saved``, what the backward reads.
    """
    B = xp.shape[0]
    C, R, N, W, eps, clip = spec.C, spec.R, spec.N, spec.W, spec.eps, spec.clip
    c1, c2, c3, c4, c5, c6, c7, c8, c9 = spec.cuts
    # controller: pre = W_x x_t + b + [W_r, W_h] [r_{t−1}, h_{t−1}]
    if spec.kind == "lstm":
        rest = torch.cat([r.reshape(B, R * W), h], 1)  # (B, R·W + C)
        pre = torch.addmm(xp, rest, W_rec.t())  # (B, 4C): i, f, g, o
        sg_pre = torch.sigmoid(pre)
        gt = torch.cat([sg_pre[:, : 2 * C], torch.tanh(pre[:, 2 * C : 3 * C]), sg_pre[:, 3 * C :]], 1)
        c = torch.addcmul(gt[:, C : 2 * C] * c, gt[:, :C], gt[:, 2 * C : 3 * C])
        h = gt[:, 3 * C :] * torch.tanh(c)
    else:
        rest = r.reshape(B, R * W)
        gt = c  # unused
        h = torch.tanh(torch.addmm(xp, rest, W_rec.t()))
    # interface ξ_t
    xi = torch.addmm(b_if, h, W_if.t())  # (B, P)
    if clip > 0:
        xi = xi.clamp(-clip, clip)
    sg = torch.sigmoid(xi)
    kr = xi[:, :c1].reshape(B, R, W)
    br = F.softplus(xi[:, c1:c2]) + 1.0  # β^r ≥ 1 (B, R)
    kw = xi[:, c2:c3]  # (B, W)
    bw = F.softplus(xi[:, c3:c4]) + 1.0  # (B, 1)
    e, v, f = sg[:, c4:c5], xi[:, c5:c6], sg[:, c6:c7]  # (B, W), (B, W), (B, R)
    ga, gw = sg[:, c7:c8], sg[:, c8:c9]  # (B, 1) each
    pi = torch.softmax(xi[:, c9:].reshape(B, R, 3), -1)  # [backward, forward, content]
    # usage: ψ = Π_r (1 − f_r w^r_{t−1}), u_t = (u + w^w − u w^w) ψ
    terms = 1.0 - f.unsqueeze(-1) * wr  # (B, R, N)
    psi = terms[:, 0] if R == 1 else terms.prod(1)  # (B, N)
    uw = u + ww - u * ww
    u_new = uw * psi
    # write content C(M_{t−1}, k^w, β^w)
    knw = ((kw * kw).sum(-1, keepdim=True) + eps).sqrt()  # (B, 1)
    mn = ((M * M).sum(-1) + eps).sqrt()  # (B, N)
    Dw = knw * mn + eps  # (B, N)
    Kw = torch.bmm(kw.unsqueeze(1), M.transpose(1, 2)).squeeze(1) / Dw  # (B, N)
    cw = torch.softmax(bw * Kw, -1)
    # allocation over the free list φ (ascending usage)
    su, phi = torch.sort(u_new * (1.0 - eps) + eps, dim=-1, stable=True)  # (B, N) each
    Pc = torch.cumprod(torch.cat([torch.ones_like(su[:, :1]), su[:, :-1]], 1), 1)  # Π_{i<j} u[φ_i]
    a = torch.zeros_like(su).scatter(1, phi, (1.0 - su) * Pc)  # (B, N), location order
    mix = ga * a + (1.0 - ga) * cw  # g^a a + (1 − g^a) c^w
    ww_new = gw * mix  # (B, N)
    # memory: M_t = M ∘ (1 − w eᵀ) + w vᵀ
    M_new = M * (1.0 - ww_new.unsqueeze(-1) * e.unsqueeze(1)) + ww_new.unsqueeze(-1) * v.unsqueeze(1)
    # links and both directional reads
    L_new = _link_step(L, ww_new, p)
    fwd = torch.bmm(wr, L_new.transpose(1, 2))  # L w^r: (B, R, N)
    bwd = torch.bmm(wr, L_new)  # Lᵀ w^r: (B, R, N)
    p_new = (1.0 - ww_new.sum(-1, keepdim=True)) * p + ww_new
    # read content C(M_t, k^r, β^r)
    knr = ((kr * kr).sum(-1) + eps).sqrt()  # (B, R)
    mn2 = ((M_new * M_new).sum(-1) + eps).sqrt()  # (B, N)
    Dr = knr.unsqueeze(-1) * mn2.unsqueeze(1) + eps  # (B, R, N)
    Kr = torch.bmm(kr, M_new.transpose(1, 2)) / Dr
    cr = torch.softmax(br.unsqueeze(-1) * Kr, -1)
    wr_new = pi[..., 0:1] * bwd + pi[..., 1:2] * fwd + pi[..., 2:3] * cr  # (B, R, N)
    r_new = torch.bmm(wr_new, M_new)  # (B, R, W)
    saved = (terms, psi, uw, Kw, bw / Dw, knw, mn, cw, su, phi, Pc, a, mix, fwd, bwd, cr, Kr,
             br.unsqueeze(-1) / Dr, knr, mn2)
    return (rest, gt, h, c, xi, M_new, wr_new, ww_new, L_new, p_new, u_new, r_new), saved


def _softmax_bwd(g: Tensor, y: Tensor) -> Tensor:
    """Gradient through y = softmax(z) over the last dim: (g − Σ g y) ∘ y."""
    return (g - (g * y).sum(-1, keepdim=True)) * y


def _bwd_step(gyh, gyr, carry, M_prev, M_new, wr_prev, wr_new, ww_prev, ww_new, p_prev, u_prev, L_prev, L_new, xi,
              slope, ctrl, saved, W_if, W_rec, spec: DNCSpec):
    """One step of the hand-written BPTT: the gradients at t (``carry``: of M, w^r, w^w, L, p, u,
    r, h, c) -> those at t − 1, and ∂ξ_t (B, P) and ∂pre_t (B, G) for the weight products.

    ctrl: (gates_t, c_{t−1}, tanh c_t, ∂h/∂c_t, gate slopes_t) for an LSTM, (h_t slope,) for ff.
    """
    B = gyh.shape[0]
    C, R, N, W, eps = spec.C, spec.R, spec.N, spec.W, spec.eps
    c1, c2, c3, c4, c5, c6, c7, c8, c9 = spec.cuts
    RW = R * W
    gM, gwr, gww, gL, gp, gu, gr, gh, gc = carry
    (terms, psi, uw, Kw, bDw, knw, mn, cw, su, phi, Pc, a, mix, fwd, bwd, cr, Kr, bDr, knr, mn2) = saved
    sg = torch.sigmoid(xi)
    kr, kw = xi[:, :c1].reshape(B, R, W), xi[:, c2:c3]
    e, v, f = sg[:, c4:c5], xi[:, c5:c6], sg[:, c6:c7]
    ga, gw = sg[:, c7:c8], sg[:, c8:c9]
    pi = torch.softmax(xi[:, c9:].reshape(B, R, 3), -1)
    gh = gh + gyh
    gr = gr + gyr
    # r_t = w^r_t M_t
    g_wr = torch.baddbmm(gwr, gr, M_new.transpose(1, 2))  # (B, R, N)
    gM = torch.baddbmm(gM, wr_new.transpose(1, 2), gr)  # (B, N, W)
    # w^r_t = π_b b + π_f f + π_c c
    g_pi = torch.stack([(g_wr * bwd).sum(-1), (g_wr * fwd).sum(-1), (g_wr * cr).sum(-1)], -1)  # (B, R, 3)
    g_bwd, g_fwd, g_cr = pi[..., 0:1] * g_wr, pi[..., 1:2] * g_wr, pi[..., 2:3] * g_wr
    # read content c = softmax(β K(M_t, k^r)), K = k·M / (‖k‖‖M‖ + ε)
    g_z = _softmax_bwd(g_cr, cr)
    g_br = (g_z * Kr).sum(-1)  # (B, R)
    g_dot = g_z * bDr  # β / D
    g_D = g_dot * Kr  # minus ∂/∂D
    g_knr = -(g_D * mn2.unsqueeze(1)).sum(-1) / knr  # (B, R)
    g_mn2 = -(g_D * knr.unsqueeze(-1)).sum(1) / mn2  # (B, N)
    g_kr = torch.baddbmm(g_knr.unsqueeze(-1) * kr, g_dot, M_new)  # (B, R, W)
    gM = torch.baddbmm(gM, g_dot.transpose(1, 2), kr) + g_mn2.unsqueeze(-1) * M_new
    # directional reads f = L w^r_{t−1}, b = Lᵀ w^r_{t−1}: ∂L as one rank-2R product
    g_wr_prev = torch.bmm(g_fwd, L_new) + torch.bmm(g_bwd, L_new.transpose(1, 2))  # (B, R, N)
    gL = torch.baddbmm(gL, torch.cat([g_fwd, wr_prev], 1).transpose(1, 2), torch.cat([wr_prev, g_bwd], 1))
    gL.diagonal(dim1=1, dim2=2).zero_()  # L_t[i, i] ≡ 0 passes nothing back
    # precedence p_t = (1 − Σ w) p_{t−1} + w
    g_ww = gww + gp - (gp * p_prev).sum(-1, keepdim=True)  # (B, N)
    g_p_prev = gp * (1.0 - ww_new.sum(-1, keepdim=True))
    # links L_t = (1 − w_i − w_j) L_{t−1} + w_i p_j
    Q = gL * L_prev
    g_ww = g_ww + (gL * p_prev.unsqueeze(1) - Q).sum(-1) - Q.sum(-2)
    g_p_prev = g_p_prev + (gL * ww_new.unsqueeze(-1)).sum(-2)
    gL = gL * ((1.0 - ww_new).unsqueeze(-1) - ww_new.unsqueeze(1))
    # memory M_t = M_{t−1} ∘ (1 − w eᵀ) + w vᵀ
    g_v = (gM * ww_new.unsqueeze(-1)).sum(1)  # (B, W)
    Qm = gM * M_prev
    g_ww = g_ww + (gM * v.unsqueeze(1) - Qm * e.unsqueeze(1)).sum(-1)
    g_e = -(Qm * ww_new.unsqueeze(-1)).sum(1)  # (B, W)
    gM_prev = gM * (1.0 - ww_new.unsqueeze(-1) * e.unsqueeze(1))
    # w^w = g^w [g^a a + (1 − g^a) c^w]
    g_gw = (g_ww * mix).sum(-1, keepdim=True)  # (B, 1)
    g_mix = g_ww * gw
    g_ga = (g_mix * (a - cw)).sum(-1, keepdim=True)
    g_a, g_cw = g_mix * ga, g_mix * (1.0 - ga)
    # allocation a[φ_j] = (1 − û_φj) Π_{i<j} û_φi over sorted usage û = ε + (1 − ε) u
    g_as = g_a.gather(1, phi)
    gPP = g_as * (1.0 - su) * Pc  # ∂/∂Π_{i<j} times the product
    tail = gPP.flip(-1).cumsum(-1).flip(-1)  # Σ_{j ≥ k}
    g_su = torch.cat([tail[:, 1:], torch.zeros_like(tail[:, :1])], 1) / su - g_as * Pc  # Σ_{j>k} … / û_k − ∂a_k
    g_u_new = gu + torch.zeros_like(g_su).scatter(1, phi, g_su) * (1.0 - eps)
    # write content c^w = softmax(β^w K(M_{t−1}, k^w))
    g_z = _softmax_bwd(g_cw, cw)  # (B, N)
    g_bw = (g_z * Kw).sum(-1, keepdim=True)  # (B, 1)
    g_dot = g_z * bDw
    g_D = g_dot * Kw
    g_knw = -(g_D * mn).sum(-1, keepdim=True) / knw  # (B, 1)
    g_mn = -(g_D * knw) / mn  # (B, N)
    g_kw = g_knw * kw + torch.bmm(g_dot.unsqueeze(1), M_prev).squeeze(1)  # (B, W)
    gM_prev = gM_prev + g_dot.unsqueeze(-1) * kw.unsqueeze(1) + g_mn.unsqueeze(-1) * M_prev
    # usage u_t = (u + w − u w) ψ
    g_uw = g_u_new * psi
    g_psi = g_u_new * uw
    gu = g_uw * (1.0 - ww_prev)
    gww = g_uw * (1.0 - u_prev)
    # retention ψ = Π_r (1 − f_r w^r_{t−1})
    if R == 1:
        g_terms = g_psi.unsqueeze(1)  # (B, 1, N)
    else:  # products of the other heads' terms, without dividing
        ones = torch.ones_like(terms[:, :1])
        before = torch.cumprod(torch.cat([ones, terms[:, :-1]], 1), 1)
        after = torch.cumprod(torch.cat([ones, terms.flip(1)[:, :-1]], 1), 1).flip(1)
        g_terms = g_psi.unsqueeze(1) * before * after  # (B, R, N)
    g_f = -(g_terms * wr_prev).sum(-1)  # (B, R)
    g_wr_prev = g_wr_prev - g_terms * f.unsqueeze(-1)
    # interface: gradients by part, times the activation slopes
    g_out = torch.cat([g_kr.reshape(B, RW), g_br, g_kw, g_bw, g_e, g_v, g_f, g_ga, g_gw,
                       _softmax_bwd(g_pi, pi).reshape(B, 3 * R)], 1) * slope
    gh = torch.addmm(gh, g_out, W_if)  # (B, C)
    # controller
    if spec.kind == "lstm":
        gt, c_prev, tc, do_c, gate_slope = ctrl
        gc = gc + gh * do_c
        g_pre = torch.cat([gc * gt[:, 2 * C : 3 * C], gc * c_prev, gc * gt[:, :C], gh * tc], 1) * gate_slope
        gc = gc * gt[:, C : 2 * C]
    else:
        g_pre = gh * ctrl[0]
    g_rest = torch.mm(g_pre, W_rec)  # (B, R·W [+ C])
    gr = g_rest[:, :RW].reshape(B, R, W)
    gh = g_rest[:, RW:] if spec.kind == "lstm" else torch.zeros_like(gh)
    return (gM_prev, g_wr_prev, gww, gL, g_p_prev, gu, gr, gh, gc), g_out, g_pre


_COMPILED: dict = {}


def _steps(compiled: bool):
    """(forward step, backward step, link step), eager or through ``torch.compile`` (built once)."""
    if not compiled:
        return _fwd_step, _bwd_step, _link_step
    if not _COMPILED:
        for name, fn in (("fwd", _fwd_step), ("bwd", _bwd_step), ("link", _link_step)):
            _COMPILED[name] = torch.compile(fn, dynamic=False)
    return _COMPILED["fwd"], _COMPILED["bwd"], _COMPILED["link"]


def _scan_forward_steps(xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec: DNCSpec, save: bool):
    """Forward of ``dnc_scan`` with autograd off: ``_fwd_step`` over t.

    xproj (T, B, G): controller pre-activations from x_t (with bias); W_rec (G, R·W [+ C]);
    W_if (P, C), b_if (P,); state M (B, N, W), wr (B, R, N), ww (B, N), L (B, N, N), p (B, N),
    u (B, N), r (B, R, W), h, c (B, C) -> ys (T, B, C + R·W), the final state and, with
    ``save``, what the backward needs: per-step lists, the (T+1)-long state lists and the link
    matrix at the start of every segment of ``spec.seg`` steps.
    """
    T = xproj.shape[0]
    fwd_step = _steps(spec.compiled)[0]
    sv: dict = {k: [] for k in ("saved", "rests", "gates", "xis")}
    Ms, WRs, WWs, Ps, Us, hs, cs, rs = [M], [wr], [ww], [p], [u], [], [c], []
    links = {0: L}  # L at the start of every segment
    for t in range(T):
        (rest, gt, h, c, xi, M, wr, ww, L, p, u, r), saved = fwd_step(xproj[t], r, h, c, M, wr, ww, L, p, u, W_rec,
                                                                      W_if, b_if, spec)
        hs.append(h)
        rs.append(r)
        if save:
            for k, val in zip(("saved", "rests", "gates", "xis"), (saved, rest, gt, xi)):
                sv[k].append(val)
            Ms.append(M)
            WRs.append(wr)
            WWs.append(ww)
            Ps.append(p)
            Us.append(u)
            cs.append(c)
            if (t + 1) % spec.seg == 0 and t + 1 < T:
                links[t + 1] = L
    B = xproj.shape[1]
    ys = torch.cat([torch.stack(hs), torch.stack(rs).reshape(T, B, -1)], -1)  # (T, B, C + R·W)
    if save:
        sv.update(Ms=Ms, WRs=WRs, WWs=WWs, Ps=Ps, Us=Us, cs=cs, links=links, hs=torch.stack(hs))
    return ys, (M, wr, ww, L, p, u, r, h, c), sv


# per-step tensors the backward reads (besides the (T+1)-long state lists):
_SAVED = ("kr", "br", "kw", "bw", "e", "v", "f", "ga", "gw", "pi", "terms", "psi", "uw", "Kw", "bDw", "knw", "mn",
          "cw", "su", "phi", "Pc", "a", "mix", "modes", "cr", "Kr", "bDr", "knr", "mn2")


def _scan_forward_eager(xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec: DNCSpec, save: bool):
    """Forward of ``dnc_scan`` with autograd off, eager: the arithmetic of ``_fwd_step`` with
    results written into preallocated buffers (fewer allocations and ops per step); the norms
    ‖M_t(i)‖ of the read content are reused by the next step's write content.

    xproj (T, B, G): controller pre-activations from x_t (with bias); W_rec (G, R·W [+ C]);
    W_if (P, C), b_if (P,); state M (B, N, W), wr (B, R, N), ww (B, N), L (B, N, N), p (B, N),
    u (B, N), r (B, R, W), h, c (B, C) -> ys (T, B, C + R·W), the final state and, with
    ``save``, what the backward needs.
    """
    T, B, _ = xproj.shape
    C, R, N, W, eps, clip = spec.C, spec.R, spec.N, spec.W, spec.eps, spec.clip
    c1, c2, c3, c4, c5, c6, c7, c8, c9 = spec.cuts
    lstm = spec.kind == "lstm"
    ys = xproj.new_empty(T, B, C + R * W)
    hs = xproj.new_empty(T, B, C)  # a buffer of its own: a view of ys on ctx would be a grad_fn cycle
    rests = xproj.new_empty(T, B, R * W + (C if lstm else 0))  # [r_{t−1}, h_{t−1}]
    outs = xproj.new_empty(T, B, W_if.shape[0])  # ξ_t after clipping
    if lstm:
        gates = xproj.new_empty(T, B, 4 * C)  # σ(i), σ(f), tanh(g), σ(o)
        cells = xproj.new_empty(T + 1, B, C)
        cells[0] = c
    sv: dict = {k: [] for k in _SAVED}
    Ms, WRs, WWs, Ps, Us = [M], [wr], [ww], [p], [u]
    links = {0: L}  # L_{t} at the start of every segment
    Lbuf = xproj.new_empty(2, B, N, N)  # L_t alternates between two buffers
    # constants as tensors: a Python number in an op costs a conversion (4 more dispatches) each time
    one, eps_t, ome_t = xproj.new_ones(()), xproj.new_full((), eps), xproj.new_full((), 1.0 - eps)
    eps_3d, ones_b1 = xproj.new_full((1, 1, 1), eps), xproj.new_ones(B, 1)
    mn2 = (M * M).sum(-1).add_(eps_t).sqrt_()  # ‖M_0(i)‖ (B, N)
    for t in range(T):
        # controller: pre = W_x x_t + b + [W_r, W_h] [r_{t−1}, h_{t−1}]
        rest = rests[t]
        rest[:, : R * W] = r.reshape(B, R * W)
        if lstm:
            rest[:, R * W :] = h
            gt = gates[t]
            pre = torch.addmm(xproj[t], rest, W_rec.t())  # (B, 4C)
            torch.sigmoid(pre, out=gt)
            torch.tanh(pre[:, 2 * C : 3 * C], out=gt[:, 2 * C : 3 * C])
            c = torch.addcmul(gt[:, C : 2 * C] * c, gt[:, :C], gt[:, 2 * C : 3 * C], out=cells[t + 1])
            torch.mul(gt[:, 3 * C :], torch.tanh(c), out=hs[t])
        else:
            torch.tanh(torch.addmm(xproj[t], rest, W_rec.t()), out=hs[t])
        h = hs[t]
        # interface ξ_t
        xi = torch.addmm(b_if, h, W_if.t(), out=outs[t])  # (B, P)
        if clip > 0:
            xi.clamp_(-clip, clip)
        sg = torch.sigmoid(xi)
        kr = xi[:, :c1].view(B, R, W)
        sp = F.softplus(xi[:, c1:c4]).add_(one)  # oneplus over [β^r | k^w | β^w]
        br, bw = sp[:, : c2 - c1], sp[:, c3 - c1 :]  # β^r ≥ 1 (B, R), β^w ≥ 1 (B, 1)
        kw = xi[:, c2:c3]  # (B, W)
        e, v, f = sg[:, c4:c5], xi[:, c5:c6], sg[:, c6:c7]  # (B, W), (B, W), (B, R)
        ga, gw = sg[:, c7:c8], sg[:, c8:c9]  # (B, 1) each
        pi = torch.softmax(xi[:, c9:].view(B, R, 3), -1)  # [backward, forward, content]
        # usage: ψ = Π_r (1 − f_r w^r_{t−1}), u_t = (u + w^w − u w^w) ψ
        terms = torch.addcmul(one, f.unsqueeze(-1), wr, value=-1.0)  # (B, R, N)
        psi = terms[:, 0] if R == 1 else terms.prod(1)  # (B, N)
        uw = u + ww - u * ww
        u_new = uw * psi
        # write content C(M_{t−1}, k^w, β^w)
        knw = (kw * kw).sum(-1, keepdim=True).add_(eps_t).sqrt_()  # (B, 1)
        mn = mn2  # ‖M_{t−1}(i)‖ (B, N), from the previous step's reads
        Dw = torch.addcmul(eps_t, knw, mn)  # (B, N)
        Kw = torch.bmm(M, kw.unsqueeze(-1)).squeeze(-1).div_(Dw)  # (B, N)
        cw = torch.softmax(bw * Kw, -1)
        # allocation over the free list φ (ascending usage)
        su, phi = torch.sort(torch.addcmul(eps_t, u_new, ome_t), dim=-1, stable=True)  # (B, N) each
        Pc = torch.cumprod(torch.cat([ones_b1, su[:, :-1]], 1), 1)  # Π_{i<j} u[φ_i]
        a = torch.empty_like(su).scatter_(1, phi, torch.addcmul(Pc, su, Pc, value=-1.0))  # (B, N): φ is a permutation
        mix = torch.lerp(cw, a, ga)  # g^a a + (1 − g^a) c^w
        ww_new = gw * mix  # (B, N)
        # memory: M_t = M ∘ (1 − w eᵀ) + w vᵀ
        keep = torch.addcmul(one, ww_new.unsqueeze(-1), e.unsqueeze(1), value=-1.0)  # (B, N, W)
        M_new = torch.baddbmm(M * keep, ww_new.unsqueeze(-1), v.unsqueeze(1))
        # links and both directional reads: one pass over L
        L = _link_into(L, ww_new, p, Lbuf[t % 2], one)
        fwd = torch.bmm(wr, L.transpose(1, 2))  # L w^r: (B, R, N)
        bwd = torch.bmm(wr, L)  # Lᵀ w^r: (B, R, N)
        p_new = torch.addcmul(ww_new, torch.sub(one, ww_new.sum(-1, keepdim=True)), p)
        # read content C(M_t, k^r, β^r)
        knr = (kr * kr).sum(-1).add_(eps_t).sqrt_()  # (B, R)
        mn2 = (M_new * M_new).sum(-1).add_(eps_t).sqrt_()  # (B, N)
        Dr = torch.baddbmm(eps_3d, knr.unsqueeze(-1), mn2.unsqueeze(1))  # (B, R, N)
        Kr = torch.bmm(kr, M_new.transpose(1, 2)).div_(Dr)
        cr = torch.softmax(br.unsqueeze(-1) * Kr, -1)
        modes = torch.stack([bwd, fwd, cr], 2)  # (B, R, 3, N), in the order of π
        wr_new = torch.bmm(pi.view(B * R, 1, 3), modes.view(B * R, 3, N)).view(B, R, N)  # Σ_m π_m w_m
        r = torch.bmm(wr_new, M_new)  # (B, R, W)
        ys[t, :, C:] = r.view(B, R * W)
        if save:
            for name, val in zip(_SAVED, (kr, br, kw, bw, e, v, f, ga, gw, pi, terms, psi, uw, Kw, bw / Dw, knw, mn, cw,
                                          su, phi, Pc, a, mix, modes, cr, Kr, br.unsqueeze(-1) / Dr, knr, mn2)):
                sv[name].append(val)
            Ms.append(M_new)
            WRs.append(wr_new)
            WWs.append(ww_new)
            Ps.append(p_new)
            Us.append(u_new)
            if (t + 1) % spec.seg == 0 and t + 1 < T:
                links[t + 1] = L.clone()
        M, wr, ww, p, u = M_new, wr_new, ww_new, p_new, u_new
    ys[:, :, :C] = hs
    if save:
        sv.update(Ms=Ms, WRs=WRs, WWs=WWs, Ps=Ps, Us=Us, links=links, rests=rests, outs=outs, hs=hs)
        if lstm:
            sv.update(gates=gates, cells=cells)
    final = (M, wr, ww, L, p, u, r, h, c)
    # outputs are copied (``_normal``) before they leave the node: none of them is kept on ctx
    return ys, final, sv


def _scan_forward(xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec: DNCSpec, save: bool):
    """Forward of ``dnc_scan``: eager with buffers, or the compiled step functions."""
    fn = _scan_forward_steps if spec.compiled else _scan_forward_eager
    return fn(xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec, save)


def _scan_backward(gys, gfinal, W_rec, W_if, spec: DNCSpec, sv: dict):
    """Backward of ``dnc_scan`` (the path its forward took)."""
    return (_scan_backward_steps if spec.compiled else _scan_backward_eager)(gys, gfinal, W_rec, W_if, spec, sv)


def _interface_slopes(outs: Tensor, spec: DNCSpec) -> Tensor:
    """d(activation)/d(ξ) for all steps at once: (T, B, P), 0 where clipping was active.

    keys and v: raw → 1; β: oneplus → σ; e, f, g^a, g^w: σ → σ(1 − σ); π: softmax, whose
    Jacobian is not elementwise (slope 1 here, applied in the backward step).
    """
    c1, c2, c3, c4, c5, c6, c7, c8, c9 = spec.cuts
    sg = torch.sigmoid(outs)
    ds = sg * (1.0 - sg)
    slope = torch.ones_like(outs)
    slope[..., c1:c2] = sg[..., c1:c2]
    slope[..., c3:c4] = sg[..., c3:c4]
    slope[..., c4:c5] = ds[..., c4:c5]
    slope[..., c6:c9] = ds[..., c6:c9]
    if spec.clip > 0:
        slope.mul_(outs.abs() < spec.clip)  # clamp passes no gradient where it bit
    return slope


def _scan_backward_steps(gys, gfinal, W_rec, W_if, spec: DNCSpec, sv: dict):
    """Back-propagation through time of ``_scan_forward`` by hand, from the last step back.

    gys (T, B, C + R·W) and the gradients of the final (M, w^r, w^w, L, p, u, r, h, c) ->
    gradients of (xproj, W_rec, W_if, b_if) and of the initial state. The links of each
    segment are recomputed from its checkpoint; weight gradients are one product after the loop.
    """
    T, B, _ = gys.shape
    C, R, W = spec.C, spec.R, spec.W
    lstm = spec.kind == "lstm"
    _, bwd_step, link_step = _steps(spec.compiled)
    carry = tuple(g.clone() for g in gfinal)
    Ms, WRs, WWs, Ps, Us = sv["Ms"], sv["WRs"], sv["WWs"], sv["Ps"], sv["Us"]
    xis = torch.stack(sv["xis"])  # (T, B, P)
    slopes = _interface_slopes(xis, spec)
    hs = sv["hs"]  # (T, B, C)
    if lstm:
        gates, cells = torch.stack(sv["gates"]), torch.stack(sv["cs"])  # (T, B, 4C), (T + 1, B, C)
        tc = torch.tanh(cells[1:])
        do_c = gates[..., 3 * C :] * (1.0 - tc * tc)  # ∂h/∂c = o (1 − tanh² c)
        gate_slopes = gates * (1.0 - gates)  # σ' for i, f, o
        gate_slopes[..., 2 * C : 3 * C] = 1.0 - gates[..., 2 * C : 3 * C] ** 2  # tanh' for g
    else:
        ff_slope = 1.0 - hs * hs
    gyh, gyr = gys[..., :C], gys[..., C:].reshape(T, B, R, W)
    g_outs, g_pres = [None] * T, [None] * T
    for s0 in sorted(sv["links"], reverse=True):
        e0 = min(s0 + spec.seg, T)
        Ls = [sv["links"][s0]]  # L_{s0} … L_{e0}, recomputed from the checkpoint
        for t in range(s0, e0):
            Ls.append(link_step(Ls[-1], WWs[t + 1], Ps[t]))
        for t in range(e0 - 1, s0 - 1, -1):
            ctrl = (gates[t], cells[t], tc[t], do_c[t], gate_slopes[t]) if lstm else (ff_slope[t],)
            carry, g_outs[t], g_pres[t] = bwd_step(
                gyh[t], gyr[t], carry, Ms[t], Ms[t + 1], WRs[t], WRs[t + 1], WWs[t], WWs[t + 1], Ps[t], Us[t],
                Ls[t - s0], Ls[t - s0 + 1], sv["xis"][t], slopes[t], ctrl, sv["saved"][t], W_if, W_rec, spec)
        del Ls
    TB = T * B
    g_pre_all = torch.stack(g_pres)  # (T, B, G)
    g_out_flat = torch.stack(g_outs).view(TB, -1)  # (T·B, P)
    g_W_rec = torch.mm(g_pre_all.view(TB, -1).t(), torch.stack(sv["rests"]).view(TB, -1))
    g_W_if = torch.mm(g_out_flat.t(), hs.view(TB, C))
    return (g_pre_all, g_W_rec, g_W_if, g_out_flat.sum(0), *carry)


def _scan_backward_eager(gys, gfinal, W_rec, W_if, spec: DNCSpec, sv: dict):
    """Back-propagation through time of ``_scan_forward`` by hand, from the last step back.

    gys (T, B, C + R·W) and the gradients of the final (M, w^r, w^w, L, p, u, r, h, c) ->
    gradients of (xproj, W_rec, W_if, b_if) and of the initial state. The links of each
    segment are recomputed from its checkpoint; weight gradients are one product after the loop.
    """
    T, B, _ = gys.shape
    C, R, N, W, eps = spec.C, spec.R, spec.N, spec.W, spec.eps
    RW = R * W
    lstm = spec.kind == "lstm"
    gM, gwr, gww, gL, gp, gu, gr, gh, gc = (g.clone() for g in gfinal)
    Ms, WRs, WWs, Ps, Us = sv["Ms"], sv["WRs"], sv["WWs"], sv["Ps"], sv["Us"]
    slopes = _interface_slopes(sv["outs"], spec)  # (T, B, P)
    g_out_all = torch.empty_like(slopes)
    g_pre_all = gys.new_empty(T, B, W_rec.shape[0])
    if lstm:
        gates, cells = sv["gates"], sv["cells"]
        tc = torch.tanh(cells[1:])  # (T, B, C)
        do_c = gates[..., 3 * C :] * (1.0 - tc * tc)  # ∂h/∂c = o (1 − tanh² c)
        gate_slopes = gates * (1.0 - gates)  # σ' for i, f, o
        gate_slopes[..., 2 * C : 3 * C] = 1.0 - gates[..., 2 * C : 3 * C] ** 2  # tanh' for g
    else:
        hs = sv["hs"]
        ff_slope = 1.0 - hs * hs
    gyh, gyr = gys[..., :C], gys[..., C:].reshape(T, B, R, W)
    one = gys.new_ones(())
    Ls = gys.new_empty(spec.seg + 1, B, N, N)  # L_{s0} … L_{e0} of one segment, recomputed
    gLs = gys.new_empty(2, B, N, N)  # ∂L alternates between two buffers
    Q = gys.new_empty(B, N, N)
    ones, ome_t = gys.new_ones(B, 1, N), gys.new_full((), 1.0 - eps)
    later = torch.ones(N, N, dtype=gys.dtype, device=gys.device).tril_(-1)  # [j > k]: sums over later ranks
    gL, slot = gLs[0].copy_(gL), 1
    for s0 in sorted(sv["links"], reverse=True):
        e0 = min(s0 + spec.seg, T)
        Ls[0].copy_(sv["links"][s0])
        for t in range(s0, e0):
            _link_into(Ls[t - s0], WWs[t + 1], Ps[t], Ls[t - s0 + 1], one)
        for t in range(e0 - 1, s0 - 1, -1):
            L_prev, L_new = Ls[t - s0], Ls[t - s0 + 1]
            M_prev, M_new, wr_prev, wr_new = Ms[t], Ms[t + 1], WRs[t], WRs[t + 1]
            ww_prev, ww_new, p_prev, u_prev = WWs[t], WWs[t + 1], Ps[t], Us[t]
            gh = gh + gyh[t]
            gr = gr + gyr[t]
            # r_t = w^r_t M_t
            g_wr = torch.baddbmm(gwr, gr, M_new.transpose(1, 2))  # (B, R, N)
            gM = torch.baddbmm(gM, wr_new.transpose(1, 2), gr)  # (B, N, W)
            # w^r_t = π_b b + π_f f + π_c c
            modes, cr, pi = sv["modes"][t], sv["cr"][t], sv["pi"][t]
            g_pi = torch.bmm(modes.view(B * R, 3, N), g_wr.view(B * R, N, 1)).view(B, R, 3)
            g_modes = pi.unsqueeze(-1) * g_wr.unsqueeze(2)  # (B, R, 3, N)
            g_bwd, g_fwd, g_cr = g_modes.unbind(2)
            # read content c = softmax(β K(M_t, k^r)), K = k·M / (‖k‖‖M‖ + ε)
            Kr, knr, mn2, kr = sv["Kr"][t], sv["knr"][t], sv["mn2"][t], sv["kr"][t]
            g_dot = _softmax_bwd(g_cr, cr)
            g_br = (g_dot * Kr).sum(-1)  # (B, R)
            g_dot.mul_(sv["bDr"][t])  # β / D
            g_D = g_dot * Kr  # minus ∂/∂D
            g_knr = torch.bmm(g_D, mn2.unsqueeze(-1)).squeeze(-1).div_(knr).neg_()  # (B, R)
            g_mn2 = torch.bmm(knr.unsqueeze(1), g_D).squeeze(1).div_(mn2).neg_()  # (B, N)
            g_kr = torch.baddbmm(g_knr.unsqueeze(-1) * kr, g_dot, M_new)  # (B, R, W)
            gM.baddbmm_(g_dot.transpose(1, 2), kr).addcmul_(g_mn2.unsqueeze(-1), M_new)
            # directional reads f = L w^r_{t−1}, b = Lᵀ w^r_{t−1}: ∂L as one rank-2R product
            g_wr_prev = torch.bmm(g_fwd, L_new).add_(torch.bmm(g_bwd, L_new.transpose(1, 2)))  # (B, R, N)
            gL.baddbmm_(torch.cat([g_fwd, wr_prev], 1).transpose(1, 2), torch.cat([wr_prev, g_bwd], 1))
            gL.diagonal(dim1=1, dim2=2).zero_()  # L_t[i, i] ≡ 0 passes nothing back
            # precedence p_t = (1 − Σ w) p_{t−1} + w
            g_ww = (gww + gp).sub_((gp * p_prev).sum(-1, keepdim=True))  # (B, N)
            g_p_prev = gp * torch.sub(one, ww_new.sum(-1, keepdim=True))
            # links L_t = (1 − w_i − w_j) L_{t−1} + w_i p_j
            torch.mul(gL, L_prev, out=Q)
            g_ww.add_(torch.bmm(p_prev.unsqueeze(1), gL.transpose(1, 2)).squeeze(1)).sub_(Q.sum(-1))
            g_ww.sub_(torch.bmm(ones, Q).squeeze(1))  # column sums as a product: faster than sum(-2)
            g_p_prev.add_(torch.bmm(ww_new.unsqueeze(1), gL).squeeze(1))
            gL_prev = torch.mul(gL, torch.sub(one, ww_new).unsqueeze(-1), out=gLs[slot])
            gL, slot = gL_prev.addcmul_(gL, ww_new.unsqueeze(1), value=-1.0), 1 - slot  # ∘ (1 − w_i − w_j)
            # memory M_t = M_{t−1} ∘ (1 − w eᵀ) + w vᵀ
            e, v = sv["e"][t], sv["v"][t]
            g_v = torch.bmm(ww_new.unsqueeze(1), gM).squeeze(1)  # (B, W)
            Qm = gM * M_prev
            g_ww.add_(torch.bmm(gM, v.unsqueeze(-1)).squeeze(-1)).sub_(torch.bmm(Qm, e.unsqueeze(-1)).squeeze(-1))
            g_e = torch.bmm(ww_new.unsqueeze(1), Qm).squeeze(1).neg_()  # (B, W)
            gM_prev = gM * torch.addcmul(one, ww_new.unsqueeze(-1), e.unsqueeze(1), value=-1.0)
            # w^w = g^w [g^a a + (1 − g^a) c^w]
            ga, gw, a, cw, mix = sv["ga"][t], sv["gw"][t], sv["a"][t], sv["cw"][t], sv["mix"][t]
            g_gw = (g_ww * mix).sum(-1, keepdim=True)  # (B, 1)
            g_mix = g_ww * gw
            g_ga = (g_mix * (a - cw)).sum(-1, keepdim=True)
            g_a = g_mix * ga
            g_cw = g_mix - g_a  # (1 − g^a) ∂mix
            # allocation a[φ_j] = (1 − u_φj) Π_{i<j} u_φi over sorted usage û = ε + (1 − ε) u
            su, phi, Pc = sv["su"][t], sv["phi"][t], sv["Pc"][t]
            g_as = g_a.gather(1, phi)
            gPP = torch.addcmul(g_as, g_as, su, value=-1.0).mul_(Pc)  # ∂/∂Π_{i<j} times the product
            g_su = torch.mm(gPP, later).div_(su).sub_(g_as * Pc)  # Σ_{j>k} gPP_j / û_k − ∂a_k
            g_u_new = torch.addcmul(gu, torch.empty_like(g_su).scatter_(1, phi, g_su), ome_t)  # φ is a permutation
            # write content c^w = softmax(β^w K(M_{t−1}, k^w))
            Kw, knw, mn, kw = sv["Kw"][t], sv["knw"][t], sv["mn"][t], sv["kw"][t]
            g_dot = _softmax_bwd(g_cw, cw)  # (B, N)
            g_bw = (g_dot * Kw).sum(-1, keepdim=True)  # (B, 1)
            g_dot.mul_(sv["bDw"][t])
            g_D = g_dot * Kw
            g_knw = (g_D * mn).sum(-1, keepdim=True).div_(knw).neg_()  # (B, 1)
            g_mn = (g_D * knw).div_(mn).neg_()  # (B, N)
            g_kw = torch.baddbmm((g_knw * kw).unsqueeze(1), g_dot.unsqueeze(1), M_prev).squeeze(1)  # (B, W)
            gM_prev.addcmul_(g_dot.unsqueeze(-1), kw.unsqueeze(1)).addcmul_(g_mn.unsqueeze(-1), M_prev)
            # usage u_t = (u + w − u w) ψ
            psi, uw = sv["psi"][t], sv["uw"][t]
            g_uw = g_u_new * psi
            g_psi = g_u_new * uw
            gu = torch.addcmul(g_uw, g_uw, ww_prev, value=-1.0)
            gww = torch.addcmul(g_uw, g_uw, u_prev, value=-1.0)
            # retention ψ = Π_r (1 − f_r w^r_{t−1})
            terms, f = sv["terms"][t], sv["f"][t]
            if R == 1:
                g_terms = g_psi.unsqueeze(1)  # (B, 1, N)
            else:  # products of the other heads' terms, without dividing
                before = torch.cumprod(torch.cat([ones, terms[:, :-1]], 1), 1)
                after = torch.cumprod(torch.cat([ones, terms.flip(1)[:, :-1]], 1), 1).flip(1)
                g_terms = g_psi.unsqueeze(1) * before * after  # (B, R, N)
            g_f = (g_terms * wr_prev).sum(-1).neg_()  # (B, R)
            g_wr_prev.addcmul_(g_terms, f.unsqueeze(-1), value=-1.0)
            # interface: gradients by part, times the activation slopes
            g_out = g_out_all[t]
            torch.cat([g_kr.reshape(B, RW), g_br, g_kw, g_bw, g_e, g_v, g_f, g_ga, g_gw,
                       _softmax_bwd(g_pi, pi).reshape(B, 3 * R)], 1, out=g_out)
            g_out.mul_(slopes[t])
            gh = torch.addmm(gh, g_out, W_if)  # (B, C)
            # controller
            g_pre = g_pre_all[t]
            if lstm:
                gt = gates[t]
                gc = torch.addcmul(gc, gh, do_c[t])
                torch.cat([gc * gt[:, 2 * C : 3 * C], gc * cells[t], gc * gt[:, :C], gh * tc[t]], 1, out=g_pre)
                g_pre.mul_(gate_slopes[t])  # ∂i, ∂f, ∂g, ∂o
                gc = gc * gt[:, C : 2 * C]
            else:
                torch.mul(gh, ff_slope[t], out=g_pre)
            g_rest = torch.mm(g_pre, W_rec)  # (B, R·W [+ C])
            gr = g_rest[:, :RW].view(B, R, W)
            gh = g_rest[:, RW:] if lstm else torch.zeros_like(gh)
            gM, gwr = gM_prev, g_wr_prev
            gp = g_p_prev
    TB = T * B
    g_W_rec = torch.mm(g_pre_all.view(TB, -1).t(), sv["rests"].view(TB, -1))
    g_out_flat = g_out_all.view(TB, -1)
    g_W_if = torch.mm(g_out_flat.t(), sv["hs"].view(TB, C))
    return g_pre_all, g_W_rec, g_W_if, g_out_flat.sum(0), gM, gwr, gww, gL, gp, gu, gr, gh, gc


class _DNCScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec):
        with torch.inference_mode():  # fewer dispatch steps per op than no_grad; outputs copied back below
            ys, final, sv = _scan_forward(xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec, save=True)
        ctx.sv, ctx.spec = sv, spec  # inference tensors (and the inputs), read only by the backward
        ctx.save_for_backward(W_rec, W_if)
        return _normal(ys, *final)

    @staticmethod
    @once_differentiable  # the hand-written backward is not itself differentiable: an error, not silent zeros
    def backward(ctx, gys, *gfinal):
        W_rec, W_if = ctx.saved_tensors
        with torch.inference_mode():
            grads = _scan_backward(gys.contiguous(), gfinal, W_rec, W_if, ctx.spec, ctx.sv)
        return (*_normal(*grads), None)


def _normal(*xs: Tensor) -> tuple[Tensor, ...]:
    """Ordinary copies of tensors made under ``torch.inference_mode`` (autograd rejects those)."""
    return tuple(x.clone() for x in xs)


def dnc_scan(kind: str, xproj: Tensor, W_rec: Tensor, access, state, h: Tensor, c: Tensor, compiled: bool = False):
    """A DNC over a whole sequence as one autograd node (the fast path of ``DNCAccess``).

    kind: "lstm" or "ff"; xproj (T, B, G): the controller's input pre-activations W_x x_t + b
    for every step; W_rec (G, R·W [+ C]): [W_r, W_h]; access: the ``DNCAccess`` (one write
    head; its interface layer and sizes); state: the initial ``DNCState``; h, c (B, C): the
    controller's state -> ys (T, B, C + R·W), the final state fields (M, w^r, w^w, L, p, u, r)
    and the final h, c. Agrees with stepping ``compose_step_ref`` (tests, float64). Under
    ``no_grad`` nothing is saved.
    """
    T = xproj.shape[0]
    cuts = tuple(int(x) for x in torch.tensor(access.sizes).cumsum(0)[:-1].tolist())
    spec = DNCSpec(kind, access.C, access.R, access.N, access.W, cuts, float(access.clip), float(access.eps),
                   math.isqrt(max(T - 1, 0)) + 1, compiled)  # ⌈√T⌉ steps per link checkpoint
    args = (xproj, W_rec, access.interface.weight, access.interface.bias, state.memory, state.read_weights,
            state.write_weights[:, 0], state.link[:, 0], state.precedence[:, 0], state.usage, state.reads, h, c)
    if torch.is_grad_enabled() and any(t.requires_grad for t in args):
        ys, M, wr, ww, L, p, u, r, h, c = _DNCScan.apply(*args, spec)
    else:
        with torch.no_grad():
            ys, (M, wr, ww, L, p, u, r, h, c), _ = _scan_forward(*args, spec, save=False)
    return ys, (M, wr, ww.unsqueeze(1), L.unsqueeze(1), p.unsqueeze(1), u, r), h, c
