"""CLI commands for the NTM/DNC results: exact-length evaluation, weighting plots, tables.

    memlab ntm-eval RUN [RUN ...] --lengths 20,40,80,120 --records results/ntm/evals.jsonl
    memlab plot ntm RUN --out results/ntm/ntm-copy-weightings.png [--length 20]
    memlab ntm-table --records results/ntm/evals.jsonl --out results/ntm/results.md

``plot ntm`` writes the weightings as a JSON record next to the PNG and draws from that record.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from memlab.cli import area_group
from memlab.core.errors import ConfigError, MemlabError


def _parse_lengths(text: str) -> list[int | str]:
    """``"20,40,1-20"`` -> [20, 40, "1-20"]: exact lengths, or ranges sampled uniformly."""
    out: list[int | str] = []
    for tok in (t.strip() for t in text.split(",")):
        if not tok:
            continue
        try:
            lo, hi = (int(x) for x in tok.split("-", 1)) if "-" in tok else (int(tok), int(tok))
        except ValueError:
            raise ConfigError(f"--lengths {text!r} must be comma-separated integers or ranges, e.g. 20,40,1-20") from None
        if lo < 1 or hi < lo:
            raise ConfigError(f"--lengths {text!r}: each length must be >= 1 and each range lo-hi needs lo <= hi")
        out.append(lo if lo == hi else f"{lo}-{hi}")
    if not out:
        raise ConfigError(f"--lengths {text!r} holds no length; e.g. 20,40,80,120")
    return out


def _bounds(length: int | str) -> tuple[int, int]:
    if isinstance(length, str):
        lo, hi = length.split("-")
        return int(lo), int(hi)
    return length, length


def load_run(run_dir: str | Path, checkpoint: str = "best", device: str = "cpu"):
    """(model, task, config, summary, checkpoint epoch) of a run folder."""
    from memlab.training.run import build_from_config, read_run_config
    from memlab.training.trainer import load_model_weights

    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    model, task, _ = build_from_config(config, device)
    ckpt = run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not ckpt.exists():
        ckpt = run_dir / "checkpoints" / "last.pt"
    epoch = load_model_weights(model, ckpt, device)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    model.eval()
    return model, task, config, summary, epoch


def eval_lengths(run_dir: str | Path, lengths: list[int | str], batches: int = 20, batch_size: int = 32,
                 checkpoint: str = "best", device: str = "cpu") -> list[dict[str, Any]]:
    """Scores at each exact length (or "lo-hi" range, lengths uniform); one record each, with the
    run's training cost up to the evaluated checkpoint."""
    from memlab.core.io import provenance
    from memlab.core.runtime import make_generator
    from memlab.training.trainer import evaluate_batches

    model, task, config, summary, epoch = load_run(run_dir, checkpoint, device)
    # training cost up to the evaluated checkpoint (not to the end of a run that went on)
    tr = config["train"]
    seqs_at_ckpt = epoch * int(tr["batches_per_epoch"]) * int(tr["batch_size"])
    wall_at_ckpt = None
    metrics = Path(run_dir) / "metrics.jsonl"
    if metrics.exists():
        from memlab.core.io import read_jsonl

        wall_at_ckpt = next((m.get("elapsed_s") for m in read_jsonl(metrics) if m.get("epoch") == epoch), None)
    recs = []
    for L in lengths:
        lo, hi = _bounds(L)
        gen = make_generator(int(config["seed"]), 515151, lo if lo == hi else lo * 100_000 + hi)
        counts = evaluate_batches(model, task, lo, hi, batches, batch_size, gen, torch.device(device))
        d = counts.as_dict()
        rec = {
            "run_id": Path(run_dir).name, "model": config["model"], "task": config["task"], "seed": config["seed"],
            "length": L, "fine": d["fine"], "coarse": d["coarse"], "bit_errors": d.get("bit_errors", float("nan")),
            "n_sequences": d["n_sequences"], "checkpoint": f"{checkpoint}@{epoch}",
            "sequences_seen": seqs_at_ckpt, "train_wall_s": wall_at_ckpt,
            "run_epochs": summary.get("epochs"), "run_stop_reason": summary.get("stop_reason"),
            "model_cfg": config["model_cfg"], "train": config["train"],
        }
        rec.update(provenance(seed=int(config["seed"])))
        recs.append(rec)
    return recs


def _rounded(x: torch.Tensor, digits: int = 4) -> list:
    """A tensor as nested lists rounded to ``digits`` decimals (small, readable records)."""
    return torch.round(x.float(), decimals=digits).tolist()


