"""Arithmetic tasks of seed 004 §4: double and addition (digits, least significant first).

All numbers are written least-significant digit first ("on the left") and zero padded.
Vocabulary: digits 0–9 plus the four markers (14 tokens). Default length ranges are
seed 004 Table 1 (number of digits of each operand).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from memlab.tasks.base import SymbolicTask, TaskConfig


@dataclass
class DoubleConfig(TaskConfig):
    train_min: int = 2
    train_max: int = 40
    test_min: int = 41
    test_max: int = 80


@dataclass
class AdditionConfig(TaskConfig):
    train_min: int = 2
    train_max: int = 16
    test_min: int = 17
    test_max: int = 32


def digits_add(x: Tensor, y: Tensor) -> Tensor:
    """Sum of two LSB-first digit strings of equal length k: k+1 digits, LSB first.

    ``x``, ``y``: (k,) long in 0..9. Exact for any k (no integer overflow).
    """
    k = x.shape[0]
    out = torch.zeros(k + 1, dtype=torch.long)
    carry = 0
    for i in range(k):
        s = int(x[i]) + int(y[i]) + carry
        out[i] = s % 10
        carry = s // 10
    out[k] = carry
    return out


class Double(SymbolicTask):
    """double: x with k digits (LSB first, zero padded) -> 2x with k+1 digits (LSB first).

    Worked example, k = 2, x = 57: digits LSB first are 7 5; 2x = 114 -> 4 1 1.
    With <s>=10, </s>=11, <e>=12:
        inputs : <s> 7 5 </s> </s> </s> </s>
        targets:  -  - -   4    1    1   <e>
    """

    name = "double"
    Config = DoubleConfig
    vocab = 10

    def make_pairs(self, lengths: Tensor, generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        k_max = int(lengths.max())
        digits = torch.randint(0, 10, (len(lengths), k_max), generator=generator)  # (B, k_max)
        return [(digits[b, :k], digits_add(digits[b, :k], digits[b, :k])) for b, k in enumerate(lengths.tolist())]


class Addition(SymbolicTask):
    """addition: x, y with k digits each, interleaved x_1 y_1 x_2 y_2 … -> x+y with k+1 digits.

    Worked example, k = 2, x = 57, y = 68: input 7 8 5 6; x+y = 125 -> 5 2 1.
        inputs : <s> 7 8 5 6 </s> </s> </s> </s>
        targets:  -  - - - -   5    2    1   <e>
    """

    name = "addition"
    Config = AdditionConfig
    vocab = 10

    def make_pairs(self, lengths: Tensor, generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        k_max = int(lengths.max())
        xs = torch.randint(0, 10, (len(lengths), k_max), generator=generator)  # (B, k_max)
        ys = torch.randint(0, 10, (len(lengths), k_max), generator=generator)
        pairs = []
        for b, k in enumerate(lengths.tolist()):
            x, y = xs[b, :k], ys[b, :k]
            pairs.append((torch.stack([x, y], 1).reshape(-1), digits_add(x, y)))  # (2k,)
        return pairs
