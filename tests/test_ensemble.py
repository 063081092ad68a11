"""Monte Carlo ensembles: sampling, seeds, failures, resume, streaming and statistics (sim/ensemble.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from sim import ensemble as ens
from sim import model as sim_model
from sim import registry
from sim.ensemble import (
    EnsembleError,
    choose_batch_size,
    compare_batches,
    ensemble_statistics,
    guided_task_sizes,
    run_batch,
    run_ensemble,
    run_one,
    run_seed,
    sample_parameters,
)
from sim.executors import Executor, LocalExecutor
from sim.registry import Parameter
from sim.scenario import load_scenario, scenario_text
from sim.store import BatchStore
from tests.conftest import SCENARIOS, failing_model_methods, write_yaml

BASELINE = SCENARIOS / "karamay_baseline.yaml"
FAST = 0.01  # resolution: a baseline run takes ~0.05 s


def _param(
    name: str, distribution: str, low: float = 0.0, high: float = 10.0, default: float = 5.0, **kw: Any
) -> Parameter:
    return Parameter(name, "uncertainty", "-", default, low, high, distribution, name, name, "test", "test", **kw)


def _ensemble(out: Path, n: int = 6, **kw: Any) -> BatchStore:
    kw.setdefault("workers", 1)
    kw.setdefault("batch_size", 2)
    return run_ensemble(BASELINE, n, out, resolution=FAST, progress=False, command="test", **kw)


class StopAfter(Executor):
    """In-process executor that dies after ``n`` tasks, like a batch killed part-way."""

    def __init__(self, n: int) -> None:
        self.n = n

    @property
    def n_workers(self) -> int:
        return 1

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        for i, task in enumerate(tasks):
            if i == self.n:
                raise RuntimeError("simulated crash")
            yield fn(task)


class WatchingExecutor(Executor):
    """In-process executor that checks, before each new task, that every earlier result is on disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.checks: list[tuple[int, int]] = []

    @property
    def n_workers(self) -> int:
        return 1

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        handed_out = 0
        for task in tasks:
            stored = len(BatchStore.open(self.folder).completed_run_ids())
            self.checks.append((handed_out, stored))
            result = fn(task)
            handed_out += len(result[1])
            yield result


# ---------------------------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("method", ["lhs", "mc"])
def test_sampling_is_a_pure_function_of_its_inputs(baseline, method):
    params = baseline.uncertain_parameters()
    a = sample_parameters(params, 40, 7, method)
    b = sample_parameters(params, 40, 7, method)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["run_id", *[p.name for p in params]]
    assert a["run_id"].tolist() == list(range(40))
    assert not a.drop(columns="run_id").equals(sample_parameters(params, 40, 8, method).drop(columns="run_id"))


def test_two_scenarios_with_the_same_uncertain_parameters_get_the_same_draws(baseline, tiny):
    a = sample_parameters(baseline.uncertain_parameters(), 25, 3, "lhs")
    b = sample_parameters(tiny.uncertain_parameters(), 25, 3, "lhs")
    pd.testing.assert_frame_equal(a, b)


def test_a_parameter_keeps_its_draws_when_others_are_added_or_reordered(baseline):
    params = baseline.uncertain_parameters()
    full = sample_parameters(params, 30, 11, "mc")
    subset = sample_parameters(list(reversed(params[:3])), 30, 11, "mc")
    for p in params[:3]:
        np.testing.assert_array_equal(subset[p.name], full[p.name])


def test_lhs_puts_exactly_one_draw_in_each_equal_probability_stratum():
    n = 50
    df = sample_parameters([_param("u", "uniform"), _param("v", "uniform", -1.0, 3.0, 0.0)], n, 5, "lhs")
    for col, low, high in (("u", 0.0, 10.0), ("v", -1.0, 3.0)):
        strata = np.floor((df[col].to_numpy() - low) / (high - low) * n).astype(int)
        assert sorted(strata) == list(range(n))


