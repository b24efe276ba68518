"""Every committed table/summary under results/ re-renders from its committed records, byte for
byte (`memlab table EXPERIMENT`), for every registered experiment."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

from memlab.experiments import EXPERIMENTS, get_experiment
from memlab.experiments.runner import render_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_committed_summaries_rerender_from_records(name, tmp_path):
    try:
        exp = get_experiment(name)
    except ImportError as e:  # a registry line whose module has not landed yet
        pytest.skip(f"experiment {name} is registered but its module does not import yet: {e}")
    committed = ROOT / exp.default_out
    if not exp.records_paths(committed):
        pytest.skip(f"{name}: no committed records at {exp.default_out}/{exp.records_file}")
    _rerenders(exp, exp.default_out, tmp_path, f"memlab table {name}")


def _rerenders(exp, folder: str, tmp_path: Path, command: str) -> None:
    """Render ``exp`` from copies of the data files in ``folder`` (records, meta files, other
    experiments' records; never the rendered markdown, figures or pages) and compare every
    markdown file it writes with the committed one, byte for byte."""
    committed = ROOT / folder
    for p in committed.iterdir():
        if p.is_file() and p.suffix not in (".md", ".png", ".html"):
            shutil.copy2(p, tmp_path / p.name)
    render_experiment(exp, tmp_path, plots=False)
    rendered = sorted(tmp_path.glob("*.md"))
    assert rendered, f"{exp.name} rendered no markdown from the records in {folder}"
    for p in rendered:
        ref = committed / p.name
        assert ref.exists(), f"{exp.name} renders {p.name}, which is not committed under {folder}"
        assert p.read_bytes() == ref.read_bytes(), (
            f"{folder}/{p.name} differs from its re-rendering; run `{command}` and compare")


def _other_result_folders() -> list[tuple[str, str]]:
    """(experiment, folder) of every committed results folder besides an experiment's default one
    (a second board, a reduced run): those whose meta file names the experiment."""
    import json

    out = []
    for meta in sorted((ROOT / "results").rglob("*meta.json")):
        name = json.loads(meta.read_text()).get("experiment")
        if name in EXPERIMENTS and meta.parent != ROOT / get_experiment(name).default_out:
            out.append((name, str(meta.parent.relative_to(ROOT))))
    return out


@pytest.mark.parametrize("name, folder", _other_result_folders())
def test_other_committed_result_folders_rerender_from_records(name, folder, tmp_path):
    """The same for the other folders (`--out DIR`): e.g. results/leaderboard-300s, a reduced run."""
    _rerenders(get_experiment(name), folder, tmp_path, f"memlab table {name} --out {folder}")


def test_every_registered_module_defines_its_experiment():
    for name, module in EXPERIMENTS.items():
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        assert mod.EXPERIMENT.name == name and mod.EXPERIMENT.title


def test_benchmarks_md_rerenders_from_records(tmp_path):
    from memlab.commands.table import render_benchmarks

    out = render_benchmarks(ROOT / "results" / "bench", tmp_path / "BENCHMARKS.md")
    assert out.read_bytes() == (ROOT / "BENCHMARKS.md").read_bytes(), "run `memlab table bench`"


def test_readme_blocks_equal_the_files_they_include(tmp_path):
    from memlab.commands.table import _INCLUDE

    text = (ROOT / "README.md").read_text()
    blocks = list(_INCLUDE.finditer(text))
    assert blocks
    for m in blocks:
        body = (ROOT / m.group("path")).read_text().rstrip("\n") + "\n"
        assert m.group("body") == body, f"README block of {m.group('path')} is stale; run `memlab table readme`"
