"""The city model: one run, one seed, annual steps from the base year to the horizon.

Order within a year (decisions use last year's outcomes, then the year is accounted):
    1. large emitters decide (power units retire or retrofit, the developer invests, refineries adopt
       abatement), then households, vehicles and buildings decide in their kernels;
    2. every sector books its energy use; electricity and district-heat demand are summed;
    3. the power system is dispatched against that demand; plant fuel, heat supply, trade and the
       electricity trade adjustment are booked;
    4. policy revenues and what the indicators need are recorded (the indicators are computed for all
       years after the last one).
The base year is accounted without decisions, so it shows the calibrated inventory.

Randomness: the run's seed is expanded with :class:`numpy.random.SeedSequence` into one independent stream
per component (Mesa's own RNG, weather, refineries, households, vehicles, buildings). A component draws the
same numbers whatever the others do, which keeps scenario comparisons paired (common random numbers).
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field

import mesa
import numpy as np
import pandas as pd

from agents.buildings import Buildings
from agents.ccus import CCUSNetwork
from agents.datacentre import DataCentre
from agents.households import Households
from agents.hydrogen import HydrogenMarket, HydrogenPlant
from agents.industry import IndustryBlock
from agents.oilfield import OilfieldBlock
from agents.population import Population, PopulationStack
from agents.power import DispatchRequest, PowerPlant, RenewableDeveloper, dispatch_many
from agents.refinery import Refinery
from agents.sinks import CarbonSink
from agents.vehicles import Vehicles
from agents.waste import WasteOperator
from policies import PolicySet
from sim.accounting import Ledger
from sim.constants import (
    EMISSION_FACTOR_T_PER_TJ,
    FOSSIL_FUELS,
    FUEL_INDEX,
    FUELS,
    NORTHWEST_GRID_FACTOR_2023_T_PER_MWH,
    SCOPES,
    SECTORS,
)
from sim.peak import find_peak
from sim.registry import REGISTRY
from sim.scenario import Scenario

STREAMS = ("mesa", "weather", "refineries", "households", "vehicles", "buildings")
RETAIL_PRICE_CNY_PER_MJ = {
    # 2024 pump prices (assumption: Xinjiang averages): gasoline 8.0 CNY/L at 32.2 MJ/L, diesel 7.5 CNY/L at
    # 35.9 MJ/L, CNG 4.5 CNY/m3 at 36 MJ/m3, hydrogen 35 CNY/kg at 120 MJ/kg.
    "gasoline": 8.0 / 32.2,
    "diesel": 7.5 / 35.9,
    "natural_gas": 4.5 / 36.0,
    "hydrogen": 35.0 / 120.0,
}
RESIDENTIAL_GAS_MARKUP = 1.3
"""Residential gas tariff over the industrial gas price (assumption: ~2.3 vs 1.8 CNY/m3)."""
XINJIANG_NON_FOSSIL_GENERATION_SHARE = 90.5 / 502.6
"""Wind+solar share of Xinjiang generation 2023 (People's Daily; calibration-facts.md), for imports."""
_FOSSIL_FUEL_INDEX = np.array([FUEL_INDEX[f] for f in FOSSIL_FUELS])
_ENERGY_FUEL_INDEX = np.array([FUEL_INDEX[f] for f in FUELS if f != "process"])
_MESA_REGISTER_AGENT = mesa.Model.register_agent.__wrapped__
"""Mesa's ``Model.register_agent`` without its ``emit`` decorator (see :meth:`CityModel.register_agent`)."""
_MESA_DEREGISTER_AGENT = mesa.Model.deregister_agent.__wrapped__
"""Mesa's ``Model.deregister_agent`` without its ``emit`` decorator."""


def seed_streams(seed: int | np.random.SeedSequence) -> dict[str, np.random.Generator]:
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, ss.spawn(len(STREAMS)), strict=True)}


def shuffle_like_random(rnd: random.Random, items: list) -> None:
    """Shuffle ``items`` in place exactly as ``rnd.shuffle(items)`` does: the same order, the same numbers taken
    from ``rnd`` (``tests/test_model.py`` checks both).

    Why: the power units are shuffled every year of every member (Mesa's ``shuffle_do`` order), and
    ``random.shuffle`` spends half its time in one method call per item (``_randbelow``). This is CPython's
    algorithm (Fisher-Yates from the end, each index by rejection on ``getrandbits`` of the bound's bit
    length) with that call inlined: 4.5 us instead of 10 us for 60 units.
    """
    getrandbits = rnd.getrandbits
    for i in range(len(items) - 1, 0, -1):
        n = i + 1
        k = n.bit_length()
        j = getrandbits(k)
        while j >= n:
            j = getrandbits(k)
        items[i], items[j] = items[j], items[i]


_LEVERS = frozenset(name for name, p in REGISTRY.items() if p.kind == "lever")
"""The registry's levers: what :meth:`CityModel.reuse_for` may change in a built run."""


