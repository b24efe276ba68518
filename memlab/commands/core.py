"""Core commands: list, train, eval, runs, demo, bench."""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import re
import time
from pathlib import Path
from typing import Any

from memlab.core.errors import ConfigError, MemlabError


def _print_table(rows: list[dict[str, Any]], cols: list[str]) -> None:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}"
        return "-" if v is None else str(v)

    widths = {c: max(len(c), *(len(fmt(r.get(c))) for r in rows)) if rows else len(c) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(fmt(r.get(c)).ljust(widths[c]) for c in cols))


# --------------------------------------------------------------------------- list
def cmd_list(args: argparse.Namespace) -> dict:
    from memlab.models import MODELS
    from memlab.tasks import TASKS

    out = {}
    for kind in [args.kind] if args.kind else ["models", "tasks"]:
        reg = MODELS if kind == "models" else TASKS
        out[kind] = list(reg)
        if not args.json:
            print(f"{kind}:")
            for n, v in reg.items():
                doc = v.description if kind == "models" else (v.__doc__ or "").strip().splitlines()[0]
                print(f"  {n:<20} {doc}")
    return out


# --------------------------------------------------------------------------- train / eval / runs
def cmd_train(args: argparse.Namespace) -> dict:
    from memlab.core.config import parse_overrides
    from memlab.training.run import train_run

    overrides = parse_overrides(args.set)
    resume: Any = False
    if args.resume is not None:
        resume = True if args.resume == "" else args.resume
    s = train_run(args.model, args.task, overrides or None, seed=args.seed, out=args.out, resume=resume,
                  progress=not args.no_progress, device=args.device, name=args.name)
    if not args.json:
        best = s.get("best_test") or {}
        print(f"run {s['run_id']}: {s['epochs']} epochs, {s['sequences_seen']} sequences, {s['elapsed_s']:.1f} s, "
              f"stop: {s['stop_reason']}; best test fine {best.get('fine', float('nan')):.4f} "
              f"coarse {best.get('coarse', float('nan')):.4f}")
        print(f"files: {s['run_dir']}")
    return s


def cmd_eval(args: argparse.Namespace) -> dict:
    from memlab.evaluation.evaluate import evaluate_run, parse_scales

    scales = parse_scales(args.scales)
    recs = evaluate_run(args.run, scales, batches=args.batches, device=args.device, checkpoint=args.checkpoint,
                        progress=not args.json)
    if not args.json:
        _print_table([{**r, "lengths": f"{r['lengths'][0]}-{r['lengths'][1]}"} for r in recs],
                     ["model", "task", "scale", "lengths", "fine", "coarse", "n_sequences"])
        print(f"records: {Path(args.run) / 'evals.jsonl'}")
    return {"run": str(args.run), "evals": recs}


def cmd_runs(args: argparse.Namespace) -> dict:
    from memlab.store import Store

    store = Store(args.out)
    runs = store.runs()
    evals = store.evals()
    rows = []
    for r in runs:
        row = {k: r[k] for k in ("run_id", "model", "task", "seed", "status", "epochs", "elapsed_s", "best_fine", "best_coarse")}
        for e in evals:
            if e.get("run_id") == r["run_id"]:
                row[f"{e['scale']}x_coarse"] = e["coarse"]
        rows.append(row)
    if not args.json:
        if not rows:
            print(f"no runs in {args.out}")
        else:
            scale_cols = sorted({k for row in rows for k in row if k.endswith("x_coarse")}, key=lambda c: int(c[:-8]))
            _print_table(rows, ["run_id", "model", "task", "seed", "status", "epochs", "best_fine", "best_coarse", *scale_cols])
    return {"store": str(store.path), "runs": rows}


# --------------------------------------------------------------------------- demo
#: a short end-to-end comparison: each model learns copy over a small vocabulary
DEMO_TASK = {"train_min": 2, "train_max": 8, "test_min": 9, "test_max": 16, "vocab": 16}
DEMO_RUNS: list[tuple[str, dict[str, Any]]] = [
    ("lantm-invnorm", {"train": {"max_epochs": 300, "eval_every": 10, "eval_batches": 5, "max_time_s": 120}}),
    ("lstm", {"model": {"hidden": 128, "layers": 1, "embed": 16},
              "train": {"lr": 0.002, "max_epochs": 300, "eval_every": 10, "eval_batches": 5, "max_time_s": 90}}),
]


