"""Scenario discovery and target-search results for the app's Discovery tab (plain Python, no Streamlit).

``citypeak discover`` (``sim.discovery.discover``) writes a batch folder with ``boxes.parquet``: one row
per (box, restricted lever) with the box's limits, coverage, density and mass. ``citypeak target``
(``sim.discovery.target_search``) writes ``target.json`` (the cheapest package found, its probability
with a 95% Wilson interval, its cost and the runs spent) and ``candidates.parquet`` (every package it
evaluated). This module finds such folders, reads them into small records the tab draws, turns a box into
a lever package the sidebar can load, and runs a small discovery on the app's process pool.

Which side of a lever a box restricts is read against the values the discovery actually sampled
(``params.parquet`` of the batch), as ``sim.discovery.prim_boxes`` does: PRIM starts from the sampled
minimum and maximum, so a limit equal to one of them is no restriction. Without the batch's params
(a copied ``boxes.parquet``), the lever's sampling range is used with a tolerance of
:data:`RANGE_TOLERANCE` of its span, wider than the gap a Latin hypercube of 50 or more runs leaves at
each end.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim import registry
from sim.executors import IN_FLIGHT_PER_WORKER, Executor
from ui.runner import AppPool

if TYPE_CHECKING:
    from sim.discovery import DiscoveryResult

BOXES_FILE = "boxes.parquet"
TARGET_FILE = "target.json"
CANDIDATES_FILE = "candidates.parquet"
BOX_COLUMNS = ("box", "lever", "low", "high", "coverage", "density", "mass", "n_runs", "statement")
RANGE_TOLERANCE = 0.025
"""Share of a lever's sampling range within which a box limit counts as the range's end (no restriction),
used only when the batch's sampled values are not available."""

_SKIP_DIRS = {"yearly", "summary"}
_TARGET_RE = re.compile(r"peak by (\d{4}) with probability >= (\d+(?:\.\d+)?)%")


# ---------------------------------------------------------------------------------------------- finding


def find_results(roots: Iterable[Path], max_depth: int = 3) -> list[Path]:
    """Folders under ``roots`` (at most ``max_depth`` levels down) holding ``boxes.parquet`` or ``target.json``.

    The shard folders of a batch (``yearly/``, ``summary/``) and the candidate batches of a target search
    are not entered: they can hold thousands of files and never hold results of their own.
    """
    found: dict[Path, None] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        base = len(root.resolve().parts)
        for folder, dirs, files in os.walk(root.resolve()):
            depth = len(Path(folder).parts) - base
            dirs[:] = sorted(
                d for d in dirs if d not in _SKIP_DIRS and not d.startswith(("candidate-", ".")) and depth < max_depth
            )
            if BOXES_FILE in files or TARGET_FILE in files:
                found[Path(folder)] = None
    return list(found)


def has_results(folder: Path) -> bool:
    """Whether ``folder`` holds a discovery (``boxes.parquet``) or a target search (``target.json``)."""
    return folder.is_dir() and ((folder / BOXES_FILE).is_file() or (folder / TARGET_FILE).is_file())


# ---------------------------------------------------------------------------------------------- records


@dataclass
class Condition:
    """One lever's limits in a box; ``lower`` / ``upper`` say which of them restrict it."""

    lever: str
    low: float
    high: float
    lower: bool
    upper: bool


@dataclass
class BoxView:
    """A PRIM box as the tab shows it."""

    box: int
    coverage: float
    density: float
    mass: float
    n_runs: int
    statement: str
    conditions: list[Condition]


@dataclass
class TargetView:
    """A target search's outcome (``target.json``) and the packages it evaluated."""

    target_text: str
    peak_by: int | None
    probability_target: float | None
    package: dict[str, float] | None
    probability: float | None
    ci: tuple[float, float] | None
    cost_mcny: float | None
    runs_spent: int
    members: int | None
    seconds: float | None
    ranges: dict[str, tuple[float, float]]
    candidates: pd.DataFrame | None = None


@dataclass
class DiscoveryFolder:
    """What a result folder holds; ``boxes`` is None without ``boxes.parquet``, ``target`` without
    ``target.json``."""

    path: Path
    boxes: list[BoxView] | None = None
    target: TargetView | None = None
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    peak_by: int | None = None
    n_runs: int | None = None
    resolution: float | None = None
    scenario_name: str | None = None


