"""Memory profile (seed 000): exact stack, leaky integrator, function-basis memory, capacity bound."""

import numpy as np
import pytest
import torch

from memlab.controllers import ElmanCore, LSTMCore
from memlab.core.errors import ConfigError
from memlab.memory.exact_stack import ExactStack, ExactStackCore
from memlab.memory.function_memory import FunctionMemory, recovery_error_by_lag
from memlab.theory import profile as P


def leaky_integrator(lam=0.5):
    return ElmanCore.from_weights(torch.tensor([[lam]]), torch.tensor([[1.0]]), nonlinearity="linear").double()


def test_exact_stack_profile_recovers_everything():
    for mem in (ExactStack(2), ExactStackCore(2)):
        p = P.profile_errors(mem, 8, n_train=200, n_test=100)
        assert p["state_dim"] == 16
        assert np.all(p["error"] < 1e-12)
    own = P.own_recover_errors(ExactStack(3), 10, batch=50)
    assert np.all(own == 0)


def test_leaky_integrator_recovers_almost_nothing_beyond_lag_one():
    p = P.profile_errors(leaky_integrator(0.5), 10, n_test=2000)
    assert p["state_dim"] == 1
    err = p["error"]
    assert err[0] == pytest.approx(0.25, abs=0.05)  # r² = 1 - λ² for the last item
    assert np.all(err[1:] > 0.75)
    assert np.all(err[3:] > 0.95)


def test_capacity_of_linear_network_equals_state_dimension_and_never_exceeds_it():
    for N in (2, 5):
        core = ElmanCore(input_size=1, hidden_size=N, nonlinearity="linear", w_init="gaussian", w_scale=0.9, seed=0).double()
        res = P.profile_over_lengths(core, list(range(1, 2 * N + 2)), threshold=0.1, n_test=300)
        assert res["capacity"] == N
        assert all(r["lags_recovered"] <= N for r in res["rows"])
    lstm = LSTMCore(input_size=1, hidden_size=3, seed=0).double()
    res = P.profile_over_lengths(lstm, list(range(1, 9)), n_test=300)
    assert res["capacity"] <= lstm.state_size()


def test_function_memory_error_falls_as_basis_grows():
    n = 10
    means = [recovery_error_by_lag(FunctionMemory(2, K, "chebyshev"), n, batch=64).mean() for K in (2, 4, 6, 8, 10, 12)]
    assert all(a > b for a, b in zip(means[:-2], means[1:-1]))
    assert means[-2] < 1e-20 and means[-1] < 1e-20  # K >= n: perfect up to round-off
    mono = recovery_error_by_lag(FunctionMemory(1, 6, "monomial"), n, batch=64)
    assert np.all(mono[:6] < 1e-20) and np.all(np.abs(mono[6:] - 1) < 0.3)  # lags beyond K are lost


def test_function_memory_is_perfect_on_low_degree_memories():
    mem = FunctionMemory(3, 12, "legendre")
    g = torch.Generator().manual_seed(0)
    m = mem.save_n(mem.initial_memory(4), torch.randn(5, 4, 3, generator=g, dtype=torch.float64))
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    x_rec, m_rec = mem.recover(mem.save(m, x))  # γ(π(m, x)) = (x, m) (Def. 3.1)
    torch.testing.assert_close(x_rec, x, rtol=0, atol=1e-12)
    torch.testing.assert_close(m_rec.coef, m.coef, rtol=0, atol=1e-12)
    t = torch.linspace(-1, 1, 9, dtype=torch.float64)
    assert mem.evaluate(m, t).abs().max() <= np.e * 5  # bounded on [-1, 1]


def test_profile_arguments():
    with pytest.raises(ConfigError, match="outside"):
        P.profile_errors(leaky_integrator(), 3, lags=[4])
    with pytest.raises(ConfigError):
        P.profile_over_lengths(leaky_integrator(), [0, 2])
    with pytest.raises(ConfigError):
        P.profile_over_lengths(leaky_integrator(), [2], threshold=0.0)
    with pytest.raises(ConfigError, match="square"):
        ElmanCore.from_weights(torch.ones(2, 3), torch.ones(2, 1))
    with pytest.raises(ConfigError, match="neither"):
        P.states_at_lengths(object(), torch.zeros(2, 1, 1), [1])


def test_mlp_readout_recovers_a_nonlinearly_stored_item():
    """A saturating 1-unit memory s = tanh(3x): the linear map loses the tails, a small MLP does not."""
    core = ElmanCore.from_weights(torch.zeros(1, 1), torch.tensor([[3.0]]), nonlinearity="tanh").double()
    lin = P.profile_errors(core, 1, n_train=1000, n_test=500)["error"][0]
    mlp = P.profile_errors(core, 1, n_train=1000, n_test=500, readout="mlp")["error"][0]
    assert mlp < 0.8 * lin  # measured: 0.13 vs 0.21
    with pytest.raises(ConfigError, match="readout"):
        P.profile_errors(core, 1, readout="kernel")


@pytest.mark.parametrize("name", ["ntm", "dnc", "lantm"])
def test_profile_runs_on_other_memlab_memories(name):
    build = next(b for k, b in P.memlab_modules(size=8).items() if k.startswith(name))
    p = P.profile_errors(build(), 3, n_train=300, n_test=50)
    assert p["error"].shape == (3,) and np.all(np.isfinite(p["error"]))
    assert p["error"][0] < 0.5  # every one of them holds at least the last item


def test_complex_states_keep_their_imaginary_parts():
    """The Associative LSTM's traces are complex: the profile sees their real and imaginary parts
    (state_size counts both); a cast to float64 had kept the real part only, with a warning."""
    import warnings

    from memlab.memory.associative_lstm import AssociativeLSTM, AssociativeLSTMConfig

    core = AssociativeLSTM(AssociativeLSTMConfig(input_size=1, hidden_size=4, copies=2)).double()
    xs = torch.randn(3, 5, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Casting complex values to real discards the imaginary part"
        S = P.states_at_lengths(core, xs, [3])[3]
    state = core.initial_state(5)
    with torch.no_grad():
        for t in range(3):
            _, state = core(xs[t], state)
    want = torch.cat([state.h, torch.view_as_real(state.c).reshape(5, -1)], 1)
    assert S.shape == (5, core.state_size()) and torch.equal(S, want)
    assert state.c.imag.abs().max() > 1e-3  # the parts a real cast would have lost

