"""``memlab run EXPERIMENT``: any experiment, resumable and parallel: records → tables → figures."""

from __future__ import annotations

import argparse

from memlab.commands._common import add_out, add_set, device_type, jobs_type, path_type, seed_type
from memlab.experiments import EXPERIMENTS

HELP = "run an experiment (resumable, parallel): one of " + ", ".join(EXPERIMENTS)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", choices=list(EXPERIMENTS), metavar="EXPERIMENT",
                   help="one of " + ", ".join(EXPERIMENTS) + " (`memlab list experiments`)")
    add_set(p, "settings of the experiment's config (an unknown key lists the allowed ones)")
    add_out(p, None, "folder of records, tables and figures (default: the experiment's results folder; "
                     "with --quick its quick/ subfolder)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds): a smoke run")
    p.add_argument("--fresh", action="store_true", help="discard the records under --out instead of resuming")
    p.add_argument("--jobs", type=jobs_type, default=None, help="worker processes (default: all cores)")
    p.add_argument("--seed", type=seed_type, default=None, help="0 to 2**63-1 (default: the config's)")
    p.add_argument("--device", type=device_type, default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--store", type=path_type("--store"), default=None, metavar="DIR",
                   help="run store of experiments that train (default: the experiment's)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where units run: local (this process or --jobs processes; default) or ray (Ray tasks, "
                        "one CPU or GPU each; pip install 'memlab[ray]')")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="Ray cluster for --executor ray: host:port, ray://host:port or auto (default: a local "
                        "Ray instance for this run); run folders must be on a filesystem every node shares")
    p.add_argument("--no-plot", action="store_true", help="records and tables only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def report(res: dict) -> None:
    """Print the scalar headline figures of an experiment, one per line."""
    if res.get("text"):
        print(res["text"])
    for k, v in res.items():
        if k in ("experiment", "figures", "config_hash", "text") or isinstance(v, (dict, list)):
            continue
        print(f"{k:>28}: {v:.4g}" if isinstance(v, float) else f"{k:>28}: {v}")
    for f in res.get("figures") or []:
        print(f"{'figure':>28}: {f}")


def run(args: argparse.Namespace) -> dict:
    from memlab.experiments import get_experiment
    from memlab.experiments.runner import run_experiment

    exp = get_experiment(args.experiment)
    res = run_experiment(exp, args.set, out_dir=args.out, jobs=args.jobs, fresh=args.fresh, quick=args.quick,
                         seed=args.seed, device=args.device, progress=not (args.no_progress or args.json),
                         store=args.store, plots=not args.no_plot, executor=args.executor, address=args.address)
    if not args.json:
        report(res)
    return res
