"""Scenario discovery and target search: which lever packages make the city peak in time, and the cheapest.

Scenario discovery (Bryant and Lempert 2010) runs an ensemble that varies levers and uncertainties
together, marks the runs where the outcome of interest holds (e.g. "peaked by 2030"), and finds boxes in
lever space where it mostly holds with PRIM. We use EMA Workbench's maintained PRIM (``ema_workbench.
analysis.prim``) rather than writing our own: it has the peeling and pasting of Friedman and Fisher (1999)
and the lenient objective functions used in the scenario-discovery literature. A box is reported as plain
statements with its coverage (share of all runs where the outcome holds that fall in the box) and density
(share of runs in the box where it holds).

Target search answers "what is the cheapest package that meets the target with probability >= p?". The
probability of a package is estimated on a fixed sample of uncertainties and seeds (common random numbers,
so two packages are compared on the same futures); its cost is the mean over those runs of the fiscal cost
(subsidies) plus the private abatement cost the model books (refinery options, retrofits, CCS). The search
is a constrained compass (pattern) search over the chosen levers, a derivative-free method that only needs
the feasibility and the cost of a candidate: starting from a feasible package it tries moving one lever at
a time towards its current-policy value (lower ambition, lower cost), keeps a move that stays feasible
and costs less, and halves the step when no move helps. The probability is a step function of the levers
with a finite sample, which rules out gradient methods; the compass search needs no smoothness.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim import registry
from sim.ensemble import EnsembleError, sample_parameters
from sim.stats import wilson_interval

DEFAULT_LEVER_RANGES: dict[str, tuple[float, float]] = {
    "carbon_price_2030_cny_per_t": (96.0, 400.0),
    "renewable_capacity_target_gw_2030": (6.5, 20.0),
    "coal_phase_out_year": (2030.0, 2060.0),
    "ccus_cluster_mt_2030": (0.0, 12.0),
    "ccus_power_demo_year": (2027.0, 2040.0),
    "oilfield_steam_electrification_share": (0.0, 1.0),
    "efficiency_standard_extra_pct_per_yr": (0.0, 2.0),
    "industry_electrification_extra_pct_pts_per_yr": (0.0, 2.0),
    "ev_subsidy_cny_per_vehicle": (0.0, 30000.0),
    "bus_electric_sales_share": (0.0, 1.0),
}
"""Levers and the realistic ranges discovery samples by default (narrower than the registry's validation
bounds, which also admit 'no policy' sentinels such as 2100)."""


class DiscoveryError(EnsembleError):
    """Bad input to discovery or target search (CLI exit code 2)."""


def parse_lever_ranges(items: Sequence[str] | None) -> dict[str, tuple[float, float]]:
    """``["name=lo:hi", "name"]`` -> ranges; a bare name takes its default range (or the registry bounds)."""
    if not items:
        return dict(DEFAULT_LEVER_RANGES)
    out = {}
    for item in items:
        name, _, rng = item.partition("=")
        name = name.strip()
        try:
            p = registry.get(name)
        except KeyError as e:
            raise DiscoveryError(f"--lever: {e.args[0]}") from None
        if p.kind != "lever":
            raise DiscoveryError(f"--lever {name}: is a {p.kind}, not a lever")
        if rng:
            try:
                lo, hi = (float(x) for x in rng.split(":"))
            except ValueError:
                raise DiscoveryError(f"--lever {item!r}: expected NAME=LOW:HIGH") from None
        else:
            lo, hi = DEFAULT_LEVER_RANGES.get(name, (p.low, p.high))
        if not (p.low <= lo < hi <= p.high):
            raise DiscoveryError(
                f"--lever {name}: range {lo:g}:{hi:g} must satisfy {p.low:g} <= low < high <= {p.high:g}{p.unit_suffix}"
            )
        out[name] = (lo, hi)
    return out


def _lever_parameters(ranges: Mapping[str, tuple[float, float]]) -> list[registry.Parameter]:
    """Registry levers with their sampling range narrowed to ``ranges`` (uniform)."""
    out = []
    for name, (lo, hi) in ranges.items():
        p = registry.get(name)
        mid = min(max(p.default, lo), hi)
        out.append(
            registry.Parameter(
                p.name,
                p.kind,
                p.unit,
                mid,
                lo,
                hi,
                "uniform",
                p.label_en,
                p.label_zh,
                p.group,
                p.source,
                integer=p.integer,
                extra=p.extra,
            )
        )
    return out


def outcome_peaked_by(summary: pd.DataFrame, year: int) -> np.ndarray:
    """True where the run peaked (not censored) in or before ``year``."""
    return (summary["peaked"].astype(bool) & (summary["peak_year"] <= year)).to_numpy()


# ---------------------------------------------------------------------------------------------- running
def _run_design(
    scenario_path: Path,
    design: pd.DataFrame,
    out_dir: Path,
    root_seed: int,
    *,
    kind: str,
    resolution: float | None,
    executor: str,
    workers: int | None,
    scheduler: str | None,
    progress: bool,
    extra_manifest: Mapping | None = None,
):
    """Run every row of ``design`` (run_id + parameter columns) into a new batch store and return the store.

    Run ``k`` uses the random streams of ``run_seed(root_seed, k)``: designs that share run_ids share
    futures (common random numbers across the packages of a target search).
    """
    from sim.ensemble import run_pending
    from sim.scenario import load_scenario, scenario_text
    from sim.store import BatchStore

    scenario = load_scenario(scenario_path)
    text = scenario_text(scenario_path)
    res = float(resolution if resolution is not None else scenario.parameter_values()["resolution"])
    manifest = {
        "kind": kind,
        "scenario_text": text,
        "scenario_name": scenario.name,
        "root_seed": int(root_seed),
        "n_runs": int(len(design)),
        "resolution": res,
        "parameters": [c for c in design.columns if c != "run_id"],
        **(extra_manifest or {}),
    }
    store = BatchStore(out_dir).create(manifest, design, overwrite=False)
    run_pending(store, text, int(root_seed), res, executor, workers, scheduler, None, progress)
    store.finalize()
    return store


# ---------------------------------------------------------------------------------------------- discovery
@dataclass
class Box:
    """One PRIM box, as limits on the levers it restricts."""

    limits: dict[str, tuple[float, float]]
    coverage: float
    density: float
    mass: float
    n_runs: int
    statements: list[str] = field(default_factory=list)

    def sentence(self, outcome_text: str) -> str:
        cond = " and ".join(self.statements) if self.statements else "any setting of the levers"
        return (
            f"{cond}: {outcome_text} in {self.density:.0%} of runs, covering {self.coverage:.0%} of such "
            f"runs ({self.n_runs} runs in the box)"
        )


def _statement(name: str, lo: float, hi: float, full: tuple[float, float]) -> str:
    """A box's limits on one lever in words, a whole-number lever's as the whole numbers inside the box
    (:meth:`sim.registry.Parameter.limits_inside`, as the app shows them)."""
    p = registry.get(name)
    lower = lo > full[0] + 1e-9 * max(1.0, abs(full[0]))
    upper = hi < full[1] - 1e-9 * max(1.0, abs(full[1]))
    lo, hi = p.limits_inside(lo, hi)
    fmt = (lambda v: f"{v:.0f}") if (p.integer or abs(full[1]) >= 100) else (lambda v: f"{v:.3g}")
    unit = p.unit_suffix
    if lower and upper:
        return f"{name} between {fmt(lo)} and {fmt(hi)}{unit}"
    if lower:
        return f"{name} >= {fmt(lo)}{unit}"
    return f"{name} <= {fmt(hi)}{unit}"


def prim_boxes(
    x: pd.DataFrame,
    y: np.ndarray,
    max_boxes: int = 3,
    min_coverage: float = 0.3,
    mass_min: float = 0.05,
    peel_alpha: float = 0.05,
) -> list[Box]:
    """Find up to ``max_boxes`` PRIM boxes; on each peeling trajectory pick the densest box that still
    covers ``min_coverage`` of the cases of interest (the usual coverage-density trade-off).

    EMA Workbench 3.0 calls pandas APIs that pandas 3.1 deprecates and warns about optional extras; those
    warnings are silenced inside this function only.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _prim_boxes(x, y, max_boxes, min_coverage, mass_min, peel_alpha)


