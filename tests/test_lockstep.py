"""Members stepped in lockstep (``sim.model.Lockstep``) get exactly the results of their single runs."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from sim import model as sim_model
from sim.ensemble import run_batch
from sim.model import CityModel, Lockstep, run, run_members
from sim.scenario import load_scenario, scenario_text
from tests.conftest import SCENARIOS

RESOLUTION = 0.01
SEEDS = [0, 1, 2, 3]
OVERRIDES = [
    None,
    # faster population growth: this member's households grow past the others' and the stack's capacity
    {"population_growth_pct_per_yr": 1.2, "coal_price_cny_per_gj": 14.0},
    {"peer_effect_strength": 0.4, "hurdle_rate_mean": 0.15},
    {"population_growth_pct_per_yr": -0.6, "oil_price_index": 1.4},
]


@pytest.fixture(scope="module")
def pilot():
    return load_scenario(SCENARIOS / "karamay_pilot.yaml")


def _assert_same_run(a, b) -> None:
    pd.testing.assert_frame_equal(a.yearly_frame(), b.yearly_frame(), check_exact=True)
    pd.testing.assert_frame_equal(a.series_frame(), b.series_frame(), check_exact=True)
    assert a.units == b.units
    assert a.params == b.params


@pytest.mark.parametrize("name", ["karamay_baseline", "karamay_pilot", "karamay_accelerated"])
def test_members_in_lockstep_get_exactly_their_single_runs_results(name):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    together = run_members(scenario, SEEDS, OVERRIDES, RESOLUTION)
    for seed, overrides, member in zip(SEEDS, OVERRIDES, together, strict=True):
        _assert_same_run(member, run(scenario, seed, overrides, RESOLUTION))


def test_a_members_result_does_not_depend_on_the_members_stepped_with_it(pilot):
    """Different companions give the stack other capacities and paddings; the member's results stay."""
    with_growing = run_members(pilot, [5, 1], [None, OVERRIDES[1]], RESOLUTION)[0]
    with_shrinking = run_members(pilot, [3, 5, 3], [OVERRIDES[3], None, None], RESOLUTION)[1]
    _assert_same_run(with_growing, with_shrinking)


def test_each_member_sees_its_own_rows_through_its_population_view(pilot):
    models = [CityModel(pilot, seed, None, RESOLUTION) for seed in (0, 1)]
    alone = [m.households.live("income_cny").copy() for m in models]
    lockstep = Lockstep(models)
    stack = lockstep.stacks["households"]
    for i, m in enumerate(models):
        assert m.households.stack is stack and m.households.member == i
        np.testing.assert_array_equal(m.households.live("income_cny"), alone[i])
        assert m.households.agent(3).income_cny == alone[i][3]
    lockstep.step()
    lockstep.step()
    assert all(m._step_index == 2 for m in models)
    with pytest.raises(RuntimeError, match="Lockstep"):
        models[0].step()


def test_lockstep_refuses_runs_it_cannot_step_together(pilot):
    longer = pilot.model_copy(update={"horizon": pilot.horizon + 5})
    with pytest.raises(ValueError, match="share one scenario, or differ only outside the populations"):
        Lockstep([CityModel(pilot, 0, None, RESOLUTION), CityModel(longer, 1, None, RESOLUTION)])
    stepped = CityModel(pilot, 0, None, RESOLUTION)
    stepped.step()
    with pytest.raises(ValueError, match="must not have been stepped"):
        Lockstep([stepped, CityModel(pilot, 1, None, RESOLUTION)])
    with pytest.raises(ValueError, match="one per member"):
        run_members(pilot, [0, 1], [None], RESOLUTION)


def test_a_task_in_lockstep_writes_what_one_run_at_a_time_writes(monkeypatch):
    text = scenario_text(SCENARIOS / "karamay_pilot.yaml")
    rows = [{"oil_price_index": 0.9 + 0.1 * i} for i in range(5)]
    assert sim_model.lockstep_members(RESOLUTION) > 1
    yearly, summary, failures = run_batch(text, list(range(5)), rows, 11, RESOLUTION)
    monkeypatch.setattr(sim_model, "LOCKSTEP_MEMBERS", 1)
    yearly_1, summary_1, failures_1 = run_batch(text, list(range(5)), rows, 11, RESOLUTION)
    pd.testing.assert_frame_equal(yearly, yearly_1, check_exact=True)
    pd.testing.assert_frame_equal(summary, summary_1, check_exact=True)
    assert failures == failures_1 == []


