"""The task contract: tasks own sampling, masks, loss and scoring.

Every task samples a ``Batch`` (see ``memlab.core.interfaces.Batch``) for explicit lengths,
computes the loss of a model's outputs over the scored positions only, and counts fine
(per symbol) and coarse (per sequence) successes.

Symbolic tasks follow the protocol of seed 004 §4: the model sees ``<s>``, the input
symbols, then ``</s>`` repeated through the response phase; it must emit the answer and
then the end-of-output symbol ``<e>`` while it reads ``</s>``. Loss and scores cover exactly
the response phase (answer + ``<e>``).
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from memlab.core.errors import ConfigError, check_alloc, check_range
from memlab.core.interfaces import Batch, TaskSpec

#: the longest length parameter any task accepts (training, testing or evaluation): beyond it a
#: single sequence is too slow to sample and run to be a sensible request, and loops stay bounded
MAX_LENGTH = 100_000


@dataclass
class ScoreCounts:
    """Additive counts from scoring; ``fine``/``coarse`` are the ratios."""

    symbols_correct: int = 0
    symbols_total: int = 0
    seqs_correct: int = 0
    seqs_total: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def __iadd__(self, other: "ScoreCounts") -> "ScoreCounts":
        self.symbols_correct += other.symbols_correct
        self.symbols_total += other.symbols_total
        self.seqs_correct += other.seqs_correct
        self.seqs_total += other.seqs_total
        for k, v in other.extra.items():
            self.extra[k] = self.extra.get(k, 0.0) + v
        return self

    @property
    def fine(self) -> float:
        return self.symbols_correct / max(self.symbols_total, 1)

    @property
    def coarse(self) -> float:
        return self.seqs_correct / max(self.seqs_total, 1)

    def as_dict(self) -> dict[str, Any]:
        d = {"fine": self.fine, "coarse": self.coarse, "n_sequences": self.seqs_total, "n_symbols": self.symbols_total}
        for k, v in self.extra.items():
            d[k] = v / max(self.seqs_total, 1)  # extras are per-sequence means
        return d


@dataclass
class TaskConfig:
    """Length ranges (inclusive) of the task's length parameter for training and testing."""

    train_min: int = 2
    train_max: int = 64
    test_min: int = 65
    test_max: int = 128

    def validate(self) -> None:
        for name in ("train_min", "train_max", "test_min", "test_max"):
            check_range(f"task.{name}", getattr(self, name), 1, MAX_LENGTH)
        if self.train_max < self.train_min:
            raise ConfigError(
                f"task.train_max={self.train_max} is smaller than task.train_min={self.train_min}; "
                "a length range needs min <= max"
            )
        if self.test_min < 1 or self.test_max < self.test_min:
            raise ConfigError(
                f"task test range {self.test_min}..{self.test_max} is impossible; need 1 <= test_min <= test_max"
            )


