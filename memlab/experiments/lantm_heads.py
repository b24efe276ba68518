"""lantm-heads: how the read head of every trained LANTM run moves while it answers (issue 13).

Seed 004 (appendix A) describes a learned LANTM as reading *along its write line*: the read key
gate g shuts (the head keeps its previous key and moves by steps) and each answer read lands on a
written slot. This experiment measures that for every LANTM run folder of a store, so learned
and failed runs can be compared: one unit per run folder (at ``checkpoint``) traces ``samples``
problems of the task's longest training length with ``memlab.evaluation.trace.lantm_trace_record``
and records, over the answer reads of all samples,

* ``g_answer``: the median read key gate g (0: the head moves by its step; 1: it jumps to the key
  the controller emits);
* ``step_answer``: the median distance between consecutive answer reads;
* ``distance``: the median distance from an answer read to the nearest slot written in the input
  phase (0: on the line), and ``at_slot0``: the share of answer reads whose nearest slot is slot 0
  (the ``<s>`` write, where the line starts);
* ``samples_right``: the share of the traced problems answered without a wrong symbol.

``SUMMARY.md`` groups the runs into learned (``samples_right`` ≥ ``learned_at``), failed with an
open read key gate (median g ≥ ``open_gate``) and failed with a shut one; ``heads.png`` plots
``samples_right`` against ``g_answer``. Nothing is trained: the runs come from ``memlab run
lantm-tables`` (``results/lantm/runs`` holds the committed ones).

    memlab run lantm-heads [--set runs=results/lantm/runs checkpoint=best samples=8]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memlab.core.errors import ConfigError
from memlab.experiments._records import NUMBER, check_records
from memlab.experiments.base import Experiment, RunContext, Unit

LANTM_MODELS = ("lantm-invnorm", "lantm-softmax")
CHECKPOINTS = ("best", "last")


@dataclass
class LantmHeadsConfig:
    """runs: folder of run folders; models: which LANTM models' runs to trace; checkpoint: best | last;
    samples: problems traced per run (sample seeds 0..samples−1); learned_at, open_gate: the
    summary's thresholds (not part of the config hash)."""

    runs: str = "results/lantm/runs"
    models: tuple[str, ...] = LANTM_MODELS
    checkpoint: str = "best"
    samples: int = 8
    learned_at: float = 0.9
    open_gate: float = 0.3
    jobs: int = 1
    seed: int = 0
    select: tuple[str, ...] = field(default_factory=tuple)  # run folder names to trace (default: all)

    def validate(self) -> None:
        from memlab.core.errors import check_choice, check_range

        if not Path(self.runs).is_dir():
            raise ConfigError(f"runs={self.runs!r} is not a folder; allowed: a folder of LANTM run folders "
                              "(e.g. results/lantm/runs)")
        for m in self.models:
            check_choice("models", m, LANTM_MODELS)
        if not self.models:
            raise ConfigError(f"models is empty; allowed: one or more of {', '.join(LANTM_MODELS)}")
        check_choice("checkpoint", self.checkpoint, CHECKPOINTS)
        check_range("samples", self.samples, 1, 256)
        check_range("learned_at", self.learned_at, 0, 1)
        check_range("open_gate", self.open_gate, 0, 1)
        for name in self.select:
            if "/" in name or name in ("", ".", ".."):
                raise ConfigError(f"select={name!r} is not a run folder name; allowed: names of folders under runs")


def _run_model(run_dir: Path) -> str | None:
    """The model a run folder trained (``read_run_config``), or None for what is not a run folder."""
    from memlab.core.errors import MemlabError
    from memlab.training.config import read_run_config

    try:
        return read_run_config(run_dir).model
    except MemlabError:  # ConfigError is one too: a folder of another kind, or a corrupt config
        return None


def _median(xs: list[float]) -> float | None:
    import statistics

    return float(statistics.median(xs)) if xs else None


