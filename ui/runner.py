"""Ensembles for the app: a persistent process pool, small tasks, progressive results and a result cache.

A slider move must redraw a 200-member ensemble quickly (DESIGN.md section 8). What costs time, and what
this module does about each:

* **Process start-up** (~1 s per worker to start Python and import numpy, pandas, Mesa and the model): the
  pool is created once per server and kept (the app holds it in ``st.cache_resource``); its workers are
  forked from a forkserver that has already imported this module and the model, and each worker warms up
  as it starts (:func:`warm_up`): it pays its first-run costs before the first slider move and freezes its
  import-time objects out of the garbage collector's full collections.
* **The runs themselves** (tens of ms each, dominated by Python overhead per simulated year): members are
  sent as tasks in run order, small ones (:data:`MEMBERS_PER_TASK`) for the first :data:`FIRST_STAGE`
  members, so the app can draw those at once, and larger ones after them (:func:`task_sizes`), and the app
  refines to the full ensemble (:func:`stream`). A superseded ensemble's running tasks stop at their next
  model year (:meth:`AppPool.ticket`). A worker returns a few compact arrays per run (totals, sectors,
  indicators, costs) instead of the tidy tables a batch writes, so little is pickled.
* **Building the cities** (~10% of a member's CPU): a slider move changes levers only, so each worker
  builds the next move's members while the user looks at the last one, and the next move's tasks give
  them their levers and step them (:class:`BuiltAhead`; the results are the same bit for bit).
* **Repeats**: results are cached by the full scenario text (which contains every lever), ensemble size,
  root seed and resolution (:class:`ResultCache`), so going back to a setting, switching between presets
  or comparing scenarios already seen costs nothing.

Random numbers follow the ensemble module exactly: member ``k`` of a given root seed gets the parameter
draws of ``sim.ensemble.sample_parameters`` row ``k`` and the seed ``sim.ensemble.run_seed(root, k)``.
Two scenarios run with the same root seed, size and resolution are therefore common-random-number pairs,
which is what the Compare tab's paired differences rely on. This module must not import Streamlit: the
pool's workers import it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import itertools
import multiprocessing as mp
import os
import sys
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim import registry
from sim import sensitivity as sens
from sim import stats as simstats
from sim.constants import SECTORS
from sim.ensemble import run_seed, sample_parameters
from sim.executors import freeze_long_lived_objects
from sim.levers import LEVER_FAMILIES, PILOT_TARGETS_2025, active_families, lever_effects
from sim.model import RunCancelledError, run, run_members
from sim.peak import censored_peak_year, find_peaks
from sim.scenario import Scenario, ScenarioError, load_yaml, scenario_from_dict

MEMBERS_PER_TASK = 20
"""Runs per pool task, stepped in lockstep (:func:`sim.model.run_members`): small enough that the first
stage's members (two tasks, one per worker) come back early, large enough that the lockstep pays (at
resolution 0.005 a member costs 52-58 ms alone, 24 ms with 9 others and 22 ms with 19; the 200-member redraw
took 2.89 s with 10-member tasks and 2.66 s with 20). After the first stage, tasks are larger at coarse
resolution (:data:`LATER_TASK_FACTOR`)."""

FIRST_STAGE = 40
"""Members drawn before the rest are in (progressive rendering)."""

LATER_TASK_FACTOR = 2
"""After the first stage, tasks hold this many times :data:`MEMBERS_PER_TASK` runs at coarse resolution
(:data:`LATER_TASKS_MAX_RESOLUTION`; see :func:`task_sizes`).

