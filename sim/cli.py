"""``citypeak`` command line: run, validate, params, ensemble, summary, compare.

Exit codes: 0 ok; 2 bad input (the message names the file, field, value and what is allowed; no
traceback); 1 failure while running.
"""

from __future__ import annotations

import argparse
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
        choices=("direct", "total"),
        default="direct",
        help="peak on territorial (direct) or direct + electricity trade adjustment (total)",
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
            raise UserError(f"--set {name}: value {v:g} outside the allowed range [{p.low:g}, {p.high:g}] {p.unit}")
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
    table.loc["electricity trade adj."] = result.ledger.indirect_co2_t[[list(years).index(y) for y in show]] / 1e6
    print("\nCO2 by sector, Mt")
    print(table.round(2).to_string())
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citypeak", description="When will the city's CO2 emissions peak?")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


_SUBCOMMANDS = [_add_run, _add_validate, _add_params]


def main(argv: list[str] | None = None) -> int:
    from sim.scenario import ScenarioError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ScenarioError, UserError) as e:
        print(f"citypeak {args.command}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
