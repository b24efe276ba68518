"""Executors: the local one's choices and errors, and Ray on a local instance the tests start and
stop (2 CPUs): records come back to the driver, which alone writes them and indexes the runs; a
worker killed mid-cell is retried and the retry resumes the cell's run from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from memlab.core.errors import ConfigError
from memlab.experiments.executors import LocalExecutor, check_address, make_executor
from memlab.experiments.leaderboard import EXPERIMENT
from memlab.experiments.runner import read_records, run_experiment

#: two tiny memories on one task (seconds per cell)
TINY = {"models": ("stack", "queue"), "tasks": ("double",), "seeds": (0,), "budget_s": 2.0, "size": 8, "scales": (1,),
        "eval_batches": 1, "eval_batch_size": 4, "profile_ns": (1, 2), "profile_train": 40, "profile_test": 20,
        "train": {"batch_size": 4, "batches_per_epoch": 2}}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_executor_choices_and_errors():
    assert isinstance(make_executor("local", jobs=2, address=None, device="cpu"), LocalExecutor)
    with pytest.raises(ConfigError, match="executor='nope' is not allowed; choose one of local, ray"):
        make_executor("nope", jobs=1, address=None, device="cpu")
    with pytest.raises(ConfigError, match="--address applies to --executor ray only"):
        make_executor("local", jobs=1, address="127.0.0.1:6379", device="cpu")
    for bad in ("nohost", "host:notaport", ":6379", "host:0"):
        with pytest.raises(ConfigError, match="is not host:port"):
            check_address(bad)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="does not answer"):
        check_address(f"ray://127.0.0.1:{closed_port()}", timeout=2.0)
    assert time.perf_counter() - t0 < 10


def test_unknown_executor_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match="executor"):
        run_experiment(EXPERIMENT, TINY, out_dir=tmp_path / "out", store=tmp_path / "store", executor="slurm")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- Ray
ray = pytest.importorskip("ray")
ray_group = pytest.mark.xdist_group("ray")  # --dist loadgroup keeps the Ray tests on one worker


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@ray_group
def test_ray_cells_come_back_to_the_driver(tmp_path, monkeypatch, local_ray):
    from memlab.store import Store

    monkeypatch.chdir(tmp_path)
    res = run_experiment(EXPERIMENT, TINY, out_dir="out", store="store", executor="ray", progress=False, plots=False)
    recs = read_records(Path("out/records.jsonl"))
    assert res["units_run"] == 2 and sorted(r["unit"] for r in recs) == ["queue/double/s0", "stack/double/s0"]
    for r in recs:  # the driver's relative store path, not the workers' absolute one
        assert r["run"].startswith("store/") and (Path(r["run"]) / "checkpoints" / "last.pt").exists()
        assert r["status"] in ("done", "timeout") and r["scores"]
    runs = {r["run_id"]: r for r in Store("store").runs()}  # indexed by the driver from the run folders
    assert sorted(runs) == sorted(Path(r["run"]).name for r in recs)
    assert all(r["status"] == "done" for r in runs.values())
    meta = json.loads(Path("out/leaderboard.meta.json").read_text())
    assert meta["invocations"][-1]["executor"] == "ray"
    assert ray.is_initialized()  # a Ray the caller started is left running


@ray_group
def test_ray_worker_killed_mid_cell_is_retried_from_its_checkpoint(tmp_path, local_ray):
    out, store = tmp_path / "out", tmp_path / "store"
    # an epoch cap, not the budget, ends the cell: however slow the machine, the kill comes mid-cell
    over = {**TINY, "models": ("queue",), "budget_s": 600.0, "train": {**TINY["train"], "max_epochs": 14}}
    box: dict = {}

    def drive():
        try:
            box["res"] = run_experiment(EXPERIMENT, over, out_dir=out, store=store, executor="ray", progress=False,
                                        plots=False)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            box["err"] = e

    t = threading.Thread(target=drive)
    t.start()
    killed, at_epoch = None, 0
    deadline = time.time() + 120
    while time.time() < deadline and t.is_alive():  # kill the worker once it trained past a checkpoint
        runs = list(store.glob("queue-double-s0-*"))
        if runs and (runs[0] / "metrics.jsonl").exists() and (runs[0] / ".lock").exists():
            lines = (runs[0] / "metrics.jsonl").read_text().splitlines()
            pid = (runs[0] / ".lock").read_text().strip()
            if len(lines) >= 6 and pid.isdigit():  # past the checkpoint of epoch 5
                killed, at_epoch = int(pid), len(lines)
                os.kill(killed, signal.SIGKILL)
                break
        time.sleep(0.1)
    t.join(180)
    assert killed and killed != os.getpid() and not t.is_alive()
    assert "err" not in box, box.get("err")
    recs = read_records(out / "records.jsonl")
    assert [r["unit"] for r in recs] == ["queue/double/s0"]  # written once, by the driver
    run_dir = next(store.glob("queue-double-s0-*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["resumed"] and summary["epochs"] >= at_epoch - 5  # from the checkpoint, not from scratch
    epochs = [json.loads(l)["epoch"] for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs.count(1) == 1 and max(epochs) >= at_epoch  # the retry went on from the checkpoint, not from epoch 1
    assert recs[0]["status"] == "done" and recs[0]["epochs"] == summary["epochs"] == 14
