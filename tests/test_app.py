"""The Streamlit app, driven headless with ``streamlit.testing.v1.AppTest``, and its ``ui`` helpers.

Ensembles are kept tiny (8 members at resolution 0.002, in-process) through the app's environment
settings, so the whole file runs in well under a minute; the real-size latency is measured by
``benchmarks/app_latency.py`` and the real browser by ``tests/test_app_browser.py``.
"""

from __future__ import annotations

import copy
import gc
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from sim import registry
from sim.scenario import ScenarioError
from ui import charts, i18n
from ui import discovery as ui_discovery
from ui import runner as ui_runner
from ui import state as ui_state

streamlit_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = streamlit_testing.AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"
MEMBERS = 8


@pytest.fixture(autouse=True)
def small_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny in-process ensembles: the app reads these at every run."""
    monkeypatch.setenv("CITYPEAK_APP_MEMBERS", str(MEMBERS))
    monkeypatch.setenv("CITYPEAK_APP_WORKERS", "1")
    monkeypatch.setenv("CITYPEAK_APP_RESOLUTION", "0.002")
    monkeypatch.setenv("CITYPEAK_APP_MORRIS_TRAJECTORIES", "2")
    monkeypatch.delenv("CITYPEAK_LANG", raising=False)


TEST_LIMITATION = {
    "green_h2_subsidy": {
        "en": "a note the team keeps on this family; see docs/limitations.md.",
        "zh": "关于该政策族的说明；详见docs/limitations.md。",
    }
}
"""A known-limitation entry for the tests of how one is shown (sim.levers.FAMILY_LIMITATIONS is empty now)."""


def start(query: dict[str, str] | None = None) -> AppTest:
    """Run the app once (optionally opened from a link) and check it drew without an exception."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert_ok(at)
    return at


def assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.metric) == 4, "the headline has four numbers"


def headline(at: AppTest) -> list[str]:
    return [m.value for m in at.metric]


def query(at: AppTest) -> dict[str, str]:
    return {k: at.query_params[k] for k in at.query_params}


def levers() -> list[registry.Parameter]:
    return registry.parameters("lever")


# ---------------------------------------------------------------------------------------------- main view


def test_first_run_shows_headline_tabs_and_a_link_to_the_view() -> None:
    at = start()
    labels = [m.label for m in at.metric]
    assert labels[0] == "Peak year"
    assert labels[1] == "P(peak ≤ 2030)"
    assert [t.label for t in at.tabs] == ["Results", "Compare", "Sensitivity", "Policy cost", "Discovery"]
    assert query(at) == {"preset": "pilot"}
    captions = " ".join(c.value for c in at.caption)
    assert f"{MEMBERS} members at resolution 0.002" in captions
    assert "median · 90%:" in captions
    link = at.sidebar.code[0]
    assert link.value.endswith("?preset=pilot")
    assert link.proto.wrap_lines, "the link wraps in the sidebar's width instead of running off its box"


def test_every_registry_lever_is_a_slider_with_its_unit_range_and_guidance() -> None:
    at = start()
    for p in levers():
        slider = at.slider(key=f"lv_{p.name}")
        assert slider.min == p.low and slider.max == p.high, p.name
        assert i18n.unit_label(p.unit, "en") in slider.label, p.name
        assert p.label_en in slider.label
        assert p.source in slider.help
        if p.guidance:
            assert p.guidance in slider.help
    groups = {p.group for p in levers()}
    expanders = {e.label for e in at.sidebar.expander}
    assert {i18n.group_label(g, "en") for g in groups} <= expanders


def test_moving_a_lever_changes_the_headline_and_the_link() -> None:
    at = start({"preset": "baseline"})
    before = headline(at)
    at.slider(key="lv_coal_phase_out_year").set_value(2028).run()
    assert_ok(at)
    assert headline(at) != before
    assert query(at)["coal_phase_out_year"] == "2028"
    assert any(m.delta for m in at.metric), "deltas against the unchanged preset are shown"
    assert at.slider(key="lv_coal_phase_out_year").label.startswith("● ")


def test_the_fan_chart_shows_the_reference_median_from_the_first_draw_and_keeps_its_shape() -> None:
    """With the levers at the scenario's own values the ensemble is its own reference: its median is drawn as
    the reference from the page's first draw, so the first lever move sends a chart of the same spec (new data
    only). A chart that gained its reference layer at that move was built anew by the server and the browser."""
    at = start({"preset": "baseline"})
    fan = at.get("vega_lite_chart")[0].proto
    legend = i18n.t("reference_median", "en", name=i18n.t("preset_baseline", "en"))
    assert "reference" in [d.name for d in fan.datasets], "the reference median is there at the first draw"
    assert legend in fan.spec
    at.slider(key="lv_coal_phase_out_year").set_value(2028).run()
    assert_ok(at)
    moved = at.get("vega_lite_chart")[0].proto
    assert moved.spec == fan.spec, "the first move changed the fan chart's spec, not only its data"
    assert [d.name for d in moved.datasets] == [d.name for d in fan.datasets]


def record_deltas(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[int, ...], str]]:
    """Record every element and container the script sends from now on, as (place, kind)."""
    import streamlit.delta_generator as delta_generator

    sent: list[tuple[tuple[int, ...], str]] = []
    send = delta_generator._enqueue_message

    def spy(msg: Any) -> None:
        kind = msg.delta.WhichOneof("type")
        if kind == "new_element":
            kind = msg.delta.new_element.WhichOneof("type")
        elif kind == "add_block":
            kind = "block:" + str(msg.delta.add_block.WhichOneof("type"))
        sent.append((tuple(msg.metadata.delta_path), str(kind)))
        send(msg)

    monkeypatch.setattr(delta_generator, "_enqueue_message", spy)
    return sent


RESULT_ELEMENTS = {"metric", "vega_lite_chart", "dataframe"}


def clear_ensembles() -> None:
    """Forget the ensembles of earlier tests (the app's result cache lives as long as the process), so that a
    lever move is computed, and drawn in two stages."""
    import streamlit

    streamlit.cache_resource.clear()


def test_a_slider_move_leaves_the_results_on_screen_until_it_draws_over_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty element at the place of the headline or of the results tab's body would blank them in the
    browser until the first stage is in, and make the browser build every chart anew."""
    at = start({"preset": "baseline"})
    clear_ensembles()
    sent = record_deltas(monkeypatch)
    at.slider(key="lv_coal_phase_out_year").set_value(2028).run()
    assert_ok(at)
    results = {place for place, kind in sent if kind in RESULT_ELEMENTS}
    assert len({kind for place, kind in sent if kind in RESULT_ELEMENTS}) == 3, "the rerun drew all three kinds"
    cleared = [p for p, kind in sent if kind == "empty" and any(r[: len(p)] == p for r in results)]
    assert cleared == [], f"empty elements sent over the results at {cleared}"


def test_both_stages_of_a_redraw_send_the_same_elements_in_the_same_places(monkeypatch: pytest.MonkeyPatch) -> None:
    """The browser updates an element in place only when the same kind arrives at the same place; a chart's
    export button that only the last stage drew shifted the charts after it, and they were built anew."""
    at = start({"preset": "baseline"})
    clear_ensembles()
    sent = record_deltas(monkeypatch)
    at.slider(key="lv_coal_phase_out_year").set_value(2028).run()
    assert_ok(at)
    kinds: dict[tuple[int, ...], list[str]] = {}
    for place, kind in sent:
        kinds.setdefault(place, []).append(kind)
    assert sum(kind == "vega_lite_chart" for _, kind in sent) == 8, "four charts at each of the two stages"
    # The run note's place holds a caption or the progress bar, then the note; the partial note comes and goes.
    slots = {p for p, ks in kinds.items() if "progress" in ks or "empty" in ks}
    changed = {p: ks for p, ks in kinds.items() if p not in slots and len(set(ks)) > 1}
    assert changed == {}, f"places that got different kinds of element: {changed}"


def test_after_the_first_stage_nothing_of_the_last_run_is_left_to_redraw(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a rerun draws only after its ensemble is in stands stale in the browser all through the redraw
    (faded, and animated by the browser on the cores the runs use): the last stage may only draw over places
    that the first stage (or the script before the ensemble) has already drawn."""
    at = start({"preset": "baseline"})
    clear_ensembles()
    sent = record_deltas(monkeypatch)
    at.slider(key="lv_coal_phase_out_year").set_value(2028).run()
    assert_ok(at)
    charts_seen = 0
    first_stage_end = None
    for i, (_, kind) in enumerate(sent):
        charts_seen += kind == "vega_lite_chart"
        if charts_seen == 5:
            first_stage_end = i
            break
    assert first_stage_end is not None, "the rerun drew the four charts at the first stage, then again"
    before = {place for place, _ in sent[:first_stage_end]}
    # The placeholders whose content a run replaces by design (they send an empty element): the partial note's,
    # and the run note's (a caption or the progress bar during the run, the note after it).
    slots = {place for place, kind in sent if kind in ("empty", "progress")}
    after = {p for p, _ in sent[first_stage_end:] if not any(p[: len(s)] == s for s in slots)}
    late = sorted(after - before)
    assert late == [], f"places drawn only at the last stage: {late}"


