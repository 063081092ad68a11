"""The policy set that agents consult: every lever's hooks in one place.

Each lever is read from the run's parameter values (the registry) and the scenario's ``policies``
section (timing, explicit schedules). A lever left at its registry default is the current policy and
answers with the neutral value, so the baseline needs no special cases.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from policies.carbon_price import CarbonPrice
from policies.mandates import enforce_share
from policies.schedule import Schedule
from policies.subsidies import Subsidy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agents.buildings import Buildings
    from agents.refinery import Refinery
    from agents.vehicles import Vehicles
    from sim.model import CityModel

SMR_CO2_T_PER_T_H2 = 9.26
"""CO2 of grey hydrogen avoided per tonne of green hydrogen: 165 GJ gas per t H2 x 56.1 t/TJ."""
DEFAULT_SUBSIDY_YEARS = (2025, 2030)
SEGMENT_MANDATES = {
    "bus": "bus_electric_sales_share",
    "taxi": "taxi_electric_sales_share",
    "light_truck": "light_truck_electric_sales_share",
    "heavy_truck": "heavy_truck_electric_sales_share",
}
SUBSIDY_PARAMS = {
    "ev": ("ev_subsidy_cny_per_vehicle", "ev_subsidy_budget_mcny"),
    "heat_pump": ("heat_pump_subsidy_cny_per_m2", "heat_pump_subsidy_budget_mcny"),
    "rooftop_pv": ("rooftop_pv_subsidy_cny_per_w", "rooftop_pv_subsidy_budget_mcny"),
    "retrofit": ("retrofit_subsidy_cny_per_m2", "retrofit_subsidy_budget_mcny"),
    "green_h2": ("green_h2_subsidy_cny_per_kg", "green_h2_subsidy_budget_mcny"),
    "ccus": ("ccus_subsidy_cny_per_t", "ccus_subsidy_budget_mcny"),
}


class PolicySet:
    """All levers of one run.

    Methods are the hooks agents call when they decide, and ``record_*`` methods book fiscal cost
    (subsidies paid), carbon revenue and private abatement cost per lever and year.
    """

    def __init__(self, model: CityModel, params: dict[str, float]):
        from sim.registry import REGISTRY

        self.model = model
        self.params = params
        spec = model.inputs.policies
        self.spec = spec
        base = self._base_year = model.inputs.base_year
        self._policy_cells = model.ledger.series_cells("policy")
        """Views on this run's policy series by (lever, item), which :meth:`_book` adds to."""
        self.carbon = CarbonPrice.from_params(params, base, spec.schedules.get("carbon_price_cny_per_t"))
        self.coal_phase_out_year = int(params["coal_phase_out_year"])
        self.subsidies = {}
        for fam, (amount, budget) in SUBSIDY_PARAMS.items():
            first, last = spec.subsidy_years.get(fam, DEFAULT_SUBSIDY_YEARS)
            self.subsidies[fam] = Subsidy(fam, params[amount], params[budget] * 1e6, first, last)
        # Phase-in levers: explicit schedule, else a ramp from the neutral value to the scenario's value.
        self.ramps: dict[str, Schedule] = {}
        for name, p in REGISTRY.items():
            if p.kind != "lever" or not p.extra.get("phase_in"):
                continue
            if name in spec.schedules:
                self.ramps[name] = Schedule.shared(spec.schedules[name])
            else:
                self.ramps[name] = Schedule.shared([(spec.start_year, p.default), (spec.target_year, params[name])])
        self._base_re_mw = sum(u.capacity_mw for u in model.inputs.power.units if u.technology in ("wind", "solar"))
        """The scenario's base-year wind+solar MW, where the path to the capacity target starts."""
        self.export_cut_mw = 0.0
        self.mandate_switches: dict[str, int] = {}
        self._carbon_prices = self.carbon.prices

    def value(self, name: str, year: int) -> float:
        """A lever's value in ``year`` (phase-in levers follow their schedule)."""
        ramp = self.ramps.get(name)
        return ramp(year) if ramp is not None else self.params[name]

    # ---------------------------------------------------------------- prices and support
    def carbon_price(self, sector: str, year: int) -> float:
        """CNY/t that ``sector``'s decisions see in ``year`` (0 where not covered).

        Read from what the (shared) carbon price remembers per (sector, year): every price and cost in the model
        asks for it, and the path and coverage are fixed for the run when this policy set is built.
        """
        price = self._carbon_prices.get((sector, year))
        if price is None:
            price = self.carbon.price_for(sector, year)
        return price

    def pass_through(self) -> float:
        return self.params["carbon_pass_through_share"]

    def abatement_support_cny_per_t(self, kind: str, year: int) -> float:
        if kind.startswith("ccus"):
            return self.subsidies["ccus"].rate(year)
        if kind == "green_h2":
            return self.subsidies["green_h2"].rate(year) * 1e3 / SMR_CO2_T_PER_T_H2
        return 0.0

    def pv_subsidy_cny_per_w(self, year: int) -> float:
        return self.subsidies["rooftop_pv"].rate(year)

    def heating_subsidy_cny_per_m2(self, year: int) -> np.ndarray:
        from agents.buildings import HEAT_PUMP, HEATING_SYSTEMS

        out = np.zeros(len(HEATING_SYSTEMS))
        out[HEAT_PUMP] = self.subsidies["heat_pump"].rate(year)
        return out

    def retrofit_subsidy_cny_per_m2(self, year: int) -> float:
        return self.subsidies["retrofit"].rate(year)

    def ev_subsidy_cny_per_vehicle(self, year: int) -> float:
        """EV purchase subsidy (CNY per battery-electric or fuel-cell vehicle) offered in ``year``."""
        return self.subsidies["ev"].rate(year)

    def vehicle_subsidy_matrix(self, year: int) -> np.ndarray:
        """The EV subsidy by segment x powertrain (CNY per vehicle)."""
        from agents.vehicles import EV_SUBSIDISED, POWERTRAINS, SEGMENTS

        out = np.zeros((len(SEGMENTS), len(POWERTRAINS)))
        out[:, EV_SUBSIDISED] = self.ev_subsidy_cny_per_vehicle(year)
        return out

    def transit_service_utils(self, year: int) -> float:
        return self.value("transit_service_improvement_utils", year)

    def industry_electrification_share(self, year: int) -> float:
        """Extra share of industrial fuel use electrified by ``year`` (cumulative from the start year)."""
        years = max(year - self.spec.start_year + 1, 0)
        return self.params["industry_electrification_extra_pct_pts_per_yr"] / 100 * years

    def efficiency_extra_factor(self, year: int) -> float:
        """Multiplier (<= 1) on energy use from equipment standards tightened since the start year."""
        years = max(year - self.spec.start_year + 1, 0)
        return (1 - self.params["efficiency_standard_extra_pct_per_yr"] / 100) ** years

    # ---------------------------------------------------------------- constraints
    def required_re_build_mw(self, year: int, model: CityModel) -> float:
        """Wind+solar MW the city lacks this year, before this year's build, to stay on a linear path to the
        2030 capacity target (and at the target after 2030, so retirements are replaced).

        It is a floor on the total: the developer counts its market build of either technology against it
        and builds only the rest (see :meth:`agents.power.RenewableDeveloper.step`).
        """
        target_mw = self.params["renewable_capacity_target_gw_2030"] * 1e3
        if target_mw <= 0 or year < self.spec.start_year:
            return 0.0
        base = model.inputs.base_year
        base_mw = self._base_re_mw
        frac = min((year - base) / max(2030 - base, 1), 1.0)
        path_mw = base_mw + (target_mw - base_mw) * frac
        have = sum([u.capacity_mw for tech in ("wind", "solar") for u in model.fleet.get(tech, ())])
        return max(path_mw - have, 0.0)

    def refinery_chemicals_share(self, refinery: Refinery, year: int) -> float:
        shift = self.value("refinery_chemicals_shift_pct_pts", year) / 100
        return min(refinery.spec.chemicals_share + shift, 0.9)

    def coal_retrofit_mandated(self, year: int) -> bool:
        return year >= self.params["coal_retrofit_mandate_year"]

    def ccus_mandated(self, year: int) -> bool:
        return year >= self.params["ccus_mandate_year"]

    def export_limit_mw(self, limit_mw: float) -> float:
        return max(limit_mw - self.export_cut_mw, 0.0)

    def apply_vehicle_mandates(
        self, pop: Vehicles, rows: np.ndarray, choice: np.ndarray, year: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Purchases ``rows`` of ``pop`` (choices ``choice``) after this run's segment sales mandates
        (:meth:`apply_vehicle_mandates_to_members` with this run alone; picks drawn from ``rng``)."""
        if max(self.value(lever, year) for lever in SEGMENT_MANDATES.values()) <= 0:
            return choice
        return PolicySet.apply_vehicle_mandates_to_members(
            [self], pop.live("segment")[rows], [0, len(rows)], choice, pop.available, year, [rng]
        )

    @staticmethod
    def apply_vehicle_mandates_to_members(
        policies: Sequence[PolicySet],
        segment: np.ndarray,
        bounds: Sequence[int],
        choice: np.ndarray,
        available: np.ndarray,
        year: int,
        rngs: Sequence[np.random.Generator],
    ) -> np.ndarray:
        """The segment sales mandates of several runs (members), applied to their year's purchases at once.

        Member ``m``'s purchases are positions ``bounds[m]:bounds[m + 1]`` of ``segment`` and ``choice``. For
        each member and mandated segment, in the order of ``SEGMENT_MANDATES``, enough non-electric purchases
        are switched to electric (BEV, or FCEV where the segment has no BEV) to meet the member's own mandate,
        by the rule of :func:`enforce_share`: the member's ``rngs[m]`` permutes the segment's non-compliant
        purchases and the first ones it needs are switched; they are counted in that member's policies, so
        each member gets exactly what its own run gets. Segments are disjoint, so switching buyers of one
        segment leaves the others' compliance as it was. Returns the choices (a new array if any changed).

        Why: at coarse resolution a member buys a few dozen vehicles a year, and testing each member's and
        segment's compliance in turn, then masking its purchases again in ``enforce_share``, cost more than
        its purchases. The shortfalls and the non-compliant candidates are found for all members at once;
        per shortfall there remain the member's permutation (``rng.permutation`` of a count permutes as it
        would the candidates themselves: the same swaps) and the switch.
        """
        from agents.vehicles import ELECTRIC, POWERTRAINS, SEGMENTS

        levers = list(SEGMENT_MANDATES.values())
        values = [[p.value(lever, year) for lever in levers] for p in policies]
        if max(map(max, values)) <= 0:
            return choice
        shares = np.array(values)
        codes = [SEGMENTS.index(name) for name in SEGMENT_MANDATES]
        # Purchases and compliant purchases per member x mandate (the last column: segments without one).
        L = len(levers)
        cells = len(policies) * (L + 1)
        column = np.full(len(SEGMENTS), L)
        column[codes] = np.arange(L)
        cell = column[segment]
        if len(policies) > 1:
            cell += np.repeat(np.arange(len(policies)) * (L + 1), np.diff(bounds))
        compliant = ELECTRIC[choice]
        bought = np.bincount(cell, minlength=cells).reshape(-1, L + 1)[:, :L]
        met = np.bincount(cell, weights=compliant, minlength=cells).reshape(-1, L + 1)[:, :L]
        # enforce_share's shortfall (never positive without purchases or without a mandate: ceil <= 0)
        need = np.ceil(shares * bought - 1e-9) - met
        short = need > 0
        if not short.any():
            return choice
        # Non-compliant purchases of the short member x mandate cells, cell by cell, each in purchase order.
        short_cells = np.zeros((len(policies), L + 1), dtype=bool)
        short_cells[:, :L] = short
        candidates = np.flatnonzero(short_cells.reshape(-1)[cell] & ~compliant)
        candidates = candidates[np.argsort(cell[candidates], kind="stable")]
        ends = np.cumsum(np.bincount(cell[candidates], minlength=cells)).tolist()
        bev = POWERTRAINS.index("bev")
        fcev = POWERTRAINS.index("fcev")
        out = choice.copy()
        for m, j in zip(*np.nonzero(short), strict=True):  # member by member, segments in mandate order
            c = m * (L + 1) + j
            own = candidates[ends[c - 1] if c else 0 : ends[c]]
            picked = own[rngs[m].permutation(len(own))[: int(need[m, j])]]
            out[picked] = bev if available[codes[j], bev] else fcev
            p = policies[m]
            p.mandate_switches[levers[j]] = p.mandate_switches.get(levers[j], 0) + len(picked)
        return out

    def apply_heating_mandates(
        self, pop: Buildings, rows: np.ndarray, choice: np.ndarray, year: int, rng: np.random.Generator
    ) -> np.ndarray:
        from agents.buildings import ELECTRIC_BOILER, HEAT_PUMP

        share = self.value("electric_heating_share_of_installs", year)
        if share <= 0:
            return choice
        electric = (choice == ELECTRIC_BOILER) | (choice == HEAT_PUMP)
        replacement = HEAT_PUMP if pop.offered[HEAT_PUMP] else ELECTRIC_BOILER
        choice, n = enforce_share(rng, choice, np.ones(len(rows), dtype=bool), electric, share, replacement)
        if n:
            self.mandate_switches["electric_heating_share_of_installs"] = (
                self.mandate_switches.get("electric_heating_share_of_installs", 0) + n
            )
        return choice

    @staticmethod
    def apply_heating_mandates_to_members(
        policies: Sequence[PolicySet],
        counts: Sequence[int],
        choice: np.ndarray,
        floor_m2: np.ndarray,
        heat_pump_offered: bool,
        weights: Sequence[float],
        year: int,
        rngs: Sequence[np.random.Generator],
    ) -> np.ndarray:
        """The electric-heating installation mandate and the heat-pump subsidy of several runs (members),
        applied to their year's heating-system purchases at once.

        Member ``m``'s purchases are the next ``counts[m]`` entries of ``choice`` (and of ``floor_m2``, the
        buildings' floor area). Each member gets what :meth:`apply_heating_mandates` then
        :meth:`record_heating_purchases` give its own run: its mandate switches enough non-electric
        purchases (its ``rngs[m]`` permutes them, as in :func:`enforce_share`) to a heat pump (an electric
        boiler where heat pumps are not offered), and its subsidy pays for its heat-pump floor area (summed
        over its own purchases in order). Returns the choices (a new array if any changed).

        Why: a member replaces a few dozen heating systems a year at coarse resolution, so the calls per
        member cost more than its purchases; compliance is counted for all members at once, and members
        that meet the mandate, or buy no heat pump, need nothing more.
        """
        from agents.buildings import ELECTRIC_BOILER, HEAT_PUMP

        lever = "electric_heating_share_of_installs"
        bounds = list(itertools.accumulate(counts, initial=0))
        member = np.repeat(np.arange(len(counts)), counts)
        out = choice
        shares = [p.value(lever, year) for p in policies]
        if max(shares) > 0:
            electric = (choice == ELECTRIC_BOILER) | (choice == HEAT_PUMP)
            met = np.bincount(member, weights=electric, minlength=len(counts)).tolist()
            replacement = HEAT_PUMP if heat_pump_offered else ELECTRIC_BOILER
            for m, (share, k) in enumerate(zip(shares, counts, strict=True)):
                if share <= 0 or k == 0:
                    continue
                need = math.ceil(share * k - 1e-9) - int(met[m])
                if need <= 0:
                    continue
                start = bounds[m]
                candidates = (~electric[start : start + k]).nonzero()[0] + start
                picked = candidates[rngs[m].permutation(len(candidates))[:need]]
                if out is choice:
                    out = choice.copy()
                out[picked] = replacement
                if len(picked):
                    p = policies[m]
                    p.mandate_switches[lever] = p.mandate_switches.get(lever, 0) + len(picked)
        heat_pump = out == HEAT_PUMP
        bought = np.bincount(member, weights=heat_pump, minlength=len(counts))
        for m in np.flatnonzero(bought).tolist():
            part = slice(bounds[m], bounds[m + 1])
            m2 = float(np.add.reduce(floor_m2[part][heat_pump[part]])) * weights[m]  # ndarray.sum's own sum
            p = policies[m]
            p._book("heat_pump_subsidy", "fiscal_cost_cny", year, p.subsidies["heat_pump"].pay(m2, year))
        return out

    # ---------------------------------------------------------------- fiscal records
    def _book(self, lever: str, item: str, year: int, cny: float) -> None:
        if cny:
            self._policy_cells[(lever, item)][year - self._base_year] += cny

    def record_vehicle_purchases(self, pop: Vehicles, rows: np.ndarray, choice: np.ndarray, year: int) -> None:
        from agents.vehicles import POWERTRAINS

        n = float(((choice == POWERTRAINS.index("bev")) | (choice == POWERTRAINS.index("fcev"))).sum()) * pop.weight
        self.record_ev_purchases(n, year)

    def record_ev_purchases(self, vehicles: float, year: int) -> None:
        """Pay (and book) the EV purchase subsidy for ``vehicles`` battery-electric and fuel-cell vehicles (real
        vehicles, not agents) bought in ``year``; a vehicle stack counts its members' purchases at once."""
        self._book("ev_subsidy", "fiscal_cost_cny", year, self.subsidies["ev"].pay(vehicles, year))

    def record_heating_purchases(self, pop: Buildings, rows: np.ndarray, choice: np.ndarray, year: int) -> None:
        from agents.buildings import HEAT_PUMP

        m2 = float(pop.live("floor_m2")[rows][choice == HEAT_PUMP].sum()) * pop.weight
        self._book("heat_pump_subsidy", "fiscal_cost_cny", year, self.subsidies["heat_pump"].pay(m2, year))

    def record_retrofits(self, floor_m2: float, year: int, cost_cny_per_m2: float = 0.0) -> None:
        self._book("retrofit_subsidy", "fiscal_cost_cny", year, self.subsidies["retrofit"].pay(floor_m2, year))
        self._book("building_retrofits", "private_cost_cny", year, floor_m2 * cost_cny_per_m2)

    def record_pv_adoptions(self, kw: float, year: int) -> None:
        self._book("rooftop_pv_subsidy", "fiscal_cost_cny", year, self.subsidies["rooftop_pv"].pay(kw * 1e3, year))

    def record_abatement_cost(self, kind: str, cny: float, year: int) -> None:
        self._book(f"refinery_{kind}", "private_cost_cny", year, cny)

    def record_green_h2(self, tonnes_h2: float, year: int) -> None:
        self._book("green_h2_subsidy", "fiscal_cost_cny", year, self.subsidies["green_h2"].pay(tonnes_h2 * 1e3, year))

    def record_capture(self, tonnes: float, year: int) -> None:
        self._book("ccus_subsidy", "fiscal_cost_cny", year, self.subsidies["ccus"].pay(tonnes, year))

    def record_private_cost(self, lever: str, cny: float, year: int) -> None:
        self._book(lever, "private_cost_cny", year, cny)

    def record_afforestation(self, cny: float, year: int) -> None:
        self._book("afforestation", "fiscal_cost_cny", year, cny)

    def record_coal_retrofit(self, cny: float, year: int) -> None:
        self._book("coal_retrofits", "private_cost_cny", year, cny)

    def end_of_year(self, y: int) -> None:
        """Book carbon revenue, mandate compliance and the emissions cap's response for next year."""
        m = self.model
        year = m.year
        co2 = m.ledger.direct_co2_by_sector_t(y)
        self._book("carbon_price", "revenue_cny", year, self.carbon.total_revenue_cny(year, co2.tolist()))
        cap_mt = self.params["emissions_cap_mt"]
        if year >= self.spec.emissions_cap_start_year and cap_mt < 100:
            excess_t = co2.sum() - cap_mt * 1e6
            # Administrative curtailment of coal exports (dual control): cut the export ties by the MW of
            # coal output that would emit the excess, assuming 0.83 t/MWh; relax when under the cap.
            self.export_cut_mw = max(self.export_cut_mw + excess_t / (0.83 * 8760.0), 0.0)
