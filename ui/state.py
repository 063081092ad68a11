"""What the user has set, as plain data: preset, lever values, phase-in timing, schedules, URL form.

The app's state is a base scenario (a preset file, or an uploaded one) plus a :class:`LeverState` of
changes. :func:`apply_levers` writes the changes into the merged scenario dict, which is validated with the
scenario schema and dumped as YAML: that text is what the ensemble runs, what the result cache is keyed by
and what "download scenario" gives. So a downloaded file reruns exactly what was on screen, with
``citypeak run`` or ``citypeak ensemble``.

Uploaded files are untrusted input (the server may be exposed to a workshop network): they go through the
same parser as scenario files (:func:`sim.scenario.parse_scenario_bytes`: size cap, UTF-8, nesting depth,
alias expansion such as a "billion laughs" document that is small on the wire and huge in memory, duplicate
keys, plain data only), and may inherit only one of the bundled presets by bare file name, so an upload
cannot make the server read other files.
"""

from __future__ import annotations

import copy
import difflib
import math
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import registry
from sim.registry import Parameter
from sim.scenario import (
    CARBON_PRICE_SCHEDULE,
    Scenario,
    ScenarioError,
    dump_yaml,
    parse_scenario_bytes,
    resolve_inheritance,
    scenario_from_dict,
)
from ui import i18n

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = ROOT / "scenarios"
PRESETS: dict[str, str] = {
    "baseline": "karamay_baseline.yaml",
    "pilot": "karamay_pilot.yaml",
    "accelerated": "karamay_accelerated.yaml",
    "delayed": "karamay_delayed.yaml",
}
"""Preset id -> file in ``scenarios/``; the ids are what links carry (``?preset=pilot``)."""
UPLOAD = "upload"

APP_SOURCE = "app: set in the CityPeak app"
"""Source recorded for a lever value changed in the app (the schema wants a source for every number)."""

RESOLUTIONS: tuple[float, ...] = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
"""Resolutions offered in the app; a run's cost is nearly flat below ~0.01 (fixed Python cost per year)."""


# ---------------------------------------------------------------------------------------------- levers


def levers() -> list[Parameter]:
    """Every lever of the registry, in registry order (the sidebar's order)."""
    return registry.parameters("lever")


def phase_in_levers() -> list[Parameter]:
    """Levers that take a year/value schedule (``extra["phase_in"]``)."""
    return [p for p in levers() if p.extra.get("phase_in")]


def schedule_targets() -> list[str]:
    """Names that ``policies.schedules`` accepts: the phase-in levers and the whole carbon price path."""
    return [p.name for p in phase_in_levers()] + [CARBON_PRICE_SCHEDULE]


def lever_groups() -> dict[str, list[Parameter]]:
    """Levers by registry group, groups in order of first appearance."""
    out: dict[str, list[Parameter]] = {}
    for p in levers():
        out.setdefault(p.group, []).append(p)
    return out


def slider_step(p: Parameter) -> float:
    """A round slider step of about 1/200 of the lever's range (1 for whole-number levers).

    Rounded down to 1, 2 or 5 times a power of ten so values read cleanly and the registry's defaults
    (96 CNY/t, 0.95, 15,000 CNY) sit on the grid.
    """
    if p.integer:
        return 1.0
    span = p.high - p.low
    if span <= 0:
        return 1.0
    raw = span / 200.0
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (5.0, 2.0, 1.0):
        if mult * power <= raw:
            return mult * power
    return power


def snap(p: Parameter, value: float) -> float:
    """``value`` clipped to the lever's bounds (and rounded for whole-number levers)."""
    v = min(max(float(value), p.low), p.high)
    return float(round(v)) if p.integer else v


# ---------------------------------------------------------------------------------------------- scenarios


def preset_path(preset: str) -> Path:
    """The file of a preset id; ``KeyError`` for an unknown id."""
    return SCENARIO_DIR / PRESETS[preset]


def preset_data(preset: str) -> dict:
    """The merged (inheritance resolved) scenario dict of a preset."""
    return resolve_inheritance(preset_path(preset))


