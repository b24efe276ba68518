"""Errors that the CLI turns into a one-line message and exit status 2."""


class MemlabError(Exception):
    """Base class for user-facing errors (bad input, missing files, corrupt checkpoints)."""


class ConfigError(MemlabError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


def check_choice(name: str, value, allowed) -> None:
    """Raise ConfigError unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")


def check_range(name: str, value, lo=None, hi=None, *, lo_open: bool = False, hi_open: bool = False) -> None:
    """Raise ConfigError unless lo <= value <= hi (strict where ``*_open``)."""
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
