"""Sensitivity sweeps of the city model: a SALib design run as a resumable batch, then analysed.

:mod:`sim.sensitivity` is the model-independent half of the analysis (problem, design, estimators); this
module is the model-facing half. A sweep

1. builds the SALib problem from the parameter registry (uncertainties, levers or both, optionally in
   groups) and draws the design for one method;
2. stores the design as a batch (:class:`~sim.store.BatchStore`, the ensembles' layout): the manifest
   records the method, ``n``, the problem, the seeds and the scenario text; ``params.parquet`` holds one
   row per design point with its ``run_id``;
3. runs every design row as one model run, the row's values being the run's overrides, through the
   project's executors in tasks of a few runs, writing each finished task as a shard (so a crash loses
   only the tasks in flight and ``resume=True`` runs only the rows without a result);
4. analyses five outputs of every run and writes ``indices.parquet`` and ``convergence.parquet`` into the
   batch folder.

Outputs (one number per run, from the run's summary row):

- ``peak_year``: the year of peak direct emissions. A run that has not peaked by the horizon is censored
  and counted as ``horizon + 1`` (:func:`sim.sensitivity.peak_year_output`); the notes say how many.
- ``peak_mt``: peak direct emissions, Mt CO2/yr.
- ``cumulative_mt``: direct emissions summed over 2025..horizon, Mt CO2.
- ``emissions_2030_mt``: direct emissions in 2030, Mt CO2/yr.
- ``peaked_by_2030``: 1 if the run peaked (not censored) in 2030 or earlier, else 0. Its mean over a
  sample drawn from the parameter distributions is P(peak <= 2030); its indices say which parameters
  move that probability.

An output that is constant over the design (for example every run peaking in the base year) has no
variance to apportion; it is skipped with a note rather than failing the sweep.

Random numbers (``seed_mode``):

- ``common`` (default): every row runs with the same seed, ``SeedSequence(entropy=root_seed,
  spawn_key=(0,))`` (the seed of run 0 of an ensemble with the same root seed). The design varies the
  parameters, not the agents' random draws, so the indices attribute the variance of the outputs to the
  parameters alone (common random numbers). The answer is conditional on one realisation of the agents'
  stochastic choices; repeat with another ``root_seed`` to see whether it depends on that realisation.
- ``per_run``: row ``run_id`` uses the ensemble seed of that run_id. Stochastic noise then adds variance
  that no parameter explains; in Sobol' terms it inflates every total index and lowers the first-order
  sum. Use it to ask how the parameters compare with the model's own noise.

Integer registry parameters (years) are sampled as continuous values, as the design's balance needs, and
rounded when they are handed to the model; ``params.parquet`` keeps the design as drawn, which is what the
estimators use.

Failed runs are recorded in ``failures.jsonl`` and stay pending. Sobol', Morris and FAST need every run of
their structured design, so a sweep with failed runs stops before the analysis and names the runs (fix
the cause and rerun with ``resume=True``); RBD-FAST, delta and PAWN analyse any sample, so they drop the
failed rows (unbiased only if the failures do not depend on the inputs) and say so.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import sys
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from SALib.util import ResultDict

from sim import registry
from sim import sensitivity as sa
from sim.ensemble import (
    EnsembleError,
    check_resolution,
    check_root_seed,
    execute_pending,
    run_batch,
)
from sim.executors import EXECUTORS, Executor, default_workers
from sim.scenario import load_scenario, scenario_text
from sim.store import FAILURES_FILE, MANIFEST_FILE, TEMP_PREFIX, TEMP_SUFFIX, BatchStore
from sim.store import scenario_hash as text_hash

__all__ = [
    "INDICES_FILE",
    "CONVERGENCE_FILE",
    "KINDS",
    "OUTPUTS",
    "RANK_INDEX",
    "SEED_MODES",
    "IncompleteSweepError",
    "SweepError",
    "SweepResult",
    "analyze_sweep",
    "indices_table",
    "run_sweep",
    "sweep_outputs",
]

INDICES_FILE = "indices.parquet"
CONVERGENCE_FILE = "convergence.parquet"

OUTPUTS: tuple[str, ...] = ("peak_year", "peak_mt", "cumulative_mt", "emissions_2030_mt", "peaked_by_2030")
"""Outputs analysed for every sweep, in this order (definitions in the module docstring)."""

KINDS: tuple[str, ...] = ("uncertainty", "lever")
"""Registry kinds a sweep can vary; ``setting`` entries change what the model is, not an input to it."""

SEED_MODES: tuple[str, ...] = ("common", "per_run")
"""How design rows get their random numbers (see the module docstring)."""

COMMON_SEED_RUN_ID = 0
"""In ``common`` mode every row uses the seed an ensemble gives run 0 (same root seed)."""

PEAK_TARGET_YEAR = 2030
"""The pilot plan's peak deadline (DESIGN.md section 7), the year of the ``peaked_by_2030`` output."""

