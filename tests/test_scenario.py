"""Scenario files: validation messages, sources, inheritance."""

from __future__ import annotations

import copy

import pytest

from sim.scenario import ScenarioError, load_scenario, scenario_from_dict
from tests.conftest import SCENARIOS, write_yaml


def test_baseline_scenario_is_valid_and_sourced(baseline):
    assert baseline.name == "karamay_baseline"
    assert all(len(u.source) > 10 for u in baseline.power.units)
    assert all(r.source and all(o.source for o in r.options) for r in baseline.refineries)
    for section in (baseline.city, baseline.power, baseline.industry, baseline.households, baseline.buildings):
        assert section.sources, type(section).__name__


def test_unknown_key_is_rejected_with_a_suggestion(tiny_dict):
    tiny_dict["power"]["export_limt_mw"] = 10
    with pytest.raises(ScenarioError, match=r"power\.export_limt_mw: unknown field.*did you mean 'export_limit_mw'"):
        scenario_from_dict(tiny_dict, "t.yaml")


def test_number_without_source_is_rejected(tiny_dict):
    tiny_dict["power"]["export_limit_mw"] = 100
    with pytest.raises(ScenarioError, match="no source for export_limit_mw"):
        scenario_from_dict(tiny_dict, "t.yaml")


def test_out_of_range_parameter_names_field_value_and_range(tiny_dict):
    tiny_dict["parameters"] = {"gdp_growth_pct_per_yr": 12}
    with pytest.raises(ScenarioError, match=r"gdp_growth_pct_per_yr: value 12.*\[2, 7.5\]"):
        scenario_from_dict(tiny_dict, "t.yaml")


def test_unknown_parameter_gets_did_you_mean(tiny_dict):
    tiny_dict["parameters"] = {"gdp_growth_pct": 3}
    with pytest.raises(ScenarioError, match="did you mean gdp_growth_pct_per_yr"):
        scenario_from_dict(tiny_dict, "t.yaml")


def test_nan_is_rejected(tiny_dict):
    tiny_dict["power"]["units"][0]["capacity_mw"] = float("nan")
    with pytest.raises(ScenarioError, match=r"power\.units\.0\.capacity_mw"):
        scenario_from_dict(tiny_dict, "t.yaml")


def test_child_scenario_inherits_and_overrides_units_by_name(tmp_path, tiny_dict):
    write_yaml(tmp_path / "parent.yaml", tiny_dict)
    child = {
        "inherits": "parent.yaml",
        "name": "child",
        "power": {"units": [{"name": "coal_a", "capacity_mw": 800}]},
        "parameters": {"carbon_price_2030_cny_per_t": 300},
    }
    s = load_scenario(write_yaml(tmp_path / "child.yaml", child))
    assert s.name == "child"
    assert s.power.units[0].capacity_mw == 800
    assert s.power.units[0].heat_rate_gj_per_mwh == 9.0
    assert s.power.other_load_mw == 500
    assert s.parameter_values()["carbon_price_2030_cny_per_t"] == 300


def test_inheritance_cycle_is_reported(tmp_path, tiny_dict):
    a = copy.deepcopy(tiny_dict) | {"inherits": "b.yaml"}
    write_yaml(tmp_path / "a.yaml", a)
    write_yaml(tmp_path / "b.yaml", {"inherits": "a.yaml", "name": "b"})
    with pytest.raises(ScenarioError, match="inheritance cycle: a.yaml -> b.yaml -> a.yaml"):
        load_scenario(tmp_path / "a.yaml")


def test_invalid_yaml_reports_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\npower: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad.yaml: invalid YAML at line \d+"):
        load_scenario(p)


def test_every_shipped_scenario_validates():
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert files
    for f in files:
        load_scenario(f)


def test_scenario_text_reads_and_writes_as_pyyaml_safe_load_and_safe_dump():
    """The app's scenario text goes through libyaml where PyYAML has it (``load_yaml``, ``dump_yaml``): it
    must be the text ``yaml.safe_dump`` writes and the data ``yaml.safe_load`` reads, for every preset."""
    import yaml

    from sim.scenario import dump_yaml, load_yaml, resolve_inheritance

    for path in sorted(SCENARIOS.glob("karamay_*.yaml")):
        data = resolve_inheritance(path)
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        assert dump_yaml(data) == text, path.name
        assert load_yaml(text) == yaml.safe_load(text) == data, path.name