def cmd_demo(args: argparse.Namespace) -> dict:
    from memlab.evaluation.evaluate import evaluate_run
    from memlab.models import MODELS
    from memlab.training.run import train_run

    out = Path(args.out)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows, t0 = [], time.perf_counter()
    for model, ov in DEMO_RUNS:
        if model not in MODELS:
            continue
        ov = {**ov, "task": DEMO_TASK}
        print(f"== training {model} on copy (lengths {DEMO_TASK['train_min']}-{DEMO_TASK['train_max']}, "
              f"vocab {DEMO_TASK['vocab']}) ==", flush=True)
        s = train_run(model, "copy", ov, seed=args.seed, out=out, name=f"demo-{model}-{stamp}",
                      progress=not args.no_progress, device=args.device)
        for r in evaluate_run(s["run_dir"], (1, 2, 4), batches=args.batches, device=args.device):
            rows.append({"model": model, "scale": f"{r['scale']}x", "lengths": f"{r['lengths'][0]}-{r['lengths'][1]}",
                         "fine": r["fine"], "coarse": r["coarse"], "epochs": s["epochs"], "run_dir": s["run_dir"]})
    elapsed = time.perf_counter() - t0
    print("\ncopy task, fine (per symbol) and coarse (per sequence) scores:")
    _print_table(rows, ["model", "scale", "lengths", "fine", "coarse", "epochs"])
    print(f"\nrun folders and index: {out.resolve()} (see `memlab runs --out {out}`); {elapsed:.0f} s in all")
    return {"rows": rows, "store": str(out / "index.sqlite"), "elapsed_s": round(elapsed, 1)}


# --------------------------------------------------------------------------- bench
def benchmarks_dir() -> Path:
    d = Path(__file__).resolve().parents[2] / "benchmarks"
    if not d.is_dir():
        raise MemlabError(f"benchmarks folder {d} not found (benchmarks run from a source checkout)")
    return d


def list_benchmarks() -> list[str]:
    return sorted(p.stem.replace("_", "-") for p in benchmarks_dir().glob("*.py") if not p.stem.startswith("_"))


