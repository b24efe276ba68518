"""Leaderboard records → one summary row per (model, task): medians and spreads over seeds.

A record is one cell (model, task, seed) of ``memlab run leaderboard`` (schema in
``memlab/experiments/leaderboard.py``). :func:`load_records` checks every field the report uses
and names the file and line of the first bad one. :func:`summarise` groups the cells by (model,
task); each figure of a row is a :class:`Stat`: the median over the seeds that have the figure and
its spread (min–max over those seeds), with the statuses of the seeds that lack it, so a cell that
diverged, timed out, failed or could not be built is shown as such, never dropped.

Which seeds give which figure:
- a score (fine/coarse at a scale or length): every seed whose record holds a number there (a
  timed-out cell is scored all the same; a diverged one at its last good checkpoint, when any);
- the mean over a seed's scale or length points: seeds with a number at every point;
- wall time and sequences/s: seeds that trained (``sequences_seen > 0``, not ``n/a``);
  parameters: seeds whose model was built (``params > 0``);
- sequences to target: seeds that reached the target (the row also says how many of how many).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from memlab.core.errors import MemlabError

STATUSES = ("done", "timeout", "diverged", "failed", "n/a")
CLASSES = ("regular", "dcf", "cs")  # the automaton classes the per-class summary covers, in order
AUTOMATA = ("", *CLASSES, "transduction")

_NONE = type(None)
_NUM = (int, float)
#: field -> allowed types of the fields the report reads (the runner adds more; they are ignored)
FIELDS: dict[str, tuple[type, ...]] = {
    "unit": (str,), "model": (str,), "task": (str,), "seed": (int,), "automaton": (str,), "status": (str,),
    "reason": (str, _NONE), "scores": (list,), "sequences_to_target": (int, _NONE), "sequences_seen": (int,),
    "train_wall_s": _NUM, "params": (int,), "seq_per_s": _NUM, "state_size": (int, _NONE),
    "profile": (dict, _NONE), "run": (str,), "figures": (list,),
}
SCORE_FIELDS: dict[str, tuple[type, ...]] = {
    "scale": (int, _NONE), "length": (int, _NONE), "fine": (*_NUM, _NONE), "coarse": (*_NUM, _NONE)}
PROFILE_FIELDS: dict[str, tuple[type, ...]] = {"capacity": _NUM, "state_size": (int,), "curve": (list,),
                                                "measure": (str,)}


# --------------------------------------------------------------------------- reading and checking
def _type_ok(v: Any, types: tuple[type, ...]) -> bool:
    if isinstance(v, bool):  # True is an int to Python, not to a record
        return bool in types
    if isinstance(v, float) and not math.isfinite(v):
        return False
    return isinstance(v, types)


def _names(types: tuple[type, ...]) -> str:
    words = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object",
             _NONE: "null"}
    out = list(dict.fromkeys(words[t] for t in types))
    if "an integer" in out and "a number" in out:
        out.remove("an integer")
    return " or ".join(out)


def _check_fields(rec: dict[str, Any], fields: dict[str, tuple[type, ...]], where: str, what: str = "") -> None:
    for k, types in fields.items():
        if k not in rec:
            raise MemlabError(f"{where}: {what}lacks {k!r}; not a leaderboard record")
        if not _type_ok(rec[k], types):
            raise MemlabError(f"{where}: {what}{k}={rec[k]!r} is not allowed; expected {_names(types)} (finite)")


def check_record(rec: Any, where: str) -> dict[str, Any]:
    """``rec`` unchanged, or a one-line MemlabError naming ``where`` (``FILE:LINE``) and the bad field."""
    if not isinstance(rec, dict):
        raise MemlabError(f"{where}: not a record (a JSON object); got {type(rec).__name__}")
    _check_fields(rec, FIELDS, where)
    if rec["status"] not in STATUSES:
        raise MemlabError(f"{where}: status={rec['status']!r} is not allowed; allowed: {', '.join(STATUSES)}")
    if rec["automaton"] not in AUTOMATA:
        raise MemlabError(f"{where}: automaton={rec['automaton']!r} is not allowed; allowed: "
                          + ", ".join(repr(a) for a in AUTOMATA))
    for i, s in enumerate(rec["scores"]):
        what = f"scores[{i}]."
        if not isinstance(s, dict):
            raise MemlabError(f"{where}: scores[{i}] is not an object")
        _check_fields(s, SCORE_FIELDS, where, what)
        if (s["scale"] is None) == (s["length"] is None):
            raise MemlabError(f"{where}: scores[{i}] has scale={s['scale']!r} and length={s['length']!r}; "
                              "exactly one of them is set")
        for k in ("fine", "coarse"):
            if s[k] is not None and not 0.0 <= s[k] <= 1.0:
                raise MemlabError(f"{where}: {what}{k}={s[k]!r} is out of range; allowed: 0 to 1 or null")
    if rec["profile"] is not None:
        p = rec["profile"]
        _check_fields(p, PROFILE_FIELDS, where, "profile.")
        for point in p["curve"]:
            if not (isinstance(point, list) and len(point) == 2 and all(_type_ok(v, _NUM) for v in point)):
                raise MemlabError(f"{where}: profile.curve holds {point!r}; expected [lag, value] pairs of numbers")
    for f in rec["figures"]:
        if not isinstance(f, str) or not f or "\0" in f:
            raise MemlabError(f"{where}: figures holds {f!r}; expected paths (strings)")
    return rec


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """The checked records of a leaderboard ``records.jsonl``, in file order.

    A last line without its newline is a writer killed mid-line (or still writing) and is skipped;
    any other bad line, a unit given twice, a missing or empty file is a one-line MemlabError
    naming the file (and line)."""
    path = Path(path)
    if not path.exists():
        raise MemlabError(f"no leaderboard records at {path}; run `memlab run leaderboard` first "
                          "or name the file with --set records=PATH")
    if not path.is_file():
        raise MemlabError(f"{path} is not a file; --set records= names a records.jsonl")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise MemlabError(f"{path} is not a records file (not UTF-8 text)") from None
    *complete, tail = text.split("\n")
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, line in enumerate(complete + ([tail] if tail.strip() else []), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            if i == len(complete) + 1:
                break  # torn last line
            raise MemlabError(f"{path}:{i}: not valid JSON") from None
        check_record(rec, f"{path}:{i}")
        if rec["unit"] in seen:
            raise MemlabError(f"{path}:{i}: unit {rec['unit']!r} is already on line {seen[rec['unit']]}")
        seen[rec["unit"]] = i
        out.append(rec)
    if not out:
        raise MemlabError(f"{path} holds no records; run `memlab run leaderboard` first")
    return out


# --------------------------------------------------------------------------- medians and spreads
@dataclass(frozen=True)
class Stat:
    """Median and spread (min–max) of one figure over the seeds of a row that have it; ``missing``:
    the statuses of the seeds that lack it (in STATUSES order)."""

    median: float | None
    lo: float | None
    hi: float | None
    n: int
    of: int
    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.median is not None


def stat(values: Iterable[tuple[float | None, str]]) -> Stat:
    """:class:`Stat` of ``(value or None, status)`` pairs, one per seed."""
    pairs = list(values)
    got = [float(v) for v, _ in pairs if v is not None]
    lacking = {s for v, s in pairs if v is None}
    missing = tuple(s for s in STATUSES if s in lacking)
    if not got:
        return Stat(None, None, None, 0, len(pairs), missing)
    return Stat(statistics.median(got), min(got), max(got), len(got), len(pairs), missing)


@dataclass(frozen=True)
class Point:
    """Scores at one scale or length: ``key`` ("scale", 2) / ("length", 41), fine and coarse."""

    key: tuple[str, int]
    fine: Stat
    coarse: Stat

    @property
    def label(self) -> str:
        kind, x = self.key
        return f"{x}x" if kind == "scale" else f"L={x}"


@dataclass
class Row:
    """One (model, task): its cells (sorted by seed) and the figures over seeds."""

    model: str
    task: str
    automaton: str
    records: list[dict[str, Any]]
    status: dict[str, int]
    kind: str  # "scale", "length" or "" (no scores in any seed)
    points: list[Point]
    mean_fine: Stat
    mean_coarse: Stat
    to_target: Stat
    wall_s: Stat
    params: Stat
    seq_per_s: Stat
    state_size: int | None
    profile: dict[str, Any] | None
    profile_seed: int | None
    reasons: list[str] = field(default_factory=list)

    def point(self, key: tuple[str, int]) -> Point | None:
        return next((p for p in self.points if p.key == key), None)


def _score_key(s: dict[str, Any]) -> tuple[str, int]:
    return ("scale", s["scale"]) if s["scale"] is not None else ("length", s["length"])


def _seed_mean(rec: dict[str, Any], which: str, keys: list[tuple[str, int]]) -> float | None:
    """Mean of ``which`` over a seed's points, if it has a number at every point of its row."""
    by = {_score_key(s): s[which] for s in rec["scores"]}
    vals = [by.get(k) for k in keys]
    if not vals or any(v is None for v in vals):
        return None
    return sum(vals) / len(vals)


