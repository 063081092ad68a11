"""Sensitivity sweeps of the model: design as a batch, runs, resume, analysis, CLI (sim/sweep.py).

SALib's estimators are checked against analytic cases in test_sensitivity.py; here the subject is the
adapter between them and the model. Most tests replace ``sim.model.run`` with a cheap stand-in whose
answer is known (one dominant parameter, one weak, one ignored), so the whole pipeline runs in well under
a second per sweep; two tests run the real model at resolution 0.01.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim import model as sim_model
from sim import registry
from sim.cli import main
from sim.executors import Executor
from sim.store import BatchStore
from sim.sweep import (
    CONVERGENCE_FILE,
    INDICES_FILE,
    IncompleteSweepError,
    SweepError,
    analyze_sweep,
    indices_table,
    run_sweep,
)
from tests.conftest import SCENARIOS

PILOT = SCENARIOS / "karamay_pilot.yaml"
FAST = 0.01  # resolution: one pilot run takes ~0.1 s
DOMINANT, WEAK, IGNORED = "gdp_growth_pct_per_yr", "industry_output_growth_pct_per_yr", "peer_effect_strength"
TRIO = [DOMINANT, WEAK, IGNORED]
INDEX_COLUMNS = ["output", "parameter", "parameter_2", "index", "value", "conf", "method", "n"]


class _StandInResult:
    """What ``sim.ensemble.run_one`` reads from a RunResult: a summary row and a yearly table."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    def summary(self) -> dict[str, Any]:
        return dict(self.row)

    def yearly_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "year": [2024],
                "sector": ["power"],
                "fuel": ["coal"],
                "scope": ["direct"],
                "emissions_mt": [self.row["peak_mt"]],
                "energy_pj": [0.0],
            }
        )


def stand_in_outputs(values: dict[str, float]) -> dict[str, Any]:
    """Outputs driven strongly by GDP growth, weakly by industry growth and not at all by peer effects."""
    g = values.get(DOMINANT, registry.get(DOMINANT).default)
    i = values.get(WEAK, registry.get(WEAK).default)
    year = int(round(2024 + 3 * (g - 2) + 0.3 * (i - 1)))
    return {
        "peak_year": year,
        "peak_mt": 20 + 2 * g + 0.2 * i,
        "plateau_year": year,
        "peaked": True,
        "cumulative_mt": 600 + 40 * g + 4 * i,
        "emissions_2030_mt": 18 + g + 0.1 * i,
    }


class StandIn:
    """Replacement for ``sim.model.run`` that records every call (seed and overrides)."""

    def __init__(self, outputs: Callable[[dict[str, float]], dict[str, Any]] = stand_in_outputs) -> None:
        self.outputs = outputs
        self.calls: list[tuple[tuple[int, ...], dict[str, float]]] = []

    def __call__(self, scenario, seed=0, overrides=None, resolution=None) -> _StandInResult:
        values = dict(overrides or {})
        self.calls.append((tuple(seed.spawn_key), values))
        return _StandInResult(self.outputs(values))


@pytest.fixture()
def one_run_at_a_time(monkeypatch):
    """Tasks run their members one by one through ``sim.model.run``, the seam the stand-ins replace (in
    lockstep the model's ``Lockstep`` would run them; ``tests/test_lockstep.py`` covers that)."""
    monkeypatch.setattr(sim_model, "LOCKSTEP_MEMBERS", 1)


@pytest.fixture()
def stand_in(monkeypatch, one_run_at_a_time) -> StandIn:
    fake = StandIn()
    monkeypatch.setattr(sim_model, "run", fake)
    return fake


class StopAfter(Executor):
    """In-process executor that dies after ``n`` tasks, like a sweep killed part-way."""

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


def _sweep(out: Path, method: str = "sobol", n: int = 8, **kw: Any):
    kw.setdefault("params", TRIO)
    kw.setdefault("workers", 1)
    kw.setdefault("resolution", FAST)
    kw.setdefault("progress", False)
    kw.setdefault("command", "test")
    return run_sweep(PILOT, method, n, out, **kw)


# ---------------------------------------------------------------------------------------------- the model


