"""Shared fixtures: the baseline scenario and a tiny one-coal-unit city."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from sim.scenario import Scenario, load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

TINY = {
    "name": "tiny",
    "base_year": 2024,
    "horizon": 2030,
    "parameters": {"export_tie_growth_mw_per_yr": {"value": 0, "source": "test: an isolated system, no trade"}},
    "city": {
        "population": 1000,
        "persons_per_household": 2.5,
        "sources": {"population": "test", "persons_per_household": "test"},
    },
    "power": {
        "units": [
            {
                "name": "coal_a",
                "technology": "coal",
                "capacity_mw": 1000,
                "commissioned": 2020,
                "lifetime_yr": 40,
                "heat_rate_gj_per_mwh": 9.0,
                "source": "test",
            }
        ],
        "other_load_mw": 500,
        "coal_efficiency_retrofit_cny_per_kw": 1e9,
        "sources": {"other_load_mw": "test", "coal_efficiency_retrofit_cny_per_kw": "test: never retrofit"},
    },
}


@pytest.fixture(scope="session")
def baseline() -> Scenario:
    return load_scenario(SCENARIOS / "karamay_baseline.yaml")


@pytest.fixture()
def tiny_dict() -> dict:
    return copy.deepcopy(TINY)


@pytest.fixture()
def tiny(tiny_dict) -> Scenario:
    return scenario_from_dict(tiny_dict, "tiny")


def failing_model_methods(fail: Callable[[int], Exception | None], year: int = 2031) -> dict[str, Callable]:
    """``CityModel`` methods that make chosen ensemble runs raise in ``year``.

    ``fail(run_id)`` gives the exception the run seeded for ``run_id`` raises (``None``: it runs normally).
    The fault is raised inside the model's year, so it hits a run alone and in a lockstep alike. Patch each
    returned method onto ``sim.model.CityModel`` (``monkeypatch.setattr`` in a test).
    """
    from sim.model import CityModel

    real_init = CityModel.__init__
    real_decide = CityModel._decide_after_populations

    def init(self, scenario, seed=0, overrides=None, resolution=None):
        real_init(self, scenario, seed, overrides, resolution)
        spawn_key = getattr(seed, "spawn_key", ())
        self.injected_fault = fail(spawn_key[0]) if spawn_key else None

    def decide_after_populations(self):
        if self.injected_fault is not None and self.year == year:
            raise self.injected_fault
        real_decide(self)

    return {"__init__": init, "_decide_after_populations": decide_after_populations}


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
