"""Households: appliances, cooking fuel, rooftop PV and green travel, decided in one kernel per year.

Each agent has an income, a dwelling type, a hurdle rate and a neighbourhood (for peer effects). Every
year each agent:
    * replaces appliances with probability 1/life, the new ones at the efficiency of that year's standard;
    * replaces its stove with probability 1/life, choosing gas or induction by a logit on annual cost
      (with the carbon price passed through to gas where buildings are covered) and on the share of
      induction among its neighbours;
    * if its roof allows and it has no PV, adopts rooftop PV with a probability rising with the ratio of
      bill savings to annualised cost at its own hurdle rate and with neighbours' adoption;
    * moves its share of trips by walking, cycling and public transport towards a target set by transit
      service, car ownership and neighbours' habits;
    * if it does not yet sort its waste, starts with a probability that rises with the sorting campaign
      and the share of sorting neighbours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agents.population import Population, RowAgent, crf, group_share, logit_choice

if TYPE_CHECKING:
    from sim.inputs import HouseholdSpec

    from sim.model import CityModel

GAS, INDUCTION = 0, 1
PV_FULL_LOAD_HOURS_PER_CF = 8760.0
PV_SELF_CONSUMPTION = 0.6
"""Share of rooftop PV output used on site (assumption); the rest is sold at the regional price."""
GAS_STOVE_HABIT_UTILS = 1.0
"""Preference for flame cooking not explained by cost (assumption)."""


class Household(RowAgent):
    columns = (
        "income_cny",
        "apartment",
        "hurdle_rate",
        "neighbourhood",
        "appliance_efficiency",
        "stove",
        "pv_kw",
        "green_travel_share",
        "green_travel_base",
        "owns_car",
        "sorts_waste",
    )


class Households(Population):
    agent_class = Household

    def __init__(
        self,
        model: CityModel,
        spec: HouseholdSpec,
        n_real: float,
        resolution: float,
        rng: np.random.Generator,
    ):
        super().__init__(model, n_real, resolution, rng, growth_headroom=0.5)
        self.spec = spec
        n = self.n
        p = model.params
        income = spec.income_mean_cny * rng.lognormal(-0.5 * spec.income_sigma**2, spec.income_sigma, n)
        self.add_column("income_cny", income)
        self.add_column("apartment", rng.random(n) < spec.apartment_share)
        hr = p["hurdle_rate_mean"] * rng.lognormal(-0.125, 0.5, n)
        self.add_column("hurdle_rate", hr)
        self.n_groups = max(1, int(np.ceil(n_real / spec.households_per_neighbourhood)))
        self.add_column("neighbourhood", rng.integers(0, self.n_groups, n))
        self.add_column("appliance_efficiency", np.ones(n))
        self.add_column("stove", np.where(rng.random(n) < spec.gas_cooking_share, GAS, INDUCTION).astype(np.int8))
        eligible_share = np.where(
            self.live("apartment"),
            spec.rooftop_eligible_share_apartment,
            spec.rooftop_eligible_share_detached,
        )
        self.add_column("roof_ok", rng.random(n) < eligible_share)
        has_pv = self.live("roof_ok") & (rng.random(n) < spec.pv_adopted_share / max(eligible_share.mean(), 1e-9))
        self.add_column("pv_kw", np.where(has_pv, spec.pv_kw_per_system, 0.0))
        a, b = 4.0 * spec.green_travel_share, 4.0 * (1 - spec.green_travel_share)
        g = rng.beta(max(a, 0.1), max(b, 0.1), n)
        self.add_column("green_travel_share", g)
        self.add_column("green_travel_base", g.copy())
        self.add_column("owns_car", np.zeros(n, dtype=bool))
        # Intercept per agent so that today's habits are each agent's equilibrium at base-year service.
        logit_g = np.log(np.clip(g, 1e-3, 1 - 1e-3) / np.clip(1 - g, 1e-3, 1))
        self.add_column("travel_intercept", logit_g)
        sorting0 = model.inputs.waste.sorting_share if model.inputs.waste is not None else 0.0
        self.add_column("sorts_waste", rng.random(n) < sorting0)

    def grow_to(self, n_real: float, rng: np.random.Generator) -> None:
        """Add agents for new households; they copy the traits of randomly chosen existing ones."""
        target = int(round(n_real / self.weight)) if self.weight > 0 else 0
        k = target - self.n
        if k <= 0:
            return
        src = rng.integers(0, self.n, k)
        s = self.grow(k)
        for arr in self.cols.values():
            arr[s] = arr[src]
        self.cols["appliance_efficiency"][s] = self.model.appliance_standard
        self.cols["pv_kw"][s] = 0.0

    def step(self, year: int) -> None:
        m = self.model
        spec = self.spec
        rng = self.rng
        n = self.n
        p = m.params
        # Appliances
        replace = rng.random(n) < 1.0 / spec.appliance_life_yr
        self.live("appliance_efficiency")[replace] = m.appliance_standard
        # Cooking: gas vs induction at stove replacement
        change = rng.random(n) < 1.0 / spec.stove_life_yr
        gas_cost = spec.cooking_gj_per_yr * m.retail_gas_price_cny_per_gj(year, "buildings")
        ind_cost = (
            spec.cooking_gj_per_yr
            / spec.induction_stove_efficiency_ratio
            / 0.0036
            * spec.retail_power_price_cny_per_kwh
        )
        stove = self.live("stove")
        groups = self.live("neighbourhood")
        peer_ind = group_share(groups, stove == INDUCTION, self.n_groups)
        k = p["choice_cost_sensitivity"] / 1e4
        idx = np.flatnonzero(change)
        if len(idx):
            u = np.empty((len(idx), 2))
            u[:, GAS] = -k * gas_cost + GAS_STOVE_HABIT_UTILS + p["peer_effect_strength"] * (1 - peer_ind[idx])
            u[:, INDUCTION] = -k * ind_cost + p["peer_effect_strength"] * peer_ind[idx]
            stove[idx] = logit_choice(rng, u)
        # Rooftop PV
        pv = self.live("pv_kw")
        candidates = self.live("roof_ok") & (pv == 0)
        cf = p["solar_capacity_factor"]
        saving = (
            spec.pv_kw_per_system
            * cf
            * PV_FULL_LOAD_HOURS_PER_CF
            * (
                PV_SELF_CONSUMPTION * spec.retail_power_price_cny_per_kwh
                + (1 - PV_SELF_CONSUMPTION) * m.regional_price_cny_per_mwh(year) / 1e3
            )
        )
        capex = (
            spec.pv_kw_per_system
            * 1e3
            * max(
                m.developer.capex_cny_per_kw("solar", year) / 1e3 * 1.3 - m.policies.pv_subsidy_cny_per_w(year),
                0.0,
            )
        )
        annual_cost = capex * crf(self.live("hurdle_rate"), 20.0)
        peer_pv = group_share(groups, pv > 0, self.n_groups)
        x = 4.0 * (saving / np.maximum(annual_cost, 1.0) - 1.0) + p["peer_effect_strength"] * peer_pv - 1.5
        adopt = candidates & (rng.random(n) < 0.1 / (1.0 + np.exp(-x)))
        pv[adopt] = spec.pv_kw_per_system
        m.policies.record_pv_adoptions(float(adopt.sum()) * self.weight * spec.pv_kw_per_system, year)
        # Green travel
        g = self.live("green_travel_share")
        peer_g = np.bincount(groups, weights=g, minlength=self.n_groups) / np.maximum(
            np.bincount(groups, minlength=self.n_groups), 1
        )
        target_logit = (
            self.live("travel_intercept")
            + m.policies.transit_service_utils(year)
            + 0.5 * p["peer_effect_strength"] * (peer_g[groups] - self.live("green_travel_base"))
        )
        target = 1.0 / (1.0 + np.exp(-target_logit))
        g += spec.green_travel_drift_per_yr * (target - g)
        # Waste sorting: adoption rises with the sorting campaign and with neighbours who already sort.
        sorts = self.live("sorts_waste")
        peer_sort = group_share(groups, sorts, self.n_groups)
        x = (
            -2.0
            + m.policies.value("waste_sorting_push_utils", year)
            + 2.0 * p["peer_effect_strength"] / 1.5 * peer_sort
        )
        sorts |= (~sorts) & (rng.random(n) < 0.15 / (1.0 + np.exp(-x)))

    def account(self, y: int) -> dict[str, float]:
        """Book cooking gas and appliance electricity; return electricity use and rooftop capacity."""
        m = self.model
        spec = self.spec
        w = self.weight
        stove = self.live("stove")
        size = (self.live("income_cny") / spec.income_mean_cny) ** 0.3
        appliance_mwh = float((spec.appliance_kwh_per_yr * size * self.live("appliance_efficiency")).sum()) * w / 1e3
        n_gas = float((stove == GAS).sum()) * w
        n_ind = float((stove == INDUCTION).sum()) * w
        gas_tj = n_gas * spec.cooking_gj_per_yr / 1e3
        induction_mwh = n_ind * spec.cooking_gj_per_yr / spec.induction_stove_efficiency_ratio / 3.6
        m.ledger.add_energy(y, "buildings", "natural_gas", gas_tj)
        m.ledger.add_energy(y, "buildings", "electricity", (appliance_mwh + induction_mwh) * 3.6 / 1e3)
        rooftop_mw = float(self.live("pv_kw").sum()) * w / 1e3
        m.ledger.add_series(m.ledger.stocks, ("households", "induction_cooking"), y, n_ind)
        m.ledger.add_series(m.ledger.stocks, ("households", "gas_cooking"), y, n_gas)
        m.ledger.add_series(
            m.ledger.stocks,
            ("households", "rooftop_pv_systems"),
            y,
            float((self.live("pv_kw") > 0).sum()) * w,
        )
        return {"electricity_mwh": appliance_mwh + induction_mwh, "rooftop_mw": rooftop_mw}

    def sorting_share(self) -> float:
        return float(self.live("sorts_waste").mean()) if self.n else 0.0

    def green_travel_share(self) -> float:
        return float(self.live("green_travel_share").mean()) if self.n else 0.0

    def car_km_factor(self) -> np.ndarray:
        """Per-household multiplier on private car km from the change in green travel since the base year."""
        g = self.live("green_travel_share")
        g0 = self.live("green_travel_base")
        return np.clip((1 - g) / np.maximum(1 - g0, 0.05), 0.0, 2.0)