def _prim_boxes(x, y, max_boxes, min_coverage, mass_min, peel_alpha) -> list[Box]:
    from ema_workbench.analysis import prim

    x = x.reset_index(drop=True).astype(float)
    y = np.asarray(y, dtype=bool)
    if y.sum() == 0:
        return []
    full = {c: (float(x[c].min()), float(x[c].max())) for c in x.columns}
    finder = prim.Prim(x, y, peel_alpha=peel_alpha, mass_min=mass_min)
    boxes = []
    for _ in range(max_boxes):
        box = finder.find_box()
        if box is None:
            break
        traj = box.peeling_trajectory
        ok = traj[traj["coverage"] >= min_coverage]
        if ok.empty:
            break
        i = int(ok.sort_values(["density", "coverage"], ascending=False).iloc[0]["id"])
        box.select(i)
        lims = box.box_lims[i]
        limits, statements = {}, []
        for c in x.columns:
            lo, hi = float(lims[c].iloc[0]), float(lims[c].iloc[1])
            if lo > full[c][0] or hi < full[c][1]:
                limits[c] = (lo, hi)
                statements.append(_statement(c, lo, hi, full[c]))
        row = traj.iloc[i]
        boxes.append(
            Box(limits, float(row["coverage"]), float(row["density"]), float(row["mass"]), int(row["n"]), statements)
        )
    return boxes


