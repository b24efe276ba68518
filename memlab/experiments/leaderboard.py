"""leaderboard: every registered model × tasks × seeds under one protocol and one wall budget (issue 18).

Each cell (model, task, seed) is a normal run in the run store (``--store``, default
``runs/leaderboard``), trained with the model's per-task settings (``memlab.experiments.hparams``:
seed 004 Table 2, ntm.py, the baselines; ``hparams/leaderboard.py`` for families no paper covers),
the shared protocol (``hparams.leaderboard.PROTOCOL``) and at most ``budget_s`` wall seconds of
training over all its sessions. Then its ``checkpoint`` is scored at the seed 004 scales 1x…8x
(``scales``), or per length for the automaton-class tasks of the automata suite, and the memory core
inside the trained model is profiled (seed 000 save/recover profile, ``memlab.theory.profile``).
Finished cells are skipped; a cell stopped by Ctrl-C or a kill resumes from its last checkpoint
with the budget it has left. ``--executor ray`` runs cells as Ray tasks (docs/CONTRIBUTING.md).

    memlab run leaderboard --quick
    memlab run leaderboard --set seeds=0 budget_s=20 --jobs 1      # every model, 9 tasks
    memlab run leaderboard --set models=ntm,lstm tasks=copy,parity --executor ray --address HOST:6379
    memlab table leaderboard                                       # leaderboard.md from the records

Record schema (``records.jsonl``, one object per cell; the runner adds commit, diff_sha256, time,
config_hash, unit_wall_s, unit_cpu_s):

    unit "MODEL/TASK/sSEED", model, task, seed, automaton ("" or regular|dcf|cs|transduction),
    status  done (trained to its target or epoch cap) | timeout (the budget ran out first; scored
            all the same) | diverged (non-finite training; its last good checkpoint is scored) |
            failed (an error while training or scoring: reason) | n/a (the model cannot be built
            for the task, or its trainer refuses the task's sizes before the first epoch: reason),
    reason (str or null), stop_reason (the trainer's),
    scores  [{scale, length, lo, hi, fine, coarse, n_sequences}]: scale set (length null) for
            scale-scored tasks, length set (scale null) for the automaton-class tasks,
    target_coarse, sequences_to_target (training sequences at the first test evaluation with
    coarse >= target, else null), sequences_seen, epochs, train_wall_s, train_cpu_s, params,
    seq_per_s, budget_s,
    state_size (scalars in the trained core's state after ``max(profile_ns)`` items, null without
    a separable core), profile ({capacity, state_size, curve [[lag, error]], measure} or null),
    profile_reason (why null), run (the run folder), checkpoint, figures (names relative to the run folder:
    ``cell.png``, its training curve and scores; [] when it could not be drawn).
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from memlab.core.errors import ConfigError, MemlabError, check_range
from memlab.experiments._records import NUMBER
from memlab.experiments.base import Experiment, RunContext, Unit

SEED004_TASKS = ("copy", "reverse", "bigramFlip", "double", "addition")
NTM_TASKS = ("ntm-copy", "repeat-copy", "associative-recall", "priority-sort")
DEFAULT_TASKS = SEED004_TASKS + NTM_TASKS
STATUSES = ("done", "timeout", "diverged", "failed", "n/a")
#: what a trainer's stop_reason means for a cell
STATUS_OF_STOP = {"target": "done", "max_epochs": "done", "max_time": "timeout", "diverged": "diverged"}

OPT_NUMBER = (int, float, type(None))
RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "unit": str, "model": str, "task": str, "seed": int, "automaton": str, "status": str,
    "reason": (str, type(None)), "scores": list, "target_coarse": NUMBER, "sequences_to_target": (int, type(None)),
    "sequences_seen": int, "epochs": int, "train_wall_s": NUMBER, "train_cpu_s": NUMBER, "params": int,
    "seq_per_s": NUMBER, "budget_s": NUMBER, "state_size": (int, type(None)), "profile": (dict, type(None)),
    "run": str, "figures": list,
}
SCORE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "scale": (int, type(None)), "length": (int, type(None)), "lo": int, "hi": int, "fine": OPT_NUMBER,
    "coarse": OPT_NUMBER, "n_sequences": int}


@dataclass
class LeaderboardConfig:
    """models (empty: every registered model) × tasks × seeds, ``budget_s`` wall seconds of
    training per cell; scores at ``scales`` or (automaton-class tasks) at ``length_points`` lengths
    from 1 to ``length_factor`` × the longest training length; profile of the trained core at
    ``profile_ns`` items for the seeds in ``profile_seeds``. ``profile_ridge`` is the ridge on the
    standardised state features: with fewer training sequences than state scalars (a trained NTM:
    S = 3036) a near-interpolating fit scores worse than predicting zero (held-out lag-1 error
    0.58 at ridge 1, 0.41 at 30, 0.79 at 3000 on one NTM copy cell; above 1 at 1e-3), so the
    default sits in that range."""

    models: tuple[str, ...] = ()
    tasks: tuple[str, ...] = DEFAULT_TASKS
    seeds: tuple[int, ...] = (0, 1, 2)
    budget_s: float = 300.0
    max_epochs: int = 100_000
    target_coarse: float = 0.99
    size: int = 0  # 0: every model at its per-task size; else the controller size of every model
    checkpoint: Literal["last", "best"] = "last"
    scales: tuple[int, ...] = (1, 2, 4, 8)
    length_points: int = 12
    length_factor: int = 8
    eval_batches: int = 2
    eval_batch_size: int = 32
    profile_seeds: tuple[int, ...] = (0,)
    profile_ns: tuple[int, ...] = (1, 2, 4, 8, 16)
    profile_threshold: float = 0.1
    profile_train: int = 400
    profile_test: int = 200
    profile_ridge: float = 10.0
    model: dict[str, Any] = field(default_factory=dict)  # model.* settings for every cell
    train: dict[str, Any] = field(default_factory=dict)  # train.* settings for every cell (over the protocol)
    task: dict[str, Any] = field(default_factory=dict)  # task.* settings for every cell

    def validate(self) -> None:
        from memlab.models import MODELS
        from memlab.tasks import get_task_class

        for m in self.models:
            if m not in MODELS:
                raise ConfigError(f"models: unknown model {m!r}; choose from {', '.join(MODELS)}")
        if not self.tasks or not self.seeds:
            raise ConfigError("tasks and seeds must each name at least one")
        for t in self.tasks:
            get_task_class(t)
        for s in (*self.seeds, *self.profile_seeds):
            check_range("seeds", s, 0, 2**63 - 1)
        check_range("budget_s", self.budget_s, 0, 7 * 86400, lo_open=True)
        check_range("max_epochs", self.max_epochs, 1, 10**9)
        check_range("target_coarse", self.target_coarse, 0, 1, lo_open=True)
        check_range("size", self.size, 0, 65_536)
        if not self.scales:
            raise ConfigError("scales must name at least one scale (e.g. 1,2,4,8)")
        for n in self.scales:
            check_range("scales", n, 1, 1000)
        check_range("length_points", self.length_points, 1, 1000)
        check_range("length_factor", self.length_factor, 1, 1000)
        check_range("eval_batches", self.eval_batches, 1, 100_000)
        check_range("eval_batch_size", self.eval_batch_size, 1, 65_536)
        if not self.profile_ns:
            raise ConfigError("profile_ns must name at least one sequence length (e.g. 1,2,4,8,16)")
        for n in self.profile_ns:
            check_range("profile_ns", n, 1, 4096)
        check_range("profile_threshold", self.profile_threshold, 0, 1, lo_open=True)
        check_range("profile_train", self.profile_train, 2, 1_000_000)
        check_range("profile_test", self.profile_test, 2, 1_000_000)
        check_range("profile_ridge", self.profile_ridge, 0, lo_open=True)


def selected_models(cfg: LeaderboardConfig) -> list[str]:
    from memlab.models import MODELS

    return list(cfg.models) or list(MODELS)


def per_length(task: str) -> bool:
    """Automaton-class tasks of the automata suite are scored per length; the others per scale."""
    from memlab.experiments.automata_suite import SUITE_TASKS

    return task in SUITE_TASKS


# --------------------------------------------------------------------------- one cell
def cell_overrides(cfg: LeaderboardConfig, model: str, task: str) -> dict[str, Any]:
    """The cell's ``{"model", "task", "train"}`` overrides over the entry's per-task defaults."""
    from memlab.core.config import deep_merge
    from memlab.experiments.automata_suite import size_overrides
    from memlab.experiments.hparams.leaderboard import PROTOCOL, family_train
    from memlab.models import get_entry

    entry = get_entry(model)
    train = family_train(model, has_table=bool(entry.train_defaults(task)))
    protocol = {**PROTOCOL, "max_epochs": cfg.max_epochs, "target_coarse": cfg.target_coarse}
    m = size_overrides(model, cfg.size) if cfg.size else {}
    return {"model": deep_merge(m, cfg.model), "task": dict(cfg.task),
            "train": deep_merge(deep_merge(train, protocol), cfg.train)}


def run_name(model: str, task: str, seed: int, overrides: dict[str, Any]) -> str:
    """The run folder of a cell: model-task-sSEED and a hash of what it learns with."""
    from memlab.experiments.automata_suite import run_name as suite_run_name

    return suite_run_name(f"{model}-{task}-s{seed}", overrides)


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text}"[:300]


def sequences_to_target(run_dir: Path, target: float, seqs_per_epoch: int) -> int | None:
    """Training sequences at the first test evaluation with coarse >= ``target`` (metrics.jsonl)."""
    from memlab.experiments.runner import read_records

    for r in read_records(run_dir / "metrics.jsonl"):
        c = r.get("test_coarse")
        if isinstance(c, (int, float)) and c >= target:
            return int(r["epoch"]) * seqs_per_epoch
    return None


def eval_lengths(cfg: LeaderboardConfig, task: Any) -> list[int]:
    """``length_points`` lengths from 1 to length_factor × the longest training length, those the task allows."""
    from memlab.experiments.automata_suite import length_allowed

    top = cfg.length_factor * task.scale_range(1)[1]
    n = cfg.length_points
    cand = sorted({1 + round(i * (top - 1) / max(n - 1, 1)) for i in range(n)})
    out = []
    for k in cand:  # the nearest allowed length at or above k
        while k <= top and not length_allowed(task, k):
            k += 1
        if k <= top and k not in out:
            out.append(k)
    return out


def score_rows(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``evaluate`` records -> the schema's score rows."""
    return [{"scale": r.get("scale"), "length": r.get("length"), "lo": int(r["lengths"][0]), "hi": int(r["lengths"][1]),
             "fine": float(r["fine"]), "coarse": float(r["coarse"]), "n_sequences": int(r["n_sequences"])} for r in recs]


