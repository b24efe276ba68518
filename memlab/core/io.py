"""Atomic file writes, JSONL records and provenance (commit, hash of uncommitted changes, time).

Nothing memlab writes is ever half-written: every file goes to a temporary name in the same
folder and is renamed into place. Records are plain dicts, one JSON object a line.
"""

from __future__ import annotations

import datetime as _dt
import errno
import functools
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from memlab.core.errors import MemlabError


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc/self/status``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting, then put it back
    os.umask(mask)
    return mask


def _write_failed(path: Path, e: OSError) -> MemlabError:
    """One line for a failed write; the previous file (if any) is untouched."""
    why = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
           errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
           errno.EPERM: "permission denied"}.get(e.errno, e.strerror or type(e).__name__)
    return MemlabError(f"cannot write {path}: {why}; the previous contents are kept")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename).

    The file gets the mode an ordinary ``open`` would give it (0o666 less the umask), not
    ``mkstemp``'s 0o600. A failed write (disk full, read-only) raises a one-line MemlabError
    and leaves the previous file as it was, with no temporary file behind.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _write_failed(path, e) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _write_failed(path, e) from None
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
    """Append records to a JSONL file; each line is written whole with one ``write`` + fsync.

    If the write fails (disk full) the file is cut back to its old length, so no torn line is
    left in the middle for the next append to follow; the error is one MemlabError line.
    """
    path = Path(path)
    data = "".join(dumps_record(r) + "\n" for r in records).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as f:
            size = f.tell()
            try:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            except OSError:
                f.truncate(size)
                raise
    except OSError as e:
        raise _write_failed(path, e) from None
    return path


def write_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> Path:
    """Replace a JSONL file atomically."""
    return atomic_write_text(path, "".join(dumps_record(r) + "\n" for r in records))


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read records; a torn last line (a killed writer) is skipped. A missing file is no
    records; a line that is not a JSON object, a file that is not UTF-8 text, or a path that
    is not a file is one MemlabError line."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise MemlabError(f"{path} is not a records file (not UTF-8 text)") from None
    except OSError as e:
        raise MemlabError(f"cannot read {path}: {e.strerror or e}") from None
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise MemlabError(f"{path}:{i + 1} is not valid JSON") from None
        if not isinstance(rec, dict):
            raise MemlabError(f"{path}:{i + 1} is not a record (a JSON object); got {type(rec).__name__}")
        out.append(rec)
    return out


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    yield from read_jsonl(path)


#: what the diff hash covers: the code that produces records, not the records themselves (an
#: experiment appending to a tracked results/ file must not change its own provenance)
CODE_PATHS = ("memlab", "benchmarks", "pyproject.toml")


#: checkpoints every run folder may hold (``checkpoints/NAME.pt``); see ``is_tracked_checkpoint`` for ``bestKx``
CHECKPOINTS = ("best", "last")


def is_tracked_checkpoint(name: object) -> bool:
    """Whether ``name`` is ``bestKx`` (K a scale 1..1000): a run trained with ``train.track_scales``
    keeps the weights of its best periodic test at scale K as ``checkpoints/bestKx.pt``."""
    if not isinstance(name, str) or not (name.startswith("best") and name.endswith("x")):
        return False
    k = name[4:-1]
    return k.isascii() and k.isdigit() and not k.startswith("0") and int(k) <= 1000


def is_checkpoint_name(name: object) -> bool:
    """Whether ``name`` names a run checkpoint: ``best``, ``last`` or ``bestKx``."""
    return name in CHECKPOINTS or is_tracked_checkpoint(name)


#: what a checkpoint name may be, as every error about one says it
CHECKPOINT_CHOICES = "best, last or bestKx (the best periodic test at tracked scale K, e.g. best4x)"


def portable_path(path: str | os.PathLike) -> str:
    """``path`` as a record should name it: relative to the working folder when it lies under it
    (records made in a scratch clone then name ``runs/...``, not the clone's absolute path),
    else absolute."""
    p = Path(path).absolute()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return p.as_posix()


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=30)


def git_state(root: str | os.PathLike, paths: Iterable[str] = CODE_PATHS) -> dict[str, Any]:
    """Commit and uncommitted changes of the git checkout at ``root``.

    Returns ``{"commit": "<12 hex>", "dirty": False}`` for a clean tree, and for a tree with
    changes under ``paths`` ``{"commit": …, "dirty": True, "diff_sha256": "<64 hex>"}``: the
    sha256 of ``git diff --binary HEAD`` plus, for each untracked (not ignored) file, its
    name and the sha256 of its contents, so two records share a diff hash exactly when they
    were produced by the same code. ``{"commit": "unknown", "dirty": None}`` outside git.
    """
    root = Path(root)
    paths = list(paths)
    try:
        head = _git(root, "rev-parse", "--short=12", "HEAD")
        sha = head.stdout.decode().strip()
        if head.returncode or not sha:
            return {"commit": "unknown", "dirty": None}
        diff = _git(root, "diff", "--binary", "HEAD", "--", *paths).stdout
        untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", *paths).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    names = sorted(n for n in untracked.decode("utf-8", "surrogateescape").split("\0") if n)
    if not diff and not names:
        return {"commit": sha, "dirty": False}
    h = hashlib.sha256(diff)
    for name in names:
        h.update(b"\0untracked\0" + name.encode("utf-8", "surrogateescape") + b"\0")
        try:
            h.update(hashlib.sha256((root / name).read_bytes()).digest())
        except OSError:
            h.update(b"unreadable")
    return {"commit": sha, "dirty": True, "diff_sha256": h.hexdigest()}


@functools.lru_cache(maxsize=1)
def _memlab_git_state() -> tuple[tuple[str, Any], ...]:
    return tuple(git_state(Path(__file__).resolve().parents[2]).items())


def git_commit() -> str:
    """The commit of the memlab checkout (12 hex digits), or ``"unknown"``."""
    return dict(_memlab_git_state())["commit"]


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def provenance(seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """The fields every record carries: ``commit``, ``dirty``, ``diff_sha256`` (only when dirty,
    see ``git_state``), ``time``, ``seed``, plus ``extra``. The git state is read once per
    process: a record describes the code the process imported."""
    rec: dict[str, Any] = dict(_memlab_git_state())
    rec["time"] = now_iso()
    if seed is not None:
        rec["seed"] = seed
    rec.update(extra)
    return rec
