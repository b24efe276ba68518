"""memn2n-babi: end-to-end memory networks (Sukhbaatar et al. 2015, Table 1 at small scale) on the
generated bAbI-style tasks — 1 hop vs 3 hops vs an LSTM encoder–decoder (and the key–value memory
network of Miller et al. 2016), per-task test accuracy.

One unit = one (question family, model, seed): a fixed set of ``n_train`` stories (1k or 10k
setting, ``Babi.dataset``), of which ``val_fraction`` is held out for validation (§4.2: 10%);
``epochs`` passes in shuffled minibatches of 32 with the paper's schedule — SGD at ``lr`` halved every
``lr_halve_every`` epochs, gradient norm clipped at 40; memory networks start linear (LS: no hop
softmax, at lr/2 as in §4.2) until the validation loss stops falling (at most ``linear_start``
epochs), with random noise (RN, ``random_noise``) on the time indices and empty memory slots in the
softmax (the authors' code). Then accuracy (whole answer + ``<e>`` right) on ``n_test`` stories
disjoint from the training set. Each multi-hop record keeps the hop weights over one test story for
the attention figure. Records ``results/memn2n_babi/records.jsonl``, table ``README.md``, figures
``accuracy.png`` and ``hops.png``.

The paper trains 100 epochs with the learning rate halved every 25; the committed run trains 30
with halving at 15 (the defaults) on a shared 2-core CPU. Adam (``optimizer=adam``) fits faster but
without linear start it overfits the 1k two-supporting-facts set with 3 hops.

    memlab run memn2n-babi [--quick] [--set seeds=0,1,2 models=memn2n-1hop,memn2n-3hop]
    memlab run memn2n-babi --set n_train=10000 qas=two-supporting-facts,three-supporting-facts --out DIR
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from memlab.core.errors import ConfigError, check_choice, check_range
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.tasks.babi import QA

Model = Literal["memn2n-1hop", "memn2n-3hop", "kv-memn2n-1hop", "kv-memn2n-3hop", "lstm"]


@dataclass
class Memn2nBabiConfig:
    """``qas`` question families; ``models``; stories of ``sentences_min..max`` sentences (clipped
    to what each family's world allows); ``n_train`` stories (``val_fraction`` of them held out for
    validation) and ``n_test`` test stories; ``optimizer`` at ``lr`` (halved every
    ``lr_halve_every`` epochs, 0 = never) for ``epochs`` epochs of ``batch_size``; memory networks
    of width ``embed`` (position encoding, temporal encoding, adjacent tying, ``memory_size``
    slots, ``empty_slots`` in the softmax, ``random_noise``), linear start for at most
    ``linear_start`` epochs (0 = none); LSTM of ``lstm_hidden`` units trained with Adam at ``lstm_lr``."""

    qas: tuple[str, ...] = tuple(QA)
    models: tuple[Model, ...] = ("memn2n-1hop", "memn2n-3hop", "kv-memn2n-3hop", "lstm")
    seeds: tuple[int, ...] = (0,)
    sentences_min: int = 2
    sentences_max: int = 10
    n_train: int = 1000
    n_test: int = 1000
    val_fraction: float = 0.1
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "sgd"  # sgd (the paper) | adam
    lr: float = 0.01
    lr_halve_every: int = 15  # the paper: every 25 of 100 epochs; 15 of 30 here (CPU budget)
    embed: int = 20
    memory_size: int = 50
    empty_slots: bool = True
    random_noise: float = 0.1
    linear_start: int = 10  # most epochs without the hop softmax (memory networks)
    lstm_hidden: int = 64
    lstm_lr: float = 0.01
    max_time: float = 0.0  # seconds per unit (0 = no cap)

    def validate(self) -> None:
        for qa in self.qas:
            if qa not in QA:
                raise ConfigError(f"qas={qa!r} is not allowed; choose from {', '.join(QA)}")
        for s in self.seeds:
            check_range("seeds", s, 0, 2**31 - 1)
        check_range("sentences_min", self.sentences_min, 1, 200)
        check_range("sentences_max", self.sentences_max, self.sentences_min, 200)
        check_range("n_train", self.n_train, 2, 1_000_000)
        check_range("n_test", self.n_test, 1, 1_000_000)
        check_range("val_fraction", self.val_fraction, 0, 0.5, hi_open=True)
        check_range("epochs", self.epochs, 1, 100_000)
        check_range("batch_size", self.batch_size, 1, 65536)
        check_choice("optimizer", self.optimizer, ("sgd", "adam"))
        check_range("lr", self.lr, 0, 1, lo_open=True)
        check_range("lstm_lr", self.lstm_lr, 0, 1, lo_open=True)
        check_range("lr_halve_every", self.lr_halve_every, 0, 100_000)
        check_range("embed", self.embed, 1, 4096)
        check_range("memory_size", self.memory_size, 1, 10_000)
        check_range("random_noise", self.random_noise, 0, 1)
        check_range("lstm_hidden", self.lstm_hidden, 1, 4096)
        check_range("linear_start", self.linear_start, 0, self.epochs)
        check_range("max_time", self.max_time, 0, 86400)


def lengths_for(qa: str, cfg: Memn2nBabiConfig) -> tuple[int, int]:
    """The story lengths of ``qa``: the config's range clipped to what the world allows."""
    lo, hi = QA[qa]
    a, b = max(lo, cfg.sentences_min), min(hi, cfg.sentences_max)
    return (a, max(a, b)) if a <= hi else (hi, hi)


