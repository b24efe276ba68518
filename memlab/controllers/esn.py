"""Echo state network (Jaeger 2001): a fixed random reservoir with a trained linear readout.

Jaeger & Haas 2004; seed 001 §2.3.2, seed 003: the reservoir's transient states carry the recent
input history, and only a linear readout of them is trained.

    x_t = (1 − a) x_{t−1} + a f(W x_{t−1} + W_in u_t + b)         leaky reservoir, a ∈ (0, 1]
    y_t = W_out x_t + b_out                                       the only trained part

W (N, N) is sparse (a fraction ``sparsity`` of its entries are zero), Gaussian, rescaled to the
spectral radius ρ = max|λ(W)|; W_in (N, I) ~ U(−s, s) with s the input scaling; b ~ U(−β, β).
f is tanh (or the identity for the linear network whose memory capacity has a closed form,
``memlab.theory.memory_capacity``). The readout is fitted in closed form by ridge regression
(``ridge_readout``: centred, unpenalised bias, as reservoirpy's ``Ridge``) or, inside a larger
model, by gradient: ``ESNCore`` is a controller whose output is a trained linear readout of size
``hidden_size`` (``readout=True``) or the raw reservoir state (``readout=False``, the ``esn``
model, whose softmax/bit readout the trainer fits).

The ``esn`` model's readout is trained by gradient (``model.readout=gradient``, the default) or
in closed form (``model.readout=ridge``): then the trainer takes no gradient steps but hands the
model each epoch's batches (``ESNModel.fit_closed_form``), which adds their masked reservoir
states and targets to running sums (``ridge_moments``, kept as buffers, so checkpoints hold them)
and solves the ridge normal equations over every batch seen so far (``ridge_solve``). Targets
are one-hot tokens (symbolic tasks: the prediction is the argmax) or bits as ±1 (binary tasks:
the prediction is the sign, the logit threshold 0).

A reservoir with ρ ≫ 1 and tanh saturating has lost the echo state property (its state no longer
depends on the input history); it is reported when built (``ReservoirDiverges``, or a
``ReservoirWarning`` with ``divergence=warn``), never silently trained.

Shapes: T time, B batch, I input size, N reservoir size, O readout size, S samples.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError, MemlabError, check_choice, check_range
from memlab.core.interfaces import MemoryCore, run_core
from memlab.models.base import CoreSequenceModel, ModelEntry
from memlab.core.interfaces import TaskSpec

ACTIVATIONS = ("tanh", "linear")
DIVERGENCE = ("error", "warn", "ignore")
#: a unit counts as saturated when |x| exceeds this; a tanh reservoir with ρ > 1 diverges when
#: more than ``MAX_SATURATION`` of its probe states are saturated
SATURATED, MAX_SATURATION, PROBE_STEPS = 0.99, 0.5, 200


class ReservoirDiverges(MemlabError):
    """The reservoir lost the echo state property (saturated or unbounded states)."""


class ReservoirWarning(UserWarning):
    """A diverging reservoir built with ``divergence=warn``."""


class ESNState(NamedTuple):
    x: Tensor  # (B, N) reservoir state


# --------------------------------------------------------------------------- maths


def activation_fn(name: str):
    check_choice("activation", name, ACTIVATIONS)
    return torch.tanh if name == "tanh" else (lambda z: z)


def esn_step(u_t: Tensor, x: Tensor, W: Tensor, W_in: Tensor, b: Tensor, leak: float, activation: str = "tanh") -> Tensor:
    """One leaky step x_t = (1 − a) x_{t−1} + a f(W x_{t−1} + W_in u_t + b).

    u_t (B, I), x (B, N), W (N, N), W_in (N, I), b (N,) -> x_t (B, N).
    """
    f = activation_fn(activation)
    return (1 - leak) * x + leak * f(x @ W.T + u_t @ W_in.T + b)


def esn_states(u: Tensor, x0: Tensor, W: Tensor, W_in: Tensor, b: Tensor, leak: float, activation: str = "tanh") -> Tensor:
    """The reservoir states driven by ``u``: (T, B, I), from ``x0``: (B, N) -> X (T, B, N).

    A pure function of its arguments (the same for every caller: core, tests, experiments).
    """
    f = activation_fn(activation)
    drive = u @ W_in.T + b  # (T, B, N): the input part of every step at once
    x, xs = x0, []
    for t in range(u.shape[0]):
        x = (1 - leak) * x + leak * f(x @ W.T + drive[t])
        xs.append(x)
    return torch.stack(xs, 0) if xs else u.new_zeros(0, *x0.shape)  # (T, B, N)


def ridge_readout(X: Tensor, Y: Tensor, ridge: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Closed-form ridge regression with an unpenalised bias: Y ≈ X W_outᵀ + b_out.

    W_out = Ycᵀ Xc (Xcᵀ Xc + λ I)⁻¹ on centred Xc, Yc; b_out = ȳ − W_out x̄ (solved in float64).
    X (S, N), Y (S, O) -> W_out (O, N), b_out (O,).
    """
    check_range("ridge", ridge, 0.0)
    if X.dim() != 2 or Y.dim() != 2 or X.shape[0] != Y.shape[0]:
        raise ConfigError(f"ridge_readout needs X (S, N) and Y (S, O) with the same S; got {tuple(X.shape)}, {tuple(Y.shape)}")
    Xd, Yd = X.double(), Y.double()
    xm, ym = Xd.mean(0), Yd.mean(0)
    Xc, Yc = Xd - xm, Yd - ym
    A = Xc.T @ Xc + ridge * torch.eye(X.shape[1], dtype=torch.float64, device=X.device)  # (N, N)
    W_out = torch.linalg.lstsq(A, Xc.T @ Yc).solution.T  # (O, N); lstsq copes with a singular A at λ = 0
    return W_out.to(X.dtype), (ym - W_out @ xm).to(X.dtype)


