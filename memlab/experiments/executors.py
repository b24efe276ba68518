"""Where an experiment's units run: in this process, a local process pool, or a Ray cluster.

Every executor takes the units still to do and calls ``store_unit(unit, records, wall, cpu)`` in
the driver as each finishes; the driver alone appends records (the runner) — workers only compute.

* ``local`` (default): one unit at a time in this process (``jobs=1``), or a pool of ``jobs``
  spawned processes (one BLAS thread each). Trainers in the workers write their run folders and
  the store's SQLite index themselves (SQLite's locks suffice on one machine's disk).
* ``ray``: each unit is a Ray task of one CPU (one GPU when ``device`` is cuda), on a cluster at
  ``address`` (``host:port``, ``ray://host:port`` or ``auto``) or on a local Ray instance started
  for the run. Run folders must be on a filesystem every node shares (``--store`` and ``--out``
  are made absolute); workers write run folders but never the SQLite index: the driver indexes
  each run from its folder when the unit's records come back. A worker lost mid-unit (node gone,
  process killed) is retried up to ``retries`` times; the retry resumes the unit's run from its
  last checkpoint (experiments that train resume run folders). Ctrl-C cancels the tasks in
  flight (their trainers save a checkpoint) and a rerun resumes.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from memlab.core.errors import ConfigError, MemlabError, check_choice
from memlab.experiments.base import Experiment, RunContext, Unit

EXECUTORS = ("local", "ray")
#: seconds to wait for a Ray address to accept a TCP connection before it counts as not answering
CONNECT_TIMEOUT_S = 3.0
#: retries of a unit whose Ray worker died
RAY_RETRIES = 3

StoreUnit = Callable[[Unit, list, float, float], None]


# --------------------------------------------------------------------------- workers
def worker_init() -> None:
    """One BLAS/torch thread per worker process: the workers already fill the cores."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    os.environ["MEMLAB_THREADS"] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def call_unit(exp: Experiment, cfg_dict: dict, unit: Unit, ctx: RunContext) -> tuple[list[dict], float, float]:
    """Run one unit; (records, wall seconds, CPU seconds of this process)."""
    from memlab.core.config import from_dict

    cfg = from_dict(exp.config_cls, cfg_dict)
    t0, c0 = time.perf_counter(), time.process_time()
    recs = exp.run_unit(cfg, unit, ctx)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if not recs:  # e.g. an empty list setting; a unit without records would run again forever
        raise MemlabError(f"{exp.name}: unit {unit.key} produced no records with these settings "
                          "(an empty list setting?)")
    return [dict(r) for r in recs], wall, cpu


