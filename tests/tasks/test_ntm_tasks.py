"""NTM task suite: the docstrings' worked examples, layouts, scoring and config errors."""

from __future__ import annotations

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.tasks import TASKS, make_task
from memlab.tasks.ntm_tasks import AssociativeRecall, NTMCopy, PrioritySort, RepeatCopy

NAMES = ["ntm-copy", "repeat-copy", "associative-recall", "priority-sort"]


def _oracle(batch, scale=10.0):
    """Logits that reproduce the targets exactly."""
    return (batch.targets * 2 - 1) * scale


def test_copy_worked_example():
    task = NTMCopy({"width": 3})
    # a generator whose first 6 bits are 1 0 1 0 1 1 gives x_1 = 101, x_2 = 011
    g = torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (2, 1, 3), generator=torch.Generator().manual_seed(0)).float()
    b = task.sample(1, 2, g)
    x1, x2 = bits[0, 0], bits[1, 0]
    expected_in = torch.stack([torch.cat([x1, torch.zeros(1)]), torch.cat([x2, torch.zeros(1)]),
                               torch.tensor([0.0, 0, 0, 1]), torch.zeros(4), torch.zeros(4)])
    torch.testing.assert_close(b.inputs[:, 0], expected_in)
    torch.testing.assert_close(b.targets[3:, 0], torch.stack([x1, x2]))
    assert b.mask[:, 0].tolist() == [False, False, False, True, True]
    assert (int(b.n_input[0]), int(b.seq_len[0])) == (3, 5)


def test_repeat_copy_worked_example():
    task = RepeatCopy({"width": 2})
    b = task.sample(1, 2, torch.Generator().manual_seed(0), repeats=torch.tensor([2]))
    x = b.inputs[:2, 0, :2]
    assert b.inputs.shape == (8, 1, 4) and b.targets.shape == (8, 1, 3)
    assert float(b.inputs[2, 0, 2]) == 1.0
    assert abs(float(b.inputs[2, 0, 3]) - (2 - 5.5) / 2.8722813232690143) < 1e-6
    torch.testing.assert_close(b.targets[3:7, 0, :2], torch.cat([x, x]))
    assert b.targets[:, 0, 2].tolist() == [0, 0, 0, 0, 0, 0, 0, 1]
    assert b.mask[:, 0].tolist() == [False] * 3 + [True] * 5
    assert task.count_std == pytest.approx(2.8722813232690143)


def test_associative_recall_worked_example_layout():
    task = AssociativeRecall({"width": 2, "item_size": 1})
    b = task.sample(1, 2, torch.Generator().manual_seed(0))
    inp = b.inputs[:, 0]
    assert inp.shape == (8, 4)
    assert inp[:, 2].tolist() == [1, 0, 1, 0, 0, 0, 0, 0]  # item delimiters
    assert inp[:, 3].tolist() == [0, 0, 0, 0, 1, 0, 1, 0]  # query delimiters
    # with two items the query is item 1 and the answer item 2
    torch.testing.assert_close(inp[5, :2], inp[1, :2])
    torch.testing.assert_close(b.targets[7, 0], inp[3, :2])
    assert b.mask[:, 0].tolist() == [False] * 7 + [True]


def test_associative_recall_answer_follows_query():
    task = AssociativeRecall()
    b = task.sample(16, 6, torch.Generator().manual_seed(1))
    s = task.cfg.item_size
    for j in range(16):
        inp = b.inputs[:, j, :6]
        items = [inp[i * (s + 1) + 1 : i * (s + 1) + 1 + s] for i in range(6)]
        query = inp[6 * (s + 1) + 1 : 6 * (s + 1) + 1 + s]
        n_in = int(b.n_input[j])
        answer = b.targets[n_in : n_in + s, j]
        hits = [i for i in range(5) if torch.equal(items[i], query) and torch.equal(items[i + 1], answer)]
        assert hits, "the answer must be the item after the query item"


def test_priority_sort_worked_example_order():
    task = PrioritySort({"width": 2})
    b = task.sample(1, 3, torch.Generator().manual_seed(0))
    prio = b.inputs[:3, 0, 2]
    order = torch.argsort(prio, descending=True)[:2]
    torch.testing.assert_close(b.targets[4:6, 0], b.inputs[order, 0, :2])
    assert b.mask[:, 0].tolist() == [False] * 4 + [True] * 2
    assert int(PrioritySort().n_out(torch.tensor([20]))) == 16


@pytest.mark.parametrize("name", NAMES)
def test_spec_masks_and_oracle_scores(name):
    task = make_task(name)
    assert TASKS[name] is type(task) and task.spec.kind == "binary"
    b = task.sample_range(8, *task.train_range, torch.Generator().manual_seed(0))
    T, B = b.mask.shape
    assert b.inputs.shape == (T, B, task.spec.input_size) and b.targets.shape == (T, B, task.spec.output_size)
    assert int(b.seq_len.max()) == T
    assert b.mask.sum(0).gt(0).all()
    assert not b.mask[: int(b.n_input.min())].any()  # nothing scored before the response phase
    for j in range(B):  # nothing after seq_len
        assert not b.mask[int(b.seq_len[j]) :, j].any()
        assert bool(b.mask[int(b.n_input[j]) : int(b.seq_len[j]), j].all())
    perfect = task.score(_oracle(b), b)
    assert perfect.fine == 1.0 and perfect.coarse == 1.0 and perfect.as_dict()["bit_errors"] == 0.0
    assert float(task.loss(_oracle(b), b)) < 1e-3
    bad = _oracle(b).clone()
    t0 = int(b.n_input[0])
    bad[t0, 0, 0] *= -1  # one wrong bit in sequence 0
    bad[0, 1, 0] = -bad[0, 1, 0] + 5  # a change outside the mask is not scored
    sc = task.score(bad, b)
    assert sc.symbols_total - sc.symbols_correct == 1 and sc.seqs_correct == B - 1
    assert sc.as_dict()["bit_errors"] == pytest.approx(1 / B)
    assert float(task.loss(torch.zeros_like(b.targets), b)) == pytest.approx(0.6931471805599453, rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_sampling_is_seeded(name):
    task = make_task(name)
    a = task.sample(4, task.train_range[1], torch.Generator().manual_seed(5))
    b = task.sample(4, task.train_range[1], torch.Generator().manual_seed(5))
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_bad_settings():
    with pytest.raises(ConfigError, match="allowed: >= 1"):
        make_task("ntm-copy", {"width": 0})
    with pytest.raises(ConfigError, match="at least 2 items"):
        make_task("associative-recall", {"train_min": 1})
    with pytest.raises(ConfigError, match="repeats_min <= repeats_max"):
        make_task("repeat-copy", {"repeats_min": 3, "repeats_max": 2})
    with pytest.raises(ConfigError, match="0 < out_fraction <= 1"):
        make_task("priority-sort", {"out_fraction": 1.5})
    with pytest.raises(ConfigError, match="allowed: >= 2 items"):
        AssociativeRecall().sample(2, 1, torch.Generator())
    with pytest.raises(ConfigError, match="unknown key task.bits"):
        make_task("ntm-copy", {"bits": 8})


def test_copy_defaults_follow_graves():
    t = make_task("ntm-copy")
    assert t.train_range == (1, 20) and t.spec.input_size == 9 and t.spec.output_size == 8
    assert t.scale_range(6) == (101, 120)
    r = make_task("associative-recall")
    assert r.train_range == (2, 6) and r.cfg.item_size == 3