def test_switching_preset_loads_its_levers() -> None:
    at = start()
    at.selectbox(key="preset").set_value("accelerated").run()
    assert_ok(at)
    assert at.slider(key="lv_carbon_price_2030_cny_per_t").value == 250
    assert at.slider(key="lv_coal_phase_out_year").value == 2040
    assert query(at) == {"preset": "accelerated"}
    at.button[0].click().run()  # "Reset levers to the scenario" is the first button
    assert at.slider(key="lv_carbon_price_2030_cny_per_t").value == 250


def test_language_switch_translates_every_label() -> None:
    at = start()
    at.segmented_control(key="lang").set_value("zh").run()
    assert_ok(at)
    assert [t.label for t in at.tabs] == ["结果", "情景对比", "敏感性", "政策成本", "情景发现"]
    assert at.metric[0].label == "达峰年份"
    for p in levers():
        assert p.label_zh in at.slider(key=f"lv_{p.name}").label
    assert query(at)["lang"] == "zh"
    at.selectbox(key="preset").set_value("delayed").run()
    assert_ok(at)
    at.segmented_control(key="lang").set_value("en").run()
    assert_ok(at)
    assert at.metric[0].label == "Peak year"
    assert at.selectbox(key="preset").value == "delayed"


def test_workshop_mode_enlarges_type_and_steps_through_saved_scenarios() -> None:
    at = start()
    at.toggle(key="workshop").set_value(True).run()
    assert_ok(at)
    assert query(at)["ws"] == "1"
    assert any("font-size: 3.4rem" in h.proto.body for h in at.html)
    assert any("Step 2 of 4: Pilot plan" in m.value for m in at.markdown), "the pilot preset is step 2"
    next(b for b in at.button if b.label == "◀ Previous").click().run()
    assert at.selectbox(key="preset").value == "baseline"
    assert at.slider(key="lv_carbon_price_2030_cny_per_t").value == 130
    next(b for b in at.button if b.label == "Next ▶").click().run()
    assert at.selectbox(key="preset").value == "pilot"
    next(b for b in at.button if b.label == "Next ▶").click().run()
    assert_ok(at)
    assert at.selectbox(key="preset").value == "delayed"
    assert at.slider(key="phase").value == (2028, 2035)
    at.slider(key="lv_carbon_price_2030_cny_per_t").set_value(300.0).run()
    at.text_input(key="ws_new_name").input("Delayed with a firm carbon price").run()
    next(b for b in at.button if b.label == "Save current settings as a step").click().run()
    assert_ok(at)
    assert any("Step 5 of 5: Delayed with a firm carbon price" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "◀ Previous").click().run()
    assert at.selectbox(key="preset").value == "accelerated"
    assert at.slider(key="lv_carbon_price_2030_cny_per_t").value == 250
    next(b for b in at.button if b.label == "Next ▶").click().run()
    assert at.slider(key="lv_carbon_price_2030_cny_per_t").value == 300


def _charts_in_columns(node: Any, in_column: bool = False) -> int:
    if getattr(node, "type", None) == "vega_lite_chart":
        return int(in_column)
    inside = in_column or getattr(node, "type", None) == "column"
    return sum(_charts_in_columns(child, inside) for child in getattr(node, "children", {}).values())


def test_workshop_mode_puts_the_sector_and_peak_charts_one_under_the_other() -> None:
    """Side by side at a desk; on a projector's ~1280 px with the large type they were too narrow to read."""
    at = start()
    assert _charts_in_columns(at.main) == 2
    at.toggle(key="workshop").set_value(True).run()
    assert_ok(at)
    assert len(at.get("vega_lite_chart")) == 4 and _charts_in_columns(at.main) == 0
    heights = [json.loads(c.proto.spec).get("height") for c in at.get("vega_lite_chart")]
    assert {charts.LARGE_HEIGHT["sector_area"], charts.LARGE_HEIGHT["peak_histogram"]} <= set(heights)


def _chart_heights(at: AppTest) -> list[Any]:
    return [json.loads(c.proto.spec).get("height") for c in at.get("vega_lite_chart")]


def test_workshop_mode_gives_every_chart_room_for_its_large_type() -> None:
    """With the large type, charts at their desk heights kept a fraction of it for the plot: on a projector's
    1280 x 720 the ECDF's plot was ~80 px tall, shorter than its own vertical axis title."""
    at = start()
    desk = _chart_heights(at)
    at.toggle(key="workshop").set_value(True).run()
    assert_ok(at)
    large = _chart_heights(at)
    for name in ("fan", "ecdf"):
        assert charts.LARGE_HEIGHT[name] in large and charts.LARGE_HEIGHT[name] not in desk, (name, desk, large)
    at = start({"tab": "compare", "preset": "baseline", "coal_phase_out_year": "2030"})
    desk = sorted(h for h in _chart_heights(at) if isinstance(h, int))
    at.toggle(key="workshop").set_value(True).run()
    assert_ok(at)
    large = sorted(h for h in _chart_heights(at) if isinstance(h, int))
    for name in ("compare_fans", "ecdf", "paired_histogram"):
        assert charts.LARGE_HEIGHT[name] in large, (name, large)
    assert len(large) == len(desk) and all(b > a for a, b in zip(desk, large, strict=True)), (desk, large)


def test_downloads_are_offered() -> None:
    at = start()
    labels = [b.label for b in at.download_button]
    for expected in ("Scenario (YAML)", "Results (CSV)", "Results (Parquet)", "Run summary (CSV)"):
        assert expected in labels
    assert sum(label.startswith("Chart (") for label in labels) >= 4


def test_chinese_charts_are_offered_as_html_where_the_server_has_no_chinese_font(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(charts, "has_cjk_font", lambda: False)
    at = start({"lang": "zh"})
    labels = [b.label for b in at.download_button if b.label.startswith("图表（")]
    assert len(labels) >= 4 and set(labels) == {"图表（HTML）"}
    assert any("服务器没有中文字体" in c.value for c in at.caption)
    if charts.has_png_export():
        at.segmented_control(key="lang").set_value("en").run()
        assert_ok(at)
        assert {b.label for b in at.download_button if b.label.startswith("Chart (")} == {"Chart (PNG)"}


def test_downloads_hand_over_their_data_on_a_click_only() -> None:
    # Data given as bytes becomes a file at every rerun, whose address the browser fetches at once; a slider
    # move made ten such requests (app.deferred). Every download here is deferred, at both stages.
    at = start()
    at.slider(key="lv_carbon_price_2030_cny_per_t").set_value(250).run()
    assert_ok(at)
    buttons = list(at.download_button)
    assert len(buttons) >= 9
    for b in buttons:
        assert b.proto.deferred_file_id and not b.proto.url, (b.label, b.proto.url)


# ---------------------------------------------------------------------------------------------- uploads


def _upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.selectbox(key="preset").set_value("upload").run()
    at.file_uploader(key="upload_file").upload(name, content, "application/x-yaml")
    at.run()
    return at


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.yaml", b"name: x\n  bad: [indent\n", "invalid YAML at line"),
        ("list.yaml", b"- just\n- a list\n", "top level must be a mapping"),
        ("schema.yaml", b"name: x\ncity: {population: -5}\n", "problem(s) in scenario"),
        ("huge.yaml", b"#" * 2_000_001, "the limit for scenario files"),
        ("binary.yaml", b"\xff\xfe\x00bad", "not UTF-8"),
        ("escape.yaml", b"inherits: /etc/passwd\nname: x\n", "is not allowed in an upload"),
        (
            "bomb.yaml",
            b'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
            + b"".join(
                f"{c}: &{c} [{','.join(['*' + p] * 10)}]\n".encode() for p, c in zip("abcdef", "bcdefg", strict=True)
            )
            + b"name: bomb\n",
            "YAML aliases expand to",
        ),
        ("duplicate.yaml", b"name: x\nname: y\n", "duplicate key 'name' at line 2"),
    ],
)
def test_a_bad_upload_shows_its_error_and_the_app_keeps_working(name: str, content: bytes, message: str) -> None:
    at = start()
    before = headline(at)
    _upload(at, name, content)
    assert_ok(at)
    errors = " ".join(e.value for e in at.sidebar.error)
    assert message in errors
    assert "keeps using" in errors
    assert headline(at) == before, "the last good scenario is still shown"
    at.selectbox(key="preset").set_value("baseline").run()
    assert_ok(at)


