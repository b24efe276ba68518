"""lantm-tables: one run per (model, task, seed) cell, evaluated at its scales; tables with the
median over seeds and the worst/best seed beside the paper's numbers."""

from __future__ import annotations

import json

import pytest

from memlab.cli import main
from memlab.experiments.lantm_tables import EXPERIMENT, eval_scales, render_tables


def rec(seed, coarse, fine, scale=1, task="copy", model="lantm-invnorm", **kw):
    lengths = {1: [2, 64], 2: [65, 128], 4: [193, 256]}[scale]
    return {"model": model, "task": task, "scale": scale, "seed": seed, "coarse": coarse, "fine": fine,
            "lengths": lengths, **kw}


def test_one_seed_shows_its_numbers():
    md = render_tables([rec(0, 0.5, 0.75, epochs=3, train_elapsed_s=600.0), rec(0, 0.25, 0.875, scale=4)])
    assert "| copy | lantm-invnorm | unrecorded | 1 | 50.0% | 75.0% |  |  | 100% | 100% | 100% | 100% | 3 | 10 min |" in md
    assert "| copy | 4x | unrecorded | 193–256 | 1 | 25.0% | 87.5% | 100% | 100% |" in md
    assert "| copy | lstm |  |  |  |  |  |  | 58% | 97% | 0% | 52% |  |  |" in md  # not run: blank


def test_rows_never_pool_checkpoint_rules():
    """One run scored at its best, its last and its per-scale checkpoints gives three rows, each
    seed's newest record within its rule; records from before the setting count as best."""
    u = "lantm-invnorm-copy-s0@reproduce"
    recs = [rec(0, 1.0, 1.0, scale=4, reading="reproduce", unit=u),
            rec(0, 0.25, 0.5, scale=4, reading="reproduce", unit=u + "+continue@1000+eval@last"),
            rec(0, 0.75, 0.9, scale=4, reading="reproduce", unit=u + "+eval@per-scale"),
            rec(1, 0.5, 0.5, scale=4, reading="reproduce")]  # no unit: scored at best
    md = render_tables(recs)
    assert "| copy | 4x | reproduce | 193–256 | 2 | 75.0% [50.0%–100.0%] |" in md
    assert "| copy | 4x | reproduce @last | 193–256 | 1 | 25.0% | 50.0% |" in md
    assert "| copy | 4x | reproduce @best-per-scale | 193–256 | 1 | 75.0% | 90.0% |" in md


def test_seeds_give_the_median_and_the_worst_and_best():
    recs = [rec(0, 0.2, 0.5, epochs=100, train_elapsed_s=60.0), rec(1, 1.0, 1.0, epochs=300, train_elapsed_s=180.0),
            rec(2, 0.6, 0.9, epochs=200, train_elapsed_s=120.0),
            rec(1, 0.1, 0.1, scale=2), rec(1, 0.3, 0.4, scale=2)]  # seed 1's newest 2x record counts
    md = render_tables(recs)
    assert ("| copy | lantm-invnorm | unrecorded | 3 | 60.0% [20.0%–100.0%] | 90.0% [50.0%–100.0%] | 30.0% | 40.0% | "
            "100% | 100% | 100% | 100% | 200 | 2 min |") in md


def test_units_and_old_records():
    cfg = EXPERIMENT.config_cls(tasks=("copy", "reverse"), models=("lstm",), seeds=(0, 1))
    assert [u.key for u in EXPERIMENT.units(cfg)] == ["lstm-copy-s0@paper", "lstm-copy-s1@paper",
                                                       "lstm-reverse-s0@paper", "lstm-reverse-s1@paper"]
    assert EXPERIMENT.unit_key({"run_id": "lantm-invnorm-copy-s1", "scale": 1}) == "lantm-invnorm-copy-s1"
    again = EXPERIMENT.config_cls(tasks=("copy",), models=("lstm",), continue_done=True, max_epochs=50)
    assert [u.key for u in EXPERIMENT.units(again)] == ["lstm-copy-s0@paper+continue@50"]
    last = EXPERIMENT.config_cls(tasks=("copy",), models=("lstm",), continue_done=True, max_epochs=50, checkpoint="last")
    assert [u.key for u in EXPERIMENT.units(last)] == ["lstm-copy-s0@paper+continue@50+eval@last"]
    per = EXPERIMENT.config_cls(tasks=("copy",), models=("lstm",), checkpoint="per-scale")
    assert [u.key for u in EXPERIMENT.units(per)] == ["lstm-copy-s0@paper+eval@per-scale"]
    assert eval_scales("lantm-invnorm", "copy") == [1, 2, 4, 5] and eval_scales("lstm", "copy") == [1, 2]


