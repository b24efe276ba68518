"""demo: `memlab run demo` trains two small models on copy and prints a table; resumable."""

from __future__ import annotations

import json

from memlab.cli import main
from memlab.experiments.demo import EXPERIMENT, render_summary


def test_quick_demo_runs_end_to_end_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "demo", "--quick", "--jobs", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| lantm-invnorm | 1x | 2-8 |" in out and "| lstm | 2x | 9-16 |" in out
    folder = tmp_path / "runs" / "demo" / "quick"
    rows = [json.loads(l) for l in (folder / "records.jsonl").read_text().splitlines()]
    assert sorted({r["unit"] for r in rows}) == ["lantm-invnorm-copy-s0", "lstm-copy-s0"]
    assert all(r["epochs"] == 2 and r["batches"] == 2 for r in rows)
    summary = (folder / "summary.md").read_text()
    assert main(["run", "demo", "--quick", "--json"]) == 0  # everything done: renders only
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["units_run"] == 0 and (folder / "summary.md").read_text() == summary
    assert main(["table", "demo", "--out", str(folder)]) == 0 and (folder / "summary.md").read_text() == summary


def test_summary_keeps_the_newest_record_per_model_and_scale():
    recs = [{"model": "lstm", "scale": 1, "lengths": [2, 8], "fine": 0.5, "coarse": 0.1, "epochs": 3},
            {"model": "lstm", "scale": 1, "lengths": [2, 8], "fine": 0.75, "coarse": 0.25, "epochs": 4}]
    md = render_summary(recs)
    assert "| lstm | 1x | 2-8 | 0.7500 | 0.2500 | 4 |" in md and "0.5000" not in md
    assert [u.key for u in EXPERIMENT.units(EXPERIMENT.config_cls(seed=3))] == ["lantm-invnorm-copy-s3", "lstm-copy-s3"]
