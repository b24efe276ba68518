"""CLI: JSON last line, and every error path gives one line and exit status 2."""

import json

import pytest

from memlab.cli import main

TINY = ["--set", "model.hidden=16", "model.layers=1", "model.embed=4", "task.vocab=4", "task.train_max=3",
        "task.test_min=2", "task.test_max=3", "train.max_epochs=2", "train.eval_every=1", "train.eval_batches=1"]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, *needles):
    assert code == 2
    lines = [l for l in err.strip().splitlines() if l]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


def test_list_json(capsys):
    code, out, _ = _run(capsys, "list", "--json")
    assert code == 0
    data = json.loads(out.strip().splitlines()[-1])
    assert "lstm" in data["models"] and "copy" in data["tasks"]


def test_train_eval_runs_json(capsys, tmp_path):
    code, out, _ = _run(capsys, "train", "--model", "lstm", "--task", "copy", *TINY, "--out", str(tmp_path),
                        "--name", "r", "--no-progress", "--json")
    assert code == 0
    s = json.loads(out.strip().splitlines()[-1])
    assert s["epochs"] == 2 and s["run_dir"].endswith("r")
    code, out, _ = _run(capsys, "eval", str(tmp_path / "r"), "--scales", "1,2", "--batches", "2", "--json")
    recs = json.loads(out.strip().splitlines()[-1])["evals"]
    assert [r["scale"] for r in recs] == [1, 2] and recs[1]["lengths"] == [4, 6]
    for r in recs:
        assert {"model", "task", "scale", "lengths", "fine", "coarse", "n_sequences", "seed", "commit"} <= set(r)
    code, out, _ = _run(capsys, "runs", "--out", str(tmp_path), "--json")
    rows = json.loads(out.strip().splitlines()[-1])["runs"]
    assert rows[0]["run_id"] == "r" and rows[0]["status"] == "done" and "2x_coarse" in rows[0]


@pytest.mark.parametrize("argv, needles", [
    (["train", "--model", "lstm", "--task", "copy", "--set", "train.lr=fast"], ["train.lr='fast'", "number"]),
    (["train", "--model", "lstm", "--task", "copy", "--set", "model.size=3"], ["unknown key model.size", "model.hidden"]),
    (["train", "--model", "lstmm", "--task", "copy"], ["unknown model 'lstmm'", "lstm"]),
    (["train", "--model", "lstm", "--task", "copy", "--set", "task.train_min=9", "task.train_max=3"], ["task.train_max=3"]),
    (["train", "--model", "lstm", "--task", "bigramFlip", "--set", "task.train_min=3", "task.train_max=3"], ["multiples of 2"]),
    (["eval", "/nonexistent/run"], ["does not exist"]),
    (["eval", ".", "--scales", "0"], ["scale=0"]),
    (["train", "--model", "lstm", "--task", "copy", "--threads", "0"], ["threads=0"]),
    (["bench", "no-such-bench"], ["unknown benchmark"]),
    (["frobnicate"], ["invalid choice"]),
])
def test_error_paths_are_one_line_exit_2(capsys, tmp_path, argv, needles):
    if argv[0] == "train":
        argv = argv + ["--out", str(tmp_path), "--no-progress"]
    try:
        code, _, err = _run(capsys, *argv)
    except SystemExit as e:  # argparse usage errors
        code, err = e.code, capsys.readouterr().err
    _one_line_error(code, err, *needles)
    assert not list(tmp_path.glob("*/config.json"))  # nothing half-written


def test_corrupt_checkpoint_is_a_one_line_error(capsys, tmp_path):
    assert _run(capsys, "train", "--model", "lstm", "--task", "copy", *TINY, "--out", str(tmp_path), "--name", "r",
                "--no-progress")[0] == 0
    (tmp_path / "r" / "checkpoints" / "best.pt").write_bytes(b"not a checkpoint")
    code, _, err = _run(capsys, "eval", str(tmp_path / "r"))
    _one_line_error(code, err, "corrupt")
    (tmp_path / "r" / "config.json").write_text("{broken")
    code, _, err = _run(capsys, "eval", str(tmp_path / "r"))
    _one_line_error(code, err, "config.json is corrupt")


def test_resume_cli(capsys, tmp_path):
    args = ["train", "--model", "lstm", "--task", "copy", *TINY, "--out", str(tmp_path), "--name", "r", "--no-progress"]
    assert _run(capsys, *args)[0] == 0
    code, _, err = _run(capsys, *args)
    _one_line_error(code, err, "already exists", "--resume")
    more = [a if a != "train.max_epochs=2" else "train.max_epochs=3" for a in args]
    code, out, _ = _run(capsys, *more, "--resume", "--json")
    s = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and s["resumed"] and s["epochs"] == 3


def test_repeated_set_flags_accumulate():
    from memlab.cli import build_parser

    args = build_parser().parse_args(["train", "--set", "train.lr=1", "--set", "model.hidden=2", "task.vocab=3"])
    assert args.set == ["train.lr=1", "model.hidden=2", "task.vocab=3"]


def test_shared_plot_group_holds_every_area_and_rejects_unknown_groups():
    import argparse

    import pytest

    from memlab.cli import area_group, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    plot = sub.choices["plot"]
    areas = next(a for a in plot._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"lantm", "ntm"} <= set(areas)
    with pytest.raises(ValueError, match="allowed: plot, reproduce"):
        area_group(sub, "draw")


def test_bench_render_tabulates_scalars_and_points_to_nested_details(tmp_path):
    import json

    from memlab.commands.core import render_benchmarks

    res = tmp_path / "bench"
    res.mkdir()
    rec = {"name": "toy", "command": "memlab bench toy", "commit": "abc", "time": "t", "machine": {"cpus": 2},
           "figures": {"fast_ms": 12.3456, "speedup": 3, "nuclear": {"scs": {"seconds": 1.0}}}}
    (res / "toy.json").write_text(json.dumps(rec))
    text = render_benchmarks(res, tmp_path / "B.md").read_text()
    assert "| fast_ms | 12.35 |" in text and "| speedup | 3 |" in text
    assert "| nuclear |" not in text and "Per-variant details (nuclear): `results/bench/toy.json`" in text
