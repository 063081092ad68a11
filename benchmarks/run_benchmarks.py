"""Benchmark table for the performance issue: full-run time, kernel throughput and memory, one invocation.

Usage::

    python benchmarks/run_benchmarks.py            # full resolution (about 2-3 minutes, the reference dominates)
    python benchmarks/run_benchmarks.py --quick    # resolution 0.05, fewer repeats: a CI smoke test
    python benchmarks/run_benchmarks.py --json out.json
    python benchmarks/run_benchmarks.py --all      # plus (c), (d) for ensembles and (e): ~25 minutes on 2 cores

What is measured, and why this way:
    (a) wall time of one full run (construct the model + run base year to horizon) of the project's
        :class:`sim.model.CityModel` and of the plain-Mesa :class:`benchmarks.reference_mesa.ReferenceCityModel`,
        same scenario, seed and resolution; median over repeats. Each model is timed in its own fresh child
        process so that neither inherits the other's heap (500k Mesa agents make every later garbage
        collection slower) and so that the child's peak resident memory is that model's alone. Also the
        per-run time of the project at coarse resolutions (:data:`COARSE_RESOLUTIONS`): what ensembles,
        sweeps and the app pay per run, where per-year overhead outweighs the number of agents.
    (b) agent-steps per second of each population's yearly ``step()`` inside those runs (agents existing
        after the step, summed over decision years, divided by the time spent in ``step``), against a bare
        numpy loop that does the same per-agent arithmetic and random draws, as the kernels formulate them,
        on arrays of the same size with no model around it: the ceiling the kernels can approach on this
        machine.
    (d) peak memory of a full run: ``ru_maxrss`` of a child that imports the project and does one run, and
        the ``tracemalloc`` peak of the run itself (Python and numpy allocations made during the run).
    With ``--all``, the same table also gets, from the two specialised scripts: (c) ensemble throughput on
    1 and 2 workers, local and Dask, and the Sobol estimate from it, and (d) the resident memory of a
    10,000-run ensemble across its run count (``benchmarks/ensembles.py``); (e) the app's redraw of a
    200-member ensemble after a lever move (``benchmarks/app_latency.py``, the app's own code path).

Timings use :func:`time.perf_counter` (the first table, the one the targets are stated in). The same runs
are also timed with :func:`time.process_time` (the second table): on a shared machine other processes
inflate wall time but hardly CPU time, and the runs are single-threaded, so CPU time is what they would
take on an idle core. The load average is printed with the tables; compare wall times only at similar load.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from agents.buildings import scalar_logistic, scalar_yearly_hazard  # noqa: E402
from agents.population import (  # noqa: E402
    NEVER,
    crf,
    hazard_clocks,
    logistic,
    logit_choice,
    next_event_years,
    yearly_hazard,
)

DEFAULT_SCENARIO = ROOT / "scenarios" / "karamay_baseline.yaml"
POPULATIONS = ("households", "vehicles", "buildings")
KERNEL_TARGET_PER_S = 30e6
SPEEDUP_TARGET = 40.0
FULL_RUN_TARGET_S = 1.0
MEMORY_TARGET_MB = 500.0
WARMUP_RESOLUTION = 0.02
COLUMNS = ("measure", "value", "unit", "reference", "ratio", "target", "met")
COARSE_RESOLUTIONS = {0.1: 10, 0.005: 40}
"""Coarse resolutions timed per run (value: runs to take the median of): the scenario default (0.1) and the
app's (0.005)."""
LOCKSTEP = (0.005, 20, 3)
"""Resolution, members and repeats of the lockstep timing: the app's task (``ui.runner.MEMBERS_PER_TASK``)."""
LOCKSTEP_TARGET = ("<= 0.02 s (app)", 0.02)
"""Per-member budget of the app: a 200-member ensemble in 2 s on 2 cores is 20 ms of CPU per member."""


# ---------------------------------------------------------------------------------------------- child side
def _model_class(kind: str):
    if kind == "project":
        from sim.model import CityModel

        return CityModel
    if kind == "reference":
        from benchmarks.reference_mesa import ReferenceCityModel

        return ReferenceCityModel
    if kind == "reference_numpy_draws":
        from functools import partial

        from benchmarks.reference_mesa import ReferenceCityModel

        return partial(ReferenceCityModel, draws="numpy")
    raise ValueError(f"unknown model kind {kind!r}")


