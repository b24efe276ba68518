"""Leaderboard records for the report tests: H-LB's committed fixture
(tests/experiments/fixtures/leaderboard_records.jsonl) and a synthetic one made here, whose
numbers are chosen so that hand-checked medians, numeric-vs-text sorting, every status, every
automaton class and present/missing figure files are all exercised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

LB_FIXTURE = Path(__file__).resolve().parents[1] / "experiments" / "fixtures" / "leaderboard_records.jsonl"


def _cell(model: str, task: str, seed: int, automaton: str, status: str, *, scores: list[dict],
          params: int, wall: float = 10.0, to_target: int | None = None, state_size: int | None = None,
          profile: dict | None = None, figures: list[str] | None = None, reason: str | None = None) -> dict:
    return {"experiment": "leaderboard", "commit": "f" * 40, "dirty": False, "time": "2026-12-02T22:00:00Z",
            "config_hash": "synthetic000", "unit": f"{model}/{task}/s{seed}", "model": model, "task": task,
            "seed": seed, "automaton": automaton, "status": status, "reason": reason, "scores": scores,
            "target_coarse": 0.99, "sequences_to_target": to_target, "sequences_seen": 0 if status == "n/a" else 640,
            "epochs": 0 if status == "n/a" else 2, "train_wall_s": 0.0 if status == "n/a" else wall,
            "train_cpu_s": wall, "params": 0 if status == "n/a" else params,
            "seq_per_s": 0.0 if status == "n/a" else 640 / wall, "budget_s": 30.0, "state_size": state_size,
            "profile": profile, "profile_reason": None if profile else "not profiled in this fixture",
            "run": "" if status == "n/a" else f"runs/leaderboard/{model}-{task}-s{seed}",
            "figures": figures or []}


def _scales(coarse: list[float | None], fine: list[float | None]) -> list[dict]:
    return [{"scale": s, "length": None, "lo": 1, "hi": 20 * s, "fine": f, "coarse": c, "n_sequences": 32}
            for s, c, f in zip((1, 2, 4, 8), coarse, fine)]


def _lengths(coarse: list[float | None]) -> list[dict]:
    return [{"scale": None, "length": n, "lo": n, "hi": n, "fine": c, "coarse": c, "n_sequences": 16}
            for n, c in zip((5, 10, 20), coarse)]


PROFILE = {"capacity": 3.5, "state_size": 120, "curve": [[1, 0.1], [2, 0.3], [3, 0.7]], "measure": "test measure"}


def synthetic_records(existing_figure: str) -> list[dict]:
    """3 models × 3 tasks (copy: scales; parity: regular; dup: cs) × 3 seeds (the n/a model only 1).

    alpha/copy coarse 1x per seed: 0.2, 0.9, 0.5 -> median 0.5, spread 0.2–0.9; params 9000 (alpha),
    120000 (beta), 45 (gamma): sorted as text "120000" < "45" < "9000", as numbers 45 < 9000 < 120000.
    """
    recs = []
    for seed, c1 in zip((0, 1, 2), (0.2, 0.9, 0.5)):
        recs.append(_cell("alpha", "copy", seed, "transduction", "done", params=9000, wall=10.0 + seed,
                          scores=_scales([c1, 0.4, 0.2, 0.1], [1.0, 0.8, 0.6, 0.4]), to_target=[100, None, 300][seed],
                          state_size=120, profile=PROFILE if seed == 0 else None,
                          figures=[existing_figure, "runs/leaderboard/does-not-exist.png"] if seed == 0 else []))
        status = ["done", "diverged", "timeout"][seed]
        recs.append(_cell("beta", "copy", seed, "transduction", status, params=120000, wall=30.0,
                          scores=_scales([None] * 4 if status == "diverged" else [0.7, 0.6, 0.5, 0.4], [0.9] * 4),
                          reason="non-finite losses" if status == "diverged" else None))
        recs.append(_cell("alpha", "parity", seed, "regular", "done", params=9000,
                          scores=_lengths([1.0, 0.5, 0.0 + 0.1 * seed])))
        recs.append(_cell("beta", "parity", seed, "regular", "failed" if seed == 2 else "done", params=120000,
                          scores=[] if seed == 2 else _lengths([0.8, 0.8, 0.8]), reason="error while scoring"
                          if seed == 2 else None))
        recs.append(_cell("alpha", "dup", seed, "cs", "timeout", params=9000, scores=_lengths([0.6, 0.3, 0.0])))
        recs.append(_cell("beta", "dup", seed, "cs", "done", params=120000, scores=_lengths([0.9, 0.9, 0.9]),
                          state_size=64, profile={**PROFILE, "capacity": 7.0, "state_size": 64} if seed == 0 else None))
    for task, auto in (("copy", "transduction"), ("parity", "regular"), ("dup", "cs")):
        recs.append(_cell("gamma", task, 0, auto, "n/a", params=45, scores=[],
                          reason=f"gamma cannot be built for {task}"))
    # gamma is built for nothing, so give the params column a third numeric value through a built cell
    recs.append(_cell("delta", "copy", 0, "transduction", "done", params=45, wall=5.0,
                      scores=_scales([0.3, 0.2, 0.1, 0.0], [0.5, 0.4, 0.3, 0.2]), to_target=50))
    return recs


def write_jsonl(path: Path, recs: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def make_synthetic(root: Path) -> Path:
    """root/results/leaderboard/records.jsonl of :func:`synthetic_records`, with one existing
    figure file (root/runs/leaderboard/alpha-copy-s0/curve.png) and one missing."""
    fig = root / "runs" / "leaderboard" / "alpha-copy-s0" / "curve.png"
    fig.parent.mkdir(parents=True)
    fig.write_bytes(b"\x89PNG\r\n\x1a\n")
    return write_jsonl(root / "results" / "leaderboard" / "records.jsonl",
                       synthetic_records("runs/leaderboard/alpha-copy-s0/curve.png"))


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    return make_synthetic(tmp_path)


@pytest.fixture(scope="session")
def synthetic_page(tmp_path_factory) -> tuple[Path, str]:
    """(records path, the page rendered beside them from root) of the synthetic records, drawn once
    per test process (the figures take seconds; the report tests share one xdist group)."""
    from memlab.report.html import render_html
    from memlab.report.records import load_records

    path = make_synthetic(tmp_path_factory.mktemp("synthetic"))
    return path, render_html(load_records(path), str(path), path.parent, base=path.parents[2])


@pytest.fixture(scope="session")
def lb_page(tmp_path_factory) -> tuple[Path, str]:
    """(H-LB's fixture, its page), drawn once per test process."""
    from memlab.report.html import render_html
    from memlab.report.records import load_records

    if not LB_FIXTURE.is_file():
        pytest.skip(f"{LB_FIXTURE} is not in this checkout")
    return LB_FIXTURE, render_html(load_records(LB_FIXTURE), str(LB_FIXTURE), tmp_path_factory.mktemp("lb"))


@pytest.fixture
def lb_fixture() -> Path:
    if not LB_FIXTURE.is_file():
        pytest.skip(f"{LB_FIXTURE} is not in this checkout")
    return LB_FIXTURE
