"""Errors that the CLI turns into a one-line message and exit status 2, and the checks that
raise them. Every numeric check rejects NaN and ±inf first: comparisons with NaN are false, so
a plain ``lo <= x <= hi`` would let ``nan`` through every range."""

from __future__ import annotations

import math
import os
from numbers import Real
from typing import Any, Iterable


class MemlabError(Exception):
    """Base class for user-facing errors (bad input, missing files, corrupt checkpoints)."""


class ConfigError(MemlabError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise ConfigError unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")


def check_finite(name: str, value: Any) -> None:
    """Raise ConfigError unless ``value`` is a real number other than NaN and ±inf."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"{name}={value!r} has the wrong type; expected a number")
    if not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} is not allowed; it must be a finite number (not nan or inf)")


def check_range(name: str, value: Any, lo: Any = None, hi: Any = None, *, lo_open: bool = False,
                hi_open: bool = False) -> None:
    """Raise ConfigError unless ``value`` is finite and lo <= value <= hi (strict where ``*_open``)."""
    check_finite(name, value)
    bad = False
    if lo is not None:
        bad |= value <= lo if lo_open else value < lo
    if hi is not None:
        bad |= value >= hi if hi_open else value > hi
    if bad:
        lb = "" if lo is None else (f"> {lo}" if lo_open else f">= {lo}")
        hb = "" if hi is None else (f"< {hi}" if hi_open else f"<= {hi}")
        allowed = " and ".join(b for b in (lb, hb) if b)
        raise ConfigError(f"{name}={value!r} is out of range; allowed: {allowed}")


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def available_memory(device: Any = "cpu") -> int:
    """Bytes that can be allocated now: free GPU memory for a CUDA device, else the host's
    ``MemAvailable`` (Linux), else physical memory. Never imports torch for the CPU."""
    dev = str(device)
    if dev.startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(dev))
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 2**63 - 1


def check_alloc(name: str, n_bytes: float, limit: float | None = None, *, device: Any = "cpu",
                hint: str = "") -> None:
    """Raise ConfigError if allocating about ``n_bytes`` would not fit in ``limit`` bytes
    (default: the memory available now on ``device``).

    A clear error before allocating beats an allocator failure, an OOM kill or hours of
    swapping. ``name`` says what asked for it (e.g. ``"train.batch_size=1000000000"``) and
    ``hint`` what to lower.
    """
    if not math.isfinite(n_bytes) or n_bytes < 0:
        raise ConfigError(f"{name} needs an impossible amount of memory ({n_bytes!r} bytes)")
    if limit is None:
        limit = available_memory(device)
    if n_bytes > limit:
        more = f"; {hint}" if hint else ""
        raise ConfigError(f"{name} needs about {_gib(n_bytes)} of memory but only {_gib(limit)} is available{more}")
