"""memn2n-babi: end-to-end memory networks (Sukhbaatar et al. 2015, Table 1 at small scale) on the
generated bAbI-style tasks — 1 hop vs 3 hops vs an LSTM encoder–decoder, per-task test accuracy.

One unit = one (question family, model, seed): a fixed training set of ``n_train`` stories (1k or
10k setting, ``Babi.dataset``), ``epochs`` passes of Adam in shuffled minibatches (gradient norm
clipped at 40 as in the paper), the first ``linear_start`` epochs without the hop softmax (§4.2;
memory networks only), then accuracy (whole answer + ``<e>`` right) on ``n_test`` stories disjoint
from the training set. Each 3-hop record also keeps the hop weights over one test story for the
attention figure. Records ``results/memn2n_babi/records.jsonl``, table ``README.md``, figures
``accuracy.png`` and ``hops.png``.

    memlab run memn2n-babi [--quick] [--set n_train=10000 epochs=60 qas=counting,path-finding]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from memlab.core.errors import ConfigError, check_range
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.tasks.babi import QA

Model = Literal["memn2n-1hop", "memn2n-3hop", "lstm"]


@dataclass
class Memn2nBabiConfig:
    """``qas`` question families; ``models``; stories of ``sentences_min..max`` sentences (clipped
    to what each family's world allows); ``n_train`` training / ``n_test`` test stories; Adam at
    ``lr`` for ``epochs`` epochs of ``batch_size``; memory networks of width ``embed`` (position
    encoding, temporal encoding, adjacent tying), LSTM of ``lstm_hidden`` units."""

    qas: tuple[str, ...] = tuple(QA)
    models: tuple[Model, ...] = ("memn2n-1hop", "memn2n-3hop", "lstm")
    seeds: tuple[int, ...] = (0,)
    sentences_min: int = 2
    sentences_max: int = 10
    n_train: int = 1000
    n_test: int = 1000
    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.01
    embed: int = 20
    lstm_hidden: int = 64
    linear_start: int = 0  # epochs without the hop softmax (memory networks)
    max_time: float = 0.0  # seconds per unit (0 = no cap)

    def validate(self) -> None:
        for qa in self.qas:
            if qa not in QA:
                raise ConfigError(f"qas={qa!r} is not allowed; choose from {', '.join(QA)}")
        for s in self.seeds:
            check_range("seeds", s, 0, 2**31 - 1)
        check_range("sentences_min", self.sentences_min, 1, 200)
        check_range("sentences_max", self.sentences_max, self.sentences_min, 200)
        check_range("n_train", self.n_train, 1, 1_000_000)
        check_range("n_test", self.n_test, 1, 1_000_000)
        check_range("epochs", self.epochs, 1, 100_000)
        check_range("batch_size", self.batch_size, 1, 65536)
        check_range("lr", self.lr, 0, 1, lo_open=True)
        check_range("embed", self.embed, 1, 4096)
        check_range("lstm_hidden", self.lstm_hidden, 1, 4096)
        check_range("linear_start", self.linear_start, 0, self.epochs)
        check_range("max_time", self.max_time, 0, 86400)


def lengths_for(qa: str, cfg: Memn2nBabiConfig) -> tuple[int, int]:
    """The story lengths of ``qa``: the config's range clipped to what the world allows."""
    lo, hi = QA[qa]
    a, b = max(lo, cfg.sentences_min), min(hi, cfg.sentences_max)
    return (a, max(a, b)) if a <= hi else (hi, hi)


def build_net(model: str, spec, cfg: Memn2nBabiConfig):
    from memlab.models import build_model

    if model == "lstm":
        return build_model("lstm", spec, overrides={"hidden": cfg.lstm_hidden, "layers": 1, "embed": cfg.embed,
                                                     "shared": False})
    hops = int(model.removeprefix("memn2n-").removesuffix("hop"))
    return build_model("memn2n", spec, overrides={"hops": hops, "embed": cfg.embed, "linear_start": cfg.linear_start > 0})


def train_unit(cfg: Memn2nBabiConfig, qa: str, model: str, seed: int) -> dict[str, Any]:
    """Train ``model`` on ``qa``'s fixed training set; its record (without provenance)."""
    import torch

    from memlab.tasks.babi import Babi, decode

    lo, hi = lengths_for(qa, cfg)
    task = Babi({"qa": qa, "train_min": lo, "train_max": hi, "test_min": lo, "test_max": hi})
    train = task.dataset("train", cfg.n_train, seed=seed)
    test = task.dataset("test", cfg.n_test, seed=seed, exclude={tuple(x.tolist()) for x, _ in train})

    def batch_of(pairs):
        k = torch.tensor([int((x == 0).sum()) for x, _ in pairs])  # sentences = '.' tokens
        return task.assemble(pairs, k)

    torch.manual_seed(seed)
    net = build_net(model, task.spec, cfg)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    epochs_done, losses = 0, []
    for epoch in range(cfg.epochs):
        if hasattr(net, "linear"):
            net.linear = epoch < cfg.linear_start
        order = torch.randperm(len(train), generator=g).tolist()
        total = 0.0
        for i in range(0, len(order), cfg.batch_size):
            batch = batch_of([train[j] for j in order[i : i + cfg.batch_size]])
            opt.zero_grad()
            loss = task.loss(net(batch), batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 40.0)
            opt.step()
            total += loss.item() * batch.inputs.shape[1]
        losses.append(round(total / len(train), 4))
        epochs_done += 1
        if cfg.max_time and time.perf_counter() - t0 > cfg.max_time:
            break
    train_s = time.perf_counter() - t0
    net.eval()
    if hasattr(net, "linear"):
        net.linear = False
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test), 256):
            batch = batch_of(test[i : i + 256])
            correct += task.score(net(batch), batch).seqs_correct
        train_acc = task.score(net(b := batch_of(train[:500])), b).coarse
    rec: dict[str, Any] = {"kind": "run", "qa": qa, "model": model, "seed": seed, "n_train": cfg.n_train,
                           "n_test": len(test), "sentences": [lo, hi], "epochs": epochs_done,
                           "n_params": net.n_params(), "train_s": round(train_s, 2), "loss_curve": losses,
                           "train_accuracy": train_acc, "accuracy": correct / len(test)}
    if model.startswith("memn2n") and model != "memn2n-1hop":
        x, y = test[0]
        p = net.hop_weights(batch_of([(x, y)]))[:, 0]  # (K, N), slot 0 = the last sentence
        words = decode(x).split(" . ")
        sentences, question = [s + " ." for s in words[:-1]], words[-1]
        n = len(sentences)
        rec["hop_story"] = {"sentences": sentences, "question": question, "answer": decode(y),
                            "predicted": decode(net(b := batch_of([(x, y)])).argmax(-1)[b.mask[:, 0], 0][:-1]),
                            "weights": [[round(float(w[n - 1 - i]), 4) for i in range(n)] for w in p]}
    return rec


