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


def test_merge_cli_adds_records_once_and_refuses_bad_folders(capsys, tmp_path):
    a, into = tmp_path / "a", tmp_path / "into"
    assert _run(capsys, "run", "theory-saxe", "--quick", "--out", str(a), "--no-progress", "--no-plot")[0] == 0
    code, out, _ = _run(capsys, "merge", "theory-saxe", "--from", str(a), "--out", str(into), "--json")
    assert code == 0
    res = json.loads(out.strip().splitlines()[-1])
    n = len((a / "saxe.jsonl").read_text().splitlines())
    assert res["records_added"] == n > 0 and res["table"]["n_records"] == n
    assert (into / "saxe.jsonl").read_text() == (a / "saxe.jsonl").read_text()
    code, out, _ = _run(capsys, "merge", "theory-saxe", "--from", str(a), "--out", str(into))
    assert code == 0 and out.startswith("merged 0 record(s) of 0 unit(s) and 0 invocation(s)")
    for bad, needle in ((tmp_path / "missing", "is not a folder"), (tmp_path, "holds no theory-saxe records"),
                        (into, "named twice or is --out")):
        code, _, err = _run(capsys, "merge", "theory-saxe", "--from", str(bad), "--out", str(into))
        _one_line_error(code, err, str(bad), needle)


def test_a_benchmark_on_a_device_this_machine_lacks_is_one_line_exit_2(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    code, _, err = _run(capsys, "bench", "lstm-train", "--device", "cuda", "--out", str(tmp_path / "bench"))
    _one_line_error(code, err, "device='cuda'", "CUDA is not available", "use cpu or auto")
    assert not list(tmp_path.rglob("*.json"))  # no record


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


def test_train_that_diverges_says_so_last_and_exits_3(capsys, tmp_path):
    argv = ["train", "--model", "lstm", "--task", "copy", "--out", str(tmp_path), "--name", "d", "--no-progress",
            "--set", "model.hidden=8", "model.layers=1", "model.embed=4", "task.vocab=4", "task.train_max=3",
            "task.test_min=2", "task.test_max=3", "train.max_epochs=12", "train.batches_per_epoch=2",
            "train.batch_size=4", "train.eval_every=0", "train.lr=1e30", "train.max_restores=2"]
    code, out, _ = _run(capsys, *argv)
    last = out.strip().splitlines()[-1]
    assert code == 3, out
    assert last.startswith("run d diverged at epoch") and "2 restores" in last and "loss explosions" in last, last
    code, out, _ = _run(capsys, "runs", "--out", str(tmp_path), "--json")
    assert code == 0 and [r["status"] for r in json.loads(out.strip().splitlines()[-1])["runs"]] == ["diverged"]
    code, out, _ = _run(capsys, "train", "--resume", str(tmp_path / "d"), "--no-progress", "--json")
    s = json.loads(out.strip().splitlines()[-1])
    assert code == 3 and s["status"] == "diverged" and s["exit_status"] == 3
    main(["train", "--help"])
    assert "exit status 3" in capsys.readouterr().out


def test_runs_shows_a_killed_run_as_dead(capsys, tmp_path):
    from memlab.store import Store
    from memlab.training.config import read_run_config

    assert _run(capsys, "train", "--model", "lstm", "--task", "copy", *TINY, "--out", str(tmp_path), "--name", "k",
                "--no-progress")[0] == 0
    Store(tmp_path).upsert_run("k", tmp_path / "k", read_run_config(tmp_path / "k"), "running", {})  # as if killed:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "k" / ".lock").write_text(gone.stdout.strip())  # the lock of a process that is gone
    code, out, _ = _run(capsys, "runs", "--out", str(tmp_path))
    assert code == 0 and " dead " in out.splitlines()[-1], out


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
    assert "## toy\n" in text and " on cuda" not in text
    (res / "toy-cuda.json").write_text(json.dumps({**rec, "figures": {**rec["figures"], "device": "cuda"}}))
    assert _run(capsys, "table", "bench", "--set", f"records={res}", "--out", str(tmp_path))[0] == 0
    assert "## toy on cuda\n" in (tmp_path / "BENCHMARKS.md").read_text()
    (res / "toy-cuda.json").write_text(json.dumps(rec))  # an older record: the file name tells the device
    assert _run(capsys, "table", "bench", "--set", f"records={res}", "--out", str(tmp_path))[0] == 0
    assert "## toy on cuda\n" in (tmp_path / "BENCHMARKS.md").read_text()
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


def test_plot_of_a_run_whose_name_holds_dots_keeps_the_whole_name(capsys, tmp_path):
    """Run folders named after a reading (``…-reproduce+model.init_step=normalised``) hold dots; the
    figure and its record are named after the whole run name, not cut at its last dot."""
    name = "lantm-copy-s0-reproduce+model.init_step=normalised"
    tiny = ["--set", "model.hidden=4", "model.embed=3", "model.mem_width=3", "task.vocab=4", "task.train_max=3",
            "task.test_min=4", "task.test_max=5", "train.max_epochs=1", "train.batches_per_epoch=1",
            "train.batch_size=2", "train.eval_every=0"]
    assert _run(capsys, "train", "--model", "lantm-invnorm", "--task", "copy", *tiny, "--out", str(tmp_path),
                "--name", name, "--no-progress")[0] == 0
    code, out, _ = _run(capsys, "plot", str(tmp_path / name), "--set", "length=3", "--out", str(tmp_path / "f"),
                        "--json")
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [f"{name}-len3.json", f"{name}-len3.png"]


# ------------------------------------------------------------------------------------------------
# property-based walk of the grammar with bad values (issue 19): every verb and option, exit 2,
# one line on stderr, no traceback, nothing written. MEMLAB_FUZZ_EXAMPLES=2000 for a long walk.
# ------------------------------------------------------------------------------------------------
import dataclasses  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import typing  # noqa: E402
from contextlib import redirect_stderr, redirect_stdout  # noqa: E402
from pathlib import Path  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_FUZZ = os.environ.get("MEMLAB_FUZZ_EXAMPLES", "60")  # a number, or "all" for the exhaustive walk
FUZZ_EXAMPLES = 0 if _FUZZ == "all" else int(_FUZZ)
FUZZ_SECONDS = int(os.environ.get("MEMLAB_FUZZ_SECONDS", "20"))  # longer counts as a hang

NOT_NUMBERS = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "", " ", "abc", "[]", "{}",
               "0x1g", "1/0", "\u0661\u0662x"]