def test_draws_follow_the_registry_distributions_truncated_to_bounds():
    params = [
        _param("tri", "triangular", 0.0, 10.0, 8.0),
        _param("norm", "normal", 0.0, 10.0, 9.0, sd=3.0),
        _param("logn", "lognormal", 1.0, 4.0, 2.0),
        _param("year", "uniform", 2028.0, 2040.0, 2030.0, integer=True),
    ]
    df = sample_parameters(params, 4000, 1, "mc")
    for p in params:
        assert df[p.name].between(p.low, p.high).all()
    # triangular(0, 10, mode 8) has mean (0 + 10 + 8) / 3 = 6; the truncated normal is pulled below 9
    assert df["tri"].mean() == pytest.approx(6.0, abs=0.15)
    assert 7.0 < df["norm"].mean() < 9.0
    # lognormal falls back to uniform on [low, high], as in sim.sensitivity: mean 2.5, flat histogram
    assert df["logn"].mean() == pytest.approx(2.5, abs=0.1)
    assert (df["year"] == np.round(df["year"])).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_runs": 0}, "n_runs=0"),
        ({"root_seed": -1}, "root_seed=-1"),
        ({"method": "sobol"}, "method='sobol'"),
    ],
)
def test_sampling_rejects_bad_arguments(kwargs, match):
    args = {"params": [_param("u", "uniform")], "n_runs": 4, "root_seed": 1, "method": "lhs", **kwargs}
    with pytest.raises(EnsembleError, match=match):
        sample_parameters(**args)


# ---------------------------------------------------------------------------------------------- seeds, runs


def test_run_seed_is_the_spawned_child_without_spawning_the_others():
    children = np.random.SeedSequence(42).spawn(6)
    for k in (0, 3, 5):
        np.testing.assert_array_equal(run_seed(42, k).generate_state(4), children[k].generate_state(4))


def test_run_one_tags_rows_with_run_id_and_repeats_exactly(baseline):
    overrides = {"gdp_growth_pct_per_yr": 3.0}
    yearly, row = run_one(baseline, 4, 9, overrides, FAST)
    yearly2, row2 = run_one(scenario_text(BASELINE), 4, 9, overrides, FAST)
    assert yearly["run_id"].dtype == np.int64 and (yearly["run_id"] == 4).all()
    assert list(yearly.columns[:2]) == ["run_id", "year"]
    assert row["run_id"] == 4 and isinstance(row["peaked"], bool)
    pd.testing.assert_frame_equal(yearly, yearly2)
    assert row == row2


def _make_run_fail(monkeypatch, run_id: int, error: Exception) -> None:
    """Make the run seeded for ``run_id`` raise ``error`` in 2031, whether it runs alone or in lockstep."""
    for name, method in failing_model_methods(lambda r: error if r == run_id else None).items():
        monkeypatch.setattr(sim_model.CityModel, name, method)


def test_run_batch_returns_a_failing_run_as_a_failure_with_its_parameters(baseline, monkeypatch):
    """Run 1 fails in 2031, in the middle of the lockstep its task steps its members in: the task still
    returns runs 0 and 2 (as their single runs give them) and records run 1 with its parameters."""
    assert sim_model.lockstep_members(FAST) > 1
    rows = [{"oil_price_index": 1.1}, {"oil_price_index": 1.2}, {"oil_price_index": 1.3}]
    _, expected, _ = run_batch(scenario_text(BASELINE), [0, 2], [rows[0], rows[2]], 5, FAST)
    _make_run_fail(monkeypatch, 1, FloatingPointError("boom in year 2031"))
    yearly, summary, failures = run_batch(scenario_text(BASELINE), [0, 1, 2], rows, 5, FAST)
    pd.testing.assert_frame_equal(summary, expected)
    assert summary["run_id"].tolist() == [0, 2]
    assert sorted(yearly["run_id"].unique()) == [0, 2]
    assert len(failures) == 1
    f = failures[0]
    assert f["run_id"] == 1 and f["params"] == {"oil_price_index": 1.2}
    assert f["error"].startswith("FloatingPointError: boom in year 2031")


