"""Every registered model computes the same thing on every device: built once on the CPU in
float64, copied to the device, the forward outputs, the task loss and every parameter gradient
agree with the CPU's. On a machine without CUDA the CUDA cases skip and the CPU-to-CPU case
still checks the harness (a copy must agree with itself). One short training run per family
goes through the shared trainer on the device and checks its record names that device."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from memlab.models import MODELS, build_model
from tests.test_registry_smoke import _compatible_task

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _float64(batch):
    return type(batch)(*(x.double() if x.is_floating_point() else x for x in batch))


def _outputs_and_grads(model, task, batch):
    model.zero_grad(set_to_none=True)
    out = model(batch)
    loss = task.loss(out, batch)
    loss.backward()
    grads = {n: (p.grad.detach().cpu() if p.grad is not None else None) for n, p in model.named_parameters()}
    return out.detach().cpu(), loss.detach().cpu(), grads


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("model_name", list(MODELS))
def test_model_agrees_across_devices(model_name, device):
    torch.manual_seed(0)
    task = _compatible_task(model_name)
    cpu_model = build_model(model_name, task.spec, overrides=MODELS[model_name].smoke).double()
    cpu_model.train()  # the training path (cuDNN's RNN backward needs it); no smoke model draws noise in it
    lo = task.train_range[0]
    batch = _float64(task.sample_range(3, lo, lo + 2 * task.length_multiple, torch.Generator().manual_seed(0)))
    dev_model = copy.deepcopy(cpu_model).to(device)
    out_c, loss_c, g_c = _outputs_and_grads(cpu_model, task, batch)
    out_d, loss_d, g_d = _outputs_and_grads(dev_model, task, batch.to(device))
    assert next(dev_model.parameters()).device.type == device
    assert out_d.dtype == torch.float64 and out_d.shape == out_c.shape
    torch.testing.assert_close(out_d, out_c, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(loss_d, loss_c, rtol=1e-7, atol=1e-9)
    assert g_c.keys() == g_d.keys()
    for name in g_c:
        assert (g_c[name] is None) == (g_d[name] is None), name
        if g_c[name] is not None:
            torch.testing.assert_close(g_d[name], g_c[name], rtol=1e-6, atol=1e-8, msg=lambda m: f"{name}: {m}")


@needs_cuda
@pytest.mark.parametrize("model_name", ["lstm", "lantm-invnorm", "ntm", "dnc", "stack-rnn", "esn"])
def test_training_run_on_cuda(tmp_path, model_name):
    """A whole run through the shared trainer on CUDA: finishes, checkpoints, and its record
    says where it ran; the checkpoint loads back on the CPU."""
    import json

    from memlab.training.run import train_run

    task = _compatible_task(model_name).spec.name
    over = {"model": MODELS[model_name].smoke,
            "train": {"max_epochs": 2, "batches_per_epoch": 2, "batch_size": 4, "eval_every": 1, "eval_batches": 1}}
    summary = train_run(model_name, task, over, seed=0, out=tmp_path, progress=False, device="cuda")
    assert summary["status"] == "done" and summary["epochs"] == 2
    run_dir = Path(summary["run_dir"])
    assert json.loads((run_dir / "config.json").read_text())["device"] == "cuda"
    for name in ("best.pt", "last.pt"):
        state = torch.load(run_dir / "checkpoints" / name, map_location="cpu", weights_only=True)
        assert state, name
