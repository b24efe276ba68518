"""Single-core recurrent models of the recurrent family (issue 16): embedding -> one recurrent
core -> softmax readout, trained and scored like every other model.

``core_model_entry(module)`` turns any core module (one that defines ``CONFIG`` with
``input_size``/``hidden_size``/``seed`` and ``CORE``) into a ``ModelEntry`` whose flat
``model.*`` config is ``hidden`` (the core's hidden_size), ``embed`` and the core's own
settings; each registered name is one line in ``memlab.models.FAMILIES``:

    gru               GRU (Cho et al. 2014), controllers/gru.py
    fast-weights-rnn  fast-weights RNN (Ba et al. 2016), memory/fast_weights_rnn.py
    associative-lstm  Associative LSTM (Danihelka et al. 2016), memory/associative_lstm.py
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from typing import Any

import torch

from memlab.core.errors import ConfigError, check_range
from memlab.models.base import CoreSequenceModel, InputEncoder, ModelEntry, hparams_defaults
from memlab.tasks.base import TaskSpec

_SET_BY_MODEL = ("input_size", "hidden_size", "seed")


def model_config(module: str) -> type:
    """The flat model config of core ``module``: hidden, embed, then the core's other settings."""
    core_cfg = importlib.import_module(module).CONFIG
    hints = typing.get_type_hints(core_cfg)
    fields = {f.name: f for f in dataclasses.fields(core_cfg)}
    own = [(n, hints[n], dataclasses.field(default=f.default)) for n, f in fields.items() if n not in _SET_BY_MODEL]

    def validate(self) -> None:
        check_range("model.hidden", self.hidden, 1)
        check_range("model.embed", self.embed, 0)
        try:
            self.core_config(1).validate()
        except ConfigError as e:  # the core names its own field; the user set model.<field>
            msg = str(e)
            raise ConfigError(("model." + msg.replace("hidden_size=", "hidden=", 1)) if msg.split("=")[0].isidentifier()
                              else msg) from None

    def core_config(self, input_size: int, seed: int = 0):
        return core_cfg(input_size=input_size, hidden_size=self.hidden, seed=seed,
                        **{n: getattr(self, n) for n, _, _ in own})

    name = core_cfg.__name__.replace("Config", "") + "ModelConfig"
    return dataclasses.make_dataclass(
        name, [("hidden", int, dataclasses.field(default=fields["hidden_size"].default)),
               ("embed", int, dataclasses.field(default=16)), *own],
        namespace={"validate": validate, "core_config": core_config,
                   "__doc__": f"model.* settings: hidden (the core's hidden_size), embed, and {core_cfg.__name__}'s own"})


def core_model_entry(name: str, module: str, description: str, smoke: dict[str, Any]) -> ModelEntry:
    """The ``ModelEntry`` of the single-core model ``name`` built on core ``module``.

    The core's initial weights come from a seed drawn from torch's global generator, so the run
    seed (``seed_everything``) sets them.
    """
    cfg_cls = model_config(module)

    def build(cfg: Any, spec: TaskSpec) -> CoreSequenceModel:
        mod = importlib.import_module(module)
        width = InputEncoder(spec, cfg.embed or None).out_size
        core = mod.CORE(cfg.core_config(width, int(torch.randint(0, 2**31 - 1, ()))))
        return CoreSequenceModel(spec, core, cfg.embed or None)

    return ModelEntry(cfg_cls, build, description, model_defaults=hparams_defaults(name, "model"),
                      train_defaults=hparams_defaults(name, "train"), smoke=smoke)


GRU = core_model_entry("gru", "memlab.controllers.gru", "GRU (Cho et al. 2014) with a softmax readout",
                       {"hidden": 8, "embed": 4})
FAST_WEIGHTS_RNN = core_model_entry(
    "fast-weights-rnn", "memlab.memory.fast_weights_rnn",
    "fast-weights RNN: A = λA + η h hᵀ, S layer-normalised inner steps (Ba et al. 2016; seed 001 eq. 2.56-2.57)",
    {"hidden": 8, "embed": 4})
ASSOCIATIVE_LSTM = core_model_entry(
    "associative-lstm", "memlab.memory.associative_lstm",
    "Associative LSTM: complex holographic cell in S permuted copies (Danihelka et al. 2016; seed 001 eq. 2.49-2.51)",
    {"hidden": 8, "embed": 4, "copies": 2})