@dataclass
class DiscoveryResult:
    boxes: list[Box]
    design: pd.DataFrame
    outcome: np.ndarray
    outcome_text: str
    n_runs: int
    seconds: float
    out_dir: Path | None = None

    def report(self) -> str:
        share = float(self.outcome.mean()) if len(self.outcome) else 0.0
        lines = [f"{self.n_runs} runs ({self.seconds:.0f} s); {self.outcome_text} in {share:.0%} of all runs"]
        if not self.boxes:
            lines.append("no box found (the outcome is too rare or too common for PRIM to separate)")
        for k, b in enumerate(self.boxes, 1):
            lines.append(f"box {k}: {b.sentence(self.outcome_text)}")
        return "\n".join(lines)


def discover(
    scenario_path: str | Path,
    n_runs: int,
    out_dir: str | Path,
    levers: Sequence[str] | None = None,
    peak_by: int = 2030,
    root_seed: int = 1,
    resolution: float | None = None,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    max_boxes: int = 3,
    min_coverage: float = 0.3,
) -> DiscoveryResult:
    """Run a lever x uncertainty ensemble and find the lever boxes where the city peaks by ``peak_by``."""
    from sim.scenario import load_scenario

    if n_runs < 50:
        raise DiscoveryError(f"--runs {n_runs}: PRIM needs at least 50 runs (hundreds to thousands are usual)")
    t0 = time.perf_counter()
    scenario_path = Path(scenario_path)
    scenario = load_scenario(scenario_path)
    ranges = parse_lever_ranges(levers)
    uncertain = [p for p in scenario.uncertain_parameters() if p.name not in ranges]
    lever_design = sample_parameters(_lever_parameters(ranges), n_runs, root_seed + 7919, "lhs")
    unc_design = sample_parameters(uncertain, n_runs, root_seed, "lhs")
    design = lever_design.merge(unc_design, on="run_id")
    store = _run_design(
        scenario_path,
        design,
        Path(out_dir),
        root_seed,
        kind="discovery",
        resolution=resolution,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        extra_manifest={"levers": {k: list(v) for k, v in ranges.items()}, "peak_by": peak_by},
    )
    summary = store.read_summary().sort_values("run_id")
    x = design.set_index("run_id").loc[summary["run_id"], list(ranges)]
    y = outcome_peaked_by(summary, peak_by)
    boxes = prim_boxes(x, y, max_boxes=max_boxes, min_coverage=min_coverage)
    result = DiscoveryResult(
        boxes, design, y, f"peaks by {peak_by}", len(summary), time.perf_counter() - t0, Path(out_dir)
    )
    _write_boxes(Path(out_dir) / "boxes.parquet", boxes, result.outcome_text)
    return result


