"""associative-lstm-noise: noise variance follows (Q − 1)/S · (1 + (S − 1)/N) and falls with S; a quick run
(memory cells and one trained model) resumes and re-renders from its records."""

from __future__ import annotations

import json

import pytest

from memlab.core.errors import ConfigError
from memlab.experiments.associative_lstm_noise import EXPERIMENT, measure_noise, noise_theory, render_table
from memlab.experiments.runner import render_experiment, run_experiment


def test_noise_follows_q_minus_one_over_s():
    prev = None
    for S in (1, 2, 4, 8, 16):
        m = measure_noise(16, S, 64, 200, seed=S)
        assert m["noise_var"] == pytest.approx(15 / S * (1 + (S - 1) / 64), rel=0.05) == pytest.approx(m["theory"])
        assert prev is None or m["noise_var"] < prev
        prev = m["noise_var"]
    assert measure_noise(1, 3, 32, 5, 0)["noise_var"] < 1e-20  # one item: exact
    assert noise_theory(16, 1, 64) == 15 and noise_theory(16, 64, 64) == pytest.approx(15 / 64 * (1 + 63 / 64))
    assert measure_noise(16, 16, 64, 50, 0)["nn_accuracy"] > measure_noise(16, 1, 64, 50, 0)["nn_accuracy"]


def test_quick_run_resumes_and_rerenders(tmp_path):
    out = tmp_path / "alstm"
    res = run_experiment(EXPERIMENT, {"train": True, "train_copies": [2]}, quick=True, out_dir=out, jobs=1, progress=False)
    assert res["units_run"] == 6
    recs = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]
    assert {r["unit"] for r in recs} == {"Q4-S1", "Q4-S4", "Q16-S1", "Q16-S4", "train-variable-assignment-S2",
                                         "train-episodic-copy-S2"}
    trained = {r["task"]: r for r in recs if r["kind"] == "trained"}
    assert trained["episodic-copy"]["test_length"] == 8 and trained["variable-assignment"]["test_length"] == 4
    assert all(0 <= r["accuracy"] <= r["fine"] <= 1 and r["copies"] == 2 for r in trained.values())
    table = (out / "README.md").read_text()
    assert "| 16 | 4 | 16 | 10 |" in table and "Trained Associative LSTMs" in table and "| episodic-copy | 8 | 2 |" in table
    assert (out / "noise.png").stat().st_size > 0
    assert run_experiment(EXPERIMENT, {"train": True, "train_copies": [2]}, quick=True, out_dir=out, jobs=1, progress=False)["units_run"] == 0
    (out / "README.md").unlink()
    render_experiment(EXPERIMENT, out)
    assert (out / "README.md").read_text() == table == render_table(recs)


@pytest.mark.parametrize("over,match", [
    ({"copies": [0]}, "copies=0 is out of range; allowed: >= 1"),
    ({"train_copies": [0]}, "copies=0 is out of range"),
    ({"size": float("nan")}, "size=nan has the wrong type"),
    ({"items": []}, "items is empty; give at least one value"),
    ({"train_copies": []}, "train_copies is empty"),
    ({"train_tasks": ["copy"]}, "train_tasks"),
])
def test_bad_settings_are_one_line_errors(tmp_path, over, match):
    with pytest.raises(ConfigError, match=match) as e:
        run_experiment(EXPERIMENT, over, out_dir=tmp_path / "x", jobs=1, progress=False)
    assert "\n" not in str(e.value)
