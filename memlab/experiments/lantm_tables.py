"""Seed 004 Tables 3 and 4 (Lie Access Neural Turing Machines): every (model, task, seed) cell
trains one run in the store (``runs/lantm``, resumable), is evaluated at its scales, and the
tables (``results/lantm/tables.md``) show the median over seeds with the worst and best seed,
beside the paper's numbers.

Each cell is trained in a *reading* (issue 13): the LANTM ``model.preset`` (``reproduce-read-gate``,
the default here, labelled ``reproduce+model.read_key_gate_bias=-4``; ``reproduce``; ``paper-text``;
``paper-code``; …), the LSTM's ``paper`` training, plus every other
``model.*``/``task.*``/``train.*`` setting given to the experiment (``paper-text+train.lr=0.001``).
The reading is part of each unit's key and run name, and the tables have one row per reading,
so cells of different settings are never pooled and old cells never count as done for a new
reading. Records written before readings existed (no settings recorded) show as
``unrecorded``. The ablation of issue 13 is the same cells in three readings:

    memlab run lantm-tables --set tasks=copy,reverse models=lantm-invnorm seeds=0,1,2 model.preset=reproduce
    memlab run lantm-tables --set tasks=copy,bigramFlip models=lantm-invnorm model.preset=paper-text
    memlab table lantm-tables

Table 3 also shows the seed 004 LSTM baseline as the leaderboard trains it (issue 18): the
``lstm`` cells on these five tasks in the leaderboard's records (``leaderboard_records``; by
default every ``results/leaderboard*/records.jsonl``), one reading per wall budget,
``leaderboard (budget 10 s)``. They are read when the tables are rendered (records, then tables:
lantm-tables trains nothing for them) and only from a leaderboard whose saved configuration trains
the LSTM in its ``paper`` reading (no ``size``, ``model.*``, ``task.*`` or reading ``train.*``
setting); other files are named under Table 3, never pooled.
"""

from __future__ import annotations

import glob
import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from memlab.core.errors import check_range
from memlab.experiments.base import Experiment, RunContext, Unit

# seed 004 Table 3: task -> model -> (1x coarse, 1x fine, 2x coarse, 2x fine), percent
PAPER_TABLE3: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "copy": {"lantm-invnorm": (100, 100, 100, 100), "lantm-softmax": (100, 100, 99, 100), "lstm": (58, 97, 0, 52)},
    "reverse": {"lantm-invnorm": (100, 100, 100, 100), "lantm-softmax": (1, 12, 0, 4), "lstm": (65, 95, 0, 44)},
    "bigramFlip": {"lantm-invnorm": (100, 100, 99, 100), "lantm-softmax": (12, 40, 0, 10), "lstm": (98, 100, 4, 58)},
    "double": {"lantm-invnorm": (100, 100, 100, 100), "lantm-softmax": (100, 100, 100, 100), "lstm": (98, 100, 2, 60)},
    "addition": {"lantm-invnorm": (100, 100, 99, 100), "lantm-softmax": (17, 61, 0, 29), "lstm": (97, 100, 6, 64)},
}
# seed 004 Table 4 (LANTM-InvNorm): task -> scale -> (coarse, fine), percent
PAPER_TABLE4: dict[str, dict[int, tuple[int, int]]] = {
    "copy": {4: (100, 100), 5: (91, 100)},
    "reverse": {4: (91, 98), 5: (12, 65)},
    "bigramFlip": {4: (96, 100), 8: (12, 96)},
    "double": {4: (86, 99), 8: (21, 90)},
    "addition": {4: (2, 95)},
}
TASKS = ("copy", "reverse", "bigramFlip", "double", "addition")
MODELS = ("lantm-invnorm", "lantm-softmax", "lstm")
TaskName = Literal["copy", "reverse", "bigramFlip", "double", "addition"]
ModelName = Literal["lantm-invnorm", "lantm-softmax", "lstm"]


