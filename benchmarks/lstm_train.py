"""Training throughput of the LSTM baseline (seed 004: 4 x 256, copy lengths 2-64, batch 32).

Measures sequences/s of full training steps (forward, backward, RMSProp step) for the fused
``nn.LSTM`` model against a reference that steps ``nn.LSTMCell`` layers in Python, with the
same weights and the same batches, in one run.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from memlab.core.runtime import make_generator, resolve_device, seed_everything
from memlab.models import build_model
from memlab.tasks import make_task


class _CellLoop(nn.Module):
    """Reference: the same stacked LSTM stepped cell by cell in Python."""

    def __init__(self, fused):
        super().__init__()
        self.fused = fused
        lstm = fused.encoder
        self.cells = nn.ModuleList()
        for layer in range(lstm.num_layers):
            cell = nn.LSTMCell(lstm.input_size if layer == 0 else lstm.hidden_size, lstm.hidden_size)
            cell.weight_ih = getattr(lstm, f"weight_ih_l{layer}")
            cell.weight_hh = getattr(lstm, f"weight_hh_l{layer}")
            cell.bias_ih = getattr(lstm, f"bias_ih_l{layer}")
            cell.bias_hh = getattr(lstm, f"bias_hh_l{layer}")
            self.cells.append(cell)

    def forward(self, batch):
        f = self.fused
        x = f.encoder_in(batch.inputs)  # (T, B, E)
        B = x.shape[1]
        h = [f.h0[i].expand(B, -1) for i in range(len(self.cells))]
        c = [f.c0[i].expand(B, -1) for i in range(len(self.cells))]
        ys = []
        for t in range(x.shape[0]):
            inp = x[t]
            for i, cell in enumerate(self.cells):
                h[i], c[i] = cell(inp, (h[i], c[i]))
                inp = h[i]
            ys.append(inp)
        return f.readout(torch.stack(ys))  # (T, B, V)


def _time_steps(model, task, batches, device, opt) -> float:
    t0 = time.perf_counter()
    for b in batches:
        b = b.to(device)
        loss = task.loss(model(b), b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def run(quick: bool = False, device: str = "cpu") -> dict:
    dev = resolve_device(device)
    seed_everything(0)
    task = make_task("copy")
    fused = build_model("lstm", task.spec).to(dev)
    ref = _CellLoop(fused).to(dev)
    n = 3 if quick else 10
    gen = make_generator(0, 1)
    batches = [task.sample_range(32, 2, 64, gen) for _ in range(n)]
    opt = torch.optim.RMSprop(fused.parameters(), lr=2e-4, momentum=0.95)
    _time_steps(fused, task, batches[:1], dev, opt)  # warm-up
    t_fused = _time_steps(fused, task, batches, dev, opt)
    t_ref = _time_steps(ref, task, batches, dev, opt)
    mean_T = sum(b.inputs.shape[0] for b in batches) / n
    return {
        "model": "lstm 4x256 (seed 004 Table 2)",
        "batch": 32,
        "steps": n,
        "mean_padded_T": round(mean_T, 1),
        "fused_seq_per_s": round(32 * n / t_fused, 1),
        "cell_loop_seq_per_s": round(32 * n / t_ref, 1),
        "fused_ms_per_step": round(1000 * t_fused / n, 1),
        "cell_loop_ms_per_step": round(1000 * t_ref / n, 1),
        "speedup": round(t_ref / t_fused, 2),
        "n_params": sum(p.numel() for p in fused.parameters()),
    }
