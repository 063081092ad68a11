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
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim import registry

MAX_SCENARIO_BYTES = 2_000_000
"""Scenario files are text of a few tens of kB; anything this large is not a scenario."""


class ScenarioError(ValueError):
    """A scenario file is unreadable or invalid. The message names file, field, value and what is allowed."""


PosFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Year = Annotated[int, Field(ge=1990, le=2100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
                raise ValueError(f"source for '{k}' is empty")
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
        if self.target_year < self.start_year:
            raise ValueError(f"target_year {self.target_year} is before start_year {self.start_year}")
        for fam, (first, last) in self.subsidy_years.items():
            if fam not in SUBSIDY_FAMILIES:
                raise ValueError(f"subsidy_years: unknown subsidy '{fam}'; allowed: {', '.join(SUBSIDY_FAMILIES)}")
            if last < first:
                raise ValueError(f"subsidy_years.{fam}: last year {last} is before first year {first}")
        for name, points in self.schedules.items():
            if name == CARBON_PRICE_SCHEDULE:
                low, high = 0.0, 2000.0
            else:
                try:
                    p = registry.get(name)
                except KeyError as e:
                    raise ValueError(f"schedules: {e.args[0]}") from None
                if p.kind != "lever" or not p.extra.get("phase_in"):
                    raise ValueError(
                        f"schedules.{name}: only phase-in levers (or {CARBON_PRICE_SCHEDULE}) take a schedule"
                    )
                low, high = p.low, p.high
            if not points:
                raise ValueError(f"schedules.{name}: needs at least one [year, value] point")
            years = [pt[0] for pt in points]
            for a, b in zip(years, years[1:], strict=False):
                if b <= a:
                    raise ValueError(f"schedules.{name}: years must increase, but {a:g} is followed by {b:g}")
            for y, v in points:
                if not math.isfinite(v) or not low <= v <= high:
                    raise ValueError(
                        f"schedules.{name}: value {v!r} in {y:g} outside the allowed range [{low:g}, {high:g}]"
                    )
        return self


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
    policies: PoliciesSpec = Field(default_factory=PoliciesSpec)

    @model_validator(mode="after")
    def _check(self):
        for name, points in self.policies.schedules.items():
            for y, _ in points:
                if not self.base_year <= y <= self.horizon:
                    raise ValueError(
                        f"policies.schedules.{name}: year {y:g} outside the simulated years "
                        f"{self.base_year}-{self.horizon}"
                    )
        if self.horizon <= self.base_year + 1:
            raise ValueError(f"horizon {self.horizon} must be at least 2 years after base_year {self.base_year}")
        for name, v in self.parameters.items():
            try:
                p = registry.get(name)
            except KeyError as e:
                raise ValueError(f"parameters: {e.args[0]}") from None
            value = v.value if isinstance(v, ParameterValue) else v
            if not math.isfinite(value) or not p.low <= value <= p.high:
                raise ValueError(
                    f"parameters.{name}: value {value!r} outside the allowed range [{p.low:g}, {p.high:g}] {p.unit}"
                )
        for name in self.uncertain or []:
            try:
                p = registry.get(name)
            except KeyError as e:
                raise ValueError(f"uncertain: {e.args[0]}") from None
            if p.kind == "setting":
                raise ValueError(f"uncertain: '{name}' is a setting and cannot be sampled")
        names = [u.name for u in self.power.units]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"power.units: duplicate unit names {sorted(dup)}")
        return self

    def parameter_values(self, overrides: dict[str, float] | None = None) -> dict[str, float]:
        """Registry defaults, then the scenario's values, then ``overrides`` (validated against bounds)."""
        values = registry.defaults()
        for k, v in self.parameters.items():
            values[k] = v.value if isinstance(v, ParameterValue) else float(v)
        for k, v in (overrides or {}).items():
            p = registry.get(k)
            if not (math.isfinite(v) and p.low <= v <= p.high):
                raise ScenarioError(f"override {k}={v!r} outside the allowed range [{p.low:g}, {p.high:g}] {p.unit}")
            values[k] = float(v)
        return values

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
    """Deep merge for inheritance: dicts key by key, lists of named dicts by name, else replace."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    if (
        isinstance(base, list)
        and isinstance(over, list)
        and all(isinstance(x, dict) and "name" in x for x in base + over)
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
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read scenario file ({e.strerror})") from None
    if size > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"{path}: file is {size:,} bytes; scenario files are limited to {MAX_SCENARIO_BYTES:,}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{path}: invalid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: top level must be a mapping of scenario fields, got {type(data).__name__}")
    return data


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
    base = resolve_inheritance(parent_path, (*_chain, path))
    return _merge(base, data)


def _did_you_mean(model: type[BaseModel], loc: tuple) -> str:
    """Suggest a field name for an unknown key by walking the schema along ``loc``."""
    cls: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(cls, "model_fields", {}).get(part)
        if field is None:
            return ""
        ann = field.annotation
        for cand in getattr(ann, "__args__", ()) or (ann,):
            inner = getattr(cand, "__args__", None)
            if inner:
                cand = inner[-1]
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                cls = cand
                break
        else:
            return ""
    names = list(getattr(cls, "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; allowed keys: {', '.join(names)}"


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: {err.error_count()} problem(s) in scenario"]
    for e in err.errors():
        loc = tuple(e["loc"])
        path = ".".join(str(p) for p in loc) or "(top level)"
        value = e.get("input")
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'" + _did_you_mean(Scenario, loc)
        elif e["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = msg.removeprefix("Value error, ")
        lines.append(f"  - {path}: {msg} (got {shown})" if e["type"] != "missing" else f"  - {path}: {msg}")
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
    return yaml.safe_dump(resolve_inheritance(Path(path)), sort_keys=False, allow_unicode=True)


def scenario_hash(scenario: Scenario) -> str:
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()[:16]
