"""The CO2 chain: capture at refineries and power units, pipeline, injection for EOR or saline storage.

Capture needs somewhere to go: every tonne captured must fit in the network's pipeline and injection
capacity for the year (the existing Xinjiang Oilfield injection, ~1 Mt/yr by 2025, plus the basin cluster
from the levers). The network operator agent grants capacity to capture projects in the order they ask
(refinery streams are pure and cheap, so they come first), injects for CO2-EOR up to what the fields can
take and puts the rest in saline formations. Stored CO2 is reported separately; the share of EOR CO2 not
retained (a registry uncertainty) comes back up with the oil and is counted as oilfield emissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from sim.model import CityModel
    from sim.scenario import CCUSSpec


class CCUSNetwork(mesa.Agent):
    """Pipeline and injection operator for the Karamay CO2 network."""

    def __init__(self, model: CityModel, spec: CCUSSpec):
        super().__init__(model)
        self.spec = spec
        self.granted_t = 0.0
        self.capacity_t = 0.0
        self._pledges: list[tuple[int, float, mesa.Agent]] = []
        """(first year in service, t CO2/yr, unit) of the capture trains decided on: what they will ask for."""
        self._capacity_mt: dict[tuple[int, float], float] = {}
        """Capacity by (year, cluster lever value): coal units ask for it whenever they consider capture."""

    def capacity_mt(self, year: int) -> float:
        """Network capacity in ``year``: existing injection ramping to its 2025 level, plus the cluster."""
        m = self.model
        cluster_2030 = m.params["ccus_cluster_mt_2030"]
        key = (year, cluster_2030)
        capacity = self._capacity_mt.get(key)
        if capacity is None:
            s = self.spec
            base = s.existing_capacity_mt_base_year + (
                s.existing_capacity_mt_2025 - s.existing_capacity_mt_base_year
            ) * min(max((year - m.inputs.base_year) / max(2025 - m.inputs.base_year, 1), 0.0), 1.0)
            start = m.inputs.policies.start_year
            frac = min(max((year - start + 1) / max(2030 - start + 1, 1), 0.0), 1.0)
            capacity = self._capacity_mt[key] = base + cluster_2030 * frac
        return capacity

    def room_t(self, year: int) -> float:
        """Capacity in ``year`` (t CO2/yr) that neither last year's grants nor the capture trains decided on and
        not yet granted take: what a new train entering service in ``year`` may count on.

        A train is in last year's grants from its first year of service on (grants are made when the year is
        accounted, after the decisions, and :meth:`begin_year` drops its pledge then); before that its pledge
        counts, unless its unit has retired.
        """
        pledged_t = sum([t for _, t, unit in self._pledges if unit.retired_year is None])
        return self.capacity_mt(year) * 1e6 - self.granted_t - pledged_t

    def pledge(self, in_service: int, tonnes: float, unit: mesa.Agent) -> None:
        """Count a capture train decided on against the room later decisions see until it is granted: without
        this, every coal unit deciding in one year saw the same room and all were fitted for it."""
        self._pledges.append((in_service, tonnes, unit))

    def begin_year(self, year: int) -> None:
        self.capacity_t = self.capacity_mt(year) * 1e6
        self.granted_t = 0.0
        # Trains in service by this year ask for their CO2 in this year's grants, which next year's decisions see.
        self._pledges = [p for p in self._pledges if p[0] > year]

    def request(self, tonnes: float) -> float:
        """Grant up to ``tonnes`` of this year's remaining capacity; returns what was granted."""
        granted = min(max(tonnes, 0.0), max(self.capacity_t - self.granted_t, 0.0))
        self.granted_t += granted
        return granted

    def settle(self, y: int) -> None:
        """Inject what was captured; book storage, EOR release and transport-and-storage cost."""
        m = self.model
        captured = self.granted_t
        eor = min(captured, self.spec.eor_demand_mt * 1e6)
        saline = captured - eor
        retention = m.params["eor_retention_share"]
        released = eor * (1 - retention)
        stored = eor * retention + saline
        ledger = m.ledger
        ledger.add_process_co2(y, "oilfield", released)
        chain = ledger.series_cells("ccus")
        for key, value in (
            ("captured_t", captured),
            ("injected_eor_t", eor),
            ("injected_saline_t", saline),
            ("stored_t", stored),
            ("eor_released_t", released),
        ):
            chain[key][y] += value
        m.policies.record_private_cost(
            "ccus_transport_storage", captured * self.spec.transport_storage_cny_per_t, m.year
        )