def test_sobol_sweep_on_the_model_writes_design_indices_and_convergence_with_exact_counts(tmp_path):
    params = [WEAK, DOMINANT]
    result = _sweep(tmp_path / "s", n=8, params=params, batch_size=8)
    d, n = len(params), 8
    assert result.run_count == n * (d + 2) == result.runs_executed
    store = BatchStore.open(tmp_path / "s")
    m = store.manifest
    assert (m["kind"], m["method"], m["n"], m["root_seed"], m["seed_mode"]) == ("sweep", "sobol", 8, 1, "common")
    assert m["problem"]["names"] == params and m["n_runs"] == 32
    design = store.read_params()
    assert design.columns.tolist() == ["run_id", *params] and design["run_id"].tolist() == list(range(32))
    assert len(store.read_summary()) == 32

    indices = pd.read_parquet(tmp_path / "s" / INDICES_FILE)
    assert indices.columns.tolist() == INDEX_COLUMNS
    analysed = indices["output"].unique().tolist()
    assert {"cumulative_mt", "emissions_2030_mt"} <= set(analysed)
    for output in {"peak_year", "peak_mt", "peaked_by_2030"} - set(analysed):  # the pilot often peaks in 2024
        assert any(note.startswith(f"{output} is constant") for note in result.notes)
    assert len(indices) == len(analysed) * d * 2  # S1 and ST per parameter
    assert set(indices["index"]) == {"S1", "ST"} and set(indices["n"]) == {8}
    pd.testing.assert_frame_equal(indices, result.indices, check_dtype=False)

    conv = pd.read_parquet(tmp_path / "s" / CONVERGENCE_FILE)
    assert sorted(set(zip(conv["n_base"], conv["n_runs"], strict=True))) == [(2, 8), (4, 16), (8, 32)]
    assert len(conv) == 3 * len(indices)
    np.testing.assert_allclose(conv["ci_width"], 2 * conv["conf"])
    assert any(note.startswith("peak_year:") and "censored" in note for note in result.notes)


def test_resumed_sweep_runs_only_pending_rows_and_gives_identical_indices(tmp_path, monkeypatch, one_run_at_a_time):
    params = [WEAK, DOMINANT]
    whole = _sweep(tmp_path / "whole", params=params)

    with pytest.raises(RuntimeError, match="simulated crash"):
        _sweep(tmp_path / "part", params=params, executor=StopAfter(3), batch_size=4)
    store = BatchStore.open(tmp_path / "part")
    pending = store.pending_run_ids()
    assert len(pending) == 32 - 12

    real_run, seen = sim_model.run, []

    def counting_run(scenario, seed=0, overrides=None, resolution=None):
        seen.append(dict(overrides))
        return real_run(scenario, seed, overrides, resolution)

    monkeypatch.setattr(sim_model, "run", counting_run)
    resumed = run_sweep(PILOT, None, None, tmp_path / "part", resume=True, workers=1, progress=False)
    design = store.read_params().set_index("run_id")
    assert len(seen) == resumed.runs_executed == len(pending)
    assert sorted(seen, key=str) == sorted((design.loc[i].to_dict() for i in pending), key=str)
    pd.testing.assert_frame_equal(resumed.indices, whole.indices)
    pd.testing.assert_frame_equal(resumed.convergence, whole.convergence)


# ---------------------------------------------------------------------------------------------- stand-in


@pytest.mark.parametrize(("method", "n", "index"), [("sobol", 64, "ST"), ("morris", 20, "mu_star")])
def test_ignored_parameter_gets_a_near_zero_index_and_the_dominant_one_ranks_first(
    tmp_path, stand_in, method, n, index
):
    result = _sweep(tmp_path / method, method=method, n=n)
    for output in ("cumulative_mt", "peak_year"):
        table = indices_table(result.indices, output).set_index("parameter")
        assert table.index[0] == DOMINANT
        assert abs(table.loc[IGNORED, index]) < 0.01 * table.loc[DOMINANT, index]
        assert table.loc[WEAK, index] > abs(table.loc[IGNORED, index])


def test_common_seed_mode_runs_every_row_with_one_seed_and_per_run_with_its_own(tmp_path, stand_in):
    _sweep(tmp_path / "common", n=2)
    assert {key for key, _ in stand_in.calls} == {(0,)}
    stand_in.calls.clear()
    result = _sweep(tmp_path / "per_run", n=2, seed_mode="per_run")
    assert sorted(key for key, _ in stand_in.calls) == [(i,) for i in range(result.run_count)]


