"""captioning: a small CNN + LSTM captioner with soft attention (Xu et al. 2015) vs without
(Show and Tell, Vinyals et al. 2015) on canvases of scikit-learn's 8×8 digits
(``memlab.tasks.captioning``): BLEU-4 (sacrebleu) and exact match of greedy captions.

One unit = one (attention, seed): ``n_train`` fixed training canvases, ``steps`` Adam steps of
teacher-forced minibatches, then greedy captions of ``n_test`` test canvases (digit images never
seen in training). Each soft-attention record keeps three test canvases with α per word for the
figure. Records ``results/captioning/records.jsonl``, table ``README.md``, figure ``attention.png``.

    memlab run captioning [--quick] [--set steps=3000 digits_max=4 width=40]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from memlab.core.errors import check_range
from memlab.experiments.base import Experiment, RunContext, Unit


@dataclass
class CaptioningConfig:
    """Canvases ``height`` × ``width`` with ``digits_min..digits_max`` digits; captioners of
    ``channels`` CNN channels and ``hidden`` LSTM units; ``steps`` Adam steps of ``batch_size``."""

    attentions: tuple[Literal["soft", "none"], ...] = ("soft", "none")
    seeds: tuple[int, ...] = (0,)
    height: int = 12
    width: int = 36
    digits_min: int = 2
    digits_max: int = 3
    n_train: int = 3000
    n_test: int = 500
    steps: int = 1500
    batch_size: int = 64
    lr: float = 0.003
    channels: int = 32
    hidden: int = 64
    embed: int = 16
    max_time: float = 0.0

    def validate(self) -> None:
        from memlab.tasks.captioning import CanvasConfig

        CanvasConfig(self.height, self.width, self.digits_min, self.digits_max).validate()
        check_range("n_train", self.n_train, 1, 1_000_000)
        check_range("n_test", self.n_test, 1, 1_000_000)
        check_range("steps", self.steps, 1, 10_000_000)
        check_range("batch_size", self.batch_size, 1, 65536)
        check_range("lr", self.lr, 0, 1, lo_open=True)
        for name in ("channels", "hidden", "embed"):
            check_range(name, getattr(self, name), 1, 4096)
        check_range("max_time", self.max_time, 0, 86400)
        for s in self.seeds:
            check_range("seeds", s, 0, 2**31 - 1)


def train_unit(cfg: CaptioningConfig, attention: str, seed: int) -> dict[str, Any]:
    """Train one captioner; its record (without provenance)."""
    import torch
    import torch.nn.functional as F

    from memlab.models.captioning import Captioner, CaptionerConfig
    from memlab.tasks.captioning import (BOS, PAD, VOCAB, CanvasConfig, bleu4, caption, caption_length,
                                         caption_tokens, compose, decode_caption)

    canvas = CanvasConfig(cfg.height, cfg.width, cfg.digits_min, cfg.digits_max)
    g = torch.Generator().manual_seed(seed)
    x_tr, d_tr, _ = compose(canvas, cfg.n_train, "train", g)
    x_te, d_te, _ = compose(canvas, cfg.n_test, "test", g)
    T = caption_length(cfg.digits_max) + 1  # words + <eos>
    y_tr = torch.stack([caption_tokens(d, T) for d in d_tr], 1)  # (T, N)
    y_in = torch.cat([torch.full((1, cfg.n_train), BOS), y_tr[:-1]])  # (T, N) teacher forcing
    torch.manual_seed(seed)
    net = Captioner(CaptionerConfig(cfg.channels, cfg.hidden, cfg.embed, attention), len(VOCAB))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    t0 = time.perf_counter()
    steps = 0
    for steps in range(1, cfg.steps + 1):
        idx = torch.randint(0, cfg.n_train, (cfg.batch_size,), generator=g)
        logits, _ = net(x_tr[idx], y_in[:, idx])  # (T, B, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y_tr[:, idx].reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        if cfg.max_time and time.perf_counter() - t0 > cfg.max_time:
            break
    train_s = time.perf_counter() - t0
    net.eval()
    toks, alpha = net.greedy(x_te, T, BOS)  # (T, N), (T, N, L)
    hyp = [decode_caption(toks[:, i].tolist()) for i in range(cfg.n_test)]
    ref = [caption(d) for d in d_te]
    rec: dict[str, Any] = {"kind": "run", "attention": attention, "seed": seed, "n_train": cfg.n_train,
                           "n_test": cfg.n_test, "canvas": [cfg.height, cfg.width], "digits": [cfg.digits_min, cfg.digits_max],
                           "steps": steps, "n_params": sum(p.numel() for p in net.parameters()),
                           "train_s": round(train_s, 2), "final_loss": round(loss.item(), 4),
                           "exact_match": sum(h == r for h, r in zip(hyp, ref)) / cfg.n_test, "bleu4": bleu4(hyp, ref)}
    grid = [cfg.height // 4, cfg.width // 4]
    rec["samples"] = [{"image": [[round(float(v), 2) for v in row] for row in x_te[i, 0]], "caption": ref[i],
                       "predicted": hyp[i], "grid": grid,
                       "alpha": [[round(float(v), 4) for v in alpha[t, i]] for t in range(len(hyp[i].split()))]}
                      for i in range(3)] if attention == "soft" else []
    return rec


def render_table(records: list[dict[str, Any]]) -> str:
    """README.md: exact match and BLEU-4 per captioner, median over seeds [min–max]."""
    from memlab.experiments.memn2n_babi import median_cell

    runs = [r for r in records if r.get("kind") == "run"]
    lines = ["# captioning: digit canvases, CNN + LSTM with vs without soft attention", "",
             "Greedy captions of test canvases (digit images never seen in training); BLEU-4 by sacrebleu "
             "(0–100), exact match of the whole caption. Median over seeds [min–max]. Rendered by `memlab table captioning`.",
             "", "| attention | canvas | digits | params | steps | seeds | exact match | BLEU-4 | train s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for att in dict.fromkeys(r["attention"] for r in runs):
        rs = [r for r in runs if r["attention"] == att]
        bl = [r["bleu4"] for r in rs if r["bleu4"] is not None]
        r0 = rs[0]
        lines.append(f"| {att} | {r0['canvas'][0]}x{r0['canvas'][1]} | {r0['digits'][0]}–{r0['digits'][1]} | "
                     f"{r0['n_params']} | {r0['steps']} | {len(rs)} | {median_cell([r['exact_match'] for r in rs])} | "
                     f"{median_cell(bl, 1) if bl else 'n/a (sacrebleu missing)'} | "
                     f"{sum(r['train_s'] for r in rs):.0f} |")
    lines += ["", "Wall time of each unit: `unit_wall_s` in the records."]
    return "\n".join(lines) + "\n"


class Captioning(Experiment):
    name = "captioning"
    title = "digit-canvas captioning: CNN + LSTM with vs without soft attention, BLEU-4 and exact match"
    config_cls = CaptioningConfig
    default_out = "results/captioning"
    hash_exclude = ("attentions", "seeds", "max_time")
    record_fields = ("kind",)

    def quick_overrides(self) -> dict[str, Any]:
        return {"n_train": 32, "n_test": 8, "steps": 3, "batch_size": 8, "channels": 4, "hidden": 8, "embed": 4}

    def units(self, cfg: CaptioningConfig) -> list[Unit]:
        return [Unit(f"{a}/s{s}", {"attention": a, "seed": s}) for s in cfg.seeds for a in cfg.attentions]

    def run_unit(self, cfg: CaptioningConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        import torch

        torch.set_num_threads(1)
        return [{"unit": unit.key, **train_unit(cfg, unit.params["attention"], unit.params["seed"])}]

    def summarise(self, cfg: CaptioningConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        text = render_table(records)
        atomic_write_text(out_dir / "README.md", text)
        return {"text": text}

    def plot(self, cfg: CaptioningConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.attention import plot_caption_attention

        runs = [r for r in records if r.get("kind") == "run" and r.get("samples")]
        return [plot_caption_attention(runs[0], out_dir / "attention.png")] if runs else []


EXPERIMENT = Captioning()
