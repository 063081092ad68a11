"""Where ensemble tasks run: one small interface over a local process pool and a Dask cluster.

An ensemble is a bag of independent tasks (a few runs each). The ensemble code only needs to hand tasks
out and get results back *as they finish*, so it can write each result to disk at once and forget it;
that is the whole interface (:meth:`Executor.map_unordered`), as in the EMA Workbench's one evaluator
over sequential, multiprocessing and cluster back ends.

Two rules keep the parent process light whatever the ensemble size:

* at most ``2 x workers`` tasks are in flight; the next task is submitted only when one finishes, so
  neither the pending task arguments nor the finished results pile up in the parent;
* a result is handed to the caller and the executor keeps no reference to it.

Results never depend on the executor: every run draws its random numbers from its own run_id (see
:func:`sim.ensemble.run_seed`), not from which worker ran it or when.

Dask is optional (``pip install citypeak[dask]``); it is imported only when a :class:`DaskExecutor` is
built, so the core package does not need it.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from types import TracebackType
from typing import Any, Self

__all__ = ["EXECUTORS", "DaskExecutor", "Executor", "LocalExecutor", "default_workers", "make_executor"]

EXECUTORS: tuple[str, ...] = ("local", "dask")
"""Names accepted by :func:`make_executor` and ``citypeak ensemble --executor``."""

IN_FLIGHT_PER_WORKER = 2
"""Tasks submitted per worker at a time: one running and one queued keeps workers busy without the
parent holding many task arguments or results."""


_TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
_PROFILE_KEY = "distributed.worker.profile.enabled"
"""Dask workers sample their stack every 10 ms for the dashboard's profile; a local cluster started for a
batch has no dashboard, and the sampling cost about 5% of the workers' CPU (400 runs, 2 workers: 45.8 and
43.7 user-s without it against 47.9 and 46.8 with it)."""


def default_workers() -> int:
    """CPUs this process may use (respects ``taskset``/cgroup affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not available on macOS / Windows
        return max(1, os.cpu_count() or 1)


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r} is not allowed: give a whole number >= 1")
    return workers


class Executor:
    """Runs ``fn(task)`` for many tasks and yields results in completion order.

    Use it as a context manager so worker processes are shut down even when the caller stops early
    (an exception, Ctrl-C)::

        with make_executor("local", workers=4) as ex:
            for result in ex.map_unordered(fn, tasks):
                store(result)
    """

    name: str = "base"

    @property
    def n_workers(self) -> int:
        """Number of tasks that can run at the same time (used to size tasks)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for the batch manifest."""
        return {"name": self.name, "workers": self.n_workers}

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(task)`` for every task, in the order the tasks finish.

        ``fn`` must be a module-level function and tasks and results picklable, because they travel to
        other processes. An exception raised by ``fn`` is raised here when its task finishes; tasks not
        yet started are then cancelled when the executor closes.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _process_context() -> mp.context.BaseContext:
    """``forkserver`` where the platform has it, else ``spawn``; never plain ``fork``.

    Forking a parent that has threads (tqdm's monitor, pyarrow's pool, a Dask client) can deadlock the
    child, and Python 3.12 warns about it; forkserver and spawn start workers from a clean interpreter.
    """
    methods = mp.get_all_start_methods()
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def freeze_long_lived_objects() -> None:
    """Collect the garbage, then move every object still alive out of full garbage collections
    (``gc.freeze``): for a process that has imported what it needs and will now run for a long time.

    Why: a worker holds ~140,000 container objects from numpy, pandas, pyarrow, Mesa, pydantic and the
    model (the app's server ~200,000 more), and every full (oldest-generation) collection walks them all:
    one fell in about every 100 members of a run and cost 60-120 ms (~140 ms in the server, about every
    sixth redraw). Frozen objects are never collected, which is right for modules and what lives as long
    as the process; objects made later are collected as before.
    """
    gc.collect()
    gc.freeze()


def _prepare_worker() -> None:
    """Import the model in a new pool worker, then :func:`freeze_long_lived_objects`."""
    import sim.ensemble  # noqa: F401  (the tasks' module and everything it imports)

    freeze_long_lived_objects()


