"""End-to-end memory network: sentence parsing, position encoding, hop weights over real sentences
(and empty slots), random noise on the time indices, batch independence, weight tying, one-line
errors, learns single-supporting-fact, 3 hops overfit a small two-supporting-facts set."""

import pytest
import torch

from memlab.core.config import from_dict
from memlab.core.errors import ConfigError
from memlab.memory.attention import position_encoding
from memlab.models import build_model
from memlab.models.memn2n import MemN2NConfig, Sentences, hop_story, pe_weights, time_index
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
    model = build_model("memn2n", task.spec, overrides={"tying": tying, "encoding": encoding, "hops": 3,
                                                         "empty_slots": False})
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
    model = build_model("memn2n", task.spec, overrides={"linear_start": True, "empty_slots": False})
    batch = task.sample(2, 3, torch.Generator().manual_seed(0))
    p = model.hop_weights(batch)
    assert not torch.allclose(p.sum(-1), torch.ones(p.shape[:2]))
    model.linear = False
    torch.testing.assert_close(model.hop_weights(batch).sum(-1), torch.ones(p.shape[:2]))
    model.linear = True
    model.cfg.empty_slots = True  # empty slots hold m_i = 0: they add 0 to the linear scores
    p2 = model.hop_weights(batch)
    assert p2.shape[-1] == model.cfg.memory_size and (p2[..., p.shape[-1]:] == 0).all()
    torch.testing.assert_close(p2[..., : p.shape[-1]], p)


@pytest.mark.parametrize("bad,word", [({"hops": 0}, ">= 1 hop"), ({"hops": -2}, "allowed: 1..64"),
                                      ({"random_noise": 1.5}, "random_noise"), ({"hops": float("nan")}, "hops"),
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


def test_empty_slots_are_score_zero_alternatives_in_the_softmax():
    """With empty slots every one of the memory_size slots is in the softmax; an empty slot has
    m_i = 0, so weight exp(0) / Z, and the hop reads nothing (c_i = 0) from it."""
    task = make_task("babi", {"qa": "single-supporting-fact"})
    torch.manual_seed(0)
    model = build_model("memn2n", task.spec, overrides={"hops": 1, "memory_size": 12}).double()
    batch = task.sample(2, [3, 5], torch.Generator().manual_seed(1))
    p = model.hop_weights(batch)[0]  # (B, N)
    assert p.shape == (2, 12)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, dtype=torch.float64))
    for b, n in enumerate([3, 5]):
        empty = p[b, n:]
        torch.testing.assert_close(empty, empty[:1].expand_as(empty))  # all equal: score 0
        sent, l, t_idx = model.read(batch)
        u = (model.emb[0][batch.inputs] * l * sent.in_question.unsqueeze(-1)).sum(0)[b]  # (d,)
        from memlab.models.memn2n import memory_vectors
        m = memory_vectors(model.emb[0], model.time[0], batch.inputs, sent, l, sent.in_memory, t_idx)[b]
        want = torch.softmax(torch.cat([m[:n] @ u, torch.zeros(12 - n, dtype=torch.float64)]), 0)
        torch.testing.assert_close(p[b], want)


def test_random_noise_spreads_the_time_indices_only_while_training():
    task = make_task("babi", {"qa": "single-supporting-fact"})
    batch = task.sample(64, 10, torch.Generator().manual_seed(0))
    sent = Sentences(batch.inputs, batch.n_input, 0, 1, 50, pad=True)
    torch.manual_seed(0)
    assert torch.equal(time_index(sent, 0.0, 50), torch.arange(50).expand(64, 50))
    idx = time_index(sent, 0.1, 50)[:, :10]  # (B, 10): the 10 sentences
    assert (idx[:, 1:] > idx[:, :-1]).all()  # the order of the sentences is kept
    assert int(idx.min()) == 0 and int(idx.max()) <= 10  # at most ceil(0.1 * 10) = 1 empty memory inserted
    assert (idx[:, -1] == 10).any() and (idx[:, -1] == 9).any()  # sometimes one, sometimes none
    model = build_model("memn2n", task.spec, overrides={"random_noise": 0.5})
    model.eval()
    assert torch.equal(model(batch), model(batch))  # no noise at evaluation
    model.train()
    assert not torch.equal(model(batch), model(batch))


def test_hop_story_lists_each_hop_over_the_story_sentences():
    task = make_task("babi", {"qa": "two-supporting-facts"})
    torch.manual_seed(0)
    model = build_model("memn2n", task.spec, overrides={"hops": 3})
    x, y = task.make_pairs(torch.tensor([4]), torch.Generator().manual_seed(0))[0]
    st = hop_story(model, task, x, y)
    assert len(st["sentences"]) == 4 and st["question"].startswith("where is the")
    assert len(st["weights"]) == 3 and all(len(w) == 4 and 0 < sum(w) <= 1 + 1e-4 for w in st["weights"])
    assert model.training  # restored


def test_three_hops_overfit_a_small_two_supporting_facts_set():
    """Tiny overfit: a 3-hop network fits 48 two-supporting-facts stories (which need the object's
    holder and then the holder's place) exactly."""
    torch.set_num_threads(1)
    task = make_task("babi", {"qa": "two-supporting-facts", "train_min": 2, "train_max": 4})
    pairs = task.dataset("train", 48, seed=3)
    batch = task.assemble(pairs, torch.tensor([int((x == 0).sum()) for x, _ in pairs]))
    torch.manual_seed(0)
    model = build_model("memn2n", task.spec, overrides={"hops": 3, "embed": 24, "memory_size": 8})
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(300):
        opt.zero_grad()
        task.loss(model(batch), batch).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        assert task.score(model(batch), batch).coarse == 1.0


def test_memlab_plot_on_a_memn2n_run_draws_the_hop_attention(tmp_path):
    """The plot hook: ``memlab plot RUN`` on a trained memn2n run writes a hop record (one story,
    each hop's weights over its sentences) and the figure drawn from it."""
    import json

    from memlab.cli import main
    from memlab.training.run import train_run

    s = train_run("memn2n", "babi", {"model": {"embed": 6, "hops": 2, "memory_size": 12},
                                     "task": {"qa": "two-supporting-facts"},
                                     "train": {"max_epochs": 1, "eval_every": 1, "eval_batches": 1}},
                  out=tmp_path, name="r", progress=False)
    assert main(["plot", str(s["run_dir"]), "--set", "length=5", "seed=3", "--out", str(tmp_path / "fig")]) == 0
    rec = json.loads((tmp_path / "fig" / "r-len5.json").read_text())
    assert rec["qa"] == "two-supporting-facts" and len(rec["hop_story"]["sentences"]) == 5
    assert len(rec["hop_story"]["weights"]) == 2 and (tmp_path / "fig" / "r-len5.png").stat().st_size > 0
    assert main(["plot", str(s["run_dir"]), "--set", "length=0"]) == 2  # one-line error
