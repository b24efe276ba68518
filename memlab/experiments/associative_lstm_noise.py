"""associative-lstm-noise: retrieval noise of the Associative LSTM's redundant holographic
memory against the number of copies S (Danihelka et al. 2016; seed 001 eq. 2.49–2.51).

Q random unit-phase key/value pairs of N complex elements are stored in S permuted traces
(eq. 2.49, ``redundant_encode``) and read back with each key (eq. 2.50, ``redundant_decode``).
The read is y^k plus the noise of eq. 2.51. For unit-modulus items its variance per element is

    Var = (Q − 1)/S · (1 + (S − 1)/N)

(Q − 1 other pairs, averaged over S copies; two independent random permutations send an element
to the same place with probability 1/N, and those copies' noise terms coincide), i.e. O(Q/S)
as the seed says, and (Q − 1)/S when S ≪ N: more copies, less noise. A unit is one (Q, S) cell over ``trials`` memories;
its record holds the measured noise variance, the law above and the share of reads whose
nearest stored value (largest Re⟨ỹ, y⟩) is the right one. With ``train=true`` Associative LSTMs
with ``train_copies`` copies also learn Danihelka et al.'s variable assignment and episodic copy
at small scale (``train_tasks``; one trained run per task and S).

Records ``results/associative_lstm_noise/records.jsonl``, table ``README.md``, figure ``noise.png``.

    memlab run associative-lstm-noise [--quick] [--set items=4,16,64 copies=1,2,4,8 size=64 train=true train_copies=1,8
                                              train_tasks=variable-assignment,episodic-copy]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.experiments.base import Experiment, RunContext, Unit

#: the trained tasks (Danihelka et al. 2016 §5, small): name -> (task settings, the test length)
TRAIN_TASK_SETTINGS: dict[str, tuple[dict[str, int], int]] = {
    "variable-assignment": ({"train_min": 1, "train_max": 4, "test_min": 4, "test_max": 4}, 4),
    "episodic-copy": ({"train_min": 1, "train_max": 8, "test_min": 8, "test_max": 8, "vocab": 10, "max_pause": 10}, 8),
}
TRAIN_TASKS = tuple(TRAIN_TASK_SETTINGS)


@dataclass
class AssociativeLSTMNoiseConfig:
    """items Q and copies S to measure, complex size N, memories per cell; with ``train``,
    Associative LSTMs with ``train_copies`` copies are also trained on each of ``train_tasks`` with
    ``train_hidden`` real units for ``train_steps`` Adam steps."""

    items: tuple[int, ...] = (4, 16, 64)
    copies: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    size: int = 64
    trials: int = 200
    seed: int = 0
    train: bool = False
    train_copies: tuple[int, ...] = (1, 8)
    train_tasks: tuple[str, ...] = TRAIN_TASKS
    train_hidden: int = 64
    train_steps: int = 1500

    def validate(self) -> None:
        for name in ("items", "copies", "train_copies", "train_tasks"):
            if not getattr(self, name):
                raise ConfigError(f"{name} is empty; give at least one value, e.g. {name}=1,4")
        for q in self.items:
            check_range("items", q, 1, 100_000)
        for s in (*self.copies, *self.train_copies):
            check_range("copies", s, 1, 4096)
        check_range("size", self.size, 1, 1_000_000)
        check_range("trials", self.trials, 1, 1_000_000)
        check_range("seed", self.seed, 0, 2**63 - 1)
        check_range("train_hidden", self.train_hidden, 2, 4096)
        check_range("train_steps", self.train_steps, 1, 10_000_000)
        for t in self.train_tasks:
            check_choice("train_tasks", t, TRAIN_TASKS)


def noise_theory(items: int, copies: int, size: int) -> float:
    """Expected noise variance per element: (Q − 1)/S · (1 + (S − 1)/N) (module docstring)."""
    return (items - 1) / copies * (1 + (copies - 1) / size)


def measure_noise(items: int, copies: int, size: int, trials: int, seed: int) -> dict[str, float]:
    """Noise of eq. 2.51 over ``trials`` memories of Q = ``items`` unit-phase pairs in S = ``copies`` traces."""
    import torch

    from memlab.memory.hrr import random_phases
    from memlab.memory.redundant import random_permutations, redundant_decode, redundant_encode

    g = torch.Generator().manual_seed(seed)
    keys = random_phases((trials, items, size), g, torch.complex128)  # (B, Q, N)
    values = random_phases((trials, items, size), g, torch.complex128)  # (B, Q, N)
    perms = random_permutations(copies, size, g)  # (S, N)
    c = redundant_encode(keys, values, perms)  # (B, S, N)
    read = redundant_decode(c, keys, perms)  # (B, Q, N)
    noise = read - values
    sim = (read @ values.conj().transpose(-1, -2)).real  # (B, Q, Q): Re⟨ỹ_k, y_j⟩
    right = sim.argmax(-1) == torch.arange(items)  # (B, Q)
    return {"noise_var": float(noise.abs().pow(2).mean()), "theory": noise_theory(items, copies, size),
            "nn_accuracy": float(right.double().mean())}


def train_task(name: str, copies: int, hidden: int, steps: int, seed: int) -> dict[str, Any]:
    """Train an Associative LSTM with ``copies`` copies on ``name`` (``TRAIN_TASK_SETTINGS``: variable
    assignment on 1–4 assignments, tested on 4; episodic copy of 1–8 symbols after a pause of 0–10
    blanks, tested on 8) and score it on fresh test sequences."""
    import torch

    from memlab.core.runtime import make_generator
    from memlab.evaluation import evaluate_batches
    from memlab.memory.associative_lstm import AssociativeLSTM
    from memlab.models.base import CoreSequenceModel
    from memlab.tasks import make_task
    from memlab.training.config import TrainConfig
    from memlab.training.trainer import Trainer

    settings, k = TRAIN_TASK_SETTINGS[name]
    task = make_task(name, settings)
    torch.manual_seed(seed)
    net = CoreSequenceModel(task.spec, AssociativeLSTM(input_size=16, hidden_size=hidden, copies=copies, seed=seed), 16)
    cfg = TrainConfig(lr=0.005, optimizer="adam", batch_size=32, batches_per_epoch=20, max_epochs=max(1, steps // 20),
                      eval_every=10**9, plateau_halving=False, target_coarse=1.1, checkpoint_every=10**9)
    summary = Trainer(net, task, cfg, seed=seed, progress=False).fit()
    test = evaluate_batches(net, task, k, k, 20, 128, make_generator(seed, 515151), "cpu")
    return {"task": name, "test_length": k, "accuracy": test.coarse, "fine": test.fine, "steps": summary["epochs"] * 20,
            "train_s": summary["elapsed_s"], "n_params": net.n_params(), "hidden": hidden}


#: the fields a record of each kind carries
KIND_FIELDS = {"noise": ("items", "size", "trials", "noise_var", "theory", "nn_accuracy"),
               "trained": ("task", "test_length", "hidden", "n_params", "steps", "accuracy", "fine", "train_s")}


def render_table(records: list[dict[str, Any]]) -> str:
    """README.md from the records (a record of an unknown kind or without its fields is a MemlabError)."""
    from memlab.core.errors import MemlabError

    for i, r in enumerate(records):
        missing = [f for f in KIND_FIELDS.get(r.get("kind"), ("kind=noise|trained",)) if f not in r]
        if missing:
            raise MemlabError(f"record {i + 1} ({r.get('unit')!r}) has no {', '.join(missing)}; not an associative-lstm-noise record")
    pts = sorted((r for r in records if r.get("kind") == "noise"), key=lambda r: (r["items"], r["copies"]))
    lines = ["# associative-lstm-noise: retrieval noise vs copies (Danihelka et al. 2016; seed 001 eq. 2.49–2.51)", "",
             "Q unit-phase pairs in S permuted complex traces of N elements; noise = read − stored value, "
             "variance per element (theory (Q − 1)/S · (1 + (S − 1)/N), module docstring); nn accuracy = reads whose nearest stored value is the "
             "right one. Rendered by `memlab table associative-lstm-noise`.", "",
             "| Q items | S copies | N | trials | noise variance | theory | ratio | nn accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    for r in pts:
        ratio = r["noise_var"] / r["theory"] if r["theory"] else float("nan")
        lines.append(f"| {r['items']} | {r['copies']} | {r['size']} | {r['trials']} | {r['noise_var']:.4f} | "
                     f"{r['theory']:.4f} | {ratio:.3f} | {r['nn_accuracy']:.4f} |")
    trained = sorted((r for r in records if r.get("kind") == "trained"), key=lambda r: (r["task"], r["copies"]))
    if trained:
        lines += ["", "Trained Associative LSTMs (Danihelka et al. 2016's tasks, small): variable assignment trained "
                  "on 1–4 assignments, episodic copy on 1–8 symbols after a pause of 0–10 blanks; tested at the "
                  "longest training length; accuracy = whole answer right, fine = symbols right.", "",
                  "| task | test length | S copies | hidden | params | steps | test accuracy | fine | train s | wall s |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['task']} | {r['test_length']} | {r['copies']} | {r['hidden']} | {r['n_params']} | {r['steps']} | "
                  f"{r['accuracy']:.4f} | {r['fine']:.4f} | {r['train_s']:.0f} | {float(r.get('unit_wall_s', 0.0)):.0f} |"
                  for r in trained]
        lines += ["", "Chance: 1/26 per answer (variable assignment), 1/10 per symbol (episodic copy). Wall s: each "
                  "unit's wall time (`unit_wall_s`)."]
    walls = [float(r.get("unit_wall_s", 0.0)) for r in pts]
    if walls:
        lines += ["", f"Memory measurements: {len(pts)} cells, {sum(walls):.1f} s wall in all."]
    return "\n".join(lines) + "\n"


class AssociativeLSTMNoise(Experiment):
    name = "associative-lstm-noise"
    title = "Associative LSTM memory: retrieval noise falls as O(Q/S) with S copies (Danihelka et al. 2016)"
    config_cls = AssociativeLSTMNoiseConfig
    default_out = "results/associative_lstm_noise"
    hash_exclude = ("items", "copies", "train", "train_copies", "train_tasks")
    record_fields = ("unit", "kind", "copies")

    def quick_overrides(self) -> dict[str, Any]:
        return {"items": (4, 16), "copies": (1, 4), "size": 16, "trials": 10, "train_steps": 20, "train_hidden": 8}

    def units(self, cfg: AssociativeLSTMNoiseConfig) -> list[Unit]:
        units = [Unit(f"Q{q}-S{s}", {"items": q, "copies": s}) for q in cfg.items for s in cfg.copies]
        return units + [Unit(f"train-{t}-S{s}", {"copies": s, "task": t})
                        for t in cfg.train_tasks for s in cfg.train_copies if cfg.train]

    def run_unit(self, cfg: AssociativeLSTMNoiseConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        p = unit.params
        if unit.key.startswith("train-"):
            return [{"unit": unit.key, "kind": "trained", "copies": p["copies"],
                     **train_task(p["task"], p["copies"], cfg.train_hidden, cfg.train_steps, cfg.seed)}]
        seed = cfg.seed * 1_000_003 + p["items"] * 4099 + p["copies"]
        return [{"unit": unit.key, "kind": "noise", "items": p["items"], "copies": p["copies"], "size": cfg.size,
                 "trials": cfg.trials, **measure_noise(p["items"], p["copies"], cfg.size, cfg.trials, seed)}]

    def summarise(self, cfg: AssociativeLSTMNoiseConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        text = render_table(records)
        atomic_write_text(out_dir / "README.md", text)
        return {"text": text, **{f"Q{r['items']}/S{r['copies']}_noise_var": r["noise_var"]
                                 for r in records if r.get("kind") == "noise"}}

    def plot(self, cfg: AssociativeLSTMNoiseConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.recurrent import plot_noise_vs_copies

        return [plot_noise_vs_copies(records, out_dir / "noise.png")]


EXPERIMENT = AssociativeLSTMNoise()
