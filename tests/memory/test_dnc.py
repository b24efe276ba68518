"""DNC access composed with a controller, and its fused kernel ``dnc_scan``: fused = composed
reference in float64 (outputs, final state, every parameter and initial-state gradient),
gradcheck, graph freed, zero-memory safety, invariants, configs (old runs load), tiny overfit.
The kernel's tests run for both its loops (the ``loops`` fixture): the C++ loops
(``csrc/dnc_scan.cpp``; skipped where they cannot be built) and the Python loops
(``MEMLAB_NO_CPP=1``), each checked to be the path that ran."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from memlab.core.config import from_dict
from memlab.memory.kernels import cpp
from memlab.core.errors import ConfigError
from memlab.core.interfaces import run_core, state_to_vector, tree_leaves, tree_map
from memlab.memory.dnc import DNCCore, dnc_step_ref
from memlab.models import MODELS, build_model
from memlab.tasks import make_task

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["cpp", "python"])
def loops(request, monkeypatch):
    """Run the test with the kernel's C++ loops or its Python loops, and check afterwards that
    the chosen loops ran (and the others did not)."""
    import memlab.memory.kernels.dnc_scan as K

    if request.param == "cpp":
        monkeypatch.delenv("MEMLAB_NO_CPP", raising=False)
        if cpp.ops() is None:
            pytest.skip("the C++ kernels could not be built here (see the RuntimeWarning); the Python loops are tested")
    else:
        monkeypatch.setenv("MEMLAB_NO_CPP", "1")
    ran = {"cpp": 0, "python": 0}
    for path, name in (("cpp", "_scan_forward_cpp"), ("python", "_scan_forward_eager")):
        real = getattr(K, name)

        def spy(*a, _real=real, _path=path):
            ran[_path] += 1
            return _real(*a)

        monkeypatch.setattr(K, name, spy)
    yield request.param
    other = "python" if request.param == "cpp" else "cpp"
    assert ran[request.param] > 0 and ran[other] == 0, ran


def _core(**kw):
    torch.manual_seed(0)
    args = dict(controller_size=16, memory_size=8, word_size=4, read_heads=2, write_heads=1)
    args.update(kw)
    return DNCCore(5, **args)


def _perturbed(core, scale=0.3):
    """Random weights away from zero, so every gate and allocation path carries gradient."""
    with torch.no_grad():
        for p in core.parameters():
            p.add_(torch.randn_like(p) * scale)
    return core


def _random_state(core, B, dtype=torch.float64):
    """A non-trivial state (a few steps in) with every leaf a leaf tensor that requires grad."""
    with torch.no_grad():
        _, state = run_core(core, torch.randn(4, B, core.input_size, dtype=dtype))
    return tree_map(lambda v: v.detach().clone().requires_grad_(True), state)


def _loss(ys, state):
    """A loss that reads the outputs and every leaf of the final state, each with its own weights."""
    g = torch.Generator().manual_seed(1)
    total = (ys * torch.randn(ys.shape, generator=g, dtype=ys.dtype)).square().sum()
    for v in tree_leaves(state):
        total = total + (v * torch.randn(v.shape, generator=g, dtype=v.dtype)).sum()
    return total


@pytest.mark.parametrize(
    "kw",
    [
        dict(controller="lstm", read_heads=2, clip=20.0),
        dict(controller="lstm", read_heads=1, clip=1.5),  # clipping active on part of ξ
        dict(controller="feedforward", read_heads=3, clip=0.0),
        dict(controller="ff", read_heads=4, clip=3.0),  # the old spelling
    ],
)
def test_fused_kernel_matches_composed_reference_float64(kw, loops):
    core = _perturbed(_core(**kw).double())
    assert core.kernel == "fused" and core.access.fused_sequence is not None
    xs = torch.randn(11, 3, 5, dtype=torch.float64)
    state0 = _random_state(core, 3)
    ys_f, s_f = core.forward_sequence(xs, state0)
    ys_r, s_r = run_core(core, xs, state0)  # the composed per-step reference
    torch.testing.assert_close(ys_f, ys_r)
    for a, b in zip(tree_leaves(s_f), tree_leaves(s_r)):
        torch.testing.assert_close(a, b)
    wrt = list(core.parameters()) + [v for v in tree_leaves(state0) if v.requires_grad]
    g_f = torch.autograd.grad(_loss(ys_f, s_f), wrt, allow_unused=True)
    g_r = torch.autograd.grad(_loss(ys_r, s_r), wrt, allow_unused=True)
    for a, b in zip(g_f, g_r):
        if b is None:
            assert a is None or float(a.abs().max()) == 0.0
        else:
            torch.testing.assert_close(a, b)
    assert any(float(g.abs().max()) > 0 for g in g_r[: len(list(core.parameters()))])


def test_reference_step_is_the_composed_step():
    core = _core().double()
    state = core.initial_state(2)
    x = torch.randn(2, 5, dtype=torch.float64)
    y1, s1 = dnc_step_ref(core, x, state)
    y2, s2 = core(x, state)
    torch.testing.assert_close(y1, y2)
    for a, b in zip(tree_leaves(s1), tree_leaves(s2)):
        torch.testing.assert_close(a, b)


def test_fused_kernel_from_the_initial_state_matches_stepping(loops):
    core = _core().double()
    xs = torch.randn(9, 2, 5, dtype=torch.float64)
    ys_f, s_f = core.forward_sequence(xs)
    ys_r, s_r = run_core(core, xs)
    torch.testing.assert_close(ys_f, ys_r)
    torch.testing.assert_close(s_f.memory.link, s_r.memory.link)
    g_f = torch.autograd.grad(ys_f.square().sum(), list(core.parameters()))
    g_r = torch.autograd.grad(ys_r.square().sum(), list(core.parameters()))
    for a, b in zip(g_f, g_r):
        torch.testing.assert_close(a, b)


def test_fused_kernel_gradcheck(loops):
    core = _perturbed(_core(memory_size=5, read_heads=2, controller_size=6, word_size=3, clip=0.0).double())
    state = _random_state(core, 2)
    state = tree_map(lambda v: v.detach(), state)
    xs = torch.randn(5, 2, 5, dtype=torch.float64, requires_grad=True)
    M0 = state.memory.memory.clone().requires_grad_(True)
    L0 = state.memory.link.clone().requires_grad_(True)

    def f(xs, M0, L0):
        s = state._replace(memory=state.memory._replace(memory=M0, link=L0))
        ys, fin = core.forward_sequence(xs, s)
        return ys, fin.memory.memory, fin.memory.link, fin.memory.usage

    assert torch.autograd.gradcheck(f, (xs, M0, L0))


@pytest.mark.parametrize("kw", [dict(controller="ff", read_heads=1, clip=2.0), dict(controller="lstm", read_heads=1, clip=0.0)])
def test_fused_kernel_gradcheck_one_read_head(kw, loops):
    """One read head takes its own branches (the rank-2 link gradient as two broadcast products,
    ψ without a product over heads); a feed-forward controller and active clipping their own slopes."""
    core = _perturbed(_core(memory_size=5, controller_size=6, word_size=3, **kw).double(), scale=0.5)
    state = tree_map(lambda v: v.detach(), _random_state(core, 2))
    xs = torch.randn(6, 2, 5, dtype=torch.float64, requires_grad=True)
    wr0 = state.memory.read_weights.clone().requires_grad_(True)
    u0 = state.memory.usage.clone().requires_grad_(True)

    def f(xs, wr0, u0):
        s = state._replace(memory=state.memory._replace(read_weights=wr0, usage=u0))
        ys, fin = core.forward_sequence(xs, s)
        return ys, fin.memory.read_weights, fin.memory.precedence, fin.memory.write_weights

    assert torch.autograd.gradcheck(f, (xs, wr0, u0))


@pytest.mark.parametrize("R, T", [(1, 1), (1, 2), (2, 7), (3, 12)])
def test_fused_kernel_without_grad_matches_reference_state(R, T, loops):
    """Without grad the kernel keeps ring buffers of one or two steps: every final state leaf
    (memory, weightings, links, precedence, usage, reads, controller state) agrees with stepping."""
    core = _perturbed(_core(read_heads=R).double())
    xs = torch.randn(T, 3, 5, dtype=torch.float64)
    state0 = tree_map(lambda v: v.detach(), _random_state(core, 3))
    with torch.no_grad():
        ys_f, s_f = core.forward_sequence(xs, state0)
        ys_r, s_r = run_core(core, xs, state0)
    torch.testing.assert_close(ys_f, ys_r)
    for a, b in zip(tree_leaves(s_f), tree_leaves(s_r)):
        torch.testing.assert_close(a, b)


def test_compile_setting_reaches_the_kernel(monkeypatch):
    """``model.compile=true`` runs the kernel's compiled steps (``dnc_scan(..., compiled=True)``);
    checked without compiling by recording the argument."""
    import memlab.memory.kernels.dnc_scan as K

    seen = []
    real = K.dnc_scan

    def spy(*args, compiled=False, **kw):
        seen.append(compiled)
        return real(*args, compiled=False, **kw)

    monkeypatch.setattr(K, "dnc_scan", spy)
    task = make_task("ntm-copy", {"width": 4})
    cfg = {"controller_size": 6, "memory_size": 5, "word_size": 3}
    batch = task.sample_range(2, 1, 3, torch.Generator().manual_seed(0))
    for compile_ in (False, True):
        build_model("dnc", task.spec, "ntm-copy", {**cfg, "compile": compile_})(batch)
    assert seen == [False, True]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MEMLAB_COMPILE_TESTS") != "1", reason="torch.compile takes minutes on CPU; set MEMLAB_COMPILE_TESTS=1")
def test_compiled_kernel_steps_match_composed_reference_float64():
    """``dnc_scan`` with its step functions through torch.compile (``DNCAccess.compile_kernel``)."""
    core = _perturbed(_core(read_heads=2, clip=1.5).double())
    core.access.compile_kernel = True
    xs = torch.randn(7, 3, 5, dtype=torch.float64)
    state0 = _random_state(core, 3)
    ys_f, s_f = core.forward_sequence(xs, state0)
    ys_r, s_r = run_core(core, xs, state0)
    torch.testing.assert_close(ys_f, ys_r)
    for a, b in zip(tree_leaves(s_f), tree_leaves(s_r)):
        torch.testing.assert_close(a, b)
    wrt = list(core.parameters()) + [v for v in tree_leaves(state0) if v.requires_grad]
    g_f = torch.autograd.grad(_loss(ys_f, s_f), wrt, allow_unused=True)
    g_r = torch.autograd.grad(_loss(ys_r, s_r), wrt, allow_unused=True)
    for a, b in zip(g_f, g_r):
        if b is not None:
            torch.testing.assert_close(a, b)


def test_link_checkpoints_cover_every_length(loops):
    """Segments of ⌈√T⌉ steps: lengths on and off the segment boundaries agree with the reference."""
    core = _perturbed(_core(read_heads=1).double())
    for T in (1, 2, 3, 4, 5, 9, 10, 17):
        xs = torch.randn(T, 2, 5, dtype=torch.float64)
        ys_f, s_f = core.forward_sequence(xs)
        ys_r, s_r = run_core(core, xs)
        g_f = torch.autograd.grad(_loss(ys_f, s_f), list(core.parameters()))
        g_r = torch.autograd.grad(_loss(ys_r, s_r), list(core.parameters()))
        for a, b in zip(g_f, g_r):
            torch.testing.assert_close(a, b)


def test_second_derivatives_through_the_kernel_are_refused():
    core = _core().double()
    xs = torch.randn(4, 2, 5, dtype=torch.float64)
    ys, _ = core.forward_sequence(xs)
    (g,) = torch.autograd.grad(ys.square().sum(), [core.access.interface.weight], create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


def test_fused_kernel_without_grad_matches_and_saves_nothing(loops):
    core = _core()
    xs = torch.randn(9, 4, 5)
    ys, state = core.forward_sequence(xs)
    assert ys.requires_grad and ys.grad_fn is not None
    with torch.no_grad():
        ys0, state0 = core.forward_sequence(xs)
    assert ys0.grad_fn is None
    torch.testing.assert_close(ys0, ys.detach())
    torch.testing.assert_close(state0.memory.link, state.memory.link.detach())


def test_fused_kernel_frees_its_saved_tensors(loops):
    """Nothing the backward keeps may be an output or a view of one (a reference cycle through
    ``grad_fn`` that only the cyclic collector frees): freed by reference counting alone."""
    import gc
    import weakref

    core = _core()
    gc.collect()
    gc.disable()
    try:
        for backward in (True, False):
            ys, state = core.forward_sequence(torch.randn(5, 2, 5))
            if backward:
                ys.sum().backward()
            refs = [weakref.ref(ys)] + [weakref.ref(v) for v in tree_leaves(state)]
            del ys, state
            assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_fused_kernel_buffers_are_reused_only_after_the_graph_is_freed(loops):
    """The kernel's sequence buffers come from a block reused across calls (``_Pool``): two
    graphs alive at once (and a no-grad call between them) must not share it; after both are
    freed the next call gets the block back, and gradients stay those of each graph alone."""
    from memlab.memory.kernels import dnc_scan as K

    core = _perturbed(_core(read_heads=1).double())
    xa, xb = torch.randn(7, 2, 5, dtype=torch.float64), torch.randn(9, 2, 5, dtype=torch.float64)
    params = list(core.parameters())

    def grads(ys):
        return torch.autograd.grad(ys.square().sum(), params)

    alone_a, alone_b = grads(core.forward_sequence(xa)[0]), grads(core.forward_sequence(xb)[0])
    ys_a, s_a = core.forward_sequence(xa)
    ys_b, s_b = core.forward_sequence(xb)  # a's graph still holds its block
    with torch.no_grad():
        core.forward_sequence(xb)
    for a, b in zip(grads(ys_b), alone_b):
        torch.testing.assert_close(a, b)
    for a, b in zip(grads(ys_a), alone_a):
        torch.testing.assert_close(a, b)
    del ys_a, ys_b, s_a, s_b
    block = K._Pool._free.get(torch.device("cpu"))
    assert block is not None and block.numel() >= K._Pool._need[torch.device("cpu")]
    ys_c, _ = core.forward_sequence(xa)
    assert torch.device("cpu") not in K._Pool._free  # taken by the live graph
    for a, b in zip(grads(ys_c), alone_a):
        torch.testing.assert_close(a, b)


@pytest.mark.skipif(cpp.disabled() or cpp.ops() is None, reason="the C++ kernels could not be built here")
@pytest.mark.parametrize("controller", ["lstm", "ff"])
def test_cpp_and_python_loops_agree_in_float32(controller, monkeypatch):
    """memlab's default sizes (N = 128, W = 20, controller 100, one read head) in float32: the
    C++ loops and the Python loops give the same outputs, final state and gradients.

    Usage starts spread over (0, 1): the free list is a sort, and where usages tie (a few steps
    from the all-zero state, most are exactly equal) a one-ulp difference between two correct
    roundings reorders it and moves the allocation (that holds for the reference too)."""
    torch.manual_seed(0)
    core = _perturbed(DNCCore(5, controller=controller), scale=0.05)
    xs = torch.randn(12, 4, 5)
    state0 = _random_state(core, 4, dtype=torch.float32)
    usage = torch.rand(4, 128).requires_grad_(True)  # distinct: no ties in the free list
    state0 = state0._replace(memory=state0.memory._replace(usage=usage))
    wrt = list(core.parameters()) + [v for v in tree_leaves(state0) if v.requires_grad]
    out = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("MEMLAB_NO_CPP", flag)
        ys, s = core.forward_sequence(xs, state0)
        out[flag] = (ys, tree_leaves(s), torch.autograd.grad(_loss(ys, s), wrt, allow_unused=True))
    (ys_c, s_c, g_c), (ys_p, s_p, g_p) = out["0"], out["1"]
    tol = dict(rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ys_c, ys_p, **tol)
    for a, b in zip(s_c, s_p):
        torch.testing.assert_close(a, b, **tol)
    for a, b in zip(g_c, g_p):
        if b is None:
            assert a is None or float(a.abs().max()) == 0.0
        else:
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5 * max(1.0, float(b.abs().max())))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_fused_kernel_on_cuda_matches_cpu():
    core = _perturbed(_core().double())
    xs = torch.randn(7, 3, 5, dtype=torch.float64)
    ys_cpu, _ = core.forward_sequence(xs)
    g_cpu = torch.autograd.grad(ys_cpu.square().sum(), list(core.parameters()))
    core = core.cuda()
    ys_gpu, _ = core.forward_sequence(xs.cuda())
    g_gpu = torch.autograd.grad(ys_gpu.square().sum(), list(core.parameters()))
    torch.testing.assert_close(ys_gpu.cpu(), ys_cpu)
    for a, b in zip(g_gpu, g_cpu):
        torch.testing.assert_close(a.cpu(), b)


@pytest.mark.parametrize("kw", [dict(write_heads=2), dict(controller="gru"), dict(controller="elman")])
def test_layouts_without_a_kernel_run_the_reference(kw):
    """Several write heads or another controller: the composed reference loop, same results as stepping."""
    core = _core(**kw).double()
    xs = torch.randn(6, 2, 5, dtype=torch.float64)
    assert core.access.fused_sequence(core.controller, xs, *core.initial_state(2)) is None
    ys_f, _ = core.forward_sequence(xs)
    ys_r, _ = run_core(core, xs)
    torch.testing.assert_close(ys_f, ys_r)


@pytest.mark.parametrize("kernel", ["fused", "reference"])
def test_all_zero_memory_and_inputs_stay_finite(kernel, loops):
    core = _core(kernel=kernel)
    ys, state = core.forward_sequence(torch.zeros(4, 2, 5))
    if kernel == "reference":
        core.kernel = "fused"  # the fixture checks that the chosen loops ran
        core.forward_sequence(torch.zeros(1, 1, 5))
    (ys.sum() + state.memory.memory.sum()).backward()
    assert torch.isfinite(ys).all()
    for p in core.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


@pytest.mark.parametrize("kernel", ["fused", "reference"])
def test_saturated_interface_stays_finite(kernel, loops):
    """Gates and modes pinned at 0/1 (clipped ξ = ±20): no NaN from the allocation's products."""
    core = _core(kernel=kernel)
    with torch.no_grad():
        core.access.interface.weight.mul_(500.0)
    xs = torch.randn(6, 2, 5) * 10
    ys, _ = core.forward_sequence(xs)
    ys.square().sum().backward()
    if kernel == "reference":
        core.kernel = "fused"  # the fixture checks that the chosen loops ran
        core.forward_sequence(xs[:1])
    assert torch.isfinite(ys).all()
    for p in core.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_shapes_state_size_and_invariants():
    core = _core(write_heads=2)
    xs = torch.randn(9, 3, 5)
    ys, state = core.forward_sequence(xs)
    assert ys.shape == (9, 3, core.output_size) and core.output_size == 16 + 2 * 4
    assert state_to_vector(state).shape == (3, core.state_size())
    tr = core.trace(xs)
    assert bool((tr["usage"] >= 0).all()) and bool((tr["usage"] <= 1 + 1e-6).all())
    for w in (tr["read"], tr["write"]):
        assert bool((w >= 0).all()) and bool((w.sum(-1) <= 1 + 1e-5).all())
    assert float(state.memory.link.detach().diagonal(dim1=-2, dim2=-1).abs().max()) == 0.0


