"""Context-sensitive tasks (need more than a stack; Delétang et al. 2023's "CS" tasks).

    duplicate-string   bits w -> w w; e.g. 0 1 -> 0 1 0 1
    missing-duplicate  w w with one position replaced by 2 (k = 2|w|, even) -> the missing bit;
                       e.g. 0 1 2 1 -> 0
    odd-first          w_1 … w_k -> w_1 w_3 w_5 … then w_2 w_4 …; e.g. 0 1 1 0 1 -> 0 1 1 1 0
    binary-addition    x + y with x, y bits least-significant first and + = 2 (k = |x| + |y| + 1,
                       so k >= 3) -> x + y in binary, least-significant first, no high zeros
                       (0 is "0"); e.g. 1 1 2 1 (3 + 1) -> 0 0 1
    binary-multiplication  x × y as above (× = 2) -> x · y; e.g. 1 1 2 0 1 (3 · 2) -> 0 1 1
    bucket-sort        symbols 0..4 -> the same symbols sorted; e.g. 3 1 4 1 -> 1 1 3 4
"""

from __future__ import annotations

import random
from typing import Sequence

from memlab.tasks.formal import FormalTask, bits


class DuplicateString(FormalTask):
    """duplicate-string: bits w -> w w."""

    name, vocab, automaton = "duplicate-string", 2, "cs"

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        return bits(k, rng)

    def answer(self, x: Sequence[int]) -> list[int]:
        return list(x) + list(x)


class MissingDuplicate(FormalTask):
    """missing-duplicate: w w with one bit hidden -> the hidden bit (even lengths).

    With bits, w w holds an even number of 1s, so the hidden bit is the parity of the visible
    ones: a finite-state model can solve this task without matching the halves (stop 30: the
    stack and the Stack-RNN solve it at every length up to 500, the LSTM does not at the same
    budget; tests/tasks/test_formal.py checks the shortcut)."""

    name, vocab, automaton = "missing-duplicate", 3, "cs"
    min_length, length_multiple = 2, 2

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        w = bits(k // 2, rng)
        x = w + w
        x[rng.randrange(k)] = 2
        return x

    def answer(self, x: Sequence[int]) -> list[int]:
        n, i = len(x) // 2, list(x).index(2)
        return [x[(i + n) % len(x)]]


class OddFirst(FormalTask):
    """odd-first: the symbols at odd positions, then those at even positions."""

    name, vocab, automaton = "odd-first", 2, "cs"

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        return bits(k, rng)

    def answer(self, x: Sequence[int]) -> list[int]:
        return list(x[0::2]) + list(x[1::2])


def to_bits(v: int) -> list[int]:
    """v >= 0 in binary, least-significant first, no high zeros (0 -> [0])."""
    out = []
    while v:
        out.append(v & 1)
        v >>= 1
    return out or [0]


def from_bits(b: Sequence[int]) -> int:
    return sum(int(x) << i for i, x in enumerate(b))


class _BinaryOp(FormalTask):
    """Two binary operands, least-significant first, around the operator token 2."""

    vocab, automaton = 3, "cs"
    min_length = 3

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        n = rng.randrange(1, k - 1)  # |x| in 1 .. k − 2, |y| = k − 1 − n
        return bits(n, rng) + [2] + bits(k - 1 - n, rng)

    def operands(self, x: Sequence[int]) -> tuple[int, int]:
        i = list(x).index(2)
        return from_bits(x[:i]), from_bits(x[i + 1:])


class BinaryAddition(_BinaryOp):
    """binary-addition: x + y (bits, least-significant first) -> x + y."""

    name = "binary-addition"

    def answer(self, x: Sequence[int]) -> list[int]:
        a, b = self.operands(x)
        return to_bits(a + b)


class BinaryMultiplication(_BinaryOp):
    """binary-multiplication: x × y (bits, least-significant first) -> x · y."""

    name = "binary-multiplication"

    def answer(self, x: Sequence[int]) -> list[int]:
        a, b = self.operands(x)
        return to_bits(a * b)


class BucketSort(FormalTask):
    """bucket-sort: symbols 0..4 -> the same symbols sorted."""

    name, vocab, automaton = "bucket-sort", 5, "cs"

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        return bits(k, rng, 5)

    def answer(self, x: Sequence[int]) -> list[int]:
        return sorted(x)


__all__ = ["DuplicateString", "MissingDuplicate", "OddFirst", "BinaryAddition", "BinaryMultiplication", "BucketSort",
           "to_bits", "from_bits"]
