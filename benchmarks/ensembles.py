"""Ensemble benchmarks for the performance issue: throughput on 1 and 2 workers, the Sobol estimate, memory.

Usage::

    python benchmarks/ensembles.py --json benchmarks/ensembles_results.json   # ~15 min on 2 idle cores
    python benchmarks/ensembles.py --snapshot --repeats 3 --json ...           # what the results file ran, ~25 min
    python benchmarks/ensembles.py --quick                                    # smoke test, ~1 min
    python benchmarks/ensembles.py --skip-memory                              # throughput only, ~5 min

What is measured, and why this way:
    (c) Ensemble throughput (runs/s) of :func:`sim.ensemble.run_ensemble` on the baseline scenario at its
        default resolution (0.1), with the ``local`` executor (``workers=1`` runs in-process, ``workers=2`` a
        forkserver process pool) and the ``dask`` executor (a ``LocalCluster`` that :mod:`sim.executors`
        starts), on 1 and 2 workers, and for Dask on 2 workers also with fixed task sizes (``batch_size``):
        docs/performance.md expected larger tasks to bring Dask close to the local pool. The clock runs from
        the API call to its return, so it includes starting the workers, sampling the parameters, writing
        the shards, finalizing the batch and shutting the workers down (what ``citypeak ensemble`` reports),
        but not interpreter start-up. The speed-up is 2 workers over 1 worker of the same executor; the
        issue's target is >= 1.8x for Dask. The Sobol estimate (D = 12, N = 1024, first and total order:
        N (D + 2) = 14,336 runs; target <= 15 min on 2 cores) is arithmetic, 14,336 / (2-worker runs/s),
        not a sweep that was run; the reference column gives the CPU-bound figure, 14,336 x (CPU s of the
        process tree per run) / 2 cores, which is what idle cores would need if the work split evenly.
        With ``--repeats R`` every configuration runs R times, round-robin, and the fastest repeat is
        reported (other work on the machine only slows a run down); every repeat is in the JSON.
    (d) Memory of a 10,000-run ensemble (local executor, 2 workers, automatic task size, as a user runs
        it): a background thread samples the resident memory (RSS; PSS and USS from ``smaps_rollup``) of the
        ensemble's process and every descendant (pool workers, the forkserver, the resource tracker) every
        0.5 s, and counts the runs completed from the summary shards in the batch folder (row counts from
        the Parquet footers). Reported: peak total RSS and PSS, RSS of parent and workers when 10%, 20%,
        50% and 100% of the runs were done, and the least-squares slope of total RSS against runs
        completed between 20% and 100% of the runs. **Flat** means that slope is below
        :data:`FLAT_SLOPE_MB_PER_1000_RUNS` (5 MB per 1,000 runs, i.e. < 50 MB over 10,000 runs) in
        absolute value. Then the batch is opened with :class:`sim.store.BatchStore` to check it holds
        every run.

Every measurement runs in its own fresh child interpreter (``--child``), so that one configuration does not
inherit another's heap, forkserver or imported modules, and the child's process tree is exactly that
ensemble's. CPU time is that of the whole process tree: user + system time of the child and of every
descendant alive at the end, plus the ``children_user``/``children_system`` times of processes reaped by
a member of the tree (finished pool or Dask workers), read with ``psutil``; the figure is the difference
between the end and the start of the measurement. The machine is shared, so the 1-minute load average is
recorded at the start and end of each measurement and sampled during it: compare wall times only at
similar load; CPU time is much less sensitive to it.

Top-level imports are standard library only: worker processes (forkserver, spawn) import this file as
``__mp_main__``, and should pay no more start-up than under ``citypeak ensemble``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import run_benchmarks as _run_benchmarks  # noqa: E402
from benchmarks.run_benchmarks import COLUMNS, format_table  # noqa: E402

DEFAULT_SCENARIO = ROOT / "scenarios" / "karamay_baseline.yaml"

SOBOL_D = 12
SOBOL_N = 1024
SOBOL_RUNS = SOBOL_N * (SOBOL_D + 2)
"""SALib's Saltelli/Sobol design without second-order indices: N (D + 2) = 14,336 runs."""
SOBOL_TARGET_MIN = 15.0
SOBOL_CORES = 2
DASK_SPEEDUP_TARGET = 1.8

FLAT_SLOPE_MB_PER_1000_RUNS = 5.0
"""Memory is called flat in run count when total RSS grows (or shrinks) by less than this per 1,000 runs,
least-squares over the samples between 20% and 100% of the runs: < 50 MB over a 10,000-run ensemble,
against a peak of several hundred MB, so a leak of a few kB per run would show."""
FLAT_WINDOW = (0.2, 1.0)
"""Fractions of the runs between which the slope is fitted: the first 20% hold the workers' start-up
(imports, first-call allocations), which is not growth with run count."""
CHECKPOINT_FRACTIONS = (0.1, 0.2, 0.5, 1.0)
"""Runs completed at which RSS is reported: 1,000, 2,000, 5,000 and 10,000 of a 10,000-run ensemble."""
SAMPLE_INTERVAL_S = 0.5
FULL_SAMPLE_EVERY = 4
"""Read PSS and USS (``smaps_rollup``, ~1.5 ms per 300 MB process) on every 4th timer sample and on every
shard sample, RSS alone (~0.01 ms) otherwise: reading them every 0.5 s cost 2.7% of a core in a 10,000-run
ensemble, CPU the two workers then lacked."""

