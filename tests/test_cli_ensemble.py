"""``citypeak ensemble | summary | compare``: output, exit codes and one-line errors (sim/cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import model as sim_model
from sim.cli import main
from sim.store import BatchStore
from tests.conftest import SCENARIOS, failing_model_methods

BASELINE = str(SCENARIOS / "karamay_baseline.yaml")
FAST = ["--resolution", "0.01", "--workers", "1", "--no-progress"]


def _ensemble(out: Path, *extra: str) -> int:
    return main(["ensemble", BASELINE, "--runs", "5", "--out", str(out), *FAST, *extra])


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_ensemble_then_summary_prints_peak_probability_and_bands(tmp_path, capsys):
    out = tmp_path / "batch"
    assert _ensemble(out) == 0
    assert "5 of 5 runs complete" in capsys.readouterr().out
    assert main(["summary", str(out)]) == 0
    text = capsys.readouterr().out
    for expected in (
        "Peak year of direct CO2 emissions",
        "not peaked",
        "P(peak <= 2030) = ",
        "95% Wilson interval",
        "not peaked by the horizon",
        "2030 emissions: median",
        "peak emissions: median",
        "P5-P95",
        " 2030 ",
        " 2060 ",
    ):
        assert expected in text


def test_ensemble_progress_bar_goes_to_stderr(tmp_path, capsys):
    args = ["ensemble", BASELINE, "--runs", "3", "--out", str(tmp_path / "b"), "--resolution", "0.01"]
    assert main([*args, "--workers", "1", "--batch-size", "1"]) == 0
    captured = capsys.readouterr()
    assert "3/3" in captured.err and "run/s" in captured.err
    assert "run/s" not in captured.out


def test_compare_prints_paired_probabilities_and_warns_without_common_random_numbers(tmp_path, capsys):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert _ensemble(a) == 0 and _ensemble(b) == 0 and _ensemble(c, "--seed", "9") == 0
    capsys.readouterr()
    assert main(["compare", str(a), str(b)]) == 0
    captured = capsys.readouterr()
    assert "P(A peaks earlier than B) = 0.0%" in captured.out
    assert "P(same peak year)         = 100.0%" in captured.out
    assert "2030 emissions: median +0.00" in captured.out
    assert captured.err == ""
    assert main(["compare", str(a), str(c)]) == 0
    err = capsys.readouterr().err
    assert "root seed differs (1 vs 9)" in err
    assert "not common-random-number pairs" in err


def test_failed_runs_exit_1_and_say_where_the_failures_are(tmp_path, capsys, monkeypatch):
    methods = failing_model_methods(lambda r: RuntimeError("model diverged") if r in (1, 3) else None)
    for name, method in methods.items():
        monkeypatch.setattr(sim_model.CityModel, name, method)
    out = tmp_path / "batch"
    assert _ensemble(out) == 1
    err = capsys.readouterr().err
    assert "2 run(s) failed" in err
    assert str(out / "failures.jsonl") in err
    failures = BatchStore.open(out).read_failures()
    assert sorted(failures["run_id"]) == [1, 3]
    assert all("gdp_growth_pct_per_yr" in p for p in failures["params"])

    monkeypatch.undo()
    assert main(["ensemble", BASELINE, "--out", str(out), "--resume", *FAST]) == 0
    assert "5 of 5 runs complete" in capsys.readouterr().out


def test_missing_scenario_file_exits_2_with_one_line(tmp_path, capsys):
    code = main(["ensemble", str(tmp_path / "nope.yaml"), "--runs", "3", "--out", str(tmp_path / "b"), *FAST])
    assert code == 2
    assert "nope.yaml" in _one_line_error(capsys)
    assert not (tmp_path / "b").exists()


def test_malformed_scenario_file_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: broken\ncity: [population: 1\n", encoding="utf-8")
    assert main(["ensemble", str(bad), "--runs", "3", "--out", str(tmp_path / "b"), *FAST]) == 2
    assert "invalid YAML" in _one_line_error(capsys)


@pytest.mark.parametrize("command", ["summary", "compare"])
def test_missing_batch_folder_exits_2_with_one_line(tmp_path, capsys, command):
    args = [command, str(tmp_path / "none")] + ([str(tmp_path / "none")] if command == "compare" else [])
    assert main(args) == 2
    assert "batch folder not found" in _one_line_error(capsys)


def test_folder_that_is_not_a_batch_exits_2(tmp_path, capsys):
    assert main(["summary", str(tmp_path)]) == 2
    assert "manifest.json is missing" in _one_line_error(capsys)


def test_resume_with_other_settings_or_new_batch_without_runs_exits_2(tmp_path, capsys):
    out = tmp_path / "batch"
    assert _ensemble(out) == 0
    capsys.readouterr()
    assert main(["ensemble", BASELINE, "--out", str(out), "--resume", "--seed", "4", *FAST]) == 2
    assert "cannot resume: root seed 4 differs" in _one_line_error(capsys)
    assert _ensemble(out) == 2
    assert "already holds a batch" in _one_line_error(capsys)
    assert main(["ensemble", BASELINE, "--out", str(tmp_path / "new"), *FAST]) == 2
    assert "--runs" in _one_line_error(capsys)
    assert main(["ensemble", BASELINE, "--runs", "2", "--out", str(tmp_path / "w"), "--workers", "0"]) == 2
    assert "workers=0" in _one_line_error(capsys)
