"""End-to-end memory network: sentence parsing, position encoding, hop weights over real sentences
only, batch independence, weight tying, one-line errors, learns single-supporting-fact."""

import pytest
import torch

from memlab.core.config import from_dict
from memlab.core.errors import ConfigError
from memlab.memory.attention import position_encoding
from memlab.models import build_model
from memlab.models.memn2n import MemN2NConfig, Sentences, pe_weights
from memlab.tasks import make_task
from memlab.tasks.babi import encode


def test_sentences_golden():
    x = torch.cat([torch.tensor([99]), encode("mary went to the kitchen . john got the milk . where is mary ?")])
    s = Sentences(x.unsqueeze(1), torch.tensor([len(x)]), 0, 1, 50)
    w = s.word[:, 0]
    assert s.slot[:, 0][w].tolist()[:9] == [1] * 5 + [0] * 4  # most recent sentence = slot 0
    assert s.j[:, 0][w].tolist() == [1, 2, 3, 4, 5, 1, 2, 3, 4, 1, 2, 3]
    assert s.J[:, 0][w].tolist() == [5] * 5 + [4] * 4 + [3] * 3
    assert s.in_question[:, 0][w].tolist() == [False] * 9 + [True] * 3
    assert int(s.n_sent[0]) == 2 and s.mask.tolist() == [[True, True]]


def test_pe_weights_equal_the_position_encoding_table():
    torch.testing.assert_close(pe_weights(torch.arange(1, 7), torch.full((6,), 6), 5), position_encoding(6, 5))


@pytest.mark.parametrize("tying", ["adjacent", "layerwise"])
@pytest.mark.parametrize("encoding", ["pe", "bow"])
def test_hop_weights_are_distributions_over_real_sentences(tying, encoding):
    task = make_task("babi", {"qa": "two-supporting-facts"})
    torch.manual_seed(0)
    model = build_model("memn2n", task.spec, overrides={"tying": tying, "encoding": encoding, "hops": 3})
    batch = task.sample(3, [2, 9, 4], torch.Generator().manual_seed(0))
    p = model.hop_weights(batch)  # (K, B, N)
    assert p.shape == (3, 3, 9)
    torch.testing.assert_close(p.sum(-1), torch.ones(3, 3))
    assert (p[:, 0, 2:] == 0).all() and (p[:, 2, 4:] == 0).all()
    out = model(batch)
    for b in range(3):  # an example alone gives the same answer logits as inside the batch
        T = int(batch.seq_len[b])
        one = type(batch)(batch.inputs[:T, b : b + 1], batch.targets[:T, b : b + 1], batch.mask[:T, b : b + 1],
                          *(x[b : b + 1] for x in batch[3:]))
        torch.testing.assert_close(model(one)[:, 0], out[:T, b], atol=1e-5, rtol=1e-5)


def test_weight_tying_parameter_counts():
    task = make_task("babi")
    V, d, K = task.spec.n_tokens, 10, 3
    adj = build_model("memn2n", task.spec, overrides={"embed": d, "hops": K, "temporal": False, "max_answer": 2})
    lay = build_model("memn2n", task.spec, overrides={"embed": d, "hops": K, "temporal": False, "max_answer": 2,
                                                       "tying": "layerwise"})
    assert adj.n_params() == (K + 1) * V * d + 2 * d  # A^1..A^{K+1} (B = A^1, W = C^K) + answer positions
    assert lay.n_params() == 4 * V * d + d * d + 2 * d  # A, C, B, W, H


def test_linear_start_drops_the_softmax():
    task = make_task("babi")
    model = build_model("memn2n", task.spec, overrides={"linear_start": True})
    batch = task.sample(2, 3, torch.Generator().manual_seed(0))
    p = model.hop_weights(batch)
    assert not torch.allclose(p.sum(-1), torch.ones(p.shape[:2]))
    model.linear = False
    torch.testing.assert_close(model.hop_weights(batch).sum(-1), torch.ones(p.shape[:2]))


@pytest.mark.parametrize("bad,word", [({"hops": 0}, ">= 1 hop"), ({"hops": float("nan")}, "hops"),
                                      ({"tying": "none"}, "adjacent"), ({"encoding": "lstm"}, "pe")])
def test_bad_settings_are_one_line_errors(bad, word):
    with pytest.raises(ConfigError, match=word) as e:
        from_dict(MemN2NConfig, bad, prefix="model.")
    assert "\n" not in str(e.value)


def test_binary_tasks_are_refused():
    with pytest.raises(ValueError, match="symbolic"):
        build_model("memn2n", make_task("ntm-copy").spec)


def test_learns_single_supporting_fact():
    torch.set_num_threads(1)
    task = make_task("babi", {"qa": "single-supporting-fact", "train_min": 2, "train_max": 5})
    torch.manual_seed(0)
    model = build_model("memn2n", task.spec, overrides={"hops": 1, "embed": 20})
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    g = torch.Generator().manual_seed(0)
    for _ in range(500):
        batch = task.sample_range(32, 2, 5, g)
        opt.zero_grad()
        task.loss(model(batch), batch).backward()
        opt.step()
    batch = task.sample_range(200, 2, 5, g)
    with torch.no_grad():
        assert task.score(model(batch), batch).coarse > 0.9
