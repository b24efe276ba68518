"""Echo state network: the leaky update by hand, reservoirpy computes the same states and ridge
readout, the trained readout's linear memory capacity matches memlab's closed form (MC → N),
a diverging reservoir is reported, bad settings are one-line errors."""

import warnings

import numpy as np
import pytest
import torch

from memlab.controllers.esn import (
    ESNCore, ReservoirDiverges, ReservoirWarning, esn_states, esn_step, make_reservoir, ridge_readout, spectral_radius,
)
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core
from memlab.theory.memory_capacity import memory_capacity_closed_form, memory_function_closed_form

D = torch.float64


def test_one_step_by_hand():
    W = torch.tensor([[0.0, 0.5], [-0.5, 0.0]], dtype=D)
    W_in = torch.tensor([[1.0], [2.0]], dtype=D)
    b = torch.tensor([0.1, 0.0], dtype=D)
    x = torch.tensor([[0.2, -0.4]], dtype=D)
    u = torch.tensor([[0.3]], dtype=D)
    a = 0.25
    pre = torch.tensor([0.5 * -0.4 + 0.3 + 0.1, -0.5 * 0.2 + 0.6], dtype=D)
    expect = (1 - a) * x + a * torch.tanh(pre)
    torch.testing.assert_close(esn_step(u, x, W, W_in, b, a), expect, rtol=0, atol=1e-15)
    torch.testing.assert_close(esn_step(u, x, W, W_in, b, 1.0, "linear"), pre.unsqueeze(0), rtol=0, atol=1e-15)


def test_reservoir_is_seeded_sparse_and_at_the_spectral_radius():
    W, W_in, b = make_reservoir(3, 50, 0.8, 0.5, 0.9, 0.2, seed=7)
    assert W.shape == (50, 50) and W_in.shape == (50, 3) and b.shape == (50,)
    assert spectral_radius(W) == pytest.approx(0.8, rel=1e-10)
    assert 0.85 < float((W == 0).double().mean()) < 0.95
    assert W_in.abs().max() <= 0.5 and b.abs().max() <= 0.2
    W2, _, _ = make_reservoir(3, 50, 0.8, 0.5, 0.9, 0.2, seed=7)
    W3, _, _ = make_reservoir(3, 50, 0.8, 0.5, 0.9, 0.2, seed=8)
    assert torch.equal(W, W2) and not torch.equal(W, W3)


