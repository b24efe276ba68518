"""Attention maths: vectorised vs reference loops (float64), gradcheck, weights sum to 1,
padding gets weight 0, position encoding golden values, memory hop."""

import pytest
import torch

from memlab.memory.attention import (additive_scores, additive_scores_ref, attend, attention_ref, dot_scores,
                                     dot_scores_ref, masked_softmax, memory_hop, memory_hop_ref, position_encoding)

D64 = torch.float64


def _data(B=3, S=5, Dh=4, Ds=3, A=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=D64)  # noqa: E731
    mask = torch.ones(B, S, dtype=torch.bool)
    mask[1, 3:] = False  # example 1 has 3 real positions
    return r(B, Ds), r(B, S, Dh), r(A, Ds), r(A, Dh), r(A), mask


def test_additive_scores_match_the_loop():
    s, h, W, U, v, _ = _data()
    torch.testing.assert_close(additive_scores(s, h @ U.T, W, v), additive_scores_ref(s, h, W, U, v))


def test_dot_and_general_scores_match_the_loop():
    s, h, _, _, _, _ = _data(Ds=4)
    torch.testing.assert_close(dot_scores(s, h), dot_scores_ref(s, h))
    Wg = torch.randn(4, 4, dtype=D64)
    torch.testing.assert_close(dot_scores(s, h, Wg), dot_scores_ref(s, h, Wg))


def test_masked_softmax_and_context_match_the_loop_and_mask_padding():
    s, h, W, U, v, mask = _data()
    e = additive_scores(s, h @ U.T, W, v)
    a = masked_softmax(e, mask)
    a_ref, c_ref = attention_ref(e, h, mask)
    torch.testing.assert_close(a, a_ref)
    torch.testing.assert_close(attend(a, h), c_ref)
    torch.testing.assert_close(a.sum(-1), torch.ones(3, dtype=D64))  # weights sum to 1
    assert (a[1, 3:] == 0).all()  # padding gets exactly zero weight
    h2 = h.clone()
    h2[1, 3:] = 1e6  # what sits in the padding never reaches the context
    torch.testing.assert_close(attend(a, h2), attend(a, h))


def test_all_masked_row_is_zero_not_nan():
    e = torch.randn(2, 4, dtype=D64)
    mask = torch.tensor([[False] * 4, [True, False, True, False]])
    a = masked_softmax(e, mask)
    assert torch.isfinite(a).all() and (a[0] == 0).all()
    assert float(a[1].sum()) == pytest.approx(1.0)


def test_gradcheck_additive_and_general_attention():
    s, h, W, U, v, mask = _data(B=2, S=4)
    s.requires_grad_(), h.requires_grad_(), W.requires_grad_(), v.requires_grad_()
    f = lambda s, h, W, v: attend(masked_softmax(additive_scores(s, h @ U.T, W, v), mask[:2]), h)  # noqa: E731
    assert torch.autograd.gradcheck(f, (s, h, W, v))
    Wg = torch.randn(3, 4, dtype=D64, requires_grad=True)
    g = lambda s, h, Wg: attend(masked_softmax(dot_scores(s, h, Wg), mask[:2]), h)  # noqa: E731
    assert torch.autograd.gradcheck(g, (s, h, Wg))


def test_position_encoding_golden_values():
    # l_kj = (1 - j/J) - (k/d)(1 - 2j/J); J = 2, d = 2
    l = position_encoding(2, 2, D64)
    want = torch.tensor([[(1 - 0.5) - 0.5 * (1 - 1.0), (1 - 0.5) - 1.0 * (1 - 1.0)],
                         [(1 - 1.0) - 0.5 * (1 - 2.0), (1 - 1.0) - 1.0 * (1 - 2.0)]], dtype=D64)
    torch.testing.assert_close(l, want)
    assert position_encoding(5, 8).shape == (5, 8)


def test_memory_hop_matches_reference_and_linear_start_drops_the_softmax():
    g = torch.Generator().manual_seed(1)
    u, m, c = (torch.randn(*s, generator=g, dtype=D64) for s in ((2, 4), (2, 5, 4), (2, 5, 4)))
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    o, p = memory_hop(u, m, c, mask)
    o_ref, p_ref = memory_hop_ref(u, m, c, mask)
    torch.testing.assert_close(o, o_ref)
    torch.testing.assert_close(p, p_ref)
    o_lin, p_lin = memory_hop(u, m, c, mask, linear=True)
    torch.testing.assert_close(p_lin, torch.einsum("bd,bnd->bn", u, m) * mask)
    torch.testing.assert_close(o_lin, torch.einsum("bn,bnd->bd", p_lin, c))
