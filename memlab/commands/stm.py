"""CLI: ``memlab stm phase-diagram`` (seed 003 Fig. 2) and ``memlab stm recall-length`` (Fig. 3).

Both write records (JSONL, one line per recovery problem) first, then draw figures and a
markdown summary from the records only. Work is split into units (one network each) run in
parallel worker processes; finished units are appended as they complete, so an interrupted
run resumes where it stopped when started again with the same configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from memlab.core.errors import ConfigError

DEFAULT_OUT = "results/stm"


# ----------------------------------------------------------------------------------------------
# parallel, resumable execution of units
# ----------------------------------------------------------------------------------------------


def _worker_init() -> None:
    """One BLAS/torch thread per worker: the workers already fill the cores."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def _run_phase_unit(cfg_dict: dict, gi: int, trial: int, device: str) -> tuple[list[dict], float]:
    from memlab.core.config import from_dict
    from memlab.theory.stm import PhaseConfig, phase_unit

    t0 = time.process_time()
    recs = phase_unit(from_dict(PhaseConfig, cfg_dict), gi, trial, device)
    return recs, time.process_time() - t0


def _run_recall_trial(cfg_dict: dict, trial: int, device: str) -> tuple[list[dict], float]:
    from memlab.core.config import from_dict
    from memlab.theory.stm import RecallConfig, recall_length_trial

    t0 = time.process_time()
    recs = recall_length_trial(from_dict(RecallConfig, cfg_dict), trial, device)
    return recs, time.process_time() - t0


def _config_hash(cfg_dict: dict) -> str:
    """Hash of everything but the trial count (more trials extend a finished run)."""
    d = {k: v for k, v in cfg_dict.items() if k != "trials"}
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _execute(
    units: Sequence[tuple], fn: Callable, cfg_dict: dict, device: str, jobs: int, records_path: Path,
    extra: dict[str, Any], key: Callable[[dict], tuple], desc: str, quiet: bool,
) -> tuple[int, float]:
    """Run ``fn(cfg_dict, *unit, device)`` for every unit not yet in ``records_path``.

    Appends each unit's records as it finishes. Returns (units run, summed worker CPU seconds).
    """
    from tqdm import tqdm

    from memlab.core.io import append_jsonl, provenance, read_jsonl

    done = {key(r) for r in read_jsonl(records_path) if r.get("config_hash") == extra["config_hash"]}
    todo = [u for u in units if tuple(u) not in done]
    if not todo:
        return 0, 0.0
    prov = provenance(seed=cfg_dict.get("seed"))
    cpu = 0.0
    bar = tqdm(total=len(units), initial=len(units) - len(todo), desc=desc, unit="net", disable=quiet, smoothing=0.05)

    def store(recs: list[dict], secs: float) -> None:
        nonlocal cpu
        cpu += secs
        append_jsonl(records_path, [dict(prov, **extra, **r) for r in recs])
        bar.update(1)

    try:
        if jobs <= 1:
            _worker_init()
            for u in todo:
                store(*fn(cfg_dict, *u, device))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # trial-major (every grid point gets its first trials before any gets its last, so a
            # run stopped early still covers the grid), larger networks first within a trial
            order = sorted(todo, key=lambda u: (u[-1], -u[0]))
            with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init) as ex:
                futs = [ex.submit(fn, cfg_dict, *u, device) for u in order]
                for f in as_completed(futs):
                    store(*f.result())
    finally:
        bar.close()
    return len(todo), cpu


def _check_existing(records_path: Path, config_hash: str, fresh: bool) -> None:
    from memlab.core.io import read_jsonl

    if fresh and records_path.exists():
        records_path.unlink()
        return
    other = {r.get("config_hash") for r in read_jsonl(records_path)} - {config_hash}
    if other:
        raise ConfigError(
            f"{records_path} holds records of another configuration ({sorted(map(str, other))[0]}); "
            "pass --fresh to replace them or --out to write elsewhere"
        )