def parse_upload(file_name: str, content: bytes) -> dict:
    """Read an uploaded scenario into a merged, validated scenario dict.

    Args:
        file_name: the name the browser sent (used in messages only, never as a path).
        content: the file's bytes.

    Returns:
        The merged scenario dict (presets inherited by name are merged in).

    Raises:
        ScenarioError: too large, not UTF-8, invalid or unsafe YAML (checked as for every scenario file by
            :func:`sim.scenario.parse_scenario_bytes`: nesting, alias expansion, duplicate keys, tags), not a
            mapping, an ``inherits`` that is not a bundled preset, or a schema violation; the message says
            which and where.
    """
    name = Path(file_name).name or "upload.yaml"
    data = parse_scenario_bytes(content, name)
    parent = data.get("inherits")
    if parent is not None:
        if not isinstance(parent, str) or parent not in PRESETS.values():
            allowed = ", ".join(PRESETS.values())
            raise ScenarioError(f"{name}: inherits: {parent!r} is not allowed in an upload; use one of: {allowed}")
        with tempfile.TemporaryDirectory(prefix="citypeak-upload-") as tmp:
            for file in PRESETS.values():
                shutil.copyfile(SCENARIO_DIR / file, Path(tmp) / file)
            path = Path(tmp) / "upload.yaml"
            path.write_bytes(content)
            data = resolve_inheritance(path)
    scenario_from_dict(copy.deepcopy(data), name)
    return data


def scenario_title(data: Mapping[str, Any], lang: str) -> str:
    """The scenario's own title in ``lang`` (falls back to the other language, then its name)."""
    first, second = ("title_zh", "title_en") if lang == "zh" else ("title_en", "title_zh")
    return str(data.get(first) or data.get(second) or data.get("name") or "?")


# ---------------------------------------------------------------------------------------------- lever state


@dataclass
class LeverState:
    """The user's settings on top of a base scenario.

    Attributes:
        values: every lever's value (the slider positions).
        start_year: ``policies.start_year``: phase-in levers start ramping here.
        target_year: ``policies.target_year``: ... and reach their value here.
        schedules: ``policies.schedules``: explicit ``[[year, value], ...]`` per phase-in lever (or the
            whole carbon price path), overriding the ramp.
    """

    values: dict[str, float]
    start_year: int
    target_year: int
    schedules: dict[str, list[list[float]]] = field(default_factory=dict)

    def copy(self) -> LeverState:
        return LeverState(dict(self.values), self.start_year, self.target_year, copy.deepcopy(self.schedules))


def state_from_data(data: Mapping[str, Any]) -> LeverState:
    """The lever state a scenario dict encodes (registry defaults where it sets nothing)."""
    scenario = scenario_from_dict(copy.deepcopy(dict(data)), str(data.get("name", "<scenario>")))
    values = scenario.parameter_values()
    pol = scenario.policies
    return LeverState(
        values={p.name: float(values[p.name]) for p in levers()},
        start_year=int(pol.start_year),
        target_year=int(pol.target_year),
        schedules={k: [[float(y), float(v)] for y, v in pts] for k, pts in pol.schedules.items()},
    )


def _same(a: float, b: float) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def _same_schedule(a: Iterable[Iterable[float]] | None, b: Iterable[Iterable[float]] | None) -> bool:
    pa = [tuple(map(float, x)) for x in a or []]
    pb = [tuple(map(float, x)) for x in b or []]
    return len(pa) == len(pb) and all(
        _same(x, y) for p, q in zip(pa, pb, strict=True) for x, y in zip(p, q, strict=True)
    )


def changed_levers(state: LeverState, base: LeverState) -> list[str]:
    """Levers whose value differs from the base scenario's."""
    return [n for n, v in state.values.items() if n in base.values and not _same(v, base.values[n])]


