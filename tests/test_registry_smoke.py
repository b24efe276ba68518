"""One smoke test over every registry entry: every model runs forward/backward on a
compatible task at tiny sizes, and its outputs have the task's shape."""

import pytest
import torch

from memlab.models import MODELS, build_model
from memlab.tasks import TASKS, make_task

SMALL = {"hidden": 8, "controller_size": 8, "layers": 1, "embed": 4, "memory_width": 4, "memory_size": 8, "word_size": 4, "mem_width": 4}


def _small_overrides(entry):
    import dataclasses

    names = {f.name for f in dataclasses.fields(entry.config_cls)}
    return {k: v for k, v in SMALL.items() if k in names}


def _compatible_task(model_name):
    for name in TASKS:
        t = make_task(name)
        try:
            build_model(model_name, t.spec, overrides=_small_overrides(MODELS[model_name]))
            return t
        except (ValueError, TypeError):
            continue
    pytest.fail(f"no task builds {model_name}")


@pytest.mark.parametrize("model_name", list(MODELS))
def test_every_model_forward_backward(model_name):
    torch.manual_seed(0)
    task = _compatible_task(model_name)
    model = build_model(model_name, task.spec, overrides=_small_overrides(MODELS[model_name]))
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


@pytest.mark.parametrize("task_name", list(TASKS))
def test_every_task_runs_through_a_model(task_name):
    task = make_task(task_name)
    model = build_model("lstm", task.spec, overrides={"hidden": 8, "layers": 1, "embed": 4})
    batch = task.sample_range(2, *task.train_range, torch.Generator().manual_seed(0))
    counts = task.score(model(batch), batch)
    assert counts.seqs_total == 2
