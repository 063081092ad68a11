"""What each lever achieves and costs: emissions avoided against the same run without it.

Avoided tonnes are net CO2 (direct minus sink removals) from 2025 to the horizon. For each lever family set
away from current policy in a scenario, the scenario is run twice with the same
seed (common random numbers: the same weather, the same household, vehicle and building draws where
decisions do not diverge): once as it is, once with that family reset to its registry defaults (current
policy). The difference gives cumulative CO2 avoided, the change in fiscal cost (subsidies paid), in
private abatement cost (refinery options, coal retrofits, building retrofits) and in carbon revenue; cost
per tonne avoided = (fiscal + private cost change) / tonnes avoided, defined only where the lever avoids
emissions (at least 1 kt): for a lever that avoids nothing or raises emissions the ratio would be zero-divided
or negative, and a negative "cost per tonne" reads as a saving, so it is NaN there. Carbon revenue is a
transfer and is reported beside it, not netted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim import registry
from sim.model import CityModel, Lockstep, RunResult, lockstep_members
from sim.scenario import Scenario

LEVER_FAMILIES: dict[str, tuple[str, ...]] = {
    "carbon_price": (
        "carbon_price_start_cny_per_t",
        "carbon_price_2030_cny_per_t",
        "carbon_price_2060_cny_per_t",
        "carbon_coverage_industry_year",
        "carbon_coverage_transport_year",
        "carbon_coverage_buildings_year",
        "carbon_free_allocation_share",
        "carbon_pass_through_share",
    ),
    "ev_subsidy": ("ev_subsidy_cny_per_vehicle", "ev_subsidy_budget_mcny"),
    "heat_pump_subsidy": ("heat_pump_subsidy_cny_per_m2", "heat_pump_subsidy_budget_mcny"),
    "rooftop_pv_subsidy": ("rooftop_pv_subsidy_cny_per_w", "rooftop_pv_subsidy_budget_mcny"),
    "retrofit_subsidy": ("retrofit_subsidy_cny_per_m2", "retrofit_subsidy_budget_mcny"),
    "green_h2_subsidy": ("green_h2_subsidy_cny_per_kg", "green_h2_subsidy_budget_mcny"),
    "ccus_subsidy": ("ccus_subsidy_cny_per_t", "ccus_subsidy_budget_mcny"),
    "bus_mandate": ("bus_electric_sales_share",),
    "taxi_mandate": ("taxi_electric_sales_share",),
    "light_truck_mandate": ("light_truck_electric_sales_share",),
    "heavy_truck_mandate": ("heavy_truck_electric_sales_share",),
    "electric_heating_mandate": ("electric_heating_share_of_installs",),
    "industry_electrification": ("industry_electrification_extra_pct_pts_per_yr",),
    "coal_phase_out": ("coal_phase_out_year",),
    "coal_retrofits": ("coal_retrofit_mandate_year",),
    "renewable_target": ("renewable_capacity_target_gw_2030",),
    "storage_requirement": ("storage_share_of_new_re",),
    "ccus_mandate": ("ccus_mandate_year",),
    "chemicals_shift": ("refinery_chemicals_shift_pct_pts",),
    "efficiency_standards": ("efficiency_standard_extra_pct_per_yr",),
    "green_travel": ("transit_service_improvement_utils",),
    "emissions_cap": ("emissions_cap_mt",),
    "oilfield_steam_electrification": ("oilfield_steam_electrification_share",),
    "pv_for_oil": ("pv_for_oil_share",),
    "ccus_cluster": ("ccus_cluster_mt_2030",),
    "ccus_power_demo": ("ccus_power_demo_year",),
    "green_h2_plants": ("green_h2_plant_kt_2030",),
    "data_centre_green_power": ("data_centre_green_power_share",),
    "waste_sorting": ("waste_sorting_push_utils",),
    "waste_incineration": ("waste_incineration_share_target",),
    "afforestation": ("afforestation_ha_per_yr",),
}
"""Each lever family and the registry levers it owns; together they cover every lever in the registry."""
MIN_AVOIDED_MT = 1e-3
"""Cumulative avoided CO2 (1 kt) below which a lever is treated as avoiding nothing: no cost per tonne."""


def _costs(result: RunResult) -> dict[str, float]:
    """Policy cash flows from 2025 to the horizon, the window of the avoided tonnes."""
    window = result.years >= 2025
    out = {"fiscal_cost_cny": 0.0, "private_cost_cny": 0.0, "revenue_cny": 0.0}
    for (_, item), values in result.ledger.policy.items():
        out[item] = out.get(item, 0.0) + float(np.sum(values[window]))
    return out


def active_families(scenario: Scenario, overrides: dict[str, float] | None = None) -> list[str]:
    """Lever families the scenario (plus overrides) sets away from their registry defaults."""
    values = scenario.parameter_values(overrides)
    active = []
    for family, names in LEVER_FAMILIES.items():
        if any(values[n] != registry.get(n).default for n in names) or any(
            n in scenario.policies.schedules for n in names
        ):
            active.append(family)
    if "carbon_price_cny_per_t" in scenario.policies.schedules and "carbon_price" not in active:
        active.append("carbon_price")
    return active


def lever_effects(
    scenario: Scenario,
    seed: int = 1,
    resolution: float | None = None,
    families: list[str] | None = None,
    overrides: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Emissions avoided, costs and cost per tonne of each active lever family (one row per family).

    Cumulative figures run from 2025 to the horizon. A lever that avoids less than 1 kt, or raises
    emissions (``avoided_mt`` <= 0), is reported with an undefined (NaN) cost per tonne: the ratio would be
    meaningless or, being negative, would read as a saving.
    """
    base_overrides = dict(overrides or {})
    # The run with every lever and one run per family without it, same seed, stepped together.
    variants: list[tuple[str | None, Scenario, dict[str, float]]] = [(None, scenario, base_overrides)]
    for family in families or active_families(scenario, base_overrides):
        reset = {n: registry.get(n).default for n in LEVER_FAMILIES[family]}
        without_scenario = scenario
        if family == "carbon_price" and "carbon_price_cny_per_t" in scenario.policies.schedules:
            schedules = {k: v for k, v in scenario.policies.schedules.items() if k != "carbon_price_cny_per_t"}
            without_scenario = scenario.model_copy(
                update={"policies": scenario.policies.model_copy(update={"schedules": schedules})}
            )
        schedules = without_scenario.policies.schedules
        if any(n in schedules for n in LEVER_FAMILIES[family]):
            kept = {k: v for k, v in schedules.items() if k not in LEVER_FAMILIES[family]}
            without_scenario = without_scenario.model_copy(
                update={"policies": without_scenario.policies.model_copy(update={"schedules": kept})}
            )
        variants.append((family, without_scenario, {**base_overrides, **reset}))
    size = lockstep_members(resolution if resolution is not None else scenario.parameter_values()["resolution"])
    results: list[RunResult] = []
    for start in range(0, len(variants), size):
        group = variants[start : start + size]
        results += Lockstep([CityModel(sc, seed, ov, resolution) for _, sc, ov in group]).run()
    full = results[0]
    years = full.years
    window = years >= 2025
    # Net CO2 (direct minus sink removals), so that afforestation is credited; for every other lever it
    # equals the direct total because they do not change the sinks.
    full_cum = float(full.total_mt("net")[window].sum())
    full_cost = _costs(full)
    rows = []
    for (family, _, _), without in zip(variants[1:], results[1:], strict=True):
        cost = _costs(without)
        avoided_mt = float(without.total_mt("net")[window].sum()) - full_cum
        d_fiscal = full_cost["fiscal_cost_cny"] - cost["fiscal_cost_cny"]
        d_private = full_cost["private_cost_cny"] - cost["private_cost_cny"]
        d_revenue = full_cost["revenue_cny"] - cost["revenue_cny"]
        per_t = (d_fiscal + d_private) / (avoided_mt * 1e6) if avoided_mt >= MIN_AVOIDED_MT else float("nan")
        rows.append(
            {
                "lever": family,
                "avoided_mt": avoided_mt,
                "fiscal_cost_mcny": d_fiscal / 1e6,
                "private_cost_mcny": d_private / 1e6,
                "carbon_revenue_mcny": d_revenue / 1e6,
                "cost_per_t_cny": per_t,
                "peak_year_with": full.peak().peak_year,
                "peak_year_without": without.peak().peak_year,
            }
        )
    return pd.DataFrame(rows)


