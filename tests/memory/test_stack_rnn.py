"""Stack-RNN (Joulin & Mikolov 2015): vectorised update vs per-cell loop (float64 values and
gradients), gradcheck, hard push/pop behave as a discrete stack, depth overflow, the module
composed with a controller, and one-line errors for bad settings."""

from __future__ import annotations

import pytest
import torch

from memlab.memory import stack_rnn as SR

D = torch.float64


def _inputs(B=2, K=2, p=5, m=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    S = torch.randn(B, K, p, m, generator=g, dtype=D).requires_grad_()
    a = torch.softmax(torch.randn(B, K, 3, generator=g, dtype=D), -1).requires_grad_()
    c = torch.rand(B, K, m, generator=g, dtype=D).requires_grad_()
    return S, a, c


def test_update_matches_reference():
    S, a, c = _inputs()
    fast, ref = SR.stack_rnn_update(S, a, c), SR.stack_rnn_update_ref(S, a, c)
    torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12)
    proj = torch.randn(fast.shape, generator=torch.Generator().manual_seed(1), dtype=D)
    for x, y in zip(torch.autograd.grad((fast * proj).sum(), (S, a, c)), torch.autograd.grad((ref * proj).sum(), (S, a, c))):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-12)


def test_gradcheck():
    assert torch.autograd.gradcheck(SR.stack_rnn_update, _inputs(B=1, K=1, p=4, m=2, seed=3))


def _hard(action: int, B=1, K=1):
    a = torch.zeros(B, K, 3, dtype=D)
    a[..., action] = 1
    return a


def test_hard_actions_are_a_discrete_stack():
    S = torch.zeros(1, 1, 4, 1, dtype=D)
    for x in (0.1, 0.2, 0.3):
        S = SR.stack_rnn_update(S, _hard(0), torch.full((1, 1, 1), x, dtype=D))
    assert S[0, 0, :, 0].tolist() == pytest.approx([0.3, 0.2, 0.1, 0.0])
    S = SR.stack_rnn_update(S, _hard(2), torch.zeros(1, 1, 1, dtype=D))  # no-op
    assert S[0, 0, :, 0].tolist() == pytest.approx([0.3, 0.2, 0.1, 0.0])
    S = SR.stack_rnn_update(S, _hard(1), torch.zeros(1, 1, 1, dtype=D))  # pop
    assert S[0, 0, :, 0].tolist() == pytest.approx([0.2, 0.1, 0.0, 0.0])


def test_overflow_drops_the_bottom_and_soft_mix():
    S = torch.arange(1.0, 4.0, dtype=D).view(1, 1, 3, 1)  # top 1, 2, 3 bottom
    pushed = SR.stack_rnn_update(S, _hard(0), torch.full((1, 1, 1), 9.0, dtype=D))
    assert pushed[0, 0, :, 0].tolist() == [9.0, 1.0, 2.0]
    a = torch.tensor([[[0.5, 0.25, 0.25]]], dtype=D)
    mixed = SR.stack_rnn_update(S, a, torch.full((1, 1, 1), 9.0, dtype=D))
    # cell 0: 0.5·9 + 0.25·2 + 0.25·1; cell 2: 0.5·2 + 0.25·0 + 0.25·3
    assert mixed[0, 0, :, 0].tolist() == pytest.approx([5.25, 0.5 + 0.75 + 0.5, 1.75])


def test_module_reads_top_k_and_composes():
    from memlab.core.interfaces import run_core
    from memlab.models.compose import make_core

    torch.manual_seed(0)
    core = make_core("stack-rnn", 4, controller_size=6, n_stacks=2, depth=5, cell_size=3, top_k=2)
    assert core.access.read_size == 2 * 2 * 3 and core.output_size == 6 + 12
    xs = torch.randn(6, 3, 4)
    ys, state = core.forward_sequence(xs)
    torch.testing.assert_close(ys, run_core(core, xs)[0])
    torch.testing.assert_close(ys[-1, :, 6:], state.memory.S[:, :, :2].reshape(3, -1))
    ys.sum().backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in core.parameters())


