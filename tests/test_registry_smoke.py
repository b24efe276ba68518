"""One smoke test over every registry entry: every model runs forward/backward on a
compatible task at its own tiny sizes (``ModelEntry.smoke``), and its outputs have the task's
shape; every task runs through a model."""

import pytest
import torch

from memlab.models import MODELS, build_model
from memlab.tasks import TASKS, make_task


def _compatible_task(model_name):
    for name in TASKS:
        t = make_task(name)
        try:
            build_model(model_name, t.spec, overrides=MODELS[model_name].smoke)
            return t
        except (ValueError, TypeError):
            continue
    pytest.fail(f"no task builds {model_name}")


def smoke_model(model_name: str) -> None:
    """Build ``model_name`` at its smoke sizes on a compatible task; forward, loss, backward, finite."""
    torch.manual_seed(0)
    task = _compatible_task(model_name)
    model = build_model(model_name, task.spec, overrides=MODELS[model_name].smoke)
    lo = task.train_range[0]
    batch = task.sample_range(3, lo, lo + 2 * task.length_multiple, torch.Generator().manual_seed(0))
    out = model(batch)
    assert out.shape[:2] == batch.targets.shape[:2] and out.shape[-1] == task.spec.output_size
    loss = task.loss(out, batch)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(g is None or torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("model_name", list(MODELS))
def test_every_model_forward_backward(model_name):
    smoke_model(model_name)


@pytest.mark.parametrize("model_name", list(MODELS))
def test_smoke_sizes_are_valid_settings(model_name):
    """An entry's smoke sizes are keys of its own config (a misspelt key is an error, not ignored)."""
    from memlab.core.config import from_dict

    entry = MODELS[model_name]
    from_dict(entry.config_cls, entry.smoke, prefix="model.")


@pytest.mark.parametrize("task_name", list(TASKS))
def test_every_task_runs_through_a_model(task_name):
    task = make_task(task_name)
    model = build_model("lstm", task.spec, overrides={"hidden": 8, "layers": 1, "embed": 4})
    batch = task.sample_range(2, *task.train_range, torch.Generator().manual_seed(0))
    counts = task.score(model(batch), batch)
    assert counts.seqs_total == 2
