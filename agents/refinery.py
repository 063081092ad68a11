"""Refineries: throughput, product slate, combustion and process CO2, and abatement decisions.

Emission sources per tonne of crude: fired heaters on refinery gas and natural gas, FCC regenerator coke
burn (booked as petroleum coke), grey hydrogen by steam methane reforming (natural gas feed and fuel), and
purchased electricity. Dushanzi also runs a steam cracker, booked to ``petrochemicals``. The base-year
intensities in the scenario are calibrated to the Tsinghua figure for Chinese refineries of 405 kg CO2e per
tonne of crude (range 270-659), see ``docs/calibration.md``. The green-hydrogen option's electrolysers run on
their own wind and solar (as the city's green-hydrogen plants do), so they add no load to the city grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.constants import EMISSION_FACTOR_T_PER_TJ

if TYPE_CHECKING:
    from sim.inputs import AbatementOptionSpec, RefinerySpec

    from sim.model import CityModel

ELECTROLYSER_MWH_PER_T_H2 = 55.0
"""Alkaline electrolysis system use, ~55 kWh/kg H2 (assumption: typical 2024 system figure)."""
CAPTURE_ELECTRICITY_MWH_PER_T = {"ccus_smr": 0.12, "ccus_fcc": 0.15}
"""Compression and auxiliaries (assumption); FCC flue gas also needs solvent-regeneration steam."""
CAPTURE_STEAM_GJ_PER_T = {"ccus_smr": 0.0, "ccus_fcc": 2.6}
"""Amine regeneration heat for dilute flue gas, ~2.6 GJ/t CO2 (assumption); SMR syngas is a pure stream."""
ELECTRIC_HEAT_RATIO = 0.9 / 0.98
"""Electricity per unit of fired-heater fuel replaced: furnace efficiency 0.9 vs electric 0.98 (assumption)."""
_EF_REFINERY_GAS_T_PER_TJ = EMISSION_FACTOR_T_PER_TJ["refinery_gas"]
_EF_NATURAL_GAS_T_PER_TJ = EMISSION_FACTOR_T_PER_TJ["natural_gas"]
_EF_PETROLEUM_COKE_T_PER_TJ = EMISSION_FACTOR_T_PER_TJ["petroleum_coke"]
_EF_NATURAL_GAS_T_PER_GJ = _EF_NATURAL_GAS_T_PER_TJ / 1e3
_OFFGRID_RE = ("refining", "offgrid_re_mwh")
"""Stock of the wind and solar output the refineries' own electrolysers use (MWh a year), off the city grid."""


