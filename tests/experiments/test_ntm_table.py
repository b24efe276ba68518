"""ntm-table: runs evaluated at exact lengths (`memlab eval --lengths`, `memlab run ntm-table`),
the weightings figure (`memlab plot RUN`) and the table (`memlab table ntm-table`)."""

from __future__ import annotations

import json

import pytest

from memlab.cli import main
from memlab.experiments.ntm_table import EXPERIMENT, median_by_length, model_label, render_results_table


@pytest.fixture(scope="module")
def ntm_run(tmp_path_factory):
    from memlab.training.run import train_run

    root = tmp_path_factory.mktemp("ntm")
    s = train_run("ntm", "ntm-copy", {"model": {"controller_size": 16, "memory_size": 8, "word_size": 4},
                                      "train": {"max_epochs": 2, "batches_per_epoch": 2, "batch_size": 4,
                                                "eval_every": 1, "eval_batches": 1},
                                      "task": {"train_max": 3, "test_min": 4, "test_max": 5}},
                  out=root, progress=False, name="r")
    assert s["status"] == "done" and s["epochs"] == 2
    return root / "r"


def test_eval_lengths_plot_and_table(ntm_run, tmp_path):
    run, res = str(ntm_run), tmp_path / "res"
    assert main(["eval", run, "--lengths", "2,6,1-3", "--set", "batches=1", "--out", str(res)]) == 0
    rows = [json.loads(line) for line in (res / "evals.jsonl").read_text().splitlines()]
    epoch = int(rows[0]["checkpoint"].split("@")[1])  # the best test epoch, 1 or 2
    assert rows[0]["checkpoint"].split("@")[0] in ("best", "last")
    assert [r["length"] for r in rows] == [2, 6, "1-3"] and rows[0]["sequences_seen"] == epoch * 2 * 4
    assert rows[0]["train_wall_s"] > 0
    assert all(0 <= r["fine"] <= 1 and r["n_sequences"] == 32 for r in rows)
    assert main(["plot", run, "--out", str(tmp_path / "fig"), "--set", "length=3"]) == 0
    rec = json.loads((tmp_path / "fig" / "r-len3.json").read_text())
    assert len(rec["write"]) == 7 and len(rec["write"][0][0]) == 8  # T = 2·3 + 1 steps, N = 8 locations
    assert (tmp_path / "fig" / "r-len3.png").stat().st_size > 1000
    assert main(["table", "ntm-table", "--out", str(res)]) == 0
    table = (res / "results.md").read_text()
    label = "ntm (controller_size=16, memory_size=8, word_size=4)"  # the settings that differ from the defaults
    assert f"| {label} | ntm-copy | 0 | best@{epoch} | 6 |" in table and f"| {label} | ntm-copy | best | 6 | 1 |" in table
    assert table.index("| 1-3 |") < table.index("| 6 |")
    assert main(["eval", run, "--lengths", "0"]) == 2  # one-line error, exit status 2
    assert main(["eval", run, "--lengths", "5-3"]) == 2


def test_run_ntm_table_is_resumable(ntm_run, tmp_path):
    over = [f"runs={ntm_run}", "lengths=2,3", "checkpoints=best,last", "batches=1", "batch_size=4"]
    assert main(["run", "ntm-table", "--set", *over, "--out", str(tmp_path), "--jobs", "1", "--no-progress"]) == 0
    rows = [json.loads(l) for l in (tmp_path / "evals.jsonl").read_text().splitlines()]
    assert sorted(r["unit"] for r in rows) == ["r/best/2", "r/best/3", "r/last/2", "r/last/3"]
    assert all(r["experiment"] == "ntm-table" and "config_hash" in r for r in rows)
    # more lengths: only the new units run
    assert main(["run", "ntm-table", "--set", *over[:1], "lengths=2,3,4", *over[2:], "--out", str(tmp_path),
                 "--jobs", "1", "--no-progress"]) == 0
    rows = [json.loads(l) for l in (tmp_path / "evals.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and "| 4 |" in (tmp_path / "results.md").read_text()
    # another batch count is another configuration
    assert main(["run", "ntm-table", "--set", *over[:4], "batch_size=8", "--out", str(tmp_path)]) == 2


def test_old_records_count_as_done():
    old = {"run_id": "ntm-copy-s0", "checkpoint": "best@30", "length": 20}
    assert EXPERIMENT.unit_key(old) == "ntm-copy-s0/best/20"
    assert EXPERIMENT.unit_key({**old, "unit": "x"}) == "x"


def test_results_table_keeps_model_variants_apart():
    """Runs whose model settings differ from the defaults get their own label and median."""

    def rec(run_id, seed, fine, **cfg):
        return {"run_id": run_id, "model": "ntm", "task": "priority-sort", "seed": seed, "checkpoint": "last@10",
                "length": 20, "fine": fine, "coarse": 0.0, "bit_errors": 1.0, "n_sequences": 64,
                "sequences_seen": 320, "train_wall_s": 1.0, "model_cfg": {"read_heads": 1, "kernel": "fused", **cfg}}

    recs = [rec("a", 0, 0.6), rec("b", 1, 0.8, kernel="reference"), rec("c", 0, 0.9, controller="ff", read_heads=4)]
    assert model_label(recs[0]) == model_label(recs[1]) == "ntm"  # the kernel does not make a variant
    assert model_label(recs[2]) == "ntm (controller=ff, read_heads=4)"
    med = median_by_length(recs)
    assert med[("ntm", "priority-sort", "last", 20)]["fine"] == pytest.approx(0.7)
    assert med[("ntm", "priority-sort", "last", 20)]["seeds"] == 2
    assert med[("ntm (controller=ff, read_heads=4)", "priority-sort", "last", 20)]["seeds"] == 1
    assert "| ntm (controller=ff, read_heads=4) | priority-sort | 0 |" in render_results_table(recs)


def test_malformed_records_are_one_line(tmp_path, capsys):
    (tmp_path / "evals.jsonl").write_text('{"run_id": "a"}\n')
    assert main(["table", "ntm-table", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "malformed" in err
    (tmp_path / "evals.jsonl").write_text('{"run_id": "a"}\nnot json\n{}\n')
    assert main(["table", "ntm-table", "--out", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
