"""A new recurrent memory is one file + one registry line + one test file (docs/CONTRIBUTING.md).

The "file" is ``LEAKY_SOURCE`` below, loaded as the module ``memlab.memory.leaky``; the registry
line is one ``MEMORIES`` entry set with monkeypatch. Nothing else is edited, and the memory
builds with the LSTM and GRU controllers, trains through the real trainer, is listed by the
model registry and passes the registry smoke test. The recipe in CONTRIBUTING shows this same
source, which the last test checks line by line.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]

LEAKY_SOURCE = '''\
"""Leaky memory: one vector that each step blends toward a written value (a toy example).

    g_t = σ(w_g·h_t + b_g),  v_t = tanh(W_v h_t + b_v)      write gate (B, 1), value (B, W)
    m_t = (1 − g_t) m_{t−1} + g_t v_t;   r_t = m_t           memory and read (B, W)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import check_range
from memlab.memory import MemoryEntry


@dataclass
class LeakyConfig:
    word_size: int = 8  # W

    def validate(self) -> None:
        check_range("model.word_size", self.word_size, 1)


class LeakyState(NamedTuple):
    m: Tensor  # (B, W)


class LeakyAccess(nn.Module):
    """h_t (B, C) -> r_t = m_t (B, W)."""

    def __init__(self, cfg: LeakyConfig, controller_size: int):
        super().__init__()
        self.read_size = cfg.word_size
        self.write = nn.Linear(controller_size, 1 + cfg.word_size)  # [gate | value]

    def initial_state(self, batch_size: int, device=None) -> LeakyState:
        return LeakyState(self.write.weight.new_zeros(batch_size, self.read_size, device=device))

    def state_size(self) -> int:
        return self.read_size

    def reads(self, state: LeakyState) -> Tensor:
        return state.m  # (B, W)

    def forward(self, h: Tensor, state: LeakyState) -> tuple[Tensor, LeakyState]:
        gv = self.write(h)  # (B, 1 + W)
        g, v = torch.sigmoid(gv[:, :1]), torch.tanh(gv[:, 1:])
        m = state.m + g * (v - state.m)  # (1 − g) m + g v
        return m, LeakyState(m)


ENTRY = MemoryEntry(LeakyConfig, LeakyAccess, "leaky vector memory (example)",
                    smoke={"controller_size": 8, "word_size": 4})
'''

REGISTRY_LINE = '"leaky": "memlab.memory.leaky",'


@pytest.fixture
def leaky(monkeypatch):
    """The one file (a module object) and the one registry line."""
    from memlab.memory import MEMORIES

    module = types.ModuleType("memlab.memory.leaky")
    module.__file__ = "memlab/memory/leaky.py"
    monkeypatch.setitem(sys.modules, "memlab.memory.leaky", module)  # before exec: dataclasses look it up
    exec(compile(LEAKY_SOURCE, module.__file__, "exec"), module.__dict__)
    name, path = (part.strip().strip('",') for part in REGISTRY_LINE.split(":"))
    monkeypatch.setitem(MEMORIES, name, path)
    return module


@pytest.mark.parametrize("controller", ["lstm", "gru"])
def test_builds_with_the_lstm_and_gru_controllers(leaky, controller):
    from memlab.controllers import controller_module
    from memlab.core.interfaces import run_core
    from memlab.models import build_model
    from memlab.tasks import make_task

    torch.manual_seed(0)
    model = build_model("leaky", make_task("ntm-copy").spec, overrides={"controller": controller, "controller_size": 8,
                                                                        "word_size": 4})
    assert type(model.core.controller) is controller_module(controller).CORE
    assert type(model.core.access) is leaky.LeakyAccess and model.core.output_size == 8 + 4
    xs = torch.randn(5, 2, model.core.input_size)
    torch.testing.assert_close(model.core.forward_sequence(xs)[0], run_core(model.core, xs)[0])


def test_trains_through_the_real_trainer(leaky, tmp_path):
    import json

    from memlab.training.run import train_run

    s = train_run("leaky", "ntm-copy", {"model": {"controller": "gru", "controller_size": 8, "word_size": 4},
                                        "train": {"max_epochs": 2, "batches_per_epoch": 2, "batch_size": 4,
                                                  "eval_every": 1, "eval_batches": 1},
                                        "task": {"train_max": 3, "test_min": 4, "test_max": 5}},
                  out=tmp_path, progress=False, name="r")
    assert s["status"] == "done" and s["epochs"] == 2 and s["nonfinite_events"] == 0
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["model"] == "leaky" and cfg["model_cfg"]["word_size"] == 4 and cfg["model_cfg"]["controller"] == "gru"


def test_is_listed_and_passes_the_smoke_test(leaky):
    from memlab.memory import MEMORIES, memory_entry
    from memlab.models import MODELS

    assert "leaky" in MEMORIES and "leaky" in list(MODELS) and "leaky" in MODELS
    assert memory_entry("leaky") is leaky.ENTRY and MODELS["leaky"].smoke == {"controller_size": 8, "word_size": 4}
    spec = importlib.util.spec_from_file_location("registry_smoke", ROOT / "tests" / "test_registry_smoke.py")
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    smoke.smoke_model("leaky")


def test_gone_when_the_line_is_gone():
    from memlab.models import MODELS

    assert "leaky" not in MODELS and "leaky" not in list(MODELS)


def test_contributing_shows_this_recipe():
    """docs/CONTRIBUTING.md's worked recipe is this example: every line of the file and the
    registry line appear there as added lines of the diff."""
    doc = (ROOT / "docs" / "CONTRIBUTING.md").read_text()
    added = {line[1:] for line in doc.splitlines() if line.startswith("+")}
    missing = [line for line in LEAKY_SOURCE.splitlines() if line.strip() and line not in added]
    assert not missing, missing[:3]
    assert any(REGISTRY_LINE in line for line in added)
    assert "+++ b/memlab/memory/leaky.py" in doc and "+++ b/tests/memory/test_leaky.py" in doc
