"""Households: appliances, cooking fuel, rooftop PV and green travel, decided in one kernel per year.

Each agent has an income, a dwelling type, a hurdle rate and a neighbourhood (for peer effects). Every
year each agent:
    * replaces appliances with probability 1/life, the new ones at the efficiency of that year's standard;
    * replaces its stove with probability 1/life, choosing gas or induction by a logit on annual cost
      (with the carbon price passed through to gas where buildings are covered) and on the share of
      induction among its neighbours;
    * if its roof allows and it has no PV, adopts rooftop PV with a probability rising with the ratio of
      bill savings to annualised cost at its own hurdle rate and with neighbours' adoption;
    * moves its share of trips by walking, cycling and public transport towards a target set by transit
      service, car ownership and neighbours' habits;
    * if it does not yet sort its waste, starts with a probability that rises with the sorting campaign
      and the share of sorting neighbours.

How the kernel computes this (the rules above are what it computes; see DESIGN.md section 8): replacements
at a constant yearly probability are scheduled by drawing the waiting time at each replacement
(:func:`~agents.population.next_event_years`), and adoptions whose probability changes every year use one
exponential threshold per agent (:func:`~agents.population.hazard_clocks`), so a year touches only the agents
that act or can still adopt. Neighbourhood counts of induction stoves, PV and sorting households are kept
up to date where those columns change (here and in :meth:`Households.grow_to`), so peer shares cost one
division per neighbourhood, not a pass over all households.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from agents.population import (
    GEOMETRIC_BY_INVERSION_BELOW,
    NEVER,
    DrawnByMember,
    MemberView,
    Population,
    PopulationStack,
    RowAgent,
    add_counts,
    crf,
    event_years_from_exponentials,
    hazard_clocks,
    logistic,
    next_event_years,
    yearly_hazard,
)

if TYPE_CHECKING:
    from sim.model import CityModel
    from sim.scenario import HouseholdSpec

GAS, INDUCTION = 0, 1
PV_FULL_LOAD_HOURS_PER_CF = 8760.0
PV_SELF_CONSUMPTION = 0.6
"""Share of rooftop PV output used on site (assumption); the rest is sold at the regional price."""
GAS_STOVE_HABIT_UTILS = 1.0
"""Preference for flame cooking not explained by cost (assumption)."""


_NOT_COPIED = frozenset(
    ("appliance_efficiency", "pv_kw", "next_appliance_year", "next_stove_year", "pv_clock", "sorting_threshold")
)
"""Columns a new household does not copy from its source (set in :meth:`HouseholdsStack.grow_to`)."""


class Household(RowAgent):
    columns = (
        "income_cny",
        "apartment",
        "hurdle_rate",
        "neighbourhood",
        "appliance_efficiency",
        "stove",
        "pv_kw",
        "green_travel_share",
        "green_travel_base",
        "owns_car",
        "sorts_waste",
    )


class Households(Population):
    agent_class = Household

    def __init__(
        self,
        model: CityModel,
        spec: HouseholdSpec,
        n_real: float,
        resolution: float,
        rng: np.random.Generator,
    ):
        super().__init__(model, n_real, resolution, rng, growth_headroom=0.5)
        self.spec = spec
        n = self.n
        p = model.params
        income = spec.income_mean_cny * rng.lognormal(-0.5 * spec.income_sigma**2, spec.income_sigma, n)
        self.add_column("income_cny", income)
        self.add_column("apartment", rng.random(n) < spec.apartment_share)
        hr = p["hurdle_rate_mean"] * rng.lognormal(-0.125, 0.5, n)
        self.add_column("hurdle_rate", hr)
        self.n_groups = max(1, int(np.ceil(n_real / spec.households_per_neighbourhood)))
        self.add_column("neighbourhood", rng.integers(0, self.n_groups, n))
        self.add_column("appliance_efficiency", np.ones(n))
        self.add_column("stove", np.where(rng.random(n) < spec.gas_cooking_share, GAS, INDUCTION).astype(np.int8))
        eligible_share = np.where(
            self.live("apartment"),
            spec.rooftop_eligible_share_apartment,
            spec.rooftop_eligible_share_detached,
        )
        self.add_column("roof_ok", rng.random(n) < eligible_share)
        has_pv = self.live("roof_ok") & (rng.random(n) < spec.pv_adopted_share / max(eligible_share.mean(), 1e-9))
        self.add_column("pv_kw", np.where(has_pv, spec.pv_kw_per_system, 0.0))
        a, b = 4.0 * spec.green_travel_share, 4.0 * (1 - spec.green_travel_share)
        g = rng.beta(max(a, 0.1), max(b, 0.1), n)
        self.add_column("green_travel_share", g)
        self.add_column("green_travel_base", g.copy())
        self.add_column("owns_car", np.zeros(n, dtype=bool))
        # Intercept per agent so that today's habits are each agent's equilibrium at base-year service.
        # np.minimum/np.maximum: the values of np.clip, without its per-call overhead.
        logit_g = np.log(np.minimum(np.maximum(g, 1e-3), 1 - 1e-3) / np.minimum(np.maximum(1 - g, 1e-3), 1))
        self.add_column("travel_intercept", logit_g)
        sorting0 = model.inputs.waste.sorting_share if model.inputs.waste is not None else 0.0
        self.add_column("sorts_waste", rng.random(n) < sorting0)
        # Per-agent constants of the decision rules: functions of traits that never change, so computed once
        # here (and copied with the traits in grow_to) instead of every year.
        self.add_column("appliance_size", (income / spec.income_mean_cny) ** 0.3)
        self.add_column("pv_crf", crf(hr, 20.0))
        self.add_column("km_factor_scale", 1.0 / np.maximum(1.0 - g, 0.05))
        self.add_column("travel_const", logit_g - 0.5 * p["peer_effect_strength"] * g)
        # Scheduled replacements and adoption thresholds (see the module docstring).
        base = model.inputs.base_year
        self.add_column("next_appliance_year", next_event_years(rng, 1.0 / spec.appliance_life_yr, n, base))
        self.add_column("next_stove_year", next_event_years(rng, 1.0 / spec.stove_life_yr, n, base))
        self.add_column("pv_clock", hazard_clocks(rng, n))
        self.add_column("sorting_threshold", np.where(self.live("sorts_waste"), np.inf, hazard_clocks(rng, n)))
        self.sorting_hazard = np.zeros(self.n_groups)
        """Cumulative hazard of starting to sort, per neighbourhood since the base year: the yearly
        probability depends only on the neighbourhood and the year, so a household starts when its
        neighbourhood's cumulative hazard passes its ``sorting_threshold`` (its own Exp(1) draw plus the
        neighbourhood's hazard when it became a non-sorter)."""
        self._count_groups()

    def _count_groups(self) -> None:
        """Per neighbourhood: households, induction stoves, PV systems and sorting households."""
        groups = self.live("neighbourhood")
        G = self.n_groups
        self.group_size = np.bincount(groups, minlength=G).astype(float)
        self.induction_count = np.bincount(groups, weights=self.live("stove") == INDUCTION, minlength=G)
        self.pv_count = np.bincount(groups, weights=self.live("pv_kw") > 0, minlength=G)
        self.sorting_count = np.bincount(groups, weights=self.live("sorts_waste"), minlength=G)