def test_choose_batch_size_gives_about_four_tasks_per_worker_of_at_least_two_seconds():
    assert choose_batch_size(1000, 4, 0.2) == 63  # 1000 / 16 tasks, 12.5 s each
    assert choose_batch_size(40, 4, 0.2) == 10  # 2.5 tasks per worker, but 2 s of work each
    assert choose_batch_size(40, 4, 0.01) == 40  # fast runs: 2 s of work needs every run
    assert choose_batch_size(100_000, 2, 1.0) == 120  # capped at 2 minutes of work per task
    assert choose_batch_size(100_000, 2, 0.04) == 500  # and at 500 runs (a worker holds its task's results)
    assert choose_batch_size(1, 8, 5.0) == 1


def test_guided_task_sizes_cover_every_run_and_shrink_towards_the_end():
    sizes = list(guided_task_sizes(4607, 500, 2, 20))
    assert sum(sizes) == 4607
    assert max(sizes) == 500 and sizes[0] == 500
    assert all(a >= b for a, b in zip(sizes[:-1], sizes[1:], strict=False))  # never grows again
    # The last tasks are the small ones: what a worker may wait for at the end is one small task.
    assert sizes[-2] == 20 and sizes[-1] <= 20
    assert list(guided_task_sizes(5, 500, 2, 20)) == [5]
    assert list(guided_task_sizes(0, 500, 2, 20)) == []


# ---------------------------------------------------------------------------------------------- batches


def test_batch_manifest_records_what_is_needed_to_rerun_it(tmp_path, baseline):
    store = _ensemble(tmp_path / "b", n=4, root_seed=3, method="mc")
    m = store.manifest
    assert m["scenario_text"] == scenario_text(BASELINE)
    assert m["scenario_name"] == baseline.name
    assert (m["root_seed"], m["n_runs"], m["resolution"], m["method"]) == (3, 4, FAST, "mc")
    assert m["parameters"] == [p.name for p in baseline.uncertain_parameters()]
    assert m["executor"]["workers"] == 1 and m["command"] == "test"
    assert m["runs_completed"] == 4 and m["runs_pending"] == 0
    params = store.read_params()
    pd.testing.assert_frame_equal(params, sample_parameters(baseline.uncertain_parameters(), 4, 3, "mc"))


def test_parent_writes_a_shard_per_task_before_taking_the_next(tmp_path):
    out = tmp_path / "b"
    watcher = WatchingExecutor(out)
    store = run_ensemble(BASELINE, 7, out, executor=watcher, batch_size=2, resolution=FAST, progress=False)
    assert len(list(store.summary_dir.glob("part-*.parquet"))) == 4  # tasks of 2, 2, 2, 1 runs
    assert len(list(store.yearly_dir.glob("part-*.parquet"))) == 4
    assert watcher.checks == [(0, 0), (2, 2), (4, 4), (6, 6)]


def test_default_batching_times_one_run_then_sizes_tasks(tmp_path):
    store = run_ensemble(BASELINE, 5, tmp_path / "b", workers=1, resolution=FAST, progress=False)
    shards = sorted(p.name for p in store.summary_dir.glob("part-*.parquet"))
    assert shards[0].startswith("part-000000-000000-")  # the timing run is kept as its own shard
    assert store.read_summary()["run_id"].tolist() == list(range(5))


def test_resume_after_a_crash_runs_exactly_the_missing_runs_once(tmp_path):
    out = tmp_path / "b"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_ensemble(BASELINE, 7, out, executor=StopAfter(2), batch_size=2, resolution=FAST, progress=False)
    partial = BatchStore.open(out)
    assert partial.completed_run_ids() == {0, 1, 2, 3}

    store = run_ensemble(BASELINE, 7, out, resume=True, workers=1, batch_size=2, resolution=FAST, progress=False)
    summary = store.read_summary()
    assert summary["run_id"].tolist() == list(range(7))
    assert store.manifest["duplicate_runs"] == 0
    yearly = store.read_yearly(columns=["run_id", "year", "scope", "sector", "fuel"])
    assert not yearly.duplicated().any()
    assert sorted(yearly["run_id"].unique()) == list(range(7))

    uninterrupted = _ensemble(tmp_path / "c", n=7, batch_size=3)
    pd.testing.assert_frame_equal(summary, uninterrupted.read_summary())


