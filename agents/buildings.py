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
retrofit hazard per heat-demand level (see :meth:`BuildingsStack._retrofit`), so a year without events makes
no numpy call for retrofits.

How the stack computes it for the members of a batch (:class:`BuildingsStack`; a single run is a stack of
one): what touches the buildings' rows is done for all members at once on the flat columns (demolitions, the
retrofit updates, the new buildings' columns, the heating-system choice over all members' due rows with each
member's utility table, the account's sums by member and heating system), and each member draws its own
random numbers, in its own run's order (:class:`~agents.population.DrawnByMember`). What is a few scalars per
member (its retrofit levels' hazards and bisections, its floor-area targets and number of new buildings, its
prices and subsidies, its policy hooks and ledger entries) stays a plain Python loop over members: numpy calls
on arrays of a few members would cost more than that arithmetic. Sums per member run row by row in the member's
own order, so a member's numbers do not depend on the members stepped with it.
"""

from __future__ import annotations

import bisect
import functools
import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from agents.population import (
    NEVER,
    DrawnByMember,
    MemberView,
    Population,
    PopulationStack,
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
NP_SUM_PAIRWISE_FROM = 8
"""``np.sum`` adds fewer than 8 numbers one after another, as ``np.bincount`` does, and 8 or more pairwise
(other rounding): a member's sum of that many is taken with ``np.sum`` itself, so it is its run's to the bit."""


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
    """One run's building stock as constructed (the yearly decisions are :class:`BuildingsStack`'s)."""

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
        self.cost_tables: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        """This run's utility coefficients by the prices they are computed from (:func:`cost_coefficients`)."""
        self.asc = np.zeros(len(HEATING_SYSTEMS))
        self.hdd_factor = 1.0
        self._calibrate(model.inputs.base_year, sys_share)
        self.cost_tables.clear()  # computed with the uncalibrated constants
        base = model.inputs.base_year
        self.add_column("next_failure_year", next_event_years(rng, 1.0 / spec.system_life_yr, n, base))
        demolition = demolition_probability(spec.demolition_rate_per_yr, built)
        self.add_column("demolition_year", next_event_years(rng, demolition, n, base))
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
        see :meth:`BuildingsStack._retrofit`.
        """
        heat = self.live("heat_kwh_per_m2")
        threshold = self.live("retrofit_threshold")
        rows = np.flatnonzero(~self.live("retrofitted"))
        levels = np.unique(heat[rows])
        level = np.searchsorted(levels, heat[rows])  # np.unique's inverse, without its overhead
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

    def _utility(self, rows: np.ndarray, year: int) -> np.ndarray:
        """Utility of each heating system (rows) for the buildings in ``rows`` (columns), as
        :meth:`BuildingsStack._utility` computes it for one run; used to calibrate the constants."""
        const, per_kwh = cost_coefficients(self, year)
        u = const.take(self.live("district_ok")[rows], axis=1)
        u -= per_kwh * self.live("heat_kwh_per_m2")[rows]
        return u

    def _calibrate(self, year: int, shares: np.ndarray) -> None:
        rows = np.arange(self.n)
        if not len(rows):
            return
        u = self._utility(rows, year)
        # Each system's mean utility over the buildings that can choose it: ``np.nanmean`` of the finite
        # utilities computed as it computes it (row sums of the finite values over their count), without its
        # per-call overhead; a system no building can choose has no mean (nan) and keeps a zero constant.
        finite = np.isfinite(u)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_v = np.where(finite, u, 0.0).sum(axis=1) / finite.sum(axis=1)
        ok = self.offered & np.isfinite(mean_v)
        self.asc = np.where(ok, np.log(np.maximum(shares, 1e-3)) - mean_v, 0.0)


def demolition_probability(rate_per_yr: float, built: np.ndarray | int) -> np.ndarray | float:
    """Yearly demolition probability: the base rate, doubled for pre-2000 stock and halved for newer."""
    if np.ndim(built) == 0:
        return rate_per_yr * (2.0 if built < 2000 else 0.5)
    return rate_per_yr * np.where(built < 2000, 2.0, 0.5)


def annual_cost_per_m2(
    pop: Buildings | BuildingsView, gas_cny_per_gj: float, subsidy_cny_per_m2: np.ndarray
) -> tuple[list, list]:
    """Annual heating cost per m2 of each system as ``fixed + per_kwh x heat demand (kWh/m2)``, CNY.

    ``fixed``: capital net of subsidy at the owner's discount rate over the system life, plus the
    regulated district-heat tariff per m2 heated; ``per_kwh``: energy per kWh of heat delivered at this
    year's prices (``gas_cny_per_gj`` with carbon pass-through to gas where buildings are covered).
    Five numbers each, so plain floats: numpy calls on arrays this small cost more than the arithmetic.
    ``pop`` is one run's buildings (its model, efficiencies and capital costs).
    """
    gas = gas_cny_per_gj * 0.0036
    power = pop.model.households_spec_power_price()
    eff = pop.eff.tolist()
    capex = zip(pop.capex.tolist(), subsidy_cny_per_m2.tolist(), strict=True)
    fixed = [max(c - s, 0.0) * pop.system_crf for c, s in capex]
    fixed[DISTRICT] += pop.spec.district_heat_price_cny_per_m2
    per_kwh = [0.0] * len(HEATING_SYSTEMS)
    per_kwh[GAS_BOILER] = gas / eff[GAS_BOILER]
    per_kwh[ELECTRIC_BOILER] = power / eff[ELECTRIC_BOILER]
    per_kwh[HEAT_PUMP] = power / eff[HEAT_PUMP]
    per_kwh[SOLAR_STORAGE] = (1 - SOLAR_FRACTION) / eff[ELECTRIC_BOILER] * power
    return fixed, per_kwh


def cost_coefficients(pop: Buildings | BuildingsView, year: int) -> tuple[np.ndarray, np.ndarray]:
    """One run's utility this year as ``const[:, district_ok] - per_kwh x heat demand per m2``
    (see :meth:`BuildingsStack._utility`).

    ``const`` is systems x 2 (column 0: district heat not available at the building) with ``-inf`` where a
    system cannot be chosen; ``per_kwh`` is systems x 1. Remembered in ``pop.cost_tables`` by the prices and
    subsidies they are computed from, which change in few years of a run.
    """
    m = pop.model
    gas = m.retail_gas_price_cny_per_gj(year, "buildings")
    subsidy = m.policies.heating_subsidy_cny_per_m2(year)
    scale = m.params["choice_cost_sensitivity"] * 1000.0 / 1e4
    key = (gas, subsidy.tobytes(), scale)
    tables = pop.cost_tables
    table = tables.get(key)
    if table is None:
        fixed, per_kwh = annual_cost_per_m2(pop, gas, subsidy)
        # Cost per building, scaled to a 1,000 m2 decision so the logit scale matches households'.
        const = np.array([a - scale * f for a, f in zip(pop.asc.tolist(), fixed, strict=True)])
        const[~pop.offered] = -np.inf
        const = np.repeat(const[:, None], 2, axis=1)
        const[DISTRICT, 0] = -np.inf
        table = tables[key] = (const, np.array([[scale * c] for c in per_kwh]))
    return table


class BuildingsView(MemberView):
    """One member's buildings (see :class:`~agents.population.MemberView`): the system data, calibrated
    constants and running sums its model, its policies and the plain-Mesa reference read."""

    stack: BuildingsStack

    @property
    def eff(self) -> np.ndarray:
        """Efficiency (heat delivered per unit of energy) of each heating system in this member's run."""
        return self.stack.eff[self.member]

    @property
    def asc(self) -> np.ndarray:
        """Calibrated alternative-specific constants of the heating-system choice."""
        return self.stack.asc[self.member]

    @property
    def capex(self) -> np.ndarray:
        return self.stack.capex

    @property
    def offered(self) -> np.ndarray:
        return self.stack.offered

    @property
    def avail_share(self) -> np.ndarray:
        return self.stack.avail_share

    @property
    def system_crf(self) -> float:
        return self.stack.system_crf

    @property
    def retrofit_crf(self) -> float:
        return self.stack.retrofit_crf

    @property
    def hdd_factor(self) -> float:
        """This year's heating degree days relative to the base year (trend and weather)."""
        return float(self.stack.hdd_factor[self.member])

    @property
    def mandate_rng(self) -> np.random.Generator:
        return self.stack.mandate_rngs[self.member]

    @property
    def cost_tables(self) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
        return self.stack.cost_tables[self.member]

    @property
    def floor_m2_by_type(self) -> list[float]:
        """Floor area (m2 per agent) of non-residential [0] and residential [1] buildings (running sums)."""
        return self.stack.floor_m2_by_type[self.member]

    @property
    def standing_by_type(self) -> list[int]:
        return self.stack.standing_by_type[self.member]

    def standard(self, year: int) -> float:
        """Heat demand (kWh/m2 at base degree days) of new buildings in ``year``."""
        return self.stack.standard(year)


