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

At the app's coarse resolution (~50 buildings) a year costs what its numpy calls cost, not what its
arithmetic costs, so the kernel keeps what it would otherwise recount every year: floor area and standing
buildings by type (residential / non-residential) as running sums, updated where floor area appears or
disappears; the year's utility coefficients, remembered by the prices and subsidies they depend on; and the
retrofit hazard per heat-demand level (see :meth:`Buildings._retrofit`), so a year without events makes no
numpy call for retrofits.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING

import numpy as np

from agents.population import (
    NEVER,
    Population,
    RowAgent,
    allocate_by_share,
    crf,
    hazard_clocks,
    logit_choice,
    next_event_years,
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
        self.system_crf = float(crf(OWNER_DISCOUNT_RATE, spec.system_life_yr))
        """Capital recovery factor of a heating system at the owner's discount rate (constant for the run)."""
        self.retrofit_crf = float(crf(OWNER_DISCOUNT_RATE, 30))
        """Capital recovery factor of an envelope retrofit (30 years)."""
        self._cost_tables: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.asc = np.zeros(len(HEATING_SYSTEMS))
        self.hdd_factor = 1.0
        self._calibrate(model.inputs.base_year, sys_share)
        self._cost_tables.clear()  # computed with the uncalibrated constants
        base = model.inputs.base_year
        self.add_column("next_failure_year", next_event_years(rng, 1.0 / spec.system_life_yr, n, base))
        self.add_column("demolition_year", next_event_years(rng, self._demolition_probability(built), n, base))
        self.add_column("retrofit_threshold", hazard_clocks(rng, n))
        floor = self.live("floor_m2")
        standing = floor > 0
        self.live("next_failure_year")[~standing] = NEVER  # a building without floor area has nothing to heat
        self.floor_m2_by_type = np.bincount(residential, weights=floor, minlength=2).tolist()
        """Floor area (m2 per agent, unweighted) of non-residential [0] and residential [1] buildings, kept up
        to date by demolition and new build: what ``_build`` and ``account`` would otherwise sum every year."""
        self.standing_by_type = np.bincount(residential[standing], minlength=2).tolist()
        """Buildings with floor area, non-residential [0] and residential [1], kept up to date likewise."""
        self._init_retrofit_levels()

    def _init_retrofit_levels(self) -> None:
        """Group the buildings that can still retrofit by heat demand, each group sorted by its thresholds.

        Why: a building's yearly retrofit probability depends only on its heat demand and the year, and only
        unretrofitted buildings from the base-year stock can retrofit (new buildings are built to standard
        and count as retrofitted), so their heat demand takes a few values (one per vintage). All buildings
        of one level are candidates in the same years, so their cumulative hazards are one number per level;
        see :meth:`_retrofit`.
        """
        heat = self.live("heat_kwh_per_m2")
        threshold = self.live("retrofit_threshold")
        rows = np.flatnonzero(~self.live("retrofitted"))
        levels, level = np.unique(heat[rows], return_inverse=True)
        order = np.lexsort((threshold[rows], level))  # by level, then threshold
        bounds = np.searchsorted(level[order], np.arange(len(levels) + 1)).tolist()
        self.retrofit_levels_kwh_per_m2 = levels.tolist()
        self.retrofit_rows = [rows[order[a:b]] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        """Rows of each level in ascending order of their thresholds."""
        self.retrofit_thresholds = [threshold[r].tolist() for r in self.retrofit_rows]
        self.retrofit_hazard = [0.0] * len(levels)
        """Cumulative retrofit hazard of each level over the years its buildings were candidates."""
        self.retrofit_passed = [0] * len(levels)
        """How many of each level's sorted thresholds the level's cumulative hazard has passed."""

    def _demolition_probability(self, built: np.ndarray | int) -> np.ndarray | float:
        """Yearly demolition probability: the base rate, doubled for pre-2000 stock and halved for newer."""
        if np.ndim(built) == 0:
            return self.spec.demolition_rate_per_yr * (2.0 if built < 2000 else 0.5)
        return self.spec.demolition_rate_per_yr * np.where(built < 2000, 2.0, 0.5)

    def _annual_cost_per_m2(self, gas_cny_per_gj: float, subsidy_cny_per_m2: np.ndarray) -> tuple[list, list]:
        """Annual heating cost per m2 of each system as ``fixed + per_kwh x heat demand (kWh/m2)``, CNY.

        ``fixed``: capital net of subsidy at the owner's discount rate over the system life, plus the
        regulated district-heat tariff per m2 heated; ``per_kwh``: energy per kWh of heat delivered at this
        year's prices (``gas_cny_per_gj`` with carbon pass-through to gas where buildings are covered).
        Five numbers each, so plain floats: numpy calls on arrays this small cost more than the arithmetic.
        """
        gas = gas_cny_per_gj * 0.0036
        power = self.model.households_spec_power_price()
        eff = self.eff.tolist()
        capex = zip(self.capex.tolist(), subsidy_cny_per_m2.tolist(), strict=True)
        fixed = [max(c - s, 0.0) * self.system_crf for c, s in capex]
        fixed[DISTRICT] += self.spec.district_heat_price_cny_per_m2
        per_kwh = [0.0] * len(HEATING_SYSTEMS)
        per_kwh[GAS_BOILER] = gas / eff[GAS_BOILER]
        per_kwh[ELECTRIC_BOILER] = power / eff[ELECTRIC_BOILER]
        per_kwh[HEAT_PUMP] = power / eff[HEAT_PUMP]
        per_kwh[SOLAR_STORAGE] = (1 - SOLAR_FRACTION) / eff[ELECTRIC_BOILER] * power
        return fixed, per_kwh

    def _cost_coefficients(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        """This year's utility as ``const[:, district_ok] - per_kwh x heat demand per m2`` (see :meth:`_utility`).

        ``const`` is systems x 2 (column 0: district heat not available at the building) with ``-inf`` where a
        system cannot be chosen; ``per_kwh`` is systems x 1. Remembered by the prices and subsidies they are
        computed from, which change in few years of a run.
        """
        m = self.model
        gas = m.retail_gas_price_cny_per_gj(year, "buildings")
        subsidy = m.policies.heating_subsidy_cny_per_m2(year)
        scale = m.params["choice_cost_sensitivity"] * 1000.0 / 1e4
        key = (gas, subsidy.tobytes(), scale)
        table = self._cost_tables.get(key)
        if table is None:
            fixed, per_kwh = self._annual_cost_per_m2(gas, subsidy)
            # Cost per building, scaled to a 1,000 m2 decision so the logit scale matches households'.
            const = np.array([a - scale * f for a, f in zip(self.asc.tolist(), fixed, strict=True)])
            const[~self.offered] = -np.inf
            const = np.repeat(const[:, None], 2, axis=1)
            const[DISTRICT, 0] = -np.inf
            table = self._cost_tables[key] = (const, np.array([[scale * c] for c in per_kwh]))
        return table

    def _utility(self, rows: np.ndarray, year: int) -> np.ndarray:
        """Utility of each heating system (rows) for the buildings in ``rows`` (columns); ``-inf`` where a
        system is not offered or, for district heat, not available at the building."""
        const, per_kwh = self._cost_coefficients(year)
        u = const.take(self.live("district_ok")[rows], axis=1)
        u -= per_kwh * self.live("heat_kwh_per_m2")[rows]
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
        gone = np.flatnonzero(self.live("demolition_year") == year)
        if len(gone):
            self._demolish(gone)
        retro = self._retrofit(year)
        retro_m2 = float(self.live("floor_m2")[retro].sum()) if len(retro) else 0.0
        m.policies.record_retrofits(retro_m2 * self.weight, year, spec.retrofit_cost_cny_per_m2)
        # failed heating systems of standing buildings and new buildings (scheduled for this year by _build)
        self._build(year)
        rows = np.flatnonzero(self.live("next_failure_year") == year)
        if len(rows):
            choice = logit_choice(rng, self._utility(rows, year))
            choice = m.policies.apply_heating_mandates(self, rows, choice, year, self.mandate_rng)
            self.live("system")[rows] = choice
            self.live("system_age")[rows] = 0
            self.live("next_failure_year")[rows] = next_event_years(rng, 1.0 / spec.system_life_yr, len(rows), year)
            m.policies.record_heating_purchases(self, rows, choice, year)

    def _demolish(self, rows: np.ndarray) -> None:
        """Take the floor area of ``rows`` off the stock and the running sums; their systems fail no more."""
        floor = self.live("floor_m2")
        rows = rows[floor[rows] > 0]
        kind = self.live("residential")[rows]
        m2 = np.bincount(kind, weights=floor[rows], minlength=2).tolist()
        count = np.bincount(kind, minlength=2).tolist()
        for i in (0, 1):
            self.standing_by_type[i] -= count[i]
            # Exactly 0 once a type has no standing buildings, not the rounding residue of the subtractions.
            self.floor_m2_by_type[i] = self.floor_m2_by_type[i] - m2[i] if self.standing_by_type[i] else 0.0
        floor[rows] = 0.0
        self.live("next_failure_year")[rows] = NEVER

    def _retrofit(self, year: int) -> np.ndarray:
        """Envelope retrofits this year; returns the retrofitted rows (ascending).

        The rule: a standing, unretrofitted building whose heat demand exceeds 1.2 x this year's standard
        retrofits with yearly probability ``base rate x 2 / (1 + exp(-3 (saving / annualised cost - 1)))``
        (saving = heat demand x saving share x gas price per kWh), by its hazard clock: in the first year its
        cumulative hazard ``sum -log(1 - p_t)`` reaches its Exp(1) threshold
        (:func:`~agents.population.hazard_clocks`).

        How: the probability depends on the building only through its heat demand, so the cumulative hazard is
        kept per heat-demand level (:meth:`_init_retrofit_levels`), and the buildings of a level that
        retrofit this year are those whose thresholds the level's cumulative hazard passes this year: the
        next run of its sorted thresholds (a bisection, no pass over the buildings). Demolished buildings
        are skipped when their turn comes. The hazard of a level is a few scalar operations, so they are done
        in plain Python floats.
        """
        threshold_kwh_per_m2 = self.standard(year) * 1.2
        levels = self.retrofit_levels_kwh_per_m2
        due = [
            i
            for i, heat in enumerate(levels)
            if heat > threshold_kwh_per_m2 and self.retrofit_passed[i] < len(self.retrofit_thresholds[i])
        ]
        if not due:
            return _NO_ROWS
        m = self.model
        spec = self.spec
        gas_cny_per_kwh = 0.0036 * m.retail_gas_price_cny_per_gj(year, "buildings")
        subsidy = m.policies.retrofit_subsidy_cny_per_m2(year)
        cost = max(spec.retrofit_cost_cny_per_m2 - subsidy, 0.0) * self.retrofit_crf
        slope = 3.0 * spec.retrofit_saving_share * gas_cny_per_kwh / max(cost, 1e-6)
        peak_rate = spec.retrofit_base_rate_per_yr * 2.0
        events = []
        for i in due:
            rate = scalar_logistic(levels[i] * slope - 3.0) * peak_rate
            hazard = self.retrofit_hazard[i] + scalar_yearly_hazard(rate)
            self.retrofit_hazard[i] = hazard
            if hazard != hazard:  # p > 1 (nan): as with a nan clock, the level never retrofits
                continue
            passed = self.retrofit_passed[i]
            now = bisect.bisect_right(self.retrofit_thresholds[i], hazard, passed)
            if now > passed:
                events.append(self.retrofit_rows[i][passed:now])
                self.retrofit_passed[i] = now
        if not events:
            return _NO_ROWS
        rows = np.sort(np.concatenate(events))
        rows = rows[self.live("floor_m2")[rows] > 0]
        self.live("heat_kwh_per_m2")[rows] *= 1 - spec.retrofit_saving_share
        self.live("retrofitted")[rows] = True
        return rows

    def standard(self, year: int) -> float:
        s = self.spec
        if year >= 2030:
            return s.new_build_heat_kwh_per_m2_2030
        base = self.model.inputs.base_year
        f = (year - base) / max(2030 - base, 1)
        return s.new_build_heat_kwh_per_m2 + f * (s.new_build_heat_kwh_per_m2_2030 - s.new_build_heat_kwh_per_m2)

    def _build(self, year: int) -> int:
        """New floor area to this year's standard where the stock falls short of its target.

        The stock's floor area and standing buildings by type are the running sums (:attr:`floor_m2_by_type`,
        :attr:`standing_by_type`), not a pass over all buildings. New buildings count as retrofitted (built
        to the standard), which :meth:`_init_retrofit_levels` relies on, and their heating system is due this
        year with the failed ones (``next_failure_year`` = ``year``).

        Returns:
            The number of new buildings (appended rows).
        """
        m = self.model
        spec = self.spec
        w = self.weight
        target_res = float(m.population(year) * m.residential_floor_per_person(year))
        target_non = spec.nonresidential_floor_mm2 * 1e6 * m.activity_index(year) ** 0.5
        floor_m2 = self.floor_m2_by_type
        standing = self.standing_by_type
        new = []
        total = 0
        for kind, target in ((1, target_res), (0, target_non)):
            gap = target - floor_m2[kind] * w
            if gap <= 0:
                continue
            mean_area = floor_m2[kind] / standing[kind] if standing[kind] else 3000.0
            k = math.floor(gap / w / mean_area + self.rng.random())
            if k > 0:
                new.append((kind, k, gap / w / k))
                total += k
        if not total:
            return 0
        sl = self.grow(total)
        cols = self.cols
        start = sl.start
        for kind, k, area in new:
            cols["residential"][start : start + k] = kind
            cols["floor_m2"][start : start + k] = area
            floor_m2[kind] += area * k
            standing[kind] += k
            start += k
        cols["heat_kwh_per_m2"][sl] = self.standard(year)
        cols["built"][sl] = year
        cols["district_ok"][sl] = self.rng.random(total) < self.avail_share[DISTRICT]
        cols["retrofitted"][sl] = True  # built to the standard: not a retrofit candidate
        cols["demolition_year"][sl] = next_event_years(self.rng, self._demolition_probability(year), total, year)
        cols["next_failure_year"][sl] = year
        return total

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
        nonres = self.floor_m2_by_type[0] * w
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


_NO_ROWS = np.zeros(0, dtype=np.intp)


def scalar_logistic(x: float) -> float:
    """``1 / (1 + exp(-x))`` of one float, as :func:`~agents.population.logistic` computes it elementwise."""
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:  # numpy: exp overflows to inf, the logistic is 0
        return 0.0


def scalar_yearly_hazard(p: float) -> float:
    """``-log(1 - p)`` of one float, with numpy's values where ``math`` raises (``p >= 1``)."""
    if p < 1.0:
        return -math.log1p(-p)
    return math.inf if p == 1.0 else math.nan


def _vintage_year(label: str) -> int:
    """Representative construction year of a vintage label like ``pre2000`` or ``2010_2019``."""
    digits = [int(x) for x in label.replace("pre", "").split("_") if x.isdigit()]
    if label.startswith("pre"):
        return digits[0] - 10
    return int(np.mean(digits)) if digits else 2000
