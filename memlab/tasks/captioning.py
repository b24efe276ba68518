"""Digit-canvas captioning data: scikit-learn's shipped 8×8 digits composed onto a small canvas.

Each image holds ``n`` digits (``digits_min ≤ n ≤ digits_max``) at random, non-overlapping
horizontal positions and random heights; the caption names them in reading order (left to
right), e.g. a 3, a 7 and a 1 -> ``three left of seven left of one`` (the relation words make
captions of two digits four words long, so BLEU-4 has 4-grams to count). Digit images of the training
split are the even-indexed ones of ``sklearn.datasets.load_digits`` (1797 images), the test split
uses the odd-indexed ones, so no test digit image is seen in training.

Tokens: ``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2, ``left`` 3, ``of`` 4, then ``zero`` … ``nine`` (5 … 14).
A caption as targets is (L + 1,) tokens: the words then ``<eos>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from memlab.core.errors import ConfigError, check_range

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOCAB = ("<pad>", "<bos>", "<eos>", "left", "of") + NAMES
INDEX = {w: i for i, w in enumerate(VOCAB)}
PAD, BOS, EOS = 0, 1, 2
DIGIT = 8  # side of a scikit-learn digit


@dataclass
class CanvasConfig:
    height: int = 12
    width: int = 36
    digits_min: int = 2
    digits_max: int = 3

    def validate(self) -> None:
        check_range("height", self.height, 1, 1024)
        check_range("width", self.width, 1, 4096)
        check_range("digits_min", self.digits_min, 1, 64)
        check_range("digits_max", self.digits_max, self.digits_min, 64)
        if self.height < DIGIT or self.width < DIGIT * self.digits_max:
            raise ConfigError(f"a {self.height}x{self.width} canvas is too small for {self.digits_max} digits of "
                              f"{DIGIT}x{DIGIT}; need height >= {DIGIT} and width >= {DIGIT * self.digits_max}")


def load_digit_images(split: str) -> tuple[Tensor, Tensor]:
    """(images (N, 8, 8) in [0, 1], labels (N,)) of ``split`` (train: even indices, test: odd)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    start = {"train": 0, "test": 1}.get(split)
    if start is None:
        raise ConfigError(f"split={split!r} is not allowed; choose one of train, test")
    x = torch.tensor(d.images[start::2], dtype=torch.float32) / 16.0
    return x, torch.tensor(d.target[start::2], dtype=torch.long)


def compose(cfg: CanvasConfig, n: int, split: str, generator: torch.Generator
            ) -> tuple[Tensor, list[list[int]], list[list[tuple[int, int]]]]:
    """``n`` canvases (n, 1, H, W), their digit labels in reading order, and the (row, column) of
    each digit's top-left corner."""
    cfg.validate()
    imgs, labels = load_digit_images(split)
    H, W = cfg.height, cfg.width
    out = torch.zeros(n, 1, H, W)
    digits, places = [], []
    for i in range(n):
        k = int(torch.randint(cfg.digits_min, cfg.digits_max + 1, (1,), generator=generator))
        slack = W - DIGIT * k  # spare columns shared out before, between and after the digits
        cuts = torch.sort(torch.randint(0, slack + 1, (k,), generator=generator)).values.tolist()
        which = torch.randint(0, len(imgs), (k,), generator=generator).tolist()
        rows = torch.randint(0, H - DIGIT + 1, (k,), generator=generator).tolist()
        spots = []
        for j in range(k):
            col = cuts[j] + DIGIT * j  # left to right, never overlapping
            out[i, 0, rows[j] : rows[j] + DIGIT, col : col + DIGIT] = imgs[which[j]]
            spots.append((rows[j], col))
        digits.append([int(labels[w]) for w in which])
        places.append(spots)
    return out, digits, places


def caption(digits: list[int]) -> str:
    """Digits in reading order -> words: [3, 7] -> ``three left of seven``."""
    return " left of ".join(NAMES[d] for d in digits)


def caption_length(n_digits: int) -> int:
    """Words in the caption of ``n_digits`` digits (3n − 2)."""
    return 3 * n_digits - 2


def caption_tokens(digits: list[int], length: int) -> Tensor:
    """Target tokens (length,): the caption's words, ``<eos>``, then ``<pad>``."""
    words = caption(digits).split()
    if length < len(words) + 1:
        raise ConfigError(f"a caption of {len(digits)} digits needs {len(words) + 1} tokens; got length={length}")
    t = torch.full((length,), PAD, dtype=torch.long)
    t[: len(words)] = torch.tensor([INDEX[w] for w in words], dtype=torch.long)
    t[len(words)] = EOS
    return t


def decode_caption(tokens: list[int]) -> str:
    """Tokens up to the first ``<eos>`` -> words."""
    words = []
    for t in tokens:
        if t == EOS:
            break
        words.append(VOCAB[t] if 0 <= t < len(VOCAB) else "?")
    return " ".join(words)


def bleu4(hypotheses: list[str], references: list[str]) -> float | None:
    """Corpus BLEU-4 (sacrebleu, 0–100) of hypotheses against one reference each; None without sacrebleu."""
    try:
        from sacrebleu.metrics import BLEU
    except ImportError:
        return None
    return float(BLEU(max_ngram_order=4).corpus_score(hypotheses, [references]).score)