BAD_INTS = ["-1", "-7", "1.5", "1e3", str(2**64), str(-2**63 - 1), "99999999999999999999999", *NOT_NUMBERS]
BAD_COUNTS = ["0", *BAD_INTS]  # threads, jobs, batches, lengths: 0 is bad too
BAD_TEXT = ["", " ", "..", "../x", "a/b", "/", "nope", "x" * 300, "\t", "ℵ", "-", "lstm ", "LSTM!"]
RUN_TRAIN_SETS = ["train.lr", "train.clip_norm", "train.min_lr", "train.max_time_s", "train.target_coarse",
                  "train.batch_size", "train.max_epochs", "train.eval_batches", "model.hidden", "model.layers",
                  "model.embed", "task.train_max", "task.train_min", "task.vocab", "task.test_max"]
HUGE = ["1000000000000", "1e12", str(2**62)]
MALFORMED_CONFIGS = {"null": "null", "list": "[]", "empty": "{}", "broken": "{broken", "no-task": '{"model": "lstm"}',
                     "bad-model": '{"model": "nope", "task": "copy"}', "bad-seed": '{"model": "lstm", "task": "copy", "seed": -1}',
                     "binary": "\x00\xff\xfe", "deep": "[" * 5000 + "]" * 5000}
MALFORMED_RECORDS = {"mid-garbage": '{"a": 1}\nnot json\n{"b": 2}\n', "not-dicts": "[1, 2]\n3\n",
                     "empty-dict": "{}\n", "wrong-types": json.dumps(
                         {"model": 1, "task": [], "scale": "x", "seed": "y", "coarse": "z", "fine": None, "run_id": 5,
                          "length": {}, "checkpoint": 3, "lengths": 7, "trial": "t", "gamma_index": "g"}) + "\n",
                     "binary": "\x00\x01\x02\n"}


