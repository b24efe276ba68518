"""Tasks. ``TASKS`` is the one registry: name -> Task class (one file per task family)."""

from __future__ import annotations

from memlab.core.errors import ConfigError
from memlab.tasks.arithmetic import Addition, Double
from memlab.tasks.base import ScoreCounts, SymbolicTask, Task, TaskConfig, TaskSpec
from memlab.tasks.ntm_tasks import AssociativeRecall, NTMCopy, PrioritySort, RepeatCopy
from memlab.tasks.permutation import BigramFlip, Copy, Reverse

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
}


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


__all__ = ["TASKS", "Task", "TaskConfig", "TaskSpec", "ScoreCounts", "SymbolicTask", "get_task_class", "make_task"]
