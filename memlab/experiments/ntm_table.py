"""NTM / DNC results table (seeds 001, 002): trained runs evaluated at exact lengths.

Units are evaluations of given run folders: one per (run, checkpoint kind, length), each a
record with the scores and the run's training cost up to the evaluated checkpoint. The summary
(``results/ntm/results.md``) lists every record and the median over seeds per model variant
(a model whose settings differ from its defaults gets its own label; medians never pool
variants).

    memlab eval RUN … --lengths 20,40,80,120 --out results/ntm   # or: memlab run ntm-table --set runs=RUN,…
    memlab table ntm-table                                       # results/ntm/results.md from evals.jsonl
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Literal

from memlab.core.errors import ConfigError
from memlab.experiments.base import Experiment, RunContext, Unit


@dataclass
class NTMTableConfig:
    """runs: run folders to evaluate; lengths: exact lengths or ``lo-hi`` ranges; checkpoints:
    which of each run's checkpoints; batches of batch_size fresh sequences per length."""

    runs: tuple[str, ...] = ()
    lengths: tuple[str, ...] = ("20", "40", "80", "120")
    checkpoints: tuple[Literal["best", "last"], ...] = ("best",)
    batches: int = 20
    batch_size: int = 32

    def validate(self) -> None:
        from memlab.core.errors import check_range
        from memlab.evaluation.evaluate import MAX_BATCHES, parse_lengths

        parse_lengths(list(self.lengths))
        if not self.checkpoints:
            raise ConfigError("checkpoints is empty; choose best, last or both (e.g. --set checkpoints=best,last)")
        check_range("batches", self.batches, 1, MAX_BATCHES)
        check_range("batch_size", self.batch_size, 1, 65_536)
        for r in self.runs:
            if not Path(r).is_dir():
                raise ConfigError(f"runs: {r} is not a run folder")


# --------------------------------------------------------------------------- records
def with_training_cost(rec: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """``rec`` (an evaluation of ``run_dir``) with the run's training cost up to the evaluated
    checkpoint: sequences_seen, train_wall_s, run_epochs, run_stop_reason, model_cfg, train."""
    from memlab.core.io import read_jsonl

    config = json.loads((run_dir / "config.json").read_text())
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary = summary if isinstance(summary, dict) else {}
    kind, _, epoch_s = str(rec.get("checkpoint", "")).partition("@")
    kind = kind.removesuffix(".pt")
    epoch = int(epoch_s) if epoch_s.isdigit() else 0
    tr = config.get("train") or {}
    wall = next((m.get("elapsed_s") for m in read_jsonl(run_dir / "metrics.jsonl") if m.get("epoch") == epoch), None)
    return {**rec, "run_id": run_dir.name, "model": config.get("model"), "task": config.get("task"),
            "seed": config.get("seed"), "checkpoint": f"{kind}@{epoch}",
            "sequences_seen": epoch * int(tr.get("batches_per_epoch", 0)) * int(tr.get("batch_size", 0)),
            "train_wall_s": wall, "run_epochs": summary.get("epochs"), "run_stop_reason": summary.get("stop_reason"),
            "model_cfg": config.get("model_cfg"), "train": tr}


# --------------------------------------------------------------------------- table
#: settings that change how a model is computed, not what it is
_NOT_VARIANT = ("kernel", "compile")


def model_label(record: dict[str, Any]) -> str:
    """The model name, with the settings of ``record["model_cfg"]`` that differ from the
    model's defaults, e.g. ``ntm (controller=ff, read_heads=4)``."""
    from memlab.models import MODELS

    name, cfg = record["model"], record.get("model_cfg") or {}
    entry = MODELS.get(name)
    if entry is None:
        return name
    defaults = {f.name: f.default for f in fields(entry.config_cls) if f.default is not MISSING}
    diff = [f"{k}={v}" for k, v in sorted(cfg.items()) if k in defaults and k not in _NOT_VARIANT and v != defaults[k]]
    return f"{name} ({', '.join(diff)})" if diff else name


def length_key(length: int | str) -> tuple[int, int]:
    """Sort key of an exact length (20) or a range ("1-20"): ranges before the lengths they end at."""
    if isinstance(length, str):
        lo, hi = (int(x) for x in length.split("-"))
        return hi, lo - hi
    return length, 0


def render_results_table(records: Iterable[dict[str, Any]]) -> str:
    """Markdown table of length-evaluation records, one row per (run, checkpoint, length), sorted."""
    recs = sorted(records, key=lambda r: (model_label(r), r["task"], r["seed"], r["checkpoint"], length_key(r["length"])))
    lines = [
        "| model | task | seed | checkpoint | length | fine (bits) | coarse (sequences) | bit errors / seq | eval seqs | trained on (seqs) | train wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in recs:
        wall = r.get("train_wall_s")
        lines.append(
            f"| {model_label(r)} | {r['task']} | {r['seed']} | {r['checkpoint']} | {r['length']} | {100 * r['fine']:.2f}% | "
            f"{100 * r['coarse']:.1f}% | {r['bit_errors']:.3f} | {r['n_sequences']} | {r['sequences_seen']} | "
            f"{'' if wall is None else f'{wall:.0f}'} |"
        )
    return "\n".join(lines) + "\n"


def median_by_length(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str, Any], dict[str, float]]:
    """Median fine/coarse/bit errors over seeds per (model variant, task, checkpoint kind, length);
    for each run the most recent record of a kind and length counts once."""
    import numpy as np

    per_run: dict[tuple, dict[str, Any]] = {}
    for r in records:
        kind = str(r.get("checkpoint", "last@")).split("@")[0]
        per_run[(r["run_id"], kind, r["length"])] = r | {"_kind": kind}
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in per_run.values():
        groups.setdefault((model_label(r), r["task"], r["_kind"], r["length"]), []).append(r)
    return {
        k: {m: float(np.median([r[m] for r in v])) for m in ("fine", "coarse", "bit_errors")} | {"seeds": len(v)}
        for k, v in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], length_key(kv[0][3])))
    }


