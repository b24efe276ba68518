"""Every LSTM variant of seed 001 eq. 2.38–2.41 / seed 002 as a setting of the one LSTM, each
checked by a hand-computed single step (H = 1 or 2 cells, scalar arithmetic written out)."""

from __future__ import annotations

import math

import pytest
import torch

from memlab.controllers import make_controller
from memlab.controllers.lstm import LSTMCore, LSTMState, lstm_memory_step, lstmp_output
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core

D = torch.float64


def sig(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def _one_cell(core: LSTMCore, wx: list[float], wr: list[float], b: list[float]) -> LSTMCore:
    """Set a one-cell, one-input core's gate rows (i, f, g, o)."""
    with torch.no_grad():
        core.W_x.copy_(torch.tensor(wx, dtype=D).view(4, 1))
        core.W_r.copy_(torch.tensor(wr, dtype=D).view(4, -1)[:, : core.W_r.shape[1]])
        core.b.copy_(torch.tensor(b, dtype=D))
    return core


X, R0, C0 = 0.7, 0.4, -0.5
WX, WR, B = [0.5, -0.3, 1.1, 0.8], [0.2, 0.6, -0.4, 0.1], [0.1, 0.9, -0.2, 0.3]


def _gates(r=R0, c_prev=C0, peep=(0.0, 0.0, 0.0), forget=True):
    """Eq. 2.40–2.41 by hand for one cell: (i, f, g, c_t, o, m_t)."""
    z = [WX[k] * X + WR[k] * r + B[k] for k in range(4)]
    i = sig(z[0] + peep[0] * c_prev)
    f = sig(z[1] + peep[1] * c_prev) if forget else 1.0
    g = math.tanh(z[2])
    c = f * c_prev + i * g  # eq. 2.40 (s_c)
    o = sig(z[3] + peep[2] * c)
    return i, f, g, c, o, o * math.tanh(c)  # eq. 2.38: y^c = y^out h(s_c)


def _step(core):
    x = torch.tensor([[X]], dtype=D)
    st = LSTMState(torch.full((1, core.P), R0, dtype=D), torch.tensor([[C0]], dtype=D))
    return core(x, st)


def test_1997_lstm_without_forget_gate():
    """f ≡ 1: c_t = c_{t−1} + i_t g_t (the constant error carousel, eq. 2.37/2.40)."""
    core = _one_cell(LSTMCore(input_size=1, hidden_size=1, forget_gate=False).double(), WX, WR, B)
    y, st = _step(core)
    i, _, g, c, o, m = _gates(forget=False)
    assert c == pytest.approx(C0 + i * g, abs=1e-15)
    assert st.c.item() == pytest.approx(c, abs=1e-14) and y.item() == pytest.approx(m, abs=1e-14)


def test_forget_gate_with_positive_bias():
    core = LSTMCore(input_size=1, hidden_size=1, forget_bias=2.5).double()
    assert core.b[1].item() == 2.5  # b_f set, the other gates random
    core = _one_cell(core, WX, WR, B)
    y, st = _step(core)
    i, f, g, c, o, m = _gates()
    assert st.c.item() == pytest.approx(f * C0 + i * g, abs=1e-14) and y.item() == pytest.approx(m, abs=1e-14)


def test_negative_input_and_output_gate_bias_init_of_seed_002():
    """b_i, b_o start negative (the cell starts closed), b_f positive; with zero weights and
    state the first step has i = σ(b_i), o = σ(b_o)."""
    core = LSTMCore(input_size=1, hidden_size=2, input_bias=-1.0, output_bias=-2.0, forget_bias=1.0).double()
    assert core.b[:2].tolist() == [-1.0, -1.0] and core.b[2:4].tolist() == [1.0, 1.0] and core.b[6:].tolist() == [-2.0, -2.0]
    plain = LSTMCore(input_size=1, hidden_size=2).double()
    torch.testing.assert_close(core.W_x, plain.W_x)  # the other weights are drawn as without the setting
    torch.testing.assert_close(core.b[4:6], plain.b[4:6])
    with torch.no_grad():
        core.W_x.zero_(); core.W_r.zero_(); core.b[4:6] = 0.5  # noqa: E702
    y, st = core(torch.ones(1, 1, dtype=D), core.initial_state(1))
    i, g, o = sig(-1.0), math.tanh(0.5), sig(-2.0)
    torch.testing.assert_close(st.c, torch.full((1, 2), i * g, dtype=D))
    torch.testing.assert_close(y, torch.full((1, 2), o * math.tanh(i * g), dtype=D))


def test_peephole_connections():
    """i and f see c_{t−1}, o sees c_t through diagonal weights (seed 002 Fig. 2)."""
    core = _one_cell(LSTMCore(input_size=1, hidden_size=1, peepholes=True).double(), WX, WR, B)
    with torch.no_grad():
        core.peep.copy_(torch.tensor([[0.3], [-0.6], [0.9]], dtype=D))
    y, st = _step(core)
    i, f, g, c, o, m = _gates(peep=(0.3, -0.6, 0.9))
    assert st.c.item() == pytest.approx(c, abs=1e-14) and y.item() == pytest.approx(m, abs=1e-14)


def test_lstmp_recurrent_and_nonrecurrent_projection_and_output():
    """H = 2 cells, r_t = W_rm m_t (P = 1, fed back), p_t = W_pm m_t (Q = 1, not fed back),
    y_t = W_yr r_t + W_yp p_t + b_y (K = 1)."""
    core = LSTMCore(input_size=1, hidden_size=2, proj_size=1, nonrec_proj_size=1, y_size=1).double()
    assert core.output_size == 1 and core.state_size() == 1 + 2
    with torch.no_grad():
        core.W_x.copy_(torch.tensor([0.5, -0.2, -0.3, 0.4, 1.1, 0.1, 0.8, -0.7], dtype=D).view(8, 1))
        core.W_r.copy_(torch.tensor([0.2, 0.6, -0.4, 0.1, 0.3, -0.5, 0.7, 0.2], dtype=D).view(8, 1))
        core.b.copy_(torch.tensor([0.1, 0.0, 0.9, -0.1, -0.2, 0.2, 0.3, 0.0], dtype=D))
        core.W_rm.copy_(torch.tensor([[0.6, -1.2]], dtype=D))
        core.W_pm.copy_(torch.tensor([[1.5, 0.25]], dtype=D))
        core.W_yr.copy_(torch.tensor([[2.0]], dtype=D)); core.W_yp.copy_(torch.tensor([[-3.0]], dtype=D))  # noqa: E702
        core.b_y.copy_(torch.tensor([0.05], dtype=D))
    x, r_prev, c_prev = 0.7, 0.4, [-0.5, 0.25]
    wx, wr, b = core.W_x[:, 0].tolist(), core.W_r[:, 0].tolist(), core.b.tolist()
    m = []
    c = []
    for n in range(2):
        z = [wx[2 * k + n] * x + wr[2 * k + n] * r_prev + b[2 * k + n] for k in range(4)]  # rows i, f, g, o
        c.append(sig(z[1]) * c_prev[n] + sig(z[0]) * math.tanh(z[2]))
        m.append(sig(z[3]) * math.tanh(c[n]))
    r = 0.6 * m[0] - 1.2 * m[1]
    p = 1.5 * m[0] + 0.25 * m[1]
    y_want = 2.0 * r - 3.0 * p + 0.05
    y, st = core(torch.tensor([[x]], dtype=D), LSTMState(torch.tensor([[r_prev]], dtype=D), torch.tensor([c_prev], dtype=D)))
    assert y.item() == pytest.approx(y_want, abs=1e-14)
    assert st.r.item() == pytest.approx(r, abs=1e-14) and st.c[0].tolist() == pytest.approx(c, abs=1e-14)
    # without the output layer the core emits [r_t, p_t] (the model's readout is then W_y)
    torch.testing.assert_close(lstmp_output(st.r, torch.tensor([[p]], dtype=D), None, None, None),
                               torch.tensor([[r, p]], dtype=D))


@pytest.mark.parametrize("kw", [dict(nonrec_proj_size=2), dict(proj_size=2, nonrec_proj_size=3, y_size=4),
                                dict(input_bias=-1.0, output_bias=-1.0, peepholes=True, nonrec_proj_size=1)])
def test_variants_sequence_equals_stepping_and_gradcheck(kw):
    core = LSTMCore(input_size=3, hidden_size=4, seed=2, **kw).double()
    xs = torch.randn(6, 2, 3, dtype=D)
    ys, st = core.forward_sequence(xs)
    ys2, st2 = run_core(core, xs)
    torch.testing.assert_close(ys, ys2, rtol=1e-12, atol=1e-13)
    assert ys.shape[-1] == core.output_size
    m_args = [torch.randn(*s, dtype=D, requires_grad=True) for s in [(2, 3), (2, core.P), (2, 4), (16, 3), (16, core.P), (16,)]]
    assert torch.autograd.gradcheck(lambda *a: lstm_memory_step(*a, None, True), m_args)


def test_standard_flag_and_fused_path_only_for_plain_outputs():
    assert LSTMCore(hidden_size=4).standard
    assert not LSTMCore(hidden_size=4, nonrec_proj_size=2).standard and not LSTMCore(hidden_size=4, y_size=3).standard


@pytest.mark.parametrize("kw,match", [
    (dict(hidden_size=4, nonrec_proj_size=5), "nonrec_proj_size=5 is larger than the cell; allowed: 0 \\(none\\) to hidden_size=4"),
    (dict(hidden_size=4, proj_size=4), "proj_size=4 must be < hidden_size=4"),
    (dict(input_bias=float("nan")), "input_bias=nan"),
    (dict(output_bias=float("-inf")), "output_bias=-inf"),
    (dict(y_size=-1), "y_size=-1 is out of range"),
])
def test_bad_settings_are_one_line_errors(kw, match):
    with pytest.raises(ConfigError, match=match) as e:
        make_controller("lstm", **kw)
    assert "\n" not in str(e.value)


def test_non_finite_bias_straight_to_the_core():
    with pytest.raises(ConfigError, match="input_bias=nan is not allowed"):
        LSTMCore(input_bias=float("nan"))
