"""attention-seq2seq: the attention encoder–decoder (Bahdanau et al. 2015 additive, Luong et al.
2015 dot) against the plain encoder–decoder of Cho et al. 2014 (a fixed summary fed at every
step) on seed 004's copy and reverse, scored at 1x/2x/4x the training lengths.

One unit = one (task, attention, seed) training run with the shared trainer (Adam, fixed number of
steps, no run folder), then per-symbol (fine) and per-sequence (coarse) accuracy on ``eval_batches``
fresh batches at each length scale (``Task.scale_range``). The record keeps the attention weights
α (answer position × input position) of one 1x example. Records
``results/attention_seq2seq/records.jsonl``, table ``README.md``, figure ``attention.png``.

    memlab run attention-seq2seq [--quick] [--set steps=4000 length=10 tasks=reverse]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from memlab.core.errors import ConfigError, check_range
from memlab.experiments.base import Experiment, RunContext, Unit

Attention = Literal["additive", "dot", "general", "none"]
TaskName = Literal["copy", "reverse"]
BATCHES_PER_EPOCH = 20


@dataclass
class AttentionSeq2SeqConfig:
    """``tasks`` × ``attentions`` × ``seeds``; training lengths 1..``length`` over ``vocab`` symbols;
    GRU encoder of ``hidden`` units per direction; ``steps`` Adam steps of ``batch_size`` at ``lr``;
    scored at each of ``scales`` on ``eval_batches`` batches of 64."""

    tasks: tuple[TaskName, ...] = ("reverse", "copy")
    attentions: tuple[Attention, ...] = ("additive", "dot", "none")
    seeds: tuple[int, ...] = (0,)
    length: int = 10
    vocab: int = 16
    hidden: int = 32
    embed: int = 16
    cell: Literal["gru", "lstm"] = "gru"
    steps: int = 1500
    batch_size: int = 32
    lr: float = 0.003
    scales: tuple[int, ...] = (1, 2, 4)
    eval_batches: int = 10
    max_time: float = 0.0

    def validate(self) -> None:
        check_range("length", self.length, 1, 1000)
        check_range("vocab", self.vocab, 2, 128)
        check_range("hidden", self.hidden, 1, 4096)
        check_range("embed", self.embed, 1, 4096)
        check_range("steps", self.steps, BATCHES_PER_EPOCH, 10_000_000)
        check_range("batch_size", self.batch_size, 1, 65536)
        check_range("lr", self.lr, 0, 1, lo_open=True)
        check_range("eval_batches", self.eval_batches, 1, 100_000)
        check_range("max_time", self.max_time, 0, 86400)
        if not self.scales:
            raise ConfigError("scales is empty; give at least one scale in 1..100, e.g. scales=1,2,4")
        for s in self.scales:
            check_range("scales", s, 1, 100)
        for s in self.seeds:
            check_range("seeds", s, 0, 2**31 - 1)


def train_unit(cfg: AttentionSeq2SeqConfig, task_name: str, attention: str, seed: int) -> dict[str, Any]:
    """Train one encoder–decoder; its record (without provenance)."""
    import torch

    from memlab.core.runtime import make_generator
    from memlab.evaluation import evaluate_batches
    from memlab.models import build_model
    from memlab.tasks import make_task
    from memlab.training.config import TrainConfig
    from memlab.training.trainer import Trainer

    L = cfg.length
    task = make_task(task_name, {"train_min": 1, "train_max": L, "test_min": L + 1,
                                 "test_max": 2 * L, "vocab": cfg.vocab})
    torch.manual_seed(seed)
    net = build_model("seq2seq-attention", task.spec, overrides={
        "hidden": cfg.hidden, "embed": cfg.embed, "attention_size": cfg.hidden, "cell": cfg.cell, "attention": attention})
    tcfg = TrainConfig(lr=cfg.lr, optimizer="adam", batch_size=cfg.batch_size, batches_per_epoch=BATCHES_PER_EPOCH,
                       max_epochs=max(1, cfg.steps // BATCHES_PER_EPOCH), max_time_s=cfg.max_time, eval_every=10**9,
                       eval_batches=1, plateau_halving=False, target_coarse=1.1, checkpoint_every=10**9, clip_norm=1.0)
    t0 = time.perf_counter()
    summary = Trainer(net, task, tcfg, seed=seed, progress=False).fit()
    train_s = time.perf_counter() - t0
    scores = {}
    for n in cfg.scales:
        lo, hi = task.scale_range(n)
        c = evaluate_batches(net, task, lo, hi, cfg.eval_batches, 64, make_generator(seed, 7000 + n), "cpu")
        scores[str(n)] = {"fine": c.fine, "coarse": c.coarse}
    batch = task.sample(1, L, make_generator(seed, 99))
    alpha = net.attention_weights(batch)[:, 0]  # (L_out, S)
    n_in, n_out = int(batch.n_input[0]), int(batch.seq_len[0] - batch.n_input[0])
    pred = net(batch).argmax(-1)[batch.mask[:, 0], 0]
    return {"kind": "run", "task": task_name, "attention": attention, "seed": seed, "cell": cfg.cell,
            "hidden": cfg.hidden, "length": L, "n_params": net.n_params(),
            "steps": summary["epochs"] * BATCHES_PER_EPOCH, "train_s": round(train_s, 2), "scores": scores,
            "example": {"input": task.render(batch.inputs[:n_in, 0]).split(),
                        "target": task.render(batch.targets[batch.mask[:, 0], 0]).split(),
                        "predicted": task.render(pred).split(),
                        "alpha": [[round(float(a), 4) for a in row[:n_in]] for row in alpha[:n_out]]}}


def render_table(records: list[dict[str, Any]]) -> str:
    """README.md: coarse accuracy per task × attention at each scale, median over seeds [min–max]
    (median fine accuracy)."""
    import statistics

    from memlab.experiments.memn2n_babi import median_cell
    runs = [r for r in records if r.get("kind") == "run"]
    scales = sorted({int(s) for r in runs for s in r["scores"]})
    lines = ["# attention-seq2seq: attention vs plain encoder–decoder on copy and reverse", "",
             "Sequence accuracy (symbol accuracy) on fresh batches at n x the training lengths 1..L; "
             "`none` is the plain encoder–decoder (Cho et al. 2014). Median over seeds [min–max] (median symbol "
             "accuracy). "
             "Rendered by `memlab table attention-seq2seq`.", "",
             "| task | attention | params | seeds | " + " | ".join(f"{s}x" for s in scales) + " | steps | train s |",
             "|---|---|---|---|" + "---|" * len(scales) + "---|---|"]
    for key in dict.fromkeys((r["task"], r["attention"]) for r in runs):
        rs = [r for r in runs if (r["task"], r["attention"]) == key]
        cells = []
        for s in scales:
            sc = [r["scores"][str(s)] for r in rs if str(s) in r["scores"]]
            cells.append(f"{median_cell([x['coarse'] for x in sc])} ({statistics.median(x['fine'] for x in sc):.3f})"
                         if sc else "–")
        lines.append(f"| {key[0]} | {key[1]} | {rs[0]['n_params']} | {len(rs)} | " + " | ".join(cells)
                     + f" | {rs[0]['steps']} | {sum(r['train_s'] for r in rs):.0f} |")
    L = next((r["length"] for r in runs), "?")
    lines += ["", f"Training lengths 1..{L}. Wall time of each unit: `unit_wall_s` in the records."]
    return "\n".join(lines) + "\n"


class AttentionSeq2Seq(Experiment):
    name = "attention-seq2seq"
    title = "attention (additive, dot) vs plain encoder-decoder on copy and reverse at 1x/2x/4x (Bahdanau; Luong)"
    config_cls = AttentionSeq2SeqConfig
    default_out = "results/attention_seq2seq"
    hash_exclude = ("tasks", "attentions", "seeds", "max_time", "eval_batches", "scales")
    record_fields = ("kind",)

    def quick_overrides(self) -> dict[str, Any]:
        return {"steps": 20, "hidden": 6, "embed": 4, "length": 3, "eval_batches": 1, "batch_size": 4,
                "attentions": ["additive", "none"], "tasks": ["reverse"]}

    def units(self, cfg: AttentionSeq2SeqConfig) -> list[Unit]:
        return [Unit(f"{t}/{a}/s{s}", {"task": t, "attention": a, "seed": s})
                for s in cfg.seeds for t in cfg.tasks for a in cfg.attentions]

    def run_unit(self, cfg: AttentionSeq2SeqConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        import torch

        torch.set_num_threads(1)
        p = unit.params
        return [{"unit": unit.key, **train_unit(cfg, p["task"], p["attention"], p["seed"])}]

    def summarise(self, cfg: AttentionSeq2SeqConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        text = render_table(records)
        atomic_write_text(out_dir / "README.md", text)
        return {"text": text}

    def plot(self, cfg: AttentionSeq2SeqConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.attention import plot_attention_maps

        runs = [r for r in records if r.get("kind") == "run" and r["attention"] != "none"]
        return [plot_attention_maps(runs, out_dir / "attention.png")] if runs else []


EXPERIMENT = AttentionSeq2Seq()