def _instrument(model, stats: dict[str, dict[str, float]]) -> None:
    """Wrap each population's ``step`` to add up its wall time and the agents it stepped.

    The wrapper is an instance attribute, so the model's own code is unchanged; its cost is two
    ``perf_counter`` and two ``process_time`` calls per population and year.
    """
    for name in POPULATIONS:
        # The project's populations step in their stack (a stack of one for a single run); the reference's
        # Mesa populations step themselves.
        pop = model.population_stacks.get(name) or getattr(model, name, None)
        if pop is None:
            continue
        inner = pop.step
        entry = stats.setdefault(name, {"seconds": 0.0, "cpu_seconds": 0.0, "agent_steps": 0, "years": 0})

        def timed(year: int, _inner=inner, _pop=pop, _entry=entry) -> None:
            c0 = time.process_time()
            t0 = time.perf_counter()
            _inner(year)
            _entry["seconds"] += time.perf_counter() - t0
            _entry["cpu_seconds"] += time.process_time() - c0
            _entry["agent_steps"] += int(np.sum(_pop.n))
            _entry["years"] += 1

        pop.step = timed


def time_runs(kind: str, scenario_path: Path, resolution: float, repeats: int, seed: int) -> dict[str, Any]:
    """Time ``repeats`` full runs (construction + year loop) in this process; per-population kernel stats."""
    from sim.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    cls = _model_class(kind)
    cls(scenario, seed=seed, resolution=WARMUP_RESOLUTION).run()  # imports, first-call costs
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    kernels: list[dict[str, dict[str, float]]] = []
    agent_steps = 0
    for _ in range(repeats):
        gc.collect()
        stats: dict[str, dict[str, float]] = {}
        c0 = time.process_time()
        t0 = time.perf_counter()
        model = cls(scenario, seed=seed, resolution=resolution)
        t1 = time.perf_counter()
        _instrument(model, stats)
        t2 = time.perf_counter()
        model.run()
        t3 = time.perf_counter()
        seconds.append((t1 - t0) + (t3 - t2))
        cpu_seconds.append(time.process_time() - c0)  # less sensitive to other processes on the cores
        kernels.append(stats)
        agent_steps = int(sum(s["agent_steps"] for s in stats.values()))
        final_n = {name: getattr(model, name).n for name in POPULATIONS if getattr(model, name, None) is not None}
        del model
    per_pop = {}
    for name in kernels[0]:
        per_pop[name] = {
            "agent_steps": int(kernels[0][name]["agent_steps"]),
            "years": int(kernels[0][name]["years"]),
            "seconds_median": statistics.median(k[name]["seconds"] for k in kernels),
            "cpu_seconds_median": statistics.median(k[name]["cpu_seconds"] for k in kernels),
            "rate_wall": statistics.median(k[name]["agent_steps"] / k[name]["seconds"] for k in kernels),
            "rate_cpu": statistics.median(k[name]["agent_steps"] / k[name]["cpu_seconds"] for k in kernels),
        }
    return {
        "kind": kind,
        "resolution": resolution,
        "repeats": repeats,
        "seconds": seconds,
        "seconds_median": statistics.median(seconds),
        "cpu_seconds": cpu_seconds,
        "cpu_seconds_median": statistics.median(cpu_seconds),
        "agent_steps": agent_steps,
        "kernels": per_pop,
        "final_agents": final_n,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_memory(scenario_path: Path, resolution: float, seed: int) -> dict[str, float]:
    """Peak RSS of this process after one project run, then the tracemalloc peak of a second run."""
    from sim.model import CityModel
    from sim.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    CityModel(scenario, seed=seed, resolution=resolution).run()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gc.collect()
    tracemalloc.start()
    CityModel(scenario, seed=seed, resolution=resolution).run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"maxrss_mb": rss_after, "rss_after_imports_mb": rss_before, "tracemalloc_peak_mb": peak / 2**20}


