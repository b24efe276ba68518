"""Neural Turing Machine (Graves, Wayne & Danihelka 2014) as a ``MemoryCore``.

One step, with controller output h_t and the NTM addressing of ``memlab.memory.addressing``:

    h_t            = controller([x_t, r_{t−1}], h_{t−1})          LSTM or feed-forward
    k, β, g, s, γ  = heads(h_t)                                    per head (read and write)
    w_t            = sharpen(shift(interp(content(M_{t−1}, k, β), w_{t−1}, g), s), γ)
    r_t            = w^r_t M_{t−1}                                  reads see the memory before this step's write
    M_t            = M_{t−1} ∘ Π(1 − w^w_t e_tᵀ) + Σ w^w_t a_tᵀ     erase then add
    y_t            = [h_t, r_t]

All heads address the same M_{t−1}, so their addressing runs as one batched call.

Numerical safety by construction (the usual NaN sources of public NTMs): ε in every norm and
normaliser (``addressing``), β = softplus ≥ 0, γ = 1 + softplus ≥ 1, sharpening as
softmax(γ log(w + ε)), controller outputs clipped to ±``clip`` (Collier & Beel 2018), and the
memory initialised to a small constant (1e-6) by default, which Collier & Beel report to
converge about twice as fast as learned or random initialisation (the other options:
``memory_init="learned"``, a parameter N × W, or ``"random"``, N(0, 0.5²) drawn per
sequence from the global RNG). The initial weightings are
learned but start focused on location 0: a uniform start over a constant memory is a
symmetric fixed point that location-based addressing could never leave.

Parameterisation of the head outputs (Collier & Beel 2018): k = tanh, β = softplus,
g = sigmoid, s = softmax over the 2R + 1 shifts, γ = 1 + softplus, e = sigmoid, a = tanh.

Kernels. ``NTMCore._step`` with autograd is the reference (``kernel="autograd"``, and what
``forward`` and ``run_core`` step). ``ntm_scan`` is the fast path and the default: one
``torch.autograd.Function`` over the whole sequence whose forward runs the same arithmetic with
autograd off and whose backward is back-propagation through time written out by hand. At NTM
sizes a step is ~50 small ops forward and ~100 under autograd backward, and per-op overhead,
not arithmetic, is the cost; the hand-written backward needs fewer ops (activation slopes
and weight gradients for all steps at once, the circular shift as rolls) and keeps no graph.
Tests check the two agree in float64 (values and gradients, every head layout) and gradcheck
the kernel; ``memlab bench ntm-step`` measures both (BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from memlab.core.errors import ConfigError
from memlab.core.interfaces import MemoryCore, run_core, tree_map
from memlab.memory import addressing as A

ControllerKind = Literal["lstm", "ff"]
MemoryInit = Literal["constant", "learned", "random"]
Kernel = Literal["fused", "autograd"]


class NTMState(NamedTuple):
    """memory M_t: (B, N, W); weights w_t: (B, Hr + Hw, N), read heads first;
    reads r_t: (B, Hr, W); h, c: (B, C) controller state (c unused by a feed-forward controller)."""

    memory: Tensor
    weights: Tensor
    reads: Tensor
    h: Tensor
    c: Tensor


class Controller(nn.Module):
    """LSTM (gate order i, f, o, g) or one tanh layer over [x_t, r_{t−1}].

    ``step(xproj, rest, h, c)`` takes the input part of the pre-activations already projected
    (``project_input``), so whole sequences can project x_1..x_T in one matrix product.
    """

    def __init__(self, kind: ControllerKind, input_size: int, read_size: int, size: int):
        super().__init__()
        if kind not in ("lstm", "ff"):
            raise ConfigError(f"controller={kind!r} is not allowed; choose one of lstm, ff")
        self.kind, self.input_size, self.size = kind, input_size, size
        gates = 4 * size if kind == "lstm" else size
        self.w_x = nn.Linear(input_size, gates)
        self.w_r = nn.Linear(read_size, gates, bias=False)
        self.w_h = nn.Linear(size, gates, bias=False) if kind == "lstm" else None
        if kind == "lstm":
            with torch.no_grad():  # forget-gate bias 1 (Gers et al. 2000)
                self.w_x.bias[size : 2 * size].fill_(1.0)

    def project_input(self, x: Tensor) -> Tensor:
        """W_x x + b for x: (..., I) -> (..., G)."""
        return self.w_x(x)

    def recurrent_weight(self) -> Tensor:
        """[W_r, W_h]: (G, read_size + C) — concatenated once per sequence."""
        if self.w_h is None:
            return self.w_r.weight
        return torch.cat([self.w_r.weight, self.w_h.weight], dim=1)

    def step(self, xproj: Tensor, r_prev: Tensor, h: Tensor, c: Tensor, w_rec: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """xproj: (B, G); r_prev: (B, Hr·W); h, c: (B, C) -> (h_t, c_t)."""
        if w_rec is None:
            w_rec = self.recurrent_weight()
        rest = torch.cat([r_prev, h], dim=1) if self.w_h is not None else r_prev  # (B, Hr·W [+ C])
        pre = torch.addmm(xproj, rest, w_rec.t())  # (B, G)
        if self.kind == "ff":
            return torch.tanh(pre), c
        C = self.size
        sig = torch.sigmoid(pre[:, : 3 * C])  # (B, 3C): i, f, o
        g = torch.tanh(pre[:, 3 * C :])  # (B, C)
        c = sig[:, C : 2 * C] * c + sig[:, :C] * g
        h = sig[:, 2 * C :] * torch.tanh(c)
        return h, c


class NTMCore(MemoryCore):
    """NTM with ``read_heads`` + ``write_heads`` heads over an N × W memory.

    ``forward(x_t (B, I), state)`` -> ``(y_t (B, C + Hr·W), state)``; ``forward_sequence``
    is the fast path (input projection for all steps in one product, then ``ntm_scan``) and
    agrees with stepping ``forward``. ``kernel="autograd"`` runs the per-step reference loop
    instead; ``compile_step`` runs that loop's step through ``torch.compile`` (the small ops
    of a step fuse into a few kernels; it pays off for runs longer than the compilation).
    """

    def __init__(
        self,
        input_size: int,
        *,
        controller: ControllerKind = "lstm",
        controller_size: int = 100,
        memory_size: int = 128,
        word_size: int = 20,
        read_heads: int = 1,
        write_heads: int = 1,
        shift_range: int = 1,
        memory_init: MemoryInit = "constant",
        init_value: float = 1e-6,
        clip: float = 20.0,
        eps: float = A.EPS,
        compile_step: bool = False,
        kernel: Kernel = "fused",
    ):
        super().__init__()
        if memory_size < 1 or word_size < 1 or read_heads < 1 or write_heads < 1 or controller_size < 1:
            raise ConfigError("NTM sizes (memory_size, word_size, read_heads, write_heads, controller_size) must be >= 1")
        if not 0 <= shift_range <= (memory_size - 1) // 2:
            raise ConfigError(
                f"shift_range={shift_range} does not fit memory_size={memory_size}; allowed: 0 <= shift_range <= {(memory_size - 1) // 2}"
            )
        if kernel not in ("fused", "autograd"):
            raise ConfigError(f"kernel={kernel!r} is not allowed; choose one of fused, autograd")
        if memory_init not in ("constant", "learned", "random"):
            raise ConfigError(f"memory_init={memory_init!r} is not allowed; choose one of constant, learned, random")
        self.input_size = input_size
        self.N, self.W, self.Hr, self.Hw = memory_size, word_size, read_heads, write_heads
        self.H = read_heads + write_heads
        self.S = 2 * shift_range + 1
        self.memory_init, self.init_value, self.clip, self.eps = memory_init, init_value, clip, eps
        self.compile_step, self.kernel = compile_step, kernel
        self._compiled_step = None  # built on first use (torch.compile is lazy and process-local)
        self.controller = Controller(controller, input_size, read_heads * word_size, controller_size)
        self.output_size = controller_size + read_heads * word_size
        H, W, S = self.H, self.W, self.S
        # head outputs laid out by kind so all heads are addressed in one batched call:
        # [k (H·W) | β (H) | g (H) | s (H·S) | γ (H) | e (Hw·W) | a (Hw·W)]
        self.sizes = [H * W, H, H, H * S, H, write_heads * W, write_heads * W]
        self.heads = nn.Linear(controller_size, sum(self.sizes))
        self.h0 = nn.Parameter(torch.zeros(controller_size))
        self.c0 = nn.Parameter(torch.zeros(controller_size))
        w0 = torch.zeros(H, memory_size)
        w0[:, 0] = 10.0  # softmax ≈ 0.99 on location 0; see the module docstring
        self.w0_logits = nn.Parameter(w0)
        if memory_init == "learned":
            self.m0 = nn.Parameter(torch.randn(memory_size, word_size) * 0.5)
        else:
            self.m0 = None

    # ------------------------------------------------------------------ state
    def initial_state(self, batch_size: int, device=None) -> NTMState:
        device = device if device is not None else self.h0.device
        dtype = self.h0.dtype
        if self.memory_init == "constant":
            memory = torch.full((batch_size, self.N, self.W), self.init_value, device=device, dtype=dtype)
        elif self.memory_init == "learned":
            memory = self.m0.unsqueeze(0).expand(batch_size, -1, -1)
        else:
            memory = torch.randn(batch_size, self.N, self.W, device=device, dtype=dtype) * 0.5
        weights = torch.softmax(self.w0_logits, -1).unsqueeze(0).expand(batch_size, -1, -1)  # (B, H, N)
        reads = A.read_memory(memory, weights[:, : self.Hr])  # (B, Hr, W)
        h = self.h0.unsqueeze(0).expand(batch_size, -1)
        c = self.c0.unsqueeze(0).expand(batch_size, -1)
        return NTMState(memory, weights, reads, h, c)

    def state_size(self, steps: int = 0) -> int:
        C = self.controller.size
        return self.N * self.W + self.H * self.N + self.Hr * self.W + 2 * C

    # ------------------------------------------------------------------ step
    def head_params(self, h: Tensor) -> tuple[Tensor, ...]:
        """Controller output h_t (B, C) -> k (B,H,W), β, g, γ (B,H), s (B,H,S), e, a (B,Hw,W)."""
        B = h.shape[0]
        out = self.heads(h)
        if self.clip > 0:
            out = out.clamp(-self.clip, self.clip)
        k, beta, g, s, gamma, e, a = torch.split(out, self.sizes, dim=1)
        k = torch.tanh(k).view(B, self.H, self.W)  # (B, H, W)
        beta = F.softplus(beta)  # β_t ≥ 0
        g = torch.sigmoid(g)  # g_t ∈ (0, 1)
        s = torch.softmax(s.view(B, self.H, self.S), -1)  # (B, H, S)
        gamma = A.oneplus(gamma)  # γ_t ≥ 1
        e = torch.sigmoid(e).view(B, self.Hw, self.W)  # (B, Hw, W)
        a = torch.tanh(a).view(B, self.Hw, self.W)  # (B, Hw, W)
        return k, beta, g, s, gamma, e, a

    def _step(self, xproj: Tensor, state: NTMState, w_rec: Tensor | None = None) -> tuple[Tensor, NTMState]:
        B = xproj.shape[0]
        h, c = self.controller.step(xproj, state.reads.reshape(B, -1), state.h, state.c, w_rec)
        k, beta, g, s, gamma, e, a = self.head_params(h)
        w = A.ntm_address(state.memory, state.weights, k, beta, g, s, gamma, self.eps)  # (B, H, N)
        reads = A.read_memory(state.memory, w[:, : self.Hr])  # (B, Hr, W)
        memory = A.erase_add(state.memory, w[:, self.Hr :], e, a)  # (B, N, W)
        y = torch.cat([h, reads.reshape(B, -1)], dim=1)  # (B, C + Hr·W)
        return y, NTMState(memory, w, reads, h, c)

    def forward(self, x_t: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """x_t: (B, I) -> y_t: (B, C + Hr·W) and the next state."""
        return self._step(self.controller.project_input(x_t), state)

    def spec(self) -> NTMSpec:
        """The static sizes the fused kernel ``ntm_scan`` needs."""
        return NTMSpec(self.controller.kind, self.controller.size, self.Hr, self.Hw, self.N, self.W, self.S,
                       tuple(self.sizes), float(self.clip), float(self.eps))

    def forward_sequence(self, xs: Tensor, state: NTMState | None = None, lengths: Tensor | None = None):
        """xs: (T, B, I) -> ys: (T, B, C + Hr·W), final state.

        ``kernel="fused"`` (default): ``ntm_scan``, one hand-written autograd node for the whole
        sequence; ``"autograd"``: the per-step reference loop over ``_step`` (input projection
        hoisted), which ``compile_step`` runs through ``torch.compile``. With ``lengths`` the
        per-example mask of ``run_core`` is used.
        """
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        B = xs.shape[1]
        if state is None:
            state = self.initial_state(B, xs.device)
        xproj = self.controller.project_input(xs)  # (T, B, G), one product for all steps
        w_rec = self.controller.recurrent_weight()
        if self.kernel == "fused" and not self.compile_step:
            return ntm_scan(xproj, w_rec, self.heads.weight, self.heads.bias, state, self.spec())
        step = self._step
        if self.compile_step:
            if self._compiled_step is None:
                self._compiled_step = torch.compile(self._step, dynamic=False)
            step = self._compiled_step
            state = tree_map(lambda x: x.contiguous(), state)  # one stride pattern: no recompiles after t = 0
        ys = []
        # unbind, not xproj[t]: indexing would give each step's backward a full (T, B, G) zero tensor
        for xp in xproj.unbind(0):
            y, state = step(xp, state, w_rec)
            ys.append(y)
        return torch.stack(ys, 0), state  # (T, B, O)

    @torch.no_grad()
    def trace(self, xs: Tensor) -> dict[str, Tensor]:
        """Weightings over time for plots: read (T, B, Hr, N), write (T, B, Hw, N), and memory (T, B, N, W)."""
        T, B, _ = xs.shape
        state = self.initial_state(B, xs.device)
        reads, writes, mems = [], [], []
        for t in range(T):
            _, state = self(xs[t], state)
            reads.append(state.weights[:, : self.Hr])
            writes.append(state.weights[:, self.Hr :])
            mems.append(state.memory)
        return {"read": torch.stack(reads), "write": torch.stack(writes), "memory": torch.stack(mems)}


# --------------------------------------------------------------------------- fused sequence kernel


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
    """Forward of ``ntm_scan`` with autograd off; the arithmetic of ``NTMCore._step``.

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
        gates = xproj.new_empty(T, B, 4 * C)  # σ(i, f, o), tanh(g)
        cells = xproj.new_empty(T + 1, B, C)  # c_0 … c_T
        cells[0] = c
    sv: dict = {k: [] for k in _SAVED}
    for t in range(T):
        rest = rests[t]
        rest[:, : Hr * W] = r.reshape(B, Hr * W)
        if lstm:
            rest[:, Hr * W :] = h
            pre = torch.addmm(xproj[t], rest, W_rec.t())  # (B, 4C)
            gt = gates[t]
            torch.sigmoid(pre[:, : 3 * C], out=gt[:, : 3 * C])
            torch.tanh(pre[:, 3 * C :], out=gt[:, 3 * C :])
            c = torch.addcmul(gt[:, C : 2 * C] * c, gt[:, :C], gt[:, 3 * C :], out=cells[t + 1])
            torch.mul(gt[:, 2 * C : 3 * C], torch.tanh(c), out=hs[t])
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
        do_c = gates[..., 2 * C : 3 * C] * (1.0 - tc * tc)  # ∂h/∂c = o (1 − tanh² c)
        gate_slopes = torch.cat([gates[..., : 3 * C] * (1.0 - gates[..., : 3 * C]), 1.0 - gates[..., 3 * C :] ** 2], -1)
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
            torch.cat([gc * gt[:, 3 * C :], gc * cells[t], gh * tc[t], gc * gt[:, :C]], 1, out=g_pre)  # ∂i, ∂f, ∂o, ∂g
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


def ntm_scan(xproj: Tensor, W_rec: Tensor, W_heads: Tensor, b_heads: Tensor, state: NTMState,
             spec: NTMSpec) -> tuple[Tensor, NTMState]:
    """The NTM over a whole sequence as one autograd node (fast path of ``NTMCore``).

    xproj (T, B, G): the controller's input pre-activations W_x x_t + b for every step;
    W_rec (G, Hr·W [+ C]): [W_r, W_h]; W_heads (P, C), b_heads (P,): the head layer;
    state: the initial ``NTMState`` -> ys (T, B, C + Hr·W) and the final state.

    Forward and backward are written out by hand (``_scan_forward``, ``_scan_backward``), so a
    step costs ~45 tensor ops forward and ~90 backward with no autograd bookkeeping, and the
    weight gradients are one product over all steps. Under ``no_grad`` nothing is saved.
    Agrees with stepping ``NTMCore.forward`` in values and gradients (tests, float64).
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
    return ys, NTMState(*final)
