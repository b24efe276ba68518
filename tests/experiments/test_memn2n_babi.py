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
    assert res["units_run"] == 8
    recs = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]
    assert {(r["qa"], r["model"]) for r in recs} == {(q, m) for q in ("single-supporting-fact", "path-finding")
                                                     for m in ("memn2n-1hop", "memn2n-3hop", "kv-memn2n-3hop", "lstm")}
    assert all(r["epochs"] == 2 and 0 <= r["accuracy"] <= 1 and r["n_test"] == 20 for r in recs)
    assert all(r["n_fit"] == 36 and r["n_val"] == 4 and len(r["val_loss_curve"]) == 2 for r in recs)
    assert all(r["ls_epochs"] == (0 if r["model"] == "lstm" else 1) for r in recs)  # LS for at most 1 epoch
    hop = [r for r in recs if r["model"] in ("memn2n-3hop", "kv-memn2n-3hop")]
    assert all(len(r["hop_story"]["weights"]) == 3 for r in hop)
    for r in hop:  # each hop's weights over the story's sentences (the rest sits on empty slots)
        assert all(0 < sum(w) <= 1 + 1e-3 and len(w) == len(r["hop_story"]["sentences"]) for w in r["hop_story"]["weights"])
    table = (out / "README.md").read_text()
    assert "| path-finding | 2–4 |" in table and "## 40 training stories" in table
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
    ({"optimizer": "rmsprop"}, "sgd"),
    ({"random_noise": 2}, "random_noise"),
])
def test_bad_settings_are_one_line_errors(tmp_path, over, match):
    with pytest.raises(ConfigError, match=match) as e:
        run_experiment(EXPERIMENT, over, out_dir=tmp_path / "x", jobs=1, progress=False)
    assert "\n" not in str(e.value)


def test_table_is_median_over_seeds_with_spread_per_training_size():
    base = {"kind": "run", "qa": "yes-no", "sentences": [2, 10], "n_params": 5, "epochs": 3, "ls_epochs": 1,
            "train_s": 1.0, "train_cpu_s": 0.5}
    recs = [{**base, "model": "memn2n-1hop", "seed": s, "n_train": 1000, "accuracy": a}
            for s, a in enumerate([0.5, 0.9, 0.6])]
    recs.append({**base, "model": "memn2n-1hop", "seed": 0, "n_train": 10000, "accuracy": 0.75})
    text = render_table(recs)
    assert "| yes-no | 2–10 | 0.600 [0.500–0.900] (3) |" in text
    assert "| yes-no | 2–10 | 0.750 (1) |" in text
    assert text.index("## 1000 training stories") < text.index("## 10000 training stories")
    assert "No 10k-story records" not in text and "No 10k-story records" in render_table(recs[:3])


def test_the_10k_setting_builds_its_training_set():
    """The 10k setting: 10,000 distinct-enough stories come out of the generator, fixed by the seed
    (the full memn2n-babi run at 10k is ``--set n_train=10000``)."""
    from memlab.tasks.babi import Babi

    task = Babi({"qa": "single-supporting-fact", "train_min": 2, "train_max": 10, "test_min": 2, "test_max": 10})
    a = task.dataset("train", 10_000, seed=0)
    assert len(a) == 10_000 and len({tuple(x.tolist()) for x, _ in a}) > 9_000
    assert [x.tolist() for x, _ in a[:50]] == [x.tolist() for x, _ in task.dataset("train", 50, seed=0)]
