"""The one composition: embedding -> controller + memory access -> readout.

    x_t  = embed(token_t)                                  (identity for binary tasks)
    h_t, s^c_t = controller([x_t, r_{t−1}], s^c_{t−1})        any ``memlab.controllers`` entry
    r_t, s^m_t = access(h_t, s^m_{t−1})                       any ``memlab.memory.MEMORIES`` entry
    y_t  = [h_t, r_t];   logits_t = readout(y_t)

as chomsky-hierarchy's ``make_rnn(rnn_core=StackRNNCore, inner_core=LSTM)``. ``ControlledMemory``
is that recurrence as a ``MemoryCore``; ``compose_step_ref`` is its per-step reference, which
``model.kernel=reference`` loops (``model.compile=true`` through ``torch.compile``) and which
fused kernels (``model.kernel=fused``, e.g. ``ntm_scan``) are tested against.

Every registered memory becomes a model whose typed config is flat (``model.*`` keys): the
composition's settings (``COMPOSE_FIELDS``: controller, controller_size, controller_cfg, embed,
kernel, compile, learn_init) followed by the memory's own config fields, validated once.
Old spellings read from old run configs are mapped: ``controller=ff`` -> ``feedforward``,
``kernel=autograd`` -> ``reference``.

Shapes: T time, B batch, I input size, C controller output size, R read size.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any, NamedTuple

import torch
from torch import Tensor

from memlab.core.errors import ConfigError, check_choice
from memlab.core.interfaces import MemoryCore, run_core, tree_leaves, tree_map
from memlab.models.base import CoreSequenceModel, ModelEntry, hparams_defaults
from memlab.tasks.base import TaskSpec

SYMBOLIC_EMBED = 32
KERNELS = ("fused", "reference")
#: old values accepted when a config is read (the NTM's per-step reference was called "autograd")
LEGACY_KERNELS = {"autograd": "reference"}


class ComposedState(NamedTuple):
    """memory: the access's state; controller: the controller's state (leaves: memory first)."""

    memory: Any
    controller: Any


def compose_step_ref(core: "ControlledMemory", x_t: Tensor, state: ComposedState) -> tuple[Tensor, ComposedState]:
    """One composed step: h_t = controller([x_t, r_{t−1}]); r_t = access(h_t); y_t = [h_t, r_t].

    x_t (B, I) -> y_t (B, C + R) and the next state.
    """
    h, ctrl = core.controller(torch.cat([x_t, core.access.reads(state.memory)], dim=1), state.controller)  # (B, C)
    r, mem = core.access(h, state.memory)  # (B, R)
    return torch.cat([h, r], dim=1), ComposedState(mem, ctrl)


class ControlledMemory(MemoryCore):
    """A controller driving a memory access, as one ``MemoryCore``.

    controller: a ``memlab.controllers`` core with ``input_size = I + access.read_size``;
    access: a ``MemoryAccess`` built for ``controller.output_size``. ``learn_init``: the
    controller's initial state is a learned parameter (zeros at first), as in the NTM.
    ``kernel``: "fused" runs ``access.fused_sequence`` where it covers the controller, else
    the reference loop; ``compile``: ``torch.compile`` the fused kernel's steps where its
    ``fused_sequence`` takes ``compile``, else the reference step.
    """

    def __init__(self, controller: MemoryCore, access, input_size: int, *, kernel: str = "reference",
                 compile: bool = False, learn_init: bool = True):
        super().__init__()
        if controller.input_size != input_size + access.read_size:
            raise ConfigError(f"controller input_size {controller.input_size} != input {input_size} + reads {access.read_size}")
        check_choice("model.kernel", kernel, KERNELS)
        self.controller, self.access = controller, access
        self.input_size, self.output_size = input_size, controller.output_size + access.read_size
        self.kernel, self.compile = kernel, compile
        self._compiled = None  # built on first use (torch.compile is lazy and process-local)
        leaves = tree_leaves(controller.initial_state(1)) if learn_init else []
        self.init_state = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros_like(v[0])) for v in leaves])

    def initial_state(self, batch_size: int, device=None) -> ComposedState:
        ctrl = self.controller.initial_state(batch_size, device)
        if len(self.init_state):
            it = iter(self.init_state)
            ctrl = tree_map(lambda v: next(it).unsqueeze(0).expand(batch_size, *v.shape[1:]), ctrl)
        return ComposedState(self.access.initial_state(batch_size, device), ctrl)

    def forward(self, x_t: Tensor, state: ComposedState) -> tuple[Tensor, ComposedState]:
        """x_t (B, I) -> y_t (B, C + R) and the next state (``compose_step_ref``)."""
        return compose_step_ref(self, x_t, state)

    def state_size(self, steps: int = 0) -> int:
        return self.access.state_size() + self.controller.state_size(steps)

    def forward_sequence(self, xs: Tensor, state: ComposedState | None = None, lengths: Tensor | None = None):
        """xs (T, B, I) -> ys (T, B, C + R), final state; the fused kernel where there is one."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        state = state if state is not None else self.initial_state(xs.shape[1], xs.device)
        fused = getattr(self.access, "fused_sequence", None)
        # compile=true with the fused kernel: the kernel's own compiled steps where it offers them
        # (a ``compile`` parameter: the NTM's and the DNC's); otherwise the compiled reference step
        takes_compile = fused is not None and "compile" in inspect.signature(fused).parameters
        if self.kernel == "fused" and fused is not None and (takes_compile or not self.compile):
            kw = {"compile": self.compile} if takes_compile else {}
            out = fused(self.controller, xs, state.memory, state.controller, **kw)
            if out is not None:
                ys, mem, ctrl = out
                return ys, ComposedState(mem, ctrl)
        step = self.forward
        if self.compile:
            if self._compiled is None:
                self._compiled = torch.compile(self.forward, dynamic=False)
            step = self._compiled
            state = tree_map(lambda x: x.contiguous(), state)  # one stride pattern: no recompiles after t = 0
        ys = []
        for x_t in xs.unbind(0):
            y, state = step(x_t, state)
            ys.append(y)
        if not ys:  # T = 0: no step, the state as given
            return xs.new_zeros(0, xs.shape[1], self.output_size), state
        return torch.stack(ys, 0), state  # (T, B, C + R)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # weights saved in an older layout are renamed first by the access (e.g. NTMAccess.upgrade_state_dict)
        upgrade = getattr(self.access, "upgrade_state_dict", None)
        if upgrade is not None:
            upgrade(state_dict, prefix, self)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def trace(self, xs: Tensor) -> dict[str, Tensor]:
        """The access's ``trace_step`` fields over time, each (T, B, ...) (weighting plots)."""
        state = self.initial_state(xs.shape[1], xs.device)
        steps = []
        for x_t in xs.unbind(0):
            _, state = self(x_t, state)
            steps.append(self.access.trace_step(state.memory))
        return {k: torch.stack([s[k] for s in steps]) for k in steps[0]}