def apply_levers(data: Mapping[str, Any], state: LeverState, base: LeverState) -> dict:
    """A copy of the scenario dict with the user's changes written in.

    Only what differs from the base is written, so a downloaded file diffs cleanly against its preset; a
    changed lever is recorded with :data:`APP_SOURCE` as its source, since the schema wants one for every
    number.
    """
    out = copy.deepcopy(dict(data))
    out.pop("inherits", None)
    changed = changed_levers(state, base)
    if changed:
        params = dict(out.get("parameters") or {})
        for name in changed:
            value = state.values[name]
            if registry.get(name).integer:
                value = round(value)
            params[name] = {"value": value, "source": APP_SOURCE}
        out["parameters"] = params
    policies = dict(out.get("policies") or {})
    if state.start_year != base.start_year or state.target_year != base.target_year:
        policies["start_year"] = int(state.start_year)
        policies["target_year"] = int(state.target_year)
    names = set(state.schedules) | set(base.schedules)
    if any(not _same_schedule(state.schedules.get(n), base.schedules.get(n)) for n in names):
        policies["schedules"] = {k: [[int(y), float(v)] for y, v in pts] for k, pts in state.schedules.items()}
    if policies:
        out["policies"] = policies
    if changed or out.get("policies") != data.get("policies"):
        name = str(out.get("name", "scenario"))
        out["name"] = name if name.endswith("_app") else f"{name[:76]}_app"
    return out


def scenario_yaml(data: Mapping[str, Any]) -> str:
    """The scenario dict as YAML text (what runs, what is cached on, what is downloaded)."""
    return dump_yaml(data)


def build_scenario(data: Mapping[str, Any]) -> Scenario:
    """Validate a scenario dict; ``ScenarioError`` with the schema's readable message if it is not valid."""
    return scenario_from_dict(copy.deepcopy(dict(data)), str(data.get("name", "<scenario>")))


class ScheduleError(ValueError):
    """A year/value table that cannot be used; ``note`` says why in either language (its ``str`` is English)."""

    def __init__(self, note: LinkNote) -> None:
        super().__init__(str(note))
        self.note = note


def check_schedule(name: str, points: list[list[float]], base_year: int, horizon: int) -> list[list[float]]:
    """Validate a year/value table from the schedule editor and return it sorted by year.

    Raises:
        ScheduleError: empty, a year outside the simulated years, a year twice, or a value outside the lever's
            bounds; the message names the offending entry.
    """
    if name == CARBON_PRICE_SCHEDULE:
        low, high = 0.0, 2000.0
    else:
        p = registry.get(name)
        low, high = p.low, p.high
    clean = []
    for y, v in points:
        if y is None or v is None or not (math.isfinite(float(y)) and math.isfinite(float(v))):
            continue
        clean.append([int(round(float(y))), float(v)])
    if not clean:
        raise ScheduleError(LinkNote("schedule_empty"))
    clean.sort()
    years = [y for y, _ in clean]
    for y in years:
        if not base_year <= y <= horizon:
            raise ScheduleError(LinkNote("schedule_year", year=y, first=base_year, last=horizon))
    dup = sorted({y for y in years if years.count(y) > 1})
    if dup:
        raise ScheduleError(LinkNote("schedule_twice", year=dup[0]))
    for y, v in clean:
        if not low <= v <= high:
            raise ScheduleError(LinkNote("schedule_value", value=f"{v:g}", year=y, low=f"{low:g}", high=f"{high:g}"))
    return clean


# ---------------------------------------------------------------------------------------------- links


@dataclass
class Settings:
    """View settings that travel in a link along with the levers."""

    preset: str = "pilot"
    lang: str = "en"
    members: int = 200
    resolution: float = 0.005
    seed: int = 1
    workshop: bool = False
    tab: str = "results"


TABS: tuple[str, ...] = ("results", "compare", "sensitivity", "cost", "discovery")
SCHEDULE_PREFIX = "s."
"""Query keys ``s.<lever>=2025:0.2;2030:1`` carry schedules; plain lever names carry values."""


def _fmt_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6g}"