def test_resume_rejects_a_different_seed_or_scenario_and_a_missing_batch(tmp_path, tiny_dict):
    out = tmp_path / "b"
    _ensemble(out, n=2)
    with pytest.raises(EnsembleError, match="root seed 5 differs from the batch's 1"):
        run_ensemble(BASELINE, None, out, root_seed=5, resume=True, progress=False)
    other = write_yaml(tmp_path / "tiny.yaml", tiny_dict)
    with pytest.raises(EnsembleError, match="scenario file differs"):
        run_ensemble(other, None, out, resume=True, progress=False)
    with pytest.raises(EnsembleError, match="no batch to resume"):
        run_ensemble(BASELINE, 2, tmp_path / "nothing", resume=True, progress=False)
    with pytest.raises(EnsembleError, match="already holds a batch"):
        run_ensemble(BASELINE, 2, out, progress=False)


def test_failing_run_is_recorded_with_id_and_parameters_and_retried_on_resume(tmp_path, monkeypatch):
    _make_run_fail(monkeypatch, 2, ValueError("negative stock"))
    out = tmp_path / "b"
    store = _ensemble(out, n=4)
    assert store.pending_run_ids() == {2}
    lines = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
    assert [x["run_id"] for x in lines] == [2]
    expected = store.read_params().set_index("run_id").loc[2].to_dict()
    assert lines[0]["params"] == pytest.approx(expected)
    assert lines[0]["error"].startswith("ValueError: negative stock")

    monkeypatch.undo()
    store = run_ensemble(BASELINE, 4, out, resume=True, workers=1, resolution=FAST, progress=False)
    assert store.pending_run_ids() == set()
    assert store.read_summary()["run_id"].tolist() == [0, 1, 2, 3]


def test_batch_is_readable_by_pandas_and_duckdb(tmp_path):
    store = _ensemble(tmp_path / "b", n=5)
    yearly = pd.read_parquet(store.yearly_dir)
    assert sorted(yearly["run_id"].unique()) == list(range(5))
    assert {"year", "sector", "fuel", "scope", "emissions_mt", "energy_pj"} <= set(yearly.columns)
    summary = pd.read_parquet(store.path / "summary.parquet")
    assert summary["run_id"].tolist() == list(range(5))
    glob = str(store.yearly_dir / "*.parquet")
    n_rows, n_runs = duckdb.sql(f"select count(*), count(distinct run_id) from read_parquet('{glob}')").fetchall()[0]
    assert (n_rows, n_runs) == (len(yearly), 5)
    joined = duckdb.sql(
        f"select s.run_id, p.gdp_growth_pct_per_yr, s.peak_year from read_parquet('{store.path}/summary.parquet') s "
        f"join read_parquet('{store.path}/params.parquet') p using (run_id) order by s.run_id"
    ).df()
    assert joined["run_id"].tolist() == list(range(5))