Why: the lockstep's savings go on past 20 members (at resolution 0.005, 13.3-13.6 ms of CPU a member in tasks
of 40 against 14.1-14.4 ms in tasks of 20, in-process, alternating), while the first stage needs its members
in small tasks, one per worker, to come back early. A superseded ensemble no longer waits for its tasks to
end (they stop at their next model year, :meth:`AppPool.release`), which is what kept tasks at 20 members.
In headless Chromium on the same two cores (29 Nov 2026, 05:30 UTC, two rounds of eight moves alternating
with tasks of 20 throughout) the move took 1.83 / 1.83 s against 1.95 / 1.91 s, the workers 2.65 / 2.62
CPU-s against 2.83 / 2.73; tasks of 80 were slower (1.97 / 2.02 s: the workers' last tasks end apart)."""
LATER_TASKS_MAX_RESOLUTION = 0.03
"""Finest resolution at which the tasks after the first stage are larger (:data:`LATER_TASK_FACTOR`): where
a member's own arithmetic, not the number of numpy calls, is the cost, bigger lockstep batches do not pay
(:func:`sim.model.lockstep_members`)."""

CANCEL_SLOTS = 1024
"""Ensembles an :class:`AppPool` can have in flight at once, each with a cell of shared memory that its
tasks read before every model year (:meth:`AppPool.ticket`)."""

TARGET_YEAR = 2030
"""The pilot plan's peak deadline: the year of P(peak <= year)."""

SCORE_YEAR = 2025
"""Year of the pilot plan's indicator targets."""

MEET_TOLERANCE = 0.98
"""A run meets an indicator target at 98% of it or better (the rule of ``sim.levers.indicator_scorecard``)."""

PERCENTILES = (5, 25, 50, 75, 95)

MORRIS_DEFAULT = (
    "gdp_growth_pct_per_yr",
    "industry_output_growth_pct_per_yr",
    "industry_intensity_decline_pct_per_yr",
    "refinery_throughput_growth_pct_per_yr",
    "coal_price_cny_per_gj",
    "ev_price_premium_decline_pct_per_yr",
)
"""The handful of uncertainties the quick Morris screening varies unless the user picks others: the demand
drivers of the large emitters and one price and one technology parameter."""

_SCENARIOS: OrderedDict[str, Scenario] = OrderedDict()
_SCENARIO_CACHE_SIZE = 8


def text_key(text: str) -> str:
    """A short stable hash of scenario text (cache keys)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def scenario_from_text(text: str) -> Scenario:
    """Parse and validate merged scenario YAML, cached per process by its hash.

    Every task of one ensemble carries the same text, so each worker validates it once per lever setting.
    """
    key = text_key(text)
    cached = _SCENARIOS.get(key)
    if cached is not None:
        _SCENARIOS.move_to_end(key)
        return cached
    data = load_yaml(text)
    if not isinstance(data, dict):
        raise ScenarioError("<app scenario>: top level must be a mapping")
    scenario = scenario_from_dict(data, "<app scenario>")
    _SCENARIOS[key] = scenario
    while len(_SCENARIOS) > _SCENARIO_CACHE_SIZE:
        _SCENARIOS.popitem(last=False)
    return scenario


# ---------------------------------------------------------------------------------------------- worker side


def _policy_totals(result: Any) -> dict[str, float]:
    out = {"fiscal_cost_cny": 0.0, "private_cost_cny": 0.0, "revenue_cny": 0.0}
    for (_, item), values in result.ledger.policy.items():
        out[item] = out.get(item, 0.0) + float(np.sum(values))
    return out


def run_chunk(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run a few members and return compact arrays (called in a worker, or inline).

    Args:
        task: ``text`` (scenario YAML), ``run_ids``, ``seed_ids`` (the run_id whose seed each run uses;
            equal to ``run_ids`` for an ensemble, one fixed id for a Morris design), ``overrides`` (one
            dict per run), ``root_seed``, ``resolution``; in the app pool also ``ahead`` (the whole
            ensemble's ``members`` and ``per_task``, its tasks' size or sizes (:func:`task_sizes`): the worker
            then builds the next move's members ahead) and ``cancel`` (the ensemble's ticket,
            :meth:`AppPool.ticket`).

    Raises:
        RunCancelledError: the ensemble's ticket was released while the task ran (its caller stopped waiting).

    Returns:
        ``run_ids``, ``years``, ``sectors``, ``total`` (runs x years, direct Mt), ``total_with_trade``,
        ``sector`` (runs x years x sectors), ``indicators`` (name -> runs x years), ``policy`` (name ->
        runs), ``failures`` (``[(run_id, "Type: message")]``), ``seconds`` (wall), ``cpu_seconds`` (the
        CPU time of the thread that ran the task, which does not grow when other processes compete for the
        cores, nor with members built ahead in this worker's other thread), and ``built_ahead`` (members
        whose city was built before the task came, :class:`BuiltAhead`).
    """
    t0, cpu0 = time.perf_counter(), time.thread_time()
    scenario = scenario_from_text(task["text"])
    ids, totals, trade, sectors, failures = [], [], [], [], []
    indicators: dict[str, list[np.ndarray]] = {}
    policy: dict[str, list[float]] = {}
    years: np.ndarray | None = None
    sector_names: list[str] = []
    members = list(zip(task["run_ids"], task["seed_ids"], task["overrides"], strict=True))
    together = None
    built_ahead = 0
    stop = _stop_check(task)
    with _AHEAD.task(task, scenario) as built:
        if built is not None:
            built_ahead = len(built.models)
        try:  # the members in lockstep (sim.model.Lockstep): the same results, fewer numpy calls
            if built is not None:
                together = built.run(stop)
            elif len(members) > 1:
                seeds = [run_seed(task["root_seed"], seed_id) for _, seed_id, _ in members]
                together = run_members(scenario, seeds, [dict(o) for _, _, o in members], task["resolution"], stop=stop)
        except RunCancelledError:
            raise
        except Exception:  # run them one by one, so that the failing member is named
            together = None
    for i, (run_id, seed_id, overrides) in enumerate(members):
        if together is None and stop is not None and stop():
            raise RunCancelledError(f"stopped before member {run_id}")
        try:
            # A seed sequence gives new children each time it is spawned: a run alone gets a fresh one.
            result = (
                together[i]
                if together is not None
                else run(scenario, run_seed(task["root_seed"], seed_id), dict(overrides), task["resolution"])
            )
        except Exception as exc:  # a failed member is reported with the others, not raised
            failures.append((int(run_id), f"{type(exc).__name__}: {exc}".splitlines()[0]))
            continue
        years = np.asarray(result.years)
        sector_names = list(SECTORS)
        ids.append(int(run_id))
        totals.append(result.total_mt("direct"))
        trade.append(result.total_mt("total"))
        sectors.append(result.sector_co2_mt())
        for name, series in result.ledger.indicators.items():
            indicators.setdefault(name, []).append(np.asarray(series, dtype=float))
        for name, value in _policy_totals(result).items():
            policy.setdefault(name, []).append(value)
    n_years = 0 if years is None else len(years)
    return {
        "run_ids": np.asarray(ids, dtype=np.int64),
        "years": np.asarray(years if years is not None else [], dtype=np.int64),
        "sectors": sector_names,
        "total": np.asarray(totals, dtype=float).reshape(len(ids), n_years),
        "total_with_trade": np.asarray(trade, dtype=float).reshape(len(ids), n_years),
        "sector": np.asarray(sectors, dtype=float).reshape(len(ids), n_years, len(sector_names)),
        "indicators": {k: np.asarray(v, dtype=float) for k, v in indicators.items() if len(v) == len(ids)},
        "policy": {k: np.asarray(v, dtype=float) for k, v in policy.items()},
        "failures": failures,
        "built_ahead": built_ahead,
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.thread_time() - cpu0,
    }


_CANCEL: Any = None
"""In a worker of an :class:`AppPool`: the pool's shared cells of ensembles in flight (:meth:`AppPool.ticket`)."""


def _init_worker(cancel: Any) -> None:
    """A pool worker's start: keep the pool's shared cells, then :func:`warm_up`."""
    global _CANCEL
    _CANCEL = cancel
    warm_up()


def _stop_check(task: Mapping[str, Any]) -> Callable[[], bool] | None:
    """Whether the ensemble a task belongs to is no longer wanted, asked before every model year; None for a
    task without a ticket (inline, the CLI, Morris designs) or outside a pool worker."""
    ticket = task.get("cancel")
    if ticket is None or _CANCEL is None:
        return None
    cells, (slot, number) = _CANCEL, ticket
    return lambda: cells[slot] != number


def lever_effects_task(task: Mapping[str, Any]) -> pd.DataFrame:
    """``sim.levers.lever_effects`` for some lever families (called in a worker, or inline)."""
    scenario = scenario_from_text(task["text"])
    return lever_effects(scenario, seed=task["seed"], resolution=task["resolution"], families=list(task["families"]))


BUILD_AHEAD_QUIET_S = 0.05
"""How long a worker must have had no task before it builds members ahead: the tasks of one slider move
follow each other within a millisecond, so building starts only once the move's tasks are all done."""


def build_ahead_enabled() -> bool:
    """Whether the pool's workers build the next slider move's members ahead (``CITYPEAK_APP_BUILD_AHEAD=0``
    turns it off, e.g. to measure without it)."""
    return os.environ.get("CITYPEAK_APP_BUILD_AHEAD", "1").strip() not in ("0", "false", "no", "off")


BUILD_AHEAD_MAX_MB = 256.0
"""The most memory a worker keeps in members built ahead: larger ensembles (500 members at resolution 0.02,
or 100 at 0.1) are built in their tasks as before."""


def build_ahead_mb(members: int, resolution: float) -> float:
    """Memory (MB) of ``members`` built ahead: ~0.15 MB a member plus ~45 MB times the resolution (traced
    with ``tracemalloc`` for the pilot city: 0.24 MB at 0.002, 0.37 at 0.005, 1.05 at 0.02, 4.7 at 0.1)."""
    return members * (0.15 + 45.0 * resolution)


def _task_key(task: Mapping[str, Any], scenario: Scenario) -> tuple:
    """What a task's members are built from, apart from the levers (see :meth:`CityModel.reuse_for`)."""
    overrides = tuple(tuple(sorted(o.items())) for o in task["overrides"])
    return (scenario.city_digest(), task["root_seed"], float(task["resolution"]), tuple(task["seed_ids"]), overrides)


def _layout(per_task: int | Sequence[int]) -> int | tuple[int, ...]:
    """A task layout (:func:`task_sizes`) as a hashable value."""
    return int(per_task) if isinstance(per_task, int) else tuple(int(k) for k in per_task)


class BuiltAhead:
    """The members of the next slider move's tasks, built by a worker while it has nothing else to do.

    Why: building a member is ~10% of its CPU (1.5 of 15 ms at resolution 0.005), and a slider move changes
    levers only, while building a city reads them only for base-year prices and subsidies
    (:meth:`sim.model.CityModel.reuse_for`). So after a move's tasks, each worker builds every task of the
    same ensemble design again (same seeds and sampled uncertainties, stacked in lockstep) in a background
    thread, and the next move's tasks take them, give them their levers and step them. A worker does not
    know which tasks it will get, so it builds all of them and keeps those it did not use for the next move:
    it rebuilds about what it used. Members are built one at a time: building starts only
    :data:`BUILD_AHEAD_QUIET_S` after a worker's last task and stops before the next member when a task comes
    in, so a task waits at most for the member being built (~2 ms of CPU at resolution 0.005; a little
    longer on a busy machine, where this thread at the lowest priority may hold the interpreter's lock while
    it waits for a core). A whole move's building takes ~0.2 CPU-seconds per worker and is over within
    ~0.5 s of the move's last task.
    Memory: ~0.4 MB a member at resolution 0.005 (75 MB for 200), for one design at a time, and only for
    designs within :data:`BUILD_AHEAD_MAX_MB` (:func:`build_ahead_mb`).
    """

    def __init__(self, quiet_s: float = BUILD_AHEAD_QUIET_S) -> None:
        self.quiet_s = quiet_s
        self._cond = threading.Condition()
        self._busy = 0
        self._last_task_end = 0.0
        self._design: tuple | None = None
        """(city digest, root seed, resolution, members, task layout) of the ensemble to build: the layout is
        the members per task or the tasks' sizes (:func:`task_sizes`)."""
        self._source: tuple[EnsembleSpec, int | tuple[int, ...], Scenario] | None = None
        self._plan: list[tuple[tuple, dict[str, Any]]] | None = None
        """(key, task) of every task of the design, in run order (the first stage's first); None until the
        builder has drawn the design's parameters."""
        self._ready: dict[tuple, Any] = {}
        """A built lockstep (:class:`sim.model.Lockstep`, not stepped) per task key."""
        self._thread: threading.Thread | None = None
        self.built_members = 0
        """Members built ahead so far."""
        self.used_members = 0
        """Members built ahead that a task then stepped."""

    @contextlib.contextmanager
    def task(self, task: Mapping[str, Any], scenario: Scenario) -> Iterator[Any]:
        """Around a task: building ahead pauses. Yields the task's lockstep with the task's levers given to
        every member if it was built ahead, else None. Afterwards the task's ensemble is the one to build
        ahead if the task asks for it (its ``ahead``: ``members`` and ``per_task`` of the whole ensemble)."""
        ahead = task.get("ahead")
        key = _task_key(task, scenario) if ahead is not None else None
        with self._cond:
            self._busy += 1
            built = self._ready.pop(key, None) if key is not None else None
        try:
            if built is not None and not all(
                m.reuse_for(scenario, dict(o)) for m, o in zip(built.models, task["overrides"], strict=True)
            ):
                built = None
            if built is not None:
                self.used_members += len(built.models)
            yield built
        finally:
            with self._cond:
                self._busy -= 1
                self._last_task_end = time.monotonic()
                if key is not None:
                    members, per_task = int(ahead["members"]), _layout(ahead["per_task"])
                    design = (key[0], key[1], key[2], members, per_task)
                    if design != self._design:
                        spec = EnsembleSpec(task["text"], members, int(task["root_seed"]), float(task["resolution"]))
                        self._design, self._source, self._plan, self._ready = (
                            design,
                            (spec, per_task, scenario),
                            None,
                            {},
                        )
                    if self._thread is None:
                        self._thread = threading.Thread(target=self._run, name="citypeak-build-ahead", daemon=True)
                        self._thread.start()
                self._cond.notify_all()

    def _job(self) -> tuple | None:
        """The builder's next job (lock held): ``("plan", design)``, ``("build", design, key, task)`` or None."""
        if self._design is None:
            return None
        if self._plan is None:
            return ("plan", self._design)
        for key, task in self._plan:
            if key not in self._ready:
                return ("build", self._design, key, task)
        return None

    def _wait_quiet(self, design: tuple) -> bool:
        """Wait (lock held) until no task has run for ``quiet_s``; False if the design changed meanwhile."""
        while self._design == design:
            if not self._busy:
                left = self.quiet_s - (time.monotonic() - self._last_task_end)
                if left <= 0:
                    return True
                self._cond.wait(left)
            else:
                self._cond.wait()
        return False

    def _run(self) -> None:
        # The lowest CPU priority for this thread alone (Linux schedules threads on their own): it builds only
        # on cores that the other worker, the server and the browser leave idle.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while True:
            with self._cond:
                job = self._job()
                while job is None or not self._wait_quiet(job[1]):
                    if job is None:
                        self._cond.wait()
                    job = self._job()
                current = job[1]
                spec, per_task, scenario = self._source  # type: ignore[misc]
            try:
                self._do(job, current, spec, per_task, scenario)
            except Exception:  # a member that cannot be built fails again in its task, which names it
                with self._cond:
                    if self._design == current:
                        self._design, self._source, self._plan, self._ready = None, None, None, {}

    def _do(
        self, job: tuple, current: tuple, spec: EnsembleSpec, per_task: int | tuple[int, ...], scenario: Scenario
    ) -> None:
        """One job of the builder: plan the design's tasks, or build one task's members."""
        from sim.model import CityModel, Lockstep

        if job[0] == "plan":
            plan = [(_task_key(t, scenario), t) for t in _tasks(spec, design(spec), per_task)]
            with self._cond:
                if self._design == current:
                    self._plan = plan
            return
        _, _, key, task = job
        models = []
        for seed_id, overrides in zip(task["seed_ids"], task["overrides"], strict=True):
            with self._cond:
                if not self._wait_quiet(current):
                    return
            seed = run_seed(task["root_seed"], seed_id)
            models.append(CityModel(scenario, seed, dict(overrides), task["resolution"], stacked=False))
        built = Lockstep(models)
        with self._cond:
            if self._design == current:
                self._ready[key] = built
                self.built_members += len(models)


_AHEAD = BuiltAhead()
"""This process's members built ahead (used only in the app pool's workers: only their tasks carry
``ahead``)."""


def warm_up() -> None:
    """Pay a worker's first-run costs (lazy imports, first allocations) before the first real task, then
    :func:`~sim.executors.freeze_long_lived_objects` (a full collection cost 60-120 ms per ~100 members)."""
    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "scenarios" / "karamay_baseline.yaml").read_text())
    scenario = scenario_from_dict(data, "warm-up")
    run(scenario, 0, None, registry.get("resolution").low)
    freeze_long_lived_objects()