# --------------------------------------------------------------------------- typed configs

#: the composition's own settings, first in every memory model's config
COMPOSE_FIELDS: list[tuple[str, Any, Any]] = [
    ("controller", str, "lstm"),  # a key of memlab.controllers.CONTROLLERS
    ("controller_size", int, 100),  # the controller's hidden_size C
    ("controller_cfg", dict[str, Any], dataclasses.field(default_factory=dict)),  # its other settings, e.g. {"peepholes": true}
    ("embed", typing.Optional[int], None),  # None: identity for binary tasks, 32 for symbolic ones
    ("kernel", str, "fused"),  # fused | reference (default: the memory's first kernel)
    ("compile", bool, False),  # torch.compile: the fused kernel's steps where it takes compile, else the reference step
    ("learn_init", bool, True),  # learned initial controller state
]


def _validate_compose(cfg: Any, kernels: tuple[str, ...]) -> None:
    from memlab.controllers import ALIASES, CONTROLLERS

    cfg.controller = ALIASES.get(cfg.controller, cfg.controller)
    cfg.kernel = LEGACY_KERNELS.get(cfg.kernel, cfg.kernel)
    check_choice("model.controller", cfg.controller, CONTROLLERS)
    check_choice("model.kernel", cfg.kernel, kernels)
    if cfg.controller_size < 1:
        raise ConfigError(f"model.controller_size={cfg.controller_size} is out of range; allowed: >= 1")
    if cfg.embed is not None and cfg.embed < 0:
        raise ConfigError(f"model.embed={cfg.embed} is out of range; allowed: >= 0 or none")
    bad = sorted(set(cfg.controller_cfg) & {"input_size", "hidden_size", "seed"})
    if bad:
        raise ConfigError(f"model.controller_cfg.{bad[0]} is set by the composition; use model.controller_size or the run seed")


