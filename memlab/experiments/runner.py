"""The one runner of every experiment: resumable, parallel, config-hash checked, with provenance.

``run_experiment`` resolves the typed config once, checks its hash against the meta file beside
the records (another configuration is a one-line error unless ``fresh``), skips the units whose
key is already in the records, runs the rest with an executor (``memlab.experiments.executors``:
this process, ``jobs`` worker processes, or Ray tasks) under a progress bar of units done /
running / left with its time estimate, appends in this process each unit's records as it finishes (commit + diff hash, time, wall/CPU seconds, config
hash), then summarises and plots from the records. ``render_experiment`` only summarises and
plots (the ``table`` and ``plot`` verbs): no compute.

A killed run loses at most the units in flight: running the same command again resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from memlab.core.errors import ConfigError, MemlabError, check_choice
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.experiments.executors import EXECUTORS, LocalExecutor, make_executor

#: the most worker processes one run may ask for
MAX_JOBS = 1024


# --------------------------------------------------------------------------- config
def _as_overrides(overrides: Mapping[str, Any] | Sequence[str] | None) -> dict[str, Any]:
    from memlab.core.config import parse_overrides

    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return dict(overrides)
    return parse_overrides(list(overrides))


def _has_field(cls: type, name: str) -> bool:
    return dataclasses.is_dataclass(cls) and any(f.name == name for f in dataclasses.fields(cls))


def resolve_config(exp: Experiment, overrides: Mapping[str, Any] | Sequence[str] | None = None, *,
                   quick: bool = False, seed: int | None = None, base: Mapping[str, Any] | None = None
                   ) -> tuple[Any, dict[str, Any]]:
    """(config, its JSON dict): ``base`` (e.g. a saved config), then ``--quick``'s values, then
    ``overrides`` (``{"k": v}`` or ``["k=v", …]``), then ``seed`` if the config has a seed field."""
    from memlab.core.config import deep_merge, from_dict, to_dict

    data: dict[str, Any] = dict(base or {})
    if quick:
        data = deep_merge(data, exp.quick_overrides())
    data = deep_merge(data, _as_overrides(overrides))
    if seed is not None and _has_field(exp.config_cls, "seed"):
        data["seed"] = seed
    cfg = from_dict(exp.config_cls, data)
    return cfg, to_dict(cfg)


def config_hash(exp: Experiment, cfg_dict: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """12 hex digits of SHA-1 over the config without ``exp.hash_exclude``, nor the fields of
    ``exp.hash_unless_set`` left at their defaults (plus ``extra``)."""
    d = {k: v for k, v in cfg_dict.items() if k not in exp.hash_exclude}
    if exp.hash_unless_set:
        from memlab.core.config import to_dict

        defaults = to_dict(exp.config_cls())
        for k in exp.hash_unless_set:
            if k in d and d[k] == defaults.get(k):
                del d[k]
    if extra:
        d.update(extra)
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- folders and records
def check_out_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """``path`` if it is, or could be created as, a writable folder (nothing is created); else a
    one-line ConfigError naming it."""
    p = Path(path)
    if str(path) == "" or "\0" in str(path):
        raise ConfigError(f"{what}={str(path)!r} is not a folder name")
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{what} {p} is a file; {what} must name a folder")
    parent = p
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{what} {p} cannot be created ({parent} is a file); name a folder you can write")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {p} is not writable; name a folder you can write")
    return p


def prepare_out_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """Create folder ``path`` (one-line ConfigError if it names a file or cannot be written)."""
    p = check_out_dir(path, what)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{what} {p} cannot be created ({e.strerror or type(e).__name__}); "
                          "name a folder you can write") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {p} is not writable; name a folder you can write")
    return p


def default_out_dir(exp: Experiment, quick: bool = False) -> Path:
    """``exp.default_out`` (``…/quick`` for ``--quick``, so a smoke run never mixes with results)."""
    return Path(exp.default_out) / "quick" if quick else Path(exp.default_out)


def _repeated_lists(cfg: dict[str, Any], prefix: str = "") -> list[str]:
    """``key=a,b,a`` for every list setting of ``cfg`` (nested dicts as ``model.key``) that holds a value twice."""
    out = []
    for k, v in cfg.items():
        if isinstance(v, dict):
            out += _repeated_lists(v, f"{prefix}{k}.")
        elif isinstance(v, list) and len({json.dumps(x, sort_keys=True) for x in v}) != len(v):
            out.append(f"{prefix}{k}={','.join(map(str, v))}")
    return out


def read_meta(path: Path, fix: str = "delete it or pass --fresh") -> dict[str, Any]:
    """An experiment's meta file (``{}`` where there is none); a corrupt one is a one-line
    MemlabError that ends with ``fix``, what the caller's user can do about it."""
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise MemlabError(f"{path} is corrupt (not JSON); {fix}") from None
    if not isinstance(meta, dict):
        raise MemlabError(f"{path} is corrupt (not a JSON object); {fix}")
    return meta


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, one a line. A last line without its newline is a writer
    killed mid-line and is skipped; any other line that is not a JSON object is a one-line error."""
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise MemlabError(f"{path} is not a records file (not UTF-8 text)") from None
    except OSError as e:
        raise MemlabError(f"{path} cannot be read ({e.strerror})") from None
    *complete, tail = text.split("\n")
    out = []
    for i, line in enumerate(complete):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise MemlabError(f"{path}:{i + 1} is not valid JSON") from None
        if not isinstance(rec, dict):
            raise MemlabError(f"{path}:{i + 1} is not a record (a JSON object)")
        out.append(rec)
    if tail.strip():
        try:
            rec = json.loads(tail)
            if isinstance(rec, dict):
                out.append(rec)
        except (json.JSONDecodeError, RecursionError):
            pass  # torn by a killed writer: that unit runs again
    return out


def load_records(exp: Experiment, out_dir: Path, chash: str | None = None) -> list[dict[str, Any]]:
    """The records of ``exp`` under ``out_dir`` (those of config ``chash`` or without a hash),
    from every file of ``exp.records_paths`` in turn."""
    recs: list[dict[str, Any]] = []
    for path in exp.records_paths(out_dir) or [Path(out_dir) / exp.records_file]:
        part = read_records(path)
        for i, r in enumerate(part):
            missing = [f for f in exp.record_fields if f not in r]
            if missing:
                raise MemlabError(f"{path}: record {i + 1} has no {', '.join(missing)}; not a {exp.name} record")
        if isinstance(exp.record_fields, dict):  # field -> type(s): values of another type are one-line errors too
            from memlab.experiments._records import check_records

            check_records(part, exp.record_fields, str(path))
        recs += part
    if chash is None:
        return recs
    return [r for r in recs if r.get("config_hash", chash) == chash]


def _drop_torn_tail(path: Path) -> None:
    """A writer killed mid-line leaves a torn last line; cut it so appends start on a new line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)


