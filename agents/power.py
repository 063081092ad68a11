"""Power units, the renewable developer, and the annual dispatch of the city's power system.

Dispatch runs over 96 representative hours (24 hours x 4 seasons, weighted by days), which is enough to
see the two things that matter for Karamay's emissions: heat-led coal CHP units that must run in winter
and push wind into curtailment, and the economics of exporting coal power to the regional grid at the
regional price when fuel plus carbon cost is below it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING

import mesa
import numpy as np

from agents.population import crf
from sim.constants import EMISSION_FACTOR_T_PER_TJ

if TYPE_CHECKING:
    from sim.model import CityModel

THERMAL = ("coal", "coal_chp", "gas")
FUEL_OF = {"coal": "coal", "coal_chp": "coal", "gas": "natural_gas"}
SEASON_DAYS = np.array([90.0, 92.0, 92.0, 91.0])
"""Winter (DJF), spring, summer, autumn."""
HEAT_SEASON_SHARE = np.array([0.58, 0.17, 0.0, 0.25])
"""Share of annual district heat by season; Karamay heats 15 Oct - 15 Apr (assumption from the local
heating-season rule and degree days by month)."""
HOURS = np.arange(24)


def _profiles() -> dict[str, np.ndarray]:
    """Normalised hourly shapes (4 x 24), each with day-weighted mean 1 (assumption: stylised shapes).

    Solar follows a daylight half-sine whose length and height vary by season; wind is stronger at night
    and in spring; electricity load is 75% flat industrial load and 25% a residential/commercial shape
    with an evening peak, higher in winter.
    """
    daylen = np.array([9.0, 13.0, 15.0, 11.0])
    height = np.array([0.55, 1.15, 1.3, 0.9])
    solar = np.zeros((4, 24))
    for s in range(4):
        x = (HOURS + 0.5 - (12.0 - daylen[s] / 2)) / daylen[s]
        solar[s] = height[s] * np.where((x > 0) & (x < 1), np.sin(np.pi * np.clip(x, 0, 1)), 0.0)
    wind = (1.0 + 0.2 * np.cos(2 * np.pi * (HOURS - 3) / 24))[None, :] * np.array([0.8, 1.3, 1.0, 0.9])[:, None]
    res = 0.7 + 0.5 * np.exp(-(((HOURS - 20) / 3.0) ** 2)) + 0.2 * np.exp(-(((HOURS - 12) / 3.0) ** 2))
    load = 0.75 + 0.25 * res[None, :] * np.array([1.15, 0.95, 1.05, 0.95])[:, None]
    out = {}
    w = SEASON_DAYS[:, None] * np.ones((1, 24))
    for k, v in {"solar": solar, "wind": wind, "load": load}.items():
        out[k] = v / ((v * w).sum() / w.sum())
    return out


PROFILES = _profiles()
WEIGHTS = (SEASON_DAYS[:, None] * np.ones((1, 24))).ravel()
"""Hours each representative hour stands for; sums to 8,760."""
LOAD_SHAPE = PROFILES["load"].ravel() / 8760.0
"""Share of annual electricity per representative hour and hour it stands for (MW per MWh/yr)."""
HEAT_SHAPE = np.repeat(HEAT_SEASON_SHARE / (SEASON_DAYS * 24), 24)
"""Share of annual heat per representative hour and hour it stands for (MW per MWh/yr)."""
SOLAR_SHAPE = PROFILES["solar"].ravel()
SOLAR_SHAPE_HOURS = float((SOLAR_SHAPE * WEIGHTS).sum())
"""Full-load hours of the solar shape over the year: its hours weighted as :func:`dispatch_many` weights every
hourly series (the same sum over one row of hours), so it is summed once here."""
_CAPACITY_FACTOR_PARAM = {"wind": "wind_capacity_factor", "solar": "solar_capacity_factor"}
"""Parameter holding each technology's capacity factor: the developer reads it a few times per year of each member."""
COHORT_TECHNOLOGIES = ("wind", "solar", "battery")
"""Technologies whose new builds join one cohort unit per year (see :meth:`sim.model.CityModel.build_cohort`)."""


CAPTURE_PAYBACK_YEARS = 15
"""Years of carbon price and support a coal unit's capture plant must be paid back over (assumption: the
economic life investors give a retrofit on a unit of the city's fleet, commissioned 2005-2020)."""
CAPTURE_LEAD_YEARS = 3
"""Years from the decision to fit a coal unit's capture train to its first year in service (assumption: design,
approval and construction of a post-combustion retrofit; China's 100-150 kt/yr demonstrations took two to three
years to build)."""
MIN_CAPTURE_TRAIN_T = 100_000.0
"""Smallest capture train worth building on a coal unit, t CO2/yr (assumption: the scale of China's post-combustion
demonstrations, 100-150 kt/yr: Guohua Jinjie 150 kt/yr, 2021; Sinopec Shengli 40 kt/yr was an early pilot)."""


