"""CLI: one grammar, JSON last line, every error path one line and exit status 2, a fast --help."""

import json
import subprocess
import sys

import pytest

from memlab.cli import VERBS, build_parser, main

TINY = ["--set", "model.hidden=16", "model.layers=1", "model.embed=4", "task.vocab=4", "task.train_max=3",
        "task.test_min=2", "task.test_max=3", "train.max_epochs=2", "train.eval_every=1", "train.eval_batches=1"]


@pytest.fixture(autouse=True)
def _reports(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLAB_REPORT_DIR", str(tmp_path / "reports"))


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
    assert {"lantm-tables", "ntm-table", "demo"} <= set(data["experiments"])
    assert "lstm-train" in data["benchmarks"] and "lstm" in data["controllers"]
    code, out, _ = _run(capsys, "list", "experiments")
    assert code == 0 and "lantm-tables" in out and "Tables 3 and 4" in out


def test_train_eval_runs_json(capsys, tmp_path):
    code, out, _ = _run(capsys, "train", "--model", "lstm", "--task", "copy", *TINY, "--out", str(tmp_path),
                        "--name", "r", "--no-progress", "--json")
    assert code == 0
    s = json.loads(out.strip().splitlines()[-1])
    assert s["epochs"] == 2 and s["run_dir"].endswith("r")
    code, out, _ = _run(capsys, "eval", str(tmp_path / "r"), "--scales", "1,2", "--set", "batches=2", "--json")
    recs = json.loads(out.strip().splitlines()[-1])["evals"]
    assert [r["scale"] for r in recs] == [1, 2] and recs[1]["lengths"] == [4, 6]
    for r in recs:
        assert {"model", "task", "scale", "lengths", "fine", "coarse", "n_sequences", "seed", "commit"} <= set(r)
    code, out, _ = _run(capsys, "runs", "--out", str(tmp_path), "--json")
    rows = json.loads(out.strip().splitlines()[-1])["runs"]
    assert rows[0]["run_id"] == "r" and rows[0]["status"] == "done" and "2x_coarse" in rows[0]
    # exact lengths (was `ntm-eval`): records also appended to --out/evals.jsonl, with training cost
    code, out, _ = _run(capsys, "eval", str(tmp_path / "r"), "--lengths", "3,1-3", "--set", "batches=1",
                        "batch_size=4", "--out", str(tmp_path / "res"), "--json")
    assert code == 0
    recs = [json.loads(l) for l in (tmp_path / "res" / "evals.jsonl").read_text().splitlines()]
    assert [r["length"] for r in recs] == [3, "1-3"] and recs[0]["n_sequences"] == 4
    assert recs[0]["checkpoint"].startswith(("best@", "last@")) and recs[0]["sequences_seen"] > 0


@pytest.mark.parametrize("argv, needles", [
    (["train", "--model", "lstm", "--task", "copy", "--set", "train.lr=fast"], ["train.lr='fast'", "number"]),
    (["train", "--model", "lstm", "--task", "copy", "--set", "model.size=3"], ["unknown key model.size", "model.hidden"]),
    (["train", "--model", "lstmm", "--task", "copy"], ["unknown model 'lstmm'", "lstm"]),
    (["train", "--model", "lstm", "--task", "copy", "--set", "task.train_min=9", "task.train_max=3"], ["task.train_max=3"]),
    (["train", "--model", "lstm", "--task", "bigramFlip", "--set", "task.train_min=3", "task.train_max=3"], ["multiples of 2"]),
    (["train", "--model", "lstm", "--task", "copy", "--seed", str(2**64)], ["--seed", "out of range"]),
    (["train", "--model", "lstm", "--task", "copy", "--name", "../x"], ["--name='../x'", "one folder name"]),
    (["train", "--task", "copy"], ["--model"]),
    (["eval", "/nonexistent/run"], ["does not exist"]),
    (["eval", ".", "--scales", "0"], ["scale=0"]),
    (["eval", ".", "--scales", "1", "--lengths", "2"], ["not allowed with argument"]),
    (["eval", ".", "--set", "batches=0"], ["batches=0"]),
    (["train", "--model", "lstm", "--task", "copy", "--threads", "0"], ["threads=0"]),
    (["bench", "no-such-bench"], ["unknown benchmark", "lstm-train"]),
    (["run", "no-such-experiment"], ["invalid choice", "lantm-tables"]),
    (["run", "demo", "--set", "batches=nan"], ["batches='nan'"]),
    (["run", "demo", "--set", "max_time=nan"], ["max_time=nan", "finite"]),
    (["run", "demo", "--jobs", "0"], ["--jobs=0"]),
    (["table", "nope"], ["invalid choice", "readme", "bench"]),
    (["plot", "nope"], ["neither an experiment", "lantm-tables"]),
    (["list", "gadgets"], ["invalid choice", "memories"]),
    (["frobnicate"], ["invalid choice"]),
])
def test_error_paths_are_one_line_exit_2(capsys, tmp_path, argv, needles):
    if argv[0] in ("train", "run"):
        argv = argv + ["--out", str(tmp_path / "out")]
    if argv[0] == "train":
        argv.append("--no-progress")
    code, _, err = _run(capsys, *argv)
    _one_line_error(code, err, *needles)
    assert not list(tmp_path.rglob("config.json")) and not list(tmp_path.rglob("*.jsonl"))  # nothing half-written


def test_out_must_be_a_folder(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    for argv in (["train", "--model", "lstm", "--task", "copy", "--out", str(f)],
                 ["train", "--model", "lstm", "--task", "copy", "--out", str(f / "sub")],
                 ["run", "demo", "--out", str(f)], ["runs", "--out", str(f)], ["bench", "lstm-train", "--out", str(f)],
                 ["table", "bench", "--out", str(f)]):
        code, _, err = _run(capsys, *argv)
        _one_line_error(code, err, str(f))
    assert f.read_text() == "x"


def test_internal_error_is_one_line_with_a_report(capsys, tmp_path, monkeypatch):
    import memlab.commands.listing as listing

    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(listing, "run", boom)
    code, _, err = _run(capsys, "list")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "ZeroDivisionError" in err and "--debug" in err
    reports = list((tmp_path / "reports").glob("crash-*.txt"))
    assert len(reports) == 1 and str(reports[0]) in err and "Traceback" in reports[0].read_text()
    with pytest.raises(ZeroDivisionError):
        main(["list", "--debug"])


def test_corrupt_checkpoint_is_a_one_line_error(capsys, tmp_path):
    assert _run(capsys, "train", "--model", "lstm", "--task", "copy", *TINY, "--out", str(tmp_path), "--name", "r",
                "--no-progress")[0] == 0
    (tmp_path / "r" / "checkpoints" / "best.pt").write_bytes(b"not a checkpoint")
    code, _, err = _run(capsys, "eval", str(tmp_path / "r"))
    _one_line_error(code, err, "corrupt")
    (tmp_path / "r" / "config.json").write_text("{broken")
    code, _, err = _run(capsys, "eval", str(tmp_path / "r"))
    _one_line_error(code, err, "config.json")


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
    args = build_parser().parse_args(["train", "--set", "train.lr=1", "--set", "model.hidden=2", "task.vocab=3"])
    assert args.set == ["train.lr=1", "model.hidden=2", "task.vocab=3"]
    args = build_parser().parse_args(["run", "demo", "--set", "batches=1", "seed=2", "--set", "scales=1", "--quick"])
    assert args.set == ["batches=1", "seed=2", "scales=1"] and args.quick


def test_every_verb_has_help_listing_its_items(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in VERBS:
        assert f"  {verb}" in out
        assert main([verb, "--help"]) == 0
        text = capsys.readouterr().out
        assert "--json" in text and "--threads" in text
    for verb, item in (("run", "lantm-tables"), ("table", "readme"), ("plot", "ntm-table"), ("bench", "lstm-train"),
                       ("list", "experiments")):
        main([verb, "--help"])
        assert item in capsys.readouterr().out


def test_help_and_usage_errors_import_no_torch_or_numpy():
    code = ("import sys, time; t = time.perf_counter(); from memlab.cli import main\n"
            "for argv in (['--help'], ['run', '--help'], ['train', '--seed', 'x'], ['eval'], ['nope']):\n"
            "    try: main(argv)\n"
            "    except SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'numpy', 'scipy', 'matplotlib') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "print(time.perf_counter() - t)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert float(p.stdout.strip().splitlines()[-1]) < 1.0  # < 0.3 s on an idle machine; slack for a loaded one


def test_table_bench_tabulates_scalars_and_points_to_nested_details(capsys, tmp_path):
    res = tmp_path / "bench"
    res.mkdir()
    rec = {"name": "toy", "command": "memlab bench toy", "commit": "abc", "time": "t", "machine": {"cpus": 2},
           "figures": {"fast_ms": 12.3456, "speedup": 3, "nuclear": {"scs": {"seconds": 1.0}}}}
    (res / "toy.json").write_text(json.dumps(rec))
    assert _run(capsys, "table", "bench", "--set", f"records={res}", "--out", str(tmp_path))[0] == 0
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "| fast_ms | 12.35 |" in text and "| speedup | 3 |" in text
    assert "| nuclear |" not in text and "Per-variant details (nuclear): `results/bench/toy.json`" in text
    (res / "bad.json").write_text("[1, 2]")
    code, _, err = _run(capsys, "table", "bench", "--set", f"records={res}", "--out", str(tmp_path))
    _one_line_error(code, err, "bad.json", "not a benchmark record")


def test_table_readme_includes_files(capsys, tmp_path):
    (tmp_path / "part.md").write_text("# part\nnew text\n")
    (tmp_path / "README.md").write_text("intro\n<!-- include: part.md -->\nold\n<!-- end include -->\nend\n")
    code, out, _ = _run(capsys, "table", "readme", "--out", str(tmp_path), "--json")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["included"] == ["part.md"]
    assert (tmp_path / "README.md").read_text() == \
        "intro\n<!-- include: part.md -->\n# part\nnew text\n<!-- end include -->\nend\n"
    (tmp_path / "README.md").write_text("<!-- include: ../../etc/passwd -->\nx\n<!-- end include -->\n")
    code, _, err = _run(capsys, "table", "readme", "--out", str(tmp_path))
    _one_line_error(code, err, "outside")


def test_plot_run_trace(capsys, tmp_path):
    assert _run(capsys, "train", "--model", "lstm", "--task", "copy", *TINY, "--out", str(tmp_path), "--name", "r",
                "--no-progress")[0] == 0
    code, _, err = _run(capsys, "plot", str(tmp_path / "r"), "--set", "length=3")
    _one_line_error(code, err, "without read/write weightings")
    code, _, err = _run(capsys, "plot", str(tmp_path / "r"), "--set", "length=0")
    _one_line_error(code, err, "length=0")
