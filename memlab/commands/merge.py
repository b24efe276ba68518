"""``memlab merge EXPERIMENT --from DIR [--from DIR …]``: add records made elsewhere (another
machine, worktree or cluster node, each run with its own ``--out``) to the experiment's folder,
then re-render its tables. No compute; see ``memlab.experiments._merge.merge_experiment``."""

from __future__ import annotations

import argparse

from memlab.commands._common import add_out, path_type
from memlab.experiments import EXPERIMENTS

HELP = ("add records made elsewhere (each with its own --out) to an experiment's folder, then re-render its "
        "tables: one of " + ", ".join(EXPERIMENTS))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", choices=list(EXPERIMENTS), metavar="EXPERIMENT",
                   help="one of " + ", ".join(EXPERIMENTS) + " (`memlab list experiments`)")
    p.add_argument("--from", dest="sources", action="append", type=path_type("--from"), required=True,
                   metavar="DIR", help="a folder of the experiment's records (a run's --out); repeatable")
    add_out(p, None, "the folder merged into (default: the experiment's results folder)")
    p.add_argument("--no-table", action="store_true", help="records and meta file only")


def run(args: argparse.Namespace) -> dict:
    from memlab.commands.run import report
    from memlab.experiments import get_experiment
    from memlab.experiments._merge import merge_experiment
    from memlab.experiments.runner import render_experiment

    exp = get_experiment(args.experiment)
    res = merge_experiment(exp, args.sources, args.out)
    if not args.no_table:
        res["table"] = render_experiment(exp, res["out_dir"], plots=False)
    if not args.json:
        print(f"merged {res['records_added']} record(s) of {res['units_added']} unit(s) and "
              f"{res['invocations_added']} invocation(s) into {res['records']}")
        if "table" in res:
            report(res["table"])
    return res
