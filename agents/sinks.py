"""Carbon sinks: shelterbelt afforestation and urban greening.

Removals are reported apart from gross emissions (net and gross are both shown). New plantings reach their
full sequestration rate after ``MATURITY_YEARS`` (linear ramp): young shelterbelt poplars in the arid
Junggar basin take several years to close canopy (assumption).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from sim.model import CityModel
    from sim.scenario import SinkSpec

MATURITY_YEARS = 5


class CarbonSink(mesa.Agent):
    def __init__(self, model: CityModel, spec: SinkSpec):
        super().__init__(model)
        self.spec = spec
        self.plantings: list[tuple[int, float]] = []

    def step(self) -> None:
        """Plant this year's hectares of the afforestation lever and pay for planting and upkeep.

        The programme pays establishment for the new hectares and yearly upkeep (irrigation, care) for all
        hectares planted since it started; both are the lever's fiscal cost, so its cost per tonne removed
        can be compared with the other levers'.
        """
        m = self.model
        year = m.year
        earlier_ha = sum(h for _, h in self.plantings)
        ha = m.params["afforestation_ha_per_yr"]
        new_ha = ha if ha > 0 and year >= m.inputs.policies.start_year else 0.0
        if new_ha:
            self.plantings.append((year, new_ha))
        cost = new_ha * self.spec.planting_cny_per_ha + earlier_ha * self.spec.upkeep_cny_per_ha_yr
        m.policies.record_afforestation(cost, year)

    def removals_t(self, year: int) -> float:
        s = self.spec
        factor = self.model.params["sink_rate_factor"]
        base = s.shelterbelt_ha * s.shelterbelt_t_co2_per_ha_yr + s.greening_ha * s.greening_t_co2_per_ha_yr
        new = sum(ha * min((year - y0) / MATURITY_YEARS, 1.0) for y0, ha in self.plantings)
        return (base + new * s.shelterbelt_t_co2_per_ha_yr) * factor

    def account(self, y: int) -> None:
        m = self.model
        m.ledger.sink_co2_t[y] += self.removals_t(m.year)
        m.ledger.add_series(m.ledger.stocks, ("sinks", "planted_ha"), y, sum(ha for _, ha in self.plantings))
