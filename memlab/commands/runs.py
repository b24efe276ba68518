"""``memlab runs``: the store index (every run and its evaluations at scales)."""

from __future__ import annotations

import argparse

from memlab.commands._common import add_out

HELP = "table of the runs in a store (--out, default runs/) and their best scores"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_out(p, "runs", "the store folder (default runs/)")


def run(args: argparse.Namespace) -> dict:
    import sqlite3
    from pathlib import Path

    from memlab.commands._common import print_table
    from memlab.core.errors import MemlabError
    from memlab.store import Store

    from memlab.experiments.runner import check_out_dir

    root = check_out_dir(args.out)
    rows: list[dict] = []
    if (root / "index.sqlite").exists():
        store = Store(root)
        try:
            runs, evals = store.runs(), store.evals()
        except sqlite3.DatabaseError as e:
            raise MemlabError(f"{store.path} is not a memlab index ({e}); move it away to rebuild it") from None
        for r in runs:
            row = {k: r.get(k) for k in ("run_id", "model", "task", "seed", "status", "epochs", "elapsed_s",
                                         "best_fine", "best_coarse")}
            for e in evals:
                if e.get("run_id") == r["run_id"] and e.get("scale") is not None:
                    row[f"{e['scale']}x_coarse"] = e["coarse"]
            rows.append(row)
    if not args.json:
        if not rows:
            print(f"no runs in {root}")
        else:
            scale_cols = sorted({k for row in rows for k in row if k.endswith("x_coarse")}, key=lambda c: int(c[:-8]))
            print_table(rows, ["run_id", "model", "task", "seed", "status", "epochs", "best_fine", "best_coarse",
                               *scale_cols])
    return {"store": str(root / "index.sqlite"), "runs": rows}