FULL_DESIGN_METHODS: tuple[str, ...] = ("sobol", "morris", "fast")
"""Methods whose structured design loses its meaning when a run is missing."""

CONVERGENCE_FRACTIONS: tuple[float, ...] = (0.25, 0.5, 1.0)
"""Prefixes of the design re-analysed in the convergence check: N/4, N/2, N."""

RANK_INDEX: dict[str, str] = {
    "sobol": "ST",
    "fast": "ST",
    "morris": "mu_star",
    "rbd_fast": "S1",
    "delta": "delta",
    "pawn": "median",
}
"""The index each method's table is sorted by: the one that answers "which parameters matter at all"."""

SeedMode = Literal["common", "per_run"]

_INDEX_COLUMNS = ["output", "parameter", "parameter_2", "index", "value", "conf", "method", "n"]


class SweepError(EnsembleError):
    """Bad sweep input (arguments, or a batch that cannot be resumed with them); readable message."""


class IncompleteSweepError(RuntimeError):
    """Runs of the design failed, and the method cannot be analysed without them.

    Attributes:
        store: the batch; the failed runs are pending in it and listed in its ``failures.jsonl``.
        failed_run_ids: the design rows without a result, sorted.
    """

    def __init__(self, message: str, store: BatchStore, failed_run_ids: list[int]) -> None:
        super().__init__(message)
        self.store = store
        self.failed_run_ids = failed_run_ids


@dataclass
class SweepResult:
    """What a sweep produced.

    Attributes:
        store: the batch (design, shards, failures, manifest).
        method: the SALib method.
        n: the ``n`` passed to the sampler (base samples, trajectories or samples; see
            :func:`sim.sensitivity.expected_sample_count`).
        problem: the SALib problem dict.
        seed: the root seed (design, bootstrap and, through ``seed_mode``, the runs' random numbers).
        seed_mode: ``common`` or ``per_run``.
        X: the design as drawn, one row per run_id (``params.parquet``).
        Y: ``{output: values}``, one value per design row (NaN for a failed run that was dropped).
        raw: ``{output: SALib ResultDict}`` for every analysed output.
        indices: tidy table (``output, parameter, parameter_2, index, value, conf, method, n``).
        convergence: the indices re-estimated on N/4, N/2 and N (``n_base, n_runs`` first, ``ci_width``
            last); empty for FAST, whose design has no valid prefix.
        run_count: rows of the design (= model runs of a complete sweep).
        runs_executed: model runs this call made (fewer than ``run_count`` when resuming).
        run_seconds: wall time of those runs, seconds.
        failed_run_ids: rows that failed (only possible for methods that may drop them).
        notes: what a reader of the indices must know (censoring, skipped outputs or prefixes, drops).
        indices_path: where ``indices`` was written.
        convergence_path: where ``convergence`` was written.
    """

    store: BatchStore
    method: str
    n: int
    problem: dict
    seed: int
    seed_mode: str
    X: np.ndarray
    Y: dict[str, np.ndarray]
    raw: dict[str, ResultDict]
    indices: pd.DataFrame
    convergence: pd.DataFrame
    run_count: int
    runs_executed: int = 0
    run_seconds: float = 0.0
    failed_run_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    indices_path: Path | None = None
    convergence_path: Path | None = None