BAD_RUN_NAMES = [*MALFORMED_CONFIGS, "garbage-ckpt", "empty-ckpt", "no-ckpt"]
RESUMABLE = {"no-ckpt"}  # a run that never reached a checkpoint resumes from its start: not a bad input


#: bad inputs that other parts of memlab do not handle yet: the normal suite steps around them,
#: the exhaustive walk (MEMLAB_FUZZ_EXAMPLES=all) reports them. Delete a line once it is fixed.
KNOWN_ELSEWHERE: dict[str, str] = {}


def _known(argv: list[str]) -> str | None:
    import re

    line = " ".join(argv)
    return next((why for pat, why in KNOWN_ELSEWHERE.items() if re.search(pat, line)), None)


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but crash reports and run locks (a lock file stays by design)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and "reports" not in p.parts and p.name != ".lock"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A trained tiny run, malformed run folders and record files, and a plain file."""
    from memlab.experiments import EXPERIMENTS, get_experiment
    from memlab.training.run import train_run

    root = tmp_path_factory.mktemp("fuzz")
    train_run("lstm", "copy", {"model": {"hidden": 8, "layers": 1, "embed": 4},
                               "task": {"vocab": 4, "train_max": 3, "test_min": 2, "test_max": 3},
                               "train": {"max_epochs": 1, "eval_every": 1, "eval_batches": 1}},
              out=root / "store", name="good", progress=False)
    (root / "file").write_text("a file, not a folder\n")
    for name, text in MALFORMED_CONFIGS.items():
        (root / "bad-runs" / name).mkdir(parents=True)
        (root / "bad-runs" / name / "config.json").write_text(text, encoding="latin-1")
    good_cfg = (root / "store" / "good" / "config.json").read_text()
    for name, ckpt in {"garbage-ckpt": b"not a checkpoint", "empty-ckpt": b"", "no-ckpt": None}.items():
        d = root / "bad-runs" / name
        (d / "checkpoints").mkdir(parents=True)
        (d / "config.json").write_text(good_cfg)
        if ckpt is not None:
            (d / "checkpoints" / "last.pt").write_bytes(ckpt)
            (d / "checkpoints" / "best.pt").write_bytes(ckpt)
    for exp_name in EXPERIMENTS:
        try:
            exp = get_experiment(exp_name)
        except ImportError:
            continue
        for variant, text in MALFORMED_RECORDS.items():
            d = root / "bad-records" / exp_name / variant
            d.mkdir(parents=True)
            (d / exp.records_file).write_text(text, encoding="latin-1")
        d = root / "bad-records" / exp_name / "bad-meta"
        d.mkdir(parents=True)
        (d / exp.records_file).write_text("{}\n")
        (d / exp.meta_name).write_text("{not json")
    for variant, text in {"not-json": "{", "list": "[1]", "no-figures": '{"name": "x"}'}.items():
        (root / "bad-bench" / variant).mkdir(parents=True)
        (root / "bad-bench" / variant / "x.json").write_text(text)
    (root / "readme-missing-include").mkdir()
    (root / "readme-missing-include" / "README.md").write_text("<!-- include: nope.md -->\nx\n<!-- end include -->\n")
    (root / "no-readme").mkdir()
    return root


def _numeric_fields(cls) -> list[tuple[str, bool]]:
    """(field, is an int-like size) of an experiment config: the fields a number goes into. Seeds
    and iteration caps (a solver stops at its tolerance) may be huge."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        inner = typing.get_args(tp)[0] if typing.get_origin(tp) in (tuple, list) else tp
        if inner in (int, float):
            cap = "seed" in f.name or "max_" in f.name or f.name.endswith("_iters")
            out.append((f.name, inner is int and not cap))
    return out


def _product(*lists):
    import itertools

    return list(itertools.product(*lists))


_CASES: dict[Path, list[tuple[list, typing.Callable[..., list[str]]]]] = {}


