"""DNC core and model: fast path = stepping, invariants, zero-memory safety, configs, tiny overfit."""

from __future__ import annotations

import pytest
import torch

from memlab.core.config import from_dict
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core, state_to_vector
from memlab.memory.dnc import DNCCore
from memlab.models import MODELS, build_model
from memlab.models.dnc import DNCConfig
from memlab.tasks import make_task


def _core(**kw):
    torch.manual_seed(0)
    args = dict(controller_size=16, memory_size=8, word_size=4, read_heads=2, write_heads=2)
    args.update(kw)
    return DNCCore(5, **args)


def test_forward_sequence_matches_stepping():
    core = _core().double()
    xs = torch.randn(6, 3, 5, dtype=torch.float64)
    ys_fast, s_fast = core.forward_sequence(xs)
    ys_step, s_step = run_core(core, xs)
    torch.testing.assert_close(ys_fast, ys_step)
    torch.testing.assert_close(s_fast.link, s_step.link)
    g_fast = torch.autograd.grad(ys_fast.square().sum(), list(core.parameters()))
    g_step = torch.autograd.grad(ys_step.square().sum(), list(core.parameters()))
    for a, b in zip(g_fast, g_step):
        torch.testing.assert_close(a, b)


def test_gradcheck_one_step():
    core = _core(memory_size=5, read_heads=1, write_heads=1, controller_size=6, word_size=3).double()
    state = core.initial_state(2)
    x = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)

    def f(x):
        s = state
        for _ in range(3):
            y, s = core(x, s)
        return y

    assert torch.autograd.gradcheck(f, (x,))


def test_shapes_state_size_and_invariants():
    core = _core()
    xs = torch.randn(9, 3, 5)
    ys, state = core.forward_sequence(xs)
    assert ys.shape == (9, 3, core.output_size) and core.output_size == 16 + 2 * 4
    assert state_to_vector(state).shape == (3, core.state_size())
    tr = core.trace(xs)
    assert bool((tr["usage"] >= 0).all()) and bool((tr["usage"] <= 1 + 1e-6).all())
    for w in (tr["read"], tr["write"]):
        assert bool((w >= 0).all()) and bool((w.sum(-1) <= 1 + 1e-5).all())
    assert float(state.link.detach().diagonal(dim1=-2, dim2=-1).abs().max()) == 0.0


def test_first_step_on_zero_memory_is_finite():
    core = _core()
    ys, state = core.forward_sequence(torch.zeros(4, 2, 5))
    ys.sum().backward()
    assert torch.isfinite(ys).all()
    for p in core.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_allocation_gate_writes_to_successive_free_slots():
    """With allocation and write gates forced open and nothing freed, writes go to new slots."""
    core = _core(read_heads=1, write_heads=1)
    with torch.no_grad():
        core.interface.weight.zero_()
        b = core.interface.bias
        b.zero_()
        offs = [0]
        for n in core.sizes:
            offs.append(offs[-1] + n)
        b[offs[6] : offs[7]] = -20.0  # free gates shut
        b[offs[7] : offs[9]] = 20.0  # allocation and write gates open
    tr = core.trace(torch.randn(5, 1, 5))
    slots = [int(w.argmax()) for w in tr["write"][:, 0, 0]]
    assert len(set(slots)) == 5  # five writes, five different locations


@pytest.mark.parametrize(
    "override, needle",
    [
        ({"memory_size": 0}, "model.memory_size=0 is out of range; allowed: >= 1"),
        ({"read_heads": 0}, "model.read_heads=0 is out of range; allowed: >= 1"),
        ({"write_heads": 0}, "model.write_heads=0 is out of range; allowed: >= 1"),
        ({"controller": "rnn"}, "choose one of lstm, ff"),
        ({"clip": -1}, "allowed: >= 0"),
    ],
)
def test_bad_settings_give_one_line_errors(override, needle):
    with pytest.raises(ConfigError) as e:
        from_dict(DNCConfig, override, prefix="model.")
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_registered_and_runs_symbolic_task():
    assert "dnc" in MODELS
    task = make_task("reverse")
    model = build_model("dnc", task.spec, "reverse", {"controller_size": 16, "memory_size": 8, "word_size": 4})
    batch = task.sample_range(2, 2, 4, torch.Generator().manual_seed(0))
    loss = task.loss(model(batch), batch)
    loss.backward()
    assert torch.isfinite(loss)


def test_tiny_overfit_copy(tiny_copy_scores):
    """A small DNC learns 4-bit copy of lengths 1–5 (about a minute on one core)."""
    scores = tiny_copy_scores("dnc")
    assert scores["bit_errors"] < 0.1 and scores["fine"] > 0.99


def test_training_defaults_follow_the_ntm_with_a_smaller_repeat_copy_step():
    ntm, dnc = MODELS["ntm"], MODELS["dnc"]
    assert dnc.train_defaults("ntm-copy") == ntm.train_defaults("ntm-copy")
    rc = dnc.train_defaults("repeat-copy")
    assert rc["lr"] == 2e-4 and rc["lr_halve_after"] == 300 and rc["lr_patience"] == 100
    assert ntm.train_defaults("repeat-copy")["lr"] == 5e-4