class PowerPlant(mesa.Agent):
    """A generating unit (or aggregated farm) that retires, retrofits and is dispatched.

    Decisions each year, from last year's outcome:
        * retire at end of life, at a mandated phase-out date (condensing coal), or after three years in
          which dispatch revenue did not cover fuel, carbon and fixed O&M;
        * wind and solar farms are repowered at end of life when new plant pays; batteries are replaced;
        * coal efficiency retrofit ("节能降碳改造") when the present value of fuel and carbon saved over the
          remaining life beats its cost;
        * CHP flexibility retrofit ("灵活性改造") when wind/solar curtailment is material and the value of
          the power it would free beats the cost.

    Fuel-burning units keep last year's generation, margin and emissions, which their decisions use. Wind,
    solar and battery units decide by age alone and are dispatched as one pool per technology, so their
    output is booked by technology, not unit by unit. A retired unit leaves the model's agent set (it stays in
    ``model.power_units`` for the results).
    """

    def __init__(
        self,
        model: CityModel,
        name: str,
        technology: str,
        capacity_mw: float,
        commissioned: int,
        lifetime_yr: int,
        heat_rate_gj_per_mwh: float = 0.0,
        min_load_share: float = 0.0,
        heat_capacity_mw: float = 0.0,
        storage_hours: float = 0.0,
        fixed_om_cny_per_kw_yr: float = 0.0,
    ):
        super().__init__(model)
        self.name = name
        self.technology = technology
        self.fuel: str | None = FUEL_OF.get(technology)
        """Fuel burned (None for wind, solar and batteries)."""
        self.capacity_mw = capacity_mw
        self.commissioned = commissioned
        self.lifetime_yr = lifetime_yr
        self.heat_rate_gj_per_mwh = heat_rate_gj_per_mwh
        self.min_load_share = min_load_share
        self.heat_capacity_mw = heat_capacity_mw
        self.storage_hours = storage_hours
        self.fixed_om_cny_per_kw_yr = fixed_om_cny_per_kw_yr
        self.retired_year: int | None = None
        self.retired_reason = ""
        self.efficiency_retrofit_year: int | None = None
        self.flex_retrofit_year: int | None = None
        self.loss_years = 0
        self.ccs_year: int | None = None
        """First year a capture train of this unit is in service."""
        self.capture_rate = 0.0
        self.capture_trains_pending: list[tuple[int, float]] = []
        """Capture trains decided on and not yet in service: (first year in service, capture rate they add)."""
        self.last_emissions_t = 0.0
        self.last_generation_mwh = 0.0
        self.last_margin_cny = 0.0

    @property
    def active(self) -> bool:
        return self.retired_year is None

    def marginal_cost_cny_per_mwh(
        self, fuel_price_cny_per_gj: float, carbon_price_cny_per_t: float, capture_net_cost_cny_per_t: float = 0.0
    ) -> float:
        """Fuel plus carbon cost per MWh; with capture, the captured share pays the capture cost net of
        support instead of the carbon price."""
        if self.fuel is None:
            return 0.0
        ef = EMISSION_FACTOR_T_PER_TJ[self.fuel] / 1e3
        r = self.capture_rate
        return self.heat_rate_gj_per_mwh * (
            fuel_price_cny_per_gj + ef * ((1 - r) * carbon_price_cny_per_t + r * capture_net_cost_cny_per_t)
        )

    def step(self) -> None:
        if self.retired_year is not None:
            return
        m = self.model
        year = m.year
        age = year - self.commissioned
        if age >= self.lifetime_yr:
            self._retire(year, "end of life")
            # Wind and solar sites are repowered when new plant pays: site and grid connection exist, so
            # this is outside the yearly build limit.
            if self.technology in ("wind", "solar") and m.developer.profitability_index(self.technology, year) > 1.0:
                m.build_cohort(self.technology, self.capacity_mw, year, 25)
            elif self.technology == "battery":
                m.build_cohort("battery", self.capacity_mw, year, 15, storage_hours=self.storage_hours)
            return
        if self.fuel is None:  # wind, solar and batteries decide only at the end of their life
            return
        if self.technology == "coal" and year >= m.policies.coal_phase_out_year:
            self._retire(year, "phase-out mandate")
            # Stranded value: the operating margin the unit would still have earned over its remaining life.
            remaining = self.lifetime_yr - age
            if remaining > 0 and self.last_margin_cny > 0:
                annuity = 1.0 / crf(m.inputs.power.discount_rate, remaining)
                m.policies.record_private_cost("coal_phase_out", self.last_margin_cny * annuity, year)
            return
        if self.technology in ("coal", "gas") and self.loss_years >= 3:
            self._retire(year, "uneconomic for 3 years")
            return
        if self.technology in ("coal", "coal_chp"):
            self._consider_retrofits(year, age)
            self._consider_ccs(year)

    def capture_cost_cny_per_t(self, year: int) -> float:
        s = self.model.inputs.ccus
        return s.power_capture_cost_cny_per_t * (1 - s.power_capture_cost_decline_pct_per_yr / 100) ** (
            year - self.model.inputs.base_year
        )

    def _consider_ccs(self, year: int) -> None:
        """Fit post-combustion capture: the named demonstration unit when its lever date comes, any coal unit
        when the carbon price plus CCUS support of the announced path, averaged over the
        :data:`CAPTURE_PAYBACK_YEARS` after a train would enter service, beats the capture cost and the network
        will have room for a train.

        Capture is added in trains sized to the room the network has (a unit's capture rate rises towards
        ``power_capture_rate`` as the network grows), not all or nothing: a train treats a slipstream of the
        flue gas, as the 150 kt/yr Guohua Jinjie demonstration (2021) does on a coal unit, and where a unit could
        only be fitted whole, a network with room for most of one unit's CO2 stored none of it. A train decided
        on enters service :data:`CAPTURE_LEAD_YEARS` later; the demonstration is in service in its lever's
        year, which already dates its completion.
        """
        m = self.model
        spec = m.inputs.ccus
        if spec is None or m.ccus_network is None:
            return
        while self.capture_trains_pending and self.capture_trains_pending[0][0] <= year:
            self._capture_in_service(year, self.capture_trains_pending.pop(0)[1])
        full = spec.power_capture_rate
        planned = self.capture_rate + sum([rate for _, rate in self.capture_trains_pending])
        if planned >= full:
            return
        demo = self.name == spec.power_demo_unit and year >= m.params["ccus_power_demo_year"]
        if demo:
            add, in_service = full - planned, year
        else:
            in_service = year + CAPTURE_LEAD_YEARS
            # A capture plant is paid for over years: it pays if the carbon price and CCUS support the announced
            # policy path gives over its first CAPTURE_PAYBACK_YEARS in service, on average, cover its cost. The
            # support is the same for every coal unit of the year's decisions, so it is summed once per year (see
            # :meth:`sim.model.CityModel._step_power_units`, which clears it before the units decide).
            support = m._capture_support
            if support is None or support[0] != year:
                policies = m.policies
                mean = (
                    sum(
                        policies.carbon_price("power_heat", y) + policies.abatement_support_cny_per_t("ccus_power", y)
                        for y in range(in_service, in_service + CAPTURE_PAYBACK_YEARS)
                    )
                    / CAPTURE_PAYBACK_YEARS
                )
                support = m._capture_support = (year, mean)
            if not self.capture_cost_over_life_cny_per_t(year, in_service) <= support[1]:  # not worth capturing
                return
            if not self.last_emissions_t > 0:  # nothing to capture
                return
            add = min(full - planned, m.ccus_network.room_t(in_service) / self.last_emissions_t)
            if add * self.last_emissions_t < MIN_CAPTURE_TRAIN_T:  # no room for a train (or none at all)
                return
        m.ccus_network.pledge(in_service, add * self.last_emissions_t, self)
        if in_service <= year:
            self._capture_in_service(year, add)
        else:
            self.capture_trains_pending.append((in_service, add))

    def capture_cost_over_life_cny_per_t(self, year: int, in_service: int) -> float:
        """The capture cost of a train decided in ``year``, with its capital recovered over the years the unit
        still runs after ``in_service`` if they are fewer than :data:`CAPTURE_PAYBACK_YEARS` (infinite if none).

        Why: the scenario's capture cost is levelised over a capture plant's economic life; on a unit that closes
        soon after, the same capital is spread over fewer tonnes. Without this, a train could be fitted to a unit
        two years before its end of life and take network room from a unit that runs on.
        """
        m = self.model
        closes = self.commissioned + self.lifetime_yr
        if self.technology == "coal":
            closes = min(closes, m.policies.coal_phase_out_year)
        years = min(closes - in_service, CAPTURE_PAYBACK_YEARS)
        if years <= 0:
            return math.inf
        opex = m.inputs.ccus.capture_opex_share
        rate = m.inputs.power.discount_rate
        capital = (1.0 - opex) * crf(rate, years) / crf(rate, CAPTURE_PAYBACK_YEARS)
        return self.capture_cost_cny_per_t(year) * (opex + capital)

    def _capture_in_service(self, year: int, added_rate: float) -> None:
        """A capture train starts: the unit captures ``added_rate`` more of its CO2 and burns more fuel."""
        spec = self.model.inputs.ccus
        if self.ccs_year is None:
            self.ccs_year = year
        # The energy penalty scales with the share of the flue gas treated.
        penalty = spec.power_energy_penalty_share / spec.power_capture_rate
        rate = self.capture_rate + added_rate
        self.heat_rate_gj_per_mwh *= (1 + penalty * rate) / (1 + penalty * self.capture_rate)
        self.capture_rate = rate

    def _retire(self, year: int, reason: str) -> None:
        self.retired_year = year
        self.retired_reason = reason
        self.model.fleet[self.technology].remove(self)
        self.remove()

    def _consider_retrofits(self, year: int, age: int) -> None:
        m = self.model
        spec = m.inputs.power
        flex_open = (
            self.technology == "coal_chp"
            and self.flex_retrofit_year is None
            and self.min_load_share > spec.coal_flex_min_load_share
        )
        if self.efficiency_retrofit_year is not None and not flex_open:
            return  # both retrofits done (or the flexibility one not open to this unit): nothing to weigh
        remaining = max(self.lifetime_yr - age, 1)
        annuity = 1.0 / crf(spec.discount_rate, remaining)
        mandated = m.policies.coal_retrofit_mandated(year)
        if self.efficiency_retrofit_year is None:
            fuel_price = m.fuel_price_cny_per_gj("coal", year)
            carbon = m.policies.carbon_price("power_heat", year)
            saved_gj = self.last_generation_mwh * self.heat_rate_gj_per_mwh * spec.coal_efficiency_retrofit_gain
            value = saved_gj * (fuel_price + carbon * EMISSION_FACTOR_T_PER_TJ["coal"] / 1e3) * annuity
            cost = spec.coal_efficiency_retrofit_cny_per_kw * 1e3 * self.capacity_mw
            if mandated or value > cost:
                self.heat_rate_gj_per_mwh *= 1.0 - spec.coal_efficiency_retrofit_gain
                self.efficiency_retrofit_year = year
                m.policies.record_coal_retrofit(cost, year)
        if flex_open:
            freed_share = (self.min_load_share - spec.coal_flex_min_load_share) / max(self.min_load_share, 1e-9)
            n_chp = max(len(m.fleet["coal_chp"]), 1)
            value_per_yr = m.last_curtailment_mwh / n_chp * freed_share * m.regional_price_cny_per_mwh(year) * 0.5
            cost = spec.coal_flex_retrofit_cny_per_kw * 1e3 * self.capacity_mw
            economic = m.last_curtailment_share > 0.03 and value_per_yr * annuity > cost
            if mandated or economic:
                self.min_load_share = spec.coal_flex_min_load_share
                self.flex_retrofit_year = year
                m.policies.record_coal_retrofit(cost, year)


