"""Differentiable Neural Computer model: the composition (``memlab.models.compose``) of a
controller (LSTM by default, ``model.controller``) and the DNC access (``memlab.memory.dnc``).

Registered through ``memlab.memory.MEMORIES["dnc"]``; this file only keeps the names other code
imported from it: ``DNCModelConfig`` (alias ``DNCConfig``), ``build``, ``train_defaults`` (from
``memlab.experiments.hparams.ntm``) and ``ENTRY``. Defaults: LSTM controller of 100 cells,
memory 128 × 20, one read and one write head (the DNC paper used 4 read heads for its larger
tasks; set ``read_heads``); ``kernel=fused`` (``dnc_scan``), ``reference`` for the per-step
loop, ``compile=true`` for that loop through ``torch.compile``. Binary tasks feed their
vectors straight in; symbolic tasks get a 32-wide embedding unless ``embed`` is set.

Old run configs (``controller``, ``controller_size``, ``memory_size``, ``word_size``,
``read_heads``, ``write_heads``, ``clip``, ``embed``; ``controller=ff``) load unchanged, and
old checkpoints through ``DNCAccess.upgrade_state_dict``.
"""

from __future__ import annotations

from memlab.models import MODELS

ENTRY = MODELS["dnc"]  # the registry's own entry (one config class)
DNCModelConfig = DNCConfig = ENTRY.config_cls  # the flat model.* config: composition + memlab.memory.dnc.DNCConfig
build = ENTRY.build


def train_defaults(task: str) -> dict:
    """The DNC's training settings on ``task`` (``memlab.experiments.hparams.ntm``)."""
    return ENTRY.train_defaults(task)


__all__ = ["ENTRY", "DNCConfig", "DNCModelConfig", "build", "train_defaults"]
