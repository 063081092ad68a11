"""Industry outside the modelled plants, as one driver-based block.

Until the oilfield, CCUS, hydrogen and data-centre agents exist, their energy use sits here: base-year
fuel and electricity use scaled by an output index and an energy-intensity trend, with a steady shift of
fossil end uses to electricity (electric drives and heat pumps need about half the final energy of the
fuel they replace: assumption). It is deliberately not an agent: it makes no decisions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.inputs import IndustrySpec

    from sim.model import CityModel

ELECTRIC_PER_FUEL_ENERGY = 0.5
MAX_ELECTRIFIED_SHARE = 0.6


class IndustryBlock:
    def __init__(self, model: CityModel, spec: IndustrySpec):
        self.model = model
        self.spec = spec

    def account(self, y: int) -> float:
        """Book industry energy for year index ``y``; return electricity use (MWh)."""
        m = self.model
        p = m.params
        s = self.spec
        t = m.year - m.inputs.base_year
        scale = (
            (1 + p["industry_output_growth_pct_per_yr"] / 100) ** t
            * (1 - p["industry_intensity_decline_pct_per_yr"] / 100) ** t
            * m.policies.efficiency_extra_factor(m.year)
        )
        shift = min(
            s.electrification_pct_pts_per_yr / 100 * t + m.policies.industry_electrification_share(m.year),
            MAX_ELECTRIFIED_SHARE,
        )
        ledger = m.ledger
        moved_tj = 0.0
        for fuel, pj in (("natural_gas", s.natural_gas_pj), ("coal", s.coal_pj), ("diesel", s.diesel_pj)):
            tj = pj * 1e3 * scale
            ledger.add_energy(y, "industry", fuel, tj * (1 - shift))
            moved_tj += tj * shift
        elec_mwh = s.electricity_twh * 1e6 * scale + moved_tj * ELECTRIC_PER_FUEL_ENERGY * 1e3 / 3.6
        ledger.add_energy(y, "industry", "electricity", elec_mwh * 3.6 / 1e3)
        return elec_mwh
