"""CityPeak: when do Karamay's CO2 emissions peak, and how sure are we? (Streamlit front end)

Run with ``streamlit run app.py`` (see docs/app.md). The page answers one question for policy staff and
workshop audiences: under this set of policies, in which year do emissions peak, at what level, and with
what probability by 2030. Every number on it comes from an ensemble of model runs, so every number has a
band.

Layout: the sidebar holds the scenario (a preset or an uploaded file), every policy lever of the parameter
registry as a slider (grouped as the registry groups them, with unit, range and guidance), the phase-in
timing, the ensemble settings and the share/download links. The main area shows the headline (peak year
with its 90% interval, P(peak <= 2030), peak level, 2030 emissions) above five tabs: Results (fan chart,
sectors, peak-year distribution, pilot-plan scorecard), Compare (two to four scenarios, paired
differences under common random numbers), Sensitivity (a sweep's indices, or a quick Morris screening),
Policy cost (what each lever family avoids and costs) and Discovery (PRIM boxes of lever settings that
peak in time and the cheapest package found, each loadable into the levers; a quick in-app discovery).

Speed: a slider move reruns this script; the ensemble comes from a result cache keyed by the scenario text
(which holds every lever), or else from a persistent process pool, drawn first with its first 40 members
and then refined (``ui.runner``). Only the open tab is computed.

This module is the only one that imports Streamlit; ``ui`` holds the plain-Python parts and the model
(``sim``, ``agents``, ``policies``) never imports either.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from sim import registry
from sim.levers import FAMILY_LIMITATIONS
from sim.scenario import MAX_SCENARIO_BYTES, ScenarioError, load_yaml
from ui import charts, i18n, runner
from ui import discovery as uidisc
from ui import state as uistate

ss = st.session_state

# App defaults; tests and small machines shrink the ensemble with CITYPEAK_APP_MEMBERS.
DEFAULTS = uistate.Settings(
    preset="pilot",
    lang=os.environ.get("CITYPEAK_LANG", "en") if os.environ.get("CITYPEAK_LANG") in i18n.LANGS else "en",
    members=int(os.environ.get("CITYPEAK_APP_MEMBERS", "200")),
    resolution=float(os.environ.get("CITYPEAK_APP_RESOLUTION", "0.005")),
    seed=1,
)

# Default Morris trajectories of the Sensitivity tab (tests use 2).
MORRIS_TRAJECTORIES = int(os.environ.get("CITYPEAK_APP_MORRIS_TRAJECTORIES", "4"))
MEMBER_CHOICES = (10, 20, 50, 100, 200, 500, 1000, DEFAULTS.members)
COMPARE_DEFAULT = {"baseline": "pilot", "pilot": "baseline", "accelerated": "pilot", "delayed": "pilot"}
SEQUENCE_PRESETS = ("baseline", "pilot", "delayed", "accelerated")
SWEEP_ROOTS = (uistate.ROOT / "results", Path.cwd() / "results")
# Discovery tab: where result folders are looked for and where an in-app discovery writes (tests point
# CITYPEAK_APP_RESULTS at a temporary folder), and the size of the in-app run (tests use 50, its minimum).
RESULTS_DIR = Path(os.environ.get("CITYPEAK_APP_RESULTS") or uistate.ROOT / "results")
DISCOVERY_ROOTS = (RESULTS_DIR, Path.cwd() / "results")
DISCOVERY_RUNS = int(os.environ.get("CITYPEAK_APP_DISCOVERY_RUNS", "200"))
DISCOVERY_RUN_CHOICES = (100, 200, 500, 1000)
PROGRESS_BAR_AFTER_S = 2.5
"""An ensemble shows a progress bar only once it has run this long; until then a caption says it is running.

Why: the bar glides to each new value (a 0.5 s CSS transition), so updated about ten times in a slider move it
kept the browser animating through the whole redraw, on the cores the runs use. Measured in headless Chromium
on the same two cores (28 Nov 2026, three rounds of eight moves alternating with the code before): the move
2.27 / 2.33 / 2.11 s -> 2.00 / 2.02 / 1.94 s, Chromium's renderer 0.71-0.81 -> 0.58-0.63 CPU-s and its other
processes 0.18-0.23 -> 0.11-0.12 CPU-s per move (docs/performance.md, ninth pass). A redraw at the default
settings (about 2 s) is over before the bar would appear, and its first stage already says that the rest is
coming; a large ensemble (500 members or more, a finer resolution) still gets its bar."""
DISCOVERY_LEVERS = ("carbon_price_2030_cny_per_t", "coal_phase_out_year", "renewable_capacity_target_gw_2030")


def tr(key: str, **fmt: Any) -> str:
    """The string ``key`` in the session's language."""
    return i18n.t(key, ss.get("lang", DEFAULTS.lang), **fmt)


def lang() -> str:
    return ss.get("lang", DEFAULTS.lang)


def frozen_labels(options: Any, label: Any) -> Any:
    """A widget ``format_func`` with the labels of this run's language fixed at creation.

    Streamlit may call ``format_func`` after the run (AppTest does), when the session's language can no
    longer be read; a lookup table built now gives the same text then.
    """
    table = {o: label(o) for o in options}
    return lambda o: table.get(o, str(o))


def _output_label(name: str) -> str:
    return tr(f"out_{name}") if f"out_{name}" in i18n.STRINGS else name


# ---------------------------------------------------------------------------------------------- shared resources


@st.cache_resource(show_spinner=False)
def get_pool() -> runner.AppPool:
    """One process pool per server, shared by every session (workers from ``CITYPEAK_APP_WORKERS``); the
    server's long-lived objects are frozen out of full garbage collections at the same time."""
    runner.freeze_main_heap()
    return runner.AppPool()


@st.cache_resource(show_spinner=False)
def get_cache() -> runner.ResultCache:
    """Finished ensembles, Morris screenings and lever costs, keyed by scenario text and settings."""
    return runner.ResultCache(maxsize=96)


@st.cache_data(show_spinner=False)
def preset_data(preset: str) -> dict:
    """A preset's merged scenario dict (read once per server)."""
    return uistate.preset_data(preset)


@st.cache_data(show_spinner=False, max_entries=64)
def scenario_info(text: str) -> tuple[uistate.LeverState, int, int]:
    """Lever state, base year and horizon of a scenario's YAML text (validated once per text)."""
    data = load_yaml(text)
    scenario = uistate.build_scenario(data)
    return uistate.state_from_data(data), scenario.base_year, scenario.horizon


# ---------------------------------------------------------------------------------------------- session state


def _lever_key(name: str) -> str:
    return f"lv_{name}"


def _widget_value(p: registry.Parameter, value: float) -> float | int:
    v = uistate.snap(p, value)
    return int(v) if p.integer else float(v)


def _clear_schedule_widgets() -> None:
    for k in [k for k in ss if isinstance(k, str) and k.startswith(("sched_use_", "sched_df_", "sched_ed_"))]:
        del ss[k]


def load_levers(state: uistate.LeverState, base_year: int, horizon: int) -> None:
    """Put a lever state into the widgets (before they are drawn in this run, or from a callback)."""
    for p in uistate.levers():
        ss[_lever_key(p.name)] = _widget_value(p, state.values.get(p.name, p.default))
    lo, hi = base_year, horizon
    ss["phase"] = (min(max(state.start_year, lo), hi), min(max(state.target_year, lo), hi))
    ss["schedules"] = copy.deepcopy(state.schedules)
    _clear_schedule_widgets()


def current_state() -> uistate.LeverState:
    """The lever state the widgets show now."""
    values = {p.name: float(ss[_lever_key(p.name)]) for p in uistate.levers()}
    start, target = ss["phase"]
    return uistate.LeverState(values, int(start), int(target), copy.deepcopy(ss["schedules"]))


def base_scenario() -> tuple[dict, str]:
    """The scenario the levers are applied to, and its display name."""
    if ss["preset"] == uistate.UPLOAD and ss.get("upload_data") is not None:
        # Its title, as the caption above the headline shows it (the name is the file's identifier).
        return ss["upload_data"], uistate.scenario_title(ss["upload_data"], lang())
    preset = ss["preset"] if ss["preset"] != uistate.UPLOAD else ss.get("last_preset", DEFAULTS.preset)
    return preset_data(preset), tr(f"preset_{preset}")


def _preset_sequence() -> list[dict[str, Any]]:
    steps = []
    for p in SEQUENCE_PRESETS:
        text = uistate.scenario_yaml(preset_data(p))
        state, *_ = scenario_info(text)
        steps.append({"name": None, "preset": p, "state": state, "upload": None})
    return steps


