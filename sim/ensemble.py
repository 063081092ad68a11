"""Monte Carlo ensembles: sample the uncertain parameters, run every member, stream results to a batch.

An ensemble answers "with what probability do emissions peak by 2030?" by running one scenario many
times, each run with its own draw of the uncertain parameters (growth, prices, technology, behaviour;
``kind == "uncertainty"`` in :mod:`sim.registry`) and its own random seed for the agents' stochastic
choices. Three design rules make the answers reproducible and comparable:

1. **Sampling is a pure function** of ``(parameters, n_runs, root_seed, method)``. Each parameter's column
   is drawn from its own random stream keyed by the root seed and the parameter's *name*, so two
   scenarios that sample the same parameters get the same values run by run, and a parameter's draws do
   not change when another parameter is added to or dropped from a scenario's uncertain list. This is
   what makes ``citypeak compare`` a comparison of *pairs* (common random numbers): the difference
   between two scenarios in run 17 is due to the policies, not to different luck.
2. **Every run's seed is addressable by its run_id**: ``SeedSequence(entropy=root_seed,
   spawn_key=(run_id,))``, exactly the child ``SeedSequence(root_seed).spawn(n)[run_id]`` would be.
   Results therefore do not depend on the number of workers, the task size, the executor or on which
   runs a resumed batch still had to do.
3. **Results are streamed**: each finished task (a few runs) is written at once as a shard of the
   :class:`~sim.store.BatchStore`, so the parent holds at most one task's results and a crash loses only
   the tasks in flight (EMA Workbench's issue 304 is the pain this avoids).

Distributions (the registry's, truncated to ``[low, high]``, and read the same way as
:mod:`sim.sensitivity` reads them for SALib, so sensitivity indices and percentile bands describe the
same uncertainty): ``uniform`` on ``[low, high]``; ``triangular`` with its mode at ``default``; ``normal``
centred on ``default`` with ``sd``, truncated to the bounds; ``lognormal`` has no log-space parameters in
the registry and falls back to uniform on ``[low, high]``, as in :mod:`sim.sensitivity`. Values are drawn by
inverse-CDF transform of a uniform number, so truncation is exact (no rejection). Integer parameters are
rounded.

A scenario may set a value for a parameter it also samples; single runs use the scenario's value, while
ensembles draw it from the registry distribution (the scenario-independent draw is what keeps runs paired
across scenarios).
"""

from __future__ import annotations

import hashlib
import math
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from scipy import stats as _sps
from scipy.stats import qmc

from sim import model as _model
from sim import registry
from sim import stats as _stats
from sim.executors import EXECUTORS, Executor, default_workers, make_executor
from sim.registry import Parameter
from sim.scenario import Scenario, ScenarioError, load_scenario, load_yaml, scenario_from_dict, scenario_text
from sim.store import MANIFEST_FILE, BatchStore
from sim.store import scenario_hash as text_hash

__all__ = [
    "METHODS",
    "EnsembleError",
    "check_resolution",
    "check_root_seed",
    "choose_batch_size",
    "compare_batches",
    "crn_mismatches",
    "ensemble_statistics",
    "execute_pending",
    "guided_task_sizes",
    "run_batch",
    "run_ensemble",
    "run_one",
    "run_seed",
    "sample_parameters",
]

Method = Literal["lhs", "mc"]
METHODS: tuple[str, ...] = ("lhs", "mc")
"""``lhs``: Latin hypercube (each parameter's range covered evenly, lower variance of means for the same
run count; McKay, Beckman & Conover 1979). ``mc``: plain independent Monte Carlo draws."""

SAMPLING_DOMAIN = 0x5A3D1E
"""Tag mixed into the parameter streams' entropy so they can never coincide with a run's seed stream."""

TASKS_PER_WORKER = 4
"""Default task count per worker: enough to balance uneven run times, few enough to keep overhead low."""

MIN_TASK_SECONDS = 2.0
"""A task should hold at least this much work, so process start-up and pickling stay a small share."""

MAX_TASK_SECONDS = 120.0
"""And at most this much, so the progress bar moves and an interrupted batch loses little work."""

MAX_TASK_RUNS = 500
"""And at most this many runs: a task's results are held in its worker until it returns (about 0.1 MB a run
at the default resolution), so a time cap alone let fast coarse-resolution runs make tasks of thousands of
runs and workers of several hundred MB more (measured: 388 MB per worker with 926-run tasks, 250-310 MB with
20-200)."""

