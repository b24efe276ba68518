"""lsm-delayed-recall: how far back a liquid state machine remembers (seed 001 §2.3.2: "all
information about the input from preceding time points has to be contained in the current
liquid state"): a linear readout of the liquid state at the end of step t is trained to output
the symbol shown at step t − k; held-out accuracy against the delay k.

Input: a stream of symbols from an alphabet of ``symbols``, one per step of ``step_ms``; symbol c
fires its ``channels_per_symbol`` input channels as Poisson trains at ``rate_hz`` during its step.
Features: the liquid's spike trains filtered with τ_r (``memlab.controllers.lsm``) at the step's
last millisecond. Readout: ridge regression onto one-hot targets (closed form,
``memlab.controllers.esn.ridge_readout``), argmax. The ``esn`` rows drive a tanh echo state
network of the same size with the one-hot symbols, one step per symbol, for comparison.
Units: (model, trial); every trial draws a new reservoir and new data.
Records ``results/reservoir/lsm_delayed_recall.jsonl``; ``lsm_delayed_recall.md`` and ``.png``.

    memlab run lsm-delayed-recall [--quick] [--set k_max=5 trials=3 models=lsm]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab.core.errors import ConfigError, check_choice
from memlab.experiments._records import NUMBER
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.experiments.esn_capacity import wall_line
from memlab.theory.checks import check_int, check_number, check_seed

STEM = "lsm_delayed_recall"
MODELS = ("lsm", "esn")


@dataclass
class LSMDelayedRecallConfig:
    """Sequences of ``length`` symbols: ``train_seqs`` to fit the readout, ``test_seqs`` to score it;
    the first ``washout`` steps of every sequence are not scored; k = 0..k_max."""

    models: tuple[str, ...] = MODELS
    n_neurons: int = 200
    symbols: int = 4
    channels_per_symbol: int = 2
    rate_hz: float = 100.0
    step_ms: int = 20
    length: int = 100
    train_seqs: int = 40
    test_seqs: int = 20
    washout: int = 10
    k_max: int = 10
    ridge: float = 1.0
    w: float = 0.5
    w_in: float = 8.0
    esn_spectral_radius: float = 0.9
    esn_input_scaling: float = 0.5
    trials: int = 3
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        if not self.models:
            raise ConfigError("models=() is empty; choose lsm and/or esn")
        for m in self.models:
            check_choice("models", m, MODELS)
        check_int("n_neurons", self.n_neurons, 1, 5000)
        check_int("symbols", self.symbols, 2, 1000)
        check_int("channels_per_symbol", self.channels_per_symbol, 1, 100)
        check_number("rate_hz", self.rate_hz, 0.0, 1000.0, lo_open=True)
        check_int("step_ms", self.step_ms, 1, 1000)
        check_int("k_max", self.k_max, 0)
        check_int("washout", self.washout, self.k_max)
        check_int("length", self.length, self.washout + 1, 100000)
        check_int("train_seqs", self.train_seqs, 1, 10000)
        check_int("test_seqs", self.test_seqs, 1, 10000)
        check_number("ridge", self.ridge, 0.0)
        check_number("w", self.w, 0.0)
        check_number("w_in", self.w_in, 0.0)
        check_number("esn_spectral_radius", self.esn_spectral_radius, 0.0, lo_open=True)
        check_number("esn_input_scaling", self.esn_input_scaling, 0.0, lo_open=True)
        check_int("trials", self.trials, 1, 10_000)  # one unit per (model, trial)
        steps = self.length * self.step_ms
        if (self.train_seqs + self.test_seqs) * steps * self.n_neurons * 8 * 3 > 4 * 2**30:
            raise ConfigError(f"{self.train_seqs + self.test_seqs} sequences × {steps} ms × {self.n_neurons} neurons "
                              "need more than 4 GiB; use fewer or shorter sequences")


def features(model: str, cfg: LSMDelayedRecallConfig, symbols, seed: int, g):
    """Reservoir features at the end of every step: symbols (L, B) -> (L, B, N) and the firing rate (LSM)."""
    import torch

    L, B = symbols.shape
    onehot = torch.nn.functional.one_hot(symbols, cfg.symbols).double()  # (L, B, C)
    if model == "esn":
        from memlab.controllers.esn import ESNCore

        core = ESNCore(input_size=cfg.symbols, hidden_size=cfg.n_neurons, spectral_radius=cfg.esn_spectral_radius,
                       input_scaling=cfg.esn_input_scaling, bias_scaling=0.1, readout=False, seed=seed).double()
        with torch.no_grad():
            return core.states(onehot), None
    from memlab.controllers.lsm import LSMCore

    I = cfg.symbols * cfg.channels_per_symbol
    core = LSMCore(input_size=I, hidden_size=cfg.n_neurons, readout=False, w=cfg.w, w_in=cfg.w_in, seed=seed).double()
    active = onehot.repeat_interleave(cfg.channels_per_symbol, dim=2)  # (L, B, I): the symbol's channels
    active = active.repeat_interleave(cfg.step_ms, dim=0)  # (L·step, B, I)
    spikes = (torch.rand(active.shape, generator=g, dtype=torch.float64) < cfg.rate_hz / 1000.0).double() * active
    with torch.no_grad():
        _, S, R = core.run(spikes)  # (L·step, B, N)
    return R[cfg.step_ms - 1::cfg.step_ms], float(S.mean()) * 1000.0  # (L, B, N), Hz


def recall_unit(model: str, cfg: LSMDelayedRecallConfig, trial: int) -> dict[str, Any]:
    """One reservoir and data set: held-out accuracy of recalling the symbol k steps back, k = 0..K."""
    import torch

    from memlab.controllers.esn import ridge_readout

    seed = cfg.seed * 1000 + trial
    g = torch.Generator().manual_seed(seed)
    B = cfg.train_seqs + cfg.test_seqs
    symbols = torch.randint(0, cfg.symbols, (cfg.length, B), generator=g)  # (L, B)
    X, rate = features(model, cfg, symbols, seed, g)
    t = torch.arange(cfg.washout, cfg.length)  # scored steps
    acc = []
    for k in range(cfg.k_max + 1):
        F = X[t]  # (L', B, N)
        y = symbols[t - k]  # (L', B)
        Y = torch.nn.functional.one_hot(y, cfg.symbols).double()
        Ftr, Ytr = F[:, :cfg.train_seqs].reshape(-1, F.shape[-1]), Y[:, :cfg.train_seqs].reshape(-1, cfg.symbols)
        W, b = ridge_readout(Ftr, Ytr, cfg.ridge)
        pred = (F[:, cfg.train_seqs:] @ W.T + b).argmax(-1)  # (L', test)
        acc.append(float((pred == y[:, cfg.train_seqs:]).double().mean()))
    return {"kind": "point", "model": model, "trial": trial, "accuracy": [round(a, 5) for a in acc],
            "chance": 1.0 / cfg.symbols, "rate_hz": rate, "n_test": int(t.numel() * cfg.test_seqs)}


class LSMDelayedRecall(Experiment):
    name = "lsm-delayed-recall"
    title = "liquid state machine: readout recalls the input from k steps ago; accuracy vs k (ESN beside it)"
    config_cls = LSMDelayedRecallConfig
    default_out = "results/reservoir"
    records_file = f"{STEM}.jsonl"
    record_fields = {"kind": str, "model": str, "accuracy": list}

    def quick_overrides(self) -> dict[str, Any]:
        return {"n_neurons": 40, "length": 30, "train_seqs": 6, "test_seqs": 4, "washout": 4, "k_max": 3, "trials": 1}

    def units(self, cfg: LSMDelayedRecallConfig) -> list[Unit]:
        return [Unit(f"{m}-trial={t}", {"model": m, "trial": t}) for m in cfg.models for t in range(cfg.trials)]

    def run_unit(self, cfg: LSMDelayedRecallConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        return [recall_unit(unit.params["model"], cfg, unit.params["trial"])]

    def summarise(self, cfg: LSMDelayedRecallConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        import numpy as np

        pts = [r for r in records if r.get("kind") == "point"]
        models = list(dict.fromkeys(r["model"] for r in pts))
        K = max((len(r["accuracy"]) for r in pts), default=0)
        lines = [f"# lsm-delayed-recall: accuracy of recalling the symbol from k steps ago (`{STEM}.jsonl`, `{STEM}.png`)", "",
                 f"{cfg.symbols} symbols, one per {cfg.step_ms} ms step ({cfg.channels_per_symbol} Poisson channels at "
                 f"{cfg.rate_hz:g} Hz each for the LSM; one-hot inputs for the ESN); {cfg.n_neurons} neurons; ridge readout "
                 f"(λ = {cfg.ridge:g}) on {cfg.train_seqs} sequences of {cfg.length} steps, scored on {cfg.test_seqs}; "
                 f"mean ± sd over {cfg.trials} trials (new reservoir and data each); chance {1 / cfg.symbols:.2f}.", "",
                 "| k | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
        mean = {m: np.mean([r["accuracy"] for r in pts if r["model"] == m], axis=0) for m in models}
        sd = {m: np.std([r["accuracy"] for r in pts if r["model"] == m], axis=0) for m in models}
        for k in range(K):
            lines.append(f"| {k} | " + " | ".join(f"{mean[m][k]:.3f} ± {sd[m][k]:.3f}" for m in models) + " |")
        rates = [r["rate_hz"] for r in pts if r.get("rate_hz") is not None]
        span = {m: int(sum(1 for a in mean[m] if a > 1 / cfg.symbols + 0.1)) for m in models}
        lines += [""] + [f"- {m}: accuracy above chance + 0.1 for {span[m]} of {K} delays (k = 0..{K - 1})." for m in models]
        if rates:
            lines.append(f"- LSM firing rate {np.mean(rates):.1f} Hz (mean over neurons, time and trials).")
        lines += ["", wall_line(records, out_dir, self.meta_name), ""]
        (out_dir / f"{STEM}.md").write_text("\n".join(lines))
        return {"accuracy_by_k": {m: [round(float(a), 3) for a in mean[m]] for m in models}, "delays_above_chance": span}

    def plot(self, cfg: LSMDelayedRecallConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.reservoir import plot_lsm_delayed_recall

        return [plot_lsm_delayed_recall(records, out_dir / f"{STEM}.png")]


EXPERIMENT = LSMDelayedRecall()
