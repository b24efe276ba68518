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