def encode_query(settings: Settings, state: LeverState, base: LeverState, defaults: Settings) -> dict[str, str]:
    """The query parameters of a view: settings that differ from the app's defaults, levers and schedules
    that differ from the preset. A link with them reproduces the view; an uploaded scenario has no preset
    id and cannot travel (the caller says so)."""
    q: dict[str, str] = {}
    if settings.preset != UPLOAD:
        q["preset"] = settings.preset
    if settings.lang != defaults.lang:
        q["lang"] = settings.lang
    if settings.members != defaults.members:
        q["n"] = str(settings.members)
    if not _same(settings.resolution, defaults.resolution):
        q["res"] = _fmt_number(settings.resolution)
    if settings.seed != defaults.seed:
        q["seed"] = str(settings.seed)
    if settings.workshop:
        q["ws"] = "1"
    if settings.tab != "results":
        q["tab"] = settings.tab
    if state.start_year != base.start_year or state.target_year != base.target_year:
        q["phase"] = f"{state.start_year}-{state.target_year}"
    for name in changed_levers(state, base):
        q[name] = _fmt_number(state.values[name])
    for name in sorted(set(state.schedules) | set(base.schedules)):
        if not _same_schedule(state.schedules.get(name), base.schedules.get(name)):
            pts = state.schedules.get(name) or []
            q[SCHEDULE_PREFIX + name] = ";".join(f"{int(y)}:{_fmt_number(v)}" for y, v in pts) or "none"
    return q


SETTING_KEYS: tuple[str, ...] = ("preset", "lang", "n", "res", "seed", "ws", "tab")
"""Query keys of the view's settings (:func:`decode_settings`); every other key is a lever, ``phase`` or a
schedule (:func:`decode_levers`)."""


class LinkNote(str):
    """What a link's setting could not do (or why a schedule table is refused, :class:`ScheduleError`), in either
    language: a ``str`` holding the English text (what logs and tests read), and :meth:`text` for the page's
    language.

    Why a ``str``: the notes travel in the session and are compared as plain text; the template and its values
    are kept beside it so that a Chinese page shows them in Chinese (``ui.i18n`` keys ``note_<kind>``).
    """

    kind: str
    fields: dict[str, object]

    def __new__(cls, kind: str, **fields: object) -> LinkNote:
        note = super().__new__(cls, cls._format(kind, fields, "en"))
        note.kind, note.fields = kind, fields
        return note

    def __reduce__(self) -> tuple:
        return _link_note, (self.kind, self.fields)

    def text(self, lang: str) -> str:
        """The note in ``lang``."""
        return self._format(self.kind, self.fields, lang)

    @staticmethod
    def _format(kind: str, fields: Mapping[str, object], lang: str) -> str:
        values = {k: v.text(lang) if isinstance(v, LinkNote) else v for k, v in fields.items()}
        if "unit" in values:  # a share ("-") says its range only
            unit = str(values["unit"])
            shown = "" if unit in ("", "-") else i18n.unit_label(unit, lang)
            values["unit"] = f" {shown}" if shown and lang == "en" else shown
        if "keys" in values:
            values["keys"] = i18n.t("note_or", lang).join(values["keys"])  # type: ignore[arg-type]
        return i18n.t(f"note_{kind}", lang, **values)


def _link_note(kind: str, fields: dict[str, object]) -> LinkNote:
    return LinkNote(kind, **fields)


def decode_settings(query: Mapping[str, str], defaults: Settings) -> tuple[Settings, list[LinkNote]]:
    """Settings from query parameters; bad values keep the default and add a note to the returned list.

    Each note names the key, the value the link gave and what is allowed, and says what the view uses instead:
    a person who follows an old or mistyped link can see what did not carry over and why.
    """
    notes: list[LinkNote] = []
    s = copy.copy(defaults)
    preset = query.get("preset")
    if preset is not None:
        if preset in PRESETS:
            s.preset = preset
        else:
            notes.append(
                LinkNote(
                    "unknown", name="preset", raw=repr(preset), allowed=", ".join(PRESETS), default=defaults.preset
                )
            )
    lang = query.get("lang")
    if lang is not None:
        if lang in ("en", "zh"):
            s.lang = lang
        else:
            notes.append(LinkNote("unknown", name="lang", raw=repr(lang), allowed="en, zh", default=defaults.lang))
    res = registry.get("resolution")
    for key, attr, cast, low, high in (
        ("n", "members", int, 2, 1000),
        ("res", "resolution", float, res.low, res.high),
        ("seed", "seed", int, 0, 2**32 - 1),
    ):
        raw = query.get(key)
        if raw is None:
            continue
        kind = "whole" if cast is int else "number"
        bounds = {"low": f"{low}", "high": f"{high}"} if cast is int else {"low": f"{low:g}", "high": f"{high:g}"}
        default = f"{getattr(defaults, attr):g}"
        try:
            value = cast(raw)
        except ValueError:
            notes.append(LinkNote(f"not_{kind}", name=key, raw=repr(raw), default=default, **bounds))
            continue
        if math.isfinite(value) and low <= value <= high:
            setattr(s, attr, value)
        else:
            notes.append(LinkNote(f"range_{kind}", name=key, raw=repr(raw), default=default, **bounds))
    workshop = query.get("ws")
    if workshop not in (None, "1", "0"):
        notes.append(LinkNote("ws", raw=repr(workshop)))
    s.workshop = workshop == "1"
    tab = query.get("tab")
    if tab in TABS:
        s.tab = tab
    elif tab is not None:
        notes.append(LinkNote("tab", raw=repr(tab), allowed=", ".join(TABS), default=defaults.tab))
    return s, notes


