"""Captioner: attention maps are distributions over the CNN grid, the no-attention model reads the
mean annotation, teacher-forced training fits a small batch."""

import pytest
import torch
import torch.nn.functional as F

from memlab.core.config import from_dict
from memlab.core.errors import ConfigError
from memlab.models.captioning import Captioner, CaptionerConfig


@pytest.mark.parametrize("attention", ["soft", "none"])
def test_shapes_and_weights(attention):
    torch.manual_seed(0)
    net = Captioner(CaptionerConfig(channels=8, hidden=12, embed=4, attention=attention), vocab=13)
    x = torch.rand(3, 1, 12, 36)
    logits, alpha = net(x, torch.ones(4, 3, dtype=torch.long))
    assert logits.shape == (4, 3, 13) and alpha.shape == (4, 3, 3 * 9)
    torch.testing.assert_close(alpha.sum(-1), torch.ones(4, 3))
    if attention == "none":
        assert torch.allclose(alpha, torch.full_like(alpha, 1 / 27))
    toks, a2 = net.greedy(x, 4, 1)
    assert toks.shape == (4, 3) and a2.shape == (4, 3, 27)


def test_fits_a_small_batch():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = Captioner(CaptionerConfig(channels=8, hidden=16, embed=8), vocab=13)
    x = torch.rand(8, 1, 12, 36)
    y = torch.randint(3, 13, (3, 8))
    y_in = torch.cat([torch.ones(1, 8, dtype=torch.long), y[:-1]])
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(150):
        logits, _ = net(x, y_in)
        loss = F.cross_entropy(logits.reshape(-1, 13), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


def test_bad_settings():
    with pytest.raises(ConfigError, match="soft"):
        from_dict(CaptionerConfig, {"attention": "hard"}, prefix="model.")
