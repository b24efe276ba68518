"""Associative retrieval (Ba et al. 2016, §4.1): key–value character pairs, then ``??`` and a
query key; the answer is the query's value.

Keys are distinct lower-case letters, values digits. The length parameter k is the number of
pairs (1 ≤ k ≤ 26). Ba et al.'s example with k = 4::

    c9k8j3f1??c  ->  9

Laid out in the seed-004 protocol of ``SymbolicTask`` (data tokens: a–z = 0–25, 0–9 = 26–35,
``?`` = 36; then ``<s>`` 37, ``</s>`` 38, ``<e>`` 39, padding 40)::

    input:   <s> c 9 k 8 j 3 f 1 ? ? c </s> </s>
    target:                            9   <e>

so ``n_input`` = 2k + 4 and ``seq_len`` = 2k + 6. Per sequence (coarse) accuracy is the
retrieval accuracy (the ``<e>`` is learnt at once); ``encode``/``decode`` map the strings.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import torch
from torch import Tensor

from memlab.core.errors import ConfigError
from memlab.tasks.base import SymbolicTask, TaskConfig

KEYS = string.ascii_lowercase  # 26 keys
VALUES = string.digits  # 10 values
QUERY = "?"
ALPHABET = KEYS + VALUES + QUERY  # token id = position in this string
MAX_PAIRS = len(KEYS)


def encode(text: str) -> Tensor:
    """Characters of ``ALPHABET`` -> token ids (L,) long; ConfigError naming the allowed ones."""
    bad = sorted(set(text) - set(ALPHABET))
    if bad:
        raise ConfigError(f"character {bad[0]!r} is not in the associative-retrieval alphabet; allowed: a-z, 0-9, ?")
    return torch.tensor([ALPHABET.index(c) for c in text], dtype=torch.long)


def decode(tokens: Tensor) -> str:
    """Token ids (L,) -> characters (ids outside the alphabet are the markers, shown as ``_``)."""
    return "".join(ALPHABET[t] if 0 <= t < len(ALPHABET) else "_" for t in tokens.tolist())


@dataclass
class AssociativeRetrievalConfig(TaskConfig):
    """Numbers of pairs k for training and testing (1 ≤ k ≤ 26: keys are distinct letters)."""

    train_min: int = 2
    train_max: int = 8
    test_min: int = 9
    test_max: int = 12

    def validate(self) -> None:
        super().validate()
        for name in ("train_max", "test_max"):
            if getattr(self, name) > MAX_PAIRS:
                raise ConfigError(f"task.{name}={getattr(self, name)} is out of range; allowed: <= {MAX_PAIRS} "
                                  "(keys are distinct letters)")


class AssociativeRetrieval(SymbolicTask):
    """Ba et al. (2016): k key-value pairs, then ?? and a query key -> its value (module docstring)."""

    name = "associative-retrieval"
    Config = AssociativeRetrievalConfig
    vocab = len(ALPHABET)

    def check_lengths(self, lengths: Tensor) -> None:
        super().check_lengths(lengths)
        if lengths.numel() and int(lengths.max()) > MAX_PAIRS:
            raise ConfigError(f"length {int(lengths.max())} is out of range for {self.name}; allowed: "
                              f"1 <= pairs <= {MAX_PAIRS}")

    def max_steps(self, k: int) -> int:
        return 2 * k + 6

    @staticmethod
    def example(keys: Tensor, values: Tensor, query: int) -> tuple[Tensor, Tensor]:
        """(input symbols, answer) of one example. keys (k,) in 0–25, values (k,) in 0–9,
        query the index of the asked pair."""
        pairs = torch.stack([keys, values + len(KEYS)], 1).reshape(-1)  # (2k,) k1 v1 k2 v2 …
        q = torch.tensor([ALPHABET.index(QUERY)] * 2 + [int(keys[query])])
        return torch.cat([pairs, q]), (values[query : query + 1] + len(KEYS))

    def make_pairs(self, lengths: Tensor, generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        out = []
        for k in lengths.tolist():
            keys = torch.randperm(MAX_PAIRS, generator=generator)[:k]  # (k,) distinct letters
            values = torch.randint(0, len(VALUES), (k,), generator=generator)  # (k,)
            query = int(torch.randint(0, k, (1,), generator=generator))
            out.append(self.example(keys, values, query))
        return out