def _write_boxes(path: Path, boxes: list[Box], outcome_text: str) -> None:
    rows = []
    for k, b in enumerate(boxes, 1):
        for name, (lo, hi) in b.limits.items():
            rows.append(
                {
                    "box": k,
                    "lever": name,
                    "low": lo,
                    "high": hi,
                    "coverage": b.coverage,
                    "density": b.density,
                    "mass": b.mass,
                    "n_runs": b.n_runs,
                    "statement": b.sentence(outcome_text),
                }
            )
    df = pd.DataFrame(
        rows, columns=["box", "lever", "low", "high", "coverage", "density", "mass", "n_runs", "statement"]
    )
    tmp = path.with_name(f".tmp-{path.name}.partial")
    df.to_parquet(tmp, index=False)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------- target search
@dataclass
class Evaluation:
    package: dict[str, float]
    probability: float
    ci: tuple[float, float]
    cost_mcny: float
    feasible: bool


@dataclass
class TargetResult:
    best: Evaluation | None
    start: Evaluation
    history: list[Evaluation]
    runs_spent: int
    seconds: float
    target_text: str

    def report(self) -> str:
        lines = [
            f"target: {self.target_text}; {len(self.history)} packages evaluated, {self.runs_spent} runs, "
            f"{self.seconds:.0f} s"
        ]
        if self.best is None:
            lines.append("no package within the lever ranges meets the target")
            lines.append(
                f"the most ambitious package reaches P = {self.start.probability:.0%} "
                f"(95% CI {self.start.ci[0]:.0%}-{self.start.ci[1]:.0%})"
            )
            return "\n".join(lines)
        b = self.best
        lines.append(
            f"cheapest package found: cost {b.cost_mcny:,.0f} M CNY (fiscal + private, 2025-horizon, mean "
            f"over the sample), P = {b.probability:.0%} (95% CI {b.ci[0]:.0%}-{b.ci[1]:.0%})"
        )
        for k, v in b.package.items():
            p = registry.get(k)
            lines.append(f"  {k} = {v:g}{p.unit_suffix}")
        return "\n".join(lines)