FAMILY_LIMITATIONS: dict[str, dict[str, str]] = {}
"""Lever families whose effect a known model limitation distorts (``docs/limitations.md``), with what to keep
in mind when reading it, in English and Chinese (as the registry keeps its labels). Shown beside the family's
figures by ``citypeak levers`` and the app's Policy cost tab, so that the figures are not cited without it; an
entry goes when its limitation is fixed. Empty since the refineries' electrolysers left the grid and the grid
access and target rules were reworked (``docs/limitations.md``), which fixed the three families noted before."""


PILOT_TARGETS_2025: dict[str, tuple[float, str]] = {
    "non_fossil_capacity_share": (0.70, "about 70% by 2025"),
    "non_fossil_energy_share": (0.06, "about 6% by 2025"),
    "electricity_share_of_final_energy": (0.12, "about 12% by 2025"),
    "green_travel_share": (0.75, "75% by 2025 (central city)"),
    "waste_resource_utilisation_share": (0.60, ">= 60% by end-2025"),
}
"""The pilot implementation plan's 2025 indicators (plan section 2; DESIGN.md section 7)."""


def indicator_scorecard(result: RunResult, year: int = 2025) -> pd.DataFrame:
    """Projected indicator values in ``year`` against the pilot plan's targets."""
    rows = []
    years = list(result.years)
    for name, (target, text) in PILOT_TARGETS_2025.items():
        series = result.ledger.indicators.get(name)
        if series is None or year not in years:
            continue
        value = float(series[years.index(year)])
        rows.append(
            {
                "indicator": name,
                "year": year,
                "value": value,
                "target": target,
                "target_text": text,
                "met": value >= target * 0.98,
            }
        )
    return pd.DataFrame(rows)
