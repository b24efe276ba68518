"""Lie access memory: read weightings (§3.1), hand-computed steps of each issue-13 setting, the fused
kernel against the composed reference (controller LSTM + access) under every setting, the core contract."""

from __future__ import annotations

import pytest
import torch

import gc
import itertools
import json
import math
from pathlib import Path

from memlab.core.interfaces import run_core
from memlab.memory.kernels.lantm_scan import _LANTMScan, lantm_scan
from memlab.memory.lie_access import (
    LANTMState,
    invnorm_weights,
    lie_access_step_ref,
    make_spec,
    read_memory,
    softmax_weights,
    squared_distances,
)
from memlab.models.lantm import LANTMCore

D = torch.float64


def _mem(B=3, R=2, N=6, n=2, m=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    k = torch.randn(B, R, n, generator=g, dtype=D)
    a = torch.randn(B, N, n, generator=g, dtype=D)
    s = torch.rand(B, N, generator=g, dtype=D) * 0.9 + 0.05
    M = torch.tanh(torch.randn(B, N, m, generator=g, dtype=D))
    T = torch.rand(B, R, generator=g, dtype=D) + 0.2
    return k, a, s, M, T


# --------------------------------------------------------------------------- weightings


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
def test_invnorm_weights_are_a_distribution_and_match_the_formula(alpha):
    k, a, s, _, _ = _mem()
    w = invnorm_weights(k, a, s, alpha=alpha, eps=1e-9)
    assert w.shape == (3, 2, 6)
    assert (w >= 0).all()
    assert torch.allclose(w.sum(-1), torch.ones(3, 2, dtype=D))
    # the α-general stabilised form: w_i ∝ S_i (‖k − a_i‖² + ε)^(−α/2); α = 2 is S_i ‖k − a_i‖^(−2)
    d = (k.unsqueeze(2) - a.unsqueeze(1)).norm(dim=-1)
    u = s.unsqueeze(1) * (d**2 + 1e-9) ** (-alpha / 2)
    assert torch.allclose(w, u / u.sum(-1, keepdim=True), atol=1e-12)
    if alpha == 2.0:
        u2 = s.unsqueeze(1) * d ** (-2)
        assert torch.allclose(w, u2 / u2.sum(-1, keepdim=True), atol=1e-8)


def test_softmax_weights_are_a_distribution_and_match_the_formula():
    k, a, s, _, T = _mem()
    w = softmax_weights(k, a, s, T)
    assert (w >= 0).all() and torch.allclose(w.sum(-1), torch.ones(3, 2, dtype=D))
    u = s.unsqueeze(1) * torch.exp(-squared_distances(k, a) / T.unsqueeze(-1))
    assert torch.allclose(w, u / u.sum(-1, keepdim=True), atol=1e-12)
    # hot reads spread out towards the strength-weighted average
    w_hot = softmax_weights(k, a, s, torch.full_like(T, 1e6))
    assert torch.allclose(w_hot, (s / s.sum(-1, keepdim=True)).unsqueeze(1).expand_as(w_hot), atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_invnorm_exact_key_gives_weight_one_without_nan(dtype):
    a = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [3.0, 2.0]]], dtype=dtype)  # (1, 4, 2)
    s = torch.tensor([[0.9, 0.5, 0.7, 0.3]], dtype=dtype)
    for i in range(4):
        k = a[:, i : i + 1].clone().requires_grad_()  # read key exactly on address i
        w = invnorm_weights(k, a, s)
        assert w[0, 0, i] > 1 - 1e-6
        (read_memory(w, torch.randn(1, 4, 3, dtype=dtype)).sum()).backward()
        assert torch.isfinite(w).all() and torch.isfinite(k.grad).all()


@pytest.mark.parametrize("offset", [0.0, 1e-12, 3e-5, 1e-4])
@pytest.mark.parametrize("alpha", [1.0, 2.0, 8.0, 30.0])
def test_no_nan_values_or_grads_near_an_address(offset, alpha):
    a = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]], dtype=torch.float32, requires_grad=True)
    s = torch.tensor([[0.5, 0.5]], requires_grad=True)
    k = (a.detach()[:, :1] + offset).requires_grad_()
    M = torch.randn(1, 2, 3, requires_grad=True)
    rho = read_memory(invnorm_weights(k, a, s, alpha=alpha), M)
    rho.sum().backward()
    for t in (rho, k.grad, a.grad, s.grad, M.grad):
        assert torch.isfinite(t).all()


def test_empty_memory_and_zero_strengths_read_zero_without_nan():
    k = torch.randn(2, 1, 2, requires_grad=True)
    empty_a, empty_s, empty_M = torch.zeros(2, 0, 2), torch.zeros(2, 0), torch.zeros(2, 0, 5)
    for w in (invnorm_weights(k, empty_a, empty_s), softmax_weights(k, empty_a, empty_s, torch.ones(2, 1))):
        assert w.shape == (2, 1, 0)
        rho = read_memory(w, empty_M)
        assert rho.shape == (2, 1, 5) and (rho == 0).all()
    a, M = torch.randn(2, 3, 2), torch.randn(2, 3, 5)
    s = torch.zeros(2, 3, requires_grad=True)
    for w in (invnorm_weights(k, a, s), softmax_weights(k, a, s, torch.ones(2, 1))):
        rho = read_memory(w, M)
        assert (rho == 0).all()
        rho.sum().backward()
        assert torch.isfinite(k.grad).all() and torch.isfinite(s.grad).all()


