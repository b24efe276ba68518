"""Neural stack, queue and deque (Grefenstette et al. 2015): vectorised forms vs per-element loops
(float64 values and gradients), gradcheck, the paper's worked example and a hand-computed queue
and deque, invariants (strengths in [0, 1], read weights in [0, 1] summing to at most 1),
all-zero and degenerate controls, and the modules composed with a controller."""

from __future__ import annotations

import pytest
import torch

from memlab.memory import deque as DQ
from memlab.memory import queue as Q
from memlab.memory import stack as S

D = torch.float64


def _rand(*shape, seed=0, lo=0.0, hi=1.0):
    g = torch.Generator().manual_seed(seed)
    return (lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=D)).requires_grad_()


def _assert_same(fast, ref, inputs):
    out_f, out_r = fast(*inputs), ref(*inputs)
    torch.testing.assert_close(out_f, out_r, rtol=1e-12, atol=1e-12)
    proj = torch.randn(out_f.shape, generator=torch.Generator().manual_seed(1), dtype=D)
    gf = torch.autograd.grad((out_f * proj).sum(), inputs, allow_unused=True)
    gr = torch.autograd.grad((out_r * proj).sum(), inputs, allow_unused=True)
    for a, b in zip(gf, gr):
        if a is None or b is None:
            assert a is None and b is None or not (a if a is not None else b).any()
        else:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- reference agreement

UPDATES = [(S.stack_update, S.stack_update_ref), (Q.queue_update, Q.queue_update_ref)]
READS = [(S.stack_read, S.stack_read_ref), (Q.queue_read, Q.queue_read_ref), (DQ.deque_read, DQ.deque_read_ref)]


@pytest.mark.parametrize("fast,ref", UPDATES)
@pytest.mark.parametrize("n", [0, 1, 6])
def test_update_matches_reference(fast, ref, n):
    _assert_same(fast, ref, (_rand(3, n, hi=0.6), _rand(3, seed=2), _rand(3, seed=3)))


@pytest.mark.parametrize("fast,ref", READS)
def test_read_matches_reference(fast, ref):
    _assert_same(fast, ref, (_rand(3, 7, 4, seed=4, lo=-1), _rand(3, 7, seed=5, hi=0.5)))


def test_deque_update_matches_reference():
    _assert_same(DQ.deque_update, DQ.deque_update_ref,
                 (_rand(3, 6, hi=0.5), _rand(3, seed=6), _rand(3, seed=7), _rand(3, seed=8), _rand(3, seed=9)))


@pytest.mark.parametrize("fast", [S.stack_update, Q.queue_update])
def test_update_gradcheck(fast):
    # away from the kinks of max/min: strengths and pops in general position
    s, d, u = _rand(2, 5, hi=0.4, seed=10), _rand(2, seed=11), _rand(2, seed=12, lo=0.2, hi=0.9)
    assert torch.autograd.gradcheck(fast, (s, d, u))


@pytest.mark.parametrize("read", [S.stack_read, Q.queue_read, DQ.deque_read])
def test_read_gradcheck(read):
    assert torch.autograd.gradcheck(read, (_rand(2, 5, 3, seed=13, lo=-1), _rand(2, 5, seed=14, hi=0.45)))


def _run(update, read, controls, n_values=3):
    """Step an update/read pair through (d, u) controls with one-hot values v_t = e_t."""
    s, V = torch.zeros(1, 0, dtype=D), torch.zeros(1, 0, n_values, dtype=D)
    out = []
    for t, (d, u) in enumerate(controls):
        s = update(s, torch.tensor([d], dtype=D), torch.tensor([u], dtype=D))
        V = torch.cat([V, torch.eye(n_values, dtype=D)[t].view(1, 1, -1)], 1)
        out.append((s[0].tolist(), read(V, s)[0].tolist()))
    return out


PAPER_CONTROLS = [(0.8, 0.0), (0.5, 0.1), (0.9, 0.9)]


def test_stack_paper_worked_example():
    """Grefenstette et al. 2015, Fig. 1: strengths and reads after each of three steps."""
    got = _run(S.stack_update, S.stack_read, PAPER_CONTROLS)
    want = [([0.8], [0.8, 0, 0]), ([0.7, 0.5], [0.5, 0.5, 0]), ([0.3, 0.0, 0.9], [0.1, 0.0, 0.9])]
    for (s, r), (ws, wr) in zip(got, want):
        assert s == pytest.approx(ws, abs=1e-12) and r == pytest.approx(wr, abs=1e-12)


