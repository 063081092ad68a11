"""Vehicles: scrappage by age, replacement by total cost of ownership, fleet growth, in one kernel a year.

Each vehicle agent has a segment, powertrain, age, annual km, hurdle rate and (for private cars) an owner
household. Every year:
    * it is scrapped with the Weibull hazard of its segment (scale = mean life, shape 3: assumption);
    * a scrapped vehicle is replaced in the same row; the owner chooses a powertrain by multinomial logit on
      annualised total cost of ownership (purchase minus subsidy at the owner's hurdle rate, energy with
      carbon pass-through where transport fuels are covered, maintenance), charger availability for plug-in
      types, and the share of that powertrain among its neighbours; mandates override the choice for the
      share of fleet purchases they cover;
    * new vehicles are added as ownership grows (private cars approach a saturation level).
Alternative-specific constants are calibrated at the start of the run so that a base-year buyer with mean
km and hurdle rate reproduces the segment's base-year sales shares.

How the kernel computes this (DESIGN.md section 8): a vehicle's scrappage age is drawn once, when it is
bought (or at the start for the initial fleet, given its age), from the same discretised Weibull hazard
(:meth:`Vehicles._scrap_ages`), so a year compares ages instead of drawing a number per vehicle; counts of
vehicles per neighbourhood x powertrain and segment x powertrain are kept up to date where powertrains change,
so peer shares, the charger index and the stock table need no pass over the fleet; and per-vehicle constants
(capital recovery factor at the owner's hurdle rate over the segment life, energy per year) are columns.

:class:`Vehicles` builds one run's fleet; the kernel is :class:`VehiclesStack`'s, which steps the fleets of
the members of a batch together (a single run is a stack of one; see
:class:`~agents.population.PopulationStack`): each member's buyers draw from the member's own streams in its
run's order and see its own prices, parameters, subsidies, mandates and counts, so a member decides exactly
as its single run would.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from agents.population import (
    NEVER,
    DrawnByMember,
    MemberView,
    Population,
    PopulationStack,
    RowAgent,
    add_counts,
    choice_by_shares,
    crf,
    hazard_clocks,
    logit_pick,
)
from sim.constants import EMISSION_FACTOR_T_PER_TJ

if TYPE_CHECKING:
    from sim.model import CityModel
    from sim.scenario import VehicleSpec

SEGMENTS = ("private_car", "taxi", "bus", "light_truck", "heavy_truck")
POWERTRAINS = ("gasoline", "diesel", "cng", "bev", "phev", "fcev")
FUEL_OF = {
    "gasoline": "gasoline",
    "diesel": "diesel",
    "cng": "natural_gas",
    "bev": "electricity",
    "phev": "gasoline",
    "fcev": "hydrogen",
}
PHEV_ELECTRIC_KM_SHARE = 0.4
"""Share of PHEV km driven on electricity (assumption: field data for Chinese PHEVs are 30-50%)."""
PLUG_IN = np.array([p in ("bev", "phev") for p in POWERTRAINS])
ELECTRIC = np.array([p in ("bev", "phev", "fcev") for p in POWERTRAINS])
EV_SUBSIDISED = np.array([p in ("bev", "fcev") for p in POWERTRAINS])
"""Powertrains the EV purchase subsidy pays for (:meth:`policies.base.PolicySet.vehicle_subsidy_matrix`)."""


class Vehicle(RowAgent):
    columns = ("segment", "powertrain", "age", "km_per_yr", "hurdle_rate", "owner", "neighbourhood")


class Vehicles(Population):
    """One run's fleet as it starts: columns, segment x powertrain tables and base-year constants.

    The yearly decisions are :class:`VehiclesStack`'s (``stack_class``): the model wraps this population in a
    stack of one, and a lockstep batch joins its members' stacks. The price, cost and scrappage helpers here
    calibrate the constants and draw the initial fleet's scrappage ages; the stack's member views reuse them.
    """

    agent_class = Vehicle

    def __init__(
        self,
        model: CityModel,
        spec: VehicleSpec,
        resolution: float,
        rng: np.random.Generator,
        n_households: int,
        households_neighbourhood: np.ndarray | None,
    ):
        n_real = sum(s.stock for s in spec.segments.values())
        super().__init__(model, n_real, resolution, rng, growth_headroom=1.0)
        self.spec = spec
        p = model.params
        seg_codes, pt_codes, ages, kms = [], [], [], []
        self.seg_real_stock = {}
        for name, s in spec.segments.items():
            k = max(int(round(s.stock * resolution)), 1 if s.stock > 0 else 0)
            seg_codes.append(np.full(k, SEGMENTS.index(name)))
            shares = np.array([s.shares.get(pt, 0.0) for pt in POWERTRAINS])
            pt_codes.append(choice_by_shares(rng, shares, k))
            # Ages from a stationary stock of the segment's life (approximately uniform up to 1.3 x life).
            ages.append(rng.integers(0, max(int(1.3 * s.lifetime_yr), 1), k))
            kms.append(s.km_per_yr * rng.lognormal(-0.5 * s.km_sigma**2, s.km_sigma, k))
            self.seg_real_stock[name] = s.stock
        seg = np.concatenate(seg_codes) if seg_codes else np.zeros(0, int)
        self.n = len(seg)
        self.weight = n_real / self.n if self.n else 0.0
        self.capacity = 2 * self.n + 8
        self.add_column("segment", seg.astype(np.int8))
        self.add_column("powertrain", np.concatenate(pt_codes).astype(np.int8))
        self.add_column("age", np.concatenate(ages).astype(np.int16))
        self.add_column("km_per_yr", np.concatenate(kms))
        self.add_column("hurdle_rate", p["hurdle_rate_mean"] * rng.lognormal(-0.125, 0.5, self.n))
        owner = rng.integers(0, max(n_households, 1), self.n)
        self.add_column("owner", np.where(seg == 0, owner, -1))
        if households_neighbourhood is not None and len(households_neighbourhood):
            nb = households_neighbourhood[np.clip(owner, 0, len(households_neighbourhood) - 1)]
            self.n_groups = int(households_neighbourhood.max()) + 1
        else:
            nb = rng.integers(0, 50, self.n)
            self.n_groups = 50
        self.add_column("neighbourhood", nb)
        self._tables()
        self.mandate_rng = rng.spawn(1)[0]
        """Stream for the random picks of purchase mandates, apart from the purchase decisions, so that a run
        with a mandate draws the same purchase decisions as its pair without it."""
        self.peer_counts = np.zeros((self.n_groups, len(POWERTRAINS)))
        """Vehicles per neighbourhood x powertrain (peer shares)."""
        self.stock_counts = np.zeros((len(SEGMENTS), len(POWERTRAINS)))
        """Vehicles per segment x powertrain (charger index, stock table, fleet growth)."""
        self._recount(np.arange(self.n), None, self.live("powertrain"))
        self.group_size = self.peer_counts.sum(axis=1)
        """Vehicles per neighbourhood (changes only with fleet growth)."""
        self.asc = np.zeros((len(SEGMENTS), len(POWERTRAINS)))
        self._calibrate_asc(model.inputs.base_year)
        self.add_column("crf_life", crf(self.live("hurdle_rate"), self.life[seg]))
        self.add_column("annual_mj", self.live("km_per_yr") * self.mj_per_km[seg, self.live("powertrain")])
        self.add_column("scrap_age", self._scrap_ages(seg, self.live("age")))

    def _recount(self, rows: np.ndarray, old: np.ndarray | None, new: np.ndarray) -> None:
        """Move vehicles ``rows`` from powertrain ``old`` (None: not counted yet) to ``new`` in the counts."""
        P = len(POWERTRAINS)
        nb = self.cols["neighbourhood"][rows] * P
        seg = self.cols["segment"][rows].astype(np.intp) * P
        peer = np.bincount(nb + new, minlength=self.n_groups * P)
        stock = np.bincount(seg + new, minlength=len(SEGMENTS) * P)
        if old is not None:
            peer -= np.bincount(nb + old, minlength=self.n_groups * P)
            stock -= np.bincount(seg + old, minlength=len(SEGMENTS) * P)
        self.peer_counts += peer.reshape(-1, P)
        self.stock_counts += stock.reshape(-1, P)

    def _scrap_ages(self, seg: np.ndarray, age: np.ndarray | None = None) -> np.ndarray:
        """Age at which each vehicle will be scrapped, given its segment and current age (None: new).

        The yearly scrappage hazard at age ``a`` is ``1 - exp(-(L(a) - L(a - 1)))`` with the Weibull cumulative
        hazard ``L(a) = (a / lam) ** k`` (scale ``lam`` = life / 0.9, shape ``k`` per segment). Drawing one
        Exp(1) threshold ``E`` and scrapping at the first age ``a`` above the current age ``a0`` with
        ``L(a) - L(a0) >= E`` gives the same age at scrappage in distribution (see
        :func:`~agents.population.hazard_clocks`); solved for ``a`` that is
        ``ceil(lam * (L(a0) + E) ** (1 / k))``.
        """
        lam = self.weibull_scale[seg]
        inv_k = self.weibull_inv_shape[seg]
        e = hazard_clocks(self.rng, len(seg))
        if age is None:  # L(0) = 0
            a = np.maximum(np.ceil(lam * e**inv_k), 1.0)
        else:
            a = np.maximum(np.ceil(lam * ((age / lam) ** self.shape[seg] + e) ** inv_k), age + 1.0)
        return np.minimum(a, np.iinfo(np.int16).max).astype(np.int16)

    def _tables(self) -> None:
        """Per segment x powertrain arrays of price, MJ/km, maintenance and availability."""
        S, P = len(SEGMENTS), len(POWERTRAINS)
        self.price0 = np.zeros((S, P))
        self.mj_per_km = np.zeros((S, P))
        self.maint = np.zeros((S, P))
        self.available = np.zeros((S, P), dtype=bool)
        self.life = np.ones(S)
        self.shape = np.full(S, 3.0)
        self.sales_share0 = np.zeros((S, P))
        p = self.model.params
        for name, s in self.spec.segments.items():
            i = SEGMENTS.index(name)
            self.life[i] = s.lifetime_yr
            self.shape[i] = s.weibull_shape
            for pt, price in s.price_kcny.items():
                j = POWERTRAINS.index(pt)
                self.available[i, j] = True
                self.price0[i, j] = price * 1e3
                mj = s.mj_per_km[pt]
                if name == "private_car" and pt in ("gasoline", "diesel", "phev"):
                    mj *= p["car_real_world_uplift"]
                if name == "private_car" and pt == "bev":
                    mj = p["ev_kwh_per_100km"] * 3.6 / 100
                self.mj_per_km[i, j] = mj
                self.maint[i, j] = s.maintenance_kcny_per_yr.get(pt, 0.0) * 1e3
            for pt, sh in (s.sales_shares or s.shares).items():
                self.sales_share0[i, POWERTRAINS.index(pt)] = sh
        self.weibull_scale = self.life / 0.9
        self.weibull_inv_shape = 1.0 / self.shape
        self._segment_list = [(SEGMENTS.index(name), name, s) for name, s in self.spec.segments.items()]
        self._km_mean = np.zeros(S)
        self._km_sigma = np.zeros(S)
        self._private = np.zeros(S, dtype=bool)
        for i, _name, s in self._segment_list:
            self._km_mean[i], self._km_sigma[i], self._private[i] = s.km_per_yr, s.km_sigma, s.private
        base = np.where(self.available & ~ELECTRIC[None, :], self.price0, np.inf).min(axis=1, keepdims=True)
        self._price_base = np.where(np.isfinite(base), base, 0.0)
        """Price of the cheapest combustion powertrain of each segment (the reference for EV premiums)."""
        self._premium = self.price0 - self._price_base
        """Premium over that reference by segment x powertrain (it shrinks for electric types)."""

    def prices(self, year: int) -> np.ndarray:
        """Purchase prices (CNY) by segment x powertrain: the premium of electric types over the cheapest
        combustion type shrinks at the EV price-premium decline rate."""
        d = self.model.params["ev_price_premium_decline_pct_per_yr"] / 100
        t = year - self.model.inputs.base_year
        return np.where(ELECTRIC[None, :], self._price_base + self._premium * (1 - d) ** t, self.price0)

    def energy_price_cny_per_mj(self, year: int) -> np.ndarray:
        """Price per MJ at the wheel-side meter for each powertrain, including carbon pass-through."""
        m = self.model
        power = m.households_spec_power_price() / 3.6
        fuel = {
            f: m.transport_fuel_price_cny_per_mj(f, year) for f in ("gasoline", "diesel", "natural_gas", "hydrogen")
        }
        fuel["electricity"] = power
        out = np.array([fuel[FUEL_OF[pt]] for pt in POWERTRAINS])
        gasoline = fuel["gasoline"]
        out[POWERTRAINS.index("phev")] = PHEV_ELECTRIC_KM_SHARE * power + (1 - PHEV_ELECTRIC_KM_SHARE) * gasoline
        return out

    def _cost_tables(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Purchase price net of subsidy (CNY) and energy cost per km (CNY), by segment x powertrain."""
        prices = self.prices(year)
        subsidy = self.model.policies.ev_subsidy_cny_per_vehicle(year)
        if subsidy:
            prices[:, EV_SUBSIDISED] -= subsidy
            np.maximum(prices, 0.0, out=prices)
        return prices, self.mj_per_km * self.energy_price_cny_per_mj(year)

    def _annual_cost(self, seg: np.ndarray, km: np.ndarray, crf_life: np.ndarray, year: int) -> np.ndarray:
        """Annualised cost of ownership (rows x powertrains): capital at the buyer's capital recovery factor
        ``crf_life`` (own hurdle rate over the segment life), energy for ``km`` and maintenance."""
        prices, cny_per_km = self._cost_tables(year)
        return prices[seg] * crf_life[:, None] + km[:, None] * cny_per_km[seg] + self.maint[seg]

    def charger_index(self) -> float:
        share = float(self.stock_counts[:, PLUG_IN].sum()) / self.n if self.n else 0.0
        return min(1.0, self.spec.charger_base_index + self.spec.charger_per_ev_share * share)

    def _calibrate_asc(self, year: int) -> None:
        """Set constants so the mean base-year buyer of each segment reproduces its sales shares.

        The cost tables and the charger index are the same for every segment's buyer, so all segments' costs
        are computed in one :meth:`_annual_cost`.
        """
        p = self.model.params
        seg, km_per_yr, hurdle_rate = self.live("segment"), self.live("km_per_yr"), self.live("hurdle_rate")
        codes, km, hurdle = [], [], []
        for name in self.spec.segments:
            i = SEGMENTS.index(name)
            rows = np.flatnonzero(seg == i)
            if not len(rows):
                continue
            codes.append(i)
            # Means as sum / count: what ndarray.mean computes, without its Python-level wrapper.
            km.append(km_per_yr[rows].sum() / len(rows))
            hurdle.append(hurdle_rate[rows].sum() / len(rows))
        if not codes:
            return
        codes = np.array(codes)
        costs = self._annual_cost(codes, np.array(km), crf(np.array(hurdle), self.life[codes]), year)
        log_charger = np.log(self.charger_index()) * PLUG_IN
        v = -p["choice_cost_sensitivity"] * costs / 1e4 + log_charger
        v += p["peer_effect_strength"] * self.sales_share0[codes]
        ok = self.available[codes]
        asc = np.where(ok, np.log(np.maximum(self.sales_share0[codes], 1e-3)) - v, 0.0)
        for row, available in zip(asc, ok, strict=True):  # each segment's mean over its own powertrains
            if available.any():
                row -= row[available].mean()
        self.asc[codes] = asc


