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
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from agents.population import Population, RowAgent, crf, hazard_clocks, logit_choice

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
            pt_codes.append(rng.choice(len(POWERTRAINS), size=k, p=shares / shares.sum()))
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
        self._const_fixed: np.ndarray | None = None
        """``asc - sensitivity x maintenance`` (-inf where unavailable): the per-run part of the constant."""
        self._calibrate_asc(model.inputs.base_year)
        self.add_column("crf_life", crf(self.live("hurdle_rate"), self.life[seg]))
        self.add_column("annual_mj", self.live("km_per_yr") * self.mj_per_km[seg, self.live("powertrain")])
        self.add_column("scrap_age", self._scrap_ages(seg, self.live("age")))
        self._stock_series: np.ndarray | None = None

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

    def _utility(self, rows: np.ndarray, year: int, peer_share: np.ndarray | None = None) -> np.ndarray:
        """Utility of each powertrain (rows) for the buyers in ``rows`` (columns).

        ``-sensitivity x annual cost / 1e4 + constant + log(charger index) [plug-in] + peer strength x
        neighbours' share`` (``peer_share``: neighbourhood x powertrain), unavailable powertrains ``-inf``;
        the annual cost is that of :meth:`_annual_cost`. The parts shared by a segment or a neighbourhood are
        combined into small tables once a year, so each buyer costs four table gathers.
        """
        p = self.model.params
        k = p["choice_cost_sensitivity"] / 1e4
        prices, cny_per_km = self._cost_tables(year)
        if self._const_fixed is None:  # constants and maintenance are fixed once the constants are calibrated
            const = self.asc - k * self.maint
            const[~self.available] = -np.inf
            self._const_fixed = const
        const = self._const_fixed + np.log(self.charger_index()) * PLUG_IN
        seg = self.live("segment")[rows]
        u = const.T[:, seg]
        capital = (-k * prices).T[:, seg]
        capital *= self.live("crf_life")[rows]
        u += capital
        energy = (-k * cny_per_km).T[:, seg]
        energy *= self.live("km_per_yr")[rows]
        u += energy
        if peer_share is not None:
            u += (p["peer_effect_strength"] * peer_share).T[:, self.live("neighbourhood")[rows]]
        return u

    def _calibrate_asc(self, year: int) -> None:
        """Set constants so the mean base-year buyer of each segment reproduces its sales shares."""
        p = self.model.params
        for name in self.spec.segments:
            i = SEGMENTS.index(name)
            rows = np.flatnonzero(self.live("segment") == i)
            if not len(rows):
                continue
            km = np.array([self.live("km_per_yr")[rows].mean()])
            hr = np.array([self.live("hurdle_rate")[rows].mean()])
            cost = self._annual_cost(np.array([i]), km, crf(hr, self.life[i]), year)[0]
            v = -p["choice_cost_sensitivity"] * cost / 1e4 + np.log(self.charger_index()) * PLUG_IN
            v += p["peer_effect_strength"] * self.sales_share0[i]
            share = self.sales_share0[i]
            ok = self.available[i]
            self.asc[i] = np.where(ok, np.log(np.maximum(share, 1e-3)) - v, 0.0)
            self.asc[i] -= self.asc[i][ok].mean() if ok.any() else 0.0

    def step(self, year: int) -> None:
        """One year of scrappage, fleet growth and purchases (rules: module docstring)."""
        m = self.model
        age = self.live("age")
        age += 1
        scrapped = np.flatnonzero(age >= self.live("scrap_age"))
        # Fleet growth: private cars towards saturation ownership, others with activity.
        new_rows = self._grow(year)
        rows = np.concatenate([scrapped, new_rows]) if len(new_rows) else scrapped
        if not len(rows):
            return
        pt = self.live("powertrain")  # re-read: growth may have reallocated the columns
        peer_share = self.peer_counts / np.maximum(self.group_size, 1.0)[:, None]
        choice = logit_choice(self.rng, self._utility(rows, year, peer_share))
        choice = m.policies.apply_vehicle_mandates(self, rows, choice, year, self.mandate_rng)
        self._recount(rows, pt[rows], choice)
        pt[rows] = choice
        seg = self.live("segment")[rows]
        self.live("age")[rows] = 0
        self.live("scrap_age")[rows] = self._scrap_ages(seg)
        self.live("annual_mj")[rows] = self.live("km_per_yr")[rows] * self.mj_per_km[seg, choice]
        m.policies.record_vehicle_purchases(self, rows, choice, year)

    def _grow(self, year: int) -> np.ndarray:
        """Add vehicles towards each segment's target stock; they are bought (powertrain chosen) this year.

        Until the purchase a new row counts as powertrain 0 (its column's initial value) in this year's peer
        shares and charger index.
        """
        m = self.model
        rng = self.rng
        w = self.weight
        if w <= 0:
            return np.zeros(0, dtype=np.intp)
        stock = self.stock_counts.sum(axis=1).tolist()
        # One uniform per segment, in segment order: the same numbers as one draw per segment in the loop.
        u = rng.random(len(self._segment_list)).tolist()
        targets = m.segment_target_stocks(year)
        codes, ks = [], []
        for (i, name, _s), ui in zip(self._segment_list, u, strict=True):
            k = math.floor((targets[name] - stock[i] * w) / w + ui)
            if k > 0:
                codes.append(i)
                ks.append(k)
        if not ks:
            return np.zeros(0, dtype=np.intp)
        total = sum(ks)
        seg = np.repeat(np.array(codes, dtype=np.int8), ks)
        sl = self.grow(total)
        # km and hurdle rate are lognormal (mean-preserving for km), as for the initial fleet
        z = rng.standard_normal((2, total))
        sigma = self._km_sigma[seg]
        self.cols["segment"][sl] = seg
        self.cols["km_per_yr"][sl] = self._km_mean[seg] * np.exp(sigma * z[0] - 0.5 * sigma**2)
        hurdle = m.params["hurdle_rate_mean"] * np.exp(0.5 * z[1] - 0.125)
        self.cols["hurdle_rate"][sl] = hurdle
        self.cols["crf_life"][sl] = crf(hurdle, self.life[seg])
        n_households = max(m.households.n if m.households else 1, 1)
        self.cols["owner"][sl] = np.where(self._private[seg], rng.integers(0, n_households, total), -1)
        nb = rng.integers(0, self.n_groups, total)
        self.cols["neighbourhood"][sl] = nb
        # Counted as powertrain 0 until they are bought (the column's value now); _recount moves them.
        added = np.bincount(nb, minlength=self.n_groups)
        self.group_size += added
        self.peer_counts[:, 0] += added
        self.stock_counts[:, 0] += np.bincount(seg, minlength=len(SEGMENTS))
        return np.arange(sl.start, sl.stop)

    def account(self, y: int) -> float:
        """Book transport energy by fuel; return electricity use (MWh).

        A private car's km scale with its owner's change in green travel (:meth:`Households.car_km_factor`);
        the factor array gets a trailing 1.0 so that the owner index -1 of other vehicles reads 1.
        """
        m = self.model
        pt = self.live("powertrain")
        mj = self.live("annual_mj")
        if m.households is not None and m.households.n:
            factor = np.empty(m.households.n + 1)
            factor[-1] = 1.0
            m.households.car_km_factor(out=factor[:-1])
            mj = np.take(factor, self.live("owner"))
            mj *= self.live("annual_mj")
        by_pt = np.bincount(pt, weights=mj, minlength=len(POWERTRAINS)) * self.weight / 1e6  # TJ
        elec_tj = 0.0
        for j, name in enumerate(POWERTRAINS):
            tj = by_pt[j]
            if name == "phev":
                m.ledger.add_energy(y, "transport", "gasoline", tj * (1 - PHEV_ELECTRIC_KM_SHARE))
                elec_tj += tj * PHEV_ELECTRIC_KM_SHARE
            elif name == "bev":
                elec_tj += tj
            else:
                m.ledger.add_energy(y, "transport", FUEL_OF[name], tj)
        m.ledger.add_energy(y, "transport", "electricity", elec_tj)
        if self._stock_series is None:
            present = np.array([s in self.spec.segments for s in SEGMENTS])
            self._stock_cells = np.flatnonzero((self.available & present[:, None]).ravel())
            keys = [
                (f"vehicles_{SEGMENTS[c // len(POWERTRAINS)]}", POWERTRAINS[c % len(POWERTRAINS)])
                for c in self._stock_cells
            ]
            self._stock_series = m.ledger.series_block(m.ledger.stocks, keys)
        self._stock_series[:, y] += self.stock_counts.ravel()[self._stock_cells] * self.weight
        return elec_tj * 1e3 / 3.6
