"""Models. ``MODELS`` is the one registry: name -> ``ModelEntry`` (one file per family)."""

from __future__ import annotations

from typing import Any

from memlab.core.errors import ConfigError
from memlab.models import dnc as _dnc
from memlab.models import lantm as _lantm
from memlab.models import lstm as _lstm
from memlab.models import ntm as _ntm
from memlab.models import rnn as _rnn
from memlab.models.base import CoreSequenceModel, ModelEntry, SequenceModel

MODELS: dict[str, ModelEntry] = {
    "lstm": _lstm.ENTRY,
    "lantm-invnorm": _lantm.ENTRY_INVNORM,
    "lantm-softmax": _lantm.ENTRY_SOFTMAX,
    "ntm": _ntm.ENTRY,
    "dnc": _dnc.ENTRY,
    "elman": _rnn.ELMAN,
    "lstm-cell": _rnn.LSTM_CELL,
}


def get_entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def build_model(name: str, spec, task_name: str | None = None, overrides: dict[str, Any] | None = None) -> SequenceModel:
    """Build model ``name`` for a task: per-task defaults, then ``overrides`` (typed, checked)."""
    from memlab.core.config import deep_merge, from_dict

    entry = get_entry(name)
    cfg = from_dict(entry.config_cls, deep_merge(entry.model_defaults(task_name or spec.name), overrides or {}), prefix="model.")
    return entry.build(cfg, spec)


__all__ = ["MODELS", "ModelEntry", "SequenceModel", "CoreSequenceModel", "get_entry", "build_model"]