def build_net(model: str, spec, cfg: Memn2nBabiConfig):
    """``lstm``, ``memn2n-Khop`` or ``kv-memn2n-Khop`` at the experiment's sizes."""
    from memlab.models import build_model

    if model == "lstm":
        return build_model("lstm", spec, overrides={"hidden": cfg.lstm_hidden, "layers": 1, "embed": cfg.embed,
                                                     "shared": False})
    family, hops = model.rsplit("-", 1)
    common = {"hops": int(hops.removesuffix("hop")), "embed": cfg.embed, "memory_size": cfg.memory_size,
              "empty_slots": cfg.empty_slots, "random_noise": cfg.random_noise}
    return build_model(family, spec, overrides=common)


def train_unit(cfg: Memn2nBabiConfig, qa: str, model: str, seed: int) -> dict[str, Any]:
    """Train ``model`` on ``qa``'s fixed training set; its record (without provenance)."""
    import torch

    from memlab.models.memn2n import hop_story
    from memlab.tasks.babi import Babi

    lo, hi = lengths_for(qa, cfg)
    task = Babi({"qa": qa, "train_min": lo, "train_max": hi, "test_min": lo, "test_max": hi})
    stories = task.dataset("train", cfg.n_train, seed=seed)
    test = task.dataset("test", cfg.n_test, seed=seed, exclude={tuple(x.tolist()) for x, _ in stories})
    n_val = int(round(cfg.val_fraction * len(stories)))
    train, val = stories[: len(stories) - n_val], stories[len(stories) - n_val :]

    def batch_of(pairs):
        k = torch.tensor([int((x == 0).sum()) for x, _ in pairs])  # sentences = '.' tokens
        return task.assemble(pairs, k)

    def mean_loss(pairs) -> float:
        net.eval()
        with torch.no_grad():
            tot = sum(task.loss(net(b := batch_of(pairs[i : i + 256])), b).item() * b.inputs.shape[1]
                      for i in range(0, len(pairs), 256))
        net.train()
        return tot / max(len(pairs), 1)

    torch.manual_seed(seed)
    net = build_net(model, task.spec, cfg)
    memnet = model != "lstm"
    ls_max = cfg.linear_start if memnet else 0
    lr0 = cfg.lstm_lr if not memnet else cfg.lr / 2 if ls_max else cfg.lr  # LS: η = 0.005 (§4.2)
    sgd = memnet and cfg.optimizer == "sgd"
    opt = torch.optim.SGD(net.parameters(), lr=lr0) if sgd else torch.optim.Adam(net.parameters(), lr=lr0)
    if memnet:
        net.linear = ls_max > 0
    g = torch.Generator().manual_seed(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    epochs_done, losses, val_losses, ls_epochs = 0, [], [], 0
    for epoch in range(cfg.epochs):
        if memnet and cfg.lr_halve_every and epoch and epoch % cfg.lr_halve_every == 0:
            for group in opt.param_groups:
                group["lr"] /= 2
        net.train()
        order = torch.randperm(len(train), generator=g).tolist()
        total = 0.0
        for i in range(0, len(order), cfg.batch_size):
            batch = batch_of([train[j] for j in order[i : i + cfg.batch_size]])
            opt.zero_grad()
            loss = task.loss(net(batch), batch)
            # SGD as in the authors' code: the loss summed over the batch's answer symbols (η = 0.01 is for that sum)
            (loss * batch.mask.sum() if sgd else loss).backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 40.0)
            opt.step()
            total += loss.item() * batch.inputs.shape[1]
        losses.append(round(total / len(train), 4))
        if val:
            val_losses.append(round(mean_loss(val), 4))
        epochs_done += 1
        if memnet and net.linear:
            ls_epochs += 1
            # LS ends when the validation loss stops falling (§4.2), or after linear_start epochs
            if ls_epochs >= ls_max or (len(val_losses) >= 2 and val_losses[-1] >= val_losses[-2]):
                net.linear = False
        if cfg.max_time and time.perf_counter() - t0 > cfg.max_time:
            break
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    net.eval()
    if memnet:
        net.linear = False
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test), 256):
            batch = batch_of(test[i : i + 256])
            correct += task.score(net(batch), batch).seqs_correct
        train_acc = task.score(net(b := batch_of(train[:500])), b).coarse
    rec: dict[str, Any] = {"kind": "run", "qa": qa, "model": model, "seed": seed, "n_train": cfg.n_train,
                           "n_fit": len(train), "n_val": len(val), "n_test": len(test), "sentences": [lo, hi],
                           "epochs": epochs_done, "ls_epochs": ls_epochs, "n_params": net.n_params(),
                           "train_s": round(train_s, 2), "train_cpu_s": round(cpu_s, 2), "loss_curve": losses,
                           "val_loss_curve": val_losses, "train_accuracy": train_acc,
                           "accuracy": correct / len(test)}
    if memnet and net.cfg.hops > 1:
        rec["hop_story"] = hop_story(net, task, *test[0])
    return rec