def test_a_good_upload_is_used_and_its_levers_shown() -> None:
    text = (
        "inherits: karamay_pilot.yaml\nname: my_city_plan\ntitle_en: My plan\nparameters:\n"
        "  carbon_price_2030_cny_per_t: {value: 345, source: 'assumption: workshop proposal'}\n"
    )
    at = start()
    _upload(at, "my_plan.yaml", text.encode())
    assert_ok(at)
    assert any("my_city_plan" in s.value for s in at.sidebar.success)
    assert at.slider(key="lv_carbon_price_2030_cny_per_t").value == 345
    assert "preset" not in query(at), "an upload cannot travel in a link"
    # The reference median carries the scenario's title, as the caption above the headline does.
    assert i18n.t("reference_median", "en", name="My plan") in at.get("vega_lite_chart")[0].proto.spec


# ---------------------------------------------------------------------------------------------- links


def test_a_link_reproduces_levers_schedules_and_settings() -> None:
    link = {
        "preset": "baseline",
        "lang": "zh",
        "coal_phase_out_year": "2040",
        "ev_subsidy_cny_per_vehicle": "12000",
        "phase": "2026-2032",
        "s.bus_electric_sales_share": "2025:0.2;2030:1",
        "n": "10",
        "seed": "7",
    }
    at = start(link)
    assert at.slider(key="lv_coal_phase_out_year").value == 2040
    assert at.slider(key="lv_ev_subsidy_cny_per_vehicle").value == 12000
    assert at.slider(key="phase").value == (2026, 2032)
    assert at.slider(key="lv_bus_electric_sales_share").disabled, "a scheduled lever's slider is locked"
    assert at.session_state["schedules"] == {"bus_electric_sales_share": [[2025, 0.2], [2030, 1.0]]}
    assert "10个成员" in " ".join(c.value for c in at.caption)
    assert query(at) == link, "the canonical link is the one that opened the view"
    text = at.session_state["last_good_text"]
    data = yaml.safe_load(text)
    assert data["policies"]["schedules"]["bus_electric_sales_share"] == [[2025, 0.2], [2030, 1.0]]
    assert data["parameters"]["coal_phase_out_year"]["value"] == 2040


def test_a_link_with_bad_values_opens_with_notes_above_the_results_until_dismissed() -> None:
    at = start({"preset": "nowhere", "coal_phase_out_year": "1999", "coal_phaseout_year": "2030", "n": "x"})
    assert at.selectbox(key="preset").value == "pilot"
    assert at.warning[0].value.startswith("This link holds 4 setting(s) the app cannot use")
    members = at.session_state["members"]  # the app's default ensemble size (the tests set a small one)
    notes = at.main.code[0].value.splitlines()
    assert sorted(notes) == sorted(
        [
            "preset='nowhere' is not known (allowed: baseline, pilot, accelerated, delayed); using pilot",
            f"n='x' is not a whole number (allowed: a whole number from 2 to 1000); using {members}",
            "coal_phase_out_year='1999' is outside the allowed range 2028 to 2100 year; using the preset's value",
            "coal_phaseout_year='2030': not a lever or setting (did you mean coal_phase_out_year?)",
        ]
    )
    assert not any("⚠" in c.value for c in at.sidebar.caption), "shown once, in the main view"
    at.button(key="link_notes_dismiss").click().run()
    assert_ok(at)
    assert not at.warning and not any("is not known" in c.value for c in at.main.code)
    assert at.session_state["members"] == members and at.selectbox(key="preset").value == "pilot"


def test_link_notes_name_the_key_the_value_and_what_is_allowed() -> None:
    defaults = ui_state.Settings()
    _, notes = ui_state.decode_settings(
        {"lang": "fr", "res": "5", "seed": "-1", "ws": "yes", "tab": "bogus", "n": "7"}, defaults
    )
    assert notes == [
        "lang='fr' is not known (allowed: en, zh); using en",
        "res='5' is out of range (allowed: a number from 0.001 to 1); using 0.005",
        "seed='-1' is out of range (allowed: a whole number from 0 to 4294967295); using 1",
        "ws='yes' is not known (allowed: 1 for workshop mode, 0); workshop mode off",
        "tab='bogus' is not known (allowed: results, compare, sensitivity, cost, discovery); opening results",
    ]
    base = ui_state.state_from_data(ui_state.preset_data("pilot"))
    query = {
        "carbon_price_2030_cny_per_t": "abc",
        "members": "7",
        "phase": "2030-2020",
        "s.bus_electric_sales_share": "2025:0.2;2030:x",
        "s.carbon_price_cny_per_t": "2025:50;2030:5000",
        "s.bus_electric_sales_share2": "2025:1",
        "foo": "1",
    }
    state, notes = ui_state.decode_levers(query, base, 2024, 2060)
    assert notes == [
        "carbon_price_2030_cny_per_t='abc' is not a number (allowed: 0 to 800 CNY/t); using the preset's value",
        "members='7': not a lever or setting (did you mean n?)",
        "phase='2030-2020' is outside the simulated years or not in order (allowed: START-TARGET, years 2024-2060"
        " in order); using the preset's",
        "s.bus_electric_sales_share='2025:0.2;2030:x' is not YEAR:VALUE;YEAR:VALUE... (or none); using the preset's"
        " schedule",
        "s.carbon_price_cny_per_t='2025:50;2030:5000': value 5000 in 2030 is outside the allowed range [0, 2000];"
        " using the preset's schedule",
        "s.bus_electric_sales_share2: no schedulable lever of that name (did you mean s.bus_electric_sales_share or"
        " bus_electric_sales_share or s.taxi_electric_sales_share?)",
        "foo='1': not a lever or setting (see the parameter list in docs/parameters.md)",
    ]
    assert state.values == base.values and state.schedules == base.schedules


def test_a_chinese_page_shows_a_links_notes_in_chinese() -> None:
    defaults = ui_state.Settings()
    _, notes = ui_state.decode_settings({"lang": "fr", "seed": "-1", "ws": "yes"}, defaults)
    assert [n.text("zh") for n in notes] == [
        "lang='fr'无法识别（允许：en, zh）；改用en",
        "seed='-1'超出范围（允许：0至4294967295的整数）；改用1",
        "ws='yes'无法识别（允许：1表示研讨会模式，0表示不使用）；不使用研讨会模式",
    ]
    base = ui_state.state_from_data(ui_state.preset_data("pilot"))
    query = {"carbon_price_2030_cny_per_t": "abc", "coal_phase_out_year": "1990", "members": "7", "foo": "1"}
    _, notes = ui_state.decode_levers(query, base, 2024, 2060)
    assert [n.text("zh") for n in notes] == [
        "carbon_price_2030_cny_per_t='abc'不是数值（允许：0至800元/吨）；使用预设值",
        "coal_phase_out_year='1990'超出允许范围2028至2100年；使用预设值",
        "members='7'：不是政策杠杆或设置（是否指n？）",
        "foo='1'：不是政策杠杆或设置（参数列表见docs/parameters.md）",
    ]
    # Every kind of note reads in Chinese, with Chinese punctuation.
    _, every = ui_state.decode_settings(
        {"preset": "x", "lang": "fr", "res": "5", "seed": "x", "n": "0", "ws": "yes", "tab": "bogus"}, defaults
    )
    _, more = ui_state.decode_levers(
        {
            "phase": "2030",
            "s.bus_electric_sales_share": "2025:0.2;2030:x",
            "s.carbon_price_cny_per_t": "2025:50;2030:5000",
            "s.nothing": "2025:1",
            **query,
        },
        base,
        2024,
        2060,
    )
    every += more + ui_state.decode_levers({"phase": "2030-2020"}, base, 2024, 2060)[1]
    every += ui_state.decode_settings({"res": "x"}, defaults)[1]
    assert {n.kind for n in every} == {
        "unknown", "not_number", "range_whole", "not_whole", "ws", "tab", "phase_format", "phase_range",
        "schedule_format", "schedule_invalid", "schedule_unknown", "lever_not_number", "lever_range", "not_a_key",
        "range_number",
    }  # fmt: skip
    for note in every:
        zh = note.text("zh")
        assert re.search(_CJK, zh) and zh != str(note) and not half_width_punctuation_in_chinese(zh), zh
    at = start({"lang": "zh", "coal_phase_out_year": "1990"})
    assert at.main.code[0].value == "coal_phase_out_year='1990'超出允许范围2028至2100年；使用预设值"