SUMMARY_TARGET_YEAR = 2030
"""The pilot plan's peak deadline (DESIGN.md section 7): the year of P(peak <= year)."""

_YEARLY_STAT_COLUMNS = ["run_id", "year", "sector", "scope", "emissions_mt"]
_OUTCOME_COLUMNS = ("peak_mt", "emissions_2030_mt", "cumulative_mt", "emissions_2060_mt")
_PERCENTILES = (5, 25, 50, 75, 95)


class EnsembleError(ValueError):
    """Bad ensemble input (arguments, or a batch that cannot be resumed with them); readable message."""


# ---------------------------------------------------------------------------------------------- seeds


def run_seed(root_seed: int, run_id: int) -> np.random.SeedSequence:
    """The seed of one run, addressable without spawning the runs before it.

    ``SeedSequence(root_seed).spawn(n)[k]`` is ``SeedSequence(entropy=root_seed, spawn_key=(k,))``; building
    it directly lets any worker compute run ``k``'s seed on its own, so results do not depend on how runs
    are split into tasks.
    """
    return np.random.SeedSequence(entropy=int(root_seed), spawn_key=(int(run_id),))


def _parameter_rng(root_seed: int, name: str) -> np.random.Generator:
    """The stream of one parameter's draws, keyed by its name (not its position in a list)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()[:16]
    words = np.frombuffer(digest, dtype="<u4").tolist()
    return np.random.default_rng(np.random.SeedSequence([int(root_seed), SAMPLING_DOMAIN, *words]))


# ---------------------------------------------------------------------------------------------- sampling


def check_root_seed(root_seed: Any) -> int:
    """``root_seed`` as an int, or an :class:`EnsembleError` naming the value (a whole number >= 0 is allowed)."""
    if isinstance(root_seed, np.integer):
        root_seed = int(root_seed)
    if isinstance(root_seed, bool) or not isinstance(root_seed, int) or root_seed < 0:
        raise EnsembleError(f"root_seed={root_seed!r} is not allowed: give a whole number >= 0")
    return root_seed


def _check_method(method: Any) -> str:
    if method not in METHODS:
        raise EnsembleError(f"method={method!r} is not known; use one of: {', '.join(METHODS)}")
    return str(method)


def _quantile(p: Parameter, u: np.ndarray) -> np.ndarray:
    """Map uniform numbers in [0, 1) to the parameter's distribution truncated to ``[low, high]``."""
    low, high = float(p.low), float(p.high)
    width = high - low
    if width <= 0:
        return np.full(u.shape, low)
    if p.distribution in ("uniform", "lognormal"):
        x = low + u * width
    elif p.distribution == "triangular":
        x = _sps.triang.ppf(u, (p.default - low) / width, loc=low, scale=width)
    elif p.distribution == "normal":
        sd = float(p.sd)  # type: ignore[arg-type]  # registry guarantees sd > 0 for normal
        x = _sps.truncnorm.ppf(u, (low - p.default) / sd, (high - p.default) / sd, loc=p.default, scale=sd)
    else:
        raise EnsembleError(f"parameter '{p.name}': unknown distribution '{p.distribution}'")
    if p.integer:
        x = np.round(x)
    return np.clip(x, low, high)


