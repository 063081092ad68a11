"""The power units' and refineries' yearly decisions give what their pricing methods say."""

from __future__ import annotations

from agents.power import CAPTURE_PAYBACK_YEARS
from sim.model import CityModel

FAST = 0.02


def test_refinery_weighs_each_option_at_its_option_cost(baseline):
    # Refinery.step weighs options with option_cost_cny_per_t inlined: pin it to the method.
    model = CityModel(baseline, 0, {}, FAST)
    seen = 0
    for _ in range(12):
        model.step()
        for refinery in model.refineries:
            for option in refinery.spec.options:
                if option.name in refinery.last_option_cost and option.name not in refinery.started:
                    assert refinery.last_option_cost[option.name] == refinery.option_cost_cny_per_t(option, model.year)
                    seen += 1
    assert seen > 0


def test_capture_pays_is_the_unit_by_unit_comparison(baseline):
    # Coal units weigh whether capture pays once per year: pin it to the comparison each unit would make.
    overrides = {"ccus_subsidy_cny_per_t": 400, "ccus_cluster_mt_2030": 10}
    model = CityModel(baseline, 0, overrides, FAST)
    outcomes = set()
    for _ in range(20):
        model.step()
        if model._capture_pays is None:
            continue
        year, pays = model._capture_pays
        assert year == model.year
        p = model.policies
        unit = model._thermal_units[0]
        horizon = range(year, year + CAPTURE_PAYBACK_YEARS)
        support = sum(p.carbon_price("power_heat", y) + p.abatement_support_cny_per_t("ccus_power", y) for y in horizon)
        assert pays == (unit.capture_cost_cny_per_t(year) <= support / CAPTURE_PAYBACK_YEARS)
        outcomes.add(pays)
    assert outcomes
