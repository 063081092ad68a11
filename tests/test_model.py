"""Behaviour of one model run: balances, a hand-computed case, determinism, directions, resolution."""

from __future__ import annotations

import random

import mesa
import numpy as np
import pytest
from mesa.experimental.mesa_signals import ALL, ModelSignals

from agents.power import PowerPlant
from sim.constants import EMISSION_FACTOR_T_PER_TJ
from sim.model import CityModel, run, shuffle_like_random

FAST = 0.02  # resolution for behavioural tests: ~3,800 households, ~3,200 vehicles, 200 buildings


def test_single_coal_unit_emits_generation_times_heat_rate_times_factor(tiny):
    result = run(tiny, seed=0)
    generation_mwh = 500 * 8760.0
    expected_t = generation_mwh * 9.0 * EMISSION_FACTOR_T_PER_TJ["coal"] / 1e3
    np.testing.assert_allclose(result.ledger.electricity["generation_mwh"], generation_mwh, rtol=1e-9)
    np.testing.assert_allclose(result.total_mt("direct") * 1e6, expected_t, rtol=1e-9)
    assert result.sector_mt()["power_heat"].iloc[0] == pytest.approx(expected_t / 1e6, rel=1e-9)


def test_energy_and_heat_balances_close_every_year(baseline):
    model = CityModel(baseline, seed=3, resolution=FAST)
    result = model.run()  # run() raises BalanceError when a balance is open
    e = result.ledger.electricity
    supply = e["generation_mwh"] + e["import_mwh"] - e["export_mwh"] - e["storage_loss_mwh"] - e["grid_loss_mwh"]
    np.testing.assert_allclose(supply, result.ledger.electricity_consumption_mwh(), rtol=1e-6)
    assert (result.ledger.energy_tj >= 0).all()
    assert result.ledger.heat["delivered_tj"].min() > 0


def test_tidy_table_adds_up_to_the_totals(baseline):
    result = run(baseline, seed=3, resolution=FAST)
    df = result.yearly_frame()
    direct = df[df.scope == "direct"].groupby("year")["emissions_mt"].sum().to_numpy()
    np.testing.assert_allclose(direct, result.total_mt("direct"), rtol=1e-9)
    by_scope = df.pivot_table(index="year", columns="scope", values="emissions_mt", aggfunc="sum", observed=False)
    np.testing.assert_allclose(by_scope["direct"] + by_scope["indirect"], result.total_mt("total"), rtol=1e-9)
    np.testing.assert_allclose(by_scope["direct"] + by_scope["ch4_co2e"], result.total_mt("ghg"), rtol=1e-9)
    np.testing.assert_allclose(by_scope["direct"] + by_scope["sink"], result.total_mt("net"), rtol=1e-9)
    assert (by_scope["sink"] < 0).all() and (by_scope["ch4_co2e"] > 0).all()
    assert set(df.columns) == {"year", "sector", "fuel", "scope", "emissions_mt", "energy_pj"}


def test_same_seed_gives_identical_results(baseline):
    a = run(baseline, seed=11, resolution=FAST).yearly_frame()
    b = run(baseline, seed=11, resolution=FAST).yearly_frame()
    assert a.equals(b)


def test_different_seeds_differ_where_agents_are_stochastic(baseline):
    a = run(baseline, seed=1, resolution=FAST)
    b = run(baseline, seed=2, resolution=FAST)
    assert not np.allclose(a.sector_mt()["transport"].to_numpy(), b.sector_mt()["transport"].to_numpy())
    assert not np.allclose(a.sector_mt()["buildings"].to_numpy(), b.sector_mt()["buildings"].to_numpy())
    # The base year is the calibrated inventory: agents' draws barely move it.
    assert a.total_mt()[0] == pytest.approx(b.total_mt()[0], rel=0.01)


def _mean_cumulative(scenario, overrides, seeds=range(4), column=None):
    out = []
    for s in seeds:
        r = run(scenario, seed=s, overrides=overrides, resolution=FAST)
        out.append(r.sector_mt()[column].sum() if column else r.total_mt().sum())
    return float(np.mean(out))


def test_higher_carbon_price_does_not_raise_cumulative_emissions(baseline):
    low = _mean_cumulative(baseline, {})
    high = _mean_cumulative(baseline, {"carbon_price_2030_cny_per_t": 400, "carbon_price_2060_cny_per_t": 1000})
    assert high < low


def test_ev_subsidy_lowers_transport_emissions(baseline):
    without = _mean_cumulative(baseline, {}, column="transport")
    with_subsidy = _mean_cumulative(baseline, {"ev_subsidy_cny_per_vehicle": 40000}, column="transport")
    assert with_subsidy < without


def test_condensing_coal_units_retire_when_phase_out_is_mandated(baseline):
    result = run(baseline, seed=0, overrides={"coal_phase_out_year": 2035}, resolution=FAST)
    coal = [u for u in result.units if u["technology"] == "coal"]
    assert coal and all(u["retired_year"] == 2035 and u["retired_reason"] == "phase-out mandate" for u in coal)
    gen = result.ledger.generation_by_tech_mwh["coal"]
    assert (gen[result.years >= 2035] == 0).all()
    assert (gen[result.years < 2035] > 0).all()