# ---------------------------------------------------------------------------------------------- tabs


def test_compare_tab_overlays_scenarios_with_paired_differences() -> None:
    at = start({"tab": "compare", "preset": "baseline", "coal_phase_out_year": "2030"})
    tables = [d.value for d in at.dataframe]
    headline_table = next(t for t in tables if "P(peak ≤ 2030)" in t.columns)
    assert list(headline_table["Scenario"]) == ["Current settings", "Pilot plan"]
    paired = next(t for t in tables if "P(peaks earlier)" in t.columns)
    assert len(paired) == 1
    at.multiselect(key="cmp_pick").set_value(["current", "baseline", "pilot", "accelerated"]).run()
    assert_ok(at)
    tables = [d.value for d in at.dataframe]
    assert len(next(t for t in tables if "P(peaks earlier)" in t.columns)) == 3
    assert query(at)["tab"] == "compare"


def test_sensitivity_tab_runs_a_quick_morris_screening() -> None:
    at = start({"tab": "sensitivity"})
    assert any("Morris screening of the current scenario" in c.value for c in at.caption)
    at.selectbox(key="sens_output").set_value("cumulative_mt").run()
    assert_ok(at)
    assert not at.warning
    assert any(b.label.startswith("Chart (") for b in at.download_button)


def test_an_output_that_does_not_vary_names_the_outputs_that_can_be_ranked() -> None:
    # The accelerated preset peaks in the base year in every run, so the default output, the peak year, is constant.
    at = start({"tab": "sensitivity", "preset": "accelerated"})
    warning = at.warning[0].value
    assert warning.startswith("“Peak year” does not vary across the design (always 2024); nothing to rank.")
    assert warning.endswith("These outputs do vary and can be ranked: 2030 emissions, Cumulative 2025–2060.")
    assert not at.get("vega_lite_chart")
    at.selectbox(key="sens_output").set_value("emissions_2030_mt").run()
    assert_ok(at)
    assert not at.warning and len(at.get("vega_lite_chart")) == 1
    # In Chinese the outputs are listed with the enumeration comma.
    zh = start({"tab": "sensitivity", "preset": "accelerated", "lang": "zh"})
    assert zh.warning[0].value.endswith("以下输出有变化，可以排序：2030年排放、2025–2060累计排放。")


def test_morris_whiskers_stop_at_zero_where_the_normal_interval_would_go_below() -> None:
    # Current policies: in the tests' small Morris design the pilot plan peaks in 2024 in every run.
    at = start({"tab": "sensitivity", "preset": "baseline"})
    spec = at.get("vega_lite_chart")[0].proto
    frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in spec.datasets]
    whiskers = next(f for f in frames if {"lo", "hi"} <= set(f.columns))
    assert (whiskers["value"] - whiskers["conf"] < 0).any(), "a case where the interval reaches below zero"
    assert (whiskers["lo"] >= 0).all() and (whiskers["hi"] == whiskers["value"] + whiskers["conf"]).all()
    assert any("cut at zero" in c.value for c in at.caption)


def test_sensitivity_tab_shows_a_sweep_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "results" / "sweep_pilot"
    folder.mkdir(parents=True)
    pd.DataFrame(
        {
            "output": ["peak_year"] * 4,
            "parameter": ["gdp_growth_pct_per_yr", "coal_price_cny_per_gj"] * 2,
            "parameter_2": [None] * 4,
            "index": ["S1", "S1", "ST", "ST"],
            "value": [0.4, 0.1, 0.6, 0.2],
            "conf": [0.05, 0.02, 0.06, 0.03],
        }
    ).to_parquet(folder / "indices.parquet")
    monkeypatch.chdir(tmp_path)
    at = start({"tab": "sensitivity"})
    assert str(folder) in at.selectbox(key="sens_source").value
    assert at.selectbox(key="sweep_index").value == "ST"
    assert not at.error


def test_policy_cost_tab_costs_the_active_lever_families() -> None:
    at = start({"tab": "cost"})
    table = next(d.value for d in at.dataframe if "Lever family" in d.value.columns)
    assert "Carbon price" in set(table["Lever family"]) or len(table) > 3
    assert {"Avoided 2025–2060, Mt", "Fiscal cost, M CNY", "Carbon revenue, M CNY", "Cost per tonne, CNY/t"} <= set(
        table.columns
    )
    # Money with grouped digits, and no "-0" where rounding left a negative zero.
    config = json.loads(next(d for d in at.dataframe if "Lever family" in d.value.columns).proto.columns)
    money = ("Fiscal cost, M CNY", "Private cost, M CNY", "Carbon revenue, M CNY")
    assert all(config[c]["type_config"]["format"] == "localized" for c in money)
    for column in ("Avoided 2025–2060, Mt", *money):
        values = table[column].to_numpy(dtype=float)
        assert not np.any((values == 0) & np.signbit(values)), column


def test_policy_cost_tab_notes_a_known_limitation_under_the_families_it_distorts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sim.levers

    monkeypatch.setattr(sim.levers, "FAMILY_LIMITATIONS", TEST_LIMITATION)
    at = start({"tab": "cost", "preset": "pilot"})
    table = next(d.value for d in at.dataframe if "Lever family" in d.value.columns)
    assert "Green hydrogen subsidy" in set(table["Lever family"])
    notes = [c.value for c in at.caption if "docs/limitations.md" in c.value]
    assert len(notes) == 1 and "**Green hydrogen subsidy**: a note the team keeps on this family" in notes[0]
    zh = start({"tab": "cost", "preset": "pilot", "lang": "zh"})
    assert any("**绿氢补贴**：关于该政策族的说明" in c.value for c in zh.caption)


def test_policy_cost_tab_shows_no_limitation_note_when_none_is_known() -> None:
    at = start({"tab": "cost", "preset": "pilot"})
    assert any("Lever family" in d.value.columns for d in at.dataframe)
    assert not [c.value for c in at.caption if "docs/limitations.md" in c.value]


def test_every_known_limitation_names_a_lever_family_and_reads_in_both_languages() -> None:
    from sim.levers import FAMILY_LIMITATIONS, LEVER_FAMILIES

    if not FAMILY_LIMITATIONS:
        pytest.skip("no lever family has a known limitation noted at present")
    assert set(FAMILY_LIMITATIONS) <= set(LEVER_FAMILIES)
    for family, note in FAMILY_LIMITATIONS.items():
        assert set(note) == set(i18n.LANGS) and all(note[lang].strip() for lang in i18n.LANGS), family
        assert "docs/limitations.md" in note["en"] and re.search(_CJK, note["zh"]), family


def test_policy_cost_tab_says_when_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    at = start({"tab": "cost", "preset": "baseline"})
    assert at.info or any(d for d in at.dataframe if "Lever family" in d.value.columns)


# ---------------------------------------------------------------------------------------------- discovery tab

CARBON = "carbon_price_2030_cny_per_t"
COAL = "coal_phase_out_year"
RENEWABLES = "renewable_capacity_target_gw_2030"


