"""Carbon price: trajectory, sector coverage, free allocation and pass-through."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from policies.schedule import Schedule
from sim.constants import SECTOR_INDEX

DEFAULT_COVERAGE_START: dict[str, int] = {
    # National ETS covers power since 2021 (MEE); steel, cement and aluminium were added in 2025. Refining
    # and petrochemicals are expected in the next expansion; 2027 is an assumption.
    "power_heat": 2021,
    "refining": 2027,
    "petrochemicals": 2027,
}
"""First year each sector faces the carbon price; sectors not listed are not covered."""
FREE_ALLOCATION_SHARE = 0.95
"""Share of covered emissions allocated free (assumption: the national ETS allocates almost all free by
intensity benchmark); decisions still see the full price as opportunity cost, revenue only the rest."""


@dataclass
class CarbonPrice:
    """A carbon price path applied to covered sectors.

    Attributes:
        schedule: CNY/t by year.
        coverage_start: sector -> first covered year.
        free_allocation_share: share of covered emissions not paid for (affects revenue only).
    """

    schedule: Schedule
    coverage_start: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_COVERAGE_START))
    free_allocation_share: float = FREE_ALLOCATION_SHARE

    def __post_init__(self) -> None:
        self._covered_sectors = sorted(
            (SECTOR_INDEX[sector], start) for sector, start in self.coverage_start.items() if sector in SECTOR_INDEX
        )
        """(sector index, first covered year) of the covered sectors, in sector order, for the yearly revenue."""
        self.prices: dict[tuple[str, int], float] = {}
        """:meth:`price_for` remembered by (sector, year): every price and cost in the model asks for it."""

    @classmethod
    def from_params(cls, params: dict[str, float], base_year: int, schedule=None) -> CarbonPrice:
        """Build from the registry levers, or from an explicit schedule of (year, CNY/t) points.

        Runs with the same path, coverage and free allocation get one shared carbon price (see
        :meth:`Schedule.shared`): an ensemble's members mostly share them, and then share what it remembers.
        """
        if schedule:
            path = Schedule.shared(schedule)
        else:
            points = [
                (base_year, params["carbon_price_start_cny_per_t"]),
                (2030, params["carbon_price_2030_cny_per_t"]),
                (2060, params["carbon_price_2060_cny_per_t"]),
            ]
            path = Schedule.shared(points[1:] if base_year >= 2030 else points)
        coverage = dict(DEFAULT_COVERAGE_START)
        for sector in ("industry", "transport", "buildings"):
            year = int(params[f"carbon_coverage_{sector}_year"])
            if year < 2100:
                coverage[sector] = year
        return _shared_carbon_price(path, tuple(coverage.items()), float(params["carbon_free_allocation_share"]).hex())

    def price(self, year: int) -> float:
        return self.schedule(year)

    def covered(self, sector: str, year: int) -> bool:
        start = self.coverage_start.get(sector)
        return start is not None and year >= start

    def price_for(self, sector: str, year: int) -> float:
        """Price the sector's decisions see in ``year`` (0 where not covered)."""
        key = (sector, year)
        price = self.prices.get(key)
        if price is None:
            price = self.prices[key] = self.schedule(year) if self.covered(sector, year) else 0.0
        return price

    def total_revenue_cny(self, year: int, emissions_t: Sequence[float]) -> float:
        """Carbon revenue of all sectors in ``year``, ``emissions_t`` in the order of
        :data:`sim.constants.SECTORS`: each covered sector pays the price on its positive emissions less the
        free allocation, summed in sector order.

        Why over the covered sectors only: the policies book it every year, and asking each of the dozen
        sectors whether it is covered cost more than the few covered ones' revenue.
        """
        price = self.schedule(year)
        total = 0.0
        for i, start in self._covered_sectors:
            if year >= start:
                total += price * max(emissions_t[i], 0.0) * (1 - self.free_allocation_share)
        return total


@functools.lru_cache(maxsize=256)
def _shared_carbon_price(path: Schedule, coverage: tuple[tuple[str, int], ...], free_share_hex: str) -> CarbonPrice:
    """:meth:`CarbonPrice.from_params` by its (shared) path, coverage and free allocation to the bit (bounded)."""
    return CarbonPrice(path, dict(coverage), float.fromhex(free_share_hex))
