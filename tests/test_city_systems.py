"""Oilfield, CO2 network, hydrogen, data centres, waste and sinks: each responds as its decisions say."""

from __future__ import annotations

import numpy as np
import pytest

from sim.constants import FUEL_INDEX, SECTOR_INDEX
from sim.model import CityModel, run

FAST = 0.02
YEARS = np.arange(2024, 2061)


def pair(scenario, overrides, seed=0):
    return run(scenario, seed, {}, FAST), run(scenario, seed, overrides, FAST)


def energy(result, sector, fuel):
    return result.ledger.energy_tj[:, SECTOR_INDEX[sector], FUEL_INDEX[fuel]]


def test_oilfield_steam_electrification_swaps_gas_for_electricity(baseline):
    off, on = pair(baseline, {"oilfield_steam_electrification_share": 0.8})
    assert energy(on, "oilfield", "natural_gas")[-1] < 0.5 * energy(off, "oilfield", "natural_gas")[-1]
    assert energy(on, "oilfield", "electricity")[-1] > energy(off, "oilfield", "electricity")[-1]
    assert on.sector_mt()["oilfield"].iloc[-1] < off.sector_mt()["oilfield"].iloc[-1]


def test_steam_electrifies_on_its_own_when_gas_steam_costs_more_than_electric(baseline):
    cheap_gas = CityModel(baseline, 0, {}, FAST)
    cheap_gas.run()
    dear_gas = CityModel(baseline, 0, {"gas_price_cny_per_gj": 70, "regional_power_price_cny_per_mwh": 200}, FAST)
    dear_gas.run()
    heavy = [next(b for b in m.oilfield if b.spec.steam_gas_gj_per_t_oil > 0) for m in (cheap_gas, dear_gas)]
    gas, electric = heavy[1].steam_costs_cny_per_gj(2030)
    assert electric < gas
    assert heavy[0].electric_steam_share == 0.0 and heavy[1].electric_steam_share > 0.5


def test_pv_for_oil_adds_captive_solar(baseline):
    off, on = pair(baseline, {"pv_for_oil_share": 0.5})
    assert on.ledger.capacity_mw["oilfield_solar"][-1] > 10 * off.ledger.capacity_mw["oilfield_solar"][-1]
    assert on.ledger.generation_by_tech_mwh["oilfield_solar"].sum() > 0


def test_capture_never_exceeds_network_capacity(baseline):
    overrides = {"ccus_mandate_year": 2027, "ccus_power_demo_year": 2027, "ccus_subsidy_cny_per_t": 400}
    model = CityModel(baseline, 0, overrides, FAST)
    result = model.run()
    captured = result.ledger.captured_co2_t.sum(axis=1)
    capacity = np.array([model.ccus_network.capacity_mt(int(y)) * 1e6 for y in result.years])
    assert (captured <= capacity + 1).all()
    assert (captured[result.years >= 2028] >= capacity[result.years >= 2028] - 1).any()  # binding somewhere


def test_cluster_capacity_lets_the_power_demo_capture(baseline):
    _, small = pair(baseline, {"ccus_power_demo_year": 2028})
    _, big = pair(baseline, {"ccus_power_demo_year": 2028, "ccus_cluster_mt_2030": 10})
    y = list(YEARS).index(2032)
    assert big.ledger.captured_co2_t[y, SECTOR_INDEX["power_heat"]] > 1e6
    assert small.ledger.captured_co2_t[y, SECTOR_INDEX["power_heat"]] < 1e6


def test_stored_co2_is_eor_retained_plus_saline_and_the_rest_is_emitted(baseline):
    overrides = {
        "ccus_power_demo_year": 2028,
        "ccus_cluster_mt_2030": 10,
        "eor_retention_share": 0.7,
        "ccus_subsidy_cny_per_t": 400,
        "ccus_mandate_year": 2028,
        "ccus_subsidy_budget_mcny": 20000,
    }
    _, on = pair(baseline, overrides)
    c = on.ledger.ccus
    # The base year is accounted with the scenario's (observed) retention, later years with the run's value.
    retention = np.full(len(YEARS), 0.7)
    retention[0] = baseline.parameter_values()["eor_retention_share"]
    np.testing.assert_allclose(c["stored_t"], retention * c["injected_eor_t"] + c["injected_saline_t"], rtol=1e-9)
    np.testing.assert_allclose(c["injected_eor_t"] + c["injected_saline_t"], c["captured_t"], rtol=1e-9)
    np.testing.assert_allclose(on.ledger.process_co2_t[:, SECTOR_INDEX["oilfield"]], c["eor_released_t"], rtol=1e-9)
    assert c["injected_saline_t"].max() > 0  # more captured than the fields take for EOR