def sample_parameters(params: Sequence[Parameter], n_runs: int, root_seed: int, method: Method = "lhs") -> pd.DataFrame:
    """Draw the uncertain parameters of every run.

    Each parameter gets its own stream keyed by ``(root_seed, name)``; for ``lhs`` each column is a
    one-dimensional Latin hypercube (``scipy.stats.qmc.LatinHypercube``: one value in each of the ``n_runs``
    equal-probability strata, in random order), and independent random orders across columns make the
    whole a standard Latin hypercube design. The same inputs always give the same table.

    Args:
        params: registry entries to sample (``Scenario.uncertain_parameters()``).
        n_runs: number of runs.
        root_seed: the batch's root seed.
        method: ``lhs`` or ``mc``.

    Returns:
        ``run_id`` (0..n_runs-1, int64) and one float column per parameter, in ``params`` order.

    Raises:
        EnsembleError: bad run count, seed or method, or a parameter listed twice.
    """
    if isinstance(n_runs, bool) or not isinstance(n_runs, int | np.integer) or n_runs < 1:
        raise EnsembleError(f"n_runs={n_runs!r} is not allowed: give a whole number >= 1")
    root_seed = check_root_seed(root_seed)
    method = _check_method(method)
    names = [p.name for p in params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise EnsembleError(f"parameters {twice} are listed more than once; list each once")
    n = int(n_runs)
    columns: dict[str, np.ndarray] = {"run_id": np.arange(n, dtype=np.int64)}
    for p in params:
        rng = _parameter_rng(root_seed, p.name)
        u = qmc.LatinHypercube(d=1, rng=rng).random(n)[:, 0] if method == "lhs" else rng.random(n)
        columns[p.name] = _quantile(p, u).astype(np.float64)
    return pd.DataFrame(columns)


# ---------------------------------------------------------------------------------------------- runs

_SCENARIO_CACHE: dict[str, Scenario] = {}
_SCENARIO_CACHE_SIZE = 4


def _as_scenario(scenario: Scenario | str | Mapping[str, Any]) -> Scenario:
    """A validated scenario from the object itself, merged YAML text or a dict.

    Workers receive the scenario as text (what the manifest stores) rather than a pickled model object, so a
    remote worker needs only the package, and a batch can be rerun from its manifest alone. Text is parsed
    once per worker process and cached by its hash: tasks of one batch all carry the same text.
    """
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, str):
        key = text_hash(scenario)
        cached = _SCENARIO_CACHE.get(key)
        if cached is not None:
            return cached
        try:
            data = load_yaml(scenario)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"<batch scenario>: invalid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ScenarioError(f"<batch scenario>: top level must be a mapping, got {type(data).__name__}")
        parsed = scenario_from_dict(data, "<batch scenario>")
        if len(_SCENARIO_CACHE) >= _SCENARIO_CACHE_SIZE:
            _SCENARIO_CACHE.clear()
        _SCENARIO_CACHE[key] = parsed
        return parsed
    if isinstance(scenario, Mapping):
        return scenario_from_dict(dict(scenario), "<batch scenario>")
    raise TypeError(f"scenario must be a Scenario, YAML text or a dict, got {type(scenario).__name__}")


