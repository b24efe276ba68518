"""Associative retrieval (Ba et al. 2016): the paper's golden example, the layout, answers that
are always the query's value, and one-line errors for impossible lengths."""

from __future__ import annotations

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.tasks.associative_retrieval import AssociativeRetrieval, decode, encode


def test_golden_example_c9k8j3f1():
    t = AssociativeRetrieval()
    x, y = t.example(encode("ckjf"), encode("9831") - 26, 0)
    assert decode(x) == "c9k8j3f1??c" and decode(y) == "9"
    b = t.assemble([(x, y)], torch.tensor([4]))
    S, E, O = t.sos, t.eoi, t.eoo
    assert (S, E, O, t.pad, t.spec.n_tokens) == (37, 38, 39, 40, 41)
    assert b.inputs[:, 0].tolist() == [S, *encode("c9k8j3f1??c").tolist(), E, E]
    assert b.targets[12:, 0].tolist() == [26 + 9, O] and encode("9").item() == 26 + 9
    assert b.mask[:, 0].tolist() == [False] * 12 + [True, True]
    assert b.n_input.tolist() == [12] and b.seq_len.tolist() == [14] == [t.max_steps(4)]


def test_answer_is_the_value_of_the_query_key():
    t = AssociativeRetrieval()
    g = torch.Generator().manual_seed(0)
    for x, y in t.make_pairs(torch.tensor([1, 5, 26, 3]), g):
        s = decode(x)
        assert s[-3:-1] == "??"
        pairs = dict(zip(s[0:-3:2], s[1:-3:2]))
        assert len(pairs) == (len(s) - 3) // 2  # keys distinct
        assert all(k.isalpha() for k in pairs) and all(v.isdigit() for v in pairs.values())
        assert decode(y) == pairs[s[-1]]


def test_sample_and_score():
    t = AssociativeRetrieval({"train_min": 3, "train_max": 3, "test_min": 4, "test_max": 4})
    b = t.sample_range(8, 3, 3, torch.Generator().manual_seed(1))
    assert b.inputs.shape == (12, 8)
    perfect = torch.nn.functional.one_hot(b.targets.clamp(max=40), 41).float() * 10
    c = t.score(perfect, b)
    assert c.coarse == 1.0 and c.fine == 1.0


@pytest.mark.parametrize("cfg,match", [
    ({"train_max": 27}, "task.train_max=27 is out of range; allowed: <= 26"),
    ({"test_min": 20, "test_max": 30}, "task.test_max=30 is out of range"),
])
def test_too_many_pairs_is_a_one_line_error(cfg, match):
    with pytest.raises(ConfigError, match=match) as e:
        AssociativeRetrieval(cfg)
    assert "\n" not in str(e.value)


def test_bad_lengths_and_characters():
    t = AssociativeRetrieval()
    with pytest.raises(ConfigError, match="allowed: 1 <= pairs <= 26"):
        t.sample(2, 27, torch.Generator())
    with pytest.raises(ConfigError, match="'A' is not in the associative-retrieval alphabet"):
        encode("A1??A")