# ---------------------------------------------------------------------------------------------- pool


_MAIN_HEAP_FROZEN = False


def freeze_main_heap() -> None:
    """:func:`~sim.executors.freeze_long_lived_objects` in the server process, once per process.

    Why: the Streamlit server holds ~200,000 container objects (Streamlit, Tornado, Altair, pandas, the
    model), and a full collection took ~140 ms of about every sixth redraw. Once the first page is built,
    nearly all of them live as long as the server.
    """
    global _MAIN_HEAP_FROZEN
    if not _MAIN_HEAP_FROZEN:
        freeze_long_lived_objects()
        _MAIN_HEAP_FROZEN = True


def _forkserver_context() -> mp.context.BaseContext:
    """A forkserver context that preloads this module (and so the model), else spawn.

    Forked workers then start in milliseconds with numpy, pandas, Mesa and the model imported; plain
    ``fork`` of the threaded Streamlit server is avoided because it can deadlock the child.
    """
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["ui.runner"])
        return ctx
    return mp.get_context("spawn")


@contextlib.contextmanager
def _bare_main() -> Iterator[None]:
    """Show worker processes a ``__main__`` without a file while they start.

    ``multiprocessing`` makes a new worker import the parent's main module (by its ``__file__``) so that
    pickled functions defined there resolve. Under Streamlit that module is the app script, which would
    then run its page code in every worker; the pool's tasks are all defined in this module, so the workers
    do not need it.
    """
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