def test_read_gradcheck_float64():
    k, a, s, M, T = _mem(B=2, R=2, N=4, n=2, m=3)
    args = [x.clone().requires_grad_() for x in (k, a, s, M)]
    assert torch.autograd.gradcheck(lambda k, a, s, M: read_memory(invnorm_weights(k, a, s, 2.0, 1e-9), M), args)
    assert torch.autograd.gradcheck(lambda k, a, s, M: read_memory(invnorm_weights(k, a, s, 3.0, 1e-9), M), args)
    targs = args + [T.clone().requires_grad_()]
    assert torch.autograd.gradcheck(lambda k, a, s, M, T: read_memory(softmax_weights(k, a, s, T), M), targs)


# --------------------------------------------------------------------------- one hand-computed step per setting


def _one_slot_state(spec, B=1):
    """Memory holding one slot at address (−1, 0) with M = (1, 1), S = 1; keys and steps at 0."""
    z = lambda *s: torch.zeros(*s, dtype=D)  # noqa: E731
    return LANTMState(z(B, 1), z(B, 1), z(B, 1, 2), z(B, 2, 2), z(B, 2, 2),
                      torch.tensor([[[-1.0, 0.0]]], dtype=D), torch.ones(B, 1, 2, dtype=D), torch.ones(B, 1, dtype=D))


def _instructions(spec, raw_step=(0.0, 0.0), h_gate=-30.0):
    """bq for h = 0: both heads' candidate key (1, 0) taken (g ≈ 1), candidate steps ``raw_step``,
    step gates σ(h_gate), write strength ≈ 1, memory vector (0.5, −0.5)."""
    o = spec.offsets()
    bq = torch.zeros(spec.instr_size, dtype=D)
    bq[o["key"][0] : o["key"][1]] = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=D)
    bq[o["step"][0] : o["step"][1]] = torch.tensor(list(raw_step) * 2, dtype=D)
    g0 = o["sig"][0]
    bq[g0 : g0 + 2] = 30.0  # key gates g
    bq[g0 + 2 : g0 + 4] = h_gate  # step gates h
    bq[g0 + 4] = 30.0  # strength
    bq[o["mem"][0] : o["mem"][1]] = torch.tensor([math.atanh(0.5), math.atanh(-0.5)], dtype=D)
    return torch.zeros(1, spec.instr_size, dtype=D), bq


def _spec(**kw):
    args = dict(hidden=1, mem_width=2, key_dim=2, write_heads=1, read_heads=1, group="translation",
                weighting="invnorm", alpha=2.0, eps=1e-9, normalise_steps=False, step_delta=1e-4, temp_min=1e-3)
    return make_spec(**{**args, **kw})


@pytest.mark.parametrize("read_first,write,expected", [
    (False, 1.0, [0.5, -0.5]),  # write, then read: the read key sits on the new slot
    (True, 1.0, [1.0, 1.0]),  # read first: only the old slot is there (w = 1)
    (False, 0.0, [1.0, 1.0]),  # no write (response phase): the new slot has strength 0
])
def test_read_order_and_write_mask_by_hand(read_first, write, expected):
    spec = _spec(read_first=read_first)
    Wq, bq = _instructions(spec)
    (rho, k, v, a, M, S), _ = lie_access_step_ref(torch.zeros(1, 1, dtype=D), _one_slot_state(spec), Wq, bq, spec,
                                                  torch.tensor([write], dtype=D))
    assert torch.allclose(k[0, 0], torch.tensor([1.0, 0.0], dtype=D), atol=1e-12)  # the write address
    assert torch.allclose(M[0, 1], torch.tensor([0.5, -0.5], dtype=D), atol=1e-12)
    assert S[0, 1].item() == pytest.approx(write, abs=1e-12)
    assert torch.allclose(rho[0, 0], torch.tensor(expected, dtype=D), atol=1e-8)


@pytest.mark.parametrize("normalise,delta,interpolate,step", [
    (True, 1.0, False, [3 / math.sqrt(26), 4 / math.sqrt(26)]),  # released code: bounded, v/√(1+‖v‖²), no interp.
    (True, 1e-4, False, [3 / math.sqrt(25 + 1e-4), 4 / math.sqrt(25 + 1e-4)]),  # paper text: size ≈ 1
    (False, 1e-4, False, [3.0, 4.0]),  # raw step
    (True, 1.0, True, [0.0, 0.0]),  # interpolation with h ≈ 0 keeps v_prev = 0
])
def test_step_size_and_interpolation_by_hand(normalise, delta, interpolate, step):
    spec = _spec(normalise_steps=normalise, step_delta=delta, interpolate_steps=interpolate)
    Wq, bq = _instructions(spec, raw_step=(3.0, 4.0), h_gate=-30.0)
    (rho, k, v, a, M, S), (_, gates, _, _) = lie_access_step_ref(torch.zeros(1, 1, dtype=D), _one_slot_state(spec),
                                                                 Wq, bq, spec)
    want = torch.tensor([1.0, 0.0], dtype=D) + torch.tensor(step, dtype=D)  # k = k̃ + v
    assert torch.allclose(k[0, 0], want, atol=1e-10) and torch.allclose(k[0, 1], want, atol=1e-10)
    assert torch.allclose(gates[0, :, 1], torch.full((2,), 1.0 if not interpolate else 1 / (1 + math.exp(30)),
                                                     dtype=D), atol=1e-12)


