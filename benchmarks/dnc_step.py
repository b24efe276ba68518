"""DNC training-step speed and memory: the fused kernel against the eager reference, two size sets.

One training step = forward + backward + gradient-norm clipping + RMSProp step (the trainer's
NTM copy settings, ``memlab.experiments.hparams.ntm``) of the DNC (``memlab.models.dnc``) on a
batch of 32 copy sequences (8-bit ``ntm-copy``) whose lengths are drawn uniformly from 8–20
(T = 2L + 1 steps per batch). Two size sets:

* ``public`` — the sizes of a popular public PyTorch DNC: LSTM 64, memory 16 × 16, 4 read heads;
* ``memlab`` — memlab's defaults: LSTM 100, memory 128 × 20, 1 read head.

The same fixed list of batches is timed for

* ``reference`` — ``model.kernel=reference``: the composed per-step loop (controller ``forward``
  then ``DNCAccess.forward``) under autograd, the input of every kernel test;
* ``fused``     — the default ``model.kernel=fused``: ``dnc_scan``, one hand-written autograd
  node for the whole sequence (memlab/memory/kernels/dnc_scan.py), its loops in C++ where they
  build (``fused_loops``: "cpp", or "python" for its Python loops);
* ``compiled``  — ``model.compile=true``: ``dnc_scan`` with its pure step functions
  (``_fwd_step``, ``_bwd_step``) through ``torch.compile``; compilation (minutes on a loaded
  CPU) is reported separately and excluded from the rate. Skipped with ``quick``.

Outputs are checked to agree with the reference on one batch before timing. Implementations
are timed in interleaved rounds (one pass over the batches each per round) and the median pass
is reported, so a change of machine load hits every implementation alike; process CPU time
(``*_cpu_s``) sits beside wall time, and ``load_avg_1m`` (at the start and the end) says how
busy the machine was. One CPU thread.

Memory: the peak resident memory of one training step at the memlab sizes, B = 32, L = 20
(T = 41), above the resident memory once the model, its optimiser state and a warm-up step at
L = 1 exist, measured per implementation in a fresh Python process (``*_peak_mb``).

    python -m benchmarks.dnc_step          # or: memlab bench dnc-step --json
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import torch

SIZES: dict[str, dict] = {
    "public": {"controller_size": 64, "memory_size": 16, "word_size": 16, "read_heads": 4},
    "memlab": {"controller_size": 100, "memory_size": 128, "word_size": 20, "read_heads": 1},
}
LENGTHS = (8, 20)
BATCH = 32
TARGET_CPU_SPEEDUP = 4.0  # issue 14: fused or compiled >= 4x the eager reference in CPU time, both size sets
TARGET_PEAK_MB = 150.0  # … and a training step at memlab sizes, B = 32, L = 20, <= 150 MB above the model


def _setup(sizes: dict, impl: str, device: str):
    from memlab.models import build_model
    from memlab.tasks import make_task

    task = make_task("ntm-copy")
    torch.manual_seed(0)
    kernel = "reference" if impl == "reference" else "fused"
    # model.compile reaches the kernel (the composition passes it to fused_sequence as ``compile``)
    cfg = {**sizes, "kernel": kernel, "compile": impl == "compiled"}
    return task, build_model("dnc", task.spec, "ntm-copy", cfg).to(device)


def _batches(task, n: int, device: str, lengths=LENGTHS):
    g = torch.Generator().manual_seed(0)
    return [task.sample_range(BATCH, lengths[0], lengths[1], g).to(device) for _ in range(n)]


class _Stepper:
    """One implementation with its own model (same initial weights) and RMSProp state."""

    def __init__(self, sizes: dict, impl: str, device: str):
        from memlab.models import MODELS
        from memlab.training.trainer import TrainConfig

        self.device = device
        self.task, self.model = _setup(sizes, impl, device)
        self.tr = tr = TrainConfig(**MODELS["dnc"].train_defaults("ntm-copy"))
        self.opt = torch.optim.RMSprop(self.model.parameters(), lr=tr.lr, alpha=tr.rms_alpha, eps=tr.rms_eps,
                                       momentum=tr.momentum)

    def step(self, batch) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss = self.task.loss(self.model(batch), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tr.clip_norm)
        self.opt.step()

    def timed(self, batches) -> tuple[float, float]:
        """(wall s, process CPU s) of one pass of training steps over ``batches``."""
        if self.device != "cpu":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        for b in batches:
            self.step(b)
        if self.device != "cpu":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, time.process_time() - c0


def _time_interleaved(sizes: dict, impls: list[str], batches, device: str, rounds: int) -> dict:
    """Median wall and CPU time per pass for each implementation, the passes interleaved."""
    steppers = {impl: _Stepper(sizes, impl, device) for impl in impls}
    warm = {}
    for impl, st in steppers.items():
        t0 = time.perf_counter()
        for b in batches[: 3 if impl == "compiled" else 1]:  # compiled: every distinct T compiles nothing new
            st.step(b)
        warm[impl] = time.perf_counter() - t0
    walls: dict[str, list[float]] = {i: [] for i in impls}
    cpus: dict[str, list[float]] = {i: [] for i in impls}
    for _ in range(rounds):
        for impl, st in steppers.items():
            w, c = st.timed(batches)
            walls[impl].append(w)
            cpus[impl].append(c)
    n_seq = sum(b.inputs.shape[1] for b in batches)
    return {impl: {"seq_per_s": n_seq / statistics.median(walls[impl]), "cpu_s": statistics.median(cpus[impl]),
                   "wall_s": statistics.median(walls[impl]), "warmup_s": warm[impl]} for impl in impls}


def _agreement(sizes: dict, device: str, impls: list[str]) -> dict:
    """Max |difference| of each implementation's outputs from the reference on one batch."""
    task, model = _setup(sizes, "reference", device)
    batch = _batches(task, 1, device)[0]
    out = {}
    with torch.no_grad():
        ref = model(batch)
        for impl in impls:
            if impl == "reference":
                continue
            model.core.kernel, model.core.compile = "fused", impl == "compiled"
            out[f"{impl}_vs_reference_max_abs"] = float(f"{float((model(batch) - ref).abs().max()):.2e}")
    return out