class BuildingsStack(PopulationStack):
    """The buildings of the members of a batch, decided together (rules and how: module docstring).

    Per member it keeps what its run kept: calibrated constants (:attr:`asc`), efficiencies (the heat
    pump's is a parameter), the running floor sums by type, the retrofit levels (member-local rows) and the
    utility tables by price; the system data that only the scenario sets are shared.
    """

    agent_class = Building
    view_class = BuildingsView
    PAD: ClassVar[dict[str, object]] = {"next_failure_year": NEVER, "demolition_year": NEVER}
    """Padding never fails or is demolished; its floor area (0) adds nothing to any sum."""
    MEMBER_ARRAYS = ("eff", "asc", "hdd_factor")
    MEMBER_LISTS = (
        "models",
        "rngs",
        "mandate_rngs",
        "cost_tables",
        "floor_m2_by_type",
        "standing_by_type",
        "retrofit_levels_kwh_per_m2",
        "retrofit_rows",
        "retrofit_thresholds",
        "retrofit_hazard",
        "retrofit_passed",
        "floor_series",
    )

    def __init__(self, members: list[Buildings]) -> None:
        super().__init__(members)
        first = members[0]
        self.spec = first.spec
        self.capex = first.capex
        self.offered = first.offered
        self.avail_share = first.avail_share
        self.system_crf = first.system_crf
        self.retrofit_crf = first.retrofit_crf
        self.eff = np.array([b.eff for b in members])
        """Members x systems: efficiency of each heating system."""
        self.asc = np.array([b.asc for b in members])
        """Members x systems: calibrated alternative-specific constants."""
        self.hdd_factor = np.array([b.hdd_factor for b in members], dtype=float)
        """Per member: this year's heating degree days relative to the base year."""
        self.mandate_rngs = [b.mandate_rng for b in members]
        self.cost_tables = [b.cost_tables for b in members]
        self.floor_m2_by_type = [b.floor_m2_by_type for b in members]
        self.standing_by_type = [b.standing_by_type for b in members]
        self.retrofit_levels_kwh_per_m2 = [b.retrofit_levels_kwh_per_m2 for b in members]
        self.retrofit_rows = [b.retrofit_rows for b in members]
        """Per member and level: member-local rows in ascending order of their thresholds."""
        self.retrofit_thresholds = [b.retrofit_thresholds for b in members]
        self.retrofit_hazard = [b.retrofit_hazard for b in members]
        self.retrofit_passed = [b.retrofit_passed for b in members]
        self.floor_series: list[np.ndarray | None] = [None] * len(members)
        """Per member: its ledger's floor-area series by heating system (systems x years), once booked."""
        self._stacked_tables: tuple[list, tuple[np.ndarray, np.ndarray]] | None = None
        self._flat_cols: dict[str, np.ndarray] | None = None

    @classmethod
    def join(cls, stacks: list[BuildingsStack]) -> BuildingsStack:
        out = super().join(stacks)
        out._stacked_tables = None
        out._flat_cols = None
        return out

    def _flat_columns(self) -> dict[str, np.ndarray]:
        """All columns as :meth:`flat` gives them, kept until the stack grows (a kernel year reads some twenty
        of them, and at coarse resolution making a view costs as much as using it)."""
        cols = self._flat_cols
        if cols is None:
            if self.members == 1:
                n = int(self.n[0])
                cols = {name: arr[0, :n] for name, arr in self.cols.items()}
            else:
                cols = {name: arr.reshape(-1) for name, arr in self.cols.items()}
            self._flat_cols = cols
        return cols

    def grow(self, counts: list[int] | np.ndarray, zero: bool = True) -> np.ndarray:
        """:meth:`PopulationStack.grow`, dropping the kept column views.

        A stack of one (a single run) that has room appends its rows here in a few scalar steps: it builds
        in most years, and the general path's handful of numpy calls on one-member arrays cost more than
        the year's new build.
        """
        self._flat_cols = None
        if len(self.n) == 1:
            start = int(self.n[0])
            end = start + int(counts[0])
            if end <= self.capacity:
                if zero:
                    for arr in self.cols.values():
                        arr[0, start:end] = 0
                self.n[0] = end
                self._padding = None
                return np.arange(start, end)
        return super().grow(counts, zero)

    def standard(self, year: int) -> float:
        """Heat demand (kWh/m2 at base degree days) of new buildings in ``year``: from the scenario's current
        standard to its 2030 standard in a straight line, then flat."""
        s = self.spec
        if year >= 2030:
            return s.new_build_heat_kwh_per_m2_2030
        base = self.models[0].inputs.base_year
        f = (year - base) / max(2030 - base, 1)
        return s.new_build_heat_kwh_per_m2 + f * (s.new_build_heat_kwh_per_m2_2030 - s.new_build_heat_kwh_per_m2)

    def _sums_by_member(self, values: np.ndarray, rows: np.ndarray) -> list[float]:
        """Per member, the sum of ``values`` at its (ascending flat) ``rows``, as ``np.sum`` over that member's
        values gives it in its own run (see :data:`NP_SUM_PAIRWISE_FROM`)."""
        if self.members == 1:
            return [float(values.sum())]
        member = rows // self.capacity
        sums = np.bincount(member, weights=values, minlength=self.members).tolist()
        counts = np.bincount(member, minlength=self.members).tolist()
        start = 0
        for m, k in enumerate(counts):
            if k >= NP_SUM_PAIRWISE_FROM:
                sums[m] = float(values[start : start + k].sum())
            start += k
        return sums

    def step(self, year: int) -> None:
        """One year of demolition, retrofit, heating-system replacement and new build for every member
        (module docstring), each with its own prices, parameters, policies and random streams."""
        spec = self.spec
        cols = self._flat_columns()
        age = cols["system_age"]  # padding ages too, harmlessly: a new row's age is set when it is equipped
        age += 1
        # demolition (older first: probability doubles for pre-2000 stock)
        gone = (cols["demolition_year"] == year).nonzero()[0]  # np.flatnonzero of the flat mask, without its wrapper
        if len(gone):
            self._demolish(gone)
        retro_m2 = self._retrofit(year)
        hdd_factor = self.hdd_factor
        for m, (model, w) in enumerate(zip(self.models, self.weight.tolist(), strict=True)):
            model.policies.record_retrofits(retro_m2[m] * w, year, spec.retrofit_cost_cny_per_m2)
            p = model.params
            t = year - model.inputs.base_year
            hdd_factor[m] = (1 + p["heating_degree_days_trend_pct_per_decade"] / 100) ** (t / 10) * (
                1 + HDD_NOISE_SD * model.weather_noise["hdd"]
            )
        # failed heating systems of standing buildings and new buildings (scheduled for this year by _build)
        self._build(year)
        rows = (self._flat_columns()["next_failure_year"] == year).nonzero()[0]  # after new build
        if len(rows):
            self._replace_systems(rows, year)

    def _replace_systems(self, rows: np.ndarray, year: int) -> None:
        """Heating systems of the (flat, ascending) ``rows``: logit choice on each member's costs, then each
        member's installation mandate and subsidy as its own run applies them, then the next failure."""
        spec = self.spec
        single = self.members == 1
        counts = [len(rows)] if single else self.member_counts(rows)
        draws = self.rngs[0] if single else DrawnByMember(self, counts)
        choice = logit_choice(draws, self._utility(rows, counts, year))
        cols = self._flat_columns()
        choice = self.models[0].policies.apply_heating_mandates_to_members(
            [model.policies for model in self.models],
            counts,
            choice,
            cols["floor_m2"][rows],
            bool(self.offered[HEAT_PUMP]),
            self.weight.tolist(),
            year,
            self.mandate_rngs,
        )
        cols["system"][rows] = choice
        cols["system_age"][rows] = 0
        cols["next_failure_year"][rows] = next_event_years(draws, 1.0 / spec.system_life_yr, len(rows), year)

    def _cost_coefficients(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        """This year's utility coefficients of all members: ``const`` systems x (members x 2) (member ``m``'s
        columns ``2m`` and ``2m + 1``, see :func:`cost_coefficients`) and ``per_kwh`` systems x members.
        The joined tables are kept while no member's table changes."""
        tables = [cost_coefficients(view, year) for view in self.views]
        if len(tables) == 1:
            return tables[0]
        kept = self._stacked_tables
        if kept is None or any(a is not b for a, b in zip(kept[0], tables, strict=True)):
            joined = (np.concatenate([t[0] for t in tables], axis=1), np.concatenate([t[1] for t in tables], axis=1))
            kept = self._stacked_tables = (tables, joined)
        return kept[1]

    def _utility(self, rows: np.ndarray, counts: list[int], year: int) -> np.ndarray:
        """Utility of each heating system (rows) for the buildings at flat ``rows`` (columns), with their
        members' coefficients; ``-inf`` where a system is not offered or, for district heat, not available
        at the building."""
        const, per_kwh = self._cost_coefficients(year)
        cols = self._flat_columns()
        district_ok = cols["district_ok"][rows]
        heat = cols["heat_kwh_per_m2"][rows]
        if self.members == 1:
            u = const.take(district_ok, axis=1)
            u -= per_kwh * heat
            return u
        member = rows // self.capacity
        u = const.take(member * 2 + district_ok, axis=1)
        u -= per_kwh.take(member, axis=1) * heat
        return u

    def _demolish(self, rows: np.ndarray) -> None:
        """Take the floor area of flat ``rows`` off the stock and their members' running sums; their systems
        fail no more."""
        cols = self._flat_columns()
        floor = cols["floor_m2"]
        rows = rows[floor[rows] > 0]
        kind = cols["residential"][rows]
        M = self.members
        cell = kind if M == 1 else rows // self.capacity * 2 + kind
        m2 = np.bincount(cell, weights=floor[rows], minlength=2 * M).tolist()
        count = np.bincount(cell, minlength=2 * M).tolist()
        for m in range(M):
            if not (count[2 * m] or count[2 * m + 1]):
                continue
            standing = self.standing_by_type[m]
            floor_m2 = self.floor_m2_by_type[m]
            for i in (0, 1):
                standing[i] -= count[2 * m + i]
                # Exactly 0 once a type has no standing buildings, not the rounding residue of the subtractions.
                floor_m2[i] = floor_m2[i] - m2[2 * m + i] if standing[i] else 0.0
        floor[rows] = 0.0
        cols["next_failure_year"][rows] = NEVER

    def _retrofit(self, year: int) -> list[float]:
        """Envelope retrofits this year; returns each member's retrofitted floor area (m2 per agent).

        The rule: a standing, unretrofitted building whose heat demand exceeds 1.2 x this year's standard
        retrofits with yearly probability ``base rate x 2 / (1 + exp(-3 (saving / annualised cost - 1)))``
        (saving = heat demand x saving share x gas price per kWh), by its hazard clock: in the first year its
        cumulative hazard ``sum -log(1 - p_t)`` reaches its Exp(1) threshold
        (:func:`~agents.population.hazard_clocks`).

        How: the probability depends on the building only through its heat demand, so the cumulative hazard is
        kept per member and heat-demand level (:meth:`Buildings._init_retrofit_levels`), and the buildings of a
        level that retrofit this year are those whose thresholds the level's cumulative hazard passes this
        year: the next run of its sorted thresholds (a bisection, no pass over the buildings). Demolished
        buildings are skipped when their turn comes. The hazard of a level is a few scalar operations, so they
        are done in plain Python floats, member by member; the retrofitted rows of all members are then
        updated at once.
        """
        spec = self.spec
        threshold_kwh_per_m2 = self.standard(year) * 1.2
        cap = self.capacity
        events = []
        for m, levels in enumerate(self.retrofit_levels_kwh_per_m2):
            passed = self.retrofit_passed[m]
            thresholds = self.retrofit_thresholds[m]
            due = [i for i, heat in enumerate(levels) if heat > threshold_kwh_per_m2 and passed[i] < len(thresholds[i])]
            if not due:
                continue
            model = self.models[m]
            gas_cny_per_kwh = 0.0036 * model.retail_gas_price_cny_per_gj(year, "buildings")
            subsidy = model.policies.retrofit_subsidy_cny_per_m2(year)
            cost = max(spec.retrofit_cost_cny_per_m2 - subsidy, 0.0) * self.retrofit_crf
            slope = 3.0 * spec.retrofit_saving_share * gas_cny_per_kwh / max(cost, 1e-6)
            peak_rate = spec.retrofit_base_rate_per_yr * 2.0
            hazards = self.retrofit_hazard[m]
            level_rows = self.retrofit_rows[m]
            for i in due:
                rate = scalar_logistic(levels[i] * slope - 3.0) * peak_rate
                hazard = hazards[i] + scalar_yearly_hazard(rate)
                hazards[i] = hazard
                if hazard != hazard:  # p > 1 (nan): as with a nan clock, the level never retrofits
                    continue
                before = passed[i]
                now = bisect.bisect_right(thresholds[i], hazard, before)
                if now > before:
                    local = level_rows[i][before:now]
                    events.append(local + m * cap if m else local)
                    passed[i] = now
        if not events:
            return [0.0] * self.members
        rows = np.sort(np.concatenate(events))
        cols = self._flat_columns()
        floor = cols["floor_m2"]
        rows = rows[floor[rows] > 0]
        cols["heat_kwh_per_m2"][rows] *= 1 - spec.retrofit_saving_share
        cols["retrofitted"][rows] = True
        return self._sums_by_member(floor[rows], rows)

    def _build(self, year: int) -> None:
        """New floor area to this year's standard where a member's stock falls short of its target.

        The stock's floor area and standing buildings by type are the member's running sums
        (:attr:`floor_m2_by_type`, :attr:`standing_by_type`), not a pass over its buildings; how many to build
        is a few scalars per member. New buildings count as retrofitted (built to the standard), which
        :meth:`Buildings._init_retrofit_levels` relies on, and their heating system is due this year with the
        failed ones (``next_failure_year`` = ``year``).
        """
        spec = self.spec
        weights = self.weight.tolist()
        counts = [0] * self.members
        kinds: list[int] = []
        sizes: list[int] = []
        areas: list[float] = []
        for m, model in enumerate(self.models):
            w = weights[m]
            target_res = float(model.population(year) * model.residential_floor_per_person(year))
            target_non = spec.nonresidential_floor_mm2 * 1e6 * model.activity_index(year) ** 0.5
            floor_m2 = self.floor_m2_by_type[m]
            standing = self.standing_by_type[m]
            rng = self.rngs[m]
            for kind, target in ((1, target_res), (0, target_non)):
                gap = target - floor_m2[kind] * w
                if gap <= 0:
                    continue
                mean_area = floor_m2[kind] / standing[kind] if standing[kind] else 3000.0
                k = math.floor(gap / w / mean_area + rng.random())
                if k > 0:
                    area = gap / w / k
                    kinds.append(kind)
                    sizes.append(k)
                    areas.append(area)
                    floor_m2[kind] += area * k  # each type's sums are read only for that type
                    standing[kind] += k
                    counts[m] += k
        if not kinds:
            return
        rows = self.grow(counts, zero=False)  # every column is set below or when the system is chosen
        total = len(rows)
        draws = self.rngs[0] if self.members == 1 else DrawnByMember(self, counts)
        cols = self._flat_columns()
        if self.members == 1:  # one block of rows, filled type by type (at most two)
            start = int(rows[0])
            for kind, k, area in zip(kinds, sizes, areas, strict=True):
                cols["residential"][start : start + k] = kind
                cols["floor_m2"][start : start + k] = area
                start += k
        else:
            cols["residential"][rows] = np.repeat(kinds, sizes)
            cols["floor_m2"][rows] = np.repeat(areas, sizes)
        cols["heat_kwh_per_m2"][rows] = self.standard(year)
        cols["built"][rows] = year
        cols["district_ok"][rows] = draws.random(total) < self.avail_share[DISTRICT]
        cols["retrofitted"][rows] = True  # built to the standard: not a retrofit candidate
        cols["retrofit_threshold"][rows] = 0.0
        p = demolition_probability(spec.demolition_rate_per_yr, year)
        cols["demolition_year"][rows] = next_event_years(draws, p, total, year)
        cols["next_failure_year"][rows] = year

    def account(self, y: int) -> list[dict[str, float]]:
        """Book each member's building heat by carrier; return its district heat delivered (TJ) and heating
        and other electricity (MWh)."""
        spec = self.spec
        M = self.members
        S = len(HEATING_SYSTEMS)
        w = self.weight[:, None]
        cols = self._flat_columns()
        floor = cols["floor_m2"]
        system = cols["system"]
        heat_kwh = floor * cols["heat_kwh_per_m2"]
        if M == 1:
            heat_kwh *= self.hdd_factor[0]
            cell = system
        else:
            heat_kwh *= np.repeat(self.hdd_factor, self.capacity)
            cell = self.row_members() * S + system
        by_sys = (np.bincount(cell, weights=heat_kwh, minlength=M * S).reshape(M, S) * w / 1e3).tolist()  # MWh
        floor_by_sys = np.bincount(cell, weights=floor, minlength=M * S).reshape(M, S) * w
        weights = self.weight.tolist()
        out = []
        # A dozen numbers per member: plain floats (the same arithmetic as numpy's on float64).
        for m, (model, b, eff) in enumerate(zip(self.models, by_sys, self.eff.tolist(), strict=True)):
            district_tj = b[DISTRICT] * 3.6 / 1e3
            gas_tj = b[GAS_BOILER] / eff[GAS_BOILER] * 3.6 / 1e3
            heat_elec_mwh = (
                b[ELECTRIC_BOILER] / eff[ELECTRIC_BOILER]
                + b[HEAT_PUMP] / eff[HEAT_PUMP]
                + b[SOLAR_STORAGE] * (1 - SOLAR_FRACTION) / eff[ELECTRIC_BOILER]
            )
            nonres = self.floor_m2_by_type[m][0] * weights[m]
            other_elec_mwh = nonres * spec.nonresidential_electricity_kwh_per_m2 / 1e3
            ledger = model.ledger
            ledger.add_energy(y, "buildings", "heat", district_tj)
            ledger.add_energy(y, "buildings", "natural_gas", gas_tj)
            ledger.add_energy(y, "buildings", "electricity", (heat_elec_mwh + other_elec_mwh) * 3.6 / 1e3)
            series = self.floor_series[m]
            if series is None:
                keys = [("buildings_floor_m2", s) for s in HEATING_SYSTEMS]
                series = self.floor_series[m] = ledger.series_block(ledger.stocks, keys)
            series[:, y] += floor_by_sys[m]
            out.append(
                {
                    "district_tj": district_tj,
                    "heating_electricity_mwh": heat_elec_mwh,
                    "other_electricity_mwh": other_elec_mwh,
                }
            )
        return out


Buildings.stack_class = BuildingsStack


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


@functools.cache  # every run of a scenario asks for the same few labels
def _vintage_year(label: str) -> int:
    """Representative construction year of a vintage label like ``pre2000`` or ``2010_2019``."""
    digits = [int(x) for x in label.replace("pre", "").split("_") if x.isdigit()]
    if label.startswith("pre"):
        return digits[0] - 10
    return int(np.mean(digits)) if digits else 2000
