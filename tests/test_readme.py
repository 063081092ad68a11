"""The README's commands are the ones CI runs."""

from __future__ import annotations

from tests.conftest import ROOT


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_line = [line for line in readme.splitlines() if "pytest" in line and line.startswith("python3.12")][0]
    readme_cmd = test_line.split("&&")[-1].strip()
    ci_cmd = [line for line in ci.splitlines() if "pytest" in line and not line.startswith("#")][-1].strip()
    assert readme_cmd == ci_cmd


def test_readme_first_command_starts_the_app():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = [line for line in readme.splitlines() if line.startswith("python3.12")][0]
    assert first.endswith("streamlit run app.py") and '".[app]"' in first
    assert (ROOT / "app.py").exists()
