"""NTM copy training speed: sequences per second of whole training steps, side by side in one run.

One training step = forward + backward + gradient-norm clipping + RMSProp step (the trainer's
NTM copy settings, ``memlab.experiments.hparams.paper_defaults("ntm", "ntm-copy")``) of the default NTM
(LSTM controller 100 of ``memlab.controllers``, memory
128 × 20, one read and one write head) on a batch of 32 copy sequences whose lengths are
drawn uniformly from 1–20, as in training (T = 2·max length + 1 steps per batch). The same
fixed list of batches is timed for

* ``ref``       — the eager reference: ``run_core`` stepping the composed core's ``forward``
  (``compose_step_ref``: controller step, then ``NTMAccess``) one input at a time;
* ``reference`` — ``forward_sequence`` with ``model.kernel=reference``: the same composed step in
  the core's own loop (older records call it ``autograd``);
* ``fast``      — ``forward_sequence`` with the default ``model.kernel=fused``: ``ntm_scan``, one
  hand-written autograd node for the whole sequence (memlab/memory/kernels/ntm_scan.py), whose
  loops are C++ on CPU where the library builds (csrc/ntm_scan.cpp), else Python: ``fast_loops``
  says which ran (records without it ran the Python loops);
* ``compiled``  — ``model.compile=true`` with the default kernel: ``ntm_scan``'s step functions
  through ``torch.compile`` (records before 2026-12-02 17:00 compiled the reference step instead);
  compilation time is reported separately and excluded from the rate. Skipped with ``quick``.

Then the same at batch 1 (``b1_*``: ref, fast, compiled; 16 single sequences), where per-op
overhead is everything. The outputs are checked to agree with the reference on one batch
before timing. The implementations are timed in interleaved rounds (each makes one pass over
the same batches per round) and the median pass is reported, so a change of machine load
during the run hits every implementation alike. On a shared machine, process CPU time
(``*_cpu_s``, the ratios ``*_cpu_speedup``) is steadier than wall time (``*_wall_s``,
``*_speedup``); ``load_avg_1m_start`` and ``load_avg_1m`` say how busy the machine was. One
CPU thread.

Memory: the peak resident memory of one training step at batch 32, length 20 (T = 41) above
the built model, for ``ref`` and ``fast``, each in a fresh Python process (``*_peak_above_mb``).

    python -m benchmarks.ntm_step          # or: memlab bench ntm-step --json
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import torch


def _setup(device: str, impl: str = "fast"):
    from memlab.models import build_model
    from memlab.tasks import make_task

    task = make_task("ntm-copy")
    torch.manual_seed(0)
    overrides = {"compile": impl == "compiled", "kernel": "reference" if impl == "reference" else "fused"}
    model = build_model("ntm", task.spec, "ntm-copy", overrides).to(device)
    return task, model


def _batches(task, n: int, B: int, device: str):
    g = torch.Generator().manual_seed(0)
    return [task.sample_range(B, 1, 20, g).to(device) for _ in range(n)]


def _forward(model, batch, impl: str):
    from memlab.core.interfaces import run_core

    if impl == "ref":
        x = model.encoder(batch.inputs)
        ys, _ = run_core(model.core, x)
        return model.readout(ys)
    return model(batch)


class _Stepper:
    """One implementation with its own model (same initial weights) and RMSProp state."""

    def __init__(self, impl: str, device: str):
        from memlab.experiments.hparams import paper_defaults
        from memlab.training.trainer import TrainConfig

        self.impl, self.device = impl, device
        self.task, self.model = _setup(device, impl)
        self.tr = tr = TrainConfig(**paper_defaults("ntm", "ntm-copy")["train"])
        self.opt = torch.optim.RMSprop(self.model.parameters(), lr=tr.lr, alpha=tr.rms_alpha, eps=tr.rms_eps,
                                       momentum=tr.momentum)

    def step(self, batch) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss = self.task.loss(_forward(self.model, batch, self.impl), batch)
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


def _time_interleaved(impls: list[str], batches, device: str, rounds: int, warmup: dict[str, int]) -> dict:
    """Median wall and CPU time per pass for each implementation, the passes interleaved
    (round 1: every impl once, round 2: ...) so that a change in machine load hits all alike."""
    steppers = {impl: _Stepper(impl, device) for impl in impls}
    warm = {}
    for impl, st in steppers.items():
        t0 = time.perf_counter()
        for b in batches[: warmup.get(impl, 1)]:
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


def _agreement(device: str, compiled: bool) -> dict:
    """Max |difference| of the outputs of reference, fast (and compiled) from ref on one batch."""
    task, model = _setup(device)
    batch = _batches(task, 1, 8, device)[0]
    with torch.no_grad():
        ref = _forward(model, batch, "ref")
        out = {"fast_vs_ref_max_abs": float((_forward(model, batch, "fast") - ref).abs().max())}
        model.core.kernel = "reference"
        out["reference_vs_ref_max_abs"] = float((_forward(model, batch, "reference") - ref).abs().max())
        if compiled:
            model.core.kernel, model.core.compile = "fused", True  # the kernel's compiled step functions
            out["compiled_vs_ref_max_abs"] = float((_forward(model, batch, "compiled") - ref).abs().max())
    return out


_PEAK_CHILD = r"""
import gc, json, resource, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from benchmarks.ntm_step import _Stepper
impl = sys.argv[2]
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
st = _Stepper(impl, "cpu")
model_mb = sum(p.numel() * p.element_size() for p in st.model.parameters()) / 2**20
g = torch.Generator().manual_seed(0)
st.step(st.task.sample_range(32, 1, 1, g))  # optimiser state, lazy initialisation
batch = st.task.sample_range(32, 20, 20, g)
gc.collect()
base = rss_mb()
st.step(batch)
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak over fork + exec)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
print(json.dumps({"peak_above_mb": round(peak - base, 1), "model_mb": round(model_mb, 2)}))
"""


def _peak_memory(impl: str) -> dict:
    """Peak RSS of one training step (B = 32, length 20) above the built model, in a fresh process."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # big blocks straight from mmap and back on free, so the resident peak follows the live tensors
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    res = subprocess.run([sys.executable, "-c", _PEAK_CHILD, root, impl], capture_output=True, text=True, env=env,
                         cwd=root, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _figures(t: dict, n_seq: int, prefix: str = "") -> dict:
    """Rates, times and ratios to ``ref`` of the timed implementations, keys prefixed."""
    ref = t["ref"]
    out = {f"{prefix}ref_seq_per_s": round(ref["seq_per_s"], 1), f"{prefix}ref_cpu_s": round(ref["cpu_s"], 3),
           f"{prefix}ref_wall_s": round(ref["wall_s"], 3), f"{prefix}ref_seq_per_cpu_s": round(n_seq / ref["cpu_s"], 1)}
    for impl, r in t.items():
        if impl == "ref":
            continue
        out.update({f"{prefix}{impl}_seq_per_s": round(r["seq_per_s"], 1),
                    f"{prefix}{impl}_speedup": round(r["seq_per_s"] / ref["seq_per_s"], 2),
                    f"{prefix}{impl}_cpu_s": round(r["cpu_s"], 3),
                    f"{prefix}{impl}_wall_s": round(r["wall_s"], 3),
                    f"{prefix}{impl}_seq_per_cpu_s": round(n_seq / r["cpu_s"], 1),
                    f"{prefix}{impl}_cpu_speedup": round(ref["cpu_s"] / r["cpu_s"], 2)})
        if impl == "compiled":
            out[f"{prefix}compile_and_warmup_s"] = round(r["warmup_s"], 1)
    return out


def _fast_loops(device: str) -> str:
    """Which loops ``fast`` ran: "cpp" (csrc/ntm_scan.cpp) or "python"."""
    from memlab.memory.kernels import cpp

    return "cpp" if device == "cpu" and cpp.has("ntm_scan_fwd") else "python"


def run(quick: bool = False, device: str = "cpu") -> dict:
    """Sequences/s of NTM copy training steps for the eager reference, reference loop, fused and
    compiled paths at batch 32, then ref, fused and compiled at batch 1."""
    load_start = os.getloadavg()[0]
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        task, _ = _setup(device)
        n, rounds = (3, 2) if quick else (8, 5)
        batches = _batches(task, n, 32, device)
        agree = _agreement(device, compiled=not quick)
        impls = ["ref", "reference", "fast"] + ([] if quick else ["compiled"])
        t32 = _time_interleaved(impls, batches, device, rounds, warmup={"compiled": 3})
        b1 = _batches(task, 4 if quick else 16, 1, device)
        t1 = _time_interleaved(["ref", "fast"] + ([] if quick else ["compiled"]), b1, device, rounds,
                               warmup={"compiled": 3})
        mem = {} if quick or device != "cpu" else {impl: _peak_memory(impl) for impl in ("ref", "fast")}
    finally:
        torch.set_num_threads(prev)
    out = {
        "benchmark": "ntm_step",
        "what": "NTM copy training steps (fwd+bwd+clip+RMSProp), batch 32 (b1_*: batch 1), lengths 1-20, memory 128x20, LSTM 100",
        "batches_timed": n,
        "b1_sequences_timed": len(b1),
        "rounds": rounds,
        "timing": "median over interleaved rounds of one pass over the batches per implementation",
        **_figures(t32, sum(b.inputs.shape[1] for b in batches)),
        **_figures(t1, len(b1), "b1_"),
        **{k: float(f"{v:.2e}") for k, v in agree.items()},
        **{f"{impl}_peak_above_mb": m["peak_above_mb"] for impl, m in mem.items()},
        **({"model_mb": mem["fast"]["model_mb"]} if mem else {}),
    }
    out["fast_loops"] = _fast_loops(device)
    out.update(load_avg_1m_start=round(load_start, 2), load_avg_1m=round(os.getloadavg()[0], 2), threads=1,
               device=device, quick=quick, torch=torch.__version__, python=sys.version.split()[0])
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
