"""NTM/DNC addressing: fast forms vs slow reference loops (float64 values and gradients),
weighting invariants, edge cases of shift and sharpen, DNC allocation and temporal links."""

from __future__ import annotations

import pytest
import torch

from memlab.memory import addressing as A

D = torch.float64


def _rand(*shape, positive=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(*shape, generator=g, dtype=D) if positive else torch.randn(*shape, generator=g, dtype=D)
    return x.requires_grad_()


def _simplex(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(*shape, generator=g, dtype=D) * 2, -1).requires_grad_()


def _assert_same(fast, ref, inputs):
    """Values and gradients of a random projection agree between fast and ref."""
    out_f, out_r = fast(*inputs), ref(*inputs)
    torch.testing.assert_close(out_f, out_r, rtol=1e-10, atol=1e-12)
    proj = torch.randn(out_f.shape, generator=torch.Generator().manual_seed(1), dtype=D)
    gf = torch.autograd.grad((out_f * proj).sum(), [x for x in inputs if x.requires_grad])
    gr = torch.autograd.grad((out_r * proj).sum(), [x for x in inputs if x.requires_grad])
    for a, b in zip(gf, gr):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


# --------------------------------------------------------------------------- reference agreement


def test_content_weighting_matches_reference():
    _assert_same(A.content_weighting, A.content_weighting_ref, (_rand(2, 5, 3), _rand(2, 2, 3, seed=1), _rand(2, 2, positive=True, seed=2)))


@pytest.mark.parametrize("R", [0, 1, 2])
def test_circular_shift_matches_reference(R):
    _assert_same(A.circular_shift, A.circular_shift_ref, (_simplex(2, 3, 6), _simplex(2, 3, 2 * R + 1, seed=3)))


def test_sharpen_matches_reference():
    gamma = (1 + _rand(2, 3, positive=True, seed=4).detach() * 3).requires_grad_()
    _assert_same(A.sharpen, A.sharpen_ref, (_simplex(2, 3, 7), gamma))


@pytest.mark.parametrize("H", [1, 3])
def test_erase_add_matches_reference(H):
    _assert_same(A.erase_add, A.erase_add_ref, (_rand(2, 5, 4), _simplex(2, H, 5), _rand(2, H, 4, positive=True, seed=5), _rand(2, H, 4, seed=6)))


def test_allocation_matches_reference():
    u = _rand(3, 6, positive=True, seed=7)
    _assert_same(A.allocation_weighting, A.allocation_weighting_ref, (u,))


def test_allocation_ties_match_reference():
    u = torch.tensor([[0.5, 0.2, 0.2, 0.9, 0.2]], dtype=D, requires_grad=True)
    _assert_same(A.allocation_weighting, A.allocation_weighting_ref, (u,))


def test_link_update_matches_reference():
    L = _rand(2, 2, 5, 5, positive=True, seed=8).detach() * 0.3
    L.diagonal(dim1=-2, dim2=-1).zero_()
    _assert_same(A.link_update, A.link_update_ref, (L.requires_grad_(), _simplex(2, 2, 5, seed=9), _simplex(2, 2, 5, seed=10) * 0.9))


def test_directional_weightings_match_reference():
    L = _rand(2, 2, 4, 4, positive=True, seed=11)
    w = _simplex(2, 3, 4, seed=12)
    f, b = A.directional_weightings(L, w)
    fr, br = A.directional_weightings_ref(L, w)
    torch.testing.assert_close(f, fr)
    torch.testing.assert_close(b, br)


# --------------------------------------------------------------------------- gradcheck (float64 finite differences)


def test_gradcheck_ntm_address():
    mem = _rand(2, 6, 3)
    args = (mem, _simplex(2, 2, 6, seed=1), _rand(2, 2, 3, seed=2), _rand(2, 2, positive=True, seed=3),
            _rand(2, 2, positive=True, seed=4), _simplex(2, 2, 3, seed=5), (1 + _rand(2, 2, positive=True, seed=6)).detach().requires_grad_())
    assert torch.autograd.gradcheck(A.ntm_address, args)


def test_gradcheck_dnc_pieces():
    assert torch.autograd.gradcheck(A.allocation_weighting, (_rand(2, 5, positive=True),))
    assert torch.autograd.gradcheck(A.usage_update, (_rand(2, 5, positive=True), _simplex(2, 2, 5), _rand(2, 5, positive=True, seed=3)))
    assert torch.autograd.gradcheck(A.retention, (_rand(2, 3, positive=True), _simplex(2, 3, 5)))
    assert torch.autograd.gradcheck(A.precedence_update, (_simplex(2, 1, 5), _simplex(2, 1, 5, seed=1) * 0.5))
    modes = _simplex(2, 3, 5, seed=4)  # 1 + 2·Hw with Hw = 2
    f, b = _simplex(2, 3, 2, 6, seed=5), _simplex(2, 3, 2, 6, seed=6)
    assert torch.autograd.gradcheck(A.read_weighting, (_simplex(2, 3, 6), f, b, modes))
    assert torch.autograd.gradcheck(
        A.write_allocations, (_rand(2, 5, positive=True), _rand(2, 2, positive=True, seed=8))
    )


# --------------------------------------------------------------------------- invariants


def _is_weighting(w, total=1.0):
    assert bool((w >= 0).all())
    torch.testing.assert_close(w.sum(-1), torch.full_like(w.sum(-1), total), rtol=1e-6, atol=1e-6)


def test_ntm_weightings_are_distributions():
    mem = torch.randn(4, 16, 5)
    w = A.ntm_address(mem, torch.softmax(torch.randn(4, 3, 16), -1), torch.randn(4, 3, 5), torch.rand(4, 3) * 10,
                      torch.rand(4, 3), torch.softmax(torch.randn(4, 3, 5), -1), 1 + torch.rand(4, 3) * 20)
    _is_weighting(w)
    _is_weighting(A.content_weighting(mem, torch.randn(4, 2, 5), torch.rand(4, 2) * 50))


def test_dnc_weightings_are_distributions():
    u = torch.rand(4, 10)
    a = A.allocation_weighting(u)
    assert bool((a >= 0).all()) and bool((a.sum(-1) <= 1 + 1e-6).all())
    _is_weighting(A.allocation_weighting(torch.zeros(4, 10)), 1.0)  # empty memory allocates fully
    modes = torch.softmax(torch.randn(4, 2, 3), -1)
    c = torch.softmax(torch.randn(4, 2, 10), -1)
    L = torch.zeros(4, 1, 10, 10)
    f, b = A.directional_weightings(L, c)
    r = A.read_weighting(c, f, b, modes)
    assert bool((r >= 0).all()) and bool((r.sum(-1) <= 1 + 1e-6).all())


def test_content_weighting_prefers_matching_row():
    mem = torch.eye(5).unsqueeze(0)  # (1, 5, 5)
    w = A.content_weighting(mem, mem[:, 2:3], torch.tensor([[50.0]]))
    assert int(w.argmax()) == 2 and float(w[0, 0, 2]) > 0.99


# --------------------------------------------------------------------------- edge cases


def test_shift_moves_focus_and_wraps_around():
    w = torch.zeros(1, 1, 5)
    w[..., 4] = 1.0
    plus_one = torch.tensor([[[0.0, 0.0, 1.0]]])  # offsets −1, 0, +1
    minus_one = torch.tensor([[[1.0, 0.0, 0.0]]])
    assert int(A.circular_shift(w, plus_one).argmax()) == 0  # 4 + 1 wraps to 0
    assert int(A.circular_shift(w, minus_one).argmax()) == 3
    identity = torch.tensor([[[1.0]]])  # shift range 0
    torch.testing.assert_close(A.circular_shift(w, identity), w)


def test_shift_wider_than_memory_is_rejected():
    with pytest.raises(ValueError, match="odd and <= memory size"):
        A.circular_shift(torch.ones(1, 1, 3) / 3, torch.ones(1, 1, 5) / 5)
    with pytest.raises(ValueError):
        A.circular_shift(torch.ones(1, 1, 4) / 4, torch.ones(1, 1, 2) / 2)


def test_full_shift_range_equals_memory_size():
    g = torch.Generator().manual_seed(0)
    w = torch.softmax(torch.randn(1, 1, 5, generator=g, dtype=D), -1)
    s = torch.softmax(torch.randn(1, 1, 5, generator=g, dtype=D), -1)
    torch.testing.assert_close(A.circular_shift(w, s), A.circular_shift_ref(w, s))


def test_sharpen_edge_cases():
    w = torch.tensor([[[0.0, 0.25, 0.75, 0.0]]], requires_grad=True)
    one = A.sharpen(w, torch.ones(1, 1))
    torch.testing.assert_close(one, w.detach(), atol=1e-5, rtol=0)  # γ = 1 keeps the weighting
    hard = A.sharpen(w, torch.full((1, 1), 100.0))
    assert float(hard.detach()[0, 0, 2]) > 0.999  # large γ -> one-hot on the maximum
    gamma = torch.full((1, 1), 3.0, requires_grad=True)
    A.sharpen(w, gamma).pow(2).sum().backward()  # zeros in w: finite w- and γ-gradients
    assert torch.isfinite(w.grad).all() and torch.isfinite(gamma.grad).all()
    zero = A.sharpen(torch.zeros(1, 1, 4), torch.full((1, 1), 5.0))  # all-zero weighting -> uniform
    torch.testing.assert_close(zero, torch.full((1, 1, 4), 0.25), atol=1e-5, rtol=0)


def test_zero_memory_and_zero_key_are_finite():
    mem = torch.zeros(2, 6, 4, requires_grad=True)
    key = torch.zeros(2, 2, 4, requires_grad=True)
    beta = torch.ones(2, 2, requires_grad=True)
    w = A.content_weighting(mem, key, beta)
    torch.testing.assert_close(w, torch.full_like(w, 1 / 6))
    (w * torch.randn_like(w)).sum().backward()
    for t in (mem, key, beta):
        assert torch.isfinite(t.grad).all()


# --------------------------------------------------------------------------- DNC semantics


def test_allocation_picks_least_used_free_slot():
    u = torch.tensor([[0.9, 0.3, 0.05, 1.0, 0.6]])
    a = A.allocation_weighting(u)
    assert int(a.argmax()) == 2
    torch.testing.assert_close(a[0, 2], torch.tensor(0.95), atol=1e-5, rtol=0)
    full = A.allocation_weighting(torch.tensor([[1.0, 1.0, 0.0, 1.0]]))  # exactly one free slot
    torch.testing.assert_close(full, torch.tensor([[0.0, 0.0, 1.0, 0.0]]), atol=1e-5, rtol=0)


def test_multi_head_allocation_uses_different_slots():
    u = torch.tensor([[0.9, 0.0, 0.9, 0.0, 0.9]])
    a = A.write_allocations(u, torch.ones(1, 2))
    assert {int(a[0, 0].argmax()), int(a[0, 1].argmax())} == {1, 3}


def test_usage_grows_with_writes_and_frees_after_reads():
    u0 = torch.zeros(1, 4)
    w = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])
    u1 = A.usage_update(u0, w, torch.ones(1, 4))  # written, nothing freed
    torch.testing.assert_close(u1, torch.tensor([[0.0, 1.0, 0.0, 0.0]]))
    psi = A.retention(torch.ones(1, 1), w)  # read location 1 with free gate 1
    u2 = A.usage_update(u1, torch.zeros(1, 1, 4), psi)
    torch.testing.assert_close(u2, torch.zeros(1, 4))


def test_temporal_links_recover_write_order():
    N, order = 6, [3, 0, 5, 1]
    L = torch.zeros(1, 1, N, N)
    p = torch.zeros(1, 1, N)
    for i in order:
        w = torch.zeros(1, 1, N)
        w[..., i] = 1.0
        L = A.link_update(L, p, w)
        p = A.precedence_update(p, w)
    for prev, nxt in zip(order, order[1:]):
        r = torch.zeros(1, 1, N)
        r[..., prev] = 1.0
        f, b = A.directional_weightings(L, r)
        assert int(f[0, 0, 0].argmax()) == nxt and float(f.max()) > 0.99  # forward: what came next
        r2 = torch.zeros(1, 1, N)
        r2[..., nxt] = 1.0
        _, b2 = A.directional_weightings(L, r2)
        assert int(b2[0, 0, 0].argmax()) == prev  # backward: what came before
    assert float(L.diagonal(dim1=-2, dim2=-1).abs().max()) == 0.0
    r = torch.zeros(1, 1, N)
    r[..., order[-1]] = 1.0
    assert float(A.directional_weightings(L, r)[0].sum()) == 0.0  # nothing was written after the last
