"""Atomic file writes, JSONL records and provenance (commit, time).

Nothing memlab writes is ever half-written: every file goes to a temporary name in the same
folder and is renamed into place. Records are plain dicts, one JSON object a line.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from memlab.core.errors import MemlabError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` to a temp file then rename, so a crash never leaves a broken checkpoint."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def safe_torch_load(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with a one-line MemlabError for missing or corrupt files."""
    import torch

    path = Path(path)
    if not path.exists():
        raise MemlabError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # corrupt, truncated or not a checkpoint at all
        raise MemlabError(f"checkpoint {path} is corrupt or not a memlab checkpoint ({type(e).__name__})") from None


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def dumps_record(rec: dict[str, Any]) -> str:
    return json.dumps(rec, sort_keys=True, default=_json_default)


def append_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> Path:
    """Append records to a JSONL file; each line is written whole with one ``write`` + fsync."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(dumps_record(r) + "\n" for r in records)
    with open(path, "a", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return path


def write_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> Path:
    """Replace a JSONL file atomically."""
    return atomic_write_text(path, "".join(dumps_record(r) + "\n" for r in records))


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read records; a torn last line (a killed writer) is skipped, other bad lines are errors."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise MemlabError(f"{path}:{i + 1} is not valid JSON") from None
    return out


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    yield from read_jsonl(path)


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the memlab checkout (with ``+dirty`` if modified), or ``"unknown"``."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        if not sha:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "memlab"],
            cwd=root, capture_output=True, text=True, timeout=5,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def provenance(seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """The fields every record carries: commit, time, seed, plus ``extra``."""
    rec: dict[str, Any] = {"commit": git_commit(), "time": now_iso()}
    if seed is not None:
        rec["seed"] = seed
    rec.update(extra)
    return rec
