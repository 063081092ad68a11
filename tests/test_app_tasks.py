"""How the app splits an ensemble into pool tasks, and how a superseded ensemble's tasks stop
(``ui.runner.task_sizes``, ``ui.runner.AppPool.ticket``, ``sim.model.Lockstep.run``'s ``stop``)."""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import pytest

from sim.model import CityModel, Lockstep, RunCancelledError
from sim.scenario import load_scenario
from ui import runner as ui_runner
from ui import state as ui_state

RESOLUTION = 0.005
ROOT_SEED = 11


def _pilot_text() -> str:
    return ui_state.scenario_yaml(ui_state.preset_data("pilot"))


# ---------------------------------------------------------------------------------------------- layout


def test_the_first_stage_goes_in_small_tasks_and_the_rest_in_larger_ones_at_coarse_resolution() -> None:
    assert ui_runner.task_sizes(200, 40, 0.005) == (20, 20, 40, 40, 40, 40)
    assert ui_runner.task_sizes(100, 20, 0.03) == (20, 40, 40)
    # The rest in a multiple of the workers' count of nearly equal tasks, so that the workers end together.
    assert ui_runner.task_sizes(130, 30, 0.005) == (20, 10, 25, 25, 25, 25)
    assert ui_runner.task_sizes(40, 8, 0.005) == (8, 16, 16)
    assert ui_runner.task_sizes(500, 40, 0.005) == (20, 20) + (39,) * 4 + (38,) * 8
    assert ui_runner.task_sizes(200, 40, 0.005, workers=4) == (20, 20, 40, 40, 40, 40)
    assert ui_runner.task_sizes(200, 40, 0.005, workers=3) == (20, 20) + (27,) * 4 + (26,) * 2
    # No first stage (the Compare tab's scenarios): every task small, so two workers end together.
    assert ui_runner.task_sizes(200, 200, 0.005) == 20
    # Finer than the lockstep's coarse range: larger tasks do not pay.
    assert ui_runner.task_sizes(200, 40, 0.05) == 20
    for members, first in ((200, 40), (130, 30), (7, 2), (41, 40)):
        sizes = ui_runner.task_sizes(members, first, 0.005)
        sizes = sizes if isinstance(sizes, tuple) else (sizes,)
        assert sum(sizes) == members
        covered = 0
        for size in sizes:  # the first stage's members are exactly the first tasks' members
            if covered >= first:
                break
            covered += size
        assert covered == first