def test_quick_sizes_resolve_for_every_model():
    """--quick's sizes apply to every model and task of the tables (a LANTM takes no ``model.layers``,
    addition no ``task.vocab``)."""
    from memlab.experiments.lantm_tables import MODELS, TASKS
    from memlab.experiments.runner import resolve_config

    cfg, _ = resolve_config(EXPERIMENT, [f"models={','.join(MODELS)}", f"tasks={','.join(TASKS)}"], quick=True)
    units = EXPERIMENT.units(cfg)  # resolves every cell's settings; raises on a key a model does not take
    assert {u.params["model"] for u in units} == set(MODELS) and len(units) == len(TASKS) * len(MODELS)


def test_quick_run_trains_evaluates_and_resumes(tmp_path, capsys):
    argv = ["run", "lantm-tables", "--quick", "--out", str(tmp_path / "res"), "--store", str(tmp_path / "runs"),
            "--jobs", "1", "--no-progress", "--json"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["units_run"] == 1 and res["cells"] == 1
    rows = [json.loads(l) for l in (tmp_path / "res" / "records-copy.jsonl").read_text().splitlines()]
    reading = "paper+model.embed=4+model.hidden=16+task.test_max=3+task.test_min=2+task.train_max=3"
    assert [r["scale"] for r in rows] == [1, 2] and all(r["unit"] == f"lstm-copy-s0@{reading}" for r in rows)
    assert rows[0]["epochs"] == 2 and rows[0]["model_cfg"]["hidden"] == 16 and rows[0]["train"]["max_epochs"] == 2
    # everything needed to rerun the cell: reading, settings, seed, commits, cost, the checkpoint evaluated
    assert rows[0]["reading"] == reading and rows[0]["seed"] == 0 and rows[0]["task_cfg"]["train_max"] == 3
    assert rows[0]["run_commit"] and rows[0]["commit"] and (not rows[0].get("dirty") or rows[0]["diff_sha256"])
    assert rows[0]["checkpoint"].endswith(f"@{rows[0]['checkpoint_epoch']}") and rows[0]["checkpoint_train_s"] >= 0
    assert rows[0]["checkpoint_sequences_seen"] == rows[0]["checkpoint_epoch"] * 10 * 32
    assert (tmp_path / "runs" / f"lstm-copy-s0-{reading}" / "checkpoints").is_dir()
    assert f"| copy | lstm | {reading} | 1 |" in (tmp_path / "res" / "tables.md").read_text()
    assert main(argv) == 0  # resumed: nothing left to run
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["units_run"] == 0
    # trained on (continue_done) and scored at its last checkpoint: records say which one
    assert main(argv + ["--set", "continue_done=true", "max_epochs=3", "checkpoint=last"]) == 0
    rows = [json.loads(l) for l in (tmp_path / "res" / "records-copy.jsonl").read_text().splitlines()]
    again = [r for r in rows if r["unit"].endswith("+continue@3+eval@last")]
    assert [r["scale"] for r in again] == [1, 2] and all(r["checkpoint"] == "last.pt@3" for r in again)
    assert again[0]["epochs"] == 3 and again[0]["run_id"] == rows[0]["run_id"]
    # seed 004's "best test scores": each scale at its own best periodic test (train.track_scales)
    assert main(argv + ["--set", "continue_done=true", "max_epochs=4", "checkpoint=per-scale",
                        "train.track_scales=2"]) == 0
    rows = [json.loads(l) for l in (tmp_path / "res" / "records-copy.jsonl").read_text().splitlines()]
    per = {r["scale"]: r for r in rows if r["unit"].endswith("+continue@4+eval@per-scale")}
    kept = json.loads((tmp_path / "runs" / rows[0]["run_id"] / "summary.json").read_text())["best_track"]
    assert per[2]["checkpoint"] == f"best2x.pt@{kept['2']['epoch']}" and kept["2"]["epoch"] in (3, 4)
    assert per[1]["checkpoint"].startswith("best.pt@") and per[1]["run_id"] == rows[0]["run_id"]
    assert per[2]["checkpoint_epoch"] == kept["2"]["epoch"]
    capsys.readouterr()
    assert main(argv + ["--set", "checkpoint=first"]) == 2
    assert "checkpoint" in capsys.readouterr().err
    # an unknown task is a one-line error naming the allowed ones
    assert main(["run", "lantm-tables", "--set", "tasks=copy,nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "bigramFlip" in err and len(err.strip().splitlines()) == 1


def test_readings_are_separate_rows_and_units():
    """Cells of another reading (preset or setting) never pool with, or count as done for, the default's."""
    cfg = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm", "lstm"), model={"preset": "reproduce"},
                                seeds=(0,))
    assert [u.key for u in EXPERIMENT.units(cfg)] == ["lantm-invnorm-copy-s0@reproduce", "lstm-copy-s0@paper"]
    text = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm", "lstm"), model={"preset": "paper-text"},
                                 train={"lr": 0.001, "max_epochs": 9})
    assert [u.key for u in EXPERIMENT.units(text)] == ["lantm-invnorm-copy-s0@paper-text+train.lr=0.001",
                                                        "lstm-copy-s0@paper+train.lr=0.001"]  # budget keys: no reading
    assert "lantm-invnorm-copy-s0" not in {u.key for u in EXPERIMENT.units(cfg)}  # old records' key
    s = {"model_cfg": {"preset": "reproduce"}, "train": {"lr": 0.01}, "task_cfg": {}}
    recs = [rec(0, 0.5, 0.5, reading="reproduce", **s), rec(0, 0.0, 0.1),  # an old record
            rec(1, 1.0, 1.0, reading="reproduce", **s),
            rec(0, 0.25, 0.25, reading="paper-text", model_cfg={"preset": "paper-text"}, train={"lr": 0.002})]
    md = render_tables(recs)
    assert "| copy | lantm-invnorm | reproduce | 2 | 75.0% [50.0%–100.0%] |" in md
    assert "| copy | lantm-invnorm | paper-text | 1 | 25.0% |" in md
    assert "| copy | lantm-invnorm | unrecorded | 1 | 0.0% |" in md
    # another task's cells in the same reading have other settings (sizes): no split
    bf = rec(0, 0.5, 0.5, task="bigramFlip", reading="reproduce", model_cfg={"preset": "reproduce", "hidden": 100},
             train={"lr": 0.01}, task_cfg={"train_max": 32})
    assert "| bigramFlip | lantm-invnorm | reproduce | 1 | 50.0% |" in render_tables(recs + [bf])
    # one reading label over different resolved settings (a default changed) is split, not pooled
    other = rec(2, 0.0, 0.0, reading="reproduce", model_cfg={"preset": "reproduce"}, train={"lr": 0.02}, task_cfg={})
    md = render_tables(recs + [other])
    assert "| copy | lantm-invnorm | reproduce [" in md and "| 2 | 75.0% [50.0%–100.0%] |" in md


def test_settings_added_later_at_their_neutral_value_keep_the_reading():
    """A record written before ``train.log`` or the epoch-wise decay existed and one written after,
    with the same training, are one reading; a decay schedule actually set is another."""
    old = rec(0, 1.0, 1.0, reading="reproduce", model_cfg={"preset": "reproduce"}, train={"lr": 0.01}, task_cfg={})
    new = rec(1, 0.5, 0.5, reading="reproduce", model_cfg={"preset": "reproduce"}, task_cfg={},
              train={"lr": 0.01, "log": "none", "lr_decay_every": 0, "lr_decay_after": 0, "select_scale": 0})
    assert "| copy | lantm-invnorm | reproduce | 2 | 75.0% [50.0%–100.0%] |" in render_tables([old, new])
    decayed = rec(1, 0.5, 0.5, reading="reproduce", model_cfg={"preset": "reproduce"}, task_cfg={},
                  train={"lr": 0.01, "lr_decay": 0.99, "lr_decay_every": 2, "lr_decay_after": 300})
    assert "| copy | lantm-invnorm | reproduce [" in render_tables([old, decayed])
    both = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm", "lstm"), model={"preset": "released"})
    assert [u.key for u in EXPERIMENT.units(both)] == ["lantm-invnorm-copy-s0@released", "lstm-copy-s0@released"]
    code = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm", "lstm"), model={"preset": "paper-code"})
    assert [u.key for u in EXPERIMENT.units(code)] == ["lantm-invnorm-copy-s0@paper-code", "lstm-copy-s0@paper"]
    later = rec(1, 0.5, 0.5, reading="reproduce", task_cfg={}, train={"lr": 0.01},
                model_cfg={"preset": "reproduce", "init_step": "free", "init_magnitude": 0.0, "init_slot_strength": "one"})
    assert "| copy | lantm-invnorm | reproduce | 2 |" in render_tables([old, later])  # model keys added later, neutral
    other = rec(1, 0.5, 0.5, reading="reproduce", task_cfg={}, train={"lr": 0.01},
                model_cfg={"preset": "reproduce", "init_slot_strength": "learned"})
    assert "| copy | lantm-invnorm | reproduce [" in render_tables([old, other])
    cfg2 = EXPERIMENT.config_cls(tasks=("copy",), models=("lantm-invnorm",), train={"select_scale": 1},
                                 model={"preset": "reproduce"})
    assert [u.key for u in EXPERIMENT.units(cfg2)] == ["lantm-invnorm-copy-s0@reproduce+train.select_scale=1"]
    cfg = EXPERIMENT.config_cls(tasks=("reverse",), models=("lantm-invnorm",), model={"preset": "reproduce"},
                                train={"lr_decay": 0.99, "lr_decay_every": 2, "lr_decay_after": 300, "log": "tensorboard"})
    assert [u.key for u in EXPERIMENT.units(cfg)] == [
        "lantm-invnorm-reverse-s0@reproduce+train.lr_decay=0.99+train.lr_decay_after=300+train.lr_decay_every=2"]


def test_disagreements_list_the_best_run_and_every_reading_tried():
    """A cell is noted when its best seed over all readings is > 5 points under the paper; a cell
    that reaches the paper (or beats it, like an LSTM's 2x) is not."""
    recs = [rec(0, 0.2, 0.5, scale=2, reading="reproduce", model_cfg={}, train={}),
            rec(1, 0.3, 0.6, scale=2, reading="reproduce", model_cfg={}, train={}),
            rec(0, 0.1, 0.4, scale=2, reading="paper-code", model_cfg={"preset": "paper-code"}, train={}),
            rec(0, 0.999, 1.0, scale=1, reading="reproduce", model_cfg={}, train={}),
            rec(0, 0.4, 0.9, scale=2, model="lstm", reading="paper", model_cfg={}, train={})]
    md = render_tables(recs)
    assert "## Where we disagree with the paper" in md
    assert "| copy | lantm-invnorm | 2x | 100% | 30.0% | reproduce, seed 1 | paper-code (1 seed), reproduce (2 seeds) |" in md
    assert "| copy | lantm-invnorm | 1x |" not in md and "| copy | lstm |" not in md.split("disagree")[1]
    assert "Where we disagree" not in render_tables([rec(0, 1.0, 1.0, reading="reproduce", model_cfg={}, train={})])


def test_an_unknown_preset_is_an_error_even_when_only_the_lstm_runs():
    from memlab.core.errors import ConfigError

    with pytest.raises(ConfigError, match="model.preset='bogus' is not allowed; choose one of paper-text"):
        EXPERIMENT.config_cls(tasks=("copy",), models=("lstm",), model={"preset": "bogus"}).validate()
    EXPERIMENT.config_cls(tasks=("copy",), models=("lstm",), model={"preset": "paper"}).validate()


def test_neutral_settings_cover_every_key_added_since_the_first_recorded_reading():
    """A setting added after records existed must be listed in ``_NEUTRAL_MODEL``/``_NEUTRAL_TRAIN``
    at its default (or be a budget/compute key): otherwise records written before it and after it
    split one reading into two rows. The oldest committed LANTM record with settings is the baseline."""
    import dataclasses
    from pathlib import Path

    from memlab.experiments import lantm_tables as lt
    from memlab.models.lantm import LANTMConfig
    from memlab.training.config import TrainConfig

    folder = Path(__file__).resolve().parents[2] / "results" / "lantm"
    recs = [json.loads(line) for path in lt.EXPERIMENT.records_paths(folder)
            for line in path.read_text().splitlines() if line.strip()]
    recorded = sorted((r for r in recs if r.get("model_cfg") and str(r.get("model", "")).startswith("lantm")),
                      key=lambda r: r["time"])
    assert recorded, "no LANTM record with settings in results/lantm/records-*.jsonl"
    first = recorded[0]
    for cls, old_keys, neutral, exempt in (
            (LANTMConfig, set(first["model_cfg"]), lt._NEUTRAL_MODEL, set(lt._NOT_READING) | {"preset"}),
            (TrainConfig, set(first["train"]), lt._NEUTRAL_TRAIN, set(lt._BUDGET))):
        cfg = cls()
        if hasattr(cfg, "validate"):
            cfg.validate()  # resolved: a None field takes the default preset's value, as in the records
        defaults = dataclasses.asdict(cfg)
        added = set(defaults) - old_keys - exempt
        assert added <= set(neutral), f"{cls.__name__}: {sorted(added - set(neutral))} added without a neutral value"
        for k, v in neutral.items():
            assert k in defaults and defaults[k] == v, f"{cls.__name__}.{k}: neutral {v!r} != default {defaults.get(k)!r}"


# --------------------------------------------------------------------------- the leaderboard's LSTM cells
def lb_rec(seed, c1, f1, c2, f2, task="copy", budget=10.0, status="timeout", epochs=4, wall=12.0, model="lstm", **kw):
    """A leaderboard record (its schema, the fields Table 3 reads and a few more)."""
    scores = [{"scale": 1, "length": None, "lo": 2, "hi": 64, "fine": f1, "coarse": c1, "n_sequences": 8},
              {"scale": 2, "length": None, "lo": 65, "hi": 128, "fine": f2, "coarse": c2, "n_sequences": 8}]
    return {"unit": f"{model}/{task}/s{seed}", "model": model, "task": task, "seed": seed, "status": status,
            "scores": scores, "epochs": epochs, "train_wall_s": wall, "budget_s": budget, "config_hash": "abc",
            "commit": "239b82704bb7", "time": f"2026-12-02T21:37:3{seed}+00:00", **kw}


def write_leaderboard(folder, recs, config=None, chash="abc"):
    """A leaderboard output folder: records.jsonl and leaderboard.meta.json (its saved config)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    if config is not False:
        cfg = {"size": 0, "model": {}, "task": {}, "train": {}, "budget_s": recs[0].get("budget_s"), **(config or {})}
        (folder / "leaderboard.meta.json").write_text(json.dumps({"config": cfg, "config_hash": chash}))
    return str(folder / "records.jsonl")


def test_leaderboard_lstm_cells_are_a_reading_per_budget(tmp_path):
    """The leaderboard's LSTM cells on the seed 004 tasks are Table 3 rows of their own, one per
    wall budget: medians and [worst–best] over seeds, epochs and wall time from the records, the
    status of cells not done; never pooled with lantm-tables' LSTM readings nor with each other."""
    from memlab.experiments.lantm_tables import read_leaderboard

    ten = [lb_rec(0, 0.0, 0.03, 0.0, 0.01, epochs=4, wall=11.0), lb_rec(1, 0.2, 0.5, 0.0, 0.2, epochs=6, wall=12.0),
           lb_rec(2, 0.4, 0.7, 0.1, 0.3, epochs=9, wall=13.0, status="done"),
           lb_rec(0, 0.9, 0.9, 0.9, 0.9, model="lantm-invnorm"),  # another model: not the baseline
           lb_rec(0, 0.9, 0.9, 0.9, 0.9, task="ntm-copy")]  # not a seed 004 task
    cells, notes = read_leaderboard([write_leaderboard(tmp_path / "leaderboard", ten),
                                     str(tmp_path / "nothing-here" / "records.jsonl")])
    assert len(cells) == 3 and notes == []
    long = [lb_rec(0, 0.6, 0.95, 0.0, 0.5, budget=300.0, epochs=500, wall=301.0, status="done")]
    write_leaderboard(tmp_path / "leaderboard-300s", long)
    more, _ = read_leaderboard([str(tmp_path / "leaderboard-300s" / "*.jsonl")])  # a glob pattern
    own = [rec(0, 0.5, 0.75, model="lstm", reading="paper", model_cfg={}, train={}, epochs=1000,
               train_elapsed_s=3000.0)]
    md = render_tables(own, cells + more)
    assert "| copy | lstm | paper | 1 | 50.0% | 75.0% |  |  | 58% | 97% | 0% | 52% | 1000 | 50 min |" in md
    assert ("| copy | lstm | leaderboard (budget 10 s): timeout ×2 | 3 | 20.0% [0.0%–40.0%] | 50.0% [3.0%–70.0%] | "
            "0.0% [0.0%–10.0%] | 20.0% [1.0%–30.0%] | 58% | 97% | 0% | 52% | 6 | 12 s |") in md
    assert ("| copy | lstm | leaderboard (budget 300 s) | 1 | 60.0% | 95.0% | 0.0% | 50.0% | 58% | 97% | 0% | 52% | "
            "500 | 5 min |") in md
    table3, rest = md.split("## Table 4")
    rows = [line for line in table3.splitlines() if line.startswith("| copy | lstm |")]
    assert len(rows) == 3  # the paper reading, then each budget
    assert "| copy | lantm-invnorm |  |  |" in table3  # the leaderboard's LANTM is not shown: not run
    assert "Leaderboard rows from" in md and "budget 10 s, seeds 0, 1, 2, commit 239b827, 8 test sequences" in md
    # a budget-limited run is no attempt at the paper: its 60% at 300 s is neither the best run nor a reading tried
    assert "| copy | lstm | 1x | 58% | 50.0% | paper, seed 0 | paper (1 seed) |" in rest
    # without an own reading, the leaderboard's row replaces the blank not-run row
    md = render_tables([], cells)
    assert "| copy | lstm |  |" not in md and "| reverse | lstm |  |  |" in md


def test_leaderboard_files_of_other_settings_are_named_not_shown(tmp_path):
    from memlab.experiments.lantm_tables import read_leaderboard

    small = write_leaderboard(tmp_path / "leaderboard-small", [lb_rec(0, 1.0, 1.0, 1.0, 1.0)], {"size": 8})
    lr = write_leaderboard(tmp_path / "leaderboard-lr", [lb_rec(0, 1.0, 1.0, 1.0, 1.0)],
                           {"train": {"lr": 0.001, "max_epochs": 5, "batches_per_epoch": 4}})
    bare = write_leaderboard(tmp_path / "leaderboard-bare", [lb_rec(0, 1.0, 1.0, 1.0, 1.0)], config=False)
    mixed = write_leaderboard(tmp_path / "leaderboard-mixed",
                              [lb_rec(0, 0.5, 0.5, 0.5, 0.5), lb_rec(1, 1.0, 1.0, 1.0, 1.0, config_hash="zzz")])
    cells, notes = read_leaderboard([small, lr, bare, mixed])
    assert [c["seed"] for c in cells] == [0] and cells[0]["scores"][0]["coarse"] == 0.5
    text = "\n".join(notes)
    assert "leaderboard-small/records.jsonl` (1 LSTM cells): not the paper reading (size=8)" in text
    assert "not the paper reading (train.lr=0.001)" in text  # budget and epoch-length keys are no reading
    assert "leaderboard-bare/records.jsonl` (1 LSTM cells): no `leaderboard.meta.json`" in text
    assert "leaderboard-mixed/records.jsonl` (1 LSTM cells): another configuration" in text
    md = render_tables([], cells, notes)
    assert "| copy | lstm | leaderboard (budget 10 s): timeout | 1 | 50.0% |" in md
    assert md.count("Leaderboard records not shown:") == 4


def test_malformed_leaderboard_records_are_one_line_naming_the_file(tmp_path):
    from memlab.core.errors import MemlabError
    from memlab.experiments.lantm_tables import read_leaderboard

    bad = lb_rec(0, 0.0, 0.0, 0.0, 0.0)
    del bad["budget_s"]
    path = write_leaderboard(tmp_path / "leaderboard", [bad])
    with pytest.raises(MemlabError, match=r"leaderboard/records.jsonl: record 1 lacks 'budget_s'") as e:
        read_leaderboard([path])
    assert "\n" not in str(e.value)
    bad = lb_rec(0, 0.0, 0.0, 0.0, 0.0)
    bad["scores"][0]["coarse"] = "high"
    write_leaderboard(tmp_path / "leaderboard", [bad])
    with pytest.raises(MemlabError, match=r"leaderboard/records.jsonl: lstm/copy/s0 scores: record 1 has coarse='high'"):
        read_leaderboard([path])
    (tmp_path / "leaderboard" / "records.jsonl").write_text("{not json\n")
    with pytest.raises(MemlabError, match=r"leaderboard/records.jsonl:1 is not valid JSON"):
        read_leaderboard([path])
    # a corrupt meta file beside good records: one line naming it, with what helps when rendering
    write_leaderboard(tmp_path / "leaderboard", [lb_rec(0, 0.0, 0.0, 0.0, 0.0)])
    (tmp_path / "leaderboard" / "leaderboard.meta.json").write_text("{cut short")
    with pytest.raises(MemlabError, match=r"leaderboard/leaderboard.meta.json is corrupt \(not JSON\); rerun") as e:
        read_leaderboard([path])
    assert "\n" not in str(e.value) and "--fresh" not in str(e.value)  # nothing here takes --fresh


def test_no_leaderboard_file_leaves_the_tables_as_they_were(tmp_path, monkeypatch):
    """Rendering with leaderboard files that do not exist writes the tables of the records alone."""
    from memlab.core.config import from_dict

    monkeypatch.chdir(tmp_path)  # leaderboard_records are relative to the working folder

    own = [rec(0, 0.5, 0.75, model="lstm", reading="paper", model_cfg={}, train={}, epochs=10, train_elapsed_s=90.0)]
    cfg = from_dict(EXPERIMENT.config_cls, {"leaderboard_records": ["leaderboard*/records.jsonl"]})
    head = EXPERIMENT.summarise(cfg, own, tmp_path)
    assert (tmp_path / "tables.md").read_text() == render_tables(own) == render_tables(own, [], [])
    assert head["leaderboard_cells"] == 0 and "Leaderboard rows from" not in render_tables(own)
    write_leaderboard(tmp_path / "leaderboard", [lb_rec(0, 0.0, 0.1, 0.0, 0.1)])
    assert EXPERIMENT.summarise(cfg, own, tmp_path)["leaderboard_cells"] == 1
    assert "| copy | lstm | leaderboard (budget 10 s): timeout | 1 |" in (tmp_path / "tables.md").read_text()
    # which leaderboard files are read does not change lantm-tables' config hash (no records go stale)
    from memlab.experiments.runner import config_hash
    from memlab.core.config import to_dict

    assert config_hash(EXPERIMENT, to_dict(cfg)) == config_hash(EXPERIMENT, to_dict(EXPERIMENT.config_cls()))


@pytest.mark.parametrize("task", ["copy", "reverse", "bigramFlip", "double", "addition"])
def test_the_leaderboard_lstm_is_the_paper_reading(task):
    """What makes the leaderboard's LSTM cells a reading of the baseline: its resolved settings are
    lantm-tables' ``paper`` LSTM, but for budget keys and the epoch length (no schedule of that
    reading counts epochs)."""
    import dataclasses

    from memlab.experiments import lantm_tables as lt
    from memlab.experiments.leaderboard import LeaderboardConfig, cell_overrides
    from memlab.training.config import resolve_run_config

    board = resolve_run_config("lstm", task, cell_overrides(LeaderboardConfig(), "lstm", task), 0, "cpu")
    ours = resolve_run_config("lstm", task, {"train": {"max_epochs": 1000, "max_time_s": 3600.0}}, 0, "cpu")
    b, o = dataclasses.asdict(board), dataclasses.asdict(ours)
    assert b["model_cfg"] == o["model_cfg"] and b["task_cfg"] == o["task_cfg"]
    assert o["model_cfg"]["hidden"] == 256 and o["model_cfg"]["layers"] == 4
    strip = lambda t: {k: v for k, v in lt._reading_train(t).items() if k not in lt._LEADERBOARD_BOOKKEEPING}  # noqa: E731
    assert strip(b["train"]) == strip(o["train"]) and o["train"]["lr_halve_after"] == 0 and o["train"]["lr_decay"] == 1
    assert lt._not_the_baseline(dataclasses.asdict(LeaderboardConfig())) is None


@pytest.mark.parametrize("value", ["/etc/passwd", "results", "../elsewhere/records.jsonl", "results/../../x.jsonl"])
def test_leaderboard_records_stay_inside_the_working_folder(tmp_path, capsys, value):
    """``leaderboard_records`` names records files inside the working folder: an absolute path, a
    path out of it or a name that is not a .jsonl file is one line, exit 2."""
    (tmp_path / "records.jsonl").write_text("")
    assert main(["table", "lantm-tables", "--set", f"leaderboard_records={value}", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and repr(value) in err and "not allowed" in err


def test_per_task_section_shows_the_rows_the_per_task_preset_resolves_to():
    """The `reproduce-per-task` section lists, per task, only the readings that preset trains in:
    double's normalised start step (not plain `reproduce`), reverse's text optimiser spelt out on
    `reproduce`, copy's `reproduce`, and runs labelled with the preset itself."""
    from memlab.experiments.lantm_tables import per_task_readings

    assert per_task_readings("lantm-invnorm", "reverse") == [
        "reproduce-per-task", "reproduce-text-optimiser",
        "reproduce+train.clip_norm=1.0+train.lr=0.002+train.momentum=0.95+train.rms_alpha=0.95"]
    assert per_task_readings("lantm-invnorm", "double") == ["reproduce-per-task", "reproduce+model.init_step=normalised"]
    recs = [rec(0, 1.0, 1.0, task="double", reading="reproduce+model.init_step=normalised"),
            rec(0, 0.1, 0.2, task="double", reading="reproduce"),
            rec(0, 0.9, 0.9, task="copy", reading="reproduce"),
            rec(0, 0.3, 0.3, task="copy", reading="reproduce+model.init_step=normalised"),
            rec(1, 0.8, 0.8, task="addition", reading="reproduce-per-task")]
    section = render_tables(recs).split("one reading per task")[1].split("## Table 4")[0]
    assert "| double | lantm-invnorm | reproduce+model.init_step=normalised | 1 | 100.0% |" in section
    assert "| double | lantm-invnorm | reproduce |" not in section
    assert "| copy | lantm-invnorm | reproduce | 1 | 90.0% |" in section
    assert "| copy | lantm-invnorm | reproduce+model.init_step=normalised |" not in section
    assert "| addition | lantm-invnorm | reproduce-per-task | 1 | 80.0% |" in section


def test_a_bad_model_setting_fails_before_any_unit_runs_or_anything_is_written(tmp_path, capsys):
    """Every cell's settings resolve when the units are made: a bad ``model.*`` value (or one the
    LSTM does not have) is one line and exit 2 before the first unit, with no folder written."""
    for bad in (["models=lantm-invnorm", "model.write_gates=open"], ["models=lantm-invnorm,lstm", "model.init_step=normalised"]):
        argv = ["run", "lantm-tables", "--out", str(tmp_path / "res"), "--store", str(tmp_path / "runs"), "--no-progress",
                "--set", "tasks=copy", *bad]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ("write_gates='open'" in err[0] or "model.init_step" in err[0])
        # the line names the cell whose settings failed: the LSTM, not the LANTM listed first
        assert ("model lantm-invnorm on task copy:" in err[0]) if "write_gates" in err[0] else \
            ("model lstm on task copy: unknown key model.init_step" in err[0])
        assert not (tmp_path / "res").exists() and not (tmp_path / "runs").exists()


def test_the_default_reading_is_the_read_gate_preset_spelt_on_reproduce():
    """Without ``model.preset`` the LANTM cells train ``reproduce-read-gate``: its label spells it
    on ``reproduce`` (the label of the runs made with ``--set model.read_key_gate_bias=-4``), its run
    resolves to the same model as those, and records of both pool as one reading. The LSTM's
    reading is unchanged, and each cell's budget is its task's unless ``max_epochs`` is given."""
    from memlab.experiments.lantm_tables import cell_overrides, record_readings
    from memlab.training.config import resolve_run_config

    spelt = "reproduce+model.read_key_gate_bias=-4"
    default = EXPERIMENT.config_cls(tasks=("addition",), models=("lantm-invnorm", "lstm"), seeds=(0,))
    named = EXPERIMENT.config_cls(tasks=("addition",), models=("lantm-invnorm",), model={"preset": "reproduce-read-gate"})
    by_hand = EXPERIMENT.config_cls(tasks=("addition",), models=("lantm-invnorm",),
                                    model={"preset": "reproduce", "read_key_gate_bias": -4})
    assert [u.key for u in EXPERIMENT.units(default)] == [f"lantm-invnorm-addition-s0@{spelt}", "lstm-addition-s0@paper"]
    assert [u.key for u in EXPERIMENT.units(named)] == [u.key for u in EXPERIMENT.units(by_hand)] == \
        [f"lantm-invnorm-addition-s0@{spelt}"]
    runs = {n: resolve_run_config("lantm-invnorm", "addition", cell_overrides("lantm-invnorm", c, "addition"), 0, "cpu")
            for n, c in (("default", default), ("by_hand", by_hand))}
    assert runs["default"].model_cfg["preset"] == "reproduce-read-gate"
    assert runs["default"].model_cfg["read_key_gate_bias"] == runs["by_hand"].model_cfg["read_key_gate_bias"] == -4.0
    assert {k: v for k, v in runs["default"].model_cfg.items() if k != "preset"} == \
        {k: v for k, v in runs["by_hand"].model_cfg.items() if k != "preset"}
    assert runs["default"].train == runs["by_hand"].train
    assert runs["default"].train.max_epochs == 4000 and tuple(runs["default"].train.track_scales) == (1, 4)
    lstm = resolve_run_config("lstm", "addition", cell_overrides("lstm", default, "addition"), 0, "cpu")
    assert lstm.train.max_epochs == 1000 and not lstm.train.track_scales
    assert "preset" not in lstm.model_cfg
    from memlab.experiments.lantm_tables import cell_epochs

    assert [cell_epochs("lantm-invnorm", t, default) for t in ("copy", "reverse", "bigramFlip", "double", "addition")] == \
        [2000, 1000, 3000, 1000, 4000]
    assert {cell_epochs(m, t, default) for m in ("lantm-softmax", "lstm") for t in ("copy", "addition")} == {1000}
    given = EXPERIMENT.config_cls(tasks=("addition",), models=("lantm-invnorm",), max_epochs=7,
                                  train={"track_scales": (1, 2)})
    tr = resolve_run_config("lantm-invnorm", "addition", cell_overrides("lantm-invnorm", given, "addition"), 0, "cpu").train
    assert tr.max_epochs == 7 and tuple(tr.track_scales) == (1, 2)
    # records of the preset and of the settings spelt out are one reading, one row
    recs = [rec(s, c, c, task="addition", reading=spelt, model_cfg=run.model_cfg, train={"lr": 0.01})
            for s, c, run in ((0, 1.0, runs["default"]), (1, 0.5, runs["by_hand"]))]
    assert set(record_readings(recs).values()) == {spelt}
    assert f"| addition | lantm-invnorm | {spelt} | 2 | 75.0% [50.0%–100.0%] |" in render_tables(recs)
