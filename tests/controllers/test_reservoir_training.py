"""The reservoir models (``esn``, ``lsm``) and an NTM driven by an ESN controller train through the
ordinary trainer and CLI (seed-004 and NTM tasks), as every registered model does."""

import json

import pytest

from memlab.cli import main


@pytest.mark.parametrize("model, task, extra", [
    ("esn", "ntm-copy", ["model.reservoir_size=20"]),
    ("lsm", "ntm-copy", ["model.n_neurons=20"]),
    ("esn", "copy", ["model.reservoir_size=20", "model.embed=4"]),
    ("ntm", "copy", ["model.controller=esn", "model.controller_size=8", "model.memory_size=8", "model.word_size=4",
                     'model.controller_cfg={"reservoir_size": 30}']),
])
def test_trains_through_the_cli(model, task, extra, tmp_path, capsys):
    args = ["train", "--model", model, "--task", task, "--out", str(tmp_path), "--json", "--set",
            "train.max_epochs=2", "train.batches_per_epoch=2", "train.batch_size=4", *extra]
    assert main(args) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["model"] == model and summary["status"] == "done" and summary["epochs"] == 2
    assert summary["nonfinite_events"] == 0 and summary["n_params"] > 0


def test_a_diverging_reservoir_is_a_one_line_cli_error(tmp_path, capsys):
    args = ["train", "--model", "esn", "--task", "ntm-copy", "--out", str(tmp_path), "--set", "model.spectral_radius=10"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "reservoir diverges: spectral radius 10 > 1" in err[0], err


@pytest.mark.parametrize("model, task, setting, message", [
    ("esn", "ntm-copy", "model.spectral_radius=0", "model.spectral_radius=0.0 is out of range; allowed: > 0.0"),
    ("esn", "ntm-copy", "model.spectral_radius=-1", "model.spectral_radius=-1.0 is out of range; allowed: > 0.0"),
    ("esn", "ntm-copy", "model.leak=0", "model.leak=0.0 is out of range; allowed: > 0.0 and <= 1.0"),
    ("esn", "ntm-copy", "model.leak=1.5", "model.leak=1.5 is out of range; allowed: > 0.0 and <= 1.0"),
    ("esn", "ntm-copy", "model.reservoir_size=0", "model.reservoir_size=0 is out of range; allowed: >= 1"),
    ("lsm", "ntm-copy", "model.tau_m=0", "model.tau_m=0.0 is out of range; allowed: > 0.0"),
    ("lsm", "ntm-copy", "model.refractory=1000", "refractory=1000.0 ms is longer than the simulation"),
    ("associative-lstm", "associative-retrieval", "model.copies=0", "model.copies=0 is out of range; allowed: >= 1"),
    ("lstm-cell", "copy", "model.nonrec_proj_size=500", "nonrec_proj_size=500 is larger than the cell; allowed: 0"),
    ("lstm-cell", "copy", "model.proj_size=500", "proj_size=500 must be < hidden_size"),
])
def test_the_issue_errors_are_one_line_cli_errors(model, task, setting, message, tmp_path, capsys):
    """Issue 16's list: spectral radius <= 0, leak outside (0, 1], S < 1 copies, a projection larger
    than the cell, a refractory period longer than the simulation: exit 2, one line naming the value."""
    args = ["train", "--model", model, "--task", task, "--out", str(tmp_path), "--no-progress", "--set", setting,
            "train.max_epochs=1", "train.batches_per_epoch=1", "train.batch_size=2"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