@pytest.mark.parametrize("key,value", [("depth", 0), ("top_k", 9), ("cell_size", float("nan")), ("n_stacks", float("inf"))])
def test_bad_settings_are_one_line_errors(key, value):
    from memlab.core.errors import ConfigError
    from memlab.models.compose import make_core

    with pytest.raises(ConfigError, match=key) as e:
        make_core("stack-rnn", 4, **{"depth": 8, key: value})
    assert "\n" not in str(e.value)


# --------------------------------------------------------------------------- fused sequence kernel


@pytest.fixture(params=["cpp", "python"])
def loops(request, monkeypatch):
    """The fused kernel's loops under test: the C++ ops (csrc/stack_rnn_scan.cpp; skipped where the
    library is not built) or the Python loops (``MEMLAB_NO_CPP=1``). Fails when a kernel run took
    other loops than the ones asked for."""
    import memlab.memory.kernels.stack_rnn_scan as K
    from memlab.memory.kernels import cpp

    if request.param == "python":
        monkeypatch.setenv("MEMLAB_NO_CPP", "1")
    elif not cpp.has("stack_rnn_scan_fwd"):
        pytest.skip("the C++ kernels are not built here (no compiler, a failed build or MEMLAB_NO_CPP=1)")
    ran = []
    for name in ("_scan_forward", "_scan_forward_cpp", "_scan_backward", "_scan_backward_cpp"):
        fn = getattr(K, name)
        monkeypatch.setattr(K, name, lambda *a, _fn=fn, _n=name, **kw: ran.append(_n) or _fn(*a, **kw))
    yield request.param
    want = {"_scan_forward_cpp", "_scan_backward_cpp"} if request.param == "cpp" else {"_scan_forward", "_scan_backward"}
    assert ran and set(ran) <= want and any(r.startswith("_scan_forward") for r in ran), \
        f"the kernel ran {sorted(set(ran))}, not {sorted(want)}"


def _perturbed_core(controller="lstm", **kw):
    """A float64 Stack-RNN core whose parameters and learned initial state are all away from zero,
    so every gradient path carries signal."""
    from memlab.models.compose import make_core

    torch.manual_seed(5)
    core = make_core("stack-rnn", 4, controller=controller, controller_size=5, **kw).double()
    with torch.no_grad():
        for p in core.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return core


def _grads(core, ys, state, seed=0):
    """Gradients of a random projection of the outputs and of the final state w.r.t. every parameter."""
    from memlab.core.interfaces import tree_leaves

    g = torch.Generator().manual_seed(seed)
    loss = (ys * torch.randn(ys.shape, generator=g, dtype=D)).sum()
    for v in tree_leaves(state):
        loss = loss + (v * torch.randn(v.shape, generator=g, dtype=D)).sum()
    return torch.autograd.grad(loss, list(core.parameters()), allow_unused=True)


def _fused_and_reference(core, xs, st):
    """(outputs, final-state leaves, parameter gradients) of the fused kernel, then of the reference."""
    from memlab.core.interfaces import tree_leaves

    out = {}
    for kernel in ("fused", "reference"):
        core.kernel = kernel
        ys, state = core.forward_sequence(xs, st)
        out[kernel] = ys, tree_leaves(state), _grads(core, ys, state)
    return out["fused"], out["reference"]


def _assert_agree(core, fused, ref):
    """float64 agreement of outputs, final state and every parameter gradient."""
    (yf, sf, gf), (yr, sr, gr) = fused, ref
    torch.testing.assert_close(yf, yr, rtol=1e-12, atol=1e-12)
    for a, b in zip(sf, sr):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for (name, _), a, b in zip(core.named_parameters(), gf, gr):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("kw", [dict(n_stacks=1, depth=6, cell_size=3, top_k=2),
                                dict(n_stacks=2, depth=4, cell_size=2, top_k=4),
                                dict(n_stacks=3, depth=1, cell_size=1, top_k=1)],
                         ids=["1x6x3-top2", "2x4x2-top-all", "3x1x1-depth1"])
