"""Fused Stack-RNN sequence kernel: the composed Stack-RNN (LSTM controller + ``StackRNNAccess``)
over a whole sequence as ONE autograd node, with back-propagation through time written out by hand.

Why it is faster. At the benchmark's sizes (LSTM 256, batch 128, one stack of 64 × 8) the step
is three matrix products (the gates forward, their input gradient backward, the weight gradient)
and a few hundred thousand elementwise operations; autograd through the composed reference step
makes ~81 compute calls a step (plus its per-node bookkeeping, ``slice_backward``/``cat`` copies
and a weight-gradient product per step). This kernel:

* computes the controller's input projection W_x x_t + b for all steps as one product, written
  into the gate buffer, to which each step adds [h_{t−1}, r_{t−1}] [W_h | W_r]ᵀ in place: the
  controller reads the previous output y_{t−1} through one weight, so no per-step copies build
  its input;
* takes all four gate nonlinearities of a step as ONE sigmoid over its (B, 4C) row: the cell
  input's rows of the weights are doubled, and tanh(z) = 2σ(2z) − 1 (torch's float32 tanh on
  CPU costs ~6× its sigmoid; tanh(c_t) is taken the same way);
* runs steps with autograd off, writing into preallocated (T, ...) buffers (gates, tanh c_t,
  actions, stacks, outputs), x_t stored beside y_{t−1} in one row, so the backward's gradients
  of [W_hr | W_x] and of [y_{t−1}, x_t] are one product each per step;
* keeps the stacks rows-outermost and batch-innermost, (p, K, m, B), so the update is three
  in-place ``addcmul`` on shifted row slices multiplied by contiguous per-sequence action
  weights; and touches only the rows a push can have reached: from an initial stack whose rows
  below n_0 are zero (the model starts empty), S_t is zero below row n_0 + t, so a step updates
  and back-propagates the top min(p, n_0 + t) rows (all p when S_0 itself needs a gradient);
* backward, uses a step's gate gradient (B, 4C) while it is in cache: its slopes come from the
  saved gates, and it is added into the controller's weight, bias and input gradients at once
  (no (T, B, 4C) gradient is ever stored; one product over all T·B rows after the loop costs as
  much at T ≈ 40 and more at T ≈ 80).

The three products are the floor: ~6·T·B·4C·(C + R + I) flops a sequence batch, ~10 GFLOP for the
benchmark's mean per-length batch, which one core of the benchmark machine does at ~70–80 GFLOP/s
(~70 % of a training step's time; ``memlab bench stack-step``, ``benchmarks/stack_step.py``).
What remains above them is elementwise work and dispatch. The two loops also exist in C++
(``csrc/stack_rnn_scan.cpp``, built once by ``memlab.memory.kernels.cpp``): the same ATen calls
issued from C++ instead of Python, and the LSTM cell's elementwise work as plain loops. They run
wherever the library builds (float32/float64 on CPU; ``MEMLAB_NO_CPP=1`` keeps the Python loops);
``memlab bench stack-step`` times them (BENCHMARKS.md).

The update it implements (``memlab.memory.stack_rnn``, Joulin & Mikolov 2015):

    a_t = softmax(A h_t + b_a) (B, K, 3),   c_t = σ(D h_t + b_c) (B, K, m)
    S_t = a_push · [c_t; S_{t−1}[:−1]] + a_pop · [S_{t−1}[1:]; 0] + a_noop · S_{t−1}
    r_t = S_t[:, :, :k]  flattened (B, K·k·m)

``stack_rnn_scan_ref`` is the per-step reference it is tested against (the composed step,
``memlab.models.compose.compose_step_ref``, written over the same operands). Tests check
agreement in float64 (values, every parameter gradient, gradcheck, graph freed).

Shapes: T time, B batch, I input size, C controller size, G = 4C gate rows, K stacks, p depth,
m cell width, k cells read per stack, R = K·k·m, P = K·(3 + m) action/value outputs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from memlab.memory.kernels import cpp
from memlab.memory.stack_rnn import stack_rnn_update


class StackRNNSpec(NamedTuple):
    """Static sizes: controller size C, K stacks of depth p and cell width m, k cells read per stack."""

    C: int
    K: int
    p: int
    m: int
    k: int

    @property
    def R(self) -> int:
        return self.K * self.k * self.m


# --------------------------------------------------------------------------- reference


def stack_rnn_step_ref(xp: Tensor, y: Tensor, c: Tensor, S: Tensor, W_hr: Tensor, W_ctl: Tensor, b_ctl: Tensor,
                       spec: StackRNNSpec) -> tuple[Tensor, Tensor, Tensor]:
    """One composed step by autograd-able ops, as the reference composition computes it.

    xp (B, G) = W_x x_t + b; y (B, C + R) = [h_{t−1}, r_{t−1}]; c (B, C); S (B, K, p, m);
    W_hr (G, C + R) = [W_h | W_r]; W_ctl (P, C), b_ctl (P,) -> y_t, c_t, S_t.
    """
    B, C = y.shape[0], spec.C
    z = xp + y @ W_hr.T  # (B, 4C), gate order i, f, g, o
    zi, zf, zg, zo = z.chunk(4, 1)
    c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
    h = torch.sigmoid(zo) * torch.tanh(c)  # (B, C)
    out = (h @ W_ctl.T + b_ctl).view(B, spec.K, 3 + spec.m)  # (B, K, 3 + m)
    S = stack_rnn_update(S, torch.softmax(out[..., :3], -1), torch.sigmoid(out[..., 3:]))
    return torch.cat([h, S[:, :, : spec.k].reshape(B, spec.R)], 1), c, S


def stack_rnn_scan_ref(xs: Tensor, W_x: Tensor, b: Tensor, W_hr: Tensor, W_ctl: Tensor, b_ctl: Tensor, S0: Tensor,
                       y0: Tensor, c0: Tensor, spec: StackRNNSpec) -> tuple[Tensor, Tensor, Tensor]:
    """``stack_rnn_step_ref`` over t: xs (T, B, I), W_x (G, I), b (G,) -> ys (T, B, C + R), S_T, c_T."""
    y, c, S, ys = y0, c0, S0, []
    for x in xs.unbind(0):
        xp = x @ W_x.T + b  # (B, G)
        y, c, S = stack_rnn_step_ref(xp, y, c, S, W_hr, W_ctl, b_ctl, spec)
        ys.append(y)
    return torch.stack(ys), S, c


# --------------------------------------------------------------------------- kernel


def _tanh_(x: Tensor) -> Tensor:
    """tanh in place as 2σ(2x) − 1: torch's float32 tanh on CPU costs ~6× its sigmoid (Sleef's
    1-ulp tanh); this is within a few float32 ulps of it (absolute error ≲ 1.2e-7)."""
    return x.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)


def _active_rows(S0: Tensor, spec: StackRNNSpec, T: int, whole: bool) -> list[int]:
    """n_t for t = 0 … T: S_t is zero below its top n_t rows, so a step reads and writes only those.

    A stack that starts empty below row n_0 fills at most one row deeper per step (a push moves
    everything down one row), so n_{t+1} = min(p, n_t + 1) with n_0 the depth of S0's deepest
    nonzero row (at least min(p, k): the read takes the top k). The backward, too, needs only the
    top n_t rows of ∂/∂S_t, except for S0's own gradient (``whole``: every n_t = p).
    """
    p = spec.p
    if whole:
        return [p] * (T + 1)
    nz = (S0 != 0).any(-1).any(1).any(0).nonzero()  # (rows with a nonzero cell, 1)
    n = max(min(p, spec.k), int(nz[-1]) + 1 if len(nz) else 0)
    ns = [n]
    for _ in range(T):
        n = min(p, n + 1)
        ns.append(n)
    return ns


def _scan_forward(xs: Tensor, W_x: Tensor, b: Tensor, W_hr: Tensor, W_ctl: Tensor, b_ctl: Tensor, S0: Tensor,
                  y0: Tensor, c0: Tensor, spec: StackRNNSpec, save: bool, ns: list[int]):
    """The forward with autograd off, into preallocated buffers.

    The input pre-activations W_x x_t + b of all steps are one product, written into the gate
    buffer Z, to which each step adds [h_{t−1}, r_{t−1}] W_hrᵀ in place. The cell-input rows
    (g) of both weights are doubled first, so ONE sigmoid over a step's whole (B, 4C) row gives
    σ(i), σ(f), σ(2 z_g), σ(o), and g = tanh(z_g) = 2σ(2 z_g) − 1 (torch's tanh is the slow one).

    The stacks are kept rows outermost and the batch innermost, (p, K, m, B): a step's update
    multiplies contiguous runs of B by its per-(stack, sequence) action weights, and touches only
    the top ``ns[t]`` rows (``_active_rows``), as slices of the outermost dimension.

    -> Y (T+1, B, C + R + I) = [y_0 … y_T] with x_t in the last I columns of row t (so that the
    backward's weight and input gradients of [W_hr | W_x] are one product each);
    Ss (T+1, p, K, m, B) = S_0 … S_T (rows below ``ns[t]`` unwritten) and cs (T+1, B, C) =
    c_0 … c_T (with ``save``; else two alternating slots each, the last written at T % 2);
    Z (T, B, G) the gates [σ(i), σ(f), tanh(g), σ(o)] and OUT (T, K, 3 + m, B) = [a_t | c_t].
    """
    T, B, I = xs.shape
    G = W_x.shape[0]
    C, K, p, m, k = spec
    CR = C + spec.R
    n = T + 1 if save else 2
    Y = xs.new_empty(T + 1, B, CR + I)
    Y[:T, :, CR:] = xs
    Ss, cs = xs.new_empty(n, p, K, m, B), xs.new_empty(n, B, C)
    W_f, b_f = W_hr.clone(), b.clone()  # the g rows doubled: σ(2 z_g) by the one sigmoid
    W_xf = W_x.clone()
    for w in (W_f, b_f, W_xf):
        w[2 * C : 3 * C] *= 2.0
    Z = torch.addmm(b_f, xs.reshape(T * B, I), W_xf.t()).view(T, B, G)  # W_x x_t + b, all steps
    OUT = xs.new_empty(T if save else 1, K, 3 + m, B)
    TC = xs.new_empty(T if save else 1, B, C)  # tanh(c_t)
    Y[0, :, :CR], cs[0] = y0, c0
    Ss[0, : ns[0]] = S0[:, :, : ns[0]].permute(2, 1, 3, 0)
    W_fT, b_ctl = W_f.t(), b_ctl[:, None]
    for t in range(T):
        j, j1, o, tc = (t + 1, t, OUT[t], TC[t]) if save else ((t + 1) % 2, t % 2, OUT[0], TC[0])
        z = Z[t].addmm_(Y[t, :, :CR], W_fT).sigmoid_()  # (B, 4C) σ(i), σ(f), σ(2 z_g), σ(o)
        g = z[:, 2 * C : 3 * C].mul_(2.0).sub_(1.0)  # tanh(z_g)
        c_new = torch.mul(z[:, C : 2 * C], cs[j1], out=cs[j]).addcmul_(z[:, :C], g)  # f c + i g
        h = torch.mul(z[:, 3 * C :], _tanh_(tc.copy_(c_new)), out=Y[t + 1, :, :C])  # o tanh(c)
        out = torch.addmm(b_ctl, W_ctl, h.t()).view(K, 3 + m, B)  # (K, 3 + m, B)
        o[:, :3] = torch.softmax(out[:, :3], 1)  # (K, 3, B) push, pop, no-op
        cv = torch.sigmoid(out[:, 3:], out=o[:, 3:])  # (K, m, B) the pushed value
        push, pop, noop = o[:, 0:1], o[:, 1:2], o[:, 2:3]  # (K, 1, B) each
        n_in, n_out = ns[t], ns[t + 1]
        S, Sn = Ss[j1], Ss[j]
        torch.mul(S[:n_in], noop, out=Sn[:n_in])  # no-op keeps S_{t−1}
        if n_out > n_in:
            Sn[n_in].zero_()
        Sn[1:n_out].addcmul_(S[: n_out - 1], push)  # a push moves everything down …
        Sn[0].addcmul_(cv, push)  # … and puts c_t on top
        Sn[: n_in - 1].addcmul_(S[1:n_in], pop)  # a pop moves everything up
        Y[t + 1, :, C:CR].view(B, K, k, m).copy_(Sn[:k].permute(3, 1, 0, 2))  # r_t: the top k cells
    last = T if save else T % 2
    return Y, Ss, cs, Z, OUT, TC, last


def _stacks_out(Ss: Tensor, last: int, n: int) -> Tensor:
    """S_T (B, K, p, m), a view, from the (p, K, m, B) slot ``last`` whose top n rows are written."""
    S = Ss[last]
    S[n:].zero_()
    return S.permute(3, 1, 0, 2)


def _scan_backward(gys: Tensor, gS: Tensor | None, gc: Tensor | None, W_x: Tensor, W_hr: Tensor,
                   W_ctl: Tensor, spec: StackRNNSpec, ns: list[int], Y: Tensor, Ss: Tensor, cs: Tensor, Z: Tensor,
                   OUT: Tensor, TC: Tensor):
    """Back-propagation through time of ``_scan_forward`` by hand, from the last step back.

    gys (T, B, C + R) and the gradients of the final S_T, c_T (None = zero) -> gradients of
    (xs, W_x, b, W_hr, W_ctl, b_ctl, S_0, y_0, c_0); S_0's is None unless ``ns`` are all p (of
    ∂/∂S_t only the top ``ns[t]`` rows are carried). The gate gradient of a step (B, 4C) is used
    while it is in cache: the controller's weight gradient [W_hr | W_x] accumulates one product
    per step against the step's row [y_{t−1}, x_t] of Y (one product over all T·B rows costs as
    much at T ≈ 40 and more at T ≈ 80, where the (T, B, 4C) gradient it reads no longer fits in
    cache), and the gradient of that row is one product gp [W_hr | W_x]; the action/value
    layer's weight gradient, small, is one product after the loop.
    """
    T, B, _ = gys.shape
    C, K, p, m, k = spec
    CR, P = C + spec.R, K * (3 + m)
    A, CV = OUT[:, :, :3], OUT[:, :, 3:]  # (T, K, 3, B), (T, K, m, B)
    slope_cv = CV * (1 - CV)  # σ' of the pushed values, all steps at once (small)
    GOUT = gys.new_empty(T, K, 3 + m, B)  # ∂/∂ [action logits | value pre-activations]
    W_cat = torch.cat([W_hr, W_x], 1)  # (4C, C + R + I): the weights of Y's rows
    g_W = torch.zeros_like(W_cat)
    GU = gys.new_empty(T, B, W_cat.shape[1])  # ∂/∂ [y_{t−1}, x_t] of every step
    g_b = gys.new_zeros(B, 4 * C)  # summed over the batch at the end
    gp = gys.new_empty(B, 4 * C)  # ∂/∂ gate pre-activations of the step
    gS_prev = gys.new_empty(p, K, m, B)  # ∂/∂S in the stacks' (p, K, m, B) layout
    gS = torch.zeros_like(gS_prev) if gS is None else gS_prev.clone().copy_(gS.permute(2, 1, 3, 0))
    prod = torch.empty_like(gS_prev)  # products summed into the action gradients
    g_a = gys.new_empty(K, 3, B)
    gc = gys.new_zeros(B, C) if gc is None else gc.clone()
    one = gys.new_ones(())
    gY = gys[T - 1]
    for t in range(T - 1, -1, -1):
        n_in, n_out = ns[t], ns[t + 1]  # rows of S_{t−1} and S_t carried
        # r_t = S_t[:k]
        gS[:k] += gY[:, C:].view(B, K, k, m).permute(2, 1, 3, 0)
        # S_t = a_push [c_t; S_{t−1}[:−1]] + a_pop [S_{t−1}[1:]; 0] + a_noop S_{t−1}
        S, a, cv = Ss[t], A[t], CV[t]
        push, pop, noop = a[:, 0:1], a[:, 1:2], a[:, 2:3]
        torch.sum(torch.mul(gS[1:n_out], S[: n_out - 1], out=prod[: n_out - 1]), (0, 2), out=g_a[:, 0])
        torch.sum(torch.mul(gS[: n_in - 1], S[1:n_in], out=prod[: n_in - 1]), (0, 2), out=g_a[:, 1])
        torch.sum(torch.mul(gS[:n_in], S[:n_in], out=prod[:n_in]), (0, 2), out=g_a[:, 2])
        g_a[:, 0] += torch.linalg.vecdot(gS[0], cv, dim=1)
        go = GOUT[t]
        go[:, :3] = torch._softmax_backward_data(g_a, a, 1, a.dtype)
        torch.mul(gS[0], push, out=go[:, 3:]).mul_(slope_cv[t])
        torch.mul(gS[:n_in], noop, out=gS_prev[:n_in])
        gS_prev[: n_out - 1].addcmul_(gS[1:n_out], push)
        gS_prev[1:n_in].addcmul_(gS[: n_in - 1], pop)
        gS, gS_prev = gS_prev, gS
        # h_t feeds the action/value layer and the output; then the LSTM cell, whose gate slopes
        # come from the step's saved gates while their (B, 4C) slice is in cache
        gh = torch.addmm(gY[:, :C], go.view(P, B).t(), W_ctl)  # (B, C)
        z, tc = Z[t], TC[t]
        i, f, g, o = z[:, :C], z[:, C : 2 * C], z[:, 2 * C : 3 * C], z[:, 3 * C :]
        ho = torch.mul(gh, o, out=gp[:, 3 * C :])  # gh o
        gc.addcmul_(ho, torch.addcmul(one, tc, tc, value=-1.0))  # + ∂h/∂c = o (1 − tanh² c)
        ho.mul_(tc).addcmul_(ho, o, value=-1.0)  # ∂/∂o = gh tanh(c) o (1 − o)
        gi = torch.mul(gc, g, out=gp[:, :C]).mul_(i)
        gi.addcmul_(gi, i, value=-1.0)  # ∂/∂i = gc g i (1 − i)
        gf = torch.mul(gc, cs[t], out=gp[:, C : 2 * C]).mul_(f)
        gf.addcmul_(gf, f, value=-1.0)  # ∂/∂f = gc c_{t−1} f (1 − f)
        gg = torch.mul(gc, i, out=gp[:, 2 * C : 3 * C])
        gg.mul_(torch.addcmul(one, g, g, value=-1.0))  # ∂/∂g = gc i (1 − g²)
        gc.mul_(f)
        # the step's gate gradient reaches the weights [W_hr | W_x] and the row [y_{t−1}, x_t]
        g_W.addmm_(gp.t(), Y[t])
        g_b.add_(gp)
        gu = torch.mm(gp, W_cat, out=GU[t])
        gY = gu[:, :CR]  # ∂/∂y_{t−1}
        if t > 0:
            gY += gys[t - 1]
    gout = GOUT.view(T, P, B)
    g_W_ctl = torch.mm(gout.permute(1, 0, 2).reshape(P, T * B), Y[1:, :, :C].reshape(T * B, C))  # (P, C)
    g_S0 = gS.permute(3, 1, 0, 2) if ns[0] == p and min(ns) == p else None
    return GU[:, :, CR:], g_W[:, CR:], g_b.sum(0), g_W[:, :CR], g_W_ctl, gout.sum((0, 2)), g_S0, gY, gc


def _cpp_ops(x: Tensor):
    """``torch.ops.memlab`` when the C++ loops (csrc/stack_rnn_scan.cpp) run this call: float32 or
    float64 CPU tensors, the library built and not disabled (``MEMLAB_NO_CPP=1``); else None."""
    return cpp.ops() if cpp.usable(x, "stack_rnn_scan_fwd", "stack_rnn_scan_bwd") else None


def _scan_forward_cpp(ops, xs: Tensor, W_x: Tensor, b: Tensor, W_hr: Tensor, W_ctl: Tensor, b_ctl: Tensor,
                      S0: Tensor, y0: Tensor, c0: Tensor, spec: StackRNNSpec, save: bool, ns: list[int]):
    """``_scan_forward`` by the C++ loops: the same buffers and returns."""
    Y, Ss, cs, Z, OUT, TC = ops.stack_rnn_scan_fwd(xs.contiguous(), W_x, b, W_hr, W_ctl, b_ctl, S0, y0, c0,
                                                   list(spec), ns, save)
    T = xs.shape[0]
    return Y, Ss, cs, Z, OUT, TC, (T if save else T % 2)


def _scan_backward_cpp(ops, gys: Tensor, gS: Tensor | None, gc: Tensor | None, W_x: Tensor, W_hr: Tensor,
                       W_ctl: Tensor, spec: StackRNNSpec, ns: list[int], Y: Tensor, Ss: Tensor, cs: Tensor, Z: Tensor,
                       OUT: Tensor, TC: Tensor):
    """``_scan_backward`` by the C++ loops: the same gradients (S_0's None unless every n_t is p)."""
    *grads, gS0, gY, gc0 = ops.stack_rnn_scan_bwd(gys, gS, gc, W_x, W_hr, W_ctl, list(spec), ns, Y, Ss, cs, Z, OUT, TC)
    g_S0 = gS0.permute(3, 1, 0, 2) if ns[0] == spec.p and min(ns) == spec.p else None
    return (*grads, g_S0, gY, gc0)


class _StackRNNScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xs, W_x, b, W_hr, W_ctl, b_ctl, S0, y0, c0, spec):
        ns = _active_rows(S0, spec, xs.shape[0], whole=ctx.needs_input_grad[6])
        ops = _cpp_ops(xs)
        with torch.inference_mode():  # fewer dispatch steps per op than no_grad; outputs copied below
            args = (xs, W_x, b, W_hr, W_ctl, b_ctl, S0, y0, c0, spec)
            Y, Ss, cs, Z, OUT, TC, last = (_scan_forward(*args, save=True, ns=ns) if ops is None else
                                           _scan_forward_cpp(ops, *args, save=True, ns=ns))
            S_T = _stacks_out(Ss, last, ns[-1])
        ctx.sv, ctx.spec, ctx.ns = (Y, Ss, cs, Z, OUT, TC), spec, ns  # inference tensors, read only by the backward
        ctx.ops = ops
        ctx.save_for_backward(W_x, W_hr, W_ctl)
        # outputs are copies, never tensors the backward keeps (a kept output is a reference cycle
        # through its grad_fn that only the cyclic garbage collector frees)
        return (Y[1:, :, : spec.C + spec.R].clone(), S_T.clone(memory_format=torch.contiguous_format),
                cs[last].clone())

    @staticmethod
    @once_differentiable  # the hand-written backward is not itself differentiable: an error, not silent zeros
    def backward(ctx, gys, gS, gc):
        W_x, W_hr, W_ctl = ctx.saved_tensors
        with torch.no_grad():  # not inference mode: the gradients are handed to autograd uncopied
            args = (gys.contiguous(), gS, gc, W_x, W_hr, W_ctl, ctx.spec, ctx.ns, *ctx.sv)
            grads = _scan_backward(*args) if ctx.ops is None else _scan_backward_cpp(ctx.ops, *args)
        return (*grads, None)


