"""automata-suite and transduction experiments: --quick runs end to end (records per length with
the automaton class and training cost, SUMMARY.md, figure), resume without work, re-render the
same summary from records; the summary's arithmetic on hand-made records; bad settings are
one-line errors."""

from __future__ import annotations

import math

import pytest

from memlab.core.errors import ConfigError
from memlab.core.io import read_jsonl
from memlab.experiments import get_experiment
from memlab.experiments.runner import render_experiment, run_experiment


@pytest.mark.parametrize("name", ["automata-suite", "transduction"])
def test_quick_runs_resumes_and_rerenders(tmp_path, name):
    exp = get_experiment(name)
    out, store = tmp_path / "out", tmp_path / "runs"
    res = run_experiment(exp, quick=True, out_dir=out, store=store, jobs=1, progress=False)
    assert res["units_run"] == res["units"] == (2 if name == "transduction" else 4)
    files = [p.name for p in exp.records_paths(out)]
    assert files == (["records.jsonl"] if name == "transduction" else ["records-lstm.jsonl", "records-stack.jsonl"])
    recs = [r for p in exp.records_paths(out) for r in read_jsonl(p)]
    assert recs and all(r["automaton"] and r["model"] in ("lstm", "stack") and 0 <= r["fine"] <= 1 for r in recs)
    assert all(r["stop_reason"] and r["epochs"] == 2 and r["train_elapsed_s"] is not None for r in recs)
    if name == "automata-suite":
        lengths = sorted({r["length"] for r in recs if r["task"] == "parity"})
        assert lengths == [1, 2, 3, 4, 7] and {r["automaton"] for r in recs} == {"regular", "dcf"}
    else:
        assert {r["length"] for r in recs} >= {"2-4", "5-8", 2, 5, 8}
    summary = (out / "SUMMARY.md").read_text()
    assert (out / "accuracy_vs_length.png").stat().st_size > 1000
    again = run_experiment(exp, quick=True, out_dir=out, store=store, jobs=1, progress=False)
    assert again["units_run"] == 0 and (out / "SUMMARY.md").read_text() == summary
    (out / "SUMMARY.md").unlink()
    render_experiment(exp, out)
    assert (out / "SUMMARY.md").read_text() == summary


def _rec(model, task, seed, length, fine, coarse, automaton):
    return {"model": model, "task": task, "seed": seed, "length": length, "fine": fine, "coarse": coarse,
            "automaton": automaton, "train_elapsed_s": 10.0}


def test_suite_summary_by_class_on_hand_made_records():
    from memlab.experiments.automata_suite import AutomataSuiteConfig, best_over_seeds, cell_scores, render_summary

    recs = [_rec("stack", "reverse-string", 0, 10, 1.0, 1.0, "dcf"), _rec("stack", "reverse-string", 0, 50, 0.5, 0.0, "dcf"),
            _rec("stack", "reverse-string", 1, 10, 1.0, 1.0, "dcf"), _rec("stack", "reverse-string", 1, 50, 0.9, 0.5, "dcf"),
            _rec("stack", "dyck", 0, 50, 0.7, 0.7, "dcf"), _rec("lstm", "parity", 0, 60, 0.5, 0.5, "regular")]
    scores = cell_scores(recs, train_max=40)
    assert scores[("stack", "reverse-string", 1)]["ood_fine"] == 0.9 and scores[("stack", "reverse-string", 1)]["id_fine"] == 1.0
    assert math.isnan(scores[("stack", "dyck", 0)]["id_fine"])
    best = best_over_seeds(scores)
    assert best[("stack", "reverse-string")]["ood_coarse"] == 0.5 and best[("stack", "reverse-string")]["seeds"] == 2
    md = render_summary(AutomataSuiteConfig(models=("lstm", "stack"), tasks=("parity",), seeds=(0,)), recs)
    assert "| stack | – | 80.0 / 60.0 (2) |" in md  # dcf: mean of 0.9 (reverse-string, best seed) and 0.7 (dyck)
    assert "| lstm | 50.0 / 50.0 (1) | – |" in md
    assert "| dcf | reverse-string | stack | 2 | 100.0 (1) | 90.0 | 50.0 |" in md  # in-dist: 1 length scored
    assert scores[("stack", "dyck", 0)]["id_n"] == 0
    # the median over seeds with the spread: reverse-string's two seeds score 0.5 and 0.9 beyond 40
    assert best[("stack", "reverse-string")]["ood_fine_median"] == pytest.approx(0.7)
    assert "| dcf | reverse-string | stack | 2 | 100.0 (1) | 90.0 | 50.0 | 70.0 [50.0–90.0] | 25.0 [0.0–50.0] | 10 |" in md
    assert "| dcf | dyck | stack | 1 | – (0) | 70.0 | 70.0 | 70.0 | 70.0 | 10 |" in md
    assert "| stack | – | 70.0 / 47.5 (2; 1 seed) |" in md  # median seed: mean of 0.7 (reverse-string) and 0.7 (dyck)


def test_summary_shows_every_model_with_records_whatever_the_last_invocation_named():
    """One model per invocation into one folder (the meta file keeps the last invocation's settings):
    the tables still show every model that has records, the config's first, then the suite's order."""
    from memlab.experiments.automata_suite import AutomataSuiteConfig, render_summary

    recs = [_rec(m, "reverse-string", 0, 50, 0.5, 0.0, "dcf") for m in ("stack", "lstm", "stack-rnn")]
    md = render_summary(AutomataSuiteConfig(models=("stack-rnn",), tasks=("reverse-string",), seeds=(0,)), recs)
    rows = [l.split(" | ")[0] for l in md.splitlines() if l.startswith(("| lstm ", "| stack", "| dcf"))]
    assert rows[:3] == ["| stack-rnn", "| lstm", "| stack"], rows
    assert all(f"| dcf | reverse-string | {m} |" in md for m in ("stack", "lstm", "stack-rnn"))


