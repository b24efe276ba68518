"""Controllers: recurrent cores usable as ``MemoryCore``. ``CONTROLLERS`` is the registry:
name -> (config class, core class); build one with ``make_controller(name, **cfg)``."""

from __future__ import annotations

from typing import Any

from memlab.core.errors import ConfigError
from memlab.controllers.elman import ElmanConfig, ElmanCore
from memlab.controllers.lstm import LSTMCore, LSTMCoreConfig

CONTROLLERS: dict[str, tuple[type, type]] = {
    "elman": (ElmanConfig, ElmanCore),
    "lstm": (LSTMCoreConfig, LSTMCore),
}


def make_controller(name: str, **cfg: Any):
    """Build controller ``name`` from config keys (unknown keys and bad values are ConfigErrors)."""
    from memlab.core.config import from_dict

    if name not in CONTROLLERS:
        raise ConfigError(f"unknown controller {name!r}; choose one of {', '.join(CONTROLLERS)}")
    cfg_cls, core_cls = CONTROLLERS[name]
    return core_cls(from_dict(cfg_cls, cfg, prefix=f"{name}."))


__all__ = ["CONTROLLERS", "make_controller", "ElmanCore", "ElmanConfig", "LSTMCore", "LSTMCoreConfig"]
