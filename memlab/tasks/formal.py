"""Shared parts of the formal-language tasks: the task base, an exact-length grammar sampler and a
modular-arithmetic evaluator.

``FormalTask`` is a ``SymbolicTask`` (seed 004 protocol: ``<s>`` input ``</s>``…, answer then
``<e>``, loss and scores on the response only) whose examples come from a pure pair of
functions: ``inputs(k, rng)`` draws the input symbols of length k and ``answer(x)`` computes the
answer from them, so golden examples are plain lists. It records the task's automaton class
(``automaton``: ``regular``, ``dcf`` deterministic context-free, ``cs`` context-sensitive, or
``transduction``) and knows which lengths exist (``allowed(k)``): a range that holds none of
them is a one-line ConfigError, and ranges are sampled uniformly over the allowed lengths only.

``Grammar`` samples a sentence of an exact length uniformly among all sentences of that length
(derivations counted by dynamic programming, so unambiguous grammars sample strings
uniformly); it is iterative, so lengths in the thousands need no deep recursion.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from memlab.core.errors import ConfigError
from memlab.tasks.base import MAX_LENGTH, SymbolicTask, TaskConfig

#: automaton classes (Delétang et al. 2023's grouping; seed 001 Fig. 2.7) and their labels
AUTOMATA = {"regular": "regular (finite-state)", "dcf": "deterministic context-free (stack)",
            "cs": "context-sensitive (tape)", "transduction": "transduction (Grefenstette et al. 2015)"}


@dataclass
class FormalConfig(TaskConfig):
    """The usual protocol for these suites: train on lengths 1–40, test beyond (41–100);
    per-length evaluation up to 500 goes through ``memlab.evaluation.evaluate(lengths=…)``."""

    train_min: int = 1
    train_max: int = 40
    test_min: int = 41
    test_max: int = 100


class FormalTask(SymbolicTask):
    """Base of the formal-language tasks. Subclasses set ``name``, ``vocab``, ``automaton``,
    ``min_length`` (and ``length_multiple``), and implement ``inputs`` and ``answer``."""

    Config = FormalConfig
    automaton: str = ""
    min_length: int = 1
    length_rule: str = ""  # extra words for the error message when lengths are restricted

    # ------------------------------------------------------------------ lengths
    def allowed(self, k: int) -> bool:
        """Whether an example of length k exists."""
        return k >= self.min_length and k % self.length_multiple == 0

    def _rule(self) -> str:
        rule = [f"length >= {self.min_length}"]
        if self.length_multiple > 1:
            rule.append(f"a multiple of {self.length_multiple}")
        if self.length_rule:
            rule.append(self.length_rule)
        return ", ".join(rule)

    def allowed_lengths(self, lo: int, hi: int) -> list[int]:
        return [k for k in range(max(lo, 1), min(hi, MAX_LENGTH) + 1) if self.allowed(k)]

    def _check_range(self, which: str, lo: int, hi: int) -> None:
        start = max(lo, self.min_length, 1)  # allowed lengths are dense above min_length: a short scan decides
        if not any(self.allowed(k) for k in range(start, min(hi, start + 64) + 1)):
            raise ConfigError(f"task {which} range {lo}..{hi} holds no length that {self.name} allows ({self._rule()})")

    def sample_lengths(self, batch_size: int, lo: int, hi: int, generator: torch.Generator) -> Tensor:
        ok = self.allowed_lengths(lo, hi)
        if not ok:
            raise ConfigError(f"length range {lo}..{hi} holds no length that {self.name} allows ({self._rule()})")
        idx = torch.randint(0, len(ok), (batch_size,), generator=generator)
        return torch.tensor(ok, dtype=torch.long)[idx]

    def check_lengths(self, lengths: Tensor) -> None:
        super().check_lengths(lengths)
        for k in set(lengths.tolist()):
            if not self.allowed(k):
                raise ConfigError(f"length {k} is not allowed for {self.name} ({self._rule()})")

    # ------------------------------------------------------------------ examples
    def inputs(self, k: int, rng: random.Random) -> list[int]:  # pragma: no cover - abstract
        """The input symbols of one example of length k."""
        raise NotImplementedError

    def answer(self, x: Sequence[int]) -> list[int]:  # pragma: no cover - abstract
        """The answer symbols for input ``x`` (a pure function: golden examples test it)."""
        raise NotImplementedError

    def make_pairs(self, lengths: Tensor, generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        rng = random.Random(int(torch.randint(0, 2**62, (), generator=generator)))
        out = []
        for k in lengths.tolist():
            x = self.inputs(int(k), rng)
            out.append((torch.tensor(x, dtype=torch.long), torch.tensor(self.answer(x), dtype=torch.long)))
        return out


def bits(k: int, rng: random.Random, n: int = 2) -> list[int]:
    """k symbols uniform in 0..n−1."""
    return [rng.randrange(n) for _ in range(k)]


# --------------------------------------------------------------------------- grammar sampler


class Grammar:
    """A context-free grammar without ε-rules, sampled at exact lengths.

    rules: nonterminal -> productions (tuples of symbols); terminals: symbol -> number of words
    (each terminal is one token; the sampler returns (symbol, word index) pairs). ``order``
    lists the nonterminals so that the target of every unit production X -> Y comes before X.
    """

    def __init__(self, rules: dict[str, list[tuple[str, ...]]], terminals: dict[str, int], order: list[str]):
        self.rules, self.terminals, self.order = rules, terminals, order
        self.counts: dict[str, list[int]] = {x: [0] for x in rules}  # counts[X][n]: sentences of X with n tokens
        self._suffix: dict[tuple[str, int, int], list[int]] = {}  # (X, production, i < last) -> [count of symbols i.. for n]

    def _cnt(self, sym: str, n: int) -> int:
        if sym in self.terminals:
            return self.terminals[sym] if n == 1 else 0
        return self.counts[sym][n] if n < len(self.counts[sym]) else 0

    def _suf(self, x: str, p: int, i: int, m: int) -> int:
        """Sentences of symbols i.. of production p of x with m tokens (the last symbol read directly)."""
        prod = self.rules[x][p]
        if i == len(prod) - 1:
            return self._cnt(prod[i], m)
        return self._suffix[(x, p, i)][m]

    def _extend(self, n_max: int) -> None:
        """Counts for every length up to ``n_max`` (each length once, nonterminals in ``order``)."""
        for n in range(len(self.counts[self.order[0]]), n_max + 1):
            for x in self.order:
                total = 0
                for p, prod in enumerate(self.rules[x]):
                    for i in range(len(prod) - 2, -1, -1):  # suffix counts at length n use shorter lengths only
                        c = sum(self._cnt(prod[i], a) * self._suf(x, p, i + 1, n - a) for a in range(1, n))
                        self._suffix.setdefault((x, p, i), [0]).append(c)
                    total += self._suf(x, p, 0, n)
                self.counts[x].append(total)

    def count(self, sym: str, n: int) -> int:
        """Number of sentences of ``sym`` with exactly n tokens."""
        self._extend(n)
        return self._cnt(sym, n)

    def sample(self, sym: str, n: int, rng: random.Random) -> list[tuple[str, int]]:
        """A sentence of ``sym`` with exactly n tokens, uniform over derivations; ConfigError if none."""
        if self.count(sym, n) == 0:
            raise ConfigError(f"no sentence of {sym} has length {n}")
        out: list[tuple[str, int]] = []
        work = [(sym, n)]
        while work:
            x, m = work.pop()
            if x in self.terminals:
                out.append((x, rng.randrange(self.terminals[x])))
                continue
            r = rng.randrange(self.counts[x][m])
            for p, prod in enumerate(self.rules[x]):
                c = self._suf(x, p, 0, m)
                if r < c:
                    break
                r -= c
            parts, left = [], m
            for i in range(len(prod) - 1):  # choose each symbol's length given the rest
                weights = [(a, self._cnt(prod[i], a) * self._suf(x, p, i + 1, left - a)) for a in range(1, left)]
                r = rng.randrange(sum(w for _, w in weights))
                for a, w in weights:
                    if r < w:
                        break
                    r -= w
                parts.append((prod[i], a))
                left -= a
            parts.append((prod[-1], left))
            work.extend(reversed(parts))  # expanded left to right
        return out


# --------------------------------------------------------------------------- modular arithmetic

#: token ids of the modular-arithmetic tasks: digits 0..4, then + − × ( )
PLUS, MINUS, TIMES, LPAR, RPAR = 5, 6, 7, 8, 9
MOD = 5


def eval_mod(tokens: Sequence[int], mod: int = MOD) -> int:
    """Value mod ``mod`` of an expression in the tokens above, with the usual precedence (unary −
    over × over binary + −, left to right). Iterative (operator-precedence parsing)."""
    prec = {PLUS: 1, MINUS: 1, TIMES: 2, "neg": 3}
    vals: list[int] = []
    ops: list = []

    def apply(op) -> None:
        if op == "neg":
            vals.append(-vals.pop() % mod)
            return
        b, a = vals.pop(), vals.pop()
        vals.append((a + b) % mod if op == PLUS else (a - b) % mod if op == MINUS else (a * b) % mod)

    expect_operand = True
    for t in tokens:
        if expect_operand:
            if t == MINUS:
                ops.append("neg")
            elif t == LPAR:
                ops.append(LPAR)
            elif 0 <= t < mod:
                vals.append(t)
                expect_operand = False
            else:
                raise ValueError(f"unexpected token {t} where an operand was expected")
        elif t == RPAR:
            while ops[-1] != LPAR:
                apply(ops.pop())
            ops.pop()
        elif t in (PLUS, MINUS, TIMES):
            while ops and ops[-1] != LPAR and prec[ops[-1]] >= prec[t]:
                apply(ops.pop())
            ops.append(t)
            expect_operand = True
        else:
            raise ValueError(f"unexpected token {t} after an operand")
    while ops:
        apply(ops.pop())
    if len(vals) != 1:
        raise ValueError("malformed expression")
    return vals[0]


__all__ = ["AUTOMATA", "FormalConfig", "FormalTask", "Grammar", "bits", "eval_mod", "PLUS", "MINUS", "TIMES",
           "LPAR", "RPAR", "MOD"]