class Refinery(mesa.Agent):
    """A refinery that adopts abatement options when carbon price plus support beats their cost.

    Each option's cost carries a site factor drawn once per run (lognormal, sd 0.15): plants differ, and
    this is the stochastic part of the decision. Options are ranked by cost; those whose cost is at or
    below the effective support are started while the year's capital budget lasts (capex is spread over
    the lead time), and take effect after their lead time.
    """

    def __init__(self, model: CityModel, spec: RefinerySpec, rng: np.random.Generator):
        super().__init__(model)
        self.spec = spec
        self.name = spec.name
        self.crude_run_mt = spec.crude_run_mt
        self.chemicals_share = spec.chemicals_share
        self.site_cost_factor = {o.name: float(np.exp(rng.normal(0.0, 0.15))) for o in spec.options}
        self.started: dict[str, int] = {}
        self.effective: dict[str, int] = {}
        self.last_emissions_by_stream_t: dict[str, float] = {}
        self.last_option_cost: dict[str, float] = {}
        self.start_cost: dict[str, float] = {}
        for o in spec.options:
            if o.in_service_year is not None:
                self.started[o.name] = min(o.in_service_year, model.inputs.base_year)
                self.effective[o.name] = o.in_service_year
                self.start_cost[o.name] = o.cost_cny_per_t_co2
        """Abatement cost (CNY/t CO2) of each option when it was started; booked on the tonnes it abates."""
        self._mandatable = [o for o in spec.options if o.kind == "ccus_smr"]
        """The options a CCUS mandate can order (the hydrogen units' capture)."""
        self._unabated_fired_kg_co2_per_t_crude = (
            spec.refinery_gas_gj_per_t * _EF_REFINERY_GAS_T_PER_TJ
            + spec.natural_gas_gj_per_t * _EF_NATURAL_GAS_T_PER_TJ
        )
        """Fired-heater CO2 per tonne of crude before efficiency and electrification (before the slate premium);
        fixed for the run, so folded once."""
        self._last_in_effect: list[AbatementOptionSpec] = []
        self._last_shares: dict[str, float] = {}
        """The options in effect at the last account and their :meth:`shares`: they change in a few years only."""

    def option_cost_cny_per_t(self, option: AbatementOptionSpec, year: int) -> float:
        decline = (1 - option.cost_decline_pct_per_yr / 100) ** (year - self.model.inputs.base_year)
        return option.cost_cny_per_t_co2 * decline * self.site_cost_factor[option.name]

    def in_effect(self, year: int) -> list[AbatementOptionSpec]:
        """The options in effect in ``year``, in the scenario's order."""
        effective = self.effective
        return [o for o in self.spec.options if effective.get(o.name, 9999) <= year]

    def step(self) -> None:
        m = self.model
        year = m.year
        growth = m.params["refinery_throughput_growth_pct_per_yr"] / 100
        self.crude_run_mt = min(
            self.spec.crude_run_mt * (1 + growth) ** (year - m.inputs.base_year), self.spec.capacity_mt
        )
        self.chemicals_share = m.policies.refinery_chemicals_share(self, year)
        policies = m.policies
        carbon = policies.carbon_price("refining", year)
        budget = self.spec.annual_capital_budget_mcny * 1e6
        candidates = []
        started = self.started
        years = year - m.inputs.base_year
        for o in self.spec.options:
            if o.name in started:
                continue
            # option_cost_cny_per_t, inlined (the same operations): it is weighed for every option not started yet
            decline = (1 - o.cost_decline_pct_per_yr / 100) ** years
            cost = o.cost_cny_per_t_co2 * decline * self.site_cost_factor[o.name]
            self.last_option_cost[o.name] = cost
            support = carbon + policies.abatement_support_cny_per_t(o.kind, year)
            if cost <= support:
                candidates.append((cost, o))
        candidates.sort(key=lambda t: t[0])
        for o in self._mandatable:
            # A CCUS mandate starts the hydrogen-unit capture project in time to be in service by its date,
            # whatever it costs and outside the capital budget (it is an order, not an investment choice).
            if o.name not in self.started and m.policies.ccus_mandated(year + o.lead_time_yr):
                self.started[o.name] = year
                self.effective[o.name] = year + o.lead_time_yr
                self.start_cost[o.name] = self.option_cost_cny_per_t(o, year)
        for _cost, o in candidates:
            if o.name in self.started:
                continue
            stream = self.last_emissions_by_stream_t.get(_STREAM[o.kind], 0.0)
            # Capital is spent over the lead time, so the budget limits the yearly outlay.
            capex = o.capex_cny_per_t_co2_yr * stream * o.potential_share / max(o.lead_time_yr, 1)
            if capex > budget:
                continue
            budget -= capex
            self.started[o.name] = year
            self.effective[o.name] = year + o.lead_time_yr
            self.start_cost[o.name] = _cost

    def account(self, y: int) -> float:
        """Book this year's energy, process CO2 and capture; return electricity use (MWh)."""
        m = self.model
        year = m.year
        s = self.spec
        crude_t = self.crude_run_mt * 1e6
        slate = 1.0 + s.chemicals_energy_premium * (self.chemicals_share - s.chemicals_share)
        in_effect = self.in_effect(year)
        if in_effect != self._last_in_effect:
            self._last_in_effect, self._last_shares = in_effect, _shares(in_effect)
        shares = self._last_shares
        eff = 1.0 - shares.get("efficiency", 0.0)
        elec_heat = shares.get("electrified_heat", 0.0)
        fired_rg_gj = crude_t * s.refinery_gas_gj_per_t * slate * eff
        fired_ng_gj = crude_t * s.natural_gas_gj_per_t * slate * eff
        coke_gj = crude_t * s.petroleum_coke_gj_per_t
        electricity_mwh = crude_t * s.electricity_kwh_per_t * slate / 1e3
        electricity_mwh += (fired_rg_gj + fired_ng_gj) * elec_heat * ELECTRIC_HEAT_RATIO / 3.6
        fired_rg_gj *= 1 - elec_heat
        fired_ng_gj *= 1 - elec_heat

        h2_t = crude_t * s.hydrogen_t_per_t_crude * slate
        green = shares.get("green_h2", 0.0)
        m.policies.record_green_h2(h2_t * green, year)
        # Hydrogen bought from the city's green plants replaces SMR output after the refinery's own electrolysis.
        bought_t = m.hydrogen_market.take(h2_t * (1 - green))
        smr_gas_gj = (h2_t * (1 - green) - bought_t) * s.smr_gas_gj_per_t_h2
        # The electrolysers run on their own wind and solar, as the option's cost assumes (its source in the
        # scenario) and as the city's green-hydrogen plants do: drawn from the grid, where coal sets the margin,
        # 55 MWh a tonne would emit several times the SMR CO2 it replaces. Reported as off-grid.
        m.ledger.series_cells("stocks")[_OFFGRID_RE][y] += h2_t * green * ELECTROLYSER_MWH_PER_T_H2

        ef_gas = _EF_NATURAL_GAS_T_PER_GJ
        smr_co2 = smr_gas_gj * ef_gas
        fcc_co2 = coke_gj * _EF_PETROLEUM_COKE_T_PER_TJ / 1e3
        captured = 0.0
        extra_gas_gj = 0.0
        for kind, stream_co2 in (("ccus_smr", smr_co2), ("ccus_fcc", fcc_co2)):
            c = stream_co2 * shares.get(kind, 0.0)
            if m.ccus_network is not None:  # capture runs only as far as the network can take the CO2
                c = m.ccus_network.request(c)
            captured += c
            electricity_mwh += c * CAPTURE_ELECTRICITY_MWH_PER_T[kind]
            extra_gas_gj += c * CAPTURE_STEAM_GJ_PER_T[kind]
        extra_gas_gj /= 0.9
        ledger = m.ledger
        ledger.add_energy(y, "refining", "refinery_gas", fired_rg_gj / 1e3)
        ledger.add_energy(y, "refining", "natural_gas", (fired_ng_gj + smr_gas_gj + extra_gas_gj) / 1e3)
        ledger.add_energy(y, "refining", "petroleum_coke", coke_gj / 1e3)
        ledger.add_energy(y, "refining", "electricity", electricity_mwh * 3.6 / 1e3)
        ledger.add_captured(y, "refining", captured)
        m.policies.record_capture(captured, year)

        fired_co2 = fired_rg_gj * _EF_REFINERY_GAS_T_PER_TJ / 1e3 + fired_ng_gj * ef_gas
        self.last_emissions_by_stream_t = {"fired": fired_co2, "smr": smr_co2, "fcc": fcc_co2}
        # Private abatement cost: each option in service abates its potential share of its stream before
        # abatement (fired heat and hydrogen streams are rebuilt without options), at its cost when started.
        if in_effect:
            pre = {
                "fired": crude_t * slate * self._unabated_fired_kg_co2_per_t_crude / 1e3,
                "smr": h2_t * s.smr_gas_gj_per_t_h2 * ef_gas,
                "fcc": fcc_co2,
            }
            for o in in_effect:
                abated = pre[_STREAM[o.kind]] * o.potential_share
                m.policies.record_abatement_cost(o.kind, abated * self.start_cost.get(o.name, 0.0), year)

        if s.ethylene_mt > 0:
            cracker_gj = s.ethylene_mt * 1e6 * s.cracker_fuel_gj_per_t_ethylene * eff
            ledger.add_energy(y, "petrochemicals", "refinery_gas", cracker_gj / 1e3)
        return electricity_mwh


_STREAM = {
    "efficiency": "fired",
    "electrified_heat": "fired",
    "green_h2": "smr",
    "ccus_smr": "smr",
    "ccus_fcc": "fcc",
}


def _shares(in_effect: list[AbatementOptionSpec]) -> dict[str, float]:
    """Share of the targeted stream abated by the options ``in_effect``, by kind of option (kinds with none
    in effect are absent), summed option by option in the scenario's order and capped at 1."""
    totals: dict[str, float] = {}
    for o in in_effect:
        totals[o.kind] = totals.get(o.kind, 0.0) + o.potential_share
    return {kind: min(total, 1.0) for kind, total in totals.items()}
