"""Gradient flow: autograd Jacobian products = hand-derived products; bound; LSTM carousel."""

import numpy as np
import pytest
import torch

from memlab.controllers import ElmanCore, LSTMCore
from memlab.core.errors import ConfigError
from memlab.theory import gradients as G


def _xs(T=12, B=3, I=2, seed=0):
    return torch.randn(T, B, I, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("nl", ["tanh", "linear"])
def test_autograd_norms_match_hand_computed_jacobian_product(nl):
    core = ElmanCore(input_size=2, hidden_size=4, nonlinearity=nl, w_init="gaussian", w_scale=1.3, bias=True, seed=1).double()
    with torch.no_grad():
        core.b.normal_()
    xs = _xs()
    auto = G.jacobian_products(G.step_jacobians(core, xs, 12 - 7 + 1))
    hand = G.elman_jacobian_product(core, xs, 7)
    torch.testing.assert_close(auto, hand, rtol=1e-12, atol=1e-14)
    norms = G.gradient_norms(core, xs, 7)
    np.testing.assert_allclose(norms, torch.linalg.matrix_norm(hand, ord=2).numpy(), rtol=1e-10)


def test_jacobian_product_equals_direct_autograd_through_unrolled_lstm():
    core = LSTMCore(input_size=2, hidden_size=3, peepholes=True, proj_size=2, seed=0).double()
    xs = _xs(T=6)
    q = 4
    J = G.jacobian_products(G.step_jacobians(core, xs, 6 - q + 1))[-1]  # (B, S, S) = ds_6/ds_2
    states = G.run_states(core, xs)
    s2 = G.flatten_state(states[2])

    def unrolled(s):
        st = G.vector_to_state(s, states[2])
        for t in range(2, 6):
            _, st = core(xs[t], st)
        return G.flatten_state(st)

    full = torch.autograd.functional.jacobian(unrolled, s2)  # (B, S, B, S)
    for b in range(xs.shape[1]):
        torch.testing.assert_close(J[b], full[b, :, b, :], rtol=1e-10, atol=1e-12)


def test_elman_norms_respect_bound_and_vanish_or_explode():
    xs = _xs(T=40, B=4, I=1)
    for scale in (0.5, 1.0, 2.0):
        core = ElmanCore(input_size=1, hidden_size=8, w_scale=scale, seed=0).double()
        n = G.gradient_norms(core, xs, 30)
        b = G.elman_bound(core, xs, 30)
        assert np.all(n <= b["norm_bound"] * (1 + 1e-9))
        assert np.all(b["entry_bound"] == 8 * b["norm_bound"])
    small = G.gradient_norms(ElmanCore(input_size=1, hidden_size=8, w_scale=0.5).double(), xs, 30)
    assert small[-1].max() < 1e-8
    lin = G.gradient_norms(ElmanCore(input_size=1, hidden_size=8, nonlinearity="linear", w_scale=1.1).double(), xs, 30)
    # orthogonal W: ||(1.1 Q)^30|| = 1.1^30 (Q was drawn in float32, hence rtol 1e-5)
    np.testing.assert_allclose(lin[-1], 1.1**30, rtol=1e-5)


def test_lstm_constant_error_carousel_keeps_gradient_alive():
    xs = _xs(T=40, B=4, I=1)
    H = 6
    cell = (slice(H, 2 * H), slice(H, 2 * H))
    cec = G.gradient_norms(LSTMCore(input_size=1, hidden_size=H, forget_gate=False).double(), xs, 30, block=cell)
    leaky = G.gradient_norms(LSTMCore(input_size=1, hidden_size=H, forget_gate=True, forget_bias=-1.0).double(), xs, 30, block=cell)
    assert cec[-1].min() > 0.5
    assert leaky[-1].max() < 1e-3


def test_bad_arguments_raise_config_error():
    core = ElmanCore(input_size=1, hidden_size=3).double()
    xs = _xs(T=5, I=1)
    with pytest.raises(ConfigError, match="beyond the simulated length"):
        G.gradient_norms(core, xs, 6)
    with pytest.raises(ConfigError, match="beyond the simulated length"):
        G.elman_jacobian_product(core, xs, 9)
    with pytest.raises(ConfigError, match="q_max"):
        G.gradient_norms(core, xs, 0)
    from memlab.memory.exact_stack import ExactStackCore

    with pytest.raises(ConfigError, match="fixed-size"):
        G.gradient_norms(ExactStackCore(1), xs.float(), 2)


def test_cli_gradients(tmp_path):
    from memlab.cli import main
    from memlab.core.io import read_jsonl

    args = ["run", "theory-gradients", "--no-progress", "--out", str(tmp_path), "--set", "hidden=4", "T=12", "batch=2"]
    assert main(args + ["q_max=10"]) == 0
    recs = read_jsonl(tmp_path / "gradients.jsonl")
    assert all(r["within_bound"] for r in recs if r["core"].startswith("elman"))
    assert {r["core"] for r in recs} >= {"elman_tanh", "elman_linear", "lstm", "ntm"}
    assert (tmp_path / "gradients.png").exists()
    assert main(args + ["q_max=13"]) == 2  # lags beyond the simulated length
