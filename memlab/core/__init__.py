"""Core interfaces shared by every memory, task and model in memlab."""

from memlab.core.errors import MemlabError, ConfigError
from memlab.core.interfaces import MemoryCore, SequenceMemory, run_core

__all__ = ["MemlabError", "ConfigError", "MemoryCore", "SequenceMemory", "run_core"]
