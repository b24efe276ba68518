"""``memlab table EXPERIMENT | readme | bench``: re-render tables from records only (no compute).

- ``table EXPERIMENT``: the experiment's tables/summary from its records under ``--out``.
- ``table readme``: refresh every ``<!-- include: FILE -->…<!-- end include -->`` block of
  ``--out``/README.md with FILE's text.
- ``table bench``: BENCHMARKS.md in ``--out`` from the records in ``--set records=DIR``
  (default results/bench).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from memlab.commands._common import add_out, add_set
from memlab.experiments import EXPERIMENTS

ITEMS = (*EXPERIMENTS, "readme", "bench")
HELP = "re-render tables from records (no compute): an experiment (" + ", ".join(EXPERIMENTS) + "), readme or bench"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("item", choices=ITEMS, metavar="ITEM", help="one of " + ", ".join(ITEMS))
    add_set(p, "an experiment's config keys; with bench: records=DIR (default results/bench)")
    add_out(p, None, "an experiment's folder (default its results folder); readme: the folder of README.md "
                     "(default .); bench: the folder BENCHMARKS.md goes to (default .)")


# --------------------------------------------------------------------------- readme
_INCLUDE = re.compile(r"(<!-- include: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end include -->)", re.S)


def render_readme(readme: Path) -> list[str]:
    """Replace each ``<!-- include: FILE -->…<!-- end include -->`` block with FILE's text."""
    from memlab.core.errors import MemlabError
    from memlab.core.io import atomic_write_text

    if not readme.is_file():
        raise MemlabError(f"{readme} does not exist")
    root = readme.parent.resolve()
    used: list[str] = []

    def sub(m: re.Match) -> str:
        path = (root / m.group("path")).resolve()
        if root not in path.parents:
            raise MemlabError(f"{readme} includes {m.group('path')}, which is outside {root}")
        if not path.is_file():
            raise MemlabError(f"{readme} includes {m.group('path')}, which does not exist")
        used.append(m.group("path"))
        return m.group(1) + path.read_text().rstrip("\n") + "\n" + m.group(4)

    text = _INCLUDE.sub(sub, readme.read_text())
    atomic_write_text(readme, text)
    return used


# --------------------------------------------------------------------------- bench
@dataclass
class BenchTableSettings:
    records: str = "results/bench"


def render_benchmarks(results: Path, output: Path) -> Path:
    """BENCHMARKS.md from the benchmark records in ``results`` (never typed by hand)."""
    import json

    from memlab.core.errors import MemlabError
    from memlab.core.io import atomic_write_text

    if not results.is_dir():
        raise MemlabError(f"no benchmark records folder {results}; run `memlab bench NAME` first")
    lines = ["# Benchmarks", "",
             "Rendered by `memlab table bench` from the records in `results/bench/`; each section gives the "
             "command, machine and commit it was measured with. Ratios compare implementations measured side by "
             "side in one run; absolute times on shared machines are noisy.", ""]
    for p in sorted(results.glob("*.json")):
        try:
            rec = json.loads(p.read_text())
            if not isinstance(rec, dict) or not isinstance(rec.get("figures"), dict) or "name" not in rec:
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            raise MemlabError(f"{p} is not a benchmark record (JSON with name and figures)") from None
        m = rec.get("machine") if isinstance(rec.get("machine"), dict) else {}
        # the device: the record's (newer records), its figures', or the file name's suffix (``NAME-cuda.json``)
        dev = rec.get("device") or rec["figures"].get("device") or (p.stem[len(rec["name"]) + 1:] or "cpu")
        lines += [f"## {rec['name']}" + ("" if dev == "cpu" else f" on {dev}"), "",
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


def run(args: argparse.Namespace) -> dict:
    from memlab.commands._common import existing_dir, settings
    from memlab.core.errors import ConfigError
    from memlab.experiments.runner import prepare_out_dir

    if args.item == "readme":
        if args.set:
            raise ConfigError("table readme takes no --set; --out names the folder of README.md")
        readme = existing_dir(args.out or ".", "--out") / "README.md"
        used = render_readme(readme)
        if not args.json:
            print(f"rendered {len(used)} block(s) into {readme}: {', '.join(used)}")
        return {"readme": str(readme), "included": used}
    if args.item == "bench":
        st = settings(BenchTableSettings, args.set)
        path = render_benchmarks(Path(st.records), prepare_out_dir(args.out or ".") / "BENCHMARKS.md")
        if not args.json:
            print(f"wrote {path}")
        return {"path": str(path)}
    from memlab.commands.run import report
    from memlab.experiments import get_experiment
    from memlab.experiments.runner import render_experiment

    res = render_experiment(get_experiment(args.item), args.out, overrides=args.set, plots=False)
    if not args.json:
        report(res)
    return res
