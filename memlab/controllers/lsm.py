"""Liquid state machine (Maass et al. 2002): a fixed LIF liquid with a trained readout of filtered spikes.

Maass, Natschläger & Markram 2002; seed 001 §2.3.2: a fixed random recurrent network of leaky
integrate-and-fire neurons (the "liquid") driven by spike trains, read out linearly from its
exponentially filtered spike trains.

Each step of length dt (ms, potentials in mV), in Brian2's order (groups, thresholds, synapses, resets):

    v ← v_∞ + (v − v_∞) e^{−dt/τ_m}   for non-refractory neurons, v_∞ = v_rest + R I_b   (exact LIF)
    s_t = [v > θ] ∧ not refractory                                                     (spikes)
    v ← v + (W s_t + W_in u_t) ⊙ [not refractory]        a refractory neuron is clamped at v_reset
    v ← v_reset where s_t;  refractory for the next ⌊t_ref / dt⌋ − 1 steps
    r_t = e^{−dt/τ_r} r_{t−1} + s_t                                        filtered spike trains

W (N, N): W[i, j] is the jump of v_i when neuron j spikes; a random fraction ``connectivity`` of
the pairs is connected; the first ``frac_excitatory``·N neurons are excitatory (w > 0), the rest
inhibitory (w < 0, ``inhibition`` times stronger), magnitudes ~ w · U(0.5, 1.5). W_in (N, I):
each input channel reaches a fraction ``input_connectivity`` of the neurons with w_in · U(0.5, 1.5).
Inputs u_t are spike trains (0/1) or, inside a larger model, real-valued (an injected jump in mV).
``tests/controllers/test_lsm.py`` checks the dynamics against Brian2 spike for spike.

The liquid is fixed (buffers); spikes have no gradient, so only the readout (``readout=True``:
a linear map of r_t to ``hidden_size``) and what follows it are trained.

Shapes: T time, B batch, I input channels, N neurons, O readout size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from memlab.core.errors import ConfigError, check_range
from memlab.core.interfaces import MemoryCore, run_core
from memlab.models.base import CoreSequenceModel, ModelEntry
from memlab.core.interfaces import TaskSpec


class LIFParams(NamedTuple):
    """Neuron constants (ms, mV). ``ref_steps``: refractory length in steps (spike step included)."""

    decay: float  # e^{−dt/τ_m}
    v_inf: float  # v_rest + R I_b
    v_thresh: float
    v_reset: float
    ref_steps: int
    trace_decay: float  # e^{−dt/τ_r}


class LSMState(NamedTuple):
    v: Tensor  # (B, N) membrane potential (mV)
    ref: Tensor  # (B, N) refractory steps left (float counts)
    r: Tensor  # (B, N) exponentially filtered spike trains
    s: Tensor  # (B, N) spikes of the last step (0/1)


def refractory_steps(refractory: float, dt: float) -> int:
    """⌊t_ref / dt⌋ with Brian2's tolerance (``timestep``): steps a neuron stays refractory, spike step included."""
    return int((refractory + 1e-3 * dt) / dt)


def lif_step(u_t: Tensor, state: LSMState, W: Tensor, W_in: Tensor, p: LIFParams) -> LSMState:
    """One LIF step (module docstring). u_t (B, I); W (N, N); W_in (N, I); state leaves (B, N)."""
    ref = (state.ref - 1).clamp_min(0)
    free = ref <= 0  # (B, N) not refractory
    v = torch.where(free, p.v_inf + (state.v - p.v_inf) * p.decay, state.v)
    s = (v > p.v_thresh) & free  # (B, N)
    sf = s.to(v.dtype)
    free = free & ~s  # Brian2's thresholder marks the spiking neurons refractory before synapses act
    v = v + (sf @ W.T + u_t @ W_in.T) * free.to(v.dtype)
    v = torch.where(s, torch.full_like(v, p.v_reset), v)
    ref = torch.where(s, torch.full_like(ref, float(p.ref_steps)), ref)
    return LSMState(v, ref, p.trace_decay * state.r + sf, sf)


def lif_run(u: Tensor, state: LSMState, W: Tensor, W_in: Tensor, p: LIFParams) -> tuple[LSMState, Tensor, Tensor]:
    """Drive the liquid with u (T, B, I): final state, spikes S (T, B, N) and traces R (T, B, N)."""
    S, R = [], []
    for u_t in u.unbind(0):
        state = lif_step(u_t, state, W, W_in, p)
        S.append(state.s)
        R.append(state.r)
    if not S:
        return state, u.new_zeros(0, *state.v.shape), u.new_zeros(0, *state.v.shape)
    return state, torch.stack(S), torch.stack(R)


