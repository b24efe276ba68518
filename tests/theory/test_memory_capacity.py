"""Linear memory capacity: closed form = N, regression agrees, finite-sample bias, errors."""

import numpy as np
import pytest

from memlab.core.errors import ConfigError
from memlab.theory.fisher import gaussian_network, orthogonal_network
from memlab.theory import memory_capacity as MC


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closed_form_capacity_is_N_for_generic_linear_network(seed):
    W, v = gaussian_network(10, 0.8, seed)
    assert MC.memory_capacity_closed_form(W, v) == pytest.approx(10.0, rel=1e-6)
    r2 = MC.memory_function_closed_form(W, v, 400)
    assert np.all((r2 >= -1e-12) & (r2 <= 1 + 1e-9))
    assert r2.sum() == pytest.approx(10.0, rel=1e-5)


def test_noise_lowers_capacity():
    W, v = orthogonal_network(8, 0.9, 0)
    assert MC.memory_capacity_closed_form(W, v, eps=0.1) < MC.memory_capacity_closed_form(W, v) - 1.0


def test_regression_estimate_matches_closed_form_and_in_sample_is_biased_up():
    W, v = gaussian_network(8, 0.7, 4)
    X, u = MC.simulate_reservoir(W, v, 6000, seed=0)
    closed = MC.memory_function_closed_form(W, v, 30).sum()
    big = MC.memory_function_regression(X, u, 30, n_train=4000)
    assert big["test"].sum() == pytest.approx(closed, abs=0.3)
    small = MC.memory_function_regression(X, u, 30, n_train=60)
    assert small["train"].sum() > closed + 1.0  # about (K+1-MC) N / n = 23·8/59 ≈ 3 over-counted
    assert small["train"].sum() > small["test"].sum()


def test_tanh_reservoir_capacity_is_positive_and_below_N():
    W, v = gaussian_network(20, 0.9, 0)
    X, u = MC.simulate_reservoir(W, v, 3000, nonlinearity="tanh", seed=0)
    mc = MC.memory_function_regression(X, u, 40)["test"].sum()
    assert 2.0 < mc < 20.0


def test_bad_arguments_raise_config_error():
    W, v = gaussian_network(5, 0.5, 0)
    X, u = MC.simulate_reservoir(W, v, 50, seed=0)
    with pytest.raises(ConfigError, match="k_max"):
        MC.memory_function_regression(X, u, 60)  # lags beyond the simulated length
    with pytest.raises(ConfigError, match="square"):
        MC.memory_function_closed_form(np.ones((2, 3)), np.ones(2), 3)
    with pytest.raises(ConfigError, match="spectral radius"):
        MC.memory_capacity_closed_form(3 * W, v)
    with pytest.raises(ConfigError, match="controllable"):
        MC.memory_function_closed_form(np.diag([0.5, 0.3]), np.array([1.0, 0.0]), 3)
    with pytest.raises(ConfigError, match="nonlinearity"):
        MC.simulate_reservoir(W, v, 10, nonlinearity="relu")


def test_singular_covariance_is_a_config_error_in_both_closed_forms():
    W, v = np.zeros((2, 2)), np.array([1.0, 0.0])  # only x_1 is ever driven: C = v vᵀ is singular
    for fn in (lambda: MC.memory_capacity_closed_form(W, v), lambda: MC.memory_function_closed_form(W, v, 3)):
        with pytest.raises(ConfigError, match="singular.*eps > 0"):
            fn()
    assert MC.memory_capacity_closed_form(W, v, eps=1e-3) == pytest.approx(1 / (1 + 1e-3))
