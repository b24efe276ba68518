"""Episodic copy and variable assignment (Danihelka et al. 2016, small scale): golden layouts,
answers checked against the inputs, one-line errors."""

from __future__ import annotations

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.tasks.episodic import EpisodicCopy, VariableAssignment


def test_episodic_copy_golden_layout():
    t = EpisodicCopy()
    S, E, O, B = t.sos, t.eoi, t.eoo, t.blank
    assert (B, S, E, O, t.spec.n_tokens) == (10, 11, 12, 13, 15)
    x = torch.tensor([3, 1, 4])
    b = t.assemble([(torch.cat([x, torch.tensor([B, B])]), x)], torch.tensor([3]))
    assert b.inputs[:, 0].tolist() == [S, 3, 1, 4, B, B, E, E, E, E]
    assert b.targets[6:, 0].tolist() == [3, 1, 4, O]
    assert b.mask[:, 0].tolist() == [False] * 6 + [True] * 4


def test_episodic_copy_answers_and_pauses():
    t = EpisodicCopy({"max_pause": 5})
    pauses = set()
    for x, y in t.make_pairs(torch.tensor([4] * 50), torch.Generator().manual_seed(0)):
        assert torch.equal(x[:4], y) and (x[4:] == t.blank).all() and (y < 10).all()
        pauses.add(len(x) - 4)
        assert len(x) + len(y) + 2 <= t.max_steps(4)
    assert pauses == set(range(6))


def test_variable_assignment_golden_example():
    t = VariableAssignment()
    ml, qc = [12, 11], [16, 2]
    x, y = t.example(torch.tensor([ml, qc]), torch.tensor([0, 13]), 0)
    assert t.render_chars(x) == "mlaqcn?ml" and t.render_chars(y) == "a"
    b = t.assemble([(x, y)], torch.tensor([2]))
    assert b.targets[10:, 0].tolist() == [0, t.eoo] and b.seq_len.tolist() == [12] == [t.max_steps(2)]


def test_variable_assignment_answer_is_the_asked_value():
    t = VariableAssignment()
    for x, y in t.make_pairs(torch.tensor([1, 3, 26]), torch.Generator().manual_seed(2)):
        s = t.render_chars(x)
        table = {s[i:i + 2]: s[i + 2] for i in range(0, len(s) - 3, 3)}
        assert len(table) == (len(s) - 3) // 3 and s[-3] == "?" and t.render_chars(y) == table[s[-2:]]


@pytest.mark.parametrize("cls,cfg,match", [
    (EpisodicCopy, {"vocab": 1}, "task.vocab=1 is out of range; allowed: >= 2"),
    (EpisodicCopy, {"max_pause": -1}, "task.max_pause=-1 is out of range"),
    (EpisodicCopy, {"max_pause": float("nan")}, "task.max_pause=nan"),
    (VariableAssignment, {"test_max": 27}, "task.test_max=27 is out of range; allowed: <= 26"),
])
def test_bad_settings_are_one_line_errors(cls, cfg, match):
    with pytest.raises(ConfigError, match=match) as e:
        cls(cfg)
    assert "\n" not in str(e.value)
