"""The screenshot script (docs/take_screenshots.py) refuses to overwrite the docs' screenshots when it cannot
draw Chinese text."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "take_screenshots.py"


def load_script():
    spec = importlib.util.spec_from_file_location("take_screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_a_cjk_font_the_script_stops_before_starting_the_app_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_script()
    monkeypatch.setattr(script, "cjk_font_families", lambda: [])
    monkeypatch.setattr(script, "app_server", lambda *a, **k: pytest.fail("the app was started"))
    out = tmp_path / "shots"
    assert script.main(["--only", "results", "--out", str(out)]) == 2
    assert not out.exists()
    assert "fonts-noto-cjk" in capsys.readouterr().err
