"""Hopfield network (seed 001 eq. 2.22–2.25)."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.hopfield import (
    Hopfield,
    async_sweep,
    async_unit_update,
    classify_states,
    energy,
    flip_bits,
    hebbian_weights,
    one_step_bit_error,
    random_patterns,
    run_async,
    run_sync,
)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_hebbian_weights_symmetric_zero_diagonal():
    p = random_patterns(3, 5, 20, g())
    W = hebbian_weights(p)
    assert W.shape == (3, 20, 20)
    assert torch.equal(W, W.transpose(-1, -2))
    assert torch.all(torch.diagonal(W, dim1=-2, dim2=-1) == 0)
    # eq. 2.24 elementwise for one entry
    assert W[1, 2, 7] == (p[1, :, 2] * p[1, :, 7]).sum()


def test_energy_never_increases_under_async_updates():
    gen = g(1)
    p = random_patterns(2, 12, 40, gen)  # above capacity: many flips, spurious minima
    W = hebbian_weights(p)
    x = random_patterns(2, 6, 40, gen)
    e = energy(W, x)
    changed = 0
    for _ in range(3):
        for i in torch.randperm(40, generator=gen).tolist():
            new = async_unit_update(W, x, i)
            e_new = energy(W, new)
            assert torch.all(e_new <= e + 1e-4)
            changed += int((new != x).any())
            x, e = new, e_new
    assert changed > 0  # the check above saw real updates


def test_fast_sweep_matches_reference():
    gen = g(2)
    p = random_patterns(2, 8, 30, gen)
    W = hebbian_weights(p)
    x = random_patterns(2, 4, 30, gen)
    order = torch.randperm(30, generator=gen)
    ref = x
    for i in order.tolist():
        ref = async_unit_update(W, ref, i)
    fast, flips = async_sweep(W, x, order)
    assert torch.equal(fast, ref)
    assert torch.equal(flips, (fast != x).sum(-1))


def test_stored_patterns_are_fixed_points_at_low_load():
    p = random_patterns(4, 3, 200, g(3))  # Q/N = 0.015
    W = hebbian_weights(p)
    assert torch.all(one_step_bit_error(p) == 0)
    rep = classify_states(W, p, p)
    assert rep.fixed.all() and rep.stored.all() and not rep.spurious.any()


def test_recall_from_corrupted_cue_async_and_sync():
    p = random_patterns(2, 5, 200, g(4))
    cue = flip_bits(p, 30, g(5))
    for update in ("async", "sync"):
        mem = Hopfield(200, update=update, seed=0)
        mem.store(p)
        out = mem.recall(cue)
        assert out.shape == (2, 5, 200)
        assert torch.equal(out, p)
        assert mem.last.converged.all()


def test_mirror_and_spurious_detection():
    p = random_patterns(1, 3, 101, g(6))
    W = hebbian_weights(p)
    mix = torch.sign(p.sum(1, keepdim=True))  # the symmetric 3-mixture, a classic spurious state
    fin = run_async(W, mix, g(7)).state
    rep = classify_states(W, torch.cat([fin, -p[:, :1]], 1), p)
    assert rep.mirror[0, 1] and rep.fixed[0, 1] and not rep.spurious[0, 1]
    if not rep.stored[0, 0]:  # converged to the mixture (usual) rather than a stored pattern
        assert rep.spurious[0, 0] and rep.fixed[0, 0]


def test_one_step_error_grows_with_load():
    low = one_step_bit_error(random_patterns(4, 10, 200, g(8))).mean()
    high = one_step_bit_error(random_patterns(4, 60, 200, g(8))).mean()
    assert low < 0.01 < high


def test_sync_reaches_fixed_point_or_reports_cycle():
    p = random_patterns(1, 30, 50, g(9))
    d = run_sync(hebbian_weights(p), random_patterns(1, 20, 50, g(10)), max_steps=50)
    assert d.state.shape == (1, 20, 50)
    # converged states are fixed points
    W = hebbian_weights(p)
    rep = classify_states(W, d.state, p)
    assert torch.all(rep.fixed[d.converged])


def test_unbatched_inputs():
    p = random_patterns(1, 2, 64, g(11))[0]
    mem = Hopfield(64)
    mem.store(p)
    assert mem.recall(p).shape == (2, 64)
    assert mem.energy(p).shape == (2,)


def test_bad_arguments():
    mem = Hopfield(16)
    with pytest.raises(ConfigError, match=r"contains 0\.5.*allowed values: -1, \+1"):
        mem.store(torch.full((3, 16), 0.5))
    with pytest.raises(ConfigError, match=r"shape \(1, 3, 15\).*16"):
        mem.store(torch.ones(1, 3, 15))
    with pytest.raises(ConfigError, match="update='x'.*async, sync"):
        Hopfield(16, update="x")
    with pytest.raises(ConfigError, match="size=0"):
        Hopfield(0)
    with pytest.raises(ConfigError, match="recall before store"):
        Hopfield(16).recall(torch.ones(1, 16))
    mem.store(torch.ones(2, 16))
    with pytest.raises(ConfigError, match="cues contains"):
        mem.recall(torch.zeros(2, 16))
    with pytest.raises(ConfigError, match="auto-associative"):
        Hopfield(4).store(torch.ones(1, 4), -torch.ones(1, 4))


def test_crossing_helper_golden():
    from memlab.theory.capacity import crossing, crossing_or_bound, hopfield_one_step_capacity_theory

    assert crossing([0.1, 0.2, 0.3], [0.0, 0.02, 0.04], 0.01) == pytest.approx(0.15)
    assert crossing([0.1, 0.2], [1.0, 0.0], 0.5) == pytest.approx(0.15)
    assert crossing([0.1, 0.2], [0.0, 0.001], 0.01) is None
    assert crossing_or_bound([1, 2], [0.5, 0.4], 0.99) == "< 1"
    assert crossing_or_bound([1, 2], [1.0, 1.0], 0.99) == "> 2"
    assert hopfield_one_step_capacity_theory(0.01) == pytest.approx(0.1848, abs=1e-4)


def test_capacity_experiment_quick_records():
    from memlab.core.config import from_dict
    from memlab.theory.capacity import QUICK, HopfieldCapacityConfig, run_hopfield, summarize_hopfield

    cfg = from_dict(HopfieldCapacityConfig, QUICK["hopfield"])
    recs = run_hopfield(cfg, progress=False)
    again = run_hopfield(cfg, progress=False)
    assert [r["bit_error"] for r in recs if r["part"] == "one_step"] == [r["bit_error"] for r in again if r["part"] == "one_step"]
    one = sorted((r for r in recs if r["part"] == "one_step"), key=lambda r: r["load"])
    assert one[0]["bit_error"] < one[-1]["bit_error"]
    head = summarize_hopfield(recs)
    assert "0.18N" in head["criterion_one_step"] and "0.138" in head["criterion_stable"]
    assert set(head["one_step_capacity"]) == {"60"}
    with pytest.raises(ConfigError, match="cue_noise=0.7"):
        from_dict(HopfieldCapacityConfig, {"cue_noise": 0.7})


def test_self_coupling_only_removes_flips():
    # eq. 2.24 literally keeps w_ii = Q: h_i gains Q x_i, so a bit can only flip if it also flips without it
    p = random_patterns(3, 40, 100, g(12))
    assert torch.all(torch.diagonal(hebbian_weights(p, zero_diagonal=False), dim1=-2, dim2=-1) == 40)
    e0 = one_step_bit_error(p)
    e1 = one_step_bit_error(p, zero_diagonal=False)
    assert torch.all(e1 <= e0) and e1.mean() < e0.mean()
