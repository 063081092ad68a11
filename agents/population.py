"""Structure-of-arrays populations whose rows are Mesa agents.

Why: a plain per-object Mesa loop manages about 0.8M agent-steps/s at Karamay scale, i.e. tens of seconds
per 37-year run; numpy kernels over column arrays do 50-80M/s. So a population owns the columns and steps
all its agents at once, and a row becomes a :class:`mesa.Agent` object only when someone asks for it
(``population.agent(i)``): the view is created once, registered with the model, and reads and writes its
row through properties. Creating 360k agent objects up front would cost ~0.7 s per run for nothing.

Resolution: a population of ``n_real`` real units is represented by ``round(n_real * resolution)`` agents,
each with weight ``n_real / n_agents``; totals are weighted sums, so results are comparable across
resolutions (tests check the agreement).

Stochastic decisions are per agent, but a kernel need not draw a number for every agent every year: an event
with a constant yearly probability is scheduled by its waiting time (:func:`next_event_years`), and one whose
probability changes is taken when the agent's cumulative hazard passes its own exponential threshold
(:func:`hazard_clocks`). Both give the same event years in distribution as a yearly uniform draw per agent,
which is how the plain-Mesa reference (``benchmarks/reference_mesa.py``) decides; the agreement test checks it.
"""

from __future__ import annotations

from typing import ClassVar

import mesa
import numpy as np


class RowAgent(mesa.Agent):
    """A Mesa agent whose state lives in row ``row`` of its population's columns."""

    columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: mesa.Model, population: Population, row: int) -> None:
        super().__init__(model)
        self.population = population
        self.row = row

    def __getattr__(self, name: str):
        cols = type(self).columns
        if name in cols:
            return self.population.cols[name][self.row].item()
        raise AttributeError(f"{type(self).__name__} has no attribute '{name}'")

    def state(self) -> dict:
        """This agent's row as a plain dict (for inspection in the app and in tests)."""
        return {c: self.population.cols[c][self.row].item() for c in type(self).columns}

    def step(self) -> None:
        """Population agents decide in their population's vectorised kernel, not one by one."""


class Population:
    """Column store for one agent type with growth capacity.

    Attributes:
        cols: name -> 1-D array of length ``capacity``; rows ``[0, n)`` are live.
        weight: real units per agent.
    """

    agent_class: ClassVar[type[RowAgent]] = RowAgent

    def __init__(
        self,
        model: mesa.Model,
        n_real: float,
        resolution: float,
        rng: np.random.Generator,
        growth_headroom: float = 1.0,
    ) -> None:
        self.model = model
        self.rng = rng
        self.n = max(int(round(n_real * resolution)), 1 if n_real > 0 else 0)
        self.weight = (n_real / self.n) if self.n else 0.0
        self.capacity = int(self.n * (1.0 + growth_headroom)) + 8
        self.cols: dict[str, np.ndarray] = {}
        self._views: dict[int, RowAgent] = {}

    def add_column(self, name: str, values: np.ndarray, dtype=None) -> None:
        arr = np.zeros(self.capacity, dtype=dtype or np.asarray(values).dtype)
        arr[: self.n] = values
        self.cols[name] = arr

    def live(self, name: str) -> np.ndarray:
        """View of the live rows of a column (writes go through to the store)."""
        return self.cols[name][: self.n]

    def grow(self, k: int) -> slice:
        """Append ``k`` rows (values zero) and return their slice; doubles capacity when full."""
        if k <= 0:
            return slice(self.n, self.n)
        need = self.n + k
        if need > self.capacity:
            new_cap = max(need, 2 * self.capacity)
            for name, arr in self.cols.items():
                bigger = np.zeros(new_cap, dtype=arr.dtype)
                bigger[: self.n] = arr[: self.n]
                self.cols[name] = bigger
            self.capacity = new_cap
        s = slice(self.n, need)
        self.n = need
        return s

    def agent(self, row: int) -> RowAgent:
        """The Mesa agent for ``row`` (created and registered with the model on first access)."""
        if not 0 <= row < self.n:
            raise IndexError(f"row {row} outside population of {self.n}")
        view = self._views.get(row)
        if view is None:
            view = self.agent_class(self.model, self, row)
            self._views[row] = view
        return view

    def __len__(self) -> int:
        return self.n


def crf(rate: np.ndarray | float, years: np.ndarray | float) -> np.ndarray | float:
    """Capital recovery factor: annual payment per unit of capital at ``rate`` over ``years``.

    One number (a power unit's or an investor's decision) is computed in plain Python: the same arithmetic
    without numpy's call overhead, which is most of the cost of one scalar.
    """
    if isinstance(rate, float) and isinstance(years, int | float):
        rate = max(rate, 1e-6)
        return rate / (1.0 - (1.0 + rate) ** (-years))
    rate = np.maximum(rate, 1e-6)
    return rate / (1.0 - (1.0 + rate) ** (-years))