def render_results(records: list[dict[str, Any]], records_name: str = "evals.jsonl") -> str:
    """results.md: every (latest) record, then the medians over seeds."""
    latest: dict[tuple, dict] = {}
    for r in records:  # a re-evaluation of the same checkpoint and length replaces the older record
        latest[(r["run_id"], r["checkpoint"], r["length"])] = r
    recs = list(latest.values())
    text = ["# NTM / DNC results", "",
            f"Rendered by `memlab table ntm-table` from `{records_name}` ({len(recs)} records). Fine = fraction of "
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
    for (m, t, kind, L), v in median_by_length(recs).items():
        text.append(f"| {m} | {t} | {kind} | {L} | {v['seeds']} | {100 * v['fine']:.2f}% | {100 * v['coarse']:.1f}% "
                    f"| {v['bit_errors']:.3f} |")
    return "\n".join(text) + "\n"


# --------------------------------------------------------------------------- experiment
class NTMTable(Experiment):
    name = "ntm-table"
    title = "NTM/DNC runs scored at exact lengths (seeds 001, 002) -> results/ntm/results.md"
    config_cls = NTMTableConfig
    default_out = "results/ntm"
    records_file = "evals.jsonl"
    # the selection of runs, lengths and checkpoints says which units exist, not what one yields
    record_fields = ("run_id", "model", "task", "seed", "checkpoint", "length", "fine", "coarse", "bit_errors")
    hash_exclude = ("runs", "lengths", "checkpoints")

    def quick_overrides(self) -> dict[str, Any]:
        return {"lengths": ("5",), "batches": 2}

    def units(self, cfg: NTMTableConfig) -> list[Unit]:
        from memlab.evaluation.evaluate import parse_lengths

        lengths = parse_lengths(list(cfg.lengths))
        return [Unit(f"{Path(run).name}/{kind}/{L}", {"run": run, "checkpoint": kind, "length": L})
                for run in cfg.runs for kind in cfg.checkpoints for L in lengths]

    def unit_key(self, record: dict[str, Any]) -> str:
        if "unit" in record:
            return str(record["unit"])
        kind = str(record.get("checkpoint", "")).split("@")[0]
        return f"{record['run_id']}/{kind}/{record['length']}"  # records from before the runner

    def run_unit(self, cfg: NTMTableConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        from memlab.evaluation.evaluate import evaluate_run

        p = unit.params
        recs = evaluate_run(p["run"], None, batches=cfg.batches, batch_size=cfg.batch_size, device=ctx.device,
                            checkpoint=p["checkpoint"], lengths=[p["length"]], record_in_run=False)
        return [with_training_cost(r, Path(p["run"])) for r in recs]

    def summarise(self, cfg: NTMTableConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        path = atomic_write_text(out_dir / "results.md", render_results(records, self.records_file))
        return {"table": str(path), "n_evals": len({(r["run_id"], r["checkpoint"], r["length"]) for r in records})}


EXPERIMENT = NTMTable()