def _update_meta(meta_path: Path, chash: str, cfg_dict: dict, n_run: int, of: int, wall: float, cpu: float,
                 jobs: int, device: str, fresh: bool) -> dict:
    """Keep the configuration and the wall/CPU time of every invocation beside the records."""
    from memlab.core.io import atomic_write_json, now_iso

    meta = json.loads(meta_path.read_text()) if meta_path.exists() and not fresh else {}
    if meta.get("config_hash") != chash:
        meta = {"config_hash": chash, "invocations": []}
    meta["config"] = cfg_dict
    if n_run:
        meta["invocations"].append(dict(time=now_iso(), units=n_run, of=of, wall_seconds=wall,
                                        worker_cpu_seconds=cpu, jobs=jobs, cpus=os.cpu_count(),
                                        loadavg_1min=os.getloadavg()[0], device=device))
    meta["wall_seconds_total"] = sum(i["wall_seconds"] for i in meta["invocations"])
    meta["worker_cpu_seconds_total"] = sum(i["worker_cpu_seconds"] for i in meta["invocations"])
    atomic_write_json(meta_path, meta)
    return meta


def _build_cfg(cls, base: dict[str, Any], overrides: list[str] | None):
    from memlab.core.config import from_dict, parse_overrides, to_dict

    data = dict(base)
    for k, v in parse_overrides(overrides).items():
        if isinstance(v, dict):
            raise ConfigError(f"override {k}.… is not allowed; {cls.__name__} has flat keys: "
                              + ", ".join(f.name for f in dataclasses.fields(cls)))
        data[k] = v
    cfg = from_dict(cls, data)
    return cfg, to_dict(cfg)


def _jobs(args: argparse.Namespace) -> int:
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ConfigError(f"jobs={jobs} is out of range; allowed: >= 1")
    return jobs


# ----------------------------------------------------------------------------------------------
# phase diagram (Fig. 2)
# ----------------------------------------------------------------------------------------------


def cmd_phase_diagram(args: argparse.Namespace) -> dict:
    from memlab.core.io import atomic_write_text, read_jsonl
    from memlab.core.runtime import resolve_device
    from memlab.plots.stm import phase_diagram_figure
    from memlab.theory.stm import QUICK_PHASE, PhaseConfig, phase_checks

    base: dict[str, Any] = dict(QUICK_PHASE) if args.quick else {}
    if args.trials is not None:
        base["trials"] = args.trials
    cfg, cfg_dict = _build_cfg(PhaseConfig, base, args.set)
    device = str(resolve_device(args.device))
    jobs = _jobs(args)
    out = Path(args.out)
    tag = "_quick" if args.quick else ""
    records_path = out / f"phase_records{tag}.jsonl"
    chash = _config_hash(cfg_dict)
    _check_existing(records_path, chash, args.fresh)

    units = [(gi, t) for gi in range(len(cfg.gammas)) for t in range(cfg.trials)]
    t0 = time.perf_counter()
    n_run, cpu = _execute(
        units, _run_phase_unit, cfg_dict, device, jobs, records_path,
        extra=dict(experiment="stm-phase-diagram", config_hash=chash),
        key=lambda r: (r["gamma_index"], r["trial"]), desc="phase diagram", quiet=args.json,
    )
    wall = time.perf_counter() - t0

    records = [r for r in read_jsonl(records_path) if r.get("config_hash") == chash]
    records = [r for r in records if r["trial"] < cfg.trials]
    checks = phase_checks(records, cfg)
    meta = _update_meta(out / f"phase_meta{tag}.json", chash, cfg_dict, n_run, len(units), wall, cpu, jobs,
                        device, args.fresh)

    fig = None
    if not args.no_plot:
        fig = phase_diagram_figure(
            records, out / f"fig2_phase_diagram{tag}.png", transitions=checks["transitions"],
            title=f"L={cfg.L}, N={cfg.N}, {cfg.trials} trials/point, noise {cfg.noise_std}, "
                  f"success: rMSE <= {cfg.success_rmse}",
        )
    summary = _phase_summary(cfg, checks, meta, records)
    atomic_write_text(out / f"phase_summary{tag}.md", summary)
    if not args.json:
        print(summary)
    dt = {f"rho50_at_delta_{d['delta']}": d["rho_measured"] for d in checks["donoho_tanner"]}
    return dict(
        records=str(records_path), figure=str(fig) if fig else None, problems=len(records),
        units_run=n_run, wall_seconds=wall, worker_cpu_seconds=cpu,
        wall_seconds_total=meta["wall_seconds_total"],
        **dt,
        high_coherence_lower={k: v["strictly_lower"] for k, v in checks["coherence_lowers"].items()},
        noise_floor_points={k: v["points"] for k, v in checks["noise_floor"].items()},
    )


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "above grid" if x > 0 else "below grid"
    return f"{x:.3f}"


