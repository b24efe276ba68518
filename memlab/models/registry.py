"""The model registry: one lazy mapping name -> ``ModelEntry``.

Two sources, both keyed by file name and imported only when an entry is used:

* ``FAMILIES``: model families with a file of their own in ``memlab/models/`` (name ->
  ``"module:ATTRIBUTE"``), for models that are not controller + one memory (the LSTM
  encoder–decoder, the single-core baselines) or that keep their own file (LANTM, DNC).
* every recurrent memory of ``memlab.memory.MEMORIES`` not in ``FAMILIES``: its model is the
  composition ``memlab.models.compose.memory_model_entry(name)``.

So a new memory needs no line here: its ``MEMORIES`` line makes it a model.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any


class ModelRegistry(Mapping):
    """``name -> ModelEntry``; iterating lists names without importing any model (or torch)."""

    def __init__(self, families: dict[str, str]):
        self.families = families
        self._cache: dict[str, Any] = {}

    def _memories(self) -> dict[str, str]:
        from memlab.memory import MEMORIES  # read on every call: a registry line added later counts

        return MEMORIES

    def __iter__(self) -> Iterator[str]:
        yield from self.families
        yield from (m for m in self._memories() if m not in self.families)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return name in self.families or name in self._memories()

    def __getitem__(self, name: str):
        key = (name, self.families.get(name) or self._memories().get(name))
        if key[1] is None:
            raise KeyError(name)
        if key not in self._cache:  # keyed by the path too, so a re-pointed line is re-read
            if name in self.families:
                module, attr = self.families[name].split(":")
                self._cache[key] = getattr(importlib.import_module(module), attr)
            else:
                from memlab.models.compose import memory_model_entry

                self._cache[key] = memory_model_entry(name)
        return self._cache[key]

    def module_of(self, name: str) -> str:
        """The module that defines model ``name`` (its family file or its memory file)."""
        return self.families[name].split(":")[0] if name in self.families else self._memories()[name]
