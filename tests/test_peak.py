"""Peak year, plateau entry and right-censoring of emission trajectories (sim/peak.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from sim.peak import PeakResult, censored_peak_year, find_peak, find_peaks

YEARS = np.arange(2020, 2026)


def test_rising_series_is_not_peaked_by_horizon() -> None:
    r = find_peak(YEARS, [10, 11, 12, 13, 14, 15])
    assert r == PeakResult(peak_year=2025, peak_mt=15.0, plateau_year=2025, peaked=False)


def test_clear_decline_is_peaked_at_the_maximum_year() -> None:
    r = find_peak(YEARS, [10, 12, 14, 13, 12, 11])
    assert (r.peak_year, r.peak_mt, r.peaked) == (2022, 14.0, True)


def test_decline_within_tolerance_is_not_peaked() -> None:
    # 100 -> 98.5 is a 1.5 % drop, inside the 2 % tolerance: the series may still rise again.
    r = find_peak(YEARS, [90, 95, 100, 99, 99, 98.5], tolerance=0.02)
    assert r.peak_year == 2022
    assert not r.peaked
    assert find_peak(YEARS, [90, 95, 100, 99, 99, 98.5], tolerance=0.01).peaked


def test_final_value_exactly_at_tolerance_boundary_is_not_peaked() -> None:
    # peaked needs the final value strictly below peak * (1 - tolerance).
    assert not find_peak([2020, 2021, 2022], [50.0, 100.0, 50.0], tolerance=0.5).peaked
    assert find_peak([2020, 2021, 2022], [50.0, 100.0, 49.9], tolerance=0.5).peaked


def test_tied_maximum_reports_the_first_year() -> None:
    r = find_peak(YEARS, [10, 14, 12, 14, 11, 10])
    assert r.peak_year == 2021
    assert r.peaked


def test_plateau_year_is_first_year_never_exceeded_by_more_than_tolerance() -> None:
    # From 2021 (value 100) later years reach at most 101.5 <= 102: the plateau starts in 2021,
    # two years before the peak in 2023. 2020 (90) is exceeded by more than 2 %.
    r = find_peak(YEARS, [90, 100, 100.5, 101.5, 101, 95])
    assert r.plateau_year == 2021
    assert r.peak_year == 2023
    assert r.peaked


def test_later_rise_beyond_tolerance_delays_the_plateau() -> None:
    # 100 in 2021 is later exceeded by 103 (> 102), so the plateau begins only at the peak.
    r = find_peak(YEARS, [90, 100, 99, 103, 101, 95])
    assert r.plateau_year == 2023


def test_plateau_year_is_never_after_peak_year() -> None:
    r = find_peak(YEARS, [5, 1, 2, 3, 4, 2])
    assert r.plateau_year <= r.peak_year


def test_zero_tolerance_uses_exact_comparisons() -> None:
    r = find_peak(YEARS, [1, 3, 2, 3, 2, 2.999], tolerance=0.0)
    assert (r.peak_year, r.plateau_year, r.peaked) == (2021, 2021, True)


def test_negative_net_emissions_use_the_magnitude_for_tolerance() -> None:
    # Net-negative city (sinks exceed emissions): peak -10, final -11 is 10 % lower, beyond 2 %.
    r = find_peak([2020, 2021, 2022], [-12.0, -10.0, -11.0])
    assert (r.peak_year, r.peaked) == (2021, True)
    assert not find_peak([2020, 2021, 2022], [-12.0, -10.0, -10.1]).peaked


def test_to_dict_has_plain_python_values() -> None:
    d = find_peak(np.array([2020, 2021, 2022]), np.array([1.0, 3.0, 1.0])).to_dict()
    assert d == {"peak_year": 2021, "peak_mt": 3.0, "plateau_year": 2021, "peaked": True}
    assert type(d["peak_year"]) is int and type(d["peaked"]) is bool and type(d["peak_mt"]) is float


def test_float_whole_years_are_accepted() -> None:
    assert find_peak(np.array([2020.0, 2021.0, 2022.0]), [1, 2, 1]).peak_year == 2021


@pytest.mark.parametrize(
    ("years", "emissions", "tolerance", "message"),
    [
        ([2020, 2021, 2022], [1.0, 2.0], 0.02, "emissions_mt has 2 years but years has 3"),
        ([2020], [1.0], 0.02, "at least 2 years"),
        ([2020, 2022, 2021], [1.0, 2.0, 3.0], 0.02, "years[2]=2021 follows years[1]=2022"),
        ([2020, 2020, 2021], [1.0, 2.0, 3.0], 0.02, "strictly increasing"),
        ([2020, 2021.5, 2022], [1.0, 2.0, 3.0], 0.02, "whole numbers"),
        ([2020, np.nan, 2022], [1.0, 2.0, 3.0], 0.02, "years[1]=nan"),
        ([2020, 2021, 2022], [1.0, np.nan, 3.0], 0.02, "emissions_mt[1]=nan"),
        ([2020, 2021, 2022], [1.0, np.inf, 3.0], 0.02, "must be finite"),
        ([2020, 2021, 2022], [1.0, 2.0, 3.0], -0.1, "tolerance=-0.1"),
        ([2020, 2021, 2022], [1.0, 2.0, 3.0], 1.0, "0 <= tolerance < 1"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_argument(
    years: list[float], emissions: list[float], tolerance: float, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        find_peak(years, emissions, tolerance)


def test_find_peaks_rejects_wrong_shape_and_names_the_run() -> None:
    with pytest.raises(ValueError, match=r"shape \(n_runs, n_years\)"):
        find_peaks(YEARS, np.ones(6))
    bad = np.ones((3, 6))
    bad[2, 4] = np.nan
    with pytest.raises(ValueError, match=r"emissions_2d\[\(2, 4\)\]=nan"):
        find_peaks(YEARS, bad)


def test_find_peaks_handles_zero_runs() -> None:
    out = find_peaks(YEARS, np.empty((0, 6)))
    assert all(v.shape == (0,) for v in out.values())
    assert out["peaked"].dtype == bool


def test_find_peaks_returns_typed_arrays_for_a_small_ensemble() -> None:
    e = np.array([[10, 11, 12, 13, 14, 15], [10, 12, 14, 13, 12, 11], [90, 100, 100.5, 101.5, 101, 95]])
    out = find_peaks(YEARS, e)
    assert_array_equal(out["peak_year"], [2025, 2022, 2023])
    assert_array_equal(out["plateau_year"], [2025, 2022, 2021])
    assert_array_equal(out["peaked"], [False, True, True])
    assert_array_equal(out["peak_mt"], [15.0, 14.0, 101.5])
    assert out["peak_year"].dtype == np.int64 and out["peaked"].dtype == bool


# Small integers make ties and exact-boundary cases frequent; wide floats cover the general case.
_values = st.one_of(st.integers(-3, 6).map(float), st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))


@settings(max_examples=300, deadline=None, database=None)
@given(
    data=st.integers(2, 12).flatmap(
        lambda n_years: hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.just(n_years)), elements=_values)
    ),
    tolerance=st.one_of(st.just(0.0), st.just(0.02), st.floats(0.0, 0.5)),
    start=st.integers(1990, 2030),
)
def test_find_peaks_equals_find_peak_row_by_row(data: np.ndarray, tolerance: float, start: int) -> None:
    years = np.arange(start, start + data.shape[1])
    out = find_peaks(years, data, tolerance)
    for i, row in enumerate(data):
        r = find_peak(years, row, tolerance)
        assert (out["peak_year"][i], out["peak_mt"][i], out["plateau_year"][i], out["peaked"][i]) == (
            r.peak_year,
            r.peak_mt,
            r.plateau_year,
            r.peaked,
        )


def test_censored_peak_year_codes_not_peaked_runs_as_horizon_plus_one() -> None:
    out = censored_peak_year([2027, 2060, 2031], [True, False, True], horizon=2060)
    assert_array_equal(out, [2027, 2061, 2031])
    assert out.dtype == np.int64


def test_censored_peak_year_rejects_a_peak_after_the_horizon() -> None:
    with pytest.raises(ValueError, match="after horizon=2030"):
        censored_peak_year([2035], [True], horizon=2030)
    with pytest.raises(ValueError, match="must match"):
        censored_peak_year([2025, 2026], [True], horizon=2030)