_SHARED_TABLES = (
    "spec",
    "seg_real_stock",
    "price0",
    "maint",
    "available",
    "life",
    "shape",
    "sales_share0",
    "weibull_scale",
    "weibull_inv_shape",
    "_segment_list",
    "_km_mean",
    "_km_sigma",
    "_private",
    "_price_base",
    "_premium",
)
"""Per segment (x powertrain) tables that depend only on the scenario, so all members of a stack share them."""


class VehiclesView(MemberView):
    """One member's vehicles (see :class:`~agents.population.MemberView`): its fleet's columns, counts and
    tables, as the policies, the tests, the app and the plain-Mesa reference read them.

    The price, cost and scrappage helpers are those of :class:`Vehicles` (the same code on this member's
    tables); the kernels that decide for all members are :class:`VehiclesStack`'s.
    """

    stack: VehiclesStack

    @property
    def n_groups(self) -> int:
        return int(self.stack.n_groups[self.member])

    @property
    def mandate_rng(self) -> np.random.Generator:
        return self.stack.mandate_rngs[self.member]

    @property
    def mj_per_km(self) -> np.ndarray:
        return self.stack.mj_per_km[self.member]

    @property
    def asc(self) -> np.ndarray:
        return self.stack.asc[self.member]

    @property
    def peer_counts(self) -> np.ndarray:
        """Vehicles per neighbourhood x powertrain (this member's neighbourhoods only)."""
        return self.stack.peer_counts[self.member, : self.n_groups]

    @property
    def group_size(self) -> np.ndarray:
        return self.stack.group_size[self.member, : self.n_groups]

    @property
    def stock_counts(self) -> np.ndarray:
        return self.stack.stock_counts[self.member]

    prices = Vehicles.prices
    energy_price_cny_per_mj = Vehicles.energy_price_cny_per_mj
    _cost_tables = Vehicles._cost_tables
    _annual_cost = Vehicles._annual_cost
    charger_index = Vehicles.charger_index
    _scrap_ages = Vehicles._scrap_ages