class HouseholdsView(MemberView):
    """One member's households (see :class:`~agents.population.MemberView`)."""

    stack: HouseholdsStack

    @property
    def n_groups(self) -> int:
        return self.stack.n_groups

    def _per_group(self, counts: np.ndarray) -> np.ndarray:
        return counts[self.member, : self.stack.n_groups]

    @property
    def group_size(self) -> np.ndarray:
        """Households per neighbourhood (kept up to date by the kernel, as the counts below)."""
        return self._per_group(self.stack.group_size)

    @property
    def induction_count(self) -> np.ndarray:
        return self._per_group(self.stack.induction_count)

    @property
    def pv_count(self) -> np.ndarray:
        return self._per_group(self.stack.pv_count)

    @property
    def sorting_count(self) -> np.ndarray:
        return self._per_group(self.stack.sorting_count)

    def sorting_share(self) -> float:
        n = self.n
        return float(self.stack.sorting_total[self.member]) / n if n else 0.0

    def green_travel_share(self) -> float:
        n = self.n
        return float(self.stack.green_travel_sum[self.member]) / n if n else 0.0

    def car_km_factor(self, out: np.ndarray | None = None) -> np.ndarray:
        """Per-household multiplier on private car km from the change in green travel since the base year.

        ``(1 - share) / max(1 - base-year share, 0.05)``, between 0 and 2; written into ``out`` if given.
        """
        f = np.subtract(1.0, self.live("green_travel_share"), out=out)
        f *= self.live("km_factor_scale")
        return np.clip(f, 0.0, 2.0, out=f)