def test_eval_lengths_cover_every_training_length_whatever_the_stride():
    """A stride of 50 once scored only length 1 in distribution; every length <= train_max is scored."""
    from memlab.experiments.automata_suite import AutomataSuiteConfig, eval_lengths
    from memlab.tasks import make_task

    cfg = AutomataSuiteConfig(train_max=40, eval_max=500, eval_stride=50)
    ls = eval_lengths(cfg, make_task("parity", {}))
    assert ls == [*range(1, 41), 51, 101, 151, 201, 251, 301, 351, 401, 451, 500]
    small = AutomataSuiteConfig(train_max=40, eval_max=7, eval_stride=3)
    assert eval_lengths(small, make_task("parity", {})) == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("name,over,match", [
    ("automata-suite", {"max_time": float("nan")}, "max_time"),
    ("automata-suite", {"max_time": float("inf")}, "max_time"),
    ("automata-suite", {"models": ("nope",)}, "unknown model"),
    ("automata-suite", {"tasks": ("nope",)}, "unknown task"),
    ("automata-suite", {"eval_max": 0}, "eval_max"),
    ("automata-suite", {"lr": 0}, "lr"),
    ("transduction", {"cells": ("stack-reverse",)}, "MODEL:TASK"),
    ("transduction", {"test_max": 10}, "test_max"),
    ("transduction", {"size": float("nan")}, "size"),
])
def test_bad_settings_are_one_line_errors(tmp_path, name, over, match):
    with pytest.raises(ConfigError, match=match) as e:
        run_experiment(get_experiment(name), over, out_dir=tmp_path, store=tmp_path / "runs", progress=False)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name,folder", [("automata-suite", "results/automata/small"),
                                         ("transduction", "results/transduction/small")])
def test_committed_small_runs_rerender(name, folder, tmp_path):
    """The committed small real runs re-render their SUMMARY.md from their records, byte for byte."""
    import shutil
    from pathlib import Path

    committed = Path(__file__).resolve().parents[2] / folder
    assert get_experiment(name).records_paths(committed), f"no committed records at {folder}"
    for p in committed.iterdir():
        if p.is_file() and p.suffix not in (".md", ".png"):
            shutil.copy2(p, tmp_path / p.name)
    render_experiment(get_experiment(name), tmp_path, plots=False)
    assert (tmp_path / "SUMMARY.md").read_bytes() == (committed / "SUMMARY.md").read_bytes()


def test_eval_model_scores_the_same_trained_run_with_other_model_settings(tmp_path):
    """``eval_model`` applies model settings when the checkpoint is loaded for scoring only: the
    second folder reuses the first one's trained run (same run folder, no new training) and its
    records say which settings they were scored with; the two configs hash apart."""
    exp = get_experiment("automata-suite")
    store = tmp_path / "runs"
    over = ["models=stack-rnn", "tasks=reverse-string", "model.depth=6"]
    soft = run_experiment(exp, over, quick=True, out_dir=tmp_path / "soft", store=store, jobs=1, progress=False)
    runs = sorted(p.name for p in store.iterdir() if p.is_dir())
    mtime = (store / runs[0] / "summary.json").stat().st_mtime_ns
    hard = run_experiment(exp, over + ["eval_model.eval_actions=hard", "eval_model.depth=12"], quick=True,
                          out_dir=tmp_path / "hard", store=store, jobs=1, progress=False)
    assert sorted(p.name for p in store.iterdir() if p.is_dir()) == runs and len(runs) == 1
    assert (store / runs[0] / "summary.json").stat().st_mtime_ns == mtime  # not trained again
    assert hard["config_hash"] != soft["config_hash"]
    recs = [r for p in exp.records_paths(tmp_path / "hard") for r in read_jsonl(p)]
    assert recs and all(r["eval_model"] == {"eval_actions": "hard", "depth": 12} for r in recs)
    assert all("eval_model" not in r for p in exp.records_paths(tmp_path / "soft") for r in read_jsonl(p))
    assert {r["run_id"] for r in recs} == set(runs)
    with pytest.raises(ConfigError, match="eval_actions"):
        run_experiment(exp, over + ["eval_model.eval_actions=always"], quick=True, out_dir=tmp_path / "bad",
                       store=store, jobs=1, progress=False)


@pytest.mark.parametrize("setting,match", [("eval_model.eval_actions=hard", "unknown key eval_model.eval_actions"),
                                           ("model.depth=8", "unknown key model.depth"),
                                           ("model.hidden=0", "model.hidden"),
                                           ("eval_model.hidden=0", r"^eval_model\.hidden=0 is out of range")])
def test_model_settings_a_model_does_not_take_fail_before_any_training(tmp_path, setting, match):
    exp = get_experiment("automata-suite")
    with pytest.raises(ConfigError, match=match) as e:
        run_experiment(exp, ["models=lstm", "tasks=parity", setting], quick=True, out_dir=tmp_path / "out",
                       store=tmp_path / "runs", jobs=1, progress=False)
    assert "\n" not in str(e.value) and not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()
