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

import math
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


class MemberView:
    """One member's population inside a :class:`PopulationStack`: what the rest of its model sees.

    It reads and writes the member's row of the stack's columns, so the model, its policies and the app
    use it as they would a :class:`Population` of their own (``n``, ``weight``, ``live``, ``cols``,
    ``agent``); the decisions are made by the stack for all members at once. Subclasses add the queries a
    population type answers for its model (for example the households' green-travel share).
    """

    def __init__(self, stack: PopulationStack, member: int) -> None:
        self.stack = stack
        self.member = member
        self.model = stack.models[member]
        self._views: dict[int, RowAgent] = {}

    @property
    def spec(self):
        """The population's scenario section (the same for every member)."""
        return self.stack.spec

    @property
    def n(self) -> int:
        return int(self.stack.n[self.member])

    @property
    def weight(self) -> float:
        return float(self.stack.weight[self.member])

    @property
    def rng(self) -> np.random.Generator:
        return self.stack.rngs[self.member]

    @property
    def cols(self) -> dict[str, np.ndarray]:
        """name -> this member's row of the column (capacity long; rows ``[0, n)`` are live)."""
        m = self.member
        return {name: arr[m] for name, arr in self.stack.cols.items()}

    def live(self, name: str) -> np.ndarray:
        """View of this member's live rows of a column (writes go through to the stack)."""
        return self.stack.cols[name][self.member, : self.stack.n[self.member]]

    def agent(self, row: int) -> RowAgent:
        """The Mesa agent for ``row`` (created and registered with this member's model on first access)."""
        if not 0 <= row < self.n:
            raise IndexError(f"row {row} outside population of {self.n}")
        view = self._views.get(row)
        if view is None:
            view = self.stack.agent_class(self.model, self, row)
            self._views[row] = view
        return view

    def __len__(self) -> int:
        return self.n


