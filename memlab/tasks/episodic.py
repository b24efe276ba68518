"""Episodic copy and variable assignment at small scale (the Associative LSTM tasks of
Danihelka et al. 2016 §5), in the seed-004 layout of ``SymbolicTask``.

**episodic-copy** — k random symbols, then a pause of p blanks (p uniform in 0..max_pause),
then the recall cue; the answer is the k symbols. The episode must be held across the pause.
With vocab 10 (symbols 0–9, blank ``_`` = 10)::

    input:   <s> 3 1 4 _ _ </s> </s> </s> </s>
    target:                   3    1    4   <e>

**variable-assignment** — k assignments, each a two-letter name and a one-letter value, then
``?`` and one of the names; the answer is that name's value. Danihelka et al. write
``s(ml,a),s(qc,n),q(ml).`` -> ``a``; here the punctuation is dropped::

    input:   <s> m l a q c n ? m l </s> </s>
    target:                         a   <e>

Tokens of variable-assignment: a–z = 0–25, ``?`` = 26. The length parameter k is the number
of symbols (copy) or assignments (1 ≤ k ≤ 26: names are distinct).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import torch
from torch import Tensor

from memlab.core.errors import ConfigError, check_range
from memlab.tasks.base import SymbolicTask, TaskConfig

LETTERS = string.ascii_lowercase
MAX_ASSIGNMENTS = 26


# ----------------------------------------------------------------------------- episodic copy
@dataclass
class EpisodicCopyConfig(TaskConfig):
    """Episode lengths k for training/testing, symbols per position, longest pause."""

    train_min: int = 2
    train_max: int = 8
    test_min: int = 9
    test_max: int = 16
    vocab: int = 10
    max_pause: int = 10

    def validate(self) -> None:
        super().validate()
        check_range("task.vocab", self.vocab, 2, 100_000)
        check_range("task.max_pause", self.max_pause, 0, 100_000)


class EpisodicCopy(SymbolicTask):
    """Danihelka et al. (2016), small: k symbols, a pause of blanks, then recall the k symbols."""

    name = "episodic-copy"
    Config = EpisodicCopyConfig

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.vocab = self.cfg.vocab + 1  # + the blank
        self.blank = self.cfg.vocab

    def max_steps(self, k: int) -> int:
        return 2 * k + self.cfg.max_pause + 3

    def make_pairs(self, lengths: Tensor, generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        out = []
        for k in lengths.tolist():
            x = torch.randint(0, self.cfg.vocab, (k,), generator=generator)
            p = int(torch.randint(0, self.cfg.max_pause + 1, (1,), generator=generator))
            out.append((torch.cat([x, torch.full((p,), self.blank)]), x))
        return out


# ----------------------------------------------------------------------------- variable assignment
@dataclass
class VariableAssignmentConfig(TaskConfig):
    """Numbers of assignments k for training/testing (1 ≤ k ≤ 26)."""

    train_min: int = 1
    train_max: int = 4
    test_min: int = 5
    test_max: int = 8

    def validate(self) -> None:
        super().validate()
        for name in ("train_max", "test_max"):
            if getattr(self, name) > MAX_ASSIGNMENTS:
                raise ConfigError(f"task.{name}={getattr(self, name)} is out of range; allowed: <= {MAX_ASSIGNMENTS}")


class VariableAssignment(SymbolicTask):
    """Danihelka et al. (2016), small: k assignments (name, value), then ? name -> its value."""

    name = "variable-assignment"
    Config = VariableAssignmentConfig
    vocab = len(LETTERS) + 1
    query = len(LETTERS)

    def check_lengths(self, lengths: Tensor) -> None:
        super().check_lengths(lengths)
        if lengths.numel() and int(lengths.max()) > MAX_ASSIGNMENTS:
            raise ConfigError(f"length {int(lengths.max())} is out of range for {self.name}; allowed: "
                              f"1 <= assignments <= {MAX_ASSIGNMENTS}")

    def max_steps(self, k: int) -> int:
        return 3 * k + 6

    def example(self, names: Tensor, values: Tensor, asked: int) -> tuple[Tensor, Tensor]:
        """(input, answer) of one example: names (k, 2), values (k,) letters, asked a pair index."""
        body = torch.cat([names, values.unsqueeze(1)], 1).reshape(-1)  # (3k,)
        return torch.cat([body, torch.tensor([self.query]), names[asked]]), values[asked : asked + 1]

    def make_pairs(self, lengths: Tensor, generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        out = []
        n = len(LETTERS)
        for k in lengths.tolist():
            ids = torch.randperm(n * n, generator=generator)[:k]  # distinct names
            names = torch.stack([ids // n, ids % n], 1)  # (k, 2)
            values = torch.randint(0, n, (k,), generator=generator)
            out.append(self.example(names, values, int(torch.randint(0, k, (1,), generator=generator))))
        return out

    def render_chars(self, tokens: Tensor) -> str:
        """Data tokens as characters (``?`` for the query marker)."""
        return "".join(LETTERS[t] if t < len(LETTERS) else "?" for t in tokens.tolist())