class RenewableDeveloper(mesa.Agent):
    """Investors who add wind, solar and paired storage when expected revenue beats annualised cost, and the
    planner who tops their build up to the renewable capacity target.

    Market build: expected revenue uses the technology's curtailment rate last year, so curtailment feeds
    back on investment. The build rate follows a supply curve: zero at a profitability index (revenue / cost) of 1,
    the maximum yearly build at 1.5 and above (good sites and grid access are limited: assumption).

    Target-driven build: a capacity target is a floor on the total, not a quota per technology, so the
    developer builds max(market build, what the target path still needs) of wind and solar together, and
    what the market builds anyway counts towards the target (as a minimum-capacity constraint does in
    capacity-expansion models such as LEAP or TIMES: it bounds total installed capacity). The gap goes to the
    technology whose extra MW is worth most once the curtailment it would see in last year's hourly dispatch
    is deducted: guaranteed-connection quota is awarded by competitive allocation (竞争性配置; NEA 2021 notice
    on wind and solar development) to the projects with the best yield. The whole gap goes to that technology,
    past the market's yearly build limit (a target overrides the normal site and grid limits; assumption);
    its curtailment then rises, so the ranking, weighed again each year, spreads a long target over both.
    Filling the better technology to its limit and the rest with the other, as this model did before,
    gave a front-loaded target's solar the midday accommodation that market wind would have used, and
    the target could then raise emissions (docs/limitations.md). Target-driven projects connect whatever
    the grid-access rule says (guaranteed connection).

    Grid access for market projects follows each technology's own utilisation: NEA keeps wind and solar
    utilisation rates (风电利用率, 光伏利用率) each at or above 90% and reports them apart, so curtailed
    midday solar does not close the grid to wind that blows day and night.
    """

    TECHNOLOGIES = ("wind", "solar")

    def __init__(self, model: CityModel):
        super().__init__(model)
        self.built_mw: dict[str, float] = {"wind": 0.0, "solar": 0.0, "battery": 0.0}
        self.built_for_data_centres_mw = 0.0
        self.built_for_target_mw: dict[str, float] = {"wind": 0.0, "solar": 0.0}
        """Wind and solar MW built beyond the market build to keep on the capacity target's path."""
        self.marginal_curtailment_share: dict[str, float] = {"wind": 0.0, "solar": 0.0}
        """Share of an extra MW's output that last year's dispatch would have curtailed, by technology (see
        :func:`dispatch`)."""
        self.average_curtailment_share: dict[str, float] = {"wind": 0.0, "solar": 0.0}
        """Share of each technology's grid output that last year's dispatch curtailed: what grid access follows."""
        self._new_mw_terms: dict[tuple[str, int], tuple[float, float]] = {}
        """(price, annualised cost) of a new MW by (technology, year): see :meth:`_price_and_cost`."""

    def observe_dispatch(self, result: dict) -> None:
        """Remember what the year's dispatch says about each technology's curtailment, average and marginal."""
        self.marginal_curtailment_share = dict(result["marginal_curtailment_share"])
        self.average_curtailment_share = dict(result["average_curtailment_share"])

    @staticmethod
    def grid_access(curtailment_share: float) -> float:
        """Share of planned projects the grid lets connect: China's rule keeps wind/solar utilisation at
        or above 90% (NEA 2024), so connections stop as curtailment nears 10% (tapering from 5%)."""
        return min(max((0.10 - curtailment_share) / 0.05, 0.0), 1.0)

    def capex_cny_per_kw(self, tech: str, year: int) -> float:
        m = self.model
        spec = m.inputs.power
        if tech == "solar":
            decline = m.params["pv_cost_decline_pct_per_yr"] / 100
            return spec.solar_capex_cny_per_kw_2022 * (1 - decline) ** (year - 2022)
        if tech == "wind":
            return spec.wind_capex_cny_per_kw * (0.98 ** (year - m.inputs.base_year))
        return spec.storage_capex_cny_per_kwh * spec.storage_hours_new * (0.96 ** (year - m.inputs.base_year))

    def profitability_index(self, tech: str, year: int, curtailment_share: float | None = None) -> float:
        """Expected revenue over annualised cost of a new MW of ``tech`` with its paired storage.

        Args:
            tech: ``"wind"`` or ``"solar"``.
            year: year of the decision.
            curtailment_share: share of the new MW's output expected to be curtailed; by default the
                developer's rule of thumb, twice the technology's own average curtailment last year (marginal
                ~2x average: assumption), which is what market investors use.
        """
        m = self.model
        cf = m.params[_CAPACITY_FACTOR_PARAM[tech]]
        price, cost = self._new_mw_terms.get((tech, year)) or self._price_and_cost(tech, year)
        if curtailment_share is None:
            curtailment_share = 2.0 * self.average_curtailment_share[tech]
        revenue = cf * 8760 * (1 - min(curtailment_share, 1.0)) * price
        return revenue / cost

    def _price_and_cost(self, tech: str, year: int) -> tuple[float, float]:
        """Price a new MW of ``tech`` sells at and its annualised cost with paired storage, in ``year``.

        Why kept per year: both are fixed once the year is known (the carbon price path and the parameters are
        set when the run is built; only the base year, which decides nothing, sees other parameter values), and
        the market build, the target allocation and every repowering ask for them several times a year.
        """
        terms = self._new_mw_terms.get((tech, year))
        if terms is None:
            m = self.model
            spec = m.inputs.power
            price = m.regional_price_cny_per_mwh(year) * spec.renewable_price_factor
            capex = self.capex_cny_per_kw(tech, year) * 1e3
            storage = m.params["storage_share_of_new_re"] * self.capex_cny_per_kw("battery", year) * 1e3
            cost = (capex + storage) * (crf(spec.discount_rate, 25) + 0.02)
            terms = self._new_mw_terms[tech, year] = (price, cost)
        return terms

    def allocation_index(self, tech: str, year: int) -> float:
        """Profitability of an extra MW of ``tech`` with the curtailment last year's hourly dispatch shows for
        that technology: how quota for the capacity target is ranked.

        Solar output is bunched into the same midday hours, so once the midday surplus exceeds the export
        ties and storage, most of an extra solar MW is curtailed while wind, spread over day and night, loses
        less; the 2x-average rule of the market index does not see that difference.
        """
        return self.profitability_index(tech, year, self.marginal_curtailment_share[tech])

    def market_build_mw(self, tech: str, year: int) -> float:
        """MW of ``tech`` the market builds this year: the supply curve times the grid's connection share for
        that technology (its own curtailment last year)."""
        m = self.model
        spec = m.inputs.power
        limit = spec.max_wind_build_mw_per_yr if tech == "wind" else spec.max_solar_build_mw_per_yr
        if limit <= 0:
            return 0.0
        pi = self.profitability_index(tech, year)
        return limit * min(max((pi - 1.0) / 0.5, 0.0), 1.0) * self.grid_access(self.average_curtailment_share[tech])

    def allocate_target_build(self, shortfall_mw: float, year: int) -> dict[str, float]:
        """Give the MW the target still needs beyond the market build to the technology with the higher
        :meth:`allocation_index` (wind on ties), whole: see the class docstring."""
        out = dict.fromkeys(self.TECHNOLOGIES, 0.0)
        if shortfall_mw <= 0:
            return out
        best = max(self.TECHNOLOGIES, key=lambda t: self.allocation_index(t, year))
        out[best] = shortfall_mw
        return out

    def step(self) -> None:
        m = self.model
        year = m.year
        spec = m.inputs.power
        market = {tech: self.market_build_mw(tech, year) for tech in self.TECHNOLOGIES}
        shortfall = max(m.policies.required_re_build_mw(year, m) - sum(market.values()), 0.0)
        mandated = self.allocate_target_build(shortfall, year)
        # Renewables contracted by data centres under the green-power lever come on top of the market build.
        dc_each = m.data_centre_green_gap_mw(year) / 2
        self.built_for_data_centres_mw += 2 * dc_each
        for tech in self.TECHNOLOGIES:
            if mandated[tech] > 0:
                # Part of the capital of target-driven build that expected revenue (net of the curtailment
                # dispatch shows for it) does not recover.
                pi = self.allocation_index(tech, year)
                capex = self.capex_cny_per_kw(tech, year) + m.params["storage_share_of_new_re"] * self.capex_cny_per_kw(
                    "battery", year
                )
                m.policies.record_private_cost(
                    "renewable_target", mandated[tech] * 1e3 * capex * max(1.0 - pi, 0.0), year
                )
                self.built_for_target_mw[tech] += mandated[tech]
            build = market[tech] + mandated[tech] + dc_each
            if build <= 1e-6:
                continue
            m.build_cohort(tech, build, year, 25)
            self.built_mw[tech] += build
            storage = build * m.params["storage_share_of_new_re"]
            if storage > 0:
                m.build_cohort("battery", storage, year, 15, storage_hours=spec.storage_hours_new)
                self.built_mw["battery"] += storage


