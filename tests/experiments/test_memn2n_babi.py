"""memn2n-babi: a quick run trains every (family, model) unit, resumes without work, re-renders
its table from the records alone and draws both figures; bad settings are one-line errors."""

from __future__ import annotations

import json

import pytest

from memlab.core.errors import ConfigError
from memlab.experiments.memn2n_babi import EXPERIMENT, Memn2nBabiConfig, lengths_for, render_table
from memlab.experiments.runner import render_experiment, run_experiment


def test_quick_run_resumes_and_rerenders(tmp_path):
    out = tmp_path / "mb"
    res = run_experiment(EXPERIMENT, quick=True, out_dir=out, jobs=1, progress=False)
    assert res["units_run"] == 6
    recs = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]
    assert {(r["qa"], r["model"]) for r in recs} == {(q, m) for q in ("single-supporting-fact", "path-finding")
                                                     for m in ("memn2n-1hop", "memn2n-3hop", "lstm")}
    assert all(r["epochs"] == 2 and 0 <= r["accuracy"] <= 1 and r["n_test"] == 20 for r in recs)
    hop = [r for r in recs if r["model"] == "memn2n-3hop"]
    assert all(len(r["hop_story"]["weights"]) == 3 for r in hop)
    for r in hop:  # each hop's weights are a distribution over the story's sentences
        assert all(abs(sum(w) - 1) < 1e-3 and len(w) == len(r["hop_story"]["sentences"]) for w in r["hop_story"]["weights"])
    table = (out / "README.md").read_text()
    assert "| path-finding | 2–4 |" in table
    assert (out / "accuracy.png").stat().st_size > 0 and (out / "hops.png").stat().st_size > 0
    assert run_experiment(EXPERIMENT, quick=True, out_dir=out, jobs=1, progress=False)["units_run"] == 0
    (out / "README.md").unlink()
    render_experiment(EXPERIMENT, out)
    assert (out / "README.md").read_text() == table == render_table(recs)


def test_lengths_are_clipped_to_what_the_world_allows():
    cfg = Memn2nBabiConfig(sentences_min=2, sentences_max=10)
    assert lengths_for("positional-reasoning", cfg) == (2, 4)
    assert lengths_for("three-supporting-facts", cfg) == (3, 10)


@pytest.mark.parametrize("over,match", [
    ({"qas": ["telepathy"]}, "telepathy"),
    ({"lr": float("nan")}, "lr=nan"),
    ({"models": ["gru"]}, "gru"),
    ({"sentences_max": 1, "sentences_min": 3}, "sentences_max"),
    ({"linear_start": 99, "epochs": 5}, "linear_start"),
])
def test_bad_settings_are_one_line_errors(tmp_path, over, match):
    with pytest.raises(ConfigError, match=match) as e:
        run_experiment(EXPERIMENT, over, out_dir=tmp_path / "x", jobs=1, progress=False)
    assert "\n" not in str(e.value)