def test_integer_parameters_reach_the_model_rounded_but_stay_as_drawn_in_the_design(tmp_path, stand_in):
    result = _sweep(tmp_path / "s", n=4, params=["coal_phase_out_year", DOMINANT])
    years = [values["coal_phase_out_year"] for _, values in stand_in.calls]
    assert all(y == round(y) for y in years)
    drawn = result.store.read_params()["coal_phase_out_year"].to_numpy()
    assert (drawn != np.round(drawn)).any()
    assert sorted(years) == sorted(np.round(drawn).tolist())


def test_failed_runs_stop_a_sobol_analysis_with_their_ids_and_resume_completes_it(
    tmp_path, monkeypatch, one_run_at_a_time
):
    broken = StandIn()
    failing = {3, 7}

    def fail_some(scenario, seed=0, overrides=None, resolution=None):
        if len(broken.calls) in failing:
            broken.calls.append(((-1,), {}))
            raise ArithmeticError("negative stock")
        return broken(scenario, seed, overrides, resolution)

    monkeypatch.setattr(sim_model, "run", fail_some)
    with pytest.raises(IncompleteSweepError, match=r"2 of 20 runs have no result \(run_id 3, 7\).*--resume") as info:
        _sweep(tmp_path / "s", n=4, batch_size=5)
    assert info.value.failed_run_ids == [3, 7]
    failures = info.value.store.read_failures()
    assert failures["run_id"].tolist() == [3, 7]
    assert failures["error"].str.startswith("ArithmeticError: negative stock").all()
    assert set(failures["params"].iloc[0]) == set(TRIO)

    monkeypatch.setattr(sim_model, "run", StandIn())
    result = run_sweep(PILOT, "sobol", 4, tmp_path / "s", resume=True, workers=1, progress=False)
    assert result.runs_executed == 2 and result.failed_run_ids == []
    assert not result.indices.empty


@pytest.mark.parametrize("method", ["rbd_fast", "pawn"])
def test_sample_based_methods_drop_failed_runs_and_say_so(tmp_path, monkeypatch, one_run_at_a_time, method):
    fake = StandIn()

    def fail_run_5(scenario, seed=0, overrides=None, resolution=None):
        if len(fake.calls) == 5:
            fake.calls.append(((-1,), {}))
            raise ArithmeticError("diverged")
        return fake(scenario, seed, overrides, resolution)

    monkeypatch.setattr(sim_model, "run", fail_run_5)
    result = _sweep(tmp_path / method, method=method, n=200, batch_size=50)
    assert result.failed_run_ids == [5]
    assert np.isnan(result.Y["cumulative_mt"][5]) and np.isfinite(np.delete(result.Y["cumulative_mt"], 5)).all()
    assert any("1 of 200 runs failed (run_id 5" in note and "dropped" in note for note in result.notes)
    assert indices_table(result.indices, "cumulative_mt")["parameter"].iloc[0] == DOMINANT


def test_censored_runs_count_as_horizon_plus_one_and_constant_outputs_are_skipped(
    tmp_path, monkeypatch, one_run_at_a_time
):
    def never_peaks_when_growth_is_high(values: dict[str, float]) -> dict[str, Any]:
        row = stand_in_outputs(values)
        row["peaked"] = values[DOMINANT] < 5.0
        row["peak_year"] = row["peak_year"] if row["peaked"] else 2060
        row["emissions_2030_mt"] = 17.5
        return row

    monkeypatch.setattr(sim_model, "run", StandIn(never_peaks_when_growth_is_high))
    result = _sweep(tmp_path / "s", n=8)
    high = result.X[:, 0] >= 5.0
    assert high.any() and (result.Y["peak_year"][high] == 2061).all()
    assert (result.Y["peaked_by_2030"][high] == 0).all()
    assert any(f"{int(high.sum())} of {result.run_count} runs had not peaked by 2060" in n for n in result.notes)
    assert any(n.startswith("emissions_2030_mt is constant (17.5)") for n in result.notes)
    assert "emissions_2030_mt" not in set(result.indices["output"])


def test_registry_groups_report_one_index_per_group(tmp_path, stand_in):
    result = _sweep(tmp_path / "g", n=4, params=[DOMINANT, WEAK, IGNORED, "coal_price_cny_per_gj"], groups="registry")
    assert result.run_count == 4 * (4 + 2)  # demand, industry, behaviour, prices
    assert set(result.indices["parameter"]) == {"demand", "industry", "behaviour", "prices"}


def test_analyze_sweep_reanalyses_a_stored_sweep_without_running_it(tmp_path, stand_in):
    first = _sweep(tmp_path / "s", n=8)
    n_calls = len(stand_in.calls)
    again = analyze_sweep(tmp_path / "s")
    assert len(stand_in.calls) == n_calls
    pd.testing.assert_frame_equal(again.indices, first.indices)


