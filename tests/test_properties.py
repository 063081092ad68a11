"""Property tests (hypothesis): random valid scenarios stay physical; random bad input only ever gets a message.

The model's invariants are checked over scenarios drawn near the shipped ones: any preset, registry
parameters anywhere within their bounds (uncertainties as run overrides, as ensembles pass them; levers
in the scenario, as the app writes them), random policy timing, short horizons and coarse resolutions
so that each example takes a fraction of a second. ``model.run`` ends with ``Ledger.check_balances``, so
every example also checks that the electricity and heat balances close in every year.

The input properties fuzz the two doors user input comes through (file bytes, and scenario data merged
over a preset): whatever arrives, the answer is a value or a :class:`~sim.scenario.ScenarioError`, never
another exception (which the CLI would show as a traceback).

Examples are bounded (25 per test, no deadline) and derandomised, so a run is repeatable and takes a few
seconds; set ``CITYPEAK_PROPERTY_EXAMPLES`` to search harder with fresh random examples.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import registry
from sim.model import run
from sim.registry import Parameter
from sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario_bytes, resolve_inheritance
from sim.scenario import scenario_from_dict as validate
from tests.conftest import SCENARIOS

PRESETS = {p.stem: resolve_inheritance(p) for p in sorted(SCENARIOS.glob("*.yaml"))}
SEARCH_HARDER = int(os.environ.get("CITYPEAK_PROPERTY_EXAMPLES", "0"))
"""Set ``CITYPEAK_PROPERTY_EXAMPLES=500`` to draw that many random (not derandomised) examples per test."""
BOUNDED = settings(
    max_examples=SEARCH_HARDER or 25,
    deadline=None,
    derandomize=not SEARCH_HARDER,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TOL = 1e-6


def _value(p: Parameter) -> st.SearchStrategy[float]:
    """Any allowed value of a registry parameter, bounds included (whole numbers where it asks for them)."""
    if p.integer:
        return st.integers(math.ceil(p.low), math.floor(p.high)).map(float)
    return st.floats(p.low, p.high, allow_nan=False, allow_infinity=False)


@st.composite
def valid_runs(draw: st.DrawFn) -> tuple[dict, dict[str, float], float, int]:
    """A valid scenario dict, run overrides, a resolution and a seed."""
    data = copy.deepcopy(PRESETS[draw(st.sampled_from(sorted(PRESETS)))])
    base_year = int(data.get("base_year", 2024))
    horizon = draw(st.integers(base_year + 2, base_year + 8))
    data["horizon"] = horizon
    policies = data.setdefault("policies", {})
    start = draw(st.integers(base_year, horizon))
    policies["start_year"], policies["target_year"] = start, draw(st.integers(start + 1, start + 10))
    schedules = {k: [pt for pt in v if pt[0] <= horizon] for k, v in policies.get("schedules", {}).items()}
    policies["schedules"] = {k: v for k, v in schedules.items() if v}
    levers = draw(st.lists(st.sampled_from(registry.parameters("lever")), max_size=10, unique_by=lambda p: p.name))
    parameters = data.setdefault("parameters", {})
    for p in levers:
        parameters[p.name] = {"value": draw(_value(p)), "source": "test: drawn by hypothesis"}
    drawn = draw(st.lists(st.sampled_from(registry.parameters("uncertainty")), max_size=12, unique_by=lambda p: p.name))
    overrides = {p.name: draw(_value(p)) for p in drawn}
    resolution = draw(st.floats(0.005, 0.02))
    return data, overrides, resolution, draw(st.integers(0, 2**32 - 1))


@BOUNDED
@given(valid_runs())
def test_random_valid_scenarios_conserve_energy_and_stay_physical(case):
    data, overrides, resolution, seed = case
    result = run(validate(data, "drawn.yaml"), seed=seed, overrides=overrides, resolution=resolution)
    ledger = result.ledger  # run() has already called ledger.check_balances(): balances close every year

    assert (ledger.energy_tj >= -TOL).all(), "negative energy use"
    for table in (ledger.electricity, ledger.heat, ledger.capacity_mw):
        for item, values in table.items():
            assert (values >= -TOL).all(), f"negative {item}: {values.min()}"
    for key, values in ledger.stocks.items():
        assert (values >= -TOL).all(), f"negative stock {key}: {values.min()}"
    for name, values in ledger.indicators.items():
        assert np.isfinite(values).all(), name
        if "share" in name:
            assert ((values >= -TOL) & (values <= 1 + TOL)).all(), f"{name} outside [0, 1]: {values}"
    assert np.isfinite(ledger.direct_co2_t()).all()
    assert np.isfinite(ledger.indirect_co2_t).all()
    yearly = result.yearly_frame()
    assert np.isfinite(yearly["emissions_mt"]).all() and (yearly["energy_pj"] >= -TOL).all()
    assert sorted(yearly["year"].unique()) == list(range(result.years[0], result.years[-1] + 1))


@BOUNDED
@given(valid_runs())
def test_the_same_seed_gives_the_same_run(case):
    data, overrides, resolution, seed = case
    scenario = validate(data, "drawn.yaml")
    a = run(scenario, seed=seed, overrides=overrides, resolution=resolution)
    b = run(scenario, seed=seed, overrides=overrides, resolution=resolution)
    np.testing.assert_array_equal(a.ledger.energy_tj, b.ledger.energy_tj)
    assert a.summary() == b.summary()


# ---------------------------------------------------------------------------------------------- bad input

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
_KEYS = st.sampled_from(
    sorted(
        set(Scenario.model_fields)
        | {"name", "units", "capacity_mw", "commissioned", "technology", "shares", "segments", "systems"}
        | {"schedules", "subsidy_years", "sources", "source", "value", "remove", "population", "start_year"}
    )
) | st.text(max_size=8)
_DATA = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=30
)
_NAMED = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["coal_a", "karamay_coal_1", "karamay_petrochemical"]) | _DATA},
        optional={"remove": st.booleans(), "capacity_mw": _SCALARS, "options": _DATA},
    ),
    max_size=3,
)
"""Lists of named items, which inheritance merges by name."""
_CHILD = st.dictionaries(_KEYS, _DATA | _NAMED | st.dictionaries(_KEYS, _DATA | _NAMED, max_size=4), max_size=6)


def _only_scenario_errors(call: Any) -> None:
    with contextlib.suppress(ScenarioError):
        call()


@BOUNDED
@given(st.binary(max_size=3000) | st.text(max_size=3000).map(lambda t: t.encode("utf-8")))
def test_any_bytes_parse_to_a_mapping_or_a_scenario_error(raw):
    _only_scenario_errors(lambda: parse_scenario_bytes(raw, "fuzz.yaml"))


@BOUNDED
@given(st.dictionaries(_KEYS, _DATA, max_size=6))
def test_any_data_validates_or_gives_a_scenario_error(data):
    _only_scenario_errors(lambda: validate(data, "fuzz.yaml"))


@BOUNDED
@given(_CHILD)
def test_any_child_of_a_preset_loads_or_gives_a_scenario_error(child):
    """Inheritance merges the child into the preset before validation: the merge must not crash either."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "child.yaml"
        text = yaml.safe_dump({**child, "inherits": str(SCENARIOS / "karamay_pilot.yaml")}, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        _only_scenario_errors(lambda: load_scenario(path))
