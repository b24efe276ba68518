"""Run store: run folders plus an embedded SQLite index of every run and evaluation.

A store is a folder (default ``runs/``) holding one folder per run and ``index.sqlite``.
The run folders are the source of truth (config.json, metrics.jsonl, evals.jsonl,
checkpoints/); the index makes ``memlab runs`` and leaderboards one query away.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

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


class Store:
    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)
        self.path = self.root / "index.sqlite"

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        self.root.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60)
        try:
            con.row_factory = sqlite3.Row
            con.executescript(SCHEMA)
            yield con
            con.commit()
        finally:
            con.close()

    def upsert_run(self, run_id: str, path: Path, config: dict[str, Any], status: str,
                   summary: dict[str, Any] | None = None) -> None:
        summary = summary or {}
        best = summary.get("best_test") or {}
        now = now_iso()
        with self.connect() as con:
            con.execute(
                """INSERT INTO runs (run_id, path, model, task, seed, status, created, updated, epochs,
                       sequences_seen, elapsed_s, best_fine, best_coarse, config, summary)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(run_id) DO UPDATE SET path=excluded.path, status=excluded.status,
                       updated=excluded.updated, epochs=excluded.epochs, sequences_seen=excluded.sequences_seen,
                       elapsed_s=excluded.elapsed_s, best_fine=excluded.best_fine,
                       best_coarse=excluded.best_coarse, summary=excluded.summary""",
                (run_id, str(path), config.get("model"), config.get("task"), config.get("seed"), status, now, now,
                 summary.get("epochs"), summary.get("sequences_seen"), summary.get("elapsed_s"),
                 best.get("fine"), best.get("coarse"), json.dumps(config), json.dumps(summary)),
            )

    def add_eval(self, rec: dict[str, Any]) -> None:
        with self.connect() as con:
            con.execute(
                """INSERT INTO evals (run_id, model, task, scale, lo, hi, fine, coarse, n_sequences, seed,
                       commit_sha, checkpoint, time, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (rec.get("run_id"), rec.get("model"), rec.get("task"), rec.get("scale"), rec["lengths"][0],
                 rec["lengths"][1], rec.get("fine"), rec.get("coarse"), rec.get("n_sequences"), rec.get("seed"),
                 rec.get("commit"), rec.get("checkpoint"), rec.get("time"), json.dumps(rec)),
            )

    def runs(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.connect() as con:
            return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY created")]

    def evals(self, run_id: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.connect() as con:
            q, args = "SELECT record FROM evals", ()
            if run_id is not None:
                q, args = q + " WHERE run_id = ?", (run_id,)
            return [json.loads(r["record"]) for r in con.execute(q + " ORDER BY id", args)]
