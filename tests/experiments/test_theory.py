"""theory-* experiments: quick runs write records, resume without recomputing, re-render the
combined SUMMARY.md from records, and reject bad settings with one-line errors."""

from __future__ import annotations

import pytest

from memlab.cli import main
from memlab.core.io import read_jsonl
from memlab.experiments import get_experiment
from memlab.experiments.runner import render_experiment, run_experiment

#: experiment -> (records stem, extra settings on top of --quick, a heading of its SUMMARY.md section)
CASES = {
    "theory-fisher": ("fisher", [], "## Fisher memory curve"),
    "theory-linear-capacity": ("linear_capacity", [], "## Linear memory capacity"),
    "theory-gradients": ("gradients", ["T=6", "q_max=5", "batch=1", "hidden=2"], "## Gradient flow"),
    "theory-saxe": ("saxe", [], "## Deep linear network learning dynamics"),
    "theory-profile": ("profile", [], "## Memory profile"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_quick_run_resumes_and_rerenders(name, tmp_path):
    stem, sets, heading = CASES[name]
    exp = get_experiment(name)
    head = run_experiment(exp, sets, quick=True, out_dir=tmp_path, jobs=1, progress=False)
    assert head["units_run"] == 1
    recs = read_jsonl(tmp_path / f"{stem}.jsonl")
    assert recs and all(r["unit"] == "all" and r["seed"] == 0 and "commit" in r for r in recs)
    assert (tmp_path / f"{stem}.png").stat().st_size > 1000
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert heading in summary
    again = run_experiment(exp, sets, quick=True, out_dir=tmp_path, jobs=1, progress=False, plots=False)
    assert again["units_run"] == 0 and len(read_jsonl(tmp_path / f"{stem}.jsonl")) == len(recs)
    (tmp_path / "SUMMARY.md").unlink()
    render_experiment(exp, tmp_path, plots=False)
    assert (tmp_path / "SUMMARY.md").read_text() == summary


def test_summary_holds_every_analysis_in_the_folder(tmp_path):
    for name in ("theory-fisher", "theory-saxe"):
        run_experiment(get_experiment(name), quick=True, out_dir=tmp_path, jobs=1, progress=False, plots=False)
    text = (tmp_path / "SUMMARY.md").read_text()
    assert text.index("## Fisher memory curve") < text.index("## Deep linear network")


@pytest.mark.parametrize("name, setting, message", [
    ("theory-fisher", "N=100000", "GiB"),
    ("theory-fisher", "eps=0", "eps (noise variance)=0"),
    ("theory-fisher", "rho=1.5", "rho (spectral radius)=1.5 is out of range"),
    ("theory-fisher", "rho=nan", "rho=nan"),
    ("theory-fisher", "N=1", "N=1 is out of range"),
    ("theory-linear-capacity", "N=0", "N=0 is out of range"),
    ("theory-linear-capacity", "T=10", "T=10 is too short"),
    ("theory-linear-capacity", "tanh_rhos=inf", "tanh_rhos"),
    ("theory-gradients", "batch=0", "batch=0 is out of range"),
    ("theory-gradients", "q_max=200", "q_max=200 lags go beyond"),
    ("theory-gradients", "hidden=100000", "GiB"),
    ("theory-saxe", "lr=0", "lr=0"),
    ("theory-saxe", "lr=-1", "lr=-1"),
    ("theory-saxe", "lr=1e-12", "gradient steps"),
    ("theory-saxe", "t_max=inf", "t_max"),
    ("theory-profile", "n_test=0", "n_test=0 is out of range"),
    ("theory-profile", "threshold=nan", "threshold"),
    ("theory-profile", "extra=foo", "extra='foo' is not allowed"),
    ("theory-profile", "ns=0,4", "ns=0 is out of range"),
    ("theory-profile", "seed=-1", "seed=-1 is out of range"),
])
def test_bad_settings_are_one_line_errors(name, setting, message, tmp_path, capsys):
    assert main(["run", name, "--out", str(tmp_path), "--set", setting]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not list(tmp_path.glob("*.jsonl"))


MINE = ["stm-phase-diagram", "stm-recall-length", *(f"capacity-{s}" for s in ("hopfield", "cmm", "hrr", "tpr", "sdm",
        "fast-weights")), "theory-fisher", "theory-linear-capacity", "theory-gradients", "theory-saxe", "theory-profile"]
MALFORMED = {"empty-dict": "{}\n", "wrong-types": '{"kind": 5, "trial": "t", "gamma_index": "g", "part": 1, "r": "x", "init": 3}\n',
             "unknown-kind": '{"kind": "nope", "part": "x", "trial": 0, "gamma_index": 0}\n'}


@pytest.mark.parametrize("variant", sorted(MALFORMED))
@pytest.mark.parametrize("name", MINE)
def test_malformed_records_are_one_line_errors(name, variant, tmp_path, capsys):
    """stm-*, capacity-* and theory-* records edited by hand: table, plot and run end in exit 2, one line."""
    exp = get_experiment(name)
    (tmp_path / exp.records_file).write_text(MALFORMED[variant])
    for verb in ("table", "plot", "run")[: 3 if variant == "empty-dict" else 1]:
        code = main([verb, name, "--out", str(tmp_path)] + (["--quick", "--no-progress"] if verb == "run" else []))
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "Traceback" not in err[0], (verb, code, err)
