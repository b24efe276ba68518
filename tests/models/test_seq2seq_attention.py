"""Attention encoder–decoder: α is a distribution over the real input positions, an example's
output does not depend on the padding its batch-mates bring, bad settings are one-line errors, and
it learns to reverse a fixed batch."""

import math

import pytest
import torch

from memlab.core.config import from_dict
from memlab.core.errors import ConfigError
from memlab.models import build_model
from memlab.models.seq2seq_attention import SCORES
from memlab.tasks import make_task

SMALL = {"hidden": 8, "attention_size": 6, "embed": 6}


def _model(task, **kw):
    torch.manual_seed(0)
    return build_model("seq2seq-attention", task.spec, overrides={**SMALL, **kw})


@pytest.mark.parametrize("attention", SCORES)
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_weights_sum_to_one_and_padding_gets_none(attention, cell):
    task = make_task("reverse", {"train_min": 2, "train_max": 7})
    model = _model(task, attention=attention, cell=cell)
    batch = task.sample(3, [2, 7, 4], torch.Generator().manual_seed(0))
    alpha = model.attention_weights(batch)  # (L_out, B, S)
    n_in = batch.n_input
    n_out = batch.seq_len - n_in
    assert alpha.shape == (int(n_out.max()), 3, int(n_in.max()))
    torch.testing.assert_close(alpha.sum(-1), torch.ones(alpha.shape[:2]))
    for b in range(3):
        assert (alpha[:, b, int(n_in[b]):] == 0).all()


@pytest.mark.parametrize("attention", ["additive", "dot", "none"])
def test_an_example_does_not_depend_on_its_batch_mates(attention):
    task = make_task("reverse", {"train_min": 2, "train_max": 7})
    model = _model(task, attention=attention).double()
    batch = task.sample(3, [2, 7, 4], torch.Generator().manual_seed(1))
    out = model(batch)
    for b in range(3):
        one = type(batch)(*(x[:, b : b + 1] if x.dim() > 1 else x[b : b + 1] for x in batch))
        T = int(batch.seq_len[b])
        one = type(one)(one.inputs[:T], one.targets[:T], one.mask[:T], *one[3:])
        torch.testing.assert_close(model(one)[:, 0], out[:T, b])


def test_runs_on_binary_ntm_tasks():
    task = make_task("ntm-copy")
    model = _model(task, cell="lstm", attention="general")
    batch = task.sample_range(2, *task.train_range, torch.Generator().manual_seed(0))
    loss = task.loss(model(batch), batch)
    loss.backward()
    assert math.isfinite(loss.item())


def test_bad_settings_are_one_line_errors():
    from memlab.models.seq2seq_attention import Seq2SeqAttentionConfig as C

    for bad, word in [({"attention": "cosine"}, "additive"), ({"cell": "rnn"}, "gru"),
                      ({"hidden": float("nan")}, "hidden"), ({"hidden": 0}, "hidden"),
                      ({"attention": "dot", "hidden": 4, "decoder_hidden": 5}, "decoder_hidden")]:
        with pytest.raises(ConfigError, match=word) as e:
            from_dict(C, bad, prefix="model.")
        assert "\n" not in str(e.value)


def test_learns_to_reverse_a_fixed_batch():
    torch.set_num_threads(1)
    task = make_task("reverse", {"train_min": 3, "train_max": 5})
    model = _model(task, hidden=16, attention_size=16, embed=16)
    batch = task.sample_range(8, 3, 5, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(120):
        opt.zero_grad()
        loss = task.loss(model(batch), batch)
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert task.score(model(batch), batch).fine > 0.95