def lever_range(name: str, ranges: Mapping[str, Sequence[float]] | None = None) -> tuple[float, float]:
    """The range a lever was searched over: from the result's manifest, else the discovery default
    (``sim.discovery.DEFAULT_LEVER_RANGES``), else the registry bounds."""
    from sim.discovery import DEFAULT_LEVER_RANGES

    if ranges and name in ranges:
        lo, hi = ranges[name]
        return float(lo), float(hi)
    if name in DEFAULT_LEVER_RANGES:
        return DEFAULT_LEVER_RANGES[name]
    p = registry.get(name)
    return float(p.low), float(p.high)


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def _ranges(raw: Any) -> dict[str, tuple[float, float]]:
    out = {}
    if isinstance(raw, Mapping):
        for k, v in raw.items():
            if isinstance(v, Sequence) and len(v) == 2:
                out[str(k)] = (float(v[0]), float(v[1]))
    return out


def _sampled_bounds(folder: Path, names: Sequence[str]) -> dict[str, tuple[float, float]]:
    file = folder / "params.parquet"
    if not file.is_file():
        return {}
    try:
        params = pd.read_parquet(file, columns=[n for n in names])
    except (OSError, ValueError, KeyError):
        return {}
    return {n: (float(params[n].min()), float(params[n].max())) for n in names if n in params}