def test_bad_input_is_refused_before_anything_is_written(tmp_path, stand_in):
    out = tmp_path / "s"
    cases = [
        (dict(n=100), "power of 2.*try 64 or 128"),
        (dict(params=["gdp_growth_pct_per_year"]), "unknown parameter 'gdp_growth_pct_per_year'; did you mean"),
        (dict(params=["resolution"]), "is a setting"),
        (dict(params=None, kinds=("setting",)), "kinds"),
        (dict(method="pawn", calc_second_order=True), "second-order"),
        (dict(method="delta", n=16, groups="registry"), "does not support parameter groups"),
        (dict(seed_mode="fresh"), "seed_mode"),
        (dict(resolution=5.0), "resolution"),
    ]
    for kw, message in cases:
        with pytest.raises(SweepError, match=message):
            _sweep(out, **kw)
    assert not out.exists()
    _sweep(out, n=2)
    with pytest.raises(SweepError, match="already holds a batch"):
        _sweep(out, n=2)
    with pytest.raises(SweepError, match="cannot resume: n 4 differs from the sweep's 2"):
        _sweep(out, n=4, params=None, resume=True)
    with pytest.raises(SweepError, match="parameters or groups differ"):
        run_sweep(PILOT, None, None, out, params=[DOMINANT, WEAK], resume=True, progress=False)


# ---------------------------------------------------------------------------------------------- CLI


def _cli(out: Path, *extra: str) -> list[str]:
    base = ["sweep", str(PILOT), "--out", str(out), "--resolution", "0.01", "--workers", "1", "--no-progress"]
    return [*base, *extra]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_cli_sweep_prints_peak_year_indices_sorted_by_total_index_and_where_files_are(tmp_path, capsys, stand_in):
    out = tmp_path / "s"
    assert main(_cli(out, "--method", "sobol", "--n", "16", "--params", ",".join(TRIO))) == 0
    text = capsys.readouterr().out
    assert "sobol sweep of karamay_pilot: 3 parameters, n=16, 80 runs" in text
    table = text.split("peak_year: sobol indices")[1]
    assert table.index(DOMINANT) < table.index(WEAK) < table.index(IGNORED)
    assert "ST" in table and "±" in table
    assert str(out / INDICES_FILE) in text and str(out / CONVERGENCE_FILE) in text


def test_cli_progress_bar_goes_to_stderr(tmp_path, capsys, stand_in):
    params = f"{DOMINANT},{WEAK}"
    args = [
        a for a in _cli(tmp_path / "s", "--method", "morris", "--n", "4", "--params", params) if a != "--no-progress"
    ]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "12/12" in captured.err and "run/s" in captured.err
    assert "run/s" not in captured.out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "sobol", "--n", "100"], "power of 2"),
        (
            ["--method", "sobol", "--n", "8", "--params", "gdp_growth_pct_per_year"],
            "did you mean gdp_growth_pct_per_yr",
        ),
        (["--method", "sobol", "--n", "8", "--params", DOMINANT, "--kinds", "lever"], "not both"),
        (["--method", "sobol", "--n", "8", "--groups", "prices"], "--groups 'prices'"),
        (["--n", "8"], "method and n are required"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, stand_in, extra, message):
    assert main(_cli(tmp_path / "s", *extra)) == 2
    assert message in _one_line_error(capsys)


def test_cli_failed_runs_exit_1_naming_them_and_resume_finishes(tmp_path, capsys, monkeypatch):
    fake = StandIn()

    def fail_run_2(scenario, seed=0, overrides=None, resolution=None):
        if len(fake.calls) == 2:
            fake.calls.append(((-1,), {}))
            raise ArithmeticError("diverged")
        return fake(scenario, seed, overrides, resolution)

    monkeypatch.setattr(sim_model, "run", fail_run_2)
    out = tmp_path / "s"
    assert main(_cli(out, "--method", "sobol", "--n", "4", "--params", ",".join(TRIO))) == 1
    err = capsys.readouterr().err
    assert "run_id 2" in err and "failures.jsonl" in err and "--resume" in err
    assert json.loads((out / "failures.jsonl").read_text().splitlines()[0])["run_id"] == 2

    monkeypatch.setattr(sim_model, "run", StandIn())
    assert main(_cli(out, "--resume")) == 0
    assert "1 run now" in capsys.readouterr().out
