"""End to end: ``streamlit run app.py`` on localhost, driven by headless Chromium like a person would.

This is the only test that exercises the real server, the real browser widgets and the app's process pool
together (AppTest runs the script in-process without a pool). It needs Debian's ``chromium`` package at
``/usr/bin/chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it) and skips with that reason
where it is missing. Set ``CITYPEAK_SAVE_SCREENSHOTS=1`` to also write the screenshot to ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from benchmarks.app_latency import (
    CHROMIUM,
    LEVER_LABEL,
    app_server,
    chromium_page,
    headline,
    move_lever,
    timed_press,
    wait_for_headline_change,
    wait_until_drawn,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
    ),
]

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"


def test_moving_a_lever_in_the_browser_changes_the_headline(tmp_path: Path) -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    # A real pool of two workers, with an ensemble small enough for CI.
    env = {"CITYPEAK_APP_MEMBERS": "40", "CITYPEAK_APP_RESOLUTION": "0.005", "CITYPEAK_APP_WORKERS": "2"}
    with app_server(env) as url, chromium_page(1400, 1000) as page:
        page.goto(url + "/?preset=baseline")
        wait_until_drawn(page)
        before = headline(page)
        assert len(before) == 4 and all(before), before

        t0 = time.perf_counter()
        move_lever(page, "Power, coal and caps", "Coal condensing units retire by (year)")
        wait_for_headline_change(page, before)
        first_change_s = time.perf_counter() - t0
        wait_until_drawn(page)
        full_s = time.perf_counter() - t0
        after = headline(page)
        print(f"slider -> headline {first_change_s:.2f} s, -> full 40-member ensemble {full_s:.2f} s")

        assert after != before
        assert "coal_phase_out_year=2028" in page.url, "the link carries the moved lever"
        deltas = page.get_by_test_id("stMetricDelta")
        assert deltas.count() >= 1, "the headline shows the change against the unchanged preset"

        shot = tmp_path / "app_lever_moved.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("CITYPEAK_SAVE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "browser_test_lever_moved.png"))

        # The next move: the headline and the four charts stay on screen while the new ensemble runs (they
        # used to vanish until its first stage was in), and the headline then changes.
        before = headline(page)
        page.locator('input[type="range"][aria-label$="Coal condensing units retire by (year)"]').first.focus()
        for _ in range(5):  # five steps at once: a change a 40-member headline shows
            page.keyboard.press("ArrowRight")
        shown: list[list[int]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            # Headline numbers, charts, then the signs of a run: the progress bar, Streamlit's running indicator
            # and the app's "Running the ensemble" caption (a short run shows the caption, not the bar).
            counts = page.evaluate(
                "() => ['stMetricValue', 'stVegaLiteChart', 'stProgress', 'stStatusWidget']"
                '.map(id => document.querySelectorAll(`[data-testid="${id}"]`).length)'
                ".concat([[...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')]"
                ".filter(e => e.textContent.includes('Running the ensemble')).length])"
            )
            shown.append(counts)
            if headline(page) != before and not any(counts[2:]):
                break
            time.sleep(0.03)
        assert headline(page) != before, "the second move changed the headline"
        assert any(any(c[2:]) for c in shown), "the redraw was seen while it ran"
        assert min(c[0] for c in shown) == 4, f"the headline left the screen during the redraw: {shown}"
        assert min(c[1] for c in shown) == 4, f"charts left the screen during the redraw: {shown}"
        wait_until_drawn(page)

        # The downloads hand their data over on a click (deferred), not as a file per rerun: the scenario
        # downloaded is the one the page shows, with the moved lever in it.
        year = int(page.url.split("coal_phase_out_year=")[1].split("&")[0])
        button = page.locator('[data-testid="stMain"] [data-testid="stDownloadButton"]', has_text="Scenario (YAML)")
        with page.expect_download(timeout=60_000) as download:
            button.click()
        scenario = yaml.safe_load(Path(download.value.path()).read_text(encoding="utf-8"))
        assert download.value.suggested_filename.endswith(".yaml")
        assert scenario["parameters"]["coal_phase_out_year"]["value"] == year
        with page.expect_download(timeout=60_000) as download:
            page.locator('[data-testid="stMain"] [data-testid="stDownloadButton"]', has_text="Results (CSV)").click()
        header = Path(download.value.path()).read_text(encoding="utf-8").splitlines()[0]
        assert "run_id" in header and "year" in header, header

        # Moves back to settings drawn before, as app_latency.py times them: each wait ends on the page's changed
        # link and the redraw after it, so it ends with that setting's own headline on screen, also where two
        # settings read alike (a small ensemble's rounded headline), which a wait for a changed headline never does.
        thumb = page.locator(f'input[type="range"][aria-label$="{LEVER_LABEL}"]').first
        drawn = {year: headline(page)}
        timed_press(page, thumb, "ArrowLeft", "link")
        drawn[year - 1] = headline(page)
        assert f"coal_phase_out_year={year - 1}" in page.url
        for key, to in (("ArrowRight", year), ("ArrowLeft", year - 1), ("ArrowRight", year)):
            timed_press(page, thumb, key, "link")
            assert f"coal_phase_out_year={to}" in page.url
            assert headline(page) == drawn[to], f"back at {to}: {headline(page)}, drawn before {drawn[to]}"
        note = page.get_by_text("members at resolution").first.text_content()
        assert "from cache" in note, f"a setting drawn before comes from the result cache: {note}"

        page.get_by_text("中文", exact=True).click()
        page.get_by_role("tab", name="情景对比").wait_for(timeout=60_000)
        wait_until_drawn(page, timeout_s=180)
        assert page.get_by_test_id("stMetricLabel").first.inner_text().startswith("达峰年份")


def test_every_tab_click_opens_that_tab_also_while_the_last_tab_runs() -> None:
    """Clicking one tab after another opens each (every second click used to be lost: the tabs' default, part
    of the widget's identity, followed the open tab, so each switch made a new widget that forgot the click),
    and a language switch keeps the open tab."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    env = {"CITYPEAK_APP_MEMBERS": "40", "CITYPEAK_APP_RESOLUTION": "0.005", "CITYPEAK_APP_WORKERS": "2"}
    with app_server(env) as url, chromium_page(1400, 1000) as page:
        page.goto(url + "/?preset=baseline")
        wait_until_drawn(page)
        selected = page.locator('[role="tab"][aria-selected="true"]')

        def open_tab(label: str, tab_id: str, wait_s: float) -> None:
            page.get_by_role("tab", name=label).click()
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and not (selected.inner_text() == label and f"tab={tab_id}" in page.url):
                time.sleep(0.1)
            assert selected.inner_text() == label, f"clicked {label!r}, {selected.inner_text()!r} is open"
            assert f"tab={tab_id}" in page.url, page.url

        open_tab("Compare", "compare", 60)
        open_tab("Sensitivity", "sensitivity", 60)  # clicked while the comparison may still run
        open_tab("Policy cost", "cost", 60)
        wait_until_drawn(page, timeout_s=180)
        open_tab("Compare", "compare", 60)
        wait_until_drawn(page, timeout_s=180)
        page.get_by_text("中文", exact=True).click()
        page.get_by_role("tab", name="情景对比").wait_for(timeout=60_000)
        wait_until_drawn(page, timeout_s=180)
        assert selected.inner_text() == "情景对比"
        open_tab("敏感性", "sensitivity", 60)


CUT_TEXT_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] *')]
  .filter(e => {
    const c = getComputedStyle(e);
    return e.textContent.trim() && e.scrollWidth > e.clientWidth + 1 && c.overflow !== 'visible'
      && (c.textOverflow === 'ellipsis' || (e.children.length === 0 && c.textOverflow === 'clip'));
  })
  .map(e => e.textContent.trim().slice(0, 60))"""
"""Texts of the main view cut short: a box that hides what does not fit and ends the text with "…" (or, for a
text with no inner elements, just hides the rest)."""


def test_no_number_label_or_chosen_item_is_cut_short_on_a_tablet_or_a_small_projector() -> None:
    """At 768 px (a tablet, a window beside another) the headline's four numbers were cut to "2…", "9…" and their
    labels to "Peak y…"; at 1024 px (a meeting room's projector) the Discovery tab showed one of the three levers
    it would vary, and workshop mode cut "◀ Previous" to "◀ Pr…"."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    env = {"CITYPEAK_APP_MEMBERS": "40", "CITYPEAK_APP_RESOLUTION": "0.005", "CITYPEAK_APP_WORKERS": "2"}
    cases = (
        (768, 1024, "preset=pilot", ("Results", "Sensitivity", "Discovery")),
        (1024, 768, "preset=pilot&lang=zh&ws=1", ("结果", "情景发现")),
    )
    with app_server(env) as url:
        for width, height, query, tabs in cases:
            with chromium_page(width, height) as page:
                page.goto(f"{url}/?{query}")
                wait_until_drawn(page)
                for tab in tabs:
                    page.get_by_role("tab", name=tab).click()
                    page.locator('[role="tab"][aria-selected="true"]', has_text=tab).wait_for(timeout=60_000)
                    wait_until_drawn(page, timeout_s=180)
                    cut = page.evaluate(CUT_TEXT_JS)
                    assert not cut, f"{width}x{height} {query} {tab}: {cut}"
