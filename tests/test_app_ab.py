"""The paired A/B benchmark of the app (``benchmarks/app_ab.py``): its pairing and summary, how it finds the two
versions, and one short run end to end in two real browsers.

No timing assertions: what the tool reports is a measurement, judged by whoever runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import app_ab
from benchmarks.app_latency import CHROMIUM

ROOT = Path(__file__).resolve().parents[1]


def test_paired_summary_reports_the_differences_of_b_against_a():
    a = [2.0, 2.2, 2.1, 2.4, 2.0, 2.3]
    b = [1.9, 2.1, 2.15, 2.2, 1.95, 2.2]
    s = app_ab.paired_summary(a, b)
    d = [y - x for x, y in zip(a, b, strict=True)]
    assert s["pairs"] == 6
    assert s["mean_diff_s"] == pytest.approx(sum(d) / 6)
    assert s["median_diff_s"] == pytest.approx(sorted(d)[2] / 2 + sorted(d)[3] / 2)
    assert s["b_faster_pairs"] == 5
    lo, hi = s["mean_diff_ci95_s"]
    assert lo <= s["mean_diff_s"] <= hi
    assert min(d) <= lo and hi <= max(d)


def test_paired_summary_of_identical_sides_is_zero_with_a_zero_interval():
    s = app_ab.paired_summary([2.0, 2.1, 1.9], [2.0, 2.1, 1.9])
    assert s["mean_diff_s"] == s["median_diff_s"] == 0.0
    assert s["mean_diff_ci95_s"] == (0.0, 0.0)
    assert s["b_faster_pairs"] == 0


def test_paired_summary_refuses_unpaired_moves():
    with pytest.raises(ValueError, match="got 3 for A and 2 for B"):
        app_ab.paired_summary([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="got 0 for A"):
        app_ab.paired_summary([], [])


def test_sides_alternate_which_moves_first():
    assert [app_ab.order_of_pair(i) for i in range(4)] == [(0, 1), (1, 0), (0, 1), (1, 0)]


def test_extra_environment_is_name_equals_value():
    assert app_ab.parse_env(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(SystemExit, match="expected NAME=VALUE, got 'oops'"):
        app_ab.parse_env(["oops"])


def test_a_side_is_this_tree_a_directory_or_a_git_revision(tmp_path):
    with app_ab.checkout(".") as tree:
        assert tree == ROOT
    with app_ab.checkout(str(ROOT)) as tree:
        assert tree == ROOT
    with app_ab.checkout("HEAD") as tree:
        assert (tree / "app.py").is_file() and (tree / "ui" / "runner.py").is_file()
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tree, capture_output=True, text=True).stdout
        assert head == subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    assert not tree.exists(), "the temporary worktree is removed afterwards"
    listed = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    assert str(tree) not in listed


def test_a_side_that_is_neither_a_tree_nor_a_revision_is_refused_by_name(tmp_path):
    with (
        pytest.raises(SystemExit, match="'no-such-rev-xyz' is neither a project directory"),
        app_ab.checkout("no-such-rev-xyz"),
    ):
        pass
    with pytest.raises(SystemExit, match="is neither a project directory"), app_ab.checkout(str(tmp_path)):
        pass  # a directory without app.py


@pytest.mark.parametrize("pairs", ["1", "71"])
def test_a_number_of_pairs_the_slider_cannot_take_is_refused(pairs, capsys):
    with pytest.raises(SystemExit):
        app_ab.main(["--pairs", pairs])
    assert f"--pairs must be 2 to 70 (the slider's steps from its minimum), got {pairs}" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: install Debian's chromium")
def test_two_versions_are_served_and_moved_in_turn(tmp_path):
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    out = tmp_path / "ab.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "app_ab.py"), "--a", "HEAD", "--b", ".", "--pairs", "2",
         "--members", "40", "--env-b", "CITYPEAK_APP_BUILD_AHEAD=0", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "B - A, key -> full ensemble, 2 pairs" in proc.stdout
    data = json.loads(out.read_text())
    a, b = data["sides"]
    assert (a["version"], b["version"], b["env"]) == ("HEAD", ".", {"CITYPEAK_APP_BUILD_AHEAD": "0"})
    for side in (a, b):
        assert len(side["full_s"]) == len(side["headline_s"]) == 2
        assert all(0 < h <= f for h, f in zip(side["headline_s"], side["full_s"], strict=True))
    assert data["full"]["pairs"] == 2
    assert "the window: one run in-process" in proc.stdout
    assert data["single_run_ms"]["before"] > 0 and data["single_run_ms"]["after"] > 0
