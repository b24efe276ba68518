"""Model composition: embedding -> core (controller + memory) -> readout.

A ``SequenceModel`` maps a task ``Batch`` to outputs (T, B, output_size): logits over tokens
for symbolic tasks, bit logits for binary ones. Trainer and evaluator only use this contract.

A model family registers one ``ModelEntry`` in ``memlab.models.MODELS``: its typed config,
a ``build(cfg, spec)`` function, per-task defaults (read from ``memlab.experiments.hparams``)
and tiny smoke-test sizes. Every recurrent memory of ``memlab.memory.MEMORIES`` gets its entry
from ``memlab.models.compose`` (controller + memory access + readout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor, nn

from memlab.core.interfaces import Batch, MemoryCore
from memlab.tasks.base import TaskSpec


class SequenceModel(nn.Module):
    """Base class: ``forward(batch) -> outputs`` (T, B, output_size)."""

    spec: TaskSpec

    def forward(self, batch: Batch) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


class OneHot(nn.Module):
    """(T, B) tokens -> (T, B, n_tokens) fixed one-hot vectors (no parameters; the rows of a
    buffer identity, so ``.to(device/dtype)`` of the model carries it along)."""

    def __init__(self, n_tokens: int):
        super().__init__()
        self.register_buffer("eye", torch.eye(n_tokens), persistent=False)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.eye[tokens]


class InputEncoder(nn.Module):
    """Token embedding for symbolic tasks (or fixed one-hot tokens with ``one_hot``, as a
    reservoir reads them); identity (or a linear map) for binary ones.

    Returns (T, B, E) from (T, B) tokens or (T, B, D) vectors.
    """

    def __init__(self, spec: TaskSpec, embed: int | None, one_hot: bool = False):
        super().__init__()
        self.kind = spec.kind
        if spec.kind == "symbolic" and one_hot:
            self.embed = OneHot(spec.n_tokens)
            self.out_size = spec.n_tokens
        elif spec.kind == "symbolic":
            if not embed:
                raise ValueError("symbolic tasks need an embedding size > 0")
            self.embed = nn.Embedding(spec.n_tokens, embed)
            self.out_size = embed
        else:
            self.embed = nn.Linear(spec.input_size, embed) if embed else nn.Identity()
            self.out_size = embed or spec.input_size

    def forward(self, inputs: Tensor) -> Tensor:
        if self.kind == "symbolic":
            return self.embed(inputs)  # (T, B, E)
        return self.embed(inputs.float())  # (T, B, E)


class CoreSequenceModel(SequenceModel):
    """embedding -> ``MemoryCore`` -> linear readout, run over the whole (padded) sequence.

    The core's initial state is its own (learnable where the core makes it so). Padding after
    ``seq_len`` is fed like any input; it never reaches the loss or the scores.
    """

    def __init__(self, spec: TaskSpec, core: MemoryCore, embed: int | None, one_hot: bool = False):
        super().__init__()
        self.spec = spec
        self.encoder = InputEncoder(spec, embed, one_hot)
        if core.input_size != self.encoder.out_size:
            raise ValueError(f"core input_size {core.input_size} != encoder output {self.encoder.out_size}")
        self.core = core
        self.readout = nn.Linear(core.output_size, spec.output_size)

    def forward(self, batch: Batch) -> Tensor:
        x = self.encoder(batch.inputs)  # (T, B, E)
        ys, _ = self.core.forward_sequence(x)  # (T, B, O)
        return self.readout(ys)  # (T, B, output_size)


@dataclass(frozen=True)
class ModelEntry:
    """One registry entry.

    config_cls: dataclass of the model's own settings (unknown keys are errors).
    build: ``build(cfg, spec) -> SequenceModel``.
    model_defaults: per-task overrides of the config (e.g. seed 004 Table 2 sizes).
    train_defaults: per-task overrides of ``TrainConfig`` (e.g. the learning rate).
    Both read ``memlab.experiments.hparams.paper_defaults`` (hyperparameters are data).
    smoke: tiny ``model.*`` settings for the registry smoke test (seconds on a CPU).
    """

    config_cls: type
    build: Callable[[Any, TaskSpec], SequenceModel]
    description: str = ""
    model_defaults: Callable[[str], dict] = field(default=lambda task: {})
    train_defaults: Callable[[str], dict] = field(default=lambda task: {})
    smoke: dict[str, Any] = field(default_factory=dict)


def hparams_defaults(model: str, part: str) -> Callable[[str], dict]:
    """``task -> paper_defaults(model, task)[part]`` (part: "model" or "train"), for a ModelEntry."""

    def for_task(task: str) -> dict:
        from memlab.experiments.hparams import paper_defaults

        return paper_defaults(model, task)[part]

    return for_task


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def learnable_state(*shape: int) -> nn.Parameter:
    """A learnable initial-state parameter (zeros), to be expanded over the batch."""
    return nn.Parameter(torch.zeros(*shape))
