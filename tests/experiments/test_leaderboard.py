"""leaderboard: record schema, n/a cells, per-scale and per-length scores, resume after a killed
driver (no record twice, the budget is the cell's over its sessions), one-line errors that write
nothing, and the dual-form ridge profile against the primal one."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from memlab.cli import main
from memlab.experiments._records import check_records
from memlab.experiments.leaderboard import (EXPERIMENT, RECORD_FIELDS, SCORE_FIELDS, LeaderboardConfig, eval_lengths,
                                            render_table, ridge_recover_errors)
from memlab.experiments.runner import read_records, resolve_config, run_experiment

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "leaderboard_records.jsonl"
#: two tiny memories, seconds per cell
TINY = {"models": ("stack", "queue"), "tasks": ("double",), "seeds": (0,), "budget_s": 2.0, "size": 8, "scales": (1, 2),
        "eval_batches": 1, "eval_batch_size": 4, "profile_ns": (1, 2), "profile_train": 40, "profile_test": 20,
        "length_points": 3, "length_factor": 2, "train": {"batch_size": 4, "batches_per_epoch": 2, "max_epochs": 4}}
TINY_ARGS = ["models=stack,queue", "tasks=double", "seeds=0", "size=8", "scales=1", "eval_batches=1",
             "eval_batch_size=4", "profile_ns=1,2", "profile_train=40", "profile_test=20", "train.batch_size=4",
             "train.batches_per_epoch=2"]


@pytest.fixture(autouse=True)
def _reports(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLAB_REPORT_DIR", str(tmp_path / "reports"))


def test_fixture_matches_the_schema_and_renders_every_cell():
    recs = read_records(FIXTURE)
    check_records(recs, RECORD_FIELDS, str(FIXTURE))
    for r in recs:
        check_records(r["scores"], SCORE_FIELDS, r["unit"])
    cfg, _ = resolve_config(EXPERIMENT)
    text = render_table(cfg, recs)
    rows = [l for l in text.splitlines() if l.startswith("| ") and not l.startswith("| task")]
    summary = [l for l in rows if " of " in l.split(" | ")[1]]  # the learned-by summary: one row per task
    assert len(summary) == len({r["task"] for r in recs})
    assert len(rows) - len(summary) == len({(r["model"], r["task"]) for r in recs})  # one row per (model, task)
    assert "diverged" in text and "timeout" in text and "n/a: memn2n cannot be built" in text
    assert "budget-limited ranking" in text and "20 s" in text


def test_learned_summary_names_the_models_that_learn_each_task_from_records():
    """The summary above the table: per task, the models whose median coarse over seeds at the
    first scale (length) is at least LEARNED_COARSE, with their coarse at every scale (a diverged
    seed has no score and does not count), and otherwise the closest model by coarse, then fine."""
    import copy

    from memlab.experiments.leaderboard import LEARNED_COARSE, learned_summary

    recs = read_records(FIXTURE)
    lines = {l.split(" | ")[0]: l for l in learned_summary(recs) if l.startswith("| ") and "---" not in l}
    assert lines["| copy"] == "| copy | 3 of 3 (1) | 1x / 2x / 4x / 8x | ntm 95 / 90.7 / 82.1 / 65 (20.3 (19.8–20.8) s) |"
    assert lines["| parity"].startswith("| parity | 3 of 3 (1) | L=1 / L=11 / ") and "| ntm 92.5 / " in lines["| parity"]
    low = copy.deepcopy(recs)  # the NTM's copy seed falls just under the threshold: nobody learns copy
    for r in low:
        if (r["model"], r["task"], r["seed"]) == ("ntm", "copy", 0):
            r["scores"][0]["coarse"] = LEARNED_COARSE - 0.01
    line = next(l for l in learned_summary(low) if l.startswith("| copy"))
    assert "| none (closest: ntm 89 / 90.7 / " in line and "fine 100.0% at 1x)" in line
    for r in low:  # below the LSTM's 57.5% the LSTM is the closest
        if (r["model"], r["task"], r["seed"]) == ("ntm", "copy", 0):
            r["scores"][0]["coarse"] = 0.5
    assert "| none (closest: lstm 57.5 / " in next(l for l in learned_summary(low) if l.startswith("| copy"))


def test_cells_records_and_resume(tmp_path):
    out, store = tmp_path / "out", tmp_path / "store"
    over = {**TINY, "models": ("stack", "memn2n"), "tasks": ("double", "parity")}
    res = run_experiment(EXPERIMENT, over, out_dir=out, store=store, jobs=1, progress=False, plots=False)
    recs = read_records(out / "records.jsonl")
    assert res["units_run"] == 4 and len(recs) == 4
    check_records(recs, RECORD_FIELDS, "records")
    by = {r["unit"]: r for r in recs}
    na = by["memn2n/double/s0"]  # answers longer than the model can give: never dropped, n/a with the reason
    assert na["status"] == "n/a" and "memn2n cannot be" in na["reason"] and na["scores"] == []
    s = by["stack/double/s0"]
    assert s["status"] in ("done", "timeout") and [x["scale"] for x in s["scores"]] == [1, 2]
    assert all(x["length"] is None and 0 <= x["coarse"] <= 1 and x["n_sequences"] == 4 for x in s["scores"])
    assert s["epochs"] >= 1 and s["sequences_seen"] == s["epochs"] * 4 * 2 and s["params"] > 0
    assert s["train_cpu_s"] > 0 and s["seq_per_s"] > 0 and s["budget_s"] == 2.0
    assert (store / Path(s["run"]).name / "checkpoints" / "last.pt").exists()
    fig = store / Path(s["run"]).name / s["figures"][0]  # the cell's figure: training curve + scores
    assert s["figures"] == ["cell.png"] and fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and fig.stat().st_size > 1000
    prof = s["profile"]
    assert prof["capacity"] in (0.0, 1.0, 2.0) and [k for k, _ in prof["curve"]] == [1, 2]
    assert isinstance(s["state_size"], int) and s["state_size"] > 0
    p = by["stack/parity/s0"]  # automaton class: per length, lengths 1 … 2 × 40
    assert p["automaton"] == "regular" and [x["length"] for x in p["scores"]] == [1, 41, 80]
    assert all(x["scale"] is None for x in p["scores"])
    # a rerun computes nothing; a new seed adds only its cells
    assert run_experiment(EXPERIMENT, over, out_dir=out, store=store, jobs=1, progress=False, plots=False)["units_run"] == 0
    table = (out / "leaderboard.md").read_text()
    assert "| double | memn2n | 1 | n/a" in table and "L=41" in table


def test_eval_lengths_are_allowed_and_bounded():
    from memlab.tasks import make_task

    cfg, _ = resolve_config(EXPERIMENT, {"length_points": 5, "length_factor": 2})
    for name in ("parity", "dyck", "binary-addition"):
        task = make_task(name, {})
        ls = eval_lengths(cfg, task)
        top = 2 * task.scale_range(1)[1]
        assert ls == sorted(set(ls)) and 1 <= ls[0] and ls[-1] <= top
        allowed = getattr(task, "allowed", None)
        assert all(allowed(k) for k in ls) if allowed else True


def test_ridge_dual_equals_the_primal_fit():
    from memlab.theory.profile import apply_recover, fit_linear_recover

    g = torch.Generator().manual_seed(0)
    for B, S in ((30, 50), (60, 20)):  # fewer and more sequences than state dimensions
        S_tr, S_te = torch.randn(B, S, generator=g, dtype=torch.float64), torch.randn(15, S, generator=g, dtype=torch.float64)
        Y_tr, Y_te = torch.randn(B, 6, generator=g, dtype=torch.float64), torch.randn(15, 6, generator=g, dtype=torch.float64)
        pred = apply_recover(S_te, fit_linear_recover(S_tr, Y_tr, ridge=0.7))
        want = ((pred - Y_te) ** 2).reshape(15, 3, 2).sum(-1).mean(0) / (Y_te**2).reshape(15, 3, 2).sum(-1).mean(0)
        got = ridge_recover_errors(S_tr, S_te, Y_tr, Y_te, 2, 0.7)
        assert got.shape == (3,) and torch.allclose(torch.from_numpy(got), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("setting, needle", [
    ("models=nope", "unknown model 'nope'"),
    ("tasks=nope", "nope"),
    ("budget_s=0", "budget_s"),
    ("budget_s=-3", "budget_s"),
    ("budget_s=nan", "budget_s"),
])
def test_bad_selection_is_one_line_and_writes_nothing(tmp_path, capsys, setting, needle):
    out = tmp_path / "out"
    code = main(["run", "leaderboard", "--set", setting, "--out", str(out), "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    lines = [l for l in err.strip().splitlines() if l]
    assert code == 2 and len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err
    assert not out.exists() and not (tmp_path / "store").exists()


def test_ray_address_that_does_not_answer_is_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    t0 = time.perf_counter()
    code = main(["run", "leaderboard", "--set", *TINY_ARGS, "--executor", "ray", "--address", f"127.0.0.1:{port}",
                 "--out", str(out), "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    lines = [l for l in err.strip().splitlines() if l]
    assert code == 2 and len(lines) == 1 and ("does not answer" in lines[0] or "needs Ray" in lines[0]), err
    assert time.perf_counter() - t0 < 30 and not out.exists()


def _default_sigint() -> None:
    """In the child before exec: Ctrl-C's default action. A suite started in the background by a
    non-interactive shell (``make test &``, nohup) runs with SIGINT ignored, the child would inherit
    that and Python then installs no KeyboardInterrupt handler, so the signal would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow  # two driver processes per case (~20 s idle)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_killed_driver_resumes_without_writing_a_record_twice(tmp_path, sig):
    out, store = tmp_path / "out", tmp_path / "store"
    budget = 15.0
    cmd = [sys.executable, "-m", "memlab", "run", "leaderboard", "--set", *TINY_ARGS, f"budget_s={budget}",
           "train.max_epochs=100000", "--out", str(out), "--store", str(store), "--jobs", "1", "--no-progress",
           "--no-plot"]
    env = {**os.environ, "MEMLAB_REPORT_DIR": str(tmp_path / "reports")}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_default_sigint)
    try:  # kill it once the first cell is recorded and the second has trained past a checkpoint
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            second = list(store.glob("queue-double-s0-*"))
            metrics = second[0] / "metrics.jsonl" if second else None
            if (out / "records.jsonl").exists() and metrics and metrics.exists() and \
                    len(metrics.read_text().splitlines()) >= 6:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(sig)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(read_records(out / "records.jsonl")) == 1
    run_dir = next(store.glob("queue-double-s0-*"))
    if sig == signal.SIGINT:  # Ctrl-C: one line, exit 130, the cell in flight saved its checkpoint
        assert code == 130 and "interrupted" in proc.stderr.read().decode()
        summary = json.loads((run_dir / "summary.json").read_text())
        ckpt = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True, map_location="cpu")
        assert summary["status"] == "interrupted" and 5 <= ckpt["epoch"] <= summary["epochs"]
    spent = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["elapsed_s"]
    assert spent < budget
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    recs = read_records(out / "records.jsonl")
    assert sorted(r["unit"] for r in recs) == ["queue/double/s0", "stack/double/s0"]  # each once
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["resumed"] and summary["stop_reason"] == "max_time"
    q = next(r for r in recs if r["unit"] == "queue/double/s0")
    # the budget is the cell's: the resumed session trained only for what the killed one left
    assert q["train_wall_s"] < budget + 3 and q["status"] == "timeout"
    assert not math.isnan(q["train_cpu_s"]) and q["train_cpu_s"] > 0