@pytest.mark.parametrize("mode", ["softplus", "inverse"])
def test_softmax_temperature_by_hand(mode):
    spec = _spec(weighting="softmax", softmax_temp=mode, read_first=True)
    Wq, bq = _instructions(spec)
    z = 0.7
    bq[spec.offsets()["temp"][0]] = z
    T = math.log1p(math.exp(z)) + 1e-3
    T = 1 / T if mode == "inverse" else T
    (rho, *_), (_, _, _, temp) = lie_access_step_ref(torch.zeros(1, 1, dtype=D), _one_slot_state(spec), Wq, bq, spec)
    assert temp.item() == pytest.approx(T, rel=1e-12)
    state = _one_slot_state(spec)  # two slots: the read key (1, 0) is 2 from (−1, 0) and 1 from (2, 0)
    state = state._replace(addresses=torch.tensor([[[-1.0, 0.0], [2.0, 0.0]]], dtype=D),
                           memory=torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=D), strengths=torch.ones(1, 2, dtype=D))
    (rho, *_), _ = lie_access_step_ref(torch.zeros(1, 1, dtype=D), state, Wq, bq, spec)
    u = torch.tensor([math.exp(-4 / T), math.exp(-1 / T)], dtype=D)  # S exp(−‖k − a‖²/T)
    assert torch.allclose(rho[0, 0], u / u.sum(), atol=1e-12)


def test_initial_slot_and_write_gate_bias():
    core = LANTMCore(3, hidden=4, mem_width=2, init_slot=True, write_gate_bias=-10.0)
    with torch.no_grad():
        core.access.a0.copy_(torch.tensor([[0.5, -2.0]]))
        core.access.m0.fill_(0.3)
    st = core.initial_state(2)
    assert st.addresses.shape == (2, 1, 2) and torch.equal(st.addresses[1, 0], torch.tensor([0.5, -2.0]))
    assert torch.allclose(st.memory, torch.full((2, 1, 2), math.tanh(0.3))) and torch.equal(st.strengths, torch.ones(2, 1))
    sp = core.spec
    o = sp.offsets()["sig"][0]
    assert core.access.bq[o].item() == -10.0 and core.access.bq[o + sp.heads].item() == -10.0
    assert core.access.bq[o + 1].item() == 0.0 and core.access.bq[o + sp.heads + 1].item() == 0.0
    assert core.state_size(3) - LANTMCore(3, hidden=4, mem_width=2).state_size(3) == 2 + 2 + 1
    # read first at step 0 with the read key on the slot reads exactly its content
    with torch.no_grad():
        core.access.a0.copy_(core.access.k0[1:])
        core.access.Wq.zero_()
        o_key = sp.offsets()["key"][0]
        core.access.bq[o_key + 2 : o_key + 4] = core.access.k0[1]  # read candidate = start key
        core.access.bq[o + 1] = 30.0  # read key gate: take the candidate
        core.access.bq[sp.offsets()["step"][0] + 2 : sp.offsets()["step"][0] + 4] = 0.0
        core.access.bq[o + sp.heads + 1] = -30.0  # read step gate: keep v_prev
        core.access.v0[1].zero_()
    core.spec = core.access.spec = sp._replace(read_first=True, normalise_steps=False)
    ys, st, _ = core.run(torch.randn(1, 2, 3), kernel="reference")
    assert torch.allclose(st.reads, torch.full((2, 1, 2), math.tanh(0.3)), atol=1e-6)