@dataclass
class LantmTablesConfig:
    """The cells (tasks × models × seeds), each run's budget, and extra settings for every cell
    (``--set train.lr=0.001 model.hidden=50``). ``continue_done`` resumes runs that already
    stopped (e.g. with ``train.target_coarse=1`` or more epochs) and evaluates them again.
    ``leaderboard_records``: the leaderboard records files whose LSTM cells Table 3 shows
    (``--set leaderboard_records=results/leaderboard-300s/records.jsonl``; empty: none)."""

    tasks: tuple[TaskName, ...] = TASKS
    models: tuple[ModelName, ...] = MODELS
    seeds: tuple[int, ...] = (0,)
    max_time: float = 3600.0
    #: epochs per run; unset: per (model, task), ``seed004.TABLES_EPOCHS`` (InvNorm copy 2000,
    #: bigramFlip 3000, addition 4000; every other cell 1000)
    max_epochs: int | None = None
    eval_batches: int = 100
    continue_done: bool = False
    #: the checkpoint each cell is evaluated at: ``best`` (best periodic test score; the first
    #: epoch to reach it when later ones tie, so a run trained on past 100% keeps its first) or
    #: ``last`` (the trained model as training left it; with ``continue_done``, e.g. after
    #: ``train.target_coarse=2``, which trains on past the periodic test's target) or
    #: ``per-scale`` (seed 004: "the best test scores are tabulated": each scale at the weights of
    #: its own best periodic test, ``best{k}x.pt`` of a run trained with ``train.track_scales``;
    #: scales not tracked at ``best.pt``). Each record names the checkpoint it evaluated.
    checkpoint: Literal["best", "last", "per-scale"] = "best"
    model: dict = field(default_factory=dict)
    task: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    #: leaderboard records files (paths or glob patterns, relative to the working folder, the
    #: repository root, as ``results/lantm``) whose LSTM cells Table 3 shows; read when rendering
    leaderboard_records: tuple[str, ...] = ("results/leaderboard*/records.jsonl",)

    def validate(self) -> None:
        from memlab.core.errors import ConfigError

        for name in ("tasks", "models", "seeds"):
            if not getattr(self, name):
                raise ConfigError(f"{name} is empty; give at least one (e.g. --set {name}="
                                  f"{dict(tasks='copy', models='lantm-invnorm', seeds='0')[name]})")
        for s in self.seeds:
            check_range("seeds", s, 0, 2**63 - 1)
        for pattern in self.leaderboard_records:
            p = Path(pattern)
            if (not pattern or "\0" in pattern or p.is_absolute() or ".." in p.parts
                    or not p.name.endswith(".jsonl")):
                raise ConfigError(f"leaderboard_records: {pattern!r} is not allowed; give a records file or glob "
                                  "inside the working folder ending in .jsonl (e.g. "
                                  "results/leaderboard-300s/records.jsonl)")
        check_range("max_time", self.max_time, 0, 30 * 86400, lo_open=True)
        if self.max_epochs is not None:
            check_range("max_epochs", self.max_epochs, 1, 10_000_000)
        check_range("eval_batches", self.eval_batches, 1, 1_000_000)
        preset = self.model.get("preset")
        if preset is not None:  # checked here too: a model that ignores a preset must not hide a typo
            from memlab.experiments.hparams.seed004 import LANTM_PRESETS, LSTM_PRESETS

            allowed = [*LANTM_PRESETS, *(p for p in LSTM_PRESETS if p not in LANTM_PRESETS)]
            if preset not in allowed:
                raise ConfigError(f"model.preset={preset!r} is not allowed; choose one of {', '.join(allowed)} "
                                  f"(LANTM: {', '.join(LANTM_PRESETS)}; LSTM: {', '.join(LSTM_PRESETS)})")


def checkpoints_of_scales(run_dir: Path, scales: list[int], rule: str) -> dict[str, list[int]]:
    """Which checkpoint evaluates which scales: all at ``best`` or ``last``; with ``per-scale``
    each scale k at ``best{k}x`` where the run kept one (``train.track_scales``), else at ``best``."""
    if rule != "per-scale":
        return {rule: list(scales)}
    out: dict[str, list[int]] = {}
    for k in scales:
        name = f"best{k}x" if (Path(run_dir) / "checkpoints" / f"best{k}x.pt").exists() else "best"
        out.setdefault(name, []).append(k)
    return out


def eval_scales(model: str, task: str) -> list[int]:
    """Scales evaluated for a cell: 1x and 2x (Table 3), plus Table 4's for LANTM-InvNorm."""
    return [1, 2] + (sorted(PAPER_TABLE4[task]) if model == "lantm-invnorm" else [])


# --------------------------------------------------------------------------- readings
#: record reading of cells trained before readings were recorded (no settings in the record)
UNRECORDED = "unrecorded"
#: model settings that change how a model is computed, not what it computes
_NOT_READING = ("kernel", "compile", "impl")
#: training settings that set a run's budget or bookkeeping, not its reading (shown as epochs/time)
_BUDGET = ("max_epochs", "max_time_s", "eval_every", "eval_batches", "checkpoint_every", "target_coarse", "log",
           "track_scales")
#: training settings added after records existed, at the value that trains as before they existed:
#: a record without the key and one with this value are the same reading
_NEUTRAL_TRAIN = {"lr_decay_every": 0, "lr_decay_after": 0, "select_scale": 0, "batch_lengths": "sequence", "on_explosion": "log"}


#: model settings added after records existed, at the value that computes as before they existed
_NEUTRAL_MODEL = {"init_step": "free", "init_magnitude": 0.0, "init_slot_strength": "one", "init_step_norm": 1.0,
                 "write_gates": "learned", "read_key_gate_bias": 0.0,
                 "read_step_gate_bias": 0.0}


def _reading_model(model_cfg: dict[str, Any]) -> dict[str, Any]:
    """The model settings that make a reading: no compute-only keys, no neutral later additions; a
    spelt preset (``seed004.SPELLED_PRESETS``) as its base preset, since it resolves to the same values."""
    from memlab.experiments.hparams.seed004 import SPELLED_PRESETS

    out = {k: v for k, v in model_cfg.items()
           if k not in _NOT_READING and not (k in _NEUTRAL_MODEL and v == _NEUTRAL_MODEL[k])}
    if out.get("preset") in SPELLED_PRESETS:
        out["preset"] = SPELLED_PRESETS[out["preset"]]
    return out