def weightings_record(run_dir: str | Path, length: int = 20, seed: int = 0, checkpoint: str = "best",
                      device: str = "cpu") -> dict[str, Any]:
    """Inputs, outputs and the first example's read/write weightings over one sequence."""
    from memlab.core.io import provenance

    model, task, config, _, epoch = load_run(run_dir, checkpoint, device)
    core = getattr(model, "core", None)
    if core is None or not hasattr(core, "trace"):
        raise MemlabError(f"run {run_dir} is a {config['model']} model without read/write weightings to plot")
    if task.spec.kind != "binary":
        raise MemlabError(f"plot ntm draws binary tasks; run {run_dir} is on {config['task']}")
    batch = task.sample(1, length, torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        outputs = torch.sigmoid(model(batch))[:, 0]  # (T, O)
        tr = core.trace(model.encoder(batch.inputs))
    rec = {
        "run_id": Path(run_dir).name, "model": config["model"], "task": config["task"], "length": length,
        "checkpoint": f"{checkpoint}@{epoch}",
        "inputs": _rounded(batch.inputs[:, 0]), "targets": _rounded(batch.targets[:, 0]),
        "outputs": _rounded(outputs), "mask": batch.mask[:, 0].tolist(),
        "write": _rounded(tr["write"][:, 0]), "read": _rounded(tr["read"][:, 0]),
        "bit_errors": int(task.bit_errors(model(batch), batch)[0]) if hasattr(task, "bit_errors") else None,
    }
    rec.update(provenance(seed=seed))
    return rec


# --------------------------------------------------------------------------- handlers
def cmd_eval(args: argparse.Namespace) -> dict:
    from memlab.core.io import append_jsonl

    lengths = _parse_lengths(args.lengths)
    all_recs = []
    for run in args.runs:
        recs = eval_lengths(run, lengths, batches=args.batches, checkpoint=args.checkpoint, device=args.device)
        all_recs.extend(recs)
        if args.records:
            append_jsonl(Path(args.records), recs)
        if not args.json:
            for r in recs:
                print(f"{r['run_id']} length {r['length']}: fine {r['fine']:.4f} coarse {r['coarse']:.3f} "
                      f"bit errors/seq {r['bit_errors']:.3f}")
    return {"records": [{k: r[k] for k in ("run_id", "length", "fine", "coarse", "bit_errors")} for r in all_recs]}


def cmd_plot(args: argparse.Namespace) -> dict:
    from memlab.core.io import atomic_write_json
    from memlab.plots.ntm import plot_weightings

    rec = weightings_record(args.run, length=args.length, seed=args.seed, checkpoint=args.checkpoint, device=args.device)
    out = Path(args.out)
    rec_path = out.with_suffix(".json")
    atomic_write_json(rec_path, rec)
    plot_weightings(json.loads(rec_path.read_text()), out)
    if not args.json:
        print(f"wrote {out} (record {rec_path}); bit errors in the plotted sequence: {rec['bit_errors']}")
    return {"png": str(out), "record": str(rec_path), "bit_errors": rec["bit_errors"]}


def cmd_table(args: argparse.Namespace) -> dict:
    from memlab.core.io import atomic_write_text, read_jsonl
    from memlab.plots.ntm import median_by_length, render_results_table

    path = Path(args.records)
    if not path.exists():
        raise MemlabError(f"no records at {path}; run `memlab ntm-eval RUN --records {path}` first")
    all_recs = list(read_jsonl(path))
    latest: dict[tuple, dict] = {}
    for r in all_recs:  # a re-evaluation of the same checkpoint and length replaces the older record
        latest[(r["run_id"], r["checkpoint"], r["length"])] = r
    recs = list(latest.values())
    med = median_by_length(recs)
    text = ["# NTM / DNC results", "",
            f"Rendered by `memlab ntm-table` from `{path.name}` ({len(recs)} records). Fine = fraction of "
            "response bits right, coarse = fraction of sequences with every bit right, bit errors per "
            "sequence after thresholding logits at 0. Training cost: sequences seen and training wall time "
            "up to the evaluated checkpoint (`best@E`/`last@E` = checkpoint of epoch E; 2 CPU cores "
            "shared with other jobs). A model with settings in brackets differs from that model's defaults "
            "in those settings; medians never pool variants.", "", render_results_table(recs), "",
            "## Median over seeds", "",
            "`last` = the final checkpoint of each run (the fixed protocol); `best` = each run's checkpoint "
            "with the best score on the task's test range during training.", "",
            "| model | task | checkpoint | length | seeds | fine | coarse | bit errors / seq |",
            "|---|---|---|---|---|---|---|---|"]
    for (m, t, kind, L), v in med.items():
        text.append(f"| {m} | {t} | {kind} | {L} | {v['seeds']} | {100 * v['fine']:.2f}% | {100 * v['coarse']:.1f}% "
                    f"| {v['bit_errors']:.3f} |")
    out = Path(args.out)
    atomic_write_text(out, "\n".join(text) + "\n")
    if not args.json:
        print(f"wrote {out}")
    return {"path": str(out), "records": len(recs)}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ntm-eval", parents=[common], help="score NTM/DNC runs at exact lengths (e.g. 20,40,80,120)")
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--lengths", default="20,40,80,120")
    p.add_argument("--batches", type=int, default=20, help="batches of 32 per length")
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--records", default="", help="append the records to this JSONL file")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_eval)

    p = area_group(sub, "plot").add_parser("ntm", parents=[common], help="read/write weightings of a trained NTM/DNC over time (PNG)")
    p.add_argument("run", help="run folder")
    p.add_argument("--out", required=True, help="PNG path; the record goes next to it as .json")
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="seed of the plotted sequence")
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("ntm-table", parents=[common], help="markdown table from ntm-eval records")
    p.add_argument("--records", default="results/ntm/evals.jsonl")
    p.add_argument("--out", default="results/ntm/results.md")
    p.set_defaults(func=cmd_table)
