"""Typed configs: dataclasses that reject unknown keys and wrong types.

Every component owns a ``@dataclass`` config. ``from_dict`` builds one from plain data
(JSON, CLI overrides), naming the bad key and the allowed ones on error. ``parse_overrides``
turns ``["train.lr=0.01", "model.hidden=100"]`` into a nested dict.

A dataclass may define ``validate(self)`` to check ranges; it is called after building.
Every float is checked finite (NaN and ±inf are never settings) and every integer fits in 64 bits.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any, TypeVar

from memlab.core.errors import ConfigError, check_finite

INT_LIMIT = 2**63

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """Convert ``value`` to type ``tp`` (strings from the CLI included) or raise ConfigError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(name, value, a)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{name}={value!r} has the wrong type; expected {tp}")
    if origin is typing.Literal:
        if isinstance(value, str):
            for a in args:
                if str(a) == value:
                    return a
        if value in args:
            return value
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(str, args))}")
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v for v in value.replace("(", "").replace(")", "").replace("[", "").replace("]", "").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}={value!r} has the wrong type; expected a list")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{name}={value!r} must have {len(args)} items")
            return tuple(_coerce(f"{name}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        out = [_coerce(f"{name}[{i}]", v, inner) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a mapping of {_type_name(tp)} fields")
        return from_dict(tp, value, prefix=f"{name}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{name}={value!r} has the wrong type; expected true or false")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{name}={value!r} has the wrong type; expected an integer")
        out = None
        if isinstance(value, int):
            out = value
        elif isinstance(value, float) and value.is_integer():
            out = int(value)
        elif isinstance(value, str):
            try:
                out = int(value)
            except ValueError:
                pass
        if out is None:
            raise ConfigError(f"{name}={value!r} has the wrong type; expected an integer")
        if not -INT_LIMIT <= out < INT_LIMIT:  # torch and numpy take 64-bit integers at most
            raise ConfigError(f"{name}={value!r} is out of range; allowed: -2**63 <= {name} < 2**63")
        return out
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{name}={value!r} has the wrong type; expected a number")
        out = None
        if isinstance(value, (int, float)):
            try:
                out = float(value)
            except OverflowError:  # an int beyond 1.8e308
                out = math.inf
        elif isinstance(value, str):
            try:
                out = float(value)
            except ValueError:
                pass
        if out is None:
            raise ConfigError(f"{name}={value!r} has the wrong type; expected a number")
        check_finite(name, out)  # nan, inf and 1e400 (which parses to inf) are never settings
        return out
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name}={value!r} has the wrong type; expected a string")
    if tp is dict or origin is dict:
        if isinstance(value, dict):
            return dict(value)
        if isinstance(value, str):
            try:
                v = json.loads(value)
            except json.JSONDecodeError:
                v = None
            if isinstance(v, dict):
                return v
        raise ConfigError(f"{name}={value!r} has the wrong type; expected a mapping")
    return value


def from_dict(cls: type[T], data: dict[str, Any] | None = None, *, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise ConfigError."""
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__} must be a mapping of settings; got {type(data).__name__}")
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key {prefix}{unknown[0]!s} for {cls.__name__}; allowed keys: "
            + ", ".join(prefix + k for k in fields)
        )
    missing = [k for k, f in fields.items() if k not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{cls.__name__} needs {', '.join(prefix + k for k in missing)}")
    kwargs = {k: _coerce(prefix + k, v, hints[k]) for k, v in data.items()}
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(obj), default=str))


def replace(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` with the same checks as ``from_dict``."""
    d = dataclasses.asdict(obj)
    d.update(changes)
    return from_dict(type(obj), d)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": "1"}, "c": "x"}`` (values stay strings; configs coerce)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value (e.g. train.lr=0.01)")
        key, value = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"override {item!r} has an empty key")
        parts = key.split(".")
        d = out
        for p in parts[:-1]:
            d = d.setdefault(p, {})
            if not isinstance(d, dict):
                raise ConfigError(f"override {item!r} conflicts with an earlier override of {p}")
        d[parts[-1]] = value.strip()
    return out


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``extra`` into a copy of ``base``."""
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def config_differences(saved: dict[str, Any], requested: dict[str, Any], limit: int = 6) -> list[str]:
    """``key: saved X, requested Y`` for the first ``limit`` settings (nested sections as dotted
    keys, in sorted order) where two config dicts differ; a key one side lacks shows as ``absent``.
    What a refused resume or a record folder of another configuration names."""
    out: list[str] = []

    def show(v: Any) -> str:
        s = "absent" if v is _ABSENT else repr(v)
        return s if len(s) <= 60 else s[:57] + "..."

    def walk(a: dict[str, Any], b: dict[str, Any], prefix: str) -> None:
        for k in sorted(set(a) | set(b), key=str):
            if len(out) >= limit:
                return
            x, y = a.get(k, _ABSENT), b.get(k, _ABSENT)
            if isinstance(x, dict) and isinstance(y, dict):
                walk(x, y, f"{prefix}{k}.")
            elif x != y:
                out.append(f"{prefix}{k}: saved {show(x)}, requested {show(y)}")

    walk(saved, requested, "")
    return out


_ABSENT = object()
