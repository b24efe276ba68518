"""NTM and DNC task settings, as data (``memlab.experiments.hparams.paper_defaults`` reads them).

Training (``train.*`` keys of the trainer's config): RMSProp with momentum 0.9 (Graves et al.
2014) and a larger step than their 1e-4, since batches hold 32 sequences. At 1e-3 and 3e-4 copy
training reached >99% bits and then collapsed for a while (seed 0); 5e-4 with halving on a
10-epoch plateau after epoch 30 reached the target in 9,600 sequences. Checkpoints keep the best
test score anyway. Slower tasks (repeat copy, associative recall, priority sort) plateau for
long stretches before they improve: with the copy schedule a DNC on repeat copy had its step
halved down to 2e-7 within 280 epochs and stalled at 37% coarse, so they halve only after long
plateaus. The DNC takes a smaller step on repeat copy: at 5e-4 its loss reached 0.1 and then
jumped back to 0.8 twice in 150 epochs (seed 0); at 2e-4 it fell to 0.003 by epoch 350
(results/ntm/).

Model sizes: the defaults of the model configs are the papers' (LSTM controller of 100 cells,
memory 128 × 20, one read and one write head), so no task overrides them here.

``HPARAMS[model][task]`` holds ``{"model": {...}, "train": {...}}``; task ``"*"`` applies to
every task and a named task is merged over it.
"""

from __future__ import annotations

from typing import Any

#: the NTM copy schedule
NTM_TRAIN: dict[str, Any] = {"lr": 5e-4, "momentum": 0.9, "rms_alpha": 0.95, "clip_norm": 10.0, "lr_halve_after": 30,
                             "lr_patience": 10, "eval_every": 10}
#: every task but copy: halve only after long plateaus
SLOW_TASK_TRAIN: dict[str, Any] = {"lr_halve_after": 300, "lr_patience": 100}

HPARAMS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "ntm": {
        "*": {"model": {}, "train": {**NTM_TRAIN, **SLOW_TASK_TRAIN}},
        "ntm-copy": {"model": {}, "train": dict(NTM_TRAIN)},
    },
    "dnc": {
        "*": {"model": {}, "train": {**NTM_TRAIN, **SLOW_TASK_TRAIN}},
        "ntm-copy": {"model": {}, "train": dict(NTM_TRAIN)},
        "repeat-copy": {"model": {}, "train": {**NTM_TRAIN, **SLOW_TASK_TRAIN, "lr": 2e-4}},
    },
}


def paper_defaults(model: str, task: str) -> dict[str, dict[str, Any]]:
    """``{"model": {...}, "train": {...}}`` of ``model`` (ntm, dnc) on ``task``: ``"*"``, then the task's row."""
    rows = HPARAMS[model]
    out = {"model": dict(rows["*"]["model"]), "train": dict(rows["*"]["train"])}
    if task in rows:
        out["model"].update(rows[task]["model"])
        out["train"].update(rows[task]["train"])
    return out