def heads_record(run: Any, length: int, samples: int) -> dict[str, Any]:
    """The read head's answer-phase figures of a loaded LANTM run (``run``: ``LoadedRun``) over
    ``samples`` traced problems of ``length`` (sample seeds 0..samples−1)."""
    from memlab.evaluation.trace import lantm_trace_record

    gates, steps, dists, slots, right = [], [], [], [], 0
    for s in range(samples):
        rec = lantm_trace_record(run, length, s)
        n_in, off, n = rec["eoi"], rec["read_offset"], len(rec["reads"])
        gates += rec["gates"]["read key"][n_in - off: n_in - off + n]
        reads = rec["reads"]
        steps += [((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5 for a, b in zip(reads, reads[1:])]
        dists += rec["read_distance"]
        slots += rec["read_slot"]
        right += rec["symbols_wrong"] == 0
    return {"length": length, "samples": samples, "answer_reads": len(dists),
            "g_answer": _median(gates), "step_answer": _median(steps), "distance": _median(dists),
            "at_slot0": sum(j == 0 for j in slots) / len(slots) if slots else None,
            "samples_right": right / samples}


def outcome(rec: dict[str, Any], learned_at: float, open_gate: float) -> str:
    """learned | failed, gate open | failed, gate shut (a run with no answer reads: failed, gate shut)."""
    if rec["samples_right"] >= learned_at:
        return "learned"
    return "failed, gate open" if (rec["g_answer"] or 0.0) >= open_gate else "failed, gate shut"


OUTCOMES = ("learned", "failed, gate open", "failed, gate shut")


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def render(records: list[dict], learned_at: float, open_gate: float, checkpoint: str) -> str:
    """SUMMARY.md from the records: the runs by outcome, then one row per run."""
    by = {o: [r for r in records if outcome(r, learned_at, open_gate) == o] for o in OUTCOMES}
    lines = ["# LANTM read heads while answering (memlab run lantm-heads)", "",
             f"Rendered from `records.jsonl`: {len(records)} run folders at checkpoint `{checkpoint}`, each traced on "
             f"{records[0]['samples'] if records else '?'} problems of its task's longest training length. Per run: the "
             "median read key gate g over the answer reads (0: the head moves by its step along the line; 1: it jumps "
             "to the key the controller emits), the median distance between consecutive answer reads, the median "
             "distance from an answer read to the nearest slot written in the input phase, the share of answer reads "
             "nearest slot 0 (the line's start), and the share of the traced problems answered without a wrong "
             f"symbol. Learned: that share ≥ {learned_at:g}; a failed run's gate counts as open at median g ≥ {open_gate:g}.",
             "", "## By outcome (medians over the runs)", "",
             "| outcome | runs | g while answering | read step | distance to the line | reads nearest slot 0 | problems right |",
             "|---|---|---|---|---|---|---|"]
    for o in OUTCOMES:
        rs = by[o]
        med = lambda k: _median([r[k] for r in rs if r[k] is not None])  # noqa: E731
        lines.append(f"| {o} | {len(rs)} | {_fmt(med('g_answer'), 3)} | {_fmt(med('step_answer'))} | "
                     f"{_fmt(med('distance'))} | {_fmt(med('at_slot0'))} | {_fmt(med('samples_right'))} |")
    lines += ["", "## Every run", "",
              "| run | model | task | seed | checkpoint | outcome | g while answering | read step | distance | nearest slot 0 | problems right |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: (r["task"], r["model"], r["run_id"])):
        lines.append(f"| {r['run_id']} | {r['model']} | {r['task']} | {r['seed']} | {r['checkpoint']} | "
                     f"{outcome(r, learned_at, open_gate)} | {_fmt(r['g_answer'], 3)} | {_fmt(r['step_answer'])} | "
                     f"{_fmt(r['distance'])} | {_fmt(r['at_slot0'])} | {_fmt(r['samples_right'])} |")
    return "\n".join(lines) + "\n"


class LantmHeads(Experiment):
    name = "lantm-heads"
    title = "issue 13: how each trained LANTM's read head moves while answering (key gate, step, distance to the line)"
    config_cls = LantmHeadsConfig
    default_out = "results/lantm-heads"
    hash_exclude = ("jobs", "select", "learned_at", "open_gate", "models")
    record_fields = {"run_id": str, "model": str, "task": str, "seed": int, "checkpoint": str,
                     "samples_right": NUMBER, "samples": int}

    def quick_overrides(self) -> dict[str, Any]:
        return {"samples": 2}

    def units(self, cfg: LantmHeadsConfig) -> list[Unit]:
        units = []
        for d in sorted(Path(cfg.runs).iterdir()):
            if cfg.select and d.name not in cfg.select:
                continue
            if _run_model(d) not in cfg.models or not (d / "checkpoints" / f"{cfg.checkpoint}.pt").is_file():
                continue
            units.append(Unit(f"{d.name}@{cfg.checkpoint}", {"run_dir": str(d)}))
        return units

    def unit_key(self, record: dict[str, Any]) -> str:
        return f"{record['run_id']}@{record['checkpoint'].split('.pt')[0]}"

    def run_unit(self, cfg: LantmHeadsConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        from memlab.evaluation.load import load_run

        run = load_run(unit.params["run_dir"], cfg.checkpoint, device=ctx.device)
        length = int(run.config.task_cfg["train_max"])
        rec = {"run_id": run.run_dir.name, "model": run.config.model, "task": run.config.task,
               "seed": int(run.config.seed), "checkpoint": f"{run.checkpoint_path.stem}.pt@{run.epoch}",
               "run_commit": run.config.commit}
        rec.update(heads_record(run, length, cfg.samples))
        return [rec]

    def summarise(self, cfg: LantmHeadsConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text

        check_records(records, self.record_fields, str(Path(out_dir) / self.records_file))
        atomic_write_text(Path(out_dir) / "SUMMARY.md", render(records, cfg.learned_at, cfg.open_gate, cfg.checkpoint))
        counts = {o: sum(outcome(r, cfg.learned_at, cfg.open_gate) == o for r in records) for o in OUTCOMES}
        return {"runs": len(records), **{o.replace(", ", "_").replace(" ", "_"): n for o, n in counts.items()}}

    def plot(self, cfg: LantmHeadsConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        from memlab.plots.lantm import heads_figure

        return [heads_figure(records, Path(out_dir) / "heads.png")] if records else []


EXPERIMENT = LantmHeads()
