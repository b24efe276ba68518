"""lantm-heads: per-run read-head figures agree with the trace they summarise; outcomes, the
summary and bad settings."""

import statistics

import pytest

from memlab.core.errors import ConfigError
from memlab.evaluation import load_run
from memlab.evaluation.trace import lantm_trace_record
from memlab.experiments.lantm_heads import EXPERIMENT, outcome, render
from memlab.experiments.runner import run_experiment
from memlab.training.run import train_run

TINY = {"model": {"hidden": 8, "mem_width": 4, "preset": "reproduce"},
        "task": {"vocab": 4, "train_max": 5, "test_min": 6, "test_max": 7},
        "train": {"max_epochs": 1, "eval_every": 1, "eval_batches": 1}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    train_run("lantm-invnorm", "copy", TINY, seed=0, out=out, name="a", progress=False)
    train_run("lstm", "copy", {"model": {"hidden": 8, "layers": 1, "embed": 4}, "task": TINY["task"],
                               "train": TINY["train"]}, out=out, name="b", progress=False)
    return out


def test_only_lantm_run_folders_are_units(store, tmp_path):
    """Units are the LANTM run folders with the checkpoint; a folder that is no run (no config.json),
    one whose config.json is corrupt, and the LSTM run are skipped."""
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(store, runs)
    (runs / "notes").mkdir()
    shutil.copytree(store / "a", runs / "broken")
    (runs / "broken" / "config.json").write_text("{not json")
    cfg = EXPERIMENT.config_cls(runs=str(runs))
    assert [u.key for u in EXPERIMENT.units(cfg)] == ["a@best"]


def test_records_summarise_the_traced_answer_reads(store, tmp_path):
    """One record per LANTM run folder (the LSTM run is skipped); its medians are those of the
    answer reads of the traced problems, computed here from the trace records themselves."""
    res = run_experiment(EXPERIMENT, {"runs": str(store), "samples": 3}, out_dir=tmp_path / "o", jobs=1, progress=False)
    assert res["units"] == 1 and res["n_records"] == 1
    import json

    rec = json.loads((tmp_path / "o" / "records.jsonl").read_text().splitlines()[0])
    assert rec["run_id"] == "a" and rec["length"] == 5 and rec["samples"] == 3 and rec["checkpoint"].startswith("best.pt@")
    run = load_run(store / "a")
    traces = [lantm_trace_record(run, 5, s) for s in range(3)]
    gates = [g for t in traces for g in t["gates"]["read key"][t["eoi"] - t["read_offset"]:][: len(t["reads"])]]
    dists = [d for t in traces for d in t["read_distance"]]
    steps = [((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5 for t in traces for a, b in zip(t["reads"], t["reads"][1:])]
    assert rec["g_answer"] == pytest.approx(statistics.median(gates))
    assert rec["distance"] == pytest.approx(statistics.median(dists))
    assert rec["step_answer"] == pytest.approx(statistics.median(steps))
    assert rec["answer_reads"] == len(dists) == sum(len(t["reads"]) for t in traces)
    assert rec["samples_right"] == sum(t["symbols_wrong"] == 0 for t in traces) / 3
    assert rec["at_slot0"] == sum(j == 0 for t in traces for j in t["read_slot"]) / len(dists)
    summary = (tmp_path / "o" / "SUMMARY.md").read_text()
    assert "| a | lantm-invnorm | copy | 0 |" in summary and (tmp_path / "o" / "heads.png").is_file()
    again = run_experiment(EXPERIMENT, {"runs": str(store), "samples": 3}, out_dir=tmp_path / "o", jobs=1, progress=False)
    assert again["units_run"] == 0  # resumed: nothing retraced
    import shutil

    other = tmp_path / "other"  # another store (a run of the same name) into the same folder: refused
    shutil.copytree(store / "a", other / "a")
    with pytest.raises(ConfigError, match="config"):
        run_experiment(EXPERIMENT, {"runs": str(other), "samples": 3}, out_dir=tmp_path / "o", jobs=1, progress=False)


def test_outcomes_split_failed_runs_by_the_read_key_gate():
    base = {"run_id": "r", "model": "lantm-invnorm", "task": "copy", "seed": 0, "checkpoint": "best.pt@1", "samples": 8,
            "step_answer": 1.0, "distance": 0.1, "at_slot0": 0.0}
    learned = {**base, "samples_right": 0.9, "g_answer": 0.9}
    parked = {**base, "run_id": "p", "samples_right": 0.0, "g_answer": 0.5}
    walking = {**base, "run_id": "w", "samples_right": 0.5, "g_answer": 0.1}
    assert [outcome(r, 0.9, 0.3) for r in (learned, parked, walking)] == ["learned", "failed, gate open", "failed, gate shut"]
    text = render([learned, parked, walking], 0.9, 0.3, "best")
    assert "| learned | 1 | 0.900 |" in text and "| failed, gate open | 1 | 0.500 |" in text and "| failed, gate shut | 1 | 0.100 |" in text


@pytest.mark.parametrize("bad,match", [
    ({"runs": "/no/such/folder"}, r"runs='/no/such/folder' is not a folder"),
    ({"samples": 0}, r"samples=0 is out of range"),
    ({"checkpoint": "first"}, r"checkpoint='first' is not allowed"),
    ({"models": ["lstm"]}, r"models='lstm' is not allowed"),
    ({"select": ["../x"]}, r"select='../x' is not a run folder name"),
])
def test_bad_settings_are_one_line_errors(tmp_path, bad, match):
    with pytest.raises(ConfigError, match=match):
        run_experiment(EXPERIMENT, {"runs": str(tmp_path), **bad}, out_dir=tmp_path / "o", jobs=1, progress=False)
