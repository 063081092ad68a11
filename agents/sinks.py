"""Carbon sinks: shelterbelt afforestation and urban greening.

Removals are reported apart from gross emissions (net and gross are both shown). New plantings reach their
full sequestration rate after ``MATURITY_YEARS`` (linear ramp): young shelterbelt poplars in the arid
Junggar basin take several years to close canopy (assumption).
"""

from __future__ import annotations

import bisect
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
        """(year, hectares) of each year's new planting, in planting order."""
        self.planted_ha = 0.0
        """Hectares planted so far: the sum of :attr:`plantings`, in their order."""
        self._planting_years: list[int] = []
        self._cumulative_ha: list[float] = []
        """Hectares planted up to and including each planting (running sums, in planting order).

        Why: the plantings at full rate are the oldest ones, so their part of the removals is one of these
        sums (to the bit) instead of a loop over every planting each year."""

    def step(self) -> None:
        """Plant this year's hectares of the afforestation lever and pay for planting and upkeep.

        The programme pays establishment for the new hectares and yearly upkeep (irrigation, care) for all
        hectares planted since it started; both are the lever's fiscal cost, so its cost per tonne removed
        can be compared with the other levers'.
        """
        m = self.model
        year = m.year
        earlier_ha = self.planted_ha
        ha = m.params["afforestation_ha_per_yr"]
        new_ha = ha if ha > 0 and year >= m.inputs.policies.start_year else 0.0
        if new_ha:
            self.plantings.append((year, new_ha))
            self.planted_ha += new_ha
            self._planting_years.append(year)
            self._cumulative_ha.append(self.planted_ha)
        cost = new_ha * self.spec.planting_cny_per_ha + earlier_ha * self.spec.upkeep_cny_per_ha_yr
        m.policies.record_afforestation(cost, year)

    def removals_t(self, year: int) -> float:
        s = self.spec
        factor = self.model.params["sink_rate_factor"]
        base = s.shelterbelt_ha * s.shelterbelt_t_co2_per_ha_yr + s.greening_ha * s.greening_t_co2_per_ha_yr
        # Plantings at least MATURITY_YEARS old (the first ``mature`` ones) count in full, the rest pro rata.
        mature = bisect.bisect_right(self._planting_years, year - MATURITY_YEARS)
        new = self._cumulative_ha[mature - 1] if mature else 0.0
        for y0, ha in self.plantings[mature:]:
            new += ha * min((year - y0) / MATURITY_YEARS, 1.0)
        return (base + new * s.shelterbelt_t_co2_per_ha_yr) * factor

    def account(self, y: int) -> None:
        m = self.model
        ledger = m.ledger
        ledger.sink_co2_t[y] += self.removals_t(m.year)
        ledger.series_cells("stocks")[("sinks", "planted_ha")][y] += self.planted_ha