# ---------------------------------------------------------------------------------------------- inputs


def _select_parameters(scenario: Any, params: Sequence[str] | None, kinds: Sequence[str]) -> list[str]:
    """Parameter names to vary: explicit ``params``, else every entry of the requested kinds.

    Uncertainties follow the scenario's ``uncertain:`` list (as ensembles do), so a sweep and an ensemble
    of one scenario describe the same uncertainty; levers are every registry lever, varied over their
    registry range in place of the scenario's value.
    """
    if params is not None:
        names = [str(p).strip() for p in params if str(p).strip()]
        if not names:
            raise SweepError("params is empty: name at least one registry parameter")
        return names
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise SweepError(f"kinds {list(kinds)!r} are not allowed: use one or both of {', '.join(KINDS)}")
    names: list[str] = []
    if "uncertainty" in kinds:
        names += [p.name for p in scenario.uncertain_parameters()]
    if "lever" in kinds:
        names += [p.name for p in registry.parameters("lever")]
    return names


def _build_problem(names: Sequence[str], groups: str | Mapping[str, Sequence[str]] | None) -> dict:
    if isinstance(groups, str) and groups != "registry":
        raise SweepError(f"groups={groups!r} is not allowed: use 'registry' or a {{group: [parameters]}} mapping")
    try:
        if groups == "registry":
            return sa.build_problem(names, use_registry_groups=True)
        return sa.build_problem(names, groups=groups)  # type: ignore[arg-type]
    except ValueError as exc:
        raise SweepError(str(exc)) from None


def _normalised(obj: Any) -> Any:
    """JSON round trip, so a problem built now compares equal to the one read from a manifest."""
    return json.loads(json.dumps(obj))


def _check_executor(executor: str | Executor, workers: int | None, scheduler: str | None) -> None:
    if not isinstance(executor, Executor):
        if executor not in EXECUTORS:
            raise SweepError(f"executor {executor!r} is not known; use one of: {', '.join(EXECUTORS)}")
        if scheduler and executor != "dask":
            raise SweepError(f"a scheduler address ({scheduler}) needs the dask executor")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepError(f"workers={workers!r} is not allowed: give a whole number >= 1")


def _check_resume(store: BatchStore, given: Mapping[str, Any]) -> None:
    m = store.manifest
    problems = []
    if m.get("kind") != "sweep":
        problems.append("the folder holds an ensemble, not a sweep")
    for key, value in given.items():
        if value is None:
            continue
        stored = m.get(key)
        if key == "scenario_hash":
            if value != stored:
                problems.append("the scenario file differs from the one the sweep was started with (scenario hash)")
        elif key == "problem":
            if _normalised(value) != stored:
                problems.append(
                    f"the parameters or groups differ from the sweep's ({', '.join(stored.get('names', []))})"
                )
        elif value != stored:
            problems.append(f"{key.replace('_', ' ')} {value} differs from the sweep's {stored}")
    if problems:
        raise SweepError(
            f"{store.path}: cannot resume: {'; '.join(problems)}. Resume with the sweep's settings, or start a "
            "new sweep in another folder"
        )


# ---------------------------------------------------------------------------------------------- runs


def _model_overrides(row: Mapping[str, float]) -> dict[str, float]:
    """The design row as the model sees it: integer parameters (years) rounded to whole numbers."""
    return {k: float(np.round(v)) if registry.get(k).integer else float(v) for k, v in row.items()}


def _relabel(frame: pd.DataFrame, run_id: int) -> pd.DataFrame:
    if len(frame):
        frame["run_id"] = np.full(len(frame), run_id, dtype=np.int64)
    return frame


