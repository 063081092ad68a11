"""A city built for one lever setting and given another's before it starts (``CityModel.reuse_for``) runs
exactly as a city built for that setting; the app's pool workers build the next slider move's members that
way (``ui.runner.BuiltAhead``)."""

from __future__ import annotations

import concurrent.futures as cf
import random
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sim import model as sim_model
from sim import registry
from sim.constants import EMISSION_FACTOR_T_PER_TJ
from sim.ensemble import run_seed, sample_parameters
from sim.model import RESIDENTIAL_GAS_MARKUP, RETAIL_PRICE_CNY_PER_MJ, CityModel, Lockstep, run, run_members
from sim.scenario import Scenario
from tests.test_lockstep import _assert_same_run
from ui import runner as ui_runner
from ui import state as ui_state

RESOLUTION = 0.01
ROOT_SEED = 11
POLICIES_DIR = str(Path(__file__).resolve().parents[1] / "policies")


def _variant(preset: str, rng: random.Random, n_levers: int = 6, **policies: object) -> Scenario:
    """The preset with ``n_levers`` levers moved to random slider positions and a random phase-in start."""
    data = ui_state.preset_data(preset)
    if policies:
        data["policies"] = {**(data.get("policies") or {}), **policies}
    base = ui_state.state_from_data(data)
    state = base.copy()
    for p in rng.sample(ui_state.levers(), n_levers):
        state.values[p.name] = ui_state.snap(p, rng.uniform(p.low, p.high))
    state.start_year = rng.choice([2024, 2025, 2027])
    return ui_state.build_scenario(ui_state.apply_levers(data, state, base))


def _overrides(scenario: Scenario, n: int, root_seed: int = ROOT_SEED) -> list[dict[str, float]]:
    table = sample_parameters(scenario.uncertain_parameters(), n, root_seed, "lhs")
    return [{k: float(v) for k, v in row.items() if k != "run_id"} for row in table.to_dict("records")]


def _seeds(n: int) -> list[np.random.SeedSequence]:
    # A seed sequence gives new children each time it is spawned: every use gets fresh ones.
    return [run_seed(ROOT_SEED, i) for i in range(n)]


def _built(scenario: Scenario, overrides: list[dict[str, float]]) -> list[CityModel]:
    seeds = _seeds(len(overrides))
    return [CityModel(scenario, s, dict(o), RESOLUTION, stacked=False) for s, o in zip(seeds, overrides, strict=True)]


# ---------------------------------------------------------------------------------------------- the model


@pytest.mark.parametrize("preset", ["baseline", "pilot", "accelerated", "delayed"])
def test_members_built_for_other_levers_run_exactly_as_members_built_for_theirs(preset: str) -> None:
    rng = random.Random(f"reuse {preset}")
    for _ in range(2):
        built_for, run_for = _variant(preset, rng), _variant(preset, rng)
        assert built_for.parameter_values() != run_for.parameter_values()
        overrides = _overrides(run_for, 3)
        models = _built(built_for, overrides)
        lockstep = Lockstep(models)
        assert all(m.reuse_for(run_for, dict(o)) for m, o in zip(models, overrides, strict=True))
        reused = lockstep.run()
        fresh = run_members(run_for, _seeds(3), [dict(o) for o in overrides], RESOLUTION)
        for a, b in zip(reused, fresh, strict=True):
            _assert_same_run(a, b)
        as_built = run(built_for, _seeds(1)[0], dict(overrides[0]), RESOLUTION)
        assert not np.array_equal(as_built.total_mt(), reused[0].total_mt())


def test_a_single_run_given_other_levers_runs_as_one_built_for_them(baseline: Scenario) -> None:
    rng = random.Random("single")
    run_for = _variant("baseline", rng)
    model = CityModel(baseline, run_seed(ROOT_SEED, 0), None, RESOLUTION)
    assert model.reuse_for(run_for)
    _assert_same_run(model.run(), run(run_for, run_seed(ROOT_SEED, 0), None, RESOLUTION))


