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
from typing import Any

from memlab.commands._common import MAX_LENGTH, MAX_SEED, add_out, add_set, device_type
from memlab.experiments import EXPERIMENTS

HELP = ("draw figures: an experiment's from its records (" + ", ".join(EXPERIMENTS)
        + "), or a trace of a trained RUN folder (--set length=… seed=… checkpoint=…)")


@dataclass
class TraceSettings:
    """``--set`` keys of ``plot RUN``: input length of the example, its seed, the checkpoint."""

    length: int = 20
    seed: int = 0
    checkpoint: str = "best"  # best | last | bestKx (a run trained with train.track_scales=K)

    def validate(self) -> None:
        from memlab.commands._common import check_int
        from memlab.core.errors import ConfigError
        from memlab.core.io import CHECKPOINT_CHOICES, is_checkpoint_name

        check_int("length", self.length, 1, MAX_LENGTH)
        check_int("seed", self.seed, 0, MAX_SEED)
        if not is_checkpoint_name(self.checkpoint):
            raise ConfigError(f"checkpoint={self.checkpoint!r} is not allowed; choose {CHECKPOINT_CHOICES}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("item", metavar="EXPERIMENT|RUN",
                   help="an experiment (" + ", ".join(EXPERIMENTS) + ") or a run folder")
    add_set(p, "RUN: length=N (default 20) seed=N (default 0) checkpoint=best|last|bestKx; EXPERIMENT: its config keys")
    add_out(p, None, "folder of the figures (default: the experiment's results folder, or the run folder)")
    p.add_argument("--device", type=device_type, default="cpu", help="cpu, cuda, cuda:N or auto")


# --------------------------------------------------------------------------- traces
def trace_record(run_dir: str | Path, length: int, seed: int = 0, checkpoint: str = "best",
                 device: str = "cpu") -> dict[str, Any]:
    """``memlab.evaluation.trace.trace_record`` (imported when called: building the parser loads no torch)."""
    from memlab.evaluation.trace import trace_record as record

    return record(run_dir, length, seed, checkpoint, device)


def plot_run(run_dir: Path, st: TraceSettings, out: Path, device: str = "cpu") -> dict[str, Any]:
    """Trace record + figure of a trained run into ``out``; returns paths and the error count."""
    from memlab.core.io import atomic_write_json
    from memlab.evaluation.load import load_run
    from memlab.evaluation.trace import lantm_trace_record, weightings_record

    run = load_run(run_dir, st.checkpoint, device=device)
    base = f"{run_dir.name}-len{st.length}"  # run names may hold dots (model.init_step=…): no with_suffix
    js, png = out / f"{base}.json", out / f"{base}.png"
    if run.config.model in ("memn2n", "kv-memn2n"):  # per-hop attention over a story's sentences
        from memlab.models.memn2n import hop_record
        from memlab.plots.memn2n import plot_hop_attention

        rec = hop_record(run, st.length, st.seed)
        atomic_write_json(js, rec)
        plot_hop_attention(json.loads(js.read_text()), png)
        right = rec["hop_story"]["predicted"] == rec["hop_story"]["answer"]
        summary = f"answer {rec['hop_story']['predicted']!r} ({'right' if right else 'wrong'})"
        extra = {"answer_right": right}
    elif run.config.model.startswith("lantm"):
        from memlab.plots.lantm import key_space_figure

        rec = lantm_trace_record(run, st.length, st.seed)
        atomic_write_json(js, rec)
        rec = json.loads(js.read_text())  # the figure is drawn from the record as saved
        key_space_figure(rec, png,
                         title=f"{rec['model']} on {rec['task']}, length {rec['length']} ({rec['checkpoint']})")
        wrong, of = rec["symbols_wrong"], len(rec["answer"])
        summary = f"{wrong} of {of} symbols wrong"
        extra = {"symbols_wrong": wrong, "symbols": of}
    else:
        from memlab.plots.ntm import plot_weightings

        rec = weightings_record(run, st.length, st.seed)
        atomic_write_json(js, rec)
        plot_weightings(json.loads(js.read_text()), png)
        summary = f"bit errors in the plotted sequence: {rec['bit_errors']}"
        extra = {"bit_errors": rec["bit_errors"]}
    return {"png": str(png), "record": str(js), "summary": summary,
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
