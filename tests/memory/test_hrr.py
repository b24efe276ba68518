"""Holographic reduced representations and the redundant associative memory (eq. 2.42–2.51)."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.associative import cleanup
from memlab.memory.hrr import (
    HRR,
    bind_complex,
    cconv,
    cconv_reference,
    ccorr,
    involution,
    inverse_real,
    make_unitary,
    random_phases,
    random_real,
    unbind_complex,
)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_fft_convolution_matches_definition():
    x = torch.randn(3, 17, generator=g(), dtype=torch.float64)
    y = torch.randn(3, 17, generator=g(1), dtype=torch.float64)
    torch.testing.assert_close(cconv(x, y), cconv_reference(x, y))
    torch.testing.assert_close(ccorr(x, y), cconv(involution(x), y))


def test_complex_bind_multiplies_moduli_adds_phases():
    x = torch.polar(torch.tensor([2.0, 0.5]), torch.tensor([0.3, -1.0]))
    y = torch.polar(torch.tensor([1.5, 4.0]), torch.tensor([0.2, 2.0]))
    m = bind_complex(x, y)
    torch.testing.assert_close(m.abs(), torch.tensor([3.0, 2.0]))
    torch.testing.assert_close(m.angle(), torch.tensor([0.5, 1.0]))


def test_unitary_keys_unbind_exactly_both_forms():
    xc, yc = random_phases((4, 64), g(2), torch.complex128), random_phases((4, 64), g(3), torch.complex128)
    torch.testing.assert_close(unbind_complex(xc, bind_complex(xc, yc), exact=False), yc)
    xr = make_unitary(random_real((4, 64), g(4)).double())
    yr = random_real((4, 64), g(5)).double()
    torch.testing.assert_close(involution(xr), inverse_real(xr, exact=True))
    torch.testing.assert_close(cconv(involution(xr), cconv(xr, yr)), yr)


def test_exact_inverse_for_non_unitary_keys():
    x = torch.randn(2, 33, generator=g(6), dtype=torch.float64)
    y = torch.randn(2, 33, generator=g(7), dtype=torch.float64)
    torch.testing.assert_close(cconv(inverse_real(x, exact=True), cconv(x, y)), y)
    approx = cconv(involution(x), cconv(x, y))
    assert (approx - y).norm() > 1e-2 * y.norm()  # the involution is only approximate here
    xc = torch.polar(torch.rand(2, 33, generator=g(8), dtype=torch.float64) + 0.5, torch.rand(2, 33, dtype=torch.float64))
    yc = random_phases((2, 33), g(9), torch.complex128)
    torch.testing.assert_close(unbind_complex(xc, bind_complex(xc, yc), exact=True), yc)


@pytest.mark.parametrize("form", ["complex", "real"])
def test_memory_noise_and_cleanup(form):
    N, Q = 512, 8
    mem = HRR(N, form=form, inverse="approximate")
    keys = mem.random_items((2, Q, N), g(10))
    vocab = mem.random_items((2, 50, N), g(11))
    values = vocab[:, :Q]
    mem.store(keys, values)
    out = mem.recall(keys)
    assert out.shape == (2, Q, N)
    # eq. 2.48: signal plus Q-1 crosstalk terms; with unitary keys and items each term has the
    # energy of one item and a random direction, so the noise energy is about Q-1 items
    rel = ((out - values).abs() ** 2).sum(-1) / (values.abs() ** 2).sum(-1)
    assert rel.mean() == pytest.approx(Q - 1, rel=0.25)
    c = cleanup(out, vocab)
    assert torch.equal(c.index, torch.arange(Q).expand(2, Q))
    torch.testing.assert_close(c.item, values)


def test_single_pair_exact_through_memory():
    mem = HRR(32, form="real", inverse="exact")
    k = random_real((1, 1, 32), g(12)).double().float()
    v = random_real((1, 1, 32), g(13))
    mem.store(k, v)
    torch.testing.assert_close(mem.recall(k), v, atol=1e-4, rtol=1e-3)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="form='quaternion'.*complex, real"):
        HRR(8, form="quaternion")
    with pytest.raises(ConfigError, match="inverse='pinv'.*exact, approximate"):
        HRR(8, inverse="pinv")
    mem = HRR(8)
    with pytest.raises(ConfigError, match=r"keys has shape \(2, 3, 7\)"):
        mem.store(torch.ones(2, 3, 7), torch.ones(2, 3, 7))
    mem.store(torch.ones(2, 3, 8), torch.ones(2, 3, 8))
    with pytest.raises(ConfigError, match=r"cues has shape \(3, 1, 8\)"):
        mem.recall(torch.ones(3, 1, 8))