def _tables(store: BatchStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    yearly = store.read_yearly().sort_values(["run_id", "year", "scope", "sector", "fuel"], ignore_index=True)
    return store.read_summary(), yearly


def test_results_do_not_depend_on_local_worker_count(tmp_path):
    one = _tables(_ensemble(tmp_path / "w1", n=6, workers=1, batch_size=2))
    two = _tables(_ensemble(tmp_path / "w2", n=6, workers=2, batch_size=2))
    pd.testing.assert_frame_equal(one[0], two[0])
    pd.testing.assert_frame_equal(one[1], two[1])


def test_results_are_the_same_on_a_dask_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    local = _tables(_ensemble(tmp_path / "local", n=6, workers=1, batch_size=3))
    dask = _tables(_ensemble(tmp_path / "dask", n=6, executor="dask", workers=2, batch_size=2))
    assert BatchStore.open(tmp_path / "dask").manifest["executor"]["name"] == "dask"
    pd.testing.assert_frame_equal(local[0], dask[0])
    pd.testing.assert_frame_equal(local[1], dask[1])


# ---------------------------------------------------------------------------------------------- statistics


def test_ensemble_statistics_describe_runs_not_rows(tmp_path, baseline):
    store = _ensemble(tmp_path / "b", n=6)
    st = ensemble_statistics(store)
    years = list(range(baseline.base_year, baseline.horizon + 1))
    assert st["bands_direct"]["year"].tolist() == years
    summary = store.read_summary()
    assert st["peak_year_distribution"]["n_runs"].sum() == 6
    row = st["p_peak_by"].iloc[0]
    assert row["year"] == 2030 and row["lo"] <= row["p"] <= row["hi"]
    assert row["p"] == pytest.approx(((summary["peak_year"] <= 2030) & summary["peaked"]).mean())
    assert st["peak_year_ecdf"]["year"].tolist() == years
    # the median band of total direct emissions is the median of run totals
    yearly = store.read_yearly()
    totals = yearly[yearly["scope"] == "direct"].groupby(["run_id", "year"])["emissions_mt"].sum()
    median_2030 = totals.xs(2030, level="year").median()
    assert st["bands_direct"].set_index("year").loc[2030, "p50"] == pytest.approx(median_2030)
    q = st["outcome_quantiles"].set_index("outcome")
    assert q.loc["emissions_2030_mt", "p50"] == pytest.approx(summary["emissions_2030_mt"].median())
    assert set(st["bands_by_sector"]["sector"]) >= {"power_heat", "transport", "buildings"}


def test_compare_pairs_identical_batches_as_ties_and_warns_when_seeds_differ(tmp_path):
    a = _ensemble(tmp_path / "a", n=4)
    b = _ensemble(tmp_path / "b", n=4)
    same = compare_batches(a, b)
    assert same["warnings"] == []
    assert same["pairs"]["p_same_year"] == 1.0
    assert same["pairs"]["median_emissions_2030_diff_mt"] == 0.0
    c = _ensemble(tmp_path / "c", n=4, root_seed=2)
    assert any("root seed differs" in w for w in compare_batches(a, c)["warnings"])


def test_bad_arguments_fail_before_anything_is_written(tmp_path):
    out = tmp_path / "b"
    with pytest.raises(EnsembleError, match="resolution=5"):
        run_ensemble(BASELINE, 3, out, resolution=5.0, progress=False)
    with pytest.raises(EnsembleError, match="executor 'ray'"):
        run_ensemble(BASELINE, 3, out, executor="ray", progress=False)
    with pytest.raises(EnsembleError, match="n_runs is required"):
        run_ensemble(BASELINE, None, out, progress=False)
    assert not out.exists()


def test_scenario_values_of_sampled_parameters_are_replaced_by_draws(tmp_path, tiny_dict):
    tiny_dict["parameters"] = {"gdp_growth_pct_per_yr": {"value": 2.0, "source": "test"}}
    tiny_dict["uncertain"] = ["gdp_growth_pct_per_yr"]
    path = write_yaml(tmp_path / "tiny.yaml", tiny_dict)
    store = run_ensemble(path, 3, tmp_path / "b", workers=1, progress=False)
    draws = store.read_params()["gdp_growth_pct_per_yr"]
    p = registry.get("gdp_growth_pct_per_yr")
    assert draws.between(p.low, p.high).all() and (draws != 2.0).all()
    assert load_scenario(path).parameter_values()["gdp_growth_pct_per_yr"] == 2.0
    assert isinstance(LocalExecutor(1), Executor)
    assert ens.METHODS == ("lhs", "mc")