_SHARD = re.compile(r"^part-\d+-\d+-[0-9a-f]+\.parquet$")


# ---------------------------------------------------------------------------------------------- process tree
def _tree(root: Any) -> list[Any]:
    """The root process and its descendants alive now (psutil processes)."""
    import psutil

    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return [root]


def tree_cpu_s(root: Any) -> float:
    """CPU seconds of the process tree so far: own user + system time and that of reaped children.

    A finished worker's time moves into the ``children_*`` times of whoever waited for it (the ensemble's
    process for Dask's spawned workers, the forkserver for pool workers), which is still in the tree, so
    the difference between two calls counts workers that ended in between.
    """
    import psutil

    total = 0.0
    for p in _tree(root):
        try:
            t = p.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _role(p: Any, root_pid: int) -> str:
    """``parent`` (the ensemble's process), ``worker`` (runs tasks) or ``helper`` (forkserver, tracker).

    Pool workers are forked from the forkserver, so they are grandchildren of the root; Dask's workers are
    spawned by the nannies, which live in the root process, so they are children running ``spawn_main``.
    """
    import psutil

    if p.pid == root_pid:
        return "parent"
    try:
        if p.ppid() != root_pid:
            return "worker"
        cmd = " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "helper"
    return "worker" if "spawn_main" in cmd else "helper"


class ShardCounter:
    """Runs completed in a batch folder, from the row counts of its summary shards.

    A run is complete exactly when a summary shard holds its row (sim/store.py); each shard's footer is read
    once (``pyarrow.parquet.read_metadata``), so counting costs one directory listing per sample.
    """

    def __init__(self, batch_dir: Path | None) -> None:
        self.summary_dir = batch_dir / "summary" if batch_dir is not None else None
        self._rows: dict[str, int] = {}

    def runs_done(self) -> int:
        if self.summary_dir is None or not self.summary_dir.is_dir():
            return 0
        import pyarrow.parquet as pq

        try:
            names = os.listdir(self.summary_dir)
        except OSError:
            return sum(self._rows.values())
        for name in names:
            if name not in self._rows and _SHARD.match(name):
                try:
                    self._rows[name] = pq.read_metadata(self.summary_dir / name).num_rows
                except (OSError, ValueError):  # renamed away by finalize(): counted next time
                    continue
        return sum(self._rows.values())

    @property
    def shard_rows(self) -> list[int]:
        """Runs in each summary shard seen so far."""
        return list(self._rows.values())


