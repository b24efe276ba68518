"""Merging an experiment's records run elsewhere (another machine, a worktree, a cluster node,
each with its own ``--out``) into one folder: ``memlab merge EXPERIMENT --from DIR …``. No compute;
everything is checked before anything is written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from memlab.core.errors import ConfigError, MemlabError
from memlab.experiments.base import Experiment
from memlab.experiments.runner import (_config_diff, _drop_torn_tail, _from_records, _with_totals, check_out_dir,
                                       default_out_dir, load_records, prepare_out_dir, read_meta, resolve_config)


def _canonical(rec: Mapping[str, Any]) -> str:
    return json.dumps(rec, sort_keys=True, default=str)


def _unit_key(exp: Experiment, rec: Mapping[str, Any], folder: Path, i: int) -> str:
    try:
        return str(exp.unit_key(dict(rec)))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        raise MemlabError(f"{exp.records_label(folder)}: record {i + 1} names no unit of {exp.name}; "
                          "a malformed or foreign record") from None


def _check_renders(exp: Experiment, folder: Path, meta: Mapping[str, Any], records: list[dict[str, Any]]) -> None:
    """The records of ``folder`` summarise as ``memlab table`` would (into a scratch folder), so
    a malformed or foreign record is a one-line error before it joins another folder."""
    import tempfile

    saved = meta.get("config") if isinstance(meta.get("config"), dict) else None
    cfg, _ = resolve_config(exp, None, base=saved)
    with tempfile.TemporaryDirectory() as tmp:
        _from_records(exp, "merge", exp.summarise, exp.records_label(folder), cfg, records, Path(tmp))


def merge_experiment(exp: Experiment, sources: Sequence[str | os.PathLike], out_dir: str | os.PathLike | None = None,
                     ) -> dict[str, Any]:
    """Add the records of ``exp`` under each folder of ``sources`` (runs made elsewhere: another
    machine, a worktree, a cluster node, with ``--out`` of their own) to those under ``out_dir``,
    and their invocations to its meta file: no compute.

    Everything is checked before anything is written: each source holds ``exp`` records of the
    same config hash as ``out_dir`` (hash-excluded settings such as the selection of units may
    differ); a record already there, byte for byte, is skipped, so merging twice adds nothing;
    a unit whose records differ from the ones already there is a one-line error (rerun it with
    ``--fresh`` elsewhere, or drop one side). Returns the counts and the folder.
    """
    from memlab.core.io import append_jsonl, atomic_write_json

    out = check_out_dir(out_dir if out_dir is not None else default_out_dir(exp))
    if not sources:
        raise ConfigError("merge needs at least one --from DIR")
    meta = read_meta(out / exp.meta_name, fix="repair or move it")
    have = load_records(exp, out) if out.is_dir() else []
    chash = meta.get("config_hash") or next((r["config_hash"] for r in have if r.get("config_hash")), None)
    ref, ref_meta = out, meta  # where the config hash that sources must match comes from
    seen = {_canonical(r) for r in have}
    origin = {_unit_key(exp, r, out, i): str(out) for i, r in enumerate(have)}  # unit -> the folder of its records
    new: list[dict[str, Any]] = []
    units_added = 0
    invocations: list[dict[str, Any]] = []
    first_meta: dict[str, Any] | None = None
    resolved = {out.resolve()}
    for src in sources:
        s = Path(src)
        if not s.is_dir():
            raise ConfigError(f"--from {s} is not a folder; name a folder of {exp.name} records (a run's --out)")
        if s.resolve() in resolved:
            raise ConfigError(f"--from {s} is named twice or is --out itself; name each folder once")
        resolved.add(s.resolve())
        if not exp.records_paths(s):
            raise ConfigError(f"--from {s} holds no {exp.name} records ({exp.records_label(s)})")
        smeta = read_meta(s / exp.meta_name, fix="repair it or leave it out")
        recs = load_records(exp, s)
        _check_renders(exp, s, smeta, recs)
        hashes = ({str(smeta["config_hash"])} if smeta.get("config_hash") else set()) | \
            {str(r["config_hash"]) for r in recs if r.get("config_hash")}
        if chash is None and len(hashes) > 1:
            raise ConfigError(f"--from {s} holds {exp.name} records of {len(hashes)} configurations "
                              f"({', '.join(sorted(hashes))}); merge a folder of one")
        if chash is None and hashes:
            chash, ref, ref_meta = next(iter(hashes)), s, smeta
        if hashes - {chash}:
            other = sorted(hashes - {chash})[0]
            diff = (_config_diff(*({k: v for k, v in m["config"].items() if k not in exp.hash_exclude}
                                   for m in (ref_meta, smeta)))
                    if isinstance(ref_meta.get("config"), dict) and isinstance(smeta.get("config"), dict) else "")
            raise ConfigError(f"--from {s} holds {exp.name} records of another configuration ({other}, {ref} has "
                              f"{chash}{'; differs in ' + diff if diff else ''}); only records of one config merge")
        fresh_units: dict[str, list[dict[str, Any]]] = {}
        for i, r in enumerate(recs):
            c = _canonical(r)
            if c in seen:
                continue
            key = _unit_key(exp, r, s, i)
            if key in origin and key not in fresh_units:
                raise ConfigError(f"unit {key!r} has other records in {origin[key]} than in {s}; "
                                  "keep one of them (merge skips only records that are the same)")
            fresh_units.setdefault(key, []).append(r)
            seen.add(c)
        for key, part in fresh_units.items():
            origin[key] = str(s)
            new += part
        units_added += len(fresh_units)
        if first_meta is None and smeta:
            first_meta = smeta
        known = {_canonical(i) for i in (meta.get("invocations") or []) + invocations}
        invocations += [i for i in (smeta.get("invocations") or []) if _canonical(i) not in known]
    by_file: dict[Path, list[dict[str, Any]]] = {}
    for r in new:
        try:
            path = exp.record_path(out, r)
        except (KeyError, ValueError) as e:
            raise MemlabError(f"unit {exp.unit_key(r)!r}: a record whose {exp.records_shard} names no records "
                              f"file ({type(e).__name__}: {str(e)[:80]})") from None
        by_file.setdefault(path, []).append(r)
    out = prepare_out_dir(out)
    for path, part in by_file.items():
        _drop_torn_tail(path)
        append_jsonl(path, part)
    if new or invocations or not (out / exp.meta_name).exists():
        if not meta:
            meta = {k: v for k, v in (first_meta or {}).items() if k in ("config", "experiment")}
            meta["invocations"] = []
        meta.update(config_hash=chash, experiment=exp.name)
        meta.setdefault("invocations", [])
        meta["invocations"] += invocations
        atomic_write_json(out / exp.meta_name, _with_totals(meta))
    return {"experiment": exp.name, "out_dir": str(out), "sources": [str(s) for s in sources],
            "records_added": len(new), "units_added": units_added,
            "invocations_added": len(invocations), "records": exp.records_label(out)}