def _cases(root: Path) -> list[tuple[list, typing.Callable[..., list[str]]]]:
    """(values, argv of a value) pairs: each argv holds exactly one bad value (or bad file)."""
    if root not in _CASES:
        _CASES[root] = _build_cases(root)
    return _CASES[root]


def _build_cases(root: Path) -> list[tuple[list, typing.Callable[..., list[str]]]]:
    from memlab.commands.listing import KINDS
    from memlab.experiments import EXPERIMENTS, get_experiment
    from memlab.models import MODELS
    from memlab.tasks import TASKS

    good, file, out = str(root / "store" / "good"), str(root / "file"), str(root / "out")
    bad_runs = [str(root / "bad-runs" / n) for n in BAD_RUN_NAMES] + [str(root / "missing"), file]
    files = [file, file + "/sub"]
    train = ["train", "--model", "lstm", "--task", "copy", "--out", out, "--no-progress", "--name", "f",
             "--set", "model.hidden=8", "model.layers=1", "model.embed=4", "task.vocab=4", "task.train_max=3",
             "task.test_min=2", "task.test_max=3", "train.max_epochs=1", "train.eval_every=1", "train.eval_batches=1"]
    verbs = {"list": ["list"], "train": train, "eval": ["eval", good], "run": ["run", "demo", "--quick", "--out", out],
             "table": ["table", "lantm-tables", "--out", out], "plot": ["plot", good, "--out", out],
             "bench": ["bench", "no-such"], "runs": ["runs", "--out", out],
             "merge": ["merge", "lantm-tables", "--from", str(root / "missing"), "--out", out]}
    cases: list[tuple[list, typing.Callable[..., list[str]]]] = [
        # options every verb has, and usage errors
        (_product(verbs, BAD_COUNTS), lambda t: verbs[t[0]] + ["--threads", t[1]]),
        (_product(verbs, ["--frob", "--set", "--out", "--threads"]), lambda t: verbs[t[0]] + [t[1]]),
        ([[], ["nope"], ["list", "gadgets"], ["run"], ["table"], ["plot"], ["bench"], ["eval"], ["merge"],
          ["merge", "demo"], ["merge", "demo", "--from"]], lambda v: v),
        # train
        (BAD_INTS, lambda v: train + ["--seed", v]),
        ([t for t in BAD_TEXT if t.strip() not in MODELS], lambda v: train + ["--model", v]),
        ([t for t in BAD_TEXT if t.strip() not in TASKS], lambda v: train + ["--task", v]),
        (["", ".", "..", "../x", "a/b", "/abs", "x\x00y", "x\ny", "x" * 300], lambda v: train + ["--name", v]),
        (["gpu", "cuda:x", "", "cuda:99", "nan", "cpu0"], lambda v: train + ["--device", v]),
        (files, lambda v: train + ["--out", v]),
        ([r for r in bad_runs if Path(r).name not in RESUMABLE], lambda v: ["train", "--resume", v, "--no-progress"]),
        (_product(RUN_TRAIN_SETS, ["-1", *NOT_NUMBERS]), lambda t: train + ["--set", f"{t[0]}={t[1]}"]),
        (["model.hidden", "train.batch_size", "task.train_max"],
         lambda k: train + ["--set", f"{k}={HUGE[0]}"]),
        (["nope=1", "train.nope=1", "=1", "train.lr", "a..b=1", "model=1", "train.lr=1=2x"],
         lambda v: train + ["--set", v]),
        # eval
        (bad_runs, lambda v: ["eval", v]),
        (["0", "-1", "", ",", "1,,2", "1.5", "10000000", "1e3", "2-1", *NOT_NUMBERS],
         lambda v: ["eval", good, "--scales", v]),
        (["0", "-5", "5-3", "1-", "-", "1-2-3", "0-4", "10000000", "1-10000000", *NOT_NUMBERS],
         lambda v: ["eval", good, "--lengths", v]),
        (_product(["batches", "batch_size"], ["0", "1000000000", *BAD_INTS]),
         lambda t: ["eval", good, "--set", f"{t[0]}={t[1]}"]),
        (["nope=1", "length=3", "batches"], lambda v: ["eval", good, "--set", v]),
        (["", "first", "BEST", "best.pt", "best0x", "bestx", "best4", "best1001x", "best\u0664x", "best-1x",
          "best4x"],  # best4x: the run tracked no scale, so it kept no best4x.pt
         lambda v: ["eval", good, "--checkpoint", v]),
        (files, lambda v: ["eval", good, "--set", "batches=1", "--out", v]),
        # plot
        (bad_runs, lambda v: ["plot", v, "--out", out]),
        (_product(["length", "seed"], ["100000000", *BAD_INTS]) + [("length", "0")],
         lambda t: ["plot", good, "--out", out, "--set", f"{t[0]}={t[1]}"]),
        (["checkpoint=first", "checkpoint=", "checkpoint=best0x", "checkpoint=best4x", "nope=1", "length"],
         lambda v: ["plot", good, "--out", out, "--set", v]),
        (files, lambda v: ["plot", good, "--out", v]),
        # table
        (BAD_TEXT, lambda v: ["table", v]),
        (["nope", "a/b", "file"], lambda v: ["table", "bench", "--set", f"records={root / v}", "--out", out]),
        (["not-json", "list", "no-figures"],
         lambda v: ["table", "bench", "--set", f"records={root / 'bad-bench' / v}", "--out", out]),
        (["readme-missing-include", "no-readme", "missing", "file"], lambda v: ["table", "readme", "--out", str(root / v)]),
        # merge
        (BAD_TEXT, lambda v: ["merge", v, "--from", out]),
        (["", "x\x00y"], lambda v: ["merge", "demo", "--from", v, "--out", out]),
        # bench, runs, list
        (BAD_TEXT, lambda v: ["bench", v]),
        (files, lambda v: ["runs", "--out", v]),
        (BAD_TEXT + [k.upper() for k in KINDS], lambda v: ["list", v]),
    ]
    for name in EXPERIMENTS:
        try:
            exp = get_experiment(name)
        except ImportError:
            continue
        base = ["run", name, "--quick", "--out", out, "--no-progress", "--jobs", "1"]
        fields = _numeric_fields(exp.config_cls)
        values = [(f, v) for (f, size), v in _product(fields, NOT_NUMBERS + HUGE) if size or v not in HUGE]
        recs = root / "bad-records" / name
        cases += [
            (values, lambda t, base=base: base + ["--set", f"{t[0]}={t[1]}"]),
            (["nope=1", "a.b=1", "=1"], lambda v, base=base: base + ["--set", v]),
            (BAD_COUNTS, lambda v, base=base: base + ["--jobs", v]),
            (BAD_INTS, lambda v, base=base: base + ["--seed", v]),
            (files, lambda v, name=name: ["run", name, "--quick", "--out", v]),
            ([*MALFORMED_RECORDS, "bad-meta"], lambda v, name=name, recs=recs: ["table", name, "--out", str(recs / v)]),
            (["mid-garbage", "not-dicts", "bad-meta", "binary"],
             lambda v, name=name, recs=recs: ["plot", name, "--out", str(recs / v)]),
            ([str(root / "missing"), file], lambda v, name=name: ["table", name, "--out", v]),
            ([*MALFORMED_RECORDS, "bad-meta"],
             lambda v, name=name, recs=recs: ["merge", name, "--from", str(recs / v), "--out", out]),
            ([str(root / "missing"), file], lambda v, name=name: ["merge", name, "--from", v, "--out", out]),
        ]
    return [(values, fn) for values, fn in cases if values]