def test_fused_kernel_matches_composed_reference_float64(kw, loops):
    """stack_rnn_scan's hand-written BPTT against autograd through the composed per-step reference
    (the LSTM's own forward, then StackRNNAccess.forward): outputs, final state (stacks, h, c)
    and the gradient of every parameter (controller, action/value layer, learned initial state),
    from a random initial stack."""
    core = _perturbed_core(**kw)
    xs = torch.randn(7, 3, 4, dtype=D)
    st = core.initial_state(3)
    st = st._replace(memory=SR.StackRNNState(torch.rand_like(st.memory.S)))
    (yf, sf, gf), (yr, sr, gr) = _fused_and_reference(core, xs, st)
    assert yf.grad_fn is not None and "StackRNNScan" in type(yf.grad_fn).__name__  # the kernel ran
    assert len(sf) == len(sr) == 3
    assert all(a is not None and b is not None for a, b in zip(gf, gr))
    _assert_agree(core, (yf, sf, gf), (yr, sr, gr))


@pytest.mark.parametrize("depth", [4, 7, 12], ids=["depth<T", "depth=T", "depth>T"])
@pytest.mark.parametrize("start", ["empty", "top-two"])
def test_fused_kernel_active_rows_match_reference_float64(depth, start, loops):
    """From an empty stack (the model's initial state), or one filled in its top two rows only,
    the kernel updates and back-propagates only the rows a push can have reached (n_t = n_0 + t,
    at most the depth): outputs, final state and every parameter gradient still agree with the
    composed reference, when the stack fills up within the sequence and when it never does."""
    core = _perturbed_core(n_stacks=2, depth=depth, cell_size=3, top_k=2)
    xs = torch.randn(7, 3, 4, dtype=D)
    st = core.initial_state(3)
    S0 = st.memory.S.clone()
    if start == "top-two":
        S0[:, :, :2] = torch.rand_like(S0[:, :, :2])
    st = st._replace(memory=SR.StackRNNState(S0))
    fused, ref = _fused_and_reference(core, xs, st)
    assert "StackRNNScan" in type(fused[0].grad_fn).__name__
    _assert_agree(core, fused, ref)
    yr, sr = ref[0], ref[1]
    with torch.no_grad():  # the two-slot forward, too
        core.kernel = "fused"
        ys0, state0 = core.forward_sequence(xs, st)
    torch.testing.assert_close(ys0, yr.detach(), rtol=1e-12, atol=1e-12)
    (S_ref,) = [v for v in sr if v.shape == S0.shape]
    torch.testing.assert_close(state0.memory.S, S_ref.detach(), rtol=1e-12, atol=1e-12)


def test_fused_kernel_gradcheck(loops):
    """float64 gradcheck of stack_rnn_scan w.r.t. all its inputs (initial stack, h, c included)."""
    from memlab.memory.kernels.stack_rnn_scan import StackRNNSpec, stack_rnn_scan

    g = torch.Generator().manual_seed(7)
    C, K, p, m, k, B, T, I = 3, 2, 3, 2, 2, 2, 4, 2
    spec = StackRNNSpec(C, K, p, m, k)
    R, P = spec.R, K * (3 + m)
    args = [torch.randn(*s, generator=g, dtype=D).requires_grad_() for s in
            [(T, B, I), (4 * C, I), (4 * C,), (4 * C, C + R), (P, C), (P,), (B, K, p, m), (B, C + R), (B, C)]]
    assert torch.autograd.gradcheck(lambda *a: stack_rnn_scan(*a, spec), args, eps=1e-6, atol=1e-7)