class RidgeMoments(NamedTuple):
    """Sufficient statistics of a ridge fit over S samples (float64); sums add over batches."""

    n: Tensor  # () S
    sx: Tensor  # (N,) Σ x
    sy: Tensor  # (O,) Σ y
    Sxx: Tensor  # (N, N) Σ x xᵀ
    Sxy: Tensor  # (N, O) Σ x yᵀ


def ridge_moments(X: Tensor, Y: Tensor) -> RidgeMoments:
    """The sums of samples X (S, N), Y (S, O) in float64 (add two with ``add_moments``)."""
    Xd, Yd = X.double(), Y.double()
    return RidgeMoments(Xd.new_tensor(float(X.shape[0])), Xd.sum(0), Yd.sum(0), Xd.T @ Xd, Xd.T @ Yd)


def add_moments(a: RidgeMoments, b: RidgeMoments) -> RidgeMoments:
    return RidgeMoments(*(x + y for x, y in zip(a, b)))


def ridge_solve(m: RidgeMoments, ridge: float = 1e-8) -> tuple[Tensor, Tensor]:
    """``ridge_readout`` from sums: W_outᵀ = (Cxx + λ I)⁻¹ Cxy with the centred second moments
    Cxx = Σ x xᵀ − S x̄ x̄ᵀ, Cxy = Σ x yᵀ − S x̄ ȳᵀ; b_out = ȳ − W_out x̄. -> W_out (O, N), b_out (O,) float64,
    all NaN when the sums are not finite (the trainer then stops the run as diverged)."""
    check_range("ridge", ridge, 0.0)
    if float(m.n) < 1:
        raise ConfigError("a ridge fit needs at least one sample; got 0 (no masked positions in the batches)")
    xm, ym = m.sx / m.n, m.sy / m.n  # (N,), (O,)
    Cxx = m.Sxx - m.n * torch.outer(xm, xm)  # (N, N)
    Cxy = m.Sxy - m.n * torch.outer(xm, ym)  # (N, O)
    if not (torch.isfinite(Cxx).all() and torch.isfinite(Cxy).all()):  # overflowing states: say so with NaN
        nan = torch.full((Cxy.shape[1], Cxx.shape[0]), float("nan"), dtype=Cxx.dtype, device=Cxx.device)
        return nan, nan[:, 0]
    A = Cxx + ridge * torch.eye(Cxx.shape[0], dtype=Cxx.dtype, device=Cxx.device)
    W_out = torch.linalg.lstsq(A, Cxy).solution.T  # (O, N)
    return W_out, ym - W_out @ xm


def spectral_radius(W: Tensor) -> float:
    """max |λ(W)| of a square matrix W (N, N)."""
    return float(torch.linalg.eigvals(W.double()).abs().max()) if W.numel() else 0.0