for _name in _SHARED_TABLES:  # the view reads the tables all members share from its stack
    setattr(VehiclesView, _name, property(lambda self, _n=_name: getattr(self.stack, _n)))
del _name


class VehiclesStack(PopulationStack):
    """The vehicles of the members of a batch, decided together (rules: module docstring).

    Each member's fleet is built by :class:`Vehicles` (so it starts as its single run would) and is then
    stepped here: a member's buyers draw from its own streams, in its run's order and sizes, and see its own
    prices, parameters, subsidies, mandates, counts and constants.

    Per-member tables are indexed members first: ``mj_per_km`` and the constants (members x segments x
    powertrains; energy use per km depends on the sampled parameters and the constants are calibrated per
    run), and the counts. Neighbourhood ``g`` of member ``m`` is row ``g`` of ``peer_counts[m]``; members
    may have fewer neighbourhoods than the stack has rows (their other rows stay 0). Padding rows never
    act: their scrappage age is never reached, and counts change only where vehicles are bought or added.
    """

    agent_class = Vehicle
    view_class = VehiclesView
    PAD: ClassVar[dict[str, object]] = {"scrap_age": NEVER}
    MEMBER_ARRAYS = (
        "n_groups",
        "mj_per_km",
        "asc",
        "const_fixed",
        "peer_counts",
        "group_size",
        "stock_counts",
        "cost_sensitivity",
        "peer_strength",
        "hurdle_rate_mean",
    )
    MEMBER_LISTS = ("models", "rngs", "mandate_rngs", "stock_series")

    def __init__(self, members: list[Vehicles]) -> None:
        super().__init__(members)
        first = members[0]
        for name in _SHARED_TABLES:
            setattr(self, name, getattr(first, name))
        if any(v.spec is not self.spec and v.spec != self.spec for v in members):
            raise ValueError("vehicles of one stack must come from scenarios with the same vehicles section")
        M, S, P = len(members), len(SEGMENTS), len(POWERTRAINS)
        self.mandate_rngs = [v.mandate_rng for v in members]
        self.n_groups = np.array([v.n_groups for v in members], dtype=np.int64)
        """Neighbourhoods per member (a member draws new vehicles' neighbourhoods from its own number)."""
        G = int(self.n_groups.max())
        self.peer_counts = np.zeros((M, G, P))
        """Vehicles per member x neighbourhood x powertrain (peer shares)."""
        self.group_size = np.zeros((M, G))
        """Vehicles per member x neighbourhood (changes only with fleet growth)."""
        for m, v in enumerate(members):
            self.peer_counts[m, : v.n_groups] = v.peer_counts
            self.group_size[m, : v.n_groups] = v.group_size
        self.stock_counts = np.array([v.stock_counts for v in members]).reshape(M, S, P)
        """Vehicles per member x segment x powertrain (charger index, stock table, fleet growth)."""
        self.mj_per_km = np.array([v.mj_per_km for v in members]).reshape(M, S, P)
        self.asc = np.array([v.asc for v in members]).reshape(M, S, P)
        # A run's parameters are fixed from its start: read once, not every year.
        self.cost_sensitivity = self._values(lambda model: model.params["choice_cost_sensitivity"] / 1e4)
        """Per member, utility per 1e4 CNY of annual cost."""
        self.peer_strength = self._values(lambda model: model.params["peer_effect_strength"])
        self.hurdle_rate_mean = self._values(lambda model: model.params["hurdle_rate_mean"])
        const = self.asc - self.cost_sensitivity[:, None, None] * self.maint
        const[:, ~self.available] = -np.inf
        self.const_fixed = const
        """``asc - sensitivity x maintenance`` (-inf where unavailable): the part of each member's constants
        that is fixed once they are calibrated."""
        present = np.array([s in self.spec.segments for s in SEGMENTS])
        self._stock_cells = np.flatnonzero((self.available & present[:, None]).ravel())
        """Segment x powertrain cells booked as stock series (available powertrains of present segments)."""
        self.stock_series: list[np.ndarray | None] = [None] * M
        """Each member's ledger block of stock series (created at its first account)."""
        self._energy_constants = None
        """Run constants of the members' energy prices (:meth:`_energy_prices`; None: not read yet)."""
        self._target_constants = None
        """Run constants of the members' segment target stocks (:meth:`_target_stocks`; None: not read yet)."""
        self._segment_codes = np.array([i for i, _name, _s in self._segment_list], dtype=np.intp)
        """Segment codes of the scenario's segments, in its order."""
        self._households_stack = None
        """The households stack whose members are this stack's, in order (see :meth:`_km_factors`)."""
        self._km_factor_table: np.ndarray | None = None
        """The owners' car-km factors, member by member (see :meth:`_km_factors`)."""
        self._owner_cells_table: np.ndarray | None = None
        self._owner_cells_key: tuple[int, int] | None = None
        """Stride and capacity of :meth:`_owner_cells`' table (None: not built)."""
        self._powertrain_cells_table: np.ndarray | None = None
        self._powertrain_cells_capacity: int | None = None
        """Capacity of :meth:`_powertrain_cells`' table (None: not built)."""

    @classmethod
    def join(cls, stacks: list[VehiclesStack]) -> VehiclesStack:
        if any(s.spec is not stacks[0].spec and s.spec != stacks[0].spec for s in stacks):
            raise ValueError("vehicles of one stack must come from scenarios with the same vehicles section")
        out = super().join(stacks)
        out._energy_constants = out._target_constants = None  # the joined members' own, read at their first year
        out._km_factor_table = out._owner_cells_table = out._owner_cells_key = None
        out._powertrain_cells_table = out._powertrain_cells_capacity = None
        return out

    # ------------------------------------------------------------------ helpers
    def _values(self, fn) -> np.ndarray:
        """``fn(model)`` for each member, as an array."""
        return np.array([fn(model) for model in self.models], dtype=float)

    def _cost_tables(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Per member: purchase price net of subsidy (CNY) and energy cost per km (CNY), by segment x
        powertrain (members x segments x powertrains; :meth:`Vehicles._cost_tables` for each member)."""
        t = year - self.models[0].inputs.base_year
        decline = np.array([(1 - m.params["ev_price_premium_decline_pct_per_yr"] / 100) ** t for m in self.models])
        prices = np.where(
            ELECTRIC[None, None, :],
            self._price_base[None] + self._premium[None] * decline[:, None, None],
            self.price0[None],
        )
        # The members that pay a subsidy, at once: each price less its member's subsidy, then floored at 0.
        subsidy = [model.policies.ev_subsidy_cny_per_vehicle(year) for model in self.models]
        paid = [m for m, s in enumerate(subsidy) if s]
        if paid:
            p = prices[paid]
            p[:, :, EV_SUBSIDISED] -= np.array([subsidy[m] for m in paid], dtype=float)[:, None, None]
            np.maximum(p, 0.0, out=p)
            prices[paid] = p
        return prices, self.mj_per_km * self._energy_prices(year)[:, None, :]

    def _energy_prices(self, year: int) -> np.ndarray:
        """Per member (members x powertrains): :meth:`Vehicles.energy_price_cny_per_mj`, in a few array
        operations over members.

        Why: asking each member's model for its five fuel prices was most of the cost of the yearly cost
        tables. Only the carbon price changes from year to year; the retail bases, the pass-through share and
        the power price are a run's constants (its parameters and inputs), read at the first year. Each price
        is the same arithmetic as the model's (``base + pass-through x carbon price x factor / 1e6``), element
        by element. The first year is compared with the members' own prices; should they differ (a change of
        the model's price rules not made here), the members are asked every year instead.
        """
        fuels = self._energy_constants
        if fuels is None:
            fuels = self._energy_constants = self._read_energy_constants(year)
        if fuels is False:
            return np.array([view.energy_price_cny_per_mj(year) for view in self.views])
        base, factor, pass_through, power = fuels
        carbon = np.array([model.policies.carbon_price("transport", year) for model in self.models], dtype=float)
        out = carbon[:, None] * factor
        out /= 1e6
        out *= pass_through[:, None]
        out += base
        gasoline = out[:, POWERTRAINS.index("gasoline")]
        out[:, POWERTRAINS.index("bev")] = power
        out[:, POWERTRAINS.index("phev")] = PHEV_ELECTRIC_KM_SHARE * power + (1 - PHEV_ELECTRIC_KM_SHARE) * gasoline
        return out

    def _read_energy_constants(self, year: int) -> tuple[np.ndarray, ...] | bool:
        """The run constants of :meth:`_energy_prices` (retail base and emission factor per powertrain's fuel,
        pass-through share, power price per MJ), or False when they do not give the members' own prices in
        ``year``."""
        from sim.model import RETAIL_PRICE_CNY_PER_MJ  # sim.model imports this module

        P = len(POWERTRAINS)
        base = np.zeros((self.members, P))
        factor = np.zeros(P)
        for j, pt in enumerate(POWERTRAINS):
            fuel = FUEL_OF[pt]
            if fuel in RETAIL_PRICE_CNY_PER_MJ:
                factor[j] = EMISSION_FACTOR_T_PER_TJ.get(fuel, 0.0)
                for m, model in enumerate(self.models):  # sim.model.CityModel.transport_fuel_price_cny_per_mj
                    b = RETAIL_PRICE_CNY_PER_MJ[fuel]
                    if fuel in ("gasoline", "diesel"):
                        b *= model.params["oil_price_index"]
                    elif fuel == "natural_gas":
                        b *= model.params["gas_price_cny_per_gj"] / 50.0
                    base[m, j] = b
        pass_through = np.array([model.policies.pass_through() for model in self.models], dtype=float)
        power = np.array([model.households_spec_power_price() / 3.6 for model in self.models], dtype=float)
        constants = (base, factor, pass_through, power)
        self._energy_constants = constants
        own = np.array([view.energy_price_cny_per_mj(year) for view in self.views])
        return constants if np.array_equal(self._energy_prices(year), own) else False

    def charger_index(self) -> np.ndarray:
        """Per member: charger availability index from the fleet's plug-in share (:meth:`Vehicles.charger_index`)."""
        share = self.stock_counts[:, :, PLUG_IN].sum(axis=(1, 2)) / np.maximum(self.n, 1)  # 0 without vehicles
        return np.minimum(1.0, self.spec.charger_base_index + self.spec.charger_per_ev_share * share)

    def _utility(self, rows: np.ndarray, member: np.ndarray, cell: np.ndarray, group: np.ndarray, year: int):
        """Utility of each powertrain (rows) for the buyers in flat ``rows`` (columns).

        ``member``, ``cell`` and ``group``: each buyer's member, member x segment and member x neighbourhood.
        ``-sensitivity x annual cost / 1e4 + constant + log(charger index) [plug-in] + peer strength x
        neighbours' share``, unavailable powertrains ``-inf``, with each member's own values; the annual cost
        is that of :meth:`Vehicles._annual_cost`. The parts shared by a member's segment are combined into
        small tables once a year, so each buyer costs a few table gathers; the peer terms are computed for
        the buyers' neighbourhoods only when they are fewer than all neighbourhoods. The gathers
        (``np.take``) give powertrain-major arrays, whose rows :func:`~agents.population.logit_pick` reduces
        quickly; indexing the transposed tables gave buyer-major memory, with six-number reductions.
        """
        M, S, P = self.members, len(SEGMENTS), len(POWERTRAINS)
        k = self.cost_sensitivity[:, None, None]
        strength = self.peer_strength
        prices, cny_per_km = self._cost_tables(year)
        const = self.const_fixed + np.log(self.charger_index())[:, None, None] * PLUG_IN
        u = np.take(const.reshape(M * S, P).T, cell, axis=1)
        capital = np.take((-k * prices).reshape(M * S, P).T, cell, axis=1)
        capital *= self.cols["crf_life"].reshape(-1)[rows]
        u += capital
        energy = np.take((-k * cny_per_km).reshape(M * S, P).T, cell, axis=1)
        energy *= self.cols["km_per_yr"].reshape(-1)[rows]
        u += energy
        size = self.group_size.reshape(-1)
        counts = self.peer_counts.reshape(-1, P)
        if len(rows) < len(size):  # the buyers' neighbourhoods only
            share = np.take(counts, group, axis=0).T / np.maximum(size[group], 1.0)
            share *= strength[member]
            u += share
        else:
            share = counts / np.maximum(size, 1.0)[:, None]
            share *= np.repeat(strength, self.peer_counts.shape[1])[:, None]
            u += share.T[:, group]
        return u

    def _recount(self, cell: np.ndarray, group: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
        """Move vehicles of member x segment ``cell`` and member x neighbourhood ``group`` from powertrain
        ``old`` to ``new`` in the counts, in place at the buyers' cells only (the tables have a cell for
        every member, neighbourhood and powertrain, far more than a year's buyers)."""
        P = len(POWERTRAINS)
        for counts, index in ((self.peer_counts, group * P), (self.stock_counts, cell * P)):
            add_counts(counts, index + new)
            add_counts(counts, index + old, -1.0)

    # ------------------------------------------------------------------ the year
    def step(self, year: int) -> None:
        """One year of scrappage, fleet growth and purchases for every member (rules: module docstring).

        Ages are compared with scrappage ages over the rows up to the largest member's fleet (in a stack of
        one, its live rows); everything else touches only the vehicles bought this year.
        """
        M, S, P = self.members, len(SEGMENTS), len(POWERTRAINS)
        cols = self.cols
        width = int(self.n.max()) if M else 0
        if width:
            age = cols["age"][:, :width]
            age += 1
            scrapped = (age >= cols["scrap_age"][:, :width]).reshape(-1).nonzero()[0]  # np.flatnonzero's rows
        else:
            scrapped = np.zeros(0, dtype=np.intp)
        # Fleet growth: private cars towards saturation ownership, others with activity.
        new_rows = self._grow(year)
        cap = self.capacity  # after growth: flat rows are member x capacity + row
        if M > 1 and len(scrapped) and width != cap:
            scrapped = scrapped // width * cap + scrapped % width
        if len(new_rows):
            rows = np.concatenate([scrapped, new_rows])
            if M > 1:  # member by member, each member's scrapped rows before its new ones (its run's order)
                rows.sort()
        else:
            rows = scrapped
        if not len(rows):
            return
        member = rows // cap
        counts = np.bincount(member, minlength=M).tolist()
        bounds = list(itertools.accumulate(counts, initial=0))
        seg = cols["segment"].reshape(-1)[rows]
        cell = member * S + seg
        group = member * self.peer_counts.shape[1] + cols["neighbourhood"].reshape(-1)[rows]
        drawn = DrawnByMember(self, counts)
        choice = logit_pick(self._utility(rows, member, cell, group, year), drawn.random(len(rows)))
        policies = [model.policies for model in self.models]
        choice = policies[0].apply_vehicle_mandates_to_members(
            policies, seg, bounds, choice, self.available, year, self.mandate_rngs
        )
        pt = cols["powertrain"].reshape(-1)
        self._recount(cell, group, pt[rows], choice)
        pt[rows] = choice
        if self._powertrain_cells_capacity == cap:
            self._powertrain_cells_table.reshape(-1)[rows] = member * P + choice
        cols["age"].reshape(-1)[rows] = 0
        e = hazard_clocks(drawn, len(rows))
        a = np.maximum(np.ceil(self.weibull_scale[seg] * e ** self.weibull_inv_shape[seg]), 1.0)  # new: L(0) = 0
        cols["scrap_age"].reshape(-1)[rows] = np.minimum(a, NEVER).astype(np.int16)
        mj_per_km = self.mj_per_km.reshape(-1)[cell * P + choice]
        cols["annual_mj"].reshape(-1)[rows] = cols["km_per_yr"].reshape(-1)[rows] * mj_per_km
        subsidised = (np.bincount(member, weights=EV_SUBSIDISED[choice], minlength=M) * self.weight).tolist()
        for m, p in enumerate(policies):
            if counts[m]:  # PolicySet.record_vehicle_purchases of the member's purchases
                p.record_ev_purchases(subsidised[m], year)

    def _grow(self, year: int) -> np.ndarray:
        """Add vehicles towards each member's segment target stocks; they are bought (powertrain chosen) this
        year. Returns their flat rows, member by member.

        Until the purchase a new row counts as powertrain 0 in this year's peer shares and charger index.
        """
        M, S = self.members, len(SEGMENTS)
        active = np.flatnonzero(self.weight > 0)  # members with vehicles
        if not len(self._segment_list) or not len(active):
            return np.zeros(0, dtype=np.intp)
        # One uniform per segment, in segment order: the same numbers as one draw per segment in a loop. Each
        # member's draws are written into its row (``out``), cheaper than stacking a list of small arrays.
        u = np.empty((len(active), len(self._segment_list)))
        for row, m in zip(u, active.tolist(), strict=True):
            self.rngs[m].random(out=row)
        targets = self._target_stocks(year)
        stock = self.stock_counts.sum(axis=2)[:, self._segment_codes]
        w = self.weight[:, None]
        if len(active) < M:
            targets, stock, w = targets[active], stock[active], w[active]
        new = np.floor((targets - stock * w) / w + u)  # new vehicles per member x segment
        member_index, segment_index = np.nonzero(new > 0)  # member by member, segments in order
        if not len(member_index):
            return np.zeros(0, dtype=np.intp)
        ks = new[member_index, segment_index].astype(np.int64)
        counts = np.bincount(active[member_index], weights=ks, minlength=M).astype(np.int64).tolist()
        codes = self._segment_codes[segment_index]
        seg = np.repeat(codes.astype(np.int8), ks)
        rows = self.grow(counts, zero=False)  # every column of the new rows is set here or at the purchase
        member = rows // self.capacity
        # Each member's draws in its run's order: km and hurdle rate (lognormal, mean-preserving for km, as for
        # the initial fleet), owners, neighbourhoods.
        z_parts, owner_parts, nb_parts = [], [], []
        n_groups = self.n_groups.tolist()
        for m, k in enumerate(counts):
            if not k:
                continue
            rng = self.rngs[m]
            households = self.models[m].households
            z_parts.append(rng.standard_normal((2, k)))
            owner_parts.append(rng.integers(0, max(len(households), 1) if households is not None else 1, k))
            nb_parts.append(rng.integers(0, n_groups[m], k))
        if len(z_parts) == 1:
            z, owner, nb = z_parts[0], owner_parts[0], nb_parts[0]
        else:
            z, owner, nb = np.concatenate(z_parts, axis=1), np.concatenate(owner_parts), np.concatenate(nb_parts)
        cols = self.cols
        sigma = self._km_sigma[seg]
        cols["segment"].reshape(-1)[rows] = seg
        cols["km_per_yr"].reshape(-1)[rows] = self._km_mean[seg] * np.exp(sigma * z[0] - 0.5 * sigma**2)
        hurdle = self.hurdle_rate_mean[member] * np.exp(0.5 * z[1] - 0.125)
        cols["hurdle_rate"].reshape(-1)[rows] = hurdle
        cols["crf_life"].reshape(-1)[rows] = crf(hurdle, self.life[seg])
        owner = np.where(self._private[seg], owner, -1)
        cols["owner"].reshape(-1)[rows] = owner
        if self._owner_cells_key is not None and self._owner_cells_key[1] == self.capacity:
            self._owner_cells_table.reshape(-1)[rows] = owner + member * self._owner_cells_key[0]
        cols["neighbourhood"].reshape(-1)[rows] = nb
        # Counted as powertrain 0 until they are bought; _recount moves them.
        cols["powertrain"].reshape(-1)[rows] = 0
        group = member * self.peer_counts.shape[1] + nb
        P = len(POWERTRAINS)
        add_counts(self.group_size, group)
        add_counts(self.peer_counts, group * P)
        add_counts(self.stock_counts, (member * S + seg) * P)
        return rows

    def _target_stocks(self, year: int) -> np.ndarray:
        """Per member x segment (the scenario's segments, in order): the member model's
        :meth:`~sim.model.CityModel.segment_target_stocks`, in a few array operations over members.

        Why: asking each member's model every year was a third of the cost of fleet growth. What does not
        change over the years (base population and growth factor, base and saturation ownership, segment
        stocks) is read at the first year; the same arithmetic follows element by element (the population
        ratio and the activity's square root stay Python floats, as in the model). The first year is
        compared with the models' own targets; should they differ (a change of the model's rule not made
        here), the models are asked every year instead.
        """
        constants = self._target_constants
        if constants is None:
            constants = self._target_constants = self._read_target_constants(year)
        if constants is False:
            names = [name for _i, name, _s in self._segment_list]
            return np.array([[t[name] for name in names] for t in (m.segment_target_stocks(year) for m in self.models)])
        population, c0, saturation, c0_floor, stock, private, by_activity = constants
        t = year - self.models[0].inputs.base_year
        pop_ratio = np.array([p0 * growth**t / p0 for p0, growth in population])
        activity = np.array([model.activity_index(year) ** 0.5 for model in self.models])
        out = stock * np.where(by_activity, activity[:, None], pop_ratio[:, None])
        if private is not None:  # private cars: population x ownership per person towards saturation
            per_1000 = saturation - (saturation - c0) * np.exp(-0.06 * t)
            cars = out[:, private]
            cars *= per_1000
            cars /= c0_floor
        return out

    def _read_target_constants(self, year: int) -> tuple | bool:
        """The run constants of :meth:`_target_stocks`, or False when they do not give the models' own targets
        in ``year``."""
        models = self.models
        population = [
            (model.inputs.city.population, 1 + model.params["population_growth_pct_per_yr"] / 100) for model in models
        ]
        cars_per_1000 = [model.inputs.city.cars_per_1000 for model in models]
        c0 = np.array(cars_per_1000, dtype=float)
        saturation = np.array(
            [max(m.params["car_ownership_saturation_per_1000"], c) for m, c in zip(models, cars_per_1000, strict=True)],
            dtype=float,
        )
        c0_floor = np.array([max(c, 1e-9) for c in cars_per_1000], dtype=float)
        names = [name for _i, name, _s in self._segment_list]
        stock = np.array([s.stock for _i, _name, s in self._segment_list], dtype=float)
        private = names.index("private_car") if "private_car" in names else None
        by_activity = np.array([name not in ("private_car", "taxi", "bus") for name in names])
        self._target_constants = (population, c0, saturation, c0_floor, stock, private, by_activity)
        own = np.array([[t[name] for name in names] for t in (model.segment_target_stocks(year) for model in models)])
        return self._target_constants if np.array_equal(self._target_stocks(year), own) else False

    def _km_factors(self, width: int) -> np.ndarray | None:
        """Per vehicle (members x ``width``): its owner's car-km factor, 1 for vehicles without an owner;
        None when the members have no households.

        The factor is :meth:`~agents.households.HouseholdsView.car_km_factor`, computed over the households
        stack (the same members in the same order) in one pass. Each member's factors get a trailing 1.0, so
        that the owner index -1 of a member's other vehicles reads the 1.0 just before the member's block (the
        last member's, for the first member).
        """
        first = self.models[0].households
        if first is None:
            return None
        hh = first.stack
        M = self.members
        if hh is not self._households_stack:  # the stack's members are ours, in our order (checked once)
            same = len(hh.models) == M and all(a is b for a, b in zip(hh.models, self.models, strict=True))
            self._households_stack = hh if same else None
        if hh is self._households_stack:
            h_width = int(hh.n.max())
            # A member's block is as wide as the households' capacity (and the 1.0), which changes only when
            # their columns grow, so that the owners' flat indices are kept from year to year
            # (:meth:`_owner_cells`); the factors past the households' largest count are never read.
            stride = hh.capacity + 1
            factor = self._km_factor_table
            if factor is None or factor.shape != (M, stride):
                factor = self._km_factor_table = np.ones((M, stride))
            f = factor[:, :h_width]
            np.subtract(1.0, hh.cols["green_travel_share"][:, :h_width], out=f)
            f *= hh.cols["km_factor_scale"][:, :h_width]
            np.clip(f, 0.0, 2.0, out=f)
            if not hh.n.all():  # a run without households drives its base-year km
                factor[hh.n == 0] = 1.0
        else:  # households stepped in another grouping: ask each member's households
            views = [model.households for model in self.models]
            h_width = max(v.n for v in views)
            stride = h_width + 1
            factor = np.ones((M, stride))
            for m, v in enumerate(views):
                if v.n:
                    v.car_km_factor(out=factor[m, : v.n])
        owner = self._owner_cells(stride)[:, :width] if M > 1 else self.cols["owner"][:, :width]
        return np.take(factor.reshape(-1), owner)

    def _owner_cells(self, stride: int) -> np.ndarray:
        """Owners' flat indices into a members x ``stride`` table (``owner + member x stride``; all rows).

        Kept between years while ``stride`` and the capacity stay: owners are set only where vehicles are
        added, and :meth:`_grow` sets their indices too.
        """
        if self._owner_cells_key != (stride, self.capacity):
            self._owner_cells_table = self.cols["owner"] + (np.arange(self.members) * stride)[:, None]
            self._owner_cells_key = (stride, self.capacity)
        return self._owner_cells_table

    def _powertrain_cells(self) -> np.ndarray:
        """Each vehicle's member x powertrain cell (``member x powertrain count + powertrain``; all rows).

        Kept between years while the capacity stays: powertrains change only at purchases, where :meth:`step`
        sets the cells too (a new vehicle's row is bought in the year it is added).
        """
        if self._powertrain_cells_capacity != self.capacity:
            offset = np.arange(self.members) * len(POWERTRAINS)
            self._powertrain_cells_table = self.cols["powertrain"] + offset[:, None]
            self._powertrain_cells_capacity = self.capacity
        return self._powertrain_cells_table

    def account(self, y: int) -> list[float]:
        """Book each member's transport energy by fuel and its stock series; return its electricity use (MWh).

        A private car's km scale with its owner's change in green travel (:meth:`_km_factors`). Sums run
        row by row over the rows up to the largest member's fleet; padding rows use no energy.
        """
        M, P = self.members, len(POWERTRAINS)
        width = int(self.n.max()) if M else 0
        mj = self.cols["annual_mj"][:, :width]
        factor = self._km_factors(width) if width else None
        if factor is not None:
            factor *= mj
            mj = factor
        pt = self._powertrain_cells()[:, :width] if M > 1 else self.cols["powertrain"][:, :width]
        by_pt = np.bincount(pt.reshape(-1), weights=mj.reshape(-1), minlength=M * P).reshape(M, P)
        by_pt = by_pt * self.weight[:, None] / 1e6  # TJ
        stocks = self.stock_counts.reshape(M, -1)[:, self._stock_cells] * self.weight[:, None]
        phev = POWERTRAINS.index("phev")
        bev = POWERTRAINS.index("bev")
        out = []
        for m, (model, tj) in enumerate(zip(self.models, by_pt.tolist(), strict=True)):
            ledger = model.ledger
            for j, name in enumerate(POWERTRAINS):
                if j == phev:
                    ledger.add_energy(y, "transport", "gasoline", tj[j] * (1 - PHEV_ELECTRIC_KM_SHARE))
                elif j != bev:
                    ledger.add_energy(y, "transport", FUEL_OF[name], tj[j])
            elec_tj = 0.0 + tj[bev] + tj[phev] * PHEV_ELECTRIC_KM_SHARE
            ledger.add_energy(y, "transport", "electricity", elec_tj)
            series = self.stock_series[m]
            if series is None:
                keys = [(f"vehicles_{SEGMENTS[c // P]}", POWERTRAINS[c % P]) for c in self._stock_cells]
                series = self.stock_series[m] = ledger.series_block(ledger.stocks, keys)
            series[:, y] += stocks[m]
            out.append(elec_tj * 1e3 / 3.6)
        return out


Vehicles.stack_class = VehiclesStack
