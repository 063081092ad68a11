"""Phase-in schedules: year/value pairs, linearly interpolated, flat outside the given years."""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence


class Schedule:
    """A piecewise-linear path through ``(year, value)`` points.

    Before the first year the first value holds; after the last, the last value. Points must be in strictly
    increasing year order (a scenario with unsorted points is rejected with the offending pair named).
    """

    def __init__(self, points: Sequence[tuple[float, float]]):
        if not points:
            raise ValueError("a schedule needs at least one (year, value) point")
        years = [float(p[0]) for p in points]
        for a, b in zip(years, years[1:], strict=False):
            if b <= a:
                raise ValueError(f"schedule years must increase: {a:g} is followed by {b:g}")
        self.years = years
        self.values = [float(p[1]) for p in points]
        self._cache: dict[float, float] = {}

    @classmethod
    def shared(cls, points: Sequence[tuple[float, float]]) -> Schedule:
        """A schedule through ``points`` that every run asking for the same points (to the bit) shares.

        Why: the members of an ensemble mostly follow the same paths, and a shared schedule remembers its
        answers for all of them instead of each member interpolating every year again. Callers must not
        change a shared schedule (no code changes a schedule after it is built).
        """
        return _shared_schedule(tuple((float(p[0]).hex(), float(p[1]).hex()) for p in points))

    def __call__(self, year: float) -> float:
        # Agents ask for the same few years thousands of times per run: remember the answers.
        value = self._cache.get(year)
        if value is None:
            value = self._cache[year] = self._interp(float(year))
        return value

    def _interp(self, x: float) -> float:
        """``np.interp(x, years, values)`` in plain Python, with numpy's arithmetic (same result to the bit):
        a run asks each of some twenty schedules for each year once, and ``np.interp`` on one number costs
        several microseconds of call overhead."""
        xs, ys = self.years, self.values
        if x != x:  # NaN in, NaN out
            return x
        if x <= xs[0]:
            return ys[0]
        if x >= xs[-1]:
            return ys[-1]
        j = bisect.bisect_right(xs, x) - 1
        slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
        return slope * (x - xs[j]) + ys[j]

    def __repr__(self) -> str:
        pts = ", ".join(f"({y:g}, {v:g})" for y, v in zip(self.years, self.values, strict=True))
        return f"Schedule([{pts}])"


@functools.lru_cache(maxsize=1024)
def _shared_schedule(points_hex: tuple[tuple[str, str], ...]) -> Schedule:
    """:meth:`Schedule.shared` by the exact bits of its points (bounded: an app redraws many ensembles)."""
    return Schedule([(float.fromhex(y), float.fromhex(v)) for y, v in points_hex])
