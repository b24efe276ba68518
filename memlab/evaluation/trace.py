"""Trace records of a trained run: what its memory did on one example, as JSON-ready dicts.

``lantm_trace_record(run, length, seed)``: a LANTM's key-space trace (its write/read keys, key
strengths and interpolation gates; drawn by ``memlab.plots.lantm.key_space_figure``, seed 004
Fig. 7/8). ``weightings_record(run, length, seed)``: inputs, outputs and the read/write
weightings of an NTM/DNC over one binary sequence (drawn by ``memlab.plots.ntm.plot_weightings``).
``trace_record(run_dir, …)`` loads a run folder first. ``run`` is a ``LoadedRun``
(``memlab.evaluation.load_run``). The records are written beside their figures, and the figure is
drawn from the record as saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _rounded(x: Any, digits: int = 4) -> list:
    """A tensor as nested lists rounded to ``digits`` decimals (small, readable records)."""
    import torch

    return torch.round(x.float(), decimals=digits).tolist()


def lantm_trace_record(run: Any, length: int, seed: int) -> dict[str, Any]:
    """What a trained LANTM's heads did on one example of ``length`` (fields: see
    ``memlab.plots.lantm.key_space_figure``)."""
    import torch

    from memlab.core.io import provenance
    from memlab.core.runtime import make_generator

    model, task, device = run.model, run.task, run.device
    batch = task.sample(1, length, make_generator(seed, 77, length))
    with torch.no_grad():
        out, tr, _ = model.trace(batch.to(device))
    W = model.core.spec.write_heads
    T = int(batch.seq_len[0])
    n_in = int(batch.n_input[0])  # first </s> at t = n_in
    mask = batch.mask[:, 0]
    n_ans = len(torch.nonzero(mask).flatten()) - 1  # answer symbols; the last response step is <e>
    keys = tr.keys[:T, 0].cpu()  # (T, A, n)
    gates = tr.gates[:T, 0].cpu()  # (T, A, 2)
    # the read whose value feeds answer symbol i: with the released code's output path
    # (read_to_output, y_t = W·h_t + σ(c_t)·W′·r_t) the read of step n_in + i itself; otherwise the
    # read of the step before, which reaches the output through h_{t+1}
    off = 0 if getattr(model.core, "out_gate", None) is not None else 1
    read_keys = keys[n_in - off: n_in - off + n_ans, W]  # (n_ans, n): every coordinate; the figure plots two
    reads = read_keys[:, :2]
    pred = out.argmax(-1)[:, 0].cpu()
    rec = {
        "kind": "lantm_trace", "run_dir": str(run.run_dir), "model": run.config.model, "task": run.config.task,
        "checkpoint": f"{run.checkpoint_path.name}@{run.epoch}", "length": length, "sample_seed": seed, "eoi": n_in, "read_offset": off,
        # writes of the input phase (<s>, the input and the first </s>): the slots that hold the data
        "writes": keys[: n_in + 1, 0, :2].tolist(), "strengths": tr.strengths[: n_in + 1, 0, 0].cpu().tolist(),
        "reads": reads.tolist(),
        # the read head during the input phase (steps 0..n_in): where it waits before the answer
        "input_reads": keys[: n_in + 1, W, :2].tolist(),
        "gates": {"write key": gates[:, 0, 0].tolist(), "write step": gates[:, 0, 1].tolist(),
                  "read key": gates[:, W, 0].tolist(), "read step": gates[:, W, 1].tolist()},
        "answer": batch.targets[mask, 0].tolist(), "prediction": pred[mask.cpu()].tolist(),
    }
    # how far each answer read lies from the nearest slot written in the input phase (0: on the line)
    # and which slot that is (0 = the <s> write, j = input symbol j): whether the reads walk the line
    d = torch.cdist(read_keys, keys[: n_in + 1, 0]) if n_ans > 0 else torch.zeros(0, n_in + 1)
    rec["read_distance"] = d.amin(-1).tolist()
    rec["read_slot"] = d.argmin(-1).tolist()
    # the write line's shape: each input step's write stride |a_{t+1} − a_t| and how far its direction
    # has turned from the first step's (degrees, first two key coordinates); a straight line keeps both
    steps = keys[1 : n_in + 1, 0] - keys[:n_in, 0]  # (n_in, n)
    rec["write_stride"] = steps.norm(dim=-1).tolist()
    ang = torch.atan2(steps[:, 1], steps[:, 0]) if steps.shape[-1] > 1 else torch.zeros(len(steps))
    turn = torch.remainder(ang - ang[:1] + torch.pi, 2 * torch.pi) - torch.pi if len(ang) else ang
    rec["write_turn"] = torch.rad2deg(turn).tolist()
    rec["symbols_wrong"] = sum(int(a != p) for a, p in zip(rec["answer"], rec["prediction"]))
    rec.update(provenance(seed=seed))
    return rec


def trace_record(run_dir: str | Path, length: int, seed: int = 0, checkpoint: str = "best",
                 device: str = "cpu") -> dict[str, Any]:
    """``lantm_trace_record`` of the run folder ``run_dir`` (one-line error if it is not a LANTM run)."""
    from memlab.core.errors import MemlabError
    from memlab.evaluation.load import load_run

    run = load_run(run_dir, checkpoint, device=device)
    if not run.config.model.startswith("lantm"):
        raise MemlabError(f"run {run_dir} is a {run.config.model} run; a key-space trace needs a LANTM run")
    return lantm_trace_record(run, length, seed)


def weightings_record(run: Any, length: int, seed: int) -> dict[str, Any]:
    """Inputs, outputs and the read/write weightings of an NTM/DNC over one binary sequence."""
    import torch

    from memlab.core.errors import MemlabError
    from memlab.core.io import provenance

    model, task, device = run.model, run.task, run.device
    core = getattr(model, "core", None)
    if core is None or not hasattr(core, "trace"):
        raise MemlabError(f"run {run.run_dir} is a {run.config.model} model without read/write weightings to plot")
    if task.spec.kind != "binary":
        raise MemlabError(f"weightings plots draw binary tasks; run {run.run_dir} is on {run.config.task}")
    batch = task.sample(1, length, torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        outputs = torch.sigmoid(model(batch))[:, 0]  # (T, O)
        tr = core.trace(model.encoder(batch.inputs))
    rec = {
        "run_id": run.run_dir.name, "model": run.config.model, "task": run.config.task, "length": length,
        "checkpoint": f"{run.checkpoint_path.stem}@{run.epoch}",
        "inputs": _rounded(batch.inputs[:, 0]), "targets": _rounded(batch.targets[:, 0]),
        "outputs": _rounded(outputs), "mask": batch.mask[:, 0].tolist(),
        "write": _rounded(tr["write"][:, 0]), "read": _rounded(tr["read"][:, 0]),
        "bit_errors": int(task.bit_errors(model(batch), batch)[0]) if hasattr(task, "bit_errors") else None,
    }
    rec.update(provenance(seed=seed))
    return rec