def composed_config(name: str, entry) -> type:
    """The flat typed config of memory ``name``'s model: ``COMPOSE_FIELDS`` + ``entry.config_cls`` fields."""
    mem_cls = entry.config_cls
    hints = typing.get_type_hints(mem_cls)
    mem_fields = [(f.name, hints[f.name], dataclasses.field(default=f.default) if f.default is not dataclasses.MISSING
                   else dataclasses.field(default_factory=f.default_factory)) for f in dataclasses.fields(mem_cls)]
    compose = [(n, t, d if isinstance(d, dataclasses.Field) else dataclasses.field(default=d)) for n, t, d in COMPOSE_FIELDS]
    clash = {n for n, _, _ in compose} & {n for n, _, _ in mem_fields}
    if clash:
        raise TypeError(f"memory {name!r} config fields {sorted(clash)} clash with the composition's")
    kernels = tuple(entry.kernels)
    compose = [(n, t, dataclasses.field(default=kernels[0])) if n == "kernel" else (n, t, d) for n, t, d in compose]

    def validate(self) -> None:
        _validate_compose(self, kernels)
        if hasattr(mem_cls, "validate"):
            memory_config(self).validate()

    def memory_config(self):
        return mem_cls(**{f.name: getattr(self, f.name) for f in dataclasses.fields(mem_cls)})

    cls_name = mem_cls.__name__.removesuffix("Config") + "ModelConfig"  # NTMConfig -> NTMModelConfig
    cls = dataclasses.make_dataclass(cls_name, compose + mem_fields,
                                     namespace={"validate": validate, "memory_config": memory_config,
                                                "__doc__": f"model.* settings of {name}: composition + {mem_cls.__name__}"})
    cls.__module__ = mem_cls.__module__
    return cls


def resolve_embed(embed: int | None, spec: TaskSpec) -> int | None:
    """The encoder width: ``embed`` as set, else identity (binary) or 32 (symbolic)."""
    if embed is None:
        return SYMBOLIC_EMBED if spec.kind == "symbolic" else None
    if embed == 0 and spec.kind == "symbolic":
        raise ConfigError("model.embed=0 is out of range for symbolic tasks; allowed: >= 1 or none")
    return embed or None


def core_from_config(name: str, cfg: Any, input_size: int) -> ControlledMemory:
    """``ControlledMemory`` of memory ``name`` from its validated model config, for inputs of size I.

    The controller's initial weights are drawn from a seed taken from torch's global generator,
    so the run seed (``seed_everything``) sets them.
    """
    from memlab.controllers import make_controller
    from memlab.memory import memory_entry

    entry = memory_entry(name)
    access = entry.build(cfg.memory_config(), cfg.controller_size)
    seed = int(torch.randint(0, 2**31 - 1, ()))
    controller = make_controller(cfg.controller, **{**cfg.controller_cfg, "input_size": input_size + access.read_size,
                                                    "hidden_size": cfg.controller_size, "seed": seed})
    if controller.output_size != cfg.controller_size:
        raise ConfigError(f"model.controller_cfg gives an output size {controller.output_size} != controller_size "
                          f"{cfg.controller_size}; the memory heads read controller_size")
    return ControlledMemory(controller, access, input_size, kernel=cfg.kernel, compile=cfg.compile, learn_init=cfg.learn_init)


def make_core(name: str, input_size: int, **settings: Any) -> ControlledMemory:
    """``ControlledMemory`` of memory ``name`` for inputs of size I, from ``model.*`` settings
    (typed and checked: unknown keys and bad values are ConfigErrors)."""
    from memlab.core.config import from_dict
    from memlab.memory import memory_entry

    return core_from_config(name, from_dict(composed_config(name, memory_entry(name)), settings, prefix="model."), input_size)


def memory_model_entry(name: str, model: str | None = None) -> ModelEntry:
    """The ``ModelEntry`` of memory ``name``: composed build, per-task defaults from
    ``memlab.experiments.hparams.paper_defaults(model or name, task)``, the memory's smoke sizes.

    ``model`` names a variant with its own hyperparameter rows (e.g. two models over one memory
    that differ in a setting, registered as two ``FAMILIES`` lines).
    """
    from memlab.memory import memory_entry

    entry = memory_entry(name)
    model = model or name

    def build(cfg: Any, spec: TaskSpec) -> CoreSequenceModel:
        embed = resolve_embed(cfg.embed, spec)
        return CoreSequenceModel(spec, core_from_config(name, cfg, embed or spec.input_size), embed)

    return ModelEntry(composed_config(name, entry), build, entry.description, hparams_defaults(model, "model"),
                      hparams_defaults(model, "train"), smoke=dict(entry.smoke))