def _phase_summary(cfg, checks: dict, meta: dict, records: list[dict]) -> str:
    """Markdown summary of the phase diagram checks, from records."""
    lines = [
        "# Seed 003, Fig. 2: rMSE phase diagrams (memlab stm phase-diagram)",
        "",
        f"L={cfg.L}, N={cfg.N} (L N = {cfg.L * cfg.N}), {cfg.trials} trials per point, orthogonal W "
        f"(radius {cfg.spectral_radius}), noise_std {cfg.noise_std}, {len(records)} recovery problems. "
        f"Success: rMSE <= {cfg.success_rmse}. gamma grid {list(cfg.gammas)}.",
        "",
        f"Wall time {meta.get('wall_seconds_total', 0):.0f} s over {len(meta.get('invocations', []))} invocation(s); "
        f"worker CPU {meta.get('worker_cpu_seconds_total', 0):.0f} s "
        f"(1-min load average at the end of the last run: "
        f"{meta['invocations'][-1]['loadavg_1min'] if meta.get('invocations') else float('nan'):.1f}).",
        "",
        "## 50%-success transition rho_50 per gamma",
        "",
        "| gamma | " + " | ".join(sorted(checks["transitions"])) + " | Donoho-Tanner rho*(gamma) |",
        "|---|" + "---|" * (len(checks["transitions"]) + 1),
    ]
    from memlab.theory.stm import donoho_tanner

    for g in sorted({g for t in checks["transitions"].values() for g in t}):
        row = [_fmt(checks["transitions"][p].get(g, math.nan)) for p in sorted(checks["transitions"])]
        lines.append(f"| {g} | " + " | ".join(row) + f" | {_fmt(float(donoho_tanner(g)[0]))} |")
    lines += ["", "(above grid: every rho succeeded; below grid: the smallest rho on the grid already failed.)", "",
              "## Checks", ""]
    for d in checks["donoho_tanner"]:
        lines.append(f"- Donoho-Tanner, delta={d['delta']}: measured rho_50 = {_fmt(d['rho_measured'])}, "
                     f"asymptotic l1 curve rho* = {d['rho_dt']:.3f}")
    for kind, v in checks["coherence_lowers"].items():
        lines.append(f"- {kind}: high coherence (DCT in time) lowers rho_50 at {v['lower_at']} of {v['compared']} "
                     f"gammas (strictly lower everywhere: {v['strictly_lower']})")
    for p, v in checks["noise_floor"].items():
        lines.append(f"- {p}: median rMSE within 10x the oracle noise floor at {v['points']} of {v['of']} "
                     f"(gamma, rho) points with M < LN; smallest such gamma: {v['min_gamma']}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# recall length (Fig. 3)
# ----------------------------------------------------------------------------------------------


def cmd_recall_length(args: argparse.Namespace) -> dict:
    import numpy as np

    from memlab.core.io import atomic_write_text, read_jsonl
    from memlab.core.runtime import resolve_device
    from memlab.plots.stm import recall_length_figure
    from memlab.theory.stm import RecallConfig

    base: dict[str, Any] = {}
    if args.quick:
        base.update(M=60, T=400, trials=3, rs=(2, 5, 10, 20, 40, 80, 160))
    if args.trials is not None:
        base["trials"] = args.trials
    cfg, cfg_dict = _build_cfg(RecallConfig, base, args.set)
    device = str(resolve_device(args.device))
    jobs = _jobs(args)
    out = Path(args.out)
    tag = "_quick" if args.quick else ""
    records_path = out / f"recall_records{tag}.jsonl"
    chash = _config_hash(cfg_dict)
    _check_existing(records_path, chash, args.fresh)
    t0 = time.perf_counter()
    n_run, cpu = _execute(
        [(t,) for t in range(cfg.trials)], _run_recall_trial, cfg_dict, device, jobs, records_path,
        extra=dict(experiment="stm-recall-length", config_hash=chash),
        key=lambda r: (r["trial"],), desc="recall length", quiet=args.json,
    )
    wall = time.perf_counter() - t0
    meta = _update_meta(out / f"recall_meta{tag}.json", chash, cfg_dict, n_run, cfg.trials, wall, cpu, jobs,
                        device, args.fresh)
    records = [r for r in read_jsonl(records_path) if r.get("config_hash") == chash and r["trial"] < cfg.trials]
    rs = sorted({r["r"] for r in records})
    mean = {r_: float(np.nanmean([x["rmse"] for x in records if x["r"] == r_])) for r_ in rs}
    r_opt = min(mean, key=mean.get)
    interior = rs[0] < r_opt < rs[-1]
    fig = None
    if not args.no_plot:
        fig = recall_length_figure(
            records, out / f"fig3_recall_length{tag}.png",
            title=f"M={cfg.M}, L={cfg.L}, density {cfg.density}, radius {cfg.spectral_radius}, {cfg.trials} trials",
        )
    lines = ["# Seed 003, Fig. 3: recall length (memlab stm recall-length)", "",
             f"M={cfg.M}, L={cfg.L}, stream length T={cfg.T}, density {cfg.density}, spectral radius "
             f"{cfg.spectral_radius}, noise_std {cfg.noise_std}, {cfg.trials} trials.", "",
             "| r | mean rMSE |", "|---|---|"]
    lines += [f"| {r_} | {mean[r_]:.4f} |" for r_ in rs]
    lines += ["", f"Optimal recall length r* = {r_opt} (interior optimum: {interior}). Wall time "
              f"{meta['wall_seconds_total']:.0f} s, worker CPU {meta['worker_cpu_seconds_total']:.0f} s "
              f"over {len(meta['invocations'])} invocation(s)."]
    summary = "\n".join(lines) + "\n"
    atomic_write_text(out / f"recall_summary{tag}.md", summary)
    if not args.json:
        print(summary)
    return dict(records=str(records_path), figure=str(fig) if fig else None, r_opt=r_opt, interior_optimum=interior,
                rmse_at_r_opt=mean[r_opt], rmse_at_r_min=mean[rs[0]], rmse_at_r_max=mean[rs[-1]],
                wall_seconds=wall, worker_cpu_seconds=cpu)


# ----------------------------------------------------------------------------------------------


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small grid for CI (seconds)")
    p.add_argument("--trials", type=int, default=None, help="Monte-Carlo trials per point (default 20)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for records and figures (default {DEFAULT_OUT})")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    p.add_argument("--device", default="cpu", help="torch device for operators and the nuclear-norm solver")
    p.add_argument("--fresh", action="store_true", help="discard existing records instead of resuming")
    p.add_argument("--no-plot", action="store_true", help="records and summary only")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``memlab stm {phase-diagram, recall-length}``."""
    p = sub.add_parser("stm", parents=[common], help="short-term memory of random linear RNNs (seed 003)")
    ssub = p.add_subparsers(dest="stm_command", required=True, metavar="STM_COMMAND", parser_class=type(p))
    pd = ssub.add_parser("phase-diagram", parents=[common], help="Fig. 2: rMSE over (gamma, rho), four panels")
    _add_common(pd)
    pd.set_defaults(func=cmd_phase_diagram)
    rl = ssub.add_parser("recall-length", parents=[common], help="Fig. 3: rMSE vs recall length on a long stream")
    _add_common(rl)
    rl.set_defaults(func=cmd_recall_length)
