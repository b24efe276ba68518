"""core/io: provenance in a temporary git repository, umask-respecting and disk-full-safe writes."""

import errno
import os
import shutil
import stat
import subprocess

import pytest

from memlab.core.errors import MemlabError
from memlab.core.io import append_jsonl, atomic_write_json, atomic_write_text, git_state, provenance, read_jsonl

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


@needs_git
def test_git_state_hashes_the_diff_and_untracked_files(tmp_path):
    root = tmp_path
    _git(root, "init", "-q")
    (root / "memlab").mkdir()
    (root / "memlab" / "a.py").write_text("x = 1\n")
    (root / "results").mkdir()
    (root / "results" / "r.jsonl").write_text("{}\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "init")
    sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()

    assert git_state(root) == {"commit": sha, "dirty": False}
    (root / "results" / "r.jsonl").write_text("{}\n{}\n")  # records are not code: still clean
    assert git_state(root) == {"commit": sha, "dirty": False}

    (root / "memlab" / "a.py").write_text("x = 2\n")
    s1 = git_state(root)
    assert s1["commit"] == sha and s1["dirty"] is True and len(s1["diff_sha256"]) == 64
    assert git_state(root) == s1  # same change, same hash
    (root / "memlab" / "a.py").write_text("x = 3\n")
    s2 = git_state(root)
    assert s2["diff_sha256"] != s1["diff_sha256"]

    (root / "memlab" / "a.py").write_text("x = 1\n")
    assert git_state(root)["dirty"] is False
    (root / "memlab" / "new.py").write_text("y = 1\n")  # untracked code counts, by name and contents
    u1 = git_state(root)
    assert u1["dirty"] is True
    (root / "memlab" / "new.py").write_text("y = 2\n")
    assert git_state(root)["diff_sha256"] != u1["diff_sha256"]
    (root / ".gitignore").write_text("memlab/new.py\n")  # ignored files do not
    assert git_state(root)["dirty"] is False


def test_git_state_outside_git_and_provenance_fields(tmp_path):
    assert git_state(tmp_path / "nowhere") == {"commit": "unknown", "dirty": None}
    p = provenance(seed=3, experiment="x")
    assert {"commit", "dirty", "time"} <= set(p) and p["seed"] == 3 and p["experiment"] == "x"
    assert "+dirty" not in p["commit"]
    assert ("diff_sha256" in p) == bool(p["dirty"])


def test_atomic_writes_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.txt", "b")
        assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def _disk_full(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_keeps_the_old_file_and_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    atomic_write_json(path, {"old": True})
    append_jsonl(tmp_path / "r.jsonl", [{"a": 1}])
    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(MemlabError, match="no space left on device") as e:
        atomic_write_json(path, {"new": True})
    assert "\n" not in str(e.value)
    assert '"old": true' in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "r.jsonl"]  # no temp file left
    with pytest.raises(MemlabError, match="no space left"):
        append_jsonl(tmp_path / "r.jsonl", [{"b": 2}])
    monkeypatch.undo()
    append_jsonl(tmp_path / "r.jsonl", [{"c": 3}])
    assert read_jsonl(tmp_path / "r.jsonl") == [{"a": 1}, {"c": 3}]  # the failed line was cut back


def test_read_jsonl_malformed_files_are_one_line(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"a": 1}\n{"b": 2')  # torn last line: skipped
    assert read_jsonl(p) == [{"a": 1}]
    p.write_text('{"a": 1}\nnot json\n{"b": 2}\n')
    with pytest.raises(MemlabError, match=r"r.jsonl:2 is not valid JSON"):
        read_jsonl(p)
    p.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(MemlabError, match=r"r.jsonl:2 is not a record"):
        read_jsonl(p)
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MemlabError, match="not UTF-8"):
        read_jsonl(p)
    with pytest.raises(MemlabError, match="cannot read"):
        read_jsonl(tmp_path)
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_portable_path_is_relative_under_the_working_folder(tmp_path, monkeypatch):
    """Records name run folders relative to the working folder (a scratch clone's absolute path
    would be meaningless elsewhere), and absolutely only outside it."""
    from memlab.core.io import portable_path

    (tmp_path / "work" / "runs" / "lb").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    assert portable_path(tmp_path / "work" / "runs" / "lb" / "cell-s0") == "runs/lb/cell-s0"
    assert portable_path("runs/lb/cell-s0") == "runs/lb/cell-s0"
    assert portable_path(tmp_path / "elsewhere") == (tmp_path / "elsewhere").as_posix()
