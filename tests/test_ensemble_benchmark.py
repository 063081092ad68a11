"""The ensemble benchmark (benchmarks/ensembles.py) runs end to end and reports every row it promises.

No timing or memory thresholds here: the targets are judged in the benchmark table, not by unit tests,
because test machines are shared and loaded. What is checked is that the measurements exist and are
sane (positive times and rates, a memory trace with samples while the workers ran, a store with every run)
and that the flatness criterion does its arithmetic right.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.ensembles import FLAT_SLOPE_MB_PER_1000_RUNS, memory_profile

ROOT = Path(__file__).resolve().parents[1]
QUICK_RUNS, QUICK_MEMORY_RUNS = 20, 200
THROUGHPUT_ROWS = (
    "(c) throughput local (in-process), 1 worker, batch auto",
    "(c) throughput local, 2 workers, batch auto",
    "(c) throughput dask, 1 worker, batch auto",
    "(c) throughput dask, 2 workers, batch auto",
    "(c) throughput dask, 2 workers, batch 5",
)
SOBOL_ROWS = (
    "(c) Sobol D=12 N=1024 (14,336 runs) at local, 2 workers, batch auto",
    "(c) Sobol D=12 N=1024 (14,336 runs) at dask, 2 workers, batch auto",
    "(c) Sobol D=12 N=1024 (14,336 runs) at dask, 2 workers, batch 5",
)
MEMORY_ROWS = (
    f"(d) {QUICK_MEMORY_RUNS:,}-run ensemble, local, 2 workers, batch auto",
    "(d) peak total RSS of the process tree",
    "(d) peak RSS of the ensemble's (parent) process",
    "(d) peak RSS of one worker process",
    "(d) total RSS at 20 runs",
    "(d) total RSS at 40 runs",
    "(d) total RSS at 100 runs",
    "(d) total RSS at 200 runs",
    "(d) slope of total RSS vs runs done",
    "(d) runs in the result store",
)


def _samples(rss_at) -> list[dict]:
    """Synthetic trace: 1,000 runs in 100 s, one shard of 100 runs every 10 s, a sample every second."""
    out = []
    for t in range(101):
        done = (t // 10) * 100
        rss = rss_at(done + 10 * (t % 10))
        out.append(
            {
                "event": "timer",
                "t_s": float(t),
                "runs_done": done,
                "total_rss_mb": rss,
                "total_pss_mb": rss * 0.7,
                "parent_rss_mb": 200.0,
                "workers_rss_mb": rss - 230.0,
                "helpers_rss_mb": 30.0,
                "max_worker_rss_mb": (rss - 230.0) / 2,
                "n_workers": 2,
            }
        )
    out.append({**out[-1], "event": "end", "t_s": 101.0, "total_rss_mb": 230.0, "n_workers": 0})
    return out


def test_memory_profile_calls_a_constant_trace_flat_and_ignores_the_shutdown_sample():
    prof = memory_profile(_samples(lambda runs: 600.0), 1000)
    assert prof["slope_total_rss_mb_per_1000_runs"] == pytest.approx(0.0, abs=1e-9)
    assert prof["flat"] is True
    assert [c["runs_target"] for c in prof["checkpoints"]] == [100, 200, 500, 1000]
    assert all(c["n_workers"] == 2 and c["total_rss_mb"] == 600.0 for c in prof["checkpoints"])


def test_memory_profile_measures_growth_per_thousand_runs():
    leak_mb_per_run = 0.05  # 50 MB per 1,000 runs: a leak of 50 kB a run
    prof = memory_profile(_samples(lambda runs: 600.0 + leak_mb_per_run * runs), 1000)
    assert prof["slope_total_rss_mb_per_1000_runs"] == pytest.approx(50.0, rel=0.1)
    assert prof["flat"] is False
    assert FLAT_SLOPE_MB_PER_1000_RUNS < 50.0


@pytest.mark.slow
def test_quick_ensemble_benchmark_reports_every_row_and_a_complete_store(tmp_path):
    out = tmp_path / "ensembles.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ensembles.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| measure " in proc.stdout
    data = json.loads(out.read_text())
    measures = [r["measure"] for r in data["rows"]]
    for prefix in THROUGHPUT_ROWS + SOBOL_ROWS + MEMORY_ROWS:
        assert prefix in proc.stdout, prefix
        assert sum(m.startswith(prefix) for m in measures) == 1, prefix
    for row in data["rows"]:
        assert set(row) == {"measure", "value", "unit", "reference", "ratio", "target", "met"}
        assert math.isfinite(row["value"]), row
        if not row["measure"].startswith("(d) slope"):  # a slope may be negative
            assert row["value"] > 0, row
        assert row["met"] in {"yes", "no", "n/a", "-"}

    assert data["meta"]["quick"] is True
    assert len(data["raw"]["throughput"]) == len(THROUGHPUT_ROWS)
    for r in data["raw"]["throughput"]:
        assert r["wall_s"] > 0 and r["cpu_s"] > 0 and r["runs_per_s"] > 0
        assert r["n_samples"] >= 1 and r["peak_total_rss_mb"] > 0
        assert r["largest_shard_runs"] >= 1
        assert r["config"]["runs"] == QUICK_RUNS

    mem = data["raw"]["memory"]
    during = [s for s in mem["samples"] if s["event"] != "end"]
    assert len(during) >= 3
    assert any(s["event"] == "shard" for s in during), "a sample is taken when each task is written"
    assert max(s["n_workers"] for s in during) == 2
    assert all(s["total_rss_mb"] >= s["parent_rss_mb"] > 0 for s in during)
    assert during[-1]["runs_done"] == QUICK_MEMORY_RUNS
    assert [c["runs_target"] for c in mem["memory"]["checkpoints"]] == [20, 40, 100, 200]
    assert math.isfinite(mem["memory"]["slope_total_rss_mb_per_1000_runs"])
    store = mem["store"]
    assert store["summary_rows"] == store["yearly_run_ids_unique"] == QUICK_MEMORY_RUNS
    assert store["failures"] == 0 and store["pending_runs"] == 0
    assert store["all_runs_stored"] is True
