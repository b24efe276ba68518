"""Differentiable Neural Computer model: input encoder -> controller + ``DNCAccess`` -> readout.

The one composition of ``memlab.models.compose`` over the DNC's memory access
(``memlab.memory.dnc``). Defaults: LSTM controller of 100 cells, memory 128 × 20, one read
and one write head (the DNC paper used 4 read heads for its larger tasks; set
``read_heads``); ``kernel=fused`` (``dnc_scan``), ``reference`` for the per-step loop,
``compile=true`` for that loop through ``torch.compile``. Binary tasks feed their vectors
straight in; symbolic tasks get a 32-wide embedding unless ``embed`` is set. Per-task
training settings are data in ``memlab.experiments.hparams.ntm``.

Old run configs (``controller``, ``controller_size``, ``memory_size``, ``word_size``,
``read_heads``, ``write_heads``, ``clip``, ``embed``; ``controller=ff``) load unchanged.
"""

from __future__ import annotations

from memlab.models.compose import memory_model_entry

ENTRY = memory_model_entry("dnc")
DNCModelConfig = ENTRY.config_cls  # flat model.* config: composition settings + DNCConfig

__all__ = ["ENTRY", "DNCModelConfig"]