class LocalExecutor(Executor):
    """A process pool on this machine; ``workers=1`` runs every task in this process.

    The in-process mode exists for debugging (breakpoints and tracebacks work, nothing is pickled) and for
    machines with one CPU, where a pool would only add start-up time.

    Args:
        workers: number of worker processes; ``None`` uses every CPU this process may use.
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = _check_workers(workers)
        self._pool: cf.ProcessPoolExecutor | None = None

    @property
    def n_workers(self) -> int:
        return self.workers

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=_process_context(), initializer=_prepare_worker
            )
        return self._pool

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        if self.workers == 1:
            for task in tasks:
                yield fn(task)
            return
        pool = self._get_pool()
        todo = iter(tasks)
        running: set[cf.Future] = set()
        # A worker that dies breaks the pool: the error comes from a task's result, or from ``submit`` when
        # another task finished first and the next one is handed out; either way it gets the same message.
        try:
            running = {pool.submit(fn, t) for t in islice(todo, IN_FLIGHT_PER_WORKER * self.workers)}
            while running:
                done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    result = fut.result()
                    for t in islice(todo, 1):
                        running.add(pool.submit(fn, t))
                    yield result
                    del result
                del done, fut
        except cf.process.BrokenProcessPool as exc:
            raise cf.process.BrokenProcessPool(
                f"a worker process died ({exc}). If a script started the ensemble, guard its entry "
                "point with `if __name__ == '__main__':` (workers start a fresh interpreter that "
                "imports the main module); otherwise a run may have run out of memory"
            ) from exc
        finally:
            for fut in running:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.workers, "in_process": self.workers == 1}


class DaskExecutor(Executor):
    """Tasks on a Dask cluster: an existing scheduler, or a local cluster started for the batch.

    With an ``address`` the workers may be on other machines: they need ``citypeak`` installed (same
    version) because tasks name functions in :mod:`sim.ensemble`; the scenario travels as text. Without an
    address a ``LocalCluster`` of ``workers`` single-threaded processes is started (the model holds the
    GIL, so threads would not run in parallel) and stopped again by :meth:`close`.

    Dask's nannies set ``MALLOC_TRIM_THRESHOLD_=65536`` in their workers to return freed memory to the OS
    sooner. Setting it switches off glibc's adaptive mmap threshold, so every numpy array above 128 kB is
    mapped and unmapped afresh; measured here that makes a model run 1.8 times slower. The local cluster is
    started without it (runs are short and their memory is freed anyway), and without the workers' stack
    profiler (no dashboard to show it); for a remote cluster set
    ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null`` and
    ``distributed.worker.profile.enabled: false`` in the workers' Dask config.

    Args:
        address: scheduler address such as ``tcp://10.0.0.5:8786``; ``None`` starts a local cluster.
        workers: worker processes of the local cluster (ignored with an ``address``).
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = 2) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ImportError("the dask executor needs dask.distributed: pip install 'citypeak[dask]'") from exc
        self.address = address
        self._cluster: Any = None
        if address:
            self._client = Client(address)
            self._requested = None
        else:
            self._requested = _check_workers(workers)
            with dask.config.set({_TRIM_KEY: None, _PROFILE_KEY: False}):
                self._cluster = LocalCluster(
                    n_workers=self._requested, threads_per_worker=1, processes=True, dashboard_address=None
                )
            self._client = Client(self._cluster)

    @property
    def n_workers(self) -> int:
        """Worker threads the scheduler knows now (a remote cluster may grow or shrink later)."""
        if self._client is None:
            return self._requested or 1
        info = self._client.scheduler_info(n_workers=-1).get("workers", {})
        threads = sum(int(w.get("nthreads", 1)) for w in info.values())
        return max(1, threads or self._requested or 1)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.n_workers, "scheduler": self.address or "LocalCluster"}

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        client = self._client
        todo = iter(tasks)
        first = [client.submit(fn, t, pure=False) for t in islice(todo, IN_FLIGHT_PER_WORKER * self.n_workers)]
        pending = as_completed(first)
        del first
        try:
            for fut in pending:
                result = fut.result()
                fut.release()
                for t in islice(todo, 1):
                    pending.add(client.submit(fn, t, pure=False))
                yield result
                del result
        finally:
            pending.clear()

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def make_executor(name: str, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """Build an executor by name (what ``--executor``, ``--workers`` and ``--scheduler`` choose).

    Args:
        name: ``local`` or ``dask``.
        workers: worker processes; ``None`` means every CPU (local) or 2 (a Dask ``LocalCluster``).
        scheduler: Dask scheduler address; only valid with ``dask``.

    Raises:
        ValueError: unknown name, bad worker count, or a scheduler given for the local executor.
    """
    if name == "local":
        if scheduler:
            raise ValueError(f"scheduler={scheduler!r} needs executor 'dask'; the local executor has none")
        return LocalExecutor(workers)
    if name == "dask":
        return DaskExecutor(scheduler, workers if workers is not None else 2)
    raise ValueError(f"executor {name!r} is not known; use one of: {', '.join(EXECUTORS)}")
