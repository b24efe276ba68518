"""Fused DNC sequence kernel: the whole sequence as one autograd node, BPTT written by hand.

``dnc_scan(kind, xproj, W_rec, access, state, h, c)`` runs the arithmetic of the composed
reference step (``memlab.models.compose.compose_step_ref``: controller, then
``DNCAccess.forward``) for every step with autograd off, and its backward is
back-propagation through time written out. Covered layouts: an LSTM controller of the
standard variant (gate order i, f, g, o) or a feed-forward controller, any number of read
heads, one write head; ``DNCAccess.fused_sequence`` returns None otherwise and the
composition runs the reference loop.

Two implementations of the loops compute the same maths. On CPU (float32/64) the C++ loops
of ``csrc/dnc_scan.cpp`` run when they build (``memlab.memory.kernels.cpp``; ``MEMLAB_NO_CPP=1``
turns them off); elsewhere (CUDA, no compiler) the Python loops ``_scan_forward_eager`` and
``_scan_backward_eager``. ``loops(x)`` says which runs.

Why the C++ loops are faster (``_scan_forward_cpp``, ``_scan_backward_cpp``). At memlab's and
the public DNC's sizes the Python loops' time is mostly per-op dispatch (~140 ops a step) and
passes over N × N. In C++ a step is two ATen GEMMs over the batch (controller, interface; in the
backward the next step's ∂pre [W_h | W_r] and ∂ξ W_ξ) and, per batch element, plain loops
(``omp simd``, AVX2 where the CPU has it) over its own data, which stays in cache:

* forward: one pass over L updates L_t = (1 − w_i − w_j) L_{t−1} + w_i p_j (zero diagonal, in
  place) and reads both directions from the same element, f = L_t w^r_{t−1}, b = L_tᵀ w^r_{t−1};
* backward: one pass over L_{t−1} recomputes L_t row by row and gives ∂w^r_{t−1} of both reads,
  G = ∂L_t + Σ_r (∂f xᵀ + x ∂bᵀ), ∂w^w, ∂p and ∂L_{t−1} = G ∘ F;
* the buffers come from the same pool, links are checkpointed the same way (every ⌈√T⌉ steps),
  and the weight gradients are one matrix product each after the loop, in Python.

Why the Python loops are faster than autograd. Under autograd a DNC step is ~1,200 aten calls
(views and autograd nodes included), and at N = 128 much of the time is elementwise passes over
the N × N link matrix, each of whose intermediates autograd saves. Here

* a step is ~56 ops forward and ~85 backward, no graph bookkeeping: every result is written
  into a (T, …) buffer that the backward reads as it is, all per-step views are made once
  before the loop, constants are tensors (a Python number in an op costs a conversion), and
  every matrix-vector product has the vector on the left (the other orientation of a batched
  GEMV is several times slower on CPU);
* the link matrix takes four passes forward — F = (1 − w_i) − w_j written from vectors,
  L_t = L ∘ F + w pᵀ in two, both directional reads as products — and about fifteen backward;
* every sequence buffer of the forward and the backward is carved from one block of bytes reused
  across calls (``_Pool``, kept with the autograd node), so a training step faults no fresh
  pages in (at N = 128, B = 32 they were ~15,000 faults, ~5–14 % of a step's CPU time);
* the links are never saved: L is kept at the start of every segment of ⌈√T⌉ steps and
  the backward recomputes a segment's links (the update needs only w^w_t and p_{t−1}), so
  O(√T) link matrices live at once instead of O(T);
* whatever does not depend on the recursion is computed for all steps at once (activation
  slopes with the signs and gate factors of the raw gradients folded in, ratios, the products
  of the other heads' retention terms), the interface parts' gradients go straight into their
  columns of one buffer, and the controller's and the interface's weight gradients are one
  matrix product each over all steps after the loop.

What remains in the Python loops is per-op dispatch (small sizes) and the passes over N × N
(N = 128); ``memlab bench dnc-step`` has the measured ratios of the loops that ran (``fused_loops``). ``compiled`` (``model.compile=true``) runs the same
maths as pure step functions (``_fwd_step``, ``_bwd_step``, ``_link_step``, kept apart from
the eager loops for this) through ``torch.compile``.

Tests (tests/memory/test_dnc.py), for the C++ and the Python loops alike, check the kernel
against the reference in float64 (outputs, final state, every parameter and initial-state
gradient), gradcheck it, run it on an all-zero memory and saturated gates, and check that its
graph is freed by reference counting alone; the two loops agree in float32 at memlab's sizes.

Shapes: T steps, B batch, C controller size, G its pre-activation width (4C for an LSTM),
R read heads, N memory locations, W word size, P interface width.
"""

from __future__ import annotations

import math
import weakref
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from memlab.memory.kernels import cpp



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


class _Pool:
    """Buffers of one sequence's forward and backward, carved one after another from a block of
    bytes that is reused across calls (one free block per device).

    A fresh large tensor costs a page fault per 4 KiB when first written: at memlab's sizes
    (N = 128, B = 32, T = 41) a training step allocated ~60 MB of fresh buffers, ~15,000 faults
    and ~14 % of its CPU time in the kernel (system time). The pool is kept with the autograd
    node (``sv``); when the node is freed the block goes back to the free list (or is dropped if
    a larger one is there). A call that finds no free block (another graph holds it) allocates
    a new block of the size the last sequences needed; a buffer that does not fit is an
    ordinary fresh tensor (and the next block is that much larger).
    """

    _free: dict = {}  # device -> block (uint8)
    _need: dict = {}  # device -> the most bytes one sequence used

    def __init__(self, like: Tensor):
        self.like, self.key, self.at = like, like.device, 0
        block = _Pool._free.pop(self.key, None)
        need = _Pool._need.get(self.key, 0)
        if need and (block is None or block.numel() < need):
            block = torch.empty(need, dtype=torch.uint8, device=like.device)
        self.block = block
        if block is not None:
            weakref.finalize(self, _Pool._give, self.key, block)

    def empty(self, *shape: int, dtype: torch.dtype | None = None) -> Tensor:
        dtype = dtype or self.like.dtype
        n = math.prod(shape) * dtype.itemsize
        at, self.at = self.at, self.at + (n + 63) // 64 * 64  # 64-byte aligned
        if self.at > _Pool._need.get(self.key, 0):
            _Pool._need[self.key] = self.at
        if self.block is None or self.at > self.block.numel():
            return torch.empty(shape, dtype=dtype, device=self.like.device)
        return self.block[at : at + n].view(dtype).view(shape)

    @staticmethod
    def _give(key, block: Tensor) -> None:
        held = _Pool._free.get(key)
        if held is None or held.numel() < block.numel():
            _Pool._free[key] = block