def init_session() -> None:
    """First run of a session: settings and levers from the link (query parameters), else defaults."""
    if "_init" in ss:
        return
    query = st.query_params.to_dict()
    settings, notes = uistate.decode_settings(query, DEFAULTS)
    text = uistate.scenario_yaml(preset_data(settings.preset))
    base, base_year, horizon = scenario_info(text)
    state, lever_notes = uistate.decode_levers(query, base, base_year, horizon)
    ss["lang"] = settings.lang
    ss["preset"] = settings.preset
    ss["last_preset"] = settings.preset
    ss["members"] = settings.members
    ss["resolution"] = settings.resolution
    ss["seed"] = settings.seed
    ss["workshop"] = settings.workshop
    ss["tab_id"] = settings.tab
    ss["tab_default"] = settings.tab
    ss["sector_view"] = "mean"
    ss["sequence"] = _preset_sequence()
    ss["ws_index"] = SEQUENCE_PRESETS.index(settings.preset) if settings.preset in SEQUENCE_PRESETS else 0
    ss["link_notes"] = notes + lever_notes
    load_levers(state, base_year, horizon)
    ss["_init"] = True


# ---------------------------------------------------------------------------------------------- callbacks


def on_preset_change() -> None:
    """Switching preset puts that preset's settings into every lever (an upload waits for its file)."""
    preset = ss["preset"]
    if preset == uistate.UPLOAD:
        data = ss.get("upload_data")
        if data is not None:
            state, base_year, horizon = scenario_info(uistate.scenario_yaml(data))
            load_levers(state, base_year, horizon)
        return
    ss["last_preset"] = preset
    state, base_year, horizon = scenario_info(uistate.scenario_yaml(preset_data(preset)))
    load_levers(state, base_year, horizon)
    # Keep the workshop step in line with a preset picked by hand.
    steps = [i for i, step in enumerate(ss.get("sequence", [])) if step["preset"] == preset and not step["name"]]
    if steps:
        ss["ws_index"] = steps[0]


LANGUAGE_DEPENDENT_WIDGETS = (
    "preset",
    "sched_pick",
    "sector_view",
    "cmp_pick",
    "sens_source",
    "sens_params",
    "sens_output",
    "sweep_output",
    "disc_levers",
    "disc_box",
)  # option widgets whose displayed option text depends on the language


def on_language_change() -> None:
    """Re-assign option widgets after a language switch.

    Streamlit keeps a select widget's value in the browser as its *displayed* text; after a switch that text
    is no longer among the (translated) options and would come back as an unknown value. Assigning the
    value through session state makes the server send the new text to the browser.
    """
    for key in list(ss.keys()):
        if isinstance(key, str) and (key in LANGUAGE_DEPENDENT_WIDGETS or key.startswith("cmp_ref_")):
            ss[key] = ss[key]
    # The tabs' labels are part of their identity, so translated tabs are a new widget: it opens on its default.
    ss["tab_default"] = ss.get("tab_id", "results")


def on_reset_levers() -> None:
    data, _ = base_scenario()
    state, base_year, horizon = scenario_info(uistate.scenario_yaml(data))
    load_levers(state, base_year, horizon)


def on_load_package(values: dict[str, float], what: str) -> None:
    """Discovery tab: put a package's lever values into the sliders (a callback, so before they are drawn).

    A lever driven by a year/value schedule would ignore its slider, so its schedule (and the carbon price
    path, for a carbon price lever) is switched off.
    """
    for name, value in values.items():
        p = registry.get(name)
        if p.kind != "lever":
            continue
        ss[_lever_key(name)] = _widget_value(p, value)
        ss["schedules"].pop(name, None)
        if name.startswith("carbon_price_"):
            ss["schedules"].pop(uistate.CARBON_PRICE_SCHEDULE, None)
    _clear_schedule_widgets()
    ss["disc_loaded"] = what


def go_to_step(index: int) -> None:
    """Workshop mode: show step ``index`` of the sequence (its preset or upload, and its levers)."""
    seq = ss["sequence"]
    index = max(0, min(index, len(seq) - 1))
    step = seq[index]
    ss["ws_index"] = index
    if step["upload"] is not None:
        ss["upload_data"] = step["upload"]
        ss["preset"] = uistate.UPLOAD
        data = step["upload"]
    else:
        ss["preset"] = step["preset"]
        ss["last_preset"] = step["preset"]
        data = preset_data(step["preset"])
    _, base_year, horizon = scenario_info(uistate.scenario_yaml(data))
    load_levers(step["state"], base_year, horizon)


def save_step() -> None:
    name = (ss.get("ws_new_name") or "").strip() or tr("ws_default_name", i=len(ss["sequence"]) + 1)
    upload = ss.get("upload_data") if ss["preset"] == uistate.UPLOAD else None
    preset = ss["preset"] if ss["preset"] != uistate.UPLOAD else ss.get("last_preset", DEFAULTS.preset)
    ss["sequence"].append({"name": name, "preset": preset, "state": current_state(), "upload": upload})
    ss["ws_index"] = len(ss["sequence"]) - 1
    ss["ws_new_name"] = ""


def reset_sequence() -> None:
    ss["sequence"] = _preset_sequence()
    ss["ws_index"] = 0


def step_name(step: dict[str, Any]) -> str:
    if step["name"]:
        return step["name"]
    return tr(f"preset_{step['preset']}")


# ---------------------------------------------------------------------------------------------- sidebar


def sidebar_scenario() -> None:
    """Language, preset and upload."""
    sb = st.sidebar
    sb.segmented_control(
        tr("language"),
        list(i18n.LANGS),
        format_func=lambda code: i18n.LANG_NAMES[code],
        key="lang",
        required=True,
        on_change=on_language_change,
    )
    options = [*uistate.PRESETS, uistate.UPLOAD]
    sb.selectbox(
        tr("scenario"),
        options,
        format_func=frozen_labels(options, lambda p: tr(f"preset_{p}")),
        key="preset",
        on_change=on_preset_change,
    )
    if ss["preset"] != uistate.UPLOAD:
        return
    mb = MAX_SCENARIO_BYTES / 1e6
    upload = sb.file_uploader(
        tr("upload_label", mb=f"{mb:g}"),
        type=["yaml", "yml"],
        key="upload_file",
        help=tr("upload_help"),
        max_upload_size=max(1, math.ceil(mb)),
    )
    if upload is not None and upload.file_id != ss.get("upload_file_id"):
        ss["upload_file_id"] = upload.file_id
        try:
            data = uistate.parse_upload(upload.name, upload.getvalue())
        except ScenarioError as err:
            ss["upload_error"] = str(err)
        else:
            ss["upload_error"] = None
            ss["upload_data"] = data
            ss["upload_name"] = upload.name
            state, base_year, horizon = scenario_info(uistate.scenario_yaml(data))
            load_levers(state, base_year, horizon)
    fallback = tr(f"preset_{ss.get('last_preset', DEFAULTS.preset)}")
    if ss.get("upload_error"):
        current = ss["upload_data"].get("name") if ss.get("upload_data") is not None else fallback
        sb.error(tr("upload_error", name=current) + "\n\n```\n" + ss["upload_error"] + "\n```")
    elif ss.get("upload_data") is not None:
        sb.success(tr("upload_ok", name=ss["upload_data"].get("name", "?"), file=ss.get("upload_name", "?")))
    else:
        sb.info(tr("upload_waiting", name=fallback))


def _slider_format(p: registry.Parameter, step: float) -> str:
    if p.integer:
        return "%d"
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"%.{decimals}f"


def sidebar_levers(base_year: int, horizon: int) -> None:
    """Every registry lever as a slider, by registry group; phase-in window; schedule table."""
    sb = st.sidebar
    sb.header(tr("levers"))
    sb.caption(tr("levers_caption"))
    sb.button(tr("reset_levers"), on_click=on_reset_levers, width="stretch")
    scheduled = set(ss["schedules"])
    for group, params in uistate.lever_groups().items():
        with sb.expander(i18n.group_label(group, lang())):
            for p in params:
                key = _lever_key(p.name)
                moved = not math.isclose(float(ss[key]), p.default, rel_tol=1e-9, abs_tol=1e-9)
                label = ("● " if moved else "") + i18n.param_label(p, lang())
                step = uistate.slider_step(p)
                help_text = i18n.param_help(p, lang())
                if p.name in scheduled:
                    help_text = tr("schedule_active") + "\n\n" + help_text
                kwargs: dict[str, Any] = {
                    "min_value": int(p.low) if p.integer else float(p.low),
                    "max_value": int(p.high) if p.integer else float(p.high),
                    "step": int(step) if p.integer else float(step),
                }
                st.slider(
                    label,
                    key=key,
                    help=help_text,
                    format=_slider_format(p, step),
                    disabled=p.name in scheduled,
                    **kwargs,
                )
    with sb.expander(tr("phase_in")):
        st.slider(
            tr("phase_in_window"),
            min_value=base_year,
            max_value=horizon,
            key="phase",
            help=tr("phase_in_help"),
        )
    with sb.expander(tr("schedules")):
        schedule_editor(base_year, horizon)


def _schedule_label(name: str) -> str:
    if name == uistate.CARBON_PRICE_SCHEDULE:
        return tr("carbon_price_path")
    return i18n.param_label(registry.get(name), lang())