def test_tasks_cover_every_member_once_in_run_order_and_a_layout_that_does_not_is_refused() -> None:
    spec = ui_runner.EnsembleSpec(_pilot_text(), 10, ROOT_SEED, RESOLUTION)
    params = ui_runner.design(spec)
    tasks = ui_runner._tasks(spec, params, (2, 4, 4))
    assert [t["run_ids"] for t in tasks] == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]
    assert [t["run_ids"] for t in ui_runner._tasks(spec, params, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(ValueError, match=r"task sizes \[4, 4\] do not split 10 members"):
        ui_runner._tasks(spec, params, (4, 4))


def test_a_member_gets_the_same_result_whatever_task_it_is_in() -> None:
    spec = ui_runner.EnsembleSpec(_pilot_text(), 6, ROOT_SEED, RESOLUTION)
    params = ui_runner.design(spec)
    small = [ui_runner.run_chunk(t) for t in ui_runner._tasks(spec, params, 2)]
    large = [ui_runner.run_chunk(t) for t in ui_runner._tasks(spec, params, (2, 4))]
    a, b = ui_runner.assemble(spec, small, params), ui_runner.assemble(spec, large, params)
    np.testing.assert_array_equal(a.run_ids, b.run_ids)
    np.testing.assert_array_equal(a.total, b.total)
    np.testing.assert_array_equal(a.sector, b.sector)
    for name in a.indicators:
        np.testing.assert_array_equal(a.indicators[name], b.indicators[name])


# ---------------------------------------------------------------------------------------------- stopping


def _built(members: int) -> Lockstep:
    scenario = load_scenario(ui_state.ROOT / "scenarios" / "karamay_pilot.yaml")
    return Lockstep([CityModel(scenario, seed, None, RESOLUTION, stacked=False) for seed in range(members)])


def test_a_lockstep_told_to_stop_stops_before_its_next_year_and_frees_its_members() -> None:
    lockstep = _built(3)
    asked: list[int] = []

    def stop() -> bool:
        asked.append(lockstep.models[0]._step_index)
        return len(asked) > 4

    with pytest.raises(RunCancelledError, match="stopped before year"):
        lockstep.run(stop)
    assert asked == [0, 1, 2, 3, 4], "asked once before each year, and nothing stepped after the answer"
    assert all(m._step_index == 4 for m in lockstep.models)
    assert lockstep.stacks == {} and all(m.population_stacks == {} for m in lockstep.models)


def test_a_lockstep_never_told_to_stop_gives_the_results_it_gives_without_the_question() -> None:
    asked = _built(2).run(lambda: False)
    plain = _built(2).run()
    for a, b in zip(asked, plain, strict=True):
        np.testing.assert_array_equal(a.total_mt("direct"), b.total_mt("direct"))
        np.testing.assert_array_equal(a.sector_co2_mt(), b.sector_co2_mt())


def test_a_task_whose_ensemble_was_released_stops_instead_of_running_its_members_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = ui_runner.EnsembleSpec(_pilot_text(), 3, ROOT_SEED, RESOLUTION)
    (task,) = ui_runner._tasks(spec, ui_runner.design(spec), 3)
    cells = [0, 7]
    monkeypatch.setattr(ui_runner, "_CANCEL", cells)
    task["cancel"] = (1, 7)
    assert len(ui_runner.run_chunk(task)["run_ids"]) == 3, "a valid ticket: the task runs to the end"
    cells[1] = 0  # released
    with pytest.raises(RunCancelledError):
        ui_runner.run_chunk(task)
    cells[1] = 1031  # the cell reused by a later ensemble: this one is over too
    with pytest.raises(RunCancelledError):
        ui_runner.run_chunk(task)

    # A lockstep that fails (its members would then run alone to name the failing one) while the ensemble is
    # released: nothing more is run.
    def failing(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lockstep failed")

    monkeypatch.setattr(ui_runner, "run_members", failing)
    alone: list[object] = []
    monkeypatch.setattr(ui_runner, "run", lambda *a, **k: alone.append(a))
    with pytest.raises(RunCancelledError, match="stopped before member 0"):
        ui_runner.run_chunk(task)
    assert alone == []


def test_an_inline_pool_has_no_tickets_and_tasks_without_one_never_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = ui_runner.AppPool(1)
    assert pool.ticket() is None
    pool.release(None)
    monkeypatch.setattr(ui_runner, "_CANCEL", [0, 0])
    assert ui_runner._stop_check({"run_ids": [0]}) is None


def test_closing_a_stream_stops_the_tasks_running_in_the_pools_workers() -> None:
    """The user moved on after the first poll: the two first-stage tasks running in the workers stop at their
    next model year (their futures end in RunCancelledError), the larger ones waiting are cancelled."""
    pool = ui_runner.AppPool(2)
    futures: list[cf.Future] = []
    submit = pool.submit

    def recording_submit(fn: object, task: dict) -> cf.Future:
        fut = submit(fn, task)  # type: ignore[arg-type]
        futures.append(fut)
        return fut

    try:
        ui_runner.compute(ui_runner.EnsembleSpec(_pilot_text(), 4, ROOT_SEED + 1, RESOLUTION), pool)  # both warm
        pool.submit = recording_submit  # type: ignore[method-assign]
        spec = ui_runner.EnsembleSpec(_pilot_text(), 120, ROOT_SEED, RESOLUTION)
        updates = ui_runner.stream(spec, pool, first_stage=40)
        first = next(updates)  # after one poll (0.1 s): the first-stage tasks (20 members, ~0.3 s) still run
        assert first.done == 0
        updates.close()
        cf.wait(futures, timeout=60)
        outcomes = ["cancelled" if f.cancelled() else type(f.exception()).__name__ for f in futures]
        assert len(futures) == 4  # 20, 20, 40, 40
        assert outcomes[:2] == ["RunCancelledError", "RunCancelledError"], outcomes
        # The larger tasks were cancelled in the queue, or stopped before their first year if the pool had
        # already handed them to its workers.
        assert set(outcomes[2:]) <= {"cancelled", "RunCancelledError"}, outcomes
        # The workers are free for the next ensemble, which runs to the end.
        pool.submit = submit  # type: ignore[method-assign]
        small = ui_runner.compute(ui_runner.EnsembleSpec(_pilot_text(), 4, ROOT_SEED, RESOLUTION), pool)
        assert len(small.run_ids) == 4
    finally:
        pool.close()
