"""The benchmark runner works and the plain-Mesa reference decides by the same rules as the kernels.

No timing assertions here: the speed targets are judged in the benchmark table, not by unit tests, because
test machines are shared and loaded.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.households import INDUCTION
from agents.population import hazard_clocks, next_event_years, yearly_hazard
from agents.power import COHORT_TECHNOLOGIES, PowerPlant
from agents.vehicles import POWERTRAINS, SEGMENTS
from benchmarks.agreement import agreement, format_rows
from benchmarks.reference_mesa import MesaBuilding, MesaHousehold, MesaVehicle, ReferenceCityModel, stale_kernels
from sim.model import CityModel

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT_RESOLUTION = 0.05  # ~9,500 households, ~8,100 vehicles, 500 buildings: seconds per reference run
AGREEMENT_SEEDS = range(6)
TABLE_MEASURES = (
    "(a) full run wall time",
    "(a) speed-up over plain-Mesa reference",
    "(a) agent-steps per second, full run",
    "(b) households step() kernel vs bare numpy loop",
    "(b) vehicles step() kernel vs bare numpy loop",
    "(b) buildings step() kernel vs bare numpy loop",
    "(b) households step(): plain-Mesa reference vs kernel",
    "(b) vehicles step(): plain-Mesa reference vs kernel",
    "(b) buildings step(): plain-Mesa reference vs kernel",
    "(d) peak RSS of a full run",
    "(d) tracemalloc peak during the run",
    "(a) full run wall time, res 0.1",
    "(a) full run wall time, res 0.005",
    "(a) wall time per member, 20 members in lockstep, res 0.005",
)


def test_reference_has_one_mesa_agent_per_project_row(baseline):
    project = CityModel(baseline, seed=5, resolution=0.02)
    reference = ReferenceCityModel(baseline, seed=5, resolution=0.02)
    assert len(reference.agents_by_type[MesaHousehold]) == project.households.n
    assert len(reference.agents_by_type[MesaVehicle]) == project.vehicles.n
    assert len(reference.agents_by_type[MesaBuilding]) == project.buildings.n
    # Same seed, same starting population: agent 0 of each type carries row 0's state.
    h = reference.households.agents[0]
    assert h.hurdle_rate == pytest.approx(float(project.households.live("hurdle_rate")[0]))
    v = reference.vehicles.agents[0]
    assert (v.segment, v.powertrain, v.age) == tuple(
        int(project.vehicles.live(c)[0]) for c in ("segment", "powertrain", "age")
    )


def test_reference_runs_are_reproducible(baseline):
    a = ReferenceCityModel(baseline, seed=2, resolution=0.02).run()
    b = ReferenceCityModel(baseline, seed=2, resolution=0.02).run()
    np.testing.assert_array_equal(a.ledger.energy_tj, b.ledger.energy_tj)


def test_reference_agents_grow_like_the_kernels(baseline):
    project = CityModel(baseline, seed=4, resolution=0.02)
    project.run()
    reference = ReferenceCityModel(baseline, seed=4, resolution=0.02)
    reference.run()
    for name in ("households", "vehicles", "buildings"):
        n_p, n_r = getattr(project, name).n, getattr(reference, name).n
        assert n_r == pytest.approx(n_p, rel=0.03), name


def test_reference_agrees_statistically_with_the_kernels(baseline):
    """Same rules, different random numbers: means over seeds agree within a few percent or sampling error.

    Emissions must agree within 3% (shares within 3 points) or within 3 standard errors of the paired
    difference, whichever is wider: buildings emissions at this resolution hinge on which of ~500 buildings
    replace their heating, so their seed-to-seed spread is several percent (see ``benchmarks/agreement.py``).
    """
    rows = agreement(baseline, AGREEMENT_RESOLUTION, AGREEMENT_SEEDS)
    assert {r["outcome"] for r in rows} >= {"total_mt", "power_heat_mt", "transport_mt", "buildings_mt"}
    disagree = [r for r in rows if not r["agrees"]]
    assert not disagree, format_rows(disagree)


def test_reference_mirrors_the_current_kernels():
    """The drift check is up to date: a kernel edited since the reference was last checked is named here."""
    assert stale_kernels() == []


# ------------------------------------------------------------------------------------------ how the kernels draw
def test_scheduled_replacements_happen_with_the_yearly_probability():
    """Waiting-time scheduling gives the same event years as one Bernoulli(p) draw per agent and year."""
    rng = np.random.default_rng(1)
    p, n = 1 / 12, 400_000
    years = next_event_years(rng, p, n, 2024)
    for k in range(1, 6):
        expected = (1 - p) ** (k - 1) * p
        observed = np.mean(years == 2024 + k)
        assert observed == pytest.approx(expected, abs=4 * np.sqrt(expected / n))


def test_hazard_clocks_give_the_yearly_probability_whatever_its_path():
    """An event taken when the cumulative hazard passes an Exp(1) threshold falls in year t with
    probability p_t given none before, as with a yearly uniform draw."""
    rng = np.random.default_rng(2)
    n = 400_000
    clock = hazard_clocks(rng, n)
    waiting = np.ones(n, dtype=bool)
    for p_t in (0.05, 0.3, 0.01, 0.2, 0.5):
        clock -= yearly_hazard(np.full(n, p_t))
        now = waiting & (clock <= 0)
        share = now.sum() / waiting.sum()
        assert share == pytest.approx(p_t, abs=4 * np.sqrt(p_t / waiting.sum()))
        waiting &= ~now


def test_scrappage_ages_follow_the_weibull_hazard_of_the_segment(baseline):
    """Scheduled scrappage ages have the distribution of yearly draws at hazard 1 - exp(-(L(a) - L(a-1)))."""
    vehicles = CityModel(baseline, seed=3, resolution=0.01).vehicles
    n = 200_000
    for age0 in (None, 10):
        seg = np.zeros(n, dtype=np.int8)  # private cars
        ages = vehicles._scrap_ages(seg, None if age0 is None else np.full(n, age0, dtype=np.int16))
        lam, k = vehicles.weibull_scale[0], vehicles.shape[0]
        a0 = 0 if age0 is None else age0
        survival = np.exp(-((np.arange(a0, a0 + 25) / lam) ** k))  # S(a0), S(a0 + 1), ...
        expected = (survival[:-1] - survival[1:]) / survival[0]  # scrapped at a0 + 1, a0 + 2, ...
        observed = np.array([np.mean(ages == a) for a in range(a0 + 1, a0 + 25)])
        np.testing.assert_allclose(observed, expected, atol=4 * np.sqrt(expected.max() / n))


def test_running_counts_equal_a_recount_after_a_run(baseline):
    """Neighbourhood and stock counts kept up to date in the kernels match counting the columns afresh."""
    overrides = {"bus_electric_sales_share": 1.0, "ev_subsidy_cny_per_vehicle": 20000, "peer_effect_strength": 3.0}
    model = CityModel(baseline, seed=7, overrides=overrides, resolution=0.05)
    model.run()
    h = model.households
    groups = h.live("neighbourhood")
    recount = {
        "group_size": np.bincount(groups, minlength=h.n_groups),
        "induction_count": np.bincount(groups, weights=h.live("stove") == INDUCTION, minlength=h.n_groups),
        "pv_count": np.bincount(groups, weights=h.live("pv_kw") > 0, minlength=h.n_groups),
        "sorting_count": np.bincount(groups, weights=h.live("sorts_waste"), minlength=h.n_groups),
    }
    for name, counted in recount.items():
        np.testing.assert_array_equal(getattr(h, name), counted, err_msg=name)
    v = model.vehicles
    P = len(POWERTRAINS)
    pt = v.live("powertrain").astype(np.intp)
    peer = np.bincount(v.live("neighbourhood") * P + pt, minlength=v.n_groups * P).reshape(-1, P)
    stock = np.bincount(v.live("segment").astype(np.intp) * P + pt, minlength=len(SEGMENTS) * P).reshape(-1, P)
    np.testing.assert_array_equal(v.peer_counts, peer)
    np.testing.assert_array_equal(v.stock_counts, stock)
    np.testing.assert_array_equal(v.group_size, peer.sum(axis=1))


def test_new_wind_solar_and_storage_join_one_unit_per_year_and_retired_units_leave(baseline):
    model = CityModel(baseline, seed=0, resolution=0.02)
    model.run()
    built = [u for u in model.power_units if u.commissioned > baseline.base_year]
    keys = [(u.technology, u.commissioned, u.lifetime_yr, u.storage_hours) for u in built]
    assert built and len(keys) == len(set(keys))
    assert {u.technology for u in built} <= set(COHORT_TECHNOLOGIES)
    active = {u for units in model.fleet.values() for u in units}
    assert active == {u for u in model.power_units if u.active}
    assert set(model.agents_by_type[PowerPlant]) == active


def _run_benchmarks(*args: str, timeout_s: float) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_benchmarks.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout_s,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_quick_benchmark_prints_the_whole_table(tmp_path):
    out = tmp_path / "bench.json"
    proc = _run_benchmarks("--quick", "--json", str(out), timeout_s=600)
    header = "| measure "
    assert header in proc.stdout
    for measure in TABLE_MEASURES:
        assert measure in proc.stdout, measure
    assert "(a) full run CPU time" in proc.stdout
    data = json.loads(out.read_text())
    assert len(data["rows"]) == len(data["rows_cpu"]) == len(TABLE_MEASURES)
    for row in data["rows"] + data["rows_cpu"]:
        assert set(row) == {"measure", "value", "unit", "reference", "ratio", "target", "met"}
        assert row["value"] > 0
        assert row["met"] in {"yes", "no", "n/a", "-"}
    assert data["meta"]["quick"] is True
    assert data["meta"]["machine"]["nproc"] >= 1


@pytest.mark.slow
def test_quick_benchmark_with_all_puts_ensembles_memory_and_app_in_the_one_table(tmp_path):
    out = tmp_path / "bench_all.json"
    proc = _run_benchmarks("--quick", "--all", "--json", str(out), timeout_s=900)
    data = json.loads(out.read_text())
    measures = [row["measure"] for row in data["rows"]]
    for part in ("(a) ", "(b) ", "(c) throughput", "(c) Sobol", "(d) peak total RSS", "(e) app redraw"):
        assert any(m.startswith(part) for m in measures), part
        assert part in proc.stdout, part
    for row in data["rows"]:
        assert set(row) == {"measure", "value", "unit", "reference", "ratio", "target", "met"}
        assert math.isfinite(row["value"]), row
        if "slope" not in row["measure"]:  # memory can fall as well as rise between checkpoints
            assert row["value"] > 0, row
    assert data["raw"]["ensembles"]["rows"] and data["raw"]["app"]
