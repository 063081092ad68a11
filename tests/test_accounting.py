"""The ledger books through memoryviews on its arrays; the arrays must hold what numpy's own additions give.

:class:`sim.accounting.Ledger` adds each booking to its cell as a Python float through a memoryview (a
fraction of the cost of ``array[y, s, f] += x``), and the accounts keep views on the series they book every
year (:meth:`~sim.accounting.Ledger.series_cells`). These tests pin the arrays to the numpy additions they
replace, to the bit, for the kinds of numbers the accounts book (Python and numpy floats, integers), and
check that a ledger still books into its own arrays after a pickle round trip (results cross processes).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from sim.accounting import BalanceError, Ledger
from sim.constants import FUEL_INDEX, FUELS, SECTOR_INDEX, SECTORS

YEARS = np.arange(2023, 2036)


def _bookings(seed: int, n: int = 3000) -> list[tuple[str, int, int, int, object]]:
    """(kind, year index, sector, fuel, amount): amounts of every kind the accounts pass, some years from the end."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        y = int(rng.integers(-len(YEARS), len(YEARS)))
        s, f = int(rng.integers(len(SECTORS))), int(rng.integers(len(FUELS)))
        x = float(rng.lognormal(3.0, 4.0))
        amount = {0: x, 1: np.float64(x), 2: int(x) % 1000, 3: x * 1e-17, 4: 0.0}[int(rng.integers(5))]
        out.append((("energy", "process", "captured", "series")[int(rng.integers(4))], y, s, f, amount))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bookings_equal_numpy_additions_to_the_bit(seed: int) -> None:
    ledger = Ledger(YEARS)
    n = len(YEARS)
    energy = np.zeros((n, len(SECTORS), len(FUELS)))
    process = np.zeros((n, len(SECTORS)))
    captured = np.zeros((n, len(SECTORS)))
    series: dict[tuple[str, str], np.ndarray] = {}
    for kind, y, s, f, amount in _bookings(seed):
        sector, fuel = SECTORS[s], FUELS[f]
        if kind == "energy":
            ledger.add_energy(y, sector, fuel, amount)
            energy[y, s, f] += amount
        elif kind == "process":
            ledger.add_process_co2(y, sector, amount)
            process[y, s] += amount
        elif kind == "captured":
            ledger.add_captured(y, sector, amount)
            captured[y, s] += amount
        else:
            key = (sector, fuel)
            if f % 3 == 0:
                ledger.add_series(ledger.stocks, key, y, amount)
            else:
                ledger.series_cells("stocks")[key][y] += amount
            row = series.get(key)
            if row is None:
                row = series[key] = np.zeros(n)
            row[y] += amount
    assert ledger.energy_tj.tobytes() == energy.tobytes()
    assert ledger.process_co2_t.tobytes() == process.tobytes()
    assert ledger.captured_co2_t.tobytes() == captured.tobytes()
    assert list(ledger.stocks) == list(series)  # series created in the order of their first booking
    for key, row in series.items():
        assert ledger.stocks[key].tobytes() == row.tobytes(), key


def test_a_pickled_ledger_books_into_its_own_arrays() -> None:
    ledger = Ledger(YEARS)
    ledger.add_energy(2, "refining", "coal", 1.25)
    ledger.add_process_co2(-1, "waste", 0.5)
    copy = pickle.loads(pickle.dumps(ledger))
    copy.add_energy(2, "refining", "coal", 1.25)
    copy.add_captured(-1, "waste", 0.25)
    assert ledger.energy_tj[2, SECTOR_INDEX["refining"], FUEL_INDEX["coal"]] == 1.25
    assert copy.energy_tj[2, SECTOR_INDEX["refining"], FUEL_INDEX["coal"]] == 2.5
    assert copy.process_co2_t[-1, SECTOR_INDEX["waste"]] == 0.5
    assert copy.captured_co2_t[-1, SECTOR_INDEX["waste"]] == 0.25
    assert ledger.captured_co2_t.sum() == 0.0


def test_negative_energy_is_a_balance_error() -> None:
    ledger = Ledger(YEARS)
    with pytest.raises(BalanceError, match=r"negative energy -0\.5 TJ for industry/coal in year 2025"):
        ledger.add_energy(2, "industry", "coal", -0.5)
    ledger.add_energy(2, "industry", "coal", -1e-10)  # rounding noise is booked
    assert ledger.energy_tj[2, SECTOR_INDEX["industry"], FUEL_INDEX["coal"]] == -1e-10


def test_direct_co2_by_sector_is_the_sum_of_the_years_table_to_the_bit() -> None:
    ledger = Ledger(YEARS)
    for kind, y, s, f, amount in _bookings(3):
        sector, fuel = SECTORS[s], FUELS[f]
        if kind == "energy":
            ledger.add_energy(y, sector, fuel, amount)
        elif kind == "process":
            ledger.add_process_co2(y, sector, amount)
        elif kind == "captured":
            ledger.add_captured(y, sector, amount)
    every_year = ledger.direct_co2_t()
    for y in range(len(YEARS)):
        by_sector = ledger.direct_co2_by_sector_t(y)
        assert by_sector.tobytes() == ledger.direct_co2_t(y).sum(axis=1).tobytes()
        assert by_sector.tobytes() == every_year[y].sum(axis=1).tobytes()
