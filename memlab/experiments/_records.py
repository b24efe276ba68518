"""Checks on the records an experiment reads back (stm-*, capacity-*, theory-*).

A record file edited by hand, cut short or written by another tool must end in a one-line
``MemlabError`` naming the file and the bad field, never in a traceback from deep inside a
summary or a figure: :func:`check_records` checks the fields every record needs before anything
is computed from them, and :func:`malformed` turns a failure while rendering into that error.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from memlab.core.errors import MemlabError

NUMBER = (int, float)
_MISSING = object()


def _type_name(t: type | tuple[type, ...]) -> str:
    if t == NUMBER:
        return "a number"
    ts = t if isinstance(t, tuple) else (t,)
    return " or ".join({int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping",
                        bool: "true or false"}.get(x, x.__name__) for x in ts)


def check_records(records: list[dict[str, Any]], fields: dict[str, type | tuple[type, ...]], where: str, *,
                  when: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
    """``records`` unchanged, or MemlabError if one (of those ``when`` selects) lacks a field of
    ``fields`` or holds a value of another type (``True`` is not a number)."""
    for i, r in enumerate(records, 1):
        if not isinstance(r, dict):
            raise MemlabError(f"{where}: record {i} is not a JSON object; fix or delete the file (or run with --fresh)")
        if when is not None and not when(r):
            continue
        for k, t in fields.items():
            v = r.get(k, _MISSING)
            if v is _MISSING:
                raise MemlabError(f"{where}: record {i} lacks {k!r}; fix or delete the file (or run with --fresh)")
            if isinstance(v, bool) and bool not in (t if isinstance(t, tuple) else (t,)) or not isinstance(v, t):
                raise MemlabError(f"{where}: record {i} has {k}={v!r}; expected {_type_name(t)}")
    return records


@contextmanager
def malformed(where: str) -> Iterator[None]:
    """Turn an error raised while rendering records into one line naming ``where``."""
    try:
        yield
    except MemlabError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as e:
        raise MemlabError(f"{where}: malformed records ({type(e).__name__}: {e}); fix or delete the file "
                          "(or run with --fresh)") from None