def stack_rnn_scan(xs: Tensor, W_x: Tensor, b: Tensor, W_hr: Tensor, W_ctl: Tensor, b_ctl: Tensor, S0: Tensor,
                   y0: Tensor, c0: Tensor, spec: StackRNNSpec) -> tuple[Tensor, Tensor, Tensor]:
    """The composed Stack-RNN over a whole sequence as one autograd node (the fused kernel).

    xs (T, B, I) the inputs; W_x (4C, I), b (4C,): the LSTM's input weights and bias; W_hr
    (4C, C + R) = [W_h | W_r]: the weights of y_{t−1} = [h_{t−1}, r_{t−1}]; W_ctl (P, C), b_ctl
    (P,): the action/value layer; S0 (B, K, p, m); y0 (B, C + R) = [h_0, r_0] with r_0 the top
    of S0; c0 (B, C) -> ys (T, B, C + R), S_T, c_T. Under ``no_grad`` nothing is saved.
    Agrees with ``stack_rnn_scan_ref`` in values and gradients (tests, float64).
    """
    T = xs.shape[0]
    if T == 0:  # no step: the initial state as given
        return y0.new_zeros(0, *y0.shape), S0, c0
    args = (xs, W_x, b, W_hr, W_ctl, b_ctl, S0, y0, c0)
    if torch.is_grad_enabled() and any(t.requires_grad for t in args):
        return _StackRNNScan.apply(*args, spec)
    with torch.no_grad():
        ns = _active_rows(S0, spec, T, whole=False)
        ops = _cpp_ops(xs)
        Y, Ss, cs, _, _, _, last = (_scan_forward(*args, spec, save=False, ns=ns) if ops is None else
                                    _scan_forward_cpp(ops, *args, spec, save=False, ns=ns))
        return Y[1:, :, : spec.C + spec.R], _stacks_out(Ss, last, ns[-1]).contiguous(), cs[last]


__all__ = ["StackRNNSpec", "stack_rnn_scan", "stack_rnn_scan_ref", "stack_rnn_step_ref"]
