"""Run folders: names stay inside the store, failed fresh runs leave nothing, sizes are checked
before allocating, resume refuses checkpoints it cannot continue from; the store's index."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from memlab.core.errors import ConfigError, MemlabError
from memlab.store import Store, check_run_name
from memlab.training.run import train_run

TINY = {
    "model": {"hidden": 16, "layers": 1, "embed": 4},
    "task": {"train_min": 2, "train_max": 4, "test_min": 5, "test_max": 6, "vocab": 6},
    "train": {"lr": 0.01, "max_epochs": 2, "batches_per_epoch": 2, "batch_size": 4, "eval_every": 1,
              "eval_batches": 1, "target_coarse": 2.0, "checkpoint_every": 1},
}


def _cfg(section=None, **kw):
    cfg = json.loads(json.dumps(TINY))
    if section:
        cfg[section].update(kw)
    return cfg


@pytest.mark.parametrize("name", ["../x", ".", "..", "/abs", "a/b", "", ".hidden", "a\\b", "x\n"])
def test_run_names_are_single_components(tmp_path, name):
    with pytest.raises(ConfigError, match="--name"):
        train_run("lstm", "copy", TINY, out=tmp_path / "store", name=name, progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "store").exists()
    assert check_run_name("ok-run_1") == "ok-run_1"


@pytest.mark.parametrize("section, key, value, match", [
    ("train", "batch_size", 1_000_000_000, "train.batch_size=1000000000 .*needs about"),
    ("model", "hidden", 200_000, "does not fit in memory|needs about"),
    ("train", "clip_norm", "nan", "train.clip_norm"),
    ("train", "lr", "1e400", "train.lr"),
    ("train", "min_lr", -1, "train.min_lr"),
    ("task", "train_max", 10**9, "task.train_max"),
    ("model", "layers", 10**12, "model.layers=1000000000000 is out of range; allowed: 1 to 256"),  # was an endless build
])
def test_bad_sizes_fail_fast_and_leave_no_folder(tmp_path, section, key, value, match):
    with pytest.raises(MemlabError, match=match) as e:
        train_run("lstm", "copy", _cfg(section, **{key: value}), out=tmp_path, name="r", progress=False)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "r").exists()
    train_run("lstm", "copy", TINY, out=tmp_path, name="r", progress=False)  # the name is free


@pytest.mark.parametrize("model, key", [("elman", "hidden"), ("esn", "reservoir_size"), ("fast-weights-rnn", "hidden")])
def test_sizes_past_int64_are_one_line(tmp_path, model, key):
    """A size whose tensors' element count overflows int64 is the same one-line error as one that
    does not fit (it was an internal error: torch says 'overflow', not 'memory')."""
    cfg = _cfg()
    cfg["model"] = {key: 10**12}
    with pytest.raises(ConfigError, match=f"model {model} with these sizes does not fit in memory .*overflow") as e:
        train_run(model, "copy", cfg, out=tmp_path, name="r", progress=False)
    assert "\n" not in str(e.value) and not (tmp_path / "r").exists()


@pytest.mark.parametrize("model, sizes", [("ntm", {"memory_size": 10**9, "word_size": 20}),
                                           ("dnc", {"memory_size": 10**6, "word_size": 4})])
def test_a_memory_too_big_for_a_batch_is_one_line_before_allocating(tmp_path, monkeypatch, model, sizes):
    """The memory's state (``state_size`` from its settings) counts in the size check before the
    first batch: no allocation is attempted (it once got as far as the allocator's failure)."""
    from memlab.training.trainer import Trainer

    cfg = _cfg()
    cfg["model"] = {"controller_size": 8, **sizes}
    monkeypatch.setattr(Trainer, "train_step", lambda self, batch: pytest.fail("a batch was run"))
    with pytest.raises(ConfigError, match=r"train.batch_size=4 at lengths up to 6 needs about .* GiB") as e:
        train_run(model, "copy", cfg, out=tmp_path, name="r", progress=False)
    assert "\n" not in str(e.value) and not (tmp_path / "r").exists()


def test_a_fresh_run_failing_in_its_first_epoch_is_removed(tmp_path, monkeypatch):
    from memlab.training.trainer import Trainer

    def boom(self, batch):
        raise RuntimeError("boom")

    with monkeypatch.context() as m:
        m.setattr(Trainer, "train_step", boom)
        with pytest.raises(RuntimeError, match="boom"):
            train_run("lstm", "copy", TINY, out=tmp_path, name="f", progress=False)
    assert not (tmp_path / "f").exists() and Store(tmp_path).runs() == []
    train_run("lstm", "copy", TINY, out=tmp_path, name="f", progress=False)  # a retry works

    def late(rec):
        raise RuntimeError("late")

    with pytest.raises(RuntimeError, match="late"):  # after an epoch it trained: kept, as failed
        train_run("lstm", "copy", TINY, out=tmp_path, name="g", progress=False, callbacks=[late])
    assert (tmp_path / "g").exists()
    assert {r["run_id"]: r["status"] for r in Store(tmp_path).runs()} == {"f": "done", "g": "failed"}


def _trained(tmp_path, name="r"):
    train_run("lstm", "copy", TINY, seed=0, out=tmp_path, name=name, progress=False)
    return tmp_path / name


def test_resume_refuses_best_over_last_and_foreign_sizes(tmp_path):
    run = _trained(tmp_path)
    ck = run / "checkpoints"
    shutil.copy(ck / "best.pt", ck / "last.pt")
    with pytest.raises(MemlabError, match="cannot be resumed: it has no optimizer") as e:
        train_run(resume=run, progress=False)
    assert "\n" not in str(e.value)
    run2 = _trained(tmp_path, "r2")
    cfg = json.loads((run2 / "config.json").read_text())
    cfg["model_cfg"]["hidden"] = 20
    (run2 / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(MemlabError, match="does not match the run's model") as e:
        train_run(resume=run2, progress=False)
    assert "\n" not in str(e.value)
    for text in ("null", "[]", '{"model": "lstm"}', '{"model": "lstm", "task": "copy", "x": 1}'):
        (run2 / "config.json").write_text(text)
        with pytest.raises(MemlabError):
            train_run(resume=run2, progress=False)


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        run = _trained(tmp_path)
    finally:
        os.umask(old)
    for p in (run / "config.json", run / "summary.json", run / "checkpoints" / "last.pt"):
        assert oct(p.stat().st_mode & 0o777) == oct(0o644), p


def test_dead_runs_show_as_dead(tmp_path):
    run = _trained(tmp_path)
    store = Store(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    cfg = json.loads((run / "config.json").read_text())
    store.upsert_run("r", run, cfg, "running", summary)
    (run / ".lock").write_text(str(os.getpid()))
    assert store.runs()[0]["status"] == "running"  # its process (this one) lives
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    (run / ".lock").write_text(str(p.pid))  # the process is gone (a kill -9)
    assert store.runs()[0]["status"] == "dead"


def test_folders_only_trains_into_the_folder_but_leaves_the_index_alone(tmp_path):
    """What a Ray worker does (the driver indexes after): the run folder is complete, the SQLite
    index holds no row until the block ends, and the block ends even on an error."""
    from memlab.store import folders_only

    with folders_only():
        run = _trained(tmp_path, "w")
        assert Store(tmp_path).runs() == []
    assert (run / "summary.json").exists() and (run / "checkpoints" / "last.pt").exists()
    with pytest.raises(RuntimeError), folders_only():
        raise RuntimeError("a worker's error")
    _trained(tmp_path, "d")  # outside the block the index is written as before
    assert [r["run_id"] for r in Store(tmp_path).runs()] == ["d"]


def test_garbage_index_is_rebuilt_from_the_run_folders(tmp_path, capsys):
    _trained(tmp_path, "a")
    (tmp_path / "index.sqlite").write_bytes(b"this is not a database" * 100)
    rows = Store(tmp_path).runs()
    assert [r["run_id"] for r in rows] == ["a"] and rows[0]["status"] == "done"
    assert "corrupt" in capsys.readouterr().err
    assert (tmp_path / "index.sqlite.corrupt").exists()


def test_evaluating_at_huge_scales_is_refused(tmp_path):
    from memlab.evaluation import evaluate_run

    run = _trained(tmp_path)
    with pytest.raises(ConfigError, match="scale=10000000"):
        evaluate_run(run, "10000000", batches=1)
    with pytest.raises(ConfigError, match="scale=30000 is out of range for copy"):
        evaluate_run(run, [30000], batches=1)


def test_seed_beyond_64_bits_and_out_as_a_file(tmp_path):
    with pytest.raises(ConfigError, match="seed="):
        train_run("lstm", "copy", TINY, seed=2**64, out=tmp_path, name="s", progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(MemlabError, match="is a file"):
        train_run("lstm", "copy", TINY, out=tmp_path / "file", name="s", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_disk_full_mid_run_is_one_line_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    import errno

    run = _trained(tmp_path)
    before = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    real_fsync = os.fsync

    calls = []

    def full(fd):  # room for the config and the first metrics line, then the disk is full
        calls.append(fd)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    cfg = json.loads(json.dumps(TINY))
    cfg["train"]["max_epochs"] = 4
    with pytest.raises(MemlabError, match="no space left on device") as e:
        train_run("lstm", "copy", cfg, out=tmp_path, name="r", resume=True, progress=False)
    assert "\n" not in str(e.value) and len(calls) > 2
    monkeypatch.setattr(os, "fsync", real_fsync)
    after = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert after["epoch"] == before["epoch"]
    assert not [p for p in run.rglob("*.tmp")]
    assert train_run(resume=run, progress=False)["status"] == "done"  # and it resumes once there is room