def schedule_editor(base_year: int, horizon: int) -> None:
    """Year/value table for one phase-in lever; a valid table becomes ``policies.schedules``."""
    st.caption(tr("schedule_caption"))
    targets = uistate.schedule_targets()
    name = st.selectbox(
        tr("schedule_lever"), targets, format_func=frozen_labels(targets, _schedule_label), key="sched_pick"
    )
    use_key = f"sched_use_{name}"
    if use_key not in ss:
        ss[use_key] = name in ss["schedules"]
    use = st.toggle(tr("schedule_use"), key=use_key)
    if not use:
        ss["schedules"].pop(name, None)
    else:
        df_key = f"sched_df_{name}"
        if df_key not in ss:
            points = ss["schedules"].get(name)
            if points is None:
                start, target = ss["phase"]
                if name == uistate.CARBON_PRICE_SCHEDULE:
                    v = ss[_lever_key("carbon_price_start_cny_per_t")]
                    points = [[base_year, v], [2030, ss[_lever_key("carbon_price_2030_cny_per_t")]]]
                    points.append([2060, ss[_lever_key("carbon_price_2060_cny_per_t")]])
                else:
                    p = registry.get(name)
                    points = [[start, p.default], [target, ss[_lever_key(name)]]]
            ss[df_key] = pd.DataFrame({"year": [int(y) for y, _ in points], "value": [float(v) for _, v in points]})
        low, high = (
            (0.0, 2000.0)
            if name == uistate.CARBON_PRICE_SCHEDULE
            else (registry.get(name).low, registry.get(name).high)
        )
        edited = st.data_editor(
            ss[df_key],
            num_rows="dynamic",
            key=f"sched_ed_{name}",
            hide_index=True,
            column_config={
                "year": st.column_config.NumberColumn(
                    tr("col_year"), min_value=base_year, max_value=horizon, step=1, format="%d"
                ),
                "value": st.column_config.NumberColumn(tr("col_value"), min_value=low, max_value=high),
            },
        )
        try:
            points = uistate.check_schedule(name, edited[["year", "value"]].to_numpy().tolist(), base_year, horizon)
        except ValueError as err:
            ss["schedules"].pop(name, None)
            why = err.note.text(lang()) if isinstance(err, uistate.ScheduleError) else str(err)
            st.warning(tr("schedule_error", msg=why))
        else:
            ss["schedules"][name] = points
    if ss["schedules"]:
        st.caption(tr("schedule_in_use", names=tr("list_sep").join(_schedule_label(n) for n in ss["schedules"])))


def sidebar_settings() -> None:
    sb = st.sidebar
    with sb.expander(tr("settings")):
        choices = sorted({*MEMBER_CHOICES, int(ss["members"])})
        st.select_slider(tr("n_members"), choices, key="members", help=tr("n_members_help"))
        resolutions = sorted({*uistate.RESOLUTIONS, float(ss["resolution"])})
        st.select_slider(
            tr("resolution"), resolutions, key="resolution", help=tr("resolution_help"), format_func=lambda r: f"{r:g}"
        )
        st.number_input(tr("seed"), min_value=0, max_value=2**32 - 1, step=1, key="seed", help=tr("seed_help"))
    sb.toggle(tr("workshop"), key="workshop", help=tr("workshop_help"))


def deferred(data: str | bytes) -> Callable[[], str | bytes]:
    """A download button's data, handed over only when the button is clicked (Streamlit's deferred download).

    Why: data given as bytes or text becomes a file on the server at every rerun, and the browser fetches each
    new file's address at once to check that it answers. The scenario YAML changes with every slider move and
    the disabled buttons of a first stage are new elements, so a move cost the server and the browser ten such
    requests (each 28 kB for the YAML) while the ensemble ran; a callable is stored instead, and called on a
    click.
    """
    return lambda: data


def sidebar_share(query: dict[str, str], text: str, file_stem: str) -> None:
    with st.sidebar.expander(tr("share")):
        st.caption(tr("share_caption"))
        base_url = st.context.url or ""
        # Wrapped: in the sidebar's width a link with a few levers ran off the box after "?preset"; the box's
        # copy button copies it whole either way.
        st.code(base_url + ("?" + urlencode(query, safe=":;") if query else ""), language=None, wrap_lines=True)
        if ss["preset"] == uistate.UPLOAD:
            st.caption(tr("share_upload_note"))
        st.download_button(
            tr("download_yaml"),
            data=deferred(text),
            file_name=f"{file_stem}.yaml",
            mime="application/x-yaml",
            key="dl_yaml_sidebar",
            on_click="ignore",
            width="stretch",
        )


# ---------------------------------------------------------------------------------------------- main view


FOUR_COLUMN_ROWS = (
    '[data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] [data-testid="stMetric"]), '
    '[data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] [data-testid="stDownloadButton"])'
    ':not(:has([data-testid="stVegaLiteChart"]))'
)
"""The rows of four that go two by two when narrow: the headline's numbers (the only ``st.metric`` on the page)
and the result downloads (a row of download buttons without a chart)."""
COMMON_CSS = (
    '[data-testid="stProgress"] * { transition: none !important; }\n'
    '[data-testid="stAlert"] pre, [data-testid="stAlert"] pre code'
    " { white-space: pre-wrap !important; overflow-wrap: anywhere; }\n"
    f"{FOUR_COLUMN_ROWS} {{ container: four / inline-size; flex-wrap: wrap; }}\n"
    "@container four (max-width: 44rem) {"
    ' [data-testid="stColumn"] { flex: 1 1 calc(50% - 1rem) !important; min-width: calc(50% - 1rem) !important; } }\n'
    '[data-testid="stMetricValue"] *, [data-testid="stMetricLabel"] *'
    " { white-space: normal !important; overflow-wrap: break-word; text-overflow: clip !important; }\n"
    '[data-testid="stButton"] button *, [data-testid="stDownloadButton"] button *'
    " { white-space: normal !important; text-overflow: clip !important; overflow: visible !important; }\n"
    '[role="group"]:has(> [data-testid="stMultiSelectTagsContainer"])'
    " { height: auto !important; max-height: none !important; }\n"
    '[data-testid="stMultiSelectTagsContainer"], [data-testid="stMultiSelectTagsContainer"] > [role="group"]'
    " { flex-wrap: wrap !important; overflow: visible !important; height: auto !important; }\n"
    '[data-testid="stMultiSelectTagsContainer"] [data-tag] { max-width: 100% !important; height: auto !important; }\n'
    '[data-testid="stMultiSelectTagsContainer"] [data-tag] > span'
    " { white-space: normal !important; text-overflow: clip !important; overflow: visible !important; }\n"
)
"""The progress bar jumps to each value instead of gliding (see :data:`PROGRESS_BAR_AFTER_S`), and an error's
details (a bad upload's problems, each naming a field) wrap inside its box: in the sidebar's width they ran off
its right edge and were read by scrolling sideways. The headline's four numbers and the four downloads go two
by two where their row is narrower than 44 rem (a tablet, a window beside another), and a label or number that
still does not fit wraps, as a button's label does: in four columns of ~90 px Streamlit cut every one to "2…",
"Peak y…", "Scenario (YA…".
A multiselect shows every chosen item whole, on as many lines as it takes (Streamlit keeps them on one line that
scrolls sideways: at 1024 px the Discovery tab showed one of the three levers it would vary).
Both page styles carry it, since the workshop style replaces the base one."""
WORKSHOP_CSS = (
    """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 20px; }
[data-testid="stMetricValue"] { font-size: 3.4rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.15rem !important; }
[data-testid="stCaptionContainer"], .stCaption { font-size: 1.05rem !important; }
h1 { font-size: 2.4rem !important; }
button[data-baseweb="tab"] p { font-size: 1.3rem !important; }
section[data-testid="stSidebar"] { min-width: 320px; }
.st-key-ws_bar [data-testid="stHorizontalBlock"]:has(h3) { flex-wrap: nowrap; }
.st-key-ws_bar [data-testid="stHorizontalBlock"]:has(h3) > [data-testid="stColumn"] { min-width: 0; }
.st-key-ws_bar [data-testid="stHorizontalBlock"]:has(h3) > [data-testid="stColumn"]:has([data-testid="stButton"])
 { min-width: max-content; }
"""
    + COMMON_CSS
    + """
</style>
"""
)
"""Large type for a projector. The step bar's Previous and Next buttons keep their whole label (at 1024 px, a
meeting room's projector, "◀ Previous" was cut to "◀ Pr…"); the step's name beside them wraps instead."""
BASE_CSS = (
    """
<style>
[data-testid="stMetricValue"] { font-size: 2.3rem; }
section[data-testid="stSidebar"] { min-width: 340px; }
"""
    + COMMON_CSS
    + """
</style>
"""
)


