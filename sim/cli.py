"""``citypeak`` command line: run, validate, params, ensemble, summary, compare, sweep.

Exit codes: 0 ok; 2 bad input (the message names the file, field, value and what is allowed; no
traceback); 1 failure while running.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class UserError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one scenario with one seed and write tidy Parquet tables")
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--seed", type=int, default=1, help="root seed of the run (default 1)")
    p.add_argument("--out", type=Path, default=None, help="output folder for Parquet tables")
    p.add_argument(
        "--resolution",
        type=float,
        default=None,
        help="agents per real household/vehicle/building (1 = full scale; default from scenario)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a registry parameter for this run (repeatable)",
    )
    p.add_argument(
        "--scope",
        choices=("direct", "total", "net", "ghg"),
        default="direct",
        help="what the peak is computed on: direct (territorial CO2), total (+ electricity trade adjustment), "
        "net (- sinks), ghg (+ landfill CH4)",
    )
    p.set_defaults(func=_cmd_run)


def _parse_overrides(items: list[str]) -> dict[str, float]:
    from sim import registry

    out = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        try:
            p = registry.get(name.strip())
        except KeyError as e:
            raise UserError(f"--set: {e.args[0]}") from None
        try:
            v = float(value)
        except ValueError:
            raise UserError(f"--set {name}: value {value!r} is not a number") from None
        if not p.low <= v <= p.high:
            raise UserError(f"--set {name}: value {v:g} outside the allowed range {p.allowed_range}")
        out[p.name] = v
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.model import run
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    overrides = _parse_overrides(args.set)
    if args.resolution is not None and not 0.001 <= args.resolution <= 1.0:
        raise UserError(f"--resolution: value {args.resolution:g} outside the allowed range [0.001, 1]")
    t0 = time.perf_counter()
    result = run(scenario, seed=args.seed, overrides=overrides, resolution=args.resolution)
    seconds = time.perf_counter() - t0
    pk = result.peak(args.scope)
    total = result.total_mt(args.scope)
    years = result.years
    res = result.params["resolution"]
    print(f"scenario {scenario.name}  seed {args.seed}  resolution {res:g}  {years[0]}-{years[-1]}  ({seconds:.2f} s)")
    status = "peaked" if pk.peaked else "NOT peaked by horizon"
    print(
        f"peak year {pk.peak_year} at {pk.peak_mt:.2f} Mt CO2 ({args.scope}); plateau from {pk.plateau_year}; {status}"
    )
    sectors = result.sector_mt()
    show = [y for y in (years[0], 2025, 2030, 2035, 2040, 2050, 2060) if y in years]
    table = sectors.loc[show].T
    table.loc["total direct"] = sectors.loc[show].sum(axis=1)
    idx = [list(years).index(y) for y in show]
    table.loc["electricity trade adj."] = result.ledger.indirect_co2_t[idx] / 1e6
    table.loc["sink removals"] = -result.ledger.sink_co2_t[idx] / 1e6
    table.loc["net (direct - sinks)"] = result.total_mt("net")[idx]
    table.loc["landfill CH4 (CO2e, GWP 27.9)"] = result.ledger.ch4_co2e_t.sum(axis=1)[idx] / 1e6
    if result.ledger.ccus:
        table.loc["CO2 stored (CCUS)"] = result.ledger.ccus["stored_t"][idx] / 1e6
    print("\nCO2 by sector, Mt")
    print(table.round(2).to_string())
    from sim.levers import indicator_scorecard

    card = indicator_scorecard(result, 2025)
    if len(card):
        print("\nPilot plan indicators, 2025 (projected vs target)")
        for row in card.itertuples():
            mark = "met" if row.met else "not met"
            print(f"  {row.indicator:<36} {row.value:6.1%}   target {row.target_text:<28} {mark}")
    if args.out is not None:
        _write_run(result, args.out, scenario.name, args.seed, overrides)
        print(f"\nwrote {args.out}/yearly.parquet, series.parquet, summary.parquet, units.parquet")
    del total
    return EXIT_OK


def _write_run(result, out: Path, name: str, seed: int, overrides: dict) -> None:
    """Write a run's tables atomically: each file goes to a temporary name, then is renamed."""
    import json
    import os

    import pandas as pd

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out}: cannot create folder ({e.strerror})") from None
    tables = {
        "yearly.parquet": result.yearly_frame(),
        "series.parquet": result.series_frame(),
        "summary.parquet": pd.DataFrame([{"scenario": name, "seed": seed, **result.summary()}]),
        "units.parquet": pd.DataFrame(result.units),
    }
    for fname, df in tables.items():
        tmp = out / f".tmp-{fname}.partial"
        try:
            df.to_parquet(tmp, index=False)
            os.replace(tmp, out / fname)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise UserError(f"--out {out}: cannot write {fname} ({e.strerror})") from None
    meta = {"scenario": name, "seed": seed, "overrides": overrides, "params": result.params}
    (out / "run.json").write_text(json.dumps(meta, indent=2))


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check scenario files and report every problem")
    p.add_argument("files", type=Path, nargs="+")
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    from sim.scenario import ScenarioError, load_scenario

    bad = 0
    for f in args.files:
        try:
            s = load_scenario(f)
        except ScenarioError as e:
            bad += 1
            print(str(e), file=sys.stderr)
            continue
        print(
            f"{f}: ok ({s.name}, {s.base_year}-{s.horizon}, {len(s.power.units)} power units, "
            f"{len(s.refineries)} refineries)"
        )
    return EXIT_BAD_INPUT if bad else EXIT_OK


