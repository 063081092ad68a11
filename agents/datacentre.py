"""Data centres: racks, load and PUE, with cooling upgrades and green-power matching.

The China Mobile green computing centre in Karamay has ~14,000 racks (People's Daily 2024). Each data-centre
agent grows its racks, and upgrades cooling (free cooling in Karamay's climate) when the electricity saved
pays for the upgrade. A green-power lever makes operators contract new wind and solar matching a share of
their annual use; the developer builds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from agents.population import crf

if TYPE_CHECKING:
    from sim.model import CityModel
    from sim.scenario import DataCentreSpec

BEST_PUE = 1.15
COOLING_UPGRADE_CNY_PER_RACK = 20000.0
"""Indirect evaporative / free-air cooling retrofit per rack (assumption)."""
COOLING_UPGRADE_CRF = crf(0.08, 10)
"""Capital recovery factor of the cooling upgrade: 8% over 10 years (assumption)."""


class DataCentre(mesa.Agent):
    def __init__(self, model: CityModel, spec: DataCentreSpec):
        super().__init__(model)
        self.spec = spec
        self.name = spec.name
        self.racks = spec.racks if spec.commissioned <= model.inputs.base_year else 0.0
        self.pue = spec.pue
        self.upgraded_year: int | None = None

    def step(self) -> None:
        m = self.model
        year = m.year
        s = self.spec
        if year < s.commissioned:
            return
        g = m.params["data_centre_growth_pct_per_yr"] / 100
        years_on = year - max(s.commissioned, m.inputs.base_year)
        growth = (1 + g) ** min(years_on, 2040 - m.inputs.base_year) * 1.02 ** max(year - 2040, 0)
        self.racks = s.racks * growth
        if self.upgraded_year is None and self.pue > BEST_PUE:
            saved_mwh = self.racks * s.kw_per_rack * s.utilisation * (self.pue - BEST_PUE) * 8.76
            price = m.households_spec_power_price() * 0.7 * 1e3
            if saved_mwh * price > COOLING_UPGRADE_CNY_PER_RACK * self.racks * COOLING_UPGRADE_CRF:
                self.pue = BEST_PUE
                self.upgraded_year = year

    def electricity_mwh(self) -> float:
        s = self.spec
        return self.racks * s.kw_per_rack * s.utilisation * self.pue * 8.76

    def account(self, y: int) -> float:
        mwh = self.electricity_mwh()
        self.model.ledger.add_energy(y, "data_centres", "electricity", mwh * 3.6 / 1e3)
        return mwh