def workshop_bar() -> None:
    """Step through the saved sequence (workshop mode)."""
    seq = ss["sequence"]
    i = min(ss.get("ws_index", 0), len(seq) - 1)
    with st.container(border=True, key="ws_bar"):
        cols = st.columns([1.4, 4, 1.4], vertical_alignment="center")
        cols[0].button(tr("ws_prev"), on_click=go_to_step, args=(i - 1,), disabled=i <= 0, width="stretch")
        cols[1].markdown(f"### {tr('ws_step', i=i + 1, n=len(seq), name=step_name(seq[i]))}")
        cols[2].button(tr("ws_next"), on_click=go_to_step, args=(i + 1,), disabled=i >= len(seq) - 1, width="stretch")
        with st.expander(tr("ws_sequence")):
            st.markdown("\n".join(f"{k + 1}. {step_name(s)}" for k, s in enumerate(seq)))
            c = st.columns([3, 2, 2], vertical_alignment="bottom")
            c[0].text_input(tr("ws_name"), key="ws_new_name")
            c[1].button(tr("ws_save"), on_click=save_step, width="stretch")
            c[2].button(tr("ws_reset"), on_click=reset_sequence, width="stretch")


def _fmt_year(y: float, horizon: int) -> str:
    return tr("after_horizon", year=horizon) if y > horizon else f"{int(y)}"


def _year_interval(h: dict[str, Any]) -> str:
    """``median [P5, P95]`` of a headline's peak year."""
    horizon = h["horizon"]
    lo, hi = _fmt_year(h["peak_year_p5"], horizon), _fmt_year(h["peak_year_p95"], horizon)
    return f"{_fmt_year(h['peak_year_median'], horizon)} [{lo}, {hi}]"


def _signed(v: float, digits: int) -> str:
    """``+1.25`` / ``-0.50`` / ``0``: a signed number that never shows as ``-0``."""
    text = f"{v:+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def render_headline(res: runner.EnsembleResult, ref: runner.EnsembleResult | None, ref_name: str) -> None:
    """Peak year (median, 90% interval), P(peak <= 2030), peak level and 2030 emissions, with deltas."""
    h = res.headline()
    r = ref.headline() if ref is not None else None
    horizon = h["horizon"]
    # Workshop numbers are large and need the room: two rows of two.
    cols = [*st.columns(2), *st.columns(2)] if ss.get("workshop") else st.columns(4)

    def delta(key: str, scale: float = 1.0, fmt: str = "{:+.1f}") -> str | None:
        if r is None:
            return None
        text = fmt.format((h[key] - r[key]) * scale)
        return None if text.lstrip("+-").replace("pp", "").strip("0. ") == "" else text

    cols[0].metric(
        tr("peak_year"),
        _fmt_year(h["peak_year_median"], horizon),
        delta=delta("peak_year_median", fmt="{:+.0f}"),
        delta_color="inverse",
        border=True,
    )
    cols[0].caption(
        tr("median_interval", lo=_fmt_year(h["peak_year_p5"], horizon), hi=_fmt_year(h["peak_year_p95"], horizon))
    )
    cols[1].metric(
        tr("p_peak", year=runner.TARGET_YEAR),
        _pct(h["p_peak_by"]),
        delta=delta("p_peak_by", 100, "{:+.0f} pp"),
        border=True,
    )
    cols[1].caption(tr("p_peak_ci", lo=_pct(h["p_peak_by_lo"]), hi=_pct(h["p_peak_by_hi"]), n=h["n"]))
    cols[2].metric(
        tr("peak_level"),
        tr("mt_per_yr", v=h["peak_mt_median"]),
        delta=delta("peak_mt_median"),
        delta_color="inverse",
        border=True,
    )
    cols[2].caption(tr("median_interval", lo=f"{h['peak_mt_p5']:.1f}", hi=f"{h['peak_mt_p95']:.1f}"))
    cols[3].metric(
        tr("emissions_2030"),
        tr("mt_per_yr", v=h["emissions_2030_median"]),
        delta=delta("emissions_2030_median"),
        delta_color="inverse",
        border=True,
    )
    b = res.bands()
    row = b[b["year"] == runner.TARGET_YEAR]
    lo, hi = (f"{row['p5'].iloc[0]:.1f}", f"{row['p95'].iloc[0]:.1f}") if len(row) else ("?", "?")
    cols[3].caption(tr("median_interval", lo=lo, hi=hi))
    # Always one caption here, so a redraw replaces it rather than leaving a stale one behind.
    share = h["share_not_peaked"]
    notes = [tr("not_peaked_share", share=_pct(share), horizon=horizon)] if share > 0 else []
    if r is not None:
        notes.append(tr("delta_vs", name=ref_name))
    st.caption(" ".join(notes) or " ")


def _chart_labels() -> dict[str, str]:
    return {
        "x": tr("axis_year"),
        "y": tr("axis_mt"),
        "band_90": tr("band_90"),
        "band_50": tr("band_50"),
        "median": tr("median"),
        "target": tr("target_year_rule", year=runner.TARGET_YEAR),
    }


def show_chart(chart: Any, name: str, final: bool) -> None:
    """Draw a chart and its export button (PNG when vl-convert is there, else HTML), enabled at the last stage.

    A :class:`ui.charts.ChartSpec` (the charts redrawn at every slider move) is drawn from its validated
    template and data; other charts are Altair objects.
    """
    if isinstance(chart, charts.ChartSpec):
        st.vega_lite_chart(spec=chart.spec(), width="stretch")
    else:
        st.altair_chart(chart, width="stretch")
    png = charts.png_export(lang())
    ext = "png" if png else "html"
    # Before the last stage the button is there but disabled, so that both stages send the same elements in
    # the same places and the browser updates them in place (see kept_slot).
    st.download_button(
        tr("download_chart", fmt=ext.upper()),
        data=(lambda: charts.export_chart(chart, png=png)[0]) if final else deferred(b""),
        file_name=f"citypeak_{name}_{lang()}.{ext}",
        mime="image/png" if ext == "png" else "text/html",
        key=f"dl_chart_{name}" if final else f"dl_chart_{name}_partial",
        on_click="ignore",
        icon=":material/download:",
        disabled=not final,
    )


def render_results(
    res: runner.EnsembleResult,
    ref: runner.EnsembleResult | None,
    ref_name: str,
    final: bool,
    text: str,
    stem: str,
    at_reference: bool = False,
) -> None:
    """The Results tab: fan chart, sectors, peak-year distribution, scorecard, downloads.

    ``at_reference``: the levers are the scenario's own, so ``res`` is its own reference ensemble. Its median
    is then drawn as the reference (the two lines coincide until a lever moves), so that the fan chart keeps
    one shape from the page's first draw on: a chart that gained its reference layer at the first slider move
    made the server build a new chart template and the browser a new chart view, in the middle of that move.
    """
    large = bool(ss.get("workshop"))
    labels = _chart_labels() | {
        "title": tr("fan_title"),
        "base_year": tr("base_year", year=res.base_year),
        "reference": tr("reference_median", name=ref_name),
    }
    reference = ref if ref is not None else (res if at_reference else None)
    fan = charts.fan_chart(
        res.bands(), labels, res.base_year, reference=reference.bands() if reference is not None else None, large=large
    )
    show_chart(fan, "emissions", final)

    # Side by side on a desk screen; one under the other in workshop mode, where a projector's ~1280 px and the
    # large type left the sector chart's plot ~120 px wide with its legend cut, and the histogram's bars flat.
    left, right = (st.container(), st.container()) if large else st.columns(2)
    with left:
        if ss["sector_view"] == "median_run":
            frame, run_id = res.sector_median_run()
            note = tr("sector_median_run_note", run=run_id)
        else:
            frame, note = res.sector_mean(), ""
        order = [i18n.sector_label(s, lang()) for s in res.sectors]
        frame = frame.assign(sector=frame["sector"].map(lambda s: i18n.sector_label(s, lang())))
        sector = charts.sector_area(
            frame,
            {"title": tr("sector_title"), "x": tr("axis_year"), "y": tr("axis_mt"), "legend": tr("sector_legend")},
            order,
            large,
        )
        show_chart(sector, "sectors", final)
        if note:
            st.caption(note)
    with right:
        dist = res.peak_year_distribution()
        dist["outcome"] = dist["outcome"].replace({"not peaked": tr("not_peaked")})
        hist = charts.peak_histogram(
            dist, {"title": tr("peak_hist_title"), "x": tr("axis_year"), "y": tr("axis_probability")}, large=large
        )
        show_chart(hist, "peak_years", final)
    ecdf = charts.ecdf_chart(
        res.peak_year_ecdf(), {"title": tr("ecdf_title"), "x": tr("axis_year"), "y": tr("axis_p_peaked")}, large=large
    )
    show_chart(ecdf, "peak_ecdf", final)
    render_scorecard(res)
    render_downloads(res, text, stem, final)