def test_read_gate_biases_set_only_the_read_heads_gates():
    """``read_key_gate_bias=b`` and ``read_step_gate_bias=c``: the read heads' key- and step-gate
    biases start at b and c (two read heads here), every other parameter is drawn as with the
    defaults 0, and the traced read gates of a fresh model sit near σ(b) and σ(c)."""
    from memlab.memory.lie_access import read_key_gate_columns, read_step_gate_columns

    cores = {}
    for b in (0.0, -4.0):
        torch.manual_seed(5)
        cores[b] = LANTMCore(3, hidden=4, mem_width=2, read_heads=2, write_gate_bias=-10.0, read_key_gate_bias=b,
                             read_step_gate_bias=-b / 2)
    sp = cores[0.0].spec
    o = sp.offsets()["sig"][0]
    cols, hcols = read_key_gate_columns(sp), read_step_gate_columns(sp)
    assert cols == [o + 1, o + 2] and hcols == [o + 4, o + 5]  # after each block's one write-head gate
    base, shifted = (dict(c.named_parameters()) for c in (cores[0.0], cores[-4.0]))
    assert torch.equal(shifted["access.bq"][cols], torch.full((2,), -4.0))
    assert torch.equal(shifted["access.bq"][hcols], torch.full((2,), 2.0))
    rest = [i for i in range(sp.instr_size) if i not in cols + hcols]
    assert torch.equal(shifted["access.bq"][rest], base["access.bq"][rest]) and base["access.bq"][cols + hcols].abs().max() == 0
    assert all(torch.equal(base[k], shifted[k]) for k in base if k != "access.bq")
    xs = torch.randn(6, 2, 3)
    for b, core in cores.items():
        with torch.no_grad():
            _, _, trace = core.run(xs, kernel="reference")
        g, h = trace.gates[:, :, sp.write_heads:, 0], trace.gates[:, :, sp.write_heads:, 1]  # (T, B, R) read gates
        assert (g - torch.sigmoid(torch.tensor(b))).abs().max() < 0.2, b
        assert (h - torch.sigmoid(torch.tensor(-b / 2))).abs().max() < 0.2, b


def test_read_to_output_gates_the_current_read():
    core = LANTMCore(3, hidden=4, mem_width=2, read_to_output=True, read_first=True, init_slot=True).double()
    assert core.output_size == 4 + 2
    xs = torch.randn(5, 2, 3, dtype=D)
    ys, st, _ = core.run(xs)
    hs, reads, *_ = __import__("memlab.memory.lie_access", fromlist=["x"]).lantm_scan_ref(
        xs, core.params(), core.initial_state(2), core.spec)
    w_c, b_c = core.out_gate.weight[0], core.out_gate.bias[0]
    gate = torch.sigmoid(hs @ w_c + b_c).unsqueeze(-1)  # σ(c_t), c_t = w_c·h_t + b_c
    assert torch.allclose(ys[..., :4], hs, atol=1e-12)
    assert torch.allclose(ys[..., 4:], gate * reads[:, :, 0], atol=1e-12)  # the read of the same step


def test_checkpoint_from_before_the_composition_loads_and_agrees():
    """Golden: a core saved by the pre-composition code (gates i, f, o, g; Wx/Uh/Ur) loads into the
    composed core (controller gates i, f, g, o) and computes the same outputs and keys."""
    raw = json.loads((Path(__file__).parent / "data" / "lantm_core_pre_composition.json").read_text())
    gold = {k: torch.tensor(v, dtype=D) for k, v in raw.items() if k not in ("note", "state_dict")}
    core = LANTMCore(2, hidden=3, mem_width=2).double()
    core.load_state_dict({k: torch.tensor(v, dtype=D) for k, v in raw["state_dict"].items()})
    for kernel in ("reference", "fused"):
        ys, _, tr = core.run(gold["xs"], kernel=kernel)
        assert torch.allclose(ys, gold["hs"], atol=1e-12) and torch.allclose(tr.keys, gold["keys"], atol=1e-12)


# --------------------------------------------------------------------------- fused kernel == composed reference

GROUP_CASES = [
    dict(group="translation", weighting="invnorm"),
    dict(group="translation", weighting="softmax"),
    dict(group="translation", weighting="softmax", softmax_temperature="inverse", read_heads=2),
    dict(group="translation", weighting="invnorm", key_dim=3, read_heads=2, write_heads=2, alpha=3.0),
    dict(group="so2", weighting="invnorm", read_heads=2),
    dict(group="so2", weighting="softmax", write_heads=2),
    dict(group="scaling_rotation", weighting="invnorm"),
    dict(group="scaling_rotation", weighting="softmax", read_heads=3),
]
STEPS = {"unit": dict(normalise_steps=True, step_delta=1e-4), "bounded": dict(normalise_steps=True, step_delta=1.0),
         "raw": dict(normalise_steps=False, alpha=1.0)}
#: every combination of the issue-13 settings: read_to_output, read_first, write mask, step, interpolation, init slot
SETTINGS = list(itertools.product([False, True], [False, True], [False, True], list(STEPS), [False, True], [False, True]))


#: the translation group's step loops: C++ (``csrc/lantm_scan.cpp``) where built, and the Python/TorchScript loops
LOOPS = ["cpp", "python"]


@pytest.fixture(params=LOOPS)
def loops(request, monkeypatch):
    """Runs a test once with the C++ loops (skipped where they cannot be built) and once with the
    Python loops (``MEMLAB_NO_CPP=1``); yields which."""
    from memlab.memory.kernels import cpp

    if request.param == "cpp":
        monkeypatch.delenv("MEMLAB_NO_CPP", raising=False)
        if not (cpp.has("lantm_tr_forward") and cpp.has("lantm_tr_backward")):
            pytest.skip("the C++ kernels are not built here (no compiler or ninja, or the build failed)")
    else:
        monkeypatch.setenv("MEMLAB_NO_CPP", "1")
    return request.param


