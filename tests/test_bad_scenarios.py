"""Malformed scenario files: every one is refused with exit code 2 and a message, never a traceback.

The corpus is ``tests/data/bad_scenarios/``; ``expected.yaml`` there says what each file tries and which
text its error must contain (file name, field path, value, what is allowed). ``docs/reliability.md``
lists the outcomes. The security tests at the end check that user input is only ever read as plain data.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim import registry
from sim.cli import main
from sim.scenario import MAX_SCENARIO_BYTES, ScenarioError, load_scenario, parse_scenario_bytes, scenario_from_dict
from tests.conftest import ROOT, TINY, write_yaml

CORPUS = Path(__file__).parent / "data" / "bad_scenarios"
EXPECTED: dict[str, dict] = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
CASES = sorted(p.name for p in CORPUS.glob("*.yaml") if p.name != "expected.yaml")
PWNED = "CITYPEAK-PWNED"
"""What ``python_object_tag.yaml`` would print if its ``os.system`` tag were ever executed."""


def _blocks(stderr: str) -> dict[str, str]:
    """Split ``citypeak validate`` output into one block per file (continuation lines start with spaces)."""
    out: dict[str, str] = {}
    name = None
    for line in stderr.splitlines():
        if not line.startswith(" "):
            name = Path(line.split(": ", 1)[0]).name
            out[name] = ""
        if name is not None:
            out[name] += line + "\n"
    return out


def test_corpus_has_at_least_30_cases_each_with_an_expected_message():
    assert len(CASES) >= 30
    assert sorted(EXPECTED) == CASES, "every corpus file needs an entry in expected.yaml, and only those"
    for name, case in EXPECTED.items():
        assert case["tries"] and case["expect"], name
        assert case["kind"] in {"file", "inherit", "schema", "consistency", "source"}, name


@pytest.mark.parametrize("name", CASES)
def test_validate_refuses_the_file_with_its_message(name, capsys):
    path = CORPUS / name
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert name in captured.err
    for text in EXPECTED[name]["expect"]:
        assert text in captured.err, f"{name}: expected {text!r} in:\n{captured.err}"


def test_validate_in_a_subprocess_exits_2_with_every_message_and_no_traceback():
    """The real command on the whole corpus at once: one interpreter, one block of messages per file."""
    files = [str(CORPUS / name) for name in CASES]
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "validate", *files], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert PWNED not in proc.stdout + proc.stderr
    blocks = _blocks(proc.stderr)
    assert sorted(blocks) == CASES
    for name in CASES:
        for text in EXPECTED[name]["expect"]:
            assert text in blocks[name], f"{name}: expected {text!r} in:\n{blocks[name]}"


def test_a_file_over_the_size_cap_is_refused_before_it_is_parsed(tmp_path, capsys):
    huge = tmp_path / "huge.yaml"
    line = b"# padding padding padding padding padding padding padding padding padding\n"
    huge.write_bytes(b"name: huge\n" + line * (MAX_SCENARIO_BYTES // len(line) + 1))
    assert main(["validate", str(huge)]) == 2
    err = capsys.readouterr().err
    assert f"huge.yaml: file is {huge.stat().st_size:,} bytes; scenario files are limited to 2,000,000" in err


def test_bytes_over_the_cap_are_refused_whatever_the_file_size_said():
    with pytest.raises(ScenarioError, match="upload.yaml: file is over 2,000,000 bytes"):
        parse_scenario_bytes(b"#" * (MAX_SCENARIO_BYTES + 1), "upload.yaml")


def test_a_folder_given_as_the_scenario_is_refused(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert "cannot read scenario file (it is a folder, not a regular file)" in capsys.readouterr().err


def test_good_and_bad_files_together_report_each_and_exit_2(tmp_path, capsys):
    good = write_yaml(tmp_path / "good.yaml", TINY)
    assert main(["validate", str(good), str(CORPUS / "nan_value.yaml")]) == 2
    captured = capsys.readouterr()
    assert "good.yaml: ok (tiny" in captured.out
    assert "nan_value.yaml" in captured.err and "good.yaml" not in captured.err


def test_a_file_with_hundreds_of_problems_lists_the_first_thirty(tmp_path, capsys):
    bad = dict(TINY, **{f"unknown_{i}": i for i in range(200)})
    assert main(["validate", str(write_yaml(tmp_path / "many.yaml", bad))]) == 2
    err = capsys.readouterr().err
    assert "many.yaml: 200 problem(s) in scenario" in err
    assert "  ... and 170 more" in err
    assert len(err.splitlines()) == 32


def test_problems_found_across_fields_are_all_reported_at_once(tmp_path, capsys):
    # Cross-field checks used to stop at the first problem, so a file was fixed one problem per attempt.
    bad = dict(TINY)
    bad["parameters"] = {
        **TINY["parameters"],
        "carbon_price_2030_cny_per_t": {"value": 5000, "source": "test"},
        "carbon_price_2060_cny_per_t": {"value": -1, "source": "test"},
        "nonsense_param": {"value": 3, "source": "test"},
        "coal_phase_out_year": {"value": 2040.5, "source": "test"},
    }
    bad["uncertain"] = ["gdp_growth_pct_per_yr", "gdp_growth_pct_per_yr", "resolution"]
    assert main(["validate", str(write_yaml(tmp_path / "several.yaml", bad))]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("several.yaml: 6 problem(s) in scenario")
    assert sorted(err[1:]) == sorted(
        [
            "  - parameters.carbon_price_2030_cny_per_t: value 5000.0 outside the allowed range [0, 800] CNY/t",
            "  - parameters.carbon_price_2060_cny_per_t: value -1.0 outside the allowed range [0, 2000] CNY/t",
            "  - parameters: unknown parameter 'nonsense_param'",
            "  - uncertain: 'resolution' is a setting and cannot be sampled; allowed: uncertainties and levers "
            "(citypeak params lists them)",
            "  - uncertain: ['gdp_growth_pct_per_yr'] listed more than once; allowed: each parameter once",
            "  - parameters.coal_phase_out_year: value 2040.5 is not a whole number; allowed: whole years",
        ]
    )


def test_a_valid_alias_is_still_allowed(tmp_path):
    """The alias guard must not refuse reuse of a block, as scenarios do (a refinery's options, a source)."""
    text = """
name: aliases
city: {population: 1000, persons_per_household: 2.5, sources: {population: &src "test", persons_per_household: *src}}
power:
  units:
    - {name: coal_a, technology: coal, capacity_mw: 100, commissioned: 2020, heat_rate_gj_per_mwh: 9, source: *src}
    - {name: coal_b, technology: coal, capacity_mw: 100, commissioned: 2020, heat_rate_gj_per_mwh: 9, source: *src}
"""
    (tmp_path / "aliases.yaml").write_text(text, encoding="utf-8")
    assert [u.name for u in load_scenario(tmp_path / "aliases.yaml").power.units] == ["coal_a", "coal_b"]


# ---------------------------------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ensemble", "x.yaml", "--runs", "abc", "--out", "b"], "citypeak ensemble: argument --runs: invalid int"),
        ([], "citypeak: the following arguments are required: command (see: citypeak --help)"),
        (["frobnicate"], "citypeak: argument command: invalid choice: 'frobnicate'"),
        (["validate"], "citypeak validate: the following arguments are required: files"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(argv, message, capsys):
    """argparse's usage block is dropped: the one line that says what is wrong is what the user needs."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "usage:" not in err


def test_help_still_prints_and_exits_0(capsys):
    assert main(["validate", "--help"]) == 0
    assert "usage: citypeak validate" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- distributions


def test_scenarios_cannot_override_distributions_so_the_registry_is_checked_instead():
    """A scenario sets values (``{value, source}``), never distribution parameters; the registry's must be sane."""
    with pytest.raises(ScenarioError, match=r"parameters\.gdp_growth_pct_per_yr\.sd: unknown field 'sd'"):
        scenario_from_dict(TINY | {"parameters": {"gdp_growth_pct_per_yr": {"value": 5, "source": "x y", "sd": 1}}})
    for p in registry.parameters():
        assert p.low < p.high, p.name
        if p.distribution == "normal":
            assert p.sd is not None and p.sd > 0, p.name


# ---------------------------------------------------------------------------------------------- security

_PACKAGE_SOURCES = sorted(
    [*(ROOT / "sim").rglob("*.py"), *(ROOT / "agents").rglob("*.py"), *(ROOT / "policies").rglob("*.py")]
    + [*(ROOT / "ui").rglob("*.py"), ROOT / "app.py"]
)
_UNSAFE = {
    "yaml.load(": re.compile(r"\byaml\.load\("),
    "yaml.unsafe_load / full_load": re.compile(r"\byaml\.(unsafe_load|full_load|load_all|unsafe_load_all)\b"),
    "an unsafe YAML Loader": re.compile(r"Loader\s*=\s*yaml\.(Loader|UnsafeLoader|FullLoader)\b"),
    "pickle.load": re.compile(r"\b(c?pickle|dill|cloudpickle|joblib)\.loads?\("),
    "marshal.load / shelve": re.compile(r"\bmarshal\.loads?\(|\bshelve\.open\("),
    "eval(": re.compile(r"(?<![\w.])eval\("),
    "exec(": re.compile(r"(?<![\w.])exec\("),
}


def test_package_sources_never_load_yaml_unsafely_or_unpickle_or_eval():
    """User input (scenario files, uploads, manifests) is read as plain data only.

    Process pools and Dask pickle task arguments between our own processes inside their libraries; our
    sources never unpickle, ``eval`` or ``exec`` anything.
    """
    assert len(_PACKAGE_SOURCES) > 10
    found = []
    for path in _PACKAGE_SOURCES:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            found += [f"{path.relative_to(ROOT)}:{n}: {what}" for what, rx in _UNSAFE.items() if rx.search(code)]
    assert found == []


def test_the_source_scan_would_catch_what_it_looks_for():
    lines = ["data = yaml.load(text)", "x = eval(s)", "pickle.loads(b)", "yaml.load(t, Loader=yaml.Loader)"]
    for line in lines:
        assert any(rx.search(line) for rx in _UNSAFE.values()), line
    for line in ["data = yaml.safe_load(text)", "model.eval()", "retrieval(x)", "yaml.compose(t)"]:
        assert not any(rx.search(line) for rx in _UNSAFE.values()), line


def test_python_tags_are_refused_and_never_executed(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("os.system", lambda cmd: calls.append(cmd))
    with pytest.raises(ScenarioError, match=r"tag '!!python/object/apply:os.system' is not allowed"):
        load_scenario(CORPUS / "python_object_tag.yaml")
    with pytest.raises(ScenarioError, match="is not allowed"):
        parse_scenario_bytes(b"name: !!python/object/new:builtins.dict {}\n", "new.yaml")
    assert calls == []