def test_population_rows_are_registered_mesa_agents(baseline):
    model = CityModel(baseline, seed=0, resolution=FAST)
    household = model.households.agent(5)
    vehicle = model.vehicles.agent(7)
    assert isinstance(household, mesa.Agent) and household in model.agents
    assert vehicle.state()["km_per_yr"] == model.vehicles.cols["km_per_yr"][7]
    assert household.income_cny == model.households.cols["income_cny"][5]
    assert len(model.agents_by_type[PowerPlant]) == len(baseline.power.units)


def test_agents_register_as_with_mesa_and_signal_when_observed(baseline):
    """CityModel registers agents with Mesa's own method, and its ``agents`` signals reach subscribers."""
    plain = mesa.Model(rng=np.random.default_rng(0))
    model = CityModel(baseline, seed=0, resolution=FAST)
    assert model.observables["agents"] == plain.observables["agents"]
    # Registration without subscribers: ids, the agent set and the sets by type as Mesa keeps them.
    for m in (plain, model):
        m.agent_id_counter = 100
        first = PowerPlant(m, "a", "wind", 10.0, 2030, 25)
        second = PowerPlant(m, "b", "solar", 10.0, 2030, 25)
        first.remove()
        first.remove()  # a second removal is ignored, as Mesa's Agent.remove ignores it
        assert (first.unique_id, second.unique_id) == (100, 101) and m.agent_id_counter == 102
        assert first not in m.agents and second in m.agents
        assert first not in m.agents_by_type[PowerPlant] and second in m.agents_by_type[PowerPlant]
    # With a subscriber, each registration and removal sends Mesa's signal.
    seen = []

    def handler(signal):
        seen.append((signal.signal_type, signal.additional_kwargs["args"][0]))

    model.observe("agents", ALL, handler)
    third = PowerPlant(model, "c", "wind", 10.0, 2030, 25)
    third.remove()
    added, removed = ModelSignals.AGENT_ADDED, ModelSignals.AGENT_REMOVED
    assert seen == [(added, third), (removed, third)]
    # Inside a batch the signals are captured and sent when it closes, as for any Mesa model.
    with model.batch():
        fourth = PowerPlant(model, "d", "wind", 10.0, 2030, 25)
    assert seen[2:] == [(added, fourth)] and fourth in model.agents


def test_default_and_full_resolution_agree_within_stated_tolerance(baseline):
    """Weights make the default resolution (0.1) an estimate of the full-scale city.

    Stated tolerance: per-year totals within 1%; mean absolute deviation over the horizon within 3% for
    transport and 6% for buildings' direct CO2 (gas boilers and stoves, ~0.6% of the total, decided by
    1,000 building agents instead of 10,000). The same seed keeps weather and plant-level draws common,
    so what differs is only the sampling of households, vehicles and buildings.
    """
    full = run(baseline, seed=5, resolution=1.0)
    coarse = run(baseline, seed=5, resolution=0.1)
    np.testing.assert_allclose(coarse.total_mt(), full.total_mt(), rtol=0.01)
    for sector, tol in (("transport", 0.03), ("buildings", 0.06)):
        c = coarse.sector_mt()[sector].to_numpy()
        f = full.sector_mt()[sector].to_numpy()
        assert np.mean(np.abs(c - f) / f) < tol, sector


def test_base_year_inventory_does_not_depend_on_sampled_prices_and_capacity_factors(baseline):
    """The base year is observed: an ensemble that samples capacity factors and power and fuel prices still
    reproduces it, and the sampled values act from the first projected year on. (A Sobol run with a low
    regional power price and cheap coal re-dispatched the base year to 16.6 Mt.)"""
    low = {
        "wind_capacity_factor": 0.21,
        "solar_capacity_factor": 0.145,
        "regional_power_price_cny_per_mwh": 203.0,
        "coal_price_cny_per_gj": 19.8,
    }
    high = {"wind_capacity_factor": 0.31, "solar_capacity_factor": 0.19}
    a = run(baseline, 0, low, FAST)
    b = run(baseline, 0, high, FAST)
    np.testing.assert_allclose(a.sector_mt().iloc[0], b.sector_mt().iloc[0], rtol=1e-12)
    assert a.ledger.electricity["export_mwh"][0] == pytest.approx(b.ledger.electricity["export_mwh"][0], rel=1e-12)
    assert a.sector_mt()["power_heat"].iloc[1] != pytest.approx(b.sector_mt()["power_heat"].iloc[1], rel=1e-3)


@pytest.mark.parametrize("length", [0, 1, 2, 3, 31, 32, 33, 60, 64, 65, 100])
def test_power_unit_shuffle_gives_random_shuffles_order_and_takes_the_same_numbers(length: int) -> None:
    for seed in range(30):
        a, b = random.Random(seed), random.Random(seed)
        expected, got = list(range(length)), list(range(length))
        a.shuffle(expected)
        shuffle_like_random(b, got)
        assert got == expected
        assert a.getstate() == b.getstate()