def ridge_recover_errors(S_tr: Any, S_te: Any, Y_tr: Any, Y_te: Any, d: int, ridge: float) -> Any:
    """Held-out normalised error per lag of a ridge recover map, fitted in its dual form.

    S_*: (B, S) states, Y_*: (B, L·d) items of lags 1..L. Features are standardised on the training
    set and a bias column appended, as ``memlab.theory.profile.fit_linear_recover``; its ridge
    solution W = (AᵀA + λI)⁻¹AᵀY equals Aᵀ(AAᵀ + λI)⁻¹Y, a (B × B) solve instead of (S × S): the
    trained cores have S in the thousands and B of a few hundred. Returns (L,) errors.
    """
    import torch

    mean, std = S_tr.mean(0), S_tr.std(0)
    scale = torch.where(std > 0, std, torch.ones_like(std))

    def design(S: Any) -> Any:
        return torch.cat([(S - mean) / scale, torch.ones(S.shape[0], 1, dtype=S.dtype)], 1)  # (B, S+1)

    A_tr, A_te = design(S_tr), design(S_te)
    K = A_tr @ A_tr.T  # (B, B)
    alpha = torch.linalg.solve(K + ridge * torch.eye(K.shape[0], dtype=K.dtype), Y_tr)  # (B, L·d)
    pred = (A_te @ A_tr.T) @ alpha  # (B_te, L·d)
    err = ((pred - Y_te) ** 2).reshape(Y_te.shape[0], -1, d).sum(-1).mean(0)
    ref = (Y_te ** 2).reshape(Y_te.shape[0], -1, d).sum(-1).mean(0)
    return (err / ref).numpy()


