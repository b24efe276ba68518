"""``memlab capacity <memory> [key=value ...]``: the capacity experiments of seed 001.

Each run writes ``<out>/<memory>.jsonl`` (config, point and headline records), ``<out>/<memory>.png``
(rendered from the records) and refreshes ``<out>/README.md``; the handler returns the headline
figures. ``memlab capacity all`` runs every experiment. Config keys are those of the experiment's
dataclass in ``memlab.theory.capacity`` (e.g. ``sizes=100,250 max_sweeps=20``).
"""

from __future__ import annotations

import argparse
import json
import sys

from memlab.core.errors import ConfigError


def _names() -> list[str]:
    from memlab.theory.capacity import ANALYSES

    return list(ANALYSES)


def _build_config(name: str, args: argparse.Namespace):
    from memlab.core.config import from_dict, parse_overrides
    from memlab.theory.capacity import ANALYSES, QUICK

    data = dict(QUICK[name]) if args.quick else {}
    over = parse_overrides(args.overrides)
    nested = [k for k, v in over.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(f"override {nested[0]}.… is nested; allowed: flat keys of the {name} config")
    data.update(over)
    if args.seed is not None:
        data["seed"] = args.seed
    return from_dict(ANALYSES[name].config, data)


def cmd_capacity(args: argparse.Namespace) -> dict:
    names = _names() if args.memory == "all" else [args.memory]
    if args.memory == "all" and args.overrides:
        raise ConfigError("key=value overrides are per experiment; allowed with one memory, not with 'all'")
    configs = {n: _build_config(n, args) for n in names}  # validate everything before running anything
    out = args.out or ("results/capacity-quick" if args.quick else "results/capacity")  # never clobber real runs
    results = {}
    for n in names:
        res = run_experiment(n, configs[n], out, progress=not args.no_progress, plot=not args.no_plot)
        results[res["experiment"]] = res
        if not args.json:
            print(f"[{res['experiment']}] {res['seconds']} s -> {res['records']}"
                  + (f", {res['figure']}" if "figure" in res else ""), file=sys.stdout)
            shown = {k: v for k, v in res.items() if k not in ("records", "figure", "summary", "experiment", "seconds")}
            print(json.dumps(shown, indent=1, default=str, ensure_ascii=False))
    return results[names[0]] if len(names) == 1 else results


def run_experiment(name: str, cfg, out_dir, progress: bool = True, plot: bool = True) -> dict:
    """Run, write ``<name>.jsonl`` (config + points + headline records), render ``<name>.png`` and
    ``README.md`` in ``out_dir``; return the headline dict (with the paths)."""
    import time
    from pathlib import Path

    import torch

    from memlab.core.config import to_dict
    from memlab.core.io import provenance, write_jsonl
    from memlab.theory.capacity import ANALYSES

    exp = ANALYSES[name]
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    points = exp.run(cfg, progress=progress, device=str(getattr(cfg, '_device', 'cpu')))
    seconds = time.perf_counter() - t0
    head = exp.summarize(points)
    prov = provenance(seed=cfg.seed, experiment=name, seconds=round(seconds, 2), threads=torch.get_num_threads())
    records = [{"kind": "config", **prov, "config": to_dict(cfg)}]
    records += [{**prov, **r} for r in points]
    records.append({"kind": "headline", **prov, "headline": head})
    out_dir = Path(out_dir)
    path = write_jsonl(out_dir / f"{name}.jsonl", records)
    result = {"experiment": name, "records": str(path), "seconds": round(seconds, 2), **head}
    if plot:
        from memlab.plots.capacity import render_figure, render_summary

        result["figure"] = str(render_figure(name, path, out_dir / f"{name}.png"))
        result["summary"] = str(render_summary(out_dir))
    return result


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    names = _names()
    p = sub.add_parser(
        "capacity", parents=[common],
        help="capacity experiments of the associative memories (records + PNG)",
        description="Run a capacity experiment of seed 001 and write records (JSONL), a figure (PNG) "
                    "and a markdown summary under --out. Memories: " + ", ".join(names) + ", all.",
    )
    p.add_argument("memory", choices=names + ["all"], help="which experiment")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. sizes=100,250 trials=4")
    p.add_argument("--out", default=None, help="output folder (default results/capacity; results/capacity-quick with --quick)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the config's, 0)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default cpu)")
    p.add_argument("--quick", action="store_true", help="tiny sizes for a smoke run (seconds)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plot", action="store_true", help="write records only (no PNG, no README)")
    p.set_defaults(func=cmd_capacity)