def _add_params(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("params", help="print the parameter registry as a Markdown table")
    p.set_defaults(func=_cmd_params)


def _cmd_params(args: argparse.Namespace) -> int:
    from sim import registry

    print(registry.markdown_table(), end="")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- ensembles

_SHOW_YEARS = (2025, 2030, 2035, 2040, 2050, 2060)


def _add_ensemble(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ensemble",
        help="run a Monte Carlo ensemble of one scenario into a batch folder (resumable)",
        description="Sample the scenario's uncertain parameters, run every member and stream results to "
        "Parquet shards in --out. Results do not depend on --workers or --executor.",
    )
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--runs", type=int, default=None, metavar="N", help="ensemble size (required for a new batch)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="batch folder to create or resume")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="W",
        help="worker processes (default: all CPUs; 2 for a Dask LocalCluster)",
    )
    p.add_argument("--executor", choices=("local", "dask"), default="local", help="where runs execute")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler address (with --executor dask)")
    p.add_argument("--resume", action="store_true", help="continue the batch in --out, running only missing runs")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="root seed (default 1; resume: the batch's)")
    p.add_argument(
        "--resolution", type=float, default=None, metavar="R", help="agents per real unit (default: scenario's)"
    )
    p.add_argument("--method", choices=("lhs", "mc"), default=None, help="Latin hypercube (default) or plain MC")
    p.add_argument("--batch-size", type=int, default=None, metavar="K", help="runs per task (default: automatic)")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(func=_cmd_ensemble)


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from sim.ensemble import EnsembleError, run_ensemble
    from sim.store import FAILURES_FILE, StoreError

    t0 = time.perf_counter()
    try:
        store = run_ensemble(
            args.scenario,
            args.runs,
            args.out,
            root_seed=args.seed,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            resolution=args.resolution,
            method=args.method,
            resume=args.resume,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        )
    except (EnsembleError, StoreError) as e:
        raise UserError(str(e)) from None
    except ImportError as e:
        raise UserError(str(e)) from None
    except KeyboardInterrupt:
        print(f"interrupted: finished runs are saved in {args.out}; continue with --resume", file=sys.stderr)
        return EXIT_FAILURE
    seconds = time.perf_counter() - t0
    done, failed = len(store.completed_run_ids()), len(store.pending_run_ids())
    print(f"{done} of {done + failed} runs complete in {args.out} ({seconds:.1f} s); see: citypeak summary {args.out}")
    if failed:
        print(
            f"citypeak ensemble: {failed} run(s) failed; their parameters and errors are in "
            f"{store.path / FAILURES_FILE}; rerun with --resume to retry them",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def _open_batch(folder: Path):
    from sim.store import BatchStore, StoreError

    if not folder.is_dir():
        raise UserError(f"{folder}: batch folder not found")
    try:
        return BatchStore.open(folder)
    except StoreError as e:
        raise UserError(str(e)) from None


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def _add_summary(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="print the peak-year distribution and percentile bands of a batch")
    p.add_argument("batch", type=Path, metavar="DIR", help="batch folder written by citypeak ensemble")
    p.add_argument("--year", type=int, default=2030, help="target year of P(peak <= year) (default 2030)")
    p.add_argument(
        "--years", type=int, nargs="+", default=None, help="years of the percentile bands (default: 2025 ... 2060)"
    )
    p.set_defaults(func=_cmd_summary)


def _cmd_summary(args: argparse.Namespace) -> int:
    from sim.ensemble import ensemble_statistics

    store = _open_batch(args.batch)
    try:
        st = ensemble_statistics(store, args.year)
    except ValueError as e:
        raise UserError(str(e)) from None
    m = store.manifest
    n_done = int(st["share_not_peaked"]["n_runs"].iloc[0])
    n_planned = int(m.get("n_runs", n_done))
    print(
        f"batch {args.batch}: scenario {m.get('scenario_name', '?')}, {n_done} of {n_planned} runs complete, "
        f"root seed {m.get('root_seed')}, {m.get('method', '?')} sampling, resolution {m.get('resolution', '?')}"
    )
    if n_done < n_planned:
        print(f"note: {n_planned - n_done} runs are missing (failed or not yet run); statistics use completed runs")

    dist = st["peak_year_distribution"][["outcome", "n_runs", "probability"]].copy()
    dist["probability"] = dist["probability"].map(_pct)
    print("\nPeak year of direct CO2 emissions")
    print(dist.to_string(index=False))

    ci = st["p_peak_by"].iloc[0]
    print(
        f"\nP(peak <= {args.year}) = {_pct(ci['p'])} (95% Wilson interval {_pct(ci['lo'])} - {_pct(ci['hi'])}; "
        f"{int(ci['n_peaked'])} of {int(ci['n_runs'])} runs)"
    )
    print(f"not peaked by the horizon: {_pct(float(st['share_not_peaked']['share_not_peaked'].iloc[0]))} of runs")
    q = st["outcome_quantiles"].set_index("outcome")
    for col, label in ((f"emissions_{args.year}_mt", f"{args.year} emissions"), ("peak_mt", "peak emissions")):
        if col in q.index:
            r = q.loc[col]
            print(f"{label}: median {r['p50']:.2f} Mt CO2 (P5-P95 {r['p5']:.2f} - {r['p95']:.2f})")

    bands = st["bands_direct"]
    first = int(bands["year"].min())
    years = args.years or [first, *(y for y in _SHOW_YEARS if y > first)]
    shown = bands[bands["year"].isin(years)]
    print("\nDirect CO2 emissions across runs, Mt")
    print(shown.round(2).to_string(index=False))
    return EXIT_OK


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare two batches run by run (paired, common random numbers)")
    p.add_argument("batch_a", type=Path, metavar="DIR_A", help="batch A")
    p.add_argument("batch_b", type=Path, metavar="DIR_B", help="batch B")
    p.add_argument("--year", type=int, default=2030, help="target year (default 2030)")
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    from sim.ensemble import compare_batches

    a, b = _open_batch(args.batch_a), _open_batch(args.batch_b)
    try:
        res = compare_batches(a, b, args.year)
    except ValueError as e:
        raise UserError(str(e)) from None
    for w in res["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    if res["warnings"]:
        print("warning: pairs are not common-random-number pairs; differences include sampling noise", file=sys.stderr)
    pr = res["pairs"]
    name_a, name_b = a.manifest.get("scenario_name", "?"), b.manifest.get("scenario_name", "?")
    print(f"A: {args.batch_a} ({name_a})\nB: {args.batch_b} ({name_b})\npairs (same run_id): {pr['n_pairs']}")
    print(f"\nP(A peaks earlier than B) = {_pct(pr['p_a_peaks_earlier'])}")
    print(f"P(same peak year)         = {_pct(pr['p_same_year'])}")
    print(f"P(B peaks earlier than A) = {_pct(pr['p_b_peaks_earlier'])}")
    for k in ("A", "B"):
        c = res["p_peak_by"][k]
        print(f"P(peak <= {args.year}), {k}: {_pct(c['p'])} (95% Wilson {_pct(c['lo'])} - {_pct(c['hi'])})")
    print("\nPaired differences A - B, Mt CO2 (negative: A emits less)")
    for key, label in (
        (f"emissions_{args.year}", f"{args.year} emissions"),
        ("peak", "peak emissions"),
        ("cumulative", "cumulative 2025-horizon"),
    ):
        med = pr.get(f"median_{key}_diff_mt")
        if med is None:
            continue
        lo, hi = pr[f"p5_{key}_diff_mt"], pr[f"p95_{key}_diff_mt"]
        print(f"  {label}: median {med:+.2f} (P5 {lo:+.2f}, P95 {hi:+.2f})")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- sweeps

_SWEEP_SHOWN_OUTPUTS = ("peak_year", "cumulative_mt")


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    from sim.sensitivity import METHODS

    p = sub.add_parser(
        "sweep",
        help="sensitivity analysis: run a SALib design of one scenario into a batch folder and compute indices",
        description="Draw a SALib design over registry parameters, run one model run per design row (all rows "
        "share one seed unless --seed-mode per_run), stream results to --out and write indices.parquet and "
        "convergence.parquet there. Resumable; results do not depend on --workers or --executor.",
    )
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--method", choices=METHODS, default=None, help="SALib method (required for a new sweep)")
    p.add_argument(
        "--n",
        type=int,
        default=None,
        metavar="N",
        help="base samples (sobol: a power of 2), trajectories (morris) or samples (required for a new sweep)",
    )
    p.add_argument("--params", default=None, metavar="A,B,C", help="registry parameters to vary (comma-separated)")
    p.add_argument(
        "--kinds",
        default=None,
        metavar="KINDS",
        help="without --params: vary uncertainty, lever or uncertainty,lever (default uncertainty)",
    )
    p.add_argument(
        "--groups",
        default=None,
        metavar="SPEC",
        help="'registry' (registry sections) or 'name=a+b;other=c+d'; sobol and morris only",
    )
    p.add_argument("--second-order", action="store_true", help="sobol: also estimate second-order indices S2")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="batch folder to create or resume")
    p.add_argument(
        "--workers", type=int, default=None, metavar="W", help="worker processes (default: all CPUs; 2 for Dask)"
    )
    p.add_argument("--executor", choices=("local", "dask"), default="local", help="where runs execute")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler address (with --executor dask)")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out, running only missing runs")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="root seed (default 1; resume: the sweep's)")
    p.add_argument(
        "--seed-mode",
        choices=("common", "per_run"),
        default=None,
        help="common: one seed for every run (default); per_run: each run its ensemble seed",
    )
    p.add_argument(
        "--resolution", type=float, default=None, metavar="R", help="agents per real unit (default: scenario's)"
    )
    p.add_argument("--batch-size", type=int, default=None, metavar="K", help="runs per task (default: automatic)")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(func=_cmd_sweep)


