"""Per-model hyperparameters are data (memlab.experiments.hparams) and the entries read them."""

import pytest

from memlab.experiments.hparams import paper_defaults
from memlab.experiments.hparams.ntm import NTM_TRAIN
from memlab.models import MODELS


def test_ntm_and_dnc_task_settings():
    assert paper_defaults("ntm", "ntm-copy")["train"] == NTM_TRAIN
    rc = paper_defaults("ntm", "repeat-copy")["train"]
    assert rc["lr"] == 5e-4 and rc["lr_halve_after"] == 300 and rc["lr_patience"] == 100
    assert paper_defaults("dnc", "ntm-copy") == paper_defaults("ntm", "ntm-copy")
    assert paper_defaults("dnc", "repeat-copy")["train"]["lr"] == 2e-4


@pytest.mark.parametrize("model, task", [("ntm", "ntm-copy"), ("ntm", "priority-sort"), ("elman", "copy"),
                                         ("lstm-cell", "copy"), ("lstm", "double"), ("lstm", "copy")])
def test_entries_read_their_defaults_from_hparams(model, task):
    entry = MODELS[model]
    d = paper_defaults(model, task)
    assert entry.train_defaults(task) == d["train"] and entry.model_defaults(task) == d["model"]


def test_baselines_and_unknown_models():
    assert paper_defaults("elman", "copy")["train"] == {"lr": 1e-3}
    assert paper_defaults("lstm-cell", "copy")["train"] == {"lr": 2e-3}
    assert paper_defaults("lstm", "double")["model"]["embed"] == 64 and paper_defaults("lstm", "copy")["train"]["lr"] == 2e-4
    assert paper_defaults("my-new-memory", "copy") == {"model": {}, "train": {}}  # the trainer's defaults
