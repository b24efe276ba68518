"""Golden examples of the seed 004 tasks, checked symbol by symbol."""

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.tasks import TASKS, make_task
from memlab.tasks.arithmetic import digits_add


def _example(task, x, y):
    """The (inputs, targets, mask) columns for one explicit (input, answer) pair."""
    b = task.assemble([(torch.tensor(x), torch.tensor(y))], torch.tensor([len(x)]))
    return b.inputs[:, 0].tolist(), b.targets[:, 0].tolist(), b.mask[:, 0].tolist(), b


def test_double_57_golden():
    t = make_task("double")
    S, E, O = t.sos, t.eoi, t.eoo
    assert (S, E, O, t.pad, t.spec.n_tokens) == (10, 11, 12, 13, 14)
    x = [7, 5]  # 57, least significant digit first
    y = digits_add(torch.tensor(x), torch.tensor(x)).tolist()
    assert y == [4, 1, 1]  # 114
    inputs, targets, mask, b = _example(t, x, y)
    assert inputs == [S, 7, 5, E, E, E, E]
    assert targets[3:] == [4, 1, 1, O]
    assert mask == [False, False, False, True, True, True, True]
    assert b.n_input.tolist() == [3] and b.seq_len.tolist() == [7]


def test_addition_interleaves_and_carries():
    t = make_task("addition")
    # x = 57, y = 68 -> x + y = 125; digits LSB first, interleaved x1 y1 x2 y2
    g = torch.Generator().manual_seed(0)
    pairs = t.make_pairs(torch.tensor([2]), g)
    x_in, ans = pairs[0]
    x = x_in[0::2].tolist()
    y = x_in[1::2].tolist()
    xv = x[0] + 10 * x[1]
    yv = y[0] + 10 * y[1]
    s = xv + yv
    assert ans.tolist() == [s % 10, (s // 10) % 10, s // 100]
    assert digits_add(torch.tensor([7, 5]), torch.tensor([8, 6])).tolist() == [5, 2, 1]
    assert digits_add(torch.tensor([9, 9, 9]), torch.tensor([9, 9, 9])).tolist() == [8, 9, 9, 1]


def test_double_matches_integer_arithmetic_many_lengths():
    t = make_task("double")
    g = torch.Generator().manual_seed(1)
    for k in (1, 5, 19, 40):
        for x, y in t.make_pairs(torch.full((8,), k), g):
            xv = sum(int(d) * 10**i for i, d in enumerate(x.tolist()))
            yv = sum(int(d) * 10**i for i, d in enumerate(y.tolist()))
            assert len(x) == k and len(y) == k + 1 and yv == 2 * xv


def test_copy_reverse_bigramflip_golden():
    g = torch.Generator().manual_seed(0)
    x = torch.tensor([5, 9, 2, 7])
    assert make_task("copy").permute(x).tolist() == [5, 9, 2, 7]
    assert make_task("reverse").permute(x).tolist() == [7, 2, 9, 5]
    assert make_task("bigramFlip").permute(x).tolist() == [9, 5, 7, 2]
    t = make_task("copy")
    inputs, targets, mask, _ = _example(t, [5, 9, 2], [5, 9, 2])
    assert inputs == [128, 5, 9, 2, 129, 129, 129, 129]
    assert targets[4:] == [5, 9, 2, 130]
    assert sum(mask) == 4


def test_sample_batch_layout_and_determinism():
    t = make_task("reverse")
    b1 = t.sample(4, [3, 1, 6, 2], torch.Generator().manual_seed(3))
    b2 = t.sample(4, [3, 1, 6, 2], torch.Generator().manual_seed(3))
    assert torch.equal(b1.inputs, b2.inputs)
    assert b1.inputs.shape == (6 + 6 + 2, 4)
    for b, k in enumerate([3, 1, 6, 2]):
        col, tgt = b1.inputs[:, b], b1.targets[:, b]
        assert col[0] == t.sos
        x = col[1 : k + 1]
        assert (col[k + 1 : 2 * k + 2] == t.eoi).all()
        assert torch.equal(tgt[k + 1 : 2 * k + 1], x.flip(0))
        assert tgt[2 * k + 1] == t.eoo
        assert (col[2 * k + 2 :] == t.pad).all()
        assert int(b1.mask[:, b].sum()) == k + 1


def test_bigramflip_lengths_are_even_and_validated():
    t = make_task("bigramFlip")
    lengths = t.sample_lengths(200, 2, 32, torch.Generator().manual_seed(0))
    assert (lengths % 2 == 0).all() and lengths.min() >= 2 and lengths.max() <= 32
    with pytest.raises(ConfigError, match="multiples of 2"):
        t.sample(1, 3, torch.Generator())


def test_default_ranges_are_table1():
    expect = {"copy": (2, 64, 65, 128), "reverse": (2, 64, 65, 128), "bigramFlip": (2, 32, 33, 64),
              "double": (2, 40, 41, 80), "addition": (2, 16, 17, 32)}
    for name, (a, b, c, d) in expect.items():
        t = make_task(name)
        assert t.train_range == (a, b) and t.test_range == (c, d)
    assert make_task("copy").scale_range(4) == (193, 256)  # Table 4: (n-1)m+1 .. nm
    assert make_task("addition").scale_range(2) == (17, 32)


def test_impossible_ranges_and_unknown_keys_are_errors():
    with pytest.raises(ConfigError, match="train_max"):
        make_task("copy", {"train_min": 10, "train_max": 5})
    with pytest.raises(ConfigError, match="unknown key task.lenght"):
        make_task("copy", {"lenght": 3})
    with pytest.raises(ConfigError, match="unknown task"):
        make_task("sort")
    with pytest.raises(ConfigError, match="batch_size"):
        make_task("copy").sample(3, [1, 2], torch.Generator())


def test_scoring_on_hand_made_predictions():
    t = make_task("copy", {"vocab": 8})
    b = t.assemble([(torch.tensor([1, 2]), torch.tensor([1, 2])), (torch.tensor([3]), torch.tensor([3]))],
                   torch.tensor([2, 1]))
    V = t.spec.n_tokens
    perfect = torch.nn.functional.one_hot(b.targets, V).float()  # (T, B, V)
    c = t.score(perfect, b)
    assert (c.symbols_correct, c.symbols_total, c.seqs_correct, c.seqs_total) == (5, 5, 2, 2)
    # one wrong symbol in example 0 (its <e>): fine 4/5, coarse 1/2
    wrong = perfect.clone()
    wrong[4, 0] = 0
    wrong[4, 0, 5] = 1
    c = t.score(wrong, b)
    assert c.fine == pytest.approx(4 / 5) and c.coarse == pytest.approx(1 / 2)
    # errors outside the response phase do not count
    noise = perfect.clone()
    noise[0] = torch.randn(2, V)
    assert t.score(noise, b).coarse == 1.0
    assert t.loss(perfect * 50, b) < 1e-6


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_samples_and_scores(name):
    t = make_task(name)
    lo, hi = t.train_range
    b = t.sample_range(5, lo, hi, torch.Generator().manual_seed(0))
    assert b.mask.shape == b.targets.shape[:2]
    assert b.mask.any(0).all()  # every example has a scored response phase
    out = torch.zeros(*b.targets.shape[:2], t.spec.output_size)
    c = t.score(out, b)
    assert c.seqs_total == 5 and 0 <= c.fine <= 1
    assert torch.isfinite(t.loss(out, b))


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=30), st.data())
def test_digits_add_equals_integer_addition(xd, data):
    yd = data.draw(st.lists(st.integers(0, 9), min_size=len(xd), max_size=len(xd)))
    value = lambda ds: sum(d * 10**i for i, d in enumerate(ds))  # noqa: E731
    out = digits_add(torch.tensor(xd), torch.tensor(yd)).tolist()
    assert len(out) == len(xd) + 1 and value(out) == value(xd) + value(yd)
