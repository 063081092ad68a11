"""Green hydrogen plants: electrolysers on dedicated wind and solar, supplying refineries and fuel-cell buses.

A plant's output is capped by its capacity and the load factor of its dedicated renewables; hydrogen is
sold first to the refineries (replacing grey SMR hydrogen, the plan's 'green hydrogen substitution') and
the rest to fuel-cell vehicles. Fuel-cell demand not met by green plants is made by SMR and booked in the
``hydrogen`` sector. Plants on dedicated renewables draw nothing from the city grid; their renewable
generation is reported as off-grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.constants import FUEL_INDEX, SECTOR_INDEX

if TYPE_CHECKING:
    from sim.model import CityModel

SMR_GAS_GJ_PER_T_H2 = 165.0
"""Natural gas (feed + fuel) per tonne of SMR hydrogen, ~9.3 t CO2/t H2 (assumption, typical SMR)."""
H2_MJ_PER_KG = 120.0


class HydrogenPlant(mesa.Agent):
    """An electrolysis plant; ``load_factor`` is the share of the year its dedicated renewables run it."""

    def __init__(
        self,
        model: CityModel,
        name: str,
        capacity_kt: float,
        commissioned: int,
        electricity_mwh_per_t: float,
        load_factor: float,
        dedicated_re: bool,
    ):
        super().__init__(model)
        self.name = name
        self.capacity_kt = capacity_kt
        self.commissioned = commissioned
        self.electricity_mwh_per_t = electricity_mwh_per_t
        self.load_factor = load_factor
        self.dedicated_re = dedicated_re

    def output_t(self, year: int) -> float:
        return self.capacity_kt * 1e3 * self.load_factor if year >= self.commissioned else 0.0


class HydrogenMarket:
    """This year's green hydrogen pool: plants fill it, refineries and vehicles draw from it."""

    def __init__(self, model: CityModel):
        self.model = model
        self.available_t = 0.0
        self.produced_t = 0.0
        self.output_by_plant_t: list[float] = []
        """This year's output of each plant (those of :meth:`begin_year`), in their order."""

    def begin_year(self, year: int, plants: list[HydrogenPlant]) -> None:
        self.output_by_plant_t = [p.output_t(year) for p in plants]
        self.produced_t = sum(self.output_by_plant_t)
        self.available_t = self.produced_t

    def take(self, tonnes: float) -> float:
        got = min(max(tonnes, 0.0), self.available_t)
        self.available_t -= got
        return got

    def settle(self, y: int, plants: list[HydrogenPlant]) -> float:
        """Serve fuel-cell vehicles, make the shortfall by SMR; return grid electricity of the plants (MWh).

        ``plants`` are those of this year's :meth:`begin_year`.
        """
        m = self.model
        ledger = m.ledger
        vehicle_h2_t = ledger.energy_tj[y, _TRANSPORT, _HYDROGEN] * 1e3 / H2_MJ_PER_KG
        green = self.take(vehicle_h2_t)
        grey_t = vehicle_h2_t - green
        ledger.add_energy(y, "hydrogen", "natural_gas", grey_t * SMR_GAS_GJ_PER_T_H2 / 1e3)
        grid_mwh = offgrid_mwh = 0.0
        capacity_kt = 0
        produced_t = self.produced_t
        sold = produced_t - self.available_t
        for p, output_t in zip(plants, self.output_by_plant_t, strict=True):
            share = output_t / produced_t if produced_t > 0 else 0.0
            mwh = sold * share * p.electricity_mwh_per_t
            if p.dedicated_re:
                offgrid_mwh += mwh
            else:
                grid_mwh += mwh
            if p.commissioned <= m.year:
                capacity_kt += p.capacity_kt
        ledger.add_energy(y, "hydrogen", "electricity", grid_mwh * 3.6 / 1e3)
        stocks = ledger.series_cells("stocks")
        stocks[("hydrogen", "green_produced_t")][y] += sold
        stocks[("hydrogen", "grey_for_vehicles_t")][y] += grey_t
        stocks[("hydrogen", "offgrid_re_mwh")][y] += offgrid_mwh
        stocks[("hydrogen", "capacity_kt")][y] += capacity_kt
        return grid_mwh


_TRANSPORT = SECTOR_INDEX["transport"]
_HYDROGEN = FUEL_INDEX["hydrogen"]
