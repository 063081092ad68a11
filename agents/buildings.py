"""Buildings: floor area by type and vintage, heating-system replacement, envelope retrofits, new build.

Each building agent has a type (residential / non-residential), floor area, heat demand per m2 at base
degree days (from its vintage or retrofit), a heating system and its age, and whether a district-heat
connection is available. Every year:
    * heating systems fail with probability 1/life; the owner chooses the next system by logit on
      annualised cost (capex minus subsidy, energy at this year's prices including carbon pass-through),
      with constants calibrated so base-year choices reproduce base-year shares (connection lock-in);
      mandates can require electric heating for a share of replacements and new buildings;
    * buildings above the current standard retrofit the envelope with a probability that rises with the
      saving relative to cost;
    * old stock is demolished and new floor area is built to the standard of the year.
Heat demand scales with heating degree days, which follow a trend and vary year to year (weather noise).

How the kernel computes this (DESIGN.md section 8): system failures and demolitions, which have a constant
yearly probability per building, are scheduled by drawing the waiting time when a system is installed or a
building is created (:func:`~agents.population.next_event_years`); retrofits, whose probability changes with
prices and standards, use one exponential threshold per building (:func:`~agents.population.hazard_clocks`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from agents.population import (
    Population,
    RowAgent,
    allocate_by_share,
    crf,
    hazard_clocks,
    logistic,
    logit_choice,
    next_event_years,
    yearly_hazard,
)

if TYPE_CHECKING:
    from sim.model import CityModel
    from sim.scenario import BuildingSpec

HEATING_SYSTEMS = ("district", "gas_boiler", "electric_boiler", "heat_pump", "solar_storage")
DISTRICT, GAS_BOILER, ELECTRIC_BOILER, HEAT_PUMP, SOLAR_STORAGE = range(5)
SOLAR_FRACTION = 0.6
"""Share of heat from solar collectors with seasonal thermal storage; the rest electric (assumption)."""
OWNER_DISCOUNT_RATE = 0.08
HDD_NOISE_SD = 0.05
"""Year-to-year variation of heating degree days (assumption: ~5% in northern Xinjiang)."""


class Building(RowAgent):
    columns = (
        "residential",
        "floor_m2",
        "heat_kwh_per_m2",
        "system",
        "system_age",
        "district_ok",
        "retrofitted",
        "built",
    )


class Buildings(Population):
    agent_class = Building

    def __init__(self, model: CityModel, spec: BuildingSpec, resolution: float, rng: np.random.Generator):
        super().__init__(model, spec.buildings, resolution, rng, growth_headroom=1.0)
        self.spec = spec
        n = self.n
        pop = model.inputs.city.population
        res_floor = pop * spec.residential_floor_m2_per_person
        nonres_floor = spec.nonresidential_floor_mm2 * 1e6
        res_share_of_buildings = 0.85
        residential = rng.random(n) < res_share_of_buildings
        area = rng.lognormal(0.0, 0.6, n)
        area = np.where(
            residential,
            area * res_floor / max(area[residential].sum(), 1e-9),
            area * nonres_floor / max(area[~residential].sum(), 1e-9),
        ) / max(self.weight, 1e-12)
        self.add_column("residential", residential)
        self.add_column("floor_m2", area)
        vintages = list(spec.vintage_shares)
        vshare = np.array([spec.vintage_shares[v] for v in vintages])
        vi = allocate_by_share(rng, area, vshare)
        intensity = np.array([spec.heat_kwh_per_m2_by_vintage[v] for v in vintages])[vi]
        self.add_column("heat_kwh_per_m2", intensity)
        built = np.array([_vintage_year(v) for v in vintages])[vi]
        self.add_column("built", built.astype(np.int16))
        sys_share = np.array([spec.systems[s].share if s in spec.systems else 0.0 for s in HEATING_SYSTEMS])
        self.add_column("system", allocate_by_share(rng, area, sys_share).astype(np.int8))
        self.add_column("system_age", rng.integers(0, int(spec.system_life_yr), n).astype(np.int16))
        district_avail = spec.systems["district"].available_share if "district" in spec.systems else 0.0
        self.add_column("district_ok", (self.live("system") == DISTRICT) | (rng.random(n) < district_avail))
        self.add_column("retrofitted", np.zeros(n, dtype=bool))
        self.mandate_rng = rng.spawn(1)[0]
        """Stream for the random picks of installation mandates (see :attr:`Vehicles.mandate_rng`)."""
        self.eff = np.array([spec.systems[s].efficiency if s in spec.systems else 1.0 for s in HEATING_SYSTEMS])
        self.capex = np.array([spec.systems[s].capex_cny_per_m2 if s in spec.systems else 0.0 for s in HEATING_SYSTEMS])
        self.offered = np.array([s in spec.systems for s in HEATING_SYSTEMS])
        self.avail_share = np.array(
            [spec.systems[s].available_share if s in spec.systems else 0.0 for s in HEATING_SYSTEMS]
        )
        self.eff[HEAT_PUMP] = model.params["heat_pump_seasonal_cop"]
        self.asc = np.zeros(len(HEATING_SYSTEMS))
        self.hdd_factor = 1.0
        self._calibrate(model.inputs.base_year, sys_share)
        base = model.inputs.base_year
        self.add_column("next_failure_year", next_event_years(rng, 1.0 / spec.system_life_yr, n, base))
        self.add_column("demolition_year", next_event_years(rng, self._demolition_probability(built), n, base))
        self.add_column("retrofit_clock", hazard_clocks(rng, n))

    def _demolition_probability(self, built: np.ndarray | int) -> np.ndarray | float:
        """Yearly demolition probability: the base rate, doubled for pre-2000 stock and halved for newer."""
        if np.ndim(built) == 0:
            return self.spec.demolition_rate_per_yr * (2.0 if built < 2000 else 0.5)
        return self.spec.demolition_rate_per_yr * np.where(built < 2000, 2.0, 0.5)

    def _annual_cost_per_m2(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Annual heating cost per m2 of each system as ``fixed + per_kwh x heat demand (kWh/m2)``, CNY.

        ``fixed``: capital net of subsidy at the owner's discount rate over the system life, plus the
        regulated district-heat tariff per m2 heated; ``per_kwh``: energy per kWh of heat delivered at this
        year's prices (with carbon pass-through to gas where buildings are covered).
        """
        m = self.model
        gas = m.retail_gas_price_cny_per_gj(year, "buildings") * 0.0036
        power = m.households_spec_power_price()
        capex = np.maximum(self.capex - m.policies.heating_subsidy_cny_per_m2(year), 0.0)
        fixed = capex * crf(OWNER_DISCOUNT_RATE, self.spec.system_life_yr)
        fixed[DISTRICT] += self.spec.district_heat_price_cny_per_m2
        per_kwh = np.zeros(len(HEATING_SYSTEMS))
        per_kwh[GAS_BOILER] = gas / self.eff[GAS_BOILER]
        per_kwh[ELECTRIC_BOILER] = power / self.eff[ELECTRIC_BOILER]
        per_kwh[HEAT_PUMP] = power / self.eff[HEAT_PUMP]
        per_kwh[SOLAR_STORAGE] = (1 - SOLAR_FRACTION) / self.eff[ELECTRIC_BOILER] * power
        return fixed, per_kwh

    def _utility(self, rows: np.ndarray, year: int) -> np.ndarray:
        """Utility of each heating system (rows) for the buildings in ``rows`` (columns); ``-inf`` where a
        system is not offered or, for district heat, not available at the building."""
        p = self.model.params
        fixed, per_kwh = self._annual_cost_per_m2(year)
        # Cost per building, scaled to a 1,000 m2 decision so the logit scale matches households'.
        scale = p["choice_cost_sensitivity"] * 1000.0 / 1e4
        u = (self.asc - scale * fixed)[:, None] - (scale * per_kwh)[:, None] * self.live("heat_kwh_per_m2")[rows]
        u[~self.offered] = -np.inf
        u[DISTRICT, ~self.live("district_ok")[rows]] = -np.inf
        return u

    def _calibrate(self, year: int, shares: np.ndarray) -> None:
        rows = np.arange(self.n)
        if not len(rows):
            return
        u = self._utility(rows, year)
        v = np.where(np.isfinite(u), u, np.nan)
        mean_v = np.nanmean(v, axis=1)
        ok = self.offered & np.isfinite(mean_v)
        self.asc = np.where(ok, np.log(np.maximum(shares, 1e-3)) - np.nan_to_num(mean_v), 0.0)

    def step(self, year: int) -> None:
        """One year of demolition, retrofit, heating-system replacement and new build (module docstring)."""
        m = self.model
        spec = self.spec
        rng = self.rng
        p = m.params
        t = year - m.inputs.base_year
        self.hdd_factor = (1 + p["heating_degree_days_trend_pct_per_decade"] / 100) ** (t / 10) * (
            1 + HDD_NOISE_SD * m.weather_noise["hdd"]
        )
        age = self.live("system_age")
        age += 1
        # demolition (older first: probability doubles for pre-2000 stock)
        floor = self.live("floor_m2")
        floor[self.live("demolition_year") == year] = 0.0
        standing = floor > 0
        # envelope retrofit
        heat = self.live("heat_kwh_per_m2")
        standard = self.standard(year)
        candidates = np.flatnonzero(standing & ~self.live("retrofitted") & (heat > standard * 1.2))
        retro = candidates[:0]
        if len(candidates):
            # Yearly rate: base rate x 2 / (1 + exp(-3 (saving / annualised cost - 1))), saving = heat x saving
            # share x gas price per kWh; the per-m2 constants are folded into one factor per year.
            gas_cny_per_kwh = 0.0036 * m.retail_gas_price_cny_per_gj(year, "buildings")
            cost = max(spec.retrofit_cost_cny_per_m2 - m.policies.retrofit_subsidy_cny_per_m2(year), 0.0) * crf(
                OWNER_DISCOUNT_RATE, 30
            )
            x = heat[candidates] * (3.0 * spec.retrofit_saving_share * gas_cny_per_kwh / max(cost, 1e-6))
            x -= 3.0
            rate = logistic(x)
            rate *= spec.retrofit_base_rate_per_yr * 2.0
            clock = self.live("retrofit_clock")
            left = clock[candidates] - yearly_hazard(rate)
            clock[candidates] = left
            retro = candidates[left <= 0]
            heat[retro] *= 1 - spec.retrofit_saving_share
            self.live("retrofitted")[retro] = True
        m.policies.record_retrofits(float((floor[retro]).sum()) * self.weight, year, spec.retrofit_cost_cny_per_m2)
        # failed heating systems of standing buildings, then new floor area
        failed = np.flatnonzero((self.live("next_failure_year") == year) & standing)
        new_rows = self._build(year, standing)
        rows = np.concatenate([failed, new_rows])
        if len(rows):
            choice = logit_choice(rng, self._utility(rows, year))
            choice = m.policies.apply_heating_mandates(self, rows, choice, year, self.mandate_rng)
            self.live("system")[rows] = choice
            self.live("system_age")[rows] = 0
            self.live("next_failure_year")[rows] = next_event_years(rng, 1.0 / spec.system_life_yr, len(rows), year)
            m.policies.record_heating_purchases(self, rows, choice, year)

    def standard(self, year: int) -> float:
        s = self.spec
        if year >= 2030:
            return s.new_build_heat_kwh_per_m2_2030
        base = self.model.inputs.base_year
        f = (year - base) / max(2030 - base, 1)
        return s.new_build_heat_kwh_per_m2 + f * (s.new_build_heat_kwh_per_m2_2030 - s.new_build_heat_kwh_per_m2)

    def _build(self, year: int, standing: np.ndarray) -> np.ndarray:
        """New floor area to this year's standard where the stock falls short of its target (``standing``:
        which of the current buildings have floor area)."""
        m = self.model
        spec = self.spec
        res = self.live("residential")
        floor = self.live("floor_m2")
        per_capita = m.residential_floor_per_person(year)
        target_res = m.population(year) * per_capita
        target_non = spec.nonresidential_floor_mm2 * 1e6 * m.activity_index(year) ** 0.5
        res_floor = float(np.einsum("i,i->", floor, res))
        res_standing = np.count_nonzero(res & standing)
        current_floor = {True: res_floor, False: float(floor.sum()) - res_floor}
        n_standing = {True: res_standing, False: np.count_nonzero(standing) - res_standing}
        kinds, ks, areas = [], [], []
        for is_res, target in ((True, target_res), (False, target_non)):
            gap = target - current_floor[is_res] * self.weight
            if gap <= 0:
                continue
            mean_area = current_floor[is_res] / n_standing[is_res] if n_standing[is_res] else 3000.0
            k = math.floor(gap / self.weight / mean_area + self.rng.random())
            if k > 0:
                kinds.append(is_res)
                ks.append(k)
                areas.append(gap / self.weight / k)
        if not ks:
            return np.zeros(0, dtype=np.intp)
        total = sum(ks)
        sl = self.grow(total)
        self.cols["residential"][sl] = np.repeat(kinds, ks)
        self.cols["floor_m2"][sl] = np.repeat(areas, ks)
        self.cols["heat_kwh_per_m2"][sl] = self.standard(year)
        self.cols["built"][sl] = year
        self.cols["district_ok"][sl] = self.rng.random(total) < self.avail_share[DISTRICT]
        self.cols["retrofitted"][sl] = True
        self.cols["demolition_year"][sl] = next_event_years(self.rng, self._demolition_probability(year), total, year)
        return np.arange(sl.start, sl.stop)

    def account(self, y: int) -> dict[str, float]:
        """Book building heat by carrier; return district heat delivered (TJ) and heating electricity (MWh)."""
        m = self.model
        w = self.weight
        spec = self.spec
        heat_kwh = self.live("floor_m2") * self.live("heat_kwh_per_m2") * self.hdd_factor
        by_sys = np.bincount(self.live("system"), weights=heat_kwh, minlength=len(HEATING_SYSTEMS)) * w / 1e3  # MWh
        district_tj = by_sys[DISTRICT] * 3.6 / 1e3
        gas_tj = by_sys[GAS_BOILER] / self.eff[GAS_BOILER] * 3.6 / 1e3
        heat_elec_mwh = (
            by_sys[ELECTRIC_BOILER] / self.eff[ELECTRIC_BOILER]
            + by_sys[HEAT_PUMP] / self.eff[HEAT_PUMP]
            + by_sys[SOLAR_STORAGE] * (1 - SOLAR_FRACTION) / self.eff[ELECTRIC_BOILER]
        )
        nonres = float(self.live("floor_m2")[~self.live("residential")].sum()) * w
        other_elec_mwh = nonres * spec.nonresidential_electricity_kwh_per_m2 / 1e3
        m.ledger.add_energy(y, "buildings", "heat", district_tj)
        m.ledger.add_energy(y, "buildings", "natural_gas", gas_tj)
        m.ledger.add_energy(y, "buildings", "electricity", (heat_elec_mwh + other_elec_mwh) * 3.6 / 1e3)
        floor_by_sys = (
            np.bincount(self.live("system"), weights=self.live("floor_m2"), minlength=len(HEATING_SYSTEMS)) * w
        )
        for j, s in enumerate(HEATING_SYSTEMS):
            m.ledger.add_series(m.ledger.stocks, ("buildings_floor_m2", s), y, floor_by_sys[j])
        return {
            "district_tj": district_tj,
            "heating_electricity_mwh": heat_elec_mwh,
            "other_electricity_mwh": other_elec_mwh,
        }


def _vintage_year(label: str) -> int:
    """Representative construction year of a vintage label like ``pre2000`` or ``2010_2019``."""
    digits = [int(x) for x in label.replace("pre", "").split("_") if x.isdigit()]
    if label.startswith("pre"):
        return digits[0] - 10
    return int(np.mean(digits)) if digits else 2000
