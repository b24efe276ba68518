"""stm-phase-diagram and stm-recall-length: tiny runs write records, resume without recomputing,
re-render their summaries from records, and reject bad settings with one-line errors."""

from __future__ import annotations

import json

import pytest

from memlab.cli import main
from memlab.core.io import read_jsonl

PHASE_TINY = ["L=3", "N=8", "gammas=0.5", "rhos_sparse=0.1,0.3", "rhos_lowrank=0.5",
              "panels=sparse-low,lowrank-low", "nuclear_max_iter=100", "trials=2"]
RECALL_TINY = ["M=30", "L=2", "T=60", "rs=5,10,20", "trials=2"]


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("name, sets, records, summary, per_unit", [
    ("stm-phase-diagram", PHASE_TINY, "phase_records.jsonl", "phase_summary.md", 3),
    ("stm-recall-length", RECALL_TINY, "recall_records.jsonl", "recall_summary.md", 3),
])
def test_runs_resumes_and_rerenders(name, sets, records, summary, per_unit, tmp_path, capsys):
    args = ["run", name, "--jobs", "1", "--no-progress", "--out", str(tmp_path), "--json", "--set", *sets]
    assert main(args) == 0
    head = _json(capsys)
    assert head["units_run"] == 2
    recs = read_jsonl(tmp_path / records)
    assert len(recs) == 2 * per_unit and all(r["config_hash"] == head["config_hash"] and "commit" in r for r in recs)
    text = (tmp_path / summary).read_text()
    assert main(args) == 0  # resume: nothing left to run
    assert _json(capsys)["units_run"] == 0
    assert len(read_jsonl(tmp_path / records)) == len(recs)
    (tmp_path / summary).unlink()
    assert main(["table", name, "--out", str(tmp_path)]) == 0
    assert (tmp_path / summary).read_text() == text
    # a corrupt meta file (run times only) is a one-line error naming it, not a silent blank
    meta = next(tmp_path.glob("*meta.json"))
    good = meta.read_text()
    meta.write_text("{not json")
    assert main(["table", name, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and meta.name in err and "corrupt" in err
    meta.write_text(good)
    # more trials extend the run (trials is not in the config hash); other settings are refused
    assert main(args + ["trials=3"]) == 0
    assert _json(capsys)["units_run"] == 1
    assert main(args + ["L=4"]) == 2
    assert "another configuration" in capsys.readouterr().err


def test_recall_length_finds_an_interior_optimum_on_the_quick_grid(tmp_path, capsys):
    from memlab.experiments import get_experiment
    from memlab.experiments.runner import run_experiment

    head = run_experiment(get_experiment("stm-recall-length"), ["trials=2"], quick=True, out_dir=tmp_path, jobs=1,
                          progress=False, plots=False)
    assert head["units_run"] == 2 and head["rmse_at_r_opt"] <= min(head["rmse_at_r_min"], head["rmse_at_r_max"])


@pytest.mark.parametrize("name, setting, message", [
    ("stm-phase-diagram", "gammas=1.5", "gamma=1.5 is out of range"),
    ("stm-phase-diagram", "spectral_radius=1.5", "spectral_radius=1.5 is out of range"),
    ("stm-phase-diagram", "spectral_radius=nan", "spectral_radius"),
    ("stm-phase-diagram", "rhos_sparse=5", "rho (sparse)=5.0 is out of range"),
    ("stm-phase-diagram", "L=100000", "GiB"),
    ("stm-phase-diagram", "trials=0", "trials=0 is out of range"),
    ("stm-recall-length", "density=0", "density=0.0 is out of range"),
    ("stm-recall-length", "density=nan", "density"),
    ("stm-recall-length", "spectral_radius=inf", "spectral_radius"),
    ("stm-recall-length", "T=1000000000", "GiB"),
    ("stm-recall-length", "rs=0,5", "r (recall length)=0 is out of range"),
    ("stm-recall-length", "seed=-1", "seed=-1 is out of range"),
])
def test_bad_settings_are_one_line_errors(name, setting, message, tmp_path, capsys):
    assert main(["run", name, "--out", str(tmp_path), "--set", setting]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "phase_records.jsonl").exists() and not (tmp_path / "recall_records.jsonl").exists()
