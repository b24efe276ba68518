"""``memlab train``: one training run in the store (``--out``, default ``runs/``)."""

from __future__ import annotations

import argparse
from typing import Any

from memlab.commands._common import add_out, add_set, device_type, name_type, seed_type

HELP = "train a model on a task in a new run folder of the store (or --resume one)"
#: exit status of a run that diverged (it stopped after max_restores restores without a good epoch)
EXIT_DIVERGED = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = (f"exit status {EXIT_DIVERGED} when the run diverged (no good epoch after train.max_restores restores "
                "of the last good checkpoint): the last line says so, and `memlab runs` shows it as diverged")
    p.add_argument("--model", help="a name from `memlab list models`")
    p.add_argument("--task", help="a name from `memlab list tasks`")
    add_set(p, "settings: model.*, task.*, train.* (e.g. train.lr=0.01 task.train_max=10)")
    p.add_argument("--seed", type=seed_type, default=0, help="0 to 2**63-1 (default 0)")
    add_out(p, "runs", "the store folder (default runs/)")
    p.add_argument("--name", type=name_type, help="run folder name (default MODEL-TASK-sSEED-TIME)")
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="RUN",
                   help="continue a run from its last checkpoint (a run folder, or --name under --out)")
    p.add_argument("--device", type=device_type, default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> dict:
    from memlab.core.config import parse_overrides
    from memlab.core.errors import ConfigError
    from memlab.experiments.runner import check_out_dir
    from memlab.training.run import train_run

    overrides = parse_overrides(args.set)
    resume: Any = False
    if args.resume is not None:
        resume = True if args.resume == "" else args.resume
    elif not args.model or not args.task:
        raise ConfigError("train needs --model M and --task T (see `memlab list models`, `memlab list tasks`), "
                          "or --resume RUN")
    check_out_dir(args.out)
    s = train_run(args.model, args.task, overrides or None, seed=args.seed, out=args.out, resume=resume,
                  progress=not (args.no_progress or args.json), device=args.device, name=args.name)
    if not args.json:
        best = s.get("best_test") or {}
        print(f"run {s['run_id']}: {s['epochs']} epochs, {s['sequences_seen']} sequences, {s['elapsed_s']:.1f} s, "
              f"stop: {s['stop_reason']}; best test fine {best.get('fine', float('nan')):.4f} "
              f"coarse {best.get('coarse', float('nan')):.4f}")
        print(f"files: {s['run_dir']}")
    if s.get("status") == "diverged":
        if not args.json:
            print(s["message"])  # the final line says so
        s = {**s, "exit_status": EXIT_DIVERGED}
    return s
