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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agents.population import Population, RowAgent, allocate_by_share, crf, logit_choice

if TYPE_CHECKING:
    from sim.inputs import BuildingSpec

    from sim.model import CityModel

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

    def _energy_cost_per_m2(self, heat_kwh_per_m2: np.ndarray, year: int) -> np.ndarray:
        """Annual heating cost per m2 for each system (rows x systems), CNY."""
        m = self.model
        gas = m.retail_gas_price_cny_per_gj(year, "buildings") * 0.0036
        power = m.households_spec_power_price()
        cost = np.empty((len(heat_kwh_per_m2), len(HEATING_SYSTEMS)))
        cost[:, DISTRICT] = self.spec.district_heat_price_cny_per_m2  # regulated tariff per m2 heated
        cost[:, GAS_BOILER] = heat_kwh_per_m2 / self.eff[GAS_BOILER] * gas
        cost[:, ELECTRIC_BOILER] = heat_kwh_per_m2 / self.eff[ELECTRIC_BOILER] * power
        cost[:, HEAT_PUMP] = heat_kwh_per_m2 / self.eff[HEAT_PUMP] * power
        cost[:, SOLAR_STORAGE] = heat_kwh_per_m2 * (1 - SOLAR_FRACTION) / self.eff[ELECTRIC_BOILER] * power
        return cost

    def _utility(self, rows: np.ndarray, year: int) -> np.ndarray:
        p = self.model.params
        capex = np.maximum(self.capex[None, :] - self.model.policies.heating_subsidy_cny_per_m2(year)[None, :], 0.0)
        annual = capex * crf(OWNER_DISCOUNT_RATE, self.spec.system_life_yr) + self._energy_cost_per_m2(
            self.live("heat_kwh_per_m2")[rows], year
        )
        # Cost per building, scaled to a 1,000 m2 decision so the logit scale matches households'.
        u = -p["choice_cost_sensitivity"] * annual * 1000.0 / 1e4 + self.asc[None, :]
        ok = self.offered[None, :] & np.ones((len(rows), 1), dtype=bool)
        ok[:, DISTRICT] &= self.live("district_ok")[rows]
        return np.where(ok, u, -np.inf)

    def _calibrate(self, year: int, shares: np.ndarray) -> None:
        rows = np.arange(self.n)
        if not len(rows):
            return
        u = self._utility(rows, year)
        v = np.where(np.isfinite(u), u, np.nan)
        mean_v = np.nanmean(v, axis=0)
        ok = self.offered & np.isfinite(mean_v)
        self.asc = np.where(ok, np.log(np.maximum(shares, 1e-3)) - np.nan_to_num(mean_v), 0.0)

    def step(self, year: int) -> None:
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
        fail = rng.random(self.n) < 1.0 / spec.system_life_yr
        # demolition (older first: probability doubles for pre-2000 stock)
        floor = self.live("floor_m2")
        old = self.live("built") < 2000
        demolish = (floor > 0) & (rng.random(self.n) < spec.demolition_rate_per_yr * np.where(old, 2.0, 0.5))
        floor[demolish] = 0.0
        # envelope retrofit
        heat = self.live("heat_kwh_per_m2")
        standard = self.standard(year)
        candidates = (~self.live("retrofitted")) & (heat > standard * 1.2) & (floor > 0)
        saving_cny_per_m2 = (
            heat * spec.retrofit_saving_share * 0.0036 * m.retail_gas_price_cny_per_gj(year, "buildings")
        )
        cost = max(spec.retrofit_cost_cny_per_m2 - m.policies.retrofit_subsidy_cny_per_m2(year), 0.0) * crf(
            OWNER_DISCOUNT_RATE, 30
        )
        rate = spec.retrofit_base_rate_per_yr * 2.0 / (1.0 + np.exp(-3.0 * (saving_cny_per_m2 / max(cost, 1e-6) - 1.0)))
        retro = candidates & (rng.random(self.n) < rate)
        heat[retro] *= 1 - spec.retrofit_saving_share
        self.live("retrofitted")[retro] = True
        m.policies.record_retrofits(float((floor[retro]).sum()) * self.weight, year, spec.retrofit_cost_cny_per_m2)
        # new floor area
        new_rows = self._build(year)
        rows = np.concatenate([np.flatnonzero(fail & (floor > 0)), new_rows])
        if len(rows):
            choice = logit_choice(rng, self._utility(rows, year))
            choice = m.policies.apply_heating_mandates(self, rows, choice, year, rng)
            self.live("system")[rows] = choice
            self.live("system_age")[rows] = 0
            m.policies.record_heating_purchases(self, rows, choice, year)

    def standard(self, year: int) -> float:
        s = self.spec
        if year >= 2030:
            return s.new_build_heat_kwh_per_m2_2030
        base = self.model.inputs.base_year
        f = (year - base) / max(2030 - base, 1)
        return s.new_build_heat_kwh_per_m2 + f * (s.new_build_heat_kwh_per_m2_2030 - s.new_build_heat_kwh_per_m2)

    def _build(self, year: int) -> np.ndarray:
        m = self.model
        spec = self.spec
        res = self.live("residential")
        floor = self.live("floor_m2")
        per_capita = m.residential_floor_per_person(year)
        target_res = m.population(year) * per_capita
        target_non = spec.nonresidential_floor_mm2 * 1e6 * m.activity_index(year) ** 0.5
        out = []
        for is_res, target in ((True, target_res), (False, target_non)):
            current = float(floor[res == is_res].sum()) * self.weight
            gap = target - current
            if gap <= 0:
                continue
            mean_area = (
                float(floor[(res == is_res) & (floor > 0)].mean()) if ((res == is_res) & (floor > 0)).any() else 3000.0
            )
            k = int(np.floor(gap / self.weight / mean_area + self.rng.random()))
            if k <= 0:
                continue
            sl = self.grow(k)
            self.cols["residential"][sl] = is_res
            self.cols["floor_m2"][sl] = gap / self.weight / k
            self.cols["heat_kwh_per_m2"][sl] = self.standard(year)
            self.cols["built"][sl] = year
            self.cols["district_ok"][sl] = self.rng.random(k) < self.avail_share[DISTRICT]
            self.cols["retrofitted"][sl] = True
            out.append(np.arange(sl.start, sl.stop))
            res = self.live("residential")
            floor = self.live("floor_m2")
        return np.concatenate(out) if out else np.zeros(0, dtype=int)

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