def render_scorecard(res: runner.EnsembleResult) -> None:
    st.subheader(tr("scorecard_title"))
    st.caption(tr("scorecard_caption"))
    card = res.scorecard()
    rows = []
    for _, c in card.iterrows():
        if c["kind"] == "share":
            projected, band = _pct(c["median"]), f"{_pct(c['p5'])} – {_pct(c['p95'])}"
            target = _pct(c["target"])
        else:
            horizon = res.horizon
            key = "peak_year_value" if c["kind"] == "peak" else "plateau_year_value"
            projected = tr(key, year=_fmt_year(c["median"], horizon))
            band = f"{_fmt_year(c['p5'], horizon)} – {_fmt_year(c['p95'], horizon)}"
            target = tr("target_peak_before" if c["kind"] == "peak" else "target_plateau_by", year=int(c["target"]))
        rows.append(
            {
                tr("col_indicator"): i18n.indicator_label(c["indicator"], lang()),
                tr("col_projected"): projected,
                tr("col_band"): band,
                tr("col_target"): target,
                tr("col_p_met"): float(c["p_met"]),
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            tr("col_p_met"): st.column_config.ProgressColumn(
                tr("col_p_met"), min_value=0.0, max_value=1.0, format="percent"
            )
        },
    )


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def render_downloads(res: runner.EnsembleResult, text: str, stem: str, final: bool = True) -> None:
    """The scenario and result downloads; before the last stage the result ones are there but disabled (the
    first members only), so that both stages draw the same elements in the same places (see kept_slot)."""
    st.subheader(tr("share"))
    cols = st.columns(4)
    key = "" if final else "_partial"
    cols[0].download_button(
        tr("download_yaml"),
        data=deferred(text),
        file_name=f"{stem}.yaml",
        mime="application/x-yaml",
        key="dl_yaml" + key,
        on_click="ignore",
    )
    cols[1].download_button(
        tr("download_csv"),
        data=(lambda: res.yearly_frame().to_csv(index=False)) if final else deferred(b""),
        file_name=f"{stem}_yearly.csv",
        mime="text/csv",
        key="dl_csv" + key,
        on_click="ignore",
        disabled=not final,
    )
    cols[2].download_button(
        tr("download_parquet"),
        data=(lambda: _parquet_bytes(res.yearly_frame())) if final else deferred(b""),
        file_name=f"{stem}_yearly.parquet",
        mime="application/vnd.apache.parquet",
        key="dl_parquet" + key,
        on_click="ignore",
        disabled=not final,
    )
    cols[3].download_button(
        tr("download_summary"),
        data=(lambda: res.summary_with_params().to_csv(index=False)) if final else deferred(b""),
        file_name=f"{stem}_summary.csv",
        mime="text/csv",
        key="dl_summary" + key,
        on_click="ignore",
        disabled=not final,
    )
    if charts.png_export(lang()):
        st.caption(tr("export_png"))
    else:
        st.caption(tr("export_html") if not charts.has_png_export() else tr("export_html_no_cjk"))


def kept_slot() -> Any:
    """A placeholder like ``st.empty()`` that leaves what the previous run drew there on screen until this run
    draws over it.

    Why: ``st.empty()`` sends an empty element, so at every slider move the headline, the four charts and the
    scorecard vanished for the ~0.7 s until the first stage was in, and the browser then built them anew
    (Vega's parse and embed of every chart, the data grid), twice a redraw. This slot sends an empty container
    instead: the browser merges a container with the one it shows at the same place, keeping its elements
    (faded, as Streamlit shows stale elements) until the run draws over them, and then updates each one in
    place when the same kind of element arrives at the same place (a chart whose template is unchanged only
    gets its new data). Draw into it with ``slot.container()``, as into an ``st.empty()``.

    It is ``st.empty()`` with another first message, so it uses Streamlit's cursor; on a Streamlit without
    one, it falls back to ``st.empty()`` (the old redraw).
    """
    dg = st._main._active_dg
    cursor = getattr(dg, "_cursor", None)
    lock = getattr(cursor, "lock_element", None)
    if lock is None or getattr(dg, "_root_container", None) is None:
        return st.empty()
    slot = DeltaGenerator(root_container=dg._root_container, cursor=lock(), parent=dg)
    slot.container()
    return slot


def yield_point() -> None:
    """Let Streamlit stop this run here if the user has moved another control, without drawing anything.

    Why: the browser re-renders on every element the script sends (re-sending an unchanged progress bar ten
    times a second cost the browser about a third of a second of CPU per redraw, on the cores the runs use),
    while Streamlit checks for a newer rerun request whenever the script touches the session state, just as it
    does when it sends an element.
    """
    _ = "members" in ss


def ensemble_with_progress(
    spec: runner.EnsembleSpec, draw: Any = None, first_stage: int | None = None
) -> runner.EnsembleResult:
    """An ensemble from the cache, or computed with progressive drawing (if ``draw``) and a note of its progress.

    The note is a caption until the run has taken :data:`PROGRESS_BAR_AFTER_S`, then a progress bar, sent
    again only when more members are in.
    """
    cache = get_cache()
    hit = cache.get(spec.key)
    if hit is not None:
        return hit
    slot = st.caption(tr("running", total=spec.members))  # the place the bar takes, if it comes
    started = time.monotonic()
    result = None
    stage = first_stage if draw is not None and first_stage is not None else spec.members
    # closing(): when the user moves another slider, Streamlit stops this run at the next element it draws;
    # closing the stream then cancels the tasks of this (now stale) ensemble that have not started.
    shown = None
    with contextlib.closing(runner.stream(spec, get_pool(), first_stage=stage)) as updates:
        for update in updates:
            if update.done != shown and time.monotonic() - started >= PROGRESS_BAR_AFTER_S:
                slot.progress(update.done / update.total, text=tr("progress", done=update.done, total=update.total))
                shown = update.done
            else:
                yield_point()
            if update.result is not None:
                if update.final:
                    result = update.result
                elif draw is not None:
                    draw(update.result, False)
    slot.empty()
    assert result is not None
    cache.put(spec.key, result)
    return result


# ---------------------------------------------------------------------------------------------- tabs


def _scenario_text_for(option: str, current_text: str) -> str:
    return current_text if option == "current" else uistate.scenario_yaml(preset_data(option))


def _option_name(option: str) -> str:
    return tr("compare_current") if option == "current" else tr(f"preset_{option}")


