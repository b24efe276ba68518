"""Core interfaces shared by every memory, task and model in memlab."""

from memlab.core.errors import ConfigError, MemlabError, check_alloc, check_choice, check_finite, check_range

__all__ = ["MemlabError", "ConfigError", "check_alloc", "check_choice", "check_finite", "check_range",
           "MemoryCore", "SequenceMemory", "TaskSpec", "Batch", "run_core"]


def __getattr__(name: str):
    # the interfaces import torch; load them only when asked (keeps ``import memlab.core`` light)
    if name in ("MemoryCore", "SequenceMemory", "TaskSpec", "Batch", "run_core"):
        from memlab.core import interfaces

        return getattr(interfaces, name)
    raise AttributeError(f"module 'memlab.core' has no attribute {name!r}")
