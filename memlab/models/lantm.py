"""Lie Access Neural Turing Machine models (seed 004): embedding -> LANTM core -> softmax readout.

``LANTMCore`` is a composition: THE LSTM of ``memlab.controllers.lstm`` (gates i, f, g, o)
reading [x_t, ρ_{t−1}], and the Lie access heads and memory of ``memlab.memory.lie_access``.
``model.kernel=fused`` runs the fused sequence kernel (``memlab.memory.kernels.lantm_scan``,
the controller inlined), ``reference`` the composed per-step loop (``lantm_scan_ref``).

Registered as ``lantm-invnorm`` and ``lantm-softmax``. Per-task sizes and learning rates are
seed 004 Table 2 data in ``memlab.experiments.hparams.seed004``.

Readings (``model.preset``; issue 13). The authors' released code differs from the paper's
text in four ways; each is a setting, and a preset fixes all of them at once (explicit
``model.*`` keys override the preset):

1. ``read_to_output``: the output is y_t = softmax(W·h_t + σ(c_t)·W′·r_t), c_t = w_c·h_t + b_c,
   so the current read reaches the output gated (paper text: y_t = F(h_t), Fig. 1).
2. ``read_first``: each step reads the memory as it was before this step's write (text: write,
   then read, §3). ``write_while_answering=false``: the memory is not written during the
   response phase (steps t ≥ ``batch.n_input``; the text writes at every step).
3. ``step_delta=1`` with ``normalise_steps``: steps bounded, ṽ = v/√(1 + ‖v‖²) (text: "We
   normalized the step sizes to approximately 1", δ = 1e-4); ``interpolate_steps=false``:
   v = ṽ (text §3.4: v = h·ṽ + (1−h)·v_prev).
4. ``write_gate_bias=-10`` (text tweak 1: "strong negative values", −6 here before) and
   ``init_slot``: one learnable initial memory slot (address, content; strength 1, or with
   ``init_slot_strength=learned`` σ(s_0 − 10) learned from ≈ 0 as released). The
   optimiser half of item 4 is training data (``seed004.TRAIN_PROFILES``).

Presets: ``paper-text`` (memlab's reading before issue 13; a config without ``preset``, written
before presets existed, resolves to it), ``paper-code`` (all four items as released), and
``reproduce`` (the default for new runs): items 1, 2 and 4 as released with item 3 as the paper's
text; ``released`` is paper-code's model plus the released code's per-task run options (its
``xopts/*_largetrain.json``: ``init_magnitude``, the learning rate and its decay, one length per
batch; ``memlab.experiments.hparams.seed004.RELEASED``). Why ``reproduce`` is the default: in issue
13's measurements items 1+2 made copy learn in ~100 epochs instead of ~880 and reach 100% at 4x
(seed 2), while adding item 3's bounded step gave 53% at 4x (seed 1).
``reproduce-text-optimiser`` is ``reproduce``'s model with the text's optimiser (momentum 0.95,
decay 0.95, Table 2's rate × 0.1, clipping at norm 1, no plateau halving), the one reading
measured to learn reverse (stop 29). ``reproduce-per-task`` trains each Table 2 task in the reading
measured to reproduce it (``seed004.PER_TASK_READINGS``: copy as ``reproduce``, reverse with the
text's optimiser, bigramFlip, double and addition with ``init_step=normalised``): at stop 30 no one
reading learned all five. ``reproduce-read-gate`` is ``reproduce`` with the read heads' key gates
started shut (``read_key_gate_bias=-4``, below): the one reading measured to meet the InvNorm
targets on copy, reverse, bigramFlip and double (stops 32–33), and the reading ``memlab run
lantm-tables`` trains by default (``seed004.TABLES_PRESET``; its reading label spells it
``reproduce+model.read_key_gate_bias=-4``). ``memlab train`` and the other experiments keep
``reproduce``, in which their committed records were trained.

Start step: with the step gate of a write head shut (bias −10) and ``interpolate_steps``, the
head moves by its start step v_0 at every step, and v_0 is a free parameter, so the write stride
is |v_0| while every candidate step the controller emits has size ≈ 1 (``reproduce``) or ≤ 1
(``paper-code``, where ``interpolate_steps=false`` makes every step the controller's).
``init_step=normalised`` passes v_0 through the same step map, so the stride has the steps' size
too (the text: "We normalized the step sizes to approximately 1"); ``free`` (default) keeps it as
learned. ``init_step_norm`` (default 1) is |v_0| at initialisation, in a random direction: the
seed does not say how v_0 starts, and with the write gate shut it is the write stride the model
starts from (addition's paper solution reads every second slot with steps of ≈ 1, a stride of
≈ 0.5; stop 30 probes ``init_step_norm=0.5``). ``init_step=fixed`` holds v_0 at its initial value
(|v_0| = ``init_step_norm``) through training: with ``write_gates=shut`` the write line is then
straight with a stride chosen in advance (stop 31 saw a free v_0 grow from 0.5 to 3 when the gates
were shut; stop 32 probes a stride fixed at 0.5 on addition).

Write gates: tweak 1 only *starts* the write heads' key and step gates shut; they train, and on
addition they open by 1–4% a step, so the write step turns and shrinks along the sequence and the
write line bends (stop 31: read and write lines part beyond the training lengths).
``write_gates=shut`` holds them at σ(−30) for every step (``lie_access.shut_write_gates``): the
write heads move by v_0 along a straight line, as §3.4 describes; ``learned`` (default) is the seed's.

Read key gate: the read heads' key gates g start at σ(0) = 0.5 (the seed gives no value) in every
preset but ``reproduce-read-gate`` (σ(−4)). ``read_key_gate_bias=b`` starts them at σ(b). ``memlab run lantm-heads`` finds that learned runs
answer with g ≈ 0 (their reads step along the write line), while most failed runs answer with g
open and their reads parked near the line's start (counts in ``results/lantm-heads/SUMMARY.md``).
A negative b starts the reads moving by steps (stop 32: ``results/lantm/RUNS.md``).
``read_step_gate_bias`` does the same for the read heads' step gates h; with both negative a read
head starts riding the write line (it starts from the write head's key and step).

Initialisation: ``init_magnitude`` (the released code's option of that name; its copy-large,
reverse-large, bigramFlip-small and double runs set it): a > 0 draws every weight from U(−a, a)
with forget-gate bias 2 (``init_uniform``); 0 (default) keeps PyTorch's inits.

SoftMax (§3.1): w_i ∝ S_i exp(−‖k − a_i‖²/T) with "a temperature emitted by the controller";
the seed gives no activation for T. ``softmax_temperature=softplus`` (memlab's reading, the
default): T = softplus(z) + ``temp_min``; ``inverse``: the controller emits a sharpness,
1/T = softplus(z) + ``temp_min`` (as the NTM's key strength β), so sharp reads are reached
linearly rather than where softplus flattens out. Both use the squared distance, as the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from memlab.controllers.lstm import LSTMCore, LSTMCoreConfig
from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.core.interfaces import Batch, MemoryCore
from memlab.memory.lie_access import INIT_SLOT_STRENGTHS, INIT_STEPS, WRITE_GATES, LANTMParams, LANTMState, LieAccess, Trace, lantm_scan_ref, lantm_step_ref, make_spec
from memlab.memory.lie_groups import GROUPS
from memlab.models.base import CoreSequenceModel, ModelEntry
from memlab.tasks.base import TaskSpec

WEIGHTINGS = ("invnorm", "softmax")
KERNELS = ("fused", "reference")
SOFTMAX_TEMPERATURES = ("softplus", "inverse")
#: old ``model.impl`` values (configs written before the kernel vocabulary) -> ``model.kernel``
LEGACY_IMPL = {"fast": "fused", "ref": "reference"}

#: the settings a preset fixes (issue 13 items 1–4, model side)
PRESETS: dict[str, dict[str, object]] = {
    "paper-text": dict(read_to_output=False, read_first=False, write_while_answering=True, normalise_steps=True,
                       step_delta=1e-4, interpolate_steps=True, write_gate_bias=-6.0, init_slot=False),
    "paper-code": dict(read_to_output=True, read_first=True, write_while_answering=False, normalise_steps=True,
                       step_delta=1.0, interpolate_steps=False, write_gate_bias=-10.0, init_slot=True),
    "reproduce": dict(read_to_output=True, read_first=True, write_while_answering=False, normalise_steps=True,
                      step_delta=1e-4, interpolate_steps=True, write_gate_bias=-10.0, init_slot=True),
}
for _p in PRESETS.values():
    _p["init_slot_strength"] = "one"
    _p["read_key_gate_bias"] = 0.0
#: ``released``: paper-code's model, the initial slot's strength learned from σ(−10) as released,
#: and the released per-task run options (seed004.RELEASED)
PRESETS["released"] = dict(PRESETS["paper-code"], init_slot_strength="learned")
#: ``reproduce-text-optimiser``: ``reproduce``'s model trained with the text's optimiser (stop 29:
#: the only reading found that learns reverse; see seed004.TRAIN_PROFILES)
PRESETS["reproduce-text-optimiser"] = dict(PRESETS["reproduce"])
#: ``reproduce-per-task``: ``reproduce``'s model; per task the training and start step of the reading
#: measured to reproduce that task (``seed004.PER_TASK_READINGS``)
PRESETS["reproduce-per-task"] = dict(PRESETS["reproduce"])
#: ``reproduce-read-gate``: ``reproduce`` with the read heads' key gates started shut, σ(−4) (stops 32–33:
#: the one reading measured to meet the InvNorm targets on four of the five Table 3 tasks, all but
#: addition); lantm-tables' default
PRESETS["reproduce-read-gate"] = dict(PRESETS["reproduce"], read_key_gate_bias=-4.0)


@dataclass
class LANTMConfig:
    """Settings of one LANTM (seed 004 §3–4). Sizes default to Table 2 copy/reverse, group R².

    Fields left None take the value of ``preset`` (resolved by ``validate``, so a saved config
    lists every value)."""

    hidden: int = 50  # LSTM controller cells
    embed: int = 7  # input embedding size
    mem_width: int = 20  # m
    key_dim: int = 2  # n, the key space R^n
    group: str = "translation"  # a key of memlab.memory.lie_groups.GROUPS
    weighting: str = "invnorm"  # invnorm | softmax (§3.1)
    alpha: float = 2.0  # InvNorm exponent α
    eps: float = 1e-9  # InvNorm ε
    read_heads: int = 1
    write_heads: int = 1
    temp_min: float = 1e-3  # SoftMax temperature floor: T = softplus(·) + temp_min
    softmax_temperature: str = "softplus"  # softplus: T = softplus(z) + temp_min; inverse: 1/T = that
    preset: str = "paper-text"  # paper-text | paper-code | reproduce | released | reproduce-text-optimiser | reproduce-per-task | reproduce-read-gate
    read_to_output: bool | None = None  # 1: y = W·h_t + σ(c_t)·W′·r_t
    read_first: bool | None = None  # 2: read before this step's write
    write_while_answering: bool | None = None  # 2: write during the response phase
    normalise_steps: bool | None = None  # 3: ṽ = r / sqrt(‖r‖² + δ)
    step_delta: float | None = None  # 3: δ (1e-4: size ≈ 1; 1: bounded by 1)
    interpolate_steps: bool | None = None  # 3: v = h·ṽ + (1−h)·v_prev
    write_gate_bias: float | None = None  # 4: initial bias of the write heads' key and step gates
    init_slot: bool | None = None  # 4: one learnable initial memory slot
    init_slot_strength: str | None = None  # its strength: one | learned (σ(s_0 − 10), released)
    init_step: str = "free"  # start step v_0: free (as learned) | normalised (ṽ map, so |v_0| ≈ the steps' size) | fixed (not trained)
    init_step_norm: float = 1.0  # |v_0| at initialisation (random direction; translation group only)
    write_gates: str = "learned"  # the write heads' key and step gates: learned (from write_gate_bias) | shut (held at ≈ 0)
    read_key_gate_bias: float | None = None  # initial bias of the read heads' key gates g (0: σ = 0.5; the seed does not say)
    read_step_gate_bias: float = 0.0  # initial bias of the read heads' step gates h (0: σ = 0.5)
    init_magnitude: float = 0.0  # released code's init_magnitude: a > 0 draws every weight from U(−a, a), forget bias 2
    kernel: str = "fused"  # fused | reference
    compile: bool = False  # torch.compile the reference step (kernel=reference only; ~100 s to compile on a CPU)
    impl: str | None = None  # legacy: fast = kernel fused, ref = kernel reference

    def validate(self) -> None:
        check_choice("model.preset", self.preset, PRESETS)
        for key, value in PRESETS[self.preset].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        if self.impl is not None:
            check_choice("model.impl", self.impl, LEGACY_IMPL)
            self.kernel, self.impl = LEGACY_IMPL[self.impl], None
        check_range("model.alpha", self.alpha, 0, lo_open=True)
        check_range("model.eps", self.eps, 0, lo_open=True)
        check_choice("model.group", self.group, GROUPS)
        check_choice("model.weighting", self.weighting, WEIGHTINGS)
        check_choice("model.kernel", self.kernel, KERNELS)
        for name in ("hidden", "embed", "mem_width", "key_dim", "read_heads", "write_heads"):
            check_range(f"model.{name}", getattr(self, name), 1)
        need = GROUPS[self.group].required_key_dim
        if need is not None and self.key_dim != need:
            raise ConfigError(
                f"model.group={self.group} acts on R^{need} only, but model.key_dim={self.key_dim}; "
                f"use key_dim={need} or group=translation (any key_dim)"
            )
        check_range("model.step_delta", self.step_delta, 0, lo_open=True)
        check_range("model.temp_min", self.temp_min, 0)
        check_choice("model.softmax_temperature", self.softmax_temperature, SOFTMAX_TEMPERATURES)
        if self.softmax_temperature == "inverse" and not self.temp_min > 0:
            raise ConfigError("model.softmax_temperature=inverse needs model.temp_min > 0 (1/T = softplus(z) + temp_min)")
        check_range("model.write_gate_bias", self.write_gate_bias, -1e4, 1e4)
        check_range("model.read_key_gate_bias", self.read_key_gate_bias, -1e4, 1e4)
        check_range("model.read_step_gate_bias", self.read_step_gate_bias, -1e4, 1e4)
        check_range("model.init_magnitude", self.init_magnitude, 0, 100)
        check_choice("model.init_step", self.init_step, INIT_STEPS)
        check_range("model.init_step_norm", self.init_step_norm, 0, 100, lo_open=True)
        if self.init_step_norm != 1.0 and self.group != "translation":
            raise ConfigError(f"model.init_step_norm={self.init_step_norm} needs model.group=translation "
                              f"(group={self.group}: its start step is a group element, not a vector to scale)")
        check_choice("model.init_slot_strength", self.init_slot_strength, INIT_SLOT_STRENGTHS)
        check_choice("model.write_gates", self.write_gates, WRITE_GATES)
        if self.compile and self.kernel == "fused":
            raise ConfigError("model.compile=true applies to model.kernel=reference; the fused kernel is hand-written")


class LANTMCore(MemoryCore):
    """LSTM controller + Lie access memory (Fig. 1): ``(x_t, state) -> (y_t, state)``.

    The LSTM reads [x_t, ρ_{t−1}] and h_{t−1}; h_t emits every head's instructions. Output y_t
    is h_t (H), or with ``read_to_output`` [h_t, σ(c_t)·ρ_t] (H + R·m), which the model's linear
    readout turns into W·h_t + σ(c_t)·W′·ρ_t. The initial h, c, ρ, keys, steps (and slots) are
    learnable. Constructor defaults are the ``paper-text`` reading.
    """

    def __init__(
        self, input_size: int, hidden: int = 50, mem_width: int = 20, key_dim: int = 2, group: str = "translation",
        weighting: str = "invnorm", alpha: float = 2.0, eps: float = 1e-9, read_heads: int = 1, write_heads: int = 1,
        write_gate_bias: float = -6.0, normalise_steps: bool = True, step_delta: float = 1e-4, temp_min: float = 1e-3,
        read_first: bool = False, interpolate_steps: bool = True, init_slot: bool = False,
        read_to_output: bool = False, kernel: str = "fused", compile: bool = False,
        softmax_temperature: str = "softplus", init_step: str = "free", init_slot_strength: str = "one",
        init_step_norm: float = 1.0, write_gates: str = "learned", read_key_gate_bias: float = 0.0,
        read_step_gate_bias: float = 0.0,
    ):
        super().__init__()
        self.spec = make_spec(hidden, mem_width, key_dim, write_heads, read_heads, group, weighting, alpha, eps,
                              normalise_steps, step_delta, temp_min, read_first, interpolate_steps,
                              softmax_temperature)
        self.kernel, self.compile = kernel, compile
        self.input_size = input_size
        H, Rm = hidden, read_heads * mem_width
        self.output_size = H + Rm if read_to_output else H
        # the controller draws its init from the global RNG (so each run seed differs); forget bias 0
        # keeps the mean of the earlier uniform init
        seed = int(torch.randint(0, 2**31 - 1, ()).item())
        self.controller = LSTMCore(LSTMCoreConfig(input_size=input_size + Rm, hidden_size=H, forget_bias=0.0, seed=seed))
        self.access = LieAccess(self.spec, write_gate_bias, 1 if init_slot else 0, init_step, init_slot_strength,
                                init_step_norm, write_gates, read_key_gate_bias, read_step_gate_bias)
        self.h0 = nn.Parameter(torch.zeros(H))
        self.c0 = nn.Parameter(torch.zeros(H))
        self.out_gate = nn.Linear(H, 1) if read_to_output else None  # c_t = w_c·h_t + b_c
        self._step = None

    def params(self) -> LANTMParams:
        c, a = self.controller, self.access
        return LANTMParams(c.W_x, c.W_r, c.b, *a.instruction_layer())

    def initial_state(self, batch_size: int, device=None) -> LANTMState:
        h0, c0 = (p if device is None else p.to(device) for p in (self.h0, self.c0))
        B = batch_size
        return LANTMState(h0.unsqueeze(0).expand(B, -1), c0.unsqueeze(0).expand(B, -1),
                          *self.access.initial_state(B, h0.device))

    def state_size(self, steps: int = 0) -> int:
        sp = self.spec
        fixed = 2 * sp.hidden + sp.read_heads * sp.mem_width + sp.heads * (sp.key_dim + sp.P)
        return fixed + (self.access.init_slots + steps * sp.write_heads) * (sp.key_dim + sp.mem_width + 1)

    def output(self, hs: Tensor, reads: Tensor) -> Tensor:
        """y from hs (..., H) and reads (..., R, m): h, or [h, σ(c)·ρ] with ``read_to_output``."""
        if self.out_gate is None:
            return hs
        gate = torch.sigmoid(self.out_gate(hs))  # (..., 1): σ(c_t)
        return torch.cat([hs, gate * reads.flatten(-2)], -1)  # (..., H + R·m)

    def forward(self, x_t: Tensor, state: LANTMState) -> tuple[Tensor, LANTMState]:
        """One step (the composed reference, always writing). x_t: (B, E) -> y_t (B, output_size)."""
        state, _ = lantm_step_ref(x_t, state, self.params(), self.spec)
        return self.output(state.h, state.reads), state

    def run(self, xs: Tensor, state: LANTMState | None = None, kernel: str | None = None,
            write_mask: Tensor | None = None) -> tuple[Tensor, LANTMState, Trace]:
        """Whole sequence xs (T, B, E) -> (ys (T, B, output_size), final state, Trace).
        ``write_mask`` (T, B) of 0/1: steps where the memory is written."""
        kernel = LEGACY_IMPL.get(kernel, kernel) or self.kernel
        if state is None:
            state = self.initial_state(xs.shape[1], xs.device)
        if kernel == "fused":
            from memlab.memory.kernels.lantm_scan import lantm_scan

            hs, reads, final, trace = lantm_scan(xs, self.params(), state, self.spec, write_mask)
        else:
            hs, reads, final, trace = self._scan_ref(xs, state, write_mask)
        return self.output(hs, reads), final, trace

    def _scan_ref(self, xs, state, write_mask):
        if not self.compile:
            return lantm_scan_ref(xs, self.params(), state, self.spec, write_mask)
        if self._step is None:
            self._step = torch.compile(lantm_step_ref, dynamic=True)
        hs, rs, trs = [], [], []
        for t in range(xs.shape[0]):
            state, tr = self._step(xs[t], state, self.params(), self.spec, None if write_mask is None else write_mask[t])
            hs.append(state.h)
            rs.append(state.reads)
            trs.append(tr)
        k, g, s, temp = (list(x) for x in zip(*trs))
        trace = Trace(torch.stack(k), torch.stack(g), torch.stack(s), torch.stack(temp) if temp[0] is not None else None)
        return torch.stack(hs), torch.stack(rs), state, trace

    def forward_sequence(self, xs: Tensor, state=None, lengths: Tensor | None = None, write_mask: Tensor | None = None):
        """(T, B, E) -> (ys (T, B, output_size), final state). With ``lengths``, steps past an
        example's length write slots of strength 0 and leave the rest of its state alone; its
        outputs there are zero (reference path)."""
        if lengths is None:
            ys, final, _ = self.run(xs, state, write_mask=write_mask)
            return ys, final
        return self._run_masked(xs, state, torch.as_tensor(lengths, device=xs.device), write_mask)

    def _run_masked(self, xs: Tensor, state, lengths: Tensor, write_mask: Tensor | None):
        T, B, _ = xs.shape
        if lengths.shape != (B,) or int(lengths.max()) > T or int(lengths.min()) < 0:
            raise ValueError(f"lengths must have shape ({B},) with values in [0, {T}]")
        state = state if state is not None else self.initial_state(B, xs.device)
        p = self.params()
        ys = []
        for t in range(T):
            act = (lengths > t).to(xs.dtype)  # (B,)
            write = act if write_mask is None else act * write_mask[t].to(xs.dtype)
            new, _ = lantm_step_ref(xs[t], state, p, self.spec, write)

            def keep(n: Tensor, o: Tensor) -> Tensor:
                m_ = act.view(-1, *([1] * (n.dim() - 1)))
                return m_ * n + (1 - m_) * o

            state = LANTMState(keep(new.h, state.h), keep(new.c, state.c), keep(new.reads, state.reads),
                               keep(new.keys, state.keys), keep(new.steps, state.steps),
                               new.addresses, new.memory, new.strengths)
            ys.append(self.output(new.h, new.reads) * act[:, None])
        return torch.stack(ys), state

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Checkpoints written before the composition (``Wx``, ``Uh``, ``Ur`` with gates i, f, o, g)
        load into the controller (gates i, f, g, o) and the access module."""
        old = prefix + "Wx.weight"
        if old in state_dict:
            H = self.spec.hidden
            perm = torch.cat([torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)])
            Wx, bx = state_dict.pop(old), state_dict.pop(prefix + "Wx.bias")
            Uh, Ur = state_dict.pop(prefix + "Uh"), state_dict.pop(prefix + "Ur")
            state_dict[prefix + "controller.W_x"] = torch.cat([Wx, Ur.t()], 1)[perm]
            state_dict[prefix + "controller.W_r"] = Uh.t()[perm]
            state_dict[prefix + "controller.b"] = bx[perm]
            for name in ("Wq", "bq", "r0", "k0", "v0"):
                state_dict[prefix + "access." + name] = state_dict.pop(prefix + name)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class LANTMModel(CoreSequenceModel):
    """``CoreSequenceModel`` with a LANTM core: no writes while answering unless
    ``write_while_answering``; ``trace`` for the key-space figures."""

    core: LANTMCore

    def __init__(self, spec: TaskSpec, core: LANTMCore, embed: int, write_while_answering: bool = True):
        super().__init__(spec, core, embed)
        self.write_while_answering = write_while_answering

    def write_mask(self, batch: Batch, T: int) -> Tensor | None:
        """(T, B) 1 before the response phase (t < n_input), 0 from it on; None: always write."""
        if self.write_while_answering:
            return None
        t = torch.arange(T, device=batch.n_input.device).unsqueeze(1)  # (T, 1)
        return (t < batch.n_input.unsqueeze(0)).float()  # (T, B)

    def forward(self, batch: Batch) -> Tensor:
        x = self.encoder(batch.inputs)  # (T, B, E)
        ys, _, _ = self.core.run(x, write_mask=self.write_mask(batch, x.shape[0]))
        return self.readout(ys)  # (T, B, n_tokens)

    def trace(self, batch: Batch, impl: str | None = None) -> tuple[Tensor, Trace, LANTMState]:
        """Outputs (T, B, n_tokens), the heads' trace and the final state (memory included);
        ``impl``: a kernel name (or a legacy fast/ref) or None for the model's."""
        x = self.encoder(batch.inputs)  # (T, B, E)
        ys, final, trace = self.core.run(x, kernel=impl, write_mask=self.write_mask(batch, x.shape[0]))
        return self.readout(ys), trace, final


