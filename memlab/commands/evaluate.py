"""``memlab eval RUN [RUN …]``: fine/coarse scores of trained runs at length scales (seed 004:
n x = lengths (n−1)m+1 … nm) or at exact lengths / ranges (``--lengths 20,40,1-20``).

The records go to RUN/evals.jsonl, or, with ``--out DIR``, to DIR/evals.jsonl only: a run folder
that is not yours to change (the committed folders under results/) stays as it is."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from memlab.commands._common import MAX_BATCH_SIZE, MAX_BATCHES, add_out, add_set, device_type

HELP = "score trained runs at length scales (--scales 1,2,4) or exact lengths (--lengths 20,40,1-20)"


@dataclass
class EvalSettings:
    """``--set`` keys of ``eval``: batches (default 100 with --scales, 20 with --lengths) of
    batch_size fresh problems per scale or length."""

    batches: int | None = None
    batch_size: int = 32

    def validate(self) -> None:
        from memlab.commands._common import check_int

        if self.batches is not None:
            check_int("batches", self.batches, 1, MAX_BATCHES)
        check_int("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)


def checkpoint_name(value: str) -> str:
    """argparse type of --checkpoint: best, last or bestKx (a one-line usage error otherwise)."""
    from memlab.core.io import CHECKPOINT_CHOICES, is_checkpoint_name

    if is_checkpoint_name(value):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not allowed; choose {CHECKPOINT_CHOICES}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scales", help="comma-separated scales n >= 1 (default 1,2)")
    g.add_argument("--lengths", help="comma-separated exact lengths or ranges lo-hi, e.g. 20,40,1-20")
    p.add_argument("--checkpoint", default="best", type=checkpoint_name,
                   help="best (falls back to last when a run has no best.pt), last, or bestKx (a run trained "
                        "with train.track_scales=K: its best periodic test at scale K)")
    add_set(p, "batches=N (default 100 with --scales, 20 with --lengths), batch_size=N (default 32)")
    add_out(p, None, "append the records to DIR/evals.jsonl instead of RUN/evals.jsonl (the run folders are left as they are)")
    p.add_argument("--device", type=device_type, default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--no-progress", action="store_true", help="no per-scale lines")


def run(args: argparse.Namespace) -> dict:
    from memlab.commands._common import MAX_ITEMS, print_table, settings
    from memlab.core.errors import ConfigError
    from memlab.core.io import append_jsonl
    from memlab.evaluation.evaluate import evaluate_run, parse_lengths, parse_scales
    from memlab.experiments.runner import prepare_out_dir

    st = settings(EvalSettings, args.set)
    scales = lengths = None
    if args.lengths is not None:
        lengths = parse_lengths(args.lengths)
    else:
        scales = parse_scales(args.scales if args.scales is not None else "1,2")
    if len(lengths or scales) > MAX_ITEMS:
        raise ConfigError(f"{len(lengths or scales)} scales or lengths given; allowed: at most {MAX_ITEMS}")
    batches = st.batches if st.batches is not None else (20 if lengths else 100)
    out = prepare_out_dir(args.out) if args.out is not None else None
    all_recs = []
    for run_dir in args.runs:
        recs = evaluate_run(run_dir, scales, batches=batches, device=args.device, checkpoint=args.checkpoint,
                            batch_size=st.batch_size, progress=not (args.json or args.no_progress), lengths=lengths,
                            record_in_run=out is None)
        if out is not None:
            from memlab.experiments.ntm_table import with_training_cost

            recs = [with_training_cost(r, Path(run_dir)) for r in recs]
            append_jsonl(out / "evals.jsonl", recs)
        all_recs.extend(recs)
    if not args.json:
        key = "length" if lengths else "scale"
        rows = [{**r, "lengths": f"{r['lengths'][0]}-{r['lengths'][1]}"} for r in all_recs]
        print_table(rows, ["run_id", "task", key, "lengths", "fine", "coarse", "n_sequences"])
        print("records: " + (str(out / "evals.jsonl") if out is not None
                             else ", ".join(str(Path(r) / "evals.jsonl") for r in args.runs)))
    return {"evals": all_recs}
