"""LANTM training-step speed: the fused kernel (``memlab.memory.kernels.lantm_scan``) against the
composed per-step reference (``lantm_scan_ref``: THE controller LSTM + Lie access), side by side.

One training step = forward + backward + gradient clipping + RMSProp step of the whole
LANTM-InvNorm model (seed 004 Table 2 copy sizes: 50 cells, embedding 7, memory width 20; the
default reading, ``model.preset=reproduce``: read before write, no writes while answering, one
initial slot, gated read to the output) on one batch of B = 32 copies of length 64 (T = 130
steps). One CPU thread. Both kernels start from the same weights and train on the same batch;
they are timed in interleaved rounds (each round: ``fused_per_round`` fused steps, then one
reference step) so load changes on a shared machine hit both alike. Reported: medians (and the
minimum CPU time, the figure least disturbed by other processes) of wall and process CPU time
per step, their ratios, the 1-minute load average at the start and end, and which step loops the
fused kernel ran (``fused_loops``: the C++ loops of ``memlab/memory/kernels/csrc/lantm_scan.cpp``
where they are built, else TorchScript or plain Python; ``MEMLAB_NO_CPP=1`` turns the C++ off).

Issue 14 targets: ≤ 30 ms CPU per fused step and ≥ 4× the reference in the same run; an
evaluation (``no_grad``) at 8x length (copy of 512, T = 1026, B = 32) within 100 MB above the
model. Memory is the peak resident set of a fresh Python process (``VmHWM``) above its
resident set just before the measured call, with glibc told to return big blocks to the
system on free so the peak follows the live tensors; the first call of each kind is made
before (lazy initialisation, optimiser state).

    python -m benchmarks.lantm_step          # or: memlab bench lantm-step --json
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

B, LENGTH, EVAL_LENGTH = 32, 64, 512


def _model(kernel: str, device: str, task_len: int):
    from memlab.models import build_model
    from memlab.tasks import make_task

    task = make_task("copy", {"train_min": task_len, "train_max": task_len})
    torch.manual_seed(0)
    model = build_model("lantm-invnorm", task.spec, "copy", {"kernel": kernel}).to(device)
    return task, model


class _Stepper:
    """One model, its optimiser and a fixed batch; ``step`` is one timed training step."""

    def __init__(self, kernel: str, device: str, length: int = LENGTH, batch: int = B):
        self.device = device
        self.task, self.model = _model(kernel, device, length)
        self.opt = torch.optim.RMSprop(self.model.parameters(), lr=1e-2, alpha=0.99, momentum=0.0, eps=1e-6)
        self.batch = self.task.sample(batch, length, torch.Generator().manual_seed(0)).to(device)

    def step(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss = self.task.loss(self.model(self.batch), self.batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 32.0)
        self.opt.step()

    def timed(self) -> tuple[float, float]:
        """(wall, CPU) seconds of one step."""
        if self.device != "cpu":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        self.step()
        if self.device != "cpu":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, time.process_time() - c0


def _interleaved(device: str, rounds: int, per_round: int) -> dict[str, list[tuple[float, float]]]:
    steppers = {"fused": _Stepper("fused", device), "reference": _Stepper("reference", device)}
    for st in steppers.values():  # warm-up: lazy initialisation, optimiser state
        st.step()
        st.step()
    out: dict[str, list[tuple[float, float]]] = {"fused": [], "reference": []}
    for _ in range(rounds):
        for _ in range(per_round):
            out["fused"].append(steppers["fused"].timed())
        out["reference"].append(steppers["reference"].timed())
    return out


def _agreement(device: str) -> float:
    """Largest |fused − reference| over the outputs of one forward pass from the same weights (float32)."""
    task, model = _model("fused", device, LENGTH)
    batch = task.sample(B, LENGTH, torch.Generator().manual_seed(2)).to(device)
    with torch.no_grad():
        x = model.encoder(batch.inputs)
        mask = model.write_mask(batch, x.shape[0])
        a, _, _ = model.core.run(x, kernel="fused", write_mask=mask)
        b, _, _ = model.core.run(x, kernel="reference", write_mask=mask)
    return float((a - b).abs().max())


_PEAK_CHILD = r"""
import gc, json, resource, sys, time
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from benchmarks.lantm_step import _Stepper
what, device = sys.argv[2], "cpu"
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
if what == "train":
    st = _Stepper("fused", device)
    st.step()  # optimiser state, lazy initialisation
    call = st.step
