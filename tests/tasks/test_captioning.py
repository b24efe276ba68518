"""Digit canvases: digits sit left to right without overlap, pixels are the scikit-learn digit,
the caption reads them in order; splits use disjoint digit images; a too-small canvas is a
one-line error; BLEU-4 through sacrebleu (skipped without it)."""

import pytest
import torch

pytest.importorskip("sklearn")

from memlab.core.errors import ConfigError  # noqa: E402
from memlab.tasks.captioning import (DIGIT, EOS, PAD, CanvasConfig, bleu4, caption, caption_tokens, compose,  # noqa: E402
                                     decode_caption, load_digit_images)


def test_canvas_layout_pixels_and_caption():
    cfg = CanvasConfig(height=12, width=30, digits_min=2, digits_max=3)
    x, digits, places = compose(cfg, 20, "train", torch.Generator().manual_seed(0))
    imgs, labels = load_digit_images("train")
    assert x.shape == (20, 1, 12, 30)
    for i in range(20):
        cols = [c for _, c in places[i]]
        assert cols == sorted(cols) and all(b - a >= DIGIT for a, b in zip(cols, cols[1:]))  # no overlap
        assert 2 <= len(digits[i]) <= 3
        for (r, c), d in zip(places[i], digits[i]):
            patch = x[i, 0, r : r + DIGIT, c : c + DIGIT]
            assert any(torch.equal(patch, imgs[j]) for j in torch.nonzero(labels == d).flatten().tolist())
    assert caption([3, 7, 1]) == "three left of seven left of one"


def test_tokens_round_trip():
    t = caption_tokens([3, 7], 6)
    assert t.tolist() == [8, 3, 4, 12, EOS, PAD]
    assert decode_caption(t.tolist()) == "three left of seven"
    with pytest.raises(ConfigError, match="needs 5 tokens"):
        caption_tokens([3, 7], 4)


def test_splits_use_disjoint_digit_images():
    a, _ = load_digit_images("train")
    b, _ = load_digit_images("test")
    assert len(a) + len(b) == 1797
    seen = {tuple(x.flatten().tolist()) for x in a}
    assert sum(tuple(x.flatten().tolist()) in seen for x in b) < 0.02 * len(b)  # only exact duplicates of the data


@pytest.mark.parametrize("kw,word", [({"width": 20, "digits_max": 3}, "too small"), ({"height": 6}, "too small"),
                                     ({"digits_min": 0}, "digits_min"), ({"width": float("nan")}, "width")])
def test_bad_canvas_is_a_one_line_error(kw, word):
    with pytest.raises(ConfigError, match=word) as e:
        CanvasConfig(**kw).validate()
    assert "\n" not in str(e.value)


def test_bleu4():
    pytest.importorskip("sacrebleu")
    assert bleu4(["three left of seven"], ["three left of seven"]) == pytest.approx(100.0)
    part = bleu4(["one left of two"], ["three left of four"])  # shares only "left of"
    assert 0 <= part < 50 and part < bleu4(["three left of four"], ["three left of five"]) < 100