def _core(kw, E=5, H=6, m=3, seed=0):
    torch.manual_seed(seed)
    kw = {"write_gate_bias": -1.0, **kw}
    core = LANTMCore(E, hidden=H, mem_width=m, **kw).double()
    with torch.no_grad():  # make the initial state non-trivial
        for p in (core.h0, core.c0, core.access.r0):
            p.normal_(0, 0.5)
        if core.access.init_slots:
            core.access.a0.normal_()
            core.access.m0.normal_()
    return core


def _agree(core, T=7, B=3, masked=False):
    xs = torch.randn(T, B, core.input_size, dtype=D)
    mask = (torch.rand(T, B, generator=torch.Generator().manual_seed(1)) > 0.4).to(D) if masked else None
    ys_ref, st_ref, tr_ref = core.run(xs, kernel="reference", write_mask=mask)
    ys_fast, st_fast, tr_fast = core.run(xs, kernel="fused", write_mask=mask)
    assert torch.allclose(ys_fast, ys_ref, atol=1e-12)
    with torch.no_grad():  # the evaluation path: one-step-deep buffers, nothing saved
        ys_eval, st_eval, tr_eval = core.run(xs, kernel="fused", write_mask=mask)
    assert torch.equal(ys_eval, ys_fast.detach())
    for x, y in zip([*st_eval, *tr_eval], [*st_fast, *tr_fast]):
        assert (x is None and y is None) or torch.equal(x, y)
    for x, y in zip(st_fast, st_ref):
        assert x.shape == y.shape and torch.allclose(x, y, atol=1e-12)
    for x, y in zip(tr_fast, tr_ref):
        assert (x is None and y is None) or torch.allclose(x, y, atol=1e-12)
    g_out = torch.randn_like(ys_ref)
    params = list(core.parameters())
    g_ref = torch.autograd.grad((ys_ref * g_out).sum(), params, allow_unused=True)
    g_fast = torch.autograd.grad((ys_fast * g_out).sum(), params, allow_unused=True)
    for (name, _), x, y in zip(core.named_parameters(), g_fast, g_ref):
        assert (x is None) == (y is None), name
        assert x is None or torch.allclose(x, y, atol=1e-10, rtol=1e-8), name


@pytest.mark.parametrize("out,first,masked,step,interp,slot", SETTINGS,
                         ids=lambda v: str(v) if isinstance(v, str) else ("T" if v else "F"))
def test_fused_equals_reference_under_every_setting(out, first, masked, step, interp, slot, loops):
    core = _core(dict(read_to_output=out, read_first=first, interpolate_steps=interp, init_slot=slot, **STEPS[step]))
    _agree(core, masked=masked)


@pytest.mark.parametrize("kw", GROUP_CASES, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
@pytest.mark.parametrize("preset", ["paper-text", "paper-code"])
def test_fused_equals_reference_for_every_group_and_weighting(kw, preset, loops):
    code = preset == "paper-code"
    core = _core(dict(kw, read_to_output=code, read_first=code, interpolate_steps=not code, init_slot=code,
                      step_delta=1.0 if code else 1e-4))
    _agree(core, masked=code)


@pytest.mark.parametrize("kw", GROUP_CASES[:4], ids=["inv", "soft", "soft-inverse", "inv-k3-2w2r"])
def test_fused_translation_loops_agree_scripted_or_not(kw, monkeypatch):
    """Without the C++ loops, the translation group's step loops run as TorchScript when available
    and as plain Python otherwise (``USE_SCRIPT``): both equal the reference, values and gradients."""
    from memlab.memory.kernels import lantm_scan as K

    monkeypatch.setenv("MEMLAB_NO_CPP", "1")
    monkeypatch.setattr(K, "USE_SCRIPT", False)
    for code in (False, True):
        core = _core(dict(kw, read_to_output=code, read_first=code, interpolate_steps=not code, init_slot=code))
        _agree(core, masked=code)


@pytest.mark.parametrize("kw", [GROUP_CASES[0], GROUP_CASES[1], GROUP_CASES[2], GROUP_CASES[5]],
                         ids=["inv", "soft", "soft-inverse", "so2"])
@pytest.mark.parametrize("first", [False, True])
def test_fused_kernel_gradcheck(kw, first, loops):
    core = _core(dict(kw, read_first=first, init_slot=first), E=2, H=3, m=2)
    T, B = 4, 2
    st = core.initial_state(B)
    p = core.params()
    xg = torch.randn(T, B, 4 * 3, dtype=D)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=D) if first else None
    E = 2
    args = [t.detach().clone().requires_grad_() for t in (xg, p.W_r.t(), p.W_x[:, E:].t(), p.Wq, p.bq, *st)]
    with torch.no_grad():
        args[-1].uniform_(0.3, 1.0)  # initial strengths > 0

    def f(*a):
        hs, reads = _LANTMScan.apply(*a, mask, core.spec)[:2]
        return hs, reads

    assert torch.autograd.gradcheck(f, args)


