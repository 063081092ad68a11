"""Purchase subsidies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from agents.vehicles import Vehicles


@dataclass
class VehicleSubsidy:
    """A per-vehicle subsidy for battery-electric and fuel-cell purchases.

    Attributes:
        amount_cny: paid per qualifying vehicle bought.
    """

    amount_cny: float = 0.0

    @classmethod
    def from_params(cls, params: dict[str, float]) -> VehicleSubsidy:
        return cls(amount_cny=params["ev_subsidy_cny_per_vehicle"])

    def matrix(self, year: int) -> np.ndarray:
        """Subsidy by segment x powertrain (CNY) that buyers see this year."""
        from agents.vehicles import POWERTRAINS, SEGMENTS

        out = np.zeros((len(SEGMENTS), len(POWERTRAINS)))
        for pt in ("bev", "fcev"):
            out[:, POWERTRAINS.index(pt)] = self.amount_cny
        return out

    def pay(self, pop: Vehicles, rows: np.ndarray, choice: np.ndarray, year: int) -> float:
        """Fiscal cost (CNY) of this year's qualifying purchases, in real vehicles."""
        if self.amount_cny <= 0 or not len(rows):
            return 0.0
        sub = self.matrix(year)[pop.live("segment")[rows], choice]
        return float(sub.sum()) * pop.weight
