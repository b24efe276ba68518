"""Associative LSTM (Danihelka et al. 2016; seed 001 eq. 2.49–2.51): a hand-computed step with
two permuted copies, bound(), gradcheck in float64, exact recall of one stored item, the
stepping/masking contract and one-line errors."""

from __future__ import annotations

import cmath

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.associative_lstm import (AssociativeLSTM, AssociativeLSTMConfig, AssociativeLSTMState,
                                            associative_lstm_ref, associative_lstm_step, bound)

D = torch.float64


def _sig(v: float) -> float:
    return 1 / (1 + cmath.exp(-v).real)


def _bound(z: complex) -> complex:
    return z / max(1.0, abs(z))


def test_one_step_by_hand_two_copies():
    """N = 2 complex cells, S = 2 with P_1 = I and P_2 = swap, I = 1, h_{t-1} = 0, W_h unused."""
    N = 2
    w = torch.tensor([0.5, -0.3, 0.2, 1.0, 0.4,  # ĝ_f (2), ĝ_i (2), ĝ_o[0]
                      -0.7,  # ĝ_o[1]
                      1.2, -0.4, 0.3, 0.8,  # r̂_i: Re (2), Im (2)
                      0.6, 0.1, -0.9, 0.5,  # r̂_o
                      2.0, 0.2, -0.1, 0.7], dtype=D).unsqueeze(1)  # û (Re 2, Im 2); (9N, 1)
    x = torch.tensor([[1.0]], dtype=D)
    perms = torch.tensor([[0, 1], [1, 0]])
    c_prev = torch.tensor([[[0.1 + 0.2j, -0.3 + 0.0j], [0.0 + 0.5j, 0.2 - 0.1j]]], dtype=torch.complex128)
    st = AssociativeLSTMState(torch.zeros(1, 2 * N, dtype=D), c_prev)
    h, new = associative_lstm_step(x, st, w, torch.zeros(9 * N, 2 * N, dtype=D), torch.zeros(9 * N, dtype=D), perms)

    v = w[:, 0].tolist()
    f = [_sig(v[0]), _sig(v[1])]
    i = [_sig(v[2]), _sig(v[3])]
    o = [_sig(v[4]), _sig(v[5])]
    r_i = [_bound(complex(v[6], v[8])), _bound(complex(v[7], v[9]))]
    r_o = [_bound(complex(v[10], v[12])), _bound(complex(v[11], v[13]))]
    u = [_bound(complex(v[14], v[16])), _bound(complex(v[15], v[17]))]
    cp = c_prev[0].tolist()
    c1 = [f[n] * cp[0][n] + r_i[n] * i[n] * u[n] for n in range(2)]  # P_1 = I
    c2 = [f[n] * cp[1][n] + r_i[1 - n] * i[n] * u[n] for n in range(2)]  # P_2 swaps the key
    read = [(r_o[n].conjugate() * c1[n] + r_o[1 - n].conjugate() * c2[n]) / 2 for n in range(2)]
    hh = [o[n] * _bound(read[n]) for n in range(2)]
    want = torch.tensor([[hh[0].real, hh[1].real, hh[0].imag, hh[1].imag]], dtype=D)
    torch.testing.assert_close(h, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(new.c, torch.tensor([[c1, c2]], dtype=torch.complex128), rtol=0, atol=1e-12)


def test_bound_clips_moduli_and_keeps_the_unit_disc():
    z = torch.tensor([0.3 + 0.4j, 3.0 + 4.0j, 0.0j, -2.0j], dtype=torch.complex128)
    b = bound(z)
    torch.testing.assert_close(b, torch.tensor([0.3 + 0.4j, 0.6 + 0.8j, 0.0j, -1.0j], dtype=torch.complex128))


def test_one_stored_item_is_recalled_exactly_through_the_cell():
    """f = 0, i = o = 1 (saturated), r_o = r_i unit-modulus: the read is bound(u) for every S."""
    N, S = 3, 5
    core = AssociativeLSTM(input_size=1, hidden_size=2 * N, copies=S).double()
    with torch.no_grad():
        core.W_h.zero_()
        core.W_x.zero_()
        big = 50.0
        core.b.zero_()
        core.b[:N] = -big  # f ≈ 0
        core.b[N:3 * N] = big  # i, o ≈ 1
        phi = torch.tensor([0.3, -1.2, 2.0], dtype=D)
        key = torch.polar(torch.full((N,), 2.0, dtype=D), phi)  # |r̂| = 2 -> bound to unit modulus
        core.b[3 * N:4 * N], core.b[4 * N:5 * N] = key.real, key.imag  # r_i
        core.b[5 * N:6 * N], core.b[6 * N:7 * N] = key.real, key.imag  # r_o = r_i
        core.b[7 * N:8 * N] = torch.tensor([0.5, -0.2, 0.1], dtype=D)  # Re u
        core.b[8 * N:] = torch.tensor([0.1, 0.4, -0.6], dtype=D)  # Im u
    h, _ = core(torch.zeros(1, 1, dtype=D), core.initial_state(1))
    torch.testing.assert_close(h, torch.tensor([[0.5, -0.2, 0.1, 0.1, 0.4, -0.6]], dtype=D), rtol=0, atol=1e-12)


def test_gradcheck_float64():
    core = AssociativeLSTM(input_size=2, hidden_size=4, copies=3, seed=2).double()
    xs = torch.randn(3, 2, 2, dtype=D, requires_grad=True)
    c0 = torch.randn(2, 3, 2, dtype=torch.complex128) * 0.3
    h0 = (torch.randn(2, 4, dtype=D) * 0.3).requires_grad_()
    W_x, W_h, b = (p.detach().clone().requires_grad_() for p in (core.W_x, core.W_h, core.b))

    def f(xs, h0, W_x, W_h, b):
        hs, st = associative_lstm_ref(xs, AssociativeLSTMState(h0, c0), W_x, W_h, b, core.perms)
        return hs, torch.view_as_real(st.c)

    assert torch.autograd.gradcheck(f, (xs, h0, W_x, W_h, b))


def test_core_contract_sequence_lengths_and_finite():
    core = AssociativeLSTM(input_size=3, hidden_size=6, copies=2, seed=1)
    xs = torch.randn(5, 4, 3)
    ys, st = core.forward_sequence(xs)
    assert ys.shape == (5, 4, 6) and st.c.shape == (4, 2, 3) and st.c.dtype == torch.complex64
    ys_m, _ = core.forward_sequence(xs, lengths=torch.tensor([5, 2, 0, 4]))
    torch.testing.assert_close(ys_m[:2, 1], ys[:2, 1])
    assert ys_m[2:, 1].abs().max() == 0
    big, _ = core.forward_sequence(torch.randn(20, 2, 3) * 1e6)
    assert torch.isfinite(big).all() and big.abs().max() <= 1.0  # |h| ≤ o·1
    assert core.state_size() == 6 + 2 * 2 * 3 and core.perms[0].tolist() == [0, 1, 2]


def test_learns_to_recall_the_first_symbol():
    torch.manual_seed(0)
    core = AssociativeLSTM(input_size=4, hidden_size=16, copies=2)
    readout = torch.nn.Linear(16, 4)
    opt = torch.optim.Adam([*core.parameters(), *readout.parameters()], lr=0.03)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(120):
        tok = torch.randint(0, 4, (3, 32), generator=g)
        ys, _ = core.forward_sequence(torch.nn.functional.one_hot(tok, 4).float())
        loss = torch.nn.functional.cross_entropy(readout(ys[-1]), tok[0])
        opt.zero_grad(); loss.backward(); opt.step()  # noqa: E702
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.3 < sum(losses[:10]) / 10


@pytest.mark.parametrize("key,value,match", [
    ("copies", 0, "copies=0 is out of range; allowed: >= 1"),
    ("hidden_size", 7, "hidden_size=7 is not allowed; the Associative LSTM needs an even size"),
    ("forget_bias", float("nan"), "forget_bias=nan is not allowed"),
    ("copies", float("inf"), "copies=inf is not allowed"),
])
def test_bad_settings_are_one_line_errors(key, value, match):
    with pytest.raises(ConfigError, match=match) as e:
        AssociativeLSTM(AssociativeLSTMConfig(**{key: value}))
    assert "\n" not in str(e.value)