def machine_info() -> dict[str, Any]:
    import os

    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "threads": torch.get_num_threads()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def cmd_bench(args: argparse.Namespace) -> dict:
    if args.name == "list":
        names = list_benchmarks()
        if not args.json:
            print("\n".join(names))
        return {"benchmarks": names}
    if args.name == "render":
        path = render_benchmarks(Path(args.results), Path(args.output))
        print(f"wrote {path}")
        return {"path": str(path)}
    names = list_benchmarks()
    if args.name not in names:
        raise ConfigError(f"unknown benchmark {args.name!r}; choose one of {', '.join(names)} (or list, render)")
    path = benchmarks_dir() / (args.name.replace("-", "_") + ".py")
    spec = importlib.util.spec_from_file_location(f"memlab_bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    t0 = time.perf_counter()
    figures = mod.run(quick=args.quick, device=args.device)
    rec = {"name": args.name, "figures": figures, "machine": machine_info(), "quick": args.quick,
           "command": f"memlab bench {args.name}" + (" --quick" if args.quick else "") +
                      (f" --device {args.device}" if args.device != "cpu" else ""),
           "wall_s": round(time.perf_counter() - t0, 1)}
    from memlab.core.io import atomic_write_json, provenance

    rec.update(provenance())
    if not args.no_record:
        suffix = "" if args.device == "cpu" else f"-{args.device.replace(':', '')}"
        atomic_write_json(Path(args.results) / f"{args.name}{suffix}.json", rec)
    if not args.json:
        for k, v in figures.items():
            print(f"{k:>28}: {v}")
    return rec


def render_benchmarks(results: Path, output: Path) -> Path:
    """BENCHMARKS.md from the benchmark records in ``results`` (never typed by hand)."""
    from memlab.core.io import atomic_write_text

    lines = ["# Benchmarks", "",
             "Rendered by `memlab bench render` from the records in `results/bench/`; each section gives the "
             "command, machine and commit it was measured with. Ratios compare implementations measured side by "
             "side in one run; absolute times on shared machines are noisy.", ""]
    for p in sorted(results.glob("*.json")):
        rec = json.loads(p.read_text())
        m = rec.get("machine", {})
        lines += [f"## {rec['name']}", "",
                  f"- command: `{rec.get('command')}`",
                  f"- machine: {m.get('cpu', m.get('processor'))}, {m.get('cpus')} CPUs, {m.get('threads')} torch "
                  f"thread(s){', GPU ' + m['gpu'] if m.get('gpu') else ''}; torch {m.get('torch')}, Python {m.get('python')}",
                  f"- commit {rec.get('commit')}, {rec.get('time')}", "",
                  "| figure | value |", "|---|---|"]
        nested = []
        for k, v in rec["figures"].items():
            if isinstance(v, (dict, list)):
                nested.append(k)
                continue
            if isinstance(v, float):
                v = f"{v:.4g}"
            lines.append(f"| {k} | {v} |")
        if nested:
            lines += ["", f"Per-variant details ({', '.join(nested)}): `results/bench/{p.name}`."]
        lines.append("")
    return atomic_write_text(output, "\n".join(lines))


# --------------------------------------------------------------------------- readme
_INCLUDE = re.compile(r"(<!-- include: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end include -->)", re.S)


def render_readme(readme: Path) -> list[str]:
    """Replace each ``<!-- include: FILE -->…<!-- end include -->`` block with FILE's text."""
    from memlab.core.io import atomic_write_text

    if not readme.exists():
        raise MemlabError(f"{readme} does not exist")
    root = readme.parent
    used: list[str] = []

    def sub(m: re.Match) -> str:
        path = root / m.group("path")
        if not path.exists():
            raise MemlabError(f"{readme} includes {m.group('path')}, which does not exist")
        used.append(m.group("path"))
        return m.group(1) + path.read_text().rstrip("\n") + "\n" + m.group(4)

    text = _INCLUDE.sub(sub, readme.read_text())
    atomic_write_text(readme, text)
    return used


def cmd_render_readme(args: argparse.Namespace) -> dict:
    used = render_readme(Path(args.readme))
    if not args.json:
        print(f"rendered {len(used)} block(s) into {args.readme}: {', '.join(used)}")
    return {"readme": args.readme, "included": used}


# --------------------------------------------------------------------------- registration
def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("list", parents=[common], help="list registered models or tasks")
    p.add_argument("kind", nargs="?", choices=["models", "tasks"])
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("train", parents=[common], help="train a model on a task in a new run folder")
    p.add_argument("--model", help="a name from `memlab list models`")
    p.add_argument("--task", help="a name from `memlab list tasks`")
    p.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE",
                   help="overrides: model.*, task.*, train.* (e.g. train.lr=0.01 task.train_max=10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs", help="store folder (default runs/)")
    p.add_argument("--name", help="run folder name (default MODEL-TASK-sSEED-TIME)")
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="RUN",
                   help="continue a run from its last checkpoint (a run folder, or --name under --out)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", parents=[common], help="fine/coarse scores of a run at length scales")
    p.add_argument("run", help="run folder")
    p.add_argument("--scales", default="1,2", help="comma-separated scales n (n x = lengths (n-1)m+1..nm)")
    p.add_argument("--batches", type=int, default=100)
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("runs", parents=[common], help="table of runs and their best scores")
    p.add_argument("--out", default="runs", help="store folder (default runs/)")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("demo", parents=[common], help="a short end-to-end run (a few minutes on 2 cores)")
    p.add_argument("--out", default="runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batches", type=int, default=20, help="evaluation batches per scale")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", parents=[common], help="run a benchmark from benchmarks/ (or: list, render)")
    p.add_argument("name", help="benchmark name, `list`, or `render` (writes BENCHMARKS.md)")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    p.add_argument("--device", default="cpu")
    p.add_argument("--results", default="results/bench", help="where benchmark records go")
    p.add_argument("--output", default="BENCHMARKS.md", help="with render: the markdown file to write")
    p.add_argument("--no-record", action="store_true", help="do not write a record")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("render-readme", parents=[common], help="refresh README blocks rendered from results/")
    p.add_argument("--readme", default="README.md")
    p.set_defaults(func=cmd_render_readme)
