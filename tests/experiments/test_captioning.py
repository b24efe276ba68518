"""captioning: a quick run trains both captioners, records attention samples, resumes without work,
re-renders its table from the records alone; bad settings are one-line errors."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sklearn")

from memlab.core.errors import ConfigError  # noqa: E402
from memlab.experiments.captioning import EXPERIMENT, render_table  # noqa: E402
from memlab.experiments.runner import render_experiment, run_experiment  # noqa: E402


def test_quick_run_resumes_and_rerenders(tmp_path):
    out = tmp_path / "cap"
    assert run_experiment(EXPERIMENT, quick=True, out_dir=out, jobs=1, progress=False)["units_run"] == 2
    recs = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]
    assert [r["attention"] for r in recs] == ["soft", "none"]
    assert all(0 <= r["exact_match"] <= 1 and r["steps"] == 3 for r in recs)
    soft = recs[0]["samples"]
    assert len(soft) == 3 and all(len(s["image"]) == 12 for s in soft)
    for s in soft:
        assert all(abs(sum(a) - 1) < 1e-3 for a in s["alpha"])
    table = (out / "README.md").read_text()
    assert "| soft | 12x36 | 2–3 |" in table and (out / "attention.png").stat().st_size > 0
    assert run_experiment(EXPERIMENT, quick=True, out_dir=out, jobs=1, progress=False)["units_run"] == 0
    (out / "README.md").unlink()
    render_experiment(EXPERIMENT, out)
    assert (out / "README.md").read_text() == table == render_table(recs)


@pytest.mark.parametrize("over,match", [({"width": 16}, "too small"), ({"attentions": ["hard"]}, "hard"),
                                        ({"lr": float("nan")}, "lr=nan")])
def test_bad_settings_are_one_line_errors(tmp_path, over, match):
    with pytest.raises(ConfigError, match=match) as e:
        run_experiment(EXPERIMENT, over, out_dir=tmp_path / "x", jobs=1, progress=False)
    assert "\n" not in str(e.value)


def test_table_is_the_median_over_seeds_with_spread():
    recs = [{"kind": "run", "attention": "soft", "seed": s, "canvas": [12, 36], "digits": [2, 3], "n_params": 9,
             "steps": 5, "exact_match": e, "bleu4": b, "train_s": 2.0} for s, (e, b) in enumerate([(0.3, 60.0), (0.1, 40.0)])]
    assert "| soft | 12x36 | 2–3 | 9 | 5 | 2 | 0.200 [0.100–0.300] | 50.0 [40.0–60.0] | 4 |" in render_table(recs)
