"""Municipal solid waste: household sorting, recycling, incineration with power recovery, landfill methane.

Households decide whether to sort their waste (a per-agent choice with neighbours' habits and the sorting
campaign lever; see :mod:`agents.households`). The city's waste operator expands incineration capacity
(in 50 kt/yr lines, two years to build) while landfill takes more than the target allows. Landfill
methane uses the IPCC Tier 1 mass-balance (methane commitment in the year of disposal) with the plant's gas
capture, reported as CO2e at the AR6 GWP; incineration emits the fossil carbon of plastics as CO2 and
exports electricity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.constants import GWP100_CH4, SECTOR_INDEX

if TYPE_CHECKING:
    from sim.model import CityModel
    from sim.scenario import WasteSpec

LINE_KT = 50.0
BUILD_YEARS = 2
RECYCLABLE_FRACTION_OF_SORTED = 0.3
"""Share of a sorting household's waste that is recycled (paper, plastics, metal, glass; assumption)."""


class WasteOperator(mesa.Agent):
    def __init__(self, model: CityModel, spec: WasteSpec):
        super().__init__(model)
        self.spec = spec
        self.incinerator_kt = spec.incinerator_capacity_kt
        self.pipeline: list[tuple[int, float]] = []

    def waste_t(self, year: int) -> float:
        return self.model.population(year) * self.spec.kg_per_person_day * 365 / 1e3

    def step(self) -> None:
        m = self.model
        year = m.year
        for ready, kt in list(self.pipeline):
            if ready <= year:
                self.incinerator_kt += kt
                self.pipeline.remove((ready, kt))
        target = m.policies.value("waste_incineration_share_target", year)
        total_kt = self.waste_t(year) / 1e3
        planned = self.incinerator_kt + sum(kt for _, kt in self.pipeline)
        lines = int(np.floor((target * total_kt - planned) / LINE_KT + 0.5))  # build when short by half a line
        if lines > 0:
            self.pipeline.append((year + BUILD_YEARS, lines * LINE_KT))

    def account(self, y: int) -> float:
        """Book waste emissions; return electricity exported by incineration (MWh)."""
        m = self.model
        s = self.spec
        total = self.waste_t(m.year)
        sorting = m.households.sorting_share() if m.households is not None else s.sorting_share
        recycled = total * (s.recycling_share + sorting * RECYCLABLE_FRACTION_OF_SORTED)
        incinerated = min(self.incinerator_kt * 1e3, total - recycled)
        landfilled = total - recycled - incinerated
        ch4_t = landfilled * s.ch4_t_per_t_landfilled * (1 - s.landfill_gas_capture_share)
        ledger = m.ledger
        ledger.ch4_co2e_t[y, _WASTE] += ch4_t * GWP100_CH4
        ledger.add_process_co2(y, "waste", incinerated * s.incineration_fossil_co2_t_per_t)
        share = (recycled + incinerated) / total if total > 0 else 0.0
        ledger.series_cells("indicators")["waste_resource_utilisation_share"][y] += share
        stocks = ledger.series_cells("stocks")
        stocks[("waste", "landfilled_t")][y] += landfilled
        stocks[("waste", "incinerated_t")][y] += incinerated
        stocks[("waste", "recycled_t")][y] += recycled
        return incinerated * s.incineration_mwh_per_t


_WASTE = SECTOR_INDEX["waste"]
