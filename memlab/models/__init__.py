"""Models. ``MODELS`` is the one registry: name -> ``ModelEntry``, imported lazily.

Each recurrent memory of ``memlab.memory.MEMORIES`` is a model (controller + memory access +
readout, ``memlab.models.compose``); ``FAMILIES`` lists the models with a file of their own.
``build_model(name, spec, task_name, overrides)`` builds one for a task.
"""

from __future__ import annotations

import re
from typing import Any

from memlab.core.errors import ConfigError
from memlab.models.registry import ModelRegistry

#: model families with their own file: name -> "module:ENTRY attribute" (memories need no line here)
FAMILIES: dict[str, str] = {
    "lstm": "memlab.models.lstm:ENTRY",
    "lantm-invnorm": "memlab.models.lantm:ENTRY_INVNORM",
    "lantm-softmax": "memlab.models.lantm:ENTRY_SOFTMAX",
    "elman": "memlab.models.rnn:ELMAN",
    "lstm-cell": "memlab.models.rnn:LSTM_CELL",
    "esn": "memlab.controllers.esn:MODEL",
    "lsm": "memlab.controllers.lsm:MODEL",
    "seq2seq-attention": "memlab.models.seq2seq_attention:ENTRY",
    "memn2n": "memlab.models.memn2n:ENTRY",
    "kv-memn2n": "memlab.models.kv_memn2n:ENTRY",
    "gru": "memlab.models.recurrent:GRU",
    "fast-weights-rnn": "memlab.models.recurrent:FAST_WEIGHTS_RNN",
    "associative-lstm": "memlab.models.recurrent:ASSOCIATIVE_LSTM",
}

MODELS = ModelRegistry(FAMILIES)


def get_entry(name: str):
    """The ``ModelEntry`` of ``name`` (one-line ConfigError naming the allowed ones)."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def model_config(name: str, task_name: str, overrides: dict[str, Any] | None = None, *, prefix: str = "model."):
    """Model ``name``'s typed, checked config for task ``task_name``: its per-task defaults, then
    ``overrides``; an error names the key as ``prefix`` + key."""
    from memlab.core.config import deep_merge, from_dict

    entry = get_entry(name)
    try:
        return from_dict(entry.config_cls, deep_merge(entry.model_defaults(task_name), overrides or {}), prefix=prefix)
    except ConfigError as e:  # model configs' own checks spell their keys model.*: name them as given
        if prefix == "model." or "model." not in str(e):
            raise
        raise ConfigError(re.sub(r"\bmodel\.", prefix, str(e))) from None


def build_model(name: str, spec, task_name: str | None = None, overrides: dict[str, Any] | None = None):
    """Build model ``name`` for a task: per-task defaults, then ``overrides`` (typed, checked)."""
    return get_entry(name).build(model_config(name, task_name or spec.name, overrides), spec)


def __getattr__(attr: str):  # the base classes, imported on use (PEP 562)
    if attr in ("ModelEntry", "SequenceModel", "CoreSequenceModel"):
        from memlab.models import base

        return getattr(base, attr)
    raise AttributeError(f"module 'memlab.models' has no attribute {attr!r}")


__all__ = ["MODELS", "FAMILIES", "ModelEntry", "SequenceModel", "CoreSequenceModel", "get_entry", "model_config", "build_model"]
