"""Fast-weights RNN (Ba et al. 2016; seed 001 eq. 2.56–2.57): a hand-computed step, the
history form against the reference loop (float64 values and gradients), gradcheck, the
limits that make it an ordinary RNN, and one-line errors for bad settings."""

from __future__ import annotations

import math

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory import fast_weights as fw
from memlab.memory.fast_weights_rnn import (FastWeightsParams, FastWeightsRNN, FastWeightsRNNConfig, FastWeightsState,
                                            fast_weights_rnn_ref, fast_weights_rnn_seq, fast_weights_rnn_step)

D = torch.float64


def _params(I=3, H=4, ln=True, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: (torch.randn(*s, generator=g, dtype=D) * 0.5).requires_grad_(grad)  # noqa: E731
    return FastWeightsParams(r(H, H), r(H, I), r(H), (1 + r(H).detach()).requires_grad_(grad) if ln else None,
                             r(H) if ln else None)


def _state(B=2, H=4, seed=1, zero_A=False, grad=False):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(B, H, generator=g, dtype=D) * 0.5
    A = torch.zeros(B, H, H, dtype=D) if zero_A else torch.randn(B, H, H, generator=g, dtype=D) * 0.2
    return FastWeightsState(h.requires_grad_(grad), A.requires_grad_(grad))


# --------------------------------------------------------------------------- hand-computed step


def test_one_step_by_hand_without_layer_norm():
    """H = 1, I = 1, f = tanh: every number of eq. 2.56–2.57 written out."""
    lam, eta = 0.9, 0.5
    p = FastWeightsParams(torch.tensor([[0.3]], dtype=D), torch.tensor([[2.0]], dtype=D), torch.tensor([0.1], dtype=D), None, None)
    st = FastWeightsState(torch.tensor([[0.5]], dtype=D), torch.tensor([[[0.2]]], dtype=D))
    x = torch.tensor([[0.4]], dtype=D)
    A1 = 0.9 * 0.2 + 0.5 * 0.5 * 0.5  # λ A + η h h = 0.305
    z = 0.3 * 0.5 + 2.0 * 0.4 + 0.1  # W h + C x + b = 1.05
    h0 = math.tanh(z)
    h1 = math.tanh(z + A1 * h0)
    h2 = math.tanh(z + A1 * h1)
    for S, want in [(0, h0), (1, h1), (2, h2)]:
        h, new = fast_weights_rnn_step(x, st, p, lam, eta, S, "tanh")
        assert h.item() == pytest.approx(want, abs=1e-14)
        assert new.A.item() == pytest.approx(A1, abs=1e-14)
        assert new.h.item() == pytest.approx(want, abs=1e-14)


def test_one_step_by_hand_with_layer_norm_and_relu():
    """H = 2: LN of (a, b) is ((a − b)/2, (b − a)/2)/sqrt(((a − b)/2)² + ε), then gain, bias and ReLU;
    the preliminary vector h_0 = ReLU(z) is not normalised (Ba et al. §3.1)."""
    W = torch.zeros(2, 2, dtype=D)
    C = torch.tensor([[1.0], [-1.0]], dtype=D)
    p = FastWeightsParams(W, C, torch.zeros(2, dtype=D), torch.tensor([2.0, 1.0], dtype=D), torch.tensor([0.0, 0.5], dtype=D))
    st = FastWeightsState(torch.tensor([[1.0, 0.0]], dtype=D), torch.zeros(1, 2, 2, dtype=D))
    x = torch.tensor([[0.3]], dtype=D)

    def ln(a, b):
        d = (a - b) / 2
        s = math.sqrt(d * d + 1e-5)
        return 2.0 * d / s + 0.0, 1.0 * (-d) / s + 0.5

    z = (0.3, -0.3)
    h0 = [max(v, 0.0) for v in z]  # (0.3, 0)
    A = [[1.0 * 1.0, 0.0], [0.0, 0.0]]  # η = 1: A = h hᵀ with h = (1, 0)
    Ah = (A[0][0] * h0[0] + A[0][1] * h0[1], A[1][0] * h0[0] + A[1][1] * h0[1])
    h1 = [max(v, 0.0) for v in ln(z[0] + Ah[0], z[1] + Ah[1])]
    h, new = fast_weights_rnn_step(x, st, p, 0.5, 1.0, 1, "relu")
    torch.testing.assert_close(h, torch.tensor([h1], dtype=D), rtol=0, atol=1e-12)
    torch.testing.assert_close(new.A, torch.tensor([A], dtype=D))


def test_step_reuses_the_associative_memory_maths():
    """Without LN the step is ``fast_weight_step`` then ``inner_loop`` of memory/fast_weights.py."""
    p, st = _params(ln=False), _state()
    x = torch.randn(2, 3, dtype=D)
    h, new = fast_weights_rnn_step(x, st, p, 0.8, 0.3, 2, "tanh")
    A = fw.fast_weight_step(st.A, st.h, st.h, 0.8, 0.3)
    want = fw.inner_loop(A, st.h @ p.W.T + x @ p.C.T + p.b, 2, torch.tanh)
    torch.testing.assert_close(h, want, rtol=0, atol=0)
    torch.testing.assert_close(new.A, A, rtol=0, atol=0)


# --------------------------------------------------------------------------- history form == reference


@pytest.mark.parametrize("ln", [True, False])
@pytest.mark.parametrize("S", [0, 1, 3])
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_history_form_matches_reference(ln, S, act):
    xs = torch.randn(6, 2, 3, dtype=D, generator=torch.Generator().manual_seed(5), requires_grad=True)
    p, st = _params(ln=ln, grad=True), _state(grad=True)
    hs_r, st_r = fast_weights_rnn_ref(xs, st, p, 0.9, 0.4, S, act)
    hs_s, st_s = fast_weights_rnn_seq(xs, st, p, 0.9, 0.4, S, act)
    torch.testing.assert_close(hs_s, hs_r, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(st_s.A, st_r.A, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(st_s.h, st_r.h, rtol=1e-10, atol=1e-12)
    proj = torch.randn(hs_r.shape, dtype=D, generator=torch.Generator().manual_seed(9))
    leaves = [xs, st.h, st.A] + [t for t in p if t is not None]
    g_r = torch.autograd.grad((hs_r * proj).sum() + st_r.A.sum(), leaves, allow_unused=True)
    g_s = torch.autograd.grad((hs_s * proj).sum() + st_s.A.sum(), leaves, allow_unused=True)
    for a, b in zip(g_s, g_r):
        if a is None or b is None:
            assert a is None and b is None or (a if a is not None else b).abs().max() == 0
            continue
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_gradcheck_float64():
    p, st = _params(H=3, I=2, grad=True), _state(H=3, grad=True)
    xs = torch.randn(3, 2, 2, dtype=D, generator=torch.Generator().manual_seed(2), requires_grad=True)

    def f(xs, h, A, W, C, b, gain, bias):
        hs, s = fast_weights_rnn_seq(xs, FastWeightsState(h, A), FastWeightsParams(W, C, b, gain, bias), 0.95, 0.5, 2, "tanh")
        return hs, s.A

    assert torch.autograd.gradcheck(f, (xs, st.h, st.A, *p))


# --------------------------------------------------------------------------- the core


def test_core_sequence_equals_stepping_and_lengths_mask():
    core = FastWeightsRNN(input_size=3, hidden_size=5, seed=1).double()
    xs = torch.randn(7, 4, 3, dtype=D)
    ys, st = core.forward_sequence(xs)
    state = core.initial_state(4)
    for t in range(7):
        y, state = core(xs[t], state)
        torch.testing.assert_close(ys[t], y, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(st.A, state.A, rtol=1e-10, atol=1e-12)
    lengths = torch.tensor([7, 3, 0, 5])
    ys_m, st_m = core.forward_sequence(xs, lengths=lengths)
    torch.testing.assert_close(ys_m[:3, 1], ys[:3, 1])
    assert ys_m[3:, 1].abs().max() == 0 and ys_m[:, 2].abs().max() == 0
    assert core.state_size() == 5 + 25 and core.output_size == 5


def test_no_fast_weights_when_rate_tiny_or_no_inner_steps():
    """S = 0 is the Elman RNN h = ReLU(z); a tiny η makes the S-step net the LN RNN
    h = ReLU(LN(z)), z = W h(t) + C x(t) + b, both stepped here by hand."""
    xs = torch.randn(5, 2, 3, dtype=D)
    base = FastWeightsRNN(input_size=3, hidden_size=4, inner_steps=0, seed=3).double()
    tiny = FastWeightsRNN(input_size=3, hidden_size=4, inner_steps=2, rate=1e-12, seed=3).double()
    h_elman, h_ln, elman, ln_rnn = torch.zeros(2, 4, dtype=D), torch.zeros(2, 4, dtype=D), [], []
    with torch.no_grad():
        for x in xs:
            h_elman = torch.relu(h_elman @ base.W.T + x @ base.C.T + base.b)
            z = h_ln @ tiny.W.T + x @ tiny.C.T + tiny.b
            h_ln = torch.relu(torch.nn.functional.layer_norm(z, (4,), tiny.gain, tiny.bias, 1e-5))
            elman.append(h_elman)
            ln_rnn.append(h_ln)
    torch.testing.assert_close(base.forward_sequence(xs)[0], torch.stack(elman), rtol=0, atol=1e-12)
    torch.testing.assert_close(tiny.forward_sequence(xs)[0], torch.stack(ln_rnn), rtol=0, atol=1e-9)


def test_decay_zero_remembers_only_the_last_state():
    """λ = 0: A(t) = η h(t) h(t)ᵀ exactly."""
    core = FastWeightsRNN(input_size=2, hidden_size=3, decay=0.0, rate=0.7).double()
    xs = torch.randn(4, 1, 2, dtype=D)
    hs, st = core.forward_sequence(xs)
    torch.testing.assert_close(st.A[0], 0.7 * torch.outer(hs[-2, 0], hs[-2, 0]))


def test_finite_on_large_inputs_and_learns_a_tiny_memory_task():
    """LN keeps the state finite on huge inputs; a few Adam steps recall the first of 3 inputs."""
    torch.manual_seed(0)
    core = FastWeightsRNN(input_size=4, hidden_size=16)
    ys, st = core.forward_sequence(torch.randn(10, 2, 4) * 1e6)
    assert torch.isfinite(ys).all() and torch.isfinite(st.A).all()
    readout = torch.nn.Linear(16, 4)
    opt = torch.optim.Adam([*core.parameters(), *readout.parameters()], lr=0.02)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        tok = torch.randint(0, 4, (3, 32), generator=g)
        xs = torch.nn.functional.one_hot(tok, 4).float()  # (3, B, 4)
        loss = torch.nn.functional.cross_entropy(readout(core.forward_sequence(xs)[0][-1]), tok[0])
        opt.zero_grad(); loss.backward(); opt.step()  # noqa: E702
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.2 < sum(losses[:10]) / 10


@pytest.mark.parametrize("key,value,match", [
    ("decay", 1.5, "decay=1.5 is out of range; allowed: >= 0 and <= 1"),
    ("decay", -0.1, "decay=-0.1 is out of range"),
    ("decay", float("nan"), "decay=nan is not allowed; it must be a finite number"),
    ("rate", 0.0, "rate=0.0 is out of range; allowed: > 0"),
    ("rate", float("inf"), "rate=inf is not allowed"),
    ("inner_steps", -1, "inner_steps=-1 is out of range; allowed: >= 0 and <= 100"),
    ("activation", "sigmoid", "activation"),
    ("w_init", float("nan"), "w_init=nan"),
])
def test_bad_settings_are_one_line_errors(key, value, match):
    with pytest.raises(ConfigError, match=match) as e:
        FastWeightsRNN(FastWeightsRNNConfig(**{key: value}))
    assert "\n" not in str(e.value)
