"""Correlation matrix memory (seed 001 eq. 2.52–2.55)."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.cmm import (
    CorrelationMatrixMemory,
    binary_matrix,
    binary_recall,
    cmm_recall,
    hebbian_matrix,
    least_squares_matrix,
    widrow_hoff,
    widrow_hoff_sequential,
)
from memlab.memory.tpr import orthonormal_roles


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_hebbian_exact_for_orthonormal_keys():
    keys = orthonormal_roles(3, 20, 32, g())  # (3, 20, 32)
    values = torch.randn(3, 20, 7, generator=g(1))
    mem = CorrelationMatrixMemory(32, 7)
    mem.store(keys, values)
    out = mem.recall(keys)
    assert out.shape == (3, 20, 7)
    torch.testing.assert_close(out, values, atol=1e-5, rtol=0)


def test_eq_2_55_signal_plus_crosstalk():
    keys = torch.randn(1, 5, 16, generator=g(2), dtype=torch.float64)
    values = torch.randn(1, 5, 4, generator=g(3), dtype=torch.float64)
    M = hebbian_matrix(keys, values)
    j = 2
    expect = values[0, j] * keys[0, j].dot(keys[0, j]) + sum(
        values[0, i] * keys[0, i].dot(keys[0, j]) for i in range(5) if i != j
    )
    torch.testing.assert_close(cmm_recall(M, keys[:, j : j + 1])[0, 0], expect)


def test_widrow_hoff_exact_where_hebbian_fails():
    # linearly independent but strongly correlated keys
    base = torch.randn(1, 1, 24, generator=g(4), dtype=torch.float64)
    keys = base + 0.5 * torch.randn(2, 12, 24, generator=g(5), dtype=torch.float64)
    values = torch.randn(2, 12, 6, generator=g(6), dtype=torch.float64)
    heb = CorrelationMatrixMemory(24, 6, dtype=torch.float64)
    heb.store(keys, values)
    wh = CorrelationMatrixMemory(24, 6, rule="widrow_hoff", tol=1e-9, epochs=200_000, dtype=torch.float64)
    wh.store(keys, values)
    err_heb = (heb.recall(keys) - values).norm() / values.norm()
    err_wh = (wh.recall(keys) - values).norm() / values.norm()
    assert err_heb > 0.5
    assert err_wh < 1e-8
    torch.testing.assert_close(wh.trace, least_squares_matrix(keys, values), atol=1e-6, rtol=0)


def test_batch_rule_matches_sequential_reference_limit():
    keys = torch.randn(1, 4, 8, generator=g(7), dtype=torch.float64)
    values = torch.randn(1, 4, 3, generator=g(8), dtype=torch.float64)
    seq = widrow_hoff_sequential(keys, values, lr=0.05, epochs=3000)
    bat, _ = widrow_hoff(keys, values, tol=1e-12, epochs=100_000)
    torch.testing.assert_close(seq, bat, atol=1e-6, rtol=0)


def test_binary_cmm_recalls_sparse_patterns():
    gen = g(9)
    Q, D, k = 10, 64, 4
    idx = torch.rand(1, Q, D, generator=gen).argsort(-1)[..., :k]
    keys = torch.zeros(1, Q, D).scatter(-1, idx, 1.0)
    idx = torch.rand(1, Q, D, generator=gen).argsort(-1)[..., :k]
    values = torch.zeros(1, Q, D).scatter(-1, idx, 1.0)
    M = binary_matrix(keys, values)
    assert set(M.unique().tolist()) <= {0.0, 1.0}
    out = binary_recall(M, keys)
    assert torch.all(out >= values)  # Willshaw recall never loses a stored 1
    assert (out != values).float().mean() < 0.02
    mem = CorrelationMatrixMemory(D, D, rule="binary")
    mem.store(keys, values)
    assert torch.equal(mem.recall(keys), out)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="rule='oja'.*hebbian, widrow_hoff, binary"):
        CorrelationMatrixMemory(4, 4, rule="oja")
    mem = CorrelationMatrixMemory(4, 3)
    with pytest.raises(ConfigError, match=r"values has shape \(1, 2, 4\)"):
        mem.store(torch.ones(1, 2, 4), torch.ones(1, 2, 4))
    with pytest.raises(ConfigError, match="values=None"):
        mem.store(torch.ones(1, 2, 4))
    with pytest.raises(ConfigError, match="contains 2.0.*0, 1"):
        CorrelationMatrixMemory(4, 4, rule="binary").store(torch.full((2, 4), 2.0), torch.ones(2, 4))
    with pytest.raises(ConfigError, match="lr=0"):
        CorrelationMatrixMemory(4, 4, rule="widrow_hoff", lr=0)
