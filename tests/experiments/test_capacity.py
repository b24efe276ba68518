"""capacity-* experiments: quick runs write records, resume without recomputing, re-render the
combined README.md from records, and reject bad settings with one-line errors."""

from __future__ import annotations

import json

import pytest

from memlab.cli import main
from memlab.core.io import read_jsonl
from memlab.experiments import get_experiment
from memlab.experiments.runner import render_experiment, run_experiment

STEMS = ("hopfield", "cmm", "hrr", "tpr", "sdm", "fast-weights")


@pytest.mark.parametrize("stem", STEMS)
def test_quick_run_resumes_and_rerenders(stem, tmp_path):
    exp = get_experiment(f"capacity-{stem}")
    head = run_experiment(exp, quick=True, out_dir=tmp_path, jobs=1, progress=False)
    assert head["units_run"] == head["units"] >= 1
    recs = read_jsonl(tmp_path / f"{stem}.jsonl")
    assert recs and all(r["kind"] == "point" and r["config_hash"] == head["config_hash"] for r in recs)
    assert (tmp_path / f"{stem}.png").stat().st_size > 1000
    readme = (tmp_path / "README.md").read_text()
    assert f"`{stem}.jsonl`" in readme
    again = run_experiment(exp, quick=True, out_dir=tmp_path, jobs=1, progress=False, plots=False)
    assert again["units_run"] == 0 and len(read_jsonl(tmp_path / f"{stem}.jsonl")) == len(recs)
    (tmp_path / "README.md").unlink()
    render_experiment(exp, tmp_path, plots=False)
    assert (tmp_path / "README.md").read_text() == readme


def test_hopfield_units_equal_a_full_run(tmp_path):
    """One unit per size: the records of N=60 alone equal those of N=60 inside a two-size run."""
    from memlab.core.config import from_dict
    from memlab.theory.capacity import QUICK, HopfieldCapacityConfig, run_hopfield

    exp = get_experiment("capacity-hopfield")
    run_experiment(exp, ["sizes=40,60"], quick=True, out_dir=tmp_path, jobs=1, progress=False, plots=False)
    recs = [r for r in read_jsonl(tmp_path / "hopfield.jsonl") if r["N"] == 60]
    alone = run_hopfield(from_dict(HopfieldCapacityConfig, QUICK["hopfield"]))
    keys = ("load", "bit_error", "stable_fraction", "cue_recall_fraction")
    assert [[r.get(k) for k in keys] for r in recs] == [[r.get(k) for k in keys] for r in alone]
    assert {r["unit"] for r in read_jsonl(tmp_path / "hopfield.jsonl")} == {"N=40", "N=60"}


def test_cli_tpr_headline(tmp_path, capsys):
    assert main(["run", "capacity-tpr", "--quick", "--no-progress", "--out", str(tmp_path), "--json"]) == 0
    head = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert head["orthonormal_exact_up_to_Q"] == 16 and head["role_size"] == 16


@pytest.mark.parametrize("name, setting, message", [
    ("capacity-tpr", "role_sise=3", "unknown key role_sise"),
    ("capacity-tpr", "role_size=0", "role_size=0 is out of range"),
    ("capacity-tpr", "role_size=1000000", "GiB"),
    ("capacity-hopfield", "sizes=100000", "GiB"),
    ("capacity-hopfield", "cue_noise=nan", "cue_noise"),
    ("capacity-hopfield", "loads=0.1,inf", "loads"),
    ("capacity-cmm", "pairs=100", "pairs=100 exceeds key_size=64"),
    ("capacity-hrr", "pairs=1,4", "every entry >= 2"),
    ("capacity-sdm", "noise_levels=0.7", "noise_levels=0.7 is out of range"),
    ("capacity-fast-weights", "decays=nan", "decays"),
    ("capacity-fast-weights", "items=1000000", "GiB"),
    ("capacity-fast-weights", "seed=-1", "seed=-1 is out of range"),
])
def test_bad_settings_are_one_line_errors(name, setting, message, tmp_path, capsys):
    assert main(["run", name, "--out", str(tmp_path), "--set", setting]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not list(tmp_path.glob("*.jsonl"))