def core_profile(core: Any, ns: list[int], *, threshold: float, seed: int, n_train: int, n_test: int, ridge: float,
                 device: str = "cpu") -> dict[str, Any]:
    """Save/recover profile of a ``MemoryCore`` (seed 000 §2–4): after n i.i.d. N(0, I) items of
    its input size, the held-out error of a ridge recover map per lag (``ridge_recover_errors``),
    for each n in ``ns`` (one pass: the state after n items is a prefix state). capacity: the
    largest n (in increasing order, up to the first failure) with every lag below ``threshold``."""
    from memlab.theory.profile import item_size, random_items, states_at_lengths

    ns = sorted(set(ns))
    d, n_max = item_size(core), ns[-1]
    xs_tr, xs_te = random_items(n_max, n_train, d, seed), random_items(n_max, n_test, d, seed + 1)  # (n, B, d)
    st_tr, st_te = states_at_lengths(core, xs_tr, ns, device), states_at_lengths(core, xs_te, ns, device)
    rows, capacity, failed = [], 0, False
    for n in ns:
        idx = [n - k for k in range(1, n + 1)]  # lag k -> x_{n-k+1}
        Y_tr = xs_tr[idx].permute(1, 0, 2).reshape(n_train, -1)  # (B, n·d)
        Y_te = xs_te[idx].permute(1, 0, 2).reshape(n_test, -1)
        err = ridge_recover_errors(st_tr[n], st_te[n], Y_tr, Y_te, d, ridge)
        ok = bool((err < threshold).all())
        capacity = n if ok and not failed else capacity
        failed = failed or not ok
        rows.append({"n": n, "state_dim": int(st_tr[n].shape[1]), "error_by_lag": err.tolist()})
    return {"rows": rows, "capacity": capacity}