def test_green_hydrogen_plants_displace_refinery_smr_gas(baseline):
    off, on = pair(baseline, {"green_h2_plant_kt_2030": 60})
    assert energy(on, "refining", "natural_gas")[-1] < energy(off, "refining", "natural_gas")[-1]
    h2 = on.ledger.stocks[("hydrogen", "capacity_kt")]
    assert h2[list(YEARS).index(2031)] == pytest.approx(70.0)  # 10 kt CEEC + 60 kt by the lever


def test_data_centre_load_grows_and_green_power_lever_builds_renewables(baseline):
    off, on = pair(baseline, {"data_centre_green_power_share": 1.0})
    dc = energy(off, "data_centres", "electricity")
    assert dc[list(YEARS).index(2040)] > 2 * dc[0]
    model = CityModel(baseline, 0, {"data_centre_green_power_share": 1.0}, FAST)
    model.run()
    assert model.developer.built_for_data_centres_mw > 200
    y = list(YEARS).index(2030)
    assert on.ledger.capacity_mw["wind"][y] + on.ledger.capacity_mw["solar"][y] > (
        off.ledger.capacity_mw["wind"][y] + off.ledger.capacity_mw["solar"][y]
    )


def test_waste_sorting_campaign_raises_resource_utilisation(baseline):
    off, on = pair(baseline, {"waste_sorting_push_utils": 3.0})
    key = "waste_resource_utilisation_share"
    assert on.ledger.indicators[key][-1] > off.ledger.indicators[key][-1]


def test_more_incineration_cuts_landfill_methane_but_adds_fossil_co2(baseline):
    off, on = pair(baseline, {"waste_incineration_share_target": 0.9})
    w = SECTOR_INDEX["waste"]
    assert on.ledger.ch4_co2e_t[-1, w] < 0.5 * off.ledger.ch4_co2e_t[-1, w]
    assert on.ledger.process_co2_t[-1, w] > off.ledger.process_co2_t[-1, w]
    assert (
        on.ledger.generation_by_tech_mwh["waste_to_energy"][-1]
        > off.ledger.generation_by_tech_mwh["waste_to_energy"][-1]
    )


def test_methane_is_reported_beside_co2_not_inside_it(baseline):
    r = run(baseline, 0, {}, FAST)
    np.testing.assert_allclose(r.total_mt("ghg") - r.total_mt("direct"), r.ledger.ch4_co2e_t.sum(axis=1) / 1e6)
    assert r.ledger.ch4_co2e_t.sum() > 0


def test_afforestation_raises_removals_and_net_is_below_gross(baseline):
    off, on = pair(baseline, {"afforestation_ha_per_yr": 3000})
    assert on.ledger.sink_co2_t[-1] > off.ledger.sink_co2_t[-1]
    assert (on.total_mt("net") < on.total_mt("direct")).all()


def test_afforestation_books_planting_and_upkeep_as_fiscal_cost(baseline):
    ha_per_yr = 3000
    off, on = pair(baseline, {"afforestation_ha_per_yr": ha_per_yr})
    assert ("afforestation", "fiscal_cost_cny") not in off.ledger.policy
    cost = on.ledger.policy[("afforestation", "fiscal_cost_cny")]
    spec = baseline.sinks
    start = baseline.policies.start_year
    years = YEARS
    planting = years >= start
    # Each year: the new hectares' planting, and upkeep of every hectare planted in earlier years.
    years_since = years[planting] - start
    expected = ha_per_yr * spec.planting_cny_per_ha + ha_per_yr * years_since * spec.upkeep_cny_per_ha_yr
    np.testing.assert_allclose(cost[planting], expected, rtol=1e-12)
    assert (cost[~planting] == 0).all()


# ------------------------------------------------------------------------------------------ coal-unit capture
def _capture_candidate(baseline, subsidy_last_year: int = 2060):
    """A built city where CCUS support of 400 CNY/t runs 2025-``subsidy_last_year``, and one coal unit that
    is not the named demonstration unit, emitting 3 Mt a year."""
    model = CityModel(baseline, 0, {"ccus_subsidy_cny_per_t": 400, "ccus_subsidy_budget_mcny": 20000}, FAST)
    support = model.policies.subsidies["ccus"]
    support.first_year, support.last_year = 2025, subsidy_last_year
    demo = model.inputs.ccus.power_demo_unit
    unit = next(u for u in model._thermal_units if u.technology in ("coal", "coal_chp") and u.name != demo)
    unit.last_emissions_t = 3e6
    return model, unit