def _refused_and_unchanged(
    model: CityModel, built_for: Scenario, other: Scenario, other_overrides: dict | None, overrides: dict | None = None
) -> None:
    """``reuse_for(other, other_overrides)`` says no, and the run is still the one built for ``built_for`` (and
    ``overrides``)."""
    params = dict(model.params)
    assert not model.reuse_for(other, other_overrides)
    assert model.inputs is built_for and model.params == params
    _assert_same_run(model.run(), run(built_for, run_seed(ROOT_SEED, 0), overrides, RESOLUTION))


def test_a_run_is_not_given_another_city(baseline: Scenario, tiny: Scenario) -> None:
    assert baseline.city_digest()  # kept on the instance: a copy with changes must not keep it
    other_city = baseline.model_copy(
        update={"households": baseline.households.model_copy(update={"stove_life_yr": 9.0})}
    )
    assert other_city.city_digest() != baseline.city_digest()
    _refused_and_unchanged(CityModel(baseline, run_seed(ROOT_SEED, 0), None, RESOLUTION), baseline, other_city, None)
    _refused_and_unchanged(CityModel(baseline, run_seed(ROOT_SEED, 0), None, RESOLUTION), baseline, tiny, None)


def test_a_run_is_not_given_other_sampled_uncertainties(baseline: Scenario) -> None:
    first, second = _overrides(baseline, 2)
    model = CityModel(baseline, run_seed(ROOT_SEED, 0), dict(first), RESOLUTION)
    _refused_and_unchanged(model, baseline, baseline, dict(second), dict(first))


def test_a_stepped_run_is_not_given_other_levers(baseline: Scenario) -> None:
    run_for = _variant("baseline", random.Random("stepped"))
    model = CityModel(baseline, run_seed(ROOT_SEED, 0), None, RESOLUTION)
    model.step()
    assert not model.reuse_for(run_for)
    assert model.inputs is baseline


def test_a_run_whose_city_saw_a_base_year_policy_is_not_given_another(baseline: Scenario) -> None:
    """An EV subsidy paid from the base year on is part of the fleet the city starts with."""
    data = ui_state.preset_data("baseline")
    data["policies"] = {**(data.get("policies") or {}), "subsidy_years": {"ev": [2024, 2030]}}
    base = ui_state.state_from_data(data)
    state = base.copy()
    state.values["ev_subsidy_cny_per_vehicle"] = 20000.0
    built_for = ui_state.build_scenario(ui_state.apply_levers(data, base, base))
    with_subsidy = ui_state.build_scenario(ui_state.apply_levers(data, state, base))
    assert built_for.city_digest() == with_subsidy.city_digest()
    model = CityModel(built_for, run_seed(ROOT_SEED, 0), None, RESOLUTION)
    _refused_and_unchanged(model, built_for, with_subsidy, None)
    # The same lever moved while the subsidy starts after the base year: the built city is the same.
    plain = ui_state.preset_data("baseline")
    later = ui_state.build_scenario(ui_state.apply_levers(plain, state, ui_state.state_from_data(plain)))
    model = CityModel(baseline, run_seed(ROOT_SEED, 0), None, RESOLUTION)
    assert model.reuse_for(later)


