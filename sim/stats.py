"""Ensemble statistics over tidy result tables.

An ensemble is many runs of the same scenario with sampled uncertainties and seeds. Two tables feed
everything here (DESIGN.md section 9):

* a *yearly* table with one row per ``run_id`` x ``year`` x other keys (sector, fuel, scope, ...);
* a *summary* table with one row per ``run_id`` (``peak_year``, ``peak_mt``, ``peaked``, optionally
  ``cumulative_mt``).

Two rules hold throughout. First, bands describe *runs*, not rows: a P95 of sector rows is not the P95 of
city totals, so yearly rows are summed per run before any percentile is taken. Second, a run that has
not peaked by the horizon is right-censored (see :mod:`sim.peak`): it counts as "never peaked" in
probabilities and as peaking at ``horizon + 1`` in comparisons, never as peaking in its maximum year.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from sim.peak import censored_peak_year

__all__ = [
    "paired_difference",
    "peak_value_quantiles",
    "peak_year_distribution",
    "peak_year_ecdf",
    "percentile_bands",
    "p_peak_by",
    "p_peak_by_with_ci",
    "share_not_peaked",
    "wilson_interval",
]

NOT_PEAKED = "not peaked"


def _percentile_name(p: float) -> str:
    return f"p{int(p)}" if float(p).is_integer() else f"p{p:g}"


def _require_columns(df: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it has {list(df.columns)}")


def _check_summary(summary: pd.DataFrame, name: str = "summary") -> pd.DataFrame:
    """Validate a summary table and return run_id, peak_year (int64), peaked (bool)."""
    _require_columns(summary, ("run_id", "peak_year", "peaked"), name)
    if len(summary) == 0:
        raise ValueError(f"{name} has no runs; probabilities need at least one run")
    dup = summary["run_id"].duplicated()
    if dup.any():
        raise ValueError(
            f"{name} has run_id={summary['run_id'][dup].iloc[0]} more than once: one row per run is allowed"
        )
    if summary["peaked"].isna().any() or summary["peak_year"].isna().any():
        raise ValueError(f"{name} has missing peak_year or peaked values: every run needs both")
    return pd.DataFrame(
        {
            "run_id": summary["run_id"].to_numpy(),
            "peak_year": summary["peak_year"].to_numpy().astype(np.int64),
            "peaked": summary["peaked"].to_numpy().astype(bool),
        }
    )


def percentile_bands(
    df: pd.DataFrame,
    value: str = "emissions_mt",
    by: Sequence[str] = ("year",),
    percentiles: Sequence[float] = (5, 25, 50, 75, 95),
) -> pd.DataFrame:
    """Percentile bands of a per-run total across the ensemble.

    The input has one row per ``run_id`` x ``year`` x other keys. Rows are first summed per run over
    every key that is not in ``by`` (e.g. sector, fuel, scope when ``by=("year",)``), so the bands
    describe the spread of run totals (percentiles of the rows themselves would describe sector rows,
    not the city). Percentiles use numpy's default linear interpolation between order statistics.

    A run that has no rows for some ``by`` group is left out of that group (it is not counted as zero):
    tidy tables from the model contain every year for every run, so a gap means missing data.

    Args:
        df: tidy table with ``run_id``, the ``by`` columns and ``value``.
        value: the column to band, e.g. ``emissions_mt`` or ``energy_pj``.
        by: the keys that stay in the output, e.g. ``("year",)`` or ``("year", "sector")``.
        percentiles: percentiles in ``[0, 100]``.

    Returns:
        One row per ``by`` group, sorted, with the ``by`` columns, ``p5``, ``p25``, ... (one per
        percentile) and ``mean``.

    Raises:
        ValueError: if a column is missing, ``by`` contains ``run_id``, ``value`` has missing values or
            a percentile is outside ``[0, 100]``.
    """
    by = list(by)
    if "run_id" in by:
        raise ValueError("by must not contain 'run_id': bands are taken across runs")
    _require_columns(df, ["run_id", *by, value], "df")
    if df[value].isna().any():
        raise ValueError(f"df[{value!r}] has missing values; bands of partly missing totals would be wrong")
    pcts = [float(p) for p in percentiles]
    bad = [p for p in pcts if not 0.0 <= p <= 100.0]
    if bad:
        raise ValueError(f"percentiles {bad} are not allowed: use values between 0 and 100")

    totals = df.groupby(["run_id", *by], observed=True, sort=False)[value].sum().reset_index()
    grouped = totals.groupby(by, observed=True, sort=True)[value]
    bands = pd.DataFrame({_percentile_name(p): grouped.quantile(p / 100.0) for p in pcts})
    bands["mean"] = grouped.mean()
    return bands.reset_index()


def peak_year_distribution(summary: pd.DataFrame) -> pd.DataFrame:
    """How many runs peak in each year, plus the runs that have not peaked by the horizon.

    Not-peaked runs get their own row instead of being counted in their maximum year, because their
    maximum year is the horizon by construction and would show up as a spurious spike there.

    Args:
        summary: one row per run with ``run_id``, ``peak_year`` and ``peaked``.

    Returns:
        Columns ``outcome`` (the year as text, or ``"not peaked"``), ``peak_year`` (nullable Int64,
        ``<NA>`` for the not-peaked row), ``n_runs`` and ``probability`` (share of all runs). Years are
        sorted; the not-peaked row is last and always present, possibly with zero runs.
    """
    s = _check_summary(summary)
    n = len(s)
    counts = s.loc[s["peaked"], "peak_year"].value_counts().sort_index()
    n_not = int((~s["peaked"]).sum())
    out = pd.DataFrame(
        {
            "outcome": [str(y) for y in counts.index] + [NOT_PEAKED],
            "peak_year": pd.array([*counts.index.tolist(), pd.NA], dtype="Int64"),
            "n_runs": np.array([*counts.to_numpy().tolist(), n_not], dtype=np.int64),
        }
    )
    out["probability"] = out["n_runs"] / n
    return out


def peak_year_ecdf(summary: pd.DataFrame, horizon: int, start_year: int | None = None) -> pd.DataFrame:
    """Probability that emissions have peaked by each year (empirical CDF of the peak year).

    Not-peaked runs never count as peaked, so the curve ends below 1 by the censored share: "P(peaked by
    2035) = 0.8" then honestly means 20 % of runs had not peaked within the simulated window.

    Args:
        summary: one row per run with ``run_id``, ``peak_year`` and ``peaked``.
        horizon: final simulated year; the curve runs up to it.
        start_year: first year of the curve; defaults to the earliest peak year in ``summary``.

    Returns:
        Columns ``year`` (every year from ``start_year`` to ``horizon``) and ``p_peaked_by_year``.
    """
    s = _check_summary(summary)
    first = int(s["peak_year"].min()) if start_year is None else int(start_year)
    first = min(first, int(horizon))
    years = np.arange(first, int(horizon) + 1, dtype=np.int64)
    peaked_years = np.sort(s.loc[s["peaked"], "peak_year"].to_numpy())
    n_by_year = np.searchsorted(peaked_years, years, side="right")
    return pd.DataFrame({"year": years, "p_peaked_by_year": n_by_year / len(s)})


def _n_peaked_by(s: pd.DataFrame, year: int) -> int:
    return int((s["peaked"] & (s["peak_year"] <= year)).sum())


def p_peak_by(summary: pd.DataFrame, year: int) -> float:
    """Share of runs that have peaked in or before ``year`` (e.g. the pilot plan's 2030).

    Args:
        summary: one row per run with ``run_id``, ``peak_year`` and ``peaked``.
        year: the target year (inclusive).

    Returns:
        A probability in ``[0, 1]``; not-peaked runs count as not peaked by any year.
    """
    s = _check_summary(summary)
    return _n_peaked_by(s, year) / len(s)


def p_peak_by_with_ci(summary: pd.DataFrame, year: int, confidence: float = 0.95) -> dict[str, float]:
    """:func:`p_peak_by` with a Wilson confidence interval for the Monte Carlo sampling error.

    The interval says how precisely the ensemble size pins down the probability *given the model and
    the sampled uncertainty ranges*; it does not cover model error.

    Args:
        summary: one row per run with ``run_id``, ``peak_year`` and ``peaked``.
        year: the target year (inclusive).
        confidence: two-sided confidence level.

    Returns:
        ``{"p", "lo", "hi", "n_peaked", "n_runs"}``.
    """
    s = _check_summary(summary)
    k, n = _n_peaked_by(s, year), len(s)
    lo, hi = wilson_interval(k, n, confidence)
    return {"p": k / n, "lo": lo, "hi": hi, "n_peaked": k, "n_runs": n}


def share_not_peaked(summary: pd.DataFrame) -> float:
    """Share of runs that have not peaked by the horizon (the right-censored share).

    Report it next to every peak-year statistic: a peak-year median over only the peaked runs looks
    early exactly when many runs are censored.
    """
    s = _check_summary(summary)
    return float((~s["peaked"]).mean())


def peak_value_quantiles(
    summary: pd.DataFrame,
    percentiles: Sequence[float] = (5, 25, 50, 75, 95),
    peaked_only: bool = False,
) -> dict[str, float]:
    """Quantiles of the peak emission level across runs.

    For a not-peaked run ``peak_mt`` is its maximum within the horizon, a lower bound on its true peak;
    by default those runs are included (the quantiles are then lower bounds too), and ``peaked_only``
    restricts to runs whose peak is observed.

    Args:
        summary: one row per run with ``run_id``, ``peak_year``, ``peaked`` and ``peak_mt``.
        percentiles: percentiles in ``[0, 100]``.
        peaked_only: use only runs that have peaked by the horizon.

    Returns:
        ``{"p5": ..., ..., "mean": ...}`` in Mt CO2 per year.

    Raises:
        ValueError: if ``peak_mt`` is missing or no run is left to summarise.
    """
    _check_summary(summary)
    _require_columns(summary, ["peak_mt"], "summary")
    values = summary["peak_mt"].to_numpy(dtype=np.float64)
    if peaked_only:
        values = values[summary["peaked"].to_numpy(dtype=bool)]
    if values.size == 0:
        raise ValueError("no peaked runs in summary: peak_value_quantiles(peaked_only=True) has nothing to use")
    out = {_percentile_name(p): float(np.percentile(values, p)) for p in percentiles}
    out["mean"] = float(values.mean())
    return out


def paired_difference(summary_a: pd.DataFrame, summary_b: pd.DataFrame, horizon: int) -> dict[str, float]:
    """Compare two scenarios run by run under common random numbers.

    With common random numbers the same ``run_id`` in both scenarios has the same sampled uncertainties
    and seed, so comparing *pairs* removes most of the sampling noise that comparing two separate
    distributions would keep: the question "how often does A peak before B?" is answered run by run.
    A not-peaked run counts as peaking at ``horizon + 1``; two not-peaked runs count as the same year.

    Args:
        summary_a: summary of scenario A (``run_id``, ``peak_year``, ``peaked``; optionally
            ``cumulative_mt``).
        summary_b: summary of scenario B, same columns.
        horizon: final simulated year of both scenarios.

    Returns:
        ``n_pairs``, ``p_a_peaks_earlier``, ``p_same_year``, ``p_b_peaks_earlier`` and, when both
        tables have ``cumulative_mt``, ``median_cumulative_diff_mt``, ``p5_cumulative_diff_mt`` and
        ``p95_cumulative_diff_mt`` of ``cumulative_mt_a - cumulative_mt_b`` (negative: A emits less).

    Raises:
        ValueError: if the tables have no run_id in common.
    """
    a = _check_summary(summary_a, "summary_a")
    b = _check_summary(summary_b, "summary_b")
    with_cum = "cumulative_mt" in summary_a.columns and "cumulative_mt" in summary_b.columns
    if with_cum:
        a["cumulative_mt"] = summary_a["cumulative_mt"].to_numpy(dtype=np.float64)
        b["cumulative_mt"] = summary_b["cumulative_mt"].to_numpy(dtype=np.float64)
    pairs = a.merge(b, on="run_id", suffixes=("_a", "_b"), validate="one_to_one")
    n = len(pairs)
    if n == 0:
        raise ValueError("summary_a and summary_b have no run_id in common: pairs need the same run_ids")
    year_a = censored_peak_year(pairs["peak_year_a"], pairs["peaked_a"], horizon)
    year_b = censored_peak_year(pairs["peak_year_b"], pairs["peaked_b"], horizon)
    out: dict[str, float] = {
        "n_pairs": n,
        "p_a_peaks_earlier": float(np.mean(year_a < year_b)),
        "p_same_year": float(np.mean(year_a == year_b)),
        "p_b_peaks_earlier": float(np.mean(year_a > year_b)),
    }
    if with_cum:
        diff = (pairs["cumulative_mt_a"] - pairs["cumulative_mt_b"]).to_numpy()
        out["median_cumulative_diff_mt"] = float(np.median(diff))
        out["p5_cumulative_diff_mt"] = float(np.percentile(diff, 5))
        out["p95_cumulative_diff_mt"] = float(np.percentile(diff, 95))
    return out


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial probability.

    Chosen over the normal ("Wald") interval because ensemble probabilities are often near 0 or 1
    (e.g. P(peak <= 2030) under a strong scenario), where Wald collapses to zero width; Wilson stays
    inside ``[0, 1]`` and keeps close to nominal coverage for small ``n`` (Wilson 1927, JASA 22:209;
    Brown, Cai & DasGupta 2001, Statistical Science 16:101).

    Args:
        successes: number of runs with the outcome, ``0 <= successes <= n``.
        n: number of runs, at least 1.
        confidence: two-sided confidence level, ``0 < confidence < 1``.

    Returns:
        ``(lo, hi)`` bounds of the probability.

    Raises:
        ValueError: for ``n < 1``, ``successes`` outside ``[0, n]`` or ``confidence`` outside ``(0, 1)``.
    """
    if n < 1:
        raise ValueError(f"n={n} is not allowed: the interval needs at least one run")
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} is not allowed: use 0 <= successes <= n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence} is not allowed: use a level between 0 and 1, e.g. 0.95")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
