"""Helpers shared by the capacity analyses: crossings of measured curves, checks, record shape."""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor



def crossing(xs: list[float], ys: list[float], level: float) -> float | None:
    """The first x where the piecewise-linear curve (xs, ys) crosses ``level`` (either direction);
    None if it never does. xs increasing."""
    for i in range(1, len(xs)):
        y0, y1 = ys[i - 1] - level, ys[i] - level
        if y0 == 0:
            return float(xs[i - 1])
        if y0 * y1 < 0 or y1 == 0:
            return float(xs[i - 1] + (xs[i] - xs[i - 1]) * y0 / (y0 - y1))
    return None


def crossing_or_bound(xs: list[float], ys: list[float], level: float) -> float | str:
    """``crossing``, or "< x_0" / "> x_last" when the curve starts below / stays above ``level``."""
    x = crossing(xs, ys, level)
    if x is not None or not xs:
        return x
    return f"< {xs[0]}" if ys[0] < level else f"> {xs[-1]}"


def normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _relative_error(out: Tensor, target: Tensor) -> Tensor:
    """‖ỹ − y‖ / ‖y‖ per item: (..., D) -> (...)."""
    return (out - target).norm(dim=-1) / target.norm(dim=-1).clamp_min(1e-12)


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not progress, leave=False, dynamic_ncols=True)


def _point(experiment: str, part: str, seed: int, **fields: Any) -> dict[str, Any]:
    return {"kind": "point", "experiment": experiment, "part": part, "seed": seed, **fields}