def write_discovery_fixture(folder: Path, best: bool = True) -> None:
    """A small discovery (two boxes) and target search (a cheapest package) as the CLI writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    statement = "... : peaks by 2030 in 84% of runs, covering 61% of such runs (120 runs in the box)"
    pd.DataFrame(
        {
            "box": [1, 1, 2],
            "lever": [CARBON, COAL, RENEWABLES],
            "low": [250.3, 2030.0, 12.4],
            "high": [400.0, 2035.0, 20.0],
            "coverage": [0.61, 0.61, 0.35],
            "density": [0.84, 0.84, 0.7],
            "mass": [0.3, 0.3, 0.2],
            "n_runs": [120, 120, 80],
            "statement": [statement] * 3,
        }
    ).to_parquet(folder / "boxes.parquet")
    target = {
        "target": "peak by 2030 with probability >= 80%",
        "members": 40,
        "root_seed": 1,
        "levers": {CARBON: [96.0, 400.0], COAL: [2030.0, 2060.0]},
        "best": {
            "package": {CARBON: 248.0, COAL: 2032.0},
            "probability": 0.85,
            "ci": [0.71, 0.93],
            "cost_mcny": 1234.5,
        }
        if best
        else None,
        "runs_spent": 520,
        "seconds": 61.0,
    }
    (folder / "target.json").write_text(json.dumps(target))
    pd.DataFrame(
        {
            CARBON: [400.0, 248.0, 172.0],
            COAL: [2030.0, 2032.0, 2032.0],
            "probability": [0.95, 0.85, 0.6],
            "ci_low": [0.84, 0.71, 0.45],
            "ci_high": [0.99, 0.93, 0.73],
            "cost_mcny": [2500.0, 1234.5, 900.0],
            "feasible": [True, True, False],
        }
    ).to_parquet(folder / "candidates.parquet")


@pytest.fixture()
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty results/ for the Discovery tab (nothing from the repository's own results/ is seen)."""
    monkeypatch.setenv("CITYPEAK_APP_RESULTS", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "results"


def markdown_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_discovery_tab_without_results_says_how_to_make_them(results_dir: Path) -> None:
    at = start({"tab": "discovery"})
    assert any("No discovery or target-search results" in i.value for i in at.info)
    assert at.text_input(key="disc_path").label == "Results folder path", "not '…or' a folder list not shown"
    assert at.button(key="disc_run").label == "Run discovery"
    assert at.multiselect(key="disc_levers").value == [CARBON, COAL, RENEWABLES]
    assert query(at)["tab"] == "discovery"


def test_discovery_tab_shows_boxes_as_statements_and_the_cheapest_package(results_dir: Path) -> None:
    write_discovery_fixture(results_dir / "discovery_pilot")
    at = start({"tab": "discovery"})
    assert at.selectbox(key="disc_source").value == str(results_dir / "discovery_pilot")
    assert at.text_input(key="disc_path").label == "…or a folder path"
    text = markdown_text(at)
    assert "Carbon price in 2030 ≥ 250 CNY/t and Coal condensing units retire by ≤ 2035: peaks by 2030" in text
    assert "peaks by 2030 in **84%** of runs, covering **61%** of such runs (120 runs in the box)" in text
    assert "≥ 12.4 GW" in text, "box 2"
    boxes = next(d.value for d in at.dataframe if "Density" in d.value.columns)
    assert list(boxes["Density"]) == pytest.approx([84, 70]) and list(boxes["Coverage"]) == pytest.approx([61, 35])
    assert "**1,234 M CNY**" in text or "**1,235 M CNY**" in text
    assert "**85%** (95% CI 71% – 93%) · 520 runs spent" in text
    package = next(d.value for d in at.dataframe if "Package" in d.value.columns)
    assert list(package["Package"]) == ["248", "2032"]
    assert any("Loads:" in c.value and "= 252 CNY/t" in c.value and "= 2035" in c.value for c in at.caption)
    at.segmented_control(key="lang").set_value("zh").run()
    assert_ok(at)
    assert at.button(key="disc_load_target").label == "载入政策杠杆"
    assert "≥ 250元/吨" in markdown_text(at)


def test_load_into_levers_sets_the_package_and_changes_the_headline(results_dir: Path) -> None:
    write_discovery_fixture(results_dir / "target_baseline")
    at = start({"tab": "discovery", "preset": "baseline"})
    before = headline(at)
    at.button(key="disc_load_target").click().run()
    assert_ok(at)
    assert at.slider(key=f"lv_{CARBON}").value == 248
    assert at.slider(key=f"lv_{COAL}").value == 2032
    assert headline(at) != before
    assert query(at)[CARBON] == "248" and query(at)[COAL] == "2032"
    assert any("cheapest package" in s.value for s in at.success)
    at.selectbox(key="disc_box").set_value(1).run()
    at.button(key="disc_load_box").click().run()
    assert_ok(at)
    assert at.slider(key=f"lv_{CARBON}").value == 252, "box 1: carbon price >= 250.3 -> 252 on the slider's grid"
    assert at.slider(key=f"lv_{COAL}").value == 2035, "box 1: coal phase-out <= 2035"
    assert query(at)[COAL] == "2035"


def test_a_typed_folder_path_is_read_and_a_bad_one_refused(results_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "target_no_package"
    write_discovery_fixture(elsewhere, best=False)
    (elsewhere / "boxes.parquet").unlink()
    at = start({"tab": "discovery"})
    at.text_input(key="disc_path").input(str(elsewhere)).run()
    assert_ok(at)
    assert any("No package within the lever ranges met the target (520 runs spent)" in w.value for w in at.warning)
    at.text_input(key="disc_path").input(str(tmp_path / "nowhere")).run()
    assert any("holds neither boxes.parquet nor target.json" in e.value for e in at.error)


def test_quick_discovery_runs_here_and_shows_its_boxes(results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYPEAK_APP_DISCOVERY_RUNS", "50")
    at = start({"tab": "discovery"})
    at.multiselect(key="disc_levers").set_value([CARBON, COAL]).run()
    at.button(key="disc_run").click().run()
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    [folder] = list((results_dir / "app").iterdir())
    assert (folder / "boxes.parquet").is_file()
    assert at.selectbox(key="disc_source").value == str(folder)
    assert at.subheader[0].value == "Where the city peaks by 2030"
    assert any(s.value.startswith("Discovery finished: 50 runs in ") for s in at.success)
    assert json.loads((folder / "manifest.json").read_text())["n_runs"] == 50


def test_box_package_takes_the_threshold_on_the_ambitious_side() -> None:
    box = ui_discovery.BoxView(
        1,
        0.5,
        0.9,
        0.2,
        100,
        "",
        [
            ui_discovery.Condition(CARBON, 150.2, 380.0, lower=True, upper=True),
            ui_discovery.Condition(COAL, 2030.0, 2041.6, lower=False, upper=True),
            ui_discovery.Condition("bus_electric_sales_share", 0.0, 0.4, lower=False, upper=True),
        ],
    )
    package = ui_discovery.box_package(box)
    assert package[CARBON] == 152, "more is more ambitious: the lower limit, moved into the box on the grid"
    assert package[COAL] == 2041, "an earlier phase-out is more ambitious: the upper limit"
    assert package["bus_electric_sales_share"] == pytest.approx(0.4), "a cap on the ambitious side is kept"
    assert ui_discovery.shown_limits(box.conditions[1]) == (2030, 2041), "whole years inside the box"


def test_box_sides_are_read_against_the_sampled_values(tmp_path: Path) -> None:
    """PRIM's limits start at the sampled extremes: 380 is no restriction when no run sampled more."""
    write_discovery_fixture(tmp_path)
    boxes = pd.read_parquet(tmp_path / "boxes.parquet")
    boxes.loc[boxes["lever"] == CARBON, "high"] = 380.0
    boxes.to_parquet(tmp_path / "boxes.parquet")
    assert ui_discovery.load(tmp_path).boxes[0].conditions[0].upper, "against the range 96-400, 380 is a cap"
    sampled = {"run_id": [0, 1], CARBON: [98.0, 380.0], COAL: [2030.2, 2059.9], RENEWABLES: [6.6, 19.9]}
    pd.DataFrame(sampled).to_parquet(tmp_path / "params.parquet")
    res = ui_discovery.load(tmp_path)
    carbon, coal = res.boxes[0].conditions
    assert (carbon.lower, carbon.upper) == (True, False)
    assert (coal.lower, coal.upper) == (False, True)
    assert res.target.package == {CARBON: 248.0, COAL: 2032.0} and res.target.probability_target == 0.8


def test_result_folders_are_found_without_entering_batch_shards(tmp_path: Path) -> None:
    write_discovery_fixture(tmp_path / "a" / "discovery")
    (tmp_path / "a" / "discovery" / "yearly" / "deep").mkdir(parents=True)
    (tmp_path / "a" / "discovery" / "yearly" / "deep" / "target.json").write_text("{}")
    (tmp_path / "b" / "target" / "candidate-001").mkdir(parents=True)
    (tmp_path / "b" / "target" / "target.json").write_text("{}")
    (tmp_path / "b" / "target" / "candidate-001" / "boxes.parquet").write_text("")
    found = ui_discovery.find_results([tmp_path, tmp_path / "missing"])
    assert found == [tmp_path / "a" / "discovery", tmp_path / "b" / "target"]


# ---------------------------------------------------------------------------------------------- ui.state


def test_applied_levers_read_back_as_the_same_state() -> None:
    data = ui_state.preset_data("pilot")
    base = ui_state.state_from_data(data)
    state = base.copy()
    state.values["carbon_price_2030_cny_per_t"] = 333.0
    state.values["coal_phase_out_year"] = 2035.0
    state.start_year, state.target_year = 2026, 2033
    state.schedules["heavy_truck_electric_sales_share"] = [[2025, 0.0], [2035, 0.5]]
    merged = ui_state.apply_levers(data, state, base)
    ui_state.build_scenario(merged)
    back = ui_state.state_from_data(yaml.safe_load(ui_state.scenario_yaml(merged)))
    assert back.values == pytest.approx(state.values)
    assert (back.start_year, back.target_year) == (2026, 2033)
    assert back.schedules == state.schedules
    assert merged["parameters"]["carbon_price_2030_cny_per_t"]["source"] == ui_state.APP_SOURCE
    assert merged["name"] == "karamay_pilot_app"


def test_unchanged_levers_leave_the_scenario_as_it_was() -> None:
    data = ui_state.preset_data("delayed")
    base = ui_state.state_from_data(data)
    assert ui_state.apply_levers(data, base.copy(), base) == {k: v for k, v in data.items() if k != "inherits"}


def test_link_encoding_round_trips() -> None:
    data = ui_state.preset_data("baseline")
    base = ui_state.state_from_data(data)
    state = base.copy()
    state.values["renewable_capacity_target_gw_2030"] = 15.5
    state.schedules[ui_state.CARBON_PRICE_SCHEDULE] = [[2024, 96.0], [2035, 300.0]]
    defaults = ui_state.Settings()
    settings = ui_state.Settings(preset="baseline", lang="zh", members=50, resolution=0.01, seed=3, workshop=True)
    q = ui_state.encode_query(settings, state, base, defaults)
    s2, notes = ui_state.decode_settings(q, defaults)
    st2, notes2 = ui_state.decode_levers(q, base, 2024, 2060)
    assert not notes and not notes2
    assert s2 == settings
    assert st2.values == state.values and st2.schedules == state.schedules


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([[2025, 0.1], [2025, 0.2]], "appears twice"),
        ([[2020, 0.1]], "outside the simulated years"),
        ([[2030, 1.5]], "outside the allowed range"),
        ([[None, None]], "no complete"),
    ],
)
def test_bad_schedule_tables_are_refused_with_a_reason(points: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ui_state.check_schedule("bus_electric_sales_share", points, 2024, 2060)


def test_a_bad_schedule_tables_reason_reads_in_chinese_too() -> None:
    reasons = {}
    for points in ([[2025, 0.1], [2025, 0.2]], [[2020, 0.1]], [[2030, 1.5]], [[None, None]]):
        with pytest.raises(ui_state.ScheduleError) as refused:
            ui_state.check_schedule("bus_electric_sales_share", points, 2024, 2060)
        reasons[str(refused.value)] = refused.value.note.text("zh")
    assert reasons == {
        "year 2025 appears twice": "年份2025出现了两次",
        "year 2020 is outside the simulated years 2024-2060": "年份2020不在模拟年份2024–2060之内",
        "value 1.5 in 2030 is outside the allowed range [0, 1]": "2030年的数值1.5超出允许范围[0, 1]",
        "the table has no complete year/value row": "表中没有完整的年份/数值行",
    }
    # Inside a link's note, the reason follows the page's language as well.
    base = ui_state.state_from_data(ui_state.preset_data("pilot"))
    _, notes = ui_state.decode_levers({"s.bus_electric_sales_share": "2025:1;2025:0"}, base, 2024, 2060)
    assert notes[0].text("zh") == "s.bus_electric_sales_share='2025:1;2025:0'：年份2025出现了两次；使用预设的逐年设定"


def test_schedule_tables_are_sorted_by_year() -> None:
    assert ui_state.check_schedule("bus_electric_sales_share", [[2030, 1], [2025, 0.2]], 2024, 2060) == [
        [2025, 0.2],
        [2030, 1.0],
    ]


def test_upload_may_inherit_presets_only_by_name() -> None:
    ok = ui_state.parse_upload("a.yaml", b"inherits: karamay_baseline.yaml\nname: a\n")
    assert ok["name"] == "a" and ok["power"]["units"]
    with pytest.raises(ScenarioError, match="not allowed"):
        ui_state.parse_upload("b.yaml", b"inherits: ../scenarios/karamay_baseline.yaml\nname: b\n")


def test_slider_steps_are_round_and_fit_the_range() -> None:
    for p in levers():
        step = ui_state.slider_step(p)
        assert 0 < step <= (p.high - p.low)
        mantissa = step / 10 ** np.floor(np.log10(step))
        assert round(mantissa, 6) in (1.0, 2.0, 5.0)


# ---------------------------------------------------------------------------------------------- ui.runner


@pytest.fixture(scope="module")
def pilot_text() -> str:
    return ui_state.scenario_yaml(ui_state.preset_data("pilot"))


def test_stream_draws_the_first_members_before_the_whole_ensemble(pilot_text: str) -> None:
    spec = ui_runner.EnsembleSpec(pilot_text, 6, 1, 0.002)
    updates = list(ui_runner.stream(spec, ui_runner.AppPool(1), first_stage=2))
    drawn = [u for u in updates if u.result is not None]
    assert [u.final for u in drawn] == [False, True]
    assert drawn[0].result.n == 2 and drawn[1].result.n == 6
    np.testing.assert_allclose(drawn[0].result.total, drawn[1].result.total[:2])


def test_pool_workers_warm_up_once_freeze_their_imports_and_give_the_inline_results(pilot_text: str) -> None:
    pool = ui_runner.AppPool(2)
    try:
        raw = pool._pool
        assert raw is not None
        # Each worker ran warm_up as it started: its import-time objects are out of the full collections.
        frozen = [raw.submit(gc.get_freeze_count).result(timeout=120) for _ in range(4)]
        assert min(frozen) > 10_000, frozen
        spec = ui_runner.EnsembleSpec(pilot_text, 6, 3, 0.002)
        pooled = ui_runner.compute(spec, pool)
    finally:
        pool.close()
    inline = ui_runner.compute(spec, ui_runner.AppPool(1))
    np.testing.assert_array_equal(pooled.total, inline.total)
    np.testing.assert_array_equal(pooled.sector, inline.sector)


def test_server_process_freezes_its_long_lived_objects_once_the_pool_exists() -> None:
    start()
    assert ui_runner._MAIN_HEAP_FROZEN
    assert gc.get_freeze_count() > 10_000
    frozen = gc.get_freeze_count()
    ui_runner.freeze_main_heap()  # once per process: a second call moves nothing more
    assert gc.get_freeze_count() == frozen


def test_scenarios_are_paired_by_common_random_numbers(pilot_text: str) -> None:
    base_text = ui_state.scenario_yaml(ui_state.preset_data("baseline"))
    pool = ui_runner.AppPool(1)
    a = ui_runner.compute(ui_runner.EnsembleSpec(pilot_text, 4, 5, 0.002), pool)
    b = ui_runner.compute(ui_runner.EnsembleSpec(base_text, 4, 5, 0.002), pool)
    pd.testing.assert_frame_equal(a.params, b.params)
    np.testing.assert_allclose(a.total[:, 0], b.total[:, 0])  # the base year is the same inventory
    same = ui_runner.paired_table({"A": a, "A again": copy.deepcopy(a)}, "A")
    assert same["dcum_median"].iloc[0] == 0 and same["p_same"].iloc[0] == 1


def test_headline_counts_runs_that_never_peak_as_after_the_horizon(pilot_text: str) -> None:
    res = ui_runner.compute(ui_runner.EnsembleSpec(pilot_text, 4, 1, 0.002), ui_runner.AppPool(1))
    rising = res.total.copy()
    rising[:] = np.linspace(10, 20, rising.shape[1])
    res2 = ui_runner.EnsembleResult(
        res.spec,
        res.years,
        res.run_ids,
        rising,
        rising,
        res.sector,
        res.sectors,
        res.indicators,
        res.policy,
        res.params,
    )
    h = res2.headline()
    assert h["peak_year_median"] == res.horizon + 1
    assert h["share_not_peaked"] == 1.0 and h["p_peak_by"] == 0.0


def test_result_cache_evicts_the_least_recently_used() -> None:
    cache = ui_runner.ResultCache(maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3


# ---------------------------------------------------------------------------------------------- ui.i18n


def test_no_string_pairs_single_asterisks_that_markdown_would_turn_into_italics() -> None:
    """μ* twice in one caption made Streamlit's Markdown italicise the text between them and drop both stars."""
    for key, entry in i18n.STRINGS.items():
        for lang, text in entry.items():
            stars = re.findall(r"(?<![\\*])\*(?!\*)", text)
            assert len(stars) < 2, f"{key} ({lang}): escape the * (\\*): {text[:80]!r}"


def bold_markers_markdown_ignores(text: str) -> list[str]:
    """The ``**`` of ``text`` that CommonMark (Streamlit's Markdown) would print as stars instead of bold.

    A run of stars opens bold only when left-flanking and closes it only when right-flanking: a closing
    ``**`` right after punctuation must be followed by a space or punctuation, so "**情景：**克拉玛依" and
    "**84%**的模拟" show their stars (Chinese puts no space there). Placeholders stand for a value such as
    "84%", which ends in punctuation.
    """

    def punctuation(c: str) -> bool:
        return c != "" and unicodedata.category(c)[0] in "PS"

    def space(c: str) -> bool:
        return c == "" or c.isspace()

    s = re.sub(r"\{[^{}]*\}", "84%", text)
    wrong = []
    for k, i in enumerate(m.start() for m in re.finditer(r"(?<![*\\])\*\*(?!\*)", s)):
        before, after = s[i - 1 : i], s[i + 2 : i + 3]
        left = not space(after) and (not punctuation(after) or space(before) or punctuation(before))
        right = not space(before) and (not punctuation(before) or space(after) or punctuation(after))
        if not (left if k % 2 == 0 else right):
            wrong.append(s[max(i - 8, 0) : i + 10])
    return wrong


def test_bold_markers_are_found_where_commonmark_would_print_stars() -> None:
    assert bold_markers_markdown_ignores("**情景：**克拉玛依") == ["**情景：**克拉玛依"]
    assert bold_markers_markdown_ignores("达峰的模拟占**{p}**的") != []
    assert bold_markers_markdown_ignores("**情景**：克拉玛依") == []
    assert bold_markers_markdown_ignores("达峰的模拟占**{p}**，覆盖") == []
    assert bold_markers_markdown_ignores("**{p}** of runs") == []


def test_every_bold_marker_of_every_string_renders_as_bold() -> None:
    wrong = {
        f"{key} ({lang})": found
        for key, entry in i18n.STRINGS.items()
        for lang, text in entry.items()
        if (found := bold_markers_markdown_ignores(text))
    }
    assert not wrong, wrong


def tooltip_titles(spec: object) -> list[tuple[str, str | None]]:
    """(field, title) of every tooltip entry anywhere in a Vega-Lite spec."""
    found: list[tuple[str, str | None]] = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "tooltip" and isinstance(value, list | dict):
                for entry in value if isinstance(value, list) else [value]:
                    if isinstance(entry, dict) and "field" in entry:
                        found.append((entry["field"], entry.get("title")))
            else:
                found += tooltip_titles(value)
    elif isinstance(spec, list):
        for item in spec:
            found += tooltip_titles(item)
    return found


def assert_tooltips_are_chinese(specs: list[dict], where: str) -> None:
    """Every tooltip entry has a title, and the title is Chinese or a percentile's name (P5 ... P95): a
    hover over a Chinese chart showed raw column names ("probability", "family") and "CI low"."""
    titles = [t for spec in specs for t in tooltip_titles(spec)]
    assert titles, f"{where}: no tooltips found"
    for field, title in titles:
        assert title, f"{where}: the tooltip of {field!r} shows the column's name"
        assert re.search(_CJK, title) or re.fullmatch(r"P\d+", title), f"{where}: {field!r} is titled {title!r}"


@pytest.mark.parametrize("tab", ["results", "compare", "sensitivity", "cost"])
def test_every_chart_tooltip_names_its_values_in_chinese_on_a_chinese_page(tab: str) -> None:
    # The Morris chart ranks the peak year, which the pilot plan's runs of the tests' small design all put in
    # 2024 (nothing to rank): the Sensitivity tab is read under current policies.
    preset = "baseline" if tab == "sensitivity" else "pilot"
    at = start({"tab": tab, "lang": "zh", "preset": preset})
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    assert_tooltips_are_chinese(specs, tab)


def test_a_target_searchs_chart_names_its_tooltips_in_the_pages_language() -> None:
    frame = pd.DataFrame(
        {
            "cost_mcny": [10.0, 20.0],
            "probability": [0.5, 0.9],
            "ci_low": [0.4, 0.8],
            "ci_high": [0.6, 0.95],
            "status": ["未达标", "达标"],
            "best": [False, True],
        }
    )
    labels = {
        key: i18n.t(name, "zh", year=2030)
        for key, name in {
            "title": "disc_cand_title",
            "x": "axis_cost_mcny",
            "y": "axis_p_target",
            "legend": "disc_cand_legend",
            "ci_low": "tooltip_ci_low",
            "ci_high": "tooltip_ci_high",
        }.items()
    }
    chart = charts.candidates_chart(frame, {**labels, "target": "80%"}, target_p=0.8)
    assert_tooltips_are_chinese([chart.to_dict()], "candidates")


def test_every_string_exists_in_both_languages() -> None:
    for key, entry in i18n.STRINGS.items():
        assert set(entry) == set(i18n.LANGS), key
        assert all(entry[lang].strip() for lang in i18n.LANGS), key


def test_every_lever_group_family_and_unit_has_a_readable_label() -> None:
    from sim.levers import LEVER_FAMILIES

    for lang in i18n.LANGS:
        for p in levers():
            assert i18n.group_label(p.group, lang)
            assert i18n.unit_label(p.unit, lang)
            assert i18n.param_help(p, lang)
        for family in LEVER_FAMILIES:
            assert i18n.family_label(family, lang, ui_runner.family_first_lever(family))
    assert i18n.group_label("brand_new_group", "en") == "Brand new group"


_CJK = r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef“”]"


def half_width_punctuation_in_chinese(text: str) -> list[str]:
    """The places where ``text`` puts an ASCII , ; : ? ! ( or ) against a Chinese character (or an ASCII
    bracket around Chinese), outside ``{placeholders}`` and ``code``, looking through Markdown's ``**``:
    Chinese text takes the full-width forms (GB/T 15834-2011), and on a projector the half-width ones read
    as typos."""
    masked = re.sub(r"\{[^{}]*\}|`[^`]*`", lambda m: "x" * len(m.group()), text).replace("**", "")
    found = [
        masked[max(i - 6, 0) : i + 7]
        for i, ch in enumerate(masked)
        if ch in ",;:?!()"
        and (re.match(_CJK, masked[i - 1 : i] or "a") or re.match(_CJK, masked[i + 1 : i + 2] or "a"))
    ]
    found += [m.group() for m in re.finditer(rf"\([^()]*{_CJK}[^()]*\)", masked)]
    return found


def chinese_texts() -> dict[str, str]:
    """Every Chinese text the app shows, by where it comes from (the sidebar's labels and tooltips are made
    from the registry, so those are included as the app shows them)."""
    from sim.levers import FAMILY_LIMITATIONS, LEVER_FAMILIES

    texts = {f"STRINGS[{k}]": e["zh"] for k, e in i18n.STRINGS.items()}
    for table in ("SECTORS", "INDICATORS", "GROUPS", "FAMILIES"):
        texts |= {f"{table}[{k}]": e["zh"] for k, e in getattr(i18n, table).items()}
    texts |= {f"UNITS_ZH[{k}]": v for k, v in i18n.UNITS_ZH.items()}
    for p in registry.REGISTRY.values():
        texts[f"param_label({p.name})"] = i18n.param_label(p, "zh")
        # The registry's sources are citations, shown as written.
        texts[f"param_help({p.name})"] = i18n.param_help(p, "zh").replace(p.source, "")
    for family in LEVER_FAMILIES:
        texts[f"family_label({family})"] = i18n.family_label(family, "zh", ui_runner.family_first_lever(family))
    texts |= {f"FAMILY_LIMITATIONS[{f}]": note["zh"] for f, note in FAMILY_LIMITATIONS.items()}
    return texts


def test_half_width_punctuation_is_found_against_chinese_but_not_in_placeholders_code_or_latin_text() -> None:
    assert half_width_punctuation_in_chinese("成员,分辨率") == ["成员,分辨率"]
    assert half_width_punctuation_in_chinese("峰值(百万吨)") != []
    assert half_width_punctuation_in_chinese("（YAML, at most 2 MB）") == []
    assert half_width_punctuation_in_chinese("分辨率{res:g}，种子") == []
    assert half_width_punctuation_in_chinese("运行`citypeak run --out a:b`。") == []
    assert half_width_punctuation_in_chinese("中位数[P5, P95]") == []
    assert half_width_punctuation_in_chinese("**情景:** 试点") != []


def test_chinese_text_uses_full_width_punctuation() -> None:
    found = {where: half_width_punctuation_in_chinese(text) for where, text in chinese_texts().items()}
    wrong = {where: places for where, places in found.items() if places}
    assert not wrong, wrong


def test_every_levers_guidance_is_given_in_chinese_too() -> None:
    for p in registry.REGISTRY.values():
        assert bool(p.guidance_zh) == bool(p.guidance), p.name
        if p.guidance:
            help_zh = i18n.param_help(p, "zh")
            assert help_zh.startswith(p.guidance_zh) and p.guidance not in help_zh, p.name
            assert re.search(r"[\u4e00-\u9fff]", p.guidance_zh), p.name


def test_a_year_levers_never_value_is_explained_in_both_languages_and_years_read_as_years() -> None:
    coal = registry.get("coal_phase_out_year")
    assert "2100 means no such policy: any year after the simulated horizon" in i18n.param_help(coal, "en")
    assert "Range 2028 – 2100 year; current policy 2100." in i18n.param_help(coal, "en")
    assert "2100表示不实施该政策" in i18n.param_help(coal, "zh")
    assert "不实施该政策" not in i18n.param_help(registry.get("carbon_price_2030_cny_per_t"), "zh")
    assert "Range 0 – 60,000 CNY/vehicle" in i18n.param_help(registry.get("ev_subsidy_cny_per_vehicle"), "en")


def load_app_module() -> Any:
    """``app.py`` as a module (not run as a script), to call its functions directly."""
    import importlib.util

    module_spec = importlib.util.spec_from_file_location("citypeak_app_under_test", APP)
    assert module_spec is not None and module_spec.loader is not None
    app = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(app)
    return app


def test_kept_slot_is_st_empty_where_streamlit_has_no_cursor_to_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kept slot uses Streamlit's cursor; on a Streamlit without it the app must still draw, with the
    plain placeholder (whose only cost is the old blanking during a redraw)."""
    from types import SimpleNamespace

    app = load_app_module()
    placeholder = object()
    monkeypatch.setattr(app.st, "empty", lambda: placeholder)
    monkeypatch.setattr(app.st, "_main", SimpleNamespace(_active_dg=SimpleNamespace(_root_container=0)))
    assert app.kept_slot() is placeholder
    no_lock = SimpleNamespace(_root_container=0, _cursor=SimpleNamespace())
    monkeypatch.setattr(app.st, "_main", SimpleNamespace(_active_dg=no_lock))
    assert app.kept_slot() is placeholder


def test_progress_shows_as_a_caption_then_as_a_bar_sent_only_when_more_members_are_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bar glides to each new value, and the browser animates it on the cores the runs use: a run shows a
    caption until it has taken PROGRESS_BAR_AFTER_S, then the bar, which a poll that finds no new members does
    not re-send. Every poll that sends nothing is still a point where Streamlit can stop a superseded run."""
    app = load_app_module()

    final = object()
    clock = [0.0]
    # (seconds since the run started, update): two members in before the bar is due, none new after it.
    polls = [
        (0.1, ui_runner.Update(0, 6)),
        (0.5, ui_runner.Update(2, 6)),
        (1.0, ui_runner.Update(2, 6)),
        (app.PROGRESS_BAR_AFTER_S, ui_runner.Update(2, 6)),
        (app.PROGRESS_BAR_AFTER_S + 0.1, ui_runner.Update(2, 6)),
        (app.PROGRESS_BAR_AFTER_S + 0.2, ui_runner.Update(6, 6)),
        (app.PROGRESS_BAR_AFTER_S + 0.3, ui_runner.Update(6, 6, final, final=True)),
    ]

    def stream(spec: Any, pool: Any, first_stage: int) -> Any:
        for at, update in polls:
            clock[0] = at
            yield update

    class Slot:
        def __init__(self) -> None:
            self.sent: list[tuple[str, float | str]] = []

        def progress(self, value: float, text: str = "") -> None:
            self.sent.append(("bar", value))

        def empty(self) -> None:
            self.sent.append(("empty", ""))

    slot = Slot()
    yields: list[None] = []

    def caption(text: str) -> Slot:
        slot.sent.append(("caption", text))
        return slot

    monkeypatch.setattr(app.runner, "stream", stream)
    monkeypatch.setattr(app.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(app, "get_pool", lambda: None)
    monkeypatch.setattr(app, "get_cache", ui_runner.ResultCache)
    monkeypatch.setattr(app.st, "caption", caption)
    monkeypatch.setattr(app, "tr", lambda key, **kwargs: key)
    monkeypatch.setattr(app, "yield_point", lambda: yields.append(None))

    spec = ui_runner.EnsembleSpec("name: x\n", 6, 1, 0.002)
    assert app.ensemble_with_progress(spec) is final
    assert slot.sent == [("caption", "running"), ("bar", 2 / 6), ("bar", 6 / 6), ("empty", "")], (
        "the caption at once; the bar once it is due, then once per new count of members; cleared at the end"
    )
    assert len(yields) == 5, "every poll that sends nothing is still a point where a newer run can stop this one"


def test_a_run_over_before_the_bar_is_due_sends_no_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """The common slider move (about 2 s at the default settings) draws no bar at all: only the caption, which
    its place then loses to the run note."""
    app = load_app_module()
    final = object()
    updates = [
        ui_runner.Update(0, 4),
        ui_runner.Update(2, 4),
        ui_runner.Update(4, 4),
        ui_runner.Update(4, 4, final, True),
    ]
    sent: list[str] = []

    class Slot:
        def progress(self, value: float, text: str = "") -> None:
            sent.append("bar")

        def empty(self) -> None:
            sent.append("empty")

    monkeypatch.setattr(app.runner, "stream", lambda spec, pool, first_stage: (u for u in updates))
    monkeypatch.setattr(app.time, "monotonic", lambda: 0.0)  # a run over at once
    monkeypatch.setattr(app, "get_pool", lambda: None)
    monkeypatch.setattr(app, "get_cache", ui_runner.ResultCache)
    monkeypatch.setattr(app.st, "caption", lambda text: sent.append("caption") or Slot())
    monkeypatch.setattr(app, "tr", lambda key, **kwargs: key)
    monkeypatch.setattr(app, "yield_point", lambda: None)
    assert app.ensemble_with_progress(ui_runner.EnsembleSpec("name: y\n", 4, 1, 0.002)) is final
    assert sent == ["caption", "empty"]
