"""Neural Turing Machine model: the composition (``memlab.models.compose``) of a controller
(LSTM by default, ``model.controller``) and the NTM access (``memlab.memory.ntm``).

Registered through ``memlab.memory.MEMORIES["ntm"]``; this file only keeps the names other code
imported from it: ``NTMModelConfig`` (alias ``NTMConfig``), ``build``, ``resolve_embed``,
``train_defaults`` (from ``memlab.experiments.hparams.ntm``) and ``ENTRY``.
Defaults are the NTM copy setup of Graves et al. 2014 (LSTM controller of 100 cells, memory
128 × 20, one read and one write head, shifts −1..1) with Collier & Beel's (2018) constant
memory initialisation; binary tasks feed their vectors straight in (``embed`` None), symbolic
tasks get a 32-wide token embedding unless ``embed`` is set.
"""

from __future__ import annotations

from memlab.models import MODELS
from memlab.models.compose import SYMBOLIC_EMBED, resolve_embed

ENTRY = MODELS["ntm"]  # the registry's own entry (one config class)
NTMModelConfig = NTMConfig = ENTRY.config_cls  # the flat model.* config: composition + memlab.memory.ntm.NTMConfig
build = ENTRY.build


def train_defaults(task: str) -> dict:
    """The NTM's training settings on ``task`` (``memlab.experiments.hparams.ntm``)."""
    return ENTRY.train_defaults(task)


__all__ = ["ENTRY", "NTMConfig", "NTMModelConfig", "SYMBOLIC_EMBED", "build", "resolve_embed", "train_defaults"]
