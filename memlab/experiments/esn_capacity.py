"""esn-capacity: linear memory capacity MC = Σ_k r²(k) of trained echo state network readouts
against the reservoir size N (Jaeger 2002; seed 001 §2.3.2).

Each unit drives one seeded ``memlab.controllers.esn`` reservoir (linear or tanh) with i.i.d.
u(t) ~ N(0, 1) and state noise z(t) ~ N(0, ε I) (seed 001 eq. 2.26), fits one ridge readout per
lag k = 0..K on the first half of the states (``ridge_readout``, closed form) and scores the
held-out squared correlation r²(k) on the second half. For a linear reservoir the optimal
readout's r²(k) at the same ε is known in closed form (``memlab.theory.memory_capacity``),
recorded beside it: the regression must reach it and not exceed it (up to estimation noise).
Without noise MC = N for a generic linear network; with noise, MC < N and saturates in N.
Records ``results/reservoir/esn_capacity.jsonl``; ``esn_capacity.md`` and ``.png`` from them.

    memlab run esn-capacity [--quick] [--set sizes=10,50 trials=2 activations=linear]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab.core.errors import ConfigError, check_choice
from memlab.experiments._records import NUMBER
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.theory.checks import check_int, check_memory, check_number, check_numbers, check_seed

STEM = "esn_capacity"


@dataclass
class ESNCapacityConfig:
    """sizes: reservoir sizes N; activations: linear and/or tanh; K = k_max lags; T: steps after
    the washout (half to fit the readouts, half to score them); trials: reservoirs per (N, activation)."""

    sizes: tuple[int, ...] = (10, 25, 50, 100, 200)
    activations: tuple[str, ...] = ("linear", "tanh")
    spectral_radius: float = 0.9
    input_scaling: float = 0.1  # small: the tanh reservoir stays near its linear regime
    leak: float = 1.0
    sparsity: float = 0.5
    k_max: int = 300
    T: int = 20000
    washout: int = 500
    ridge: float = 1e-10
    noise: float = 1e-8  # state noise variance ε (seed 001 eq. 2.26); 0: noise-free, where C is singular in float64 for N ≳ 25
    trials: int = 3
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        check_numbers("sizes", self.sizes, 1, integer=True)
        for a in self.activations:
            check_choice("activations", a, ("linear", "tanh"))
        if not self.activations:
            raise ConfigError("activations=() is empty; choose linear and/or tanh")
        check_number("spectral_radius", self.spectral_radius, 0.0, lo_open=True)
        check_number("input_scaling", self.input_scaling, 0.0, lo_open=True)
        check_number("leak", self.leak, 0.0, 1.0, lo_open=True)
        check_number("sparsity", self.sparsity, 0.0, 1.0, hi_open=True)
        check_number("ridge", self.ridge, 0.0)
        check_number("noise", self.noise, 0.0)
        check_int("k_max", self.k_max, 0)
        check_int("washout", self.washout, 0)
        check_int("trials", self.trials, 1, 10_000)  # reservoirs per (N, activation); one unit each
        check_int("T", self.T, 4 * (self.k_max + 1))
        n = max(self.sizes)
        check_memory(f"T={self.T}, sizes up to {n}, k_max={self.k_max}", 8 * 4 * (self.T + self.washout) * (n + self.k_max + 1),
                     "use smaller T, sizes or k_max")


def capacity_unit(N: int, activation: str, cfg: ESNCapacityConfig, seed: int) -> dict[str, Any]:
    """One reservoir: held-out r²(k), k = 0..K, and for a linear one the closed form at the same noise."""
    import numpy as np
    import torch

    from memlab.controllers.esn import ESNCore, esn_states, ridge_readout

    core = ESNCore(input_size=1, hidden_size=N, spectral_radius=cfg.spectral_radius, input_scaling=cfg.input_scaling,
                   leak=cfg.leak, sparsity=cfg.sparsity, activation=activation, readout=False, seed=seed).double()
    g = torch.Generator().manual_seed(seed + 1)
    steps = cfg.T + cfg.washout
    u = torch.randn(steps, 1, 1, generator=g, dtype=torch.float64)
    z = cfg.noise**0.5 * torch.randn(steps, 1, N, generator=g, dtype=torch.float64)  # state noise z_t, variance ε
    # z_t enters beside the input: W_in u_t + z_t = [W_in, I] [u_t; z_t] (seed 001 eq. 2.26)
    W_in = torch.cat([core.W_in, torch.eye(N, dtype=torch.float64)], 1)  # (N, 1 + N)
    with torch.no_grad():
        X = esn_states(torch.cat([u, z], -1), torch.zeros(1, N, dtype=torch.float64), core.W, W_in, core.b,
                       cfg.leak, activation)[:, 0]  # (T + washout, N)
    K, half = cfg.k_max, cfg.T // 2
    idx = torch.arange(cfg.washout + K, steps)  # every lag reaches back inside the drive
    Y = torch.stack([u[idx - k, 0, 0] for k in range(K + 1)], 1)  # (T', K + 1): u(t − k)
    F = X[idx]  # (T', N)
    W_out, b_out = ridge_readout(F[:half], Y[:half], cfg.ridge)
    pred, target = (F[half:] @ W_out.T + b_out).numpy(), Y[half:].numpy()  # (T'', K + 1)
    pc, tc = pred - pred.mean(0), target - target.mean(0)
    r2 = (pc * tc).sum(0) ** 2 / np.maximum((pc**2).sum(0) * (tc**2).sum(0), 1e-300)
    rec: dict[str, Any] = {"kind": "point", "N": N, "activation": activation, "trial_seed": seed,
                           "MC_test": float(r2.sum()), "n_train": half, "n_test": int(target.shape[0]),
                           "r2": [round(float(x), 6) for x in r2]}
    if activation == "linear":
        from memlab.theory.memory_capacity import memory_capacity_closed_form, memory_function_closed_form

        a = cfg.leak
        W_eff = ((1 - a) * torch.eye(N, dtype=torch.float64) + a * core.W).numpy()  # x_t = W_eff x_{t−1} + v u_t + a z_t
        v = (a * core.W_in[:, 0]).numpy()
        try:
            rec["MC_closed"] = float(memory_capacity_closed_form(W_eff, v, eps=a * a * cfg.noise))
            closed = memory_function_closed_form(W_eff, v, K, eps=a * a * cfg.noise)
            rec["MC_closed_kmax"] = float(closed.sum())
            rec["r2_closed"] = [round(float(x), 6) for x in closed]
        except (ConfigError, np.linalg.LinAlgError) as e:  # noise = 0 and a numerically singular C
            rec["MC_closed"] = rec["MC_closed_kmax"] = None
            rec["closed_form_error"] = f"{type(e).__name__}: {e}"
    return rec


class ESNCapacity(Experiment):
    name = "esn-capacity"
    title = "echo state network: linear memory capacity of trained readouts vs reservoir size N (MC ≤ N)"
    config_cls = ESNCapacityConfig
    default_out = "results/reservoir"
    records_file = f"{STEM}.jsonl"
    record_fields = {"kind": str, "activation": str, "N": int, "MC_test": NUMBER, "r2": list}

    def quick_overrides(self) -> dict[str, Any]:
        return {"sizes": (5, 10), "k_max": 30, "T": 2000, "washout": 100, "trials": 1}

    def units(self, cfg: ESNCapacityConfig) -> list[Unit]:
        return [Unit(f"{act}-N={N}-t={t}", {"N": N, "activation": act, "seed": cfg.seed + 1000 * t + N})
                for N in sorted(cfg.sizes, reverse=True) for act in cfg.activations for t in range(cfg.trials)]

    def run_unit(self, cfg: ESNCapacityConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        return [capacity_unit(unit.params["N"], unit.params["activation"], cfg, unit.params["seed"])]

    def summarise(self, cfg: ESNCapacityConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        rows = table(records)
        wall = sum(r.get("unit_wall_s", 0.0) for r in records)
        lines = [f"# esn-capacity: linear memory capacity vs reservoir size (`{STEM}.jsonl`, `{STEM}.png`)", "",
                 f"Held-out MC = Σ_k r²(k), k = 0..{cfg.k_max}, of ridge readouts fitted on {cfg.T // 2} steps and scored on "
                 f"the rest; ρ = {cfg.spectral_radius}, input scaling {cfg.input_scaling}, leak {cfg.leak}, sparsity "
                 f"{cfg.sparsity}, state noise ε = {cfg.noise:g}; mean ± sd over {cfg.trials} reservoirs. Closed form: the "
                 "optimal linear readout of the linear network at the same ε (all lags, and lags k ≤ K); without noise it "
                 "would be N.", "",
                 "| activation | N | MC held-out | MC / N | MC closed form (all lags) | closed form, k ≤ K |", "|---|---|---|---|---|---|"]
        for r in rows:
            closed = "—" if r["closed"] is None else f"{r['closed']:.3f}"
            closed_k = "—" if r["closed_k"] is None else f"{r['closed_k']:.3f}"
            lines.append(f"| {r['activation']} | {r['N']} | {r['mc']:.2f} ± {r['sd']:.2f} | {r['mc'] / r['N']:.3f} | {closed} | {closed_k} |")
        lines += ["", wall_line(records, out_dir, self.meta_name), ""]
        (out_dir / f"{STEM}.md").write_text("\n".join(lines))
        return {"MC_by_N": {f"{r['activation']}-{r['N']}": round(r["mc"], 3) for r in rows}, "unit_wall_s": round(wall, 1)}

    def plot(self, cfg: ESNCapacityConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.reservoir import plot_esn_capacity

        return [plot_esn_capacity(records, out_dir / f"{STEM}.png")]


def wall_line(records: list[dict[str, Any]], out_dir: Path, meta_name: str) -> str:
    """One line: units, their summed wall time (from the records) and the runs' wall time (meta file)."""
    import json

    wall = sum(r.get("unit_wall_s", 0.0) for r in records)
    line = f"Compute: {len(records)} units, {wall:.1f} s of unit wall time in total (summed over workers)"
    try:
        meta = json.loads((out_dir / meta_name).read_text())
        runs = meta.get("invocations") or []
        line += (f"; {sum(i.get('wall_seconds', 0.0) for i in runs):.1f} s wall clock over {len(runs)} invocation(s) "
                 f"with {max((i.get('jobs', 1) for i in runs), default=1)} worker(s)")
    except (OSError, ValueError, AttributeError):
        pass
    return line + "."


def table(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± sd of MC per (activation, N), with the mean closed forms (None where there is none)."""
    import numpy as np

    pts = [r for r in records if r.get("kind") == "point"]
    out = []
    for act in dict.fromkeys(r["activation"] for r in pts):
        for N in sorted({r["N"] for r in pts if r["activation"] == act}):
            rs = [r for r in pts if r["activation"] == act and r["N"] == N]
            mc = [r["MC_test"] for r in rs]
            cl = [r["MC_closed"] for r in rs if r.get("MC_closed") is not None]
            ck = [r["MC_closed_kmax"] for r in rs if r.get("MC_closed_kmax") is not None]
            out.append({"activation": act, "N": N, "mc": float(np.mean(mc)), "sd": float(np.std(mc)),
                        "closed": float(np.mean(cl)) if cl else None, "closed_k": float(np.mean(ck)) if ck else None})
    return out


EXPERIMENT = ESNCapacity()
