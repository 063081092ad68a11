"""Retake the app screenshots of docs/app.md ("## Screenshots") into docs/screenshots/.

Starts ``streamlit run app.py`` on a free localhost port and drives headless Debian Chromium
(``/usr/bin/chromium``) with Playwright at 1280 px wide, like ``tests/test_app_browser.py``. Each view is
opened by its link (the app's query parameters: preset, levers, tab, workshop mode), drawn in English,
saved, then switched to Chinese with the language buttons and saved again. Page views are full height,
scaled to 960 px wide; the sidebar views (``levers_*``) are the sidebar alone at its own width, unscaled.

The Discovery views need a result folder holding both a ``citypeak discover`` and a ``citypeak target``
result (the same ``--out``); they are only taken with ``--discovery FOLDER``, the only result folder in
FOLDER's parent directory (the app is started with ``CITYPEAK_APP_RESULTS`` pointing there). The folder of
docs/app.md was made with (about two minutes on two cores)::

    L="--lever carbon_price_2030_cny_per_t --lever coal_phase_out_year --lever renewable_capacity_target_gw_2030"
    citypeak discover scenarios/karamay_baseline.yaml $L --runs 400 --resolution 0.005 --out DIR/baseline_peak_by_2030
    citypeak target scenarios/karamay_baseline.yaml $L --members 40 --resolution 0.005 --out DIR/baseline_peak_by_2030

Usage::

    .venv/bin/python docs/take_screenshots.py                  # all views but discovery
    .venv/bin/python docs/take_screenshots.py --only results workshop
    .venv/bin/python docs/take_screenshots.py --discovery DIR/baseline_peak_by_2030
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.app_latency import app_server, chromium_page, headline, run_note_marker, wait_until_drawn  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
WIDTH = 1280
SCALED_WIDTH = 960
MEMBERS = 200
RESOLUTION = 0.005

LEVERS_MOVED = {
    "coal_phase_out_year": "2035",
    "carbon_price_2030_cny_per_t": "250",
    "renewable_capacity_target_gw_2030": "15",
}
BUS_SCHEDULE = {"s.bus_electric_sales_share": "2025:0.3;2028:0.8;2030:1"}
VIEWS = ("results", "levers", "compare", "sensitivity", "cost", "workshop", "discovery")


def link(url: str, **query: str) -> str:
    return url + "/?" + urlencode(query)


def settle(page, seconds: float = 2.0) -> None:
    """Let charts (Vega) finish drawing after a run or a resize; the mouse parked where it hovers nothing."""
    page.mouse.move(WIDTH - 40, 200)
    page.wait_for_timeout(int(seconds * 1000))


def drawn(page, timeout_s: float = 900.0) -> None:
    wait_until_drawn(page, timeout_s)
    settle(page)


def to_chinese(page, timeout_s: float = 900.0) -> None:
    """Click the language switch and wait until the Chinese page is drawn."""
    page.get_by_text("中文", exact=True).first.click()
    marker = run_note_marker("zh")
    page.wait_for_function(f"() => document.body.innerText.includes('{marker}')", timeout=timeout_s * 1000)
    drawn(page, timeout_s)


def save_page(page, name: str, full: bool = True, height: int | None = None) -> Path:
    """The page at WIDTH (full content height, or ``height``), scaled to SCALED_WIDTH."""
    from PIL import Image

    if full:
        h = page.evaluate(
            "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
            " return Math.max(m ? m.scrollHeight : 0, document.documentElement.scrollHeight); }"
        )
        page.set_viewport_size({"width": WIDTH, "height": int(h)})
        settle(page)
        h2 = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        if h2 != h:
            page.set_viewport_size({"width": WIDTH, "height": int(h2)})
            settle(page)
    else:
        page.set_viewport_size({"width": WIDTH, "height": height or 1000})
        settle(page)
    path = OUT / f"{name}.png"
    with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
        page.screenshot(path=tmp.name)
        img = Image.open(tmp.name)
        img = img.resize((SCALED_WIDTH, round(img.height * SCALED_WIDTH / img.width)), Image.LANCZOS)
        img.save(path, optimize=True)
    page.set_viewport_size({"width": WIDTH, "height": 1000})
    print(f"  {path} {img.size} headline {headline(page)}", flush=True)
    return path


def save_sidebar(page, name: str) -> Path:
    """The sidebar alone, its full content height, at its own width."""
    h = page.evaluate("() => document.querySelector('[data-testid=\"stSidebarContent\"]').scrollHeight")
    page.set_viewport_size({"width": WIDTH, "height": int(h)})
    settle(page)
    path = OUT / f"{name}.png"
    page.get_by_test_id("stSidebar").screenshot(path=str(path))
    page.set_viewport_size({"width": WIDTH, "height": 1000})
    print(f"  {path}", flush=True)
    return path


def open_group(page, label: str) -> None:
    """Open a sidebar expander by its label."""
    page.get_by_test_id("stSidebar").get_by_text(label, exact=True).first.click()
    settle(page, 1.0)


def cjk_font_families() -> list[str] | None:
    """The font families fontconfig knows for Chinese text (``fc-list :lang=zh``); ``None`` without fc-list."""
    if shutil.which("fc-list") is None:
        return None
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False).stdout
    return sorted({line.strip() for line in out.splitlines() if line.strip()})


def main(argv: list[str] | None = None) -> int:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=VIEWS, help="views to take (default: all but discovery)")
    parser.add_argument("--discovery", type=Path, help="a result folder for the Discovery views")
    parser.add_argument("--out", type=Path, help="where to write the PNGs (default docs/screenshots)")
    args = parser.parse_args(argv)
    OUT = (args.out or OUT).resolve()
    views = set(args.only or [v for v in VIEWS if v != "discovery" or args.discovery])
    # Every view is also saved in Chinese; without a CJK font Chromium draws each character as an empty box,
    # and the files would overwrite good screenshots with unreadable ones.
    if cjk_font_families() == []:
        print(
            "no font for Chinese text is installed (fc-list :lang=zh lists none), so the Chinese screenshots would"
            " show empty boxes; install one first (Debian: apt-get install fonts-noto-cjk)",
            file=sys.stderr,
        )
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    env = {"CITYPEAK_APP_MEMBERS": str(MEMBERS), "CITYPEAK_APP_RESOLUTION": str(RESOLUTION)}
    if args.discovery:
        # The Discovery tab lists the result folders under CITYPEAK_APP_RESULTS: point it at the folder's parent.
        env["CITYPEAK_APP_RESULTS"] = str(args.discovery.resolve().parent)
    t_start = time.perf_counter()
    with app_server(env, timeout_s=120) as url, chromium_page(WIDTH, 1000) as page:
        # The unchanged presets first: the headline's arrows compare against a preset's cached ensemble.
        print("warming the presets' ensembles", flush=True)
        for preset in ("baseline", "pilot"):
            page.goto(link(url, preset=preset))
            drawn(page)
        moved = {"preset": "baseline", **LEVERS_MOVED}
        if views & {"results", "levers"}:
            print("results / levers", flush=True)
            page.goto(link(url, **moved))
            drawn(page)
            if "results" in views:
                save_page(page, "results_en")
            to_chinese(page)
            if "results" in views:
                save_page(page, "results_zh")
            if "levers" in views:
                open_group(page, "电气化要求")
                open_group(page, "分阶段实施")
                save_sidebar(page, "levers_zh")
                page.goto(link(url, **moved, **BUS_SCHEDULE))
                drawn(page)
                open_group(page, "Carbon price")
                open_group(page, "Year/value schedules (advanced)")
                save_sidebar(page, "levers_en")
        for tab in ("compare", "sensitivity"):
            if tab in views:
                print(tab, flush=True)
                page.goto(link(url, **moved, tab=tab))
                drawn(page)
                save_page(page, f"{tab}_en")
                to_chinese(page)
                save_page(page, f"{tab}_zh")
        if "cost" in views:
            print("cost", flush=True)
            page.goto(link(url, preset="accelerated", tab="cost"))
            drawn(page)
            save_page(page, "cost_en")
            to_chinese(page)
            save_page(page, "cost_zh")
        if "workshop" in views:
            print("workshop", flush=True)
            page.goto(link(url, preset="pilot", ws="1"))
            drawn(page)
            page.get_by_text("Step 2 of 4", exact=False).first.wait_for()
            save_page(page, "workshop_en", full=False, height=1100)
            to_chinese(page)
            save_page(page, "workshop_zh", full=False, height=1100)
        if "discovery" in views and args.discovery:
            print("discovery", flush=True)
            page.goto(link(url, preset="baseline", tab="discovery"))
            drawn(page)
            save_page(page, "discovery_en")
            to_chinese(page)
            save_page(page, "discovery_zh")
            # Not saved: the headline once the cheapest package is loaded into the levers.
            page.get_by_test_id("stBaseButton-primary").first.click()
            page.wait_for_timeout(3000)
            drawn(page)
            print(f"  cheapest package loaded: headline {headline(page)}", flush=True)
    print(f"done in {time.perf_counter() - t_start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
