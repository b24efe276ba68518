"""Shared option types and checks of the verbs: every bad value is a one-line error naming the
value and what is allowed (argparse types raise ``ArgumentTypeError``, handlers ``ConfigError``)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Callable

from memlab.core.errors import ConfigError

#: bounds on values that size loops or allocations (a clear error beats a hang)
MAX_SEED = 2**63 - 1
MAX_THREADS = 1024
MAX_JOBS = 1024
MAX_LENGTH = 100_000
MAX_ITEMS = 100  # scales or lengths in one command
MAX_BATCHES = 100_000
MAX_BATCH_SIZE = 65_536


def _int(text: str, what: str, lo: int, hi: int) -> int:
    try:
        n = int(str(text).strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}={text!r} is not an integer; allowed: {lo} to {hi}") from None
    if not lo <= n <= hi:
        raise argparse.ArgumentTypeError(f"{what}={n} is out of range; allowed: {lo} to {hi}")
    return n


def int_type(what: str, lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: an integer in [lo, hi]."""
    def parse(text: str) -> int:
        return _int(text, what, lo, hi)

    parse.__name__ = what.lstrip("-")
    return parse


seed_type = int_type("--seed", 0, MAX_SEED)
threads_type = int_type("--threads", 1, MAX_THREADS)
jobs_type = int_type("--jobs", 1, MAX_JOBS)


def name_type(text: str) -> str:
    """A run name: one path component (no ``/``, not ``.`` or ``..``), printable."""
    if not text or text in (".", "..") or "/" in text or "\\" in text or not text.isprintable() or len(text) > 200:
        raise argparse.ArgumentTypeError(
            f"--name={text!r} is not allowed; a run name is one folder name (letters, digits, -_.; no /)")
    return text


def device_type(text: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (checked for availability when used)."""
    t = text.strip()
    if t in ("cpu", "cuda", "auto") or (t.startswith("cuda:") and t[5:].isdigit() and len(t) < 12):
        return t
    raise argparse.ArgumentTypeError(f"--device={text!r} is not allowed; choose cpu, cuda, cuda:N or auto")


def path_type(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text or "\0" in text:
            raise argparse.ArgumentTypeError(f"{what}={text!r} is not a path")
        return text

    parse.__name__ = what.lstrip("-")
    return parse


def add_set(p: argparse.ArgumentParser, help: str) -> None:
    """``--set k=v …``: repeatable and multi-valued (``--set a=1 b=2 --set c=3``)."""
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help=help)


def add_out(p: argparse.ArgumentParser, default: str | None, help: str) -> None:
    p.add_argument("--out", default=default, type=path_type("--out"), metavar="DIR", help=help)


def settings(cls: type, items: list[str], prefix: str = "") -> Any:
    """A typed dataclass from ``--set`` items (unknown keys and bad values are one-line errors)."""
    from memlab.core.config import from_dict, parse_overrides

    data = parse_overrides(items)
    nested = next((k for k, v in data.items() if isinstance(v, dict)), None)
    if nested is not None:
        import dataclasses

        raise ConfigError(f"unknown key {prefix}{nested}.…; allowed keys: "
                          + ", ".join(prefix + f.name for f in dataclasses.fields(cls)))
    return from_dict(cls, data, prefix=prefix)


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}={value!r} has the wrong type; expected an integer")
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value} is out of range; allowed: {lo} to {hi}")
    return value


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return "-" if v is None else str(v)


def print_table(rows: list[dict[str, Any]], cols: list[str]) -> None:
    widths = {c: max([len(c)] + [len(fmt(r.get(c))) for r in rows]) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(fmt(r.get(c)).ljust(widths[c]) for c in cols))


def existing_dir(path: str, what: str) -> Path:
    """``path`` as a folder that exists (one-line error otherwise)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{what} {p} does not exist")
    if not p.is_dir():
        raise ConfigError(f"{what} {p} is not a folder")
    return p