def _run_sweep_task(task: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Run one task of design rows (module level, so executors can send it to other processes).

    The ensemble's :func:`~sim.ensemble.run_batch` does the work (failure capture included). In
    ``per_run`` mode it gets the real run_ids, which fix each run's seed; in ``common`` mode each row is run
    under run_id :data:`COMMON_SEED_RUN_ID`, so all rows share that seed, and is relabelled afterwards.
    """
    rows = [_model_overrides(r) for r in task["params"]]
    args = (task["scenario"],)
    tail = (task["root_seed"], task["resolution"])
    if task["seed_mode"] == "per_run":
        return run_batch(*args, task["run_ids"], rows, *tail)
    yearly_parts, summary_parts, failures = [], [], []
    for run_id, row in zip(task["run_ids"], rows, strict=True):
        yearly, summary, failed = run_batch(*args, [COMMON_SEED_RUN_ID], [row], *tail)
        yearly_parts.append(_relabel(yearly, run_id))
        summary_parts.append(_relabel(summary, run_id))
        failures += [{**f, "run_id": int(run_id)} for f in failed]
    yearly_parts = [y for y in yearly_parts if len(y)] or yearly_parts[:1]
    summary_parts = [s for s in summary_parts if len(s)] or summary_parts[:1]
    return pd.concat(yearly_parts, ignore_index=True), pd.concat(summary_parts, ignore_index=True), failures


def _execute(
    store: BatchStore,
    pending: list[int],
    seed_mode: str,
    executor: str | Executor,
    workers: int | None,
    scheduler: str | None,
    batch_size: int | None,
    progress: bool,
) -> int:
    """Run the pending rows through the ensemble's loop with the sweep's task function; return failures."""
    m = store.manifest
    return execute_pending(
        store,
        m["scenario_text"],
        pending,
        int(m["root_seed"]),
        float(m["resolution"]),
        executor,
        workers,
        scheduler,
        batch_size,
        progress,
        task_fn=_run_sweep_task,
        task_extra={"seed_mode": seed_mode},
        desc="sweep",
    )


def run_sweep(
    scenario_path: str | Path,
    method: str | None,
    n: int | None,
    out_dir: str | Path,
    params: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    groups: str | Mapping[str, Sequence[str]] | None = None,
    root_seed: int | None = None,
    executor: str | Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    resolution: float | None = None,
    resume: bool = False,
    calc_second_order: bool | None = None,
    progress: bool = True,
    seed_mode: SeedMode | None = None,
    batch_size: int | None = None,
    command: str | None = None,
) -> SweepResult:
    """Run (or resume) a sensitivity sweep of one scenario and analyse it.

    A new sweep checks every argument and draws the design before it writes anything, so bad input
    leaves no folder behind. A resumed sweep reads the design from the batch, checks that the arguments
    given agree with it (``None`` means "the batch's") and runs only the rows without a result.

    Args:
        scenario_path: the scenario YAML file.
        method: ``sobol``, ``morris``, ``fast``, ``rbd_fast``, ``delta`` or ``pawn``; required for a new sweep.
        n: base samples (sobol, a power of 2), trajectories (morris), samples per parameter (fast) or
            samples (the rest); required for a new sweep. Runs: see
            :func:`sim.sensitivity.expected_sample_count`.
        out_dir: the batch folder.
        params: registry names to vary; default every entry of ``kinds``.
        kinds: used when ``params`` is None: ``("uncertainty",)`` (default; the scenario's uncertain list),
            ``("lever",)`` or both.
        groups: ``"registry"`` (each entry's registry group) or ``{group: [names]}``; sobol and morris only.
        root_seed: seeds the design, the bootstrap and the runs; default 1.
        executor: ``local``, ``dask`` or an :class:`~sim.executors.Executor` the caller opened (and closes).
        workers: worker processes (``local``: default every CPU, 1 = in this process; ``dask``: 2).
        scheduler: Dask scheduler address (``dask`` only).
        resolution: agents per real household/vehicle/building; default the scenario's.
        resume: continue the sweep in ``out_dir``.
        calc_second_order: sobol only: also estimate ``S2`` (doubles the rows per base sample).
        progress: show a progress bar (runs done, runs/s, ETA) on stderr.
        seed_mode: ``common`` (default: one seed for every row) or ``per_run``; see the module docstring.
        batch_size: runs per task; default from :func:`sim.ensemble.choose_batch_size` after timing one run.
        command: the command line to record; default ``sys.argv``.

    Returns:
        The :class:`SweepResult`; ``indices.parquet`` and ``convergence.parquet`` are in ``out_dir``.

    Raises:
        ScenarioError: the scenario file is missing or invalid.
        SweepError: bad arguments (unknown parameter, n not a power of 2 for sobol, ...), a new sweep in a
            folder that holds a batch, or a resume that does not match the batch.
        IncompleteSweepError: runs failed and the method needs the full design.
        StoreError: the batch folder cannot be written.
    """
    path = Path(scenario_path)
    scenario = load_scenario(path)
    text = scenario_text(path)
    out = Path(out_dir)
    try:
        if root_seed is not None:
            root_seed = check_root_seed(root_seed)
        if resolution is not None:
            resolution = check_resolution(resolution)
    except EnsembleError as exc:
        raise SweepError(str(exc)) from None
    if method is not None and method not in sa.METHODS:
        raise SweepError(f"method {method!r} is not known; use one of: {', '.join(sa.METHODS)}")
    if seed_mode is not None and seed_mode not in SEED_MODES:
        raise SweepError(f"seed_mode {seed_mode!r} is not known; use one of: {', '.join(SEED_MODES)}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise SweepError(f"batch_size={batch_size!r} is not allowed: give a whole number >= 1")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int | np.integer)):
        raise SweepError(f"n={n!r} is not allowed: give a whole number")
    _check_executor(executor, workers, scheduler)

    if resume:
        if not (out / MANIFEST_FILE).is_file():
            raise SweepError(f"{out}: no sweep to resume ({MANIFEST_FILE} is missing); start one without resume")
        store = BatchStore.open(out)
        problem = None
        if params is not None or kinds is not None or groups is not None:
            problem = _build_problem(_select_parameters(scenario, params, kinds or ("uncertainty",)), groups)
        _check_resume(
            store,
            {
                "scenario_hash": text_hash(text),
                "method": method,
                "n": None if n is None else int(n),
                "root_seed": root_seed,
                "seed_mode": seed_mode,
                "resolution": resolution,
                "calc_second_order": calc_second_order,
                "problem": problem,
            },
        )
    else:
        if method is None or n is None:
            raise SweepError("method and n are required to start a sweep (--method M --n N)")
        if (out / MANIFEST_FILE).exists():
            raise SweepError(f"{out} already holds a batch; resume it (--resume) or choose another folder")
        if calc_second_order and method != "sobol":
            raise SweepError(f"second-order indices are a sobol option; method {method} has none")
        root_seed = 1 if root_seed is None else root_seed
        seed_mode = seed_mode or "common"
        second = bool(calc_second_order) if method == "sobol" else None
        options = {"calc_second_order": second} if method == "sobol" else {}
        res = resolution if resolution is not None else check_resolution(scenario.parameter_values()["resolution"])
        problem = _build_problem(_select_parameters(scenario, params, kinds or ("uncertainty",)), groups)
        try:
            X = sa.sample(method, problem, int(n), root_seed, **options)
        except ValueError as exc:
            raise SweepError(str(exc)) from None
        design = pd.DataFrame(X, columns=problem["names"])
        design.insert(0, "run_id", np.arange(len(X), dtype=np.int64))
        if isinstance(executor, Executor):
            ex_info = executor.describe()
        else:
            n_workers = workers or (default_workers() if executor == "local" else 2)
            ex_info = {"name": executor, "workers": n_workers, "scheduler": scheduler}
        manifest = {
            "kind": "sweep",
            "scenario_text": text,
            "scenario_name": scenario.name,
            "scenario_file": str(path),
            "base_year": scenario.base_year,
            "horizon": scenario.horizon,
            "root_seed": root_seed,
            "n_runs": len(X),
            "resolution": res,
            "method": method,
            "n": int(n),
            "calc_second_order": second,
            "problem": _normalised(problem),
            "parameters": list(problem["names"]),
            "seed_mode": seed_mode,
            "run_seed": (
                f"SeedSequence(entropy=root_seed, spawn_key=({COMMON_SEED_RUN_ID},)) for every run"
                if seed_mode == "common"
                else "SeedSequence(entropy=root_seed, spawn_key=(run_id,))"
            ),
            "outputs": list(OUTPUTS),
            "executor": ex_info,
            "command": command if command is not None else shlex.join(sys.argv),
        }
        store = BatchStore(out).create(manifest, design)

    m = store.manifest
    pending = sorted(store.pending_run_ids())
    t0 = time.perf_counter()
    if pending:
        _execute(store, pending, m["seed_mode"], executor, workers, scheduler, batch_size, progress)
    run_seconds = time.perf_counter() - t0
    store.finalize()
    result = analyze_sweep(store)
    result.runs_executed = len(pending)
    result.run_seconds = run_seconds
    return result


# ---------------------------------------------------------------------------------------------- analysis


def sweep_outputs(summary: pd.DataFrame, horizon: int) -> dict[str, np.ndarray]:
    """The analysed outputs from summary rows (one per run, in row order).

    Args:
        summary: rows with ``peak_year``, ``peaked``, ``peak_mt``, ``cumulative_mt`` and
            ``emissions_2030_mt``; a row whose values are missing (a failed run) gives NaN everywhere.
        horizon: last simulated year; censored peak years become ``horizon + 1``.

    Returns:
        ``{output: float array}`` for every name in :data:`OUTPUTS`.
    """
    done = summary["peaked"].notna().to_numpy()
    peaked = np.zeros(len(summary), dtype=bool)
    peaked[done] = summary["peaked"][done].astype(bool).to_numpy()
    years = summary["peak_year"].to_numpy(dtype=float)
    peak_year = np.full(len(summary), np.nan)
    peak_year[done] = sa.peak_year_output(years[done], peaked[done], horizon)
    by_target = np.where(done, (peaked & (np.nan_to_num(years, nan=np.inf) <= PEAK_TARGET_YEAR)).astype(float), np.nan)
    return {
        "peak_year": peak_year,
        "peak_mt": summary["peak_mt"].to_numpy(dtype=float),
        "cumulative_mt": summary["cumulative_mt"].to_numpy(dtype=float),
        "emissions_2030_mt": summary[f"emissions_{PEAK_TARGET_YEAR}_mt"].to_numpy(dtype=float),
        "peaked_by_2030": by_target,
    }


def _with_labels(table: pd.DataFrame, method: str, n: int) -> pd.DataFrame:
    table = table.copy()
    table["method"] = pd.Series([method] * len(table), dtype="string", index=table.index)
    table["n"] = np.full(len(table), int(n), dtype=np.int64)
    return table


def _empty_table(columns: Sequence[str]) -> pd.DataFrame:
    """A table with no rows but the right columns and dtypes, so readers need no special case."""
    dtypes = {"value": float, "conf": float, "ci_width": float, "n": "int64", "n_base": "int64", "n_runs": "int64"}
    return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, "string")) for c in columns})


@contextlib.contextmanager
def _numeric_warnings_as_notes(notes: list[str], what: str) -> Iterator[None]:
    """Turn NumPy's numeric RuntimeWarnings inside an estimator into a note on the result.

    They arise when a bootstrap resample of a sparse output (a 0/1 indicator with few ones, a mostly
    censored peak year) happens to have no variance, so that resample's index is 0/0. The estimate from
    the full sample is still valid; its confidence interval is not, and the reader of the table must
    know, which a warning on stderr (or an error under ``-W error``) does not tell them. Other warnings
    pass through unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[str] = set()
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, RuntimeWarning):
            if text not in seen:
                seen.add(text)
                notes.append(
                    f"{what}: NumPy warned '{text}' inside the estimator (a bootstrap resample without variance); "
                    "treat its confidence interval as unreliable"
                )
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _convergence_for(
    method: str, problem: dict, X: np.ndarray, y: np.ndarray, seed: int, output: str, kw: dict, notes: list[str]
) -> list[pd.DataFrame]:
    """Re-analyse N/4, N/2 and N one prefix at a time, so that one unusable prefix (too small for a power of
    2, or constant) is noted and skipped instead of losing the whole check."""
    tables = []
    for fraction in CONVERGENCE_FRACTIONS:
        try:
            with _numeric_warnings_as_notes(notes, f"convergence of {output} at {fraction:g} of the design"):
                table = sa.convergence(method, problem, X, y, seed, fractions=(fraction,), output=output, **kw)
            tables.append(table)
        except ValueError as exc:
            notes.append(f"convergence of {output} at {fraction:g} of the design skipped: {exc}")
    return tables


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    """Atomic write (temporary name, then rename), so readers never see half a table."""
    tmp = path.with_name(f"{TEMP_PREFIX}{path.name}{TEMP_SUFFIX}")
    try:
        table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def analyze_sweep(store: BatchStore | str | Path, outputs: Sequence[str] = OUTPUTS) -> SweepResult:
    """Analyse a stored sweep and write ``indices.parquet`` and ``convergence.parquet``.

    Needs no model runs, so it can re-analyse a finished batch (another output list, after a resume).

    Args:
        store: the batch (or its folder) written by :func:`run_sweep`.
        outputs: which of :data:`OUTPUTS` to analyse.

    Returns:
        A :class:`SweepResult` (``runs_executed`` 0).

    Raises:
        SweepError: the folder is not a sweep, or an output name is unknown.
        IncompleteSweepError: runs failed and the method (sobol, morris, fast) needs the full design.
    """
    store = store if isinstance(store, BatchStore) else BatchStore.open(store)
    m = store.manifest
    if m.get("kind") != "sweep":
        raise SweepError(f"{store.path} holds an ensemble, not a sweep")
    unknown = [o for o in outputs if o not in OUTPUTS]
    if unknown:
        raise SweepError(f"unknown outputs {unknown}; use some of: {', '.join(OUTPUTS)}")
    method, n, seed, problem = str(m["method"]), int(m["n"]), int(m["root_seed"]), dict(m["problem"])
    horizon = int(m["horizon"])
    design = store.read_params().sort_values("run_id", kind="stable").reset_index(drop=True)
    X = design[problem["names"]].to_numpy(dtype=float)
    summary = design[["run_id"]].merge(store.read_summary(), on="run_id", how="left")
    failed = sorted(int(i) for i in store.pending_run_ids())
    notes: list[str] = []
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (", ..." if len(failed) > 10 else "")
        where = store.path / FAILURES_FILE
        if method in FULL_DESIGN_METHODS:
            raise IncompleteSweepError(
                f"{len(failed)} of {len(design)} runs have no result (run_id {shown}); {method} needs every run "
                f"of its design, so no indices were computed. The errors are in {where}; fix the cause and rerun "
                "with --resume (resume=True) to run only these",
                store,
                failed,
            )
        notes.append(
            f"{len(failed)} of {len(design)} runs failed (run_id {shown}; errors in {where}) and were dropped; "
            f"{method} analyses the rest, unbiased only if the failures do not depend on the inputs"
        )
    Y = sweep_outputs(summary, horizon)
    Y = {o: Y[o] for o in outputs}
    done = summary["peaked"].notna().to_numpy()
    if "peak_year" in Y:
        n_censored = int((Y["peak_year"][done] == horizon + 1).sum())
        notes.append(
            f"peak_year: {n_censored} of {int(done.sum())} runs had not peaked by {horizon}; they count as "
            f"{horizon + 1} (censored)"
        )
    kw: dict[str, Any] = {}
    if method == "sobol":
        kw["calc_second_order"] = bool(m.get("calc_second_order"))
    if failed:
        kw["drop_nonfinite"] = True

    raw: dict[str, ResultDict] = {}
    index_tables, convergence_tables = [], []
    for name, y in Y.items():
        finite = y[np.isfinite(y)]
        if finite.size == 0 or np.ptp(finite) == 0:
            value = f"{finite[0]:g}" if finite.size else "no value"
            notes.append(f"{name} is constant ({value}) across the design: no variance to apportion, not analysed")
            continue
        try:
            with _numeric_warnings_as_notes(notes, name):
                raw[name] = sa.analyze_raw(method, problem, X, y, seed, output=name, **kw)
        except ValueError as exc:
            raise SweepError(f"cannot analyse {name}: {exc}") from None
        index_tables.append(sa.tidy_indices(method, problem, raw[name], name))
        if method != "fast":
            convergence_tables += _convergence_for(method, problem, X, y, seed, name, kw, notes)
    if method == "fast":
        notes.append("fast: no convergence check (its periodic design has no valid prefix)")

    if index_tables:
        indices = _with_labels(pd.concat(index_tables, ignore_index=True), method, n)
    else:
        indices = _empty_table(_INDEX_COLUMNS)
    if convergence_tables:
        conv = _with_labels(pd.concat(convergence_tables, ignore_index=True), method, n)
        conv["ci_width"] = 2.0 * conv["conf"]
    else:
        conv = _empty_table(["n_base", "n_runs", *_INDEX_COLUMNS, "ci_width"])
    indices_path, convergence_path = store.path / INDICES_FILE, store.path / CONVERGENCE_FILE
    _write_parquet(indices, indices_path)
    _write_parquet(conv, convergence_path)
    return SweepResult(
        store=store,
        method=method,
        n=n,
        problem=problem,
        seed=seed,
        seed_mode=str(m.get("seed_mode", "common")),
        X=X,
        Y=Y,
        raw=raw,
        indices=indices,
        convergence=conv,
        run_count=len(design),
        failed_run_ids=failed,
        notes=notes,
        indices_path=indices_path,
        convergence_path=convergence_path,
    )


# ---------------------------------------------------------------------------------------------- reporting


def indices_table(indices: pd.DataFrame, output: str, method: str | None = None) -> pd.DataFrame:
    """One output's indices as a wide table, one row per parameter, sorted by :data:`RANK_INDEX`.

    Args:
        indices: the tidy table (``SweepResult.indices`` or ``indices.parquet``).
        output: which output.
        method: the method (default: the table's ``method`` column).

    Returns:
        Columns ``parameter``, then per index its value and, where the method gives one, ``<index>_conf``
        (95% CI half-width). Second-order rows are left out.
    """
    rows = indices[(indices["output"] == output) & indices["parameter_2"].isna()]
    if rows.empty:
        return pd.DataFrame({"parameter": []})
    method = method or str(rows["method"].iloc[0])
    order = list(dict.fromkeys(rows["index"].tolist()))
    wide = pd.DataFrame({"parameter": list(dict.fromkeys(rows["parameter"].tolist()))}).set_index("parameter")
    for index in order:
        part = rows[rows["index"] == index].set_index("parameter")
        wide[index] = part["value"].astype(float)
        if part["conf"].notna().any():
            wide[f"{index}_conf"] = part["conf"].astype(float)
    rank = RANK_INDEX.get(method, order[0])
    key = rank if rank in wide.columns else order[0]
    wide = wide.sort_values(key, ascending=False, kind="stable", key=lambda s: s.fillna(-math.inf))
    return wide.reset_index()