def test_allocation_gate_writes_to_successive_free_slots():
    """With allocation and write gates forced open and nothing freed, writes go to new slots."""
    core = _core(read_heads=1, write_heads=1)
    with torch.no_grad():
        core.access.interface.weight.zero_()
        b = core.access.interface.bias
        b.zero_()
        offs = [0]
        for n in core.access.sizes:
            offs.append(offs[-1] + n)
        b[offs[6] : offs[7]] = -20.0  # free gates shut
        b[offs[7] : offs[9]] = 20.0  # allocation and write gates open
    tr = core.trace(torch.randn(5, 1, 5))
    slots = [int(w.argmax()) for w in tr["write"][:, 0, 0]]
    assert len(set(slots)) == 5  # five writes, five different locations


def _model_cfg(**kw):
    return from_dict(MODELS["dnc"].config_cls, kw, prefix="model.")


@pytest.mark.parametrize(
    "override, needle",
    [
        ({"memory_size": 0}, "model.memory_size=0 is out of range; allowed: >= 1"),
        ({"read_heads": 0}, "model.read_heads=0 is out of range; allowed: >= 1"),
        ({"write_heads": 0}, "model.write_heads=0 is out of range; allowed: >= 1"),
        ({"controller": "rnn"}, "model.controller='rnn' is not allowed; choose one of"),
        ({"kernel": "fast"}, "model.kernel='fast' is not allowed; choose one of fused, reference"),
        ({"clip": -1}, "allowed: >= 0"),
        ({"clip": float("nan")}, "model.clip=nan"),
        ({"clip": float("inf")}, "model.clip=inf"),
    ],
)
def test_bad_settings_give_one_line_errors(override, needle):
    with pytest.raises(ConfigError) as e:
        _model_cfg(**override)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_old_run_configs_build():
    """Every committed DNC run's config builds with build_model, as saved (and with controller=ff)."""
    paths = sorted((ROOT / "results" / "ntm" / "runs").glob("dnc-*/config.json"))
    assert paths
    for path in paths:
        cfg = json.loads(path.read_text())
        task = make_task(cfg["task"], cfg["task_cfg"])
        model = build_model("dnc", task.spec, cfg["task"], cfg["model_cfg"])
        assert model.core.kernel == "fused" and model.core.access.N == cfg["model_cfg"]["memory_size"]
    model = build_model("dnc", task.spec, cfg["task"], {**cfg["model_cfg"], "controller": "ff", "controller_size": 8})
    batch = task.sample_range(2, 1, 3, torch.Generator().manual_seed(0))
    assert torch.isfinite(model(batch)).all()