NEVER = int(np.iinfo(np.int16).max)
"""Scheduled year that never comes (int16 schedule columns)."""


def logit_choice(rng: np.random.Generator, utility: np.ndarray) -> np.ndarray:
    """Draw one alternative per decision maker from multinomial-logit probabilities of ``utility``.

    ``utility`` is alternatives x decision makers (one column each) and is overwritten. Unavailable
    alternatives carry ``-inf`` utility. Uses one uniform draw per decision maker (inverse CDF), so the number
    of random numbers consumed does not depend on the utilities: common random numbers across scenarios stay
    aligned. The draw is compared with the unnormalised cumulative weights scaled by their total, which is
    the same inverse-CDF rule without dividing every weight by the column sum.

    How (for speed; the rule is as above): alternatives-major, because numpy reduces a handful of rows
    quickly and a handful of columns slowly; the cumulative sum is a loop over the few alternatives for the
    same reason; utilities more than 700 below the best are raised to -700 before ``exp``, because ``exp``
    of ``-inf`` and results that underflow take a slow path. A weight of ``e**-700`` (~1e-304) next to the
    best alternative's 1 takes no draw: draws are multiples of 2**-53, so only a draw of exactly 0 falls
    inside it, and that draw picks the first alternative with ``-inf`` weights too.
    """
    weights = utility
    weights -= utility.max(axis=0)
    np.maximum(weights, -700.0, out=weights)
    np.exp(weights, out=weights)
    for j in range(1, len(weights)):
        weights[j] += weights[j - 1]
    draws = rng.random(weights.shape[1]) * weights[-1]
    return np.minimum((draws > weights).sum(axis=0), len(weights) - 1)


def logistic(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` computed in place in ``x`` (one temporary instead of four)."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    return np.reciprocal(x, out=x)


def next_event_years(rng: np.random.Generator, p: float | np.ndarray, size: int, after: int) -> np.ndarray:
    """Calendar year of the next event of agents that have the event with probability ``p`` every year
    from ``after + 1`` on (int16; ``NEVER`` if beyond its range, which no run reaches).

    Why: deciding "does it happen this year?" by one uniform draw per agent and year costs a pass over the
    whole population every year, although only ``p`` of the agents act. The number of years to the first
    success of independent yearly Bernoulli(p) trials is geometric(p), and the trials start afresh after each
    event, so drawing the waiting time at each event and acting in the scheduled year gives the same event
    years in distribution, with random numbers drawn only for the agents that acted. Runs differ seed by seed
    from yearly draws, not in distribution. Where the events do not depend on the levers (replacement at the
    end of a life), paired scenarios still draw the same numbers.
    """
    return np.minimum(after + rng.geometric(p, size), NEVER).astype(np.int16)


def hazard_clocks(rng: np.random.Generator, size: int) -> np.ndarray:
    """Exp(1) thresholds for events whose yearly probability ``p_t`` changes with the year and the agent.

    Why: an agent that has its event in year ``t`` with probability ``p_t`` (given none before) can equally
    draw one threshold ``E ~ Exp(1)`` and have the event in the first year in which its cumulative hazard
    ``sum_t -log(1 - p_t)`` (:func:`yearly_hazard`) reaches ``E``: the probability of no event through year
    ``T`` is ``prod_t (1 - p_t) = exp(-sum_t -log(1 - p_t)) = P(E > sum_t ...)``, and by memorylessness the
    event falls in year ``t`` with probability ``p_t`` given none before, whatever the path of ``p_t``
    (which may depend on neighbours and prices). The kernels then compute ``p_t`` only for the agents that
    can still act and draw no random numbers in the years between events.
    """
    return rng.standard_exponential(size)


def yearly_hazard(p: np.ndarray) -> np.ndarray:
    """Cumulative-hazard increment ``-log(1 - p)`` of a yearly event probability ``p`` (see :func:`hazard_clocks`)."""
    return -np.log1p(-p)


def allocate_by_share(rng: np.random.Generator, weights: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Assign a category to each row so that categories' weight shares match ``shares`` closely.

    Rows are put in random order and cut at the cumulative share boundaries (systematic sampling). At
    coarse resolution this keeps the base-year calibration (e.g. floor area by heating system) exact up to
    one row, where independent draws would add sampling noise to the calibrated inventory.
    """
    order = rng.permutation(len(weights))
    cum = np.cumsum(weights[order])
    total = cum[-1] if len(cum) else 0.0
    mid = (cum - weights[order] / 2) / max(total, 1e-12)
    bounds = np.cumsum(shares / shares.sum())
    cats = np.minimum(np.searchsorted(bounds, mid, side="right"), len(shares) - 1)
    out = np.empty(len(weights), dtype=np.int64)
    out[order] = cats
    return out
