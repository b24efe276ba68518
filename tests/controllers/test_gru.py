"""GRU core: equal to torch.nn.GRU (values and gradients, float64), stepping == forward_sequence."""

import pytest
import torch

from memlab.controllers import GRUCore, make_controller
from memlab.controllers.gru import gru_step
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core


def _pair():
    core = GRUCore(input_size=3, hidden_size=4, seed=2).double()
    ref = torch.nn.GRU(3, 4).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(core.W_x)
        ref.weight_hh_l0.copy_(core.W_h)
        ref.bias_ih_l0.copy_(core.b_x)
        ref.bias_hh_l0.copy_(core.b_h)
    return core, ref


def test_equals_torch_gru_values_and_grads_float64():
    core, ref = _pair()
    xs = torch.randn(6, 2, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)
    ys, st = run_core(core, xs, core.initial_state(2)._replace(h=h0))  # the per-step equations
    ys_ref, h_ref = ref(xs, h0.unsqueeze(0))
    torch.testing.assert_close(ys, ys_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(st.h, h_ref[0], rtol=1e-12, atol=1e-12)
    w = torch.randn_like(ys)
    g = torch.autograd.grad((ys * w).sum(), [core.W_x, core.W_h, core.b_x, core.b_h])
    g_ref = torch.autograd.grad((ys_ref * w).sum(), [ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0])
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_forward_sequence_equals_stepping_and_lengths():
    core, _ = _pair()
    xs = torch.randn(7, 3, 3, dtype=torch.float64)
    ys, st = core.forward_sequence(xs)
    ys2, st2 = run_core(core, xs)
    torch.testing.assert_close(ys, ys2)
    torch.testing.assert_close(st.h, st2.h)
    with torch.no_grad():
        ys3, st3 = core.forward_sequence(xs, lengths=torch.tensor([7, 2, 0]))
    torch.testing.assert_close(st3.h[1], run_core(core, xs[:2, 1:2])[1].h[0])
    assert float(ys3[2:, 1].abs().max()) == 0.0 and float(st3.h[2].abs().max()) == 0.0


def test_gradcheck_step():
    g = torch.Generator().manual_seed(0)
    args = [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)
            for s in [(2, 3), (2, 4), (12, 3), (12, 4), (12,), (12,)]]
    assert torch.autograd.gradcheck(gru_step, args)


def test_registry_and_errors():
    core = make_controller("gru", input_size=2, hidden_size=5)
    assert core.output_size == 5 and core.state_size() == 5
    with pytest.raises(ConfigError, match="hidden_size=0 is out of range"):
        make_controller("gru", input_size=2, hidden_size=0)
    with pytest.raises(ConfigError, match="finite"):
        make_controller("gru", init_scale=float("nan"))