def summarise_cells(model: str, task: str, recs: list[dict[str, Any]]) -> Row:
    """The :class:`Row` of one (model, task) from its cell records (one per seed)."""
    recs = sorted(recs, key=lambda r: r["seed"])
    keys = sorted({_score_key(s) for r in recs for s in r["scores"]})
    kinds = {k[0] for k in keys}
    kind = "scale" if kinds == {"scale"} else "length" if kinds == {"length"} else "mixed" if kinds else ""
    points = []
    for key in keys:
        by_seed = [(next((s for s in r["scores"] if _score_key(s) == key), None), r["status"]) for r in recs]
        points.append(Point(key, stat((s["fine"] if s else None, st) for s, st in by_seed),
                            stat((s["coarse"] if s else None, st) for s, st in by_seed)))
    trained = [r["status"] != "n/a" and r["sequences_seen"] > 0 for r in recs]
    prof = next(((r["profile"], r["seed"]) for r in recs if r["profile"] is not None), (None, None))
    return Row(
        model=model, task=task,
        automaton=next((r["automaton"] for r in recs if r["automaton"]), ""),
        records=recs,
        status={s: n for s in STATUSES if (n := sum(r["status"] == s for r in recs))},
        kind=kind, points=points,
        mean_fine=stat((_seed_mean(r, "fine", keys), r["status"]) for r in recs),
        mean_coarse=stat((_seed_mean(r, "coarse", keys), r["status"]) for r in recs),
        to_target=stat((r["sequences_to_target"], r["status"]) for r in recs),
        wall_s=stat((r["train_wall_s"] if t else None, r["status"]) for r, t in zip(recs, trained)),
        params=stat((r["params"] if r["params"] > 0 else None, r["status"]) for r in recs),
        seq_per_s=stat((r["seq_per_s"] if t else None, r["status"]) for r, t in zip(recs, trained)),
        state_size=next((r["state_size"] for r in recs if r["state_size"] is not None), None),
        profile=prof[0], profile_seed=prof[1],
        reasons=list(dict.fromkeys(r["reason"] for r in recs if r["reason"])),
    )


