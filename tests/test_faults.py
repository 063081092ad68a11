"""Faults injected into real ``citypeak ensemble`` processes, and reruns from a manifest alone.

Each test starts the command line in a subprocess (``python -m sim.cli``) so that the process really dies,
really has a pool of worker processes, and really meets a full disk; the batch folder is then checked
with :class:`~sim.store.BatchStore`. Faults that need code to misbehave on purpose (a worker that raises,
a worker that dies, a disk that fills up) are injected by a small ``python -c`` launcher that patches one
function and then calls :func:`sim.cli.main`; the patch travels to pool workers because the patched task
function lives in this module, which workers import by name.

Outcomes are listed in ``docs/reliability.md``. Results not depending on the worker count or executor
(local 1 and 2 workers, Dask) are tested in ``tests/test_ensemble.py``
(``test_results_do_not_depend_on_local_worker_count``, ``test_results_are_the_same_on_a_dask_local_cluster``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim import ensemble, model
from sim.ensemble import run_ensemble
from sim.store import BatchStore
from tests.conftest import ROOT, SCENARIOS, failing_model_methods

BASELINE = str(SCENARIOS / "karamay_baseline.yaml")
FAST = ["--resolution", "0.01", "--no-progress"]
FAIL_RUNS_ENV = "CITYPEAK_TEST_FAIL_RUNS"
DIE_RUN_ENV = "CITYPEAK_TEST_DIE_RUN"
KEY = ["run_id", "year", "scope", "sector", "fuel"]


# ---------------------------------------------------------------------------------------------- helpers


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sim.cli", *args]


def _launcher(patch: str, *args: str) -> list[str]:
    """``citypeak`` in a fresh interpreter after ``patch`` (Python code) has run."""
    code = f"import sys\n{patch}\nfrom sim.cli import main\nsys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def _run(cmd: list[str], timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**os.environ, **env})


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def _check_complete_and_clean(out: Path, n: int) -> BatchStore:
    """Every planned run stored exactly once, nothing half-written left anywhere in the batch."""
    store = BatchStore.open(out)
    assert store.planned_run_ids() == store.completed_run_ids() == set(range(n))
    assert store.read_summary()["run_id"].tolist() == list(range(n))
    yearly = store.read_yearly(columns=KEY)
    assert sorted(yearly["run_id"].unique()) == list(range(n))
    assert not yearly.duplicated().any()
    assert store.manifest["duplicate_runs"] == 0 and store.manifest["runs_pending"] == 0
    assert [p.name for p in out.rglob(".tmp-*")] == []
    return store


def _shards_readable(out: Path) -> None:
    """No file under a final name is half-written: every shard opens, and every summary has its yearly."""
    for sub in ("yearly", "summary"):
        for f in (out / sub).glob("part-*.parquet"):
            pq.read_metadata(f)
    summaries = {p.name for p in (out / "summary").glob("part-*.parquet")}
    assert summaries <= {p.name for p in (out / "yearly").glob("part-*.parquet")}


def _group_gone(pgid: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def task_with_injected_faults(task: dict[str, Any]) -> Any:
    """``sim.ensemble._run_task`` with faults switched on by environment variables (in any process).

    ``CITYPEAK_TEST_FAIL_RUNS=3,7``: the model raises in those runs. ``CITYPEAK_TEST_DIE_RUN=5``: the
    worker process running run 5 dies at once (``os._exit``), as when the OS kills it for memory.
    """
    fail = {int(x) for x in os.environ.get(FAIL_RUNS_ENV, "").split(",") if x}
    die = os.environ.get(DIE_RUN_ENV)
    if die is not None and int(die) in task["run_ids"]:
        os._exit(3)
    real = {name: getattr(model.CityModel, name) for name in ("__init__", "_decide_after_populations")}
    methods = failing_model_methods(lambda r: FloatingPointError(f"injected fault in run {r}") if r in fail else None)
    for name, method in methods.items():
        setattr(model.CityModel, name, method)
    try:
        return ensemble.run_batch(
            task["scenario"], task["run_ids"], task["params"], task["root_seed"], task["resolution"]
        )
    finally:
        for name, method in real.items():
            setattr(model.CityModel, name, method)


_INJECT = "import sim.ensemble, tests.test_faults as tf\nsim.ensemble._run_task = tf.task_with_injected_faults"


# ---------------------------------------------------------------------------------------------- kill -9


def test_kill_9_mid_batch_then_resume_gives_exactly_the_planned_runs(tmp_path):
    """SIGKILL the whole process group (parent, forkserver, pool workers) once a few shards exist."""
    n, out = 24, tmp_path / "batch"
    args = ["ensemble", BASELINE, "--runs", str(n), "--out", str(out), "--workers", "2", "--batch-size", "1", *FAST]
    with open(tmp_path / "log.txt", "w") as log:
        proc = subprocess.Popen(_cli(*args), cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while len(list((out / "summary").glob("part-*.parquet"))) < 3:
                assert proc.poll() is None, "the batch ended before it could be killed"
                assert time.monotonic() < deadline, "no shards appeared within 120 s"
                time.sleep(0.01)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _group_gone(proc.pid), "worker processes outlived the kill"

    killed = BatchStore.open(out)
    done = killed.completed_run_ids()
    assert 3 <= len(done) < n
    _shards_readable(out)

    # Results do not depend on the worker count, so one in-process worker finishes the batch (faster start).
    resumed = _run(_cli("ensemble", BASELINE, "--out", str(out), "--resume", "--workers", "1", *FAST))
    assert resumed.returncode == 0, resumed.stderr
    assert f"{n} of {n} runs complete" in resumed.stdout
    store = _check_complete_and_clean(out, n)

    # A run stored before the kill holds the same numbers as the run done afresh.
    m, params = store.manifest, store.read_params().set_index("run_id")
    summary = store.read_summary().set_index("run_id")
    for run_id in sorted(done)[:2]:
        values = params.loc[run_id].to_dict()
        _, row = ensemble.run_one(m["scenario_text"], run_id, m["root_seed"], values, m["resolution"])
        assert summary.loc[run_id].to_dict() == pytest.approx({k: v for k, v in row.items() if k != "run_id"})


# ---------------------------------------------------------------------------------------------- failing workers


def test_worker_that_raises_is_recorded_with_run_and_parameters_and_the_rest_complete(tmp_path):
    n, out = 10, tmp_path / "batch"
    args = ["ensemble", BASELINE, "--runs", str(n), "--out", str(out), "--workers", "2", "--batch-size", "2", *FAST]
    proc = _run(_launcher(_INJECT, *args), **{FAIL_RUNS_ENV: "3,7"})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{n - 2} of {n} runs complete" in proc.stdout
    assert "2 run(s) failed" in proc.stderr and str(out / "failures.jsonl") in proc.stderr

    store = BatchStore.open(out)
    assert store.completed_run_ids() == set(range(n)) - {3, 7}
    records = [json.loads(line) for line in (out / "failures.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["run_id"] for r in records) == [3, 7]
    params = store.read_params().set_index("run_id")
    for r in records:
        assert r["error"].startswith(f"FloatingPointError: injected fault in run {r['run_id']}")
        assert "Traceback" in r["error"]  # the full traceback is kept for debugging
        assert r["params"] == pytest.approx(params.loc[r["run_id"]].to_dict())

    again = _run(_cli("ensemble", BASELINE, "--out", str(out), "--resume", "--workers", "1", *FAST))
    assert again.returncode == 0, again.stderr
    _check_complete_and_clean(out, n)


def test_worker_process_that_dies_ends_the_batch_with_one_line_and_resume_finishes_it(tmp_path):
    n, out = 12, tmp_path / "batch"
    args = ["ensemble", BASELINE, "--runs", str(n), "--out", str(out), "--workers", "2", "--batch-size", "1", *FAST]
    proc = _run(_launcher(_INJECT, *args), **{DIE_RUN_ENV: "5"})
    assert proc.returncode == 1
    line = _one_line(proc.stderr)
    assert line.startswith("citypeak ensemble: a worker process died")
    assert line.endswith("finished runs are kept: rerun with --resume")
    _shards_readable(out)
    assert 5 not in BatchStore.open(out).completed_run_ids()

    again = _run(_cli("ensemble", BASELINE, "--out", str(out), "--resume", "--workers", "1", *FAST))
    assert again.returncode == 0, again.stderr
    _check_complete_and_clean(out, n)


# ---------------------------------------------------------------------------------------------- unwritable output


def test_output_path_under_a_file_gives_one_line_naming_it(tmp_path):
    """Works as root too (root ignores permission bits, but cannot make a folder inside a file)."""
    (tmp_path / "report.txt").write_text("not a folder", encoding="utf-8")
    out = tmp_path / "report.txt" / "batch"
    proc = _run(_cli("ensemble", BASELINE, "--runs", "2", "--out", str(out), "--workers", "1", *FAST))
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert f"cannot create the batch folder {out}: Not a directory" in line
    assert (tmp_path / "report.txt").read_text(encoding="utf-8") == "not a folder"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_output_folder_gives_one_line_naming_it(tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        proc = _run(_cli("ensemble", BASELINE, "--runs", "2", "--out", str(parent / "batch"), "--workers", "1", *FAST))
    finally:
        parent.chmod(0o755)
    assert proc.returncode == 2
    assert f"cannot create the batch folder {parent / 'batch'}: Permission denied" in _one_line(proc.stderr)


def _enospc_on_call(k: int) -> str:
    """Launcher patch: the k-th ``pyarrow.parquet.write_table`` writes a few bytes, then the disk is full."""
    return (
        "import errno, pyarrow.parquet as pq\n"
        "real, calls = pq.write_table, [0]\n"
        "def write_table(table, where, *a, **kw):\n"
        "    calls[0] += 1\n"
        f"    if calls[0] == {k}:\n"
        "        where.write(b'PAR1 half a file')\n"
        f"        raise OSError({errno.ENOSPC}, 'No space left on device')\n"
        "    return real(table, where, *a, **kw)\n"
        "pq.write_table = write_table"
    )


def test_disk_full_mid_batch_leaves_no_half_written_shard_and_resume_completes(tmp_path):
    """Write 1 is params.parquet; 2-3 the first shard pair; write 5 is the second shard's summary."""
    n, out = 6, tmp_path / "batch"
    args = ["ensemble", BASELINE, "--runs", str(n), "--out", str(out), "--workers", "1", "--batch-size", "2", *FAST]
    proc = _run(_launcher(_enospc_on_call(5), *args))
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert f"could not write summary shard {out / 'summary'}/part-000002-000003-" in line
    assert "No space left on device" in line
    assert [p.name for p in out.rglob(".tmp-*")] == []
    _shards_readable(out)
    store = BatchStore.open(out)
    assert store.completed_run_ids() == {0, 1}
    assert len(list((out / "yearly").glob("part-*.parquet"))) == 1  # the second yearly shard was removed again

    again = _run(_cli("ensemble", BASELINE, "--out", str(out), "--resume", "--workers", "1", *FAST))
    assert again.returncode == 0, again.stderr
    _check_complete_and_clean(out, n)