def _reading_train(train: dict[str, Any]) -> dict[str, Any]:
    """The training settings that make a reading: no budget keys, no neutral later additions."""
    return {k: v for k, v in train.items() if k not in _BUDGET and not (k in _NEUTRAL_TRAIN and v == _NEUTRAL_TRAIN[k])}


def _flat(prefix: str, d: dict[str, Any]) -> list[str]:
    return [f"{prefix}.{k}={v}" for k, v in sorted(d.items())]


def cell_reading(model: str, cfg: "LantmTablesConfig") -> str:
    """The reading a config trains ``model`` in: the LANTM preset (``seed004.TABLES_PRESET`` unless
    ``model.preset`` says otherwise; a spelt preset as its base and settings,
    ``reproduce+model.read_key_gate_bias=-4``) or ``paper`` for the LSTM, then every other setting
    given (``paper-text+train.lr=0.001``)."""
    from memlab.experiments.hparams.seed004 import LSTM_PRESETS, SPELLED_PRESETS, TABLES_PRESET, spelt_preset

    m = {k: v for k, v in cfg.model.items() if k not in _NOT_READING}
    preset = m.pop("preset", None)
    if model == "lstm":  # its readings: paper (default) or released; a LANTM preset names neither
        base = str(preset) if preset in LSTM_PRESETS else "paper"
    else:
        base = str(preset or TABLES_PRESET)
        if base in SPELLED_PRESETS:
            base, extra = spelt_preset(base)
            m = {**extra, **m}
    return "+".join([base, *_flat("model", m), *_flat("task", cfg.task),
                     *_flat("train", _reading_train(cfg.train))])


def cell_epochs(model: str, task: str, cfg: "LantmTablesConfig") -> int:
    """The epochs a cell trains: ``max_epochs``, or unset ``seed004.TABLES_EPOCHS`` of (model, task)."""
    from memlab.experiments.hparams.seed004 import TABLES_EPOCHS, TABLES_EPOCHS_OTHER

    if cfg.max_epochs is not None:
        return int(cfg.max_epochs)
    return int(TABLES_EPOCHS.get(model, {}).get(task, TABLES_EPOCHS_OTHER))


def cell_overrides(model: str, cfg: "LantmTablesConfig", task: str) -> dict[str, Any]:
    """The settings a cell's run gets on top of its (model, task) defaults: the budget (the task's
    epochs and tracked scales unless given), then the config's ``model``/``task``/``train`` sections,
    a LANTM's preset ``seed004.TABLES_PRESET`` unless given. The LSTM takes only its own readings'
    presets (the LANTM ones name no LSTM reading)."""
    from memlab.core.config import deep_merge
    from memlab.experiments.hparams.seed004 import LSTM_PRESETS, TABLES_PRESET, TABLES_TRACK_SCALES

    mcfg = {k: v for k, v in cfg.model.items() if not (model == "lstm" and k == "preset" and v not in LSTM_PRESETS)}
    budget = {"max_epochs": cell_epochs(model, task, cfg), "max_time_s": cfg.max_time}
    if model != "lstm":
        mcfg = {"preset": TABLES_PRESET, **mcfg}
        if task in TABLES_TRACK_SCALES:
            budget["track_scales"] = TABLES_TRACK_SCALES[task]
    return deep_merge({"train": budget},
                      {k: v for k, v in (("model", mcfg), ("task", cfg.task), ("train", cfg.train)) if v})


def _fingerprint(r: dict[str, Any]) -> str:
    """Short hash of a record's resolved settings (model, task, training; budget keys excluded)."""
    import hashlib

    s = {"model": _reading_model(r.get("model_cfg") or {}),
         "task": r.get("task_cfg") or {}, "train": _reading_train(r.get("train") or {})}
    return hashlib.sha1(json.dumps(s, sort_keys=True, default=str).encode()).hexdigest()[:6]


def record_readings(records: list[dict]) -> dict[int, str]:
    """id(record) -> its reading label; a reading whose records of one (model, task) hold different
    resolved settings (e.g. a default changed between commits) is split as ``reading [settings hash]``."""
    prints: dict[tuple[str, str, str], set[str]] = {}
    for r in records:
        if r.get("reading"):
            prints.setdefault((r["model"], r["task"], r["reading"]), set()).add(_fingerprint(r))
    out = {}
    for r in records:
        rd = r.get("reading")
        split = rd and len(prints[(r["model"], r["task"], rd)]) > 1
        out[id(r)] = (UNRECORDED if not rd else (f"{rd} [{_fingerprint(r)}]" if split else rd)) + _rule_label(r)
    return out


#: how a record's checkpoint was chosen (the ``checkpoint`` setting, from its unit) -> its label's suffix
CHECKPOINT_RULES = {"best": "", "last": " @last", "per-scale": " @best-per-scale"}


def _rule_label(record: dict) -> str:
    """`` @last`` or `` @best-per-scale`` after a reading evaluated by that rule; nothing for ``best``
    (the default, and every record from before the setting). Rows never pool rules."""
    _, sep, rule = str(record.get("unit") or "").rpartition("+eval@")
    return CHECKPOINT_RULES.get(rule, f" @{rule}") if sep else ""


