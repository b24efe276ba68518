"""The NTM task suite on random binary vectors (Graves et al. 2014, §4).

Every task here is ``TaskSpec(kind="binary")``: ``inputs`` (T, B, input_size) floats,
``targets`` (T, B, output_size) bits as floats, ``mask`` (T, B) True on the response phase.
Models emit one logit per output bit.

Loss: binary cross-entropy with logits, averaged over every bit of the masked steps.
Scores (``ScoreCounts``): a bit is right when ``logit > 0`` equals the target bit;
fine = fraction of response bits that are right (per bit), coarse = fraction of sequences
with every response bit right, and ``extra["bit_errors"]`` = wrong bits per sequence
(the NTM paper's "cost per sequence" measured in bits, after thresholding).

The task's length parameter is written in each docstring (copy: number of vectors;
associative recall: number of items). Lengths are explicit arguments of ``sample``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from memlab.core.errors import ConfigError
from memlab.core.interfaces import Batch
from memlab.tasks.base import ScoreCounts, Task, TaskConfig, TaskSpec


class BinaryTask(Task):
    """Shared loss and scoring of the binary-vector tasks."""

    input_size: int
    output_size: int

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(name=self.name, kind="binary", input_size=self.input_size, output_size=self.output_size)

    def loss(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Mean BCE-with-logits per response bit. outputs: (T, B, O) logits."""
        return F.binary_cross_entropy_with_logits(outputs[batch.mask].float(), batch.targets[batch.mask].float())

    def bit_errors(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Wrong response bits per sequence: (B,) long."""
        wrong = ((outputs > 0) != (batch.targets > 0.5)) & batch.mask.unsqueeze(-1)  # (T, B, O)
        return wrong.sum((0, 2))

    def score(self, outputs: Tensor, batch: Batch) -> ScoreCounts:
        errors = self.bit_errors(outputs, batch)  # (B,)
        n_bits = int(batch.mask.sum()) * outputs.shape[-1]
        n_err = int(errors.sum())
        return ScoreCounts(
            symbols_correct=n_bits - n_err, symbols_total=n_bits,
            seqs_correct=int((errors == 0).sum()), seqs_total=int(errors.shape[0]),
            extra={"bit_errors": float(n_err)},
        )

    @staticmethod
    def random_bits(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        return torch.randint(0, 2, shape, generator=generator).float()


# --------------------------------------------------------------------------- copy


@dataclass
class CopyConfig(TaskConfig):
    """Copy: lengths 1–20 for training (Graves et al. 2014), tested on 21–40 during training."""

    train_min: int = 1
    train_max: int = 20
    test_min: int = 21
    test_max: int = 40
    width: int = 8  # bits per vector

    def validate(self) -> None:
        super().validate()
        if self.width < 1:
            raise ConfigError(f"task.width={self.width} is out of range; allowed: >= 1")


class NTMCopy(BinaryTask):
    """ntm-copy: read k random ``width``-bit vectors and a delimiter, then write the k vectors.

    Length parameter: k, the number of vectors. Input size width + 1 (the last channel is the
    delimiter flag); output size width. ``n_input`` = k + 1, ``seq_len`` = 2k + 1.

    Worked example, width 3, k = 2, vectors x_1 = 101, x_2 = 011 (input shown as bits|flag):

        t:       0      1      2      3     4
        input:  101|0  011|0  000|1  000|0  000|0
        target:   -      -      -    101   011
        mask:     0      0      0     1     1
    """

    name = "ntm-copy"
    Config = CopyConfig

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.input_size, self.output_size = self.cfg.width + 1, self.cfg.width

    def sample(self, batch_size, lengths, generator) -> Batch:
        k = self._lengths_tensor(batch_size, lengths)  # (B,)
        B, Wd, K = batch_size, self.cfg.width, int(k.max())
        T = 2 * K + 1
        data = self.random_bits((K, B, Wd), generator)  # (K, B, width)
        inputs = torch.zeros(T, B, Wd + 1)
        targets = torch.zeros(T, B, Wd)
        mask = torch.zeros(T, B, dtype=torch.bool)
        for b, kb in enumerate(k.tolist()):
            inputs[:kb, b, :Wd] = data[:kb, b]
            inputs[kb, b, Wd] = 1.0
            targets[kb + 1 : 2 * kb + 1, b] = data[:kb, b]
            mask[kb + 1 : 2 * kb + 1, b] = True
        return Batch(inputs, targets, mask, k, k + 1, 2 * k + 1)


# --------------------------------------------------------------------------- repeat copy


@dataclass
class RepeatCopyConfig(TaskConfig):
    """Repeat copy (Graves et al. 2014): sequence lengths 1–10 and 1–10 repeats for training.

    The repeat count n enters normalised to mean 0 and variance 1 over ``norm_min``..``norm_max``
    (uniform), fixed separately from the sampled range so that a test with more repeats uses the
    same input code.
    """

    train_min: int = 1
    train_max: int = 10
    test_min: int = 11
    test_max: int = 20
    width: int = 8
    repeats_min: int = 1
    repeats_max: int = 10
    norm_min: int = 1
    norm_max: int = 10

    def validate(self) -> None:
        super().validate()
        if self.width < 1:
            raise ConfigError(f"task.width={self.width} is out of range; allowed: >= 1")
        if not 1 <= self.repeats_min <= self.repeats_max:
            raise ConfigError(
                f"task repeats {self.repeats_min}..{self.repeats_max} is impossible; need 1 <= repeats_min <= repeats_max"
            )
        if not 1 <= self.norm_min < self.norm_max:
            raise ConfigError(f"task norm range {self.norm_min}..{self.norm_max} is impossible; need 1 <= norm_min < norm_max")


class RepeatCopy(BinaryTask):
    """repeat-copy: read k vectors, then a delimiter carrying the repeat count n; write the k
    vectors n times, then an end marker.

    Length parameter: k. n is uniform in ``repeats_min..repeats_max`` per example. Input size
    width + 2: channel ``width`` is the delimiter flag, channel ``width + 1`` carries the count
    normalised as (n − μ)/σ with μ, σ the mean and standard deviation of the uniform
    distribution over ``norm_min..norm_max`` (μ = 5.5, σ = 2.872 for 1..10). Output size
    width + 1: the last channel is the end marker. ``n_input`` = k + 1, ``seq_len`` = k + nk + 2.

    Worked example, width 2, k = 2, n = 2, x_1 = 10, x_2 = 01 (input bits|flag|count,
    target bits|end); the count is (2 − 5.5)/2.872 = −1.219:

        t:       0          1          2              3     4     5     6     7
        input:  10|0|0     01|0|0     00|1|−1.219    0     0     0     0     0
        target:   -          -          -            10|0  01|0  10|0  01|0  00|1
        mask:     0          0          0             1     1     1     1     1
    """

    name = "repeat-copy"
    Config = RepeatCopyConfig

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.input_size, self.output_size = self.cfg.width + 2, self.cfg.width + 1
        a, b = self.cfg.norm_min, self.cfg.norm_max
        self.count_mean = (a + b) / 2.0
        self.count_std = math.sqrt(((b - a + 1) ** 2 - 1) / 12.0)

    def max_steps(self, k: int) -> int:
        return k + self.cfg.repeats_max * k + 2

    def normalise_count(self, n: Tensor) -> Tensor:
        return (n.float() - self.count_mean) / self.count_std

    def sample(self, batch_size, lengths, generator, repeats: Tensor | None = None) -> Batch:
        """``repeats`` (B,) fixes n per example; by default n is drawn from the config range."""
        k = self._lengths_tensor(batch_size, lengths)  # (B,)
        if repeats is None:
            repeats = torch.randint(self.cfg.repeats_min, self.cfg.repeats_max + 1, (batch_size,), generator=generator)
        n = torch.as_tensor(repeats, dtype=torch.long).reshape(-1)
        if n.shape != (batch_size,) or int(n.min()) < 1:
            raise ConfigError(f"repeats must be {batch_size} integers >= 1")
        B, Wd, K = batch_size, self.cfg.width, int(k.max())
        seq_len = k + n * k + 2
        T = int(seq_len.max())
        data = self.random_bits((K, B, Wd), generator)  # (K, B, width)
        inputs = torch.zeros(T, B, Wd + 2)
        targets = torch.zeros(T, B, Wd + 1)
        mask = torch.zeros(T, B, dtype=torch.bool)
        counts = self.normalise_count(n)  # (B,)
        for b, (kb, nb) in enumerate(zip(k.tolist(), n.tolist())):
            inputs[:kb, b, :Wd] = data[:kb, b]
            inputs[kb, b, Wd] = 1.0
            inputs[kb, b, Wd + 1] = counts[b]
            targets[kb + 1 : kb + 1 + nb * kb, b, :Wd] = data[:kb, b].repeat(nb, 1)
            targets[kb + 1 + nb * kb, b, Wd] = 1.0
            mask[kb + 1 : kb + 2 + nb * kb, b] = True
        return Batch(inputs, targets, mask, k, k + 1, seq_len)


# --------------------------------------------------------------------------- associative recall


@dataclass
class AssociativeRecallConfig(TaskConfig):
    """Associative recall (Graves et al. 2014): 2–6 items for training, 7–12 for testing."""

    train_min: int = 2
    train_max: int = 6
    test_min: int = 7
    test_max: int = 12
    width: int = 6
    item_size: int = 3  # vectors per item

    def validate(self) -> None:
        super().validate()
        if self.train_min < 2 or self.test_min < 2:
            raise ConfigError("associative recall needs at least 2 items; allowed: task.train_min, task.test_min >= 2")
        if self.width < 1 or self.item_size < 1:
            raise ConfigError(f"task.width={self.width}, task.item_size={self.item_size}: both must be >= 1")


class AssociativeRecall(BinaryTask):
    """associative-recall: read k items (each ``item_size`` vectors, each item preceded by an
    item delimiter), then a query item between two query delimiters; write the item that
    followed the query item in the list.

    Length parameter: k, the number of items (≥ 2). The query is item q, uniform in 1..k−1, and
    the answer is item q + 1. Input size width + 2: channel ``width`` flags an item delimiter,
    channel ``width + 1`` a query delimiter; output size width. With s = item_size:
    ``n_input`` = k(s + 1) + s + 2 and ``seq_len`` = n_input + s.

    Worked example, width 2, s = 1, k = 2, items A = 10, B = 01, query A (bits|item|query):

        t:       0      1      2      3      4      5      6      7
        input:  00|1|0 10|0|0 00|1|0 01|0|0 00|0|1 10|0|0 00|0|1 00|0|0
        target:   -      -      -      -      -      -      -     01
        mask:     0      0      0      0      0      0      0      1
    """

    name = "associative-recall"
    Config = AssociativeRecallConfig

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.input_size, self.output_size = self.cfg.width + 2, self.cfg.width

    def max_steps(self, k: int) -> int:
        size = self.cfg.item_size
        return k * (size + 1) + 2 * size + 2

    def check_lengths(self, lengths: Tensor) -> None:
        super().check_lengths(lengths)
        if lengths.numel() and int(lengths.min()) < 2:
            raise ConfigError(f"length {int(lengths.min())} is out of range for associative-recall; allowed: >= 2 items")

    def sample(self, batch_size, lengths, generator) -> Batch:
        k = self._lengths_tensor(batch_size, lengths)  # (B,)
        B, Wd, s, K = batch_size, self.cfg.width, self.cfg.item_size, int(k.max())
        n_input = k * (s + 1) + s + 2
        seq_len = n_input + s
        T = int(seq_len.max())
        items = self.random_bits((B, K, s, Wd), generator)  # (B, K, s, width)
        q = (torch.rand(B, generator=generator) * (k - 1).float()).long()  # (B,) in 0..k−2
        inputs = torch.zeros(T, B, Wd + 2)
        targets = torch.zeros(T, B, Wd)
        mask = torch.zeros(T, B, dtype=torch.bool)
        for b, (kb, qb) in enumerate(zip(k.tolist(), q.tolist())):
            for i in range(kb):
                t0 = i * (s + 1)
                inputs[t0, b, Wd] = 1.0
                inputs[t0 + 1 : t0 + 1 + s, b, :Wd] = items[b, i]
            t0 = kb * (s + 1)
            inputs[t0, b, Wd + 1] = 1.0
            inputs[t0 + 1 : t0 + 1 + s, b, :Wd] = items[b, qb]
            inputs[t0 + 1 + s, b, Wd + 1] = 1.0
            n_in = int(n_input[b])
            targets[n_in : n_in + s, b] = items[b, qb + 1]
            mask[n_in : n_in + s, b] = True
        return Batch(inputs, targets, mask, k, n_input, seq_len)


# --------------------------------------------------------------------------- priority sort


@dataclass
class PrioritySortConfig(TaskConfig):
    """Priority sort (Graves et al. 2014 used 20 inputs, 16 outputs); lengths 2–20 for training."""

    train_min: int = 2
    train_max: int = 20
    test_min: int = 21
    test_max: int = 40
    width: int = 8
    out_fraction: float = 0.8  # m = max(1, floor(out_fraction · k)) vectors are output

    def validate(self) -> None:
        super().validate()
        if self.width < 1:
            raise ConfigError(f"task.width={self.width} is out of range; allowed: >= 1")
        if not 0 < self.out_fraction <= 1:
            raise ConfigError(f"task.out_fraction={self.out_fraction} is out of range; allowed: 0 < out_fraction <= 1")


class PrioritySort(BinaryTask):
    """priority-sort: read k vectors, each with a scalar priority uniform in [−1, 1], then a
    delimiter; write the m highest-priority vectors, highest first.

    Length parameter: k; m = max(1, ⌊out_fraction · k⌋) (16 for k = 20). Input size width + 2:
    channel ``width`` holds the priority, channel ``width + 1`` the delimiter flag; output
    size width. ``n_input`` = k + 1, ``seq_len`` = k + 1 + m.

    Worked example, width 2, k = 3, out_fraction 0.8 so m = 2; inputs 10 (p = 0.1),
    01 (p = 0.9), 11 (p = −0.5) (input bits|priority|flag):

        t:       0          1          2           3        4     5
        input:  10|0.1|0   01|0.9|0   11|−0.5|0   00|0|1   0     0
        target:   -          -          -           -      01    10
        mask:     0          0          0           0      1     1
    """

    name = "priority-sort"
    Config = PrioritySortConfig

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.input_size, self.output_size = self.cfg.width + 2, self.cfg.width

    def n_out(self, k: Tensor) -> Tensor:
        return torch.clamp((k.float() * self.cfg.out_fraction + 1e-9).floor().long(), min=1)

    def sample(self, batch_size, lengths, generator) -> Batch:
        k = self._lengths_tensor(batch_size, lengths)  # (B,)
        m = self.n_out(k)
        B, Wd, K = batch_size, self.cfg.width, int(k.max())
        seq_len = k + 1 + m
        T = int(seq_len.max())
        data = self.random_bits((K, B, Wd), generator)  # (K, B, width)
        prio = torch.rand(K, B, generator=generator) * 2 - 1  # (K, B) in [−1, 1)
        inputs = torch.zeros(T, B, Wd + 2)
        targets = torch.zeros(T, B, Wd)
        mask = torch.zeros(T, B, dtype=torch.bool)
        for b, (kb, mb) in enumerate(zip(k.tolist(), m.tolist())):
            inputs[:kb, b, :Wd] = data[:kb, b]
            inputs[:kb, b, Wd] = prio[:kb, b]
            inputs[kb, b, Wd + 1] = 1.0
            order = torch.argsort(prio[:kb, b], descending=True)[:mb]
            targets[kb + 1 : kb + 1 + mb, b] = data[order, b]
            mask[kb + 1 : kb + 1 + mb, b] = True
        return Batch(inputs, targets, mask, k, k + 1, seq_len)


TASKS = {t.name: t for t in (NTMCopy, RepeatCopy, AssociativeRecall, PrioritySort)}
