"""lsm-separation: the separation property of a liquid state machine (Maass et al. 2002 Fig. 2;
seed 001 §2.3.2): two input spike trains u, v at distance d(u, v) drive the same liquid from the
same state; the liquid-state distance ‖x_u(t) − x_v(t)‖ grows with d(u, v).

Inputs: ``channels`` Poisson spike trains at ``rate_hz``; v is u with a fraction ``level`` of its
spikes moved to uniformly random times (1.0: independent trains). Input distance (Maass):
d(u, v) = ‖(u − v) ∗ k‖ / T with a Gaussian kernel k(t) = exp(−(t/τ_k)²), τ_k = 5 ms, the norm
over time and channels. Liquid state x(t): the spike trains filtered with τ_r = 30 ms
(``memlab.controllers.lsm``). One unit per level, ``pairs`` pairs each, one fixed liquid.
Records ``results/reservoir/lsm_separation.jsonl``; ``lsm_separation.md`` and ``.png`` from them.

    memlab run lsm-separation [--quick] [--set levels=0.1,0.5 pairs=10 duration_ms=300]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab.experiments._records import NUMBER
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.experiments.esn_capacity import wall_line
from memlab.theory.checks import check_int, check_memory, check_number, check_numbers, check_seed

STEM = "lsm_separation"


@dataclass
class LSMSeparationConfig:
    """levels: fractions of u's spikes moved to make v; pairs per level; the liquid's size and weights
    (the rest are ``LSMConfig`` defaults: Maass's neuron constants, dt = 1 ms)."""

    levels: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4, 1.0)
    pairs: int = 30
    n_neurons: int = 135  # Maass et al.'s 15 × 3 × 3 column
    channels: int = 4
    rate_hz: float = 20.0
    duration_ms: int = 500
    kernel_ms: float = 5.0
    w: float = 0.5
    w_in: float = 8.0
    sample_ms: int = 10  # the state distance curve is stored every sample_ms
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        check_numbers("levels", self.levels, 0.0, 1.0, lo_open=True)
        check_int("pairs", self.pairs, 2, 100_000)
        check_int("n_neurons", self.n_neurons, 1, 20000)
        check_int("channels", self.channels, 1, 1000)
        check_number("rate_hz", self.rate_hz, 0.0, 1000.0, lo_open=True)
        check_int("duration_ms", self.duration_ms, 10, 100000)
        check_number("kernel_ms", self.kernel_ms, 0.0, lo_open=True)
        check_number("w", self.w, 0.0)
        check_number("w_in", self.w_in, 0.0)
        check_int("sample_ms", self.sample_ms, 1, self.duration_ms)
        # u, v (T, P, C) and the liquid's spikes and states (T, 2P, N), float64, with working copies
        check_memory(f"pairs={self.pairs}, n_neurons={self.n_neurons}, duration_ms={self.duration_ms}",
                     8 * self.duration_ms * 2 * self.pairs * (2 * self.channels + 3 * self.n_neurons),
                     "use fewer pairs, neurons or a shorter duration_ms")


def poisson_trains(g, batch: int, steps: int, channels: int, rate_hz: float, dt_ms: float = 1.0):
    """Bernoulli approximation of Poisson spike trains: (T, B, C) of 0/1, P(spike) = rate · dt."""
    import torch

    return (torch.rand(steps, batch, channels, generator=g, dtype=torch.float64) < rate_hz * dt_ms / 1000.0).double()


def move_spikes(u, level: float, g):
    """v: u (T, B, C) with each spike moved, with probability ``level``, to a uniformly random time."""
    import torch

    v = u.clone()
    t, b, c = torch.nonzero(u, as_tuple=True)
    move = torch.rand(t.shape[0], generator=g, dtype=torch.float64) < level
    v[t[move], b[move], c[move]] = 0.0
    new_t = torch.randint(0, u.shape[0], (int(move.sum()),), generator=g)
    v[new_t, b[move], c[move]] = 1.0  # a collision merges two spikes (rare at these rates)
    return v


def input_distance(u, v, kernel_ms: float, dt_ms: float = 1.0):
    """Maass's d(u, v) = ‖(u − v) ∗ k‖ / T per batch entry; u, v (T, B, C) -> (B,)."""
    import torch

    half = int(3 * kernel_ms / dt_ms)
    t = torch.arange(-half, half + 1, dtype=torch.float64) * dt_ms
    k = torch.exp(-(t / kernel_ms) ** 2)  # (2h + 1,)
    d = (u - v).permute(1, 2, 0).reshape(-1, 1, u.shape[0])  # (B·C, 1, T)
    f = torch.nn.functional.conv1d(d, k.view(1, 1, -1), padding=half).reshape(u.shape[1], u.shape[2], -1)  # (B, C, T)
    return f.pow(2).sum((1, 2)).sqrt() / (u.shape[0] * dt_ms)


