"""Fast-weight memory (seed 001 eq. 2.56–2.57)."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.cmm import hebbian_matrix
from memlab.memory.fast_weights import FastWeights, fast_weight_step, fast_weight_trace, inner_loop


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_closed_form_equals_recurrence():
    h = torch.randn(2, 7, 5, generator=g(), dtype=torch.float64)
    A0 = torch.randn(2, 5, 5, generator=g(1), dtype=torch.float64)
    A = A0
    for t in range(7):
        A = fast_weight_step(A, h[:, t], h[:, t], 0.9, 0.3)  # eq. 2.56
    torch.testing.assert_close(fast_weight_trace(h, h, 0.9, 0.3, A0), A)


def test_no_decay_is_hebbian_cmm():
    k = torch.randn(1, 6, 8, generator=g(2))
    v = torch.randn(1, 6, 3, generator=g(3))
    mem = FastWeights(8, 3, decay=1.0, rate=1.0)
    mem.store(k, v)
    torch.testing.assert_close(mem.trace, hebbian_matrix(k, v))


def test_recency_weighting_and_store_in_two_calls():
    k = torch.linalg.qr(torch.randn(16, 16, generator=g(4)))[0].T[None, :10]  # orthonormal keys
    mem = FastWeights(16, decay=0.5, rate=1.0)
    mem.store(k[:, :4])
    mem.store(k[:, 4:])
    out = mem.recall(k)
    gain = (out * k).sum(-1)[0]  # read-back weight of each stored item: λ^age
    torch.testing.assert_close(gain, 0.5 ** torch.arange(9, -1, -1).float(), atol=1e-5, rtol=0)


def test_inner_loop_shapes_and_fixed_point():
    A = torch.zeros(2, 4, 4)
    base = torch.randn(2, 4, generator=g(5))
    torch.testing.assert_close(inner_loop(A, base, steps=3), torch.tanh(base))


def test_bad_arguments():
    with pytest.raises(ConfigError, match="decay=1.5.*<= 1"):
        FastWeights(4, decay=1.5)
    with pytest.raises(ConfigError, match="rate=0"):
        FastWeights(4, rate=0)
