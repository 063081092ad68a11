"""Scenario files: schema, loading, inheritance and clear errors.

A scenario is a YAML file with the city's base-year calibration (plants, fleets, buildings), overrides of
registry parameters and the lever settings. Numbers that come from the outside world carry a source: asset
entries have a ``source`` string, and every section has a ``sources`` map from field name to source (or
``assumption: why``). A section that sets a number without a source is rejected, so an unsourced number
cannot slip in.

A scenario may ``inherits: other.yaml`` (path relative to the file) and then give only what differs, as in
LEAP. Mappings merge key by key; lists of named items (power units, refineries, options) merge by ``name``;
other lists replace.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import re
import stat
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim import registry

MAX_SCENARIO_BYTES = 2_000_000
"""Scenario files are text of a few tens of kB; anything this large is not a scenario."""

MAX_YAML_ALIAS_NODES = 100_000
"""How many nodes YAML aliases may add when expanded. A scenario may reuse a block or two (a list of refinery
options, a source text: a few hundred nodes); a "billion laughs" file expands a few lines into billions."""

MAX_YAML_DEPTH = 64
"""Deepest nesting a scenario file may have. Real scenarios nest about six levels; the YAML parser recurses
once per level, so a file of a few thousand ``[`` would otherwise end in a RecursionError traceback."""

MAX_PROBLEMS_SHOWN = 30
"""Problems listed per file; a list of 10,000 wrong items should not print 10,000 lines."""


class ScenarioError(ValueError):
    """A scenario file is unreadable or invalid. The message names file, field, value and what is allowed."""


PosFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Year = Annotated[int, Field(ge=1990, le=2100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_yes_no_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse true/false where a number belongs.

        YAML 1.1 reads ``yes``, ``no``, ``on``, ``off``, ``true`` and ``false`` as booleans and pydantic would
        quietly turn them into 1 and 0, so ``capacity_mw: on`` would build a 1 MW plant.
        """
        flags = [value] if isinstance(value, bool) else []
        if isinstance(value, dict):
            flags = [v for v in value.values() if isinstance(v, bool)]
        if flags and info.field_name and _expects_number(cls.model_fields[info.field_name].annotation, value):
            raise ValueError("expected a number; YAML reads yes/no/on/off/true/false as true or false")
        return value

    @field_validator("source", check_fields=False)
    @classmethod
    def _source_is_not_blank(cls, value: str) -> str:
        """A source of spaces passes the length check but names no document."""
        if not value.strip():
            raise ValueError("source is blank; allowed: the document the numbers come from, or 'assumption: <why>'")
        return value


def _expects_number(annotation: Any, value: Any) -> bool:
    """Whether a field typed ``annotation`` wants a number (or, for a mapping ``value``, numbers as values)."""
    ann = _unwrap(annotation)
    if get_origin(ann) in (Union, types.UnionType):
        return any(_expects_number(a, value) for a in get_args(ann) if a is not type(None))
    if isinstance(value, dict):
        return get_origin(ann) is dict and _expects_number(get_args(ann)[1], 0)
    return ann in (int, float)


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` layers to get at the type."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


class _Sourced(_Strict):
    """A section whose numeric fields must each have a source in ``sources``."""

    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _every_number_has_a_source(self):
        missing = []
        for name in self.model_fields_set:
            if name == "sources":
                continue
            value = getattr(self, name)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            numeric_map = isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values())
            if (numeric or numeric_map) and name not in self.sources:
                missing.append(name)
        if missing:
            raise ValueError(
                f"no source for {', '.join(sorted(missing))}: add each to 'sources' with the document it comes "
                "from, or 'assumption: <why>'"
            )
        for k, v in self.sources.items():
            if not str(v).strip():
                raise ValueError(
                    f"sources.{k}: source is empty; allowed: the document it comes from, or 'assumption: <why>'"
                )
        return self

    @model_validator(mode="after")
    def _sources_name_fields(self):
        """A source filed under a misspelt name documents nothing and hides the typo."""
        fields = [f for f in type(self).model_fields if f != "sources"]
        for key in self.sources:
            if key not in fields:
                close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(fields)}"
                raise ValueError(f"sources.{key}: '{key}' is not a field of this section; {hint}")
        return self


# ---------------------------------------------------------------------------------------------- power
Technology = Literal["coal", "coal_chp", "gas", "wind", "solar", "battery"]


class PowerUnitSpec(_Strict):
    """One generating unit or aggregated farm, as built in the base year."""

    name: str
    technology: Technology
    capacity_mw: PosFloat
    commissioned: Year
    lifetime_yr: Annotated[int, Field(ge=1, le=80)] = 30
    heat_rate_gj_per_mwh: Annotated[float, Field(ge=0, le=20)] = 0.0
    min_load_share: Share = 0.0
    heat_capacity_mw: PosFloat = 0.0
    storage_hours: Annotated[float, Field(ge=0, le=24)] = 0.0
    fixed_om_cny_per_kw_yr: PosFloat = 0.0
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _thermal_needs_heat_rate(self):
        if self.technology in ("coal", "coal_chp", "gas") and self.heat_rate_gj_per_mwh <= 0:
            raise ValueError(f"unit '{self.name}': heat_rate_gj_per_mwh must be > 0 for {self.technology}")
        if self.technology == "battery" and self.storage_hours <= 0:
            raise ValueError(f"unit '{self.name}': storage_hours must be > 0 for a battery")
        return self


class PowerSpec(_Sourced):
    units: list[PowerUnitSpec]
    export_limit_mw: PosFloat = 0.0
    import_limit_mw: PosFloat = 0.0
    grid_loss_share: Annotated[float, Field(ge=0, le=0.2)] = 0.0
    other_load_mw: PosFloat = 0.0
    renewable_price_factor: Share = 0.7
    wind_capex_cny_per_kw: PosFloat = 2400.0
    solar_capex_cny_per_kw_2022: PosFloat = 4130.0
    storage_capex_cny_per_kwh: PosFloat = 420.0
    max_wind_build_mw_per_yr: PosFloat = 0.0
    max_solar_build_mw_per_yr: PosFloat = 0.0
    storage_hours_new: Annotated[float, Field(gt=0, le=24)] = 4.0
    discount_rate: Annotated[float, Field(gt=0, le=0.3)] = 0.07
    coal_efficiency_retrofit_cny_per_kw: PosFloat = 80.0
    coal_efficiency_retrofit_gain: Share = 0.03
    coal_flex_retrofit_cny_per_kw: PosFloat = 60.0
    coal_flex_min_load_share: Share = 0.35
    heat_only_boiler_efficiency: Annotated[float, Field(gt=0.3, le=1.0)] = 0.8
    chp_fuel_gj_per_gj_heat: Annotated[float, Field(ge=0, le=2)] = 0.6
    heat_network_loss_share: Annotated[float, Field(ge=0, le=0.4)] = 0.1


# ---------------------------------------------------------------------------------------------- refining
OptionKind = Literal["efficiency", "electrified_heat", "green_h2", "ccus_smr", "ccus_fcc"]


class AbatementOptionSpec(_Strict):
    """An abatement project a refinery can adopt when the carbon price plus support beats its cost."""

    name: str
    kind: OptionKind
    cost_cny_per_t_co2: float = Field(ge=-500, le=3000)
    cost_decline_pct_per_yr: Annotated[float, Field(ge=-5, le=20)] = 0.0
    potential_share: Share
    lead_time_yr: Annotated[int, Field(ge=0, le=10)] = 2
    capex_cny_per_t_co2_yr: PosFloat = 0.0
    in_service_year: Year | None = None
    """Set for a project already running or under construction: in service from this year whatever it costs."""
    source: str = Field(min_length=3)


class RefinerySpec(_Strict):
    """A refinery (and cracker, where it has one) in the base year."""

    name: str
    crude_run_mt: PosFloat
    capacity_mt: PosFloat
    chemicals_share: Share = 0.1
    refinery_gas_gj_per_t: PosFloat
    natural_gas_gj_per_t: PosFloat
    petroleum_coke_gj_per_t: PosFloat
    electricity_kwh_per_t: PosFloat
    hydrogen_t_per_t_crude: PosFloat
    smr_co2_t_per_t_h2: PosFloat = 9.0
    smr_gas_gj_per_t_h2: PosFloat = 165.0
    ethylene_mt: PosFloat = 0.0
    cracker_fuel_gj_per_t_ethylene: PosFloat = 0.0
    chemicals_energy_premium: Annotated[float, Field(ge=0, le=1)] = 0.25
    annual_capital_budget_mcny: PosFloat = 300.0
    options: list[AbatementOptionSpec] = Field(default_factory=list)
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _run_within_capacity(self):
        if self.crude_run_mt > self.capacity_mt * 1.1:
            raise ValueError(
                f"refinery '{self.name}': crude_run_mt {self.crude_run_mt} exceeds "
                f"capacity_mt {self.capacity_mt} by more than 10%"
            )
        return self


# ---------------------------------------------------------------------------------------------- demand
class CitySpec(_Sourced):
    population: Annotated[float, Field(gt=0, le=5e7)]
    persons_per_household: Annotated[float, Field(gt=0.5, le=8)]
    cars_per_1000: Annotated[float, Field(ge=0, le=1000)] = 0.0
    base_heating_degree_days: Annotated[float, Field(ge=0, le=9000)] = 3900.0


class IndustrySpec(_Sourced):
    """Industry outside the modelled plants (oilfield operations, other chemicals, materials), aggregated."""

    natural_gas_pj: PosFloat = 0.0
    coal_pj: PosFloat = 0.0
    diesel_pj: PosFloat = 0.0
    electricity_twh: PosFloat = 0.0
    electrification_pct_pts_per_yr: Annotated[float, Field(ge=0, le=5)] = 0.0


class HouseholdSpec(_Sourced):
    apartment_share: Share
    gas_cooking_share: Share
    appliance_kwh_per_yr: PosFloat
    appliance_efficiency_gain_pct_per_yr: Annotated[float, Field(ge=0, le=10)] = 1.5
    appliance_life_yr: Annotated[float, Field(gt=1, le=40)] = 12
    cooking_gj_per_yr: PosFloat
    stove_life_yr: Annotated[float, Field(gt=1, le=40)] = 12
    induction_stove_efficiency_ratio: Annotated[float, Field(gt=0.5, le=4)] = 1.7
    rooftop_eligible_share_detached: Share = 0.6
    rooftop_eligible_share_apartment: Share = 0.02
    pv_kw_per_system: PosFloat = 5.0
    pv_adopted_share: Share = 0.0
    retail_power_price_cny_per_kwh: PosFloat = 0.55
    income_mean_cny: PosFloat = 120000
    income_sigma: Annotated[float, Field(ge=0, le=2)] = 0.5
    green_travel_share: Share
    green_travel_drift_per_yr: Annotated[float, Field(ge=0, le=1)] = 0.15
    households_per_neighbourhood: Annotated[int, Field(ge=10, le=100000)] = 500


class SegmentSpec(_Strict):
    """One vehicle segment: stock, use and per-powertrain technology data."""

    stock: PosFloat
    km_per_yr: PosFloat
    km_sigma: Annotated[float, Field(ge=0, le=2)] = 0.4
    lifetime_yr: Annotated[float, Field(gt=1, le=40)]
    weibull_shape: Annotated[float, Field(gt=0.5, le=10)] = 3.0
    shares: dict[str, Share]
    sales_shares: dict[str, Share] | None = None
    price_kcny: dict[str, PosFloat]
    mj_per_km: dict[str, PosFloat]
    maintenance_kcny_per_yr: dict[str, PosFloat] = Field(default_factory=dict)
    private: bool = False
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _consistent(self):
        from agents.vehicles import POWERTRAINS

        for field_name in ("shares", "sales_shares", "price_kcny", "mj_per_km"):
            for k in getattr(self, field_name) or {}:
                if k not in POWERTRAINS:
                    raise ValueError(f"{field_name}: unknown powertrain '{k}'; allowed: {', '.join(POWERTRAINS)}")
        for field_name in ("shares", "sales_shares"):
            values = getattr(self, field_name)
            if values is None:
                continue
            total = sum(values.values())
            if not math.isclose(total, 1.0, abs_tol=1e-6):
                raise ValueError(f"{field_name} add up to {total:g}; they must add up to 1")
        for k in {**self.shares, **(self.sales_shares or {})}:
            if k not in self.price_kcny or k not in self.mj_per_km:
                raise ValueError(f"powertrain '{k}' has a share but no price_kcny or mj_per_km")
        return self


class VehicleSpec(_Strict):
    segments: dict[str, SegmentSpec]
    charger_base_index: Share = 0.3
    charger_per_ev_share: Annotated[float, Field(ge=0, le=10)] = 2.0

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, v):
        from agents.vehicles import SEGMENTS

        for k in v:
            if k not in SEGMENTS:
                raise ValueError(f"unknown segment '{k}'; allowed: {', '.join(SEGMENTS)}")
        return v


class HeatingSystemSpec(_Strict):
    share: Share
    efficiency: Annotated[float, Field(gt=0, le=6)]
    capex_cny_per_m2: PosFloat
    available_share: Share = 1.0
    source: str = Field(min_length=3)


class BuildingSpec(_Sourced):
    buildings: Annotated[int, Field(ge=0, le=10_000_000)]
    residential_floor_m2_per_person: PosFloat
    residential_floor_m2_per_person_saturation: PosFloat
    nonresidential_floor_mm2: PosFloat
    nonresidential_electricity_kwh_per_m2: PosFloat
    vintage_shares: dict[str, Share]
    heat_kwh_per_m2_by_vintage: dict[str, PosFloat]
    new_build_heat_kwh_per_m2: PosFloat
    new_build_heat_kwh_per_m2_2030: PosFloat
    systems: dict[str, HeatingSystemSpec]
    system_life_yr: Annotated[float, Field(gt=1, le=60)] = 20
    district_heat_price_cny_per_m2: PosFloat = 22.0
    retrofit_cost_cny_per_m2: PosFloat = 300.0
    retrofit_saving_share: Share = 0.4
    retrofit_base_rate_per_yr: Share = 0.01
    demolition_rate_per_yr: Share = 0.005

    @model_validator(mode="after")
    def _systems(self):
        from agents.buildings import HEATING_SYSTEMS

        for k in self.systems:
            if k not in HEATING_SYSTEMS:
                raise ValueError(f"systems: unknown heating system '{k}'; allowed: {', '.join(HEATING_SYSTEMS)}")
        total = sum(s.share for s in self.systems.values())
        if self.systems and not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"systems: shares add up to {total:g}; they must add up to 1")
        vt = sum(self.vintage_shares.values())
        if self.vintage_shares and not math.isclose(vt, 1.0, abs_tol=1e-6):
            raise ValueError(f"vintage_shares add up to {vt:g}; they must add up to 1")
        for k in self.vintage_shares:
            if k not in self.heat_kwh_per_m2_by_vintage:
                raise ValueError(f"vintage '{k}' has a share but no heat_kwh_per_m2_by_vintage")
        return self


# ---------------------------------------------------------------------------------------------- rest of city
class OilfieldBlockSpec(_Strict):
    """A group of oilfield blocks in the city with one recovery method."""

    name: str
    oil_mt: PosFloat
    steam_gas_gj_per_t_oil: PosFloat = 0.0
    other_gas_gj_per_t_oil: PosFloat = 0.0
    electricity_kwh_per_t_oil: PosFloat = 0.0
    diesel_gj_per_t_oil: PosFloat = 0.0
    captive_pv_share: Share = 0.0
    source: str = Field(min_length=3)


class CCUSSpec(_Sourced):
    existing_capacity_mt_base_year: PosFloat = 0.0
    existing_capacity_mt_2025: PosFloat = 0.0
    eor_demand_mt: PosFloat = 0.0
    transport_storage_cny_per_t: PosFloat = 60.0
    eor_co2_price_cny_per_t: PosFloat = 0.0
    capture_opex_share: Share = 0.3
    power_capture_cost_cny_per_t: PosFloat = 350.0
    power_capture_cost_decline_pct_per_yr: Annotated[float, Field(ge=0, le=15)] = 2.0
    power_capture_rate: Share = 0.9
    power_energy_penalty_share: Annotated[float, Field(ge=0, le=0.6)] = 0.25
    power_demo_unit: str = ""


class HydrogenPlantSpec(_Strict):
    name: str
    capacity_kt_h2: PosFloat
    commissioned: Year
    electricity_mwh_per_t_h2: Annotated[float, Field(gt=30, le=80)] = 55.0
    load_factor: Share = 0.45
    dedicated_re: bool = True
    source: str = Field(min_length=3)


class DataCentreSpec(_Strict):
    name: str
    racks: PosFloat
    kw_per_rack: Annotated[float, Field(gt=0, le=100)]
    utilisation: Share
    pue: Annotated[float, Field(ge=1.0, le=3.0)]
    commissioned: Year
    source: str = Field(min_length=3)


class WasteSpec(_Sourced):
    kg_per_person_day: Annotated[float, Field(gt=0, le=5)]
    recycling_share: Share
    sorting_share: Share = 0.0
    incinerator_capacity_kt: PosFloat = 0.0
    ch4_t_per_t_landfilled: Annotated[float, Field(ge=0, le=0.2)] = 0.05
    landfill_gas_capture_share: Share = 0.0
    incineration_fossil_co2_t_per_t: Annotated[float, Field(ge=0, le=2)] = 0.4
    incineration_mwh_per_t: Annotated[float, Field(ge=0, le=2)] = 0.4


class SinkSpec(_Sourced):
    """Existing sinks, their sequestration rates, and what new shelterbelt planting costs.

    Attributes:
        planting_cny_per_ha: establishment cost of a new hectare (seedlings, drip irrigation, labour), paid
            by the afforestation programme in the planting year.
        upkeep_cny_per_ha_yr: yearly irrigation water and care of each new hectare planted since the start.
    """

    shelterbelt_ha: PosFloat = 0.0
    shelterbelt_t_co2_per_ha_yr: PosFloat = 0.0
    greening_ha: PosFloat = 0.0
    greening_t_co2_per_ha_yr: PosFloat = 0.0
    planting_cny_per_ha: PosFloat = 0.0
    upkeep_cny_per_ha_yr: PosFloat = 0.0


# ---------------------------------------------------------------------------------------------- policies
SUBSIDY_FAMILIES = ("ev", "heat_pump", "rooftop_pv", "retrofit", "green_h2", "ccus")
CARBON_PRICE_SCHEDULE = "carbon_price_cny_per_t"


class PoliciesSpec(_Strict):
    """Timing of the levers whose values come from the parameter registry.

    Attributes:
        start_year: phase-in levers start ramping from their neutral value in this year.
        target_year: ... and reach the scenario's value in this year.
        subsidy_years: subsidy family -> [first year, last year] in which it is paid (budget permitting).
        schedules: explicit year/value points for a phase-in lever (or ``carbon_price_cny_per_t`` for the
            whole carbon price path), linearly interpolated; overrides the ramp. Not sampled by sweeps.
        emissions_cap_start_year: first year the territorial CO2 cap applies.
    """

    start_year: Year = 2025
    target_year: Year = 2030
    subsidy_years: dict[str, tuple[Year, Year]] = Field(default_factory=dict)
    schedules: dict[str, list[tuple[float, float]]] = Field(default_factory=dict)
    emissions_cap_start_year: Year = 2030

    @model_validator(mode="after")
    def _check(self):
        problems: list[str] = []  # every problem at once (see _raise_all), not one per attempt
        if self.target_year <= self.start_year:  # the ramp from start to target needs at least one year
            problems.append(
                f"target_year: {self.target_year} is not after start_year {self.start_year}; "
                f"allowed: {self.start_year + 1} or later"
            )
        for fam, (first, last) in self.subsidy_years.items():
            if fam not in SUBSIDY_FAMILIES:
                problems.append(f"subsidy_years: unknown subsidy '{fam}'; allowed: {', '.join(SUBSIDY_FAMILIES)}")
            elif last < first:
                problems.append(f"subsidy_years.{fam}: last year {last} is before first year {first}")
        for name, points in self.schedules.items():
            if name == CARBON_PRICE_SCHEDULE:
                low, high = 0.0, 2000.0
            else:
                try:
                    p = registry.get(name)
                except KeyError as e:
                    problems.append(f"schedules: {e.args[0]}")
                    continue
                if p.kind != "lever" or not p.extra.get("phase_in"):
                    problems.append(
                        f"schedules.{name}: only phase-in levers (or {CARBON_PRICE_SCHEDULE}) take a schedule"
                    )
                    continue
                low, high = p.low, p.high
            if not points:
                problems.append(f"schedules.{name}: needs at least one [year, value] point")
                continue
            years = [pt[0] for pt in points]
            for a, b in zip(years, years[1:], strict=False):
                if b <= a:
                    problems.append(f"schedules.{name}: years must increase, but {a:g} is followed by {b:g}")
                    break
            for y, v in points:
                if not math.isfinite(v) or not low <= v <= high:
                    problems.append(
                        f"schedules.{name}: value {v!r} in {y:g} outside the allowed range [{low:g}, {high:g}]"
                    )
                    break
        _raise_all(problems)
        return self


def _raise_all(problems: list[str]) -> None:
    """Raise every problem a model validator found, one per line (:func:`format_validation_error` lists each).

    Why: a validator that stopped at the first problem made a person fix a file one problem per attempt,
    and ``citypeak validate`` promises every problem at once.
    """
    if problems:
        raise ValueError("\n".join(problems))


# ---------------------------------------------------------------------------------------------- scenario
class ParameterValue(_Strict):
    value: float
    source: str = Field(min_length=3)


class Scenario(_Strict):
    """A validated scenario. Build it with :func:`load_scenario` or :func:`scenario_from_dict`."""

    name: str = Field(min_length=1, max_length=80)
    title_en: str = ""
    title_zh: str = ""
    description: str = ""
    base_year: Annotated[int, Field(ge=2015, le=2030)] = 2024
    horizon: Annotated[int, Field(ge=2025, le=2100)] = 2060
    parameters: dict[str, float | ParameterValue] = Field(default_factory=dict)
    uncertain: list[str] | None = None
    city: CitySpec
    power: PowerSpec
    refineries: list[RefinerySpec] = Field(default_factory=list)
    industry: IndustrySpec | None = None
    households: HouseholdSpec | None = None
    vehicles: VehicleSpec | None = None
    buildings: BuildingSpec | None = None
    oilfield: list[OilfieldBlockSpec] = Field(default_factory=list)
    ccus: CCUSSpec | None = None
    hydrogen_plants: list[HydrogenPlantSpec] = Field(default_factory=list)
    data_centres: list[DataCentreSpec] = Field(default_factory=list)
    waste: WasteSpec | None = None
    sinks: SinkSpec | None = None
    policies: PoliciesSpec = Field(default_factory=PoliciesSpec)
    _city_digest: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self):
        problems: list[str] = []  # every problem at once (see _raise_all)
        for name, points in self.policies.schedules.items():
            for y, _ in points:
                if not self.base_year <= y <= self.horizon:
                    problems.append(
                        f"policies.schedules.{name}: year {y:g} outside the simulated years "
                        f"{self.base_year}-{self.horizon}"
                    )
                    break
        if self.horizon <= self.base_year + 1:
            problems.append(
                f"horizon: {self.horizon} is less than 2 years after base_year {self.base_year}; "
                f"allowed: {self.base_year + 2} to 2100"
            )
        for name, v in self.parameters.items():
            try:
                p = registry.get(name)
            except KeyError as e:
                problems.append(f"parameters: {e.args[0]}")
                continue
            value = v.value if isinstance(v, ParameterValue) else v
            if not math.isfinite(value) or not p.low <= value <= p.high:
                problems.append(f"parameters.{name}: value {value!r} outside the allowed range {p.allowed_range}")
        for name in self.uncertain or []:
            try:
                p = registry.get(name)
            except KeyError as e:
                problems.append(f"uncertain: {e.args[0]}")
                continue
            if p.kind == "setting":
                problems.append(
                    f"uncertain: '{name}' is a setting and cannot be sampled; allowed: uncertainties and levers "
                    "(citypeak params lists them)"
                )
        names = [u.name for u in self.power.units]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            problems.append(f"power.units: duplicate unit names {sorted(dup)}; allowed: each name once")
        _raise_all(problems + self._consistency_problems())
        return self

    def _consistency_problems(self) -> list[str]:
        """Cross-field checks that keep a run meaningful (part of :meth:`_check`, so that a file's problems of
        both kinds are reported together).

        * Power units are the base-year fleet: the model runs every listed unit from the base year on, so a
          unit commissioned later would produce power before it exists (new capacity comes from the
          developer and the renewable target). Hydrogen plants and data centres may be commissioned later:
          their agents wait for the year.
        * Named lists merge by name under inheritance, so a name used twice makes a child's override land on
          one of the two silently.
        * Levers that start ramping after the horizon never act: almost surely a typo. ``target_year``
          may lie beyond a short horizon (the run then stops part-way up the ramp).
        * An uncertain parameter listed twice would be sampled twice; the ensemble refuses that, so
          ``validate`` does too.
        * Registry entries that are whole numbers (years) must get whole numbers.
        """
        problems: list[str] = []  # every problem at once (see _raise_all)
        for i, u in enumerate(self.power.units):
            if u.commissioned > self.base_year:
                problems.append(
                    f"power.units.{i}.commissioned: unit '{u.name}' is commissioned in {u.commissioned}, after "
                    f"base_year {self.base_year}; allowed: {self.base_year} or earlier (the units are the base-year "
                    "fleet; new capacity comes from the developer and renewable_capacity_target_gw_2030)"
                )
        named: list[tuple[str, list]] = []
        for field_name in type(self).model_fields:
            items = getattr(self, field_name)
            if isinstance(items, list) and items and all(isinstance(getattr(x, "name", None), str) for x in items):
                named.append((field_name, items))
        for i, r in enumerate(self.refineries):
            named.append((f"refineries.{i}.options", list(r.options)))
        for where, items in named:
            names = [x.name for x in items]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                problems.append(
                    f"{where}: duplicate names {dup}; allowed: each name once (inheritance merges items by name)"
                )
        if self.policies.start_year > self.horizon:
            problems.append(
                f"policies.start_year: {self.policies.start_year} is after horizon {self.horizon}, so the levers "
                f"would never act; allowed: {self.horizon} or earlier"
            )
        listed = self.uncertain or []
        twice = sorted({n for n in listed if listed.count(n) > 1})
        if twice:
            problems.append(f"uncertain: {twice} listed more than once; allowed: each parameter once")
        for name, v in self.parameters.items():
            p = registry.REGISTRY.get(name)
            if p is None:
                continue  # reported as an unknown parameter
            value = v.value if isinstance(v, ParameterValue) else v
            if p.integer and value != round(value):
                problems.append(f"parameters.{name}: value {value!r} is not a whole number; allowed: whole {p.unit}s")
        return problems

    def parameter_values(self, overrides: dict[str, float] | None = None) -> dict[str, float]:
        """Registry defaults, then the scenario's values, then ``overrides`` (validated against bounds)."""
        values = registry.defaults()
        for k, v in self.parameters.items():
            values[k] = v.value if isinstance(v, ParameterValue) else float(v)
        for k, v in (overrides or {}).items():
            p = registry.get(k)
            if not (math.isfinite(v) and p.low <= v <= p.high):
                raise ScenarioError(f"override {k}={v!r} outside the allowed range {p.allowed_range}")
            values[k] = float(v)
        return values

    def city_digest(self) -> str:
        """A digest of everything in this scenario except its levers: the lever parameters, the policies
        section (phase-in years, schedules, subsidy years) and the names and descriptions.

        Why: two scenarios with one digest describe one city, so a run built for one of them can be given the
        other's levers before it starts (:meth:`sim.model.CityModel.reuse_for`), which is how the app has the
        next slider move's members built while the user looks at the last one.
        """
        digest = self._city_digest
        if digest is None:
            data = self.model_dump(mode="json", exclude={"name", "title_en", "title_zh", "description", "policies"})
            data["parameters"] = {
                k: v for k, v in sorted(data["parameters"].items()) if registry.get(k).kind != "lever"
            }
            text = json.dumps(data, sort_keys=True, separators=(",", ":"))
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            self._city_digest = digest
        return digest

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Scenario:
        """A copy (pydantic's), without the city digest this scenario kept: ``update`` may change the city."""
        out = super().model_copy(update=update, deep=deep)
        out._city_digest = None
        return out

    def uncertain_parameters(self) -> list[registry.Parameter]:
        """The registry entries this scenario samples in ensembles (all uncertainties unless listed)."""
        if self.uncertain is None:
            return registry.parameters("uncertainty")
        return [registry.get(n) for n in self.uncertain]

    @property
    def years(self) -> range:
        return range(self.base_year, self.horizon + 1)


# ---------------------------------------------------------------------------------------------- loading
def _merge(base: Any, over: Any) -> Any:
    """Deep merge for inheritance: dicts key by key, lists of named dicts by name, else replace.

    Only text names key a merge: a list or mapping given as a name (a typo in a child) would be unhashable;
    such a list replaces the parent's, and validation then reports the bad name.
    """
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    if (
        isinstance(base, list)
        and isinstance(over, list)
        and all(isinstance(x, dict) and isinstance(x.get("name"), str) for x in base + over)
    ):
        out = [copy.deepcopy(x) for x in base]
        index = {x["name"]: i for i, x in enumerate(out)}
        for item in over:
            if item.get("remove") is True:
                out = [x for x in out if x["name"] != item["name"]]
                index = {x["name"]: i for i, x in enumerate(out)}
            elif item["name"] in index:
                out[index[item["name"]]] = _merge(out[index[item["name"]]], item)
            else:
                out.append(copy.deepcopy(item))
                index[item["name"]] = len(out) - 1
        return out
    return copy.deepcopy(over)


def _read_yaml(path: Path) -> dict:
    """Read one scenario file as plain data, refusing anything that is not a small YAML mapping.

    Only regular files are read: a folder raises ``IsADirectoryError``, and a device such as ``/dev/zero``
    (reachable through ``inherits:``) reports size 0 and never ends. At most :data:`MAX_SCENARIO_BYTES` are
    read, whatever ``stat`` says; :func:`parse_scenario_bytes` does the rest.
    """
    try:
        st = path.stat()
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read scenario file ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
        raise ScenarioError(f"{path}: cannot read scenario file (it is {kind}, not a regular file)")
    if st.st_size > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            f"{path}: file is {st.st_size:,} bytes; scenario files are limited to {MAX_SCENARIO_BYTES:,}"
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_SCENARIO_BYTES + 1)
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read scenario file ({e.strerror})") from None
    return parse_scenario_bytes(raw, str(path))


def parse_scenario_bytes(raw: bytes, source: str) -> dict:
    """Parse the bytes of one scenario file into plain data, refusing anything but a small YAML mapping.

    For every way scenario text arrives (files, app uploads), so each gets the same guards and messages:
    at most :data:`MAX_SCENARIO_BYTES`; UTF-8; ``yaml.compose`` builds the node graph without constructing
    any object, so nesting depth, alias expansion ("billion laughs"), recursive aliases and duplicate keys
    (YAML silently keeps the last one) are checked before ``yaml.safe_load``, which builds plain data only
    and refuses ``!!python/...`` tags.

    Args:
        raw: the file's bytes.
        source: the name to put in messages (a path, or an upload's file name).

    Returns:
        The top-level mapping (``inherits`` not yet resolved).

    Raises:
        ScenarioError: the message names ``source``, the line where it can, and what is allowed.
    """
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"{source}: file is over {MAX_SCENARIO_BYTES:,} bytes, the limit for scenario files")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ScenarioError(
            f"{source}: not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); save the file as UTF-8"
        ) from None
    try:
        _check_yaml_graph(yaml.compose(text, Loader=yaml.SafeLoader), source)
        data = yaml.safe_load(text)
    except RecursionError:
        raise ScenarioError(f"{source}: YAML nested more than {MAX_YAML_DEPTH} levels deep") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        tag = re.search(r"constructor for the tag '([^']*)'", problem)
        if tag:
            shown = tag.group(1).replace("tag:yaml.org,2002:", "!!")
            problem = f"tag '{shown}' is not allowed; scenario files hold plain data (mappings, lists, text, numbers)"
        raise ScenarioError(f"{source}: invalid YAML{where}: {problem}") from None
    if data is None:
        raise ScenarioError(f"{source}: file is empty; a scenario is a mapping of fields (name, city, power, ...)")
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: top level must be a mapping of scenario fields, got {type(data).__name__}")
    return data


def _check_yaml_graph(root: yaml.Node | None, path: str) -> None:
    """Check the composed YAML node graph: depth, alias expansion, recursive aliases, duplicate keys.

    An alias is the same node object met again, so the expanded size of every node is counted once
    (memoised): linear in the file even when the expansion is astronomically large.
    """
    sizes: dict[int, int] = {}

    def line(node: yaml.Node) -> int:
        return node.start_mark.line + 1

    def expanded(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            if sizes[key] < 0:
                raise ScenarioError(f"{path}: recursive YAML alias at line {line(node)} (a block that contains itself)")
            return sizes[key]
        if depth > MAX_YAML_DEPTH:
            raise ScenarioError(f"{path}: YAML nested more than {MAX_YAML_DEPTH} levels deep at line {line(node)}")
        sizes[key] = -1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if (k.tag, k.value) in first:
                        raise ScenarioError(
                            f"{path}: duplicate key '{k.value}' at line {line(k)} (first at line "
                            f"{first[(k.tag, k.value)]}); YAML would keep only the last one: remove one"
                        )
                    first[(k.tag, k.value)] = line(k)
                children += (k, v)
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        total = 1 + sum(expanded(c, depth + 1) for c in children)
        sizes[key] = total
        return total

    if root is None:
        return
    added = expanded(root, 0) - len(sizes)
    if added > MAX_YAML_ALIAS_NODES:
        raise ScenarioError(
            f"{path}: YAML aliases expand to {added:,} extra nodes; allowed: {MAX_YAML_ALIAS_NODES:,} "
            "(is this a 'billion laughs' file?)"
        )


def resolve_inheritance(path: Path, _chain: tuple[Path, ...] = ()) -> dict:
    """Read ``path`` and everything it inherits from, merged; detect cycles."""
    path = path.resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise ScenarioError(f"{_chain[0]}: inheritance cycle: {cycle}")
    data = _read_yaml(path)
    parent = data.pop("inherits", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: inherits must be a file name, got {parent!r}")
    parent_path = (path.parent / parent) if not Path(parent).is_absolute() else Path(parent)
    if not parent_path.exists():
        raise ScenarioError(f"{path}: inherits: file '{parent}' not found next to it")
    if not parent_path.is_file():
        raise ScenarioError(f"{path}: inherits: '{parent}' is not a regular file (a folder or a device)")
    _check_unique_names(data, path)
    base = resolve_inheritance(parent_path, (*_chain, path))
    return _merge(base, data)


def _check_unique_names(data: Any, path: Path, where: str = "") -> None:
    """Refuse a name used twice in one list of named items of a child file.

    Inheritance merges such lists by ``name``, so the second item would silently be merged into the first
    and the schema's duplicate checks would never see it.
    """
    if isinstance(data, dict):
        for k, v in data.items():
            _check_unique_names(v, path, f"{where}.{k}" if where else str(k))
    elif isinstance(data, list):
        names = [x["name"] for x in data if isinstance(x, dict) and isinstance(x.get("name"), str)]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ScenarioError(f"{path}: {where}: duplicate names {dup}; allowed: each name once")
        for i, x in enumerate(data):
            _check_unique_names(x, path, f"{where}.{i}")


_PATH_PREFIX = re.compile(r"^([A-Za-z_]\w*(?:\.\w+)*): (.+)$", re.DOTALL)


def _schema_path(loc: tuple, root: type[BaseModel] | None = None) -> tuple[list[str], Any, tuple | None]:
    """Follow an error location through the schema of ``root`` (default :class:`Scenario`).

    Returns:
        The parts to show (pydantic's union-member tags such as ``float`` or ``ParameterValue`` dropped),
        the type reached (``None`` past an unknown key), and, when the location went through a union, the
        location of the union, the member tag taken and whether that member is a model.
    """
    ann: Any = root or Scenario
    shown: list[str] = []
    branch = None
    for i, part in enumerate(loc):
        ann = _unwrap(ann)
        if get_origin(ann) in (Union, types.UnionType):
            members = [m for m in get_args(ann) if m is not type(None)]
            if len(members) == 1:
                ann = _unwrap(members[0])
            else:
                match = [m for m in members if getattr(_unwrap(m), "__name__", None) == part]
                ann = _unwrap(match[0]) if match else None
                is_model = isinstance(ann, type) and issubclass(ann, BaseModel)
                branch = (loc[:i], str(part), is_model)
                continue
        shown.append(str(part))
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(str(part))
            ann = field.annotation if field is not None else None
        elif get_origin(ann) is dict:
            ann = get_args(ann)[1]
        elif get_origin(ann) in (list, tuple) and get_args(ann):
            args = get_args(ann)
            ann = args[part] if get_origin(ann) is tuple and isinstance(part, int) and part < len(args) else args[0]
        else:
            ann = None
    ann = _unwrap(ann)
    if get_origin(ann) in (Union, types.UnionType):
        members = [m for m in get_args(ann) if m is not type(None)]
        ann = _unwrap(members[0]) if len(members) == 1 else ann
    return shown, ann, branch


def _did_you_mean(model: type[BaseModel], loc: tuple) -> str:
    """Suggest a field name for an unknown key by walking the schema along ``loc``."""
    _, cls, _ = _schema_path(loc[:-1], model)
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        return ""
    names = list(cls.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; allowed keys: {', '.join(names)}"


def _one_branch_per_union(errors: list[dict]) -> list[dict]:
    """Keep the errors of the union member the input was meant for.

    ``parameters`` values are a number or ``{value, source}``; pydantic reports both members' failures. A
    mapping was meant as ``{value, source}``, anything else as a number.
    """
    scalar_input: dict[tuple, Any] = {}
    for e in errors:
        branch = _schema_path(tuple(e["loc"]))[2]
        if branch and not branch[2]:
            scalar_input[branch[0]] = e.get("input")
    kept = []
    for e in errors:
        branch = _schema_path(tuple(e["loc"]))[2]
        if branch and branch[0] in scalar_input and branch[2] != isinstance(scalar_input[branch[0]], dict):
            continue
        kept.append(e)
    return kept


def _allowed_parameter(shown: list[str]) -> str:
    """What a ``parameters.<name>`` entry may be, from the registry."""
    if len(shown) >= 2 and shown[0] == "parameters" and shown[1] in registry.REGISTRY:
        p = registry.get(shown[1])
        number = f"a number from {p.low:g} to {p.high:g}{p.unit_suffix}"
        return f"; allowed: {number}, or {{value: <number>, source: <text>}}"
    return ""


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per problem: field path, what is wrong or allowed, and the value found.

    Checks that span fields raise from model validators, whose location is the model; their messages
    start with the path inside it (``schedules.x: ...``), which is joined to the location here so every
    line starts with the full field path.
    """
    errors = []
    for e in _one_branch_per_union(err.errors()):
        if e["type"] == "value_error" and "\n" in e["msg"]:  # a model validator's several problems (_raise_all)
            errors += [{**e, "msg": part} for part in e["msg"].removeprefix("Value error, ").split("\n")]
        else:
            errors.append(e)
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")  # a misspelt key first, then what it left missing
    lines = [f"{source}: {len(errors)} problem(s) in scenario"]
    for e in errors[:MAX_PROBLEMS_SHOWN]:
        loc = tuple(e["loc"])
        shown, ann, _ = _schema_path(loc)
        msg = e["msg"]
        value = e.get("input")
        got = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        if len(got) > 80:
            got = got[:77] + "..."
        if e["type"] == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'" + _did_you_mean(Scenario, loc)
        elif e["type"] == "missing":
            msg, got = "required field is missing", None
        elif e["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            m = _PATH_PREFIX.match(msg)
            fields = ann.model_fields if isinstance(ann, type) and issubclass(ann, BaseModel) else {}
            if m and m.group(1).split(".")[0] in fields:
                shown = [*shown, *m.group(1).split(".")]
                msg = m.group(2)
            if isinstance(value, dict | list):
                got = None  # the message names the values; the whole section would say nothing
        else:
            msg += _allowed_parameter(shown)
        path = ".".join(shown) or "(top level)"
        lines.append(f"  - {path}: {msg}" + (f" (got {got})" if got is not None else ""))
    if len(errors) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  ... and {len(errors) - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)


def scenario_from_dict(data: dict, source: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(format_validation_error(e, source)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Load, merge inherited files and validate; errors are :class:`ScenarioError` with readable text."""
    p = Path(path)
    data = resolve_inheritance(p)
    return scenario_from_dict(data, str(p))


def scenario_text(path: str | Path) -> str:
    """The fully merged scenario as YAML text (what a manifest stores to rerun a batch)."""
    return dump_yaml(resolve_inheritance(Path(path)))


_FAST_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` through libyaml's safe loader where PyYAML was built with it: the same plain data,
    ~6x faster.

    For scenario text the project wrote itself (:func:`dump_yaml`): the app parses its scenario text in the
    app and in every worker at each slider move (28 kB: 40 ms in Python, 6 ms with libyaml). Files and
    uploads go through :func:`parse_scenario_bytes` and its guards instead.
    """
    loader = yaml.CSafeLoader(text) if yaml.__with_libyaml__ else yaml.SafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Scenario data as YAML text in file order, through libyaml where available (the same text as
    ``yaml.safe_dump(..., sort_keys=False, allow_unicode=True)``, ~5x faster)."""
    return yaml.dump(dict(data), Dumper=_FAST_DUMPER, sort_keys=False, allow_unicode=True)


def scenario_hash(scenario: Scenario) -> str:
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()[:16]
