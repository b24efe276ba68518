"""Stack-RNN and neural-stack training speed: sequences per CPU-second of whole training steps.

One training step = forward + backward + gradient-norm clipping (1.0) + Adam step of a model with
an LSTM controller of 256 units (``memlab.controllers.lstm``) composed with

* ``stack-rnn`` — Joulin & Mikolov's Stack-RNN access (1 stack, depth 64, cells of 8, top 2 fed back);
* ``stack``     — Grefenstette et al.'s neural stack (values of 32; the stack grows one row per step),

on batches of 128 ``reverse-string`` sequences with lengths from 1–40 (the automaton suite's
training range; T = 2·length + 2 steps), drawn two ways: ``mixed`` — lengths uniform per sequence,
padded to the longest in the batch (memlab's trainer; T ≈ 82), and ``per_length`` — one length per
batch (as chomsky-hierarchy's training loop samples them, uniformly; T ≈ 43 on average), the
timed batches' lengths spread evenly over 1–40 (``stratified_lengths``) so that their mean is the
range's mean, not that of a few random draws.

The Stack-RNN runs twice: ``stack-rnn`` with its default fused kernel
(``memlab.memory.kernels.stack_rnn_scan``: one autograd node, hand-written BPTT, its loops in C++
where the kernels' library builds) and
``stack-rnn-reference`` (``model.kernel=reference``: autograd through the composed step), so
``stack_rnn_*_speedup`` is a ratio measured side by side; the neural stack has no fused kernel
(reference step). The same fixed list of batches is timed for every model in interleaved rounds
(one pass over the batches per model per round) and the median pass is reported, so a change of
machine load hits all alike. Process CPU time is the steadier measure on a shared machine
(``*_seq_per_cpu_s``); ``startup_s`` is the wall time from building the model to the end of its
first training step (no compilation involved), after ``process_warmup_s``: one toy-sized
training step first, which carries torch's one-time costs of a process (seconds, whatever the
model; a user's first model pays ``process_warmup_s`` + its ``startup_s``). One CPU thread by
default; with ``two_threads`` (default on) each round also times the fused Stack-RNN's
per-length pass with 2 intra-op threads (``stack_rnn_per_length_2threads_*``: wall seq/s is
what two cores give; on a loaded machine the second thread mostly waits).

Arithmetic floor and ceiling (measured 2026-12-03 on the benchmark machine, 2 cores, both busy
with other jobs at the time). A step's three LSTM products (gates forward, their input gradient,
the weight gradient) are ~6·B·T·4C·(C + R + I) ≈ 10 GFLOP for a batch of the mean per-length
T (43); one thread does a (128 × 272) · (272 × 1024) product at 70–83 GFLOP per CPU-second, so
the products alone cap one thread near 900 seq/CPU-s, and a bare ``nn.LSTM`` (48 → 256, T = 43,
B = 128, fwd + bwd + clip + Adam, no stack at all) reaches 745 seq/CPU-s on one thread. The
issue's 1,300 seq/s is therefore a two-core wall-clock figure: ~105 GFLOP/s of products alone,
i.e. two free cores kept ≳ 70 % busy in products with near-perfect scaling. With the other core
busy, 2 intra-op threads are far slower than 1 (an OpenMP team waits on a descheduled thread:
bare ``nn.LSTM`` 305 vs 466 seq/s wall; the Stack-RNN ~50 vs ~450 seq/s wall in a side check).
The public JAX figure it was set against (chomsky-hierarchy's StackRNN: hidden 256, batch 128,
lengths 1–40 one per batch) differs in size: a stack of depth 40 read at its top cell only
(R = 8, not 16), a one-hot input without a 32-wide embedding, T = 2·length (mean 41) — ~0.85×
this benchmark's product flops — and XLA's CPU backend runs its products on both cores.

    python -m benchmarks.stack_step          # or: memlab bench stack-step --json
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import torch

_STACK_RNN = {"controller_size": 256, "depth": 64, "cell_size": 8, "top_k": 2}
#: benchmark name -> (registered model, model settings)
MODELS = {"stack-rnn": ("stack-rnn", {**_STACK_RNN, "kernel": "fused"}),
          "stack-rnn-reference": ("stack-rnn", {**_STACK_RNN, "kernel": "reference"}),
          "stack": ("stack", {"controller_size": 256, "word_size": 32})}
TASK, LO, HI, BATCH = "reverse-string", 1, 40, 128


def stratified_lengths(n: int, lo: int = LO, hi: int = HI) -> list[int]:
    """n lengths spread evenly over lo..hi (the midpoint of each of n equal strata), so that a few
    batches have the mean length of uniform draws over the range: (4, 11, 17, 24, 31, 37) for 6
    over 1–40, mean 20.7 (uniform: 20.5). Six random draws can be far off: the draw this benchmark
    used before had mean length 23 (48.7 steps against 43), which cost its seq/s ~12 %."""
    return [lo + int((i + 0.5) * (hi - lo + 1) / n) for i in range(n)]


class _Stepper:
    """One model with its own Adam state; ``startup_s`` = build + first step."""

    def __init__(self, name: str, task, first_batch, device: str, small: bool = False):
        from memlab.models import build_model

        t0 = time.perf_counter()
        torch.manual_seed(0)
        self.task = task
        model, settings = MODELS[name]
        if small:  # the process warm-up: the same model at toy sizes
            settings = {**settings, "controller_size": 8, "depth": 4}
        self.model = build_model(model, task.spec, TASK, settings).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.step(first_batch)
        self.startup_s = time.perf_counter() - t0

    def step(self, batch) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss = self.task.loss(self.model(batch), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        return loss.item()

    def timed(self, batches) -> tuple[float, float]:
        """(wall s, process CPU s) of one pass of training steps over ``batches``."""
        t0, c0 = time.perf_counter(), time.process_time()
        for b in batches:
            self.step(b)
        return time.perf_counter() - t0, time.process_time() - c0


def run(quick: bool = False, device: str = "cpu", threads: int = 1, two_threads: bool = True) -> dict:
    """Sequences per CPU-second (and per wall second) of Stack-RNN and neural-stack training steps."""
    from memlab.tasks import make_task

    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        task = make_task(TASK)
        g = torch.Generator().manual_seed(0)
        n, rounds = (2, 1) if quick else (6, 3)
        modes = {"mixed": [task.sample_range(BATCH, LO, HI, g).to(device) for _ in range(n)],
                 "per_length": [task.sample(BATCH, L, g).to(device) for L in stratified_lengths(n)]}
        # torch's one-time costs of a process (the first products and autograd calls take seconds,
        # whatever the model) are timed apart, so no model's start-up carries them for the others
        t0 = time.perf_counter()
        _Stepper("stack-rnn-reference", task, task.sample(2, 2, g).to(device), device, small=True)
        warmup_s = time.perf_counter() - t0
        steppers = {name: _Stepper(name, task, modes["mixed"][0], device) for name in MODELS}
        walls: dict[str, list[float]] = {f"{m}/{mode}": [] for m in MODELS for mode in modes}
        cpus: dict[str, list[float]] = {k: [] for k in walls}
        two = "stack-rnn/per_length/2threads"
        if two_threads:
            walls[two], cpus[two] = [], []
        for _ in range(rounds):
            for mode, batches in modes.items():
                for name, st in steppers.items():
                    w, c = st.timed(batches)
                    walls[f"{name}/{mode}"].append(w)
                    cpus[f"{name}/{mode}"].append(c)
            if two_threads:
                torch.set_num_threads(2)
                w, c = steppers["stack-rnn"].timed(modes["per_length"])
                torch.set_num_threads(threads)
                walls[two].append(w)
                cpus[two].append(c)
    finally:
        torch.set_num_threads(prev)
    n_seq = n * BATCH
    out: dict = {"benchmark": "stack_step",
                 "what": f"training steps (fwd+bwd+clip+Adam), batch {BATCH}, {TASK} lengths {LO}-{HI}, LSTM 256 "
                         "controller; stack-rnn: depth 64, cell 8, top 2 (fused kernel, and the reference step); "
                         "stack: values of 32 (reference step)",
                 "batches_timed": n, "rounds": rounds,
                 "timing": "median over interleaved rounds of one pass over the batches per model; speedup: "
                           "median over rounds of reference CPU s / fused CPU s"}
    out["mean_steps"] = {mode: round(statistics.fmean(b.inputs.shape[0] for b in bs), 1) for mode, bs in modes.items()}
    for name in MODELS:
        key = name.replace("-", "_")
        for mode in modes:
            wall, cpu = statistics.median(walls[f"{name}/{mode}"]), statistics.median(cpus[f"{name}/{mode}"])
            out.update({f"{key}_{mode}_seq_per_cpu_s": round(n_seq / cpu, 1),
                        f"{key}_{mode}_seq_per_s": round(n_seq / wall, 1)})
        out.update({f"{key}_startup_s": round(steppers[name].startup_s, 2),
                    f"{key}_params": sum(p.numel() for p in steppers[name].model.parameters())})
    for mode in modes:
        ref, fused = cpus[f"stack-rnn-reference/{mode}"], cpus[f"stack-rnn/{mode}"]
        out[f"stack_rnn_{mode}_speedup_cpu"] = round(statistics.median(r / f for r, f in zip(ref, fused)), 2)
    if two_threads:
        out.update(stack_rnn_per_length_2threads_seq_per_s=round(n_seq / statistics.median(walls[two]), 1),
                   stack_rnn_per_length_2threads_seq_per_cpu_s=round(n_seq / statistics.median(cpus[two]), 1))
    out["process_warmup_s"] = round(warmup_s, 2)
    out.update(load_avg_1m=round(os.getloadavg()[0], 2), threads=threads, cpus=os.cpu_count(), device=device,
               quick=quick, torch=torch.__version__, python=sys.version.split()[0])
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
