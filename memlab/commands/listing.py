"""``memlab list [KIND]``: the registries (models, tasks, memories, controllers, experiments,
benchmarks), one line each."""

from __future__ import annotations

import argparse
import ast
import importlib
from pathlib import Path
from typing import Any

KINDS = ("models", "tasks", "memories", "controllers", "experiments", "benchmarks")
HELP = "list a registry: " + ", ".join(KINDS) + " (default: all)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", nargs="?", choices=KINDS, metavar="KIND", help="one of " + ", ".join(KINDS))


def _first_doc_line(obj: Any) -> str:
    doc = getattr(obj, "description", None) or getattr(obj, "title", None) or getattr(obj, "__doc__", None) or ""
    lines = str(doc).strip().splitlines()
    return lines[0] if lines else ""


def _module_doc(path: str) -> str:
    try:
        return _first_doc_line(importlib.import_module(path))
    except ImportError as e:
        return f"(unavailable: {e})"


def benchmarks_dir() -> Path:
    """The source checkout's ``benchmarks/`` folder."""
    from memlab.core.errors import MemlabError

    d = Path(__file__).resolve().parents[2] / "benchmarks"
    if not d.is_dir():
        raise MemlabError(f"benchmarks folder {d} not found (benchmarks run from a source checkout)")
    return d


def list_benchmarks() -> list[str]:
    try:
        d = benchmarks_dir()
    except Exception:  # noqa: BLE001 -- an installed package has no benchmarks
        return []
    return sorted(p.stem.replace("_", "-") for p in d.glob("*.py") if not p.stem.startswith("_"))


def _benchmark_doc(name: str) -> str:
    path = benchmarks_dir() / (name.replace("-", "_") + ".py")
    try:
        return _first_doc_line(type("M", (), {"__doc__": ast.get_docstring(ast.parse(path.read_text()))}))
    except (OSError, SyntaxError):
        return ""


def items(kind: str) -> list[tuple[str, str]]:
    """(name, one-line description) of every entry of registry ``kind``."""
    if kind == "models":
        from memlab.models import MODELS

        return [(n, _first_doc_line(v)) for n, v in MODELS.items()]
    if kind == "tasks":
        from memlab.tasks import TASKS

        return [(n, _first_doc_line(v)) for n, v in TASKS.items()]
    if kind == "memories":
        reg = getattr(importlib.import_module("memlab.memory"), "MEMORIES", {})
        return [(n, _module_doc(v) if isinstance(v, str) else _first_doc_line(v)) for n, v in reg.items()]
    if kind == "controllers":
        from memlab.controllers import CONTROLLERS

        return [(n, _module_doc(v) if isinstance(v, str) else _first_doc_line(v)) for n, v in CONTROLLERS.items()]
    if kind == "experiments":
        from memlab.experiments import EXPERIMENTS, get_experiment

        out = []
        for n in EXPERIMENTS:
            try:
                out.append((n, get_experiment(n).title))
            except ImportError as e:
                out.append((n, f"(unavailable: {e})"))
        return out
    return [(n, _benchmark_doc(n)) for n in list_benchmarks()]


def run(args: argparse.Namespace) -> dict:
    out: dict[str, list[str]] = {}
    for kind in [args.kind] if args.kind else KINDS:
        rows = items(kind)
        out[kind] = [n for n, _ in rows]
        if not args.json:
            print(f"{kind}:")
            for n, doc in rows:
                print(f"  {n:<24} {doc}")
    return out
