"""The ``memlab`` command line.

Each command group lives in ``memlab/commands/<name>.py`` and exposes
``register(subparsers, common)``, which adds sub-parsers whose ``func(args) -> dict`` runs the
command and returns its headline figures. With ``--json`` the last line printed is that dict
as one JSON object. User errors (``MemlabError``) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, Sequence

from memlab.core.errors import MemlabError

#: one line per command module; a new command group is one file plus one line here
COMMAND_MODULES: tuple[str, ...] = (
    "memlab.commands.core",
    "memlab.commands.lantm",
    "memlab.commands.ntm",
    "memlab.commands.stm",
    "memlab.commands.capacity",
    "memlab.commands.theory",
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def common_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", help="print the headline figures as one JSON object last")
    p.add_argument("--threads", type=int, default=None, help="CPU intra-op threads (default 1)")
    return p


#: top-level commands that several command modules share, one area each (``memlab plot lantm``)
AREA_GROUPS: dict[str, str] = {
    "plot": "draw a figure from a run",
    "reproduce": "reproduce a paper's tables from runs",
}
_areas: dict[int, dict[str, argparse._SubParsersAction]] = {}


def area_group(sub: argparse._SubParsersAction, name: str) -> argparse._SubParsersAction:
    """The sub-parsers of the shared command ``name`` (one of ``AREA_GROUPS``), created on first use;
    each command module adds its area to it (``plot lantm``, ``plot ntm``)."""
    if name not in AREA_GROUPS:
        raise ValueError(f"unknown command group {name!r}; allowed: {', '.join(AREA_GROUPS)}")
    groups = _areas.setdefault(id(sub), {})
    if name not in groups:
        parser = sub.add_parser(name, help=AREA_GROUPS[name])
        groups[name] = parser.add_subparsers(dest=f"{name}_area", required=True, metavar="AREA", parser_class=_Parser)
    return groups[name]


def build_parser() -> argparse.ArgumentParser:
    common = common_parser()
    parser = _Parser(prog="memlab", description="Build, train and evaluate memory in neural networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from memlab.core.runtime import set_threads

        set_threads(getattr(args, "threads", None))
        result = args.func(args)
    except MemlabError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        sys.stderr.write(f"memlab: error: {msg}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("memlab: interrupted\n")
        return 130
    if getattr(args, "json", False):
        sys.stdout.flush()
        print(json.dumps(result if result is not None else {}, default=_json_default, sort_keys=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