def memory_profile(model: Any, cfg: LeaderboardConfig, seed: int, device: str
                   ) -> tuple[int | None, dict[str, Any] | None, str | None]:
    """(state_size, profile, reason) of the memory core inside a trained ``model``.

    The core (``model.core``, a ``MemoryCore``, in float64, else as trained) reads i.i.d. N(0, I) items of its input
    size (``core_profile``); curve: error per lag after max(profile_ns) items.
    """
    from memlab.core.interfaces import MemoryCore

    core = getattr(model, "core", None)
    if not isinstance(core, MemoryCore):
        return None, None, f"{type(model).__name__} has no separable memory core (model.core is not a MemoryCore)"
    n_max = max(cfg.profile_ns)
    try:
        state_size = int(core.state_size(n_max))
    except Exception as e:  # noqa: BLE001 - a core that cannot say is recorded, not fatal
        return None, None, f"state_size() failed: {one_line(e)}"
    if seed not in cfg.profile_seeds:
        return state_size, None, f"profiled for seeds {', '.join(map(str, cfg.profile_seeds))} only"
    prof, errors, used = None, [], None
    for dtype in ("float64", "float32"):  # float64 first; a core with fixed float32 buffers (reservoirs) as it is
        try:
            mem = copy.deepcopy(core).eval()
            mem = mem.double() if dtype == "float64" else mem
            prof = core_profile(mem, list(cfg.profile_ns), threshold=cfg.profile_threshold, seed=seed,
                                n_train=cfg.profile_train, n_test=cfg.profile_test, ridge=cfg.profile_ridge,
                                device=device)
            used = dtype
            break
        except (MemlabError, RuntimeError, ValueError, NotImplementedError, TypeError) as e:
            errors.append(f"{dtype}: {one_line(e)}")
    if prof is None:
        return state_size, None, f"profile failed: {'; '.join(errors)}"[:300]
    last = prof["rows"][-1]
    curve = [[k + 1, round(float(e), 6)] for k, e in enumerate(last["error_by_lag"])]
    measure = (f"held-out normalised error of a ridge ({cfg.profile_ridge:g}) linear recover map per lag after "
               f"n={last['n']} N(0,I) items into the trained core ({cfg.profile_train} training sequences); "
               f"capacity: largest n in {list(cfg.profile_ns)} with every lag below {cfg.profile_threshold:g}")
    return state_size, {"capacity": float(prof["capacity"]), "state_size": int(last["state_dim"]), "curve": curve,
                        "measure": measure, "dtype": used}, None