class PopulationStack:
    """The populations of one agent type of several runs (members), held and stepped together.

    Why: at the app's coarse resolution a run's populations have a few hundred agents each, so a year of
    their decisions costs what its few hundred numpy calls cost, not what the arithmetic costs. Stepping
    the members of an ensemble task together makes each call serve all of them. A stack is built from the
    members' own populations (constructed as for a single run, so a member starts exactly as its run
    would) and its kernels decide for every member as the member's own run would: each member keeps its
    random streams and draws the same numbers in the same order, and its scalars (prices, parameters,
    policy values) are its model's. A single run is a stack of one.

    Layout: column ``name`` is ``cols[name]``, members x capacity; member ``m``'s live rows are
    ``[0, n[m])``, the rest is padding whose values (:attr:`PAD`) keep it out of every decision. Kernels
    mostly work on the flattened columns: row ``r`` of the flat array is member ``r // capacity``'s row
    ``r % capacity``, and rows found by ``np.flatnonzero`` come member by member in row order, the order
    in which a member's own run meets them.

    Attributes:
        models: each member's model.
        rngs: each member's population stream.
        n: live agents per member.
        weight: real units per agent, per member.
        capacity: rows per member (live and padding).
    """

    agent_class: ClassVar[type[RowAgent]] = RowAgent
    view_class: ClassVar[type[MemberView]] = MemberView
    PAD: ClassVar[dict[str, object]] = {}
    """Values of padding rows by column (default 0): chosen so that padding never acts."""
    MEMBER_ARRAYS: ClassVar[tuple[str, ...]] = ()
    """Attributes holding per-member arrays (members first), joined by :meth:`join`."""
    MEMBER_LISTS: ClassVar[tuple[str, ...]] = ("models", "rngs")
    """Attributes holding per-member Python lists, joined by :meth:`join`."""

    def __init__(self, members: list[Population], headroom: float = 1.0) -> None:
        self.models = [p.model for p in members]
        self.rngs = [p.rng for p in members]
        self.n = np.array([p.n for p in members], dtype=np.int64)
        self.weight = np.array([p.weight for p in members], dtype=float)
        self.capacity = int(max(p.capacity for p in members))
        self.cols: dict[str, np.ndarray] = {}
        if len(members) == 1:  # a run's own stack: its population's columns as they are, padded, not copied
            p = members[0]
            for name, col in p.cols.items():
                col[p.n :] = self.PAD.get(name, 0)
                self.cols[name] = col.reshape(1, -1)
        else:
            for name in members[0].cols:
                pad = self.PAD.get(name, 0)
                arr = np.full((len(members), self.capacity), pad, dtype=members[0].cols[name].dtype)
                for m, p in enumerate(members):
                    arr[m, : p.n] = p.cols[name][: p.n]
                self.cols[name] = arr
        self.views = [self.view_class(self, m) for m in range(len(members))]
        self._member_index: np.ndarray | None = None
        self._padding: np.ndarray | None = None

    @property
    def members(self) -> int:
        return len(self.models)

    @classmethod
    def join(cls, stacks: list[PopulationStack], capacity: int | None = None) -> PopulationStack:
        """One stack of the members of ``stacks`` (each usually a single run's stack of one), in order.

        Per-member arrays whose trailing axes differ between stacks (capacity, neighbourhoods) are padded
        with the column's padding value (0 for other arrays). With ``capacity`` the columns are laid out with
        that many rows per member (at least every member's live rows), as :meth:`set_capacity` would lay
        them out after the join, but without laying them out twice.
        """
        out = cls.__new__(cls)
        first = stacks[0]
        out.__dict__.update({k: v for k, v in first.__dict__.items() if k not in ("views",)})
        out.n = np.concatenate([s.n for s in stacks])
        out.weight = np.concatenate([s.weight for s in stacks])
        if capacity is None:
            out.capacity = max(s.capacity for s in stacks)
            out.cols = {
                name: _concat_padded([s.cols[name] for s in stacks], first.PAD.get(name, 0)) for name in first.cols
            }
        else:
            out.capacity = max(int(capacity), int(out.n.max()) if len(out.n) else 0)
            out.cols = {
                name: _concat_fitted([s.cols[name] for s in stacks], out.capacity, first.PAD.get(name, 0))
                for name in first.cols
            }
        for name in cls.MEMBER_ARRAYS:
            setattr(out, name, _concat_padded([getattr(s, name) for s in stacks], 0))
        for name in cls.MEMBER_LISTS:
            setattr(out, name, [x for s in stacks for x in getattr(s, name)])
        out.views = [cls.view_class(out, m) for m in range(out.members)]
        out._member_index = None
        out._padding = None
        return out

    # ------------------------------------------------------------------ flat helpers for the kernels
    @property
    def flat_size(self) -> int:
        """Length of the flat columns: all rows of all members, or for a stack of one its live rows only
        (so a single run's kernels touch no padding)."""
        return int(self.n[0]) if len(self.n) == 1 else len(self.n) * self.capacity

    def flat(self, name: str) -> np.ndarray:
        """Column ``name`` as one flat array over members (a view: writes go through); see :attr:`flat_size`."""
        return self.cols[name].reshape(-1)[: self.flat_size]

    def row_members(self) -> np.ndarray:
        """Member of each flat row (:meth:`flat`), kept until the stack grows or is re-laid out."""
        index = self._member_index
        if index is None or len(index) != self.flat_size:
            index = self._member_index = np.arange(self.flat_size) // self.capacity
        return index

    def live_mask(self) -> np.ndarray:
        """Members x capacity: which rows are live."""
        return np.arange(self.capacity) < self.n[:, None]

    def member_sums(self, values: np.ndarray) -> np.ndarray:
        """Per-member sum of a flat array (:meth:`flat`) over each member's live rows.

        Each member's sum is numpy's sum of its own live rows, contiguous and in row order, so it does not
        depend on the padding, i.e. on which other members it was stepped with, and equals what a
        one-member population summing its live column gets.
        """
        # ``np.add.reduce`` is what ``ndarray.sum`` calls (the same pairwise sum), without its Python wrapper.
        add = np.add.reduce
        if len(self.n) == 1:
            return np.array([add(values)])
        rows = values.reshape(self.members, self.capacity)
        return np.array([add(rows[m, :k]) for m, k in enumerate(self.n.tolist())])

    def member_counts(self, rows: np.ndarray) -> list[int]:
        """How many of the (ascending) flat ``rows`` belong to each member."""
        return np.bincount(rows // self.capacity, minlength=self.members).tolist()

    def draw(self, counts: list[int], fn) -> np.ndarray | None:
        """``fn(rng, count, member)`` for each member with a non-zero count, in member order, concatenated.

        Each member draws from its own stream exactly the call its own run makes, so stacking does not change
        any member's random numbers. ``None`` when no member draws.
        """
        return _joined([fn(self.rngs[m], c, m) for m, c in enumerate(counts) if c])

    def grow(self, counts: list[int] | np.ndarray, zero: bool = True) -> np.ndarray:
        """Append ``counts[m]`` rows to each member; return their flat rows, member by member.

        The new rows' values are zero, or with ``zero=False`` whatever the padding held (for a caller that
        sets every column of them). Capacity doubles (for all members) when a member runs out.
        """
        counts = np.asarray(counts, dtype=np.int64)
        need = int((self.n + counts).max()) if len(counts) else 0
        if need > self.capacity:
            new_cap = max(need, 2 * self.capacity)
            for name, arr in self.cols.items():
                bigger = np.full((self.members, new_cap), self.PAD.get(name, 0), dtype=arr.dtype)
                bigger[:, : self.capacity] = arr
                self.cols[name] = bigger
            self.capacity = new_cap
        # Member m's rows are n[m] + m * capacity onwards: each member's first flat row, less the number of
        # rows of the members before it, repeated and added to a running count (no loop over members).
        starts = self.n + np.arange(self.members) * self.capacity - (np.cumsum(counts) - counts)
        rows = (np.repeat(starts, counts) + np.arange(int(counts.sum()))).astype(np.intp)
        if zero:
            for arr in self.cols.values():
                arr.reshape(-1)[rows] = 0
        self.n = self.n + counts
        self._padding = None
        return rows

    def set_capacity(self, capacity: int) -> None:
        """Re-lay the columns out with ``capacity`` rows per member (at least every member's live rows).

        Why: the kernels of a stack of several members work on every row, padding included, so padding a
        member never fills is work for nothing; a population that knows how far each member will grow can
        fit the capacity once instead of growing by doubling.
        """
        capacity = max(int(capacity), int(self.n.max()) if len(self.n) else 0)
        if capacity == self.capacity:
            return
        keep = min(capacity, self.capacity)
        for name, arr in self.cols.items():
            fitted = np.full((self.members, capacity), self.PAD.get(name, 0), dtype=arr.dtype)
            fitted[:, :keep] = arr[:, :keep]
            self.cols[name] = fitted
        self.capacity = capacity
        self._padding = None
        self._member_index = None

    def padding_rows(self) -> np.ndarray:
        """Flat rows that are padding (kept until the stack grows; none in a stack of one)."""
        if len(self.n) == 1:
            return _NO_ROWS
        if self._padding is None:
            self._padding = np.flatnonzero(~self.live_mask().reshape(-1)[: self.flat_size])
        return self._padding


def _joined(parts: list[np.ndarray]) -> np.ndarray | None:
    """The members' draws in member order as one array (``None`` when no member drew)."""
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class DrawnByMember:
    """The members' random numbers of one draw, taken from their own streams, handed to a function that
    draws from one generator (:func:`logit_choice`, :func:`next_event_years`, :func:`hazard_clocks`).

    Why: those functions decide for all rows in one call, but each member must draw exactly the numbers of
    its own run. This object stands in for the generator: when the function draws ``size`` numbers, each
    member draws its ``counts[m]`` of them from its own stream with the same call (:meth:`PopulationStack.draw`),
    at the same point, and the function gets them member by member, the order of its rows.
    """

    def __init__(self, stack: PopulationStack, counts: list[int]) -> None:
        self.stack = stack
        self.counts = counts

    def _streams(self, size: int) -> list[np.random.Generator]:
        if size != sum(self.counts):
            raise ValueError(f"{size} numbers asked of members that draw {sum(self.counts)}")
        return self.stack.rngs

    # Each member's generator is called directly (what :meth:`PopulationStack.draw` calls, in the same order),
    # without a Python function around each call: the kernels draw this way a few times per member and year.
    def random(self, size: int) -> np.ndarray:
        rngs = self._streams(size)
        return _joined([rngs[m].random(k) for m, k in enumerate(self.counts) if k])

    def geometric(self, p: float, size: int) -> np.ndarray:
        rngs = self._streams(size)
        return _joined([rngs[m].geometric(p, k) for m, k in enumerate(self.counts) if k])

    def standard_exponential(self, size: int) -> np.ndarray:
        rngs = self._streams(size)
        return _joined([rngs[m].standard_exponential(k) for m, k in enumerate(self.counts) if k])


def add_counts(counts: np.ndarray, cells: np.ndarray, values: np.ndarray | float = 1.0) -> None:
    """Add ``values`` to the per-cell ``counts`` (any shape, cells of its flat view) at flat ``cells``, in place.

    Why in place at the cells given (``np.add.at``): a year changes a few dozen of a batch's thousands of
    neighbourhood and stock cells, and a count over all cells (``np.bincount``) would pass over every one of
    them. The counts are whole numbers, so the order of the additions does not change them.
    """
    np.add.at(counts.reshape(-1), cells, values)


_NO_ROWS = np.zeros(0, dtype=np.intp)


def _concat_padded(arrays: list[np.ndarray], pad: object) -> np.ndarray:
    """Concatenate arrays along the member axis, padding trailing axes to the largest shape with ``pad``."""
    shape = tuple(max(a.shape[i] for a in arrays) for i in range(1, arrays[0].ndim))
    if all(a.shape[1:] == shape for a in arrays):
        return np.concatenate(arrays)
    out = np.full((sum(len(a) for a in arrays), *shape), pad, dtype=arrays[0].dtype)
    start = 0
    for a in arrays:
        out[(slice(start, start + len(a)), *(slice(0, k) for k in a.shape[1:]))] = a
        start += len(a)
    return out


def _concat_fitted(arrays: list[np.ndarray], capacity: int, pad: object) -> np.ndarray:
    """Concatenate columns (members x rows) along the member axis with ``capacity`` rows each: a member's rows
    beyond ``capacity`` are dropped (padding, as the caller guarantees) and missing rows are ``pad``."""
    if all(a.shape[1] >= capacity for a in arrays):  # the usual case: one copy of the kept rows
        return np.concatenate([a[:, :capacity] for a in arrays])
    out = np.full((sum(len(a) for a in arrays), capacity), pad, dtype=arrays[0].dtype)
    start = 0
    for a in arrays:
        keep = min(a.shape[1], capacity)
        out[start : start + len(a), :keep] = a[:, :keep]
        start += len(a)
    return out


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
    return logit_pick(utility, rng.random(utility.shape[1]))


def logit_pick(utility: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """:func:`logit_choice` with its uniform draws given (``draws``, one per column).

    Why: a stack's decision makers draw from their members' streams (:meth:`PopulationStack.draw`), one call
    per member, not from one stream; the rule is the same, so each picks what its own run would.
    ``utility`` is overwritten.
    """
    weights = utility
    weights -= utility.max(axis=0)
    np.maximum(weights, -700.0, out=weights)
    np.exp(weights, out=weights)
    for j in range(1, len(weights)):
        weights[j] += weights[j - 1]
    draws = draws * weights[-1]
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


GEOMETRIC_BY_INVERSION_BELOW = 1.0 / 3.0
"""numpy's ``Generator.geometric`` draws a probability below this by inverting one standard exponential per
number (:func:`event_years_from_exponentials`); from it on, by a search over uniform draws."""


def event_years_from_exponentials(e: np.ndarray, p: float, after: int) -> np.ndarray:
    """:func:`next_event_years` from standard exponential draws ``e`` (one per agent) instead of a generator.

    Why: the years to the first success of yearly Bernoulli(p) trials are ``ceil(E / -log(1 - p))`` for
    ``E ~ Exp(1)``, which is how ``Generator.geometric`` draws them for ``0 < p <`` :data:`GEOMETRIC_BY_INVERSION_BELOW`
    (one exponential per number, the same ``-E / log1p(-p)``), so for such ``p`` these are the years
    :func:`next_event_years` gives with the generator that drew ``e``. A kernel whose agents draw these waiting
    times next to other exponentials takes them all from a member's stream in one call.
    """
    return np.minimum(after + np.ceil(e / -math.log1p(-p)), NEVER).astype(np.int16)


def choice_by_shares(rng: np.random.Generator, shares: np.ndarray, size: int) -> np.ndarray:
    """``rng.choice(len(shares), size, p=shares / shares.sum())``: the same inverse-CDF rule on the same
    uniforms, so the same draws, without the call's checks of ``p``.

    Why: at the app's resolution a population draws a handful of agents per category, and the checks were
    most of the call's cost; the callers' shares are validated with the scenario (finite, non-negative,
    adding up to 1).
    """
    cdf = (shares / shares.sum()).cumsum()
    cdf /= cdf[-1]
    return cdf.searchsorted(rng.random(size), side="right")


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
