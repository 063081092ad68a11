"""Oilfield blocks: heavy-oil thermal recovery, conventional production, steam electrification, PV for oil.

Karamay's heavy oil is produced by steam injection (steam flooding / SAGD) with gas-fired once-through
steam generators: the largest single use of gas in the city. Each block agent has an oil output path,
steam and other energy per tonne of oil, and decides each year whether to electrify more of its steam
(electric boilers with thermal storage on renewable power) when that is cheaper than gas plus any carbon
price. Mandated electrification and "PV + oil extraction" (光伏+采油) come from the levers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.constants import EMISSION_FACTOR_T_PER_TJ

if TYPE_CHECKING:
    from sim.model import CityModel
    from sim.scenario import OilfieldBlockSpec

GAS_STEAM_EFFICIENCY = 0.92
"""Once-through steam generators (assumption)."""
ELECTRIC_STEAM_EFFICIENCY = 0.98
ELECTRIC_STEAM_CAPEX_CNY_PER_GJ = 10.4
"""Annualised electric boiler + thermal storage cost per GJ of steam: 1,500 CNY/kW_th, CRF 0.1, 4,000 h/yr
(assumption)."""
MAX_ELECTRIFICATION_STEP = 0.05
"""Most of a block's steam that can be switched in one year (construction limits; assumption)."""
PV_FOLLOWING_LOAD_SHARE = 0.6
"""Share of a block's electricity that can be scheduled within the day to run on its own PV ("PV + oil
extraction", 光伏采油): pump jacks of intermittently pumped wells, which run a few hours a day anyway, run
while the sun shines; water injection draws from buffer tanks; electric steam generators charge thermal
storage. So the PV's output replaces grid power those loads drew around the clock, not only at midday, when
the grid is most often in surplus. Assumption: artificial lift and water injection are commonly put at well
over half of a Chinese waterflood field's power use, and not every well can be rescheduled; the
pv_for_oil_share lever tops out at the same 0.6."""


class OilfieldBlock(mesa.Agent):
    """A group of oilfield blocks with a common recovery method."""

    def __init__(self, model: CityModel, spec: OilfieldBlockSpec, rng: np.random.Generator):
        super().__init__(model)
        self.spec = spec
        self.name = spec.name
        self.oil_mt = spec.oil_mt
        self.electric_steam_share = 0.0
        self.site_cost_factor = float(np.exp(rng.normal(0.0, 0.15)))
        self._steam_costs: tuple[int, float, float] | None = None
        """(year, gas, electric) steam costs of the last step: the year's account books the same year's."""

    def steam_costs_cny_per_gj(self, year: int) -> tuple[float, float]:
        """(gas, electric) cost per GJ of steam this year, with the carbon price where industry is covered."""
        m = self.model
        carbon = m.policies.carbon_price("industry", year)
        gas = m.fuel_price_cny_per_gj("natural_gas", year) + carbon * EMISSION_FACTOR_T_PER_TJ["natural_gas"] / 1e3
        gas /= GAS_STEAM_EFFICIENCY
        power = m.regional_price_cny_per_mwh(year) * m.inputs.power.renewable_price_factor / 3.6
        electric = power / ELECTRIC_STEAM_EFFICIENCY + ELECTRIC_STEAM_CAPEX_CNY_PER_GJ * self.site_cost_factor
        return gas, electric

    def step(self) -> None:
        m = self.model
        year = m.year
        growth = m.params["oilfield_output_growth_pct_per_yr"] / 100
        self.oil_mt = self.spec.oil_mt * (1 + growth) ** (year - m.inputs.base_year)
        if self.spec.steam_gas_gj_per_t_oil <= 0:
            return
        gas, electric = self.steam_costs_cny_per_gj(year)
        self._steam_costs = (year, gas, electric)
        target = m.policies.value("oilfield_steam_electrification_share", year)
        if electric < gas:
            target = max(target, min(self.electric_steam_share + MAX_ELECTRIFICATION_STEP, 1.0))
        self.electric_steam_share = max(self.electric_steam_share, min(target, 1.0))

    def account(self, y: int) -> dict[str, float]:
        """Book this year's fuel; return electricity use (MWh), the part of it that can follow the block's own
        PV within the day (MWh) and the captive PV capacity it asks for (MW).

        Captive PV is sized so that its output is the PV share of the block's electricity use. Its output
        serves the block behind the meter first (see :func:`agents.power.dispatch`), so it lowers what the
        block draws from the grid; the block's final electricity use (booked here) is unchanged.
        """
        m = self.model
        s = self.spec
        oil_t = self.oil_mt * 1e6
        steam_gj = oil_t * s.steam_gas_gj_per_t_oil * GAS_STEAM_EFFICIENCY
        gas_gj = steam_gj * (1 - self.electric_steam_share) / GAS_STEAM_EFFICIENCY + oil_t * s.other_gas_gj_per_t_oil
        electricity_mwh = oil_t * s.electricity_kwh_per_t_oil / 1e3
        electricity_mwh += steam_gj * self.electric_steam_share / ELECTRIC_STEAM_EFFICIENCY / 3.6
        m.ledger.add_energy(y, "oilfield", "natural_gas", gas_gj / 1e3)
        if self.electric_steam_share > 0:
            costs = self._steam_costs
            if costs is not None and costs[0] == m.year:
                _, gas_cost, electric_cost = costs
            else:
                gas_cost, electric_cost = self.steam_costs_cny_per_gj(m.year)
            m.policies.record_private_cost(
                "oilfield_steam_electrification",
                steam_gj * self.electric_steam_share * (electric_cost - gas_cost),
                m.year,
            )
        m.ledger.add_energy(y, "oilfield", "diesel", oil_t * s.diesel_gj_per_t_oil / 1e3)
        m.ledger.add_energy(y, "oilfield", "electricity", electricity_mwh * 3.6 / 1e3)
        pv_share = max(s.captive_pv_share, m.policies.value("pv_for_oil_share", m.year))
        pv_mw = pv_share * electricity_mwh / (m.params["solar_capacity_factor"] * 8760.0)
        return {
            "electricity_mwh": electricity_mwh,
            "pv_following_mwh": PV_FOLLOWING_LOAD_SHARE * electricity_mwh,
            "captive_pv_mw": pv_mw,
        }
