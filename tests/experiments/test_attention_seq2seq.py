"""attention-seq2seq: a quick run trains each unit through the shared trainer, records attention
maps that are distributions over the real input, resumes without work and re-renders from records."""

from __future__ import annotations

import json

import pytest

from memlab.core.errors import ConfigError
from memlab.experiments.attention_seq2seq import EXPERIMENT, render_table
from memlab.experiments.runner import render_experiment, run_experiment


def test_quick_run_resumes_and_rerenders(tmp_path):
    out = tmp_path / "att"
    res = run_experiment(EXPERIMENT, quick=True, out_dir=out, jobs=1, progress=False)
    assert res["units_run"] == 2
    recs = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]
    assert [r["attention"] for r in recs] == ["additive", "none"]
    for r in recs:
        assert set(r["scores"]) == {"1", "2", "4"} and r["steps"] == 20
        ex = r["example"]
        assert len(ex["alpha"]) == len(ex["target"])  # one row per answer step (answer + <e>)
        assert all(abs(sum(row) - 1) < 1e-3 and len(row) == len(ex["input"]) for row in ex["alpha"])
    table = (out / "README.md").read_text()
    assert "| reverse | additive |" in table and (out / "attention.png").stat().st_size > 0
    assert run_experiment(EXPERIMENT, quick=True, out_dir=out, jobs=1, progress=False)["units_run"] == 0
    (out / "README.md").unlink()
    render_experiment(EXPERIMENT, out)
    assert (out / "README.md").read_text() == table == render_table(recs)


@pytest.mark.parametrize("over,match", [
    ({"attentions": ["cosine"]}, "cosine"),
    ({"lr": float("inf")}, "lr=inf"),
    ({"scales": [0]}, "scales"),
    ({"tasks": ["addition"]}, "addition"),
])
def test_bad_settings_are_one_line_errors(tmp_path, over, match):
    with pytest.raises(ConfigError, match=match) as e:
        run_experiment(EXPERIMENT, over, out_dir=tmp_path / "x", jobs=1, progress=False)
    assert "\n" not in str(e.value)


def test_table_is_the_median_over_seeds_with_spread():
    recs = [{"kind": "run", "task": "copy", "attention": "dot", "seed": s, "n_params": 7, "steps": 10, "train_s": 1.0,
             "length": 10, "scores": {"1": {"coarse": c, "fine": f}}}
            for s, (c, f) in enumerate([(0.2, 0.5), (0.9, 0.95), (0.4, 0.7)])]
    assert "| copy | dot | 7 | 3 | 0.400 [0.200–0.900] (0.700) | 10 | 3 |" in render_table(recs)