def render_table(records: list[dict[str, Any]]) -> str:
    """README.md from the run records: test accuracy per question family (rows) and model (columns)."""
    runs = [r for r in records if r.get("kind") == "run"]
    models = list(dict.fromkeys(r["model"] for r in runs))
    qas = [q for q in QA if any(r["qa"] == q for r in runs)]
    n_train = sorted({r["n_train"] for r in runs})
    lines = ["# memn2n-babi: memory networks on generated bAbI-style tasks (Sukhbaatar et al. 2015)", "",
             f"Test accuracy (whole answer right) after training on {', '.join(map(str, n_train))} generated stories; "
             "test stories are disjoint from the training ones. Mean over seeds. "
             "Rendered by `memlab table memn2n-babi`.", "",
             "| question family | sentences | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
    for qa in qas:
        cells = []
        for m in models:
            rs = [r for r in runs if r["qa"] == qa and r["model"] == m]
            cells.append(f"{sum(r['accuracy'] for r in rs) / len(rs):.3f}" if rs else "–")
        s = next(r["sentences"] for r in runs if r["qa"] == qa)
        lines.append(f"| {qa} | {s[0]}–{s[1]} | " + " | ".join(cells) + " |")
    lines += ["", "| model | params (first family) | training seconds (all units) |", "|---|---|---|"]
    for m in models:
        rs = [r for r in runs if r["model"] == m]
        lines.append(f"| {m} | {rs[0]['n_params']} | {sum(r['train_s'] for r in rs):.0f} |")
    lines += ["", "Wall time of each unit: `unit_wall_s` in the records."]
    return "\n".join(lines) + "\n"


class Memn2nBabi(Experiment):
    name = "memn2n-babi"
    title = "end-to-end memory networks on generated bAbI-style QA: 1 hop vs 3 hops vs LSTM (Sukhbaatar et al. 2015)"
    config_cls = Memn2nBabiConfig
    default_out = "results/memn2n_babi"
    hash_exclude = ("qas", "models", "seeds", "max_time")
    record_fields = ("kind",)

    def quick_overrides(self) -> dict[str, Any]:
        return {"qas": ["single-supporting-fact", "path-finding"], "n_train": 40, "n_test": 20, "epochs": 2,
                "embed": 8, "lstm_hidden": 8, "sentences_max": 4}

    def units(self, cfg: Memn2nBabiConfig) -> list[Unit]:
        return [Unit(f"{qa}/{m}/s{s}", {"qa": qa, "model": m, "seed": s})
                for s in cfg.seeds for qa in cfg.qas for m in cfg.models]

    def run_unit(self, cfg: Memn2nBabiConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        import torch

        torch.set_num_threads(1)
        p = unit.params
        return [{"unit": unit.key, **train_unit(cfg, p["qa"], p["model"], p["seed"])}]

    def summarise(self, cfg: Memn2nBabiConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        text = render_table(records)
        atomic_write_text(out_dir / "README.md", text)
        return {"text": text, **{f"{r['qa']}/{r['model']}/s{r['seed']}": r["accuracy"]
                                 for r in records if r.get("kind") == "run"}}

    def plot(self, cfg: Memn2nBabiConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.memn2n import plot_babi_accuracy, plot_hop_attention

        paths = [plot_babi_accuracy(records, out_dir / "accuracy.png")]
        hop = [r for r in records if r.get("hop_story")]
        if hop:
            best = max(hop, key=lambda r: (r["qa"] == "three-supporting-facts", r["qa"] == "two-supporting-facts"))
            paths.append(plot_hop_attention(best, out_dir / "hops.png"))
        return paths


EXPERIMENT = Memn2nBabi()
