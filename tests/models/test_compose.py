"""The one composition: any controller with any registered memory; old run configs still build;
the registries list names without importing torch."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from memlab.controllers import CONTROLLERS
from memlab.controllers.lstm import LSTMCore
from memlab.core.config import from_dict
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core, tree_leaves
from memlab.memory import MEMORIES
from memlab.models import MODELS, build_model, get_entry
from memlab.models.compose import ComposedState, compose_step_ref, make_core
from memlab.tasks import make_task

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"controller_size": 6, "memory_size": 8, "word_size": 3}


@pytest.mark.parametrize("controller", list(CONTROLLERS))
@pytest.mark.parametrize("memory", list(MEMORIES))
def test_any_controller_with_any_memory(memory, controller):
    """Every (controller, memory) pair builds, steps, runs a sequence equal to stepping, and
    trains (finite, non-zero gradients for the controller and the memory)."""
    torch.manual_seed(0)
    smoke = {k: v for k, v in MODELS[memory].smoke.items()}
    core = make_core(memory, 5, controller=controller, **smoke).double()
    xs = torch.randn(4, 2, 5, dtype=torch.float64)
    ys, state = core.forward_sequence(xs)
    ys_ref, state_ref = run_core(core, xs)
    torch.testing.assert_close(ys, ys_ref, rtol=1e-10, atol=1e-12)
    assert ys.shape == (4, 2, core.output_size) and isinstance(state, ComposedState)
    ys.square().sum().backward()
    for part in (core.controller, core.access):
        grads = [p.grad for p in part.parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), type(part).__name__
        assert all(g is None or torch.isfinite(g).all() for g in grads)


def test_the_ntm_uses_the_one_lstm():
    core = make_core("ntm", 3, **SMALL)
    assert type(core.controller) is LSTMCore and core.controller.input_size == 3 + 3
    y, s = compose_step_ref(core, torch.randn(2, 3), core.initial_state(2))
    assert y.shape == (2, 6 + 3)


def test_learned_initial_controller_state_gets_gradients():
    core = make_core("ntm", 3, **SMALL)
    assert len(core.init_state) == 2  # LSTM (h, c)
    ys, _ = core.forward_sequence(torch.randn(3, 2, 3))
    ys.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in core.init_state)
    assert len(make_core("ntm", 3, learn_init=False, **SMALL).init_state) == 0
    assert len(make_core("ntm", 3, controller="feedforward", **SMALL).init_state) == 0  # no state to learn


def test_run_seed_sets_the_controller_weights():
    torch.manual_seed(0)
    a = make_core("ntm", 3, **SMALL).controller.W_x
    torch.manual_seed(1)
    b = make_core("ntm", 3, **SMALL).controller.W_x
    torch.manual_seed(0)
    c = make_core("ntm", 3, **SMALL).controller.W_x
    assert not torch.equal(a, b) and torch.equal(a, c)


def test_controller_settings_pass_through():
    core = make_core("ntm", 3, controller_cfg={"peepholes": True}, **SMALL)
    assert core.controller.peep is not None and not core.controller.standard
    xs = torch.randn(4, 2, 3)
    torch.testing.assert_close(core.forward_sequence(xs)[0], run_core(core, xs)[0])  # no kernel: the reference
    with pytest.raises(ConfigError, match="unknown key lstm.peephole"):
        make_core("ntm", 3, controller_cfg={"peephole": True}, **SMALL)
    with pytest.raises(ConfigError, match="output size 2 != controller_size 6"):  # the heads read controller_size
        make_core("ntm", 3, controller_cfg={"proj_size": 2}, **SMALL)


def test_legacy_spellings_are_mapped_when_read():
    cfg = from_dict(get_entry("ntm").config_cls, {"controller": "ff", "kernel": "autograd"}, prefix="model.")
    assert cfg.controller == "feedforward" and cfg.kernel == "reference"
    with pytest.raises(ConfigError, match="unknown key model.hidden"):
        from_dict(get_entry("ntm").config_cls, {"hidden": 3}, prefix="model.")


def test_old_run_configs_build():
    """Every committed run folder's config.json (written before the redesign: no kernel key,
    kernel=fused, controller=ff) builds its model through the registry."""
    from memlab.training.run import build_from_config

    paths = sorted((ROOT / "results" / "ntm" / "runs").glob("*/config.json"))
    assert len(paths) >= 10
    for path in paths:
        config = json.loads(path.read_text())
        entry = get_entry(config["model"])
        cfg = from_dict(entry.config_cls, config["model_cfg"], prefix="model.")
        if config["model"] == "ntm":
            assert cfg.kernel in ("fused", "reference") and cfg.controller in ("lstm", "feedforward")
        model, task, _ = build_from_config(config)
        assert model.spec.output_size == task.spec.output_size, path


def test_symbolic_task_gets_an_embedding():
    model = build_model("ntm", make_task("copy").spec, overrides=SMALL)
    assert model.encoder.out_size == 32 and model.core.input_size == 32
    with pytest.raises(ConfigError, match="model.embed=0"):
        build_model("ntm", make_task("copy").spec, overrides={**SMALL, "embed": 0})


def test_registries_list_names_without_torch():
    code = ("import sys, memlab, memlab.models as m, memlab.memory as mm, memlab.controllers as c;"
            "names = list(m.MODELS); assert 'torch' not in sys.modules, 'torch imported';"
            "print(names, list(mm.MEMORIES), list(c.CONTROLLERS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    for name in ("lstm", "lantm-invnorm", "lantm-softmax", "ntm", "dnc", "elman", "lstm-cell"):
        assert f"'{name}'" in out


@pytest.mark.parametrize("controller", ["lstm", "ff"])
def test_checkpoints_from_before_the_redesign_load_and_agree(controller):
    """tests/models/data/ntm_pre_redesign.pt: weights, inputs and outputs of the NTM as it was
    before the redesign (its own controller, LSTM gate order i, f, o, g), made once with that
    code. Loaded into the composed NTM they give the same outputs."""
    from memlab.core.interfaces import Batch

    old = torch.load(ROOT / "tests" / "models" / "data" / "ntm_pre_redesign.pt", weights_only=True)[controller]
    task = make_task("ntm-copy", {"width": 4})
    model = build_model("ntm", task.spec, "ntm-copy", old["settings"])
    model.load_state_dict(old["state_dict"])  # strict: every old weight has a place, every new one a value
    x = old["inputs"]
    z = torch.zeros(x.shape[1], dtype=torch.long)
    with torch.no_grad():
        y = model(Batch(x, x, z.bool().expand(x.shape[0], -1), z, z, z))
    torch.testing.assert_close(y, old["outputs"], rtol=1e-5, atol=1e-6)
    fresh = build_model("ntm", task.spec, "ntm-copy", old["settings"])
    fresh.load_state_dict(model.state_dict())  # the new layout loads as it is


@pytest.mark.parametrize("kernel", ["fused", "reference"])
def test_empty_sequence_returns_the_initial_state(kernel):
    core = make_core("ntm", 3, kernel=kernel, **SMALL)
    s0 = core.initial_state(2)
    ys, s = core.forward_sequence(torch.zeros(0, 2, 3), s0)
    assert ys.shape == (0, 2, core.output_size)
    for a, b in zip(tree_leaves(s), tree_leaves(s0)):
        torch.testing.assert_close(a, b)


def test_compile_goes_to_a_fused_kernel_that_takes_it_else_to_the_reference(monkeypatch):
    """kernel=fused + compile=true: an access whose fused_sequence has a ``compile`` parameter gets
    it (the DNC's compiled kernel steps); one without (the NTM) runs the compiled reference step."""
    core = make_core("ntm", 3, compile=True, **SMALL)
    calls = []
    monkeypatch.setattr(core.access, "fused_sequence", lambda c, xs, m, s, compile=False: calls.append(compile))
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)  # the reference step, uncompiled: fast here
    core.forward_sequence(torch.randn(2, 1, 3))
    assert calls == [True]  # returned None: then the reference ran
    core2 = make_core("ntm", 3, compile=True, **SMALL)
    monkeypatch.setattr(core2.access, "fused_sequence", lambda c, xs, m, s: calls.append("no compile parameter"))
    ys, _ = core2.forward_sequence(torch.randn(2, 1, 3))
    assert calls == [True] and ys.shape == (2, 1, core2.output_size)
