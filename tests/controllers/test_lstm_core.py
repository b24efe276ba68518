"""LSTM cell core with seed-002 variants: stepping == forward_sequence, CEC, config errors."""

import pytest
import torch

from memlab.controllers import LSTMCore, make_controller
from memlab.controllers.lstm import lstm_cell_step
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core

VARIANTS = [
    dict(),
    dict(proj_size=2),
    dict(peepholes=True),
    dict(forget_gate=False),
    dict(forget_gate=False, peepholes=True, proj_size=3),
]


@pytest.mark.parametrize("kw", VARIANTS)
def test_forward_sequence_equals_stepping(kw):
    core = LSTMCore(input_size=3, hidden_size=5, seed=1, **kw).double()
    xs = torch.randn(9, 4, 3, dtype=torch.float64)
    s0 = core.initial_state(4)
    s0 = type(s0)(torch.randn_like(s0.r), torch.randn_like(s0.c))
    ys, st = core.forward_sequence(xs, s0)
    ys2, st2 = run_core(core, xs, s0)
    torch.testing.assert_close(ys, ys2, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(st.c, st2.c, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(st.r, st2.r, rtol=1e-10, atol=1e-12)
    assert ys.shape == (9, 4, core.output_size)
    assert core.state_size() == core.P + core.H


def test_matches_torch_lstm_for_standard_variant():
    core = LSTMCore(input_size=2, hidden_size=4, seed=0).double()
    ref = torch.nn.LSTM(2, 4).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(core.W_x)
        ref.weight_hh_l0.copy_(core.W_r)
        ref.bias_ih_l0.copy_(core.b)
        ref.bias_hh_l0.zero_()
    xs = torch.randn(6, 3, 2, dtype=torch.float64)
    torch.testing.assert_close(run_core(core, xs)[0], ref(xs)[0])


def test_no_forget_gate_is_a_constant_error_carousel():
    """With f ≡ 1 and the input gate shut (i ≈ 0), c_t = c_{t-1}: the CEC of eq. 2.37."""
    core = LSTMCore(input_size=1, hidden_size=3, forget_gate=False).double()
    with torch.no_grad():
        core.b[:3] = -50.0  # input gate closed
    c0 = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)
    st = core.initial_state(1)
    _, st = run_core(core, torch.randn(20, 1, 1, dtype=torch.float64), type(st)(st.r, c0))
    torch.testing.assert_close(st.c, c0, atol=1e-15, rtol=0)


def test_peepholes_change_the_output():
    xs = torch.randn(5, 2, 2, dtype=torch.float64)
    a = LSTMCore(input_size=2, hidden_size=3, peepholes=True, seed=0).double()
    ya = run_core(a, xs)[0]
    with torch.no_grad():
        a.peep.zero_()
    assert not torch.allclose(ya, run_core(a, xs)[0])


def test_gradcheck_cell_step():
    g = torch.Generator().manual_seed(0)
    B, I, H, P = 2, 2, 3, 2
    args = [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in [(B, I), (B, P), (B, H), (4 * H, I), (4 * H, P), (4 * H,), (3, H), (P, H)]]
    assert torch.autograd.gradcheck(lambda *a: lstm_cell_step(*a, True), args)


def test_config_errors():
    with pytest.raises(ConfigError, match="proj_size"):
        LSTMCore(hidden_size=4, proj_size=4)
    with pytest.raises(ConfigError):
        LSTMCore(hidden_size=0)
    with pytest.raises(ConfigError, match="unknown key"):
        make_controller("lstm", peephole=True)