def _link_step(L: Tensor, ww: Tensor, p: Tensor) -> Tensor:
    """L_t = (1 − w_i − w_j) L_{t−1} + w_i p_j, diagonal 0. L (B, N, N); ww, p (B, N)."""
    Ln = torch.addcmul(ww.unsqueeze(-1) * p.unsqueeze(1), (1.0 - ww).unsqueeze(-1) - ww.unsqueeze(1), L)  # (B, N, N)
    Ln.diagonal(dim1=1, dim2=2).zero_()
    return Ln


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


def _swap_g_o(x: Tensor, C: int, dim: int) -> Tensor:
    """x with its gate blocks i, f, g, o along ``dim`` reordered i, f, o, g (the three sigmoid gates
    side by side; its own inverse), as a copy of three slices (``index_select`` over the last dim
    of a (T, B, 4C) tensor was ~10× slower: ~1 ms at T = 41, B = 32, C = 64–100)."""
    a, b, c = x.narrow(dim, 0, 2 * C), x.narrow(dim, 3 * C, C), x.narrow(dim, 2 * C, C)
    return torch.cat([a, b, c], dim)


def _per_step(x: Tensor, n: int) -> list[Tensor] | tuple[Tensor, ...]:
    """Views x[0], x[1], … for n steps, made once (one dispatch, not one per step); a buffer
    shorter than n (the ring buffers of a forward that saves nothing) repeats cyclically."""
    v = x.unbind(0)
    return v if len(v) >= n else [v[i % len(v)] for i in range(n)]