# --------------------------------------------------------------------------- the leaderboard's LSTM cells
#: the leaderboard model that is the seed 004 LSTM baseline (4×256, Table 2; its ``paper`` reading)
LEADERBOARD_MODEL = "lstm"
#: leaderboard training settings that are bookkeeping for the LSTM's paper reading as well as the
#: budget keys: its epochs are 2 batches (``hparams.leaderboard.PROTOCOL``), and no schedule of that
#: reading counts epochs (no plateau halving, no rate decay)
_LEADERBOARD_BOOKKEEPING = ("batches_per_epoch",)
#: the record fields (and types, from the leaderboard's schema) Table 3 reads
_LEADERBOARD_FIELDS = ("model", "task", "seed", "status", "scores", "epochs", "train_wall_s", "budget_s")
_LEADERBOARD_SCORE_FIELDS = ("scale", "fine", "coarse")


def leaderboard_reading(budget_s: float) -> str:
    """The reading label of leaderboard cells trained for at most ``budget_s`` wall seconds."""
    return f"leaderboard (budget {budget_s:g} s)"


def _not_the_baseline(config: dict[str, Any]) -> str | None:
    """Why a leaderboard configuration does not train the LSTM in its paper reading, or None."""
    model = _reading_model(config.get("model") or {})
    train = {k: v for k, v in _reading_train(config.get("train") or {}).items() if k not in _LEADERBOARD_BOOKKEEPING}
    why = ([f"size={config['size']}"] if config.get("size") else []) + _flat("model", model) + \
        _flat("task", config.get("task") or {}) + _flat("train", train)
    return ", ".join(why) or None


def read_leaderboard(patterns: tuple[str, ...] | list[str]) -> tuple[list[dict], list[str]]:
    """(cells, notes): the LSTM baseline's cells in the leaderboard records files ``patterns``
    name (globs; a pattern that matches nothing is no file), and one note per file or record set
    left out because its settings are not the baseline's or not known. A cell is the record of model
    ``LEADERBOARD_MODEL`` on one of ``TASKS`` under a configuration (``leaderboard.meta.json``
    beside the file, matched by ``config_hash``) with no setting that changes the LSTM's paper
    reading. A record without the fields Table 3 reads is a one-line MemlabError naming the file."""
    from memlab.experiments._records import check_records
    from memlab.experiments.leaderboard import EXPERIMENT as LB, RECORD_FIELDS, SCORE_FIELDS
    from memlab.experiments.runner import read_meta, read_records

    paths = sorted({Path(p) for pattern in patterns for p in glob.glob(pattern)})
    cells, notes = [], []
    for path in paths:
        if not path.is_file():
            continue
        recs = check_records(read_records(path), {k: RECORD_FIELDS[k] for k in _LEADERBOARD_FIELDS}, str(path))
        ours = [r for r in recs if r["model"] == LEADERBOARD_MODEL and r["task"] in TASKS]
        for r in ours:
            check_records(r["scores"], {k: SCORE_FIELDS[k] for k in _LEADERBOARD_SCORE_FIELDS},
                          f"{path}: {r.get('unit') or r['task']} scores")
        if not ours:
            continue
        meta = read_meta(path.parent / LB.meta_name, "rerun that leaderboard or leave its folder out of leaderboard_records")
        config = meta.get("config")
        if not isinstance(config, dict):
            notes.append(f"`{path.as_posix()}` ({len(ours)} LSTM cells): no `{LB.meta_name}` beside it to say its settings")
            continue
        why = _not_the_baseline(config)
        if why:
            notes.append(f"`{path.as_posix()}` ({len(ours)} LSTM cells): not the paper reading ({why})")
            continue
        chash = meta.get("config_hash")
        other = [r for r in ours if r.get("config_hash", chash) != chash]
        if other:
            notes.append(f"`{path.as_posix()}` ({len(other)} LSTM cells): another configuration than its "
                         f"`{LB.meta_name}` ({other[0]['config_hash']})")
        cells += [{**r, "source": path.as_posix()} for r in ours if r.get("config_hash", chash) == chash]
    return cells, notes


def leaderboard_rows(cells: list[dict]) -> dict[tuple[str, str, float], list[dict]]:
    """(model, task, budget_s) -> the newest cell of each seed, ordered by seed: one Table 3 row
    per wall budget (cells of two budgets are never pooled)."""
    newest: dict[tuple[str, str, float, int], dict] = {}
    for c in sorted(cells, key=lambda c: str(c.get("time", ""))):
        newest[(c["model"], c["task"], float(c["budget_s"]), int(c["seed"]))] = c
    out: dict[tuple[str, str, float], list[dict]] = {}
    for (m, t, b, _), c in sorted(newest.items(), key=lambda kv: kv[0]):
        out.setdefault((m, t, b), []).append(c)
    return out


def _at_scale(cells: list[dict], scale: int) -> list[dict]:
    """The cells' scores at ``scale`` ({coarse, fine} per cell that has one; n/a and failed cells have none)."""
    return [sc for c in cells for sc in c["scores"]
            if sc.get("scale") == scale and sc.get("coarse") is not None and sc.get("fine") is not None]