def make_reservoir(input_size: int, n: int, spectral_radius_: float, input_scaling: float, sparsity: float,
                   bias_scaling: float = 0.0, seed: int = 0, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor, Tensor]:
    """Seeded random reservoir: W (N, N) at spectral radius ρ, W_in (N, I), b (N,)."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(100):  # a small sparse draw can be nilpotent (ρ = 0): redraw, still seeded
        W = torch.randn(n, n, generator=g, dtype=torch.float64)
        W = W * (torch.rand(n, n, generator=g, dtype=torch.float64) >= sparsity)  # keep a fraction 1 − sparsity
        rho = spectral_radius(W)
        if rho > 1e-12:
            break
    else:
        raise ConfigError(f"the random reservoir has spectral radius 0 (N={n}, sparsity={sparsity}); lower sparsity or raise the size")
    W = W * (spectral_radius_ / rho)
    W_in = (torch.rand(n, input_size, generator=g, dtype=torch.float64) * 2 - 1) * input_scaling
    b = (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * bias_scaling
    return W.to(dtype), W_in.to(dtype), b.to(dtype)


def saturation(X: Tensor) -> float:
    """Fraction of reservoir units with |x| > ``SATURATED`` in states X (..., N)."""
    return float((X.abs() > SATURATED).double().mean()) if X.numel() else 0.0


def divergence_report(W: Tensor, W_in: Tensor, b: Tensor, leak: float, activation: str, seed: int = 0) -> str | None:
    """Why this reservoir diverges, or None: drive it ``PROBE_STEPS`` steps with u ~ N(0, 1).

    tanh: ρ > 1 and more than ``MAX_SATURATION`` of the probe states saturated; linear: the
    effective step matrix (1 − a) I + a W has spectral radius ≥ 1 (states grow without bound).
    """
    rho = spectral_radius(W)
    if activation == "linear":
        rho_eff = spectral_radius((1 - leak) * torch.eye(W.shape[0], dtype=W.dtype) + leak * W)
        if rho_eff >= 1:
            return f"linear reservoir with effective spectral radius {rho_eff:.3g} >= 1: its states grow without bound"
        return None
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(PROBE_STEPS, 1, W_in.shape[1], generator=g, dtype=torch.float64)
    X = esn_states(u, torch.zeros(1, W.shape[0], dtype=torch.float64), W.double(), W_in.double(), b.double(), leak, activation)
    if not torch.isfinite(X).all():
        return "reservoir states became non-finite"
    sat = saturation(X[PROBE_STEPS // 2:])
    if rho > 1 and sat > MAX_SATURATION:
        return (f"spectral radius {rho:.3g} > 1 with {sat:.0%} of tanh units saturated (|x| > {SATURATED}): "
                "the echo state property is lost")
    return None


def report_divergence(reason: str | None, mode: str) -> None:
    """Raise ``ReservoirDiverges`` (mode error) or warn (mode warn) when ``reason`` is set."""
    if reason is None or mode == "ignore":
        return
    msg = f"reservoir diverges: {reason}; lower spectral_radius (<= ~1) or input_scaling, or set divergence=warn"
    if mode == "error":
        raise ReservoirDiverges(msg)
    warnings.warn(msg, ReservoirWarning, stacklevel=3)


# --------------------------------------------------------------------------- config and core


@dataclass
class ESNConfig:
    input_size: int = 1
    hidden_size: int = 100  # output size: the trained readout's (readout=True) or N (readout=False)
    reservoir_size: int = 0  # N; 0: N = hidden_size
    spectral_radius: float = 0.9  # ρ = max|λ(W)| > 0
    input_scaling: float = 1.0  # W_in ~ U(−s, s)
    bias_scaling: float = 0.0  # b ~ U(−β, β)
    leak: float = 1.0  # a ∈ (0, 1]; 1: no leak
    sparsity: float = 0.9  # fraction of zero recurrent weights, in [0, 1)
    activation: str = "tanh"  # tanh | linear
    readout: bool = True  # a trained linear readout (N -> hidden_size) as the output
    divergence: str = "error"  # error | warn | ignore: what a diverging reservoir does at build time
    seed: int = 0

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1)
        check_range("hidden_size", self.hidden_size, 1)
        check_range("reservoir_size", self.reservoir_size, 0)
        check_range("spectral_radius", self.spectral_radius, 0.0, lo_open=True)
        check_range("input_scaling", self.input_scaling, 0.0)
        check_range("bias_scaling", self.bias_scaling, 0.0)
        check_range("leak", self.leak, 0.0, 1.0, lo_open=True)
        check_range("sparsity", self.sparsity, 0.0, 1.0, hi_open=True)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("divergence", self.divergence, DIVERGENCE)
        if not self.readout and self.reservoir_size not in (0, self.hidden_size):
            raise ConfigError(f"reservoir_size={self.reservoir_size} needs readout=true (without a readout the output "
                              f"is the reservoir, so hidden_size={self.hidden_size} is N); allowed: 0 or {self.hidden_size}")


class ESNCore(MemoryCore):
    """A fixed reservoir (buffers W, W_in, b) with an optional trained linear readout.

    Output y_t (B, hidden_size): ``W_out x_t + b_out`` (readout=True) or x_t (readout=False).
    """

    def __init__(self, cfg: ESNConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or ESNConfig(**kw)
        cfg.validate()
        self.cfg = cfg
        self.N = cfg.reservoir_size or cfg.hidden_size
        self.input_size, self.output_size = cfg.input_size, cfg.hidden_size
        W, W_in, b = make_reservoir(cfg.input_size, self.N, cfg.spectral_radius, cfg.input_scaling, cfg.sparsity,
                                    cfg.bias_scaling, cfg.seed)
        report_divergence(divergence_report(W, W_in, b, cfg.leak, cfg.activation, cfg.seed), cfg.divergence)
        dtype = torch.get_default_dtype()
        self.register_buffer("W", W.to(dtype))  # (N, N), fixed
        self.register_buffer("W_in", W_in.to(dtype))  # (N, I), fixed
        self.register_buffer("b", b.to(dtype))  # (N,), fixed
        self.out = nn.Linear(self.N, cfg.hidden_size) if cfg.readout else None

    def initial_state(self, batch_size: int, device=None) -> ESNState:
        return ESNState(torch.zeros(batch_size, self.N, device=device or self.W.device, dtype=self.W.dtype))

    def _read(self, x: Tensor) -> Tensor:
        return self.out(x) if self.out is not None else x

    def forward(self, x_t: Tensor, state: ESNState) -> tuple[Tensor, ESNState]:
        """x_t (B, I) -> y_t (B, hidden_size) and the next state."""
        x = esn_step(x_t, state.x, self.W, self.W_in, self.b, self.cfg.leak, self.cfg.activation)
        return self._read(x), ESNState(x)

    def state_size(self, steps: int = 0) -> int:
        return self.N

    def states(self, xs: Tensor, state: ESNState | None = None) -> Tensor:
        """Reservoir states X (T, B, N) for inputs xs (T, B, I)."""
        x0 = (state or self.initial_state(xs.shape[1], xs.device)).x
        return esn_states(xs, x0, self.W, self.W_in, self.b, self.cfg.leak, self.cfg.activation)

    def forward_sequence(self, xs: Tensor, state: ESNState | None = None, lengths: Tensor | None = None):
        """xs (T, B, I) -> ys (T, B, hidden_size), final state."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        X = self.states(xs, state)
        final = ESNState(X[-1]) if X.shape[0] else (state or self.initial_state(xs.shape[1], xs.device))
        return self._read(X), final

    @torch.no_grad()
    def fit_readout(self, xs: Tensor, ys: Tensor, washout: int = 0, ridge: float = 1e-8) -> tuple[Tensor, Tensor]:
        """Fit the readout in closed form on inputs xs (T, B, I) and targets ys (T, B, O),
        dropping the first ``washout`` steps; sets ``self.out`` when O = hidden_size. Returns W_out, b_out."""
        check_range("washout", washout, 0, xs.shape[0] - 1)
        X = self.states(xs)[washout:]  # (T', B, N)
        Y = ys[washout:]
        W_out, b_out = ridge_readout(X.reshape(-1, self.N), Y.reshape(-1, Y.shape[-1]), ridge)
        if self.out is not None and W_out.shape[0] == self.out.out_features:
            self.out.weight.copy_(W_out)
            self.out.bias.copy_(b_out)
        return W_out, b_out