class AppPool:
    """A process pool that lives as long as the server (one per process, shared by all sessions).

    Args:
        workers: worker processes; 1 (or fewer CPUs) means no pool: tasks run inline in the caller, which
            is what tests and single-core machines want.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or default_workers()))
        self._pool: cf.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._cells: Any = None
        self._tickets = itertools.count(1)
        if self.workers > 1:
            self._context = _forkserver_context()
            # One cell per ensemble in flight, in shared memory that the workers get as they start: a cell
            # holds its ensemble's ticket number while the ensemble is wanted (see ticket()).
            self._cells = self._context.RawArray("q", CANCEL_SLOTS)
            self._start()

    def _start(self) -> None:
        # Workers of a forkserver or spawn pool are started at the first submit; they would re-import the
        # parent's __main__ (under Streamlit: the app script) unless it has no file to import.
        with _bare_main():
            # Every worker warms up once, as it starts (an initializer, not a task: two warm-up tasks could
            # both land on one worker); the pings start the workers now instead of at the first slider move.
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=self._context,
                initializer=_init_worker,
                initargs=(self._cells,),
            )
            for _ in range(self.workers):
                self._pool.submit(os.getpid)

    def ticket(self) -> tuple[int, int] | None:
        """A ticket for one ensemble's tasks (their ``cancel``): while it is valid they run to the end; once
        :meth:`release` has been called, a task still running stops before its next model year
        (:meth:`sim.model.Lockstep.run`). None for an inline pool.

        Why: a slider moved again while an ensemble runs makes that ensemble useless; its tasks not started
        are cancelled, but the ones running would hold both workers for up to a task's length (0.3-0.6 s at
        the default settings) before the new ensemble could start. A ticket is a cell of shared memory and
        a number: the cell holds the number while the ensemble is wanted, and a task checks that before each
        year (a read of shared memory, no message to send). Cells are reused round-robin; a cell reused by
        a later ensemble holds another number, so its old tasks stop too.
        """
        if self._cells is None:
            return None
        with self._lock:
            number = next(self._tickets)
        slot = number % CANCEL_SLOTS
        self._cells[slot] = number
        return slot, number

    def release(self, ticket: tuple[int, int] | None) -> None:
        """The ensemble of ``ticket`` is done or no longer wanted: its tasks still running stop."""
        if ticket is not None and self._cells is not None:
            slot, number = ticket
            if self._cells[slot] == number:
                self._cells[slot] = 0

    @property
    def inline(self) -> bool:
        """Whether tasks run in the calling thread (no worker processes)."""
        return self._pool is None

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future:
        """Submit a task; a pool broken by a dead worker is replaced once."""
        if self._pool is None:
            fut: cf.Future = cf.Future()
            try:
                fut.set_result(fn(arg))
            except Exception as exc:
                fut.set_exception(exc)
            return fut
        with self._lock:
            try:
                return self._pool.submit(fn, arg)
            except cf.process.BrokenProcessPool:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._start()
                return self._pool.submit(fn, arg)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def default_workers() -> int:
    """Workers for the app: ``CITYPEAK_APP_WORKERS`` if set, else the CPUs this process may use."""
    env = os.environ.get("CITYPEAK_APP_WORKERS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EnsembleSpec:
    """What defines an ensemble: the cache key and the common-random-number contract."""

    text: str
    members: int
    root_seed: int
    resolution: float
    label: str = ""

    @property
    def key(self) -> str:
        return f"{text_key(self.text)}:{self.members}:{self.root_seed}:{self.resolution:g}"


@dataclass
class EnsembleResult:
    """The members of one ensemble, as arrays (members in run_id order).

    Attributes:
        spec: what was run.
        years: simulated years.
        run_ids: member numbers.
        total: direct (territorial) CO2 per member and year, Mt.
        total_with_trade: direct plus the electricity trade adjustment, Mt.
        sector: direct CO2 per member, year and sector, Mt.
        sectors: sector names, in the order of ``sector``'s last axis.
        indicators: pilot-plan indicator series per member (name -> members x years).
        policy: fiscal cost, private cost and carbon revenue per member, CNY summed over the years.
        params: the sampled uncertain parameters (``run_id`` first).
        failures: ``(run_id, error)`` of members that failed.
        seconds: wall time to compute (0 when it came from the cache).
        cpu_seconds: CPU time the runs took, summed over workers (members built ahead were built outside it).
        built_ahead: members whose city a worker had built before the ensemble was asked for (:class:`BuiltAhead`).
    """

    spec: EnsembleSpec
    years: np.ndarray
    run_ids: np.ndarray
    total: np.ndarray
    total_with_trade: np.ndarray
    sector: np.ndarray
    sectors: list[str]
    indicators: dict[str, np.ndarray]
    policy: dict[str, np.ndarray]
    params: pd.DataFrame
    failures: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    built_ahead: int = 0
    _peaks: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.run_ids)

    @property
    def base_year(self) -> int:
        return int(self.years[0])

    @property
    def horizon(self) -> int:
        return int(self.years[-1])

    # ------------------------------------------------------------------ per-run outcomes
    def peaks(self) -> dict[str, np.ndarray]:
        """``sim.peak.find_peaks`` of every member's direct total (computed once)."""
        if self._peaks is None:
            self._peaks = find_peaks(self.years, self.total)
        return self._peaks

    def _at(self, values: np.ndarray, year: int) -> np.ndarray:
        idx = np.flatnonzero(self.years == year)
        return values[:, idx[0]] if idx.size else np.full(values.shape[0], np.nan)

    def summary(self) -> pd.DataFrame:
        """One row per member, the columns of a batch's ``summary.parquet`` that the app uses."""
        pk = self.peaks()
        window = self.years >= 2025
        return pd.DataFrame(
            {
                "run_id": self.run_ids,
                "peak_year": pk["peak_year"].astype(np.int64),
                "peak_mt": pk["peak_mt"],
                "plateau_year": pk["plateau_year"].astype(np.int64),
                "peaked": pk["peaked"].astype(bool),
                "cumulative_mt": self.total[:, window].sum(axis=1),
                "emissions_2030_mt": self._at(self.total, 2030),
                "emissions_2060_mt": self._at(self.total, 2060),
            }
        )

    def censored_peak_years(self) -> np.ndarray:
        """Peak years with not-peaked members as ``horizon + 1`` (orderable, for medians and intervals)."""
        pk = self.peaks()
        return censored_peak_year(pk["peak_year"], pk["peaked"], self.horizon)

    # ------------------------------------------------------------------ ensemble statistics
    def bands(self, values: np.ndarray | None = None) -> pd.DataFrame:
        """P5, P25, P50, P75, P95 and mean across members per year (of run totals, as ``sim.stats``)."""
        v = self.total if values is None else values
        out = pd.DataFrame({"year": self.years})
        for p in PERCENTILES:
            out[f"p{p}"] = np.percentile(v, p, axis=0)
        out["mean"] = v.mean(axis=0)
        return out

    def headline(self, target_year: int = TARGET_YEAR) -> dict[str, Any]:
        """The numbers on top of the page.

        Peak-year median and 90% interval are taken over censored peak years, so a not-peaked member
        counts as "after the horizon" instead of silently peaking in its last year.
        """
        years = self.censored_peak_years()
        summary = self.summary()
        ci = simstats.p_peak_by_with_ci(summary, target_year)
        peak_mt = summary["peak_mt"].to_numpy()
        return {
            "peak_year_median": float(np.percentile(years, 50, method="inverted_cdf")),
            "peak_year_p5": float(np.percentile(years, 5, method="inverted_cdf")),
            "peak_year_p95": float(np.percentile(years, 95, method="inverted_cdf")),
            "p_peak_by": ci["p"],
            "p_peak_by_lo": ci["lo"],
            "p_peak_by_hi": ci["hi"],
            "peak_mt_median": float(np.median(peak_mt)),
            "peak_mt_p5": float(np.percentile(peak_mt, 5)),
            "peak_mt_p95": float(np.percentile(peak_mt, 95)),
            "emissions_2030_median": float(np.median(summary["emissions_2030_mt"])),
            "share_not_peaked": simstats.share_not_peaked(summary),
            "horizon": self.horizon,
            "n": self.n,
        }

    def peak_year_distribution(self) -> pd.DataFrame:
        """``sim.stats.peak_year_distribution`` of the members."""
        return simstats.peak_year_distribution(self.summary())

    def peak_year_ecdf(self) -> pd.DataFrame:
        """``sim.stats.peak_year_ecdf`` from the base year to the horizon."""
        return simstats.peak_year_ecdf(self.summary(), self.horizon, start_year=self.base_year)

    def sector_mean(self) -> pd.DataFrame:
        """Mean emissions by year and sector (tidy): the stack adds up to the ensemble-mean total."""
        mean = self.sector.mean(axis=0)
        return self._sector_frame(mean)

    def median_run_index(self) -> int:
        """Index of the member whose cumulative emissions are the median (a real trajectory to show)."""
        cum = self.summary()["cumulative_mt"].to_numpy()
        return int(np.argsort(cum)[(len(cum) - 1) // 2])

    def sector_median_run(self) -> tuple[pd.DataFrame, int]:
        """Sector emissions of the median member, and its run_id."""
        i = self.median_run_index()
        return self._sector_frame(self.sector[i]), int(self.run_ids[i])

    def _sector_frame(self, values: np.ndarray) -> pd.DataFrame:
        y, s = np.meshgrid(np.arange(len(self.years)), np.arange(len(self.sectors)), indexing="ij")
        return pd.DataFrame(
            {
                "year": self.years[y.ravel()],
                "sector": np.asarray(self.sectors)[s.ravel()],
                "emissions_mt": values.ravel(),
            }
        )

    def scorecard(self, year: int = SCORE_YEAR) -> pd.DataFrame:
        """Pilot-plan indicators in ``year`` across members, plus the buildings and transport peak goals.

        Returns:
            One row per indicator: ``indicator``, ``kind`` (``share`` or ``peak`` / ``plateau``),
            ``median``, ``p5``, ``p95``, ``target``, ``target_text``, ``p_met``.
        """
        rows = []
        for name, (target, text) in PILOT_TARGETS_2025.items():
            series = self.indicators.get(name)
            if series is None or year not in self.years:
                continue
            v = self._at(series, year)
            rows.append(
                {
                    "indicator": name,
                    "kind": "share",
                    "median": float(np.median(v)),
                    "p5": float(np.percentile(v, 5)),
                    "p95": float(np.percentile(v, 95)),
                    "target": float(target),
                    "target_text": text,
                    "p_met": float(np.mean(v >= target * MEET_TOLERANCE)),
                }
            )
        # DESIGN.md section 7: buildings emissions peak before 2030; transport on a plateau by 2030.
        for name, sector, kind in (
            ("buildings_peak", "buildings", "peak"),
            ("transport_plateau", "transport", "plateau"),
        ):
            if sector not in self.sectors:
                continue
            pk = find_peaks(self.years, self.sector[:, :, self.sectors.index(sector)])
            yrs = pk["peak_year"] if kind == "peak" else pk["plateau_year"]
            ok = (yrs < TARGET_YEAR) if kind == "peak" else (yrs <= TARGET_YEAR)
            if kind == "peak":
                ok = ok & pk["peaked"]
            rows.append(
                {
                    "indicator": name,
                    "kind": kind,
                    "median": float(np.percentile(yrs, 50, method="inverted_cdf")),
                    "p5": float(np.percentile(yrs, 5, method="inverted_cdf")),
                    "p95": float(np.percentile(yrs, 95, method="inverted_cdf")),
                    "target": float(TARGET_YEAR),
                    "target_text": f"{kind} by {TARGET_YEAR}",
                    "p_met": float(np.mean(ok)),
                }
            )
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ downloads
    def yearly_frame(self) -> pd.DataFrame:
        """Tidy results for download: run_id, year, sector (plus ``total`` rows), emissions_mt."""
        n, y, s = self.sector.shape
        r, yi, si = np.meshgrid(np.arange(n), np.arange(y), np.arange(s), indexing="ij")
        by_sector = pd.DataFrame(
            {
                "run_id": self.run_ids[r.ravel()],
                "year": self.years[yi.ravel()],
                "sector": np.asarray(self.sectors)[si.ravel()],
                "emissions_mt": self.sector.ravel(),
            }
        )
        r2, y2 = np.meshgrid(np.arange(n), np.arange(y), indexing="ij")
        total = pd.DataFrame(
            {
                "run_id": self.run_ids[r2.ravel()],
                "year": self.years[y2.ravel()],
                "sector": "total_direct",
                "emissions_mt": self.total.ravel(),
            }
        )
        return pd.concat([by_sector, total], ignore_index=True)

    def summary_with_params(self) -> pd.DataFrame:
        """Per-member outcomes joined with the sampled parameters (what a results download needs)."""
        return self.summary().merge(self.params, on="run_id", how="left")

    def prefix(self, k: int) -> EnsembleResult:
        """The first ``k`` members (the progressive first stage)."""
        keep = self.run_ids < k
        return _subset(self, keep)


def _subset(res: EnsembleResult, keep: np.ndarray) -> EnsembleResult:
    return EnsembleResult(
        spec=res.spec,
        years=res.years,
        run_ids=res.run_ids[keep],
        total=res.total[keep],
        total_with_trade=res.total_with_trade[keep],
        sector=res.sector[keep],
        sectors=res.sectors,
        indicators={k: v[keep] for k, v in res.indicators.items()},
        policy={k: v[keep] for k, v in res.policy.items()},
        params=res.params[res.params["run_id"].isin(res.run_ids[keep])].reset_index(drop=True),
        failures=res.failures,
        seconds=res.seconds,
        cpu_seconds=res.cpu_seconds,
        built_ahead=res.built_ahead,
    )


def assemble(spec: EnsembleSpec, chunks: Sequence[Mapping[str, Any]], params: pd.DataFrame) -> EnsembleResult:
    """Stack chunk results (in any order) into one result, members sorted by run_id.

    Raises:
        RuntimeError: every member failed (the message carries the first error).
    """
    good = [c for c in chunks if len(c["run_ids"])]
    failures = sorted(f for c in chunks for f in c["failures"])
    if not good:
        first = failures[0][1] if failures else "no members were run"
        raise RuntimeError(f"every ensemble member failed; first error: {first}")
    ids = np.concatenate([c["run_ids"] for c in good])
    order = np.argsort(ids, kind="stable")
    names = set.intersection(*(set(c["indicators"]) for c in good))
    return EnsembleResult(
        spec=spec,
        years=good[0]["years"],
        run_ids=ids[order],
        total=np.concatenate([c["total"] for c in good])[order],
        total_with_trade=np.concatenate([c["total_with_trade"] for c in good])[order],
        sector=np.concatenate([c["sector"] for c in good])[order],
        sectors=list(good[0]["sectors"]),
        indicators={k: np.concatenate([c["indicators"][k] for c in good])[order] for k in sorted(names)},
        policy={k: np.concatenate([c["policy"][k] for c in good])[order] for k in good[0]["policy"]},
        params=params[params["run_id"].isin(ids)].reset_index(drop=True),
        failures=failures,
        cpu_seconds=float(sum(c.get("cpu_seconds", 0.0) for c in chunks)),
        built_ahead=int(sum(c.get("built_ahead", 0) for c in chunks)),
    )


def design(spec: EnsembleSpec) -> pd.DataFrame:
    """The sampled uncertain parameters of every member (``sim.ensemble.sample_parameters``, LHS)."""
    scenario = scenario_from_text(spec.text)
    return sample_parameters(scenario.uncertain_parameters(), spec.members, spec.root_seed, "lhs")


def _chunk_sizes(total: int, size: int) -> list[int]:
    """``total`` runs in tasks of ``size`` in run order, the last one holding the rest."""
    return [min(size, total - start) for start in range(0, total, size)]


def task_sizes(
    members: int, first_stage: int, resolution: float, per_task: int = MEMBERS_PER_TASK, workers: int = 2
) -> int | tuple[int, ...]:
    """How an ensemble's members are split into tasks, in run order: ``per_task`` runs a task, or (with a
    first stage, at coarse resolution) the first stage's members in tasks of ``per_task`` and the rest in
    larger tasks of at most :data:`LATER_TASK_FACTOR` times as many runs (a tuple of the tasks' sizes).

    The rest is split into a multiple of ``workers`` tasks of nearly equal size (the larger ones first), so
    that the workers' last tasks end together. At the app's defaults (200 members, first stage 40,
    resolution 0.005, two workers): 20, 20, 40, 40, 40, 40: each worker runs one first-stage task, then two
    larger ones.
    """
    later = per_task * LATER_TASK_FACTOR
    if first_stage >= members or resolution > LATER_TASKS_MAX_RESOLUTION or later <= per_task:
        return per_task
    first = _chunk_sizes(first_stage, per_task)
    rest = members - first_stage
    n = -(-rest // later)  # tasks of at most `later` runs
    n = min(-(-n // workers) * workers, rest)  # a multiple of the workers, where the members allow
    base, extra = divmod(rest, n)
    return tuple(first + [base + 1] * extra + [base] * (n - extra))


def _tasks(spec: EnsembleSpec, params: pd.DataFrame, per_task: int | Sequence[int]) -> list[dict[str, Any]]:
    """The tasks of an ensemble: ``per_task`` runs each, or tasks of the given sizes (:func:`task_sizes`)."""
    names = [c for c in params.columns if c != "run_id"]
    values = params[names].to_numpy(dtype=float)
    sizes = _chunk_sizes(spec.members, per_task) if isinstance(per_task, int) else list(per_task)
    if sum(sizes) != spec.members or min(sizes, default=1) < 1:
        raise ValueError(f"task sizes {sizes} do not split {spec.members} members")
    tasks = []
    starts = list(itertools.accumulate(sizes, initial=0))[:-1]
    for start, size in zip(starts, sizes, strict=True):
        ids = list(range(start, start + size))
        tasks.append(
            {
                "text": spec.text,
                "run_ids": ids,
                "seed_ids": ids,
                "overrides": [dict(zip(names, values[i].tolist(), strict=True)) for i in ids],
                "root_seed": spec.root_seed,
                "resolution": spec.resolution,
            }
        )
    return tasks


@dataclass
class Update:
    """One step of :func:`stream`: progress, and a result when one is ready to draw."""

    done: int
    total: int
    result: EnsembleResult | None = None
    final: bool = False


def stream(
    spec: EnsembleSpec,
    pool: AppPool,
    first_stage: int = FIRST_STAGE,
    poll_s: float = 0.1,
    per_task: int = MEMBERS_PER_TASK,
) -> Iterator[Update]:
    """Run an ensemble, yielding progress often, the first ``first_stage`` members as soon as they are
    all in, and the full result last.

    Progress updates come at least every ``poll_s`` seconds, so a caller that draws them gives Streamlit a
    point to stop the script when the user moves another slider; closing the generator then cancels the
    tasks not yet started and releases the ensemble's ticket, so the tasks running stop at their next model
    year (:meth:`AppPool.ticket`).

    In a pool with workers the tasks follow :func:`task_sizes` (the first stage in tasks of ``per_task``,
    the rest in larger ones at coarse resolution); inline, every task has ``per_task`` runs, since the
    caller's script can only be stopped between tasks.
    """
    t0 = time.perf_counter()
    params = design(spec)
    sizes = per_task if pool.inline else task_sizes(spec.members, first_stage, spec.resolution, per_task, pool.workers)
    tasks = _tasks(spec, params, sizes)
    chunks: list[dict[str, Any]] = []
    done_ids: set[int] = set()
    shown_first = first_stage >= spec.members
    futures: dict[cf.Future, int] = {}
    ticket = None
    try:
        if pool.inline:
            for task in tasks:
                chunk = run_chunk(task)
                chunks.append(chunk)
                done_ids.update(task["run_ids"])
                yield Update(len(done_ids), spec.members)
                if not shown_first and all(i in done_ids for i in range(first_stage)):
                    shown_first = True
                    yield Update(len(done_ids), spec.members, assemble(spec, chunks, params).prefix(first_stage))
        else:
            if build_ahead_enabled() and build_ahead_mb(spec.members, spec.resolution) <= BUILD_AHEAD_MAX_MB:
                for task in tasks:  # the workers build the next move's members ahead (BuiltAhead)
                    task["ahead"] = {"members": spec.members, "per_task": sizes}
            ticket = pool.ticket()
            if ticket is not None:
                for task in tasks:
                    task["cancel"] = ticket
            futures = {pool.submit(run_chunk, task): i for i, task in enumerate(tasks)}
            pending = set(futures)
            while pending:
                done, pending = cf.wait(pending, timeout=poll_s, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    chunk = fut.result()
                    chunks.append(chunk)
                    done_ids.update(tasks[futures[fut]]["run_ids"])
                yield Update(len(done_ids), spec.members)
                if not shown_first and all(i in done_ids for i in range(first_stage)):
                    shown_first = True
                    yield Update(len(done_ids), spec.members, assemble(spec, chunks, params).prefix(first_stage))
        result = assemble(spec, chunks, params)
        result.seconds = time.perf_counter() - t0
        yield Update(spec.members, spec.members, result, final=True)
    finally:
        for fut in futures:
            fut.cancel()
        pool.release(ticket)  # tasks still running (the caller stopped early) stop at their next year


def compute(spec: EnsembleSpec, pool: AppPool) -> EnsembleResult:
    """Run an ensemble to the end (no progressive stages)."""
    result = None
    for update in stream(spec, pool, first_stage=spec.members):
        if update.final:
            result = update.result
    assert result is not None
    return result


class ResultCache:
    """A small thread-safe LRU of finished ensembles, shared by all sessions of the server.

    An entry is a few hundred kB (200 members x 37 years x 6 sectors), so even the default 64 entries stay
    small; the key holds the whole scenario text's hash, so any lever change is a different entry.
    """

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# ---------------------------------------------------------------------------------------------- compare


def paired_table(results: Mapping[str, EnsembleResult], reference: str) -> pd.DataFrame:
    """Paired differences of each scenario against ``reference``, member by member.

    With the same root seed, size and resolution, member ``k`` of every scenario has the same sampled
    uncertainties and seed, so the difference in run ``k`` is due to the policies alone (common random
    numbers); ``sim.stats.paired_difference`` gives the peak-year comparison.

    Returns:
        One row per other scenario: ``scenario``, ``n_pairs``, ``p_earlier``, ``p_same``, ``p_later``,
        median / P5 / P95 of the difference in 2030 and in cumulative emissions (scenario minus reference).
    """
    ref = results[reference]
    ref_summary = ref.summary()
    rows = []
    for name, res in results.items():
        if name == reference:
            continue
        summary = res.summary()
        pair = simstats.paired_difference(summary, ref_summary, min(res.horizon, ref.horizon))
        merged = summary.merge(ref_summary, on="run_id", suffixes=("", "_ref"))
        d2030 = (merged["emissions_2030_mt"] - merged["emissions_2030_mt_ref"]).to_numpy()
        dcum = (merged["cumulative_mt"] - merged["cumulative_mt_ref"]).to_numpy()
        rows.append(
            {
                "scenario": name,
                "n_pairs": int(pair["n_pairs"]),
                "p_earlier": pair["p_a_peaks_earlier"],
                "p_same": pair["p_same_year"],
                "p_later": pair["p_b_peaks_earlier"],
                "d2030_median": float(np.median(d2030)),
                "d2030_p5": float(np.percentile(d2030, 5)),
                "d2030_p95": float(np.percentile(d2030, 95)),
                "dcum_median": float(np.median(dcum)),
                "dcum_p5": float(np.percentile(dcum, 5)),
                "dcum_p95": float(np.percentile(dcum, 95)),
            }
        )
    return pd.DataFrame(rows)


def paired_cumulative(results: Mapping[str, EnsembleResult], reference: str) -> pd.DataFrame:
    """Per-member cumulative-emission differences against ``reference`` (tidy: scenario, run_id, diff)."""
    ref = results[reference].summary()[["run_id", "cumulative_mt"]]
    parts = []
    for name, res in results.items():
        if name == reference:
            continue
        m = res.summary()[["run_id", "cumulative_mt"]].merge(ref, on="run_id", suffixes=("", "_ref"))
        parts.append(
            pd.DataFrame(
                {"scenario": name, "run_id": m["run_id"], "dcum_mt": m["cumulative_mt"] - m["cumulative_mt_ref"]}
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["scenario", "run_id", "dcum_mt"])


# ---------------------------------------------------------------------------------------------- sensitivity

SENSITIVITY_OUTPUTS = ("peak_year", "emissions_2030_mt", "cumulative_mt")


def quick_morris(
    text: str,
    names: Sequence[str],
    trajectories: int,
    root_seed: int,
    resolution: float,
    pool: AppPool,
    per_task: int = MEMBERS_PER_TASK,
) -> dict[str, Any]:
    """A small Morris screening of the current scenario over ``names`` (``sim.sensitivity``).

    Every design row runs with the same seed (run 0 of ``root_seed``), so elementary effects measure the
    parameters, not the agents' luck; parameters not in ``names`` keep their central values.

    Returns:
        ``indices`` (tidy table of ``sim.sensitivity.analyze``, all outputs that vary), ``constant``
        (output -> its single value, for outputs that do not vary), ``runs`` (design size).
    """
    problem = sens.build_problem(list(names))
    X = sens.sample("morris", problem, int(trajectories), int(root_seed))
    tasks = []
    for start in range(0, len(X), per_task):
        rows = list(range(start, min(start + per_task, len(X))))
        tasks.append(
            {
                "text": text,
                "run_ids": rows,
                "seed_ids": [0] * len(rows),
                "overrides": [
                    {
                        n: float(round(x)) if registry.get(n).integer else float(x)
                        for n, x in zip(problem["names"], X[i], strict=True)
                    }
                    for i in rows
                ],
                "root_seed": int(root_seed),
                "resolution": float(resolution),
            }
        )
    futures = [pool.submit(run_chunk, task) for task in tasks]
    chunks = [f.result() for f in futures]
    failures = [f for c in chunks for f in c["failures"]]
    if failures:
        raise RuntimeError(f"{len(failures)} Morris runs failed; first: {failures[0][1]}")
    ids = np.concatenate([c["run_ids"] for c in chunks])
    order = np.argsort(ids)
    total = np.concatenate([c["total"] for c in chunks])[order]
    years = chunks[0]["years"]
    pk = find_peaks(years, total)
    outputs = {
        "peak_year": sens.peak_year_output(pk["peak_year"], pk["peaked"], int(years[-1])),
        "emissions_2030_mt": total[:, int(np.flatnonzero(years == 2030)[0])] if 2030 in years else total[:, -1],
        "cumulative_mt": total[:, years >= 2025].sum(axis=1),
    }
    tables, constant = [], {}
    for name, y in outputs.items():
        if np.ptp(y) == 0:
            constant[name] = float(y[0])
            continue
        tables.append(sens.analyze("morris", problem, X, y, int(root_seed), output=name))
    indices = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return {"indices": indices, "constant": constant, "runs": len(X)}


def find_sweeps(roots: Sequence[Path], max_depth: int = 3) -> list[Path]:
    """Folders under ``roots`` (at most ``max_depth`` levels down) that hold a sweep's ``indices.parquet``."""
    found: list[Path] = []
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("indices.parquet")):
            rel = path.relative_to(root)
            if len(rel.parts) <= max_depth + 1:
                found.append(path.parent)
    return found


SWEEP_COLUMNS = ("output", "parameter", "index", "value", "conf")


def load_indices(folder: Path) -> pd.DataFrame:
    """A sweep's tidy indices table (``sim.sensitivity.tidy_indices`` columns).

    Raises:
        ValueError: the file lacks the expected columns.
    """
    table = pd.read_parquet(folder / "indices.parquet")
    missing = [c for c in SWEEP_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"indices.parquet lacks column(s) {missing}; it has {list(table.columns)}")
    if "parameter_2" in table.columns:
        table = table[table["parameter_2"].isna()]
    return table.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- cost


def lever_costs(text: str, root_seed: int, resolution: float, pool: AppPool) -> pd.DataFrame:
    """``sim.levers.lever_effects`` of every active lever family, spread over the pool's workers.

    Each task re-runs the scenario as it is (one run) besides its families' counterfactuals, which costs
    one run per worker and saves a worker's share of the counterfactuals.
    """
    scenario = scenario_from_text(text)
    families = active_families(scenario)
    if not families:
        return pd.DataFrame()
    groups = [families[i :: pool.workers] for i in range(min(pool.workers, len(families)))]
    futures = [
        pool.submit(
            lever_effects_task, {"text": text, "seed": int(root_seed), "resolution": float(resolution), "families": g}
        )
        for g in groups
    ]
    table = pd.concat([f.result() for f in futures], ignore_index=True)
    order = {f: i for i, f in enumerate(families)}
    return table.sort_values("lever", key=lambda s: s.map(order)).reset_index(drop=True)


def family_first_lever(family: str) -> registry.Parameter | None:
    """The first registry lever of a lever family (to name families the app has no label for)."""
    names = LEVER_FAMILIES.get(family) or ()
    return registry.get(names[0]) if names else None
