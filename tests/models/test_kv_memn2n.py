"""Key–value memory network (Miller et al. 2016): shapes, values = last words read only the last
word, equals a layer-wise MemN2N with A = B = C and H = I when keys == values, one-line errors,
tiny overfit."""

import pytest
import torch

from memlab.core.config import from_dict
from memlab.core.errors import ConfigError
from memlab.models import build_model
from memlab.models.kv_memn2n import KVMemN2NConfig
from memlab.models.memn2n import memory_vectors
from memlab.tasks import make_task
from memlab.tasks.babi import INDEX


def _batch(task, lengths, seed=0):
    return task.sample(len(lengths), lengths, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("values", ["sentence", "last_word"])
def test_shapes_and_hop_weights(values):
    task = make_task("babi", {"qa": "two-supporting-facts"})
    torch.manual_seed(0)
    model = build_model("kv-memn2n", task.spec, overrides={"values": values, "hops": 2, "memory_size": 12})
    batch = _batch(task, [2, 9, 4])
    out = model(batch)
    assert out.shape == (batch.inputs.shape[0], 3, task.spec.n_tokens)
    assert (out[~batch.mask] == 0).all()  # logits only on the response phase
    p = model.hop_weights(batch)
    assert p.shape == (2, 3, 12)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, 3))
    task.loss(out, batch).backward()
    assert all(prm.grad is not None for prm in model.parameters())


def test_last_word_values_hold_only_the_last_word():
    task = make_task("babi", {"qa": "single-supporting-fact"})
    torch.manual_seed(0)
    model = build_model("kv-memn2n", task.spec, overrides={"values": "last_word", "temporal": False,
                                                            "encoding": "bow"}).double()
    batch = _batch(task, [3])
    sent, l, t_idx = model.read(batch)
    v = memory_vectors(model.A, None, batch.inputs, sent, l.double(), sent.last_word, t_idx)[0]  # (N, d)
    from memlab.tasks.babi import decode

    sentences = decode(batch.inputs[1 : int(batch.n_input[0]), 0]).split(" . ")[:-1]
    for i, s in enumerate(reversed(sentences)):  # slot 0 = the most recent sentence
        torch.testing.assert_close(v[i], model.A[INDEX[s.split()[-1]]])


def test_equals_layerwise_memn2n_when_keys_equal_values():
    """values=sentence and R_h = I: q^{h+1} = q^h + o^h with A = B = C, the layer-wise MemN2N
    u^{k+1} = H u^k + o^k with H = I and A = B = C, same output embedding and temporal terms."""
    task = make_task("babi", {"qa": "two-supporting-facts"})
    torch.manual_seed(0)
    kv = build_model("kv-memn2n", task.spec, overrides={"values": "sentence", "hops": 3, "memory_size": 10}).double()
    with torch.no_grad():
        kv.T_V.copy_(kv.T_K)
    mn = build_model("memn2n", task.spec, overrides={"tying": "layerwise", "hops": 3, "memory_size": 10}).double()
    with torch.no_grad():
        for prm in (mn.emb[0], mn.emb[1], mn.B):
            prm.copy_(kv.A)
        mn.W.copy_(kv.B)
        mn.time[0].copy_(kv.T_K)
        mn.time[1].copy_(kv.T_K)
        mn.H.weight.copy_(torch.eye(kv.cfg.embed))
        mn.answer_pos.copy_(torch.randn_like(mn.answer_pos))
        kv.answer_pos.copy_(mn.answer_pos)
    batch = _batch(task, [2, 7, 4], seed=1)
    torch.testing.assert_close(kv(batch), mn(batch))
    torch.testing.assert_close(kv.hop_weights(batch), mn.hop_weights(batch))
    with torch.no_grad():
        kv.R[1].mul_(1.5)  # a non-identity R_h changes the answer
    assert not torch.allclose(kv(batch), mn(batch))


@pytest.mark.parametrize("bad,word", [({"hops": 0}, ">= 1 hop"), ({"values": "keys"}, "last_word"),
                                      ({"random_noise": -0.1}, "random_noise")])
def test_bad_settings_are_one_line_errors(bad, word):
    with pytest.raises(ConfigError, match=word) as e:
        from_dict(KVMemN2NConfig, bad, prefix="model.")
    assert "\n" not in str(e.value)


def test_tiny_overfit():
    torch.set_num_threads(1)
    task = make_task("babi", {"qa": "two-supporting-facts", "train_min": 2, "train_max": 4})
    pairs = task.dataset("train", 48, seed=3)
    batch = task.assemble(pairs, torch.tensor([int((x == 0).sum()) for x, _ in pairs]))
    torch.manual_seed(0)
    model = build_model("kv-memn2n", task.spec, overrides={"hops": 3, "embed": 24, "memory_size": 8})
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(300):
        opt.zero_grad()
        task.loss(model(batch), batch).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        assert task.score(model(batch), batch).coarse == 1.0