CONFIG, CORE = ESNConfig, ESNCore  # registry hooks (memlab.controllers.CONTROLLERS)


# --------------------------------------------------------------------------- the ``esn`` model


@dataclass
class ESNModelConfig:
    """model.* settings of ``esn``: embedding -> reservoir -> the task's readout, trained by gradient
    (``readout=gradient``) or by ridge regression in closed form (``readout=ridge``, penalty ``ridge`` λ;
    the embedding then stays at its random initialisation, a fixed input projection)."""

    reservoir_size: int = 200
    spectral_radius: float = 0.9
    input_scaling: float = 1.0
    bias_scaling: float = 0.1
    leak: float = 1.0
    sparsity: float = 0.9
    activation: str = "tanh"
    embed: int = 0  # 0: identity for binary tasks, fixed one-hot tokens for symbolic ones
    divergence: str = "error"
    seed: int = 0  # the reservoir's seed
    readout: str = "gradient"  # gradient | ridge
    ridge: float = 1e-6  # λ of readout=ridge

    def validate(self) -> None:
        check_range("model.embed", self.embed, 0)
        check_choice("model.readout", self.readout, READOUTS)
        check_range("model.ridge", self.ridge, 0.0)
        try:
            self.core_config(1).validate()
        except ConfigError as e:  # the core names its own field; the user set model.<field>
            raise ConfigError(model_setting_error(str(e), {"hidden_size": "reservoir_size"})) from None

    def core_config(self, input_size: int) -> ESNConfig:
        return ESNConfig(input_size=input_size, hidden_size=self.reservoir_size, reservoir_size=0,
                         spectral_radius=self.spectral_radius, input_scaling=self.input_scaling,
                         bias_scaling=self.bias_scaling, leak=self.leak, sparsity=self.sparsity,
                         activation=self.activation, readout=False, divergence=self.divergence, seed=self.seed)


