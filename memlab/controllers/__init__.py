"""Controllers: recurrent (or feed-forward) cores that read x_t, and, inside a memory
composition, x_t concatenated with the previous reads r_{t−1}.

``CONTROLLERS`` is the registry, keyed by file name: name -> module path. Each module
defines ``CONFIG`` (its typed config dataclass, with ``input_size`` and ``hidden_size``) and
``CORE`` (a ``MemoryCore``: ``initial_state(B, device)``, ``forward(x_t, state)``,
``output_size``). Modules are imported on first use, so importing this package is light.

    lstm         THE LSTM (PyTorch gate order i, f, g, o; seed-002 variants as settings)
    gru          GRU (Cho et al. 2014; PyTorch's equations)
    elman        Elman RNN (seed 001)
    feedforward  one tanh layer (the NTM's feed-forward controller)
    esn          echo state network: fixed random reservoir, trained linear readout (Jaeger 2001)
    lsm          liquid state machine: fixed LIF liquid, trained readout of filtered spikes (Maass et al. 2002)
"""

from __future__ import annotations

import importlib
from typing import Any

from memlab.core.errors import ConfigError

CONTROLLERS: dict[str, str] = {
    "lstm": "memlab.controllers.lstm",
    "gru": "memlab.controllers.gru",
    "elman": "memlab.controllers.elman",
    "feedforward": "memlab.controllers.feedforward",
    "esn": "memlab.controllers.esn",
    "lsm": "memlab.controllers.lsm",
}

#: old spellings accepted when read from a config (the NTM called its feed-forward controller "ff")
ALIASES: dict[str, str] = {"ff": "feedforward"}


def controller_module(name: str):
    """The module of controller ``name`` (aliases resolved); ConfigError naming the allowed ones."""
    name = ALIASES.get(name, name)
    if name not in CONTROLLERS:
        raise ConfigError(f"unknown controller {name!r}; choose one of {', '.join(CONTROLLERS)}")
    return importlib.import_module(CONTROLLERS[name])


def make_controller(name: str, **cfg: Any):
    """Build controller ``name`` from config keys (unknown keys and bad values are ConfigErrors).

    Every controller takes ``input_size`` and ``hidden_size``; the rest are its own settings.
    """
    from memlab.core.config import from_dict

    mod = controller_module(name)
    return mod.CORE(from_dict(mod.CONFIG, cfg, prefix=f"{ALIASES.get(name, name)}."))


_LAZY = {
    "ElmanCore": "elman", "ElmanConfig": "elman", "LSTMCore": "lstm", "LSTMCoreConfig": "lstm",
    "GRUCore": "gru", "GRUConfig": "gru", "FeedForwardCore": "feedforward", "FeedForwardConfig": "feedforward",
    "ESNCore": "esn", "ESNConfig": "esn", "LSMCore": "lsm", "LSMConfig": "lsm",
}


def __getattr__(attr: str):  # the classes, imported on use (PEP 562)
    if attr in _LAZY:
        return getattr(importlib.import_module(CONTROLLERS[_LAZY[attr]]), attr)
    raise AttributeError(f"module 'memlab.controllers' has no attribute {attr!r}")


__all__ = ["CONTROLLERS", "ALIASES", "controller_module", "make_controller", *_LAZY]
