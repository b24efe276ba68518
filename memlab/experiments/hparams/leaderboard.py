"""Leaderboard settings as data: the one protocol every cell shares, and the training settings of
the model families no paper table covers.

A cell's settings, last wins: the model entry's per-task defaults (seed 004 Table 2, ntm.py,
``BASELINES``: ``paper_defaults``) or, for a model with none, ``FAMILY_TRAIN`` here; then
``PROTOCOL`` (what makes cells comparable: evaluation cadence, the target, the budget); then the
leaderboard config's ``model``/``train`` overrides.

Nothing here imports torch or the model registry.
"""

from __future__ import annotations

from typing import Any

#: training settings of a model whose entry has no per-task table: Adam at 1e-3 with clipping,
#: no plateau halving (the automata suite's protocol, which trains every memory family there)
DEFAULT_TRAIN: dict[str, Any] = {"optimizer": "adam", "lr": 1e-3, "clip_norm": 1.0, "clip_value": 0.0,
                                 "plateau_halving": False, "lr_halve_after": 0, "lr_decay": 1.0}

#: per-family rows over DEFAULT_TRAIN (model name -> train.* settings); empty rows are not needed
FAMILY_TRAIN: dict[str, dict[str, Any]] = {
    # reservoirs train their readout only: a larger step is safe and the budget is short
    "esn": {"lr": 3e-3},
    "lsm": {"lr": 3e-3},
}

#: the protocol of every cell (``train.*``): short epochs of two batches, so the wall budget is
#: checked every two steps (the trainer checks it between epochs) even for the slowest models; a
#: test evaluation every 5 epochs (320 sequences at batch size 32) on one batch, so
#: ``sequences_to_target`` has the same resolution for every model; a checkpoint every 5 epochs
PROTOCOL: dict[str, Any] = {"batches_per_epoch": 2, "eval_every": 5, "eval_batches": 1, "checkpoint_every": 5}


def family_train(model: str, has_table: bool) -> dict[str, Any]:
    """``train.*`` defaults of ``model`` in the leaderboard: {} where its entry has a per-task table
    (``has_table``), else DEFAULT_TRAIN with the family's row."""
    if has_table:
        return {}
    return {**DEFAULT_TRAIN, **FAMILY_TRAIN.get(model, {})}