class TreeSampler(threading.Thread):
    """Samples memory of the process tree, runs completed and the load average every ``interval_s``.

    Runs as a daemon thread in the ensemble's process. Every sample reads the RSS of each process of the
    tree; every :data:`FULL_SAMPLE_EVERY`-th timer sample and every shard sample also reads PSS and USS from
    ``/proc/<pid>/smaps_rollup`` (``memory_full_info``; NaN in the other samples). The CPU time spent
    sampling, in this thread and in the caller's, is recorded (``sample_cpu_s``) so its share of the
    parent's CPU figure is known.

    Args:
        batch_dir: the batch folder whose summary shards count completed runs; ``None``: do not count.
        interval_s: seconds between samples.
    """

    def __init__(self, batch_dir: Path | None, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        super().__init__(name="tree-sampler", daemon=True)
        import psutil

        self.root = psutil.Process()
        self.interval_s = interval_s
        self.counter = ShardCounter(batch_dir)
        self.samples: list[dict[str, Any]] = []
        self.peak_by_pid: dict[int, dict[str, Any]] = {}
        self.sample_cpu_s = 0.0
        self.pss_available = True
        self._roles: dict[int, str] = {}
        self._n_timer = 0
        self._stop_event = threading.Event()
        self._sample_lock = threading.Lock()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        while True:
            self.sample()
            if self._stop_event.wait(self.interval_s):
                break

    def stop(self) -> None:
        """Stop sampling, wait for the thread, then take one last sample (``event`` ``end``) from the caller."""
        self._stop_event.set()
        self.join()
        self.sample(event="end")

    def sample(self, event: str = "timer") -> dict[str, Any]:
        """Take one sample now; ``event`` says why: ``timer``, ``shard`` (a task was just written), ``end``."""
        import psutil

        with self._sample_lock:
            c0 = time.thread_time()
            t_s = time.perf_counter() - self.t0
            if event == "timer":
                self._n_timer += 1
            full = self.pss_available and (event != "timer" or self._n_timer % FULL_SAMPLE_EVERY == 1)
            sums = {
                role: {"rss_mb": 0.0, "pss_mb": 0.0, "uss_mb": 0.0, "n": 0, "max_rss_mb": 0.0}
                for role in ("parent", "worker", "helper")
            }
            for p in _tree(self.root):
                try:
                    role = self._roles.get(p.pid)
                    if role is None:
                        role = self._roles[p.pid] = _role(p, self.root.pid)
                    if full:
                        try:
                            m = p.memory_full_info()
                            rss, pss, uss = m.rss, getattr(m, "pss", m.uss), m.uss
                        except psutil.AccessDenied:
                            self.pss_available = full = False
                            m = p.memory_info()
                            rss, pss, uss = m.rss, math.nan, math.nan
                    else:
                        m = p.memory_info()
                        rss, pss, uss = m.rss, math.nan, math.nan
                except (psutil.NoSuchProcess, psutil.ZombieProcess):
                    continue
                s = sums[role]
                s["rss_mb"] += rss / 2**20
                s["pss_mb"] += pss / 2**20
                s["uss_mb"] += uss / 2**20
                s["n"] += 1
                s["max_rss_mb"] = max(s["max_rss_mb"], rss / 2**20)
                peak = self.peak_by_pid.setdefault(p.pid, {"role": role, "peak_rss_mb": 0.0})
                peak["peak_rss_mb"] = max(peak["peak_rss_mb"], rss / 2**20)
            row = {
                "event": event,
                "t_s": round(t_s, 3),
                "runs_done": self.counter.runs_done(),
                "load_1min": os.getloadavg()[0],
                "parent_rss_mb": sums["parent"]["rss_mb"],
                "parent_pss_mb": sums["parent"]["pss_mb"] if full else None,
                "workers_rss_mb": sums["worker"]["rss_mb"],
                "workers_pss_mb": sums["worker"]["pss_mb"] if full else None,
                "max_worker_rss_mb": sums["worker"]["max_rss_mb"],
                "n_workers": sums["worker"]["n"],
                "helpers_rss_mb": sums["helper"]["rss_mb"],
                "total_rss_mb": sum(s["rss_mb"] for s in sums.values()),
                "total_pss_mb": sum(s["pss_mb"] for s in sums.values()) if full else None,
                "total_uss_mb": sum(s["uss_mb"] for s in sums.values()) if full else None,
            }
            self.samples.append(row)
            self.sample_cpu_s += time.thread_time() - c0
            return row


def _sampled_executor(inner: Any, sampler: TreeSampler) -> Any:
    """Wrap an executor so that a memory sample is taken each time a finished task has been written.

    :func:`sim.ensemble.run_ensemble` writes a task's shard and then asks the executor for the next result;
    sampling at that moment gives the memory at exact run counts while the workers are still alive (the
    timer alone would miss the last task, whose shard lands just before the pool shuts down). The next task
    is already submitted when a result is handed over (sim/executors.py), so the sample does not keep a
    worker waiting.
    """
    from sim.executors import Executor

    class SampledExecutor(Executor):
        name = inner.name

        @property
        def n_workers(self) -> int:
            return inner.n_workers

        def describe(self) -> dict[str, Any]:
            return inner.describe()

        def map_unordered(self, fn, tasks):  # noqa: ANN001, ANN202 - same signature as Executor's
            for result in inner.map_unordered(fn, tasks):
                yield result
                del result
                sampler.sample(event="shard")

        def close(self) -> None:
            inner.close()

    return SampledExecutor()


# ---------------------------------------------------------------------------------------------- child side
def measure_ensemble(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run one ensemble in this process, timing it and sampling the process tree.

    As ``citypeak ensemble`` runs it (same :func:`sim.ensemble.run_ensemble` call, automatic or given task
    size, first run timed in this process), except that the executor is built here and wrapped by
    :func:`_sampled_executor`: the workers start before the parameters are sampled and stop after the batch
    is finalized instead of just before, both inside the timed window.

    Args:
        cfg: ``scenario``, ``runs``, ``resolution``, ``executor``, ``workers``, ``batch_size`` (``None`` for
            automatic), ``out`` (a new batch folder), ``check_store`` (open the batch afterwards and count
            its runs), ``keep_samples`` (return every sample, not only peaks and checkpoints).

    Returns:
        Wall and CPU seconds, runs/s, load averages, memory samples and peaks, and the store check.
    """
    import psutil

    from sim.ensemble import run_ensemble
    from sim.executors import make_executor
    from sim.model import run as run_model
    from sim.scenario import load_scenario

    # Imports and first-call costs of this process are paid before the clock starts (a CLI process pays
    # the first-call part, ~0.1 s, in its first run); the workers start cold inside the measurement, as
    # they do for a user.
    run_model(load_scenario(cfg["scenario"]), seed=0, resolution=0.005)
    sim_path = str(Path(sys.modules["sim.model"].__file__).parent)  # sim is a namespace package

    out = Path(cfg["out"])
    root = psutil.Process()
    sampler = TreeSampler(out)
    load_start = os.getloadavg()
    cpu0_self = time.process_time()
    cpu0 = tree_cpu_s(root)
    t0 = time.perf_counter()
    sampler.t0 = t0
    sampler.start()
    executor = _sampled_executor(make_executor(cfg["executor"], cfg["workers"]), sampler)
    try:
        store = run_ensemble(
            cfg["scenario"],
            cfg["runs"],
            out,
            executor=executor,
            workers=cfg["workers"],
            resolution=cfg["resolution"],
            batch_size=cfg["batch_size"],
            progress=False,
            command=f"benchmarks/ensembles.py {cfg['executor']} x{cfg['workers']}",
        )
        run_s = time.perf_counter() - t0
        cpu_before_close_s = tree_cpu_s(root) - cpu0
    finally:
        executor.close()
    wall_s = time.perf_counter() - t0
    cpu_s = tree_cpu_s(root) - cpu0
    cpu_self_s = time.process_time() - cpu0_self
    load_end = os.getloadavg()
    sampler.stop()

    samples = sampler.samples
    shard_rows = sorted(sampler.counter.shard_rows)
    result: dict[str, Any] = {
        "config": {k: v for k, v in cfg.items() if k not in ("out",)},
        "sim_package": sim_path,
        "wall_s": wall_s,
        "run_ensemble_s": run_s,
        "close_s": wall_s - run_s,
        "cpu_s": cpu_s,
        "cpu_before_close_s": cpu_before_close_s,
        "cpu_parent_s": cpu_self_s,
        "sampler_cpu_s": sampler.sample_cpu_s,
        "runs_per_s": cfg["runs"] / wall_s,
        "cpu_s_per_run": cpu_s / cfg["runs"],
        "cpu_utilisation": cpu_s / (wall_s * cfg["workers"]),
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "load_1min_mean": statistics.fmean(s["load_1min"] for s in samples),
        "load_1min_max": max(s["load_1min"] for s in samples),
        "n_samples": len(samples),
        "n_shards": len(shard_rows),
        "largest_shard_runs": shard_rows[-1] if shard_rows else 0,
        "first_shard_s": next((s["t_s"] for s in samples if s["runs_done"] > 0), None),
        "peak_total_rss_mb": max(s["total_rss_mb"] for s in samples),
        "peak_total_pss_mb": max((s["total_pss_mb"] for s in samples if s["total_pss_mb"] is not None), default=None),
        "peak_parent_rss_mb": max(s["parent_rss_mb"] for s in samples),
        "peak_worker_rss_mb": max(s["max_worker_rss_mb"] for s in samples),
        "pss_available": sampler.pss_available,
        "peak_by_process": [{"pid": pid, **v} for pid, v in sorted(sampler.peak_by_pid.items())],
        "manifest_executor": store.manifest.get("executor"),
    }
    if cfg.get("check_store"):
        result["store"] = check_store(out, cfg["runs"])
    if cfg.get("keep_samples"):
        result["samples"] = samples
        result["memory"] = memory_profile(samples, cfg["runs"])
    return result


def check_store(batch_dir: Path, n_runs: int) -> dict[str, Any]:
    """What the finished batch holds: summary rows, distinct run_ids in the yearly shards, failures.

    Read after the measurement (reading the run_id column of ~10M yearly rows takes memory of its own).
    """
    import pyarrow.parquet as pq

    from sim.store import BatchStore

    store = BatchStore.open(batch_dir)
    summary = store.read_summary()
    yearly_ids = store.read_yearly(columns=["run_id"])["run_id"]
    consolidated = batch_dir / "summary.parquet"
    return {
        "planned_runs": len(store.planned_run_ids()),
        "summary_rows": int(len(summary)),
        "summary_run_ids_unique": int(summary["run_id"].nunique()),
        "completed_runs": len(store.completed_run_ids()),
        "pending_runs": len(store.pending_run_ids()),
        "failures": int(len(store.read_failures())),
        "yearly_rows": int(len(yearly_ids)),
        "yearly_run_ids_unique": int(yearly_ids.nunique()),
        "consolidated_summary_rows": pq.read_metadata(consolidated).num_rows if consolidated.is_file() else None,
        "summary_shards": len(list(store.summary_dir.glob("part-*.parquet"))),
        "disk_mb": sum(f.stat().st_size for f in batch_dir.rglob("*") if f.is_file()) / 2**20,
        "all_runs_stored": len(summary) == n_runs
        and int(summary["run_id"].nunique()) == n_runs
        and int(yearly_ids.nunique()) == n_runs,
    }


def _fit_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys on xs (nan with fewer than two distinct xs)."""
    if len(xs) < 2:
        return math.nan
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return math.nan
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def memory_profile(samples: list[dict[str, Any]], n_runs: int) -> dict[str, Any]:
    """Checkpoints and the slope of memory against runs completed.

    Runs are counted when a task's shard lands, so ``runs_done`` is a step function of time with steps of a
    whole task (about 1,000 runs with the automatic task size at 10,000 runs). To fit memory against run
    count without those steps, each sample's run count is interpolated linearly in time between the first
    and last sample of the window (the throughput is steady there); that is the same as fitting against
    time and dividing by the window's runs/s.

    Returns:
        ``checkpoints`` (first sample at or after each fraction of the runs, and the peak since the previous
        checkpoint), ``slope_total_rss_mb_per_1000_runs`` (and for PSS, parent and workers), ``flat``.
    """
    samples = [s for s in samples if s["event"] != "end"]  # after shutdown: no workers, not a run count
    checkpoints = []
    prev_t = -1.0
    for frac in CHECKPOINT_FRACTIONS:
        target = math.ceil(frac * n_runs)
        hit = next((s for s in samples if s["runs_done"] >= target), None)
        if hit is None:
            continue
        since = [s for s in samples if prev_t < s["t_s"] <= hit["t_s"]] or [hit]
        checkpoints.append(
            {
                "fraction": frac,
                "runs_target": target,
                "runs_done": hit["runs_done"],
                "t_s": hit["t_s"],
                "total_rss_mb": hit["total_rss_mb"],
                "total_pss_mb": hit["total_pss_mb"],
                "parent_rss_mb": hit["parent_rss_mb"],
                "workers_rss_mb": hit["workers_rss_mb"],
                "helpers_rss_mb": hit["helpers_rss_mb"],
                "n_workers": hit["n_workers"],
                "peak_total_rss_since_previous_mb": max(s["total_rss_mb"] for s in since),
                "peak_parent_rss_since_previous_mb": max(s["parent_rss_mb"] for s in since),
                "peak_worker_rss_since_previous_mb": max(s["max_worker_rss_mb"] for s in since),
            }
        )
        prev_t = hit["t_s"]
    lo, hi = FLAT_WINDOW
    start = next((s for s in samples if s["runs_done"] >= lo * n_runs), None)
    end = next((s for s in samples if s["runs_done"] >= hi * n_runs), None)
    end = end or (samples[-1] if samples else None)
    out: dict[str, Any] = {"checkpoints": checkpoints, "window": list(FLAT_WINDOW)}
    if start is None or end is None or end["t_s"] <= start["t_s"]:
        out.update(slope_total_rss_mb_per_1000_runs=math.nan, flat=None)
        return out
    window = [s for s in samples if start["t_s"] <= s["t_s"] <= end["t_s"]]
    runs_per_s = (end["runs_done"] - start["runs_done"]) / (end["t_s"] - start["t_s"])
    xs = [(start["runs_done"] + runs_per_s * (s["t_s"] - start["t_s"])) / 1000 for s in window]
    for key in ("total_rss_mb", "total_pss_mb", "parent_rss_mb", "workers_rss_mb"):
        pairs = [(x, s[key]) for x, s in zip(xs, window, strict=True) if s[key] is not None]  # PSS: some samples
        out[f"slope_{key}_per_1000_runs"] = _fit_slope([x for x, _ in pairs], [y for _, y in pairs])
    half = start["t_s"] + (end["t_s"] - start["t_s"]) / 2
    out["peak_total_rss_first_half_of_window_mb"] = max(
        (s["total_rss_mb"] for s in window if s["t_s"] <= half), default=None
    )
    out["peak_total_rss_second_half_of_window_mb"] = max(
        (s["total_rss_mb"] for s in window if s["t_s"] > half), default=None
    )
    out["window_samples"] = len(window)
    out["window_runs_per_s"] = runs_per_s
    slope = out["slope_total_rss_mb_per_1000_runs"]
    out["flat"] = bool(abs(slope) < FLAT_SLOPE_MB_PER_1000_RUNS) if math.isfinite(slope) else None
    return out


def _child_main(payload: str) -> None:
    print(json.dumps(measure_ensemble(json.loads(payload)), default=float))


def run_child(cfg: dict[str, Any], src_root: Path = ROOT, timeout_s: float | None = None) -> dict[str, Any]:
    """One measurement in a fresh interpreter; its JSON result is the child's last stdout line.

    Args:
        cfg: the measurement (see :func:`measure_ensemble`).
        src_root: the source tree the child imports ``sim`` from (this file's copy in it is run, and puts
            its root first on ``sys.path``; worker processes inherit that path); a snapshot with
            ``--snapshot``.
        timeout_s: give up after this many seconds.
    """
    cmd = [sys.executable, str(src_root / "benchmarks" / "ensembles.py"), "--child", json.dumps(cfg)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=src_root, check=False, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {cfg['executor']} x{cfg['workers']} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["child_process_s"] = time.perf_counter() - t0
    result["stderr_tail"] = proc.stderr[-2000:] if proc.stderr.strip() else ""
    return result


# ---------------------------------------------------------------------------------------------- table
def _row(measure, value, unit, reference=None, ratio=None, target="-", met="-") -> dict[str, Any]:
    return dict(zip(COLUMNS, (measure, value, unit, reference, ratio, target, met), strict=True))


def _label(r: dict[str, Any]) -> str:
    c = r["config"]
    bs = "auto" if c["batch_size"] is None else str(c["batch_size"])
    mode = " (in-process)" if c["executor"] == "local" and c["workers"] == 1 else ""
    return f"{c['executor']}{mode}, {c['workers']} worker{'s' if c['workers'] > 1 else ''}, batch {bs}"


def _best_of(r: dict[str, Any]) -> str:
    n = len(r.get("repeats_runs_per_s") or [])
    return f", best of {n}" if n > 1 else ""


def _times(r: dict[str, Any]) -> str:
    return f"wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, load {r['load_1min_mean']:.1f}"


def build_rows(throughput: list[dict[str, Any]], memory: dict[str, Any] | None, quick: bool) -> list[dict[str, Any]]:
    """The benchmark table: one row per measure, with its reference, ratio, target and whether it is met.

    Args:
        throughput: child results of the throughput configurations, in the order they ran.
        memory: child result of the memory ensemble, or ``None`` when it was skipped.
        quick: targets stated for the full benchmark (resolution 0.1, 400 and 10,000 runs) are not judged
            (``met`` is ``n/a``).
    """

    def met(ok: bool | None) -> str:
        if quick:
            return "n/a"
        return "-" if ok is None else ("yes" if ok else "no")

    rows: list[dict[str, Any]] = []
    one_worker = {
        r["config"]["executor"]: r
        for r in throughput
        if r["config"]["workers"] == 1 and r["config"]["batch_size"] is None
    }
    for r in throughput:
        c = r["config"]
        base = one_worker.get(c["executor"]) if c["workers"] > 1 else None
        speedup = r["runs_per_s"] / base["runs_per_s"] if base else None
        is_dask = c["executor"] == "dask" and c["workers"] == 2
        rows.append(
            _row(
                f"(c) throughput {_label(r)}, {c['runs']} runs, res {c['resolution']:g}{_best_of(r)} ({_times(r)})",
                r["runs_per_s"],
                "runs/s",
                base["runs_per_s"] if base else None,
                speedup,
                f">= {DASK_SPEEDUP_TARGET}x" if is_dask and speedup else "-",
                met(speedup >= DASK_SPEEDUP_TARGET) if is_dask and speedup else "-",
            )
        )
    for r in throughput:
        c = r["config"]
        if c["workers"] != SOBOL_CORES:
            continue
        minutes = SOBOL_RUNS / r["runs_per_s"] / 60
        cpu_minutes = SOBOL_RUNS * r["cpu_s_per_run"] / SOBOL_CORES / 60
        rows.append(
            _row(
                f"(c) Sobol D={SOBOL_D} N={SOBOL_N} ({SOBOL_RUNS:,} runs) at {_label(r)}: "
                f"{SOBOL_RUNS:,} / {r['runs_per_s']:.2f} runs/s / 60",
                minutes,
                "min",
                cpu_minutes,
                minutes / cpu_minutes,
                f"<= {SOBOL_TARGET_MIN:g} min",
                met(minutes <= SOBOL_TARGET_MIN),
            )
        )
    if memory is None:
        return rows
    c, prof, st = memory["config"], memory["memory"], memory.get("store", {})
    n = c["runs"]
    rows.append(
        _row(
            f"(d) {n:,}-run ensemble, {_label(memory)}, res {c['resolution']:g} ({_times(memory)})",
            memory["runs_per_s"],
            "runs/s",
        )
    )
    rows.append(
        _row(
            f"(d) peak total RSS of the process tree, {n:,} runs (parent + workers + helpers)",
            memory["peak_total_rss_mb"],
            "MB",
        )
    )
    if memory.get("pss_available"):
        rows.append(
            _row(
                f"(d) peak total PSS of the process tree, {n:,} runs (shared pages once)",
                memory["peak_total_pss_mb"],
                "MB",
            )
        )
    rows.append(
        _row(f"(d) peak RSS of the ensemble's (parent) process, {n:,} runs", memory["peak_parent_rss_mb"], "MB")
    )
    rows.append(_row(f"(d) peak RSS of one worker process, {n:,} runs", memory["peak_worker_rss_mb"], "MB"))
    first = prof["checkpoints"][0]["total_rss_mb"] if prof["checkpoints"] else None
    for cp in prof["checkpoints"]:
        rows.append(
            _row(
                f"(d) total RSS at {cp['runs_target']:,} runs ({cp['runs_done']:,} done, t {cp['t_s']:.0f} s): "
                f"parent {cp['parent_rss_mb']:.0f} + workers {cp['workers_rss_mb']:.0f} + helpers "
                f"{cp['helpers_rss_mb']:.0f} MB; peak since previous {cp['peak_total_rss_since_previous_mb']:.0f} MB",
                cp["total_rss_mb"],
                "MB",
                first,
                cp["total_rss_mb"] / first if first else None,
            )
        )
    slope = prof.get("slope_total_rss_mb_per_1000_runs", math.nan)
    lo, hi = prof["window"]
    rows.append(
        _row(
            f"(d) slope of total RSS vs runs done, {lo:.0%}-{hi:.0%} of runs (least squares, "
            f"{prof.get('window_samples', 0)} samples)",
            slope,
            "MB/1,000 runs",
            None,
            None,
            f"|slope| < {FLAT_SLOPE_MB_PER_1000_RUNS:g} (flat)",
            met(prof.get("flat")),
        )
    )
    if st:
        rows.append(
            _row(
                f"(d) runs in the result store (summary rows; yearly run_ids {st['yearly_run_ids_unique']:,}; "
                f"failures {st['failures']}; {st['disk_mb']:.0f} MB on disk)",
                st["summary_rows"],
                "runs",
                st["planned_runs"],
                st["summary_rows"] / st["planned_runs"] if st["planned_runs"] else None,
                f"= {n:,}",
                "yes" if st["all_runs_stored"] else "no",
            )
        )
    return rows


def machine_info() -> dict[str, Any]:
    """Machine facts for the JSON (the benchmark is compared across runs on a shared machine), with the
    versions of the packages an ensemble uses."""
    from importlib import metadata

    info = _run_benchmarks.machine_info()
    for pkg in ("numpy", "pandas", "pyarrow", "mesa", "dask", "distributed", "psutil"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # a missing optional package is reported as such
            info[pkg] = None
    info["platform"] = platform.platform()
    return info


SOURCE_DIRS = ("sim", "agents", "policies", "scenarios", "benchmarks")
"""What ``--snapshot`` copies and :func:`source_fingerprint` hashes: the code a run executes and its data."""


def source_fingerprint(root: Path) -> str:
    """SHA-256 over the model's source files (path and bytes), to tell whether the code changed mid-benchmark.

    Other engineers edit the tree while a 15-minute benchmark runs; each measurement starts a fresh
    interpreter, so an edit between two of them would compare different code. The fingerprint is taken at
    the start and the end; ``--snapshot`` removes the problem by running every child from one copy.
    """
    import hashlib

    h = hashlib.sha256()
    for d in SOURCE_DIRS:
        base = root / d
        if not base.is_dir():
            continue
        for f in sorted(base.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".py", ".csv", ".yaml", ".yml"):
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def snapshot_sources(dest: Path) -> Path:
    """Copy the model's sources (:data:`SOURCE_DIRS`) to ``dest``, so every measurement runs the same code."""
    for d in SOURCE_DIRS:
        if (ROOT / d).is_dir():
            shutil.copytree(ROOT / d, dest / d, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    return dest


def fastest_repeat(repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """The repeat with the most runs/s, with every repeat's record under ``repeats``.

    Other work on a shared machine only ever takes CPU away from the benchmark, so the fastest repeat is
    the one least disturbed (the reasoning behind ``timeit``'s minimum); the others stay in the JSON.
    """
    best = max(repeats, key=lambda x: x["runs_per_s"])
    return {
        **best,
        "selected": "fastest of repeats",
        "repeats_runs_per_s": [x["runs_per_s"] for x in repeats],
        "repeats_cpu_s": [x["cpu_s"] for x in repeats],
        "repeats_load_1min_mean": [x["load_1min_mean"] for x in repeats],
        "repeats": [{k: v for k, v in x.items() if k != "peak_by_process"} for x in repeats],
    }


def _batch_sizes(text: str) -> list[int | None]:
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        out.append(None if part == "auto" else int(part))
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the throughput configurations, then the memory ensemble; print the table; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 runs at res 0.005, memory with 200 runs (smoke test)")
    parser.add_argument("--json", type=Path, help="also write the table and raw measurements to this JSON file")
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--runs", type=int, help="runs per throughput ensemble (default 400; quick 20)")
    parser.add_argument("--resolution", type=float, help="throughput resolution (default 0.1; quick 0.005)")
    parser.add_argument(
        "--dask-batch-sizes",
        help="task sizes for Dask on 2 workers, comma-separated, 'auto' = chosen by run_ensemble "
        "(default auto,20,100,200; quick auto,5)",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="repeats of each throughput configuration (the fastest is reported)"
    )
    parser.add_argument("--memory-runs", type=int, help="runs of the memory ensemble (default 10000; quick 200)")
    parser.add_argument("--memory-resolution", type=float, help="resolution of the memory ensemble (default 0.1)")
    parser.add_argument("--memory-executor", default="local", choices=("local", "dask"))
    parser.add_argument("--memory-workers", type=int, default=2)
    parser.add_argument("--memory-batch-size", type=int, default=None, help="default: automatic")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--keep-output", action="store_true", help="keep the batch folders (printed at the end)")
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="copy sim/, agents/, policies/, scenarios/ and benchmarks/ to the temporary folder first and run "
        "every measurement from that copy (the tree is edited by others while the benchmark runs)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args.child)
        return {}

    import importlib.util

    if importlib.util.find_spec("psutil") is None:
        parser.error("psutil is needed to sample the worker processes: pip install psutil")

    quick = args.quick
    runs = args.runs or (20 if quick else 400)
    resolution = args.resolution or (0.005 if quick else 0.1)
    dask_sizes = _batch_sizes(args.dask_batch_sizes or ("auto,5" if quick else "auto,20,100,200"))
    memory_runs = args.memory_runs or (200 if quick else 10_000)
    memory_resolution = args.memory_resolution or (0.005 if quick else 0.1)
    workdir = Path(tempfile.mkdtemp(prefix="citypeak-ensemble-bench-"))
    fingerprint_start = source_fingerprint(ROOT)
    src_root = snapshot_sources(workdir / "src") if args.snapshot else ROOT
    fingerprint_measured = source_fingerprint(src_root) if args.snapshot else None
    scenario_path = args.scenario.resolve()
    if args.snapshot and scenario_path.is_relative_to(ROOT):
        scenario_path = src_root / scenario_path.relative_to(ROOT)
    scenario = str(scenario_path)

    configs: list[tuple[str, int, int | None]] = [("local", 1, None), ("local", 2, None), ("dask", 1, None)]
    configs += [("dask", 2, bs) for bs in dask_sizes]

    load_start = os.getloadavg()
    t_start = time.perf_counter()
    throughput: list[dict[str, Any]] = []
    memory: dict[str, Any] | None = None
    try:
        if not args.skip_throughput:
            # Repeats go round the configurations (not one configuration at a time), so that a burst of
            # load from other work on the shared machine falls on different configurations.
            reps: dict[tuple[str, int, int | None], list[dict[str, Any]]] = {c: [] for c in configs}
            for rep in range(max(1, args.repeats)):
                for executor, workers, batch_size in configs:
                    tag = f"{executor}-w{workers}-b{batch_size or 'auto'}-r{rep}"
                    cfg = {
                        "scenario": scenario,
                        "runs": runs,
                        "resolution": resolution,
                        "executor": executor,
                        "workers": workers,
                        "batch_size": batch_size,
                        "out": str(workdir / tag),
                        "check_store": False,
                        "keep_samples": False,
                    }
                    r = run_child(cfg, src_root)
                    print(
                        f"  {tag}: {r['runs_per_s']:.2f} runs/s (wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, "
                        f"load {r['loadavg_start'][0]:.2f}->{r['loadavg_end'][0]:.2f}, "
                        f"{r['n_shards']} shards)",
                        file=sys.stderr,
                        flush=True,
                    )
                    reps[(executor, workers, batch_size)].append(r)
                    if not args.keep_output:
                        shutil.rmtree(workdir / tag, ignore_errors=True)
            for c in configs:
                throughput.append(fastest_repeat(reps[c]))
        if not args.skip_memory:
            cfg = {
                "scenario": scenario,
                "runs": memory_runs,
                "resolution": memory_resolution,
                "executor": args.memory_executor,
                "workers": args.memory_workers,
                "batch_size": args.memory_batch_size,
                "out": str(workdir / "memory"),
                "check_store": True,
                "keep_samples": True,
            }
            memory = run_child(cfg, src_root)
            prof = memory["memory"]
            print(
                f"  memory: {memory_runs} runs in {memory['wall_s']:.0f} s, peak total RSS "
                f"{memory['peak_total_rss_mb']:.0f} MB, slope {prof.get('slope_total_rss_mb_per_1000_runs'):.2f} "
                f"MB/1000 runs",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if not args.keep_output:
            shutil.rmtree(workdir, ignore_errors=True)

    rows = build_rows(throughput, memory, quick)
    meta = {
        "machine": machine_info(),
        "scenario": str(args.scenario),
        "quick": quick,
        "runs": runs,
        "resolution": resolution,
        "dask_batch_sizes": ["auto" if b is None else b for b in dask_sizes],
        "repeats": args.repeats,
        "memory_runs": memory_runs,
        "memory_resolution": memory_resolution,
        "sobol": {"D": SOBOL_D, "N": SOBOL_N, "runs": SOBOL_RUNS, "target_min": SOBOL_TARGET_MIN},
        "flat_criterion": f"|least-squares slope of total RSS vs runs done, {FLAT_WINDOW[0]:.0%}-"
        f"{FLAT_WINDOW[1]:.0%} of runs| < {FLAT_SLOPE_MB_PER_1000_RUNS:g} MB per 1,000 runs",
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "benchmark_seconds": time.perf_counter() - t_start,
        "output_dir": str(workdir) if args.keep_output else None,
        "snapshot": bool(args.snapshot),
        "source_fingerprint_start": fingerprint_start,
        "source_fingerprint_end": source_fingerprint(ROOT),
        "source_fingerprint_measured": fingerprint_measured,
    }
    title = f"CityPeak ensemble benchmarks ({'QUICK, ' if quick else ''}{Path(args.scenario).name})"
    print(title)
    print()
    print(format_table(rows))
    print()
    print(
        "reference: throughput rows, 1-worker runs/s of the same executor (ratio = speed-up); Sobol rows, the "
        f"CPU-bound estimate {SOBOL_RUNS:,} x CPU s per run / {SOBOL_CORES} cores (ratio = wall / CPU-bound); "
        "RSS checkpoints, the first checkpoint. Wall and CPU (whole process tree) in the measure text."
    )
    m = meta["machine"]
    print(
        f"machine: {m['nproc']} cpu ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, dask "
        f"{m['distributed']}; load average {load_start[0]:.2f} at start, {meta['loadavg_end'][0]:.2f} at end; "
        f"took {meta['benchmark_seconds']:.0f} s"
    )
    if args.snapshot:
        print(f"measured a snapshot of the sources taken at the start (sha256 {fingerprint_measured[:12]})")
    elif meta["source_fingerprint_end"] != fingerprint_start:
        print("WARNING: the sources changed while the benchmark ran; rows may measure different code (--snapshot)")
    result = {"meta": meta, "rows": rows, "raw": {"throughput": throughput, "memory": memory}}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=float))
    return result


if __name__ == "__main__":
    main()