def run_cell(cfg: LeaderboardConfig, model: str, task: str, seed: int, ctx: RunContext) -> dict[str, Any]:
    """Train (or resume) and score one cell -> its record (without the runner's provenance)."""
    from memlab.evaluation.load import build_run
    from memlab.experiments._cells import CPU_FILE, read_json, train_or_resume
    from memlab.core.io import portable_path
    from memlab.tasks import automaton_class
    from memlab.training.config import resolve_run_config

    over = cell_overrides(cfg, model, task)
    name = run_name(model, task, seed, over)
    rec: dict[str, Any] = {
        "model": model, "task": task, "seed": seed, "automaton": automaton_class(task), "status": "n/a",
        "reason": None, "stop_reason": None, "scores": [], "target_coarse": cfg.target_coarse,
        "sequences_to_target": None, "sequences_seen": 0, "epochs": 0, "train_wall_s": 0.0, "train_cpu_s": 0.0,
        "params": 0, "seq_per_s": 0.0, "budget_s": cfg.budget_s, "state_size": None, "profile": None,
        "profile_reason": None, "run": "", "checkpoint": None, "figures": []}
    try:  # a model that cannot be built for this task is a cell of its own: n/a, with the reason
        run_cfg = resolve_run_config(model, task, over, seed, "cpu")
        built, _, train_cfg = build_run(run_cfg, "cpu")
        rec["params"] = int(sum(p.numel() for p in built.parameters()))
        del built
    except (ConfigError, ValueError, NotImplementedError, TypeError) as e:
        rec["reason"] = f"{model} cannot be built for {task}: {one_line(e)}"
        return rec
    run_dir = ctx.store / name
    rec["run"] = portable_path(run_dir)
    try:
        summary = train_or_resume(model, task, seed, name=name, ctx=ctx, overrides=over, total_budget_s=cfg.budget_s)
    except KeyboardInterrupt:
        raise
    except MemlabError as e:
        if "in use by another memlab process" in str(e):
            raise  # another process trains this cell now: not a result
        if isinstance(e, ConfigError) and not (run_dir / "metrics.jsonl").exists():
            # refused before its first epoch (e.g. the task's answers exceed the model's answer length)
            rec.update(status="n/a", reason=f"{model} cannot be trained on {task}: {one_line(e)}", run="")
            return rec
        rec.update(status="failed", reason=f"training failed: {one_line(e)}")
        return rec
    except Exception as e:  # noqa: BLE001 - one cell's error is its record, not the end of the board
        rec.update(status="failed", reason=f"training failed: {one_line(e)}")
        return rec
    stop = summary.get("stop_reason") or ""
    rec["stop_reason"] = stop
    rec["status"] = "diverged" if summary.get("status") == "diverged" else STATUS_OF_STOP.get(stop, "done")
    if rec["status"] == "timeout":
        rec["reason"] = f"the budget of {cfg.budget_s:g} s ran out before test coarse reached {cfg.target_coarse:g}"
    elif rec["status"] == "diverged":
        rec["reason"] = summary.get("message") or "non-finite training"
    seqs_per_epoch = train_cfg.batches_per_epoch * train_cfg.batch_size
    rec.update(epochs=int(summary.get("epochs") or 0), sequences_seen=int(summary.get("sequences_seen") or 0),
               train_wall_s=round(float(summary.get("elapsed_s") or 0.0), 3),
               train_cpu_s=round(float(read_json(run_dir / CPU_FILE).get("cpu_s", 0.0)), 3),
               sequences_to_target=sequences_to_target(run_dir, cfg.target_coarse, seqs_per_epoch))
    rec["seq_per_s"] = round(rec["sequences_seen"] / rec["train_wall_s"], 2) if rec["train_wall_s"] > 0 else 0.0
    try:
        rec["scores"], rec["checkpoint"], model_obj = score_cell(cfg, run_dir, seed, ctx.device)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001
        rec.update(status="failed", reason=f"scoring failed: {one_line(e)}")
        return rec
    rec["state_size"], rec["profile"], rec["profile_reason"] = memory_profile(model_obj, cfg, seed, ctx.device)
    rec["figures"] = cell_figures(run_dir, rec)
    return rec


CELL_FIGURE = "cell.png"