def render_compare(current_text: str) -> None:
    """Two to four scenarios overlaid, with paired differences (same root seed, size, resolution)."""
    options = ["current", *uistate.PRESETS]
    if "cmp_pick" not in ss:
        other = COMPARE_DEFAULT.get(ss.get("last_preset", "pilot"), "baseline")
        ss["cmp_pick"] = ["current", other]
    picks = st.multiselect(
        tr("compare_pick"), options, key="cmp_pick", format_func=frozen_labels(options, _option_name), max_selections=4
    )
    if len(picks) < 2:
        st.info(tr("compare_need_two"))
        return
    ref = st.selectbox(
        tr("compare_reference"),
        picks,
        index=len(picks) - 1 if "current" in picks else 0,
        format_func=frozen_labels(picks, _option_name),
        key=f"cmp_ref_{'_'.join(picks)}",
    )
    results: dict[str, runner.EnsembleResult] = {}
    for option in picks:
        spec = runner.EnsembleSpec(
            _scenario_text_for(option, current_text), int(ss["members"]), int(ss["seed"]), float(ss["resolution"])
        )
        results[_option_name(option)] = ensemble_with_progress(spec)
    order = list(results)
    large = bool(ss.get("workshop"))
    bands = pd.concat([r.bands().assign(scenario=name) for name, r in results.items()], ignore_index=True)
    fan = charts.compare_fans(
        bands,
        {"title": tr("compare_fan_title"), "x": tr("axis_year"), "y": tr("axis_mt"), "legend": tr("scenario_legend")},
        order,
        large,
    )
    show_chart(fan, "compare_emissions", True)
    ecdf = pd.concat([r.peak_year_ecdf().assign(scenario=name) for name, r in results.items()], ignore_index=True)
    show_chart(
        charts.ecdf_chart(
            ecdf,
            {
                "title": tr("compare_ecdf_title"),
                "x": tr("axis_year"),
                "y": tr("axis_p_peaked"),
                "legend": tr("scenario_legend"),
            },
            large=large,
            by="scenario",
            order=order,
        ),
        "compare_ecdf",
        True,
    )
    st.subheader(tr("compare_table"))
    rows = []
    for name, r in results.items():
        h = r.headline()
        s = r.summary()
        rows.append(
            {
                tr("col_scenario"): name,
                tr("col_peak_year"): _year_interval(h),
                tr("col_p_peak"): _pct(h["p_peak_by"]),
                tr("col_2030"): round(h["emissions_2030_median"], 2),
                tr("col_cumulative"): round(float(s["cumulative_mt"].median()), 1),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    ref_name = _option_name(ref)
    st.subheader(tr("paired_title", ref=ref_name))
    st.caption(tr("paired_caption"))
    paired = runner.paired_table(results, ref_name)
    if len(paired):
        table = pd.DataFrame(
            {
                tr("col_scenario"): paired["scenario"],
                tr("col_p_earlier"): paired["p_earlier"].map(_pct),
                tr("col_p_later"): paired["p_later"].map(_pct),
                tr("col_d2030"): [
                    f"{_signed(a, 2)} [{_signed(b, 2)}, {_signed(c, 2)}]"
                    for a, b, c in paired[["d2030_median", "d2030_p5", "d2030_p95"]].to_numpy()
                ],
                tr("col_dcum"): [
                    f"{_signed(a, 0)} [{_signed(b, 0)}, {_signed(c, 0)}]"
                    for a, b, c in paired[["dcum_median", "dcum_p5", "dcum_p95"]].to_numpy()
                ],
            }
        )
        st.dataframe(table, hide_index=True, width="stretch")
        diff = runner.paired_cumulative(results, ref_name)
        others = [n for n in order if n != ref_name]
        hist = charts.paired_histogram(
            diff,
            {
                "title": tr("paired_chart_title", ref=ref_name),
                "x": tr("axis_dcum"),
                "y": tr("axis_runs"),
                "legend": tr("scenario_legend"),
            },
            others,
            large,
        )
        show_chart(hist, "compare_paired", True)


NON_NEGATIVE_INDICES = frozenset({"mu_star", "sigma"})
"""Sensitivity indices that cannot be negative (Morris' mean absolute effect and its spread): their CI whiskers
stop at zero (:func:`ui.charts.index_bars`)."""


def _factor_label(name: str) -> str:
    try:
        return i18n.param_label(registry.get(name), lang(), with_unit=False)
    except KeyError:
        return i18n.group_label(name, lang())


def render_sensitivity(text: str) -> None:
    """A sweep's indices if one is under results/, else a quick Morris screening of this scenario."""
    sweeps = list(dict.fromkeys(runner.find_sweeps(list(SWEEP_ROOTS))))
    options = ["quick", *[str(p) for p in sweeps]]
    choice = st.selectbox(
        tr("sens_source"),
        options,
        index=1 if sweeps else 0,
        format_func=frozen_labels(options, lambda o: tr("sens_quick") if o == "quick" else tr("sens_sweep", path=o)),
        key="sens_source",
    )
    large = bool(ss.get("workshop"))
    if choice != "quick":
        try:
            table = runner.load_indices(Path(choice))
        except (OSError, ValueError) as err:
            st.error(tr("sens_bad_file", path=choice, msg=str(err)))
            return
        outputs = list(dict.fromkeys(table["output"].astype(str)))
        c = st.columns(2)
        output = c[0].selectbox(
            tr("sens_output"),
            outputs,
            format_func=frozen_labels(outputs, _output_label),
            key="sweep_output",
        )
        indices = list(dict.fromkeys(table.loc[table["output"] == output, "index"].astype(str)))
        index = c[1].selectbox(
            tr("sens_index"), indices, index=indices.index("ST") if "ST" in indices else 0, key="sweep_index"
        )
        sub = table[(table["output"] == output) & (table["index"] == index)]
        bars = sub.assign(parameter=sub["parameter"].astype(str).map(_factor_label))[["parameter", "value", "conf"]]
        show_chart(
            charts.index_bars(
                bars,
                {
                    "title": f"{index} · {_output_label(output)}",
                    "x": tr("axis_index"),
                    "y": tr("axis_parameter"),
                    "ci": tr("tooltip_ci95"),
                },
                large,
                lowest=0.0 if index in NON_NEGATIVE_INDICES else None,
            ),
            "sensitivity",
            True,
        )
        return
    if not sweeps:
        st.info(tr("sens_no_sweep"))
    scenario = runner.scenario_from_text(text)
    uncertain = [p.name for p in scenario.uncertain_parameters()]
    if "sens_params" not in ss:
        ss["sens_params"] = [n for n in runner.MORRIS_DEFAULT if n in uncertain]
    c = st.columns([3, 1, 1])
    names = c[0].multiselect(
        tr("sens_params"), uncertain, key="sens_params", format_func=frozen_labels(uncertain, _factor_label)
    )
    if "sens_r" not in ss:
        ss["sens_r"] = MORRIS_TRAJECTORIES
    trajectories = c[1].select_slider(tr("sens_trajectories"), [2, 3, 4, 6, 8, 10], key="sens_r")
    output = c[2].selectbox(
        tr("sens_output"),
        list(runner.SENSITIVITY_OUTPUTS),
        format_func=frozen_labels(runner.SENSITIVITY_OUTPUTS, _output_label),
        key="sens_output",
    )
    if len(names) < 2:
        st.info(tr("sens_need_two"))
        return
    res = float(ss["resolution"])
    key = f"morris:{runner.text_key(text)}:{','.join(sorted(names))}:{trajectories}:{ss['seed']}:{res:g}"
    cache = get_cache()
    morris = cache.get(key)
    if morris is None:
        with st.spinner(tr("computing")):
            morris = runner.quick_morris(text, sorted(names), trajectories, int(ss["seed"]), res, get_pool())
        cache.put(key, morris)
    if output in morris["constant"]:
        # Say which outputs can be ranked instead: a scenario that peaks in the base year in every run (the
        # accelerated preset) leaves the peak year, the default output, constant.
        varying = [_output_label(o) for o in runner.SENSITIVITY_OUTPUTS if o not in morris["constant"]]
        others = (
            tr("sens_constant_others", others=tr("list_sep").join(varying)) if varying else tr("sens_constant_none")
        )
        st.warning(tr("sens_constant", output=_output_label(output), value=morris["constant"][output]) + " " + others)
    else:
        table = morris["indices"]
        sub = table[(table["output"] == output) & (table["index"] == "mu_star")]
        bars = sub.assign(parameter=sub["parameter"].astype(str).map(_factor_label))[["parameter", "value", "conf"]]
        show_chart(
            charts.index_bars(
                bars,
                {
                    "title": f"μ* · {_output_label(output)}",
                    "x": tr("axis_index"),
                    "y": tr("axis_parameter"),
                    "ci": tr("tooltip_ci95"),
                },
                large,
                lowest=0.0,
            ),
            "sensitivity",
            True,
        )
    st.caption(tr("sens_note", runs=morris["runs"], res=res))


def render_cost(text: str) -> None:
    """Avoided emissions, fiscal cost, carbon revenue and cost per tonne of each active lever family."""
    res, seed = float(ss["resolution"]), int(ss["seed"])
    key = f"cost:{runner.text_key(text)}:{seed}:{res:g}"
    cache = get_cache()
    table = cache.get(key)
    if table is None:
        with st.spinner(tr("computing")):
            table = runner.lever_costs(text, seed, res, get_pool())
        cache.put(key, table)
    st.caption(tr("cost_caption", seed=seed, res=res))
    if table.empty:
        st.info(tr("cost_none"))
        return
    # A cost per tonne is only meaningful where the family avoids emissions; elsewhere it is left blank.
    per_t = table["cost_per_t_cny"].astype(float).where(table["avoided_mt"].astype(float) > 1e-3)
    table = table.assign(cost_per_t_cny=per_t)
    names = [i18n.family_label(f, lang(), runner.family_first_lever(f)) for f in table["lever"]]
    shown = pd.DataFrame(
        {
            tr("col_family"): names,
            # + 0.0 turns a -0.0 left by rounding a small negative amount into 0 (shown as "-0" otherwise)
            tr("col_avoided"): table["avoided_mt"].round(2) + 0.0,
            tr("col_fiscal"): table["fiscal_cost_mcny"].round(1) + 0.0,
            tr("col_private"): table["private_cost_mcny"].round(1) + 0.0,
            tr("col_revenue"): table["carbon_revenue_mcny"].round(1) + 0.0,
            tr("col_per_t"): table["cost_per_t_cny"].map(lambda v: "—" if pd.isna(v) else f"{v:,.0f}"),
            tr("col_peak_with"): table["peak_year_with"],
            tr("col_peak_without"): table["peak_year_without"],
        }
    )
    # Amounts of money run to thousands of millions: grouped digits, as the cost per tonne already has them.
    money = {
        tr(c): st.column_config.NumberColumn(format="localized") for c in ("col_fiscal", "col_private", "col_revenue")
    }
    st.dataframe(shown, hide_index=True, width="stretch", column_config=money)
    # A family whose figures a known model limitation distorts says so under the table, not only in the docs.
    limits = [
        tr("limitation_line", family=name, text=FAMILY_LIMITATIONS[f][lang()])
        for f, name in zip(table["lever"], names, strict=True)
        if f in FAMILY_LIMITATIONS
    ]
    if limits:
        st.caption("  \n".join(limits))
    large = bool(ss.get("workshop"))
    frame = table.assign(family=names)
    family = {"family": tr("col_family")}
    show_chart(
        charts.cost_bars(
            frame, "avoided_mt", {"title": tr("cost_avoided_title"), "x": tr("axis_avoided"), **family}, large
        ),
        "cost_avoided",
        True,
    )
    show_chart(
        charts.cost_bars(
            frame, "cost_per_t_cny", {"title": tr("cost_per_t_title"), "x": tr("axis_per_t"), **family}, large
        ),
        "cost_per_t",
        True,
    )


# ---------------------------------------------------------------------------------------------- discovery


def _unit_text(p: registry.Parameter) -> str:
    """A unit after a value in a statement: none for shares, nor for years in English ("≤ 2035")."""
    if p.unit == "-" or (p.unit == "year" and lang() == "en"):
        return ""
    return i18n.unit_label(p.unit, lang())


def _lever_label(name: str, with_unit: bool = True) -> str:
    try:
        return i18n.param_label(registry.get(name), lang(), with_unit=with_unit)
    except KeyError:
        return name


def _condition_text(c: uidisc.Condition) -> str:
    """One box limit as a plain statement in the page's language."""
    try:
        unit = _unit_text(registry.get(c.lever))
    except KeyError:
        unit = ""
    label = _lever_label(c.lever, with_unit=False)
    lo, hi = (uidisc.format_value(c.lever, v) for v in uidisc.shown_limits(c))
    if c.lower and c.upper:
        text = tr("disc_between", label=label, lo=lo, hi=hi, unit=unit)
    elif c.lower:
        text = tr("disc_ge", label=label, v=lo, unit=unit)
    else:
        text = tr("disc_le", label=label, v=hi, unit=unit)
    return text.strip()


def _package_items(values: dict[str, float]) -> str:
    return tr("item_sep").join(
        f"{_lever_label(n, with_unit=False)} = {uidisc.format_value(n, v)} {_unit_text(registry.get(n))}".strip()
        for n, v in values.items()
    )


def render_discovery(text: str) -> None:
    """Discovered boxes and the cheapest package of a result folder, loadable into the levers; a quick run."""
    st.caption(tr("disc_intro"))
    pending = ss.pop("disc_pending", None)
    if pending is not None:  # a quick discovery just finished: show its folder (set before the widgets exist)
        ss["disc_source"] = pending
        ss["disc_path"] = ""
    if "disc_loaded" in ss:
        st.success(tr("disc_loaded", what=ss.pop("disc_loaded")))
    if "disc_done" in ss:
        st.success(tr("disc_done", **ss.pop("disc_done")))
    found = [str(p) for p in uidisc.find_results(DISCOVERY_ROOTS)]
    chosen = ss.get("disc_source")
    if chosen and chosen not in found and uidisc.has_results(Path(chosen)):
        found.insert(0, chosen)  # a quick discovery written to a temporary folder
    if chosen and chosen not in found:
        del ss["disc_source"]
    c = st.columns([3, 2])
    choice = c[0].selectbox(tr("disc_source"), found, key="disc_source") if found else None
    # With no folder to pick, the path is the only way in: it takes the first column, under its own label.
    path_column, path_label = (c[1], tr("disc_path")) if found else (c[0], tr("disc_path_only"))
    typed = path_column.text_input(path_label, key="disc_path", help=tr("disc_path_help")).strip()
    folder: Path | None = None
    if typed:
        path = Path(typed).expanduser()
        path = path if path.is_absolute() else Path.cwd() / path
        if uidisc.has_results(path):
            folder = path
        else:
            st.error(tr("disc_path_bad", path=typed))
    elif choice:
        folder = Path(choice)
    elif not found:
        st.info(tr("disc_none"))
    if folder is not None:
        render_discovery_folder(folder)
    render_quick_discovery(text, expanded=folder is None)


def render_discovery_folder(folder: Path) -> None:
    try:
        res = uidisc.load(folder)
    except (OSError, ValueError) as err:
        st.error(tr("disc_bad", path=str(folder), msg=str(err)))
        return
    if res.n_runs and res.resolution:
        st.caption(tr("disc_meta", name=res.scenario_name or "?", runs=res.n_runs, res=res.resolution))
    if res.boxes is not None:
        render_boxes(res)
    if res.target is not None:
        render_target(res.target, res.scenario_name)


def render_boxes(res: uidisc.DiscoveryFolder) -> None:
    year = res.peak_by or runner.TARGET_YEAR
    st.subheader(tr("disc_boxes_title", year=year))
    boxes = res.boxes or []
    if not boxes:
        st.info(tr("disc_no_boxes"))
        return
    for b in boxes:
        conds = tr("disc_and").join(_condition_text(c) for c in b.conditions) or tr("disc_any")
        sentence = tr(
            "disc_box_sentence", conds=conds, year=year, density=_pct(b.density), coverage=_pct(b.coverage), n=b.n_runs
        )
        st.markdown(f"**{tr('disc_box', k=b.box)}.** {sentence}")
    table = pd.DataFrame(
        {
            tr("col_box"): [tr("disc_box", k=b.box) for b in boxes],
            tr("col_density"): [100 * b.density for b in boxes],
            tr("col_coverage"): [100 * b.coverage for b in boxes],
            tr("col_box_runs"): [b.n_runs for b in boxes],
        }
    )
    bar = {
        col: st.column_config.ProgressColumn(col, min_value=0.0, max_value=100.0, format="%.0f%%")
        for col in (tr("col_density"), tr("col_coverage"))
    }
    st.dataframe(table, hide_index=True, width="stretch", column_config=bar)
    st.caption(tr("disc_box_caption", year=year))
    ids = [b.box for b in boxes]
    c = st.columns([1, 3], vertical_alignment="bottom")
    pick = c[0].selectbox(
        tr("disc_pick_box"), ids, key="disc_box", format_func=frozen_labels(ids, lambda k: tr("disc_box", k=k))
    )
    box = next(b for b in boxes if b.box == pick)
    package = uidisc.box_package(box, res.ranges)
    c[1].caption(tr("disc_box_loads", items=_package_items(package)))
    st.button(
        tr("disc_load"),
        key="disc_load_box",
        on_click=on_load_package,
        args=(package, tr("disc_loaded_box", k=box.box)),
        help=tr("disc_load_box_help"),
        disabled=not package,
        icon=":material/input:",
    )


def render_target(target: uidisc.TargetView, scenario_name: str | None) -> None:
    st.subheader(tr("disc_target_title"))
    year = target.peak_by or runner.TARGET_YEAR
    if target.peak_by is not None and target.probability_target is not None:
        st.caption(tr("disc_target_text", year=year, p=_pct(target.probability_target)))
    elif target.target_text:
        st.caption(tr("disc_target_raw", text=target.target_text))
    if target.package is None:
        st.warning(tr("disc_target_none", runs=target.runs_spent))
        return
    lo, hi = target.ci or (float("nan"), float("nan"))
    st.markdown(
        tr(
            "disc_target_summary",
            cost=f"{target.cost_mcny:,.0f}" if target.cost_mcny is not None else "?",
            members=target.members or "?",
            year=year,
            p=_pct(target.probability or 0.0),
            lo=_pct(lo),
            hi=_pct(hi),
            runs=target.runs_spent,
        )
    )
    rows = []
    package = {k: v for k, v in target.package.items() if k in {p.name for p in uistate.levers()}}
    for name, value in package.items():
        p = registry.get(name)
        rng = uidisc.lever_range(name, target.ranges)
        unit = _unit_text(p)
        rows.append(
            {
                tr("col_lever"): _lever_label(name),
                tr("col_package"): uidisc.format_value(name, value),
                tr("col_now"): uidisc.format_value(name, float(ss[_lever_key(name)])),
                tr("col_policy"): uidisc.format_value(name, p.default),
                tr("col_searched"): f"{uidisc.format_value(name, rng[0])} – {uidisc.format_value(name, rng[1])} {unit}",
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.button(
        tr("disc_load"),
        key="disc_load_target",
        on_click=on_load_package,
        args=(package, tr("disc_loaded_package")),
        help=tr("disc_load_target_help"),
        type="primary",
        icon=":material/input:",
    )
    cand = target.candidates
    needed = {"cost_mcny", "probability", "ci_low", "ci_high", "feasible"}
    if cand is not None and len(cand) and needed <= set(cand.columns):
        names = [n for n in package if n in cand.columns]
        best = (cand[names] - pd.Series(package)[names]).abs().max(axis=1) < 1e-9 if names else False
        frame = cand.assign(
            status=cand["feasible"].map(lambda ok: tr("disc_cand_ok") if ok else tr("disc_cand_miss")),
            best=best,
        ).replace([math.inf, -math.inf], float("nan"))
        frame = frame.dropna(subset=["cost_mcny", "probability"])
        chart = charts.candidates_chart(
            frame,
            {
                "title": tr("disc_cand_title"),
                "x": tr("axis_cost_mcny"),
                "y": tr("axis_p_target", year=year),
                "legend": tr("disc_cand_legend"),
                "target": _pct(target.probability_target) if target.probability_target else "",
                "ci_low": tr("tooltip_ci_low"),
                "ci_high": tr("tooltip_ci_high"),
            },
            target.probability_target,
            bool(ss.get("workshop")),
        )
        show_chart(chart, "target_candidates", True)


def _discovery_lever_options() -> list[str]:
    """Levers the quick discovery may vary: every registry lever not driven by a year/value schedule."""
    scheduled = set(ss["schedules"])
    carbon_path = uistate.CARBON_PRICE_SCHEDULE in scheduled
    return [
        p.name
        for p in uistate.levers()
        if p.name not in scheduled and not (carbon_path and p.name.startswith("carbon_price_"))
    ]


def render_quick_discovery(text: str, expanded: bool) -> None:
    """``sim.discovery.discover`` on the current settings, on the app's pool, with a progress bar."""
    with st.expander(tr("disc_run_title"), expanded=expanded):
        res, seed = float(ss["resolution"]), int(ss["seed"])
        st.caption(tr("disc_run_caption", res=res, seed=seed))
        options = _discovery_lever_options()
        if "disc_levers" not in ss:
            ss["disc_levers"] = [n for n in DISCOVERY_LEVERS if n in options]
        else:
            ss["disc_levers"] = [n for n in ss["disc_levers"] if n in options]
        if "disc_runs" not in ss:
            ss["disc_runs"] = DISCOVERY_RUNS
        if "disc_peak_by" not in ss:
            ss["disc_peak_by"] = runner.TARGET_YEAR
        c = st.columns([4, 2, 1])
        names = c[0].multiselect(
            tr("disc_levers"),
            options,
            key="disc_levers",
            max_selections=4,
            format_func=frozen_labels(options, _lever_label),
        )
        runs = c[1].select_slider(tr("disc_runs"), sorted({*DISCOVERY_RUN_CHOICES, DISCOVERY_RUNS}), key="disc_runs")
        peak_by = c[2].number_input(tr("disc_peak_by"), min_value=2025, max_value=2060, step=1, key="disc_peak_by")
        if len(options) < len(uistate.levers()):
            st.caption(tr("disc_scheduled"))
        if len(names) < 2:
            st.info(tr("disc_need_two"))
        else:
            items = []
            for n in names:
                lo, hi = uidisc.lever_range(n)
                unit = _unit_text(registry.get(n))
                items.append(
                    f"{_lever_label(n, with_unit=False)} {uidisc.format_value(n, lo)} – "
                    f"{uidisc.format_value(n, hi)} {unit}".strip()
                )
            st.caption(tr("disc_ranges", items=tr("item_sep").join(items)))
        if not st.button(tr("disc_run"), key="disc_run", disabled=len(names) < 2, icon=":material/travel_explore:"):
            return
        bar = st.progress(0.0, text=tr("disc_progress", done=0, total=runs))

        def on_runs(done: int) -> None:
            if done >= runs:
                bar.progress(1.0, text=tr("disc_prim"))
            else:
                bar.progress(done / runs, text=tr("disc_progress", done=done, total=runs))

        out = uidisc.new_run_folder(RESULTS_DIR)
        try:
            result = uidisc.run_discovery(text, names, runs, out, seed, res, get_pool(), int(peak_by), on_runs)
        except Exception as err:  # a failed run is reported on the page; the app keeps working
            bar.empty()
            st.error(tr("disc_failed", msg=f"{type(err).__name__}: {err}"))
            return
        share = float(result.outcome.mean()) if len(result.outcome) else 0.0
        ss["disc_done"] = {"runs": result.n_runs, "s": result.seconds, "year": int(peak_by), "share": _pct(share)}
        ss["disc_done"]["path"] = str(out)
        ss["disc_pending"] = str(out)
        st.rerun()


# ---------------------------------------------------------------------------------------------- page


def link_notes() -> None:
    """What the link that opened the session could not set, above the results until dismissed.

    Why here and not in the sidebar's share section, where it was: a person who follows an old or mistyped
    link sees the view at once and would not know that part of it is the preset's, not the link's. The notes
    are plain text (``st.code``): they quote the link's values, which must not be read as Markdown. Each is a
    :class:`ui.state.LinkNote`, shown in the page's language.
    """
    notes = ss.get("link_notes") or []
    if not notes:
        return
    with st.container(key="link_notes"):
        st.warning(tr("link_notes", k=len(notes)), icon="⚠️")
        st.code(
            "\n".join(note.text(lang()) for note in notes),
            language=None,
            wrap_lines=True,
        )
        st.button(tr("link_notes_dismiss"), key="link_notes_dismiss", on_click=lambda: ss.pop("link_notes", None))


def main() -> None:
    st.set_page_config(page_title="CityPeak", page_icon="📉", layout="wide", initial_sidebar_state="expanded")
    init_session()
    st.html(WORKSHOP_CSS if ss.get("workshop") else BASE_CSS)

    sidebar_scenario()
    data, base_name = base_scenario()
    base_text = uistate.scenario_yaml(data)
    base_state, base_year, horizon = scenario_info(base_text)
    sidebar_levers(base_year, horizon)
    sidebar_settings()

    state = current_state()
    merged = uistate.apply_levers(data, state, base_state)
    try:
        uistate.build_scenario(merged)
    except ScenarioError as err:
        st.error(tr("scenario_invalid") + "\n\n```\n" + str(err) + "\n```")
        text = ss.get("last_good_text", base_text)
    else:
        text = uistate.scenario_yaml(merged)
        ss["last_good_text"] = text
    stem = str(merged.get("name", "scenario"))

    st.title(tr("app_title"))
    st.caption(tr("app_question") + "  \n" + tr("scenario_line", name=uistate.scenario_title(data, lang())))
    link_notes()
    if ss.get("workshop"):
        workshop_bar()

    tab_ids = list(uistate.TABS)
    labels = [tr(f"tab_{tid}") for tid in tab_ids]
    head = kept_slot()
    note = st.empty()
    status = st.empty()
    spec = runner.EnsembleSpec(text, int(ss["members"]), int(ss["seed"]), float(ss["resolution"]))
    ref_spec = runner.EnsembleSpec(base_text, spec.members, spec.root_seed, spec.resolution)
    at_reference = ref_spec.key == spec.key  # the levers are the preset's own: the ensemble is its own reference
    ref = None if at_reference else get_cache().get(ref_spec.key)
    # The default is part of the tabs' identity: it changes only where the identity changes anyway (a new session
    # opening the link's tab, a language switch). Following the open tab instead made every switch a new widget,
    # which forgot the next click.
    tabs = st.tabs(
        labels, key="tab", on_change="rerun", default=labels[tab_ids.index(ss.get("tab_default", "results"))]
    )
    open_id = next((tid for tid, tab in zip(tab_ids, tabs, strict=True) if tab.open), "results")
    ss["tab_id"] = open_id

    # The link and the sidebar's share section before the ensemble runs: drawn at the end, they stood stale
    # (fading) in the browser all through every redraw.
    settings = uistate.Settings(
        preset=ss["preset"],
        lang=lang(),
        members=int(ss["members"]),
        resolution=float(ss["resolution"]),
        seed=int(ss["seed"]),
        workshop=bool(ss.get("workshop")),
        tab=open_id,
    )
    query = uistate.encode_query(settings, state, base_state, DEFAULTS)
    if query != st.query_params.to_dict():
        st.query_params.from_dict(query)
    sidebar_share(query, text, stem)
    with tabs[0]:
        if open_id == "results":
            if "sector_view" not in ss:
                ss["sector_view"] = "mean"
            st.segmented_control(
                tr("sector_stat"),
                ["mean", "median_run"],
                format_func=frozen_labels(["mean", "median_run"], lambda v: tr(f"sector_{v}")),
                key="sector_view",
                required=True,
            )
        body = kept_slot()

    def draw(res: runner.EnsembleResult, final: bool) -> None:
        with head.container():
            render_headline(res, ref, base_name)
        if final:
            note.empty()
        else:
            note.caption(tr("partial_note", k=res.n, n=spec.members))
        if open_id == "results":
            with body.container():
                render_results(res, ref, base_name, final, text, stem, at_reference=at_reference)

    cached = get_cache().get(spec.key) is not None
    first_stage = min(runner.FIRST_STAGE, max(2, spec.members // 5))
    with status:
        result = ensemble_with_progress(spec, draw=draw, first_stage=first_stage)
    draw(result, True)
    with status.container():
        how = tr("run_cached") if cached else tr("run_seconds", s=result.seconds)
        st.caption(tr("run_note", n=result.n, res=spec.resolution, seed=spec.root_seed, how=how))
        if result.failures:
            st.warning(tr("run_failures", k=len(result.failures), n=spec.members, error=result.failures[0][1]))

    if open_id == "compare":
        with tabs[1]:
            render_compare(text)
    elif open_id == "sensitivity":
        with tabs[2]:
            render_sensitivity(text)
    elif open_id == "cost":
        with tabs[3]:
            render_cost(text)
    elif open_id == "discovery":
        with tabs[4]:
            render_discovery(text)


if __name__ == "__main__":  # Streamlit runs the script as __main__; pool workers must not
    main()
