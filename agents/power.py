"""Power units, the renewable developer, and the annual dispatch of the city's power system.

Dispatch runs over 96 representative hours (24 hours x 4 seasons, weighted by days), which is enough to
see the two things that matter for Karamay's emissions: heat-led coal CHP units that must run in winter
and push wind into curtailment, and the economics of exporting coal power to the regional grid at the
regional price when fuel plus carbon cost is below it.
"""

from __future__ import annotations

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
        self.capture_rate = 0.0
        self.last_emissions_t = 0.0
        self.last_generation_mwh = 0.0
        self.last_margin_cny = 0.0

    @property
    def active(self) -> bool:
        return self.retired_year is None

    @property
    def fuel(self) -> str | None:
        return FUEL_OF.get(self.technology)

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
        m = self.model
        year = m.year
        if not self.active:
            return
        age = year - self.commissioned
        if age >= self.lifetime_yr:
            self._retire(year, "end of life")
            # Wind and solar sites are repowered when new plant pays: site and grid connection exist, so
            # this is outside the yearly build limit.
            if self.technology in ("wind", "solar") and m.developer.profitability_index(self.technology, year) > 1.0:
                m.add_power_unit(f"{self.name}_repowered_{year}", self.technology, self.capacity_mw, year, 25)
            elif self.technology == "battery":
                m.add_power_unit(
                    f"{self.name}_replaced_{year}",
                    "battery",
                    self.capacity_mw,
                    year,
                    15,
                    storage_hours=self.storage_hours,
                )
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
        when carbon price plus CCUS support beats the capture cost and the network has room for its CO2."""
        m = self.model
        spec = m.inputs.ccus
        if self.ccs_year is not None or spec is None or m.ccus_network is None:
            return
        demo = self.name == spec.power_demo_unit and year >= m.params["ccus_power_demo_year"]
        support = m.policies.carbon_price("power_heat", year) + m.policies.abatement_support_cny_per_t(
            "ccus_power", year
        )
        headroom_t = m.ccus_network.capacity_mt(year) * 1e6 - m.ccus_network.granted_t
        economic = (
            self.capture_cost_cny_per_t(year) <= support
            and headroom_t >= self.last_emissions_t * spec.power_capture_rate
        )
        if demo or economic:
            self.ccs_year = year
            self.capture_rate = spec.power_capture_rate
            self.heat_rate_gj_per_mwh *= 1 + spec.power_energy_penalty_share

    def _retire(self, year: int, reason: str) -> None:
        self.retired_year = year
        self.retired_reason = reason

    def _consider_retrofits(self, year: int, age: int) -> None:
        m = self.model
        spec = m.inputs.power
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
        if (
            self.technology == "coal_chp"
            and self.flex_retrofit_year is None
            and self.min_load_share > spec.coal_flex_min_load_share
        ):
            freed_share = (self.min_load_share - spec.coal_flex_min_load_share) / max(self.min_load_share, 1e-9)
            n_chp = max(sum(1 for u in m.power_units if u.technology == "coal_chp" and u.active), 1)
            value_per_yr = m.last_curtailment_mwh / n_chp * freed_share * m.regional_price_cny_per_mwh(year) * 0.5
            cost = spec.coal_flex_retrofit_cny_per_kw * 1e3 * self.capacity_mw
            economic = m.last_curtailment_share > 0.03 and value_per_yr * annuity > cost
            if mandated or economic:
                self.min_load_share = spec.coal_flex_min_load_share
                self.flex_retrofit_year = year
                m.policies.record_coal_retrofit(cost, year)


class RenewableDeveloper(mesa.Agent):
    """Investors who add wind, solar and paired storage when expected revenue beats annualised cost.

    Expected revenue uses last year's curtailment rate, so curtailment feeds back on investment. The
    build rate follows a supply curve: zero at a profitability index (revenue / cost) of 1, the maximum
    yearly build at 1.5 and above (good sites and grid access are limited: assumption).
    """

    def __init__(self, model: CityModel):
        super().__init__(model)
        self.built_mw: dict[str, float] = {"wind": 0.0, "solar": 0.0, "battery": 0.0}
        self.built_for_data_centres_mw = 0.0

    @staticmethod
    def grid_access(curtailment_share: float) -> float:
        """Share of planned projects the grid lets connect: China's rule keeps wind/solar utilisation at
        or above 90% (NEA 2024), so connections stop as curtailment nears 10% (tapering from 5%)."""
        return float(np.clip((0.10 - curtailment_share) / 0.05, 0.0, 1.0))

    def capex_cny_per_kw(self, tech: str, year: int) -> float:
        m = self.model
        spec = m.inputs.power
        if tech == "solar":
            decline = m.params["pv_cost_decline_pct_per_yr"] / 100
            return spec.solar_capex_cny_per_kw_2022 * (1 - decline) ** (year - 2022)
        if tech == "wind":
            return spec.wind_capex_cny_per_kw * (0.98 ** (year - m.inputs.base_year))
        return spec.storage_capex_cny_per_kwh * spec.storage_hours_new * (0.96 ** (year - m.inputs.base_year))

    def profitability_index(self, tech: str, year: int) -> float:
        m = self.model
        spec = m.inputs.power
        cf = m.params[f"{tech}_capacity_factor"]
        price = m.regional_price_cny_per_mwh(year) * spec.renewable_price_factor
        marginal_curtailment = min(2.0 * m.last_curtailment_share, 1.0)  # marginal ~2x average
        revenue = cf * 8760 * (1 - marginal_curtailment) * price
        capex = self.capex_cny_per_kw(tech, year) * 1e3
        storage = m.params["storage_share_of_new_re"] * self.capex_cny_per_kw("battery", year) * 1e3
        cost = (capex + storage) * (crf(spec.discount_rate, 25) + 0.02)
        return revenue / cost

    def step(self) -> None:
        m = self.model
        year = m.year
        spec = m.inputs.power
        required_each = m.policies.required_re_build_mw(year, m) / 2
        # Renewables contracted by data centres under the green-power lever come on top of the market build.
        dc_each = m.data_centre_green_gap_mw(year) / 2
        self.built_for_data_centres_mw += 2 * dc_each
        for tech, cap in (("wind", spec.max_wind_build_mw_per_yr), ("solar", spec.max_solar_build_mw_per_yr)):
            market = 0.0
            if cap > 0:
                pi = self.profitability_index(tech, year)
                market = cap * float(np.clip((pi - 1.0) / 0.5, 0.0, 1.0)) * self.grid_access(m.last_curtailment_share)
            build = max(market, required_each) + dc_each
            mandated = max(required_each - market, 0.0)
            if mandated > 0:
                # Part of the capital of target-driven build that expected revenue does not recover.
                pi = self.profitability_index(tech, year)
                capex = self.capex_cny_per_kw(tech, year) + m.params["storage_share_of_new_re"] * self.capex_cny_per_kw(
                    "battery", year
                )
                m.policies.record_private_cost("renewable_target", mandated * 1e3 * capex * max(1.0 - pi, 0.0), year)
            if build <= 1e-6:
                continue
            m.add_power_unit(f"{tech}_{year}", tech, build, year, 25)
            self.built_mw[tech] += build
            storage = build * m.params["storage_share_of_new_re"]
            if storage > 0:
                m.add_power_unit(
                    f"battery_{tech}_{year}",
                    "battery",
                    storage,
                    year,
                    15,
                    storage_hours=spec.storage_hours_new,
                )
                self.built_mw["battery"] += storage


def dispatch(
    units: list[PowerPlant],
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
) -> dict:
    """Annual merit-order dispatch over the representative hours.

    Args:
        units: active units.
        load_mwh: annual electricity consumption excluding heating-driven use (MWh).
        heating_load_mwh: electricity for space heating (MWh), spread over heating-season hours.
        district_heat_tj: heat the network must inject (TJ, after network losses).
        wind_cf, solar_cf: annual capacity factors this year.
        distributed_mw: distributed PV capacity by kind (household rooftops, PV for oil extraction); it
            follows the solar profile and is curtailed pro rata with utility solar.
        mc: marginal cost per unit id (CNY/MWh).
        regional_price: price at which the city trades with the regional grid (CNY/MWh).
        weather: 4 x 24 multiplicative noise on wind (row 0-3) for this year's weather.

    Returns:
        Per-unit generation and fuel, trade, curtailment, storage and heat figures for the year.
    """
    w = WEIGHTS
    demand = load_mwh * PROFILES["load"].ravel() / 8760.0
    heat_shape = np.repeat(HEAT_SEASON_SHARE / (SEASON_DAYS * 24), 24)
    demand = demand + heating_load_mwh * heat_shape
    L = demand / (1.0 - grid_loss_share)

    wind_cap = sum(u.capacity_mw for u in units if u.technology == "wind")
    rooftop_mw = sum(distributed_mw.values())
    solar_cap = sum(u.capacity_mw for u in units if u.technology == "solar") + rooftop_mw
    wind_avail = wind_cap * wind_cf * (PROFILES["wind"] * weather).ravel()
    solar_avail = solar_cap * solar_cf * PROFILES["solar"].ravel()
    re_avail = wind_avail + solar_avail

    # Heat-led must-run of CHP units: heat split by heat capacity, power at least min load and 0.6 MW
    # of power per MW of heat extracted (extraction-condensing units; assumption).
    chp = [u for u in units if u.technology == "coal_chp"]
    heat_cap = sum(u.heat_capacity_mw for u in chp)
    heat_mw = district_heat_tj * 1e6 / 3600.0 * heat_shape  # TJ -> MWh then per hour
    chp_heat_mw = np.minimum(heat_mw, heat_cap)
    must = {}
    for u in chp:
        share = u.heat_capacity_mw / heat_cap if heat_cap > 0 else 0.0
        q = chp_heat_mw * share
        on = q > 0
        must[u.unique_id] = np.where(
            on, np.minimum(u.capacity_mw, np.maximum(u.min_load_share * u.capacity_mw, 0.6 * q)), 0.0
        )
    must_total = sum(must.values()) if must else np.zeros_like(L)

    surplus = np.maximum(re_avail + must_total - L, 0.0)
    deficit = np.maximum(L - re_avail - must_total, 0.0)

    # Storage: within each representative day, charge from surplus and discharge into the deficit hours.
    batteries = [u for u in units if u.technology == "battery"]
    p_sto = sum(u.capacity_mw for u in batteries)
    e_sto = sum(u.capacity_mw * u.storage_hours for u in batteries)
    eta = 0.88
    charge = np.minimum(surplus, p_sto).reshape(4, 24)
    day_charge = charge.sum(axis=1)
    scale = np.divide(np.minimum(day_charge, e_sto), day_charge, out=np.zeros(4), where=day_charge > 0)
    charge *= scale[:, None]
    d = deficit.reshape(4, 24)
    avail_dis = charge.sum(axis=1) * eta
    need = d.sum(axis=1)
    frac = np.divide(np.minimum(avail_dis, need), need, out=np.zeros(4), where=need > 0)
    discharge = np.minimum(d * frac[:, None], p_sto)
    # charge only what is discharged (the rest would sit in the battery)
    used = discharge.sum(axis=1) / eta
    scale2 = np.divide(used, charge.sum(axis=1), out=np.zeros(4), where=charge.sum(axis=1) > 0)
    charge = (charge * scale2[:, None]).ravel()
    discharge = discharge.ravel()
    surplus = surplus - charge
    deficit = deficit - discharge

    export_re = np.minimum(surplus, export_limit_mw)
    leftover = surplus - export_re
    curtail = np.minimum(leftover, re_avail)
    must_cut = leftover - curtail  # must-run beyond load, export and all renewables: CHP backs off
    export_room = export_limit_mw - export_re

    # Merit order over the flexible capacity, with imports as a pseudo-unit at the regional price.
    flex = []
    for u in units:
        if u.technology in ("coal", "gas"):
            flex.append((mc[u.unique_id], u.unique_id, np.full_like(L, 0.92 * u.capacity_mw)))
        elif u.technology == "coal_chp":
            flex.append((mc[u.unique_id], u.unique_id, np.maximum(0.92 * u.capacity_mw - must[u.unique_id], 0.0)))
    flex.append((regional_price, -1, np.full_like(L, import_limit_mw)))
    flex.sort(key=lambda t: (t[0], t[1]))
    gen_flex: dict[int, np.ndarray] = {}
    remaining = deficit.copy()
    for _cost, uid, cap in flex:
        g = np.minimum(remaining, cap)
        remaining = remaining - g
        gen_flex[uid] = g
    unserved = remaining
    # Economic exports: units cheaper than the regional price sell into the remaining line capacity.
    room = export_room.copy()
    export_thermal = np.zeros_like(L)
    for cost, uid, cap in flex:
        if uid == -1 or cost >= regional_price:
            continue
        e = np.minimum(cap - gen_flex[uid], room)
        room = room - e
        gen_flex[uid] = gen_flex[uid] + e
        export_thermal += e

    result = {"units": {}}
    total_gen = 0.0
    re_used = re_avail - curtail
    share_wind = np.divide(wind_avail, re_avail, out=np.zeros_like(L), where=re_avail > 0)
    wind_gen = float((re_used * share_wind * w).sum())
    solar_total = float((re_used * (1 - share_wind) * w).sum())
    rooftop_share = rooftop_mw / solar_cap if solar_cap > 0 else 0.0
    for u in units:
        if u.technology == "wind":
            gen = wind_gen * u.capacity_mw / wind_cap if wind_cap > 0 else 0.0
        elif u.technology == "solar":
            gen = solar_total * (1 - rooftop_share) * u.capacity_mw / max(solar_cap - rooftop_mw, 1e-12)
        elif u.technology == "battery":
            gen = 0.0
        else:
            hourly = gen_flex.get(u.unique_id, 0.0) + must.get(u.unique_id, 0.0)
            if u.unique_id in must:
                cut_share = np.divide(must[u.unique_id], must_total, out=np.zeros_like(L), where=must_total > 0)
                hourly = hourly - must_cut * cut_share
            gen = float((hourly * w).sum())
        heat_tj = 0.0
        if u.technology == "coal_chp" and heat_cap > 0:
            heat_tj = float((chp_heat_mw * w).sum()) * u.heat_capacity_mw / heat_cap * 3600.0 / 1e6
        fuel_tj = (gen * u.heat_rate_gj_per_mwh + heat_tj * 1e3 * chp_fuel_per_heat) / 1e3 if u.fuel else 0.0
        result["units"][u.unique_id] = {"generation_mwh": gen, "fuel_tj": fuel_tj, "heat_tj": heat_tj}
        total_gen += gen
    rooftop_gen = solar_total * rooftop_share
    total_gen += rooftop_gen
    heat_total_tj = float((heat_mw * w).sum()) * 3600.0 / 1e6
    chp_heat_tj = float((chp_heat_mw * w).sum()) * 3600.0 / 1e6
    boiler_heat_tj = heat_total_tj - chp_heat_tj
    imports = float((gen_flex[-1] * w).sum()) + float((unserved * w).sum())
    exports = float(((export_re + export_thermal) * w).sum())
    result.update(
        generation_mwh=total_gen,
        distributed_generation_mwh={
            k: rooftop_gen * v / rooftop_mw if rooftop_mw > 0 else 0.0 for k, v in distributed_mw.items()
        },
        import_mwh=imports,
        export_mwh=exports,
        unserved_mwh=float((unserved * w).sum()),
        storage_loss_mwh=float(((charge - discharge) * w).sum()),
        curtailment_mwh=float((curtail * w).sum()),
        re_available_mwh=float((re_avail * w).sum()),
        grid_loss_mwh=float(((L - demand) * w).sum()),
        demand_mwh=float((demand * w).sum()),
        chp_heat_tj=chp_heat_tj,
        boiler_heat_tj=boiler_heat_tj,
        boiler_fuel_tj=boiler_heat_tj / boiler_efficiency,
    )
    return result
