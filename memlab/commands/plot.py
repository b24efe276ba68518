"""``memlab plot EXPERIMENT | RUN``: figures from an experiment's records, or a trace figure of
one trained run (LANTM: Fig. 7/8 key space; NTM/DNC: read/write weightings over time).

A run's trace is first written as a JSON record beside the PNG, and the figure is drawn from
that record as saved.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from memlab.commands._common import MAX_LENGTH, MAX_SEED, add_out, add_set, device_type
from memlab.experiments import EXPERIMENTS

HELP = ("draw figures: an experiment's from its records (" + ", ".join(EXPERIMENTS)
        + "), or a trace of a trained RUN folder (--set length=… seed=… checkpoint=…)")


@dataclass
class TraceSettings:
    """``--set`` keys of ``plot RUN``: input length of the example, its seed, the checkpoint."""

    length: int = 20
    seed: int = 0
    checkpoint: Literal["best", "last"] = "best"

    def validate(self) -> None:
        from memlab.commands._common import check_int

        check_int("length", self.length, 1, MAX_LENGTH)
        check_int("seed", self.seed, 0, MAX_SEED)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("item", metavar="EXPERIMENT|RUN",
                   help="an experiment (" + ", ".join(EXPERIMENTS) + ") or a run folder")
    add_set(p, "RUN: length=N (default 20) seed=N (default 0) checkpoint=best|last; EXPERIMENT: its config keys")
    add_out(p, None, "folder of the figures (default: the experiment's results folder, or the run folder)")
    p.add_argument("--device", type=device_type, default="cpu", help="cpu, cuda, cuda:N or auto")


# --------------------------------------------------------------------------- traces
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
    reads = keys[n_in - 1: n_in - 1 + n_ans, W, :2]  # read keys whose values feed the answer outputs
    pred = out.argmax(-1)[:, 0].cpu()
    rec = {
        "kind": "lantm_trace", "run_dir": str(run.run_dir), "model": run.config.model, "task": run.config.task,
        "checkpoint": f"{run.checkpoint_path.name}@{run.epoch}", "length": length, "sample_seed": seed, "eoi": n_in,
        # writes of the input phase (<s>, the input and the first </s>): the slots that hold the data
        "writes": keys[: n_in + 1, 0, :2].tolist(), "strengths": tr.strengths[: n_in + 1, 0, 0].cpu().tolist(),
        "reads": reads.tolist(),
        "gates": {"write key": gates[:, 0, 0].tolist(), "write step": gates[:, 0, 1].tolist(),
                  "read key": gates[:, W, 0].tolist(), "read step": gates[:, W, 1].tolist()},
        "answer": batch.targets[mask, 0].tolist(), "prediction": pred[mask.cpu()].tolist(),
    }
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


def plot_run(run_dir: Path, st: TraceSettings, out: Path, device: str = "cpu") -> dict[str, Any]:
    """Trace record + figure of a trained run into ``out``; returns paths and the error count."""
    from memlab.core.io import atomic_write_json
    from memlab.evaluation.load import load_run

    run = load_run(run_dir, st.checkpoint, device=device)
    stem = out / f"{run_dir.name}-len{st.length}"
    if run.config.model.startswith("lantm"):
        from memlab.plots.lantm import key_space_figure

        rec = lantm_trace_record(run, st.length, st.seed)
        atomic_write_json(stem.with_suffix(".json"), rec)
        rec = json.loads(stem.with_suffix(".json").read_text())  # the figure is drawn from the record as saved
        key_space_figure(rec, stem.with_suffix(".png"),
                         title=f"{rec['model']} on {rec['task']}, length {rec['length']} ({rec['checkpoint']})")
        wrong, of = rec["symbols_wrong"], len(rec["answer"])
        summary = f"{wrong} of {of} symbols wrong"
        extra = {"symbols_wrong": wrong, "symbols": of}
    else:
        from memlab.plots.ntm import plot_weightings

        rec = weightings_record(run, st.length, st.seed)
        atomic_write_json(stem.with_suffix(".json"), rec)
        plot_weightings(json.loads(stem.with_suffix(".json").read_text()), stem.with_suffix(".png"))
        summary = f"bit errors in the plotted sequence: {rec['bit_errors']}"
        extra = {"bit_errors": rec["bit_errors"]}
    return {"png": str(stem.with_suffix(".png")), "record": str(stem.with_suffix(".json")), "summary": summary,
            **extra}


def run(args: argparse.Namespace) -> dict:
    from memlab.commands._common import settings
    from memlab.core.errors import ConfigError
    from memlab.experiments.runner import prepare_out_dir

    if args.item in EXPERIMENTS:
        from memlab.commands.run import report
        from memlab.experiments import get_experiment
        from memlab.experiments.runner import render_experiment

        res = render_experiment(get_experiment(args.item), args.out, overrides=args.set, tables=False)
        if not args.json:
            report(res)
            if not res["figures"]:
                print(f"{args.item} draws no figures from its records; a trained run's trace: memlab plot RUN")
        return res
    run_dir = Path(args.item)
    if not run_dir.is_dir():
        raise ConfigError(f"{args.item!r} is neither an experiment ({', '.join(EXPERIMENTS)}) nor a run folder")
    st = settings(TraceSettings, args.set)
    out = prepare_out_dir(args.out if args.out is not None else run_dir)
    res = plot_run(run_dir, st, out, device=args.device)
    if not args.json:
        print(f"wrote {res['png']} and {res['record']}: {res['summary']}")
    return res
