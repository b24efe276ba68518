"""Lie groups of the LANTM key space: action axioms, interpolation endpoints, hand-written VJPs."""

from __future__ import annotations

import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.memory.lie_groups import GROUPS, make_group

KEY_DIMS = {"translation": [1, 2, 3], "so2": [2], "scaling_rotation": [2]}
CASES = [(name, n) for name, dims in KEY_DIMS.items() for n in dims]


def _elements(group, *shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(*shape, group.param_size, generator=g, dtype=torch.float64)
    return group.parameterise(raw, False, 1e-12)


@pytest.mark.parametrize("name,n", CASES)
def test_identity_acts_trivially(name, n):
    grp = make_group(name, n)
    k = torch.randn(5, 3, n, dtype=torch.float64)
    e = grp.identity(5, 3, dtype=torch.float64)
    assert torch.allclose(grp.act(e, k), k)
    a = _elements(grp, 5, 3)
    assert torch.allclose(grp.compose(a, e), a) and torch.allclose(grp.compose(e, a), a)


@pytest.mark.parametrize("name,n", CASES)
def test_action_is_compatible_with_the_group_law(name, n):
    grp = make_group(name, n)
    a, b = _elements(grp, 7, seed=1), _elements(grp, 7, seed=2)
    k = torch.randn(7, n, dtype=torch.float64)
    assert torch.allclose(grp.act(grp.compose(a, b), k), grp.act(a, grp.act(b, k)))


@pytest.mark.parametrize("name,n", CASES)
def test_interpolation_endpoints(name, n):
    grp = make_group(name, n)
    a, b = _elements(grp, 4, 2, seed=3), _elements(grp, 4, 2, seed=4)
    one = torch.ones(4, 2, 1, dtype=torch.float64)
    assert torch.allclose(grp.interpolate(one, a, b), a)
    assert torch.allclose(grp.interpolate(0 * one, a, b), b)
    mid = grp.interpolate(0.5 * one, a, b)
    assert mid.shape == a.shape and torch.isfinite(mid).all()


def test_so2_elements_are_rotations_and_scaling_rotation_scales():
    so2 = make_group("so2", 2)
    raw = torch.randn(10, 2, dtype=torch.float64) * 3
    v = so2.parameterise(raw, False, 0.0)
    k = torch.randn(10, 2, dtype=torch.float64)
    assert torch.allclose(v.norm(dim=-1), torch.ones(10, dtype=torch.float64))
    assert torch.allclose(so2.act(v, k).norm(dim=-1), k.norm(dim=-1))
    # interpolation stays on the circle (§3.4: project the straight line onto it)
    w = so2.interpolate(torch.full((10, 1), 0.3, dtype=torch.float64), v, so2.parameterise(-raw.flip(0), False, 0))
    assert torch.allclose(w.norm(dim=-1), torch.ones(10, dtype=torch.float64))
    sr = make_group("scaling_rotation", 2)
    assert torch.allclose(sr.act(raw, k).norm(dim=-1), raw.norm(dim=-1) * k.norm(dim=-1))


def test_translation_step_normalisation_gives_unit_steps():
    tr = make_group("translation", 3)
    raw = torch.randn(20, 3, dtype=torch.float64) * 5
    assert torch.allclose(tr.parameterise(raw, True, 1e-12).norm(dim=-1), torch.ones(20, dtype=torch.float64))
    assert torch.equal(tr.parameterise(raw, False, 1e-12), raw)


@pytest.mark.parametrize("name,n", CASES)
@pytest.mark.parametrize("normalise", [True, False])
def test_hand_written_vjps_match_autograd(name, n, normalise):
    grp = make_group(name, n)
    torch.manual_seed(0)
    P = grp.param_size
    raw = torch.randn(3, 2, P, dtype=torch.float64, requires_grad=True)
    vp = _elements(grp, 3, 2, seed=5).requires_grad_()
    h = torch.rand(3, 2, 1, dtype=torch.float64, requires_grad=True)
    k = torch.randn(3, 2, n, dtype=torch.float64, requires_grad=True)
    vt = grp.parameterise(raw, normalise, 1e-3)
    v = grp.interpolate(h, vt, vp)
    out = grp.act(v, k)
    g_out = torch.randn_like(out)
    ref = torch.autograd.grad(out, [raw, vp, h, k], g_out)
    gv, gk = grp.act_bwd(v, k, g_out)
    gh, gvt, gvp = grp.interpolate_bwd(h, vt, vp, v, gv)
    graw = grp.parameterise_bwd(raw, vt, gvt, normalise, 1e-3)
    for mine, theirs in zip([graw, gvp, gh, gk], ref):
        assert torch.allclose(mine, theirs, atol=1e-12), (mine, theirs)


def test_registry_and_unknown_group():
    assert set(GROUPS) == {"translation", "so2", "scaling_rotation"}
    with pytest.raises(ConfigError, match="choose one of translation, so2, scaling_rotation"):
        make_group("mobius", 2)