def test_coal_unit_capture_is_sized_to_the_room_the_co2_network_has_and_grows_with_it(baseline, monkeypatch):
    from agents.power import CAPTURE_LEAD_YEARS as LEAD

    model, unit = _capture_candidate(baseline)
    other = next(u for u in model._thermal_units if u.technology in ("coal", "coal_chp") and u not in (unit,))
    other.last_emissions_t = 3e6
    network = model.ccus_network
    full = model.inputs.ccus.power_capture_rate
    penalty = model.inputs.ccus.power_energy_penalty_share
    heat_rate = unit.heat_rate_gj_per_mwh
    capacity_mt = {2030 + LEAD: 1.5, 2031 + LEAD: 1.5, 2032 + LEAD: 20.0}
    monkeypatch.setattr(network, "capacity_mt", lambda year: capacity_mt.get(year, 1.5))
    network.granted_t = 0.3e6  # last year's grants: 1.2 Mt of room
    unit._consider_ccs(2030)
    assert unit.capture_trains_pending == [(2030 + LEAD, pytest.approx(1.2e6 / 3e6))]
    assert unit.capture_rate == 0.0 and unit.ccs_year is None  # decided, not yet built
    other._consider_ccs(2030)  # the same year's next unit finds the room taken
    assert other.capture_trains_pending == [] and other.capture_rate == 0.0
    unit._consider_ccs(2031)  # still taken a year later, while the train is being built
    assert len(unit.capture_trains_pending) == 1
    unit._consider_ccs(2032)  # the cluster will have grown: a second train takes the unit to the full rate
    assert [rate for _, rate in unit.capture_trains_pending] == [pytest.approx(0.4), pytest.approx(full - 0.4)]
    unit._consider_ccs(2030 + LEAD)
    assert unit.ccs_year == 2030 + LEAD and unit.capture_rate == pytest.approx(0.4)
    assert unit.heat_rate_gj_per_mwh == pytest.approx(heat_rate * (1 + penalty * 0.4 / full))
    unit._consider_ccs(2032 + LEAD)
    assert unit.capture_rate == pytest.approx(full) and unit.ccs_year == 2030 + LEAD
    assert unit.heat_rate_gj_per_mwh == pytest.approx(heat_rate * (1 + penalty))
    assert unit.capture_trains_pending == []


def test_coal_unit_capture_needs_support_over_its_payback_years_in_service_not_only_this_year(baseline):
    from agents.power import CAPTURE_LEAD_YEARS, CAPTURE_PAYBACK_YEARS

    short, unit = _capture_candidate(baseline, subsidy_last_year=2030)
    p = short.policies
    this_year = p.carbon_price("power_heat", 2030) + p.abatement_support_cny_per_t("ccus_power", 2030)
    assert unit.capture_cost_cny_per_t(2030) <= this_year  # support ending this year would pay it, this year
    short.ccus_network.granted_t = 0.0
    unit._consider_ccs(2030)
    assert unit.capture_trains_pending == [] and unit.capture_rate == 0.0
    in_service = 2030 + CAPTURE_LEAD_YEARS
    long, unit = _capture_candidate(baseline, subsidy_last_year=in_service + CAPTURE_PAYBACK_YEARS)
    long.ccus_network.granted_t = 0.0
    unit._consider_ccs(2030)
    assert [year for year, _ in unit.capture_trains_pending] == [in_service]


def test_a_runs_units_table_says_which_coal_units_capture_from_when_and_how_much(baseline):
    overrides = {"ccus_power_demo_year": 2028, "ccus_cluster_mt_2030": 10}
    result = run(baseline, 0, overrides, FAST)
    demo = next(u for u in result.units if u["name"] == baseline.ccus.power_demo_unit)
    assert demo["ccs_year"] == 2028 and demo["capture_rate"] == baseline.ccus.power_capture_rate
    assert all(u["ccs_year"] is None and u["capture_rate"] == 0.0 for u in result.units if u["technology"] == "wind")


def test_capture_on_a_unit_near_its_end_of_life_costs_more_a_tonne_and_none_after_it(baseline):
    from agents.power import CAPTURE_PAYBACK_YEARS

    model, unit = _capture_candidate(baseline)
    closes = unit.commissioned + unit.lifetime_yr
    if unit.technology == "coal":
        closes = min(closes, model.policies.coal_phase_out_year)
    full_life = unit.capture_cost_over_life_cny_per_t(2030, closes - CAPTURE_PAYBACK_YEARS)
    assert full_life == pytest.approx(unit.capture_cost_cny_per_t(2030))
    assert unit.capture_cost_over_life_cny_per_t(2030, closes - 2) > 2 * full_life
    assert unit.capture_cost_over_life_cny_per_t(2030, closes) == float("inf")