def _same_answer(a: object, b: object) -> bool:
    """Whether two policy answers are the same values: arrays element by element, floats exactly and with
    their sign (0.0 and -0.0 compare equal but may not compute alike), NaN never."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a), np.asarray(b)
        return x.dtype == y.dtype and bool(np.array_equal(x, y)) and bool(np.array_equal(np.signbit(x), np.signbit(y)))
    if type(a) is not type(b) or a != b:
        return False
    return not isinstance(a, float) or math.copysign(1.0, a) == math.copysign(1.0, b)  # type: ignore[arg-type]


class _PolicyQueries:
    """A run's policy set while its city is built, keeping each question asked of it and the answer.

    Why: :meth:`CityModel.reuse_for` asks another lever setting's policy set the same questions; where every
    answer is the same, building the city with that setting gives the same city.
    """

    def __init__(self, policies: PolicySet) -> None:
        self._policies = policies
        self.asked: list[tuple[str, tuple[tuple, dict] | None, object]] = []

    def __getattr__(self, name: str) -> object:
        value = getattr(self._policies, name)
        if not callable(value):
            self.asked.append((name, None, value))
            return value

        def ask(*args: object, **kwargs: object) -> object:
            answer = value(*args, **kwargs)
            self.asked.append((name, (args, kwargs), answer))
            return answer

        return ask


class CityModel(mesa.Model):
    """Karamay (or any city described by a scenario) as a Mesa model.

    Args:
        scenario: validated scenario.
        seed: integer seed or SeedSequence (ensembles pass children of one root SeedSequence).
        overrides: registry parameter values for this run (sampled uncertainties, swept levers).
        resolution: agents per real household/vehicle/building; defaults to the scenario's ``resolution``.
        stacked: False leaves the populations unstacked for a :class:`Lockstep` of several members, which
            stacks all members' populations at once (:func:`run_members` does); until then the model's
            populations are the ones it built, not views of a stack.
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int | np.random.SeedSequence = 0,
        overrides: dict[str, float] | None = None,
        resolution: float | None = None,
        stacked: bool = True,
    ):
        streams = seed_streams(seed)
        super().__init__(rng=streams["mesa"])
        self.streams = streams
        self.inputs = scenario
        self.params = scenario.parameter_values(overrides)
        scenario_values = scenario.parameter_values()
        uncertain = [name for name, p in REGISTRY.items() if p.kind == "uncertainty" and name in self.params]
        self._observed_params = {name: scenario_values[name] for name in uncertain}
        """The scenario's values of the uncertain parameters: the base year's accounting uses them (see
        :meth:`_base_year_parameters`)."""
        if resolution is not None:
            self.params["resolution"] = float(resolution)
        self.resolution = self.params["resolution"]
        self.years = np.arange(scenario.base_year, scenario.horizon + 1)
        self.year = scenario.base_year
        self.ledger = Ledger(self.years)
        self._activity_cache: dict[int, float] = {}
        policies = PolicySet(self, self.params)
        # Building the city sees the policies through a log of what it asks (see reuse_for).
        self.policies = _PolicyQueries(policies)  # type: ignore[assignment]
        self.last_curtailment_share = 0.0
        self.last_curtailment_mwh = 0.0
        self._indicator_inputs = {
            name: np.zeros(len(self.years))
            for name in ("green_travel_share", "curtailment_share", "grid_factor_t_per_mwh")
        }
        """Per-year values the indicators need that the ledger does not keep (see :meth:`_indicators`)."""
        self.appliance_standard = 1.0
        self.running = True

        self.power_units: list[PowerPlant] = []
        """Every unit of the run, retired ones included (for the results)."""
        self.fleet: dict[str, list[PowerPlant]] = {}
        """Active units by technology, in order of construction (kept by :meth:`add_power_unit` and
        :meth:`agents.power.PowerPlant._retire`)."""
        self._cohorts: dict[tuple, PowerPlant] = {}
        self._thermal_units: list[PowerPlant] = []
        """Fuel-burning units, retired ones included, in order of construction (unique id)."""
        for u in scenario.power.units:
            self.add_power_unit(
                u.name,
                u.technology,
                u.capacity_mw,
                u.commissioned,
                u.lifetime_yr,
                heat_rate_gj_per_mwh=u.heat_rate_gj_per_mwh,
                min_load_share=u.min_load_share,
                heat_capacity_mw=u.heat_capacity_mw,
                storage_hours=u.storage_hours,
                fixed_om_cny_per_kw_yr=u.fixed_om_cny_per_kw_yr,
            )
        self.developer = RenewableDeveloper(self)
        self.refineries = [Refinery(self, r, streams["refineries"]) for r in scenario.refineries]
        self.industry = IndustryBlock(self, scenario.industry) if scenario.industry else None
        city = scenario.city
        self.households = (
            Households(
                self,
                scenario.households,
                city.population / city.persons_per_household,
                self.resolution,
                streams["households"],
            )
            if scenario.households
            else None
        )
        self.vehicles = (
            Vehicles(
                self,
                scenario.vehicles,
                self.resolution,
                streams["vehicles"],
                self.households.n if self.households else 0,
                self.households.live("neighbourhood") if self.households else None,
            )
            if scenario.vehicles
            else None
        )
        if self.households is not None and self.vehicles is not None:
            owner = self.vehicles.live("owner")
            self.households.live("owns_car")[owner[owner >= 0]] = True
        self.buildings = (
            Buildings(self, scenario.buildings, self.resolution, streams["buildings"]) if scenario.buildings else None
        )
        self._weather_rng = streams["weather"]
        self.weather_noise = {"hdd": 0.0, "wind": np.zeros((4, 1))}
        # The rest of the city: oilfield, CO2 network, hydrogen, data centres, waste, sinks.
        self.oilfield = [OilfieldBlock(self, b, streams["refineries"]) for b in scenario.oilfield]
        self.ccus_network = CCUSNetwork(self, scenario.ccus) if scenario.ccus is not None else None
        self.hydrogen_plants = [
            HydrogenPlant(
                self,
                h.name,
                h.capacity_kt_h2,
                h.commissioned,
                h.electricity_mwh_per_t_h2,
                h.load_factor,
                h.dedicated_re,
            )
            for h in scenario.hydrogen_plants
        ]
        self.hydrogen_market = HydrogenMarket(self)
        self.data_centres = [DataCentre(self, d) for d in scenario.data_centres]
        self.waste = WasteOperator(self, scenario.waste) if scenario.waste is not None else None
        self.sinks = CarbonSink(self, scenario.sinks) if scenario.sinks is not None else None
        self._step_index = 0
        self._build_queries = self.policies.asked  # type: ignore[attr-defined]
        """What building the city asked of its policies, with the answers (see :meth:`reuse_for`)."""
        self.policies = policies
        self.population_stacks: dict[str, PopulationStack] = {}
        """Stacks holding this run's populations (a stack of one until :class:`Lockstep` joins members)."""
        if stacked:
            for name, pop in self._unstacked_populations().items():
                stack = type(pop).stack_class([pop])
                self.population_stacks[name] = stack
                setattr(self, name, stack.views[0])

    def reuse_for(self, scenario: Scenario, overrides: dict[str, float] | None = None) -> bool:
        """Give this built run, before its first step, another scenario's levers; False if the city it built
        is not the one ``scenario`` builds, and the run is then left as it was.

        Why: building a member is ~10% of its CPU, and a slider move changes levers only, so the app's workers
        build the next move's members while the user looks at the last one (``ui.runner``). Building a city
        reads the levers only through its policy set (``tests/test_build_ahead.py`` checks that no lever is read
        otherwise), and only for base-year prices and subsidies; this run kept those questions and their
        answers, and ``scenario``'s policies must answer all of them alike. Everything else must be equal:
        the parameters that are not levers, and the scenario outside its parameters and policies (the caller
        keys built runs by :meth:`sim.scenario.Scenario.city_digest`; this checks it again).

        Args:
            scenario: the scenario to run; same city, any levers and phase-in.
            overrides: this run's registry overrides (its sampled uncertainties), as given when it was built.
        """
        if self._step_index or scenario.city_digest() != self.inputs.city_digest():
            return False
        params = scenario.parameter_values(overrides)
        params["resolution"] = self.params["resolution"]
        if any(params[k] != v for k, v in self.params.items() if k not in _LEVERS):
            return False
        if any(name.startswith(("record", "apply", "end_of_year", "_")) for name, _, _ in self._build_queries):
            return False  # building booked or changed something: not a question that can be asked again
        saved = self.inputs, self.params, self.policies
        self.inputs, self.params = scenario, params
        self.policies = PolicySet(self, params)
        for name, call, answer in self._build_queries:
            value = getattr(self.policies, name)
            if call is not None:
                value = value(*call[0], **call[1])
            if not _same_answer(value, answer):
                self.inputs, self.params, self.policies = saved
                return False
        return True

    def _unstacked_populations(self) -> dict[str, Population]:
        """This run's populations that belong in a stack and are not in one yet, by name."""
        out = {}
        for name in POPULATIONS:
            pop = getattr(self, name)
            if pop is not None and name not in self.population_stacks and hasattr(type(pop), "stack_class"):
                out[name] = pop
        return out

    # ------------------------------------------------------------------ drivers and prices
    def population(self, year: int) -> float:
        return self.inputs.city.population * (1 + self.params["population_growth_pct_per_yr"] / 100) ** (
            year - self.inputs.base_year
        )

    def activity_index(self, year: int) -> float:
        """GDP index (base year = 1): growth as given to 2030, then slowing by the decline per decade."""
        cached = self._activity_cache.get(year)
        if cached is not None:
            return cached
        self._activity_cache[year] = self._activity_index(year)
        return self._activity_cache[year]

    def _activity_index(self, year: int) -> float:
        """The product of (1 + growth) over the years since the base year, continued from the latest year
        already computed (the years are asked for in order, so each year costs one multiplication)."""
        g0 = self.params["gdp_growth_pct_per_yr"] / 100
        dec = self.params["gdp_growth_decline_pct_pts_per_decade"] / 100 / 10
        start, idx = self.inputs.base_year, 1.0
        previous = self._activity_cache.get(year - 1)
        if previous is not None and year - 1 > start:
            start, idx = year - 1, previous
        for yr in range(start + 1, year + 1):
            g = g0 if yr <= 2030 else max(g0 - dec * (yr - 2030), 0.005)
            idx *= 1 + g
        return idx

    def residential_floor_per_person(self, year: int) -> float:
        b = self.inputs.buildings
        t = year - self.inputs.base_year
        return b.residential_floor_m2_per_person_saturation - (
            b.residential_floor_m2_per_person_saturation - b.residential_floor_m2_per_person
        ) * np.exp(-0.04 * t)

    def segment_target_stocks(self, year: int) -> dict[str, float]:
        """Vehicles each segment of the scenario is heading for in ``year``: private cars approach saturation
        ownership per person, taxis and buses follow population, trucks the square root of activity."""
        t = year - self.inputs.base_year
        pop_ratio = self.population(year) / self.inputs.city.population
        c0 = self.inputs.city.cars_per_1000
        sat = max(self.params["car_ownership_saturation_per_1000"], c0)
        per_1000 = sat - (sat - c0) * np.exp(-0.06 * t)
        activity = self.activity_index(year) ** 0.5
        out = {}
        for name, s in self.inputs.vehicles.segments.items():
            if name == "private_car":
                out[name] = s.stock * pop_ratio * per_1000 / max(c0, 1e-9)
            elif name in ("taxi", "bus"):
                out[name] = s.stock * pop_ratio
            else:
                out[name] = s.stock * activity
        return out

    def fuel_price_cny_per_gj(self, fuel: str, year: int) -> float:
        if fuel == "coal":
            return self.params["coal_price_cny_per_gj"]
        if fuel == "natural_gas":
            return self.params["gas_price_cny_per_gj"]
        raise KeyError(fuel)

    def retail_gas_price_cny_per_gj(self, year: int, sector: str) -> float:
        base = self.params["gas_price_cny_per_gj"] * RESIDENTIAL_GAS_MARKUP
        price = self.policies.carbon_price(sector, year)
        if price == 0.0:
            # Nothing to pass on (base + 0.0 is base), and the pass-through share is not asked, so a city built
            # before carbon pricing does not depend on it (see reuse_for).
            return base
        return base + price * 56.1 / 1e3 * self.policies.pass_through()

    def transport_fuel_price_cny_per_mj(self, fuel: str, year: int) -> float:
        base = RETAIL_PRICE_CNY_PER_MJ[fuel]
        if fuel in ("gasoline", "diesel"):
            base *= self.params["oil_price_index"]
        elif fuel == "natural_gas":
            base *= self.params["gas_price_cny_per_gj"] / 50.0
        price = self.policies.carbon_price("transport", year)
        if price == 0.0:
            return base  # as in retail_gas_price_cny_per_gj
        return base + self.policies.pass_through() * (price * EMISSION_FACTOR_T_PER_TJ.get(fuel, 0.0) / 1e6)

    def households_spec_power_price(self) -> float:
        return self.inputs.households.retail_power_price_cny_per_kwh if self.inputs.households else 0.55

    def regional_price_cny_per_mwh(self, year: int) -> float:
        """Price of trade with the regional grid: base price plus the carbon cost its marginal coal plants
        pass on (they face the same national carbon price)."""
        return self.params["regional_power_price_cny_per_mwh"] + self.params[
            "regional_carbon_pass_through_t_per_mwh"
        ] * self.policies.carbon_price("power_heat", year)

    def grid_factor_t_per_mwh(self, year: int) -> float:
        d = self.params["northwest_grid_factor_decline_pct_per_yr"] / 100
        return NORTHWEST_GRID_FACTOR_2023_T_PER_MWH * (1 - d) ** (year - 2023)

    # ------------------------------------------------------------------ structure
    def register_agent(self, agent: mesa.Agent) -> None:
        """Mesa's registration; its ``agents`` signal is sent only when something can receive it.

        Why: a run creates ~135 agents (most of them wind, solar and battery cohorts) and retires ~55, and
        Mesa's ``emit`` wrapper makes every registration a further call to ``notify``, which finds no
        subscriber and returns. With no subscriber and no batch open, ``notify`` does nothing, so the
        registration itself (Mesa's own method, undecorated) is all there is to do; otherwise the decorated
        method runs and the signal goes out as usual (``tests/test_model.py`` checks both).
        """
        if self.subscribers or self._batch_context is not None:
            super().register_agent(agent)
        else:
            _MESA_REGISTER_AGENT(self, agent)

    def deregister_agent(self, agent: mesa.Agent) -> None:
        """Mesa's deregistration, with its signal sent as :meth:`register_agent` sends its own."""
        if self.subscribers or self._batch_context is not None:
            super().deregister_agent(agent)
        else:
            _MESA_DEREGISTER_AGENT(self, agent)

    def add_power_unit(
        self, name: str, technology: str, capacity_mw: float, commissioned: int, lifetime_yr: int, **kw
    ) -> PowerPlant:
        unit = PowerPlant(self, name, technology, capacity_mw, commissioned, lifetime_yr, **kw)
        self.power_units.append(unit)
        self.fleet.setdefault(technology, []).append(unit)
        if unit.fuel is not None:
            self._thermal_units.append(unit)
        return unit

    def build_cohort(
        self, technology: str, capacity_mw: float, year: int, lifetime_yr: int, storage_hours: float = 0.0
    ) -> PowerPlant:
        """Add new wind, solar or battery capacity to this year's cohort unit of that technology.

        Why: the developer builds wind, solar and paired storage every year, and ageing farms are repowered
        or replaced, so one unit per project would grow the fleet from 12 to ~240 agents, each stepped and
        dispatched every year. These units decide only by age (retire at end of life, then repower or
        replace the same capacity) and are dispatched as one pool per technology, so capacity of the same
        technology, year, lifetime and storage hours behaves exactly like one unit of the summed capacity:
        it retires, is repowered and is replaced in the same year with the same capacity.
        """
        key = (technology, year, lifetime_yr, storage_hours)
        unit = self._cohorts.get(key)
        if unit is not None and unit.active:
            unit.capacity_mw += capacity_mw
            return unit
        name = f"{technology}_{year}" if technology != "battery" else f"battery_{storage_hours:g}h_{year}"
        unit = self.add_power_unit(name, technology, capacity_mw, year, lifetime_yr, storage_hours=storage_hours)
        self._cohorts[key] = unit
        return unit

    # ------------------------------------------------------------------ the year
    def step(self) -> None:
        if self._lockstep is None:
            self._lockstep = Lockstep([self])
        elif len(self._lockstep.models) > 1:
            raise RuntimeError("this run is stepped with the other members of its batch: step its Lockstep")
        self._lockstep.step()

    _lockstep: Lockstep | None = None
    _capture_support: tuple[int, float] | None = None
    """(year, mean carbon price plus CCUS support, CNY/t, over the payback years of a capture train decided that
    year): see :meth:`PowerPlant._consider_ccs`."""

    def _decide_before_populations(self) -> None:
        year = self.year
        # Weather comes from its own stream, so it is the same at any resolution and in any scenario.
        self.weather_noise = {
            "hdd": self._weather_rng.standard_normal(),
            "wind": self._weather_rng.standard_normal((4, 1)),
        }
        gain = (self.inputs.households.appliance_efficiency_gain_pct_per_yr / 100) if self.inputs.households else 0
        self.appliance_standard = (1 - gain) ** (year - self.inputs.base_year) * self.policies.efficiency_extra_factor(
            year
        )
        self._step_power_units(year)
        self.developer.step()
        for r in self.refineries:
            r.step()

    def _step_power_units(self, year: int) -> None:
        """The power units decide in random order (Mesa's ``shuffle_do("step")``, same shuffle).

        Why not ``shuffle_do`` itself: wind, solar and battery cohorts, most of the ~50 units by mid-century,
        decide only at the end of their life, so the loop calls only the units that have something to decide
        this year. The shuffle is Mesa's (the model's ``random`` over the agent set in its order), so the
        fuel-burning units decide in the order ``shuffle_do`` would give them; no unit's step removes another
        unit, so every shuffled unit is still in the set when its turn comes.
        """
        # Capture support is weighed again each year: a subsidy's rate depends on what it has paid so far.
        self._capture_support = None
        units = list(self.agents_by_type[PowerPlant])
        shuffle_like_random(self.random, units)
        for u in units:
            if u.fuel is None and year - u.commissioned < u.lifetime_yr:
                continue  # a wind, solar or battery cohort before the end of its life: nothing to decide
            u.step()

    def _step_population(self, name: str) -> None:
        """A population this run steps on its own (one without a stack)."""
        pop = getattr(self, name)
        if name == "households":
            pop.grow_to(self.population(self.year) / self.inputs.city.persons_per_household, pop.rng)
        pop.step(self.year)

    def _decide_after_populations(self) -> None:
        year = self.year
        for block in self.oilfield:
            block.step()
        for dc in self.data_centres:
            dc.step()
        if self.waste is not None:
            self.waste.step()
        if self.sinks is not None:
            self.sinks.step()
        self._build_hydrogen_plants(year)

    def _build_hydrogen_plants(self, year: int) -> None:
        """Add dedicated-renewable electrolysis to follow the green-hydrogen capacity lever's path."""
        target_kt = self.policies.value("green_h2_plant_kt_2030", year)
        base_kt = sum(h.capacity_kt_h2 for h in self.inputs.hydrogen_plants)
        added = sum(p.capacity_kt for p in self.hydrogen_plants) - base_kt
        if target_kt - added > 1e-9:
            ref = self.inputs.hydrogen_plants[0] if self.inputs.hydrogen_plants else None
            self.hydrogen_plants.append(
                HydrogenPlant(
                    self,
                    f"green_h2_{year}",
                    target_kt - added,
                    year + 1,
                    ref.electricity_mwh_per_t_h2 if ref else 55.0,
                    ref.load_factor if ref else 0.45,
                    True,
                )
            )

    @contextlib.contextmanager
    def _base_year_parameters(self) -> Iterator[None]:
        """Let the uncertain parameters take the scenario's values while the base year is accounted.

        The base year is an observed year: its inventory (what generated, at what cost, what was traded) is
        known, so every ensemble member must reproduce it whatever values it samples; the sampled values (the
        uncertainty about prices, resources and growth over the horizon) act from the first projected year.
        Without this, sampled capacity factors and power and fuel prices re-dispatched the base year: the
        wind capacity factor alone spread the baseline's base-year inventory over 20.5-22.1 Mt (P5-P95), and
        a Sobol design with a low regional power price and a cheap coal price gave 16.6 Mt. The values are
        swapped in place because the policies and agents hold this same dictionary.
        """
        sampled = {name: self.params[name] for name in self._observed_params}
        self.params.update(self._observed_params)
        try:
            yield
        finally:
            self.params.update(sampled)

    def data_centre_green_gap_mw(self, year: int) -> float:
        """Wind+solar MW still missing to match the data-centre green-power share of last year's use."""
        share = self.policies.value("data_centre_green_power_share", year)
        if share <= 0 or not self.data_centres:
            return 0.0
        mwh = sum(dc.electricity_mwh() for dc in self.data_centres) * share
        cf = (self.params["wind_capacity_factor"] + self.params["solar_capacity_factor"]) / 2
        return max(mwh / (cf * 8760.0) - self.developer.built_for_data_centres_mw, 0.0)

    def _begin_accounts(self) -> None:
        if self.ccus_network is not None:
            self.ccus_network.begin_year(self.year)
        self.hydrogen_market.begin_year(self.year, self.hydrogen_plants)

    def _account(self, y: int, populations: dict[str, object]) -> Generator[DispatchRequest, dict, None]:
        """Account the year; ``populations`` holds the populations' own account results (electricity use and
        so on), which their stacks book for all members at once.

        A generator: it yields its power system's :class:`~agents.power.DispatchRequest` and takes the
        dispatch result back (``send``), so that :class:`Lockstep` dispatches all members in one
        :func:`~agents.power.dispatch_many` call.
        """
        year = self.year
        ledger = self.ledger
        elec_mwh = 0.0
        heating_mwh = 0.0
        district_tj = 0.0
        distributed_mw = {"rooftop_solar": 0.0, "oilfield_solar": 0.0}
        oilfield_mwh = [0.0, 0.0]  # the oilfield's use, and the part of it that can follow its own PV
        if self.households is not None:
            h = populations["households"]
            elec_mwh += h["electricity_mwh"]
            distributed_mw["rooftop_solar"] = h["rooftop_mw"]
        if self.vehicles is not None:
            elec_mwh += populations["vehicles"]
        if self.buildings is not None:
            b = populations["buildings"]
            elec_mwh += b["other_electricity_mwh"]
            heating_mwh += b["heating_electricity_mwh"]
            district_tj += b["district_tj"]
        for r in self.refineries:
            elec_mwh += r.account(y)
        if self.industry is not None:
            elec_mwh += self.industry.account(y)
        for block in self.oilfield:
            o = block.account(y)
            elec_mwh += o["electricity_mwh"]
            distributed_mw["oilfield_solar"] += o["captive_pv_mw"]
            oilfield_mwh[0] += o["electricity_mwh"]
            oilfield_mwh[1] += o["pv_following_mwh"]
        for dc in self.data_centres:
            elec_mwh += dc.account(y)
        elec_mwh += self.hydrogen_market.settle(y, self.hydrogen_plants)
        waste_to_energy_mwh = self.waste.account(y) if self.waste is not None else 0.0
        elec_mwh += self.inputs.power.other_load_mw * 8760.0
        ledger.add_energy(y, "industry", "electricity", self.inputs.power.other_load_mw * 8760.0 * 3.6 / 1e3)

        spec = self.inputs.power
        fleet = self.fleet
        # Fuel-burning units in order of construction (the order they ask the CO2 network for capacity).
        thermal = [u for u in self._thermal_units if u.retired_year is None]
        capacity_mw = {tech: sum([u.capacity_mw for u in units]) for tech, units in fleet.items() if units}
        batteries = fleet.get("battery", ())
        carbon = self.policies.carbon_price("power_heat", year)
        regional_price = self.regional_price_cny_per_mwh(year)
        capture_net = 0.0
        cc = self.inputs.ccus
        if cc is not None:
            # Dispatch sees the running cost of capture only (capital is sunk once built), plus transport and
            # storage, less what the oilfield pays for CO2 and any CCUS support per tonne.
            capture_net = (
                cc.transport_storage_cny_per_t
                - cc.eor_co2_price_cny_per_t
                - self.policies.abatement_support_cny_per_t("ccus_power", year)
            )
        mc = {}
        for u in thermal:
            opex = u.capture_cost_cny_per_t(year) * cc.capture_opex_share if u.capture_rate > 0 else 0.0
            net = capture_net + opex
            mc[u.unique_id] = u.marginal_cost_cny_per_mwh(self.fuel_price_cny_per_gj(u.fuel, year), carbon, net)
        loss = spec.heat_network_loss_share
        # Wind-year variation (assumption: 8% sd by season); the base year is the observed year.
        weather = 1.0 + 0.08 * self.weather_noise["wind"]
        # Waste-to-energy runs flat out (must-take): it serves load before dispatch.
        res = yield DispatchRequest(
            thermal,
            capacity_mw.get("wind", 0.0),
            capacity_mw.get("solar", 0.0),
            capacity_mw.get("battery", 0.0),
            sum([u.capacity_mw * u.storage_hours for u in batteries]),
            max(elec_mwh - waste_to_energy_mwh, 0.0),
            heating_mwh,
            district_tj / (1 - loss),
            self.params["wind_capacity_factor"],
            self.params["solar_capacity_factor"],
            distributed_mw,
            mc,
            regional_price,
            self.policies.export_limit_mw(
                spec.export_limit_mw + self.params["export_tie_growth_mw_per_yr"] * (year - self.inputs.base_year)
            ),
            spec.import_limit_mw,
            spec.grid_loss_share,
            spec.chp_fuel_gj_per_gj_heat,
            spec.heat_only_boiler_efficiency,
            np.maximum(weather, 0.5),
            {"oilfield_solar": (oilfield_mwh[0], oilfield_mwh[1])},  # PV for oil serves the oilfield first
        )
        generation_mwh = {"wind": res["wind_mwh"], "solar": res["solar_mwh"], "battery": 0.0}
        for u, unit_mwh, fuel_tj in zip(thermal, res["unit_generation_mwh"], res["unit_fuel_tj"], strict=True):
            ledger.add_energy(y, "power_heat", u.fuel, fuel_tj)
            u.last_emissions_t = fuel_tj * EMISSION_FACTOR_T_PER_TJ[u.fuel]
            if u.capture_rate > 0:
                want = u.last_emissions_t * u.capture_rate
                got = self.ccus_network.request(want) if self.ccus_network is not None else want
                ledger.add_captured(y, "power_heat", got)
                self.policies.record_capture(got, year)
                self.policies.record_private_cost("power_ccs", got * u.capture_cost_cny_per_t(year), year)
            generation_mwh[u.technology] = generation_mwh.get(u.technology, 0.0) + unit_mwh
            margin = unit_mwh * (regional_price - mc[u.unique_id]) - (u.fixed_om_cny_per_kw_yr * 1e3 * u.capacity_mw)
            u.last_generation_mwh = unit_mwh
            u.last_margin_cny = margin
            u.loss_years = u.loss_years + 1 if margin < 0 else 0
        generation = ledger.series_cells("generation_by_tech_mwh")
        for tech in capacity_mw:
            generation[tech][y] += generation_mwh[tech]
        for kind, mwh in res["distributed_generation_mwh"].items():
            generation[kind][y] += mwh
        generation["waste_to_energy"][y] += waste_to_energy_mwh
        ledger.add_energy(y, "power_heat", "coal", res["boiler_fuel_tj"])
        for k in ("import_mwh", "export_mwh", "storage_loss_mwh", "grid_loss_mwh", "curtailment_mwh"):
            ledger.electricity[k][y] = res[k]
        ledger.electricity["demand_mwh"][y] = res["demand_mwh"] + waste_to_energy_mwh
        ledger.electricity["generation_mwh"][y] = res["generation_mwh"] + waste_to_energy_mwh
        ledger.heat["chp_heat_tj"][y] = res["chp_heat_tj"]
        ledger.heat["boiler_heat_tj"][y] = res["boiler_heat_tj"]
        ledger.heat["network_loss_tj"][y] = (res["chp_heat_tj"] + res["boiler_heat_tj"]) * loss
        ledger.heat["delivered_tj"][y] = district_tj
        grid_factor = self.grid_factor_t_per_mwh(year)
        ledger.indirect_co2_t[y] = (res["import_mwh"] - res["export_mwh"]) * grid_factor
        self.last_curtailment_mwh = res["curtailment_mwh"]
        self.last_curtailment_share = res["curtailment_mwh"] / max(res["re_available_mwh"], 1.0)
        self.developer.observe_dispatch(res)
        if self.ccus_network is not None:
            self.ccus_network.settle(y)
        if self.sinks is not None:
            self.sinks.account(y)

        capacity = ledger.series_cells("capacity_mw")
        for tech, mw in capacity_mw.items():
            capacity[tech][y] += mw
        for kind, mw in distributed_mw.items():
            capacity[kind][y] += mw
        self._record_indicator_inputs(y, grid_factor)
        self.policies.end_of_year(y)

    def _record_indicator_inputs(self, y: int, grid_factor_t_per_mwh: float) -> None:
        """Keep the year's values that :meth:`_indicators` needs and the ledger does not hold (the year's grid
        factor is the one :meth:`_account` just used)."""
        year_values = self._indicator_inputs
        year_values["green_travel_share"][y] = (
            self.households.green_travel_share() if self.households is not None else 0.0
        )
        year_values["curtailment_share"][y] = self.last_curtailment_share
        year_values["grid_factor_t_per_mwh"][y] = grid_factor_t_per_mwh

    def _indicators(self) -> None:
        """Pilot-plan indicators (DESIGN.md section 7), with the definitions stated in docs/calibration.md.

        Computed for all years at once after the last year is accounted: no decision reads them, and over
        the years' arrays they cost a few array operations instead of a dozen per year. Each year's value
        is the one the year's own ledger gives (a per-year sum over the same entries in the same order).
        """
        ledger = self.ledger
        ind = ledger.indicators
        n_years = len(self.years)

        def total(table: dict[str, np.ndarray], kinds: tuple[str, ...]) -> np.ndarray:
            out = np.zeros(n_years)
            for k in kinds:
                if k in table:
                    out = out + table[k]
            return out

        renewables = ("wind", "solar", "rooftop_solar", "oilfield_solar")
        non_fossil_cap = total(ledger.capacity_mw, renewables)
        fossil_cap = total(ledger.capacity_mw, ("coal", "coal_chp", "gas"))
        ind["non_fossil_capacity_share"] = non_fossil_cap / np.maximum(non_fossil_cap + fossil_cap, 1e-9)
        re_mwh = total(ledger.generation_by_tech_mwh, renewables)
        energy = ledger.energy_tj
        fossil_tj = energy[:, :, _FOSSIL_FUEL_INDEX].reshape(n_years, -1).sum(axis=1)
        net_import = np.maximum(ledger.electricity["import_mwh"] - ledger.electricity["export_mwh"], 0.0)
        non_fossil_tj = (re_mwh + net_import * XINJIANG_NON_FOSSIL_GENERATION_SHARE) * 3.6 / 1e3
        total_tj = fossil_tj + (re_mwh + net_import) * 3.6 / 1e3
        ind["non_fossil_energy_share"] = non_fossil_tj / np.maximum(total_tj, 1e-9)
        final = energy[:, 1:, :]  # end-use sectors
        final_total = final[:, :, _ENERGY_FUEL_INDEX].reshape(n_years, -1).sum(axis=1)
        final_electricity = np.ascontiguousarray(final[:, :, FUEL_INDEX["electricity"]]).sum(axis=1)
        ind["electricity_share_of_final_energy"] = final_electricity / np.maximum(final_total, 1e-9)
        year_values = self._indicator_inputs
        if self.households is not None:
            ind["green_travel_share"] = year_values["green_travel_share"]
        ind["curtailment_share"] = year_values["curtailment_share"]
        ind["grid_factor_t_per_mwh"] = year_values["grid_factor_t_per_mwh"]

    def run(self) -> RunResult:
        t0 = time.perf_counter()
        while self.running:
            self.step()
        self.ledger.check_balances()
        return RunResult.from_model(self, time.perf_counter() - t0)


