"""The ``memlab`` command line: one grammar, one place where failures become one line.

    memlab VERB [ITEM …] [--set k=v …] [--out DIR] [--json] [--threads N] [--debug]

Each verb is a thin adapter in ``memlab/commands/<module>.py`` (``HELP``, ``add_arguments``,
``run(args) -> dict``). ``--json`` prints the returned headline dict as one JSON object last.
A bad value is one line on stderr naming it and what is allowed, exit status 2; an unexpected
internal error is one line naming a report file with the traceback, exit status 1 (``--debug``
shows the traceback instead). A command whose work ended badly but completely (``train`` of a
run that diverged: exit 3) returns its status as ``exit_status`` in its dict. Building the parser imports no torch or numpy.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from memlab.core.errors import MemlabError

#: verb -> command module (one line per verb)
VERBS: dict[str, str] = {
    "list": "memlab.commands.listing",
    "train": "memlab.commands.train",
    "eval": "memlab.commands.evaluate",
    "run": "memlab.commands.run",
    "table": "memlab.commands.table",
    "merge": "memlab.commands.merge",
    "plot": "memlab.commands.plot",
    "bench": "memlab.commands.bench",
    "runs": "memlab.commands.runs",
    "report": "memlab.commands.report",
}
#: verbs whose work uses torch: their intra-op threads are set (default 1) before they run
TORCH_VERBS = frozenset({"train", "eval", "run", "plot", "bench"})

GRAMMAR = """\
grammar: memlab VERB [ITEM …] [--set k=v …] [--out DIR] [--json] [--threads N]
  list [models|tasks|memories|controllers|experiments|benchmarks]   the registries
  train --model M --task T [--seed S] [--name N] [--resume [RUN]]   one training run in the store (--out, default runs/)
  eval RUN [RUN …] [--scales 1,2,4 | --lengths 20,40]              fine/coarse scores of trained runs
  run EXPERIMENT [--quick] [--fresh] [--jobs N] [--seed S]          any experiment: resumable, parallel, records → tables → figures
  table EXPERIMENT | readme | bench                                 re-render tables from records (no compute)
  merge EXPERIMENT --from DIR [--from DIR …]                        add records run elsewhere (own --out), re-render
  plot EXPERIMENT | RUN [--set length=… seed=… checkpoint=…]        figures from records / a trace figure of a trained run
  bench NAME [--quick]                                              one benchmark → results/bench/NAME.json
  runs                                                              the store index
  report [--set records=PATH screenshot=true]                       the leaderboard records as one HTML page

Every verb takes --json (last line: one JSON object), --threads N and --debug; settings are
--set KEY=VALUE (repeatable and multi-valued); --out is always a folder. `memlab VERB --help`
lists each verb's items and options. Exit status: 0 done, 1 internal error (a report file is
named), 2 a bad value or file, 3 a training run that diverged, 130 interrupted."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        message = " ".join(str(message).split())
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def common_parser() -> argparse.ArgumentParser:
    """--json, --threads and --debug, shared by every verb."""
    from memlab.commands._common import threads_type

    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", help="print the headline figures as one JSON object last")
    p.add_argument("--threads", type=threads_type, default=None, metavar="N",
                   help="CPU intra-op threads (default 1)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    return p


def build_parser() -> argparse.ArgumentParser:
    """The whole grammar; imports only the light command modules."""
    common = common_parser()
    parser = _Parser(prog="memlab", description="Build, train and evaluate memory in neural networks.",
                     epilog=GRAMMAR, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser, metavar="VERB")
    for verb, module in VERBS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(verb, parents=[common], help=mod.HELP, description=mod.HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return parser


def _json_default(o: Any) -> Any:
    if hasattr(o, "item") and callable(o.item):  # numpy / torch scalars
        try:
            return o.item()
        except (TypeError, ValueError):
            pass
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


#: OS errors that are about the user's files or machine, not a bug
_USER_ERRNOS = {errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EROFS, errno.EDQUOT, errno.ENAMETOOLONG,
                errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.ELOOP, errno.EMFILE}


def _user_error(e: BaseException) -> str | None:
    """The one-line message of an exception that is the user's input or machine, else None."""
    if isinstance(e, MemlabError):
        return _first_line(e)
    if isinstance(e, MemoryError):
        return "out of memory; use smaller sizes (see --set) or free memory"
    if isinstance(e, OSError) and e.errno in _USER_ERRNOS:
        where = f": {e.filename}" if e.filename else ""
        return f"{e.strerror or type(e).__name__}{where}"
    if isinstance(e, RuntimeError) and any(s in str(e) for s in ("out of memory", "can't allocate memory")):
        return "out of memory (" + _first_line(e)[:120] + "); use smaller sizes (see --set)"
    return None


def write_report(exc: BaseException, argv: Sequence[str]) -> Path | None:
    """Write the traceback of an internal error to a report file; its path (None if unwritable)."""
    import tempfile
    import time
    import traceback

    folder = Path(os.environ.get("MEMLAB_REPORT_DIR") or Path(tempfile.gettempdir()) / "memlab-reports")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        text = ["memlab internal error", f"argv: {list(argv)!r}", f"python: {sys.version.split()[0]}",
                f"cwd: {os.getcwd()}", "", "".join(traceback.format_exception(exc))]
        path.write_text("\n".join(text))
        return path
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 internal error, 2 bad input, 3 a diverged
    training run, 130 Ctrl-C)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2, already printed as one line)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    debug = bool(getattr(args, "debug", False))
    try:
        if args.threads is not None:
            os.environ["MEMLAB_THREADS"] = str(args.threads)
        if args.verb in TORCH_VERBS:
            from memlab.core.runtime import set_threads

            set_threads(args.threads)
        result = args.func(args)
    except KeyboardInterrupt:
        sys.stderr.write("memlab: interrupted\n")
        return 130
    except Exception as e:  # noqa: BLE001 -- the one place where failures become one line
        msg = _user_error(e)
        if debug:
            raise
        if msg is not None:
            sys.stderr.write(f"memlab {args.verb}: error: {msg}\n")
            return 2
        report = write_report(e, argv)
        where = f"full report: {report}" if report else "no report could be written"
        sys.stderr.write(f"memlab {args.verb}: internal error: {type(e).__name__}: {_first_line(e)[:200]} "
                         f"({where}; --debug shows the traceback)\n")
        return 1
    if getattr(args, "json", False):
        sys.stdout.flush()
        print(json.dumps(result if result is not None else {}, default=_json_default, sort_keys=True))
    status = result.get("exit_status", 0) if isinstance(result, dict) else 0
    return status if isinstance(status, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