def test_disk_full_while_creating_the_batch_can_simply_be_retried(tmp_path):
    out = tmp_path / "batch"
    args = ["ensemble", BASELINE, "--runs", "2", "--out", str(out), "--workers", "1", *FAST]
    proc = _run(_launcher(_enospc_on_call(1), *args))
    assert proc.returncode == 2
    assert f"could not write params {out / 'params.parquet'}: [Errno 28] No space left on device" in _one_line(
        proc.stderr
    )
    assert not (out / "manifest.json").exists() and not (out / "params.parquet").exists()

    again = _run(_cli(*args))
    assert again.returncode == 0, again.stderr
    _check_complete_and_clean(out, 2)


# ---------------------------------------------------------------------------------------------- reproducibility


def test_a_batch_reruns_identically_from_its_manifest_alone(tmp_path):
    """The manifest's scenario_text, root_seed, n_runs, resolution and method are all a rerun needs.

    The first batch runs the pilot, which inherits the baseline; both files are then deleted, so the rerun
    can only use the merged text in the manifest.
    """
    src = tmp_path / "src"
    src.mkdir()
    for name in ("karamay_baseline.yaml", "karamay_pilot.yaml"):
        shutil.copy(SCENARIOS / name, src / name)
    first = run_ensemble(
        src / "karamay_pilot.yaml",
        4,
        tmp_path / "first",
        root_seed=11,
        workers=1,
        resolution=0.01,
        method="mc",
        progress=False,
    )
    shutil.rmtree(src)

    m = json.loads((tmp_path / "first" / "manifest.json").read_text(encoding="utf-8"))
    rerun_file = tmp_path / "rerun.yaml"
    rerun_file.write_text(m["scenario_text"], encoding="utf-8")
    second = run_ensemble(
        rerun_file,
        m["n_runs"],
        tmp_path / "second",
        root_seed=m["root_seed"],
        workers=1,
        resolution=m["resolution"],
        method=m["method"],
        progress=False,
    )
    assert second.manifest["scenario_hash"] == m["scenario_hash"]
    pd.testing.assert_frame_equal(first.read_params(), second.read_params())
    pd.testing.assert_frame_equal(first.read_summary(), second.read_summary())
    a = first.read_yearly().sort_values(KEY, ignore_index=True)
    b = second.read_yearly().sort_values(KEY, ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