def cell_figures(run_dir: Path, rec: dict[str, Any]) -> list[str]:
    """Draw the cell's figure into its run folder (training curve + scores, from its metrics and
    record); its name relative to the run folder, or [] when it cannot be drawn (a cell never
    fails for its figure)."""
    from memlab.core.io import read_jsonl
    from memlab.plots.leaderboard import plot_cell

    try:
        metrics = read_jsonl(run_dir / "metrics.jsonl") if (run_dir / "metrics.jsonl").exists() else []
        plot_cell(metrics, rec, run_dir / CELL_FIGURE)
    except Exception:  # noqa: BLE001 - matplotlib missing or a figure error: the record stands without it
        return []
    return [CELL_FIGURE]


def score_cell(cfg: LeaderboardConfig, run_dir: Path, seed: int, device: str) -> tuple[list[dict], str, Any]:
    """(score rows, checkpoint name@epoch, the loaded model) of a trained cell."""
    from memlab.evaluation import evaluate, load_run

    run = load_run(run_dir, cfg.checkpoint, device=device)
    kw = dict(batches=cfg.eval_batches, batch_size=cfg.eval_batch_size, seed=seed, device=device)
    if per_length(run.task.name):
        recs = evaluate(run.model, run.task, lengths=eval_lengths(cfg, run.task), **kw)
    else:
        recs = evaluate(run.model, run.task, scales=list(cfg.scales), **kw)
    return score_rows(recs), f"{run.checkpoint_path.name}@{run.epoch}", run.model


# --------------------------------------------------------------------------- summary
def _med(xs: list[float]) -> str:
    """median, with (min–max) over seeds when there are several."""
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not xs:
        return "–"
    m = statistics.median(xs)
    if len(xs) == 1:
        return f"{m:.1f}" if isinstance(m, float) else str(m)
    return f"{m:.1f} ({min(xs):.1f}–{max(xs):.1f})"


def _pct_med(xs: list[float | None]) -> str:
    return _med([100 * x for x in xs if x is not None])


def _count(n: float | None) -> str:
    return "–" if n is None else f"{n:,.0f}"


