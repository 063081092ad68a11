"""The power units' and refineries' yearly decisions give what their pricing methods say."""

from __future__ import annotations

from agents.power import CAPTURE_LEAD_YEARS, CAPTURE_PAYBACK_YEARS
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


def test_capture_support_summed_once_a_year_is_the_sum_each_unit_would_make(baseline):
    # Coal units weigh capture against the mean support over a train's payback years, summed once per year: pin it
    # to the sum each unit would make over the years from its train's first year in service.
    overrides = {"ccus_subsidy_cny_per_t": 400, "ccus_cluster_mt_2030": 10}
    model = CityModel(baseline, 0, overrides, FAST)
    seen = 0
    for _ in range(20):
        model.step()
        if model._capture_support is None:
            continue
        year, mean = model._capture_support
        assert year == model.year
        p = model.policies
        horizon = range(year + CAPTURE_LEAD_YEARS, year + CAPTURE_LEAD_YEARS + CAPTURE_PAYBACK_YEARS)
        support = sum(p.carbon_price("power_heat", y) + p.abatement_support_cny_per_t("ccus_power", y) for y in horizon)
        assert mean == support / CAPTURE_PAYBACK_YEARS
        seen += 1
    assert seen
