"""Energy and emissions accounting for one run.

Agents report what they burn and use; this ledger turns it into CO2 by year x sector x fuel x scope and
checks that the electricity and district-heat balances close. It keeps plain numpy arrays during the
run (no pandas in the year loop) and builds tidy tables once at the end.

Conventions:
    * ``energy_tj[y, sector, fuel]`` is energy *consumed* by a sector: final use for end-use sectors,
      transformation input (fuel burned to make electricity and heat) for ``power_heat``.
    * Direct CO2 is combustion (energy x IPCC factor) plus process CO2 reported under fuel ``process``.
    * Indirect CO2 is the electricity trade adjustment: (imports - exports) x Northwest grid factor,
      booked to ``power_heat``/``electricity``. Territorial inventories use ``direct`` only; the
      consumption view adds ``indirect``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.constants import (
    EMISSION_FACTOR_T_PER_TJ,
    FUEL_INDEX,
    FUELS,
    GJ_PER_MWH,
    SECTOR_INDEX,
    SECTORS,
)

_FACTOR_VECTOR = np.array([EMISSION_FACTOR_T_PER_TJ.get(f, 0.0) for f in FUELS])
_PROCESS = FUEL_INDEX["process"]
_SECTOR_CELL = {s: i * len(FUELS) for i, s in enumerate(SECTORS)}
"""Where a sector's fuels start among a year's energy cells (sector x fuel, flattened)."""
ELECTRICITY_ITEMS: tuple[str, ...] = (
    "generation_mwh",
    "import_mwh",
    "export_mwh",
    "storage_loss_mwh",
    "grid_loss_mwh",
    "curtailment_mwh",
    "demand_mwh",
)
HEAT_ITEMS: tuple[str, ...] = ("chp_heat_tj", "boiler_heat_tj", "network_loss_tj", "delivered_tj")


class BalanceError(AssertionError):
    """An energy balance failed to close: a model bug, never a user error."""


class SeriesCells(dict):
    """Memoryviews on the series of one ledger table, by key, made when a key is first asked for
    (:meth:`Ledger.series_cells`)."""

    def __init__(self, table: dict, n_years: int) -> None:
        super().__init__()
        self.table = table
        self.n_years = n_years

    def __missing__(self, key) -> memoryview:
        row = self.table.get(key)
        if row is None:
            row = self.table[key] = np.zeros(self.n_years)
        cells = self[key] = memoryview(row)
        return cells


@dataclass
class Ledger:
    """Arrays for one run; ``y`` indexes ``years``."""

    years: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.years)
        self.energy_tj = np.zeros((n, len(SECTORS), len(FUELS)))
        self.process_co2_t = np.zeros((n, len(SECTORS)))
        self.captured_co2_t = np.zeros((n, len(SECTORS)))
        self.indirect_co2_t = np.zeros(n)
        self.ch4_co2e_t = np.zeros((n, len(SECTORS)))
        self.sink_co2_t = np.zeros(n)
        """Removals by carbon sinks, t CO2 per year (positive number; reported as negative emissions)."""
        self.ccus: dict[str, np.ndarray] = {}
        """CO2 chain by year, t: captured, injected_eor, injected_saline, stored, eor_released."""
        self.electricity = {k: np.zeros(n) for k in ELECTRICITY_ITEMS}
        self.generation_by_tech_mwh: dict[str, np.ndarray] = {}
        self.capacity_mw: dict[str, np.ndarray] = {}
        self.heat = {k: np.zeros(n) for k in HEAT_ITEMS}
        self.stocks: dict[tuple[str, str], np.ndarray] = {}
        self.indicators: dict[str, np.ndarray] = {}
        self.policy: dict[tuple[str, str], np.ndarray] = {}
        self._co2_buffer = np.empty((len(SECTORS), len(FUELS)))
        self._view_cells()

    def _view_cells(self) -> None:
        """Memoryviews on the arrays that the bookings add to, cell by cell.

        Why: a member books energy ~40 times a year, and ``energy_tj[y, s, f] += tj`` on the array costs
        several times the same addition through a memoryview, which reads the cell as a Python float and
        writes the sum back (the same double: one IEEE addition either way). The views write into the
        arrays themselves, so whoever reads the arrays sees every booking at once.
        """
        cells = len(SECTORS) * len(FUELS)
        flat = memoryview(self.energy_tj.reshape(-1))
        self._energy_cells = [flat[i * cells : (i + 1) * cells] for i in range(len(self.years))]
        """Year ``y``'s energy cells, sector x fuel flattened (``energy_tj[y].reshape(-1)``)."""
        self._process_cells = memoryview(self.process_co2_t)
        self._captured_cells = memoryview(self.captured_co2_t)
        self._series_cells: dict[str, SeriesCells] = {}
        """Views on the series tables' rows (:meth:`series_cells`), made as they are first booked."""

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in ("_energy_cells", "_process_cells", "_captured_cells", "_series_cells"):
            del state[name]  # memoryviews do not pickle; they are views on the arrays, rebuilt on load
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._view_cells()

    # ------------------------------------------------------------------ recording
    def add_energy(self, y: int, sector: str, fuel: str, tj: float) -> None:
        """Book energy use; emissions follow from the fuel's factor."""
        if tj < -1e-9:
            raise BalanceError(f"negative energy {tj} TJ for {sector}/{fuel} in year {self.years[y]}")
        self._energy_cells[y][_SECTOR_CELL[sector] + FUEL_INDEX[fuel]] += tj

    def add_process_co2(self, y: int, sector: str, t: float) -> None:
        self._process_cells[y, SECTOR_INDEX[sector]] += t

    def add_captured(self, y: int, sector: str, t: float) -> None:
        """CO2 captured at the source (stored or used): subtracted from the sector's direct emissions."""
        self._captured_cells[y, SECTOR_INDEX[sector]] += t

    def add_series(self, table: dict, key, y: int, value: float) -> None:
        row = table.get(key)
        if row is None:
            row = table[key] = np.zeros(len(self.years))
        row[y] += value

    def series_cells(self, table: str) -> SeriesCells:
        """Views on the series of the ledger's table ``table`` (``"policy"``, ``"stocks"``, ...) by key:
        ``cells[key][y] += value`` books as ``add_series(table, key, y, value)`` does, and a new key starts
        a series of zeros, as there.

        Why: the accounts book the same series every year (policy costs, generation and capacity by
        technology, the CO2 chain), and a kept view adds to the year's cell as a Python float, a fraction
        of the cost of the call and ``row[y] += value`` on the array (the same double). A series is never
        replaced once booked, so a view stays the series' own. The ledger keeps one set of views per table.
        """
        cells = self._series_cells.get(table)
        if cells is None:
            cells = self._series_cells[table] = SeriesCells(getattr(self, table), len(self.years))
        return cells

    def series_block(self, table: dict, keys: list) -> np.ndarray:
        """A (keys x years) array whose rows are the new series ``table[key]`` (views, created here).

        Why: a population that books the same many series every year (vehicle stocks by segment and
        powertrain) adds one column of this block instead of calling :meth:`add_series` per key and year.
        """
        clash = [k for k in keys if k in table]
        if clash:
            raise ValueError(f"series already booked: {clash}")
        block = np.zeros((len(keys), len(self.years)))
        for key, row in zip(keys, block, strict=True):
            table[key] = row
        return block

    # ------------------------------------------------------------------ derived
    def direct_co2_t(self, y: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Direct CO2 by year x sector x fuel, t; process CO2 (net of capture) sits in fuel ``process``.

        With ``y``, only that year (sector x fuel): the policies read it every year. ``out`` (of the
        result's shape) receives the table instead of a new array.
        """
        years = slice(None) if y is None else y
        co2 = np.multiply(self.energy_tj[years], _FACTOR_VECTOR, out=out)
        process = co2[..., _PROCESS]  # a view: the additions below write into co2
        process += self.process_co2_t[years]
        # Capture is booked against the process column so that totals stay consistent with the stream
        # it was taken from being partly combustion; the sector total is what inventories report.
        process -= self.captured_co2_t[years]
        return co2

    def direct_co2_by_sector_t(self, y: int) -> np.ndarray:
        """Direct CO2 by sector in year ``y``, t: ``direct_co2_t(y).sum(axis=1)``, to the bit.

        Why: the policies read it every year of every member. The year's sector x fuel table is made in a
        buffer the ledger keeps, and summed by ``np.add.reduce`` (what ``sum`` calls, without its Python
        wrapper).
        """
        return np.add.reduce(self.direct_co2_t(y, out=self._co2_buffer), 1)

    def total_direct_mt(self) -> np.ndarray:
        return self.direct_co2_t().sum(axis=(1, 2)) / 1e6

    def total_with_indirect_mt(self) -> np.ndarray:
        return self.total_direct_mt() + self.indirect_co2_t / 1e6

    def net_mt(self) -> np.ndarray:
        """Direct CO2 minus sink removals (net territorial CO2)."""
        return self.total_direct_mt() - self.sink_co2_t / 1e6

    def ghg_mt(self) -> np.ndarray:
        """Direct CO2 plus landfill methane as CO2e (gross greenhouse gases)."""
        return self.total_direct_mt() + self.ch4_co2e_t.sum(axis=1) / 1e6

    def electricity_consumption_mwh(self) -> np.ndarray:
        """Electricity used by all sectors (power plants' own use is inside their net output)."""
        return self.energy_tj[:, :, FUEL_INDEX["electricity"]].sum(axis=1) * 1e3 / GJ_PER_MWH

    def check_balances(self, rtol: float = 1e-6) -> None:
        """Raise :class:`BalanceError` unless electricity and heat balances close in every year.

        Electricity: generation + imports - exports - storage losses - grid losses = consumption.
        Heat: CHP heat + boiler heat - network losses = heat delivered = heat used by buildings.
        """
        e = self.electricity
        supply = e["generation_mwh"] + e["import_mwh"] - e["export_mwh"] - e["storage_loss_mwh"] - e["grid_loss_mwh"]
        use = self.electricity_consumption_mwh()
        scale = np.maximum(np.abs(use), 1.0)
        bad = np.abs(supply - use) > rtol * scale + 1e-6
        if bad.any():
            y = int(np.argmax(bad))
            raise BalanceError(
                f"electricity balance open in {self.years[y]}: supply {supply[y]:.3f} MWh vs use {use[y]:.3f} MWh"
            )
        gen_sum = sum(self.generation_by_tech_mwh.values()) if self.generation_by_tech_mwh else 0.0
        if np.any(np.abs(gen_sum - e["generation_mwh"]) > rtol * np.maximum(e["generation_mwh"], 1.0) + 1e-6):
            raise BalanceError("generation by technology does not add up to total generation")
        h = self.heat
        heat_use = self.energy_tj[:, :, FUEL_INDEX["heat"]].sum(axis=1)
        heat_supply = h["chp_heat_tj"] + h["boiler_heat_tj"] - h["network_loss_tj"]
        bad = np.abs(heat_supply - heat_use) > rtol * np.maximum(heat_use, 1.0) + 1e-9
        if bad.any():
            y = int(np.argmax(bad))
            raise BalanceError(
                f"heat balance open in {self.years[y]}: supply {heat_supply[y]} TJ vs use {heat_use[y]} TJ"
            )
        if (self.energy_tj < -1e-9).any():
            raise BalanceError("negative energy use recorded")
