"""Lie access memory: read weightings (§3.1), the fused kernel against the reference, the core contract."""

from __future__ import annotations

import pytest
import torch

from memlab.core.interfaces import run_core
from memlab.memory.lie_access import (
    LANTMCore,
    _LANTMScan,
    invnorm_weights,
    lantm_scan,
    read_memory,
    softmax_weights,
    squared_distances,
)

D = torch.float64


def _mem(B=3, R=2, N=6, n=2, m=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    k = torch.randn(B, R, n, generator=g, dtype=D)
    a = torch.randn(B, N, n, generator=g, dtype=D)
    s = torch.rand(B, N, generator=g, dtype=D) * 0.9 + 0.05
    M = torch.tanh(torch.randn(B, N, m, generator=g, dtype=D))
    T = torch.rand(B, R, generator=g, dtype=D) + 0.2
    return k, a, s, M, T


# --------------------------------------------------------------------------- weightings


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
def test_invnorm_weights_are_a_distribution_and_match_the_formula(alpha):
    k, a, s, _, _ = _mem()
    w = invnorm_weights(k, a, s, alpha=alpha, eps=1e-9)
    assert w.shape == (3, 2, 6)
    assert (w >= 0).all()
    assert torch.allclose(w.sum(-1), torch.ones(3, 2, dtype=D))
    # the α-general stabilised form: w_i ∝ S_i (‖k − a_i‖² + ε)^(−α/2); α = 2 is S_i ‖k − a_i‖^(−2)
    d = (k.unsqueeze(2) - a.unsqueeze(1)).norm(dim=-1)
    u = s.unsqueeze(1) * (d**2 + 1e-9) ** (-alpha / 2)
    assert torch.allclose(w, u / u.sum(-1, keepdim=True), atol=1e-12)
    if alpha == 2.0:
        u2 = s.unsqueeze(1) * d ** (-2)
        assert torch.allclose(w, u2 / u2.sum(-1, keepdim=True), atol=1e-8)


def test_softmax_weights_are_a_distribution_and_match_the_formula():
    k, a, s, _, T = _mem()
    w = softmax_weights(k, a, s, T)
    assert (w >= 0).all() and torch.allclose(w.sum(-1), torch.ones(3, 2, dtype=D))
    u = s.unsqueeze(1) * torch.exp(-squared_distances(k, a) / T.unsqueeze(-1))
    assert torch.allclose(w, u / u.sum(-1, keepdim=True), atol=1e-12)
    # hot reads spread out towards the strength-weighted average
    w_hot = softmax_weights(k, a, s, torch.full_like(T, 1e6))
    assert torch.allclose(w_hot, (s / s.sum(-1, keepdim=True)).unsqueeze(1).expand_as(w_hot), atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_invnorm_exact_key_gives_weight_one_without_nan(dtype):
    a = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [3.0, 2.0]]], dtype=dtype)  # (1, 4, 2)
    s = torch.tensor([[0.9, 0.5, 0.7, 0.3]], dtype=dtype)
    for i in range(4):
        k = a[:, i : i + 1].clone().requires_grad_()  # read key exactly on address i
        w = invnorm_weights(k, a, s)
        assert w[0, 0, i] > 1 - 1e-6
        (read_memory(w, torch.randn(1, 4, 3, dtype=dtype)).sum()).backward()
        assert torch.isfinite(w).all() and torch.isfinite(k.grad).all()


@pytest.mark.parametrize("offset", [0.0, 1e-12, 3e-5, 1e-4])
@pytest.mark.parametrize("alpha", [1.0, 2.0, 8.0, 30.0])
def test_no_nan_values_or_grads_near_an_address(offset, alpha):
    a = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]], dtype=torch.float32, requires_grad=True)
    s = torch.tensor([[0.5, 0.5]], requires_grad=True)
    k = (a.detach()[:, :1] + offset).requires_grad_()
    M = torch.randn(1, 2, 3, requires_grad=True)
    rho = read_memory(invnorm_weights(k, a, s, alpha=alpha), M)
    rho.sum().backward()
    for t in (rho, k.grad, a.grad, s.grad, M.grad):
        assert torch.isfinite(t).all()


def test_empty_memory_and_zero_strengths_read_zero_without_nan():
    k = torch.randn(2, 1, 2, requires_grad=True)
    empty_a, empty_s, empty_M = torch.zeros(2, 0, 2), torch.zeros(2, 0), torch.zeros(2, 0, 5)
    for w in (invnorm_weights(k, empty_a, empty_s), softmax_weights(k, empty_a, empty_s, torch.ones(2, 1))):
        assert w.shape == (2, 1, 0)
        rho = read_memory(w, empty_M)
        assert rho.shape == (2, 1, 5) and (rho == 0).all()
    a, M = torch.randn(2, 3, 2), torch.randn(2, 3, 5)
    s = torch.zeros(2, 3, requires_grad=True)
    for w in (invnorm_weights(k, a, s), softmax_weights(k, a, s, torch.ones(2, 1))):
        rho = read_memory(w, M)
        assert (rho == 0).all()
        rho.sum().backward()
        assert torch.isfinite(k.grad).all() and torch.isfinite(s.grad).all()


