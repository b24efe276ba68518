"""Run store: run folders plus an embedded SQLite index of every run and evaluation.

A store is a folder (default ``runs/``) holding one folder per run and ``index.sqlite``.
The run folders are the source of truth (config.json, summary.json, metrics.jsonl,
evals.jsonl, checkpoints/); the index makes ``memlab runs`` and leaderboards one query away
and can always be rebuilt from the folders: a corrupt index is moved aside to
``index.sqlite.corrupt`` and rebuilt, with one warning line on stderr.

Statuses: ``running``, ``done``, ``diverged``, ``interrupted``, ``failed``; ``runs()`` shows
a ``running`` run whose lock is held by no live process as ``dead`` (killed with -9, power cut).
"""

from __future__ import annotations

import contextvars
import json
import os
import sqlite3
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from memlab.core.errors import ConfigError, MemlabError
from memlab.core.io import now_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, path TEXT NOT NULL, model TEXT, task TEXT, seed INTEGER,
    status TEXT, created TEXT, updated TEXT, epochs INTEGER, sequences_seen INTEGER,
    elapsed_s REAL, best_fine REAL, best_coarse REAL, config TEXT, summary TEXT
);
CREATE TABLE IF NOT EXISTS evals (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, model TEXT, task TEXT, scale INTEGER,
    lo INTEGER, hi INTEGER, fine REAL, coarse REAL, n_sequences INTEGER, seed INTEGER,
    commit_sha TEXT, checkpoint TEXT, time TEXT, record TEXT
);
"""


def check_run_name(name: str) -> str:
    """``name`` if it is a single path component usable as a run folder, else ConfigError:
    no ``/`` or ``\\``, not ``.``/``..``, not empty, no control characters, not hidden."""
    bad = (not isinstance(name, str) or not name.strip() or name in (".", "..") or "/" in name or "\\" in name
           or name.startswith(".") or any(ord(c) < 32 for c in name) or len(name.encode()) > 200
           or (os.altsep is not None and os.altsep in name))
    if bad:
        raise ConfigError(f"--name {name!r} is not allowed; a run name is one folder name (letters, digits, "
                          "-, _; no '/', not '.' or '..', not starting with '.')")
    return name


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    except OSError:
        return False
    return True


def run_is_dead(run_dir: str | Path) -> bool:
    """True when the process that holds (held) ``run_dir/.lock`` no longer exists."""
    lock = Path(run_dir) / ".lock"
    try:
        text = lock.read_text().strip()
    except OSError:
        return True
    if not text.isdigit():
        return True
    return not _pid_alive(int(text))


def _jsonable(config: Any) -> dict[str, Any]:
    to_json = getattr(config, "to_json", None)
    return to_json() if callable(to_json) else dict(config)


#: False inside ``folders_only()``: runs are written to their folders but not to the SQLite index
_INDEX_RUNS: contextvars.ContextVar[bool] = contextvars.ContextVar("memlab_store_index_runs", default=True)


@contextmanager
def folders_only() -> Iterator[None]:
    """Within this block ``Store.upsert_run``/``remove_run`` leave the SQLite index alone (the run
    folders are still written): a Ray worker uses it so that only the driver writes the index,
    never two nodes one SQLite file on a shared filesystem (the driver indexes the folders after)."""
    token = _INDEX_RUNS.set(False)
    try:
        yield
    finally:
        _INDEX_RUNS.reset(token)


class Store:
    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)
        self.path = self.root / "index.sqlite"

    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60)
        con.row_factory = sqlite3.Row
        con.executescript(SCHEMA)
        return con

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise MemlabError(f"cannot use {self.root} as a run store: {e.strerror or e}") from None
        if self.root.exists() and not self.root.is_dir():
            raise MemlabError(f"{self.root} is a file, not a run store folder")
        try:
            con = self._open()
        except sqlite3.OperationalError as e:  # locked, read-only, disk full: not corrupt
            raise MemlabError(f"run index {self.path} cannot be used ({e})") from None
        except sqlite3.DatabaseError as e:  # not a database / malformed
            con = self._recover(e)
        try:
            yield con
            con.commit()
        except sqlite3.OperationalError as e:
            raise MemlabError(f"run index {self.path} cannot be written ({e}); the run folders are intact") from None
        except sqlite3.DatabaseError as e:
            raise MemlabError(f"run index {self.path} is corrupt ({e}); delete it and it is rebuilt from "
                              "the run folders") from None
        finally:
            con.close()

    def _recover(self, err: Exception) -> sqlite3.Connection:
        """Move a corrupt index aside and rebuild it from the run folders."""
        aside = self.path.with_name(self.path.name + ".corrupt")
        try:
            os.replace(self.path, aside)
        except OSError as e:
            raise MemlabError(f"run index {self.path} is corrupt ({err}) and cannot be moved aside ({e.strerror})") from None
        print(f"memlab: run index {self.path} was corrupt ({err}); moved it to {aside.name} and rebuilt it "
              "from the run folders", file=sys.stderr)
        self.rebuild()
        return self._open()

    def rebuild(self) -> int:
        """(Re)index every run folder under the store from its config.json, summary.json and
        evals.jsonl; returns the number of runs indexed. Unreadable folders are skipped."""
        from memlab.core.io import read_jsonl

        n = 0
        con = self._open()
        try:
            for d in sorted(p for p in self.root.iterdir() if p.is_dir()):
                try:
                    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
                    summary_path = d / "summary.json"
                    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.exists() else {}
                    evals = read_jsonl(d / "evals.jsonl")
                except (OSError, ValueError, MemlabError):
                    continue
                if not isinstance(config, dict) or not isinstance(summary, dict):
                    continue
                self._upsert(con, d.name, d, config, summary.get("status", "running"), summary)
                for rec in evals:
                    if isinstance(rec, dict) and isinstance(rec.get("lengths"), list) and len(rec["lengths"]) == 2:
                        self._add_eval(con, rec)
                n += 1
            con.commit()
        finally:
            con.close()
        return n

    @staticmethod
    def _upsert(con: sqlite3.Connection, run_id: str, path: Path, config: dict[str, Any], status: str,
                summary: dict[str, Any]) -> None:
        best = summary.get("best_test") or {}
        now = now_iso()
        con.execute(
            """INSERT INTO runs (run_id, path, model, task, seed, status, created, updated, epochs,
                   sequences_seen, elapsed_s, best_fine, best_coarse, config, summary)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(run_id) DO UPDATE SET path=excluded.path, status=excluded.status,
                   updated=excluded.updated, epochs=excluded.epochs, sequences_seen=excluded.sequences_seen,
                   elapsed_s=excluded.elapsed_s, best_fine=excluded.best_fine,
                   best_coarse=excluded.best_coarse, summary=excluded.summary""",
            (run_id, str(path), config.get("model"), config.get("task"), config.get("seed"), status,
             config.get("created") or now, now, summary.get("epochs"), summary.get("sequences_seen"),
             summary.get("elapsed_s"), best.get("fine"), best.get("coarse"), json.dumps(config, default=str),
             json.dumps(summary, default=str)),
        )

    @staticmethod
    def _add_eval(con: sqlite3.Connection, rec: dict[str, Any]) -> None:
        con.execute(
            """INSERT INTO evals (run_id, model, task, scale, lo, hi, fine, coarse, n_sequences, seed,
                   commit_sha, checkpoint, time, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (rec.get("run_id"), rec.get("model"), rec.get("task"), rec.get("scale"), rec["lengths"][0],
             rec["lengths"][1], rec.get("fine"), rec.get("coarse"), rec.get("n_sequences"), rec.get("seed"),
             rec.get("commit"), rec.get("checkpoint"), rec.get("time"), json.dumps(rec, default=str)),
        )

    def upsert_run(self, run_id: str, path: Path, config: Any, status: str,
                   summary: dict[str, Any] | None = None) -> None:
        if not _INDEX_RUNS.get():
            return
        with self.connect() as con:
            self._upsert(con, run_id, path, _jsonable(config), status, summary or {})

    def remove_run(self, run_id: str) -> None:
        """Forget a run (its folder is the caller's business)."""
        if not _INDEX_RUNS.get():
            return
        with self.connect() as con:
            con.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            con.execute("DELETE FROM evals WHERE run_id = ?", (run_id,))

    def add_eval(self, rec: dict[str, Any]) -> None:
        with self.connect() as con:
            self._add_eval(con, rec)

    def runs(self) -> list[dict[str, Any]]:
        """Every indexed run, oldest first; ``running`` runs whose process is gone say ``dead``."""
        if not self.path.exists():
            return []
        with self.connect() as con:
            rows = [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY created")]
        for r in rows:
            if r.get("status") == "running" and run_is_dead(self.root / r["run_id"]):
                r["status"] = "dead"
        return rows

    def evals(self, run_id: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.connect() as con:
            q, args = "SELECT record FROM evals", ()
            if run_id is not None:
                q, args = q + " WHERE run_id = ?", (run_id,)
            return [json.loads(r["record"]) for r in con.execute(q + " ORDER BY id", args)]
