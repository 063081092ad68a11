"""The policy set that agents consult, and its neutral defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from policies.carbon_price import CarbonPrice
from policies.subsidies import VehicleSubsidy

if TYPE_CHECKING:
    from agents.buildings import Buildings
    from agents.refinery import Refinery
    from agents.vehicles import Vehicles
    from sim.model import CityModel


class PolicySet:
    """All levers of one run, built from the run's parameter values.

    Methods are the hooks agents call; a lever that is not set answers with the neutral value (no support,
    no constraint), so the baseline needs no special cases.
    """

    def __init__(self, model: CityModel, params: dict[str, float]):
        self.model = model
        self.carbon = CarbonPrice.from_params(params, model.inputs.base_year)
        self.ev_subsidy = VehicleSubsidy.from_params(params)
        self.coal_phase_out_year = int(params["coal_phase_out_year"])

    # ---------------------------------------------------------------- prices and support
    def carbon_price(self, sector: str, year: int) -> float:
        return self.carbon.price_for(sector, year)

    def renewable_support_cny_per_mwh(self, year: int) -> float:
        return 0.0

    def abatement_support_cny_per_t(self, kind: str, year: int) -> float:
        return 0.0

    def pv_subsidy_cny_per_w(self, year: int) -> float:
        return 0.0

    def heating_subsidy_cny_per_m2(self, year: int) -> np.ndarray:
        return np.zeros(5)

    def retrofit_subsidy_cny_per_m2(self, year: int) -> float:
        return 0.0

    def vehicle_subsidy_matrix(self, year: int) -> np.ndarray:
        return self.ev_subsidy.matrix(year)

    def induction_bonus_utils(self, year: int) -> float:
        return 0.0

    def transit_service_utils(self, year: int) -> float:
        return 0.0

    # ---------------------------------------------------------------- constraints
    def required_re_build_mw(self, tech: str, year: int, model: CityModel) -> float:
        return 0.0

    def refinery_chemicals_share(self, refinery: Refinery, year: int) -> float:
        return refinery.spec.chemicals_share

    def retrofit_mandate_rate(self, year: int) -> float:
        return 0.0

    def apply_vehicle_mandates(
        self, pop: Vehicles, rows: np.ndarray, choice: np.ndarray, year: int, rng: np.random.Generator
    ) -> np.ndarray:
        return choice

    def apply_heating_mandates(
        self, pop: Buildings, rows: np.ndarray, choice: np.ndarray, year: int, rng: np.random.Generator
    ) -> np.ndarray:
        return choice

    # ---------------------------------------------------------------- fiscal records
    def _book(self, lever: str, item: str, year: int, cny: float) -> None:
        ledger = self.model.ledger
        ledger.add_series(ledger.policy, (lever, item), year - self.model.inputs.base_year, cny)

    def record_vehicle_purchases(self, pop: Vehicles, rows: np.ndarray, choice: np.ndarray, year: int) -> None:
        cost = self.ev_subsidy.pay(pop, rows, choice, year)
        if cost:
            self._book("ev_subsidy", "fiscal_cost_cny", year, cost)

    def record_heating_purchases(self, pop: Buildings, rows: np.ndarray, choice: np.ndarray, year: int) -> None:
        return None

    def record_retrofits(self, floor_m2: float, year: int) -> None:
        return None

    def record_pv_adoptions(self, kw: float, year: int) -> None:
        return None

    def record_abatement_start(self, refinery: Refinery, option, tonnes_per_yr: float, year: int) -> None:
        return None

    def record_capture(self, tonnes: float, year: int) -> None:
        return None

    def end_of_year(self, y: int) -> None:
        """Book carbon revenue: price x covered emissions x (1 - free allocation share)."""
        m = self.model
        year = m.year
        co2 = m.ledger.direct_co2_t()[y].sum(axis=1)
        from sim.constants import SECTORS

        revenue = 0.0
        for i, s in enumerate(SECTORS):
            revenue += self.carbon.revenue_cny(s, year, co2[i])
        if revenue:
            self._book("carbon_price", "revenue_cny", year, revenue)