def compass_search(
    evaluate: Callable[[dict[str, float]], Evaluation],
    start: dict[str, float],
    neutral: Mapping[str, float],
    max_evals: int = 40,
    min_step: float = 0.02,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[Evaluation | None, list[Evaluation]]:
    """Lower the cost of a feasible package one lever at a time while it stays feasible.

    A move takes lever ``k`` a step of ``step x (its range)`` towards its current-policy value ``neutral_k``
    (never past it). Levers are tried in turn; an accepted move (feasible and no dearer: ties go to the
    package closer to current policy) keeps the step; a sweep with no accepted move halves it, down to
    ``min_step``. Returns the best feasible evaluation (None
    when even the start is infeasible) and every evaluation made.
    """
    history = [evaluate(dict(start))]
    best = history[0] if history[0].feasible else None
    if best is None:
        return None, history
    span = {k: (ranges[k][1] - ranges[k][0]) if ranges else max(abs(start[k] - neutral[k]), 1e-12) for k in start}
    step = 0.5
    while step >= min_step and len(history) < max_evals:
        improved = False
        for k in start:
            if len(history) >= max_evals:
                break
            x = dict(best.package)
            gap = x[k] - neutral[k]
            if abs(gap) < 1e-12:
                continue
            x[k] = x[k] - np.sign(gap) * min(step * span[k], abs(gap))
            if registry.get(k).integer:
                x[k] = float(round(x[k]))
            if x[k] == best.package[k]:
                continue
            ev = evaluate(x)
            history.append(ev)
            # Ties go to the package closer to current policy: the same cost for less intervention.
            if ev.feasible and ev.cost_mcny <= best.cost_mcny + 1e-9 * max(1.0, abs(best.cost_mcny)):
                best, improved = ev, True
        if not improved:
            step /= 2
    return best, history


def target_search(
    scenario_path: str | Path,
    out_dir: str | Path,
    levers: Sequence[str] | None = None,
    peak_by: int = 2030,
    probability: float = 0.8,
    members: int = 40,
    root_seed: int = 1,
    start: Mapping[str, float] | None = None,
    resolution: float | None = None,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    max_evals: int = 30,
    progress: bool = False,
) -> TargetResult:
    """Cheapest lever package that peaks by ``peak_by`` with probability >= ``probability``.

    The search starts from the most ambitious end of each lever's range (or ``start``), which must be
    feasible; every candidate is run on the same ``members`` futures (uncertainty sample and seeds).
    """
    from sim.scenario import load_scenario

    if not 0 < probability < 1:
        raise DiscoveryError(f"--probability {probability}: must be between 0 and 1")
    if members < 10:
        raise DiscoveryError(f"--members {members}: at least 10 futures are needed to estimate a probability")
    t0 = time.perf_counter()
    scenario_path = Path(scenario_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scenario = load_scenario(scenario_path)
    ranges = parse_lever_ranges(levers)
    uncertain = [p for p in scenario.uncertain_parameters() if p.name not in ranges]
    futures = sample_parameters(uncertain, members, root_seed, "lhs")
    neutral = {}
    for k, (lo, hi) in ranges.items():
        d = registry.get(k).default
        neutral[k] = min(max(d, lo), hi)
    ambitious = {}
    for k, (lo, hi) in ranges.items():
        # The ambitious end is the one away from current policy (e.g. 2030 for a phase-out year).
        ambitious[k] = lo if abs(lo - neutral[k]) > abs(hi - neutral[k]) else hi
    start_pkg = {k: float(start[k]) if start and k in start else ambitious[k] for k in ranges}
    counter = {"n": 0, "runs": 0}
    cache: dict[tuple, Evaluation] = {}

    def evaluate(pkg: dict[str, float]) -> Evaluation:
        key = tuple(round(pkg[k], 9) for k in ranges)
        if key in cache:
            return cache[key]
        design = futures.copy()
        for k, v in pkg.items():
            design[k] = v
        counter["n"] += 1
        store = _run_design(
            scenario_path,
            design,
            out_dir / f"candidate-{counter['n']:03d}",
            root_seed,
            kind="target-candidate",
            resolution=resolution,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            extra_manifest={"package": pkg},
        )
        summary = store.read_summary()
        counter["runs"] += len(summary)
        hits = int(outcome_peaked_by(summary, peak_by).sum())
        n = len(summary)
        p = hits / n if n else 0.0
        cost = float((summary["fiscal_cost_mcny"] + summary["private_cost_mcny"]).mean()) if n else math.inf
        ev = Evaluation(dict(pkg), p, wilson_interval(hits, n), cost, p >= probability)
        cache[key] = ev
        return ev

    best, history = compass_search(evaluate, start_pkg, neutral, max_evals=max_evals, ranges=ranges)
    result = TargetResult(
        best,
        history[0],
        history,
        counter["runs"],
        time.perf_counter() - t0,
        f"peak by {peak_by} with probability >= {probability:.0%}",
    )
    rows = [
        {
            **e.package,
            "probability": e.probability,
            "ci_low": e.ci[0],
            "ci_high": e.ci[1],
            "cost_mcny": e.cost_mcny,
            "feasible": e.feasible,
        }
        for e in history
    ]
    pd.DataFrame(rows).to_parquet(out_dir / "candidates.parquet", index=False)
    (out_dir / "target.json").write_text(
        json.dumps(
            {
                "target": result.target_text,
                "peak_by": int(peak_by),
                "probability": float(probability),
                "members": members,
                "root_seed": root_seed,
                "levers": ranges,
                "best": None
                if best is None
                else {
                    "package": best.package,
                    "probability": best.probability,
                    "ci": best.ci,
                    "cost_mcny": best.cost_mcny,
                },
                "runs_spent": result.runs_spent,
                "seconds": result.seconds,
            },
            indent=2,
            default=float,
        )
    )
    return result
