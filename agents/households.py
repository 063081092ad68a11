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

How the kernel computes this (the rules above are what it computes; see DESIGN.md section 8): replacements
at a constant yearly probability are scheduled by drawing the waiting time at each replacement
(:func:`~agents.population.next_event_years`), and adoptions whose probability changes every year use one
exponential threshold per agent (:func:`~agents.population.hazard_clocks`), so a year touches only the agents
that act or can still adopt. Neighbourhood counts of induction stoves, PV and sorting households are kept
up to date where those columns change (here and in :meth:`Households.grow_to`), so peer shares cost one
division per neighbourhood, not a pass over all households.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agents.population import (
    Population,
    RowAgent,
    crf,
    hazard_clocks,
    logistic,
    next_event_years,
    yearly_hazard,
)

if TYPE_CHECKING:
    from sim.model import CityModel
    from sim.scenario import HouseholdSpec

GAS, INDUCTION = 0, 1
PV_FULL_LOAD_HOURS_PER_CF = 8760.0
PV_SELF_CONSUMPTION = 0.6
"""Share of rooftop PV output used on site (assumption); the rest is sold at the regional price."""
GAS_STOVE_HABIT_UTILS = 1.0
"""Preference for flame cooking not explained by cost (assumption)."""


_NOT_COPIED = frozenset(
    ("appliance_efficiency", "pv_kw", "next_appliance_year", "next_stove_year", "pv_clock", "sorting_threshold")
)
"""Columns a new household does not copy from its source (set in :meth:`Households.grow_to`)."""


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
        # Per-agent constants of the decision rules: functions of traits that never change, so computed once
        # here (and copied with the traits in grow_to) instead of every year.
        self.add_column("appliance_size", (income / spec.income_mean_cny) ** 0.3)
        self.add_column("pv_crf", crf(hr, 20.0))
        self.add_column("km_factor_scale", 1.0 / np.maximum(1.0 - g, 0.05))
        self.add_column("travel_const", logit_g - 0.5 * p["peer_effect_strength"] * g)
        # Scheduled replacements and adoption thresholds (see the module docstring).
        base = model.inputs.base_year
        self.add_column("next_appliance_year", next_event_years(rng, 1.0 / spec.appliance_life_yr, n, base))
        self.add_column("next_stove_year", next_event_years(rng, 1.0 / spec.stove_life_yr, n, base))
        self.add_column("pv_clock", hazard_clocks(rng, n))
        self.add_column("sorting_threshold", np.where(self.live("sorts_waste"), np.inf, hazard_clocks(rng, n)))
        self.sorting_hazard = np.zeros(self.n_groups)
        """Cumulative hazard of starting to sort, per neighbourhood since the base year: the yearly
        probability depends only on the neighbourhood and the year, so a household starts when its
        neighbourhood's cumulative hazard passes its ``sorting_threshold`` (its own Exp(1) draw plus the
        neighbourhood's hazard when it became a non-sorter)."""
        self._count_groups()

    def _count_groups(self) -> None:
        """Per neighbourhood: households, induction stoves, PV systems and sorting households."""
        groups = self.live("neighbourhood")
        G = self.n_groups
        self.group_size = np.bincount(groups, minlength=G).astype(float)
        self.induction_count = np.bincount(groups, weights=self.live("stove") == INDUCTION, minlength=G)
        self.pv_count = np.bincount(groups, weights=self.live("pv_kw") > 0, minlength=G)
        self.sorting_count = np.bincount(groups, weights=self.live("sorts_waste"), minlength=G)

    def grow_to(self, n_real: float, rng: np.random.Generator) -> None:
        """Add agents for new households; they copy the traits of randomly chosen existing ones.

        A new household has this year's appliances and no PV. Its stove may be replaced from this year on
        and its PV and sorting thresholds are its own draws: only the traits are copied, not the source's
        schedule.
        """
        target = int(round(n_real / self.weight)) if self.weight > 0 else 0
        k = target - self.n
        if k <= 0:
            return
        src = rng.integers(0, self.n, k)
        s = self.grow(k)
        for name, arr in self.cols.items():
            if name not in _NOT_COPIED:
                arr[s] = arr[src]
        year = self.model.year
        spec = self.spec
        self.cols["appliance_efficiency"][s] = self.model.appliance_standard
        self.cols["pv_kw"][s] = 0.0
        self.cols["next_appliance_year"][s] = next_event_years(rng, 1.0 / spec.appliance_life_yr, k, year)
        self.cols["next_stove_year"][s] = next_event_years(rng, 1.0 / spec.stove_life_yr, k, year - 1)
        self.cols["pv_clock"][s] = hazard_clocks(rng, k)
        new_groups = self.cols["neighbourhood"][s]
        self.cols["sorting_threshold"][s] = np.where(
            self.cols["sorts_waste"][s], np.inf, self.sorting_hazard[new_groups] + hazard_clocks(rng, k)
        )
        G = self.n_groups
        self.group_size += np.bincount(new_groups, minlength=G)
        self.induction_count += np.bincount(new_groups, weights=self.cols["stove"][s] == INDUCTION, minlength=G)
        self.sorting_count += np.bincount(new_groups, weights=self.cols["sorts_waste"][s], minlength=G)

    def _peer_share(self, count: np.ndarray) -> np.ndarray:
        """Share of each neighbourhood's households counted in ``count`` (0 for an empty neighbourhood)."""
        return count / np.maximum(self.group_size, 1.0)

    def step(self, year: int) -> None:
        """One year of household decisions (the rules and how they are computed: module docstring)."""
        m = self.model
        spec = self.spec
        rng = self.rng
        p = m.params
        peer_strength = p["peer_effect_strength"]
        groups = self.live("neighbourhood")
        G = self.n_groups
        # Appliances: replaced at the end of their (geometric) life, by ones at this year's standard.
        due = self.live("next_appliance_year")
        rows = np.flatnonzero(due == year)
        self.live("appliance_efficiency")[rows] = m.appliance_standard
        due[rows] = next_event_years(rng, 1.0 / spec.appliance_life_yr, len(rows), year)
        # Cooking: gas vs induction at stove replacement, a binary logit whose utilities differ by household
        # only through the neighbourhood's induction share, so P(gas) is computed per neighbourhood.
        due = self.live("next_stove_year")
        rows = np.flatnonzero(due == year)
        if len(rows):
            k = p["choice_cost_sensitivity"] / 1e4
            gas_cost = spec.cooking_gj_per_yr * m.retail_gas_price_cny_per_gj(year, "buildings")
            ind_cost = (
                spec.cooking_gj_per_yr
                / spec.induction_stove_efficiency_ratio
                / 0.0036
                * spec.retail_power_price_cny_per_kwh
            )
            peer_ind = self._peer_share(self.induction_count)
            u_gas = -k * gas_cost + GAS_STOVE_HABIT_UTILS + peer_strength * (1 - peer_ind)
            u_ind = -k * ind_cost + peer_strength * peer_ind
            p_gas = 1.0 / (1.0 + np.exp(u_ind - u_gas))
            g_rows = groups[rows]
            stove = self.live("stove")
            old = stove[rows]
            new = np.where(rng.random(len(rows)) > p_gas[g_rows], INDUCTION, GAS).astype(stove.dtype)
            stove[rows] = new
            self.induction_count += np.bincount(g_rows, weights=new - old.astype(float), minlength=G)
            due[rows] = next_event_years(rng, 1.0 / spec.stove_life_yr, len(rows), year)
        # Rooftop PV: only households with a suitable roof and no PV yet can adopt.
        pv = self.live("pv_kw")
        candidates = np.flatnonzero(self.live("roof_ok") & (pv == 0))
        adopted = 0
        if len(candidates):
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
            annual_cost = np.maximum(capex * self.live("pv_crf")[candidates], 1.0)
            peer_pv = self._peer_share(self.pv_count)
            x = 4.0 * (saving / annual_cost - 1.0) + (peer_strength * peer_pv - 1.5)[groups[candidates]]
            clock = self.live("pv_clock")
            left = clock[candidates] - yearly_hazard(0.1 * logistic(x))
            clock[candidates] = left
            adopt = candidates[left <= 0]
            adopted = len(adopt)
            pv[adopt] = spec.pv_kw_per_system
            self.pv_count += np.bincount(groups[adopt], minlength=G)
        m.policies.record_pv_adoptions(float(adopted) * self.weight * spec.pv_kw_per_system, year)
        # Green travel: each household drifts towards its target share.
        g = self.live("green_travel_share")
        peer_g = np.bincount(groups, weights=g, minlength=G) / np.maximum(self.group_size, 1)
        target = (
            self.live("travel_const") + (m.policies.transit_service_utils(year) + 0.5 * peer_strength * peer_g)[groups]
        )
        target = logistic(target)
        target -= g
        target *= spec.green_travel_drift_per_yr
        g += target
        # Waste sorting: adoption rises with the sorting campaign and with neighbours who already sort; the
        # probability is the same for all non-sorters of a neighbourhood.
        x = (
            -2.0
            + m.policies.value("waste_sorting_push_utils", year)
            + 2.0 * peer_strength / 1.5 * self._peer_share(self.sorting_count)
        )
        self.sorting_hazard += yearly_hazard(0.15 * logistic(x))
        threshold = self.live("sorting_threshold")
        start = np.flatnonzero(self.sorting_hazard[groups] >= threshold)
        if len(start):
            self.live("sorts_waste")[start] = True
            threshold[start] = np.inf
            self.sorting_count += np.bincount(groups[start], minlength=G)

    def account(self, y: int) -> dict[str, float]:
        """Book cooking gas and appliance electricity; return electricity use and rooftop capacity."""
        m = self.model
        spec = self.spec
        w = self.weight
        size_x_eff = float(np.einsum("i,i->", self.live("appliance_size"), self.live("appliance_efficiency")))
        appliance_mwh = spec.appliance_kwh_per_yr * size_x_eff * w / 1e3
        induction_agents = float(self.induction_count.sum())
        n_ind = induction_agents * w
        n_gas = (self.n - induction_agents) * w
        gas_tj = n_gas * spec.cooking_gj_per_yr / 1e3
        induction_mwh = n_ind * spec.cooking_gj_per_yr / spec.induction_stove_efficiency_ratio / 3.6
        m.ledger.add_energy(y, "buildings", "natural_gas", gas_tj)
        m.ledger.add_energy(y, "buildings", "electricity", (appliance_mwh + induction_mwh) * 3.6 / 1e3)
        rooftop_mw = float(self.live("pv_kw").sum()) * w / 1e3
        m.ledger.add_series(m.ledger.stocks, ("households", "induction_cooking"), y, n_ind)
        m.ledger.add_series(m.ledger.stocks, ("households", "gas_cooking"), y, n_gas)
        m.ledger.add_series(m.ledger.stocks, ("households", "rooftop_pv_systems"), y, float(self.pv_count.sum()) * w)
        return {"electricity_mwh": appliance_mwh + induction_mwh, "rooftop_mw": rooftop_mw}

    def sorting_share(self) -> float:
        return float(self.sorting_count.sum()) / self.n if self.n else 0.0

    def green_travel_share(self) -> float:
        return float(self.live("green_travel_share").sum()) / self.n if self.n else 0.0

    def car_km_factor(self, out: np.ndarray | None = None) -> np.ndarray:
        """Per-household multiplier on private car km from the change in green travel since the base year.

        ``(1 - share) / max(1 - base-year share, 0.05)``, between 0 and 2; written into ``out`` if given.
        """
        f = np.subtract(1.0, self.live("green_travel_share"), out=out)
        f *= self.live("km_factor_scale")
        return np.clip(f, 0.0, 2.0, out=f)