def time_lockstep(scenario_path: Path, resolution: float, members: int, repeats: int, seed: int) -> dict[str, Any]:
    """Time ``repeats`` locksteps of ``members`` runs (construction included): seconds per member."""
    from sim.model import run_members
    from sim.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    run_members(scenario, list(range(members)), [None] * members, resolution)  # first-call costs
    seconds, cpu_seconds = [], []
    for r in range(repeats):
        gc.collect()
        seeds = [seed + 1000 * (r + 1) + i for i in range(members)]
        c0, t0 = time.process_time(), time.perf_counter()
        run_members(scenario, seeds, [None] * members, resolution)
        seconds.append((time.perf_counter() - t0) / members)
        cpu_seconds.append((time.process_time() - c0) / members)
    return {
        "members": members,
        "repeats": repeats,
        "seconds_median": statistics.median(seconds),
        "cpu_seconds_median": statistics.median(cpu_seconds),
    }


def _child_main(args: argparse.Namespace) -> None:
    if args.child == "memory":
        out = measure_memory(args.scenario, args.resolution, args.seed)
    elif args.child == "lockstep":
        out = time_lockstep(args.scenario, args.resolution, LOCKSTEP[1], args.repeats, args.seed)
    else:
        out = time_runs(args.child, args.scenario, args.resolution, args.repeats, args.seed)
    print(json.dumps(out))