def test_queue_hand_computed():
    """Same controls on the queue: the pop of 0.9 at t = 3 empties row 1 (0.7) and takes 0.2 of row 2."""
    got = _run(Q.queue_update, Q.queue_read, PAPER_CONTROLS)
    want = [([0.8], [0.8, 0, 0]), ([0.7, 0.5], [0.7, 0.3, 0]), ([0.0, 0.3, 0.9], [0.0, 0.3, 0.7])]
    for (s, r), (ws, wr) in zip(got, want):
        assert s == pytest.approx(ws, abs=1e-12) and r == pytest.approx(wr, abs=1e-12)


def test_deque_hand_computed():
    """Rows bottom..top [0.4, 0.3, 0.5]; pop 0.6 from the top (0.5 of row 3, 0.1 of row 2), then
    0.3 from the bottom (of row 1), push 0.2 below and 0.7 on top."""
    s = torch.tensor([[0.4, 0.3, 0.5]], dtype=D)
    one = lambda x: torch.tensor([x], dtype=D)  # noqa: E731
    got = DQ.deque_update(s, one(0.7), one(0.6), one(0.2), one(0.3))
    torch.testing.assert_close(got, torch.tensor([[0.2, 0.1, 0.2, 0.0, 0.7]], dtype=D))
    V = torch.eye(5, dtype=D).unsqueeze(0)
    r = DQ.deque_read(V, got)[0]
    torch.testing.assert_close(r[:5], torch.tensor([0, 0.1, 0.2, 0, 0.7], dtype=D))  # top: 0.7, then 0.2, 0.1
    torch.testing.assert_close(r[5:], torch.tensor([0.2, 0.1, 0.2, 0, 0.5], dtype=D))  # bottom: 0.2, 0.1, 0.2, 0.5


def test_hard_controls_are_an_exact_stack_and_queue():
    """With d, u ∈ {0, 1} the structures behave as discrete ones: push a, b, c, then pop twice."""
    ctl = [(1, 0), (1, 0), (1, 0), (0, 1), (0, 1)]
    stack = _run(S.stack_update, S.stack_read, ctl, 5)
    queue = _run(Q.queue_update, Q.queue_read, ctl, 5)
    assert [r.index(1.0) for _, r in stack[:3]] == [0, 1, 2] and stack[3][1][:2] == [0, 1.0] and stack[4][1][0] == 1.0
    assert [r.index(1.0) for _, r in queue[:3]] == [0, 0, 0] and queue[3][1][1] == 1.0 and queue[4][1][2] == 1.0


# --------------------------------------------------------------------------- invariants and degenerate inputs


@pytest.mark.parametrize("update,weights", [(S.stack_update, S.read_weights_top), (Q.queue_update, Q.read_weights_bottom)])
def test_invariants_over_random_steps(update, weights):
    g = torch.Generator().manual_seed(0)
    s = torch.zeros(16, 0, dtype=D)
    for _ in range(30):
        d, u = torch.rand(16, generator=g, dtype=D), torch.rand(16, generator=g, dtype=D)
        prev_total = s.sum(-1)
        s = update(s, d, u)
        assert ((s >= 0) & (s <= 1)).all()
        assert (s[:, :-1].sum(-1) <= prev_total + 1e-12).all()  # a pop never adds strength
        assert (s[:, :-1].sum(-1) >= prev_total - u - 1e-12).all()  # and removes at most u
        w = weights(s)
        assert ((w >= 0) & (w <= s + 1e-15)).all() and (w.sum(-1) <= 1 + 1e-12).all()
        torch.testing.assert_close(w.sum(-1), s.sum(-1).clamp(max=1))


def test_deque_invariants():
    g = torch.Generator().manual_seed(1)
    s = torch.zeros(8, 0, dtype=D)
    for _ in range(20):
        s = DQ.deque_update(s, *(torch.rand(8, generator=g, dtype=D) for _ in range(4)))
        assert ((s >= 0) & (s <= 1)).all()
        for w in (S.read_weights_top(s), Q.read_weights_bottom(s)):
            assert (w.sum(-1) <= 1 + 1e-12).all()