READOUTS = ("gradient", "ridge")


def model_setting_error(msg: str, renamed: dict[str, str]) -> str:
    """A core's ``field=value …`` message as the model setting the user wrote: ``model.field=value …``."""
    field, sep, rest = msg.partition("=")
    if not sep or not field.isidentifier():
        return msg
    return f"model.{renamed.get(field, field)}={rest}"


class ESNModel(CoreSequenceModel):
    """embedding -> fixed reservoir (``ESNCore``, readout=False) -> linear readout (T, B, output_size).

    ``readout="ridge"``: ``fits_in_closed_form`` tells the trainer to call ``fit_closed_form``
    instead of taking gradient steps; the running sums are buffers ``ridge_n``, ``ridge_sx``, …
    """

    def __init__(self, spec: TaskSpec, core: ESNCore, embed: int | None, readout: str = "gradient", ridge: float = 1e-6,
                 one_hot: bool = False):
        super().__init__(spec, core, embed, one_hot)
        check_choice("model.readout", readout, READOUTS)
        self.fits_in_closed_form = readout == "ridge"
        self.ridge = ridge
        if self.fits_in_closed_form:
            N, O = core.output_size, spec.output_size
            for name, shape in zip(RidgeMoments._fields, [(), (N,), (O,), (N, N), (N, O)]):
                self.register_buffer("ridge_" + name, torch.zeros(shape, dtype=torch.float64))

    @property
    def moments(self) -> RidgeMoments:
        return RidgeMoments(*(getattr(self, "ridge_" + name) for name in RidgeMoments._fields))

    def ridge_targets(self, batch) -> Tensor:
        """The regression targets at the masked positions (S, output_size): one-hot tokens, or bits as ±1."""
        y = batch.targets[batch.mask]  # (S,) tokens or (S, O) bits
        if self.spec.kind == "symbolic":
            return torch.nn.functional.one_hot(y, self.spec.output_size).double()
        return 2.0 * y.double() - 1.0

    @torch.no_grad()
    def fit_closed_form(self, batches) -> None:
        """Add the batches' masked (state, target) pairs to the sums and set the readout to the
        ridge solution over every pair seen so far (the trainer's closed-form hook)."""
        if not self.fits_in_closed_form:
            raise MemlabError("fit_closed_form needs model.readout=ridge")
        m = self.moments
        for batch in batches:
            X = self.core.states(self.encoder(batch.inputs))  # (T, B, N)
            m = add_moments(m, ridge_moments(X[batch.mask], self.ridge_targets(batch)))  # X[mask]: (S, N)
        for name, value in zip(RidgeMoments._fields, m):
            getattr(self, "ridge_" + name).copy_(value)
        W_out, b_out = ridge_solve(m, self.ridge)
        self.readout.weight.copy_(W_out)
        self.readout.bias.copy_(b_out)


def build_esn_model(cfg: ESNModelConfig, spec: TaskSpec) -> ESNModel:
    from memlab.models.base import InputEncoder

    one_hot = not cfg.embed  # symbolic tasks: the reservoir reads one-hot tokens through its fixed W_in
    size = InputEncoder(spec, cfg.embed or None, one_hot).out_size
    return ESNModel(spec, ESNCore(cfg.core_config(size)), cfg.embed or None, cfg.readout, cfg.ridge, one_hot)


MODEL = ModelEntry(ESNModelConfig, build_esn_model, "echo state network: fixed random reservoir, trained readout (seed 001 §2.3.2)",
                   smoke={"reservoir_size": 12, "embed": 4})