def decode_levers(
    query: Mapping[str, str], base: LeverState, base_year: int, horizon: int
) -> tuple[LeverState, list[LinkNote]]:
    """Lever values, phase-in window and schedules from query parameters, on top of the preset's.

    Unknown names and out-of-range values are skipped with a note rather than rejected: an old link should
    still open, showing what it can. Each note names the key, the value and what is allowed; an unknown key
    also names the keys it may have meant.
    """
    notes: list[LinkNote] = []
    state = base.copy()
    known = {p.name: p for p in levers()}
    for key, raw in query.items():
        if key in SETTING_KEYS:
            continue
        if key == "phase":
            years = {"first": base_year, "last": horizon}
            try:
                a, b = (int(x) for x in raw.split("-"))
            except ValueError:
                notes.append(LinkNote("phase_format", raw=repr(raw), **years))
                continue
            if base_year <= a <= b <= horizon:
                state.start_year, state.target_year = a, b
            else:
                notes.append(LinkNote("phase_range", raw=repr(raw), **years))
        elif key.startswith(SCHEDULE_PREFIX):
            name = key[len(SCHEDULE_PREFIX) :]
            if name not in schedule_targets():
                notes.append(LinkNote("schedule_unknown", name=key, hint=_did_you_mean(key, query_keys())))
                continue
            if raw == "none":
                state.schedules.pop(name, None)
                continue
            try:
                points = [[float(a), float(b)] for a, b in (pt.split(":") for pt in raw.split(";"))]
            except ValueError:
                notes.append(LinkNote("schedule_format", name=key, raw=repr(raw)))
                continue
            try:
                state.schedules[name] = check_schedule(name, points, base_year, horizon)
            except ScheduleError as e:
                notes.append(LinkNote("schedule_invalid", name=key, raw=repr(raw), error=e.note))
        elif key in known:
            p = known[key]
            bounds = {"low": f"{p.low:g}", "high": f"{p.high:g}", "unit": p.unit}
            try:
                value = float(raw)
            except ValueError:
                notes.append(LinkNote("lever_not_number", name=key, raw=repr(raw), **bounds))
                continue
            if math.isfinite(value) and p.low <= value <= p.high:
                state.values[key] = snap(p, value)
            else:
                notes.append(LinkNote("lever_range", name=key, raw=repr(raw), **bounds))
        else:
            notes.append(LinkNote("not_a_key", name=key, raw=repr(raw), hint=_did_you_mean(key, query_keys())))
    return state, notes


def query_keys() -> list[str]:
    """Every key a link may carry: the settings, ``phase``, the levers and the schedules."""
    return [*SETTING_KEYS, "phase", *(p.name for p in levers()), *(SCHEDULE_PREFIX + n for n in schedule_targets())]


_SETTING_NAMES = {"members": "n", "ensemble": "n", "resolution": "res", "language": "lang", "workshop": "ws"}
"""Settings' long names, which a hand-written link may use for their short keys."""


def _did_you_mean(key: str, keys: list[str]) -> LinkNote:
    close = [_SETTING_NAMES[key]] if key in _SETTING_NAMES else difflib.get_close_matches(key, keys, n=3, cutoff=0.6)
    return LinkNote("hint_close", keys=close) if close else LinkNote("hint_none")