@pytest.mark.parametrize("preset", ["baseline", "pilot"])
def test_building_a_city_reads_levers_only_through_its_policy_set(preset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``reuse_for`` relies on: the policy set's answers are all that building takes from the levers."""
    scenario = _variant(preset, random.Random(f"reads {preset}"))
    read_elsewhere: list[tuple[str, str]] = []

    class Spy(dict):
        def _note(self, key: object) -> None:
            caller = sys._getframe(2).f_code.co_filename
            p = registry.REGISTRY.get(str(key))
            if p is not None and p.kind == "lever" and not caller.startswith(POLICIES_DIR):
                read_elsewhere.append((str(key), caller))

        def __getitem__(self, key: object) -> object:
            self._note(key)
            return super().__getitem__(key)

        def get(self, key: object, default: object = None) -> object:
            self._note(key)
            return super().get(key, default)

        def __iter__(self):  # reading every value (items(), values(), copies) is caught too
            read_elsewhere.append(("<all>", sys._getframe(1).f_code.co_filename))
            return super().__iter__()

        def items(self):
            read_elsewhere.append(("<all>", sys._getframe(1).f_code.co_filename))
            return super().items()

        def values(self):
            read_elsewhere.append(("<all>", sys._getframe(1).f_code.co_filename))
            return super().values()

    real = Scenario.parameter_values
    monkeypatch.setattr(Scenario, "parameter_values", lambda self, overrides=None: Spy(real(self, overrides)))
    model = CityModel(scenario, run_seed(ROOT_SEED, 0), None, RESOLUTION)
    assert isinstance(model.params, Spy)
    assert read_elsewhere == []
    asked = {name for name, _, _ in model._build_queries}
    assert asked and all(not name.startswith(("record", "apply", "_")) for name in asked)


def test_policy_answers_match_only_when_they_would_compute_alike() -> None:
    same = sim_model._same_answer
    assert same(0.0, 0.0) and same(2030, 2030) and same(np.array([0.0, 5.0]), np.array([0.0, 5.0]))
    assert not same(0.0, -0.0)  # equal, but 1 / x differs
    assert not same(np.array([0.0, 5.0]), np.array([-0.0, 5.0]))
    assert not same(float("nan"), float("nan"))
    assert not same(1, 1.0) and not same(np.array([1, 2]), np.array([1.0, 2.0]))
    assert not same(np.array([0.0, 5.0]), np.array([0.0, 6.0]))


def test_retail_prices_without_a_carbon_price_are_the_base_prices(baseline: Scenario) -> None:
    """Where the carbon price is 0 the pass-through share is not asked (so building does not depend on it)."""
    model = CityModel(baseline, run_seed(ROOT_SEED, 0), None, RESOLUTION)
    gas = model.params["gas_price_cny_per_gj"]
    unpriced = baseline.base_year
    assert model.policies.carbon_price("buildings", unpriced) == 0.0
    assert model.retail_gas_price_cny_per_gj(unpriced, "buildings") == gas * RESIDENTIAL_GAS_MARKUP
    diesel = RETAIL_PRICE_CNY_PER_MJ["diesel"] * model.params["oil_price_index"]
    assert model.transport_fuel_price_cny_per_mj("diesel", unpriced) == diesel
    priced = ui_state.build_scenario(
        {
            **ui_state.preset_data("baseline"),
            "parameters": {
                **(ui_state.preset_data("baseline").get("parameters") or {}),
                "carbon_coverage_buildings_year": {"value": 2026, "source": "test"},
                "carbon_coverage_transport_year": {"value": 2026, "source": "test"},
            },
        }
    )
    model = CityModel(priced, run_seed(ROOT_SEED, 0), None, RESOLUTION)
    price = model.policies.carbon_price("buildings", 2030)
    share = model.policies.pass_through()
    assert price > 0 and share > 0
    expected = gas * RESIDENTIAL_GAS_MARKUP + price * 56.1 / 1e3 * share
    assert model.retail_gas_price_cny_per_gj(2030, "buildings") == pytest.approx(expected, rel=1e-12)
    expected = diesel + share * (
        model.policies.carbon_price("transport", 2030) * EMISSION_FACTOR_T_PER_TJ["diesel"] / 1e6
    )
    assert expected > diesel
    assert model.transport_fuel_price_cny_per_mj("diesel", 2030) == pytest.approx(expected, rel=1e-12)


def test_city_digest_ignores_levers_policies_and_names_but_not_the_city(baseline: Scenario) -> None:
    moved = _variant("baseline", random.Random("digest"), subsidy_years={"ev": [2026, 2032]})
    renamed = baseline.model_copy(update={"name": "another name", "description": "another text"})
    assert moved.city_digest() == baseline.city_digest() == renamed.city_digest()
    data = ui_state.preset_data("baseline")
    data["parameters"] = {
        **(data.get("parameters") or {}),
        "population_growth_pct_per_yr": {"value": 1.0, "source": "test"},
    }
    other_uncertainty = ui_state.build_scenario(data)
    longer = baseline.model_copy(update={"horizon": baseline.horizon + 5})
    assert len({baseline.city_digest(), other_uncertainty.city_digest(), longer.city_digest()}) == 3


# ---------------------------------------------------------------------------------------------- ui.runner


def _move_tasks(text: str, members: int, per_task: int) -> list[dict]:
    spec = ui_runner.EnsembleSpec(text, members, ROOT_SEED, RESOLUTION)
    tasks = ui_runner._tasks(spec, ui_runner.design(spec), per_task)
    for task in tasks:
        task["ahead"] = {"members": members, "per_task": per_task}
    return tasks


def _texts(n: int) -> list[str]:
    data = ui_state.preset_data("pilot")
    base = ui_state.state_from_data(data)
    out = []
    for year in (2045, 2040, 2035)[:n]:
        state = base.copy()
        state.values["coal_phase_out_year"] = float(year)
        out.append(ui_state.scenario_yaml(ui_state.apply_levers(data, state, base)))
    return out


def _same_chunks(a: dict, b: dict) -> None:
    for key in ("run_ids", "years", "total", "total_with_trade", "sector"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["failures"] == b["failures"] == []


def test_members_run_alone_after_a_failed_lockstep_get_their_own_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A seed sequence spawns new children each time: the single runs must not reuse the lockstep's seeds."""
    (text,) = _texts(1)
    task = _move_tasks(text, 3, 3)[0]
    del task["ahead"]
    together = ui_runner.run_chunk(task)

    def failing(scenario: Scenario, seeds: list, overrides: list, resolution: float) -> None:
        # As a lockstep failing in some year: its members were built from the seeds, which spawned children.
        for seed, o in zip(seeds, overrides, strict=True):
            CityModel(scenario, seed, o, resolution, stacked=False)
        raise RuntimeError("lockstep failed")

    monkeypatch.setattr(ui_runner, "run_members", failing)
    alone = ui_runner.run_chunk(task)
    _same_chunks(alone, together)


def _wait_built(ahead: ui_runner.BuiltAhead, members: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while ahead.built_members < members:
        assert time.monotonic() < deadline, f"built {ahead.built_members} of {members} members ahead"
        time.sleep(0.02)


def test_a_worker_builds_the_next_moves_members_and_its_tasks_give_the_same_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ahead = ui_runner.BuiltAhead(quiet_s=0.0)
    monkeypatch.setattr(ui_runner, "_AHEAD", ahead)
    first, second, third = _texts(3)
    members, per_task = 7, 3  # the last task has one member
    for task in _move_tasks(first, members, per_task):
        assert ui_runner.run_chunk(task)["built_ahead"] == 0
    _wait_built(ahead, members)  # every task of the design, not just the ones this worker ran
    for text in (second, third):
        tasks = _move_tasks(text, members, per_task)
        chunks = [ui_runner.run_chunk(t) for t in tasks]
        assert [c["built_ahead"] for c in chunks] == [3, 3, 1]
        without = [{k: v for k, v in t.items() if k != "ahead"} for t in tasks]
        for chunk, task in zip(chunks, without, strict=True):
            plain = ui_runner.run_chunk(task)
            assert plain["built_ahead"] == 0
            _same_chunks(chunk, plain)
        _wait_built(ahead, ahead.used_members + members)
    assert ahead.used_members == 2 * members


def test_a_new_ensemble_design_drops_the_members_built_for_the_old_one(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = ui_runner.BuiltAhead(quiet_s=0.0)
    monkeypatch.setattr(ui_runner, "_AHEAD", ahead)
    first, second = _texts(2)
    for task in _move_tasks(first, 4, 2):
        ui_runner.run_chunk(task)
    _wait_built(ahead, 4)
    other_seed = [dict(t, root_seed=ROOT_SEED + 1) for t in _move_tasks(second, 4, 2)]
    chunk = ui_runner.run_chunk(other_seed[0])
    assert chunk["built_ahead"] == 0
    plain = ui_runner.run_chunk({k: v for k, v in other_seed[0].items() if k != "ahead"})
    _same_chunks(chunk, plain)


def test_building_ahead_waits_while_a_task_runs_and_for_the_quiet_period(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = ui_runner.BuiltAhead(quiet_s=0.5)
    monkeypatch.setattr(ui_runner, "_AHEAD", ahead)
    (text,) = _texts(1)
    task = _move_tasks(text, 4, 2)[0]
    scenario = ui_runner.scenario_from_text(text)
    with ahead.task(task, scenario) as built:
        assert built is None
    with ahead.task(task, scenario):  # a task running: nothing is built however long it takes
        time.sleep(1.0)
        assert ahead.built_members == 0
    time.sleep(0.2)  # inside the quiet period
    assert ahead.built_members == 0
    _wait_built(ahead, 4)


def test_a_city_that_fails_to_build_ahead_is_left_to_its_task_and_building_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ahead = ui_runner.BuiltAhead(quiet_s=0.0)
    monkeypatch.setattr(ui_runner, "_AHEAD", ahead)
    real_init = sim_model.CityModel.__init__

    def failing_ahead(self: CityModel, *args: object, **kwargs: object) -> None:
        if threading.current_thread().name == "citypeak-build-ahead":
            raise RuntimeError("cannot build")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(sim_model.CityModel, "__init__", failing_ahead)
    first, second, third = _texts(3)
    for task in _move_tasks(first, 4, 2):
        ui_runner.run_chunk(task)
    deadline = time.monotonic() + 30
    while ahead._design is not None:  # the builder dropped the design it could not build
        assert time.monotonic() < deadline
        time.sleep(0.02)
    chunks = [ui_runner.run_chunk(t) for t in _move_tasks(second, 4, 2)]
    assert [c["built_ahead"] for c in chunks] == [0, 0] and all(c["failures"] == [] for c in chunks)
    monkeypatch.setattr(sim_model.CityModel, "__init__", real_init)
    for task in _move_tasks(second, 4, 2):
        ui_runner.run_chunk(task)
    _wait_built(ahead, 4)  # the same builder thread builds again
    assert [ui_runner.run_chunk(t)["built_ahead"] for t in _move_tasks(third, 4, 2)] == [2, 2]


def test_building_ahead_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYPEAK_APP_BUILD_AHEAD", "0")
    assert not ui_runner.build_ahead_enabled()
    monkeypatch.setenv("CITYPEAK_APP_BUILD_AHEAD", "1")
    assert ui_runner.build_ahead_enabled()


def test_the_app_pools_next_move_takes_members_its_workers_built_ahead() -> None:
    """A worker builds a design once it has run one of its tasks: by the third move both have."""
    texts = _texts(3)
    pool = ui_runner.AppPool(2)
    try:
        results = []
        for text in texts:
            spec = ui_runner.EnsembleSpec(text, 8, ROOT_SEED, RESOLUTION)
            final = [u.result for u in ui_runner.stream(spec, pool, first_stage=8, per_task=2) if u.final]
            results.append(final[0])
            time.sleep(1.0)  # the user looks at the result; the workers build
    finally:
        pool.close()
    assert results[0].built_ahead == 0
    assert results[-1].built_ahead == 8
    spec = ui_runner.EnsembleSpec(texts[-1], 8, ROOT_SEED, RESOLUTION)
    inline = ui_runner.compute(spec, ui_runner.AppPool(1))
    assert inline.built_ahead == 0
    np.testing.assert_array_equal(results[-1].total, inline.total)
    np.testing.assert_array_equal(results[-1].sector, inline.sector)


def test_ensembles_too_large_to_keep_built_are_built_in_their_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ui_runner.build_ahead_mb(200, 0.005) <= ui_runner.BUILD_AHEAD_MAX_MB
    assert ui_runner.build_ahead_mb(1000, 0.1) > ui_runner.BUILD_AHEAD_MAX_MB
    sent: list[dict] = []

    class Pool:
        inline = False
        workers = 2

        def ticket(self) -> None:
            return None

        def release(self, ticket: object) -> None:
            pass

        def submit(self, fn: object, task: dict) -> object:
            sent.append(task)
            future: cf.Future = cf.Future()
            future.set_result(ui_runner.run_chunk({k: v for k, v in task.items() if k != "ahead"}))
            return future

    (text,) = _texts(1)
    monkeypatch.setattr(ui_runner, "BUILD_AHEAD_MAX_MB", ui_runner.build_ahead_mb(4, RESOLUTION))
    list(ui_runner.stream(ui_runner.EnsembleSpec(text, 4, ROOT_SEED, RESOLUTION), Pool(), per_task=2))
    assert sent and all(t["ahead"] == {"members": 4, "per_task": 2} for t in sent)
    sent.clear()
    list(ui_runner.stream(ui_runner.EnsembleSpec(text, 5, ROOT_SEED, RESOLUTION), Pool(), per_task=2))
    assert sent and all("ahead" not in t for t in sent)