def test_fused_kernel_equals_its_own_reference_loop(loops):
    """stack_rnn_scan and stack_rnn_scan_ref (the step written with autograd ops) agree, and
    no_grad runs the two-slot forward to the same values."""
    from memlab.memory.kernels.stack_rnn_scan import StackRNNSpec, stack_rnn_scan, stack_rnn_scan_ref

    g = torch.Generator().manual_seed(8)
    spec = StackRNNSpec(4, 1, 5, 3, 2)
    args = [torch.randn(*s, generator=g, dtype=D) for s in
            [(9, 2, 3), (16, 3), (16,), (16, 4 + 6), (6, 4), (6,), (2, 1, 5, 3), (2, 4 + 6), (2, 4)]]
    ref = stack_rnn_scan_ref(*args, spec)
    with torch.no_grad():
        fast = stack_rnn_scan(*args, spec)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_cpp_loops_match_python_loops_float32(monkeypatch):
    """The C++ and the Python loops of the fused kernel at training sizes in float32 (LSTM 32, one
    stack of depth 16 and cells of 8 read at its top 2, 12 steps, the stack filling from empty):
    outputs, final state and every parameter gradient agree to float32 rounding (the C++ loop
    takes tanh c_t as 2σ(2 c_t) − 1, as the Python loop does)."""
    from memlab.core.interfaces import tree_leaves
    from memlab.memory.kernels import cpp
    from memlab.models.compose import make_core

    if not cpp.has("stack_rnn_scan_fwd"):
        pytest.skip("the C++ kernels are not built here (no compiler, a failed build or MEMLAB_NO_CPP=1)")
    torch.manual_seed(6)
    core = make_core("stack-rnn", 8, controller_size=32, depth=16, cell_size=8, top_k=2)
    with torch.no_grad():
        for p in core.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    xs = torch.randn(12, 4, 8)
    runs = []
    for no_cpp in ("0", "1"):
        monkeypatch.setenv("MEMLAB_NO_CPP", no_cpp)
        ys, state = core.forward_sequence(xs)
        loss = ys.square().sum() + sum(v.square().sum() for v in tree_leaves(state))
        runs.append((ys.detach(), [v.detach() for v in tree_leaves(state)],
                     torch.autograd.grad(loss, list(core.parameters()), allow_unused=True)))
    (ys_c, st_c, g_c), (ys_p, st_p, g_p) = runs
    torch.testing.assert_close(ys_c, ys_p, rtol=1e-5, atol=1e-6)
    for a, b in zip(st_c, st_p):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for (name, _), a, b in zip(core.named_parameters(), g_c, g_p):
        if a is None or b is None:
            assert a is None and b is None, name
            continue
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max()), msg=lambda m: f"{name}: {m}")


