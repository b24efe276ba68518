"""Stack-RNN (Joulin & Mikolov 2015): vectorised update vs per-cell loop (float64 values and
gradients), gradcheck, hard push/pop behave as a discrete stack, depth overflow, the module
composed with a controller, and one-line errors for bad settings."""

from __future__ import annotations

import pytest
import torch

from memlab.memory import stack_rnn as SR

D = torch.float64


def _inputs(B=2, K=2, p=5, m=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    S = torch.randn(B, K, p, m, generator=g, dtype=D).requires_grad_()
    a = torch.softmax(torch.randn(B, K, 3, generator=g, dtype=D), -1).requires_grad_()
    c = torch.rand(B, K, m, generator=g, dtype=D).requires_grad_()
    return S, a, c


def test_update_matches_reference():
    S, a, c = _inputs()
    fast, ref = SR.stack_rnn_update(S, a, c), SR.stack_rnn_update_ref(S, a, c)
    torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12)
    proj = torch.randn(fast.shape, generator=torch.Generator().manual_seed(1), dtype=D)
    for x, y in zip(torch.autograd.grad((fast * proj).sum(), (S, a, c)), torch.autograd.grad((ref * proj).sum(), (S, a, c))):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-12)


def test_gradcheck():
    assert torch.autograd.gradcheck(SR.stack_rnn_update, _inputs(B=1, K=1, p=4, m=2, seed=3))


def _hard(action: int, B=1, K=1):
    a = torch.zeros(B, K, 3, dtype=D)
    a[..., action] = 1
    return a


def test_hard_actions_are_a_discrete_stack():
    S = torch.zeros(1, 1, 4, 1, dtype=D)
    for x in (0.1, 0.2, 0.3):
        S = SR.stack_rnn_update(S, _hard(0), torch.full((1, 1, 1), x, dtype=D))
    assert S[0, 0, :, 0].tolist() == pytest.approx([0.3, 0.2, 0.1, 0.0])
    S = SR.stack_rnn_update(S, _hard(2), torch.zeros(1, 1, 1, dtype=D))  # no-op
    assert S[0, 0, :, 0].tolist() == pytest.approx([0.3, 0.2, 0.1, 0.0])
    S = SR.stack_rnn_update(S, _hard(1), torch.zeros(1, 1, 1, dtype=D))  # pop
    assert S[0, 0, :, 0].tolist() == pytest.approx([0.2, 0.1, 0.0, 0.0])


def test_overflow_drops_the_bottom_and_soft_mix():
    S = torch.arange(1.0, 4.0, dtype=D).view(1, 1, 3, 1)  # top 1, 2, 3 bottom
    pushed = SR.stack_rnn_update(S, _hard(0), torch.full((1, 1, 1), 9.0, dtype=D))
    assert pushed[0, 0, :, 0].tolist() == [9.0, 1.0, 2.0]
    a = torch.tensor([[[0.5, 0.25, 0.25]]], dtype=D)
    mixed = SR.stack_rnn_update(S, a, torch.full((1, 1, 1), 9.0, dtype=D))
    # cell 0: 0.5·9 + 0.25·2 + 0.25·1; cell 2: 0.5·2 + 0.25·0 + 0.25·3
    assert mixed[0, 0, :, 0].tolist() == pytest.approx([5.25, 0.5 + 0.75 + 0.5, 1.75])


def test_module_reads_top_k_and_composes():
    from memlab.core.interfaces import run_core
    from memlab.models.compose import make_core

    torch.manual_seed(0)
    core = make_core("stack-rnn", 4, controller_size=6, n_stacks=2, depth=5, cell_size=3, top_k=2)
    assert core.access.read_size == 2 * 2 * 3 and core.output_size == 6 + 12
    xs = torch.randn(6, 3, 4)
    ys, state = core.forward_sequence(xs)
    torch.testing.assert_close(ys, run_core(core, xs)[0])
    torch.testing.assert_close(ys[-1, :, 6:], state.memory.S[:, :, :2].reshape(3, -1))
    ys.sum().backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in core.parameters())


@pytest.mark.parametrize("key,value", [("depth", 0), ("top_k", 9), ("cell_size", float("nan")), ("n_stacks", float("inf"))])
def test_bad_settings_are_one_line_errors(key, value):
    from memlab.core.errors import ConfigError
    from memlab.models.compose import make_core

    with pytest.raises(ConfigError, match=key) as e:
        make_core("stack-rnn", 4, **{"depth": 8, key: value})
    assert "\n" not in str(e.value)