def _status_note(rs: list[dict]) -> str:
    """``: timeout ×3`` for a leaderboard row with cells whose status is not ``done``; else ""."""
    from memlab.experiments.leaderboard import status_text

    text = status_text([r for r in rs if r.get("status", "done") != "done"])
    return f": {text}" if text else ""


# --------------------------------------------------------------------------- tables
def _pct(x: float | None) -> str:
    """Ours to one decimal (the paper rounds to integers; 99.96% should not read as 100%)."""
    return "" if x is None else f"{100 * x:.1f}%"


def seed_records(records: list[dict]) -> dict[tuple[str, str, str, int], list[dict]]:
    """(model, task, reading, scale) -> the newest record of each seed, ordered by seed."""
    reading = record_readings(records)
    newest: dict[tuple[str, str, str, int, int], dict] = {}
    for r in records:
        newest[(r["model"], r["task"], reading[id(r)], int(r["scale"]), int(r.get("seed", 0)))] = r
    out: dict[tuple[str, str, str, int], list[dict]] = {}
    for (m, t, rd, s, _), r in sorted(newest.items(), key=lambda kv: kv[0][4]):
        out.setdefault((m, t, rd, s), []).append(r)
    return out


def _readings_of(cells: dict, model: str, task: str) -> list[str]:
    """The readings with records of (model, task): unrecorded first, then by name; [""] if none."""
    rds = {rd for (m, t, rd, _) in cells if (m, t) == (model, task)}
    return sorted(rds, key=lambda rd: (rd != UNRECORDED, rd)) or [""]


def _stat(recs: list[dict] | None, key: str) -> str:
    """The median over seeds; with more than one seed, [worst–best] after it."""
    if not recs:
        return ""
    vals = [float(r[key]) for r in recs]
    if len(vals) == 1:
        return _pct(vals[0])
    return f"{_pct(statistics.median(vals))} [{_pct(min(vals))}–{_pct(max(vals))}]"