def make_liquid(input_size: int, n: int, frac_excitatory: float, connectivity: float, w: float, inhibition: float,
                input_connectivity: float, w_in: float, seed: int = 0, dtype: torch.dtype = torch.float64
                ) -> tuple[Tensor, Tensor]:
    """Seeded random liquid: W (N, N) with excitatory columns > 0, inhibitory < 0, no self-loops; W_in (N, I)."""
    g = torch.Generator().manual_seed(seed)
    n_exc = round(frac_excitatory * n)
    sign = torch.cat([torch.ones(n_exc), -inhibition * torch.ones(n - n_exc)]).double()  # (N,) by presynaptic j
    W = (torch.rand(n, n, generator=g, dtype=torch.float64) < connectivity) * w * (0.5 + torch.rand(n, n, generator=g, dtype=torch.float64))
    W = W * sign.unsqueeze(0)
    W.fill_diagonal_(0.0)
    W_in_ = (torch.rand(n, input_size, generator=g, dtype=torch.float64) < input_connectivity) * w_in * (
        0.5 + torch.rand(n, input_size, generator=g, dtype=torch.float64))
    return W.to(dtype), W_in_.to(dtype)


@dataclass
class LSMConfig:
    """Maass et al. 2002's neuron constants (τ_m 30 ms, θ 15 mV, reset 13.5 mV, background 13.5 mV, t_ref 3 ms)."""

    input_size: int = 1
    hidden_size: int = 100  # output size: the trained readout's (readout=True) or N (readout=False)
    n_neurons: int = 0  # N; 0: N = hidden_size
    frac_excitatory: float = 0.8
    connectivity: float = 0.1  # probability of a synapse j -> i
    w: float = 0.5  # mean excitatory jump (mV); at 1.5 the default liquid sustains its own activity
    inhibition: float = 4.0  # inhibitory jumps are this many times stronger (and negative)
    input_connectivity: float = 0.3
    w_in: float = 8.0  # mean jump per input spike (mV)
    tau_m: float = 30.0  # membrane time constant (ms)
    v_rest: float = 0.0
    v_background: float = 13.5  # R I_b (mV): v relaxes to v_rest + v_background
    v_thresh: float = 15.0
    v_reset: float = 13.5
    refractory: float = 3.0  # ms
    dt: float = 1.0  # ms
    tau_readout: float = 30.0  # time constant of the filtered spike trains r_t (ms)
    readout: bool = True
    seed: int = 0

    def validate(self) -> None:
        check_range("input_size", self.input_size, 1)
        check_range("hidden_size", self.hidden_size, 1)
        check_range("n_neurons", self.n_neurons, 0)
        check_range("frac_excitatory", self.frac_excitatory, 0.0, 1.0)
        check_range("connectivity", self.connectivity, 0.0, 1.0)
        check_range("input_connectivity", self.input_connectivity, 0.0, 1.0)
        check_range("w", self.w, 0.0)
        check_range("inhibition", self.inhibition, 0.0)
        check_range("w_in", self.w_in, 0.0)
        check_range("tau_m", self.tau_m, 0.0, lo_open=True)
        check_range("tau_readout", self.tau_readout, 0.0, lo_open=True)
        check_range("dt", self.dt, 0.0, lo_open=True)
        check_range("refractory", self.refractory, 0.0)
        for name in ("v_rest", "v_background", "v_reset"):
            check_range(name, getattr(self, name))
        check_range("v_thresh", self.v_thresh, self.v_reset, lo_open=True)
        if not self.readout and self.n_neurons not in (0, self.hidden_size):
            raise ConfigError(f"n_neurons={self.n_neurons} needs readout=true (without a readout the output is "
                              f"the liquid, so hidden_size={self.hidden_size} is N); allowed: 0 or {self.hidden_size}")

    def params(self) -> LIFParams:
        return LIFParams(math.exp(-self.dt / self.tau_m), self.v_rest + self.v_background, self.v_thresh,
                         self.v_reset, refractory_steps(self.refractory, self.dt), math.exp(-self.dt / self.tau_readout))


def check_duration(refractory: float, dt: float, steps: int) -> None:
    """ConfigError when the refractory period is longer than a simulation of ``steps`` steps."""
    if refractory > steps * dt:
        raise ConfigError(f"refractory={refractory} ms is longer than the simulation ({steps} steps × dt={dt} ms = "
                          f"{steps * dt:g} ms); allowed: refractory <= {steps * dt:g}")


