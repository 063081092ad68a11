"""When a run's emissions peak, how high, and whether they have peaked at all by the horizon.

A simulated trajectory is a finite window (``base_year..horizon``), so "the peak" is only known when the
series has turned down clearly inside that window. A series that is still rising, or that flattens
within measurement noise at the end, has *not peaked by the horizon*: its true peak year is
right-censored, not equal to the year of its maximum. Everything downstream (peak-year distributions,
P(peak <= 2030), sensitivity indices) must keep that distinction, so every result here carries a
``peaked`` flag next to the numbers.

Three quantities are defined once here and used everywhere:

* **peak year / peak value**: the year of the largest emission value and that value.
* **plateau year**: the year the series enters its plateau, i.e. the first year whose value is never
  exceeded later by more than ``tolerance``. China's pilot plan asks sectors to "reach a peak plateau"
  (达峰平台期) by 2030; this is the measurable form of that wording.
* **peaked**: the maximum lies before the final year *and* the final value is below the peak by more
  than ``tolerance``. The tolerance (2 % by default, an assumption of the size of year-to-year noise in
  city inventories and in our stochastic runs) keeps a flat tail from counting as a decline.

Tolerances are applied to the magnitude of a value (``e + tolerance * |e|``), which equals the textbook
``e * (1 + tolerance)`` for the usual non-negative emissions and stays meaningful for net emissions
that go negative with sinks or CCUS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["PeakResult", "censored_peak_year", "find_peak", "find_peaks"]


@dataclass(frozen=True)
class PeakResult:
    """Peak statistics of one emission trajectory.

    Attributes:
        peak_year: year of the maximum emission (the first one if tied).
        peak_mt: the maximum emission, Mt CO2 per year.
        plateau_year: first year whose emission is never exceeded later by more than the tolerance.
        peaked: whether the series has clearly turned down by the final year; ``False`` means the run is
            right-censored ("not peaked by horizon") and ``peak_year`` is only a lower bound.
    """

    peak_year: int
    peak_mt: float
    plateau_year: int
    peaked: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (ints, float, bool) ready for JSON or a DataFrame row."""
        return asdict(self)


def _check_tolerance(tolerance: float) -> float:
    tol = float(tolerance)
    if not np.isfinite(tol) or not 0.0 <= tol < 1.0:
        raise ValueError(f"tolerance={tolerance!r} is not allowed: use a fraction with 0 <= tolerance < 1")
    return tol


def _check_years(years: np.ndarray | list[int]) -> np.ndarray:
    arr = np.asarray(years)
    if arr.ndim != 1:
        raise ValueError(f"years must be one-dimensional, got shape {arr.shape}")
    if arr.size < 2:
        raise ValueError(f"years has {arr.size} value(s); at least 2 years are needed to find a peak")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"years must be numeric, got dtype {arr.dtype}")
    bad = ~np.isfinite(arr) if np.issubdtype(arr.dtype, np.floating) else np.zeros(arr.shape, bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"years[{i}]={arr[i].item()!r} is not allowed: years must be finite")
    frac = arr != np.round(arr)
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise ValueError(f"years[{i}]={arr[i].item()!r} is not allowed: years must be whole numbers")
    steps = np.diff(arr)
    if (steps <= 0).any():
        i = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise ValueError(
            f"years[{i}]={arr[i].item()!r} follows years[{i - 1}]={arr[i - 1].item()!r}: "
            "years must be strictly increasing"
        )
    return arr.astype(np.int64)


def _check_emissions(emissions: np.ndarray, n_years: int, ndim: int, name: str) -> np.ndarray:
    arr = np.asarray(emissions, dtype=np.float64)
    if arr.ndim != ndim:
        want = "(n_years,)" if ndim == 1 else "(n_runs, n_years)"
        raise ValueError(f"{name} must have shape {want}, got shape {arr.shape}")
    if arr.shape[-1] != n_years:
        raise ValueError(f"{name} has {arr.shape[-1]} years but years has {n_years}: they must match")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = idx[0] if ndim == 1 else idx
        raise ValueError(f"{name}[{where}]={arr[idx].item()!r} is not allowed: emissions must be finite numbers")
    return arr


