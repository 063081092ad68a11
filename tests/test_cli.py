"""citypeak run / validate / params from the command line."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from sim.cli import main
from tests.conftest import SCENARIOS, write_yaml


def test_run_writes_tidy_parquet_and_prints_peak_year(tmp_path, capsys):
    out = tmp_path / "res"
    code = main(
        ["run", str(SCENARIOS / "karamay_baseline.yaml"), "--seed", "1", "--resolution", "0.02", "--out", str(out)]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "peak year 20" in text and "power_heat" in text
    yearly = pd.read_parquet(out / "yearly.parquet")
    assert {"year", "sector", "fuel", "scope", "emissions_mt", "energy_pj"} <= set(yearly.columns)
    summary = pd.read_parquet(out / "summary.parquet")
    assert int(summary.loc[0, "peak_year"]) in range(2024, 2061)
    assert not list(out.glob(".tmp-*"))


def test_validate_exits_2_with_field_message_and_no_traceback(tmp_path, tiny_dict):
    tiny_dict["power"]["units"][0]["technology"] = "nuclear_fusion"
    bad = write_yaml(tmp_path / "bad.yaml", tiny_dict)
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "validate", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "power.units.0.technology" in proc.stderr and "nuclear_fusion" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_with_bad_override_exits_2(capsys):
    code = main(["run", str(SCENARIOS / "karamay_baseline.yaml"), "--set", "carbon_price_2030_cny_per_t=-5"])
    assert code == 2
    assert "outside the allowed range [0, 800]" in capsys.readouterr().err


def test_out_of_range_message_of_a_dimensionless_parameter_ends_with_its_range_not_a_dash(capsys):
    code = main(["run", str(SCENARIOS / "karamay_baseline.yaml"), "--set", "wind_capacity_factor=2"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--set wind_capacity_factor: value 2 outside the allowed range [0.21, 0.31]"), err


def test_missing_scenario_file_exits_2(capsys):
    assert main(["run", "no/such/file.yaml"]) == 2
    assert "cannot read scenario file" in capsys.readouterr().err


def test_params_prints_registry_table(capsys):
    assert main(["params"]) == 0
    assert "| `carbon_price_2030_cny_per_t` | lever | CNY/t |" in capsys.readouterr().out


def test_levers_prints_a_known_limitations_note_under_the_family_it_distorts(capsys, monkeypatch):
    import sim.levers
    from tests.conftest import SCENARIOS
    from tests.test_app import TEST_LIMITATION

    monkeypatch.setattr(sim.levers, "FAMILY_LIMITATIONS", TEST_LIMITATION)
    assert main(["levers", str(SCENARIOS / "karamay_pilot.yaml"), "--resolution", "0.05"]) == 0
    out = capsys.readouterr().out
    assert f"note on green_h2_subsidy: {TEST_LIMITATION['green_h2_subsidy']['en']}" in out
    assert out.count("note on ") == 1


def test_output_pipe_closed_by_its_reader_ends_without_a_traceback():
    # `citypeak params | head -1`: the reader is gone before the table is written.
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "params"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