def _config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    from memlab.core.config import config_differences

    diffs = config_differences(dict(old), dict(new), limit=5)  # four shown, "…" when there are more
    return "; ".join(diffs[:4]) + (" …" if len(diffs) > 4 else "")


def _check_hash(exp: Experiment, out: Path, chash: str, cfg_dict: dict, fresh: bool) -> None:
    """Raise ConfigError if ``out`` holds records of another configuration (unless ``fresh``,
    which deletes the records and meta file)."""
    meta_path = out / exp.meta_name
    if fresh:
        for p in (*exp.records_paths(out), meta_path):
            if p.exists():
                p.unlink()
        return
    meta = read_meta(meta_path)
    others = {str(r["config_hash"]) for r in load_records(exp, out) if r.get("config_hash")} - {chash}
    old = meta.get("config_hash")
    if (old and old != chash) or others:
        what = old if old and old != chash else sorted(others)[0]
        diff = _config_diff(meta.get("config") or {}, cfg_dict) if isinstance(meta.get("config"), dict) else ""
        raise ConfigError(
            f"{out} holds {exp.name} records of another configuration ({what}, now {chash}"
            f"{'; differs in ' + diff if diff else ''}); pass --fresh to replace them or --out DIR to write elsewhere")


def _write_meta(exp: Experiment, out: Path, chash: str, cfg_dict: dict, invocation: dict | None) -> dict:
    """Keep the configuration and the wall/CPU time of every invocation beside the records."""
    from memlab.core.io import atomic_write_json

    path = out / exp.meta_name
    meta = read_meta(path)
    if meta.get("config_hash") != chash:
        meta = {"config_hash": chash, "invocations": []}
    meta["experiment"] = exp.name
    meta["config"] = cfg_dict
    meta.setdefault("invocations", [])
    if invocation:  # each invocation keeps its own settings (hash-excluded ones differ between invocations)
        meta["invocations"].append({**invocation, "config": invocation.get("config", cfg_dict)})
    atomic_write_json(path, _with_totals(meta))
    return meta


