"""Liquid state machine: the LIF update against Brian2 spike for spike (a stored Brian2 run, and a
live one when brian2 imports), hand-checked neuron behaviour (leak, threshold, reset, refractory
clamp), the liquid's structure, the core's contract, and one-line errors."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from memlab.controllers.lsm import LIFParams, LSMConfig, LSMCore, LSMState, lif_run, lif_step, make_liquid
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core

DATA = Path(__file__).with_name("data")
D = torch.float64


def _params(p: dict) -> LIFParams:
    cfg = LSMConfig(tau_m=p["tau_m"], v_rest=p["v_rest"], v_background=p["v_background"], v_thresh=p["v_thresh"],
                    v_reset=p["v_reset"], refractory=p["refractory"], dt=p["dt"])
    return cfg.params()


def _memlab_run(net: dict) -> tuple[list[list[int]], np.ndarray]:
    W, W_in = torch.tensor(net["W"], dtype=D), torch.tensor(net["W_in"], dtype=D)
    u = torch.tensor(net["spikes"], dtype=D).unsqueeze(1)  # (T, 1, I)
    p = _params(net["params"])
    z = torch.zeros(1, W.shape[0], dtype=D)
    _, S, _ = lif_run(u, LSMState(z + net["params"]["v_rest"], z, z, z), W, W_in, p)
    spikes = [[int(t), int(i)] for t, i in torch.nonzero(S[:, 0]).tolist()]
    vs = []  # v after every step, recomputed to compare with Brian2's StateMonitor(when="end")
    st = LSMState(z + net["params"]["v_rest"], z, z, z)
    for u_t in u.unbind(0):
        st = lif_step(u_t, st, W, W_in, p)
        vs.append(st.v[0].numpy())
    return spikes, np.stack(vs)  # (T, N)


def test_lif_matches_the_stored_brian2_run():
    golden = json.loads((DATA / "lsm_brian2_golden.json").read_text())
    spikes, v = _memlab_run(golden)
    assert len(golden["brian2"]["spikes"]) > 100  # an active liquid, not a trivial one
    assert spikes == golden["brian2"]["spikes"]
    np.testing.assert_allclose(v, np.array(golden["brian2"]["v"]), rtol=0, atol=1e-9)


def test_lif_matches_a_live_brian2_run():
    try:
        import brian2  # noqa: F401  optional test dependency (pyproject dev extra)
    except Exception as e:  # brian2 2.9 fails to import with numpy >= 2.4 (AttributeError: ndarray.ptp)
        pytest.skip(f"brian2 not importable ({type(e).__name__}: {e}); the stored Brian2 run is checked instead")
    import importlib.util

    spec = importlib.util.spec_from_file_location("lsm_brian2_reference", DATA / "lsm_brian2_reference.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    net = ref.small_network(seed=1)
    out = ref.brian2_run(net)
    spikes, v = _memlab_run(net)
    assert spikes == out["spikes"]
    np.testing.assert_allclose(v, np.array(out["v"]), rtol=0, atol=1e-9)


def test_single_neuron_leak_threshold_reset_and_refractory_clamp():
    cfg = LSMConfig(tau_m=10.0, v_background=0.0, v_thresh=1.0, v_reset=0.0, refractory=3.0, dt=1.0)
    p = cfg.params()
    W = torch.zeros(1, 1, dtype=D)
    W_in = torch.ones(1, 1, dtype=D)
    z = torch.zeros(1, 1, dtype=D)
    st = LSMState(z, z, z, z)
    st = lif_step(torch.tensor([[0.6]], dtype=D), st, W, W_in, p)  # jump to 0.6, no spike
    assert float(st.v) == pytest.approx(0.6) and float(st.s) == 0
    st = lif_step(torch.tensor([[0.6]], dtype=D), st, W, W_in, p)  # leak then jump: 0.6 e^{-0.1} + 0.6
    assert float(st.v) == pytest.approx(0.6 * math.exp(-0.1) + 0.6)
    st = lif_step(torch.tensor([[0.0]], dtype=D), st, W, W_in, p)  # above θ after the leak: spike, reset
    assert float(st.s) == 1 and float(st.v) == 0.0 and float(st.r) == pytest.approx(1.0)
    for _ in range(2):  # refractory (3 ms = the spike step + 2): inputs are ignored, v stays at reset
        st = lif_step(torch.tensor([[5.0]], dtype=D), st, W, W_in, p)
        assert float(st.v) == 0.0 and float(st.s) == 0
    st = lif_step(torch.tensor([[5.0]], dtype=D), st, W, W_in, p)  # free again: the jump counts
    assert float(st.v) == 5.0
    assert float(st.r) == pytest.approx(math.exp(-3 / 30.0))  # filtered spike train decays with τ_r


def test_liquid_structure_is_seeded_with_dale_signs():
    W, W_in = make_liquid(2, 50, 0.8, 0.2, 1.5, 4.0, 0.3, 8.0, seed=3)
    assert W.shape == (50, 50) and W_in.shape == (50, 2)
    assert (W[:, :40] >= 0).all() and (W[:, 40:] <= 0).all() and torch.diagonal(W).abs().sum() == 0
    assert 0.15 < float((W != 0).double().mean()) < 0.25 and (W_in >= 0).all()
    assert torch.equal(W, make_liquid(2, 50, 0.8, 0.2, 1.5, 4.0, 0.3, 8.0, seed=3)[0])
    assert not torch.equal(W, make_liquid(2, 50, 0.8, 0.2, 1.5, 4.0, 0.3, 8.0, seed=4)[0])


@pytest.mark.parametrize("readout", [True, False])
def test_sequence_equals_stepping_and_the_liquid_spikes(readout):
    core = LSMCore(input_size=2, hidden_size=6, n_neurons=30 if readout else 0, readout=readout).double()
    xs = (torch.rand(40, 3, 2, generator=torch.Generator().manual_seed(0), dtype=D) < 0.3).to(D)
    ys, st = core.forward_sequence(xs)
    ys_ref, st_ref = run_core(core, xs)
    assert ys.shape == (40, 3, 6)
    torch.testing.assert_close(ys, ys_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(st.v, st_ref.v)
    _, S, R = core.run(xs)
    assert S.sum() > 0 and set(S.unique().tolist()) <= {0.0, 1.0} and (R >= 0).all()
    if readout:
        ys.square().sum().backward()
        assert core.out.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("key,value,msg", [
    ("tau_m", 0.0, "tau_m=0.0 is out of range; allowed: > 0.0"),
    ("dt", -1.0, "dt=-1.0 is out of range; allowed: > 0.0"),
    ("refractory", -1.0, "refractory=-1.0 is out of range; allowed: >= 0.0"),
    ("v_thresh", 13.0, "v_thresh=13.0 is out of range; allowed: > 13.5"),
    ("connectivity", 1.5, r"connectivity=1.5 is out of range; allowed: >= 0.0 and <= 1.0"),
    ("w_in", float("nan"), "w_in=nan is not allowed; it must be a finite number"),
    ("tau_readout", float("inf"), "tau_readout=inf is not allowed"),
])
def test_bad_settings_are_one_line_errors(key, value, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        LSMCore(input_size=1, hidden_size=4, **{key: value})
    assert "\n" not in str(e.value)


def test_a_refractory_period_longer_than_the_simulation_is_an_error():
    core = LSMCore(input_size=1, hidden_size=4, refractory=20.0, dt=1.0)
    with pytest.raises(ConfigError, match=r"refractory=20.0 ms is longer than the simulation \(10 steps × dt=1.0 ms = 10 ms\); allowed: refractory <= 10"):
        core.forward_sequence(torch.zeros(10, 1, 1))
    core.forward_sequence(torch.zeros(20, 1, 1))


def test_the_lsm_model_trains_only_its_readout():
    from memlab.models import build_model
    from memlab.tasks import make_task

    task = make_task("ntm-copy")
    model = build_model("lsm", task.spec, overrides={"n_neurons": 30})
    W = model.core.W.clone()
    batch = task.sample_range(4, *task.train_range, torch.Generator().manual_seed(0))
    before = model.readout.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    task.loss(model(batch), batch).backward()
    opt.step()
    assert torch.equal(model.core.W, W) and not torch.equal(model.readout.weight, before)
    with pytest.raises(ConfigError, match="refractory=-2.0 is out of range"):
        build_model("lsm", task.spec, overrides={"refractory": -2.0})