def test_fused_kernel_without_grad_and_frees_its_saved_tensors():
    """Under no_grad the fused path builds no graph; with grad, everything it returns is freed by
    reference counting alone (the collector off): nothing the backward keeps is an output."""
    import gc
    import weakref

    from memlab.core.interfaces import tree_leaves
    from memlab.models.compose import make_core

    torch.manual_seed(0)
    core = make_core("stack-rnn", 4, controller_size=6, depth=5, cell_size=3)
    assert core.kernel == "fused"
    xs = torch.randn(6, 2, 4)
    with torch.no_grad():
        ys0, _ = core.forward_sequence(xs)
    assert ys0.grad_fn is None
    gc.collect()
    gc.disable()
    try:
        for backward in (True, False):
            ys, state = core.forward_sequence(xs)
            torch.testing.assert_close(ys.detach(), ys0)
            if backward:
                ys.sum().backward()
            refs = [weakref.ref(ys)] + [weakref.ref(v) for v in tree_leaves(state)]
            del ys, state
            assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_other_controllers_run_the_reference_step():
    """The kernel inlines the standard LSTM only: a GRU controller (or an LSTM with peepholes)
    gets None from fused_sequence and the composed reference runs; zero steps return the state."""
    from memlab.models.compose import make_core

    torch.manual_seed(0)
    xs = torch.randn(5, 2, 4)
    for kw in (dict(controller="gru"), dict(controller_cfg={"peepholes": True})):
        core = make_core("stack-rnn", 4, controller_size=6, depth=5, cell_size=3, **kw)
        st = core.initial_state(2)
        assert core.access.fused_sequence(core.controller, xs, st.memory, st.controller) is None
        ys, _ = core.forward_sequence(xs)
        assert "StackRNNScan" not in type(ys.grad_fn).__name__
    core = make_core("stack-rnn", 4, controller_size=6, depth=5, cell_size=3)
    ys, state = core.forward_sequence(xs[:0])
    assert ys.shape == (0, 2, 6 + 6) and torch.equal(state.memory.S, core.initial_state(2).memory.S)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_fused_kernel_on_cuda_matches_cpu():
    core = _perturbed_core(n_stacks=2, depth=5, cell_size=3)
    xs = torch.randn(7, 3, 4, dtype=D)
    ys_cpu, _ = core.forward_sequence(xs)
    g_cpu = torch.autograd.grad(ys_cpu.square().sum(), list(core.parameters()))
    core = core.cuda()
    ys_gpu, _ = core.forward_sequence(xs.cuda())
    g_gpu = torch.autograd.grad(ys_gpu.square().sum(), list(core.parameters()))
    torch.testing.assert_close(ys_gpu.cpu(), ys_cpu)
    for a, b in zip(g_gpu, g_cpu):
        torch.testing.assert_close(a.cpu(), b)


# --------------------------------------------------------------------------- hard actions at evaluation


def test_hard_actions_are_one_hot_at_the_largest_weight():
    a = torch.tensor([[[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]], dtype=D)
    assert SR.hard_actions(a).tolist() == [[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]]
    assert SR.hard_actions(a).dtype == D


def test_eval_actions_hard_takes_one_hot_actions_in_eval_mode_only():
    """Training keeps the soft actions (and the fused kernel); in eval mode ``eval_actions=hard``
    steps the stacks with one-hot actions through the reference step; ``soft`` stays soft."""
    from memlab.models.compose import make_core

    torch.manual_seed(0)
    xs = torch.randn(7, 3, 4)
    hard = make_core("stack-rnn", 4, controller_size=6, depth=5, cell_size=3, eval_actions="hard")
    soft = make_core("stack-rnn", 4, controller_size=6, depth=5, cell_size=3)
    soft.load_state_dict(hard.state_dict())
    ys_train, _ = hard.forward_sequence(xs)  # training mode: the fused kernel, soft actions
    assert "StackRNNScan" in type(ys_train.grad_fn).__name__
    torch.testing.assert_close(ys_train, soft.forward_sequence(xs)[0])
    # the access alone, in eval mode: the update with one-hot actions and the soft pushed value
    acc = hard.access.eval()
    h, S = torch.randn(3, 6), torch.randn(3, 1, 5, 3)
    a_soft, c = soft.access.controls(h)
    r, new = acc(h, SR.StackRNNState(S))
    torch.testing.assert_close(new.S, SR.stack_rnn_update(S, SR.hard_actions(a_soft), c))
    assert not torch.allclose(new.S, SR.stack_rnn_update(S, a_soft, c))
    # composed, in eval mode: no fused kernel, the reference step's one-hot actions
    hard.eval()
    soft.eval()
    st = hard.initial_state(3)
    assert hard.access.fused_sequence(hard.controller, xs, st.memory, st.controller) is None
    with torch.no_grad():
        ys_hard, _ = hard.forward_sequence(xs)
        ys_soft, _ = soft.forward_sequence(xs)
        state, ys = hard.initial_state(3), []
        for x in xs:
            y, state = hard.forward(x, state)
            ys.append(y)
    torch.testing.assert_close(ys_hard, torch.stack(ys))
    assert not torch.allclose(ys_hard, ys_soft)
