"""Ensemble statistics: bands of run totals, peak-year distributions, paired comparisons (sim/stats.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sim.stats import (
    p_peak_by,
    p_peak_by_with_ci,
    paired_difference,
    peak_value_quantiles,
    peak_year_distribution,
    peak_year_ecdf,
    percentile_bands,
    share_not_peaked,
    wilson_interval,
)


def _yearly() -> pd.DataFrame:
    """Five runs, two years, two sectors; run r totals r + 1 in 2020 and 2 (r + 1) in 2021."""
    rows = []
    for r in range(5):
        rows += [
            {"run_id": r, "year": 2020, "sector": "industry", "emissions_mt": float(r)},
            {"run_id": r, "year": 2020, "sector": "transport", "emissions_mt": 1.0},
            {"run_id": r, "year": 2021, "sector": "industry", "emissions_mt": float(2 * r)},
            {"run_id": r, "year": 2021, "sector": "transport", "emissions_mt": 2.0},
        ]
    return pd.DataFrame(rows)


def _summary(rows: list[tuple[int, int, bool]], **extra: list[float]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["run_id", "peak_year", "peaked"])
    for name, values in extra.items():
        df[name] = values
    return df


def test_bands_are_percentiles_of_run_totals_not_of_rows() -> None:
    bands = percentile_bands(_yearly())
    assert list(bands.columns) == ["year", "p5", "p25", "p50", "p75", "p95", "mean"]
    assert_array_equal(bands["year"], [2020, 2021])
    # Totals 1..5 in 2020: linear interpolation gives P5 = 1 + 0.05 * 4 = 1.2 and P95 = 4.8.
    assert_allclose(bands.iloc[0, 1:].to_numpy(dtype=float), [1.2, 2, 3, 4, 4.8, 3])
    assert_allclose(bands.iloc[1, 1:].to_numpy(dtype=float), [2.4, 4, 6, 8, 9.6, 6])


def test_bands_by_sector_keep_sectors_apart() -> None:
    bands = percentile_bands(_yearly(), by=("year", "sector"), percentiles=(50,))
    assert list(bands.columns) == ["year", "sector", "p50", "mean"]
    got = bands.set_index(["year", "sector"])["p50"]
    assert got[(2020, "industry")] == 2.0
    assert got[(2020, "transport")] == 1.0
    assert got[(2021, "industry")] == 4.0


def test_bands_name_fractional_percentiles() -> None:
    bands = percentile_bands(_yearly(), percentiles=(2.5, 97.5))
    assert list(bands.columns) == ["year", "p2.5", "p97.5", "mean"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": "energy_pj"}, "lacks column"),
        ({"by": ("run_id", "year")}, "must not contain 'run_id'"),
        ({"percentiles": (50, 120)}, r"percentiles \[120.0\]"),
    ],
)
def test_bands_reject_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        percentile_bands(_yearly(), **kwargs)


def test_bands_reject_missing_values() -> None:
    df = _yearly()
    df.loc[3, "emissions_mt"] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        percentile_bands(df)


def test_peak_year_distribution_counts_not_peaked_runs_separately() -> None:
    s = _summary([(0, 2025, True), (1, 2025, True), (2, 2027, True), (3, 2060, False), (4, 2060, False)])
    dist = peak_year_distribution(s)
    assert dist["outcome"].tolist() == ["2025", "2027", "not peaked"]
    assert dist["peak_year"].tolist()[:2] == [2025, 2027]
    assert pd.isna(dist["peak_year"].iloc[2])
    assert dist["n_runs"].tolist() == [2, 1, 2]
    assert_allclose(dist["probability"], [0.4, 0.2, 0.4])


def test_peak_year_distribution_always_has_a_not_peaked_row() -> None:
    dist = peak_year_distribution(_summary([(0, 2025, True)]))
    assert dist["outcome"].tolist() == ["2025", "not peaked"]
    assert dist["n_runs"].tolist() == [1, 0]


def test_ecdf_counts_not_peaked_runs_as_never_peaked() -> None:
    s = _summary([(0, 2025, True), (1, 2027, True), (2, 2028, True), (3, 2030, False)])
    ecdf = peak_year_ecdf(s, horizon=2030)
    assert_array_equal(ecdf["year"], np.arange(2025, 2031))
    assert_allclose(ecdf["p_peaked_by_year"], [0.25, 0.25, 0.5, 0.75, 0.75, 0.75])


def test_ecdf_starts_at_the_requested_year() -> None:
    s = _summary([(0, 2025, True), (1, 2027, True)])
    ecdf = peak_year_ecdf(s, horizon=2028, start_year=2020)
    assert ecdf["year"].iloc[0] == 2020
    assert_allclose(ecdf["p_peaked_by_year"], [0, 0, 0, 0, 0, 0.5, 0.5, 1.0, 1.0])


def test_p_peak_by_includes_the_target_year_and_ignores_censored_runs() -> None:
    s = _summary([(0, 2025, True), (1, 2030, True), (2, 2031, True), (3, 2030, False)])
    assert p_peak_by(s, 2030) == 0.5
    assert p_peak_by(s, 2024) == 0.0
    assert share_not_peaked(s) == 0.25


def test_p_peak_by_with_ci_brackets_the_estimate() -> None:
    s = _summary([(i, 2028, i < 5) for i in range(10)])
    out = p_peak_by_with_ci(s, 2030)
    assert out["p"] == 0.5 and out["n_peaked"] == 5 and out["n_runs"] == 10
    assert_allclose([out["lo"], out["hi"]], [0.2366, 0.7634], atol=1e-4)


def test_wilson_interval_matches_published_values() -> None:
    # 0/10 at 95 %: upper bound z^2 / (n + z^2) = 3.8415 / 13.8415; 5/10: Brown, Cai & DasGupta (2001).
    assert_allclose(wilson_interval(0, 10), (0.0, 0.27753), atol=1e-5)
    assert_allclose(wilson_interval(5, 10), (0.23659, 0.76341), atol=1e-5)
    assert_allclose(wilson_interval(10, 10), (0.72247, 1.0), atol=1e-5)
    lo90, hi90 = wilson_interval(5, 10, confidence=0.90)
    assert 0.23659 < lo90 < 0.5 < hi90 < 0.76341


@pytest.mark.parametrize(("k", "n", "conf"), [(1, 0, 0.95), (11, 10, 0.95), (-1, 10, 0.95), (5, 10, 1.0)])
def test_wilson_interval_rejects_impossible_inputs(k: int, n: int, conf: float) -> None:
    with pytest.raises(ValueError, match="is not allowed"):
        wilson_interval(k, n, conf)


def test_peak_value_quantiles_over_all_or_only_peaked_runs() -> None:
    s = _summary([(i, 2028, i != 4) for i in range(5)], peak_mt=[1.0, 2.0, 3.0, 4.0, 5.0])
    q = peak_value_quantiles(s)
    assert set(q) == {"p5", "p25", "p50", "p75", "p95", "mean"}
    assert q["p50"] == 3.0 and q["mean"] == 3.0 and q["p5"] == pytest.approx(1.2)
    assert peak_value_quantiles(s, percentiles=(50,), peaked_only=True) == {"p50": 2.5, "mean": 2.5}


def test_paired_difference_counts_earlier_peaks() -> None:
    horizon = 2040
    a = _summary(
        [(0, 2025, True), (1, 2030, True), (2, 2040, False), (3, 2028, True)],
        cumulative_mt=[100.0, 200.0, 300.0, 400.0],
    )
    b = _summary(
        [(0, 2027, True), (1, 2030, True), (2, 2033, True), (3, 2040, False), (9, 2026, True)],
        cumulative_mt=[110.0, 190.0, 330.0, 380.0, 1.0],
    )
    out = paired_difference(a, b, horizon)
    # Censored years a: 2025, 2030, 2041, 2028; b: 2027, 2030, 2033, 2041 (run 9 has no partner).
    assert out["n_pairs"] == 4
    assert out["p_a_peaks_earlier"] == 0.5
    assert out["p_same_year"] == 0.25
    assert out["p_b_peaks_earlier"] == 0.25
    # Differences -10, 10, -30, 20: median 0, P5 = -30 + 0.15 * 20, P95 = 10 + 0.85 * 10.
    assert out["median_cumulative_diff_mt"] == 0.0
    assert out["p5_cumulative_diff_mt"] == pytest.approx(-27.0)
    assert out["p95_cumulative_diff_mt"] == pytest.approx(18.5)


def test_paired_difference_treats_two_censored_runs_as_the_same_year() -> None:
    a = _summary([(0, 2030, False), (1, 2030, False)])
    b = _summary([(1, 2030, False), (0, 2029, True)])
    out = paired_difference(a, b, horizon=2030)
    assert out == {"n_pairs": 2, "p_a_peaks_earlier": 0.0, "p_same_year": 0.5, "p_b_peaks_earlier": 0.5}


def test_paired_difference_needs_common_run_ids() -> None:
    with pytest.raises(ValueError, match="no run_id in common"):
        paired_difference(_summary([(0, 2025, True)]), _summary([(1, 2025, True)]), horizon=2030)


def test_summary_functions_reject_duplicate_or_empty_runs() -> None:
    with pytest.raises(ValueError, match="run_id=0 more than once"):
        p_peak_by(_summary([(0, 2025, True), (0, 2026, True)]), 2030)
    with pytest.raises(ValueError, match="no runs"):
        share_not_peaked(_summary([]))
    with pytest.raises(ValueError, match="lacks column"):
        p_peak_by(pd.DataFrame({"run_id": [0], "peak_year": [2025]}), 2030)
