"""esn-capacity, lsm-separation, lsm-delayed-recall: quick runs write records that say what the
theory says (MC ≈ closed form ≤ N; state distance grows with input distance; recall at k = 0 beats
chance), resume without recomputing, re-render their markdown from records; bad settings are
one-line errors."""

from __future__ import annotations

import pytest
import torch

from memlab.cli import main
from memlab.core.io import read_jsonl
from memlab.experiments import get_experiment
from memlab.experiments.runner import render_experiment, run_experiment

STEMS = {"esn-capacity": "esn_capacity", "lsm-separation": "lsm_separation", "lsm-delayed-recall": "lsm_delayed_recall"}


@pytest.mark.parametrize("name", list(STEMS))
def test_quick_run_resumes_and_rerenders(name, tmp_path):
    exp, stem = get_experiment(name), STEMS[name]
    head = run_experiment(exp, quick=True, out_dir=tmp_path, jobs=1, progress=False)
    assert head["units_run"] == head["units"] >= 2
    recs = read_jsonl(tmp_path / f"{stem}.jsonl")
    assert recs and all(r["kind"] == "point" and r["config_hash"] == head["config_hash"] for r in recs)
    assert all("unit_wall_s" in r and "commit" in r for r in recs)
    assert (tmp_path / f"{stem}.png").stat().st_size > 1000
    md = (tmp_path / f"{stem}.md").read_text()
    assert "wall clock" in md
    again = run_experiment(exp, quick=True, out_dir=tmp_path, jobs=1, progress=False, plots=False)
    assert again["units_run"] == 0 and len(read_jsonl(tmp_path / f"{stem}.jsonl")) == len(recs)
    (tmp_path / f"{stem}.md").unlink()
    render_experiment(exp, tmp_path, plots=False)
    assert (tmp_path / f"{stem}.md").read_text() == md
    if name == "esn-capacity":
        for r in recs:
            assert r["MC_test"] <= r["N"] + 0.1
            if r["activation"] == "linear":  # the trained readout reaches the optimum at the same noise, ≤ N
                assert r["MC_closed"] <= r["N"] and r["MC_closed"] == pytest.approx(r["MC_closed_kmax"], rel=0.05)
                assert r["MC_test"] == pytest.approx(r["MC_closed_kmax"], rel=0.05)
    elif name == "lsm-separation":
        by = sorted(recs, key=lambda r: r["level"])
        assert by[0]["input_distance"] < by[-1]["input_distance"]
        assert by[0]["state_distance_mean"] < by[-1]["state_distance_mean"] and head["spearman"] > 0.5
    else:
        for r in recs:
            assert r["accuracy"][0] > r["chance"] + 0.3


def test_capacity_unit_is_independent_of_the_other_units():
    """A unit's record depends on its own (N, activation, seed) only: the same unit alone = inside a sweep."""
    from memlab.core.config import from_dict
    from memlab.experiments.esn_capacity import ESNCapacityConfig, capacity_unit

    small = from_dict(ESNCapacityConfig, {"sizes": (6,), "k_max": 10, "T": 600, "washout": 50, "trials": 1})
    wide = from_dict(ESNCapacityConfig, {"sizes": (6, 12), "k_max": 10, "T": 600, "washout": 50, "trials": 1})
    a, b = capacity_unit(6, "tanh", small, 7), capacity_unit(6, "tanh", wide, 7)
    assert a["MC_test"] == pytest.approx(b["MC_test"], rel=1e-12)  # BLAS threading: last-bit differences only
    assert {k: v for k, v in a.items() if k != "MC_test"} == {k: v for k, v in b.items() if k != "MC_test"}


def test_spike_move_and_input_distance():
    from memlab.experiments.lsm_separation import input_distance, move_spikes, poisson_trains

    g = torch.Generator().manual_seed(0)
    u = poisson_trains(g, 3, 200, 2, 50.0)
    assert torch.equal(move_spikes(u, 1e-12, g), u)
    v = move_spikes(u, 1.0, g)
    assert v.sum() <= u.sum() and v.sum() >= 0.8 * u.sum()
    d0, d1 = input_distance(u, u, 5.0), input_distance(u, v, 5.0)
    assert d0.abs().max() == 0 and (d1 > 0).all()
    one = torch.zeros(100, 1, 1, dtype=torch.float64)
    one[50] = 1.0  # a single spike: ‖k‖ / T with k(t) = exp(−(t/5)²) on a 1 ms grid
    k = torch.exp(-(torch.arange(-15, 16, dtype=torch.float64) / 5.0) ** 2)
    assert float(input_distance(one, torch.zeros_like(one), 5.0)) == pytest.approx(float(k.norm()) / 100)


@pytest.mark.parametrize("name, setting, message", [
    ("esn-capacity", "sizes=0", "sizes=0 is out of range"),
    ("esn-capacity", "spectral_radius=0", "spectral_radius=0.0 is out of range; allowed: > 0.0"),
    ("esn-capacity", "leak=1.5", "leak=1.5 is out of range; allowed: > 0.0 and <= 1.0"),
    ("esn-capacity", "input_scaling=nan", "input_scaling=nan is not allowed; it must be a finite number"),
    ("esn-capacity", "activations=relu", "activations='relu' is not allowed; choose one of linear, tanh"),
    ("esn-capacity", "T=100", "T=100 is out of range; allowed: >= 1204"),
    ("lsm-separation", "levels=0", "levels=0.0 is out of range; allowed: > 0.0 and <= 1.0"),
    ("lsm-separation", "rate_hz=inf", "rate_hz=inf is not allowed; it must be a finite number"),
    ("lsm-separation", "pairs=1", "pairs=1 is out of range; allowed: >= 2"),
    ("lsm-delayed-recall", "models=gru", "models='gru' is not allowed; choose one of lsm, esn"),
    ("lsm-delayed-recall", "washout=2", "washout=2 is out of range; allowed: >= 10"),
    ("lsm-delayed-recall", "train_seqs=5000 length=20000", "need more than 4 GiB"),
])
def test_bad_settings_are_one_line_errors(name, setting, message, tmp_path, capsys):
    assert main(["run", name, "--out", str(tmp_path), "--set", *setting.split()]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not list(tmp_path.glob("*.jsonl"))