def _scan_forward_eager(xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec: DNCSpec, save: bool):
    """Forward of ``dnc_scan`` with autograd off, eager, ~56 ops a step.

    The arithmetic of ``_fwd_step``, every result written into a (T, …) buffer that the
    backward reads as it is (with ``save``; otherwise ring buffers of one or two steps), all
    per-step views made before the loop, constants as tensors (a Python number in an op costs
    a conversion), and:

    * the controller reads y_{t−1} = [h_{t−1}, r_{t−1}] from the output buffer through one
      weight [W_h | W_r], its gate rows ordered i, f, o, g (one sigmoid, one tanh);
    * erase and add are one pass each, M_t = M + w^w ∘ (v − e ∘ M);
    * the link update is two passes, L_t = L ∘ F + w^w pᵀ with F = (1 − w^w_i) − w^w_j written
      from vectors; the links are kept only at the start of every segment of ``spec.seg`` steps;
    * the norms sqrt(‖x‖² + ε) are one ``hypot``, ‖M_t(i)‖ of the read is reused by the next
      write; the three read modes are stacked and mixed by one product.

    xproj (T, B, G): controller pre-activations from x_t (with bias), gate rows i, f, g, o;
    W_rec (G, R·W [+ C]) = [W_r | W_h]; W_if (P, C), b_if (P,); state M (B, N, W), wr (B, R, N),
    ww (B, N), L (B, N, N), p, u (B, N), r (B, R, W), h, c (B, C) -> ys (T, B, C + R·W), the
    final state and, with ``save``, the buffers the backward reads.
    """
    T, B, _ = xproj.shape
    C, R, N, W, eps, clip = spec.C, spec.R, spec.N, spec.W, spec.eps, spec.clip
    c1, c2, c3, c4, c5, c6, c7, c8, c9 = spec.cuts
    RW, P = R * W, W_if.shape[0]
    lstm = spec.kind == "lstm"
    pool = _Pool(xproj) if save else None  # the sequence buffers (and the backward's) from a reused block
    new = pool.empty if save else xproj.new_empty
    one, eps_t, ome_t, seps = (xproj.new_full((), v) for v in (1.0, eps, 1.0 - eps, math.sqrt(eps)))
    if lstm:
        xp = _swap_g_o(xproj, C, 2)  # (T, B, 4C): i, f, o, g
        Wc = _swap_g_o(torch.cat([W_rec[:, RW:], W_rec[:, :RW]], 1), C, 0)  # (4C, C + R·W) = [W_h | W_r]
    else:
        xp, Wc = xproj, W_rec  # (T, B, C), (C, R·W)
    WcT, W_ifT = Wc.t(), W_if.t()
    xp = xp.unbind(0)
    nS, nP = (T + 1, T) if save else (2, 1)  # state buffers (t = 0 … T), per-step buffers
    S1, P1 = T + 1, T
    # y_t = [h_t | r_t] for t = 0 … T (y_0 the initial state): the output and the controller's input
    Y = new(T + 1, B, C + RW)
    Y[0, :, :C] = h
    Y[0, :, C:] = r.reshape(B, RW)
    Y_, Yh_, Yr_ = _per_step(Y, S1), _per_step(Y[:, :, :C], S1), _per_step(Y[:, :, C:], S1)
    RD = new(B, R, W)  # r_t, contiguous for its product, then copied into y_t
    RDf = RD.view(B, RW)
    if lstm:
        GT = new(nP, B, 4 * C)  # σ(i), σ(f), σ(o), tanh(g)
        CS = new(nS, B, C)  # c_t
        TC = new(nP, B, C)  # tanh c_t
        CS[0] = c
        GT_, Gs_, Gg_ = _per_step(GT, P1), _per_step(GT[:, :, : 3 * C], P1), _per_step(GT[:, :, 3 * C :], P1)
        Gi_, Gf_, Go_ = (_per_step(GT[:, :, k * C : (k + 1) * C], P1) for k in range(3))
        CS_, TC_ = _per_step(CS, S1), _per_step(TC, P1)
    XI = new(nP, B, P)  # ξ_t after clipping
    SG = new(nP, B, P - c4)  # σ over [e | v | f | g^a | g^w | π] (only e, f, g^a, g^w are used)
    SP = new(nP, B, c4 - c1)  # oneplus over [β^r | k^w | β^w] (only the β are used)
    PI = new(nP, B, R, 3)  # read modes π: backward, forward, content
    XI_, PI_ = _per_step(XI, P1), _per_step(PI, P1)
    XIs_, XIb_ = _per_step(XI[:, :, c4:], P1), _per_step(XI[:, :, c1:c4], P1)
    XIpi_ = _per_step(XI[:, :, c9:].unflatten(2, (R, 3)), P1)
    KR3_ = _per_step(XI[:, :, :c1].unflatten(2, (R, W)), P1)  # k^r (B, R, W)
    KW1_, KWv_ = _per_step(XI[:, :, c2:c3].unsqueeze(2), P1), _per_step(XI[:, :, c2:c3], P1)  # k^w (B, 1, W), (B, W)
    Vr_ = _per_step(XI[:, :, c5:c6].unsqueeze(2), P1)  # v (B, 1, W)
    SG_, SP_ = _per_step(SG, P1), _per_step(SP, P1)
    Er_ = _per_step(SG[:, :, : c5 - c4].unsqueeze(2), P1)  # e (B, 1, W)
    Fg3_ = _per_step(SG[:, :, c6 - c4 : c7 - c4].unsqueeze(-1), P1)  # f (B, R, 1)
    GA_, GW_ = _per_step(SG[:, :, c7 - c4 : c8 - c4], P1), _per_step(SG[:, :, c8 - c4 : c9 - c4], P1)  # (B, 1)
    BR3_, BW_ = _per_step(SP[:, :, : c2 - c1].unsqueeze(-1), P1), _per_step(SP[:, :, c3 - c1 :], P1)
    # memory state over time
    Ms, WRs, WWs, Ps, Us = new(nS, B, N, W), new(nS, B, R, N), new(nS, B, N), new(nS, B, N), new(nS, B, N)
    Ms[0], WRs[0], WWs[0], Ps[0], Us[0] = M, wr, ww, p, u
    M_, MT_ = _per_step(Ms, S1), _per_step(Ms.transpose(2, 3), S1)
    WR_, WR2_ = _per_step(WRs, S1), _per_step(WRs.view(-1, B * R, 1, N), S1)
    WW_, WWc_ = _per_step(WWs, S1), _per_step(WWs.unsqueeze(-1), S1)
    P_, Pr_, U_ = _per_step(Ps, S1), _per_step(Ps.unsqueeze(2), S1), _per_step(Us, S1)
    MN = new(nS, B, N)  # sqrt(‖M_t(i)‖² + ε)
    MN_, MNr_ = _per_step(MN, S1), _per_step(MN.unsqueeze(2), S1)
    TERMS, UW = new(nP, B, R, N), new(nP, B, N)  # 1 − f w^r_{t−1}; u + w^w − u w^w
    PSI = new(nP, B, N) if R > 1 else TERMS[:, :, 0]
    TERMS_, UW_, PSI_ = _per_step(TERMS, P1), _per_step(UW, P1), _per_step(PSI, P1)
    KNR, KNW = new(nP, B, R), new(nP, B, 1)  # key norms
    KNR_, KNW_, KNR3_ = _per_step(KNR, P1), _per_step(KNW, P1), _per_step(KNR.unsqueeze(-1), P1)
    DW, KW, CW = new(nP, B, N), new(nP, B, N), new(nP, B, N)  # write content: ‖k‖‖M‖ + ε, K, c^w
    DW_, KW_, KW1r_, CW_ = _per_step(DW, P1), _per_step(KW, P1), _per_step(KW.unsqueeze(2), P1), _per_step(CW, P1)
    SUX = new(nP, B, N + 1)  # [1 | sorted usage û]: the exclusive product is a cumprod of its first N
    SUX[:, :, 0] = 1.0
    PHI = new(nP, B, N, dtype=torch.long)  # free list φ
    PC, AS, A, MIX = new(nP, B, N), new(nP, B, N), new(nP, B, N), new(nP, B, N)
    SU_, SUX0_, PHI_ = _per_step(SUX[:, :, 1:], P1), _per_step(SUX[:, :, :N], P1), _per_step(PHI, P1)
    PC_, AS_, A_, MIX_ = _per_step(PC, P1), _per_step(AS, P1), _per_step(A, P1), _per_step(MIX, P1)
    S = new(nP, B, 1)  # Σ_i w^w_t[i]
    S_ = _per_step(S, P1)
    DR, KR, MO = new(nP, B, R, N), new(nP, B, R, N), new(nP, B, R, 3, N)  # read content; modes [b, f, c]
    DR_, KR_, MO_ = _per_step(DR, P1), _per_step(KR, P1), _per_step(MO, P1)
    MO2_ = _per_step(MO.view(-1, B * R, 3, N), P1)
    PI2_ = _per_step(PI.view(-1, B * R, 1, 3), P1)
    # links: one working buffer updated in place, a new tensor at every segment start (kept for the backward)
    LB = new(B, N, N)
    LBd = LB.diagonal(dim1=1, dim2=2)
    FB = new(B, N, N)  # F_t = (1 − w_i) − w_j
    links = {0: L}
    MN_[0].copy_(torch.hypot(torch.linalg.vector_norm(M, dim=-1), seps))
    for t in range(T):
        # controller: pre = W_x x_t + b + [W_h | W_r] y_{t−1}
        if lstm:
            torch.addmm(xp[t], Y_[t], WcT, out=GT_[t])
            Gs_[t].sigmoid_()
            Gg_[t].tanh_()
            cn = torch.mul(Gf_[t], CS_[t], out=CS_[t + 1]).addcmul_(Gi_[t], Gg_[t])
            torch.mul(Go_[t], torch.tanh(cn, out=TC_[t]), out=Yh_[t + 1])
        else:
            torch.tanh(torch.addmm(xp[t], Yr_[t], WcT), out=Yh_[t + 1])
        # interface ξ_t
        xi = torch.addmm(b_if, Yh_[t + 1], W_ifT, out=XI_[t])
        if clip > 0:
            xi.clamp_(-clip, clip)
        torch.sigmoid(XIs_[t], out=SG_[t])
        torch.add(F.softplus(XIb_[t]), one, out=SP_[t])
        torch._softmax(XIpi_[t], -1, False, out=PI_[t])
        # usage: ψ = Π_r (1 − f_r w^r_{t−1}), u_t = (u + w^w − u w^w) ψ
        terms = torch.addcmul(one, Fg3_[t], WR_[t], value=-1.0, out=TERMS_[t])
        psi = torch.prod(terms, 1, out=PSI_[t]) if R > 1 else PSI_[t]
        un = torch.mul(torch.lerp(U_[t], one, WW_[t], out=UW_[t]), psi, out=U_[t + 1])
        # key norms sqrt(‖k‖² + ε)
        torch.hypot(torch.linalg.vector_norm(KR3_[t], dim=-1), seps, out=KNR_[t])
        torch.hypot(torch.linalg.vector_norm(KWv_[t], dim=-1, keepdim=True), seps, out=KNW_[t])
        # write content C(M_{t−1}, k^w, β^w)
        dw = torch.addcmul(eps_t, KNW_[t], MN_[t], out=DW_[t])
        torch.bmm(KW1_[t], MT_[t], out=KW1r_[t])  # k·M(i): vectors on the left of every product (GEMV)
        torch._softmax(torch.mul(BW_[t], KW_[t].div_(dw)), -1, False, out=CW_[t])
        # allocation over the free list φ (ascending usage û = ε + (1 − ε) u)
        torch.sort(torch.addcmul(eps_t, un, ome_t), stable=True, dim=-1, out=(SU_[t], PHI_[t]))
        torch.cumprod(SUX0_[t], 1, out=PC_[t])  # Π_{i<j} û[φ_i]
        A_[t].scatter_(1, PHI_[t], torch.addcmul(PC_[t], SU_[t], PC_[t], value=-1.0, out=AS_[t]))
        wn = torch.mul(GW_[t], torch.lerp(CW_[t], A_[t], GA_[t], out=MIX_[t]), out=WW_[t + 1])
        # memory: M_t = M + w^w ∘ (v − e ∘ M)
        Mn = torch.addcmul(M_[t], WWc_[t + 1], torch.addcmul(Vr_[t], Er_[t], M_[t], value=-1.0), out=M_[t + 1])
        # links L_t = L ∘ F + w^w pᵀ (diagonal 0) and both directional reads
        if save and (t + 1) % spec.seg == 0 and t + 1 < T:
            Ln = new(B, N, N)
            links[t + 1], Lnd = Ln, Ln.diagonal(dim1=1, dim2=2)
        else:  # in place unless L is a kept checkpoint (or the input)
            Ln, Lnd = LB, LBd
        torch.sub(torch.sub(one, wn).unsqueeze(-1), WW_[t + 1].unsqueeze(1), out=FB)
        torch.mul(L, FB, out=Ln).addcmul_(WWc_[t + 1], Pr_[t])
        Lnd.zero_()
        L = Ln
        fwd = torch.bmm(WR_[t], Ln.transpose(1, 2))  # L w^r_{t−1}
        bwd = torch.bmm(WR_[t], Ln)  # Lᵀ w^r_{t−1}
        # precedence p_t = (1 − Σ w^w) p + w^w
        torch.addcmul(P_[t], torch.sum(wn, -1, keepdim=True, out=S_[t]), P_[t], value=-1.0, out=P_[t + 1]).add_(wn)
        # read content C(M_t, k^r, β^r)
        torch.hypot(torch.linalg.vector_norm(Mn, dim=-1), seps, out=MN_[t + 1])
        dr = torch.addcmul(eps_t, KNR3_[t], MNr_[t + 1], out=DR_[t])
        cr = torch.softmax(torch.mul(BR3_[t], torch.bmm(KR3_[t], MT_[t + 1], out=KR_[t]).div_(dr)), -1)
        # w^r_t = Σ_m π_m mode_m, r_t = w^r_t M_t
        torch.stack([bwd, fwd, cr], 2, out=MO_[t])
        torch.bmm(PI2_[t], MO2_[t], out=WR2_[t + 1])
        torch.bmm(WR_[t + 1], Mn, out=RD)
        Yr_[t + 1].copy_(RDf)
    ys = Y[1:]
    cT = CS_[T] if lstm else c
    final = (M_[T], WR_[T], WW_[T], L, P_[T], U_[T], Yr_[T].view(B, R, W), Yh_[T], cT)
    sv: dict = {}
    if save:
        sv = dict(Y=Y, XI=XI, SG=SG, SP=SP, PI=PI, TERMS=TERMS, PSI=PSI, UW=UW, KNR=KNR, KNW=KNW, DW=DW, KW=KW,
                  CW=CW, SUX=SUX, PHI=PHI, PC=PC, AS=AS, A=A, MIX=MIX, S=S, DR=DR, KR=KR, MO=MO, Ms=Ms, WRs=WRs,
                  WWs=WWs, Ps=Ps, Us=Us, MN=MN, links=links, L_final=L, pool=pool)
        if lstm:
            sv.update(GT=GT, CS=CS, TC=TC, Wc=Wc)
        else:
            sv.update(Wc=Wc)
    # outputs are copied (``_normal``) before they leave the node: none of them is kept on ctx
    return ys, final, sv