@pytest.mark.parametrize("controller", ["lstm", "ff"])
def test_checkpoints_of_the_old_dnc_core_load(controller):
    """A state dict in the pre-redesign layout (the NTM's controller inside DNCCore: w_x, w_r,
    w_h with gate rows i, f, o, g; h0, c0, interface on the core) loads and computes the same."""
    task = make_task("ntm-copy", {"width": 4})
    cfg = {"controller": controller, "controller_size": 6, "memory_size": 5, "word_size": 3, "read_heads": 2}
    torch.manual_seed(0)
    new = _perturbed(build_model("dnc", task.spec, "ntm-copy", cfg))
    sd = {k: v.clone() for k, v in new.state_dict().items()}
    I = new.core.input_size
    old = {k: v for k, v in sd.items() if not k.startswith("core.")}
    if controller == "lstm":
        C = 6
        perm = torch.cat([torch.arange(2 * C), torch.arange(3 * C, 4 * C), torch.arange(2 * C, 3 * C)])  # its own inverse
        W_x, W_r, b = sd["core.controller.W_x"][perm], sd["core.controller.W_r"][perm], sd["core.controller.b"][perm]
        old["core.controller.w_h.weight"] = W_r
        old["core.h0"], old["core.c0"] = sd["core.init_state.0"], sd["core.init_state.1"]
    else:
        W_x, b = sd["core.controller.W"], sd["core.controller.b"]
        old["core.h0"] = old["core.c0"] = torch.zeros(6)
    old["core.controller.w_x.weight"], old["core.controller.w_r.weight"] = W_x[:, :I], W_x[:, I:]
    old["core.controller.w_x.bias"] = b
    old["core.interface.weight"] = sd["core.access.interface.weight"]
    old["core.interface.bias"] = sd["core.access.interface.bias"]
    torch.manual_seed(1)
    loaded = build_model("dnc", task.spec, "ntm-copy", cfg)
    loaded.load_state_dict(old)
    batch = task.sample_range(3, 1, 4, torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch), new(batch))


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
