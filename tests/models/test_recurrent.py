"""The recurrent-family models (gru, fast-weights-rnn, associative-lstm): registered, built from
flat model.* settings, trained through the shared trainer on a seed-004 task and an NTM task,
and bad settings are one-line errors."""

from __future__ import annotations

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.models import MODELS, build_model
from memlab.tasks import make_task

NAMES = ["gru", "fast-weights-rnn", "associative-lstm"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("task", ["copy", "ntm-copy"])
def test_trains_through_the_run_store(tmp_path, name, task):
    from memlab.training.run import train_run

    over = {"model": MODELS[name].smoke, "task": {"train_min": 2, "train_max": 3, "test_min": 4, "test_max": 4},
            "train": {"max_epochs": 2, "batches_per_epoch": 2, "batch_size": 4, "eval_every": 1, "eval_batches": 1}}
    summary = train_run(name, task, over, seed=0, out=tmp_path, progress=False)
    assert summary["status"] == "done" and summary["epochs"] == 2


def test_settings_reach_the_core():
    spec = make_task("copy").spec
    m = build_model("fast-weights-rnn", spec, overrides={"hidden": 6, "embed": 3, "decay": 0.5, "inner_steps": 2})
    assert (m.core.H, m.core.cfg.decay, m.core.cfg.inner_steps, m.core.input_size) == (6, 0.5, 2, 3)
    a = build_model("associative-lstm", spec, overrides={"hidden": 6, "copies": 3})
    assert a.core.perms.shape == (3, 3) and a.core.output_size == 6
    g = build_model("gru", spec, overrides={"hidden": 5})
    assert g.core.output_size == 5


def test_run_seed_sets_the_weights():
    spec = make_task("copy").spec
    torch.manual_seed(1)
    a = build_model("associative-lstm", spec, overrides={"hidden": 4})
    torch.manual_seed(1)
    b = build_model("associative-lstm", spec, overrides={"hidden": 4})
    torch.manual_seed(2)
    c = build_model("associative-lstm", spec, overrides={"hidden": 4})
    assert torch.equal(a.core.W_x, b.core.W_x) and not torch.equal(a.core.W_x, c.core.W_x)


@pytest.mark.parametrize("name,over,match", [
    ("fast-weights-rnn", {"decay": 2.0}, "^model.decay=2.0 is out of range; allowed: >= 0 and <= 1"),
    ("fast-weights-rnn", {"rate": float("nan")}, "model.rate=nan is not allowed"),
    ("associative-lstm", {"copies": 0}, "^model.copies=0 is out of range; allowed: >= 1"),
    ("associative-lstm", {"hidden": 5}, "^model.hidden=5 is not allowed"),
    ("gru", {"hidden": 0}, "model.hidden=0 is out of range"),
    ("gru", {"hidden_size": 4}, "hidden_size"),
])
def test_bad_settings_are_one_line_errors(name, over, match):
    with pytest.raises(ConfigError, match=match) as e:
        build_model(name, make_task("copy").spec, overrides=over)
    assert "\n" not in str(e.value)