_PEAK_CHILD = r"""
import gc, json, resource, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from benchmarks.dnc_step import _Stepper, _batches
sizes, impl = json.loads(sys.argv[2]), sys.argv[3]
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
st = _Stepper(sizes, impl, "cpu")
model_mb = sum(p.numel() * p.element_size() for p in st.model.parameters()) / 2**20
st.step(_batches(st.task, 1, "cpu", (1, 1))[0])  # optimiser state, lazy initialisation
batch = _batches(st.task, 1, "cpu", (20, 20))[0]
gc.collect()
base = rss_mb()
st.step(batch)
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak over fork + exec)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
print(json.dumps({"peak_above_mb": round(peak - base, 1), "model_mb": round(model_mb, 2), "base_rss_mb": round(base, 1)}))
"""


def _peak_memory(sizes: dict, impl: str) -> dict:
    """Peak RSS of one training step (B = 32, L = 20) above the built model, in a fresh process."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # big blocks straight from mmap and back on free, so the resident peak follows the live tensors
    # (glibc's adaptive threshold otherwise keeps freed blocks in the heap and the peak drifts)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    res = subprocess.run([sys.executable, "-c", _PEAK_CHILD, root, json.dumps(sizes), impl], capture_output=True,
                         text=True, env=env, cwd=root, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def run(quick: bool = False, device: str = "cpu") -> dict:
    """Sequences/s and CPU time of DNC copy training steps, reference vs fused (vs compiled), at
    the public DNC's and memlab's sizes; peak memory of a training step at memlab's sizes."""
    load0 = os.getloadavg()[0]
    impls = ["reference", "fused"] + ([] if quick else ["compiled"])
    n, rounds = (2, 2) if quick else (6, 5)
    out: dict = {
        "benchmark": "dnc_step",
        "what": "DNC copy training steps (fwd+bwd+clip+RMSProp), batch 32, lengths 8-20, 8-bit ntm-copy",
        "sizes": {k: dict(v) for k, v in SIZES.items()},
        "batches_timed": n,
        "rounds": rounds,
        "timing": "median over interleaved rounds of one pass over the batches per implementation",
    }
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, sizes in SIZES.items():
            task, _ = _setup(sizes, "reference", device)
            batches = _batches(task, n, device)
            out.update({f"{name}_{k}": v for k, v in _agreement(sizes, device, impls).items()})
            t = _time_interleaved(sizes, impls, batches, device, rounds)
            n_seq = sum(b.inputs.shape[1] for b in batches)
            ref = t["reference"]
            for impl in impls:
                r = t[impl]
                out[f"{name}_{impl}_seq_per_s"] = round(r["seq_per_s"], 1)
                out[f"{name}_{impl}_cpu_s"] = round(r["cpu_s"], 3)
                out[f"{name}_{impl}_wall_s"] = round(r["wall_s"], 3)
                out[f"{name}_{impl}_seq_per_cpu_s"] = round(n_seq / r["cpu_s"], 1)
                if impl != "reference":
                    out[f"{name}_{impl}_speedup"] = round(r["seq_per_s"] / ref["seq_per_s"], 2)
                    out[f"{name}_{impl}_cpu_speedup"] = round(ref["cpu_s"] / r["cpu_s"], 2)
                    out[f"{name}_{impl}_meets_4x_cpu"] = bool(ref["cpu_s"] / r["cpu_s"] >= TARGET_CPU_SPEEDUP)
            if "compiled" in t:
                out[f"{name}_compile_and_warmup_s"] = round(t["compiled"]["warmup_s"], 1)
    finally:
        torch.set_num_threads(prev)
    if device == "cpu":
        for impl in ("reference", "fused"):
            mem = _peak_memory(SIZES["memlab"], impl)
            out[f"memlab_{impl}_peak_mb"] = mem["peak_above_mb"]
            out["memlab_model_mb"] = mem["model_mb"]
        out["memlab_fused_meets_peak_target"] = bool(out["memlab_fused_peak_mb"] <= TARGET_PEAK_MB)
        out["memory"] = "peak RSS of one training step at memlab sizes, B=32, L=20 (T=41), above the built model"
    from memlab.memory.kernels.dnc_scan import loops

    out["fused_loops"] = loops(torch.zeros(1, device=device))  # which loops the fused timings ran
    out.update(load_avg_1m_start=round(load0, 2), load_avg_1m=round(os.getloadavg()[0], 2), threads=1, device=device,
               quick=quick, torch=torch.__version__, python=sys.version.split()[0])
    return out


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
