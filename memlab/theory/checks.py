"""Argument checks shared by the analyses: finite numbers in range, integer counts, memory budgets.

``core.errors.check_range`` compares, and every comparison with NaN is false, so NaN would pass
it; these checks reject NaN and ±inf first. Each failure is a one-line ``ConfigError`` naming the
value and what is allowed.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterable

from memlab.core.errors import ConfigError, check_range

#: the largest working set an analysis may ask for when the machine's memory cannot be read
_FALLBACK_BYTES = 16 * 2**30


def check_number(name: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                 lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a float, or ConfigError unless it is a finite real number in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise ConfigError(f"{name}={value!r} has the wrong type; expected a number")
    x = float(value)
    if not math.isfinite(x):
        lb = "" if lo is None else (f"> {lo}" if lo_open else f">= {lo}")
        hb = "" if hi is None else (f"< {hi}" if hi_open else f"<= {hi}")
        allowed = " and ".join(b for b in (lb, hb) if b) or "any finite number"
        raise ConfigError(f"{name}={value!r} is not a finite number; allowed: {allowed}")
    check_range(name, value if isinstance(value, int) else x, lo, hi, lo_open=lo_open, hi_open=hi_open)
    return x


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int, or ConfigError unless it is an integer in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        elif hasattr(value, "__index__"):
            value = int(value.__index__())
        else:
            raise ConfigError(f"{name}={value!r} has the wrong type; expected an integer")
    check_range(name, value, lo, hi)
    return int(value)


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` if it is an integer with 0 <= seed < 2**63 (what every RNG here accepts)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ConfigError(f"{name}={seed!r} is out of range; allowed: integers 0 <= {name} < 2**63")
    return seed


def check_numbers(name: str, values: Iterable[Any], lo: float | None = None, hi: float | None = None, *,
                  lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> None:
    """Every entry of the non-empty ``values`` passes :func:`check_number` (or :func:`check_int`)."""
    values = list(values)
    if not values:
        raise ConfigError(f"{name} is empty; allowed: a non-empty list")
    for v in values:
        if integer:
            check_range(name, check_int(name, v), lo, hi, lo_open=lo_open, hi_open=hi_open)
        else:
            check_number(name, v, lo, hi, lo_open=lo_open, hi_open=hi_open)


def memory_limit_bytes() -> int:
    """Half the machine's physical memory (``MEMLAB_MAX_BYTES`` overrides it)."""
    env = os.environ.get("MEMLAB_MAX_BYTES")
    if env:
        try:
            return int(float(env))
        except ValueError:
            raise ConfigError(f"MEMLAB_MAX_BYTES={env!r} is not a number of bytes") from None
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return _FALLBACK_BYTES


def check_memory(what: str, n_bytes: float, hint: str = "") -> None:
    """ConfigError when ``what`` needs more than :func:`memory_limit_bytes` (checked before allocating)."""
    limit = memory_limit_bytes()
    if n_bytes > limit:
        raise ConfigError(f"{what} needs about {n_bytes / 2**30:.3g} GiB, more than the {limit / 2**30:.3g} GiB "
                          f"allowed (half the machine's memory){'; ' + hint if hint else ''}")