def _median(recs: list[dict], key: str) -> float | None:
    vals = [float(r[key]) for r in recs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def _duration(s: float | None) -> str:
    """Training time: minutes, or seconds under a minute (a leaderboard budget of 10 s)."""
    return "" if s is None else (f"{s:.0f} s" if s < 60 else f"{s / 60:.0f} min")


def _table3_row(task: str, model: str, label: str, rs: list[dict], r1: list[dict] | None, r2: list[dict] | None) -> str:
    """One Table 3 row: ``rs`` the reading's records (one per seed) for seeds, epochs and time."""
    p = PAPER_TABLE3[task][model]
    ep, tt = _median(rs, "epochs"), _median(rs, "train_elapsed_s")
    ep_s = "" if ep is None else (f"{ep:.0f}" if len(rs) > 1 else str(rs[0]["epochs"]))
    return (f"| {task} | {model} | {label} | {len(rs) or ''} | {_stat(r1, 'coarse')} | {_stat(r1, 'fine')} | "
            f"{_stat(r2, 'coarse')} | {_stat(r2, 'fine')} | {p[0]}% | {p[1]}% | {p[2]}% | {p[3]}% | {ep_s} | "
            f"{_duration(tt)} |")


def per_task_readings(model: str, task: str) -> list[str]:
    """Reading labels whose runs trained ``model`` on ``task`` in the settings that
    ``model.preset=reproduce-per-task`` resolves to: that preset's own label, the task's reading
    spelt out (``reproduce+model.init_step=normalised``), and for a preset with ``reproduce``'s
    model the training settings it changes spelt out on ``reproduce`` (the text-optimiser rows)."""
    from memlab.experiments.hparams.seed004 import PER_TASK_PRESET, paper_defaults, per_task_reading
    from memlab.models.lantm import PRESETS

    base, extra = per_task_reading(task)
    labels = [PER_TASK_PRESET, "+".join([base, *_flat("model", extra)])]
    if base != "reproduce" and PRESETS[base] == PRESETS["reproduce"]:
        plain, named = (paper_defaults(model, task, p)["train"] for p in ("reproduce", base))
        changed = {k: v for k, v in named.items() if plain.get(k) != v}
        labels.append("+".join(["reproduce", *_flat("model", extra), *_flat("train", _reading_train(changed))]))
    return labels


def _per_task_lines(cells: dict) -> list[str]:
    """Table 3's LANTM-InvNorm rows in the readings ``reproduce-per-task`` resolves to, per task."""
    from memlab.experiments.hparams.seed004 import PER_TASK_PRESET

    lines = ["", f"## Table 3 in one reading per task (`model.preset={PER_TASK_PRESET}`)", "",
             "No one reading reproduces all five tasks, so this preset trains each task in the reading measured "
             "to reproduce it (`memlab.experiments.hparams.seed004.PER_TASK_READINGS`). These are the Table 3 "
             "rows of LANTM-InvNorm trained in exactly the settings the preset resolves to (a test checks "
             "they resolve alike), under every checkpoint rule run; runs made with the preset itself are "
             f"labelled `{PER_TASK_PRESET}`.", "",
             "| task | model | reading | seeds | 1x coarse | 1x fine | 2x coarse | 2x fine | paper 1x coarse | "
             "paper 1x fine | paper 2x coarse | paper 2x fine | epochs | train time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    model = "lantm-invnorm"
    for task in TASKS:
        wanted = per_task_readings(model, task)
        for rd in _readings_of(cells, model, task):
            if rd.split(" @")[0].split(" [")[0] not in wanted:
                continue
            r1, r2 = cells.get((model, task, rd, 1)), cells.get((model, task, rd, 2))
            lines.append(_table3_row(task, model, rd, r1 or r2 or [], r1, r2))
    return lines


def _leaderboard_lines(rows: dict[tuple[str, str, float], list[dict]], notes: list[str]) -> list[str]:
    """Under Table 3: where its leaderboard rows come from, and the files left out (with why)."""
    def listed(values: set) -> str:
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in sorted(values))

    lines = []
    for src in sorted({c["source"] for rs in rows.values() for c in rs}):
        cs = [c for rs in rows.values() for c in rs if c["source"] == src]
        n = {sc["n_sequences"] for sc in _at_scale(cs, 1) + _at_scale(cs, 2) if isinstance(sc.get("n_sequences"), int)}
        lines.append(f"Leaderboard rows from `{src}`: budget {listed({float(c['budget_s']) for c in cs})} s, "
                     f"seeds {listed({c['seed'] for c in cs})}, "
                     f"commit {listed({str(c['commit'])[:7] for c in cs if c.get('commit')}) or '?'}"
                     + (f", {'/'.join(map(str, sorted(n)))} test sequences per scale." if n else "."))
    lines += [f"Leaderboard records not shown: {note}." for note in notes]
    return [x for line in lines for x in ("", line)]


def render_tables(records: list[dict], leaderboard: list[dict] | None = None, notes: list[str] | None = None) -> str:
    """Tables 3 and 4 as markdown: ours (median over seeds, [worst–best] seed) beside the paper's.
    ``leaderboard``: the LSTM baseline's leaderboard cells (``read_leaderboard``), shown in Table 3
    as one reading per wall budget; ``notes``: leaderboard files left out, listed under it."""
    cells = seed_records(records)
    lb = leaderboard_rows(leaderboard or [])
    lines = ["# LANTM reproduction (seed 004 Tables 3 and 4)", "",
             "Rendered by `memlab table lantm-tables` from `records-<task>.jsonl` (one record per run and scale). "
             "\"Ours\" is the median over seeds of each seed's newest evaluation, on 100 batches of 32 fresh "
             "problems; with more than one seed, the worst and the best seed follow in brackets (the paper "
             "tabulates best scores). Blank: not run. The paper's numbers are rounded to integers.", "",
             "Each row is one *reading* (the settings a cell was trained in; rows never pool readings): "
             "`reproduce` is the default LANTM preset of `memlab train` (the released code's output path, read-before-write, "
             "no writes while answering, write-gate bias −10, learnable initial slot, and its optimiser: plain "
             "RMSProp, decay 0.99, lr 0.01, clipping at 32; the text's unit steps), `paper-text` memlab's reading "
             "before issue 13 (RMSProp with momentum 0.95, plateau halving), `paper-code` the released "
             "code's model and optimiser, `released` those plus its per-task run options (rate decay, one length "
             "per batch, init_magnitude), `reproduce-text-optimiser` `reproduce`'s model with the text's optimiser "
             "(momentum 0.95, decay 0.95, Table 2's rate × 0.1, clipping at 1, no plateau halving; the same settings "
             "as the `reproduce+train.clip_norm=1.0+train.lr=…+train.momentum=0.95+train.rms_alpha=0.95` rows), "
             "`reproduce-per-task` each task in the reading measured to reproduce it (its own section after "
             "Table 3), `reproduce+model.read_key_gate_bias=-4` `reproduce` with the read heads' key gates "
             "started at σ(−4): the preset `reproduce-read-gate`, which lantm-tables trains by default, "
             "`paper` the LSTM's seed 004 training (Table 2) and `released` the "
             "released code's LSTM runs; `+key=value` names any other setting. "
             f"`{UNRECORDED}`: cells trained before readings were recorded (the paper-text reading at "
             "per-cell learning rates — copy at lr 0.001 — whose records do not state their settings). "
             "`leaderboard (budget N s)`: the LSTM's `paper` reading as `memlab run leaderboard` trains it "
             "(issue 18; read from the leaderboard's records, not trained here): epochs of 2 batches and a wall "
             "budget of N seconds (checked between epochs, so a slow first epoch runs over it), scored on the "
             "leaderboard's own, smaller test sample; the status of seeds whose cell is not `done` follows the "
             "label (`timeout`: the budget ran out before test coarse reached the leaderboard's target). "
             "These are budget-limited runs, so the last section (cells short of the paper) leaves them out. "
             "The checkpoint a row is scored at follows its reading: none, the best periodic test (at the 2x "
             "lengths; the first epoch to reach a tie); `@last`, the last checkpoint; `@best-per-scale`, each "
             "scale at the best periodic test at that scale (seed 004's \"best test scores\"; `train.track_scales`), "
             "other scales at the best one. Each record names its checkpoint and epoch.", "",
             "## Table 3: 1x and 2x the training lengths", "",
             "| task | model | reading | seeds | 1x coarse | 1x fine | 2x coarse | 2x fine | paper 1x coarse | "
             "paper 1x fine | paper 2x coarse | paper 2x fine | epochs | train time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for task in TASKS:
        for model in MODELS:
            budgets = sorted(b for (m, t, b) in lb if (m, t) == (model, task))
            own = _readings_of(cells, model, task)
            for rd in (own if own != [""] or not budgets else []):
                r1, r2 = cells.get((model, task, rd, 1)), cells.get((model, task, rd, 2))
                lines.append(_table3_row(task, model, rd, r1 or r2 or [], r1, r2))
            for b in budgets:
                rs = [{**c, "train_elapsed_s": c["train_wall_s"]} for c in lb[(model, task, b)]]
                lines.append(_table3_row(task, model, leaderboard_reading(b) + _status_note(rs), rs,
                                         _at_scale(rs, 1), _at_scale(rs, 2)))
    lines += _leaderboard_lines(lb, list(notes or []))
    lines += _per_task_lines(cells)
    lines += ["", "## Table 4: LANTM-InvNorm at larger scales", "",
              "Scale n x means lengths (n−1)m+1 … nm for training maximum m.", "",
              "| task | scale | reading | lengths | seeds | coarse | fine | paper coarse | paper fine |",
              "|---|---|---|---|---|---|---|---|---|"]
    for task in TASKS:
        for scale, (pc, pf) in sorted(PAPER_TABLE4[task].items()):
            for rd in _readings_of(cells, "lantm-invnorm", task):
                rs = cells.get(("lantm-invnorm", task, rd, scale))
                lens = f"{rs[0]['lengths'][0]}–{rs[0]['lengths'][1]}" if rs else ""
                lines.append(f"| {task} | {scale}x | {rd} | {lens} | {len(rs) if rs else ''} | {_stat(rs, 'coarse')} | "
                             f"{_stat(rs, 'fine')} | {pc}% | {pf}% |")
    return "\n".join(lines + _disagreements(cells)) + "\n"


#: a cell disagrees with the paper when its best seed in any reading is this far below the paper's coarse score
DISAGREE_POINTS = 5.0


def _disagreements(cells: dict) -> list[str]:
    """Notes: each (model, task, scale) of Tables 3 and 4 whose best coarse score over every reading
    and seed that ran falls more than DISAGREE_POINTS below the paper's, with the best run and the
    readings tried (a paper score that ours exceeds, e.g. the LSTM's 2x, is no disagreement)."""
    rows = []
    for task in TASKS:
        wanted = [(m, 1, PAPER_TABLE3[task][m][0]) for m in MODELS] + [(m, 2, PAPER_TABLE3[task][m][2]) for m in MODELS]
        wanted += [("lantm-invnorm", sc, pc) for sc, (pc, _) in sorted(PAPER_TABLE4[task].items())]
        for model, scale, paper in wanted:
            tried = {rd: rs for (m, t, rd, sc), rs in cells.items() if (m, t, sc) == (model, task, scale)}
            if not tried:
                continue
            best_rd, best = max(((rd, r) for rd, rs in tried.items() for r in rs), key=lambda x: x[1]["coarse"])
            if 100 * best["coarse"] >= paper - DISAGREE_POINTS:
                continue
            runs = ", ".join(f"{rd} ({len(rs)} seed{'s' if len(rs) > 1 else ''})" for rd, rs in sorted(tried.items()))
            rows.append(f"| {task} | {model} | {scale}x | {paper}% | {_pct(best['coarse'])} | "
                        f"{best_rd}, seed {best.get('seed', 0)} | {runs} |")
    if not rows:
        return []
    return ["", "## Where we disagree with the paper", "",
            f"Cells whose best coarse score, over every reading and seed that ran, is more than {DISAGREE_POINTS:g} "
            "points below the paper's; what was tried is every reading listed (`results/lantm/RUNS.md` has the "
            "commands and what each reading changes).", "",
            "| task | model | scale | paper coarse | our best | best run | readings tried |",
            "|---|---|---|---|---|---|---|", *rows]


# --------------------------------------------------------------------------- experiment
class LantmTables(Experiment):
    name = "lantm-tables"
    title = "seed 004 Tables 3 and 4: LANTM-InvNorm/SoftMax and LSTM on five tasks -> results/lantm/tables.md"
    config_cls = LantmTablesConfig
    default_out = "results/lantm"
    default_store = "runs/lantm"
    records_shard = "task"  # records-<task>.jsonl (one file had grown to 2.9 MB)
    # which cells exist, how long each trains and in which reading do not change what a finished
    # cell's record says (each record carries its reading and its run's resolved settings; the
    # reading is part of the unit key, so cells of another reading are never taken as done); the
    # leaderboard's records are read when rendering only
    record_fields = ("model", "task", "scale", "coarse", "fine")
    hash_exclude = ("tasks", "models", "seeds", "max_time", "max_epochs", "continue_done", "model", "task", "train",
                    "leaderboard_records", "checkpoint")

    def quick_overrides(self) -> dict[str, Any]:
        return {"tasks": ("copy",), "models": ("lstm",), "max_epochs": 2, "max_time": 60.0, "eval_batches": 2,
                "model": {"hidden": 16, "embed": 4},  # sizes every model takes (no LSTM-only layers)
                "task": {"train_max": 3, "test_min": 2, "test_max": 3},  # ranges every task takes (no copy-only vocab)
                "train": {"eval_every": 1, "eval_batches": 1}}

    def units(self, cfg: LantmTablesConfig) -> list[Unit]:
        out = []
        for t in cfg.tasks:
            for m in cfg.models:
                again = (f"+continue@{cell_epochs(m, t, cfg)}" if cfg.continue_done else "") + \
                    ("" if cfg.checkpoint == "best" else f"+eval@{cfg.checkpoint}")
                rd = cell_reading(m, cfg)
                out += [Unit(f"{m}-{t}-s{s}@{rd}{again}", {"model": m, "task": t, "seed": s, "reading": rd})
                        for s in cfg.seeds]
        from memlab.core.errors import ConfigError
        from memlab.training.config import resolve_run_config

        for m in cfg.models:  # every cell's settings resolve before any unit runs or anything is written
            for t in cfg.tasks:
                try:
                    resolve_run_config(m, t, cell_overrides(m, cfg, t))
                except ConfigError as e:  # name the cell: the settings apply to every model in the list
                    raise ConfigError(f"model {m} on task {t}: {e}") from e
        return out

    def unit_key(self, record: dict[str, Any]) -> str:
        return str(record.get("unit") or record["run_id"])  # records from before the runner: one per run

    @staticmethod
    def run_name(model: str, task: str, seed: int, reading: str) -> str:
        """The cell's run folder name in the store: ``lantm-invnorm-copy-s0-reproduce``."""
        return f"{model}-{task}-s{seed}-{reading.replace('/', '_')}"[:200]

    def run_unit(self, cfg: LantmTablesConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        """Train (or resume, or reuse) the cell's run, then evaluate it at its scales."""
        from memlab.core.io import read_jsonl
        from memlab.evaluation.evaluate import evaluate_run
        from memlab.training.run import train_run

        model, task, seed = unit.params["model"], unit.params["task"], unit.params["seed"]
        reading = unit.params.get("reading") or cell_reading(model, cfg)
        name = self.run_name(model, task, seed, reading)
        run_dir = ctx.store / name
        summary_path = run_dir / "summary.json"
        done = summary_path.exists() and json.loads(summary_path.read_text()).get("status") == "done"
        t0 = time.perf_counter()
        if not done or cfg.continue_done:
            over = cell_overrides(model, cfg, task)
            resume = (run_dir / "config.json").exists()
            if ctx.progress:
                print(f"== {name}: {'resuming' if resume else 'training'} (max {cfg.max_time:.0f} s, "
                      f"{cell_epochs(model, task, cfg)} epochs)", flush=True)
            train_run(model, task, over, seed=seed, out=ctx.store, name=name, resume=resume, progress=ctx.progress,
                      device=ctx.device)
        train_s = time.perf_counter() - t0
        summary = json.loads(summary_path.read_text())
        config = json.loads((run_dir / "config.json").read_text())
        t1 = time.perf_counter()
        recs = []
        for ckpt, scales in checkpoints_of_scales(run_dir, eval_scales(model, task), cfg.checkpoint).items():
            recs += evaluate_run(run_dir, scales, batches=cfg.eval_batches, device=ctx.device, checkpoint=ckpt,
                                 progress=ctx.progress)
        tr = config.get("train") or {}
        for r in recs:
            ep_s = str(r.get("checkpoint", "")).partition("@")[2]
            ep = int(ep_s) if ep_s.isdigit() else None
            at = next((m for m in read_jsonl(run_dir / "metrics.jsonl") if m.get("epoch") == ep), {}) if ep else {}
            r.update(run_id=name, model=model, reading=reading, epochs=summary.get("epochs"),
                     train_elapsed_s=summary.get("elapsed_s"), session_train_s=round(train_s, 1),
                     eval_s=round(time.perf_counter() - t1, 1), stop_reason=summary.get("stop_reason"),
                     sequences_seen=summary.get("sequences_seen"), checkpoint_epoch=ep,
                     checkpoint_sequences_seen=None if ep is None else ep * int(tr.get("batches_per_epoch", 0))
                     * int(tr.get("batch_size", 0)), checkpoint_train_s=at.get("elapsed_s"),
                     run_created=config.get("created"), run_commit=config.get("commit"),
                     run_diff_sha256=config.get("diff_sha256"), device=config.get("device"),
                     model_cfg=config.get("model_cfg"), task_cfg=config.get("task_cfg"), train=tr)
        return recs

    def summarise(self, cfg: LantmTablesConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        leaderboard, notes = read_leaderboard(cfg.leaderboard_records)
        path = atomic_write_text(out_dir / "tables.md", render_tables(records, leaderboard, notes))
        cells = seed_records(records)
        head = {f"{m}/{t}/{rd}/{s}x_coarse_median": statistics.median([r["coarse"] for r in rs])
                for (m, t, rd, s), rs in sorted(cells.items()) if s in (1, 2)}
        return {"tables": str(path), "cells": len({(m, t, rd) for m, t, rd, _ in cells}),
                "leaderboard_cells": len(leaderboard),
                **{k: v for k, v in head.items() if not math.isnan(v)}}


EXPERIMENT = LantmTables()