def _split_list(text: str | None, flag: str) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UserError(f"{flag}: empty list")
    return items


def _parse_groups(text: str | None) -> str | dict[str, list[str]] | None:
    if text is None or text == "registry":
        return text
    groups: dict[str, list[str]] = {}
    for part in (t.strip() for t in text.split(";")):
        if not part:
            continue
        name, sep, members = part.partition("=")
        names = [m.strip() for m in members.split("+") if m.strip()]
        if not sep or not name.strip() or not names:
            raise UserError(f"--groups {part!r}: expected 'registry' or NAME=PARAM+PARAM;NAME=PARAM")
        groups[name.strip()] = names
    return groups


def _format_indices(wide) -> str:
    """``value ± conf`` per index, three decimals, so the table reads as estimates, not exact numbers."""
    import pandas as pd

    out = pd.DataFrame({"parameter": wide["parameter"]})
    for col in wide.columns[1:]:
        if col.endswith("_conf"):
            continue
        conf = f"{col}_conf"
        if conf in wide.columns:
            out[col] = [f"{v:.3f} ± {c:.3f}" for v, c in zip(wide[col], wide[conf], strict=True)]
        else:
            out[col] = [f"{v:.3f}" for v in wide[col]]
    return out.to_string(index=False)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sim.ensemble import EnsembleError
    from sim.store import StoreError
    from sim.sweep import IncompleteSweepError, indices_table, run_sweep

    params = _split_list(args.params, "--params")
    kinds = _split_list(args.kinds, "--kinds")
    if params is not None and kinds is not None:
        raise UserError("give --params or --kinds, not both (--kinds chooses the parameters when --params is absent)")
    if args.resolution is not None and not 0.001 <= args.resolution <= 1.0:
        raise UserError(f"--resolution: value {args.resolution:g} outside the allowed range [0.001, 1]")
    t0 = time.perf_counter()
    try:
        result = run_sweep(
            args.scenario,
            args.method,
            args.n,
            args.out,
            params=params,
            kinds=kinds,
            groups=_parse_groups(args.groups),
            root_seed=args.seed,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            resolution=args.resolution,
            resume=args.resume,
            calc_second_order=True if args.second_order else None,
            progress=not args.no_progress,
            seed_mode=args.seed_mode,
            batch_size=args.batch_size,
        )
    except (EnsembleError, StoreError, ImportError) as e:
        raise UserError(str(e)) from None
    except IncompleteSweepError as e:
        print(f"citypeak sweep: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"interrupted: finished runs are saved in {args.out}; continue with --resume", file=sys.stderr)
        return EXIT_FAILURE
    seconds = time.perf_counter() - t0
    m = result.store.manifest
    print(
        f"{result.method} sweep of {m.get('scenario_name', '?')}: {len(result.problem['names'])} parameters, "
        f"n={result.n}, {result.run_count} runs ({result.runs_executed} run now in {result.run_seconds:.1f} s; "
        f"{seconds:.1f} s in all), resolution {m.get('resolution')}, seed {result.seed} ({result.seed_mode})"
    )
    for note in result.notes:
        print(f"note: {note}")
    analysed = set(result.indices["output"].unique().tolist())
    for output in _SWEEP_SHOWN_OUTPUTS:
        if output not in analysed:
            continue
        print(f"\n{output}: {result.method} indices (± 95% CI half-width)")
        print(_format_indices(indices_table(result.indices, output, result.method)))
    print(f"\nindices: {result.indices_path}\nconvergence: {result.convergence_path}\nbatch: {result.store.path}")
    if result.failed_run_ids:
        print(
            f"citypeak sweep: {len(result.failed_run_ids)} run(s) failed and were left out; rerun with --resume to "
            "retry them",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citypeak", description="When will the city's CO2 emissions peak?")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def _add_levers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("levers", help="emissions avoided and cost per tonne of each lever the scenario sets")
    p.add_argument("scenario", type=Path)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--resolution", type=float, default=None)
    p.add_argument("--out", type=Path, default=None, help="write the table as Parquet here")
    p.set_defaults(func=_cmd_levers)


def _cmd_levers(args: argparse.Namespace) -> int:
    from sim.levers import FAMILY_LIMITATIONS, lever_effects
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    df = lever_effects(scenario, seed=args.seed, resolution=args.resolution)
    if df.empty:
        print(f"{scenario.name}: every lever is at its current-policy setting; nothing to attribute")
        return EXIT_OK
    print(f"{scenario.name}, seed {args.seed}: each lever against the same run with it at current policy")
    print(
        "(avoided = cumulative CO2 2025-horizon; costs in M CNY over the same years; cost/t = (fiscal+private)/avoided;"
        " n/a where a lever avoids less than 1 kt or raises emissions)"
    )
    print(
        df.round(
            {
                "avoided_mt": 2,
                "fiscal_cost_mcny": 1,
                "private_cost_mcny": 1,
                "carbon_revenue_mcny": 1,
                "cost_per_t_cny": 0,
            }
        ).to_string(index=False, na_rep="n/a")
    )
    for family in df["lever"]:
        if family in FAMILY_LIMITATIONS:
            print(f"note on {family}: {FAMILY_LIMITATIONS[family]['en']}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(args.out, index=False)
    return EXIT_OK


def _add_discovery_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=Path)
    p.add_argument(
        "--lever",
        action="append",
        default=None,
        metavar="NAME[=LOW:HIGH]",
        help="a lever to vary, with its range (repeatable; default: a standard set of ten)",
    )
    p.add_argument("--peak-by", type=int, default=2030, help="outcome of interest: the city peaks by this year")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--resolution", type=float, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--executor", choices=("local", "dask"), default="local")
    p.add_argument("--scheduler", default=None)


def _add_discover(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("discover", help="PRIM scenario discovery: lever boxes where the city peaks in time")
    _add_discovery_common(p)
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--boxes", type=int, default=3)
    p.add_argument("--min-coverage", type=float, default=0.3)
    p.set_defaults(func=_cmd_discover)


def _cmd_discover(args: argparse.Namespace) -> int:
    from sim.discovery import DiscoveryError, discover
    from sim.store import StoreError

    try:
        result = discover(
            args.scenario,
            args.runs,
            args.out,
            levers=args.lever,
            peak_by=args.peak_by,
            root_seed=args.seed,
            resolution=args.resolution,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=True,
            max_boxes=args.boxes,
            min_coverage=args.min_coverage,
        )
    except (DiscoveryError, StoreError) as e:
        raise UserError(str(e)) from None
    print(result.report())
    print(f"boxes: {args.out / 'boxes.parquet'}")
    return EXIT_OK


def _add_target(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("target", help="cheapest lever package that peaks by a year with a given probability")
    _add_discovery_common(p)
    p.add_argument("--probability", type=float, default=0.8)
    p.add_argument("--members", type=int, default=40, help="futures (uncertainty draws x seeds) per package")
    p.add_argument("--max-evals", type=int, default=30, help="most packages to evaluate")
    p.set_defaults(func=_cmd_target)


def _cmd_target(args: argparse.Namespace) -> int:
    from sim.discovery import DiscoveryError, target_search
    from sim.store import StoreError

    try:
        result = target_search(
            args.scenario,
            args.out,
            levers=args.lever,
            peak_by=args.peak_by,
            probability=args.probability,
            members=args.members,
            root_seed=args.seed,
            resolution=args.resolution,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            max_evals=args.max_evals,
        )
    except (DiscoveryError, StoreError) as e:
        raise UserError(str(e)) from None
    print(result.report())
    print(f"candidates: {args.out / 'candidates.parquet'}")
    return EXIT_OK if result.best is not None else EXIT_FAILURE


_SUBCOMMANDS = [
    _add_run,
    _add_validate,
    _add_params,
    _add_ensemble,
    _add_summary,
    _add_compare,
    _add_sweep,
    _add_levers,
    _add_discover,
    _add_target,
]


def _parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace | int:
    """Parse the command line; a bad one becomes one line on stderr and :data:`EXIT_BAD_INPUT`.

    argparse prints its whole usage block and exits through ``SystemExit(2)``; the usage block buries the
    one line that says what is wrong, so it is dropped and that line kept, with a pointer to ``--help``.
    ``--help`` itself still prints (to stdout) and gives :data:`EXIT_OK`.
    """
    import io

    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code in (0, None):
            sys.stderr.write(captured.getvalue())
            return EXIT_OK
        lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        last = lines[-1] if lines else "citypeak: error: invalid arguments"
        prog, sep, problem = last.partition(": error: ")
        print(f"{prog}: {problem} (see: {prog} --help)" if sep else last, file=sys.stderr)
        return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command and return its exit code; expected problems end as one line on stderr.

    Exit codes: 0 ok; 2 bad input (arguments, scenario files, batch folders); 1 a failure while running
    (failed runs, a worker process that died, Ctrl-C, a reader that closed the output pipe). Finished runs are on
    disk in every case.
    """
    from concurrent.futures.process import BrokenProcessPool

    from sim.scenario import ScenarioError

    parser = build_parser()
    args = _parse_args(parser, argv)
    if isinstance(args, int):
        return args
    try:
        return args.func(args)
    except (ScenarioError, UserError) as e:
        print(f"citypeak {args.command}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenProcessPool as e:
        # A worker died (out of memory, killed): not the user's input; what finished is already stored.
        first = str(e).splitlines()[0] if str(e) else "a worker process died"
        print(f"citypeak {args.command}: {first}; finished runs are kept: rerun with --resume", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader went away (`citypeak summary DIR | head`): stop without a traceback, as other command-line
        # tools do, and point stdout at the null device so that Python's own flush at exit does not fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
