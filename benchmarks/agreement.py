"""Statistical agreement of the plain-Mesa reference with the project's kernels.

The reference is only a fair yardstick if it makes the same decisions. Random numbers differ (scalar draws
per agent versus vectorised draws), so runs cannot match exactly; instead, means over seeds of emissions and
stock shares must agree within sampling error. Each seed gives both models the same starting population,
so the paired difference per seed isolates the yearly decisions.

Usage::

    python benchmarks/agreement.py --resolution 0.1 --seeds 16
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.reference_mesa import ReferenceCityModel  # noqa: E402
from sim.model import CityModel, RunResult  # noqa: E402
from sim.scenario import Scenario, load_scenario  # noqa: E402

EMISSION_TOLERANCE = 0.03
"""Relative tolerance on mean cumulative emissions ("within a few percent")."""
SHARE_TOLERANCE = 0.03
"""Absolute tolerance on mean stock shares at the horizon (3 percentage points)."""
STANDARD_ERRORS = 3.0
"""A difference within this many standard errors of the paired difference is sampling noise."""


def outcomes(result: RunResult) -> dict[str, float]:
    """Cumulative emissions over the horizon (Mt) by sector and in total, and stock shares at the horizon."""
    sectors = result.sector_mt().sum()
    stocks = result.ledger.stocks
    cars = sum(v[-1] for (pop, _), v in stocks.items() if pop == "vehicles_private_car")
    floor = sum(v[-1] for (pop, _), v in stocks.items() if pop == "buildings_floor_m2")
    cooking = stocks[("households", "induction_cooking")][-1] + stocks[("households", "gas_cooking")][-1]
    out = {
        "total_mt": float(result.total_mt().sum()),
        "power_heat_mt": float(sectors["power_heat"]),
        "transport_mt": float(sectors["transport"]),
        "buildings_mt": float(sectors["buildings"]),
        "bev_share_of_private_cars": float(stocks[("vehicles_private_car", "bev")][-1] / cars),
        "induction_share_of_stoves": float(stocks[("households", "induction_cooking")][-1] / cooking),
        "district_heat_share_of_floor": float(stocks[("buildings_floor_m2", "district")][-1] / floor),
    }
    for name in ("green_travel_share", "waste_resource_utilisation_share"):
        if name in result.ledger.indicators:
            out[name] = float(result.ledger.indicators[name][-1])
    return out


def agreement(scenario: Scenario, resolution: float, seeds: range | list[int]) -> list[dict]:
    """Run both models per seed and compare means; one row per outcome with the verdict."""
    project = [outcomes(CityModel(scenario, seed=s, resolution=resolution).run()) for s in seeds]
    reference = [outcomes(ReferenceCityModel(scenario, seed=s, resolution=resolution).run()) for s in seeds]
    rows = []
    for key in project[0]:
        p = np.array([o[key] for o in project])
        r = np.array([o[key] for o in reference])
        diff = r - p
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("inf")
        tolerance = EMISSION_TOLERANCE * abs(p.mean()) if key.endswith("_mt") else SHARE_TOLERANCE
        rows.append(
            {
                "outcome": key,
                "project_mean": float(p.mean()),
                "reference_mean": float(r.mean()),
                "relative_difference": float(diff.mean() / p.mean()) if p.mean() else float("nan"),
                "se_of_difference": se,
                "allowed": max(tolerance, STANDARD_ERRORS * se),
                "agrees": bool(abs(diff.mean()) <= max(tolerance, STANDARD_ERRORS * se)),
            }
        )
    return rows


def format_rows(rows: list[dict]) -> str:
    head = "| outcome | project mean | reference mean | rel. difference | s.e. of difference | agrees |"
    lines = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['outcome']} | {r['project_mean']:.4g} | {r['reference_mean']:.4g} | "
            f"{r['relative_difference']:+.2%} | {r['se_of_difference']:.2g} | {'yes' if r['agrees'] else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Agreement of the plain-Mesa reference with the kernels")
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "karamay_baseline.yaml")
    parser.add_argument("--resolution", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args(argv)
    rows = agreement(load_scenario(args.scenario), args.resolution, range(args.seeds))
    print(f"resolution {args.resolution:g}, seeds 0..{args.seeds - 1}")
    print(format_rows(rows))


if __name__ == "__main__":
    main()