class Task(abc.ABC):
    """A task: sampling, masks, loss and scoring. Subclasses document their exact format."""

    name: str = "task"
    Config: type = TaskConfig
    #: lengths must be a multiple of this (bigramFlip: 2)
    length_multiple: int = 1

    def __init__(self, cfg: Any = None):
        from memlab.core.config import from_dict

        if cfg is None:
            cfg = self.Config()
        elif isinstance(cfg, dict):
            cfg = from_dict(self.Config, cfg, prefix="task.")
        self.cfg = cfg
        self._check_range("train", cfg.train_min, cfg.train_max)
        self._check_range("test", cfg.test_min, cfg.test_max)

    def _check_range(self, which: str, lo: int, hi: int) -> None:
        m = self.length_multiple
        if (hi // m) * m < max(lo, m):
            raise ConfigError(
                f"task {which} range {lo}..{hi} holds no length that {self.name} allows "
                f"(lengths must be multiples of {m})"
            )

    @property
    @abc.abstractmethod
    def spec(self) -> TaskSpec:
        """Shapes and vocabulary of the task's data."""

    @property
    def train_range(self) -> tuple[int, int]:
        return (self.cfg.train_min, self.cfg.train_max)

    @property
    def test_range(self) -> tuple[int, int]:
        return (self.cfg.test_min, self.cfg.test_max)

    def scale_range(self, n: int) -> tuple[int, int]:
        """Lengths of scale ``n`` x (seed 004 Table 4): 1x is the train range, else (n-1)m+1 .. nm."""
        m = self.cfg.train_max
        if n < 1 or n * m > MAX_LENGTH:
            raise ConfigError(f"scale={n} is out of range for {self.name} (train_max {m}); allowed: integers "
                              f"1 <= scale <= {max(1, MAX_LENGTH // m)} (lengths up to {MAX_LENGTH})")
        if n == 1:
            return self.train_range
        return ((n - 1) * m + 1, n * m)

    def max_steps(self, k: int) -> int:
        """An upper bound on the time steps of an example of length ``k`` (for memory estimates)."""
        return 3 * k + 4

    def batch_bytes(self, batch_size: int, k: int) -> int:
        """Bytes of one sampled batch of ``batch_size`` examples of length up to ``k``."""
        spec = self.spec
        T = self.max_steps(k)
        per_step = 17 if spec.kind == "symbolic" else 4 * (spec.input_size + spec.output_size) + 1
        return T * batch_size * (per_step + 24)  # + lengths/bookkeeping

    def check_batch(self, batch_size: int, k: int, *, device: Any = "cpu", extra_bytes_per_step: int = 0,
                    extra_bytes_per_example: int = 0, what: str = "") -> None:
        """ConfigError unless a batch of ``batch_size`` examples of length ``k`` (plus
        ``extra_bytes_per_step`` per example and time step, e.g. a model's activations, and
        ``extra_bytes_per_example``, e.g. its memory's state) fits in the memory available on
        ``device``. Call it before allocating."""
        check_range("batch_size", batch_size, 1)
        if k > MAX_LENGTH:
            raise ConfigError(f"length {k} is out of range; allowed: <= {MAX_LENGTH}")
        n = (self.batch_bytes(batch_size, k)
             + batch_size * (self.max_steps(k) * extra_bytes_per_step + extra_bytes_per_example))
        check_alloc(what or f"a batch of {batch_size} {self.name} examples of length {k}", n, device=device,
                    hint="lower the batch size, the lengths or the model's sizes")

    def sample_lengths(self, batch_size: int, lo: int, hi: int, generator: torch.Generator) -> Tensor:
        """``batch_size`` lengths uniform over the allowed values in [lo, hi]: (B,) long."""
        m = self.length_multiple
        first = -(-max(lo, 1) // m) * m
        if first > hi:
            raise ConfigError(f"length range {lo}..{hi} holds no length allowed for {self.name} (multiples of {m})")
        n_values = (hi - first) // m + 1
        idx = torch.randint(0, n_values, (batch_size,), generator=generator)
        return first + m * idx

    def check_lengths(self, lengths: Tensor) -> None:
        if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > MAX_LENGTH):
            bad = int(lengths.min()) if int(lengths.min()) < 1 else int(lengths.max())
            raise ConfigError(f"length {bad} is out of range; allowed: 1 <= length <= {MAX_LENGTH}")
        if self.length_multiple > 1 and bool((lengths % self.length_multiple != 0).any()):
            bad = int(lengths[lengths % self.length_multiple != 0][0])
            raise ConfigError(f"length {bad} is not allowed for {self.name}; lengths must be multiples of {self.length_multiple}")

    @abc.abstractmethod
    def sample(
        self, batch_size: int, lengths: int | Sequence[int] | Tensor, generator: torch.Generator
    ) -> Batch:
        """A batch for explicit ``lengths`` (one int for all, or one per example)."""

    def sample_range(self, batch_size: int, lo: int, hi: int, generator: torch.Generator,
                     one_length: bool = False) -> Batch:
        """A batch with lengths drawn uniformly from [lo, hi], one per sequence, or with
        ``one_length`` one for the whole batch (as the released seed-004 code trains)."""
        if hi > MAX_LENGTH:
            raise ConfigError(f"length range {lo}..{hi} is out of range; allowed: lengths <= {MAX_LENGTH}")
        lengths = self.sample_lengths(1 if one_length else batch_size, lo, hi, generator)  # (B,) or (1,)
        return self.sample(batch_size, lengths.expand(batch_size), generator)

    @abc.abstractmethod
    def loss(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Mean loss over the scored positions. ``outputs``: (T, B, output_size)."""

    @abc.abstractmethod
    def score(self, outputs: Tensor, batch: Batch) -> ScoreCounts:
        """Fine/coarse counts of ``outputs`` against ``batch``."""

    def _lengths_tensor(self, batch_size: int, lengths: int | Sequence[int] | Tensor) -> Tensor:
        if isinstance(lengths, int):
            out = torch.full((batch_size,), lengths, dtype=torch.long)
        else:
            out = torch.as_tensor(lengths, dtype=torch.long).reshape(-1)
        if out.shape != (batch_size,):
            raise ConfigError(f"lengths has {out.numel()} entries but batch_size={batch_size}")
        self.check_lengths(out)
        return out


# --------------------------------------------------------------------------- symbolic tasks


class SymbolicTask(Task):
    """Seed 004 protocol over a vocabulary of ``vocab`` data symbols plus four markers.

    Token ids: data symbols 0..V-1, ``<s>`` = V, ``</s>`` = V+1, ``<e>`` = V+2, padding = V+3
    (so ``n_tokens`` = V + 4; 14 for the digit tasks, matching "Vocab 14" of seed 004 Table 2).

    For input symbols x (length n) and answer y (length L) one example is, over time t:

        t:        0    1 .. n    n+1 .. n+L    n+L+1    (then padding)
        input:   <s>   x_1..x_n  </s> .. </s>  </s>
        target:   -      -       y_1 .. y_L    <e>
        mask:     0      0        1  ..  1      1

    ``n_input`` = n + 1 (steps before the response phase) and ``seq_len`` = n + L + 2.
    """

    vocab: int = 128

    @property
    def sos(self) -> int:
        return self.vocab

    @property
    def eoi(self) -> int:
        return self.vocab + 1

    @property
    def eoo(self) -> int:
        return self.vocab + 2

    @property
    def pad(self) -> int:
        return self.vocab + 3

    @property
    def spec(self) -> TaskSpec:
        n = self.vocab + 4
        return TaskSpec(name=self.name, kind="symbolic", input_size=n, output_size=n, n_tokens=n, vocab=self.vocab)

    @abc.abstractmethod
    def make_pairs(self, lengths: Tensor, generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
        """(input symbols, answer symbols) per example, as 1-D long tensors."""

    def sample(self, batch_size, lengths, generator) -> Batch:
        lengths = self._lengths_tensor(batch_size, lengths)
        return self.assemble(self.make_pairs(lengths, generator), lengths)

    def assemble(self, pairs: list[tuple[Tensor, Tensor]], lengths: Tensor) -> Batch:
        """Lay out (input, answer) pairs in the protocol above, padded to one length."""
        B = len(pairs)
        n_in = torch.tensor([len(x) for x, _ in pairs], dtype=torch.long)
        n_out = torch.tensor([len(y) for _, y in pairs], dtype=torch.long)
        seq_len = n_in + n_out + 2
        T = int(seq_len.max())
        inputs = torch.full((T, B), self.pad, dtype=torch.long)
        targets = torch.full((T, B), self.pad, dtype=torch.long)
        mask = torch.zeros((T, B), dtype=torch.bool)
        for b, (x, y) in enumerate(pairs):
            n, L = len(x), len(y)
            inputs[0, b] = self.sos
            inputs[1 : n + 1, b] = x
            inputs[n + 1 : n + L + 2, b] = self.eoi
            targets[n + 1 : n + L + 1, b] = y
            targets[n + L + 1, b] = self.eoo
            mask[n + 1 : n + L + 2, b] = True
        return Batch(inputs, targets, mask, lengths, n_in + 1, seq_len)

    def loss(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Mean negative log-likelihood per response symbol. ``outputs``: (T, B, n_tokens) logits."""
        logits = outputs[batch.mask]  # (N, n_tokens)
        if logits.dtype not in (torch.float32, torch.float64):
            logits = logits.float()  # half precision is scored in float32; float64 stays float64
        return F.cross_entropy(logits, batch.targets[batch.mask])

    def predict(self, outputs: Tensor) -> Tensor:
        """Argmax tokens (T, B)."""
        return outputs.argmax(-1)

    def score(self, outputs: Tensor, batch: Batch) -> ScoreCounts:
        pred = self.predict(outputs)  # (T, B)
        ok = (pred == batch.targets) | ~batch.mask  # (T, B)
        n_sym = int(batch.mask.sum())
        n_ok = int(((pred == batch.targets) & batch.mask).sum())
        seq_ok = int(ok.all(0).sum())
        return ScoreCounts(n_ok, n_sym, seq_ok, batch.mask.shape[1])

    def render(self, tokens: Sequence[int]) -> str:
        """Human-readable tokens: digits/symbol ids, and the markers by name."""
        names = {self.sos: "<s>", self.eoi: "</s>", self.eoo: "<e>", self.pad: "_"}
        return " ".join(names.get(int(t), str(int(t))) for t in tokens)


def replace_cfg(cfg: Any, **kw: Any) -> Any:
    return dataclasses.replace(cfg, **kw)
