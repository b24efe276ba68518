"""Core commands: list, train, eval, runs, demo, bench."""

from __future__ import annotations

import argparse


def cmd_list(args: argparse.Namespace) -> dict:
    from memlab.models import MODELS
    from memlab.tasks import TASKS

    out = {}
    kinds = [args.kind] if args.kind else ["models", "tasks"]
    for kind in kinds:
        reg = MODELS if kind == "models" else TASKS
        names = list(reg)
        out[kind] = names
        if not args.json:
            print(f"{kind}:")
            for n in names:
                doc = reg[n].description if kind == "models" else (reg[n].__doc__ or "").strip().splitlines()[0]
                print(f"  {n:<16} {doc}")
    return out


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("list", parents=[common], help="list registered models or tasks")
    p.add_argument("kind", nargs="?", choices=["models", "tasks"])
    p.set_defaults(func=cmd_list)