def _cumulative_before(blocks: np.ndarray) -> np.ndarray:
    """Sum of the blocks before each block along axis 1 (0 for the first), added one block at a time.

    A loop, because numpy's cumsum over a few blocks is slow; and sequential, so trailing zero blocks (the
    padding of members with fewer units) leave every member's sums as its own run computes them.
    """
    out = np.empty_like(blocks)
    out[:, 0] = 0.0
    for j in range(1, blocks.shape[1]):
        np.add(out[:, j - 1], blocks[:, j - 1], out=out[:, j])
    return out


def _sum_blocks(blocks: np.ndarray) -> np.ndarray:
    """Sum over axis 1, one block at a time (see :func:`_cumulative_before`)."""
    out = blocks[:, 0].copy()
    for j in range(1, blocks.shape[1]):
        out += blocks[:, j]
    return out


@dataclass
class DispatchRequest:
    """The inputs of one member's dispatch for one year (see :func:`dispatch` for their meaning)."""

    thermal: list[PowerPlant]
    wind_mw: float
    solar_mw: float
    battery_mw: float
    battery_mwh: float
    load_mwh: float
    heating_load_mwh: float
    district_heat_tj: float
    wind_cf: float
    solar_cf: float
    distributed_mw: dict[str, float]
    mc: dict[int, float]
    regional_price: float
    export_limit_mw: float
    import_limit_mw: float
    grid_loss_share: float
    chp_fuel_per_heat: float
    boiler_efficiency: float
    weather: np.ndarray
    captive_load_mwh: dict[str, tuple[float, float]] | None = None


