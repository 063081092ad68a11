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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agents.population import Population, RowAgent, crf, group_share, logit_choice

if TYPE_CHECKING:
    from sim.inputs import VehicleSpec

    from sim.model import CityModel

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
        self.asc = np.zeros((len(SEGMENTS), len(POWERTRAINS)))
        self._calibrate_asc(model.inputs.base_year)

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

    def prices(self, year: int) -> np.ndarray:
        """Purchase prices (CNY) by segment x powertrain: the premium of electric types over the cheapest
        combustion type shrinks at the EV price-premium decline rate."""
        d = self.model.params["ev_price_premium_decline_pct_per_yr"] / 100
        t = year - self.model.inputs.base_year
        base = np.where(self.available & ~ELECTRIC[None, :], self.price0, np.inf).min(axis=1, keepdims=True)
        base = np.where(np.isfinite(base), base, 0.0)
        premium = self.price0 - base
        return np.where(ELECTRIC[None, :], base + premium * (1 - d) ** t, self.price0)

    def energy_price_cny_per_mj(self, year: int) -> np.ndarray:
        """Price per MJ at the wheel-side meter for each powertrain, including carbon pass-through."""
        m = self.model
        out = np.zeros(len(POWERTRAINS))
        power = m.households_spec_power_price() / 3.6
        for j, pt in enumerate(POWERTRAINS):
            if pt == "bev":
                out[j] = power
            elif pt == "phev":
                out[j] = PHEV_ELECTRIC_KM_SHARE * power + (
                    1 - PHEV_ELECTRIC_KM_SHARE
                ) * m.transport_fuel_price_cny_per_mj("gasoline", year)
            else:
                out[j] = m.transport_fuel_price_cny_per_mj(FUEL_OF[pt], year)
        return out

    def _annual_cost(self, seg: np.ndarray, km: np.ndarray, hurdle: np.ndarray, year: int) -> np.ndarray:
        prices = self.prices(year) - self.model.policies.vehicle_subsidy_matrix(year)
        prices = np.maximum(prices, 0.0)
        e = self.energy_price_cny_per_mj(year)
        cap = prices[seg] * crf(hurdle, self.life[seg])[:, None]
        energy = km[:, None] * self.mj_per_km[seg] * e[None, :]
        return cap + energy + self.maint[seg]

    def charger_index(self) -> float:
        pt = self.live("powertrain")
        share = float(PLUG_IN[pt].mean()) if self.n else 0.0
        return min(1.0, self.spec.charger_base_index + self.spec.charger_per_ev_share * share)

    def _utility(self, rows: np.ndarray, year: int, peer: np.ndarray | None = None) -> np.ndarray:
        p = self.model.params
        seg = self.live("segment")[rows]
        cost = self._annual_cost(seg, self.live("km_per_yr")[rows], self.live("hurdle_rate")[rows], year)
        u = -p["choice_cost_sensitivity"] * cost / 1e4 + self.asc[seg]
        u += np.log(self.charger_index()) * PLUG_IN[None, :]
        if peer is not None:
            u += p["peer_effect_strength"] * peer
        return np.where(self.available[seg], u, -np.inf)

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
            cost = self._annual_cost(np.array([i]), km, hr, year)[0]
            v = -p["choice_cost_sensitivity"] * cost / 1e4 + np.log(self.charger_index()) * PLUG_IN
            v += p["peer_effect_strength"] * self.sales_share0[i]
            share = self.sales_share0[i]
            ok = self.available[i]
            self.asc[i] = np.where(ok, np.log(np.maximum(share, 1e-3)) - v, 0.0)
            self.asc[i] -= self.asc[i][ok].mean() if ok.any() else 0.0

    def step(self, year: int) -> None:
        m = self.model
        rng = self.rng
        n = self.n
        seg = self.live("segment")
        age = self.live("age")
        age += 1
        lam, k = self.life[seg] / 0.9, self.shape[seg]
        a = age.astype(float)
        hazard = 1.0 - np.exp(-(((a) / lam) ** k - ((a - 1) / lam) ** k))
        scrap = rng.random(n) < hazard
        # Fleet growth: private cars towards saturation ownership, others with activity.
        new_rows = self._grow(year)
        rows = np.concatenate([np.flatnonzero(scrap), new_rows])
        if len(rows):
            pt = self.live("powertrain")  # re-read: growth may have reallocated the columns
            peer = np.zeros((len(rows), len(POWERTRAINS)))
            for j in range(len(POWERTRAINS)):
                peer[:, j] = group_share(self.live("neighbourhood"), pt == j, self.n_groups)[rows]
            choice = logit_choice(rng, self._utility(rows, year, peer))
            choice = m.policies.apply_vehicle_mandates(self, rows, choice, year, rng)
            pt[rows] = choice
            self.live("age")[rows] = 0
            m.policies.record_vehicle_purchases(self, rows, choice, year)

    def _grow(self, year: int) -> np.ndarray:
        m = self.model
        seg = self.live("segment")
        added = []
        for name, s in self.spec.segments.items():
            i = SEGMENTS.index(name)
            current = float((seg == i).sum()) * self.weight
            target = m.segment_target_stock(name, s.stock, year)
            k = int(np.floor((target - current) / self.weight + self.rng.random())) if self.weight > 0 else 0
            if k <= 0:
                continue
            sl = self.grow(k)
            seg = self.live("segment")
            seg[sl] = i
            self.cols["km_per_yr"][sl] = s.km_per_yr * self.rng.lognormal(-0.5 * s.km_sigma**2, s.km_sigma, k)
            self.cols["hurdle_rate"][sl] = m.params["hurdle_rate_mean"] * self.rng.lognormal(-0.125, 0.5, k)
            owners = self.rng.integers(0, max(m.households.n if m.households else 1, 1), k) if s.private else -1
            self.cols["owner"][sl] = owners
            self.cols["neighbourhood"][sl] = self.rng.integers(0, self.n_groups, k)
            added.append(np.arange(sl.start, sl.stop))
        return np.concatenate(added) if added else np.zeros(0, dtype=int)

    def account(self, y: int) -> float:
        """Book transport energy by fuel; return electricity use (MWh)."""
        m = self.model
        seg = self.live("segment")
        pt = self.live("powertrain")
        km = self.live("km_per_yr").copy()
        if m.households is not None and m.households.n:
            factor = m.households.car_km_factor()
            owner = self.live("owner")
            private = owner >= 0
            km[private] *= factor[np.clip(owner[private], 0, m.households.n - 1)]
        mj = km * self.mj_per_km[seg, pt] * self.weight
        by_pt = np.bincount(pt, weights=mj, minlength=len(POWERTRAINS)) / 1e6  # TJ
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
        counts = np.bincount(seg * len(POWERTRAINS) + pt, minlength=len(SEGMENTS) * len(POWERTRAINS))
        for i, s in enumerate(SEGMENTS):
            if s not in self.spec.segments:
                continue
            for j, ptn in enumerate(POWERTRAINS):
                if self.available[i, j]:
                    m.ledger.add_series(
                        m.ledger.stocks,
                        (f"vehicles_{s}", ptn),
                        y,
                        counts[i * len(POWERTRAINS) + j] * self.weight,
                    )
        return elec_tj * 1e3 / 3.6
