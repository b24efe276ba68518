"""Regular tasks (a finite-state controller suffices; Delétang et al. 2023's "R" tasks).

Each input is k data symbols under the ``SymbolicTask`` protocol; the answer is one symbol.

    parity            bits (0/1) -> 1 if the number of 1s is odd else 0
                      e.g. 1 0 1 1 -> 1
    even-pairs        bits (a=0, b=1) -> 1 if the number of ab and ba pairs is even, else 0
                      (equivalently: first symbol == last symbol); e.g. 0 1 1 0 -> 1
    cycle-navigation  moves 0 = stay, 1 = +1, 2 = −1 on a cycle of 5 from position 0 -> the
                      final position 0..4; e.g. 1 1 2 1 -> 2
    modular-arithmetic  d_1 o_1 d_2 … o_{n−1} d_n with digits 0..4 and o ∈ {+ − ×} (ids 5, 6, 7)
                      -> the value mod 5 with the usual precedence (× first, then left to
                      right); k = 2n − 1 tokens, so lengths are odd. e.g. 3 + 4 × 2 -> 1 (11 mod 5)
"""

from __future__ import annotations

import random
from typing import Sequence

from memlab.tasks.formal import MINUS, PLUS, TIMES, FormalTask, bits, eval_mod


class Parity(FormalTask):
    """parity: bits -> parity of the number of 1s."""

    name, vocab, automaton = "parity", 2, "regular"

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        return bits(k, rng)

    def answer(self, x: Sequence[int]) -> list[int]:
        return [sum(x) % 2]


class EvenPairs(FormalTask):
    """even-pairs: 1 iff #ab + #ba is even (first symbol == last)."""

    name, vocab, automaton = "even-pairs", 2, "regular"

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        return bits(k, rng)

    def answer(self, x: Sequence[int]) -> list[int]:
        changes = sum(1 for a, b in zip(x, x[1:]) if a != b)
        return [int(changes % 2 == 0)]


class CycleNavigation(FormalTask):
    """cycle-navigation: moves on a 5-cycle -> final position."""

    name, vocab, automaton = "cycle-navigation", 5, "regular"
    steps = {0: 0, 1: 1, 2: -1}

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        return bits(k, rng, 3)

    def answer(self, x: Sequence[int]) -> list[int]:
        return [sum(self.steps[m] for m in x) % 5]


class ModularArithmetic(FormalTask):
    """modular-arithmetic: an expression without brackets -> its value mod 5 (odd lengths)."""

    name, vocab, automaton = "modular-arithmetic", 8, "regular"
    length_rule = "odd (digit op digit … digit)"

    def allowed(self, k: int) -> bool:
        return k >= 1 and k % 2 == 1

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        return [rng.randrange(5) if i % 2 == 0 else rng.choice((PLUS, MINUS, TIMES)) for i in range(k)]

    def answer(self, x: Sequence[int]) -> list[int]:
        return [eval_mod(x)]


__all__ = ["Parity", "EvenPairs", "CycleNavigation", "ModularArithmetic"]