def find_peak(
    years: np.ndarray | list[int], emissions_mt: np.ndarray | list[float], tolerance: float = 0.02
) -> PeakResult:
    """Peak year, peak value, plateau entry and censoring of one emission trajectory.

    Definitions (``e(t)`` is the emission in year ``t``, ``T`` the final year, ``tol`` the tolerance):

    * ``peak_year`` is the year of ``max e``; ties go to the *first* year, because a city that reaches a
      level and holds it has reached its peak at the first time, which is what a peak target measures.
    * ``plateau_year`` is the first ``t`` with ``e(s) <= e(t) + tol * |e(t)|`` for every ``s > t``: from
      then on emissions never rise above that year's level by more than the tolerance. It is never after
      ``peak_year`` (the peak itself qualifies) and the final year always qualifies, so it always exists.
      This is the "peak plateau" (达峰平台期) of the pilot plan: small bumps after a levelling-off do not
      delay it, while a real later rise does.
    * ``peaked`` is ``True`` only if the maximum is not in the final year *and*
      ``e(T) < peak - tol * |peak|``. A series that ends at its maximum, or that has only drifted down by
      less than the tolerance, may still rise again beyond the horizon; such a run is reported as "not
      peaked by horizon" (right-censored) rather than given a peak year it may not have.

    This scalar version is the readable reference; :func:`find_peaks` computes the same thing for many
    runs at once and is tested against it.

    Args:
        years: strictly increasing whole-number years, at least two.
        emissions_mt: emissions in Mt CO2 per year, one finite value per year.
        tolerance: relative tolerance as a fraction (0.02 = 2 %), ``0 <= tolerance < 1``.

    Returns:
        The :class:`PeakResult` of the trajectory.

    Raises:
        ValueError: if the inputs have different lengths, fewer than two years, years that are not
            strictly increasing whole numbers, non-finite values or a tolerance outside ``[0, 1)``.
    """
    tol = _check_tolerance(tolerance)
    yrs = _check_years(years)
    e = _check_emissions(emissions_mt, yrs.size, 1, "emissions_mt")

    i_peak = int(np.argmax(e))
    peak = float(e[i_peak])
    i_plateau = next(t for t in range(e.size) if np.all(e[t + 1 :] <= e[t] + tol * abs(e[t])))
    peaked = i_peak != e.size - 1 and bool(e[-1] < peak - tol * abs(peak))
    return PeakResult(peak_year=int(yrs[i_peak]), peak_mt=peak, plateau_year=int(yrs[i_plateau]), peaked=bool(peaked))


def find_peaks(
    years: np.ndarray | list[int], emissions_2d: np.ndarray, tolerance: float = 0.02
) -> dict[str, np.ndarray]:
    """:func:`find_peak` for every row of a runs x years array, without a Python loop over runs.

    The definitions are exactly those of :func:`find_peak` (see there); this version exists because an
    ensemble has thousands of runs and the app recomputes peaks on every lever change. The plateau test
    uses the running maximum of the *later* years, computed right to left with
    ``np.maximum.accumulate``.

    Args:
        years: strictly increasing whole-number years, at least two.
        emissions_2d: emissions in Mt CO2 per year, shape ``(n_runs, n_years)``; zero runs is allowed.
        tolerance: relative tolerance as a fraction, ``0 <= tolerance < 1``.

    Returns:
        Arrays of length ``n_runs``: ``peak_year`` (int64), ``peak_mt`` (float64), ``plateau_year``
        (int64) and ``peaked`` (bool).

    Raises:
        ValueError: as :func:`find_peak`, naming the offending ``(run, year)`` position.
    """
    tol = _check_tolerance(tolerance)
    yrs = _check_years(years)
    e = _check_emissions(emissions_2d, yrs.size, 2, "emissions_2d")
    n_runs, n_years = e.shape
    if n_runs == 0:
        return {
            "peak_year": np.empty(0, np.int64),
            "peak_mt": np.empty(0, np.float64),
            "plateau_year": np.empty(0, np.int64),
            "peaked": np.empty(0, bool),
        }

    i_peak = np.argmax(e, axis=1)
    peak = e[np.arange(n_runs), i_peak]
    later_max = np.full_like(e, -np.inf)
    later_max[:, :-1] = np.maximum.accumulate(e[:, :0:-1], axis=1)[:, ::-1]
    on_plateau = later_max <= e + tol * np.abs(e)
    i_plateau = np.argmax(on_plateau, axis=1)
    peaked = (i_peak != n_years - 1) & (e[:, -1] < peak - tol * np.abs(peak))
    return {
        "peak_year": yrs[i_peak],
        "peak_mt": peak.astype(np.float64),
        "plateau_year": yrs[i_plateau],
        "peaked": peaked.astype(bool),
    }


def censored_peak_year(peak_year: np.ndarray | list[int], peaked: np.ndarray | list[bool], horizon: int) -> np.ndarray:
    """Peak years with not-peaked runs coded as ``horizon + 1``.

    Sensitivity analysis (SALib) and paired scenario comparisons need one finite number per run, but a
    run that has not peaked by the horizon has no observed peak year: it peaks at some unknown year after
    the horizon. Coding it as ``horizon + 1`` keeps the *order* right (later than every observed peak) so
    rank-based measures (PAWN, delta, "which scenario peaks earlier") are correct; variance-based indices
    (Sobol) see an arbitrary one-year gap and should be read with the censored share alongside.

    Args:
        peak_year: year of the maximum per run.
        peaked: whether each run has peaked by the horizon (from :func:`find_peaks`).
        horizon: final simulated year.

    Returns:
        int64 array: ``peak_year`` where ``peaked``, else ``horizon + 1``.

    Raises:
        ValueError: if the shapes differ or a peaked run has its peak after the horizon (the wrong
            horizon was passed).
    """
    years = np.asarray(peak_year)
    flags = np.asarray(peaked, dtype=bool)
    if years.shape != flags.shape:
        raise ValueError(f"peak_year has shape {years.shape} but peaked has shape {flags.shape}: they must match")
    years = years.astype(np.int64)
    late = flags & (years > horizon)
    if late.any():
        i = int(np.flatnonzero(late.ravel())[0])
        raise ValueError(
            f"peak_year[{i}]={years.ravel()[i]} is after horizon={horizon}: a peaked run must peak by the horizon"
        )
    return np.where(flags, years, np.int64(horizon) + 1)
