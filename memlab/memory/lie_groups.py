"""Lie groups acting on the LANTM key space R^n (seed 004 §3.3–3.4).

A group is one class with a small interface used by ``memlab.memory.lie_access``:

* ``parameterise(raw, normalise)``: the candidate step ṽ from ``P`` raw controller numbers;
* ``interpolate(h, v_new, v_prev)``: the Lie-action interpolation v = h·ṽ + (1−h)·v_prev (§3.4);
* ``act(v, k)``: the group action v·k on a key (§3.3);
* ``compose(a, b)`` and ``identity``: the group law, for the action axioms (tests);
* ``*_bwd``: hand-written vector–Jacobian products of the three maps above, used by the fused
  sequence kernel (``memlab.memory.kernels.lantm_scan``); tests check them against autograd through
  the forward maps.

Shapes: ``...`` is any batch shape (B, A) with A heads; keys are (..., n), elements (..., P),
gates h are (..., 1).

Groups (``GROUPS``):

* ``translation``: (R^n, +) acting on R^n by v·k = k + v; straight-line interpolation.
  With ``normalise`` (the paper's second tweak) the candidate step is scaled to length ≈ 1:
  ṽ = r / sqrt(‖r‖² + δ).
* ``so2``: rotations of R², v = (a, b)/‖(a, b)‖ acting by complex multiplication; interpolation
  projects the straight line back onto the circle (§3.4).
* ``scaling_rotation``: R*×SO(2), v = (a, b) ≠ 0 acting by complex multiplication
  (a + bi)(x + yi) (§3.3.1); straight-line interpolation. ``normalise`` leaves it alone: its
  "size" is the scale factor, which the tweak would remove (turning it into SO(2)).
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor


def _unit(r: Tensor, delta: float) -> tuple[Tensor, Tensor]:
    """u = r / sqrt(‖r‖² + δ) and the factor s = (‖r‖² + δ)^(-1/2) (..., 1)."""
    s = torch.rsqrt((r * r).sum(-1, keepdim=True) + delta)  # (..., 1); delta: float or 0-dim tensor
    return r * s, s


def _unit_bwd(u: Tensor, s: Tensor, gu: Tensor) -> Tensor:
    """VJP of ``_unit``: ∂u_i/∂r_j = s(δ_ij − u_i u_j)  ⇒  g_r = s (g_u − u (u·g_u))."""
    return s * (gu - u * (u * gu).sum(-1, keepdim=True))


def _cmul(a: Tensor, b: Tensor) -> Tensor:
    """Complex product of (..., 2) pairs: (a0 + a1 i)(b0 + b1 i)."""
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    return torch.stack([a0 * b0 - a1 * b1, a1 * b0 + a0 * b1], -1)


def _conj(a: Tensor) -> Tensor:
    return torch.stack([a[..., 0], -a[..., 1]], -1)


def _lerp_bwd(h: Tensor, vn: Tensor, vp: Tensor, gv: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """VJP of v = vp + h (vn − vp): returns (g_h (..., 1), g_vn, g_vp)."""
    gvn = gv * h
    return (gv * (vn - vp)).sum(-1, keepdim=True), gvn, gv - gvn


class LieGroup(abc.ABC):
    """A Lie group G acting smoothly on the key space R^n, with P numbers per element."""

    name: str = "group"
    #: key dimension the group needs (None: any n)
    required_key_dim: int | None = None

    def __init__(self, key_dim: int):
        self.key_dim = key_dim

    @property
    @abc.abstractmethod
    def param_size(self) -> int:
        """P: controller outputs per candidate step, and the size of an element."""

    @abc.abstractmethod
    def identity(self, *shape: int, dtype=None, device=None) -> Tensor:
        """The unit e, shape (*shape, P)."""

    @abc.abstractmethod
    def compose(self, a: Tensor, b: Tensor) -> Tensor:
        """The product a * b (acting as ``act(a*b, k) == act(a, act(b, k))``)."""

    @abc.abstractmethod
    def act(self, v: Tensor, k: Tensor) -> Tensor:
        """v · k: element (..., P) acting on key (..., n) -> (..., n)."""

    @abc.abstractmethod
    def act_bwd(self, v: Tensor, k: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
        """VJP of ``act``: returns (g_v, g_k)."""

    @abc.abstractmethod
    def parameterise(self, raw: Tensor, normalise: bool, delta: float) -> Tensor:
        """Candidate step ṽ (..., P) from raw controller outputs (..., P)."""

    @abc.abstractmethod
    def parameterise_bwd(self, raw: Tensor, v: Tensor, g: Tensor, normalise: bool, delta: float) -> Tensor:
        """VJP of ``parameterise``: g_raw."""

    def interpolate(self, h: Tensor, v_new: Tensor, v_prev: Tensor) -> Tensor:
        """v = h·ṽ + (1−h)·v_prev (§3.4); h (..., 1)."""
        return torch.lerp(v_prev, v_new, h)

    def interpolate_bwd(
        self, h: Tensor, v_new: Tensor, v_prev: Tensor, v: Tensor, g: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """VJP of ``interpolate``: (g_h (..., 1), g_v_new, g_v_prev)."""
        return _lerp_bwd(h, v_new, v_prev, g)

    def init_key(self, *shape: int) -> Tensor:
        """A starting key (*shape, n) for the learnable initial state."""
        return torch.zeros(*shape, self.key_dim)

    def init_step(self, *shape: int, generator: torch.Generator | None = None) -> Tensor:
        """A starting step (*shape, P) for the learnable initial state (random, size ≈ 1)."""
        r = torch.randn(*shape, self.param_size, generator=generator)
        return r / r.norm(dim=-1, keepdim=True).clamp_min(1e-6)


class Translation(LieGroup):
    """(R^n, +) acting on R^n by translation: v·k = k + v (§3.3.3, any n)."""

    name = "translation"

    @property
    def param_size(self) -> int:
        return self.key_dim

    def identity(self, *shape, dtype=None, device=None) -> Tensor:
        return torch.zeros(*shape, self.key_dim, dtype=dtype, device=device)

    def compose(self, a, b):
        return a + b

    def act(self, v, k):
        return k + v

    def act_bwd(self, v, k, g):
        return g, g

    def parameterise(self, raw, normalise, delta):
        return _unit(raw, delta)[0] if normalise else raw

    def parameterise_bwd(self, raw, v, g, normalise, delta):
        if not normalise:
            return g
        s = torch.rsqrt((raw * raw).sum(-1, keepdim=True) + delta)  # (..., 1)
        return _unit_bwd(v, s, g)


class _ComplexGroup(LieGroup):
    """Elements (a, b) acting on R² by complex multiplication (a + bi)(x + yi)."""

    required_key_dim = 2

    @property
    def param_size(self) -> int:
        return 2

    def identity(self, *shape, dtype=None, device=None) -> Tensor:
        e = torch.zeros(*shape, 2, dtype=dtype, device=device)
        e[..., 0] = 1
        return e

    def compose(self, a, b):
        return _cmul(a, b)

    def act(self, v, k):
        return _cmul(v, k)

    def act_bwd(self, v, k, g):
        # k' = v k (complex)  ⇒  g_v = g · conj(k),  g_k = conj(v) · g
        return _cmul(g, _conj(k)), _cmul(_conj(v), g)

    def init_key(self, *shape: int) -> Tensor:
        # 0 is a fixed point of every rotation/scaling, so start on the unit circle
        k = torch.zeros(*shape, 2)
        k[..., 0] = 1
        return k

    def init_step(self, *shape: int, generator: torch.Generator | None = None) -> Tensor:
        # a small random rotation close to the identity
        theta = 0.3 * torch.randn(*shape, generator=generator)
        return torch.stack([torch.cos(theta), torch.sin(theta)], -1)


class SO2(_ComplexGroup):
    """Rotations of R² (§3.3.2): (a, b) scaled to unit norm; interpolation projected to the circle."""

    name = "so2"
    #: δ in the projection onto the circle
    delta = 1e-12

    def parameterise(self, raw, normalise, delta):
        return _unit(raw, self.delta)[0]

    def parameterise_bwd(self, raw, v, g, normalise, delta):
        s = torch.rsqrt(raw.square().sum(-1, keepdim=True) + self.delta)
        return _unit_bwd(v, s, g)

    def interpolate(self, h, v_new, v_prev):
        return _unit(torch.lerp(v_prev, v_new, h), self.delta)[0]

    def interpolate_bwd(self, h, v_new, v_prev, v, g):
        u = torch.lerp(v_prev, v_new, h)
        s = torch.rsqrt(u.square().sum(-1, keepdim=True) + self.delta)
        return _lerp_bwd(h, v_new, v_prev, _unit_bwd(v, s, g))


class ScalingRotation(_ComplexGroup):
    """R*×SO(2) (§3.3.1): v = (a, b) ≠ 0 acting by complex multiplication; straight-line interpolation."""

    name = "scaling_rotation"

    def parameterise(self, raw, normalise, delta):
        return raw

    def parameterise_bwd(self, raw, v, g, normalise, delta):
        return g


#: the group registry; a new group is one class plus one line here
GROUPS: dict[str, type[LieGroup]] = {
    "translation": Translation,
    "so2": SO2,
    "scaling_rotation": ScalingRotation,
}


def make_group(name: str, key_dim: int) -> LieGroup:
    """Instantiate group ``name`` on R^``key_dim`` (checks are in ``LANTMConfig.validate``)."""
    from memlab.core.errors import check_choice

    check_choice("model.group", name, GROUPS)
    return GROUPS[name](key_dim)