def test_a_model_its_trainer_refuses_is_n_a_not_failed(tmp_path):
    from memlab.experiments.base import RunContext
    from memlab.experiments.leaderboard import run_cell

    cfg, _ = resolve_config(EXPERIMENT, {"budget_s": 1.0})
    ctx = RunContext(out_dir=tmp_path, device="cpu", seed=0, progress=False, store=tmp_path / "store")
    r = run_cell(cfg, "memn2n", "copy", 0, ctx)  # copy's answers are longer than memn2n's max_answer
    assert r["status"] == "n/a" and "memn2n cannot be trained on copy" in r["reason"] and "max_answer" in r["reason"]
    assert r["run"] == "" and not [p for p in (tmp_path / "store").iterdir() if p.is_dir()]


def test_profile_of_a_trained_core_and_of_a_model_without_one():
    from memlab.evaluation.load import build_run
    from memlab.experiments.leaderboard import memory_profile
    from memlab.training.config import resolve_run_config

    cfg, _ = resolve_config(EXPERIMENT, {"profile_ns": (1, 2), "profile_train": 60, "profile_test": 30})
    for name in ("esn", "gru"):  # esn keeps float32 buffers: profiled as it is when float64 fails
        model, _, _ = build_run(resolve_run_config(name, "ntm-copy", {}, 0, "cpu"), "cpu")
        size, prof, reason = memory_profile(model, cfg, 0, "cpu")
        assert reason is None and size == model.core.state_size(2) and prof["state_size"] >= 1
        assert prof["capacity"] in (0.0, 1.0, 2.0) and [k for k, _ in prof["curve"]] == [1, 2]
        assert all(math.isfinite(e) and e >= 0 for _, e in prof["curve"])
        assert memory_profile(model, cfg, 1, "cpu")[1:] == (None, "profiled for seeds 0 only")
        assert prof["dtype"] == ("float32" if name == "esn" else "float64")  # the record says which
    model, _, _ = build_run(resolve_run_config("seq2seq-attention", "ntm-copy", {}, 0, "cpu"), "cpu")
    size, prof, reason = memory_profile(model, cfg, 0, "cpu")
    assert size is None and prof is None and "no separable memory core" in reason