def _strategy(root: Path) -> st.SearchStrategy[list[str]]:
    return st.one_of([st.sampled_from(values).map(fn) for values, fn in _cases(root)])


def _alarm(signum, frame):
    raise TimeoutError(f"one command ran over {FUZZ_SECONDS} s")


@settings(max_examples=max(FUZZ_EXAMPLES, 1), deadline=None, derandomize=FUZZ_EXAMPLES <= 100,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzz_bad_values_are_one_line_exit_2(sandbox, data, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MEMLAB_REPORT_DIR", str(sandbox / "reports"))
    from hypothesis import assume

    argv = data.draw(_strategy(sandbox), label="argv")
    assume(_known(argv) is None)
    try:
        _check_bad_argv(sandbox, argv)
    finally:
        shutil.rmtree(sandbox / "out", ignore_errors=True)


def _check_bad_argv(sandbox: Path, argv: list[str]) -> None:
    """``argv`` exits 2 with one line on stderr, no traceback, and writes nothing."""
    before = _snapshot(sandbox)
    err, outbuf = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(FUZZ_SECONDS)
    try:
        with redirect_stderr(err), redirect_stdout(outbuf):
            code = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    text = err.getvalue()
    lines = [l for l in text.splitlines() if l.strip()]
    assert code == 2, f"{argv!r}: exit {code}; stderr {text!r}"
    assert len(lines) == 1 and "Traceback" not in text, f"{argv!r}: stderr {text!r}"
    after = _snapshot(sandbox)
    assert after == before, f"{argv!r} wrote {sorted(set(after) ^ set(before)) or 'into existing files'}"
    assert not (sandbox / "out").exists() or not any((sandbox / "out").rglob("*")), f"{argv!r} left files in out/"


@pytest.mark.skipif(_FUZZ != "all", reason="exhaustive walk only with MEMLAB_FUZZ_EXAMPLES=all")
def test_every_bad_value_of_every_option(sandbox, monkeypatch):
    """Every case of the walk above, one after another; failures are collected, then reported."""
    monkeypatch.setenv("MEMLAB_REPORT_DIR", str(sandbox / "reports"))
    failures = []
    for values, fn in _cases(sandbox):
        for v in values:
            try:
                _check_bad_argv(sandbox, fn(v))
            except AssertionError as e:
                why = _known(fn(v))
                failures.append(str(e).splitlines()[0][:300] + (f" (known: {why})" if why else ""))
            finally:
                shutil.rmtree(sandbox / "out", ignore_errors=True)
    assert not failures, f"{len(failures)} bad inputs not handled:\n" + "\n".join(failures)


#: bad inputs fixed after the walk found them (kept explicit: a sampled walk may miss them)
FORMERLY_KNOWN = [
    ["train", "--resume", "{root}/bad-runs/deep", "--no-progress"],
    ["eval", "{root}/bad-runs/deep"],
    ["train", "--resume", "{root}/bad-runs/garbage-ckpt", "--no-progress"],
    ["train", "--resume", "{root}/bad-runs/empty-ckpt", "--no-progress"],
    ["run", "stm-recall-length", "--quick", "--out", "{root}/out", "--set", "trials=1000000000000"],
    ["run", "capacity-hopfield", "--quick", "--out", "{root}/out", "--set", "starts=1000000000000"],
    ["run", "capacity-sdm", "--quick", "--out", "{root}/out", "--set", "cues=1e12"],
    ["run", "capacity-sdm", "--quick", "--out", "{root}/out", "--set", "noise_levels=[]"],
    ["run", "capacity-cmm", "--quick", "--out", "{root}/out", "--set", "correlations="],
    ["run", "esn-capacity", "--quick", "--out", "{root}/out", "--set", f"trials={2**62}"],
    ["run", "lsm-separation", "--quick", "--out", "{root}/out", "--set", f"pairs={2**62}"],
    ["table", "esn-capacity", "--out", "{root}/bad-records/esn-capacity/wrong-types"],
    ["table", "lsm-delayed-recall", "--out", "{root}/bad-records/lsm-delayed-recall/empty-dict"],
]


@pytest.mark.parametrize("argv", FORMERLY_KNOWN, ids=lambda a: " ".join(a[:2] + a[-1:]).replace("{root}/", ""))
def test_formerly_known_bad_inputs(sandbox, argv, monkeypatch):
    monkeypatch.setenv("MEMLAB_REPORT_DIR", str(sandbox / "reports"))
    try:
        _check_bad_argv(sandbox, [a.replace("{root}", str(sandbox)) for a in argv])
    finally:
        shutil.rmtree(sandbox / "out", ignore_errors=True)
