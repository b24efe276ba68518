"""Per-paper hyperparameters as data: what a model trains with on a task unless overridden.

``paper_defaults(model, task)`` -> ``{"model": {...}, "train": {...}}``: per-task model settings
(``model.*``) and training settings (``train.*``). Model registry entries read their per-task
defaults from here; the trainer keeps one default learning rate for everything not listed.

    seed004.py   seed 004 Table 2: LANTM-InvNorm, LANTM-SoftMax, the LSTM encoder–decoder
    ntm.py       the NTM and DNC task settings
    BASELINES    the single-core baselines (Elman, LSTM cell) below

Only this package's own modules are imported; nothing here imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from memlab.experiments.hparams import ntm as _ntm

#: single-core baselines under the seed 004 protocol: learning rates that train them on the
#: symbolic tasks with the trainer's RMSProp (no paper gives them)
BASELINES: dict[str, dict[str, dict[str, Any]]] = {
    "elman": {"model": {}, "train": {"lr": 1e-3}},
    "lstm-cell": {"model": {}, "train": {"lr": 2e-3}},
}


def _seed004():
    try:
        return importlib.import_module("memlab.experiments.hparams.seed004")
    except ModuleNotFoundError as e:  # the table is optional until it lands
        if e.name != "memlab.experiments.hparams.seed004":
            raise
        return None


def models() -> list[str]:
    """Models with hyperparameters here."""
    s4 = _seed004()
    return [*(s4.TABLE2 if s4 else ()), *_ntm.HPARAMS, *BASELINES]


def paper_defaults(model: str, task: str, **kw: Any) -> dict[str, dict[str, Any]]:
    """``{"model": {...}, "train": {...}}`` for ``model`` on ``task``; empty dicts for a model
    with no table (it trains with the model config's and the trainer's defaults). ``kw`` goes to
    the seed 004 table (e.g. ``preset`` for the LANTM models)."""
    s4 = _seed004()
    if s4 is not None and model in s4.TABLE2:
        return s4.paper_defaults(model, task, **kw)
    if model in _ntm.HPARAMS:
        return _ntm.paper_defaults(model, task)
    if model in BASELINES:
        return {"model": dict(BASELINES[model]["model"]), "train": dict(BASELINES[model]["train"])}
    return {"model": {}, "train": {}}


__all__ = ["BASELINES", "models", "paper_defaults"]
