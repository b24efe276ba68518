"""LANTM training-step speed: the fused kernel (``memlab.memory.kernels.lantm_scan``) against the
composed per-step reference (``lantm_scan_ref``: THE controller LSTM + Lie access), side by side.

One training step = forward + backward + RMSProp step of the whole LANTM-InvNorm model
(seed 004 Table 2 copy sizes: 50 cells, embedding 7, memory width 20; the default reading,
``model.preset=reproduce``, i.e. no writes while answering) on a batch of B
sequences of T steps (copy of length 64 is T = 130). One CPU thread by default.

Wall-clock times are medians; on a shared machine the process CPU time (``*_cpu_ms``) is the
steadier number, and ``load_avg_1m`` says how busy the machine was. Also checks that the fast path evaluates (no_grad) at 8x length (copy of 512, T = 1026)
and reports its time and the peak resident memory.

    python -m benchmarks.lantm_step          # or: memlab bench lantm-step --json
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time

import torch


def _model(kernel: str, device: str, task_len: int):
    from memlab.models import build_model
    from memlab.tasks import make_task

    task = make_task("copy", {"train_min": task_len, "train_max": task_len})
    torch.manual_seed(0)
    model = build_model("lantm-invnorm", task.spec, "copy", {"kernel": kernel}).to(device)
    return task, model


def _time_train(kernel: str, B: int, length: int, iters: int, warmup: int, device: str) -> tuple[float, float]:
    """Median wall-clock and median process CPU time (ms) of one training step."""
    task, model = _model(kernel, device, length)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-2, alpha=0.99, momentum=0.0, eps=1e-6)
    batch = task.sample(B, length, torch.Generator().manual_seed(0)).to(device)
    times, cpu = [], []
    for i in range(warmup + iters):
        if device != "cpu":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = task.loss(model(batch), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 32.0)
        opt.step()
        if device != "cpu":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    times.sort()
    cpu.sort()
    return 1000 * times[len(times) // 2], 1000 * cpu[len(cpu) // 2]


def _time_eval(B: int, length: int, device: str) -> tuple[float, int]:
    task, model = _model("fused", device, length)
    batch = task.sample(B, length, torch.Generator().manual_seed(1)).to(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model(batch)
    ms = 1000 * (time.perf_counter() - t0)
    assert torch.isfinite(out).all()
    return ms, int(batch.inputs.shape[0])


def run(quick: bool = False, device: str = "cpu") -> dict:
    """Time both implementations; returns ms per training step for each and their ratio."""
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        B, length = 32, 64
        iters_fast, iters_ref = (3, 2) if quick else (15, 5)
        fast_ms, fast_cpu = _time_train("fused", B, length, iters_fast, 2, device)
        ref_ms, ref_cpu = _time_train("reference", B, length, iters_ref, 1, device)
        eval_len = 128 if quick else 512
        eval_ms, eval_T = _time_eval(B, eval_len, device)
    finally:
        torch.set_num_threads(prev_threads)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "benchmark": "lantm_step",
        "what": "ms per training step (forward+backward+RMSProp), LANTM-InvNorm copy sizes",
        "batch": B,
        "steps_T": 2 * length + 2,
        "fast_ms": round(fast_ms, 2),
        "ref_ms": round(ref_ms, 2),
        "speedup": round(ref_ms / fast_ms, 2),
        "fast_cpu_ms": round(fast_cpu, 2),
        "ref_cpu_ms": round(ref_cpu, 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "target_ms": 60.0,
        "eval_nograd_length": eval_len,
        "eval_nograd_T": eval_T,
        "eval_nograd_ms": round(eval_ms, 1),
        "peak_rss_mb": round(rss_mb, 1),
        "threads": 1,
        "device": device,
        "quick": quick,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.processor() or platform.node()}",
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