# --------------------------------------------------------------------------- local
class LocalExecutor:
    """Units in this process (``jobs`` = 1) or over ``jobs`` spawned processes."""

    name = "local"

    def __init__(self, jobs: int = 1):
        self.jobs = jobs

    @property
    def slots(self) -> int:
        return self.jobs

    def prepare_context(self, ctx: RunContext) -> RunContext:
        # the workers' own progress output would interleave; the runner's bar remains
        return replace(ctx, progress=False) if self.jobs > 1 else ctx

    def run(self, exp: Experiment, cfg_dict: dict, todo: list[Unit], ctx: RunContext, store_unit: StoreUnit) -> None:
        if self.jobs <= 1:
            for u in todo:
                store_unit(u, *call_unit(exp, cfg_dict, u, ctx))
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ex = ProcessPoolExecutor(max_workers=self.jobs, mp_context=mp.get_context("spawn"), initializer=worker_init)
        try:
            futs = {ex.submit(call_unit, exp, cfg_dict, u, ctx): u for u in todo}
            for f in as_completed(futs):
                store_unit(futs[f], *f.result())
        except BaseException:
            # stop the units in flight too: their records would be lost anyway, and a worker left
            # computing after an error or Ctrl-C holds a core for nothing
            for p in list((getattr(ex, "_processes", None) or {}).values()):
                p.terminate()
            ex.shutdown(wait=True, cancel_futures=True)
            raise
        ex.shutdown(wait=True)

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- ray
def check_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """ConfigError (one line) unless ``address`` (``host:port`` or ``ray://host:port``; ``auto``
    and ``local`` are left to Ray) accepts a TCP connection within ``timeout`` seconds."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--address {address!r} is not host:port, ray://host:port or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise ConfigError(f"--address {address} does not answer ({e.strerror or type(e).__name__} within "
                          f"{timeout:g} s); start a head with `ray start --head` or check the address") from None


def no_store_index():
    """Inside a Ray worker: trainers write run folders but not the store's SQLite index (the
    driver indexes them), so no two nodes write one SQLite file on a shared filesystem."""
    from memlab.store import folders_only

    return folders_only()


def ray_unit(exp: Experiment, cfg_dict: dict, unit: Unit, ctx: RunContext) -> tuple[list[dict], float, float, int]:
    """The body of a Ray task: (records, wall, CPU, worker pid)."""
    worker_init()
    with no_store_index():
        recs, wall, cpu = call_unit(exp, cfg_dict, unit, ctx)
    return recs, wall, cpu, os.getpid()


def index_runs(store: Path, records: list[dict[str, Any]]) -> None:
    """Index in ``store``'s SQLite the run folders that ``records`` name (``run``) from their
    config.json and summary.json (the driver's half of ``no_store_index``)."""
    from memlab.experiments._cells import read_json
    from memlab.store import Store

    for r in records:
        run = r.get("run")
        if not isinstance(run, str) or not run:
            continue
        path = Path(run)
        config = read_json(path / "config.json")
        if not config:
            continue
        summary = read_json(path / "summary.json")
        Store(store).upsert_run(path.name, path, config, str(summary.get("status", "running")), summary)


class RayExecutor:
    """Units as Ray tasks (one CPU, or one GPU on cuda) on ``address`` or a local Ray instance."""

    name = "ray"

    def __init__(self, address: str | None = None, jobs: int | None = None, device: str = "cpu",
                 retries: int = RAY_RETRIES):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'memlab[ray]' (or pip install 'ray[default]')") from None
        if address is not None:
            check_address(address)
        self.address, self.jobs, self.device, self.retries = address, jobs, device, retries
        self.started = False

    @property
    def slots(self) -> int:
        import ray

        if not ray.is_initialized():
            return 1
        return max(1, int(ray.cluster_resources().get("GPU" if self.gpu else "CPU", 1)))

    @property
    def gpu(self) -> bool:
        return self.device.startswith("cuda")

    def connect(self) -> None:
        import ray

        if ray.is_initialized():
            return
        kw: dict[str, Any] = dict(log_to_driver=False, include_dashboard=False, configure_logging=False)
        if self.address is None:
            kw["num_cpus"] = self.jobs or os.cpu_count() or 1
        else:
            kw["address"] = self.address
        try:
            ray.init(**kw)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ConfigError(f"Ray at {self.address or 'a new local instance'} cannot be used: "
                              f"{' '.join(str(e).split())[:200]}") from None
        self.started = True

    def prepare_context(self, ctx: RunContext) -> RunContext:
        # workers may start in another folder (or on another node): absolute paths, no worker bars
        return replace(ctx, out_dir=Path(ctx.out_dir).absolute(), store=Path(ctx.store).absolute(), progress=False)

    def run(self, exp: Experiment, cfg_dict: dict, todo: list[Unit], ctx: RunContext, store_unit: StoreUnit) -> None:
        import ray

        self.connect()
        abs_store = Path(ctx.store).absolute()
        rel_store = str(ctx.store)
        ctx = self.prepare_context(ctx)
        res = {"num_gpus": 1, "num_cpus": 0} if self.gpu else {"num_cpus": 1}
        task = ray.remote(ray_unit).options(max_retries=self.retries, retry_exceptions=False, **res)
        refs = {task.remote(exp, cfg_dict, u, ctx): u for u in todo}
        try:
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                unit = refs[ready[0]]
                try:
                    recs, wall, cpu, _ = ray.get(ready[0])
                except ray.exceptions.RayTaskError as e:  # the unit's own error, raised as itself
                    raise e.as_instanceof_cause() from None
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as e:
                    raise MemlabError(f"unit {unit.key} lost its Ray worker {self.retries + 1} times "
                                      f"({type(e).__name__}); rerun to resume it") from None
                for r in recs:  # the driver's paths, as the user named them
                    if isinstance(r.get("run"), str) and r["run"].startswith(str(abs_store)):
                        r["run"] = rel_store + r["run"][len(str(abs_store)):]
                index_runs(Path(rel_store), recs)
                store_unit(unit, recs, wall, cpu)
        except BaseException:
            for ref in refs:  # Ctrl-C or an error: the tasks in flight stop (their trainers save a checkpoint)
                try:
                    ray.cancel(ref, force=False)
                except Exception:  # noqa: BLE001 - finished or already gone
                    pass
            raise

    def close(self) -> None:
        if self.started:
            import ray

            ray.shutdown()
            self.started = False


def make_executor(name: str, *, jobs: int | None, address: str | None, device: str):
    """The executor ``name`` (``local`` or ``ray``); a bad name, a missing Ray or an address that
    does not answer is a one-line ConfigError (raised before anything is written)."""
    check_choice("executor", name, EXECUTORS)
    if name == "local":
        if address is not None:
            raise ConfigError("--address applies to --executor ray only")
        return LocalExecutor(jobs or os.cpu_count() or 1)
    return RayExecutor(address, jobs, device)