def dispatch(
    thermal: list[PowerPlant],
    wind_mw: float,
    solar_mw: float,
    battery_mw: float,
    battery_mwh: float,
    load_mwh: float,
    heating_load_mwh: float,
    district_heat_tj: float,
    wind_cf: float,
    solar_cf: float,
    distributed_mw: dict[str, float],
    mc: dict[int, float],
    regional_price: float,
    export_limit_mw: float,
    import_limit_mw: float,
    grid_loss_share: float,
    chp_fuel_per_heat: float,
    boiler_efficiency: float,
    weather: np.ndarray,
    captive_load_mwh: dict[str, tuple[float, float]] | None = None,
) -> dict:
    """Annual merit-order dispatch over the representative hours.

    Args:
        thermal: active coal, coal CHP and gas units (dispatched one by one).
        wind_mw, solar_mw: active wind and utility solar capacity; each technology is one pool, since its
            units share the same hourly profile.
        battery_mw, battery_mwh: active storage power and energy.
        load_mwh: annual electricity consumption excluding heating-driven use (MWh).
        heating_load_mwh: electricity for space heating (MWh), spread over heating-season hours.
        district_heat_tj: heat the network must inject (TJ, after network losses).
        wind_cf, solar_cf: annual capacity factors this year.
        distributed_mw: distributed PV capacity by kind (household rooftops, PV for oil extraction); it
            follows the solar profile. What a kind's own site uses (see ``captive_load_mwh``) never reaches
            the grid; the rest is fed in and curtailed pro rata with utility solar.
        mc: marginal cost per thermal unit id (CNY/MWh).
        regional_price: price at which the city trades with the regional grid (CNY/MWh).
        weather: 4 x 24 multiplicative noise on wind (row 0-3) for this year's weather.
        captive_load_mwh: for a kind of distributed PV that serves its own site behind the meter (PV for
            oil extraction serving the oilfield), ``(site load, of which PV-following load)`` in MWh a year,
            both included in ``load_mwh``. The site load is otherwise flat (pumps, water injection and
            steam generation run round the clock: assumption). The PV-following part is load the site
            schedules within the day to run on its own PV (wells pumped while the sun shines, injection
            from buffer tanks, electric steam into thermal storage): each day it uses up to its daily energy
            of the PV's output as the PV produces it, and stops drawing that energy from the grid evenly
            over the day. PV output beyond that serves the rest of the site hour by hour (self-consumption,
            surplus to the grid: 自发自用、余电上网) and what is still left is fed into the grid. Self-consumed
            PV lowers the grid's load, needs no grid transport (no grid losses) and is not grid curtailment.

    Returns:
        Per-thermal-unit generation, fuel and heat (``unit_generation_mwh``, ``unit_fuel_tj``,
        ``unit_heat_tj``: lists in the order of ``thermal``), wind and utility-solar generation, trade,
        curtailment, storage and heat figures for the year. ``re_available_mwh`` and ``curtailment_mwh`` cover the
        wind and solar that reach the grid (self-consumed PV excluded); ``self_consumed_mwh`` is the PV used
        behind the meter; ``marginal_curtailment_share`` gives, for wind and for solar, the share of an
        extra MW's output that falls in hours with curtailment (and so would be curtailed), and
        ``average_curtailment_share`` the share of each technology's grid output curtailed this year.
    """
    return dispatch_many(
        [
            DispatchRequest(
                thermal,
                wind_mw,
                solar_mw,
                battery_mw,
                battery_mwh,
                load_mwh,
                heating_load_mwh,
                district_heat_tj,
                wind_cf,
                solar_cf,
                distributed_mw,
                mc,
                regional_price,
                export_limit_mw,
                import_limit_mw,
                grid_loss_share,
                chp_fuel_per_heat,
                boiler_efficiency,
                weather,
                captive_load_mwh,
            )
        ]
    )[0]


