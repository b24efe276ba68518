"""``memlab bench NAME``: one benchmark from ``benchmarks/`` → ``--out``/NAME.json (default
results/bench). ``memlab list benchmarks`` lists them; ``memlab table bench`` renders BENCHMARKS.md."""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

from memlab.commands._common import add_out, device_type
from memlab.commands.listing import list_benchmarks

HELP = "run one benchmark: " + (", ".join(list_benchmarks()) or "(none: benchmarks/ is not here)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    names = list_benchmarks()
    p.add_argument("name", metavar="NAME", help="one of " + ", ".join(names))
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    p.add_argument("--device", type=device_type, default="cpu", help="cpu, cuda, cuda:N or auto")
    add_out(p, "results/bench", "folder of the benchmark record (default results/bench)")
    p.add_argument("--no-record", action="store_true", help="do not write a record")


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


def run(args: argparse.Namespace) -> dict:
    import importlib.util

    from memlab.commands.listing import benchmarks_dir
    from memlab.core.errors import ConfigError
    from memlab.core.io import atomic_write_json, provenance
    from memlab.core.runtime import resolve_device
    from memlab.experiments.runner import prepare_out_dir

    names = list_benchmarks()
    if args.name not in names:
        raise ConfigError(f"unknown benchmark {args.name!r}; choose one of {', '.join(names)}")
    args.device = str(resolve_device(args.device))  # a device this machine lacks is a one-line error, not a crash
    out = None if args.no_record else prepare_out_dir(args.out)
    path = benchmarks_dir() / (args.name.replace("-", "_") + ".py")
    spec = importlib.util.spec_from_file_location(f"memlab_bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    t0 = time.perf_counter()
    figures = mod.run(quick=args.quick, device=args.device)
    rec = {"name": args.name, "device": args.device, "figures": figures, "machine": machine_info(), "quick": args.quick,
           "command": f"memlab bench {args.name}" + (" --quick" if args.quick else "") +
                      (f" --device {args.device}" if args.device != "cpu" else ""),
           "wall_s": round(time.perf_counter() - t0, 1)}
    rec.update(provenance())
    if out is not None:
        suffix = "" if args.device == "cpu" else f"-{args.device.replace(':', '')}"
        atomic_write_json(out / f"{args.name}{suffix}.json", rec)
    if not args.json:
        for k, v in figures.items():
            print(f"{k:>28}: {v}")
    return rec