def test_runs_whose_scenarios_differ_only_in_policies_step_together(pilot, baseline):
    """The lever-effect runs (each with one lever family taken out) and presets that differ only in their
    policies share the populations' sections, so they step together and still get their own results."""
    no_schedules = pilot.model_copy(update={"policies": pilot.policies.model_copy(update={"schedules": {}})})
    scenarios = [pilot, no_schedules, baseline]
    together = Lockstep([CityModel(sc, 4, None, RESOLUTION) for sc in scenarios]).run()
    for scenario, member in zip(scenarios, together, strict=True):
        _assert_same_run(member, run(scenario, 4, None, RESOLUTION))
    other_city = baseline.model_copy(update={"households": pilot.households.model_copy(update={"stove_life_yr": 9.0})})
    with pytest.raises(ValueError, match="populations"):
        Lockstep([CityModel(baseline, 0, None, RESOLUTION), CityModel(other_city, 0, None, RESOLUTION)])


def test_a_finished_lockstep_frees_its_populations_without_waiting_for_the_garbage_collector(pilot):
    """Members, stacks and views refer to one another; a task runs lockstep after lockstep, so the columns
    must be freed when the results are taken, not at the next full collection (a worker grew to ~1 GB)."""
    run_members(pilot, [0, 1], [None, None], 0.05)  # first-call allocations
    gc.disable()
    tracemalloc.start()
    try:
        results = run_members(pilot, [0, 1, 2, 3], [None] * 4, 0.05)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert len(results) == 4
    assert peak > 10 * 2**20  # the populations of four members at resolution 0.05
    assert held < 0.25 * peak  # the results themselves hold ~10%; the columns left to the collector hold ~95%


def test_heating_mandates_for_all_members_equal_each_members_own_rule(pilot):
    """The stacks apply every member's heating mandate and heat-pump subsidy in one call; each member must get
    what the per-run rule (``apply_heating_mandates`` then ``record_heating_purchases``) gives it: the same
    switched purchases, switch counts, subsidy payments and bookings."""
    from agents.buildings import HEATING_SYSTEMS

    overrides = {"electric_heating_share_of_installs": 0.7, "heat_pump_subsidy_cny_per_m2": 40.0}
    own_rule = [CityModel(pilot, seed, overrides, RESOLUTION) for seed in (0, 1, 2)]
    all_at_once = [CityModel(pilot, seed, overrides, RESOLUTION) for seed in (0, 1, 2)]
    year = pilot.policies.target_year
    draws = np.random.default_rng(7)
    rows, choices = [], []
    for model in own_rule:
        n = model.buildings.n
        rows.append(np.sort(draws.choice(n, size=min(n, 40 + 15 * len(rows)), replace=False)))
        choices.append(draws.integers(0, len(HEATING_SYSTEMS), len(rows[-1])))

    expected = []
    for model, r, c in zip(own_rule, rows, choices, strict=True):
        view, policies = model.buildings, model.policies
        mandated = policies.apply_heating_mandates(view, r, c.copy(), year, view.mandate_rng)
        policies.record_heating_purchases(view, r, mandated, year)
        expected.append(mandated)

    views = [model.buildings for model in all_at_once]
    got = all_at_once[0].policies.apply_heating_mandates_to_members(
        [model.policies for model in all_at_once],
        [len(r) for r in rows],
        np.concatenate(choices),
        np.concatenate([view.live("floor_m2")[r] for view, r in zip(views, rows, strict=True)]),
        bool(views[0].offered[HEATING_SYSTEMS.index("heat_pump")]),
        [view.weight for view in views],
        year,
        [view.mandate_rng for view in views],
    )
    np.testing.assert_array_equal(got, np.concatenate(expected))
    assert any(model.policies.mandate_switches for model in own_rule), "the mandate must bind for some member"
    for a, b in zip(own_rule, all_at_once, strict=True):
        assert a.policies.mandate_switches == b.policies.mandate_switches
        assert a.policies.subsidies["heat_pump"].paid_by_year == b.policies.subsidies["heat_pump"].paid_by_year
        assert a.policies.subsidies["heat_pump"].paid_by_year, "heat pumps bought must be paid for"
        assert a.ledger.policy.keys() == b.ledger.policy.keys()
        for key, series in a.ledger.policy.items():
            np.testing.assert_array_equal(series, b.ledger.policy[key])


def test_members_built_unstacked_or_stacked_step_alike(pilot):
    """run_members builds its members unstacked and stacks them once; a lockstep may also mix them with runs
    that stacked their own populations (joined as before)."""
    mixed = [CityModel(pilot, 0, None, RESOLUTION, stacked=False), CityModel(pilot, 2, OVERRIDES[2], RESOLUTION)]
    assert not mixed[0].population_stacks and set(mixed[1].population_stacks) == {"households", "vehicles", "buildings"}
    together = Lockstep(mixed).run()
    _assert_same_run(together[0], run(pilot, 0, None, RESOLUTION))
    _assert_same_run(together[1], run(pilot, 2, OVERRIDES[2], RESOLUTION))