else:
    st = _Stepper("fused", device, length=int(what), batch=32)
    def call():
        with torch.no_grad():
            out = st.model(st.batch)
        assert torch.isfinite(out).all()
    with torch.no_grad():
        st.model(_Stepper("fused", device, length=4, batch=32).batch)  # lazy initialisation
model_mb = sum(p.numel() * p.element_size() for p in st.model.parameters()) / 2**20
gc.collect()
base = rss_mb()
t0, c0 = time.perf_counter(), time.process_time()
call()
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
with open("/proc/self/status") as f:  # VmHWM: this process's own peak
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
print(json.dumps({"peak_above_mb": round(peak - base, 1), "model_mb": round(model_mb, 3), "base_rss_mb": round(base, 1),
                  "T": int(st.batch.inputs.shape[0]), "wall_ms": round(1000 * wall, 1), "cpu_ms": round(1000 * cpu, 1)}))
"""


def _peak_memory(what: str) -> dict:
    """Peak RSS above the model of one fused training step ("train") or one no_grad evaluation of
    copies of length ``what``, in a fresh process."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    res = subprocess.run([sys.executable, "-c", _PEAK_CHILD, root, what], capture_output=True, text=True, env=env,
                         cwd=root, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def run(quick: bool = False, device: str = "cpu") -> dict:
    """Fused vs reference training steps, interleaved; memory of a training step and an 8x evaluation."""
    from memlab.memory.kernels.lantm_scan import loop_kind

    load0 = os.getloadavg()[0]
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rounds, per_round = (3, 2) if quick else (15, 3)
    try:
        t = _interleaved(device, rounds, per_round)
        max_abs = _agreement(device)
    finally:
        torch.set_num_threads(prev_threads)
    med = {k: (1000 * statistics.median(w for w, _ in v), 1000 * statistics.median(c for _, c in v)) for k, v in t.items()}
    cpu_min = {k: 1000 * min(c for _, c in v) for k, v in t.items()}
    out = {
        "benchmark": "lantm_step",
        "what": "ms per training step (forward+backward+clip+RMSProp), LANTM-InvNorm copy sizes, preset reproduce",
        "timing": "medians over interleaved rounds (fused_per_round fused steps, then one reference step, per round)",
        "batch": B,
        "steps_T": 2 * LENGTH + 2,
        "rounds": rounds,
        "fused_per_round": per_round,
        "fused_ms": round(med["fused"][0], 2),
        "fused_cpu_ms": round(med["fused"][1], 2),
        "fused_cpu_ms_min": round(cpu_min["fused"], 2),
        "reference_ms": round(med["reference"][0], 2),
        "reference_cpu_ms": round(med["reference"][1], 2),
        "reference_cpu_ms_min": round(cpu_min["reference"], 2),
        "speedup": round(med["reference"][0] / med["fused"][0], 2),
        "cpu_speedup": round(med["reference"][1] / med["fused"][1], 2),
        "target_cpu_ms": 30.0,
        "target_speedup": 4.0,
        "fused_vs_reference_max_abs": float(f"{max_abs:.3g}"),
        "fused_loops": loop_kind(device),  # the fused kernel's step loops: cpp, torchscript or python
    }
    if device == "cpu":
        train = _peak_memory("train")
        ev = _peak_memory(str(EVAL_LENGTH if not quick else 128))
        out.update(train_peak_mb=train["peak_above_mb"], model_mb=train["model_mb"],
                   eval_nograd_length=EVAL_LENGTH if not quick else 128, eval_nograd_T=ev["T"],
                   eval_nograd_ms=ev["wall_ms"], eval_nograd_cpu_ms=ev["cpu_ms"], eval_nograd_peak_mb=ev["peak_above_mb"],
                   target_eval_peak_mb=100.0,
                   memory="peak RSS above the built model, fresh process: one fused training step (B=32, T=130); "
                          "one no_grad evaluation of copies of length eval_nograd_length (B=32)")
    from memlab.core.runtime import malloc_keeps_freed_memory

    # whether the fused kernel's first call told glibc to keep freed memory (both kernels then run with it)
    out["malloc_keeps_freed_memory"] = malloc_keeps_freed_memory()
    out.update(load_avg_1m_start=round(load0, 2), load_avg_1m=round(os.getloadavg()[0], 2), threads=1, device=device,
               quick=quick, torch=torch.__version__, python=sys.version.split()[0],
               machine=f"{platform.machine()} {platform.processor() or platform.node()}")
    return out


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
