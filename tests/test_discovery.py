"""Scenario discovery (PRIM) and target search on cases where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.discovery import (
    DiscoveryError,
    Evaluation,
    compass_search,
    discover,
    parse_lever_ranges,
    prim_boxes,
    target_search,
)
from tests.conftest import SCENARIOS


def test_prim_recovers_a_threshold_in_one_lever():
    rng = np.random.default_rng(3)
    x = pd.DataFrame(
        {
            "carbon_price_2030_cny_per_t": rng.uniform(96, 400, 2000),
            "bus_electric_sales_share": rng.uniform(0, 1, 2000),
            "ev_subsidy_cny_per_vehicle": rng.uniform(0, 30000, 2000),
        }
    )
    y = (x["carbon_price_2030_cny_per_t"] >= 250).to_numpy()
    boxes = prim_boxes(x, y, max_boxes=1)
    assert len(boxes) == 1
    box = boxes[0]
    assert set(box.limits) == {"carbon_price_2030_cny_per_t"}
    assert box.limits["carbon_price_2030_cny_per_t"][0] == pytest.approx(250, abs=8)
    assert box.density > 0.95 and box.coverage > 0.9
    assert box.statements == [
        f"carbon_price_2030_cny_per_t >= {box.limits['carbon_price_2030_cny_per_t'][0]:.0f} CNY/t"
    ]
    assert "peaks by 2030 in" in box.sentence("peaks by 2030")


def test_a_boxs_statement_on_a_year_lever_names_only_years_inside_the_box():
    from sim.discovery import _statement

    # PRIM cuts whole-number data half-way: a box up to 2049.5 holds 2049, not 2050 (which rounding gave).
    full = (2030.0, 2060.0)
    assert _statement("coal_phase_out_year", 2030.0, 2049.5, full) == "coal_phase_out_year <= 2049 year"
    assert _statement("coal_phase_out_year", 2032.5, 2060.0, full) == "coal_phase_out_year >= 2033 year"
    assert _statement("coal_phase_out_year", 2034.5, 2047.5, full) == "coal_phase_out_year between 2035 and 2047 year"
    # Other levers keep their limits as found.
    assert _statement("carbon_price_2030_cny_per_t", 140.4, 400.0, (96.0, 400.0)) == (
        "carbon_price_2030_cny_per_t >= 140 CNY/t"
    )


def test_prim_finds_nothing_when_the_outcome_never_happens():
    x = pd.DataFrame({"bus_electric_sales_share": np.linspace(0, 1, 200)})
    assert prim_boxes(x, np.zeros(200, dtype=bool)) == []


def test_compass_search_finds_the_cheapest_feasible_level_within_tolerance():
    """Known answer: feasible iff a >= 0.6; cost = 100 a + 10 b; b does not matter -> a = 0.6, b = 0."""

    def evaluate(pkg):
        p = 1.0 if pkg["bus_electric_sales_share"] >= 0.6 else 0.0
        cost = 100 * pkg["bus_electric_sales_share"] + 10 * pkg["taxi_electric_sales_share"]
        return Evaluation(dict(pkg), p, (p, p), cost, p >= 0.8)

    start = {"bus_electric_sales_share": 1.0, "taxi_electric_sales_share": 1.0}
    neutral = {"bus_electric_sales_share": 0.0, "taxi_electric_sales_share": 0.0}
    ranges = {k: (0.0, 1.0) for k in start}
    best, history = compass_search(evaluate, start, neutral, max_evals=60, min_step=0.01, ranges=ranges)
    assert best.package["bus_electric_sales_share"] == pytest.approx(0.6, abs=0.03)
    assert best.package["taxi_electric_sales_share"] == pytest.approx(0.0, abs=0.03)
    assert best.feasible and all(e.cost_mcny >= best.cost_mcny for e in history if e.feasible)


def test_compass_search_reports_an_infeasible_start():
    def evaluate(pkg):
        return Evaluation(dict(pkg), 0.1, (0.0, 0.3), 1.0, False)

    best, history = compass_search(evaluate, {"bus_electric_sales_share": 1.0}, {"bus_electric_sales_share": 0.0})
    assert best is None and len(history) == 1


def test_lever_ranges_are_checked_against_the_registry():
    assert parse_lever_ranges(["bus_electric_sales_share=0.2:0.9"]) == {"bus_electric_sales_share": (0.2, 0.9)}
    with pytest.raises(DiscoveryError, match="must satisfy 0 <= low < high <= 1"):
        parse_lever_ranges(["bus_electric_sales_share=0.5:1.5"])
    with pytest.raises(DiscoveryError, match="not a lever"):
        parse_lever_ranges(["gdp_growth_pct_per_yr=2:3"])
    with pytest.raises(DiscoveryError, match="did you mean"):
        parse_lever_ranges(["bus_electric_share=0:1"])


def test_discover_runs_the_model_and_writes_boxes(tmp_path):
    result = discover(
        SCENARIOS / "karamay_pilot.yaml",
        60,
        tmp_path / "disc",
        levers=["carbon_price_2030_cny_per_t=96:400", "ccus_cluster_mt_2030=0:12"],
        resolution=0.005,
        workers=1,
        progress=False,
        min_coverage=0.2,
    )
    assert result.n_runs == 60 and len(result.outcome) == 60
    assert (tmp_path / "disc" / "boxes.parquet").exists()
    assert "runs" in result.report()


def test_target_search_spends_runs_on_common_futures(tmp_path):
    result = target_search(
        SCENARIOS / "karamay_pilot.yaml",
        tmp_path / "target",
        levers=["carbon_price_2030_cny_per_t=96:400"],
        probability=0.5,
        members=10,
        resolution=0.005,
        workers=1,
        max_evals=3,
    )
    assert result.runs_spent == 10 * len(result.history)
    cands = pd.read_parquet(tmp_path / "target" / "candidates.parquet")
    assert len(cands) == len(result.history)
    first = pd.read_parquet(next((tmp_path / "target").glob("candidate-001")) / "params.parquet")
    second = pd.read_parquet(next((tmp_path / "target").glob("candidate-002")) / "params.parquet")
    uncertain = [c for c in first.columns if c not in ("run_id", "carbon_price_2030_cny_per_t")]
    pd.testing.assert_frame_equal(first[uncertain], second[uncertain])