def run_child(kind: str, scenario: Path, resolution: float, repeats: int, seed: int) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its JSON result (the child's last stdout line)."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--scenario",
        str(scenario),
        "--resolution",
        str(resolution),
        "--repeats",
        str(repeats),
        "--seed",
        str(seed),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {kind!r} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- bare numpy loops
# The bare loops do the kernels' per-agent arithmetic as the kernels now formulate it (scheduled replacements
# and exponential thresholds instead of yearly draws per agent, running neighbourhood counts, per-agent
# constants as arrays), with the same helper functions, on plain arrays of fixed size: no model, no policy
# hooks, no growth, no accounting. They are the ceiling for the kernels as formulated on this machine.
def bare_households(n: int, n_groups: int, years: int, rng: np.random.Generator) -> tuple[float, float]:
    """Wall and CPU seconds for ``years`` passes of the household arithmetic on plain arrays of ``n`` agents.

    Per year, as the kernel: appliance and stove replacements for the agents scheduled this year (a binary
    logit per neighbourhood for the stove) and their next replacement year; PV adoption for households with
    a roof and no PV (logistic in saving/cost with neighbours, against each agent's hazard clock); the
    green-travel drift of every household towards its logistic target; waste-sorting adoption against the
    neighbourhood's cumulative hazard; neighbourhood counts kept up to date.
    """
    groups = rng.integers(0, n_groups, n)
    eff = np.ones(n)
    stove = (rng.random(n) < 0.15).astype(np.int8)
    roof = rng.random(n) < 0.05
    pv = np.zeros(n)
    pv_crf = crf(0.1 * rng.lognormal(-0.125, 0.5, n), 20.0)
    pv_clock = hazard_clocks(rng, n)
    g = rng.beta(2.8, 1.2, n)
    travel_const = np.log(np.clip(g, 1e-3, 1 - 1e-3) / np.clip(1 - g, 1e-3, 1)) - 0.75 * g
    sorts = rng.random(n) < 0.3
    sort_threshold = np.where(sorts, np.inf, hazard_clocks(rng, n))
    sort_hazard = np.zeros(n_groups)
    next_appliance = next_event_years(rng, 1 / 12, n, 0)
    next_stove = next_event_years(rng, 1 / 12, n, 0)
    size = np.maximum(np.bincount(groups, minlength=n_groups), 1).astype(float)
    induction = np.bincount(groups, weights=stove, minlength=n_groups)
    with_pv = np.zeros(n_groups)
    sorting = np.bincount(groups, weights=sorts, minlength=n_groups)
    c0, t0 = time.process_time(), time.perf_counter()
    for year in range(1, years + 1):
        rows = np.flatnonzero(next_appliance == year)
        eff[rows] = 0.98
        next_appliance[rows] = next_event_years(rng, 1 / 12, len(rows), year)
        rows = np.flatnonzero(next_stove == year)
        p_gas = 1.0 / (1.0 + np.exp(-0.4 + 1.5 * (2 * induction / size - 1) - 1.3))
        g_rows = groups[rows]
        new = np.where(rng.random(len(rows)) > p_gas[g_rows], 1, 0).astype(np.int8)
        induction += np.bincount(g_rows, weights=new - stove[rows].astype(float), minlength=n_groups)
        stove[rows] = new
        next_stove[rows] = next_event_years(rng, 1 / 12, len(rows), year)
        cand = np.flatnonzero(roof & (pv == 0))
        x = 4.0 * (2500.0 / np.maximum(30000.0 * pv_crf[cand], 1.0) - 1.0) + (1.5 * with_pv / size - 1.5)[groups[cand]]
        left = pv_clock[cand] - yearly_hazard(0.1 * logistic(x))
        pv_clock[cand] = left
        adopt = cand[left <= 0]
        pv[adopt] = 5.0
        with_pv += np.bincount(groups[adopt], minlength=n_groups)
        peer_g = np.bincount(groups, weights=g, minlength=n_groups) / size
        target = logistic(travel_const + (0.75 * peer_g)[groups])
        target -= g
        target *= 0.15
        g += target
        sort_hazard += yearly_hazard(0.15 * logistic(-2.0 + 2.0 * sorting / size))
        start = np.flatnonzero(sort_hazard[groups] >= sort_threshold)
        sorts[start] = True
        sort_threshold[start] = np.inf
        sorting += np.bincount(groups[start], minlength=n_groups)
    return time.perf_counter() - t0, time.process_time() - c0


def bare_vehicles(n: int, n_groups: int, years: int, rng: np.random.Generator) -> tuple[float, float]:
    """Wall and CPU seconds for ``years`` passes of the vehicle arithmetic on plain arrays of ``n`` agents.

    As the kernel: ageing and scrappage at each vehicle's scheduled scrappage age; for the scrapped, a six-way
    logit (alternatives-major) on annualised cost of ownership (price x own capital recovery factor, energy
    per km, maintenance), constants, chargers and neighbourhood shares from running counts; the counts moved
    to the new powertrains and the next scrappage age drawn from the Weibull hazard.
    """
    S, P = 5, 6
    seg = rng.choice(S, n, p=[0.85, 0.02, 0.005, 0.07, 0.055])
    pt = rng.integers(0, P, n)
    life = np.array([15.0, 8.0, 10.0, 12.0, 12.0])
    lam, inv_k = life / 0.9, np.full(S, 1 / 3.0)
    age = rng.integers(0, 18, n).astype(np.int16)
    scrap_age = np.maximum(np.ceil(lam[seg] * ((age / lam[seg]) ** 3 + hazard_clocks(rng, n)) ** inv_k[seg]), age + 1)
    scrap_age = scrap_age.astype(np.int16)
    km = 11000.0 * rng.lognormal(-0.08, 0.4, n)
    crf_life = crf(0.1 * rng.lognormal(-0.125, 0.5, n), life[seg])
    nb = rng.integers(0, n_groups, n)
    price = rng.uniform(1e5, 1e6, (S, P))
    cost_per_km = rng.uniform(0.1, 1.0, (S, P))
    maint = rng.uniform(2e3, 4e4, (S, P))
    asc = rng.normal(0.0, 1.0, (S, P))
    available = rng.random((S, P)) < 0.7
    available[:, 0] = True
    plug_in = np.array([0, 0, 0, 1, 1, 0], dtype=float)
    counts = np.bincount(nb * P + pt, minlength=n_groups * P).reshape(n_groups, P).astype(float)
    size = np.maximum(counts.sum(axis=1), 1.0)
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(years):
        age += 1
        rows = np.flatnonzero(age >= scrap_age)
        s, b = seg[rows], nb[rows]
        const = np.where(available, asc + np.log(0.4) * plug_in - 0.5e-4 * maint, -np.inf)
        u = const.T[:, s]
        u += (-0.5e-4 * price).T[:, s] * crf_life[rows]
        u += (-0.5e-4 * cost_per_km).T[:, s] * km[rows]
        u += (1.5 * counts / size[:, None]).T[:, b]
        choice = logit_choice(rng, u)
        moved = np.bincount(b * P + choice, minlength=n_groups * P) - np.bincount(
            b * P + pt[rows], minlength=n_groups * P
        )
        counts += moved.reshape(n_groups, P)
        pt[rows] = choice
        age[rows] = 0
        scrap_age[rows] = np.maximum(np.ceil(lam[s] * hazard_clocks(rng, len(rows)) ** inv_k[s]), 1.0)
    return time.perf_counter() - t0, time.process_time() - c0


def bare_buildings(n: int, years: int, rng: np.random.Generator) -> tuple[float, float]:
    """Wall and CPU seconds for ``years`` passes of the building arithmetic on plain arrays of ``n`` agents.

    As the kernel: system ageing; demolitions scheduled for this year (their systems fail no more); the
    envelope-retrofit rate (logistic in saving/cost) per heat-demand level above the threshold, added to the
    level's cumulative hazard, which retrofits the unretrofitted standing buildings whose thresholds it passes
    (sorted per level, found by bisection); and a five-way logit on annualised cost, from a table of
    constants and per-kWh costs, for the systems scheduled to fail, with their next failure year.
    """
    floor = rng.lognormal(8.0, 0.6, n)
    heat = rng.choice([170.0, 130.0, 95.0, 70.0], n)
    built = rng.choice([1990, 2005, 2015, 2022], n)
    retro = np.zeros(n, dtype=bool)
    threshold = hazard_clocks(rng, n)
    system = rng.integers(0, 5, n).astype(np.int8)
    sys_age = rng.integers(0, 20, n).astype(np.int16)
    next_failure = next_event_years(rng, 1 / 20, n, 0)
    demolition = next_event_years(rng, np.where(built < 2000, 0.01, 0.0025), n, 0)
    district_ok = rng.random(n) < 0.85
    fixed = np.array([25.0, 5.0, 4.0, 25.0, 40.0])
    per_kwh = np.array([0.0, 0.12, 0.56, 0.21, 0.22])
    asc = np.array([2.0, 0.0, -1.0, -1.5, -3.0])
    const = np.repeat((asc - 0.05 * fixed)[:, None], 2, axis=1)  # column 0: no district heat at the building
    const[0, 0] = -np.inf
    cost_per_kwh = (0.05 * per_kwh)[:, None]
    levels, level = np.unique(heat, return_inverse=True)
    order = np.lexsort((threshold, level))
    bounds = np.searchsorted(level[order], np.arange(len(levels) + 1)).tolist()
    level_rows = [order[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    level_thresholds = [threshold[r].tolist() for r in level_rows]
    level_hazard = [0.0] * len(levels)
    passed = [0] * len(levels)
    c0, t0 = time.process_time(), time.perf_counter()
    for year in range(1, years + 1):
        sys_age += 1
        gone = np.flatnonzero(demolition == year)
        floor[gone] = 0.0
        next_failure[gone] = NEVER
        events = []
        for i, level_heat in enumerate(levels.tolist()):
            if level_heat <= 60.0 * 1.2 or passed[i] == len(level_thresholds[i]):
                continue
            rate = scalar_logistic(level_heat * (3.0 * 0.4 * 0.07 / 24.0) - 3.0) * 0.02
            level_hazard[i] += scalar_yearly_hazard(rate)
            now = bisect.bisect_right(level_thresholds[i], level_hazard[i], passed[i])
            if now > passed[i]:
                events.append(level_rows[i][passed[i] : now])
                passed[i] = now
        if events:
            r = np.sort(np.concatenate(events))
            r = r[floor[r] > 0]
            heat[r] *= 0.6
            retro[r] = True
        rows = np.flatnonzero(next_failure == year)
        u = const.take(district_ok[rows], axis=1)
        u -= cost_per_kwh * heat[rows]
        system[rows] = logit_choice(rng, u)
        sys_age[rows] = 0
        next_failure[rows] = next_event_years(rng, 1 / 20, len(rows), year)
    return time.perf_counter() - t0, time.process_time() - c0


def bare_rates(
    sizes: dict[str, int], n_groups: dict[str, int], years: int, repeats: int
) -> dict[str, dict[str, float]]:
    """Median agent-steps per second (``wall`` and ``cpu`` clocks) of each bare loop at the given sizes."""
    out: dict[str, dict[str, float]] = {"wall": {}, "cpu": {}}
    for name in POPULATIONS:
        n = sizes.get(name, 0)
        if n <= 0:
            continue
        times = []
        for r in range(repeats):
            rng = np.random.default_rng(r)
            if name == "households":
                times.append(bare_households(n, n_groups["households"], years, rng))
            elif name == "vehicles":
                times.append(bare_vehicles(n, n_groups["vehicles"], years, rng))
            else:
                times.append(bare_buildings(n, years, rng))
        out["wall"][name] = n * years / statistics.median(t[0] for t in times)
        out["cpu"][name] = n * years / statistics.median(t[1] for t in times)
    return out


# ---------------------------------------------------------------------------------------------- table
def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 1e6:
        return f"{x / 1e6:.{digits - 1}f}M"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _row(measure, value, unit, reference, ratio, target, met) -> dict[str, Any]:
    return dict(zip(COLUMNS, (measure, value, unit, reference, ratio, target, met), strict=True))


def build_rows(
    proj: dict,
    ref: dict,
    mem: dict,
    bare: dict[str, dict[str, float]],
    quick: bool,
    extra: dict | None,
    clock: str = "wall",
    coarse: dict[float, dict] | None = None,
) -> list[dict]:
    """The benchmark table: one row per measure, with its reference, ratio, target and whether it is met.

    Args:
        coarse: timings of runs at coarse resolutions (``COARSE_RESOLUTIONS``): the per-run cost that ensembles,
            sweeps and the app pay, dominated by per-year overhead rather than by the number of agents.
        clock: ``wall`` (``perf_counter``, the figures the targets are stated in) or ``cpu``
            (``process_time`` of the same runs: what the run would take on an idle core, useful when other
            processes share the machine).
        quick: scale-dependent targets are not judged (``met`` is ``n/a``); they are stated for resolution 1.
    """

    def met(ok: bool) -> str:
        return "n/a" if quick else ("yes" if ok else "no")

    key = "seconds_median" if clock == "wall" else "cpu_seconds_median"
    rate = "rate_wall" if clock == "wall" else "rate_cpu"
    label = "wall time" if clock == "wall" else "CPU time"
    res = proj["resolution"]
    t_p, t_r = proj[key], ref[key]
    speedup = t_r / t_p
    steps_p, steps_r = proj["agent_steps"] / t_p, ref["agent_steps"] / t_r
    rows = [
        _row(f"(a) full run {label}, res {res:g} (build + run)", t_p, "s", t_r, speedup, "<= 1 s", met(t_p <= 1.0)),
        _row("(a) speed-up over plain-Mesa reference", speedup, "x", None, None, ">= 40x", met(speedup >= 40)),
        _row("(a) agent-steps per second, full run", steps_p, "agent-steps/s", steps_r, steps_p / steps_r, "-", "-"),
    ]
    for name in POPULATIONS:
        k = proj["kernels"].get(name)
        if k is None:
            continue
        b = bare[clock].get(name)
        rows.append(
            _row(
                f"(b) {name} step() kernel vs bare numpy loop",
                k[rate],
                "agent-steps/s",
                b,
                k[rate] / b if b else None,
                ">= 30M/s/core",
                met(k[rate] >= KERNEL_TARGET_PER_S),
            )
        )
    for name in POPULATIONS:
        k, r = proj["kernels"].get(name), ref["kernels"].get(name)
        if k is None or r is None:
            continue
        rows.append(
            _row(
                f"(b) {name} step(): plain-Mesa reference vs kernel",
                r[rate],
                "agent-steps/s",
                k[rate],
                k[rate] / r[rate],
                "-",
                "-",
            )
        )
    rows.append(
        _row(
            f"(d) peak RSS of a full run, res {res:g} (child ru_maxrss)",
            mem["maxrss_mb"],
            "MB",
            ref["maxrss_mb"],
            ref["maxrss_mb"] / mem["maxrss_mb"],
            "<= 500 MB",
            met(mem["maxrss_mb"] <= MEMORY_TARGET_MB),
        )
    )
    rows.append(_row("(d) tracemalloc peak during the run", mem["tracemalloc_peak_mb"], "MB", None, None, "-", "-"))
    coarse = dict(coarse or {})
    lockstep = coarse.pop("lockstep", None)
    for r, timing in sorted(coarse.items(), reverse=True):  # single runs: no target (the app runs lockstep)
        measure = f"(a) full run {label}, res {r:g} (median of {timing['repeats']})"
        rows.append(_row(measure, timing[key], "s", None, None, "-", "-"))
    if lockstep is not None:
        value = lockstep[key]
        rows.append(
            _row(
                f"(a) {label} per member, {lockstep['members']} members in "
                f"lockstep, res {LOCKSTEP[0]:g} (median of {lockstep['repeats']})",
                value,
                "s",
                None,
                None,
                LOCKSTEP_TARGET[0],
                "yes" if value <= LOCKSTEP_TARGET[1] else "no",
            )
        )
    if extra:
        rows.append(
            _row(
                "(a) plain-Mesa reference with numpy scalar draws",
                extra[key],
                "s",
                t_r,
                extra[key] / t_r,
                "-",
                "-",
            )
        )
    return rows


def _fmt_ratio(ratio: float | None) -> str:
    """Two decimals below 10x, where a target such as 1.8x is judged; one above."""
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x" if abs(ratio) < 10 else f"{ratio:.1f}x"


def format_table(rows: list[dict]) -> str:
    """Markdown table (reads in a terminal and pastes into docs/performance.md)."""
    cells = [
        [
            r["measure"],
            _fmt(r["value"]),
            r["unit"],
            _fmt(r["reference"]),
            _fmt_ratio(r["ratio"]),
            r["target"],
            r["met"],
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(COLUMNS)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(COLUMNS, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) + " |" for cell in cells]
    return "\n".join([line, sep, *body])


def machine_info() -> dict[str, Any]:
    import mesa

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(
            next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1]
        )
        mem_gb = round(mem_kb / 2**20, 1)
    except (OSError, StopIteration):
        mem_gb = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
        "platform": platform.platform(),
    }


def _ensemble_and_app_rows(args: argparse.Namespace) -> dict[str, Any]:
    """Parts (c), (d) for ensembles and (e) of the table, measured by the two specialised scripts.

    Their own tables are not printed (this script prints one table); their raw results go into the JSON.
    Quick mode uses their smoke-test sizes.
    """
    import contextlib
    import io

    from benchmarks import app_latency, ensembles

    argv = ["--quick"] if args.quick else []
    if args.ensemble_runs:
        argv += ["--runs", str(args.ensemble_runs)]
    if args.memory_runs:
        argv += ["--memory-runs", str(args.memory_runs)]
    with contextlib.redirect_stdout(io.StringIO()):
        ens = ensembles.main(argv)
    members = 20 if args.quick else args.app_members
    engine = app_latency.measure_engine(members, 0.005, 2, min(40, members), 1 if args.quick else 3, "pilot")
    app_rows = app_latency.table_rows(engine, members, 0.005, 2)
    return {
        "rows": list(ens.get("rows", [])) + app_rows,
        "ensembles": ens,
        "app": [r.__dict__ | {"idle_estimate_s": r.idle_estimate_s} for r in engine],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="resolution 0.05 and fewer repeats (CI smoke test)")
    parser.add_argument("--json", type=Path, help="also write the table and raw measurements to this JSON file")
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", type=float, help="override the resolution (default 1.0, quick 0.05)")
    parser.add_argument("--repeats", type=int, help="project runs to take the median of (default 5, quick 2)")
    parser.add_argument("--reference-repeats", type=int, help="reference runs (default 2, quick 1)")
    parser.add_argument(
        "--with-numpy-draws", action="store_true", help="also time the reference with numpy scalar draws"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also (c) ensemble throughput and the Sobol estimate, (d) a 10,000-run ensemble's memory "
        "(benchmarks/ensembles.py) and (e) the app's redraw latency (benchmarks/app_latency.py), in the same table",
    )
    parser.add_argument("--ensemble-runs", type=int, help="runs per throughput ensemble with --all (default 400)")
    parser.add_argument("--memory-runs", type=int, help="runs of the memory ensemble with --all (default 10000)")
    parser.add_argument("--app-members", type=int, default=200, help="ensemble members of the app measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args)
        return {}

    resolution = args.resolution or (0.05 if args.quick else 1.0)
    repeats = args.repeats or (2 if args.quick else 5)
    ref_repeats = args.reference_repeats or (1 if args.quick else 2)
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    proj = run_child("project", args.scenario, resolution, repeats, args.seed)
    ref = run_child("reference", args.scenario, resolution, ref_repeats, args.seed)
    extra = (
        run_child("reference_numpy_draws", args.scenario, resolution, 1, args.seed) if args.with_numpy_draws else None
    )
    mem = run_child("memory", args.scenario, resolution, 1, args.seed)
    coarse = {r: run_child("project", args.scenario, r, n, args.seed) for r, n in COARSE_RESOLUTIONS.items()}
    coarse["lockstep"] = run_child("lockstep", args.scenario, LOCKSTEP[0], 1 if args.quick else LOCKSTEP[2], args.seed)

    from benchmarks.reference_mesa import stale_kernels
    from sim.model import CityModel
    from sim.scenario import load_scenario

    probe = CityModel(load_scenario(args.scenario), seed=args.seed, resolution=resolution)
    n_groups = {
        "households": probe.households.n_groups if probe.households is not None else 1,
        "vehicles": probe.vehicles.n_groups if probe.vehicles is not None else 1,
    }
    sizes = {name: k["agent_steps"] // max(k["years"], 1) for name, k in proj["kernels"].items()}
    years = max((k["years"] for k in proj["kernels"].values()), default=1)
    bare = bare_rates(sizes, n_groups, years, 2 if args.quick else 3)

    rows = build_rows(proj, ref, mem, bare, args.quick, extra, "wall", coarse)
    rows_cpu = build_rows(proj, ref, mem, bare, args.quick, extra, "cpu", coarse)
    more = _ensemble_and_app_rows(args) if args.all else None
    if more is not None:
        rows += more["rows"]
    meta = {
        "machine": machine_info(),
        "scenario": str(args.scenario.relative_to(ROOT) if args.scenario.is_relative_to(ROOT) else args.scenario),
        "seed": args.seed,
        "resolution": resolution,
        "quick": args.quick,
        "repeats": {"project": repeats, "reference": ref_repeats},
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "benchmark_seconds": time.perf_counter() - t_start,
        "agents_at_horizon": proj["final_agents"],
        "reference_stale_kernels": stale_kernels(),
    }
    title = f"CityPeak benchmarks ({'QUICK, ' if args.quick else ''}resolution {resolution:g}, seed {args.seed})"
    print(title)
    print()
    print(format_table(rows))
    print()
    print("Same runs timed by CPU time (process_time): what they take on an otherwise idle core.")
    print()
    print(format_table(rows_cpu))
    print()
    m = meta["machine"]
    print(
        f"machine: {m['nproc']} cpu ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, numpy {m['numpy']}, "
        f"Mesa {m['mesa']}; load average {load_start[0]:.2f} at start, {meta['loadavg_end'][0]:.2f} at end; "
        f"agents at horizon {meta['agents_at_horizon']}"
    )
    stale = meta["reference_stale_kernels"]
    print(
        "reference mirrors the current kernels: "
        + ("yes" if not stale else f"NO, changed since it was written: {', '.join(stale)} (update reference_mesa.py)")
    )
    result = {
        "meta": meta,
        "rows": rows,
        "rows_cpu": rows_cpu,
        "raw": {"project": proj, "reference": ref, "memory": mem, "bare": bare, "coarse": coarse},
    }
    if extra:
        result["raw"]["reference_numpy_draws"] = extra
    if more is not None:
        result["raw"]["ensembles"] = more["ensembles"]
        result["raw"]["app"] = more["app"]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=float))
    return result


if __name__ == "__main__":
    main()