def median_cell(values: list[float], digits: int = 3) -> str:
    """"median" for one value, "median [min–max]" over several seeds, "–" for none."""
    if not values:
        return "–"
    v = sorted(values)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return f"{med:.{digits}f}" + (f" [{v[0]:.{digits}f}–{v[-1]:.{digits}f}]" if n > 1 else "")


def render_table(records: list[dict[str, Any]]) -> str:
    """README.md from the run records: test accuracy per question family (rows) and model
    (columns), one table per training-set size; median over seeds [min–max]."""
    runs = [r for r in records if r.get("kind") == "run"]
    models = list(dict.fromkeys(r["model"] for r in runs))
    qas = [q for q in QA if any(r["qa"] == q for r in runs)]
    lines = ["# memn2n-babi: memory networks on generated bAbI-style tasks (Sukhbaatar et al. 2015)", "",
             "Test accuracy (whole answer right) on stories disjoint from the training ones; median over seeds "
             "[min–max] (number of seeds). Rendered by `memlab table memn2n-babi`.", ""]
    for n_train in sorted({r["n_train"] for r in runs}):
        rn = [r for r in runs if r["n_train"] == n_train]
        ms = [m for m in models if any(r["model"] == m for r in rn)]
        lines += [f"## {n_train} training stories", "",
                  "| question family | sentences | " + " | ".join(ms) + " |", "|---|---|" + "---|" * len(ms)]
        for qa in qas:
            rq = [r for r in rn if r["qa"] == qa]
            if not rq:
                continue
            cells = []
            for m in ms:
                rs = [r for r in rq if r["model"] == m]
                cells.append(median_cell([r["accuracy"] for r in rs]) + (f" ({len(rs)})" if rs else ""))
            s = rq[0]["sentences"]
            lines.append(f"| {qa} | {s[0]}–{s[1]} | " + " | ".join(cells) + " |")
        lines.append("")
    if not any(r["n_train"] >= 10_000 for r in runs):
        lines += ["No 10k-story records in this folder: the 10k setting (`--set n_train=10000`) is a "
                  "configuration of its own, so its records go to another folder (`--out DIR`; the committed "
                  "ones are in `results/memn2n_babi/10k/`).", ""]
    lines += ["| model | params (first family) | epochs (linear-start epochs), median | training CPU seconds "
              "(all units) | training wall seconds (all units) |", "|---|---|---|---|---|"]
    for m in models:
        rs = [r for r in runs if r["model"] == m]
        ep = sorted(r["epochs"] for r in rs)[len(rs) // 2]
        ls = sorted(r.get("ls_epochs", 0) for r in rs)[len(rs) // 2]
        cpu = sum(r.get("train_cpu_s", 0.0) for r in rs)
        lines.append(f"| {m} | {rs[0]['n_params']} | {ep} ({ls}) | {cpu:.0f} | {sum(r['train_s'] for r in rs):.0f} |")
    lines += ["", "Wall time of each unit: `unit_wall_s` in the records; the machine was shared, so wall "
              "seconds run well above CPU seconds."]
    return "\n".join(lines) + "\n"


class Memn2nBabi(Experiment):
    name = "memn2n-babi"
    title = ("end-to-end memory networks on generated bAbI-style QA: 1 hop vs 3 hops vs key-value vs LSTM "
             "(Sukhbaatar et al. 2015, Miller et al. 2016)")
    config_cls = Memn2nBabiConfig
    default_out = "results/memn2n_babi"
    hash_exclude = ("qas", "models", "seeds", "max_time")
    record_fields = ("kind",)

    def quick_overrides(self) -> dict[str, Any]:
        return {"qas": ["single-supporting-fact", "path-finding"], "n_train": 40, "n_test": 20, "epochs": 2,
                "linear_start": 1, "embed": 8, "lstm_hidden": 8, "sentences_max": 4, "memory_size": 8}

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
            best = max(hop, key=lambda r: (r["model"] == "memn2n-3hop", r["qa"] == "two-supporting-facts",
                                           r["qa"] == "three-supporting-facts",
                                           r["hop_story"]["predicted"] == r["hop_story"]["answer"], -r["seed"]))
            paths.append(plot_hop_attention(best, out_dir / "hops.png"))
        return paths


EXPERIMENT = Memn2nBabi()