class LSMCore(MemoryCore):
    """A fixed LIF liquid (buffers W, W_in) with an optional trained linear readout of r_t.

    Output y_t (B, hidden_size): ``W_out r_t + b_out`` (readout=True) or r_t (readout=False).
    """

    def __init__(self, cfg: LSMConfig | None = None, **kw):
        super().__init__()
        cfg = cfg or LSMConfig(**kw)
        cfg.validate()
        self.cfg, self.p = cfg, cfg.params()
        self.N = cfg.n_neurons or cfg.hidden_size
        self.input_size, self.output_size = cfg.input_size, cfg.hidden_size
        W, W_in = make_liquid(cfg.input_size, self.N, cfg.frac_excitatory, cfg.connectivity, cfg.w, cfg.inhibition,
                              cfg.input_connectivity, cfg.w_in, cfg.seed, torch.get_default_dtype())
        self.register_buffer("W", W)  # (N, N), fixed
        self.register_buffer("W_in", W_in)  # (N, I), fixed
        self.out = nn.Linear(self.N, cfg.hidden_size) if cfg.readout else None

    def initial_state(self, batch_size: int, device=None) -> LSMState:
        z = torch.zeros(batch_size, self.N, device=device or self.W.device, dtype=self.W.dtype)
        return LSMState(z + self.cfg.v_rest, z, z, z)

    def _read(self, r: Tensor) -> Tensor:
        return self.out(r) if self.out is not None else r

    def forward(self, x_t: Tensor, state: LSMState) -> tuple[Tensor, LSMState]:
        """x_t (B, I) -> y_t (B, hidden_size) and the next state."""
        state = lif_step(x_t, state, self.W, self.W_in, self.p)
        return self._read(state.r), state

    def state_size(self, steps: int = 0) -> int:
        return 4 * self.N

    def run(self, xs: Tensor, state: LSMState | None = None) -> tuple[LSMState, Tensor, Tensor]:
        """Spikes S and traces R, each (T, B, N), for inputs xs (T, B, I); the final state."""
        check_duration(self.cfg.refractory, self.cfg.dt, xs.shape[0])
        state = state if state is not None else self.initial_state(xs.shape[1], xs.device)
        return lif_run(xs, state, self.W, self.W_in, self.p)

    def forward_sequence(self, xs: Tensor, state: LSMState | None = None, lengths: Tensor | None = None):
        """xs (T, B, I) -> ys (T, B, hidden_size), final state."""
        if lengths is not None:
            return run_core(self, xs, state, lengths)
        state, _, R = self.run(xs, state)
        return self._read(R), state


CONFIG, CORE = LSMConfig, LSMCore  # registry hooks (memlab.controllers.CONTROLLERS)


# --------------------------------------------------------------------------- the ``lsm`` model


@dataclass
class LSMModelConfig:
    """model.* settings of ``lsm``: embedding -> liquid -> the task's readout of r_t (trained by gradient)."""

    n_neurons: int = 200
    connectivity: float = 0.1
    w: float = 0.5
    inhibition: float = 4.0
    input_connectivity: float = 0.3
    w_in: float = 8.0
    tau_m: float = 30.0
    refractory: float = 3.0
    dt: float = 1.0
    tau_readout: float = 30.0
    embed: int = 0  # 0: the task's bits (symbolic tasks: one-hot tokens) are the input spike trains
    seed: int = 0

    def validate(self) -> None:
        from memlab.controllers.esn import model_setting_error

        check_range("model.embed", self.embed, 0)
        try:
            self.core_config(1).validate()
        except ConfigError as e:  # the core names its own field; the user set model.<field>
            raise ConfigError(model_setting_error(str(e), {"hidden_size": "n_neurons"})) from None

    def core_config(self, input_size: int) -> LSMConfig:
        keep = ("connectivity", "w", "inhibition", "input_connectivity", "w_in", "tau_m", "refractory", "dt",
                "tau_readout", "seed")
        return LSMConfig(input_size=input_size, hidden_size=self.n_neurons, readout=False,
                         **{k: getattr(self, k) for k in keep})


def build_lsm_model(cfg: LSMModelConfig, spec: TaskSpec) -> CoreSequenceModel:
    from memlab.models.base import InputEncoder

    one_hot = not cfg.embed  # symbolic tasks: a spike on the token's input channel
    size = InputEncoder(spec, cfg.embed or None, one_hot).out_size
    return CoreSequenceModel(spec, LSMCore(cfg.core_config(size)), cfg.embed or None, one_hot)


MODEL = ModelEntry(LSMModelConfig, build_lsm_model,
                   "liquid state machine: fixed LIF liquid, trained readout of filtered spikes (Maass et al. 2002)",
                   smoke={"n_neurons": 12, "embed": 4})
