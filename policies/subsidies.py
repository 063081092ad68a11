"""Subsidies with payment windows and budget caps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Subsidy:
    """A per-unit subsidy paid in a window of years until its budget is spent.

    The budget is checked at the start of each year: a subsidy with money left is offered all year, and
    payments that year are capped at what is left, so the year in which the budget runs out is the last
    year it is offered (the programme "stops that year"). Fiscal cost per year is recorded.

    Attributes:
        name: subsidy family (``ev``, ``heat_pump``, ``rooftop_pv``, ``retrofit``, ``green_h2``, ``ccus``).
        amount: CNY per unit (vehicle, m2, W, kg H2, t CO2).
        budget_cny: total programme budget.
        first_year: first year paid.
        last_year: last year paid.
    """

    name: str
    amount: float
    budget_cny: float
    first_year: int
    last_year: int
    spent_cny: float = 0.0
    paid_by_year: dict[int, float] = field(default_factory=dict)
    exhausted_year: int | None = None

    @property
    def remaining_cny(self) -> float:
        return max(self.budget_cny - self.spent_cny, 0.0)

    def offered(self, year: int) -> bool:
        return (
            self.amount > 0
            and self.first_year <= year <= self.last_year
            and (self.exhausted_year is None or year <= self.exhausted_year)
            # remaining_cny > 0, without the property (every price a decision sees asks this)
            and (self.budget_cny - self.spent_cny > 0 or self.exhausted_year == year)
        )

    def rate(self, year: int) -> float:
        """Amount per unit that decision-makers see this year (0 when not offered)."""
        return self.amount if self.offered(year) else 0.0

    def pay(self, units: float, year: int) -> float:
        """Pay for ``units`` bought this year; returns CNY paid (capped by the remaining budget)."""
        if units <= 0 or not self.offered(year):
            return 0.0
        due = units * self.amount
        paid = min(due, self.remaining_cny)
        self.spent_cny += paid
        self.paid_by_year[year] = self.paid_by_year.get(year, 0.0) + paid
        if self.remaining_cny <= 1e-6 and self.exhausted_year is None:
            self.exhausted_year = year
        return paid
