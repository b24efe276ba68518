"""Elman core: stepping == forward_sequence, scaling of W, config errors."""

import pytest
import torch

from memlab.controllers import CONTROLLERS, ElmanCore, make_controller
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core


@pytest.mark.parametrize("nl", ["tanh", "linear"])
@pytest.mark.parametrize("w_init", ["orthogonal", "gaussian", "identity"])
def test_forward_sequence_equals_stepping(nl, w_init):
    core = ElmanCore(input_size=3, hidden_size=5, nonlinearity=nl, w_init=w_init, w_scale=0.8, bias=True).double()
    xs = torch.randn(7, 4, 3, dtype=torch.float64)
    ys, st = core.forward_sequence(xs)
    ys2, st2 = run_core(core, xs)
    torch.testing.assert_close(ys, ys2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(st.h, st2.h, rtol=1e-12, atol=1e-12)
    lengths = torch.tensor([7, 3, 0, 5])
    ys3, st3 = core.forward_sequence(xs, lengths=lengths)
    torch.testing.assert_close(st3.h[1], run_core(core, xs[:3, 1:2])[1].h[0])
    assert torch.all(ys3[3:, 1] == 0)


def test_w_scaling():
    W = ElmanCore(hidden_size=16, w_init="orthogonal", w_scale=1.7).W.detach().double()
    assert torch.linalg.matrix_norm(W, ord=2).item() == pytest.approx(1.7, rel=1e-5)
    assert torch.linalg.eigvals(W).abs().max().item() == pytest.approx(1.7, rel=1e-5)
    G = ElmanCore(hidden_size=16, w_init="gaussian", w_scale=0.9).W.detach().double()
    assert torch.linalg.eigvals(G).abs().max().item() == pytest.approx(0.9, rel=1e-5)


def test_gradcheck_and_registry():
    core = make_controller("elman", input_size=2, hidden_size=3).double()
    xs = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: core.forward_sequence(x)[0], (xs,))
    assert set(CONTROLLERS) >= {"elman", "lstm"}
    assert core.state_size() == 3 and core.output_size == 3


def test_config_errors():
    with pytest.raises(ConfigError, match="nonlinearity"):
        ElmanCore(nonlinearity="relu")
    with pytest.raises(ConfigError, match="w_init"):
        ElmanCore(w_init="sparse")
    with pytest.raises(ConfigError):
        ElmanCore(hidden_size=0)
    with pytest.raises(ConfigError, match="unknown key"):
        make_controller("elman", hiden=3)
    with pytest.raises(ConfigError, match="unknown controller"):
        make_controller("transformer")