def test_input_projection_gradcheck():
    """The kernel's x W_xᵀ + b with its hand-shaped backward (∂L/∂x reaches the embedding)."""
    from memlab.memory.kernels.lantm_scan import _InputProjection

    g = torch.Generator().manual_seed(3)
    args = [torch.randn(*s, generator=g, dtype=D, requires_grad=True) for s in ((6, 3), (8, 3), (8,))]
    assert torch.autograd.gradcheck(_InputProjection.apply, args)
    assert torch.allclose(_InputProjection.apply(*args), torch.addmm(args[2], args[0], args[1].t()))


def test_malloc_tuning_is_once_and_can_be_declined(monkeypatch):
    """``keep_freed_memory`` changes glibc's settings at most once per process, never when one of
    ``MALLOC_ENV`` is set (the benchmark's memory probe sets glibc's own variables)."""
    from memlab.core import runtime

    monkeypatch.setattr(runtime, "_MALLOC_TUNED", False)
    monkeypatch.setenv("MEMLAB_NO_MALLOPT", "1")
    assert runtime.keep_freed_memory() is False and runtime._MALLOC_TUNED
    assert runtime.keep_freed_memory() is False  # once per process, whatever happened the first time
    assert runtime.malloc_keeps_freed_memory() is False


def test_fused_kernel_frees_its_graph(loops):
    core = _core(dict(read_first=True, init_slot=True)).float()
    xs = torch.randn(9, 2, 5)
    gc.disable()
    try:
        ys, _, _ = core.run(xs)
        node = ys.grad_fn
        import weakref

        ref = weakref.ref(node)
        del ys, node
        assert ref() is None  # freed by reference counting alone, no cycle through ctx
    finally:
        gc.enable()


def test_fused_kernel_reuses_its_workspace_safely(loops):
    """A training workspace goes back to the pool when its graph is freed and is reused by the next
    call of the same shapes; a graph still alive (retain_graph, a second forward before the first
    backward) keeps its own, so every gradient equals the reference's."""
    from memlab.memory.kernels import lantm_scan as K

    core = _core(dict(read_first=True, init_slot=True, interpolate_steps=False, step_delta=1.0))
    params = list(core.parameters())
    xs = [torch.randn(6, 3, 5, dtype=D, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    mask = torch.ones(6, 3, dtype=D)

    def grads(x, kernel, retain=False, between=None):
        ys, _, _ = core.run(x, kernel=kernel, write_mask=mask)
        loss = (ys * ys).sum()
        if between is not None:
            between()
        g1 = torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True)
        if retain:
            g2 = torch.autograd.grad(loss, params, allow_unused=True)
            assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(g1, g2))
        return g1

    K._POOL.clear()
    ref = [grads(x, "reference") for x in xs]
    out = [grads(xs[0], "fused"), grads(xs[1], "fused", retain=True, between=lambda: grads(xs[2], "fused")),
           grads(xs[2], "fused")]
    assert len(K._POOL) >= 1  # released after use
    for a, b in zip(out, ref):
        for x, y in zip(a, b):
            assert (x is None) == (y is None) and (x is None or torch.allclose(x, y, atol=1e-10, rtol=1e-8))


@pytest.mark.parametrize("kw", GROUP_CASES[:2], ids=["inv", "soft"])
def test_the_chosen_loops_run(kw, loops):
    """The switch itself: the translation group's training call runs the C++ loops exactly when
    they are built and not turned off (the workspace records which ran; the backward follows it)."""
    from memlab.memory.kernels import lantm_scan as K

    core = _core(dict(kw, read_first=True, init_slot=True))
    xs = torch.randn(5, 2, core.input_size, dtype=D)
    K._POOL.clear()
    ys, _, _ = core.run(xs)
    ys.sum().backward()
    del ys
    assert len(K._POOL) == 1 and K._POOL[-1]["cpp"] is (loops == "cpp")
    assert K._cpp_ok(xs) is (loops == "cpp") and (K.loop_kind("cpu", D) == "cpp") is (loops == "cpp")
    assert not K._cpp_ok(xs.half())  # float16 and CUDA tensors keep the Python loops


@pytest.mark.parametrize("model", ["lantm-invnorm", "lantm-softmax"])
def test_cpp_and_python_loops_agree_in_float32_at_seed004_sizes(model, monkeypatch):
    """At the seed-004 copy sizes (B = 32, copies of 64: T = 130, 50 cells, memory width 20, the
    reproduction's preset) in float32, the C++ loops give the Python loops' outputs and gradients
    to float32 rounding."""
    from memlab.memory.kernels import cpp
    from memlab.models import build_model
    from memlab.tasks import make_task

    if not (cpp.has("lantm_tr_forward") and cpp.has("lantm_tr_backward")):
        pytest.skip("the C++ kernels are not built here (no compiler or ninja, or the build failed)")
    task = make_task("copy", {"train_min": 64, "train_max": 64})
    torch.manual_seed(0)
    net = build_model(model, task.spec, "copy", {"kernel": "fused"})
    batch = task.sample(32, 64, torch.Generator().manual_seed(0))
    assert batch.inputs.shape[:2] == (130, 32)

    def run(no_cpp: str):
        monkeypatch.setenv("MEMLAB_NO_CPP", no_cpp)
        net.zero_grad(set_to_none=True)
        out = net(batch)
        task.loss(out, batch).backward()
        return out.detach(), [p.grad.clone() for p in net.parameters()]

    (y_c, g_c), (y_p, g_p) = run("0"), run("1")
    assert torch.allclose(y_c, y_p, atol=1e-6, rtol=1e-5), (y_c - y_p).abs().max()
    for (name, _), a, b in zip(net.named_parameters(), g_c, g_p):  # observed: ≤ 2e-5 of each gradient's largest entry
        assert (a - b).abs().max() <= 2e-4 * b.abs().max().clamp_min(1e-6), name


