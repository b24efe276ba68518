"""Redundant associative memory (seed 001 eq. 2.49–2.51)."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.hrr import random_phases
from memlab.memory.redundant import RedundantAssociativeMemory, permute, random_permutations, redundant_decode, redundant_encode


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_encode_matches_loop_over_copies():
    B, Q, N, S = 2, 3, 16, 4
    keys = random_phases((B, Q, N), g(1), torch.complex128)
    values = random_phases((B, Q, N), g(2), torch.complex128)
    perms = random_permutations(S, N, g(3))
    c = redundant_encode(keys, values, perms)
    assert c.shape == (B, S, N)
    for s in range(S):
        ref = sum(keys[:, k, perms[s]] * values[:, k] for k in range(Q))  # eq. 2.49
        torch.testing.assert_close(c[:, s], ref)
    assert permute(keys, perms).shape == (B, S, Q, N)


def test_single_pair_exact_and_decode_loop():
    keys = random_phases((1, 1, 32), g(4), torch.complex128)
    values = random_phases((1, 1, 32), g(5), torch.complex128)
    perms = random_permutations(3, 32, g(6))
    c = redundant_encode(keys, values, perms)
    torch.testing.assert_close(redundant_decode(c, keys, perms), values)
    torch.testing.assert_close(redundant_decode(c, keys, perms, exact=True), values)


@pytest.mark.parametrize("S", [1, 4, 16])
def test_noise_variance_is_q_minus_one_over_s(S):
    N, Q = 1024, 9
    mem = RedundantAssociativeMemory(N, copies=S, seed=S)
    keys = mem.random_items((4, Q, N), g(7))
    values = mem.random_items((4, Q, N), g(8))
    mem.store(keys, values)
    var = ((mem.recall(keys) - values).abs() ** 2).mean()
    assert float(var) == pytest.approx((Q - 1) / S, rel=0.15)  # eq. 2.51: O(Q/S)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="copies=0"):
        RedundantAssociativeMemory(8, copies=0)
    mem = RedundantAssociativeMemory(8, copies=2)
    with pytest.raises(ConfigError, match=r"keys has shape \(1, 2, 9\)"):
        mem.store(torch.ones(1, 2, 9), torch.ones(1, 2, 9))


def test_variance_law_fit_recovers_exponents():
    from memlab.theory.capacity import fit_variance_law

    recs = [{"part": "variance", "form": "complex", "Q": q, "S": s, "noise_variance": 2.0 * (q - 1) / s}
            for q in (2, 5, 17, 65) for s in (1, 3, 9)]
    fit = fit_variance_law(recs)
    assert fit["slope_Q"] == pytest.approx(1.0) and fit["slope_S"] == pytest.approx(-1.0)
    assert fit["constant"] == pytest.approx(2.0) and fit["r2"] == pytest.approx(1.0)