def build(cfg: LANTMConfig, spec: TaskSpec) -> LANTMModel:
    """LANTM for a task: embedding (cfg.embed) -> LANTMCore -> linear readout (softmax in the loss)."""
    core = LANTMCore(
        cfg.embed, hidden=cfg.hidden, mem_width=cfg.mem_width, key_dim=cfg.key_dim, group=cfg.group,
        weighting=cfg.weighting, alpha=cfg.alpha, eps=cfg.eps, read_heads=cfg.read_heads,
        write_heads=cfg.write_heads, write_gate_bias=cfg.write_gate_bias, normalise_steps=cfg.normalise_steps,
        step_delta=cfg.step_delta, temp_min=cfg.temp_min, read_first=cfg.read_first,
        interpolate_steps=cfg.interpolate_steps, init_slot=cfg.init_slot, read_to_output=cfg.read_to_output,
        kernel=cfg.kernel, compile=cfg.compile, softmax_temperature=cfg.softmax_temperature,
        init_step=cfg.init_step, init_slot_strength=cfg.init_slot_strength, init_step_norm=cfg.init_step_norm,
        write_gates=cfg.write_gates, read_key_gate_bias=cfg.read_key_gate_bias,
        read_step_gate_bias=cfg.read_step_gate_bias,
    )
    model = LANTMModel(spec, core, cfg.embed, cfg.write_while_answering)
    if cfg.init_magnitude > 0:
        init_uniform(model, cfg.init_magnitude)
    return model