def _boxes(table: pd.DataFrame, folder: Path, ranges: Mapping[str, tuple[float, float]]) -> list[BoxView]:
    missing = [c for c in BOX_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{BOXES_FILE} lacks column(s) {missing}; it has {list(table.columns)}")
    names = list(dict.fromkeys(table["lever"].astype(str)))
    sampled = _sampled_bounds(folder, names)
    out = []
    for box_id, rows in table.groupby("box", sort=True):
        conditions = []
        for r in rows.itertuples(index=False):
            name, lo, hi = str(r.lever), float(r.low), float(r.high)
            if name in sampled:
                s_lo, s_hi = sampled[name]
                tol_lo, tol_hi = 1e-9 * max(1.0, abs(s_lo)), 1e-9 * max(1.0, abs(s_hi))
            else:
                try:
                    s_lo, s_hi = lever_range(name, ranges)
                except KeyError:
                    s_lo, s_hi = lo, hi
                tol_lo = tol_hi = RANGE_TOLERANCE * (s_hi - s_lo)
            lower, upper = lo > s_lo + tol_lo, hi < s_hi - tol_hi
            if not (lower or upper):  # PRIM restricted it, by less than the tolerance: take the nearer cut
                lower, upper = lo - s_lo >= s_hi - hi, lo - s_lo < s_hi - hi
            conditions.append(Condition(name, lo, hi, lower, upper))
        first = rows.iloc[0]
        out.append(
            BoxView(
                int(box_id),
                float(first["coverage"]),
                float(first["density"]),
                float(first["mass"]),
                int(first["n_runs"]),
                str(first["statement"]),
                conditions,
            )
        )
    return out


def parse_target_text(text: str) -> tuple[int, float] | None:
    """``"peak by 2030 with probability >= 80%"`` -> ``(2030, 0.8)`` (None for another form)."""
    m = _TARGET_RE.search(text or "")
    return (int(m.group(1)), float(m.group(2)) / 100) if m else None


def _target(folder: Path) -> TargetView:
    data = _read_json(folder / TARGET_FILE)
    text = str(data.get("target", ""))
    parsed = parse_target_text(text)
    best = data.get("best")
    if best is not None and not isinstance(best, Mapping):
        raise ValueError(f"{TARGET_FILE}: 'best' must be an object or null")
    candidates = None
    if (folder / CANDIDATES_FILE).is_file():
        candidates = pd.read_parquet(folder / CANDIDATES_FILE)
    ci = best.get("ci") if best else None
    return TargetView(
        target_text=text,
        peak_by=parsed[0] if parsed else None,
        probability_target=parsed[1] if parsed else None,
        package={str(k): float(v) for k, v in (best.get("package") or {}).items()} if best else None,
        probability=float(best["probability"]) if best and best.get("probability") is not None else None,
        ci=(float(ci[0]), float(ci[1])) if ci else None,
        cost_mcny=float(best["cost_mcny"]) if best and best.get("cost_mcny") is not None else None,
        runs_spent=int(data.get("runs_spent") or 0),
        members=int(data["members"]) if data.get("members") is not None else None,
        seconds=float(data["seconds"]) if data.get("seconds") is not None else None,
        ranges=_ranges(data.get("levers")),
        candidates=candidates,
    )


def load(folder: Path) -> DiscoveryFolder:
    """Read a result folder.

    Raises:
        ValueError: a file is there but unreadable (bad JSON, missing columns), or neither file is there.
        OSError: the files cannot be read.
    """
    folder = Path(folder)
    if not has_results(folder):
        raise ValueError(f"{folder} holds neither {BOXES_FILE} nor {TARGET_FILE}")
    out = DiscoveryFolder(folder)
    manifest_file = folder / "manifest.json"
    if manifest_file.is_file():
        try:
            manifest = _read_json(manifest_file)
        except (OSError, ValueError):
            manifest = {}
        out.ranges = _ranges(manifest.get("levers"))
        out.peak_by = int(manifest["peak_by"]) if manifest.get("peak_by") is not None else None
        out.n_runs = int(manifest["n_runs"]) if manifest.get("n_runs") is not None else None
        out.resolution = float(manifest["resolution"]) if manifest.get("resolution") is not None else None
        out.scenario_name = manifest.get("scenario_name")
    if (folder / BOXES_FILE).is_file():
        try:
            table = pd.read_parquet(folder / BOXES_FILE)
        except Exception as exc:  # pyarrow raises its own types for a damaged file
            raise ValueError(f"{BOXES_FILE}: {exc}") from None
        out.boxes = _boxes(table, folder, out.ranges)
        if out.peak_by is None and len(table):
            m = re.search(r"peaks by (\d{4})", str(table["statement"].iloc[0]))
            out.peak_by = int(m.group(1)) if m else None
    if (folder / TARGET_FILE).is_file():
        try:
            out.target = _target(folder)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{TARGET_FILE}: {exc}") from None
        if out.scenario_name is None:
            cand = folder / "candidate-001" / "manifest.json"
            if cand.is_file():
                with contextlib.suppress(OSError, ValueError):
                    out.scenario_name = _read_json(cand).get("scenario_name")
    return out


# ---------------------------------------------------------------------------------------------- packages


def ambitious_direction(name: str, rng: tuple[float, float]) -> int:
    """+1 when more ambition means a higher value of the lever, -1 when lower (e.g. a phase-out year).

    As in ``sim.discovery.target_search``: the ambitious end of the range is the one farther from current
    policy (the registry default, clipped to the range).
    """
    lo, hi = rng
    neutral = min(max(registry.get(name).default, lo), hi)
    return -1 if abs(lo - neutral) > abs(hi - neutral) else 1


def _on_grid(p: registry.Parameter, value: float, step: float, rounding: Callable[[float], float]) -> float:
    k = rounding((value - p.low) / step)
    return min(max(round(p.low + k * step, 10), p.low), p.high)


def box_package(box: BoxView, ranges: Mapping[str, Sequence[float]] | None = None) -> dict[str, float]:
    """The lever values "Load into levers" sets for a box: each restricted lever at the box's threshold on
    the ambitious side of current policy.

    For a lever where more is more ambitious (a carbon price), that is the box's lower limit when it is
    restricted ("carbon price >= 150" gives 150), else its upper limit; for a lever where less is more
    ambitious (a phase-out year), the upper limit when restricted ("phase-out <= 2035" gives 2035), else
    the lower. So the package is the least ambitious setting of each lever that the box statement allows.
    Values are moved onto the slider's grid towards the inside of the box (whole years for year levers).
    Levers the registry does not know are left out.
    """
    from ui.state import slider_step

    out: dict[str, float] = {}
    for c in box.conditions:
        try:
            p = registry.get(c.lever)
            rng = lever_range(c.lever, ranges)
        except KeyError:
            continue
        up = ambitious_direction(c.lever, rng) > 0
        use_low = (up and c.lower) or (not up and not c.upper)
        step = slider_step(p)
        if use_low:
            value = _on_grid(p, c.low, step, lambda x: math.ceil(x - 1e-9))
        else:
            value = _on_grid(p, c.high, step, lambda x: math.floor(x + 1e-9))
        if not c.low - 1e-9 <= value <= c.high + 1e-9:  # a box narrower than one slider step
            value = min(max(c.low if use_low else c.high, p.low), p.high)
            value = float(round(value)) if p.integer else value
        out[c.lever] = float(value)
    return out


def shown_limits(c: Condition) -> tuple[float, float]:
    """A condition's limits as a statement shows them (:meth:`sim.registry.Parameter.limits_inside`: a
    whole-number lever's are the whole numbers inside the box); a lever the registry does not know keeps its own."""
    try:
        p = registry.get(c.lever)
    except KeyError:
        return c.low, c.high
    return p.limits_inside(c.low, c.high)


def format_value(name: str, value: float) -> str:
    """A lever value for a statement: years and whole-number levers as integers, large amounts with
    thousands separators, others with three significant digits."""
    try:
        p = registry.get(name)
    except KeyError:
        return f"{value:.4g}"
    if p.integer or p.unit == "year":
        return f"{round(value)}"
    if max(abs(p.high), abs(value)) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


# ---------------------------------------------------------------------------------------------- running


class PoolExecutor(Executor):
    """``sim.executors.Executor`` over the app's persistent pool, reporting each finished task.

    ``sim.discovery.discover`` runs its ensemble through ``sim.ensemble.run_pending``, which takes any
    executor; handing it this one reuses the app's warm workers instead of starting a second pool, and
    keeps at most ``2 x workers`` tasks in flight so other sessions' ensembles interleave with it.

    Args:
        pool: the app's pool (inline when it has one worker).
        on_result: called with each task's result as it arrives, in the caller's thread.
        on_done: called once every task has finished.
    """

    name = "app-pool"

    def __init__(
        self,
        pool: AppPool,
        on_result: Callable[[Any], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        self.pool = pool
        self.on_result = on_result
        self.on_done = on_done

    @property
    def n_workers(self) -> int:
        return self.pool.workers

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        todo = iter(tasks)
        running = {self.pool.submit(fn, t) for t in islice(todo, IN_FLIGHT_PER_WORKER * self.pool.workers)}
        try:
            while running:
                done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    result = fut.result()
                    for t in islice(todo, 1):
                        running.add(self.pool.submit(fn, t))
                    if self.on_result is not None:
                        self.on_result(result)
                    yield result
            if self.on_done is not None:
                self.on_done()
        finally:
            for fut in running:
                fut.cancel()


def new_run_folder(root: Path) -> Path:
    """A fresh folder name for an in-app discovery under ``root/app/`` (a temporary folder when ``root``
    cannot be written)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        parent = Path(root) / "app"
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".probe-"):
            pass
    except OSError:
        parent = Path(tempfile.mkdtemp(prefix="citypeak-discovery-"))
    for k in range(1000):
        path = parent / (f"discovery-{stamp}" + (f"-{k}" if k else ""))
        if not path.exists():
            return path
    raise OSError(f"no free folder name under {parent}")


def run_discovery(
    text: str,
    levers: Sequence[str],
    n_runs: int,
    out_dir: Path,
    root_seed: int,
    resolution: float,
    pool: AppPool,
    peak_by: int = 2030,
    on_runs: Callable[[int], None] | None = None,
) -> DiscoveryResult:
    """``sim.discovery.discover`` on the scenario ``text`` (the app's current settings) over ``levers``.

    The levers are sampled over their discovery ranges (``sim.discovery.parse_lever_ranges``) together
    with the scenario's uncertainties; every other lever keeps its value in ``text``. ``on_runs`` gets the
    number of runs finished so far after each task, and ``n_runs`` once they all are (PRIM then runs).

    Returns:
        The ``sim.discovery.DiscoveryResult`` (``boxes.parquet`` is in ``out_dir``).
    """
    from sim.discovery import discover

    done = 0

    def count(result: Any) -> None:
        nonlocal done
        _, summary, failures = result
        done += len(summary) + len(failures)
        if on_runs is not None:
            on_runs(min(done, int(n_runs) - 1))

    def finished() -> None:
        if on_runs is not None:
            on_runs(int(n_runs))

    with tempfile.TemporaryDirectory(prefix="citypeak-discovery-") as tmp:
        scenario = Path(tmp) / "scenario.yaml"
        scenario.write_text(text, encoding="utf-8")
        return discover(
            scenario,
            int(n_runs),
            out_dir,
            levers=list(levers),
            peak_by=int(peak_by),
            root_seed=int(root_seed),
            resolution=float(resolution),
            executor=PoolExecutor(pool, count, finished),  # type: ignore[arg-type]  # run_pending takes an Executor
            progress=False,
        )