POPULATIONS = ("households", "vehicles", "buildings")
"""The model's populations, in the order a year steps them."""

LOCKSTEP_MAX_RESOLUTION = 0.12
"""Finest resolution (agents per real unit) at which a task steps its members in lockstep."""
LOCKSTEP_MEMBERS = 16
"""Members stepped together at coarse resolution (at most 0.03); half as many up to
:data:`LOCKSTEP_MAX_RESOLUTION`."""


class RunCancelledError(Exception):
    """A lockstep stopped before its horizon because its caller no longer wanted it (:meth:`Lockstep.run`)."""


def lockstep_members(resolution: float) -> int:
    """How many members a task steps together (:class:`sim.model.Lockstep`) at ``resolution``.

    Measured on the pilot (2 cores, CPU time per member, 27 Nov 2026; a single run of the code before the
    lockstep took 42-44 ms at 0.005 and 89-91 ms at 0.1): at resolution 0.005 a member costs 52-58 ms alone,
    29 ms with 4 others, 24 ms with 9 and 22-24 ms with 15-19; at 0.05, 85 ms alone, 63 ms with 3 others and
    55 ms with 7; at 0.1, 113 ms alone, 87 ms with 3 others and 84 ms with 7; at 0.2 there is no gain (147
    ms alone or with 1-7 others), since the populations' arithmetic, not the number of calls, is then the
    cost, and more members' data no longer share the caches.
    """
    if resolution > LOCKSTEP_MAX_RESOLUTION:
        return 1
    return LOCKSTEP_MEMBERS if resolution <= 0.03 else max(LOCKSTEP_MEMBERS // 2, 1)


class Lockstep:
    """Several runs (members) of one scenario stepped year by year together.

    Why: the populations' kernels and the dispatch cost per call, not per agent or hour, at coarse
    resolution; joined into one stack per population type (:class:`~agents.population.PopulationStack`), a
    call decides for all members, and one :func:`~agents.power.dispatch_many` dispatches all members' power
    systems. Every other part of a member steps on its own, in the order of a single run, and a member's
    results are its single run's: its components keep their own random streams and state, and the stacks decide for each
    member with its own values (``tests/test_lockstep.py`` checks the equality).

    Args:
        models: freshly built runs, not stepped yet, of one scenario or of scenarios with the same years and
            population sections (they may differ in policies, power and the rest).
    """

    def __init__(self, models: list[CityModel]) -> None:
        if not models:
            raise ValueError("a lockstep needs at least one run")
        first = models[0]
        if any(not _steppable_together(m.inputs, first.inputs) for m in models):
            raise ValueError(
                "the runs of a lockstep must share one scenario, or differ only outside the populations and the"
                " years (policies, power, ...)"
            )
        if any(m._step_index or m._lockstep is not None for m in models):
            raise ValueError("the runs of a lockstep must not have been stepped")
        self.models = models
        self.stacks: dict[str, PopulationStack] = {}
        unstacked = [m._unstacked_populations() for m in models]
        for name in POPULATIONS:
            if name in first.population_stacks:
                stack_class = type(first.population_stacks[name])
            elif name in unstacked[0]:
                stack_class = type(unstacked[0][name]).stack_class
            else:
                continue
            if all(name in u for u in unstacked):
                # Members built unstacked (run_members): one stack of all of them, laid out once, instead of
                # a stack of one per member that the join then copies again.
                joined = stack_class([u[name] for u in unstacked])
            elif len(models) == 1:
                joined = first.population_stacks[name]
            else:
                singles = [
                    m.population_stacks[name] if name in m.population_stacks else stack_class([u[name]])
                    for m, u in zip(models, unstacked, strict=True)
                ]
                joined = stack_class.join(singles)
                for single in singles:  # copied into the joined stack; free now, not at the next full gc
                    single.cols = {}
            self.stacks[name] = joined
            for m, view in zip(models, joined.views, strict=True):
                m.population_stacks[name] = joined
                setattr(m, name, view)
        for m in models:
            m._lockstep = self
        self.running = True

    def step(self) -> None:
        """One year of every member (see the module docstring for the order within a year)."""
        models = self.models
        first = models[0]
        y = first._step_index
        if y >= len(first.years):
            self.running = False
            for m in models:
                m.running = False
            return
        year = int(first.years[y])
        for m in models:
            m.year = year
        if y > 0:
            for m in models:
                m._decide_before_populations()
            for name in POPULATIONS:
                if getattr(first, name) is None:
                    continue
                stack = self.stacks.get(name)
                if stack is not None:
                    stack.step(year)
                else:
                    for m in models:
                        m._step_population(name)
            for m in models:
                m._decide_after_populations()
            self._account(y)
        else:
            with contextlib.ExitStack() as observed:
                for m in models:
                    observed.enter_context(m._base_year_parameters())
                self._account(y)
        for m in models:
            m._step_index += 1
            if m._step_index >= len(m.years):
                m._indicators()
                m.running = False
        self.running = first.running

    def _account(self, y: int) -> None:
        models = self.models
        first = models[0]
        for m in models:
            m._begin_accounts()
        results: list[dict[str, object]] = [{} for _ in models]
        for name in POPULATIONS:
            if getattr(first, name) is None:
                continue
            stack = self.stacks.get(name)
            values = stack.account(y) if stack is not None else [getattr(m, name).account(y) for m in models]
            for r, v in zip(results, values, strict=True):
                r[name] = v
        accounts = [m._account(y, r) for m, r in zip(models, results, strict=True)]
        requests = [next(a) for a in accounts]
        for account, dispatched in zip(accounts, dispatch_many(requests), strict=True):
            with contextlib.suppress(StopIteration):
                account.send(dispatched)

    def _year_label(self) -> str:
        first = self.models[0]
        return str(int(first.years[first._step_index])) if first._step_index < len(first.years) else "the end"

    def _release(self) -> None:
        """Free the members' population columns (most of a lockstep's memory) once their results are taken.

        Why: the members, their stacks and their views refer to one another, so without this their columns
        wait for the cyclic garbage collector; a task running lockstep after lockstep then held the columns of
        many of them at once (a worker at resolution 0.1 grew to ~1 GB, against ~0.3 GB for single runs).
        """
        for stack in self.stacks.values():
            stack.cols = {}
        for m in self.models:
            m.population_stacks = {}
            m._lockstep = None
        self.stacks = {}

    def run(self, stop: Callable[[], bool] | None = None) -> list[RunResult]:
        """Step to the horizon; one result per member (``seconds``: the batch's wall time per member).

        The members' population columns are freed once the results are taken (:meth:`_release`).

        Args:
            stop: asked before every year; when it answers True the members are dropped (their columns freed)
                and :class:`RunCancelledError` is raised. Why: the app's tasks step tens of members for a few
                tenths of a second, and when the user has moved on, the ensemble they belong to is not wanted
                any more; stopping at the next year frees the worker for the new one at once.
        """
        t0 = time.perf_counter()
        while self.running:
            if stop is not None and stop():
                self._release()
                raise RunCancelledError(f"stopped before year {self._year_label()} of {len(self.models)} members")
            self.step()
        for m in self.models:
            m.ledger.check_balances()
        seconds = (time.perf_counter() - t0) / len(self.models)
        results = [RunResult.from_model(m, seconds) for m in self.models]
        self._release()
        return results


@dataclass
class RunResult:
    """Outcome of one run: arrays plus tidy tables built on demand.

    Attributes:
        years: simulated years.
        ledger: the run's accounting arrays.
        params: parameter values used.
        seconds: wall time of the year loop.
    """

    years: np.ndarray
    ledger: Ledger
    params: dict[str, float]
    seconds: float
    units: list[dict] = field(default_factory=list)

    @classmethod
    def from_model(cls, model: CityModel, seconds: float) -> RunResult:
        units = [
            {
                "name": u.name,
                "technology": u.technology,
                "capacity_mw": u.capacity_mw,
                "commissioned": u.commissioned,
                "retired_year": u.retired_year,
                "retired_reason": u.retired_reason,
                "efficiency_retrofit_year": u.efficiency_retrofit_year,
                "flex_retrofit_year": u.flex_retrofit_year,
                "ccs_year": u.ccs_year,
                "capture_rate": u.capture_rate,
            }
            for u in model.power_units
        ]
        return cls(model.years, model.ledger, dict(model.params), seconds, units)

    TOTALS = ("direct", "total", "net", "ghg")

    def total_mt(self, scope: str = "direct") -> np.ndarray:
        """Total by year, Mt: ``direct`` territorial CO2 (what the peak is about); ``total`` adds the
        electricity trade adjustment; ``net`` subtracts sink removals; ``ghg`` adds landfill CH4 as CO2e."""
        if scope == "direct":
            return self.ledger.total_direct_mt()
        if scope == "total":
            return self.ledger.total_with_indirect_mt()
        if scope == "net":
            return self.ledger.net_mt()
        if scope == "ghg":
            return self.ledger.ghg_mt()
        raise ValueError(f"scope must be one of {', '.join(self.TOTALS)}, got {scope!r}")

    def sector_co2_mt(self) -> np.ndarray:
        """Direct CO2 by year (rows) x sector (columns, in :data:`sim.constants.SECTORS` order), Mt: the
        array behind :meth:`sector_mt`, for callers that collect many runs (the app's tasks)."""
        return self.ledger.direct_co2_t().sum(axis=2) / 1e6

    def sector_mt(self) -> pd.DataFrame:
        """Direct CO2 by year (rows) x sector (columns), Mt."""
        return pd.DataFrame(self.sector_co2_mt(), index=pd.Index(self.years, name="year"), columns=list(SECTORS))

    def peak(self, scope: str = "direct", tolerance: float = 0.02):
        return find_peak(self.years, self.total_mt(scope), tolerance)

    def yearly_frame(self) -> pd.DataFrame:
        """Tidy table: year, sector, fuel, scope, emissions_mt, energy_pj.

        ``direct`` rows are CO2 by sector and fuel (non-zero rows only); one ``indirect`` row per year is the
        electricity trade adjustment; ``ch4_co2e`` rows are landfill methane in CO2e; ``sink`` rows (sector
        ``sinks``) are removals as negative numbers. Summing ``direct`` gives the territorial CO2 total.
        """
        sectors = [*SECTORS, "sinks"]
        co2 = self.ledger.direct_co2_t()
        energy = self.ledger.energy_tj
        Y, S, F = co2.shape
        yi, si, fi = np.meshgrid(np.arange(Y), np.arange(S), np.arange(F), indexing="ij")
        keep = (np.abs(co2) > 0) | (energy > 0)
        parts = [
            (
                self.years[yi[keep]],
                np.array(SECTORS)[si[keep]],
                np.array(FUELS)[fi[keep]],
                "direct",
                co2[keep] / 1e6,
                energy[keep] / 1e3,
            )
        ]
        parts.append((self.years, "power_heat", "electricity", "indirect", self.ledger.indirect_co2_t / 1e6, 0.0))
        ch4 = self.ledger.ch4_co2e_t
        for s in np.flatnonzero(ch4.sum(axis=0) > 0):
            parts.append((self.years, SECTORS[s], "process", "ch4_co2e", ch4[:, s] / 1e6, 0.0))
        if self.ledger.sink_co2_t.any():
            parts.append((self.years, "sinks", "process", "sink", -self.ledger.sink_co2_t / 1e6, 0.0))
        frames = []
        for years, sector, fuel, scope, mt, pj in parts:
            n = len(years)
            frames.append(
                pd.DataFrame(
                    {
                        "year": np.asarray(years).astype(np.int16),
                        "sector": pd.Categorical(np.broadcast_to(sector, n), categories=sectors),
                        "fuel": pd.Categorical(np.broadcast_to(fuel, n), categories=FUELS),
                        "scope": pd.Categorical(np.broadcast_to(scope, n), categories=list(SCOPES)),
                        "emissions_mt": np.asarray(mt, dtype=float),
                        "energy_pj": np.broadcast_to(np.asarray(pj, dtype=float), n),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True).sort_values(["year", "scope", "sector", "fuel"], ignore_index=True)

    def series_frame(self) -> pd.DataFrame:
        """Tidy table of everything else by year: table, item, key, value (with units in the item name)."""
        L = self.ledger
        rows = []

        def add(table: str, item: str, key: str, values: np.ndarray) -> None:
            rows.append(pd.DataFrame({"year": self.years, "table": table, "item": item, "key": key, "value": values}))

        for k, v in L.electricity.items():
            add("electricity", k, "", v)
        for k, v in L.generation_by_tech_mwh.items():
            add("generation_mwh", k, "", v)
        for k, v in L.capacity_mw.items():
            add("capacity_mw", k, "", v)
        for k, v in L.heat.items():
            add("heat", k, "", v)
        for (pop, cat), v in L.stocks.items():
            add("stock", pop, cat, v)
        for k, v in L.indicators.items():
            add("indicator", k, "", v)
        for (lever, item), v in L.policy.items():
            add("policy", lever, item, v)
        for k, v in L.ccus.items():
            add("ccus", k, "", v)
        add("sinks", "removals_t", "", L.sink_co2_t)
        add("ch4", "landfill_ch4_co2e_t", "", L.ch4_co2e_t.sum(axis=1))
        return pd.concat(rows, ignore_index=True)

    def summary(self, scope: str = "direct") -> dict:
        """One row of per-run outcomes (what ``summary.parquet`` holds)."""
        total = self.total_mt(scope)
        pk = self.peak(scope)
        years = self.years
        out = {
            "peak_year": pk.peak_year,
            "peak_mt": pk.peak_mt,
            "plateau_year": pk.plateau_year,
            "peaked": pk.peaked,
            "cumulative_mt": float(total[(years >= 2025)].sum()),
            "emissions_base_mt": float(total[0]),
        }
        for yr in (2025, 2030, 2035, 2060):
            if yr in years:
                out[f"emissions_{yr}_mt"] = float(total[years == yr][0])
        for k, v in self.ledger.indicators.items():
            for yr in (2025, 2030):
                if yr in years:
                    out[f"{k}_{yr}"] = float(v[years == yr][0])
        # Policy cash flows over the same window as cumulative emissions (undiscounted, M CNY).
        window = years >= 2025
        costs = {"fiscal_cost_cny": 0.0, "private_cost_cny": 0.0, "revenue_cny": 0.0}
        for (_, item), values in self.ledger.policy.items():
            costs[item] = costs.get(item, 0.0) + float(np.sum(values[window]))
        out["fiscal_cost_mcny"] = costs["fiscal_cost_cny"] / 1e6
        out["private_cost_mcny"] = costs["private_cost_cny"] / 1e6
        out["carbon_revenue_mcny"] = costs["revenue_cny"] / 1e6
        return out


def _steppable_together(a: Scenario, b: Scenario) -> bool:
    """Whether runs of ``a`` and ``b`` can share population stacks: same years, same population sections."""
    if a is b:
        return True
    return (a.base_year, a.horizon) == (b.base_year, b.horizon) and all(
        getattr(a, name) == getattr(b, name) for name in POPULATIONS
    )


def run_members(
    scenario: Scenario,
    seeds: Sequence[int | np.random.SeedSequence],
    overrides: Sequence[dict[str, float] | None],
    resolution: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[RunResult]:
    """Run several members of one scenario in lockstep (:class:`Lockstep`); member ``i`` has ``seeds[i]`` and
    ``overrides[i]`` and gets the result :func:`run` would give it. ``stop``: see :meth:`Lockstep.run`."""
    if len(seeds) != len(overrides):
        raise ValueError(f"{len(seeds)} seeds but {len(overrides)} override sets: give one per member")
    models = [CityModel(scenario, s, o, resolution, stacked=False) for s, o in zip(seeds, overrides, strict=True)]
    return Lockstep(models).run(stop)


def run(
    scenario: Scenario,
    seed: int | np.random.SeedSequence = 0,
    overrides: dict[str, float] | None = None,
    resolution: float | None = None,
) -> RunResult:
    """Build and run one :class:`CityModel`; the public entry point for one run."""
    return CityModel(scenario, seed, overrides, resolution).run()
