"""Feed-forward controller and the controller registry."""

import subprocess
import sys

import pytest
import torch

from memlab.controllers import ALIASES, CONTROLLERS, FeedForwardCore, controller_module, make_controller
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core


def test_one_tanh_layer():
    core = FeedForwardCore(input_size=3, hidden_size=4).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    y, st = core(x, core.initial_state(2))
    torch.testing.assert_close(y, torch.tanh(x @ core.W.T + core.b))
    assert st == () and core.state_size() == 0 and core.output_size == 4


def test_forward_sequence_equals_stepping_with_lengths():
    core = FeedForwardCore(input_size=3, hidden_size=4).double()
    xs = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(core.forward_sequence(xs)[0], run_core(core, xs)[0])
    lengths = torch.tensor([5, 2])
    torch.testing.assert_close(core.forward_sequence(xs, lengths=lengths)[0], run_core(core, xs, lengths=lengths)[0])


@pytest.mark.parametrize("name", list(CONTROLLERS))
def test_every_controller_steps_and_runs_a_sequence(name):
    """What a memory composition needs from any controller: input_size, output_size,
    initial_state, a step over [x_t, r_{t−1}] and a whole-sequence path that agrees with it."""
    torch.manual_seed(0)
    core = make_controller(name, input_size=6, hidden_size=5).double()
    assert controller_module(name).CORE is type(core)
    assert core.input_size == 6 and core.output_size == 5
    xs = torch.randn(4, 2, 6, dtype=torch.float64)
    y, _ = core(xs[0], core.initial_state(2))
    assert y.shape == (2, 5)
    torch.testing.assert_close(core.forward_sequence(xs)[0], run_core(core, xs)[0])


def test_aliases_and_errors():
    assert ALIASES["ff"] == "feedforward"
    assert isinstance(make_controller("ff", input_size=2, hidden_size=3), FeedForwardCore)
    with pytest.raises(ConfigError, match="unknown controller 'rnn'; choose one of lstm, gru, elman, feedforward"):
        make_controller("rnn")
    with pytest.raises(ConfigError, match="hidden_size=0 is out of range"):
        make_controller("feedforward", hidden_size=0)


def test_registry_import_is_light():
    code = "import sys, memlab.controllers as c; assert 'torch' not in sys.modules, 'torch'; print(sorted(c.CONTROLLERS))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "feedforward" in out
