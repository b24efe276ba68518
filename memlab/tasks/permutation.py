"""Permutation tasks of seed 004 §4: copy, reverse, bigramFlip (vocabulary 128).

Lengths and layouts follow ``SymbolicTask`` (``<s>`` input ``</s>``… with answer then ``<e>``).
Default length ranges are seed 004 Table 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from memlab.core.errors import ConfigError
from memlab.tasks.base import SymbolicTask, TaskConfig


@dataclass
class PermutationConfig(TaskConfig):
    """Table 1 ranges for copy/reverse, plus the vocabulary size (128 in seed 004)."""

    train_min: int = 2
    train_max: int = 64
    test_min: int = 65
    test_max: int = 128
    vocab: int = 128

    def validate(self) -> None:
        super().validate()
        if self.vocab < 2:
            raise ConfigError(f"task.vocab={self.vocab} is out of range; allowed: >= 2")


@dataclass
class BigramFlipConfig(PermutationConfig):
    train_min: int = 2
    train_max: int = 32
    test_min: int = 33
    test_max: int = 64


class _Permutation(SymbolicTask):
    Config = PermutationConfig

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.vocab = self.cfg.vocab

    def permute(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def make_pairs(self, lengths: Tensor, generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        k_max = int(lengths.max())
        data = torch.randint(0, self.vocab, (len(lengths), k_max), generator=generator)  # (B, k_max)
        return [(data[b, :k], self.permute(data[b, :k])) for b, k in enumerate(lengths.tolist())]


class Copy(_Permutation):
    """copy: input a_1 … a_k, output a_1 … a_k.

    Worked example (vocab 128, so <s>=128, </s>=129, <e>=130), k = 3, input 5 9 2:
        inputs : <s> 5 9 2 </s> </s> </s> </s>
        targets:  -  - - -   5    9    2   <e>
    """

    name = "copy"

    def permute(self, x: Tensor) -> Tensor:
        return x.clone()


class Reverse(_Permutation):
    """reverse: input a_1 … a_k, output a_k … a_1.

    Worked example, input 5 9 2 -> targets 2 9 5 <e> during the four </s> steps.
    """

    name = "reverse"

    def permute(self, x: Tensor) -> Tensor:
        return x.flip(0)


class BigramFlip(_Permutation):
    """bigramFlip: input a_1 a_2 … a_{2j-1} a_{2j}, output a_2 a_1 a_4 a_3 … a_{2j} a_{2j-1}.

    The length parameter is the input sequence length (seed 004 Table 1: "for permutation
    tasks, the numbers indicate input sequence length"), so lengths must be even; ranges
    sample only even lengths. Worked example: input 5 9 2 7 -> targets 9 5 7 2 <e>.
    """

    name = "bigramFlip"
    Config = BigramFlipConfig
    length_multiple = 2

    def permute(self, x: Tensor) -> Tensor:
        return x.reshape(-1, 2).flip(1).reshape(-1)