class HouseholdsStack(PopulationStack):
    """The households of the members of a batch, decided together (rules: module docstring).

    Neighbourhood ``g`` of member ``m`` is group ``m * (G + 1) + g`` of the flat per-group arrays; the
    extra group ``G`` of each member holds its padding rows, so padding never counts towards a peer share.
    """

    agent_class = Household
    view_class = HouseholdsView
    PAD: ClassVar[dict[str, object]] = {
        "next_appliance_year": NEVER,
        "next_stove_year": NEVER,
        "sorting_threshold": np.inf,
    }
    MEMBER_ARRAYS = (
        "group_size",
        "induction_count",
        "pv_count",
        "sorting_count",
        "sorting_hazard",
        "green_travel_sum",
        "sorting_total",
        "peer_strength",
        "cost_sensitivity",
    )
    MEMBER_LISTS = ("models", "rngs", "pv_yield_kwh")

    def __init__(self, members: list[Households]) -> None:
        G = members[0].n_groups
        self.PAD = {**type(self).PAD, "neighbourhood": G}
        super().__init__(members)
        self.spec = members[0].spec
        self.n_groups = G
        if any(h.n_groups != G for h in members):
            raise ValueError("households of one stack must have the same number of neighbourhoods")

        def groups(attr: str) -> np.ndarray:
            return np.array([np.append(getattr(h, attr), 0.0) for h in members])

        self.group_size = groups("group_size")
        """Members x (neighbourhoods + 1): households per neighbourhood (last: padding, always 0)."""
        self.induction_count = groups("induction_count")
        self.pv_count = groups("pv_count")
        self.sorting_count = groups("sorting_count")
        self.sorting_hazard = groups("sorting_hazard")
        self.green_travel_sum = self.member_sums(self.flat("green_travel_share"))
        """Per member, the sum of the households' green-travel shares (for the indicator)."""
        self.sorting_total = self.sorting_count.sum(axis=1)
        """Per member, households that sort their waste (the waste operator asks every year): the sum of
        :attr:`sorting_count`, taken for all members at once wherever the counts change."""
        # A run's parameters are fixed from its start: read once, not every year.
        self.peer_strength = self._values(lambda model: model.params["peer_effect_strength"])
        self.cost_sensitivity = self._values(lambda model: model.params["choice_cost_sensitivity"] / 1e4)
        """Per member, utility per 1e4 CNY of annual cost."""
        self.pv_yield_kwh = [
            self.spec.pv_kw_per_system * model.params["solar_capacity_factor"] * PV_FULL_LOAD_HOURS_PER_CF
            for model in self.models
        ]
        """Per member, a rooftop system's yearly output (the first factors of its yearly saving, fixed for a run)."""
        self._groups_of_rows: np.ndarray | None = None
        self._pv_candidates: np.ndarray | None = None
        """Flat rows of the households with a suitable roof and no PV yet, in no particular order (an adoption
        depends only on its own row and its counts are whole numbers): kept as they adopt and as households
        are added, instead of a pass over all rows every year. Built when first needed after the columns are
        (re-)laid out."""
        self._fit_capacity()

    @classmethod
    def join(cls, stacks: list[HouseholdsStack]) -> HouseholdsStack:
        if any(s.n_groups != stacks[0].n_groups for s in stacks):
            raise ValueError("households of one stack must have the same number of neighbourhoods")
        out = super().join(stacks, capacity=max(s._largest_target() for s in stacks))  # see _fit_capacity
        out._groups_of_rows = None
        out._pv_candidates = None
        return out

    def _fit_capacity(self) -> None:
        """Give a stack of several members the rows its largest member will need, and no more.

        A member's households follow its population path exactly (:meth:`grow_to`), so the most it will have
        is known from the start; the kernels then never grow the columns and pass over little padding. The
        path grows or shrinks at a constant rate, so its largest value is at its first or last year; were it
        to peak in between, the columns would grow by doubling when a member outgrew them, with the same
        results. (:meth:`join` lays the joined columns out at this capacity directly.)
        """
        if self.members == 1:
            return
        self.set_capacity(self._largest_target())
        self._groups_of_rows = None
        self._pv_candidates = None

    def _largest_target(self) -> int:
        """The most agents any member has in its first or last year (see :meth:`_fit_capacity`)."""
        ends = [(m, int(year)) for m in range(self.members) for year in self.models[m].years[[0, -1]]]
        return max(self._target_agents(m, year) for m, year in ends)

    def _target_agents(self, m: int, year: int) -> int:
        """Agents member ``m`` has in ``year``: its model's households that year at the member's weight."""
        model = self.models[m]
        w = float(self.weight[m])  # a Python float: the same division and rounding, without numpy scalars
        n_real = model.population(year) / model.inputs.city.persons_per_household
        return round(n_real / w) if w > 0 else 0

    def _flat_groups(self, rows: np.ndarray) -> np.ndarray:
        """Flat group index of ``rows`` (member x (G + 1) + neighbourhood)."""
        return rows // self.capacity * (self.n_groups + 1) + self.flat("neighbourhood")[rows]

    def _all_flat_groups(self) -> np.ndarray:
        """Flat group index of every row, padding included (kept up to date as households are added; for a
        stack of one it is the neighbourhood column itself)."""
        if self.members == 1:
            return self.flat("neighbourhood")
        if self._groups_of_rows is None or len(self._groups_of_rows) != self.flat_size:
            self._groups_of_rows = self.row_members() * (self.n_groups + 1) + self.flat("neighbourhood")
        return self._groups_of_rows

    def _values(self, fn) -> np.ndarray:
        """``fn(model)`` for each member, as an array."""
        return np.array([fn(m) for m in self.models], dtype=float)

    def grow_to(self, year: int) -> None:
        """Add agents for new households; they copy the traits of randomly chosen existing ones.

        Each member grows to its model's population this year. A new household has this year's appliances
        and no PV. Its stove may be replaced from this year on and its PV and sorting thresholds are its own
        draws: only the traits are copied, not the source's schedule.
        """
        n_before = self.n.tolist()
        counts = [max(self._target_agents(m, year) - n_before[m], 0) for m in range(self.members)]
        if not any(counts):
            return
        src_local = self.draw(counts, lambda rng, k, m: rng.integers(0, n_before[m], k))
        capacity = self.capacity
        rows = self.grow(counts, zero=False)  # every column of the new rows is set below
        if self.capacity != capacity:  # reallocated: the flat group index and PV candidates are rebuilt when needed
            self._groups_of_rows = None
            self._pv_candidates = None
        cap = self.capacity
        member = rows // cap
        src = member * cap + src_local
        for name, arr in self.cols.items():
            if name not in _NOT_COPIED:
                flat = arr.reshape(-1)
                flat[rows] = flat[src]
        spec = self.spec
        standard = np.array([model.appliance_standard for model in self.models], dtype=float)
        self.flat("appliance_efficiency")[rows] = standard[member]
        self.flat("pv_kw")[rows] = 0.0
        if self._pv_candidates is not None:  # new households have no PV: candidates if their roof allows
            self._pv_candidates = np.concatenate([self._pv_candidates, rows[self.flat("roof_ok")[rows]]])
        p_appliance = 1.0 / spec.appliance_life_yr
        p_stove = 1.0 / spec.stove_life_yr
        if all(0.0 < p < GEOMETRIC_BY_INVERSION_BELOW for p in (p_appliance, p_stove)):
            # A member draws its new households' appliance and stove waiting times (geometric, by inversion of
            # exponentials), then their PV and sorting clocks (exponentials): 4 x k consecutive exponentials of
            # its stream, taken in one call; column j of a member's block holds its j-th run of k numbers.
            e = self.draw(counts, lambda rng, k, m: rng.standard_exponential(4 * k).reshape(4, k).T)
            appliance_year = event_years_from_exponentials(e[:, 0], p_appliance, year)
            stove_year = event_years_from_exponentials(e[:, 1], p_stove, year - 1)
            pv_clock, sorting_clock = e[:, 2], e[:, 3]
        else:  # numpy draws geometric numbers of such probabilities otherwise: draw them as geometric
            drawn = DrawnByMember(self, counts)
            appliance_year = next_event_years(drawn, p_appliance, len(rows), year)
            stove_year = next_event_years(drawn, p_stove, len(rows), year - 1)
            # The PV clocks and then the sorting clocks are consecutive draws of one kind: one call per member.
            clocks = self.draw(counts, lambda rng, k, m: hazard_clocks(rng, 2 * k).reshape(2, k).T)
            pv_clock, sorting_clock = clocks[:, 0], clocks[:, 1]
        self.flat("next_appliance_year")[rows] = appliance_year
        self.flat("next_stove_year")[rows] = stove_year
        self.flat("pv_clock")[rows] = pv_clock
        fg = self._flat_groups(rows)
        if self._groups_of_rows is not None and self.members > 1:
            self._groups_of_rows[rows] = fg  # padding rows became these households
        self.flat("sorting_threshold")[rows] = np.where(
            self.flat("sorts_waste")[rows], np.inf, self.sorting_hazard.reshape(-1)[fg] + sorting_clock
        )
        add_counts(self.group_size, fg)
        add_counts(self.induction_count, fg, self.flat("stove")[rows] == INDUCTION)
        add_counts(self.sorting_count, fg, self.flat("sorts_waste")[rows])
        self.sorting_total = self.sorting_count.sum(axis=1)

    def _peer_share(self, count: np.ndarray) -> np.ndarray:
        """Share of each neighbourhood's households counted in ``count`` (0 for an empty neighbourhood)."""
        return count / np.maximum(self.group_size, 1.0)

    def step(self, year: int) -> None:
        """One year of household decisions for every member: growth first, then the rules of the module
        docstring, each member with its own prices, parameters, policies and random streams."""
        self.grow_to(year)
        models = self.models
        spec = self.spec
        cap = self.capacity
        M = self.members
        size = M * (self.n_groups + 1)
        shape = self.group_size.shape
        peer_strength = self.peer_strength
        fg_all = self._all_flat_groups()  # each row's flat group (a gather from it is all a row's group costs)
        # Appliances: replaced at the end of their (geometric) life, by ones at this year's standard.
        # (``ndarray.nonzero`` of a flat mask is ``np.flatnonzero`` without its Python wrapper.)
        due = self.flat("next_appliance_year")
        rows = (due == year).nonzero()[0]
        if len(rows):
            standard = np.array([model.appliance_standard for model in models], dtype=float)
            self.flat("appliance_efficiency")[rows] = standard[rows // cap]
            drawn = DrawnByMember(self, self.member_counts(rows))
            due[rows] = next_event_years(drawn, 1.0 / spec.appliance_life_yr, len(rows), year)
        # Cooking: gas vs induction at stove replacement, a binary logit whose utilities differ by household
        # only through the member's prices and parameters and the neighbourhood's induction share. P(gas) is
        # computed for the year's buyers only: a lockstep has far more neighbourhoods than buyers.
        due = self.flat("next_stove_year")
        rows = (due == year).nonzero()[0]
        if len(rows):
            counts = self.member_counts(rows)
            member = rows // cap
            k = self.cost_sensitivity
            gas_cost = spec.cooking_gj_per_yr * np.array(
                [model.retail_gas_price_cny_per_gj(year, "buildings") for model in models], dtype=float
            )
            ind_cost = (
                spec.cooking_gj_per_yr
                / spec.induction_stove_efficiency_ratio
                / 0.0036
                * spec.retail_power_price_cny_per_kwh
            )
            fg = fg_all[rows]
            peer_ind = self.induction_count.reshape(-1)[fg] / np.maximum(self.group_size.reshape(-1)[fg], 1.0)
            strength = peer_strength[member]
            u_gas = (-k * gas_cost + GAS_STOVE_HABIT_UTILS)[member] + strength * (1 - peer_ind)
            u_ind = (-k * ind_cost)[member] + strength * peer_ind
            p_gas = 1.0 / (1.0 + np.exp(u_ind - u_gas))
            stove = self.flat("stove")
            old = stove[rows]
            drawn = DrawnByMember(self, counts)
            draws = drawn.random(len(rows))
            new = np.where(draws > p_gas, INDUCTION, GAS).astype(stove.dtype)
            stove[rows] = new
            add_counts(self.induction_count, fg, new - old.astype(float))
            due[rows] = next_event_years(drawn, 1.0 / spec.stove_life_yr, len(rows), year)
        # Rooftop PV: only households with a suitable roof and no PV yet can adopt.
        pv = self.flat("pv_kw")
        candidates = self._pv_candidates
        if candidates is None:
            candidates = np.flatnonzero(self.flat("roof_ok") & (pv == 0))
        adopted = [0] * M
        if len(candidates):
            # A few scalars per member: plain floats, in the order of the formula's operations.
            own_use = PV_SELF_CONSUMPTION * spec.retail_power_price_cny_per_kwh
            sold = 1 - PV_SELF_CONSUMPTION
            system_w = spec.pv_kw_per_system * 1e3
            saving = np.array(
                [
                    y * (own_use + sold * model.regional_price_cny_per_mwh(year) / 1e3)
                    for model, y in zip(models, self.pv_yield_kwh, strict=True)
                ]
            )
            capex = np.array(
                [
                    system_w
                    * max(
                        model.developer.capex_cny_per_kw("solar", year) / 1e3 * 1.3
                        - model.policies.pv_subsidy_cny_per_w(year),
                        0.0,
                    )
                    for model in models
                ]
            )
            member = candidates // cap
            annual_cost = np.maximum(capex[member] * self.flat("pv_crf")[candidates], 1.0)
            peer_pv = self._peer_share(self.pv_count)
            fg = fg_all[candidates]
            x = 4.0 * (saving[member] / annual_cost - 1.0) + (peer_strength[:, None] * peer_pv - 1.5).reshape(-1)[fg]
            clock = self.flat("pv_clock")
            left = clock[candidates] - yearly_hazard(0.1 * logistic(x))
            clock[candidates] = left
            won = left <= 0
            adopt = candidates[won]
            if len(adopt):
                adopted = self.member_counts(adopt)
                pv[adopt] = spec.pv_kw_per_system
                add_counts(self.pv_count, fg[won])
                if spec.pv_kw_per_system != 0:  # (with no kW a household that adopted would still have "no PV")
                    candidates = candidates[~won]
        self._pv_candidates = candidates
        for model, n_adopted, w in zip(models, adopted, self.weight.tolist(), strict=True):
            model.policies.record_pv_adoptions(float(n_adopted) * w * spec.pv_kw_per_system, year)
        # Green travel: each household drifts towards its target share (padding rows drift harmlessly in
        # their own group).
        g = self.flat("green_travel_share")
        peer_g = np.bincount(fg_all, weights=g, minlength=size).reshape(shape) / np.maximum(self.group_size, 1)
        transit = np.array([model.policies.transit_service_utils(year) for model in models], dtype=float)
        target = (
            self.flat("travel_const") + (transit[:, None] + 0.5 * peer_strength[:, None] * peer_g).reshape(-1)[fg_all]
        )
        target = logistic(target)
        target -= g
        target *= spec.green_travel_drift_per_yr
        g += target  # padding rows drift too, in their own group; member_sums leaves them out
        self.green_travel_sum = self.member_sums(g)
        # Waste sorting: adoption rises with the sorting campaign and with neighbours who already sort; the
        # probability is the same for all non-sorters of a neighbourhood.
        push = np.array([model.policies.value("waste_sorting_push_utils", year) for model in models], dtype=float)
        x = (-2.0 + push)[:, None] + (2.0 * peer_strength / 1.5)[:, None] * self._peer_share(self.sorting_count)
        self.sorting_hazard += yearly_hazard(0.15 * logistic(x))
        threshold = self.flat("sorting_threshold")
        start = (self.sorting_hazard.reshape(-1)[fg_all] >= threshold).nonzero()[0]
        if len(start):
            self.flat("sorts_waste")[start] = True
            threshold[start] = np.inf
            add_counts(self.sorting_count, fg_all[start])
            self.sorting_total = self.sorting_count.sum(axis=1)

    def account(self, y: int) -> list[dict[str, float]]:
        """Book each member's cooking gas and appliance electricity; return its electricity use and rooftop
        capacity."""
        spec = self.spec
        size_x_eff = self.member_sums(self.flat("appliance_size") * self.flat("appliance_efficiency")).tolist()
        pv_kw = self.member_sums(self.flat("pv_kw")).tolist()
        induction = self.induction_count.sum(axis=1).tolist()
        pv_systems = self.pv_count.sum(axis=1).tolist()
        out = []
        for m, (model, w, n) in enumerate(zip(self.models, self.weight.tolist(), self.n.tolist(), strict=True)):
            appliance_mwh = spec.appliance_kwh_per_yr * size_x_eff[m] * w / 1e3
            n_ind = induction[m] * w
            n_gas = (n - induction[m]) * w
            gas_tj = n_gas * spec.cooking_gj_per_yr / 1e3
            induction_mwh = n_ind * spec.cooking_gj_per_yr / spec.induction_stove_efficiency_ratio / 3.6
            ledger = model.ledger
            ledger.add_energy(y, "buildings", "natural_gas", gas_tj)
            ledger.add_energy(y, "buildings", "electricity", (appliance_mwh + induction_mwh) * 3.6 / 1e3)
            ledger.add_series(ledger.stocks, ("households", "induction_cooking"), y, n_ind)
            ledger.add_series(ledger.stocks, ("households", "gas_cooking"), y, n_gas)
            ledger.add_series(ledger.stocks, ("households", "rooftop_pv_systems"), y, pv_systems[m] * w)
            out.append({"electricity_mwh": appliance_mwh + induction_mwh, "rooftop_mw": pv_kw[m] * w / 1e3})
        return out


Households.stack_class = HouseholdsStack
