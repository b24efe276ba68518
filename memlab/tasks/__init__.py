"""Tasks. ``TASKS`` is the one registry: name -> Task class (one file per task family).

Each class's ``automaton`` attribute records its automaton class where it has one
(``regular``, ``dcf`` deterministic context-free, ``cs`` context-sensitive, ``transduction``;
see ``memlab.tasks.formal.AUTOMATA``); ``automaton_class(name)`` and ``tasks_by_class()`` read it.
"""

from __future__ import annotations

from memlab.core.errors import ConfigError
from memlab.tasks.arithmetic import Addition, Double
from memlab.tasks.associative_retrieval import AssociativeRetrieval
from memlab.tasks.babi import Babi
from memlab.tasks.base import ScoreCounts, SymbolicTask, Task, TaskConfig, TaskSpec
from memlab.tasks.context_free import Dyck, ModularArithmeticBrackets, ReverseString, StackManipulation
from memlab.tasks.context_sensitive import (BinaryAddition, BinaryMultiplication, BucketSort, DuplicateString,
                                            MissingDuplicate, OddFirst)
from memlab.tasks.episodic import EpisodicCopy, VariableAssignment
from memlab.tasks.ntm_tasks import AssociativeRecall, NTMCopy, PrioritySort, RepeatCopy
from memlab.tasks.permutation import BigramFlip, Copy, Reverse
from memlab.tasks.regular import CycleNavigation, EvenPairs, ModularArithmetic, Parity
from memlab.tasks.transduction import GenderConjugation, SVOtoSOV

TASKS: dict[str, type[Task]] = {
    "copy": Copy,
    "reverse": Reverse,
    "bigramFlip": BigramFlip,
    "double": Double,
    "addition": Addition,
    "ntm-copy": NTMCopy,
    "repeat-copy": RepeatCopy,
    "associative-recall": AssociativeRecall,
    "priority-sort": PrioritySort,
    "svo-sov": SVOtoSOV,
    "gender-conjugation": GenderConjugation,
    "parity": Parity,
    "even-pairs": EvenPairs,
    "cycle-navigation": CycleNavigation,
    "modular-arithmetic": ModularArithmetic,
    "reverse-string": ReverseString,
    "stack-manipulation": StackManipulation,
    "modular-arithmetic-brackets": ModularArithmeticBrackets,
    "dyck": Dyck,
    "duplicate-string": DuplicateString,
    "missing-duplicate": MissingDuplicate,
    "odd-first": OddFirst,
    "binary-addition": BinaryAddition,
    "binary-multiplication": BinaryMultiplication,
    "bucket-sort": BucketSort,
    "babi": Babi,
    "associative-retrieval": AssociativeRetrieval,
    "episodic-copy": EpisodicCopy,
    "variable-assignment": VariableAssignment,
}

#: task name -> automaton class, from each class's ``automaton`` attribute; copy, reverse and
#: bigramFlip (seed 004's permutation tasks) are Grefenstette et al. 2015's first three transduction tasks
AUTOMATON: dict[str, str] = {name: getattr(cls, "automaton", "") for name, cls in TASKS.items()} | {
    "copy": "transduction", "reverse": "transduction", "bigramFlip": "transduction"}


def automaton_class(name: str) -> str:
    """The automaton class of task ``name`` ("" where none is recorded)."""
    cls = get_task_class(name)  # resolves case and names the allowed ones
    return AUTOMATON[next(k for k, v in TASKS.items() if v is cls)]


def tasks_by_class() -> dict[str, list[str]]:
    """Automaton class -> task names, in registry order (tasks without a class left out)."""
    out: dict[str, list[str]] = {}
    for name in TASKS:
        if AUTOMATON.get(name):
            out.setdefault(AUTOMATON[name], []).append(name)
    return out


def get_task_class(name: str) -> type[Task]:
    """Look a task up by name (case-insensitive); unknown names list the allowed ones."""
    if name in TASKS:
        return TASKS[name]
    for k, v in TASKS.items():
        if k.lower() == name.lower():
            return v
    raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")


def make_task(name: str, cfg: dict | None = None) -> Task:
    return get_task_class(name)(cfg or {})


__all__ = ["TASKS", "AUTOMATON", "automaton_class", "tasks_by_class", "Task", "TaskConfig", "TaskSpec", "ScoreCounts", "SymbolicTask", "get_task_class", "make_task"]