def summarise(records: list[dict[str, Any]]) -> list[Row]:
    """One :class:`Row` per distinct (model, task), in the order they first appear."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["model"], r["task"]), []).append(r)
    return [summarise_cells(m, t, rs) for (m, t), rs in groups.items()]


def ranked(rows: list[Row]) -> list[Row]:
    """``rows`` grouped by task (in order of first appearance), each task's rows best first: median
    coarse, then fine, at the task's first scale or length (as ``leaderboard.md`` ranks them), then
    model name; rows without a number there last."""
    tasks = list(dict.fromkeys(r.task for r in rows))

    def key(r: Row) -> tuple:
        p = r.points[0] if r.points else None
        c = p.coarse.median if p is not None and p.coarse.ok else None
        f = p.fine.median if p is not None and p.fine.ok else None
        return (tasks.index(r.task), c is None, -(c or 0.0), f is None, -(f or 0.0), r.model)

    return sorted(rows, key=key)


# --------------------------------------------------------------------------- per automaton class
@dataclass(frozen=True)
class ClassCell:
    """One model on one automaton class: the mean over the class's tasks of each task's median
    (over seeds) mean coarse score; ``n`` tasks with a score of the ``of`` tasks the model ran."""

    mean: float | None
    lo: float | None
    hi: float | None
    n: int
    of: int
    tasks: tuple[str, ...]


def class_summary(rows: list[Row]) -> dict[str, dict[str, ClassCell]]:
    """``{model: {class: ClassCell}}`` over the automaton-class rows (regular, dcf, cs); models
    without any such row are left out, classes without tasks are absent."""
    out: dict[str, dict[str, ClassCell]] = {}
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model and r.automaton in CLASSES]
        if not mine:
            continue
        out[model] = {}
        for c in CLASSES:
            rs = [r for r in mine if r.automaton == c]
            if not rs:
                continue
            vals = [r.mean_coarse.median for r in rs if r.mean_coarse.ok]
            out[model][c] = ClassCell(sum(vals) / len(vals) if vals else None, min(vals, default=None),
                                      max(vals, default=None), len(vals), len(rs),
                                      tuple(r.task for r in rs if r.mean_coarse.ok))
    return out