_SCALARS = (
    "load_mwh",
    "heating_load_mwh",
    "solar_cf",
    "grid_loss_share",
    "wind_mw",
    "wind_cf",
    "solar_mw",
    "district_heat_tj",
    "battery_mw",
    "battery_mwh",
    "export_limit_mw",
    "regional_price",
    "import_limit_mw",
    "chp_fuel_per_heat",
)
"""The scalar fields of :class:`DispatchRequest`, gathered into one array per batch."""
_scalar_fields = attrgetter(*_SCALARS)
_PADDING_UID = float(2**62)
"""Unit id of the padding units of members with fewer thermal units (last in every merit order)."""
_PADDING_UNIT = (0.0, 0.0, 0.0, 0.0, np.inf, _PADDING_UID)
"""A padding unit's row of the unit table: no capacity, and last in the merit order."""


def dispatch_many(requests: list[DispatchRequest]) -> list[dict]:
    """:func:`dispatch` for several members at once: one result per request, in order.

    Why: the ensemble's members are stepped in lockstep (:class:`sim.model.Lockstep`), and a dispatch is
    ~100 numpy calls on arrays of 96 hours, so at coarse resolution its cost is the calls. Here each call
    works on all members (members x hours, members x units x hours). Members with fewer thermal units get
    zero-capacity padding units that come last in the merit order. Every sum runs per member in the same
    order whatever the padding (along the hours of one member, or block after block over units), so a
    member's result is the one its dispatch alone gives.
    """
    M = len(requests)
    w = WEIGHTS
    H = len(w)

    scalars = np.fromiter(chain.from_iterable(map(_scalar_fields, requests)), float, M * len(_SCALARS))
    scalars = scalars.reshape(M, len(_SCALARS)).T
    column = dict(zip(_SCALARS, scalars, strict=True))

    def col(name: str) -> np.ndarray:
        return column[name]

    load_mwh, heating_load_mwh = col("load_mwh"), col("heating_load_mwh")
    demand = load_mwh[:, None] * LOAD_SHAPE + heating_load_mwh[:, None] * HEAT_SHAPE
    # Distributed PV by kind: used on its own site first (self_used: when the PV produces; relief: when the
    # site stops drawing from the grid), the rest fed into the grid's solar pool.
    solar_cf = col("solar_cf")
    kinds = list(requests[0].distributed_mw)
    if any(list(r.distributed_mw) != kinds for r in requests):
        raise ValueError("members of one dispatch must have the same kinds of distributed PV")
    self_used = {}
    fed = {}
    relief = np.zeros_like(demand)
    for kind in kinds:
        mw = np.array([r.distributed_mw[kind] for r in requests])
        captive = [(r.captive_load_mwh or {}).get(kind, (0.0, 0.0)) for r in requests]
        out = (mw * solar_cf)[:, None] * SOLAR_SHAPE
        if not any(site or following for site, following in captive):
            # No member's sites of this kind (household rooftops) use their PV behind the meter: the steps below
            # would use none of it (every term 0) and relieve no load, so all of it is fed into the grid.
            self_used[kind] = None
            fed[kind] = out
            continue
        site_mwh = np.array([c[0] for c in captive], dtype=float)
        following_mwh = np.array([c[1] for c in captive], dtype=float)
        days = out.reshape(M, 4, 24)
        pv_day = days.sum(axis=2)
        follow_day = np.minimum(pv_day, (following_mwh / 365.0)[:, None])
        follow = days * (follow_day / np.maximum(pv_day, 1e-300))[:, :, None]  # 0 where the PV makes nothing
        direct = np.minimum(days - follow, ((site_mwh - following_mwh) / 8760.0)[:, None, None])
        self_used[kind] = (follow + direct).reshape(M, H)
        fed[kind] = out - self_used[kind]
        relief += (direct + follow_day[:, :, None] / 24.0).reshape(M, H)
    L = (demand - relief) / (1.0 - col("grid_loss_share"))[:, None]

    weather = np.empty((M, 4, 1))
    for i, r in enumerate(requests):
        weather[i] = r.weather
    wind_shape = (PROFILES["wind"] * weather).reshape(M, H)
    wind_avail = (col("wind_mw") * col("wind_cf"))[:, None] * wind_shape
    utility_solar_avail = (col("solar_mw") * solar_cf)[:, None] * SOLAR_SHAPE
    solar_avail = utility_solar_avail + (sum(fed.values()) if fed else 0.0)
    re_avail = wind_avail + solar_avail

    # Heat-led must-run of CHP units: heat split by heat capacity, power at least min load and 0.6 MW
    # of power per MW of heat extracted (extraction-condensing units; assumption). Thermal units are rows of
    # (members x units x hours) arrays; condensing coal and gas units have no heat capacity and so no must-run.
    N = max(len(r.thermal) for r in requests)
    # The unit table's values one after the other (member by member, unit by unit): numpy reads a flat
    # sequence of numbers several times faster than nested lists of tuples.
    values: list[float] = []
    for r in requests:
        mc = r.mc
        for u in r.thermal:
            values += (
                u.capacity_mw,
                u.heat_capacity_mw if u.technology == "coal_chp" else 0.0,
                u.min_load_share * u.capacity_mw,
                u.heat_rate_gj_per_mwh,
                mc[u.unique_id],
                u.unique_id,
            )
        values += _PADDING_UNIT * (N - len(r.thermal))
    unit_table = np.fromiter(values, dtype=float, count=M * N * 6).reshape(M, N, 6)
    cap, unit_heat_cap, min_load_mw, heat_rate, unit_mc = (unit_table[:, :, k] for k in range(5))
    heat_cap = _sum_blocks(unit_heat_cap[:, :, None])[:, 0] if N else np.zeros(M)
    has_heat = heat_cap > 0
    heat_mw = (col("district_heat_tj") * 1e6 / 3600.0)[:, None] * HEAT_SHAPE  # TJ -> MWh then per hour
    chp_heat_mw = np.minimum(heat_mw, heat_cap[:, None])
    heat_split = np.where(has_heat[:, None], unit_heat_cap / np.where(has_heat, heat_cap, 1.0)[:, None], 0.0)
    q = heat_split[:, :, None] * chp_heat_mw[:, None, :]
    # Zero where no heat is extracted: the minimum is finite and >= 0, so times 1 or 0 it is what np.where(q > 0,
    # minimum, 0.0) gives, at half the cost.
    must = np.minimum(cap[:, :, None], np.maximum(min_load_mw[:, :, None], 0.6 * q))
    must *= q > 0
    must_total = _sum_blocks(must) if N else np.zeros((M, H))

    surplus = np.maximum(re_avail + must_total - L, 0.0)
    deficit = np.maximum(L - re_avail - must_total, 0.0)

    # Storage: within each representative day, charge from surplus and discharge into the deficit hours
    # (members without storage charge and discharge nothing: every term below is then 0).
    battery_mw, battery_mwh = col("battery_mw"), col("battery_mwh")
    if (battery_mw > 0).any():
        eta = 0.88
        charge = np.minimum(surplus, battery_mw[:, None]).reshape(M, 4, 24)
        day_charge = charge.sum(axis=2)
        # x / max(y, tiny) below: the numerators are 0 wherever the denominators are
        scale = np.minimum(day_charge, battery_mwh[:, None]) / np.maximum(day_charge, 1e-300)
        charge *= scale[:, :, None]
        d = deficit.reshape(M, 4, 24)
        charged = charge.sum(axis=2)
        avail_dis = charged * eta
        need = d.sum(axis=2)
        frac = np.minimum(avail_dis, need) / np.maximum(need, 1e-300)
        discharge = np.minimum(d * frac[:, :, None], battery_mw[:, None, None])
        # charge only what is discharged (the rest would sit in the battery)
        used = discharge.sum(axis=2) / eta
        scale2 = used / np.maximum(charged, 1e-300)
        charge = (charge * scale2[:, :, None]).reshape(M, H)
        discharge = discharge.reshape(M, H)
        surplus = surplus - charge
        deficit = deficit - discharge
    else:
        charge = discharge = np.zeros_like(L)

    export_limit_mw = col("export_limit_mw")[:, None]
    export_re = np.minimum(surplus, export_limit_mw)
    leftover = surplus - export_re
    curtail = np.minimum(leftover, re_avail)
    must_cut = leftover - curtail  # must-run beyond load, export and all renewables: CHP backs off
    export_room = export_limit_mw - export_re

    # Merit order over the flexible capacity, with imports as a pseudo-unit at the regional price (ties by
    # unit id, imports first). Filling the deficit block by block in that order gives each block
    # min(max(deficit - capacity of the blocks before it, 0), its capacity).
    regional_price = col("regional_price")
    blocks = np.empty((M, N + 1, H))
    np.maximum(0.92 * cap[:, :, None] - must, 0.0, out=blocks[:, :N])
    blocks[:, N] = col("import_limit_mw")[:, None]
    costs = np.concatenate([unit_mc, regional_price[:, None]], axis=1)
    uids = np.concatenate([unit_table[:, :, 5], np.full((M, 1), -1.0)], axis=1)
    order = np.lexsort((uids, costs), axis=1)
    member = np.arange(M)[:, None]
    ordered = blocks[member, order]
    before = _cumulative_before(ordered)
    gen = np.minimum(np.maximum(deficit[:, None, :] - before, 0.0), ordered)
    unserved = np.maximum(deficit - (before[:, -1] + ordered[:, -1]), 0.0)
    # Economic exports: units cheaper than the regional price (they precede the import block) sell their
    # spare capacity into the remaining line capacity, in merit order.
    ordered_costs = costs[member, order]
    ordered_uids = uids[member, order]
    cheap = np.argmax((ordered_costs >= regional_price[:, None]) | (ordered_uids == -1), axis=1)
    if cheap.any():
        # Spare capacity is >= 0 (gen <= ordered), so times 1 or 0 it is what np.where with the mask gives.
        spare = ordered - gen
        spare *= (np.arange(N + 1) < cheap[:, None]).astype(float)[:, :, None]
        exported = np.minimum(np.maximum(export_room[:, None, :] - _cumulative_before(spare), 0.0), spare)
        gen += exported
        export_thermal = _sum_blocks(exported)
    else:
        export_thermal = np.zeros((M, H))
    gen_flex = np.empty_like(gen)
    gen_flex[member, order] = gen

    re_used = re_avail - curtail
    share_wind = wind_avail / np.maximum(re_avail, 1e-300)  # 0 where nothing is available
    # Solar in the grid pool is curtailed pro rata: each part keeps the same share of its output each hour.
    solar_kept = re_used * (1 - share_wind) / np.maximum(solar_avail, 1e-300)
    # An extra MW of a technology is curtailed in every hour where some output already is.
    curtailed_hour = curtail > 1e-9
    # CHP units back off pro rata to their must-run where must-run exceeds what the system can take;
    # must_total >= each unit's must-run, so where it is 0 the share is 0 / tiny = 0.
    # The units' hourly generation and every hourly series the results need share one buffer ((units +
    # series) x members x hours), weighted by the hours each hour stands for in place and summed in one
    # reduction: each row's sum over its hours is the one a sum of that row alone gives.
    n_series = 17 + len(kinds)
    weighted = np.empty((N + n_series, M, H))
    np.subtract(
        gen_flex[:, :N] + must,
        must_cut[:, None, :] * (must / np.maximum(must_total, 1e-300)[:, None, :]),
        out=weighted[:N].transpose(1, 0, 2),
    )
    series = [
        re_used * share_wind,  # 0: wind
        utility_solar_avail * solar_kept,  # 1: utility solar
        wind_shape * curtailed_hour,  # 2: wind in curtailed hours (per MW)
        wind_shape,  # 3
        SOLAR_SHAPE * curtailed_hour,  # 4
        relief,  # 5: self-consumed PV (the solar shape is summed once: SOLAR_SHAPE_HOURS)
        chp_heat_mw,  # 6
        heat_mw,  # 7
        gen_flex[:, N],  # 8: imports
        unserved,  # 9
        export_re + export_thermal,  # 10
        charge - discharge,  # 11
        curtail,  # 12
        re_avail,  # 13
        L - (demand - relief),  # 14
        demand,  # 15
        wind_avail,  # 16
    ]
    # A kind none of whose PV is used on site keeps only its fed-in share (0 + x would be x: x is never -0).
    series += [fed[k] * solar_kept if self_used[k] is None else self_used[k] + fed[k] * solar_kept for k in kinds]
    for k, x in enumerate(series):
        weighted[N + k] = x
    weighted *= w
    sums = weighted.sum(axis=2).T
    unit_gen = sums[:, :N]
    # Each unit's heat and fuel, for all members at once (elementwise, so each member's values are its own).
    chp_heat_tj = sums[:, N + 6] * 3600.0 / 1e6
    unit_heat_tj = chp_heat_tj[:, None] * heat_split
    unit_fuel_tj = (unit_gen * heat_rate + unit_heat_tj * 1e3 * col("chp_fuel_per_heat")[:, None]) / 1e3
    rows, unit_fuel_l, unit_heat_l = sums.tolist(), unit_fuel_tj.tolist(), unit_heat_tj.tolist()
    chp_heat_l = chp_heat_tj.tolist()
    out = []
    for i, r in enumerate(requests):
        row = rows[i]
        n = len(r.thermal)
        gen_i = row[:n]
        s = row[N:]
        wind_gen, solar_gen = s[0], s[1]
        distributed_gen = {k: s[17 + j] for j, k in enumerate(kinds)}
        thermal_gen = 0.0
        for g in gen_i:
            thermal_gen += g
        chp_heat_i = chp_heat_l[i]
        heat_total_tj = s[7] * 3600.0 / 1e6
        boiler_heat_tj = heat_total_tj - chp_heat_i
        out.append(
            {
                "unit_generation_mwh": gen_i,
                "unit_fuel_tj": unit_fuel_l[i][:n],
                "unit_heat_tj": unit_heat_l[i][:n],
                "wind_mwh": wind_gen,
                "solar_mwh": solar_gen,
                "generation_mwh": wind_gen + solar_gen + thermal_gen + sum(distributed_gen.values()),
                "distributed_generation_mwh": distributed_gen,
                "self_consumed_mwh": s[5],
                "marginal_curtailment_share": {"wind": s[2] / s[3], "solar": s[4] / SOLAR_SHAPE_HOURS},
                "average_curtailment_share": {
                    "wind": 1.0 - wind_gen / s[16] if s[16] > 0 else 0.0,
                    # the grid's solar pool: utility solar and distributed PV fed in (available - wind)
                    "solar": 1.0 - (s[13] - s[12] - wind_gen) / (s[13] - s[16]) if s[13] - s[16] > 0 else 0.0,
                },
                "import_mwh": s[8] + s[9],
                "export_mwh": s[10],
                "unserved_mwh": s[9],
                "storage_loss_mwh": s[11],
                "curtailment_mwh": s[12],
                "re_available_mwh": s[13],
                "grid_loss_mwh": s[14],
                "demand_mwh": s[15],
                "chp_heat_tj": chp_heat_i,
                "boiler_heat_tj": boiler_heat_tj,
                "boiler_fuel_tj": boiler_heat_tj / r.boiler_efficiency,
            }
        )
    return out