def test_core_contract_sequence_equals_stepping_and_state_grows():
    core = _core(dict(group="translation", weighting="invnorm")).float()
    xs = torch.randn(7, 3, 5)
    ys_step, st_step = run_core(core, xs)  # MemoryCore.forward one step at a time
    ys_seq, st_seq = core.forward_sequence(xs)
    assert torch.allclose(ys_step, ys_seq, atol=1e-5)
    assert st_seq.memory.shape == (3, 7, 3) and st_step.addresses.shape == (3, 7, 2)
    assert core.state_size(7) - core.state_size(0) == 7 * (2 + 3 + 1)
    # with lengths: outputs past each length are zero, those slots have strength 0
    lengths = torch.tensor([7, 4, 0])
    ys_len, st_len = core.forward_sequence(xs, lengths=lengths)
    assert torch.allclose(ys_len[:, 0], ys_seq[:, 0], atol=1e-5)
    assert torch.allclose(ys_len[:4, 1], ys_seq[:4, 1], atol=1e-5)
    assert (ys_len[4:, 1] == 0).all() and (ys_len[:, 2] == 0).all()
    assert (st_len.strengths[1, 4:] == 0).all() and (st_len.strengths[2] == 0).all()


def test_no_grad_fast_path_keeps_no_graph_and_runs_long_sequences():
    core = _core(dict(read_first=True, init_slot=True, read_to_output=True)).float()
    xs = torch.randn(1030, 2, 5)  # 8x copy length (input 512 -> 1026 steps)
    with torch.no_grad():
        hs, reads, st, tr = lantm_scan(xs, core.params(), core.initial_state(2), core.spec)
    assert hs.grad_fn is None and not hs.requires_grad
    assert torch.isfinite(hs).all() and st.addresses.shape == (2, 1031, 2) and reads.shape == (1030, 2, 1, 3)
    assert tr.keys.shape == (1030, 2, 2, 2) and tr.gates.shape == (1030, 2, 2, 2)


# --------------------------------------------------------------------------- the access in the generic composition


@pytest.mark.parametrize("kw", [dict(), dict(weighting="softmax", read_heads=2, init_slots=0, read_first=False)],
                         ids=["default", "softmax"])
def test_access_protocol_stepping_equals_fused_sequence(kw):
    """h_t = LSTM([x_t, r_{t−1}]), r_t = access(h_t), y_t = [h_t, r_t] stepped by hand (the generic
    composition's reference) agrees with ``fused_sequence`` in float64, values and gradients."""
    from memlab.controllers.lstm import LSTMCore, LSTMCoreConfig
    from memlab.core.config import from_dict
    from memlab.memory.lie_access import LieAccessConfig, build_access

    torch.manual_seed(0)
    cfg = from_dict(LieAccessConfig, dict(mem_width=3, write_gate_bias=-1.0, **kw))
    access = build_access(cfg, 6).double()
    ctrl = LSTMCore(LSTMCoreConfig(input_size=4 + access.read_size, hidden_size=6, seed=1)).double()
    xs = torch.randn(6, 3, 4, dtype=D)
    mem, cs = access.initial_state(3), ctrl.initial_state(3)
    ys = []
    for x_t in xs:
        h, cs = ctrl(torch.cat([x_t, access.reads(mem)], 1), cs)
        r, mem = access(h, mem)
        ys.append(torch.cat([h, r], 1))
    ys_ref = torch.stack(ys)
    ys_fast, mem_fast, cs_fast = access.fused_sequence(ctrl, xs, access.initial_state(3), ctrl.initial_state(3))
    assert torch.allclose(ys_fast, ys_ref, atol=1e-12) and torch.allclose(mem_fast.memory, mem.memory, atol=1e-12)
    assert torch.allclose(cs_fast.c, cs.c, atol=1e-12)
    params = [*access.parameters(), *ctrl.parameters()]
    g = torch.randn_like(ys_ref)
    for a, b in zip(torch.autograd.grad((ys_fast * g).sum(), params), torch.autograd.grad((ys_ref * g).sum(), params)):
        assert torch.allclose(a, b, atol=1e-10)
    assert access.state_size(6) == access.state_size(0) + 6 * (2 + 3 + 1)


