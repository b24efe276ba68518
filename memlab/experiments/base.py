"""The experiment contract: one file per reproduced table, figure or sweep.

An experiment declares a typed config, its units of work, how one unit runs to records, how
records summarise to tables and how they draw figures. The shared runner
(:mod:`memlab.experiments.runner`) executes any experiment: resumable (a unit whose key is in
the records is done), parallel over cores, config-hash checked, provenance on every record.

A new experiment is one file ``memlab/experiments/<name>.py`` holding a module-level
``EXPERIMENT = MyExperiment()`` plus one line in ``EXPERIMENTS`` (``experiments/__init__.py``).
``summarise`` and ``plot`` read records only; they never compute what a unit computes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: a shard's value as it may appear in a file name
_SHARD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]{0,99}")


@dataclass(frozen=True)
class Unit:
    """One piece of work. ``key`` is stable and unique within the experiment: a record whose
    ``unit_key`` equals it means the unit is done. ``params`` are its JSON-serialisable inputs."""

    key: str
    params: dict[str, Any]


@dataclass
class RunContext:
    """What a unit may need besides its config: where to write, on which device, the seed, the
    run store (for experiments that train runs) and whether to print progress."""

    out_dir: Path
    device: str
    seed: int
    progress: bool
    store: Path


class Experiment:
    """Base class; one subclass per file with a module-level ``EXPERIMENT = MyExperiment()``.

    Attributes:
        name: the registry key (file name with ``_`` → ``-``).
        title: one line for ``memlab list experiments``.
        config_cls: a dataclass built with ``core.config.from_dict`` (unknown keys are errors).
        default_out: the results folder, e.g. ``"results/stm"``.
        records_file: the JSONL file under the output folder (existing experiments keep theirs).
        records_shard: a record field (e.g. ``"model"``) whose value names the file each record is
            appended to, ``<records_file stem>-<value>.jsonl``, so that no one file grows past
            what a repository keeps comfortably; every shard (and a ``records_file`` written
            before sharding) is read back together. ``None``: one file.
        meta_file: the config hash and wall/CPU time of every invocation (default
            ``<name>.meta.json``).
        hash_exclude: config fields that do not change any unit's result (jobs, max_time, the
            selection of units …); changing them never invalidates existing records.
        hash_unless_set: config fields added after records were made: left out of the hash while
            at their defaults, so those records keep their hash; set, they count like any other.
        default_store: the run store for experiments that train (``RunContext.store``).
        record_fields: fields every record must have, or a mapping field → type(s) (e.g.
            ``{"N": int, "MC": NUMBER}`` with ``_records.NUMBER``) that also checks their types; a
            record read without one, or with a value of another type, is a one-line error
            (malformed or foreign record files never reach ``summarise`` as tracebacks).
    """

    name: str = ""
    title: str = ""
    config_cls: type = type(None)
    default_out: str = "results"
    records_file: str = "records.jsonl"
    records_shard: str | None = None
    meta_file: str | None = None
    hash_exclude: tuple[str, ...] = ()
    hash_unless_set: tuple[str, ...] = ()
    default_store: str = "runs"
    record_fields: tuple[str, ...] | dict[str, type | tuple[type, ...]] = ()

    # ----------------------------------------------------------------- to override
    def quick_overrides(self) -> dict[str, Any]:
        """Config values that ``--quick`` sets (tiny sizes, seconds of work)."""
        return {}

    def units(self, cfg: Any) -> list[Unit]:
        """Every unit of work of ``cfg``, in the order they should run."""
        raise NotImplementedError

    def unit_key(self, record: dict[str, Any]) -> str:
        """The key of the unit that produced ``record``; override so that OLD records count."""
        return str(record["unit"])

    def run_unit(self, cfg: Any, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        """Compute one unit → at least one record (runs in a worker process)."""
        raise NotImplementedError

    def summarise(self, cfg: Any, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        """Write tables/markdown under ``out_dir`` from ``records`` only; return headline figures."""
        return {}

    def plot(self, cfg: Any, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        """Draw figures under ``out_dir`` from ``records`` only (import plots lazily)."""
        return []

    # ----------------------------------------------------------------- derived
    @property
    def meta_name(self) -> str:
        return self.meta_file or f"{self.name}.meta.json"

    def records_paths(self, out_dir: str | os.PathLike) -> list[Path]:
        """The record files under ``out_dir`` that exist: ``records_file``, then the shards by name."""
        out = Path(out_dir)
        paths = [out / self.records_file] if (out / self.records_file).is_file() else []
        if self.records_shard:
            stem, suffix = Path(self.records_file).stem, Path(self.records_file).suffix
            paths += sorted(p for p in out.glob(f"{stem}-*{suffix}") if p.is_file())
        return paths

    def records_label(self, out_dir: str | os.PathLike) -> str:
        """Where the records are, for messages: ``records_file``'s path, or its shards' pattern."""
        p = Path(self.records_file)
        return str(Path(out_dir) / (f"{p.stem}-*{p.suffix}" if self.records_shard else p.name))

    def record_path(self, out_dir: str | os.PathLike, record: dict[str, Any]) -> Path:
        """The file ``record`` is appended to: its shard, or ``records_file``."""
        if not self.records_shard:
            return Path(out_dir) / self.records_file
        value = str(record[self.records_shard])
        if not _SHARD_NAME.fullmatch(value):
            raise ValueError(f"{self.name}: record field {self.records_shard}={value!r} cannot name a records file")
        p = Path(self.records_file)
        return Path(out_dir) / f"{p.stem}-{value}{p.suffix}"

    def __repr__(self) -> str:
        return f"<experiment {self.name}>"