def _with_totals(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with the wall and worker CPU seconds summed over its invocations."""
    meta["wall_seconds_total"] = sum(i.get("wall_seconds", 0.0) for i in meta["invocations"])
    meta["worker_cpu_seconds_total"] = sum(i.get("worker_cpu_seconds", 0.0) for i in meta["invocations"])
    return meta


# --------------------------------------------------------------------------- the runner
def run_experiment(exp: Experiment, overrides: Mapping[str, Any] | Sequence[str] | None = None, *,
                   out_dir: str | os.PathLike | None = None, jobs: int | None = None, fresh: bool = False,
                   quick: bool = False, seed: int | None = None, device: str = "cpu", progress: bool = True,
                   store: str | os.PathLike | None = None, plots: bool = True, executor: str = "local",
                   address: str | None = None) -> dict[str, Any]:
    """Run every unit of ``exp`` not yet in its records, then summarise and plot.

    ``executor``: ``local`` (this process for ``jobs`` = 1, else a pool of ``jobs`` processes) or
    ``ray`` (Ray tasks on ``address`` or a local Ray instance; see ``memlab.experiments.executors``).
    Returns the headline dict of ``summarise`` plus ``units``, ``units_run``, ``wall_s``,
    ``cpu_s``, ``records``, ``config_hash`` and ``figures``.
    """
    from memlab.core.io import append_jsonl, now_iso, provenance

    cfg, cfg_dict = resolve_config(exp, overrides, quick=quick, seed=seed)
    has_seed = _has_field(exp.config_cls, "seed")
    chash = config_hash(exp, cfg_dict, None if has_seed or seed is None else {"_seed": seed})
    if jobs is not None and not 1 <= jobs <= MAX_JOBS:
        raise ConfigError(f"jobs={jobs} is out of range; allowed: 1 to {MAX_JOBS}")
    if device != "cpu":
        from memlab.core.runtime import resolve_device

        device = str(resolve_device(device))
    check_choice("executor", executor, EXECUTORS)
    check_out_dir(out_dir if out_dir is not None else default_out_dir(exp, quick))
    units = exp.units(cfg)
    if not units:
        raise ConfigError(f"{exp.name} has no units of work with these settings (an empty selection?); "
                          f"`memlab table {exp.name}` renders the records already there")
    keys = [u.key for u in units]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        repeated = _repeated_lists(cfg_dict)
        if repeated:  # the user's selection names a model, task or seed twice
            raise ConfigError(f"{' and '.join(repeated)} {'names' if len(repeated) == 1 else 'name'} a value twice, "
                              f"so unit {dup!r} would run twice; list each value once")
        raise RuntimeError(f"experiment {exp.name}: unit key {dup!r} is not unique")
    if executor == "ray" or address is not None:  # a missing Ray or a silent address: before anything is written
        runner_ex = make_executor(executor, jobs=jobs, address=address, device=device)
    else:
        runner_ex = None
    out = prepare_out_dir(out_dir if out_dir is not None else default_out_dir(exp, quick))
    if store is None:
        store = Path(exp.default_store) / "quick" if quick else Path(exp.default_store)
    ctx = RunContext(out_dir=out, device=device, seed=int(getattr(cfg, "seed", seed or 0)), progress=progress,
                     store=Path(store))

    _check_hash(exp, out, chash, cfg_dict, fresh)
    for p in exp.records_paths(out):
        _drop_torn_tail(p)
    done = {exp.unit_key(r) for r in load_records(exp, out, chash)}
    todo = [u for u in units if u.key not in done]
    if not todo or (out / exp.meta_name).exists():
        _write_meta(exp, out, chash, cfg_dict, None)  # else written with the first unit's records

    if runner_ex is None:
        runner_ex = LocalExecutor(max(1, min(jobs if jobs is not None else (os.cpu_count() or 1), len(todo) or 1)))
    n_jobs = runner_ex.jobs if runner_ex.name == "local" else (jobs or 0)
    ctx = runner_ex.prepare_context(ctx) if runner_ex.name == "local" else ctx
    prov = provenance()
    t0, cpu_total, n_run = time.perf_counter(), 0.0, 0
    bar = None
    if todo:
        from tqdm import tqdm

        bar = tqdm(total=len(units), initial=len(units) - len(todo), desc=exp.name, unit="unit",
                   disable=not progress, smoothing=0.05)
        _progress_postfix(bar, len(units) - len(todo), len(todo), runner_ex)

    def store_unit(unit: Unit, recs: list[dict], wall: float, cpu: float) -> None:
        nonlocal cpu_total, n_run
        cpu_total += cpu
        n_run += 1
        extra = {"experiment": exp.name, "unit": unit.key, "config_hash": chash,
                 "unit_wall_s": round(wall, 3), "unit_cpu_s": round(cpu, 3)}
        by_file: dict[Path, list[dict]] = {}
        for r in recs:
            full = {**prov, **extra, **r}
            by_file.setdefault(exp.record_path(out, full), []).append(full)
        for path, part in by_file.items():
            append_jsonl(path, part)
        if n_run == 1 and not (out / exp.meta_name).exists():
            _write_meta(exp, out, chash, cfg_dict, None)  # from now on, another config is an error
        if bar is not None:
            bar.update(1)
            _progress_postfix(bar, len(units) - len(todo) + n_run, len(todo) - n_run, runner_ex)

    try:
        runner_ex.run(exp, cfg_dict, todo, ctx, store_unit)
    finally:
        runner_ex.close()
        if bar is not None:
            bar.close()
        wall = time.perf_counter() - t0
        if n_run:
            _write_meta(exp, out, chash, cfg_dict, dict(
                time=now_iso(), units=n_run, of=len(units), wall_seconds=wall, worker_cpu_seconds=cpu_total,
                jobs=n_jobs, cpus=os.cpu_count(), loadavg_1min=os.getloadavg()[0], device=device,
                executor=runner_ex.name, **({"address": address} if address else {})))

    result = _render(exp, cfg, out, chash, plots=plots)
    result.update(units=len(units), units_run=n_run, wall_s=round(wall, 3), cpu_s=round(cpu_total, 3))
    return result


def _progress_postfix(bar, done: int, left: int, executor) -> None:
    """cells done / running / left beside the bar (its ETA is tqdm's, from the units run so far)."""
    try:
        slots = executor.slots
    except Exception:  # noqa: BLE001 - a cluster that cannot say: one at a time
        slots = 1
    running = min(max(slots, 1), left)
    bar.set_postfix_str(f"done {done}, running {running}, left {left - running}", refresh=True)


# --------------------------------------------------------------------------- render only
def _from_records(exp: Experiment, what: str, fn, records_path: str, *args: Any) -> Any:
    """``fn(*args)`` (summarise or plot); a record without the fields it needs is one line."""
    try:
        return fn(*args)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        if isinstance(e, MemlabError):
            raise
        raise MemlabError(f"cannot {what} {exp.name} from {records_path}: a malformed or foreign record "
                          f"({type(e).__name__}: {str(e)[:80]})") from e


def _summarise_and_plot(exp: Experiment, cfg: Any, records: list[dict], out: Path, tables: bool,
                        plots: bool) -> tuple[dict[str, Any], list[str]]:
    path = exp.records_label(out)
    headline = dict(_from_records(exp, "summarise", exp.summarise, path, cfg, records, out) or {}) if tables else {}
    figures = [str(p) for p in (_from_records(exp, "plot", exp.plot, path, cfg, records, out) or [])] if plots else []
    return headline, figures


def _render(exp: Experiment, cfg: Any, out: Path, chash: str | None, plots: bool) -> dict[str, Any]:
    records = load_records(exp, out, chash)
    headline, figures = _summarise_and_plot(exp, cfg, records, out, True, plots)
    headline.update(experiment=exp.name, out_dir=str(out), records=exp.records_label(out),
                    n_records=len(records), config_hash=chash, figures=figures)
    return headline


def render_experiment(exp: Experiment, out_dir: str | os.PathLike | None = None, *,
                      overrides: Mapping[str, Any] | Sequence[str] | None = None, quick: bool = False,
                      tables: bool = True, plots: bool = True) -> dict[str, Any]:
    """Summarise (``tables``) and plot (``plots``) ``exp`` from the records under ``out_dir``: no
    compute. The config is the one saved in the meta file (else the defaults), with ``overrides``."""
    out = Path(out_dir) if out_dir is not None else default_out_dir(exp, quick)
    records_path = exp.records_label(out)
    if not exp.records_paths(out):
        raise MemlabError(f"no records at {records_path}; run `memlab run {exp.name}` first (or pass --out DIR)")
    meta = read_meta(out / exp.meta_name)
    saved = meta.get("config") if isinstance(meta.get("config"), dict) else None
    cfg, cfg_dict = resolve_config(exp, overrides, quick=quick and saved is None, base=saved)
    chash = meta.get("config_hash") if saved is not None and not overrides else None
    records = load_records(exp, out, chash)
    headline, figures = _summarise_and_plot(exp, cfg, records, out, tables, plots)
    headline.update(experiment=exp.name, out_dir=str(out), records=records_path, n_records=len(records),
                    figures=figures)
    return headline
