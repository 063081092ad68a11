"""One executor interface over an in-process loop, a process pool and a Dask cluster (sim/executors.py)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

from sim.executors import DaskExecutor, Executor, LocalExecutor, make_executor


def square_with_pid(x: int) -> tuple[int, int, int]:
    """Module-level so worker processes can import it."""
    return x, x * x, os.getpid()


def malloc_trim_setting(_: object) -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def freeze_count(_: object) -> int:
    return gc.get_freeze_count()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ArithmeticError("three is not allowed")
    return x


class CountingTasks:
    """An iterator of tasks that records how many the executor has taken so far."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.taken = 0

    def __iter__(self) -> Iterator[int]:
        for i in range(self.n):
            self.taken += 1
            yield i


def test_in_process_executor_runs_tasks_in_this_process_in_order():
    with LocalExecutor(workers=1) as ex:
        out = list(ex.map_unordered(square_with_pid, range(5)))
    assert [o[:2] for o in out] == [(i, i * i) for i in range(5)]
    assert {o[2] for o in out} == {os.getpid()}


def test_process_pool_returns_every_result_once_from_other_processes():
    with LocalExecutor(workers=2) as ex:
        out = list(ex.map_unordered(square_with_pid, range(12)))
    assert sorted(o[:2] for o in out) == [(i, i * i) for i in range(12)]
    assert os.getpid() not in {o[2] for o in out}


def test_process_pool_workers_start_with_the_model_imported_and_frozen_out_of_full_collections():
    with LocalExecutor(workers=2) as ex:
        counts = list(ex.map_unordered(freeze_count, range(4)))
    assert min(counts) > 10_000, counts


def test_process_pool_takes_tasks_lazily_so_the_parent_holds_few():
    tasks = CountingTasks(40)
    with LocalExecutor(workers=2) as ex:
        results = ex.map_unordered(square_with_pid, tasks)
        next(results)
        assert tasks.taken <= 2 * 2 + 1
        assert len(list(results)) == 39
    assert tasks.taken == 40


@pytest.mark.parametrize("workers", [1, 2])
def test_task_exception_reaches_the_caller(workers):
    with LocalExecutor(workers=workers) as ex, pytest.raises(ArithmeticError, match="three"):
        list(ex.map_unordered(fail_on_three, range(6)))


def test_close_is_idempotent_and_executor_reusable_after_context():
    ex = LocalExecutor(workers=2)
    assert sorted(ex.map_unordered(fail_on_three, [0, 1])) == [0, 1]
    ex.close()
    ex.close()
    assert sorted(ex.map_unordered(fail_on_three, [4, 5])) == [4, 5]
    ex.close()


@pytest.mark.parametrize(
    ("name", "workers", "scheduler", "match"),
    [
        ("spark", 2, None, "not known"),
        ("local", 0, None, "workers=0"),
        ("local", 2, "tcp://127.0.0.1:8786", "needs executor 'dask'"),
    ],
)
def test_make_executor_rejects_bad_choices(name, workers, scheduler, match):
    with pytest.raises(ValueError, match=match):
        make_executor(name, workers, scheduler)


def test_make_executor_builds_local_with_requested_workers():
    with make_executor("local", 3) as ex:
        assert isinstance(ex, Executor)
        assert ex.n_workers == 3
        assert ex.describe() == {"name": "local", "workers": 3, "in_process": False}


def test_dask_local_cluster_returns_every_result_from_worker_processes():
    pytest.importorskip("distributed")
    with DaskExecutor(workers=2) as ex:
        assert ex.n_workers == 2
        assert ex.describe()["scheduler"] == "LocalCluster"
        out = list(ex.map_unordered(square_with_pid, range(10)))
        with pytest.raises(ArithmeticError, match="three"):
            list(ex.map_unordered(fail_on_three, range(6)))
        trim = list(ex.map_unordered(malloc_trim_setting, range(2)))
    assert sorted(o[:2] for o in out) == [(i, i * i) for i in range(10)]
    # Dask's default MALLOC_TRIM_THRESHOLD_ makes model runs ~1.8x slower; the local cluster drops it
    assert trim == [os.environ.get("MALLOC_TRIM_THRESHOLD_")] * 2
    assert os.getpid() not in {o[2] for o in out}


def test_a_worker_that_dies_while_tasks_are_handed_out_gives_the_worker_message(monkeypatch):
    """The pool breaks either in a task's result or in the ``submit`` of the next task, whichever the
    finished tasks reach first; both must name the dead worker, not the pool's own wording."""
    import concurrent.futures as cf
    from concurrent.futures.process import BrokenProcessPool

    class BreaksOnFourthSubmit:
        def __init__(self) -> None:
            self.submitted = 0

        def submit(self, fn, task):
            self.submitted += 1
            if self.submitted == 4:
                raise BrokenProcessPool("A child process terminated abruptly")
            fut: cf.Future = cf.Future()
            fut.set_result(fn(task))
            return fut

    executor = LocalExecutor(2)
    monkeypatch.setattr(executor, "_get_pool", BreaksOnFourthSubmit)
    monkeypatch.setattr("sim.executors.IN_FLIGHT_PER_WORKER", 1)
    got = []
    with pytest.raises(BrokenProcessPool, match=r"^a worker process died \(A child process"):
        for result in executor.map_unordered(square_with_pid, range(6)):
            got.append(result)
    assert got, "results finished before the worker died reach the caller"
