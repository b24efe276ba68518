"""Sparse distributed memory (seed 001 Alg. 2.1, eq. 2.64–2.66)."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.sdm import (
    SparseDistributedMemory,
    activation,
    activation_probability,
    hamming_distance,
    hamming_radius_for_probability,
    sdm_write,
    sdm_write_reference,
)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def bits(*shape, seed=0):
    return torch.randint(0, 2, shape, generator=g(seed)).float()


def test_hamming_distance_and_activation():
    A = bits(50, 20, seed=1)
    x = bits(2, 3, 20, seed=2)
    d = hamming_distance(A, x)
    ref = (A.unsqueeze(0).unsqueeze(0) != x.unsqueeze(2)).sum(-1).float()
    torch.testing.assert_close(d, ref)
    torch.testing.assert_close(activation(A, x, 8), (ref <= 8).float())
    # cosine of the bipolar images, threshold r: same set as Hamming <= D(1-r)/2
    torch.testing.assert_close(activation(A, x, 0.2, "cosine"), (ref <= 8).float())


def test_vectorized_write_matches_algorithm_2_1():
    A = bits(40, 16, seed=3)
    xa, xc = bits(1, 2, 16, seed=4), bits(1, 2, 6, seed=5)
    C = sdm_write(torch.zeros(1, 40, 6), activation(A, xa, 6), xc)[0]
    ref = torch.zeros(40, 6)
    for q in range(2):
        ref = sdm_write_reference(ref, A, xa[0, q], xc[0, q], 6)
    torch.testing.assert_close(C, ref)
    assert ref.abs().sum() > 0


@pytest.mark.parametrize("metric,radius", [("hamming", 110), ("cosine", 0.1)])
def test_single_item_clean_cue_is_exact(metric, radius):
    mem = SparseDistributedMemory(256, 500, radius, content_size=32, metric=metric, seed=1)
    a, c = bits(3, 1, 256, seed=6), bits(3, 1, 32, seed=7)
    mem.store(a, c)
    out = mem.recall(a)
    assert mem.last_active.min() > 0
    assert torch.equal(out, c)


def test_autoassociative_recall_from_noisy_cue():
    D = 256
    mem = SparseDistributedMemory(D, 2000, hamming_radius_for_probability(D, 0.05), iterations=3, seed=2)
    x = bits(1, 20, D, seed=8)
    mem.store(x)
    noisy = x.clone()
    noisy[..., :20] = 1 - noisy[..., :20]  # 20 flipped bits
    out = mem.recall(noisy)
    assert out.shape == (1, 20, D)
    assert (out != x).float().mean() < 0.01


def test_radius_helpers():
    r = hamming_radius_for_probability(100, 0.01)
    assert activation_probability(100, r) >= 0.01 > activation_probability(100, r - 1)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="radius=300.*<= 256"):
        SparseDistributedMemory(256, 10, 300)
    with pytest.raises(ConfigError, match="radius=1.5.*<= 1"):
        SparseDistributedMemory(256, 10, 1.5, metric="cosine")
    with pytest.raises(ConfigError, match="metric='l2'"):
        SparseDistributedMemory(256, 10, 3, metric="l2")
    mem = SparseDistributedMemory(8, 10, 3)
    with pytest.raises(ConfigError, match="contains -1.0.*0, 1"):
        mem.store(-torch.ones(1, 2, 8))
    with pytest.raises(ConfigError, match=r"keys has shape \(1, 2, 9\)"):
        mem.store(torch.ones(1, 2, 9))