@pytest.mark.parametrize("readout", [True, False])
def test_sequence_equals_stepping_and_shapes(readout):
    core = ESNCore(input_size=3, hidden_size=5, reservoir_size=8 if readout else 0, leak=0.5, readout=readout).double()
    xs = torch.randn(6, 2, 3, dtype=D)
    ys, st = core.forward_sequence(xs)
    ys_ref, st_ref = run_core(core, xs)
    assert ys.shape == (6, 2, 5) and st.x.shape == (2, 8 if readout else 5)
    torch.testing.assert_close(ys, ys_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(st.x, st_ref.x)
    lengths = torch.tensor([6, 3])
    torch.testing.assert_close(core.forward_sequence(xs, lengths=lengths)[0], run_core(core, xs, lengths=lengths)[0])
    assert not any(p.requires_grad for p in core.buffers())  # the reservoir is fixed
    assert (len(list(core.parameters())) > 0) == readout


def _reservoirpy():
    try:
        from reservoirpy.nodes import Reservoir, Ridge  # test-only dependency (pyproject dev extra)
    except Exception as e:  # pragma: no cover - depends on the environment
        pytest.skip(f"reservoirpy not importable ({type(e).__name__}: {e}); pip install reservoirpy")
    return Reservoir, Ridge


def test_reservoirpy_computes_the_same_states_and_readout():
    Reservoir, Ridge = _reservoirpy()
    N, I, T, a = 30, 2, 300, 0.3
    core = ESNCore(input_size=I, hidden_size=N, spectral_radius=0.95, input_scaling=0.7, bias_scaling=0.2,
                   leak=a, sparsity=0.8, readout=False, seed=11).double()
    rng = np.random.default_rng(0)
    u = rng.standard_normal((T, I))
    y = np.stack([np.roll(u[:, 0], 3), np.sin(u[:, 1])], 1)  # (T, 2)
    ours = core.states(torch.from_numpy(u).unsqueeze(1))[:, 0].numpy()  # (T, N)
    res = Reservoir(W=core.W.numpy(), Win=core.W_in.numpy(), bias=core.b.numpy(), lr=a, activation="tanh")
    theirs = res.run(u)  # (T, N)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    ridge = 1e-3
    W_out, b_out = ridge_readout(torch.from_numpy(ours[50:]), torch.from_numpy(y[50:]), ridge)
    readout = Ridge(ridge=ridge).fit(theirs[50:], y[50:])
    np.testing.assert_allclose(W_out.numpy(), np.asarray(readout.Wout).T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b_out.numpy(), np.asarray(readout.bias).reshape(-1), rtol=1e-8, atol=1e-10)


def test_ridge_readout_recovers_a_linear_map_and_fit_readout_sets_the_layer():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(500, 6, generator=g, dtype=D)
    W = torch.randn(2, 6, generator=g, dtype=D)
    W_out, b_out = ridge_readout(X, X @ W.T + torch.tensor([1.0, -2.0], dtype=D), 0.0)
    torch.testing.assert_close(W_out, W)
    torch.testing.assert_close(b_out, torch.tensor([1.0, -2.0], dtype=D))
    core = ESNCore(input_size=1, hidden_size=1, reservoir_size=40, spectral_radius=0.9, seed=1).double()
    u = torch.rand(400, 2, 1, generator=g, dtype=D) - 0.5
    target = torch.roll(u, 2, dims=0)  # u(t − 2)
    core.fit_readout(u, target, washout=20, ridge=1e-8)
    pred, _ = core.forward_sequence(u)
    err = (pred[20:] - target[20:]).pow(2).mean() / target[20:].var()
    assert err < 1e-2


def test_linear_memory_capacity_of_the_trained_readout_matches_the_closed_form():
    """Held-out r²(k) of ridge readouts on a linear reservoir = σ² m_kᵀ C⁻¹ m_k (Jaeger 2002);
    Σ_k r²(k) → N for a generic linear network, and never exceeds N (up to estimation noise)."""
    N, K, T, wash = 12, 100, 8000, 200
    core = ESNCore(input_size=1, hidden_size=N, spectral_radius=0.85, sparsity=0.0, leak=0.8, activation="linear",
                   readout=False, seed=3).double()
    # the leaky linear step is x_t = W_eff x_{t−1} + v u_t with W_eff = (1 − a) I + a W, v = a W_in
    W_eff = (0.2 * torch.eye(N, dtype=D) + 0.8 * core.W).numpy()
    v = (0.8 * core.W_in[:, 0]).numpy()
    closed = memory_function_closed_form(W_eff, v, K)
    assert memory_capacity_closed_form(W_eff, v) == pytest.approx(N, rel=1e-6)
    u = torch.randn(T + wash, 1, 1, generator=torch.Generator().manual_seed(0), dtype=D)
    X = core.states(u)[:, 0]  # (T + wash, N)
    idx = torch.arange(wash, T + wash)
    Y = torch.stack([u[idx - k, 0, 0] for k in range(K + 1)], 1)  # (T, K + 1): u(t − k)
    half = T // 2
    W_out, b_out = ridge_readout(X[idx][:half], Y[:half], 0.0)
    pred = X[idx][half:] @ W_out.T + b_out
    r2 = np.array([np.corrcoef(pred[:, k], Y[half:, k])[0, 1] ** 2 for k in range(K + 1)])
    assert np.abs(r2 - closed).max() < 0.03
    assert r2.sum() == pytest.approx(closed.sum(), rel=0.02)
    # held-out squared correlations of noise add ≈ 1/half per lag: MC ≤ N up to that estimation bias
    assert r2.sum() <= N + 2 * (K + 1) / half and closed.sum() == pytest.approx(N, rel=0.01)


def test_a_diverging_reservoir_is_reported_not_trained():
    with pytest.raises(ReservoirDiverges, match=r"reservoir diverges: spectral radius 5 > 1 with \d+% of tanh units saturated"):
        ESNCore(input_size=1, hidden_size=50, spectral_radius=5.0, sparsity=0.5)
    with pytest.warns(ReservoirWarning, match="echo state property is lost"):
        ESNCore(input_size=1, hidden_size=50, spectral_radius=5.0, sparsity=0.5, divergence="warn")
    with pytest.raises(ReservoirDiverges, match="linear reservoir with effective spectral radius 1.2 >= 1"):
        ESNCore(input_size=1, hidden_size=10, spectral_radius=1.2, sparsity=0.0, activation="linear")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ESNCore(input_size=1, hidden_size=50, spectral_radius=0.9, sparsity=0.5)  # a healthy reservoir is silent


@pytest.mark.parametrize("key,value,msg", [
    ("spectral_radius", 0.0, "spectral_radius=0.0 is out of range; allowed: > 0.0"),
    ("spectral_radius", -1.0, "spectral_radius=-1.0 is out of range; allowed: > 0.0"),
    ("leak", 0.0, r"leak=0.0 is out of range; allowed: > 0.0 and <= 1.0"),
    ("leak", 1.5, r"leak=1.5 is out of range; allowed: > 0.0 and <= 1.0"),
    ("leak", float("nan"), "leak=nan is not allowed; it must be a finite number"),
    ("input_scaling", float("inf"), "input_scaling=inf is not allowed"),
    ("sparsity", 1.0, r"sparsity=1.0 is out of range; allowed: >= 0.0 and < 1.0"),
    ("activation", "relu", "activation='relu' is not allowed; choose one of tanh, linear"),
])
def test_bad_settings_are_one_line_errors(key, value, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        ESNCore(input_size=1, hidden_size=4, **{key: value})
    assert "\n" not in str(e.value)


def test_the_esn_model_trains_only_its_readout_and_refuses_a_diverging_reservoir():
    from memlab.models import build_model
    from memlab.tasks import make_task

    task = make_task("ntm-copy")
    model = build_model("esn", task.spec, overrides={"reservoir_size": 30})
    W = model.core.W.clone()
    batch = task.sample_range(4, *task.train_range, torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.readout.weight.detach().clone()
    task.loss(model(batch), batch).backward()
    opt.step()
    assert torch.equal(model.core.W, W) and not torch.equal(model.readout.weight, before)
    assert "core.W" not in dict(model.named_parameters())
    with pytest.raises(ReservoirDiverges, match="reservoir diverges"):
        build_model("esn", task.spec, overrides={"spectral_radius": 8.0})


@pytest.mark.parametrize("name", ["esn", "lsm"])
def test_a_reservoir_reads_one_hot_tokens_on_a_symbolic_task(name):
    """embed=0 on a symbolic task (the seed-004 tasks): the fixed input weights read one-hot
    tokens; nothing before the reservoir is trained; float64 follows the model."""
    from memlab.models import build_model
    from memlab.tasks import make_task

    task = make_task("copy")
    model = build_model(name, task.spec, overrides={"reservoir_size" if name == "esn" else "n_neurons": 16})
    assert model.encoder.out_size == task.spec.n_tokens == model.core.input_size
    assert not [n for n, _ in model.named_parameters() if n.startswith("encoder")]
    batch = task.sample_range(3, *task.train_range, torch.Generator().manual_seed(0))
    x = model.encoder(batch.inputs)
    assert torch.equal(x.argmax(-1), batch.inputs) and torch.equal(x.sum(-1), torch.ones_like(x[..., 0]))
    assert model(batch).shape == (*batch.inputs.shape, task.spec.output_size)
    assert model.double().encoder(batch.inputs).dtype == torch.float64
    assert model.state_dict().keys() == build_model(name, task.spec, overrides={
        "reservoir_size" if name == "esn" else "n_neurons": 16}).state_dict().keys()