def cell_groups(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in sorted(records, key=lambda r: (r["task"], r["model"], r["seed"])):
        groups.setdefault((r["model"], r["task"]), []).append(r)
    return groups


def status_text(rs: list[dict[str, Any]]) -> str:
    counts = {s: sum(r["status"] == s for r in rs) for s in STATUSES}
    return ", ".join(f"{s}" + (f" ×{n}" if n > 1 else "") for s, n in counts.items() if n)


def column_keys(rs: list[dict[str, Any]]) -> list[tuple[str, int]]:
    keys = {("scale", s["scale"]) if s.get("scale") is not None else ("length", s["length"])
            for r in rs for s in r["scores"]}
    return sorted(keys, key=lambda k: (k[0], k[1]))


def rank_key(rs: list[dict[str, Any]], first: tuple[str, int] | None) -> tuple[float, float, str]:
    """Sort key of a (model, task) row: best median coarse, then fine, at ``first``; n/a rows last."""
    if first is None or all(r["status"] == "n/a" for r in rs):
        return (1.0, 1.0, rs[0]["model"])
    def med(key: str) -> float:
        m = median_at(rs, first, key)
        return -1.0 if m is None else m

    return (-med("coarse"), -med("fine"), rs[0]["model"])


def median_at(rs: list[dict[str, Any]], col: tuple[str, int], key: str = "coarse") -> float | None:
    """Median over the seeds ``rs`` of score ``key`` at column ``col`` (scale or length); None
    where no seed has one (n/a, diverged)."""
    xs = [s[key] for r in rs for s in r["scores"] if s.get(col[0]) == col[1] and s[key] is not None]
    return statistics.median(xs) if xs else None


#: a model "learns" a task when its median coarse score over seeds at the task's first scale (or
#: length) is at least this
LEARNED_COARSE = 0.9


def _pct(x: float) -> str:
    return f"{100 * x:.1f}".removesuffix(".0")


def learned_summary(records: list[dict[str, Any]]) -> list[str]:
    """Markdown lines, from records only: per task (in the order the records first name them), how
    many models ran and which learned it (``LEARNED_COARSE``), each with its median coarse at every
    scale or length and its median training time; where none did, the closest model."""
    groups = cell_groups(records)
    models = {m for m, _ in groups}
    tasks = list(dict.fromkeys(r["task"] for r in records))
    lines = [f"## Which models learn each task (median coarse ≥ {_pct(LEARNED_COARSE)}% at the first scale)", "",
             "Ran: models with a cell on the task, of the board's " + str(len(models)) + " (n/a: cannot take the "
             "task). Coarse % at each scale (or length), median over seeds; then the median training time.", "",
             "| task | ran (n/a) | scales | learned by: coarse % per scale (train s) |", "|---|---|---|---|"]
    for t in tasks:
        rows = {m: rs for (m, t2), rs in groups.items() if t2 == t}
        na = sum(all(r["status"] == "n/a" for r in rs) for rs in rows.values())
        cols = sorted({k for rs in rows.values() for k in column_keys(rs)}, key=lambda k: k[1])
        first = cols[0] if cols else None
        ranked = sorted(rows.values(), key=lambda rs: rank_key(rs, first))

        def describe(rs: list[dict[str, Any]]) -> str:
            per = " / ".join("–" if (v := median_at(rs, c)) is None else _pct(v) for c in cols)
            return f"{rs[0]['model']} {per} ({_med([r['train_wall_s'] for r in rs])} s)"

        learned = [rs for rs in ranked if first and (v := median_at(rs, first)) is not None and v >= LEARNED_COARSE]
        scales = " / ".join(f"{c[1]}x" if c[0] == "scale" else f"L={c[1]}" for c in cols)
        if learned:
            text = "; ".join(describe(rs) for rs in learned)
        else:
            best = next((rs for rs in ranked if first and median_at(rs, first) is not None), None)
            fine = [s["fine"] for r in best for s in r["scores"] if s.get(first[0]) == first[1]] if best else []
            text = "none" + (f" (closest: {describe(best)}, fine {_pct_med(fine)}% at "
                             f"{scales.split(' / ')[0]})" if best else "")
        lines.append(f"| {t} | {len(rows)} of {len(models)} ({na}) | {scales} | {text} |")
    return lines + [""]


def render_table(cfg: LeaderboardConfig, records: list[dict[str, Any]]) -> str:
    """leaderboard.md from records only: one row per (model, task), medians (min–max) over seeds."""
    budgets = sorted({float(r["budget_s"]) for r in records})
    seeds = sorted({int(r["seed"]) for r in records})
    commits = sorted({str(r["commit"])[:7] for r in records if r.get("commit")})
    groups = cell_groups(records)
    targets = ", ".join(sorted({f"{r['target_coarse']:g}" for r in records}))
    lines = [f"# Leaderboard ({len(groups)} model × task rows, {len(records)} cells)", "",
             f"**A budget-limited ranking**: every cell trained for at most {', '.join(f'{b:g}' for b in budgets)} s of "
             f"wall time (seeds {', '.join(map(str, seeds))}; commit {', '.join(commits) or '?'}), so a model that "
             "learns slowly ranks low here even if it solves the task given time. Rendered by `memlab table "
             "leaderboard` from the `records.jsonl` beside this file. Coarse = % of test sequences entirely right, "
             "median over seeds (min–max where several); scales: 1x = training lengths, n x = lengths (n−1)m+1…nm; "
             "automaton-class tasks are scored at single lengths (L). Status: timeout = the budget ran out before "
             f"test coarse reached the target ({targets}), "
             "scored all the same; diverged/failed/n/a are shown, never dropped. Capacity / state: save/recover "
             "profile of the trained memory core (seed 000): items recovered with error < threshold vs `state_size()`, "
             "the scalars in its state after the profile's longest sequence.",
             ""]
    lines += learned_summary(records)
    for scored_by in ("scale", "length"):
        rows = {k: v for k, v in groups.items()
                if (per_length(k[1]) if scored_by == "length" else not per_length(k[1]))}
        if not rows:
            continue
        cols = sorted({k for rs in rows.values() for k in column_keys(rs)}, key=lambda k: k[1])
        if scored_by == "length":
            lines += ["## Automaton-class tasks (coarse % per length L)", ""]
        lines += ["Rows of a task are ranked by median coarse, then fine, at the first scale or length; n/a last.", ""] \
            if scored_by == "scale" else []
        head = [f"{c[1]}x" if c[0] == "scale" else f"L={c[1]}" for c in cols]
        first = cols[0] if cols else None
        lines += ["| task | model | seeds | status | " + " | ".join(head) + f" | fine {head[0] if head else ''} | "
                  "seqs to target | train s | params | seq/s | capacity / state size |",
                  "|---|---|---|---|" + "---|" * len(cols) + "---|---|---|---|---|---|"]
        for (m, t), rs in sorted(rows.items(), key=lambda kv: (kv[0][1], rank_key(kv[1], first))):
            cells = []
            for c in cols:
                vals = [s["coarse"] for r in rs for s in r["scores"] if s.get(c[0]) == c[1]]
                cells.append(_pct_med(vals))
            fine = _pct_med([s["fine"] for r in rs for s in r["scores"] if first and s.get(first[0]) == first[1]])
            if all(r["status"] == "n/a" for r in rs):
                reason = (rs[0].get("reason") or "").replace("|", "/")
                lines.append(f"| {t} | {m} | {len(rs)} | n/a: {reason[:100]} |" + " – |" * (len(cols) + 6))
                continue
            status = status_text(rs)
            bad = next((r for r in rs if r["status"] in ("failed", "diverged")), None)
            if bad is not None and bad.get("reason"):
                status += ": " + bad["reason"].replace("|", "/")[:80]
            reach = [r["sequences_to_target"] for r in rs if r["sequences_to_target"] is not None]
            reach_text = _count(statistics.median(reach)) + (f" ({len(reach)}/{len(rs)})" if len(rs) > 1 else "") if reach else "–"
            prof = next((r["profile"] for r in rs if r.get("profile")), None)
            ss = next((r["state_size"] for r in rs if r.get("state_size") is not None), None)
            cap = f"{prof['capacity']:g}" if prof else "–"
            cap += f" / {ss:,}" if ss is not None else " / –"
            lines.append(f"| {t} | {m} | {len(rs)} | {status} | " + " | ".join(cells) + f" | {fine} | {reach_text} | "
                         f"{_med([r['train_wall_s'] for r in rs])} | {_count(rs[0]['params'])} | "
                         f"{_med([r['seq_per_s'] for r in rs])} | {cap} |")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- experiment
class Leaderboard(Experiment):
    name = "leaderboard"
    title = "every model × seed-004/NTM (and automaton) tasks × seeds under one protocol and wall budget (issue 18)"
    config_cls = LeaderboardConfig
    default_out = "results/leaderboard"
    default_store = "runs/leaderboard"
    hash_exclude = ("models", "tasks", "seeds", "profile_seeds")
    record_fields = RECORD_FIELDS

    def quick_overrides(self) -> dict[str, Any]:
        return {"models": ("lstm-cell", "stack"), "tasks": ("double", "parity"), "seeds": (0,), "budget_s": 3.0,
                "size": 8, "scales": (1, 2), "length_points": 3, "length_factor": 2, "eval_batches": 1,
                "eval_batch_size": 4, "profile_ns": (1, 2), "profile_train": 50, "profile_test": 20,
                "train": {"batch_size": 4, "batches_per_epoch": 2, "eval_batches": 1, "max_epochs": 3}}

    def units(self, cfg: LeaderboardConfig) -> list[Unit]:
        return [Unit(f"{m}/{t}/s{s}", {"model": m, "task": t, "seed": s})
                for s in cfg.seeds for t in cfg.tasks for m in selected_models(cfg)]

    def run_unit(self, cfg: LeaderboardConfig, unit: Unit, ctx: RunContext) -> list[dict[str, Any]]:
        p = unit.params
        t0 = time.perf_counter()
        rec = run_cell(cfg, p["model"], p["task"], p["seed"], ctx)
        rec["cell_wall_s"] = round(time.perf_counter() - t0, 3)
        return [rec]

    def summarise(self, cfg: LeaderboardConfig, records: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
        from memlab.core.io import atomic_write_text
        from memlab.experiments._records import check_records

        for r in records:
            check_records(r["scores"], SCORE_FIELDS, f"{out_dir / self.records_file}: {r['unit']} scores")
        path = atomic_write_text(out_dir / "leaderboard.md", render_table(cfg, records))
        return {"table": str(path), "cells": len(records),
                **{f"cells_{s.replace('/', '')}": sum(r["status"] == s for r in records) for s in STATUSES}}


EXPERIMENT = Leaderboard()