@pytest.mark.parametrize("update,read", [(S.stack_update, S.stack_read), (Q.queue_update, Q.queue_read)])
def test_all_zero_and_degenerate(update, read):
    # empty structure, zero push/pop: finite values and gradients
    s, d, u = torch.zeros(2, 0, dtype=D, requires_grad=True), torch.zeros(2, dtype=D, requires_grad=True), \
        torch.zeros(2, dtype=D, requires_grad=True)
    s1 = update(s, d, u)
    assert s1.shape == (2, 1) and (s1 == 0).all()
    V = torch.zeros(2, 1, 3, dtype=D, requires_grad=True)
    r = read(V, s1)
    assert (r == 0).all()
    (r.sum() + s1.sum()).backward()
    assert all(torch.isfinite(x.grad).all() for x in (d, u, V))
    # popping more than is there leaves zeros; a full push of zero values reads zero
    s2 = update(torch.full((1, 3), 0.2, dtype=D), torch.ones(1, dtype=D), torch.ones(1, dtype=D))
    torch.testing.assert_close(s2, torch.tensor([[0, 0, 0, 1.0]], dtype=D))
    # reading an empty structure gives zeros of the value width
    assert read(torch.zeros(1, 0, 4, dtype=D), torch.zeros(1, 0, dtype=D)).shape == (1, 4)


# --------------------------------------------------------------------------- modules


@pytest.mark.parametrize("name,cls,read", [("stack", S.StackAccess, 4), ("queue", Q.QueueAccess, 4), ("deque", DQ.DequeAccess, 8)])
def test_access_composes_with_controllers(name, cls, read):
    from memlab.core.interfaces import run_core
    from memlab.models.compose import make_core

    torch.manual_seed(0)
    for controller in ("lstm", "gru"):
        core = make_core(name, 5, controller=controller, controller_size=6, word_size=4)
        assert isinstance(core.access, cls) and core.access.read_size == read and core.output_size == 6 + read
        xs = torch.randn(7, 3, 5)
        ys, state = core.forward_sequence(xs)
        torch.testing.assert_close(ys, run_core(core, xs)[0])
        rows = 7 * (2 if name == "deque" else 1)
        assert state.memory.V.shape == (3, rows, 4) and state.memory.s.shape == (3, rows)
        ys.sum().backward()
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in core.parameters())


def test_trace_has_fixed_shapes():
    from memlab.models.compose import make_core

    core = make_core("deque", 3, controller_size=4, word_size=2)
    tr = core.trace(torch.randn(5, 2, 3))
    assert tr["read"].shape == (5, 2, 4) and tr["strength"].shape == (5, 2, 1)
    assert (tr["strength"] >= 0).all() and (tr["strength"] <= 2 * torch.arange(1, 6).view(5, 1, 1)).all()


def test_access_step_equals_pure_functions():
    torch.manual_seed(1)
    acc = S.StackAccess(S.StackConfig(word_size=3), 5).double()
    h = torch.randn(2, 5, dtype=D)
    st = acc.initial_state(2)
    r1, st1 = acc(h, st)
    d, u, v = acc.controls(h)
    torch.testing.assert_close(st1.s, d)  # the first step pushes d_1 onto the empty stack
    torch.testing.assert_close(r1, d * v[:, 0])


def test_bad_settings_are_one_line_errors():
    from memlab.core.errors import ConfigError
    from memlab.models.compose import make_core

    for bad in (0, float("nan"), float("inf"), -3):
        with pytest.raises(ConfigError, match="word_size"):
            make_core("stack", 4, word_size=bad)


@pytest.mark.parametrize("name", ["stack", "queue", "deque", "stack-rnn"])
def test_registered_models_have_an_lstm_controller_by_default(name):
    """The issue's stack-, queue- and deque-augmented LSTM (and the Stack-RNN) are the registered
    models themselves: the LSTM controller unless ``model.controller`` names another."""
    from memlab.controllers.gru import GRUCore
    from memlab.controllers.lstm import LSTMCore
    from memlab.models import MODELS, build_model
    from memlab.tasks import make_task

    assert name in MODELS
    spec = make_task("reverse", {"vocab": 4, "train_min": 2, "train_max": 4, "test_min": 5, "test_max": 6}).spec
    torch.manual_seed(0)
    model = build_model(name, spec, "reverse", {"controller_size": 6})
    assert isinstance(model.core.controller, LSTMCore) and model.core.controller.standard
    model = build_model(name, spec, "reverse", {"controller_size": 6, "controller": "gru"})
    assert isinstance(model.core.controller, GRUCore)