def _use_cpp(x: Tensor, spec: DNCSpec) -> bool:
    """The C++ loops (``csrc/dnc_scan.cpp``) for a CPU tensor of float32/64 when they are built."""
    return not spec.compiled and cpp.usable(x, "dnc_scan_forward", "dnc_scan_backward")


def loops(x: Tensor, compiled: bool = False) -> str:
    """Which loops ``dnc_scan`` runs for tensors like x: "cpp", "python" or "compiled"."""
    if compiled:
        return "compiled"
    return "cpp" if _use_cpp(x, DNCSpec("lstm", 1, 1, 1, 1, (), 0.0, 0.0, 1)) else "python"


def _cpp_dims(spec: DNCSpec) -> list[int]:
    return [spec.C, spec.R, spec.N, spec.W, int(spec.kind == "lstm"), spec.seg]


def _scan_forward_cpp(xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec: DNCSpec, save: bool):
    """Forward of ``dnc_scan`` by the C++ loops (``memlab::dnc_scan_forward``): two GEMMs a step
    through ATen, the access and the link matrix as plain loops over each batch element's data.

    Same arguments and results as ``_scan_forward_eager``; the buffers (from the pool when
    saving, else ring buffers of one or two steps) are made here and filled by the C++ loop.
    """
    T, B, G = xproj.shape
    C, R, N, W = spec.C, spec.R, spec.N, spec.W
    RW, P = R * W, W_if.shape[0]
    lstm = spec.kind == "lstm"
    pool = _Pool(xproj) if save else None
    new = pool.empty if save else xproj.new_empty
    nS, nP = (T + 1, T) if save else (2, 1)
    # [W_h | W_r] (G, C + R·W), gate rows i, f, g, o, reads y_{t−1} = [h | r] as it is; ff: W_r (C, R·W)
    Wc = torch.cat([W_rec[:, RW:], W_rec[:, :RW]], 1) if lstm else W_rec.contiguous()
    Y = new(T + 1, B, C + RW)  # y_t = [h_t | r_t], t = 0 … T
    Y[0, :, :C] = h
    Y[0, :, C:] = r.reshape(B, RW)
    GT = new(nP, B, 4 * C) if lstm else xproj.new_empty(0)  # σ(i), σ(f), tanh(g), σ(o)
    CS = new(nS, B, C) if lstm else xproj.new_empty(0)  # c_t
    if lstm:
        CS[0] = c
    Ms, WRs, WWs, Ps, Us = new(nS, B, N, W), new(nS, B, R, N), new(nS, B, N), new(nS, B, N), new(nS, B, N)
    Ms[0], WRs[0], WWs[0], Ps[0], Us[0] = M, wr, ww, p, u
    bufs = [Y, GT, CS, xproj.new_empty(B, G), new(nP, B, P), Ms, WRs, WWs, Ps, Us,
            new(nS, B, N),  # MN: sqrt(‖M_t(i)‖² + ε)
            new(nP, B, N), new(nP, B, N), new(nP, B, 1),  # write content: K, c^w, sqrt(‖k^w‖² + ε)
            new(nP, B, N), new(nP, B, N), new(nP, B, N, dtype=torch.long),  # sorted û, Π_{i<j} û_φi, φ
            new(nP, B, R, N), new(nP, B, R, N), new(nP, B, R, N), new(nP, B, R, N),  # f, b, c^r, K^r
            new(nP, B, R),  # sqrt(‖k^r‖² + ε)
            new(B, N, N)]  # L_t, updated in place between checkpoints
    L = L.contiguous()
    links = [L] + ([new(B, N, N) for _ in range(1, -(-T // spec.seg))] if save else [])
    torch.ops.memlab.dnc_scan_forward(xproj.contiguous(), Wc, W_if.contiguous(), b_if.contiguous(), bufs, links,
                                      _cpp_dims(spec), spec.clip, spec.eps)
    final = (Ms[T % nS], WRs[T % nS], WWs[T % nS], bufs[-1], Ps[T % nS], Us[T % nS], Y[T, :, C:].view(B, R, W),
             Y[T, :, :C], CS[T % nS] if lstm else c)
    sv = dict(cpp=True, bufs=bufs, links=links, Wc=Wc, pool=pool) if save else {}
    return Y[1:], final, sv


def _scan_backward_cpp(gys, gfinal, W_rec, W_if, spec: DNCSpec, sv: dict):
    """Backward of ``_scan_forward_cpp`` by the C++ loops (``memlab::dnc_scan_backward``): per
    step the next controller step's ∂pre [W_h | W_r] and ∂h_t = ∂ξ_t W_ξ are ATen GEMMs, the rest
    plain loops; links recomputed per segment from their checkpoints. The weight gradients are
    one matrix product each after the loop, here."""
    T, B, _ = gys.shape
    C, R, N, W = spec.C, spec.R, spec.N, spec.W
    RW, P = R * W, W_if.shape[0]
    lstm = spec.kind == "lstm"
    new, Wc, Y = sv["pool"].empty, sv["Wc"], sv["bufs"][0]
    gM0, gwr0, gww0, gL0, gp0, gu0, gr0, gh0, gc0 = gfinal
    GY = new(T, B, C + RW).copy_(gys)  # [∂h_t | ∂r_t], the next step's controller terms added in the loop
    GY[T - 1, :, :C] += gh0
    GY[T - 1, :, C:] += gr0.reshape(B, RW)
    GOUT, GPRE = new(T, B, P), new(T, B, Wc.shape[0])
    carry = [new(B, N, W).copy_(gM0), new(B, R, N).copy_(gwr0), new(B, N).copy_(gww0), new(B, N, N).copy_(gL0),
             new(B, N).copy_(gp0), new(B, N).copy_(gu0), gc0.contiguous().clone()]
    LS = new(max(min(spec.seg, T) - 1, 1), B, N, N)  # L_{s0+1} … L_{e0−1}, recomputed
    torch.ops.memlab.dnc_scan_backward(Wc, W_if.contiguous(), [GY, GOUT, GPRE, *carry, new(B, C)], sv["bufs"],
                                       sv["links"], LS, _cpp_dims(spec), spec.clip, spec.eps)
    gM, gwr, gww, gL, gp, gu, gc = carry
    TB = T * B
    g_rest0 = torch.mm(GPRE[0], Wc)  # ∂y_0: [∂h_0 | ∂r_0] (LSTM), ∂r_0 (ff)
    if lstm:
        gh, gr = g_rest0[:, :C], g_rest0[:, C:].reshape(B, R, W)
        gWc = torch.mm(GPRE.view(TB, -1).t(), Y[:-1].reshape(TB, -1))  # (4C, C + R·W)
        g_W_rec = torch.cat([gWc[:, C:], gWc[:, :C]], 1)
    else:
        gh, gr = torch.zeros_like(gh0), g_rest0.view(B, R, W)
        g_W_rec = torch.mm(GPRE.view(TB, -1).t(), Y[:-1, :, C:].reshape(TB, RW))
    g_out = GOUT.view(TB, P)
    g_W_if = torch.mm(g_out.t(), Y[1:, :, :C].reshape(TB, C))
    return GPRE, g_W_rec, g_W_if, g_out.sum(0), gM, gwr, gww, gL, gp, gu, gr, gh, gc


def _scan_forward(xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec: DNCSpec, save: bool):
    """Forward of ``dnc_scan``: the C++ loops (CPU, when built), eager with buffers, or the
    compiled step functions."""
    if spec.compiled:
        fn = _scan_forward_steps
    else:
        fn = _scan_forward_cpp if _use_cpp(xproj, spec) else _scan_forward_eager
    return fn(xproj, W_rec, W_if, b_if, M, wr, ww, L, p, u, r, h, c, spec, save)


def _scan_backward(gys, gfinal, W_rec, W_if, spec: DNCSpec, sv: dict):
    """Backward of ``dnc_scan`` (the path its forward took)."""
    if spec.compiled:
        fn = _scan_backward_steps
    else:
        fn = _scan_backward_cpp if sv.get("cpp") else _scan_backward_eager
    return fn(gys, gfinal, W_rec, W_if, spec, sv)


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
    """Back-propagation through time of ``_scan_forward_eager`` by hand, ~85 ops a step.

    gys (T, B, C + R·W) and the gradients of the final (M, w^r, w^w, L, p, u, r, h, c) ->
    gradients of (xproj, W_rec, W_if, b_if) and of the initial state. Everything that does not
    depend on the recursion is computed for all steps before the loop (activation slopes, with
    the signs and gate factors of the raw gradients folded in; ratios; products of the other
    heads' retention terms); the interface parts' gradients go straight into their columns of
    one (T, B, P) buffer. The links of each segment are recomputed from its checkpoint, with
    F_t kept for ∂L_{t−1} = G_t ∘ F_t; G_t = ∂L_t + the rank-2R outer products of both reads.
    Weight gradients are one product each after the loop.
    """
    T, B, _ = gys.shape
    C, R, N, W, eps, clip = spec.C, spec.R, spec.N, spec.W, spec.eps, spec.clip
    c1, c2, c3, c4, c5, c6, c7, c8, c9 = spec.cuts
    RW, P, dt = R * W, W_if.shape[0], gys.dtype
    lstm = spec.kind == "lstm"
    new = sv["pool"].empty  # the forward's pool: its block stays the node's until the node is freed
    S1 = T + 1
    Y, XI, SG, SP, PI = sv["Y"], sv["XI"], sv["SG"], sv["SP"], sv["PI"]
    Ms, WRs, WWs, Ps, Us, MN = sv["Ms"], sv["WRs"], sv["WWs"], sv["Ps"], sv["Us"], sv["MN"]
    Wc = sv["Wc"]
    one = gys.new_ones(())
    # ---- per-step coefficients for all steps at once
    sgx = torch.sigmoid(XI[:, :, c1:c4])  # oneplus' slope, over [β^r | k^w | β^w]
    ds = SG * (1.0 - SG)  # σ' over [e | v | f | g^a | g^w | π]
    slope = torch.ones_like(XI)
    slope[:, :, c1:c2] = sgx[:, :, : c2 - c1]
    slope[:, :, c3:c4] = sgx[:, :, c3 - c1 :]
    slope[:, :, c4:c5] = -ds[:, :, : c5 - c4]  # e: its raw gradient is −∂e
    slope[:, :, c6:c7] = -ds[:, :, c6 - c4 : c7 - c4]  # f: raw −∂f
    GWa = SG[:, :, c8 - c4 : c9 - c4]  # (T, B, 1)
    slope[:, :, c7:c8] = ds[:, :, c7 - c4 : c8 - c4] * GWa  # g^a: raw ∂g^a / g^w
    slope[:, :, c8:c9] = ds[:, :, c8 - c4 : c9 - c4]
    if clip > 0:
        slope.mul_(XI.abs() < clip)  # clamp passes no gradient where it bit
    BR, BW = SP[:, :, : c2 - c1].unsqueeze(-1), SP[:, :, c3 - c1 :]  # (T, B, R, 1), (T, B, 1)
    bDr, bDw = BR / sv["DR"], BW / sv["DW"]  # β / D
    KR3 = XI[:, :, :c1].unflatten(2, (R, W))
    KRN = KR3 / sv["KNR"].unsqueeze(-1).neg()  # −k^r / ‖k^r‖ (T, B, R, W)
    KWr = XI[:, :, c2:c3].unsqueeze(2)  # (T, B, 1, W)
    KWN = KWr / sv["KNW"].unsqueeze(-1).neg()  # −k^w / ‖k^w‖ (T, B, 1, W)
    NKNRr = sv["KNR"].unsqueeze(2).neg()  # (T, B, 1, R)
    NKNW = sv["KNW"].neg()  # (T, B, 1)
    MNc_ = _per_step(MN.unsqueeze(-1), S1)  # ‖M_t(i)‖ (B, N, 1): M_t / ‖M_t‖ is made per step (one (B, N, W) buffer)
    GAa = SG[:, :, c7 - c4 : c8 - c4]
    CA = GWa * GAa  # ∂a = ∂w^w g^w g^a
    CC = GWa - CA  # ∂c^w = ∂w^w g^w (1 − g^a)
    AmC = sv["A"] - sv["CW"]
    NPC = sv["PC"] * -(1.0 - eps)
    later = torch.ones(N, N, dtype=dt, device=gys.device).tril_(-1).mul_(1.0 - eps)  # [j > k] (1 − ε)
    OMWW, OMU, OMS = 1.0 - WWs, 1.0 - Us, 1.0 - sv["S"]
    PI4 = gys.new_zeros(T, B, 4, R, 1)  # [π_b, 0, π_f, π_c]: the read-mode gradients land beside w^r_{t−1}
    PI4[:, :, [0, 2, 3], :, 0] = PI.permute(0, 1, 3, 2)
    EV = torch.cat([SG[:, :, : c5 - c4].neg(), XI[:, :, c5:c6]], -1).unsqueeze(2)  # [−e | v] (T, B, 1, 2W)
    TERMS = sv["TERMS"]
    if R > 1:  # Π_{r' ≠ r} (1 − f_r' w^r'), without dividing
        ones = TERMS.new_ones(T, B, 1, N)
        before = torch.cumprod(torch.cat([ones, TERMS[:, :, :-1]], 2), 2)
        after = torch.cumprod(torch.cat([ones, TERMS.flip(2)[:, :, :-1]], 2), 2).flip(2)
        OTH_ = _per_step(before * after, T)
    if lstm:
        GT, CS, TC = sv["GT"], sv["CS"], sv["TC"]
        gi, gf, go, gg = GT.split(C, -1)
        # ∂pre = [∂c g σ'(i), ∂c c_{t−1} σ'(f), ∂h tanh(c) σ'(o), ∂c i tanh'(g)]: factors of ∂c, ∂h
        DG = torch.cat([gg * gi * (1.0 - gi), CS[:-1] * gf * (1.0 - gf), TC * go * (1.0 - go), gi * (1.0 - gg * gg)],
                       -1)
        DOC = go * (1.0 - TC * TC)  # ∂h/∂c = o (1 − tanh² c)
        DG4_, DGo_, DOC_, FG_ = _per_step(DG.unflatten(2, (4, C)), T), _per_step(DG[:, :, 2 * C : 3 * C], T), \
            _per_step(DOC, T), _per_step(gf, T)
    else:
        FFS_ = _per_step(1.0 - Y[1:, :, :C] ** 2, T)
    # ---- per-step views
    SLOPE_, PI_, PI4_ = _per_step(slope, T), _per_step(PI, T), _per_step(PI4, T)
    MO2T_ = _per_step(sv["MO"].view(T, B * R, 3, N).transpose(2, 3), T)
    CR_ = _per_step(sv["MO"][:, :, :, 2], T)
    KR_, bDr_, KRN_, KR3_, NKNRr_ = (_per_step(x, T) for x in (sv["KR"], bDr, KRN, KR3, NKNRr))
    KW_, bDw_, KWN_, KWr_, NKNW_, CW_ = (_per_step(x, T) for x in (sv["KW"], bDw, KWN, KWr, NKNW, sv["CW"]))
    M_, MT_ = _per_step(Ms, S1), _per_step(Ms.transpose(2, 3), S1)
    WR_, WRT_ = _per_step(WRs, S1), _per_step(WRs.transpose(2, 3), S1)
    WWc_, WWr_ = _per_step(WWs.unsqueeze(-1), S1), _per_step(WWs.unsqueeze(2), S1)
    OMWc_ = _per_step(OMWW.unsqueeze(-1), S1)
    P_, Pr_ = _per_step(Ps, S1), _per_step(Ps.unsqueeze(2), S1)
    MN_, MNr_ = _per_step(MN, S1), _per_step(MN.unsqueeze(2), S1)
    OMWW_, OMU_, OMS_ = _per_step(OMWW, S1), _per_step(OMU, S1), _per_step(OMS, T)
    Er_ = _per_step(SG[:, :, : c5 - c4].unsqueeze(2), T)
    Fg3_ = _per_step(SG[:, :, c6 - c4 : c7 - c4].unsqueeze(-1), T)
    EV_, MIX_, AmC_, CA_, CC_ = (_per_step(x, T) for x in (EV, sv["MIX"], AmC, CA, CC))
    PHI_, AS_, NPC_ = _per_step(sv["PHI"], T), _per_step(sv["AS"], T), _per_step(NPC, T)
    SU_ = _per_step(sv["SUX"][:, :, 1:], T)
    PSI_, UW_ = _per_step(sv["PSI"], T), _per_step(sv["UW"], T)
    # gradients of the interface parts, column by column, and of the controller pre-activations
    GOUT = new(T, B, P)
    GPRE = new(T, B, Wc.shape[0])
    GOUT_, GPRE_ = _per_step(GOUT, T), _per_step(GPRE, T)
    GOkr_, GObr_ = _per_step(GOUT[:, :, :c1], T), _per_step(GOUT[:, :, c1:c2], T)
    GOkw_, GObw_ = _per_step(GOUT[:, :, c2:c3], T), _per_step(GOUT[:, :, c3], T)
    GOev_, GOf_ = _per_step(GOUT[:, :, c4:c6], T), _per_step(GOUT[:, :, c6:c7], T)
    GOga_, GOgw_, GOpi_ = _per_step(GOUT[:, :, c7], T), _per_step(GOUT[:, :, c8], T), _per_step(GOUT[:, :, c9:], T)
    if lstm:
        GPRE4_, GPREo_ = _per_step(GPRE.unflatten(2, (4, C)), T), _per_step(GPRE[:, :, 2 * C : 3 * C], T)
    # [∂h_t | ∂r_t]: the outputs' gradients, plus the next controller step's through [W_h | W_r]
    gM0, gwr0, gww0, gL0, gp0, gu0, gr0, gh0, gc0 = gfinal
    GY = gys.clone()
    GY[T - 1, :, :C] += gh0
    GY[T - 1, :, C:] += gr0.reshape(B, RW)
    GY_, GYh_, GYr3_ = _per_step(GY, T), _per_step(GY[:, :, :C], T), _per_step(GY[:, :, C:].unflatten(2, (R, W)), T)
    GYr_ = _per_step(GY[:, :, C:], T)
    W_r = Wc if not lstm else None
    # carried gradients (of the state after step t)
    gM, gMo = gM0.contiguous().clone(), new(B, N, W)  # ∂M_t, two buffers
    gwr, gww, gp, gu = gwr0.clone(), gww0.clone(), gp0.clone(), gu0.clone()
    gL = new(B, N, N).copy_(gL0)
    gLd = gL.diagonal(dim1=1, dim2=2)
    gc = gc0.clone()
    gmn = gys.new_zeros(B, N)  # ∂sqrt(‖M_t(i)‖² + ε) from step t + 1's write content
    ZZ = new(B, 4, R, N)  # [∂b, w^r_{t−1}, ∂f, ∂c^r]
    ZZb, ZZx, ZZf, ZZc = ZZ.unbind(1)
    ZU_T, ZV = ZZ[:, 1:3].flatten(1, 2).transpose(1, 2), ZZ[:, 0:2].flatten(1, 2)  # Σ x ∂bᵀ + ∂f xᵀ = U Vᵀ
    ZXc, ZFc = ZZx.transpose(1, 2), ZZf.transpose(1, 2)  # (B, N, 1) when R = 1
    QB = new(B, N, N)
    QQ = new(B, N, 2 * W)  # [∂M ∘ M_{t−1} | ∂M]
    MHB = new(B, N, W)  # M_t / ‖M_t(i)‖
    QQm, QQg = QQ[:, :, :W], QQ[:, :, W:]
    GWW = new(B, N)  # ∂w^w_t
    GWW3 = GWW.unsqueeze(1)
    links, seg = sv["links"], spec.seg
    FB = new(B, N, N)  # F_t, written where it is used (one buffer stays in cache; a stack of them would not)
    LSb = new(max(min(seg, T) - 1, 1), B, N, N)  # L_{s0+1} … L_{e0−1}, recomputed
    LSd = [x.diagonal(dim1=1, dim2=2) for x in LSb]
    for s0 in sorted(links, reverse=True):
        e0 = min(s0 + seg, T)
        Ls = {s0: links[s0], e0: links.get(e0, sv["L_final"])}
        for t in range(s0, e0 - 1):
            Fm = torch.sub(OMWc_[t + 1], WWr_[t + 1], out=FB)
            torch.mul(Ls[t], Fm, out=LSb[t - s0]).addcmul_(WWc_[t + 1], Pr_[t])
            LSd[t - s0].zero_()
            Ls[t + 1] = LSb[t - s0]
        for t in range(e0 - 1, s0 - 1, -1):
            Lp, Ln = Ls[t], Ls[t + 1]
            if t < T - 1:  # + ∂pre_{t+1} [W_h | W_r]
                if lstm:
                    GY_[t].addmm_(GPRE_[t + 1], Wc)
                    gr3 = GYr3_[t]
                else:
                    gr3 = torch.addmm(GYr_[t], GPRE_[t + 1], W_r).view(B, R, W)
            else:
                gr3 = GYr3_[t]
            gh = GYh_[t]
            # r_t = w^r_t M_t
            gwt = torch.baddbmm(gwr, gr3, MT_[t + 1])  # ∂w^r_t (B, R, N)
            gM.baddbmm_(WRT_[t + 1], gr3)
            # w^r_t = Σ_m π_m mode_m
            torch.mul(PI4_[t], gwt.unsqueeze(1), out=ZZ)
            ZZx.copy_(WR_[t])
            gpi = torch.bmm(gwt.view(B * R, 1, N), MO2T_[t]).view(B, R, 3)
            GOpi_[t].copy_(torch._softmax_backward_data(gpi, PI_[t], -1, dt).view(B, 3 * R))
            # read content c^r = softmax(β K(M_t, k^r)), K = k·M / D, D = ‖k‖‖M‖ + ε
            gz = torch._softmax_backward_data(ZZc, CR_[t], -1, dt)
            torch.linalg.vecdot(gz, KR_[t], out=GObr_[t])  # ∂β^r
            gz.mul_(bDr_[t])  # ∂(k·M)
            gD = gz * KR_[t]  # −∂D
            gkr = torch.baddbmm(KRN_[t] * torch.bmm(MNr_[t + 1], gD.transpose(1, 2)).view(B, R, 1), gz, M_[t + 1])
            GOkr_[t].copy_(gkr.view(B, RW))
            gM.baddbmm_(gz.transpose(1, 2), KR3_[t])
            # ∂‖M_t(i)‖ from this read and the next write, as one row scaling
            gM.addcmul_(torch.baddbmm(gmn.unsqueeze(1), NKNRr_[t], gD).view(B, N, 1),
                        torch.div(M_[t + 1], MNc_[t + 1], out=MHB))
            # directional reads f = L_t x, b = L_tᵀ x (x = w^r_{t−1}); G_t = ∂L_t + Σ ∂f xᵀ + x ∂bᵀ
            gx = torch.bmm(ZZf, Ln).baddbmm_(ZZb, Ln.transpose(1, 2))  # ∂w^r_{t−1}
            if R == 1:  # two broadcast products beat a rank-2 GEMM update
                gL.addcmul_(ZXc, ZZb).addcmul_(ZFc, ZZx)
            else:
                gL.baddbmm_(ZU_T, ZV)
            gLd.zero_()  # L_t[i, i] ≡ 0 passes nothing back
            # L_t = L_{t−1} ∘ F + w pᵀ: ∂w = G p − Σ_j (G ∘ L)_ij − Σ_i (G ∘ L)_ij, ∂p = Gᵀ w
            torch.mul(gL, Lp, out=QB)
            torch.sub(torch.bmm(Pr_[t], gL.transpose(1, 2)).view(B, N), QB.sum(-1), out=GWW)
            GWW.sub_(QB.sum(1))
            gpn = torch.addcmul(torch.bmm(WWr_[t + 1], gL).view(B, N), gp, OMS_[t])  # ∂p_{t−1}
            # p_t = (1 − Σ w) p_{t−1} + w
            GWW.add_(gp).add_(gww)
            GWW.sub_(torch.linalg.vecdot(gp, P_[t]).unsqueeze(-1))
            gL.mul_(torch.sub(OMWc_[t + 1], WWr_[t + 1], out=FB))  # ∂L_{t−1} = G ∘ F
            # M_t = M_{t−1} + w ∘ (v − e ∘ M_{t−1})
            torch.mul(gM, M_[t], out=QQm)
            QQg.copy_(gM)
            GOev_[t].copy_(torch.bmm(WWr_[t + 1], QQ).view(B, 2 * W))  # [−∂e | ∂v]
            GWW3.add_(torch.bmm(EV_[t], QQ.transpose(1, 2)))
            gMp = torch.mul(gM, torch.addcmul(one, WWc_[t + 1], Er_[t], value=-1.0), out=gMo)
            # w^w = g^w lerp(c^w, a, g^a)
            torch.linalg.vecdot(GWW, MIX_[t], out=GOgw_[t])
            torch.linalg.vecdot(GWW, AmC_[t], out=GOga_[t])
            gcw = torch.mul(GWW, CC_[t])
            # allocation a[φ_j] = (1 − û_φj) Π_{i<j} û_φi
            gas = torch.mul(GWW, CA_[t]).gather(1, PHI_[t])
            gsu = torch.mul(gas, NPC_[t]).addcdiv_(torch.mm(gas * AS_[t], later), SU_[t])
            gu.scatter_add_(1, PHI_[t], gsu)  # ∂u_t
            # write content c^w = softmax(β^w K(M_{t−1}, k^w))
            gz = torch._softmax_backward_data(gcw, CW_[t], -1, dt)
            torch.linalg.vecdot(gz, KW_[t], out=GObw_[t])
            gz.mul_(bDw_[t])
            gD = gz * KW_[t]
            gkw = torch.baddbmm(KWN_[t] * torch.linalg.vecdot(gD, MN_[t]).view(B, 1, 1), gz.unsqueeze(1), M_[t])
            GOkw_[t].copy_(gkw.view(B, W))
            gmn = torch.mul(gD, NKNW_[t])
            gMp.addcmul_(gz.unsqueeze(-1), KWr_[t])
            # u_t = (u + w − u w) ψ, ψ = Π_r (1 − f_r w^r_{t−1})
            guw = gu * PSI_[t]
            gpsi = (gu * UW_[t]).unsqueeze(1)
            gun = torch.mul(guw, OMWW_[t])
            gww = torch.mul(guw, OMU_[t])
            gterms = gpsi * OTH_[t] if R > 1 else gpsi
            torch.linalg.vecdot(gterms, WR_[t], out=GOf_[t])
            gx.addcmul_(gterms, Fg3_[t], value=-1.0)
            # interface -> controller
            ght = torch.addmm(gh, GOUT_[t].mul_(SLOPE_[t]), W_if)  # ∂h_t
            if lstm:
                gc.addcmul_(ght, DOC_[t])
                torch.mul(gc.unsqueeze(1), DG4_[t], out=GPRE4_[t])
                torch.mul(ght, DGo_[t], out=GPREo_[t])
                gc.mul_(FG_[t])
            else:
                torch.mul(ght, FFS_[t], out=GPRE_[t])
            gM, gMo = gMp, gM
            gwr, gp, gu = gx, gpn, gun
    gM.addcmul_(gmn.unsqueeze(-1), torch.div(M_[0], MNc_[0], out=MHB))
    TB = T * B
    if lstm:
        g_rest0 = torch.mm(GPRE[0], Wc)  # [∂h_0 | ∂r_0]
        gh, gr = g_rest0[:, :C], g_rest0[:, C:].reshape(B, R, W)
        gWc = _swap_g_o(torch.mm(GPRE.view(TB, -1).t(), Y[:-1].reshape(TB, -1)), C, 0)
        g_W_rec = torch.cat([gWc[:, C:], gWc[:, :C]], 1)
        g_xproj = _swap_g_o(GPRE, C, 2)
    else:
        gh, gr = torch.zeros_like(gh0), torch.mm(GPRE[0], Wc).view(B, R, W)
        g_W_rec = torch.mm(GPRE.view(TB, -1).t(), Y[:-1, :, C:].reshape(TB, RW))
        g_xproj = GPRE
    g_out = GOUT.view(TB, P)
    g_W_if = torch.mm(g_out.t(), Y[1:, :, :C].reshape(TB, C))
    return g_xproj, g_W_rec, g_W_if, g_out.sum(0), gM, gwr, gww, gL, gp, gu, gr, gh, gc


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
