"""Deterministic context-free tasks (a stack suffices; Delétang et al. 2023's "DCF" tasks, plus Dyck-n).

    reverse-string    bits -> the bits reversed; e.g. 0 1 1 -> 1 1 0
    stack-manipulation  a stack (bits, bottom first) then actions 2 = POP, 3 = PUSH 0, 4 = PUSH 1
                      -> the final stack, top first (a POP on an empty stack does nothing; an
                      empty result is just ``<e>``); e.g. 0 1 2 4 -> 1 0
    modular-arithmetic-brackets  an expression over digits 0..4, + − × (5, 6, 7), ( ) (8, 9)
                      and unary −, from the grammar E → T | E + T | E − T, T → F | T × F,
                      F → d | − F | ( E ), sampled uniformly among the expressions of exactly k
                      tokens -> its value mod 5; e.g. ( 3 + 4 ) × 2 -> 4 (14 mod 5)
    dyck              k (even) brackets over n = 2 pairs (opening 2i, closing 2i + 1) ->
                      1 (id 2n + 1) if balanced else 0 (id 2n). Half the examples are balanced
                      (uniform over balanced strings of length k), half are a balanced string
                      with one symbol changed (never balanced); e.g. 0 2 3 1 -> 1, 0 2 1 3 -> 0
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from memlab.core.errors import check_range
from memlab.tasks.formal import LPAR, MINUS, PLUS, RPAR, TIMES, FormalConfig, FormalTask, Grammar, bits, eval_mod

POP, PUSH0, PUSH1 = 2, 3, 4


class ReverseString(FormalTask):
    """reverse-string: bits reversed."""

    name, vocab, automaton = "reverse-string", 2, "dcf"

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        return bits(k, rng)

    def answer(self, x: Sequence[int]) -> list[int]:
        return list(reversed(x))


class StackManipulation(FormalTask):
    """stack-manipulation: initial stack + actions -> final stack, top first."""

    name, vocab, automaton = "stack-manipulation", 5, "dcf"

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        n_stack = rng.randrange(k + 1)  # the rest are actions
        return bits(n_stack, rng) + [rng.choice((POP, PUSH0, PUSH1)) for _ in range(k - n_stack)]

    def answer(self, x: Sequence[int]) -> list[int]:
        stack: list[int] = []
        for t in x:
            if t in (0, 1):
                stack.append(t)
            elif t == POP:
                if stack:
                    stack.pop()
            else:
                stack.append(t - PUSH0)
        return stack[::-1]


#: E → T | E + T | E − T; T → F | T × F; F → d | − F | ( E )  (terminals: d has 5 words)
EXPR = Grammar(
    rules={"F": [("d",), ("-", "F"), ("(", "E", ")")], "T": [("F",), ("T", "*", "F")],
           "E": [("T",), ("E", "+", "T"), ("E", "-", "T")]},
    terminals={"d": 5, "+": 1, "-": 1, "*": 1, "(": 1, ")": 1},
    order=["F", "T", "E"],
)
_EXPR_IDS = {"+": PLUS, "-": MINUS, "*": TIMES, "(": LPAR, ")": RPAR}


class ModularArithmeticBrackets(FormalTask):
    """modular-arithmetic-brackets: an expression with brackets -> its value mod 5."""

    name, vocab, automaton = "modular-arithmetic-brackets", 10, "dcf"

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        return [w if s == "d" else _EXPR_IDS[s] for s, w in EXPR.sample("E", k, rng)]

    def answer(self, x: Sequence[int]) -> list[int]:
        return [eval_mod(x)]


@dataclass
class DyckConfig(FormalConfig):
    pairs: int = 2  # n bracket types

    def validate(self) -> None:
        super().validate()
        check_range("task.pairs", self.pairs, 1, 64)


def dyck_grammar(pairs: int) -> Grammar:
    """S → P | P S;  P → (_i )_i | (_i S )_i  for each pair i (balanced, non-empty)."""
    rules: dict[str, list[tuple[str, ...]]] = {"P": [], "S": [("P",), ("P", "S")]}
    for i in range(pairs):
        rules["P"] += [(f"o{i}", f"c{i}"), (f"o{i}", "S", f"c{i}")]
    # P refers to S at strictly smaller lengths, so the order P, S is fine for unit rules
    return Grammar(rules, {f"{b}{i}": 1 for i in range(pairs) for b in "oc"}, order=["P", "S"])


def balanced(x: Sequence[int]) -> bool:
    """Whether ``x`` (opening 2i, closing 2i + 1) is a balanced bracket string."""
    stack: list[int] = []
    for t in x:
        if t % 2 == 0:
            stack.append(t)
        elif not stack or stack.pop() != t - 1:
            return False
    return not stack


class Dyck(FormalTask):
    """dyck: is the bracket string balanced (n pairs)?"""

    name, automaton = "dyck", "dcf"
    Config = DyckConfig
    min_length, length_multiple = 2, 2

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.pairs = self.cfg.pairs
        self.vocab = 2 * self.pairs + 2
        self.grammar = dyck_grammar(self.pairs)

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        x = [2 * int(s[1:]) + (s[0] == "c") for s, _ in self.grammar.sample("S", k, rng)]
        if rng.random() < 0.5:
            i = rng.randrange(k)
            x[i] = rng.choice([t for t in range(2 * self.pairs) if t != x[i]])
        return x

    def answer(self, x: Sequence[int]) -> list[int]:
        return [2 * self.pairs + int(balanced(x))]


__all__ = ["ReverseString", "StackManipulation", "ModularArithmeticBrackets", "Dyck", "EXPR", "balanced",
           "dyck_grammar"]