def run_one(
    scenario: Scenario | str | Mapping[str, Any],
    run_id: int,
    root_seed: int,
    overrides: Mapping[str, float] | None = None,
    resolution: float | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run one ensemble member.

    Args:
        scenario: the scenario (object, merged YAML text or dict).
        run_id: the member's number; with ``root_seed`` it fixes the run's random numbers.
        root_seed: the batch's root seed.
        overrides: the member's sampled parameter values.
        resolution: agents per real household/vehicle/building; ``None`` uses the scenario's.

    Returns:
        The tidy yearly table with ``run_id`` as its first column, and the summary row (``run_id`` first,
        then :meth:`sim.model.RunResult.summary`) with plain Python values.
    """
    values = {str(k): float(v) for k, v in (overrides or {}).items()}
    result = _model.run(
        _as_scenario(scenario), seed=run_seed(root_seed, run_id), overrides=values, resolution=resolution
    )
    return _member_tables(result, run_id)


def _member_tables(result: _model.RunResult, run_id: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A member's yearly table (``run_id`` first) and summary row with plain Python values."""
    yearly = result.yearly_frame()
    yearly.insert(0, "run_id", np.full(len(yearly), int(run_id), dtype=np.int64))
    summary = {"run_id": int(run_id)}
    for k, v in result.summary().items():
        summary[k] = v.item() if isinstance(v, np.generic) else v
    return yearly, summary


def _error_text(exc: BaseException) -> str:
    """``Type: message`` on the first line (what the CLI shows), then the full traceback for debugging."""
    head = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    return head + "\n" + "".join(traceback.format_exception(exc))


def run_batch(
    scenario: Scenario | str | Mapping[str, Any],
    run_ids: Sequence[int],
    param_rows: Sequence[Mapping[str, float]],
    root_seed: int,
    resolution: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Run a task of several members (called inside a worker).

    A run that raises does not stop the task: it is returned as a failure so the batch records its
    parameters and stays resumable, and the other runs of the task still count.

    Args:
        scenario: merged YAML text (what workers get), a dict or a Scenario.
        run_ids: the members of this task.
        param_rows: their sampled values, one mapping per run_id, same order.
        root_seed: the batch's root seed.
        resolution: agents per real unit; ``None`` uses the scenario's.

    Returns:
        ``(yearly, summary, failures)``: yearly rows and one summary row per successful run, and one
        ``{"run_id", "params", "error"}`` dict per failed run (error text starts ``Type: message``).
    """
    if len(run_ids) != len(param_rows):
        raise ValueError(f"{len(run_ids)} run_ids but {len(param_rows)} param rows: give one row per run")
    sc = _as_scenario(scenario)
    yearly_parts: list[pd.DataFrame] = []
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    members = [
        (int(r), {str(k): float(v) for k, v in params.items()}) for r, params in zip(run_ids, param_rows, strict=True)
    ]
    size = _model.lockstep_members(resolution if resolution is not None else sc.parameter_values()["resolution"])
    for start in range(0, len(members), size):
        group = members[start : start + size]
        results = None
        if len(group) > 1:
            try:
                results = _model.run_members(
                    sc, [run_seed(root_seed, r) for r, _ in group], [v for _, v in group], resolution
                )
            except Exception:  # run the group's members one by one, so that the failing run is named
                results = None
        for i, (run_id, values) in enumerate(group):
            try:
                if results is not None:
                    yearly, row = _member_tables(results[i], run_id)
                else:
                    yearly, row = run_one(sc, run_id, root_seed, values, resolution)
            except Exception as exc:  # any model error is recorded with the run, not raised
                failures.append({"run_id": run_id, "params": values, "error": _error_text(exc)})
                continue
            yearly_parts.append(yearly)
            rows.append(row)
    yearly = pd.concat(yearly_parts, ignore_index=True) if yearly_parts else pd.DataFrame({"run_id": []})
    return yearly, pd.DataFrame(rows), failures


def _run_task(task: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Module-level entry point for executors (picklable by reference)."""
    return run_batch(task["scenario"], task["run_ids"], task["params"], task["root_seed"], task["resolution"])


# ---------------------------------------------------------------------------------------------- batches


def min_task_runs(seconds_per_run: float) -> int:
    """Runs that make :data:`MIN_TASK_SECONDS` of work: fewer would be mostly task overhead."""
    return math.ceil(MIN_TASK_SECONDS / max(float(seconds_per_run), 1e-4))


def choose_batch_size(n_pending: int, n_workers: int, seconds_per_run: float) -> int:
    """Runs per task: about :data:`TASKS_PER_WORKER` tasks per worker, each 2 s to 2 min of work and at most
    :data:`MAX_TASK_RUNS` runs.

    Several tasks per worker balance uneven run times at the end of a batch; a floor on the work per task
    keeps process overhead small for fast (coarse-resolution) runs; a ceiling keeps progress visible, bounds
    the work an interruption loses on huge ensembles, and bounds a worker's memory (its task's results).
    """
    if n_pending <= 0:
        return 1
    per_run = max(float(seconds_per_run), 1e-4)
    by_count = math.ceil(n_pending / (TASKS_PER_WORKER * max(1, n_workers)))
    size = max(by_count, min_task_runs(seconds_per_run))
    size = min(size, max(1, math.floor(MAX_TASK_SECONDS / per_run)), MAX_TASK_RUNS)
    return max(1, min(size, n_pending))


def guided_task_sizes(n_runs: int, batch_size: int, n_workers: int, min_size: int) -> Iterator[int]:
    """Task sizes that shrink as the batch nears its end (guided self-scheduling).

    Each task takes about a ``2 x n_workers``-th of the runs still to hand out, at most ``batch_size`` and at
    least ``min_size`` runs. Equal tasks of a few hundred runs leave one worker alone on the last task for
    most of its time (a 4,608-run sweep kept its two workers busy 58-69% of the time); shrinking tasks let
    the workers finish together, while the first tasks stay large so their overhead stays small.
    """
    left = n_runs
    while left > 0:
        size = min(batch_size, max(min_size, math.ceil(left / (2 * max(1, n_workers)))), left)
        yield size
        left -= size


def _tasks(
    text: str,
    run_ids: Sequence[int],
    params: pd.DataFrame,
    root_seed: int,
    resolution: float,
    batch_size: int,
    sizes: Iterable[int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Tasks of consecutive run_ids, built lazily so the parent never holds them all.

    ``sizes`` gives each task's run count (e.g. :func:`guided_task_sizes`); without it every task has
    ``batch_size`` runs (the last one the rest).
    """
    names = [c for c in params.columns if c != "run_id"]
    by_id = params.set_index("run_id")
    if sizes is None:
        sizes = (batch_size for _ in range(0, len(run_ids), batch_size))
    start = 0
    for size in sizes:
        if start >= len(run_ids):
            break
        ids = [int(i) for i in run_ids[start : start + size]]
        start += size
        block = by_id.loc[ids, names]
        rows = [{k: float(v) for k, v in zip(names, vals, strict=True)} for vals in block.itertuples(index=False)]
        yield {"scenario": text, "run_ids": ids, "params": rows, "root_seed": root_seed, "resolution": resolution}


def check_resolution(resolution: Any) -> float:
    """``resolution`` as a float inside the registry's range, or an :class:`EnsembleError` naming the value."""
    p = registry.get("resolution")
    try:
        value = float(resolution)
    except (TypeError, ValueError):
        raise EnsembleError(f"resolution={resolution!r} is not a number") from None
    if not (math.isfinite(value) and p.low <= value <= p.high):
        raise EnsembleError(f"resolution={value:g} is outside the allowed range {p.allowed_range}")
    return value


def _check_resume(
    store: BatchStore,
    text: str,
    n_runs: int | None,
    root_seed: int | None,
    method: str | None,
    resolution: float | None,
) -> None:
    m = store.manifest
    problems = []
    if m.get("scenario_hash") != text_hash(text):
        problems.append("the scenario file differs from the one the batch was started with (scenario hash)")
    checks = (
        ("runs", n_runs, m.get("n_runs")),
        ("root seed", root_seed, m.get("root_seed")),
        ("method", method, m.get("method")),
        ("resolution", resolution, m.get("resolution")),
    )
    for what, given, stored in checks:
        if given is not None and given != stored:
            problems.append(f"{what} {given} differs from the batch's {stored}")
    if problems:
        raise EnsembleError(
            f"{store.path}: cannot resume: {'; '.join(problems)}. Resume with the batch's settings, or start a "
            "new batch in another folder"
        )


def run_ensemble(
    scenario_path: str | Path,
    n_runs: int | None,
    out_dir: str | Path,
    root_seed: int | None = None,
    executor: str | Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    resolution: float | None = None,
    method: Method | None = None,
    resume: bool = False,
    batch_size: int | None = None,
    progress: bool = True,
    command: str | None = None,
) -> BatchStore:
    """Run (or resume) an ensemble of one scenario into a batch folder.

    A new batch samples the parameters, writes ``params.parquet`` and the manifest (merged scenario text,
    its hash, name, root seed, run count, resolution, method, executor, parameter names, command line),
    then runs every member. A resumed batch checks that the scenario, root seed, method, run count and
    resolution match the manifest and runs only the members without a result (including failed ones). In
    both cases finished tasks are written as shards as they come in, failures are appended to
    ``failures.jsonl``, and the batch is finalized at the end.

    Args:
        scenario_path: the scenario YAML file.
        n_runs: ensemble size; ``None`` only when resuming (the batch's size).
        out_dir: the batch folder.
        root_seed: root of every run's seed and of the sampling; default 1 (resume: the batch's).
        executor: ``local``, ``dask`` or an :class:`~sim.executors.Executor` the caller opened (and closes).
        workers: worker processes (``local``: default every CPU, 1 = in this process; ``dask``: 2).
        scheduler: Dask scheduler address (``dask`` only); none starts a local cluster.
        resolution: agents per real household/vehicle/building; default the scenario's (resume: the batch's).
        method: ``lhs`` (default) or ``mc`` (resume: the batch's).
        resume: continue the batch in ``out_dir`` instead of starting one.
        batch_size: runs per task; default from :func:`choose_batch_size` after timing one run.
        progress: show a progress bar (runs done, runs/s, ETA) on stderr.
        command: the command line to record; default ``sys.argv``.

    Returns:
        The finalized store. Runs that failed are pending in it (``store.pending_run_ids()``) and listed in
        ``failures.jsonl``.

    Raises:
        ScenarioError: the scenario file is missing or invalid.
        EnsembleError: bad arguments, a new batch in a folder that has one, or a resume that does not match.
        StoreError: the batch folder cannot be written.
    """
    path = Path(scenario_path)
    scenario = load_scenario(path)
    text = scenario_text(path)
    out = Path(out_dir)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise EnsembleError(f"batch_size={batch_size!r} is not allowed: give a whole number >= 1")
    if n_runs is not None and (isinstance(n_runs, bool) or not isinstance(n_runs, int) or n_runs < 1):
        raise EnsembleError(f"n_runs={n_runs!r} is not allowed: give a whole number >= 1")
    if root_seed is not None:
        root_seed = check_root_seed(root_seed)
    if method is not None:
        method = _check_method(method)  # type: ignore[assignment]
    if resolution is not None:
        resolution = check_resolution(resolution)
    if not isinstance(executor, Executor):
        if executor not in EXECUTORS:
            raise EnsembleError(f"executor {executor!r} is not known; use one of: {', '.join(EXECUTORS)}")
        if scheduler and executor != "dask":
            raise EnsembleError(f"a scheduler address ({scheduler}) needs the dask executor")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise EnsembleError(f"workers={workers!r} is not allowed: give a whole number >= 1")

    if resume:
        if not (out / MANIFEST_FILE).is_file():
            raise EnsembleError(f"{out}: no batch to resume ({MANIFEST_FILE} is missing); start one without --resume")
        store = BatchStore.open(out)
        _check_resume(store, text, n_runs, root_seed, method, resolution)
        m = store.manifest
        root_seed, res = int(m["root_seed"]), float(m["resolution"])
    else:
        if n_runs is None:
            raise EnsembleError("n_runs is required to start a batch (--runs N)")
        if (out / MANIFEST_FILE).exists():
            raise EnsembleError(f"{out} already holds a batch; resume it (--resume) or choose another folder")
        root_seed = 1 if root_seed is None else root_seed
        method = method or "lhs"
        res = resolution if resolution is not None else check_resolution(scenario.parameter_values()["resolution"])
        uncertain = scenario.uncertain_parameters()
        params = sample_parameters(uncertain, n_runs, root_seed, method)
        if isinstance(executor, Executor):
            ex_info = executor.describe()
        else:
            n_workers = workers or (default_workers() if executor == "local" else 2)
            ex_info = {"name": executor, "workers": n_workers, "scheduler": scheduler}
        manifest = {
            "scenario_text": text,
            "scenario_name": scenario.name,
            "scenario_file": str(path),
            "base_year": scenario.base_year,
            "horizon": scenario.horizon,
            "root_seed": root_seed,
            "n_runs": n_runs,
            "resolution": res,
            "method": method,
            "parameters": [p.name for p in uncertain],
            "run_seed": "SeedSequence(entropy=root_seed, spawn_key=(run_id,))",
            "executor": ex_info,
            "command": command if command is not None else shlex.join(sys.argv),
        }
        store = BatchStore(out).create(manifest, params)

    pending = sorted(store.pending_run_ids())
    if pending:
        execute_pending(store, text, pending, root_seed, res, executor, workers, scheduler, batch_size, progress)
    store.finalize()
    return store


def run_pending(
    store: BatchStore,
    text: str,
    root_seed: int,
    resolution: float,
    executor: str | Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> None:
    """Run every planned run of ``store`` that has no summary yet, writing shards as tasks finish.

    The one execution path for ensembles, scenario discovery and target search: same tasks, same seeds
    (``run_seed(root_seed, run_id)``), same failure records.
    """
    pending = sorted(store.pending_run_ids())
    if pending:
        execute_pending(store, text, pending, root_seed, resolution, executor, workers, scheduler, batch_size, progress)


def execute_pending(
    store: BatchStore,
    text: str,
    pending: list[int],
    root_seed: int,
    resolution: float,
    executor: str | Executor,
    workers: int | None,
    scheduler: str | None,
    batch_size: int | None,
    progress: bool,
    task_fn: Callable[[dict[str, Any]], tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]] | None = None,
    task_extra: Mapping[str, Any] | None = None,
    desc: str = "runs",
) -> int:
    """Run ``pending`` in tasks, writing each finished task as a shard; return the number of failed runs.

    One run is timed here first to size the tasks. ``task_fn`` (default :func:`_run_task`) and
    ``task_extra`` (keys added to every task) let sweeps reuse this loop with their own seed handling.
    """
    from tqdm import tqdm

    run_task = task_fn or _run_task

    def tasks(ids: Sequence[int], size: int, sizes: Iterable[int] | None = None) -> Iterator[dict[str, Any]]:
        for task in _tasks(text, ids, params, root_seed, resolution, size, sizes):
            task.update(task_extra or {})
            yield task

    params = store.read_params()
    n_planned = len(store.planned_run_ids())
    bar = tqdm(
        total=n_planned,
        initial=n_planned - len(pending),
        unit="run",
        desc=desc,
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
    )
    n_failed = 0

    def write(result: tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]) -> None:
        nonlocal n_failed
        yearly, summary, failures = result
        if len(summary):
            store.write_shard(yearly, summary)
        for f in failures:
            store.record_failure(f["run_id"], f["params"], f["error"])
        n_failed += len(failures)
        bar.update(len(summary) + len(failures))
        if n_failed:
            bar.set_postfix(failed=n_failed)

    own = not isinstance(executor, Executor)
    ex = make_executor(executor, workers, scheduler) if own else executor  # type: ignore[arg-type]
    try:
        with bar:
            if batch_size is None and len(pending) > 1:
                # Time one run here to size the tasks; its result is kept like any other task's.
                first = next(tasks(pending[:1], 1))
                t0 = time.perf_counter()
                write(run_task(first))
                per_run_s = time.perf_counter() - t0
                pending = pending[1:]
                size = choose_batch_size(len(pending), ex.n_workers, per_run_s)
                min_size = min(size, min_task_runs(per_run_s))
                sizes = guided_task_sizes(len(pending), size, ex.n_workers, min_size)
            else:  # a size the caller chose is kept for every task
                size = batch_size or 1
                sizes = None
            for result in ex.map_unordered(run_task, tasks(pending, size, sizes)):
                write(result)
                del result
    finally:
        if own:
            ex.close()
    return n_failed


# ---------------------------------------------------------------------------------------------- statistics


def _quantile_row(values: np.ndarray) -> dict[str, float]:
    row = {f"p{p}": float(np.percentile(values, p)) for p in _PERCENTILES}
    row["mean"] = float(values.mean())
    return row


def ensemble_statistics(
    store: BatchStore | str | Path, target_year: int = SUMMARY_TARGET_YEAR
) -> dict[str, pd.DataFrame]:
    """The ensemble's headline statistics (DESIGN.md section 6), as tables.

    Bands are taken over per-run totals (see :func:`sim.stats.percentile_bands`); peak statistics keep
    not-peaked runs as censored (see :mod:`sim.stats`).

    Args:
        store: a batch (or its folder).
        target_year: the year of ``P(peak <= year)``.

    Returns:
        ``bands_direct`` (year, p5..p95, mean of total direct emissions, Mt), ``bands_total``
        (direct plus the electricity trade adjustment, the model's ``total`` scope),
        ``bands_by_sector`` (year, sector, ...), ``peak_year_distribution``, ``peak_year_ecdf``,
        ``p_peak_by`` (one row: year, p, lo, hi of the 95% Wilson interval, n_peaked, n_runs),
        ``share_not_peaked`` (one row), ``peak_value_quantiles`` (one row, Mt) and ``outcome_quantiles``
        (one row per summary outcome: peak, 2030, 2060 and cumulative emissions).

    Raises:
        ValueError: the batch has no completed runs.
    """
    store = store if isinstance(store, BatchStore) else BatchStore.open(store)
    summary = store.read_summary()
    if len(summary) == 0:
        raise ValueError(f"{store.path} has no completed runs yet: nothing to summarise")
    yearly = store.read_yearly(columns=_YEARLY_STAT_COLUMNS)
    m = store.manifest
    horizon = int(m.get("horizon") or yearly["year"].max())
    base_year = int(m.get("base_year") or yearly["year"].min())
    direct = yearly[yearly["scope"] == "direct"]
    ci = _stats.p_peak_by_with_ci(summary, target_year)
    outcomes = [c for c in _OUTCOME_COLUMNS if c in summary.columns]
    return {
        "bands_direct": _stats.percentile_bands(direct, by=("year",), percentiles=_PERCENTILES),
        "bands_total": _stats.percentile_bands(yearly, by=("year",), percentiles=_PERCENTILES),
        "bands_by_sector": _stats.percentile_bands(direct, by=("year", "sector"), percentiles=_PERCENTILES),
        "peak_year_distribution": _stats.peak_year_distribution(summary),
        "peak_year_ecdf": _stats.peak_year_ecdf(summary, horizon, start_year=base_year),
        "p_peak_by": pd.DataFrame([{"year": target_year, **ci}]),
        "share_not_peaked": pd.DataFrame(
            [{"share_not_peaked": _stats.share_not_peaked(summary), "n_runs": len(summary)}]
        ),
        "peak_value_quantiles": pd.DataFrame([_stats.peak_value_quantiles(summary, _PERCENTILES)]),
        "outcome_quantiles": pd.DataFrame(
            [{"outcome": c, **_quantile_row(summary[c].to_numpy(dtype=np.float64))} for c in outcomes]
        ),
    }


def crn_mismatches(manifest_a: Mapping[str, Any], manifest_b: Mapping[str, Any]) -> list[str]:
    """Why two batches' runs are not common-random-number pairs (empty list: they are).

    Run k of two batches shares its parameter draws and seed only if both used the same root seed, the
    same sampled parameters, the same method and run count (an LHS design depends on the run count) and
    the same resolution (the agent populations, hence their random draws, depend on it).
    """
    out = []
    for key, what in (
        ("root_seed", "root seed"),
        ("method", "sampling method"),
        ("n_runs", "run count"),
        ("resolution", "resolution"),
    ):
        if manifest_a.get(key) != manifest_b.get(key):
            out.append(f"{what} differs ({manifest_a.get(key)} vs {manifest_b.get(key)})")
    pa_, pb_ = list(manifest_a.get("parameters") or []), list(manifest_b.get("parameters") or [])
    if set(pa_) != set(pb_):
        only_a, only_b = sorted(set(pa_) - set(pb_)), sorted(set(pb_) - set(pa_))
        out.append(f"uncertain parameters differ (only in A: {only_a or '-'}; only in B: {only_b or '-'})")
    return out


def compare_batches(
    store_a: BatchStore | str | Path, store_b: BatchStore | str | Path, target_year: int = SUMMARY_TARGET_YEAR
) -> dict[str, Any]:
    """Paired comparison of two batches, run by run (A minus B).

    Returns:
        ``pairs``: :func:`sim.stats.paired_difference` (P(A peaks earlier), ...), plus the median, P5 and
        P95 of the paired difference in ``target_year`` emissions (``median_emissions_2030_diff_mt``, ...)
        and in peak emissions (``median_peak_diff_mt``, ...); ``p_peak_by``:
        ``{"A": ..., "B": ...}`` with Wilson intervals; ``warnings``: why the pairs are not common-random-
        number pairs, if they are not (then differences include sampling noise).

    Raises:
        ValueError: a batch has no completed runs, or the batches share no run_id.
    """
    a = store_a if isinstance(store_a, BatchStore) else BatchStore.open(store_a)
    b = store_b if isinstance(store_b, BatchStore) else BatchStore.open(store_b)
    ma, mb = a.manifest, b.manifest
    warnings = crn_mismatches(ma, mb)
    if ma.get("horizon") != mb.get("horizon"):
        warnings.append(
            f"horizons differ ({ma.get('horizon')} vs {mb.get('horizon')}); not-peaked runs are "
            "censored at the earlier one"
        )
    sa, sb = a.read_summary(), b.read_summary()
    for name, s, st in (("A", sa, a), ("B", sb, b)):
        if len(s) == 0:
            raise ValueError(f"batch {name} ({st.path}) has no completed runs")
    horizons = [int(h) for h in (ma.get("horizon"), mb.get("horizon")) if h is not None]
    horizon = min(horizons) if horizons else 2060
    pairs: dict[str, Any] = _stats.paired_difference(sa, sb, horizon)
    merged = sa.merge(sb, on="run_id", suffixes=("_a", "_b"))
    col = f"emissions_{target_year}_mt"
    for c, stem in ((col, f"emissions_{target_year}"), ("peak_mt", "peak")):
        if f"{c}_a" in merged and f"{c}_b" in merged:
            diff = (merged[f"{c}_a"] - merged[f"{c}_b"]).to_numpy(dtype=np.float64)
            pairs[f"median_{stem}_diff_mt"] = float(np.median(diff))
            pairs[f"p5_{stem}_diff_mt"] = float(np.percentile(diff, 5))
            pairs[f"p95_{stem}_diff_mt"] = float(np.percentile(diff, 95))
    n_common = len(merged)
    if n_common < max(len(sa), len(sb)):
        warnings.append(f"only {n_common} run_ids are completed in both batches; the rest are left out")
    return {
        "pairs": pairs,
        "p_peak_by": {"A": _stats.p_peak_by_with_ci(sa, target_year), "B": _stats.p_peak_by_with_ci(sb, target_year)},
        "warnings": warnings,
    }