def test_registry_entry_builds_and_rejects_bad_settings():
    from memlab.core.config import from_dict
    from memlab.core.errors import ConfigError
    from memlab.memory.lie_access import LieAccessConfig

    try:
        from memlab.memory import MemoryEntry  # noqa: F401
    except ImportError:
        pytest.skip("memlab.memory.MemoryEntry not there yet")
    from memlab.memory import lie_access

    entry = lie_access.ENTRY
    assert entry.kernels == ("fused", "reference")
    access = entry.build(from_dict(LieAccessConfig, {"mem_width": 4}), 8)
    assert access.read_size == 4 and access.spec.hidden == 8 and access.init_slots == 1
    with pytest.raises(ConfigError, match=r"model\.init_slots=-1 is out of range"):
        from_dict(LieAccessConfig, {"init_slots": -1}, prefix="model.")
    with pytest.raises(ConfigError, match="acts on R\\^2 only"):
        from_dict(LieAccessConfig, {"group": "so2", "key_dim": 3})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("preset", ["paper-text", "paper-code"])
def test_fused_kernel_on_cuda_equals_cpu(preset):
    code = preset == "paper-code"
    core = _core(dict(read_to_output=code, read_first=code, interpolate_steps=not code, init_slot=code,
                      step_delta=1.0 if code else 1e-4))
    xs = torch.randn(7, 3, 5, dtype=D)
    mask = (torch.rand(7, 3, generator=torch.Generator().manual_seed(1)) > 0.4).to(D) if code else None
    ys_cpu, _, _ = core.run(xs, write_mask=mask)
    g_cpu = torch.autograd.grad(ys_cpu.square().sum(), list(core.parameters()))
    core_gpu = core.cuda()
    ys_gpu, _, _ = core_gpu.run(xs.cuda(), write_mask=None if mask is None else mask.cuda())
    g_gpu = torch.autograd.grad(ys_gpu.square().sum(), list(core_gpu.parameters()))
    assert torch.allclose(ys_gpu.cpu(), ys_cpu, atol=1e-10)
    for a, b in zip(g_gpu, g_cpu):
        assert torch.allclose(a.cpu(), b, atol=1e-8)


@pytest.mark.parametrize("delta", [1e-4, 1.0])
def test_normalised_start_step_has_the_candidate_steps_size_and_learns(delta):
    """``init_step="normalised"``: v_0 enters the state through ṽ = v/√(‖v‖² + δ), so whatever the
    parameter's size the start step has size ≈ 1 (δ = 1e-4) or < 1 (δ = 1); gradients reach v_0,
    and the fused kernel equals the reference with it (float64, values and the gradient of v_0)."""
    core = _core(dict(read_first=True, init_slot=True, step_delta=delta, init_step="normalised"))
    with torch.no_grad():
        core.access.v0.copy_(torch.tensor([[3.0, 4.0], [0.3, -0.4]], dtype=torch.float64))
    steps = core.initial_state(2).steps  # (B, A, P)
    want = torch.tensor([5.0, 0.5], dtype=torch.float64) / torch.tensor([25.0 + delta, 0.25 + delta]).double().sqrt()
    assert torch.allclose(steps.norm(dim=-1), want.expand(2, 2))
    free = _core(dict(read_first=True, init_slot=True, step_delta=delta))
    with torch.no_grad():
        free.access.v0.copy_(core.access.v0)
    assert torch.allclose(free.initial_state(2).steps.norm(dim=-1), torch.tensor([5.0, 0.5]).double().expand(2, 2))
    xs = torch.randn(7, 2, 5, dtype=torch.float64)
    outs, grads = [], []
    for kernel in ("fused", "reference"):
        core.zero_grad()
        ys, _, _ = core.run(xs, kernel=kernel)
        ys.square().sum().backward()
        outs.append(ys.detach())
        grads.append(core.access.v0.grad.clone())
    assert torch.allclose(outs[0], outs[1]) and torch.allclose(grads[0], grads[1])
    assert grads[0].abs().sum() > 0
    with pytest.raises(ValueError, match="init_step='big'"):
        _core(dict(init_step="big"))


def test_learned_initial_slot_strength_fused_equals_reference():
    """``init_slot_strength="learned"``: the initial slot's strength is σ(s_0 − 10) (the released
    code's initial memory strength), ≈ 4.5e-5 at the start, and s_0 learns through both kernels alike."""
    core = _core(dict(read_to_output=True, read_first=True, interpolate_steps=False, init_slot=True, step_delta=1.0,
                      init_slot_strength="learned"))
    S0 = core.access.initial_state(2).strengths
    assert S0.shape == (2, 1) and torch.allclose(S0, torch.sigmoid(torch.tensor(-10.0, dtype=D)))
    with torch.no_grad():
        core.access.s0.fill_(9.0)  # strength σ(−1): the slot weighs in the reads, so s_0 gets a gradient
    _agree(core, masked=True)
    xs = torch.randn(5, 2, core.input_size, dtype=D)
    g = torch.autograd.grad(core.run(xs, kernel="fused")[0].square().sum(), core.access.s0)[0]
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    with pytest.raises(ValueError, match="init_slot_strength='half'"):
        _core(dict(init_slot=True, init_slot_strength="half"))
