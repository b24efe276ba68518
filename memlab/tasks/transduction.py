"""Grefenstette et al. 2015's synthetic transduction tasks, §4: sequence copy, reversal and bigram
flipping (``memlab.tasks.permutation``: copy, reverse, bigramFlip, vocabulary 128), and two
tasks from small grammars that mimic reorderings and agreement in translation, defined here.

Both grammars are sampled uniformly at an exact number of source tokens (``formal.Grammar``).
The word classes and their sizes are this implementation's choices (settings below).

svo-sov (Subject–Verb–Object to Subject–Object–Verb, as from English to Japanese):

    S → NP VP;  NP → n | n rel VP;  VP → vi | vt NP            (source, SVO)
    SOV(n rel VP) = n rel SOV(VP);  SOV(vt NP) = SOV(NP) vt    (target: every object before its verb)

    ids: nouns 0..N−1, transitive verbs N..N+T−1, intransitive N+T..N+T+I−1, rel = N+T+I.
    e.g. (N = T = I = 2: n0 n1 = 0 1, vt = 2 3, vi = 4 5, rel = 6)
    n0 vt2 n1 rel vi4  ("the dog sees the cat that sleeps")  ->  n0 n1 rel vi4 vt2
    ids: 0 2 1 6 4 -> 0 1 6 4 2

gender-conjugation (English "the" to a German-like gendered article):

    S → NP VP;  NP → the NB | the NB rel VP;  NB → n | adj NB;  VP → v | v NP
    target: the same sentence with every "the" replaced by der/die/das according to the
    gender (noun id mod 3) of the noun that heads its NP — the next noun after the article,
    possibly several adjectives later.

    ids: nouns 0..N−1, adjectives N..N+A−1, verbs N+A..N+A+V−1, rel, the, der, die, das.
    e.g. (N = 3, A = 2, V = 2: adj 3 4, verbs 5 6, rel 7, the 8, der die das 9 10 11)
    the adj3 n1 v5 the n2  ->  die adj3 n1 v5 das n2;  ids: 8 3 1 5 8 2 -> 10 3 1 5 11 2

Default lengths as copy/reverse in seed 004 (train 8–64 here, test 65–128).
"""

from __future__ import annotations

import random
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

from memlab.core.errors import check_range
from memlab.tasks.base import TaskConfig
from memlab.tasks.formal import FormalTask, Grammar


@contextmanager
def _deep_recursion(limit: int) -> Iterator[None]:
    """Room for a recursive descent over sentences of thousands of tokens (pure-Python frames)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@dataclass
class SVOConfig(TaskConfig):
    train_min: int = 8
    train_max: int = 64
    test_min: int = 65
    test_max: int = 128
    nouns: int = 32
    transitive: int = 16
    intransitive: int = 16

    def validate(self) -> None:
        super().validate()
        for k in ("nouns", "transitive", "intransitive"):
            check_range(f"task.{k}", getattr(self, k), 1, 10_000)


class SVOtoSOV(FormalTask):
    """svo-sov: move every object before its verb (recursively through relative clauses)."""

    name, automaton = "svo-sov", "transduction"
    Config = SVOConfig
    min_length = 2

    def __init__(self, cfg=None):
        super().__init__(cfg)
        c = self.cfg
        self.vt0, self.vi0 = c.nouns, c.nouns + c.transitive
        self.rel = self.vi0 + c.intransitive
        self.vocab = self.rel + 1
        self.grammar = Grammar({"S": [("NP", "VP")], "NP": [("n",), ("n", "rel", "VP")], "VP": [("vi",), ("vt", "NP")]},
                               {"n": c.nouns, "vt": c.transitive, "vi": c.intransitive, "rel": 1}, order=["VP", "NP", "S"])

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        base = {"n": 0, "vt": self.vt0, "vi": self.vi0, "rel": self.rel}
        return [base[s] + w for s, w in self.grammar.sample("S", k, rng)]

    def answer(self, x: Sequence[int]) -> list[int]:
        out: list[int] = []

        def np(i: int) -> int:  # emits SOV(NP at i), returns the index after it
            out.append(x[i])
            if i + 1 < len(x) and x[i + 1] == self.rel:
                out.append(self.rel)
                return vp(i + 2)
            return i + 1

        def vp(i: int) -> int:
            if x[i] >= self.vi0:  # intransitive
                out.append(x[i])
                return i + 1
            j = np(i + 1)
            out.append(x[i])  # the verb after its object
            return j

        with _deep_recursion(3 * len(x) + 1000):
            try:
                end = vp(np(0))
            except IndexError:
                end = -1
        if end != len(x):
            raise ValueError("not a sentence of the svo-sov grammar")
        return out


@dataclass
class GenderConfig(TaskConfig):
    train_min: int = 8
    train_max: int = 64
    test_min: int = 65
    test_max: int = 128
    nouns: int = 30
    adjectives: int = 16
    verbs: int = 16

    def validate(self) -> None:
        super().validate()
        for k in ("nouns", "adjectives", "verbs"):
            check_range(f"task.{k}", getattr(self, k), 1, 10_000)


class GenderConjugation(FormalTask):
    """gender-conjugation: replace each "the" by der/die/das for the gender of its noun."""

    name, automaton = "gender-conjugation", "transduction"
    Config = GenderConfig
    min_length = 3

    def __init__(self, cfg=None):
        super().__init__(cfg)
        c = self.cfg
        self.adj0, self.v0 = c.nouns, c.nouns + c.adjectives
        self.rel = self.v0 + c.verbs
        self.the = self.rel + 1
        self.articles = (self.the + 1, self.the + 2, self.the + 3)  # der, die, das
        self.vocab = self.the + 4
        self.grammar = Grammar(
            {"S": [("NP", "VP")], "NP": [("the", "NB"), ("the", "NB", "rel", "VP")], "NB": [("n",), ("adj", "NB")],
             "VP": [("v",), ("v", "NP")]},
            {"n": c.nouns, "adj": c.adjectives, "v": c.verbs, "rel": 1, "the": 1}, order=["NB", "VP", "NP", "S"])

    def inputs(self, k: int, rng: random.Random) -> list[int]:
        base = {"n": 0, "adj": self.adj0, "v": self.v0, "rel": self.rel, "the": self.the}
        return [base[s] + w for s, w in self.grammar.sample("S", k, rng)]

    def answer(self, x: Sequence[int]) -> list[int]:
        out = list(x)
        gender = None
        for i in range(len(x) - 1, -1, -1):  # right to left: the noun is seen before its article
            if x[i] < self.adj0:
                gender = x[i] % 3
            elif x[i] == self.the:
                if gender is None:
                    raise ValueError("an article without a noun")
                out[i] = self.articles[gender]
        return out


__all__ = ["SVOtoSOV", "GenderConjugation"]