def init_uniform(model: nn.Module, a: float) -> None:
    """The released code's ``init_magnitude`` (its train.lua): every parameter of the model
    (embedding, controller, heads, initial state, readout) drawn from U(−a, a), then the LSTM's
    forget-gate bias set to 2 (its two gate layers, input-to-hidden and hidden-to-hidden, each
    get a forget bias of 1; memlab's controller has one bias per gate). Draws from the global RNG,
    like the default init. Without it (``init_magnitude=0``, the released code's ``false``) PyTorch's
    default inits stay, with forget bias 0."""
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-a, a)
        ctrl = model.core.controller
        H = ctrl.cfg.hidden_size
        ctrl.b[H : 2 * H] = 2.0  # gate rows i, f, g, o


def _defaults(model: str, section: str):
    def defaults(task: str) -> dict:
        from memlab.experiments.hparams.seed004 import paper_defaults

        return paper_defaults(model, task)[section]

    return defaults


ENTRY_INVNORM = ModelEntry(
    LANTMConfig, build, "Lie Access Neural Turing Machine, InvNorm read weights (seed 004)",
    _defaults("lantm-invnorm", "model"), _defaults("lantm-invnorm", "train"),
)
ENTRY_SOFTMAX = ModelEntry(
    LANTMConfig, build, "Lie Access Neural Turing Machine, SoftMax read weights (seed 004)",
    _defaults("lantm-softmax", "model"), _defaults("lantm-softmax", "train"),
)