def test_read_gradcheck_float64():
    k, a, s, M, T = _mem(B=2, R=2, N=4, n=2, m=3)
    args = [x.clone().requires_grad_() for x in (k, a, s, M)]
    assert torch.autograd.gradcheck(lambda k, a, s, M: read_memory(invnorm_weights(k, a, s, 2.0, 1e-9), M), args)
    assert torch.autograd.gradcheck(lambda k, a, s, M: read_memory(invnorm_weights(k, a, s, 3.0, 1e-9), M), args)
    targs = args + [T.clone().requires_grad_()]
    assert torch.autograd.gradcheck(lambda k, a, s, M, T: read_memory(softmax_weights(k, a, s, T), M), targs)


# --------------------------------------------------------------------------- fast kernel == reference

KERNEL_CASES = [
    dict(group="translation", weighting="invnorm"),
    dict(group="translation", weighting="softmax"),
    dict(group="translation", weighting="invnorm", key_dim=3, read_heads=2, write_heads=2, alpha=3.0),
    dict(group="translation", weighting="invnorm", normalise_steps=False, alpha=1.0),
    dict(group="so2", weighting="invnorm", read_heads=2),
    dict(group="so2", weighting="softmax", write_heads=2),
    dict(group="scaling_rotation", weighting="invnorm"),
    dict(group="scaling_rotation", weighting="softmax", read_heads=3),
]


def _core(kw, E=5, H=6, m=3, seed=0):
    torch.manual_seed(seed)
    kw = {"write_gate_bias": -1.0, **kw}
    core = LANTMCore(E, hidden=H, mem_width=m, **kw).double()
    with torch.no_grad():  # make the initial state non-trivial
        for p in (core.h0, core.c0, core.r0):
            p.normal_(0, 0.5)
    return core


@pytest.mark.parametrize("kw", KERNEL_CASES, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
def test_fast_kernel_equals_reference_values_and_grads(kw):
    core = _core(kw)
    xs = torch.randn(9, 4, 5, dtype=D)
    hs_ref, st_ref, tr_ref = core.run(xs, impl="ref")
    hs_fast, st_fast, tr_fast = core.run(xs, impl="fast")
    assert torch.allclose(hs_fast, hs_ref, atol=1e-12)
    for x, y in zip(st_fast, st_ref):
        assert x.shape == y.shape and torch.allclose(x, y, atol=1e-12)
    for x, y in zip(tr_fast, tr_ref):
        assert (x is None and y is None) or torch.allclose(x, y, atol=1e-12)
    g_out = torch.randn_like(hs_ref)
    params = [p for p in core.parameters()]
    g_ref = torch.autograd.grad((hs_ref * g_out).sum(), params)
    g_fast = torch.autograd.grad((hs_fast * g_out).sum(), params)
    for (name, _), x, y in zip(core.named_parameters(), g_fast, g_ref):
        assert torch.allclose(x, y, atol=1e-10, rtol=1e-8), name


@pytest.mark.parametrize("kw", [KERNEL_CASES[0], KERNEL_CASES[1], KERNEL_CASES[5]], ids=["inv", "soft", "so2"])
def test_fast_kernel_gradcheck(kw):
    core = _core(kw, E=2, H=3, m=2)
    T, B = 4, 2
    st = core.initial_state(B)
    xg = torch.randn(T, B, 4 * 3, dtype=D)
    p = core.params()
    args = [t.detach().clone().requires_grad_() for t in (xg, p.Uh, p.Ur, p.Wq, p.bq, *st[:5])]
    assert torch.autograd.gradcheck(lambda *a: _LANTMScan.apply(*a, core.spec)[0], args)


def test_core_contract_sequence_equals_stepping_and_state_grows():
    core = _core(KERNEL_CASES[0]).float()
    xs = torch.randn(7, 3, 5)
    ys_step, st_step = run_core(core, xs)  # MemoryCore.forward one step at a time
    ys_seq, st_seq = core.forward_sequence(xs)
    assert torch.allclose(ys_step, ys_seq, atol=1e-5)
    assert st_seq.memory.shape == (3, 7, 3) and st_step.addresses.shape == (3, 7, 2)
    assert core.state_size(7) - core.state_size(0) == 7 * (2 + 3 + 1)
    # with lengths: outputs past each length are zero, those slots have strength 0
    lengths = torch.tensor([7, 4, 0])
    ys_len, st_len = core.forward_sequence(xs, lengths=lengths)
    assert torch.allclose(ys_len[:, 0], ys_seq[:, 0], atol=1e-5)
    assert torch.allclose(ys_len[:4, 1], ys_seq[:4, 1], atol=1e-5)
    assert (ys_len[4:, 1] == 0).all() and (ys_len[:, 2] == 0).all()
    assert (st_len.strengths[1, 4:] == 0).all() and (st_len.strengths[2] == 0).all()


def test_no_grad_fast_path_keeps_no_graph_and_runs_long_sequences():
    core = _core(KERNEL_CASES[0]).float()
    xs = torch.randn(1030, 2, 5)  # 8x copy length (input 512 -> 1026 steps)
    with torch.no_grad():
        hs, st, tr = lantm_scan(core.Wx(xs), core.params(), core.initial_state(2), core.spec)
    assert hs.grad_fn is None and not hs.requires_grad
    assert torch.isfinite(hs).all() and st.addresses.shape == (2, 1030, 2)
    assert tr.keys.shape == (1030, 2, 2, 2) and tr.gates.shape == (1030, 2, 2, 2)