def separation_unit(cfg: LSMSeparationConfig, level: int | float, index: int) -> dict[str, Any]:
    """``pairs`` (u, v) pairs at one level through the liquid: input and state distances."""
    import torch

    from memlab.controllers.lsm import LSMCore

    core = LSMCore(input_size=cfg.channels, hidden_size=cfg.n_neurons, readout=False, w=cfg.w, w_in=cfg.w_in,
                   seed=cfg.seed).double()  # one liquid for every level
    g = torch.Generator().manual_seed(cfg.seed * 1000 + index + 1)
    u = poisson_trains(g, cfg.pairs, cfg.duration_ms, cfg.channels, cfg.rate_hz)
    v = move_spikes(u, level, g)
    with torch.no_grad():
        _, S, R = core.run(torch.cat([u, v], 1))  # (T, 2P, N)
    dist = (R[:, :cfg.pairs] - R[:, cfg.pairs:]).norm(dim=-1)  # (T, P)
    d_in = input_distance(u, v, cfg.kernel_ms)  # (P,)
    curve = dist[cfg.sample_ms - 1::cfg.sample_ms].mean(1)  # (T / sample,)
    return {"kind": "point", "level": level, "pairs": cfg.pairs,
            "input_distance": float(d_in.mean()), "state_distance_mean": float(dist.mean()),
            "state_distance_end": float(dist[-1].mean()), "rate_hz": float(S.mean()) * 1000.0,
            "t_ms": list(range(cfg.sample_ms, cfg.duration_ms + 1, cfg.sample_ms))[:len(curve)],
            "state_distance_t": [round(float(x), 5) for x in curve],
            "pair_input_distance": [round(float(x), 6) for x in d_in],
            "pair_state_distance": [round(float(x), 5) for x in dist.mean(0)]}


class LSMSeparation(Experiment):
    name = "lsm-separation"
    title = "liquid state machine: state distance vs input distance (separation property, Maass et al. 2002)"
    config_cls = LSMSeparationConfig
    default_out = "results/reservoir"
    records_file = f"{STEM}.jsonl"
    record_fields = {"kind": str, "level": NUMBER, "input_distance": NUMBER, "state_distance_mean": NUMBER,
                     "state_distance_end": NUMBER, "rate_hz": NUMBER, "t_ms": list, "state_distance_t": list,
                     "pair_input_distance": list, "pair_state_distance": list}

    def quick_overrides(self) -> dict[str, Any]:
        return {"levels": (0.1, 1.0), "pairs": 4, "n_neurons": 40, "duration_ms": 100}

    def units(self, cfg: LSMSeparationConfig) -> list[Unit]:
        return [Unit(f"level={lv:g}", {"level": lv, "index": i}) for i, lv in enumerate(cfg.levels)]

    def run_unit(self, cfg: LSMSeparationConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        return [separation_unit(cfg, unit.params["level"], unit.params["index"])]

    def summarise(self, cfg: LSMSeparationConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        import numpy as np

        pts = sorted((r for r in records if r.get("kind") == "point"), key=lambda r: r["level"])
        din = np.concatenate([r["pair_input_distance"] for r in pts]) if pts else np.zeros(0)
        dst = np.concatenate([r["pair_state_distance"] for r in pts]) if pts else np.zeros(0)
        corr = float(np.corrcoef(din, dst)[0, 1]) if len(din) > 2 else float("nan")
        rank = float(np.corrcoef(np.argsort(np.argsort(din)), np.argsort(np.argsort(dst)))[0, 1]) if len(din) > 2 else float("nan")
        lines = [f"# lsm-separation: liquid state distance vs input distance (`{STEM}.jsonl`, `{STEM}.png`)", "",
                 f"{cfg.n_neurons} LIF neurons (Maass et al. 2002 constants, w = {cfg.w} mV, w_in = {cfg.w_in} mV), "
                 f"{cfg.channels} Poisson inputs at {cfg.rate_hz:g} Hz for {cfg.duration_ms} ms; v moves a fraction of u's "
                 f"spikes; d(u, v) with a {cfg.kernel_ms:g} ms Gaussian kernel; state = spike trains filtered with τ = 30 ms; "
                 f"{cfg.pairs} pairs per level.", "",
                 "| spikes moved | d(u, v) | mean ‖x_u − x_v‖ over time | ‖x_u − x_v‖ at the end | liquid rate (Hz) |",
                 "|---|---|---|---|---|"]
        for r in pts:
            lines.append(f"| {r['level']:g} | {r['input_distance']:.4g} | {r['state_distance_mean']:.3f} | "
                         f"{r['state_distance_end']:.3f} | {r['rate_hz']:.1f} |")
        lines += ["", f"Across all {len(din)} pairs: Pearson correlation of input and state distance {corr:.3f}, "
                  f"Spearman {rank:.3f}.", "", wall_line(records, out_dir, self.meta_name), ""]
        (out_dir / f"{STEM}.md").write_text("\n".join(lines))
        return {"pearson": round(corr, 4), "spearman": round(rank, 4),
                "state_distance_by_level": {f"{r['level']:g}": round(r["state_distance_mean"], 4) for r in pts}}

    def plot(self, cfg: LSMSeparationConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.reservoir import plot_lsm_separation

        return [plot_lsm_separation(records, out_dir / f"{STEM}.png")]


EXPERIMENT = LSMSeparation()
