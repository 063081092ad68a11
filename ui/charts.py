"""Altair charts of the app, and their export as PNG or HTML.

Charts take tidy frames and already-translated labels, so the same function draws English and Chinese
figures and a workshop can hand out exactly what was on the screen. Colours: a single blue for one
scenario's bands (darker for the inner 50%), a colour-blind-safe categorical palette (Tableau 10) for
sectors and scenarios, and grey dashed rules for the base year and the pilot plan's 2030 deadline.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

BAND_COLOUR = "#4c78a8"
REFERENCE_COLOUR = "#7f7f7f"
PALETTE = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
    "#1f4e79",
    "#8c6d31",
]


Sources = Mapping[str, Any]
"""A chart's data by dataset name: DataFrames, or ``alt.NamedData`` references for a template."""


@dataclass(frozen=True)
class ChartSpec:
    """A chart drawn at every slider move: its Vega-Lite spec with named datasets, and its data.

    Why: building an Altair chart and converting it (``to_dict``, which validates every part against the
    Vega-Lite schema and sanitises every frame) took ~130 ms of the server's CPU for the results tab's four
    charts, at the first stage (while the workers run) and again at the end of every redraw. Only the data
    change between slider moves, so the spec is built and validated once per set of labels and options
    (:func:`_chart_spec`), with its data as named datasets that Streamlit ships as Arrow, and each draw
    fills in the frames.

    Attributes:
        template: the validated spec without data (JSON text; each draw parses its own copy).
        data: the frames by dataset name.
        build: the Altair chart from sources (:data:`Sources`): the template's definition, and the chart for
            export.
    """

    template: str
    data: dict[str, pd.DataFrame]
    build: Callable[[Sources], alt.TopLevelMixin]

    def spec(self) -> dict[str, Any]:
        """The Vega-Lite spec with this chart's frames as its datasets (for ``st.vega_lite_chart``)."""
        spec = json.loads(self.template)
        spec["datasets"] = dict(self.data)
        return spec

    def altair(self) -> alt.TopLevelMixin:
        """The same chart as an Altair object with the data inline (for export)."""
        return self.build(self.data)


_TEMPLATES: OrderedDict[tuple, str] = OrderedDict()
_TEMPLATES_SIZE = 128
_TEMPLATES_LOCK = threading.Lock()
try:  # Altair's theme is global: switch it under the lock st.altair_chart switches it under
    from streamlit.elements.vega_charts import _altair_globals_lock as _theme_lock
except ImportError:  # another Streamlit: our own lock (charts drawn by st.altair_chart may then race)
    _theme_lock = threading.Lock()


@contextlib.contextmanager
def _streamlit_theme() -> Iterator[None]:
    """Altair's "none" theme while a template is converted, as ``st.altair_chart`` converts charts, so that
    the template draws exactly like the chart did (no default 300 x 300 view size)."""
    if alt.theme.active == "default":
        with alt.theme.enable("none"):
            yield
    else:
        yield


def _chart_spec(key: tuple, data: dict[str, pd.DataFrame], build: Callable[[Sources], alt.TopLevelMixin]) -> ChartSpec:
    """A :class:`ChartSpec` from the template of ``key`` (everything but the data that shapes the spec),
    building and validating the template the first time the key is seen."""
    with _TEMPLATES_LOCK:
        template = _TEMPLATES.get(key)
        if template is not None:
            _TEMPLATES.move_to_end(key)
    if template is None:
        with _TEMPLATES_LOCK, _theme_lock, _streamlit_theme():
            chart = build({name: alt.NamedData(name=name) for name in data})
            template = json.dumps(chart.to_dict(validate=True))
            _TEMPLATES[key] = template
            while len(_TEMPLATES) > _TEMPLATES_SIZE:
                _TEMPLATES.popitem(last=False)
    return ChartSpec(template, data, build)


def _key(labels: Mapping[str, str], *options: Any) -> tuple:
    return (tuple(sorted(labels.items())), *options)


@functools.cache
def has_png_export() -> bool:
    """Whether charts can be rendered to PNG offline (``vl-convert-python`` installed).

    Asked once per process: every chart's export button asks (five calls a draw), and the lookup searches
    ``sys.path``, which at the first slider move after a page load took 60 ms for the five calls (profiled,
    while the runs shared the cores). What is installed does not change while the server runs.
    """
    return importlib.util.find_spec("vl_convert") is not None


@functools.cache
def has_cjk_font() -> bool:
    """Whether the server has a font with Chinese glyphs, which vl-convert needs to draw a Chinese chart's text.

    Why: vl-convert renders with the server's own fonts, so on a server without one (a minimal Debian has none
    until ``fonts-noto-cjk`` is installed) every Chinese label of a PNG came out as empty boxes. Asked of
    fontconfig once per process; where there is no fontconfig (macOS, Windows, whose system fonts cover
    Chinese) the answer is yes.
    """
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return True
    try:
        found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return True
    return bool(found.strip())


def png_export(lang: str) -> bool:
    """Whether charts in ``lang`` download as PNG: vl-convert is installed and, for Chinese, a CJK font is there
    (:func:`has_cjk_font`). Otherwise they download as HTML, which the reader's browser draws with its fonts."""
    return has_png_export() and (lang != "zh" or has_cjk_font())


def export_chart(
    chart: alt.TopLevelMixin | ChartSpec, scale: float = 2.0, png: bool | None = None
) -> tuple[bytes, str, str]:
    """Render a chart for download: PNG via vl-convert when installed, else a self-contained HTML page.

    Args:
        png: PNG or HTML (default: PNG when vl-convert is installed); the app passes :func:`png_export`.

    Returns:
        ``(data, extension, mime type)``.
    """
    if isinstance(chart, ChartSpec):
        chart = chart.altair()
    if "width" not in chart.to_dict():  # the app stretches charts to the page; a file needs a size of its own
        chart = chart.properties(width=760)
    if png is None:
        png = has_png_export()
    if png:
        import vl_convert as vlc

        return vlc.vegalite_to_png(chart.to_json(), scale=scale), "png", "image/png"
    return chart.to_html().encode("utf-8"), "html", "text/html"


DESK_HEIGHT = {
    "fan": 340,
    "peak_histogram": 260,
    "sector_area": 300,
    "ecdf": 260,
    "compare_fans": 340,
    "paired_histogram": 260,
    "candidates": 280,
}
"""Chart heights at a desk (px)."""
LARGE_HEIGHT = {
    "fan": 460,
    "peak_histogram": 360,
    "sector_area": 420,
    "ecdf": 380,
    "compare_fans": 460,
    "paired_histogram": 380,
    "candidates": 400,
}
"""Chart heights in workshop mode (px): its large type takes room from the plot (the histogram's slanted year
labels alone ~110 px), and the charts have the page's full width there. At the desk heights the ECDF's plot was
~80 px tall on a projector's 1280 x 720, shorter than its own vertical axis title."""


def _height(chart: str, large: bool) -> int:
    """The height of ``chart`` (a key of :data:`DESK_HEIGHT`), in workshop mode if ``large``."""
    return (LARGE_HEIGHT if large else DESK_HEIGHT)[chart]


def _font_configuration(large: bool) -> alt.Config:
    """Type sizes of axes, legends and titles (larger in workshop mode)."""
    size = 18 if large else 12
    return alt.Config(
        axis=alt.AxisConfig(labelFontSize=size, titleFontSize=size + 1),
        legend=alt.LegendConfig(labelFontSize=size, titleFontSize=size + 1),
        title=alt.TitleConfig(fontSize=size + 4, anchor="start"),
    )


def _font_config(chart: alt.TopLevelMixin, large: bool) -> alt.TopLevelMixin:
    """``chart`` with :func:`_font_configuration`'s type sizes."""
    config = _font_configuration(large)
    return (
        chart.configure_axis(**config.axis.to_dict())
        .configure_legend(**config.legend.to_dict())
        .configure_title(**config.title.to_dict())
    )


def _year_axis(title: str) -> alt.X:
    return alt.X("year:Q", title=title, axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(nice=False))


def fan_chart(
    bands: pd.DataFrame,
    labels: dict[str, str],
    base_year: int,
    target_year: int = 2030,
    reference: pd.DataFrame | None = None,
    large: bool = False,
    height: int | None = None,
) -> ChartSpec:
    """Total emissions across the ensemble: P5-P95 and P25-P75 bands, median, base year and 2030 marked.

    Args:
        bands: ``year, p5, p25, p50, p75, p95`` (from ``EnsembleResult.bands``).
        labels: ``title``, ``x``, ``y``, ``band_90``, ``band_50``, ``median``, ``base_year``, ``target``,
            ``reference`` (legend text of the reference median).
        base_year: the calibrated base year (its value is the inventory, not a projection).
        target_year: the pilot plan's deadline, drawn as a rule.
        reference: optional ``year, p50`` of another ensemble (e.g. the preset before the levers moved),
            drawn dashed, as En-ROADS shows the baseline.
        large: workshop type sizes.
        height: pixels (default: :func:`_height` of ``"fan"``).
    """
    if height is None:
        height = _height("fan", large)
    data = {
        "bands": bands.assign(series_90=labels["band_90"], series_50=labels["band_50"], series_median=labels["median"]),
        "base": pd.DataFrame(
            {"year": [base_year], "value": [float(bands.iloc[0]["p50"])], "text": [labels["base_year"]]}
        ),
        "rule": pd.DataFrame({"year": [target_year], "text": [labels["target"]]}),
    }
    if reference is not None:
        data["reference"] = reference.assign(series=labels["reference"])
    labels = dict(labels)
    key = _key(labels, "fan", reference is not None, large, height)
    return _chart_spec(key, data, lambda sources: _fan_layers(sources, labels, large, height))


def _fan_layers(sources: Sources, labels: dict[str, str], large: bool, height: int) -> alt.TopLevelMixin:
    """The fan chart of :func:`fan_chart` from its sources (``bands``, ``base``, ``rule``, ``reference``)."""
    x = _year_axis(labels["x"])
    y_title = labels["y"]
    legend_items = [labels["band_90"], labels["band_50"], labels["median"]]
    colours = ["#c6dbef", "#6baed6", "#08306b"]
    if "reference" in sources:
        legend_items.append(labels["reference"])
        colours.append(REFERENCE_COLOUR)
    scale = alt.Scale(domain=legend_items, range=colours)
    b = sources["bands"]
    outer = (
        alt.Chart(b)
        .mark_area(opacity=0.8)
        .encode(
            x=x,
            y=alt.Y("p5:Q", title=y_title, scale=alt.Scale(zero=True)),
            y2="p95:Q",
            color=alt.Color("series_90:N", title=None, scale=scale),
            tooltip=[
                alt.Tooltip("year:Q", format="d", title=labels["x"]),
                alt.Tooltip("p5:Q", format=".2f", title="P5"),
                alt.Tooltip("p95:Q", format=".2f", title="P95"),
            ],
        )
    )
    inner = (
        alt.Chart(b)
        .mark_area(opacity=0.9)
        .encode(x=x, y="p25:Q", y2="p75:Q", color=alt.Color("series_50:N", title=None, scale=scale))
    )
    median = (
        alt.Chart(b)
        .mark_line(strokeWidth=3)
        .encode(
            x=x,
            y="p50:Q",
            color=alt.Color("series_median:N", title=None, scale=scale),
            tooltip=[
                alt.Tooltip("year:Q", format="d", title=labels["x"]),
                alt.Tooltip("p50:Q", format=".2f", title=labels["median"]),
                alt.Tooltip("p25:Q", format=".2f", title="P25"),
                alt.Tooltip("p75:Q", format=".2f", title="P75"),
            ],
        )
    )
    layers = [outer, inner, median]
    if "reference" in sources:
        layers.append(
            alt.Chart(sources["reference"])
            .mark_line(strokeDash=[6, 4], strokeWidth=2)
            .encode(x=x, y="p50:Q", color=alt.Color("series:N", title=None, scale=scale))
        )
    base = sources["base"]
    layers.append(alt.Chart(base).mark_point(size=90, filled=True, color="black").encode(x=x, y="value:Q"))
    layers.append(
        alt.Chart(base)
        .mark_text(align="left", dx=8, dy=-10, fontSize=16 if large else 12)
        .encode(x=x, y="value:Q", text="text:N")
    )
    rule = sources["rule"]
    layers.append(alt.Chart(rule).mark_rule(strokeDash=[4, 4], color=REFERENCE_COLOUR).encode(x=x))
    layers.append(
        alt.Chart(rule)
        # At the foot of the rule: at its head the label ran into the base year's, a few years to its left, in
        # the workshop type ("Base year 2024" over "2030").
        .mark_text(
            align="left",
            dx=4,
            dy=-4,
            baseline="bottom",
            y="height",
            color=REFERENCE_COLOUR,
            fontSize=16 if large else 12,
        )
        .encode(x=x, text="text:N")
    )
    # One LayerChart with its properties and configuration, not a chain of copies: Altair deep-copies the whole
    # layered spec at each chained call.
    return alt.LayerChart(
        layer=layers,
        title=labels["title"],
        height=height,
        resolve=alt.Resolve(scale=alt.ScaleResolveMap(color="shared")),
        config=_font_configuration(large),
    )


def sector_area(frame: pd.DataFrame, labels: dict[str, str], order: list[str], large: bool = False) -> ChartSpec:
    """Stacked area of emissions by sector.

    Args:
        frame: ``year, sector, emissions_mt``; ``sector`` already translated.
        labels: ``title``, ``x``, ``y``, ``legend``.
        order: translated sector names, bottom of the stack first.
        large: workshop type sizes.
    """
    f = frame.copy()
    f["order"] = f["sector"].map({s: i for i, s in enumerate(order)})
    labels, order = dict(labels), list(order)
    key = _key(labels, "sectors", tuple(order), large)
    return _chart_spec(key, {"sectors": f}, lambda sources: _sector_area(sources, labels, order, large))


def _sector_area(sources: Sources, labels: dict[str, str], order: list[str], large: bool) -> alt.TopLevelMixin:
    chart = (
        alt.Chart(sources["sectors"])
        .mark_area()
        .encode(
            x=_year_axis(labels["x"]),
            y=alt.Y("emissions_mt:Q", stack="zero", title=labels["y"]),
            color=alt.Color(
                "sector:N", title=labels["legend"], scale=alt.Scale(domain=order, range=PALETTE[: len(order)])
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("year:Q", format="d", title=labels["x"]),
                alt.Tooltip("sector:N", title=labels["legend"]),
                alt.Tooltip("emissions_mt:Q", format=".2f", title=labels["y"]),
            ],
        )
        .properties(title=labels["title"], height=_height("sector_area", large))
    )
    return _font_config(chart, large)


def peak_histogram(
    dist: pd.DataFrame, labels: dict[str, str], target_year: int = 2030, large: bool = False
) -> ChartSpec:
    """Probability of each peak year, with the not-peaked share as its own bar at the right.

    Args:
        dist: ``outcome, probability`` (``sim.stats.peak_year_distribution``; the not-peaked row already
            relabelled).
        labels: ``title``, ``x``, ``y``.
    """
    d = dist.copy()
    d["deadline"] = ["ok" if (str(o).isdigit() and int(o) <= target_year) else "late" for o in d["outcome"].astype(str)]
    # The bars' order (the rows' order: years, then not peaked) is data, not a list in the spec. Why: the years
    # that occur change with every slider move, and a list in the spec made each draw a new template, which
    # the server built and validated again (~10 ms) and the browser embedded anew as a new chart.
    d["order"] = np.arange(len(d))
    labels = dict(labels)
    key = _key(labels, "peak_histogram", large)
    return _chart_spec(key, {"peaks": d}, lambda sources: _peak_histogram(sources, labels, large))


def _peak_histogram(sources: Sources, labels: dict[str, str], large: bool) -> alt.TopLevelMixin:
    chart = (
        alt.Chart(sources["peaks"])
        .mark_bar()
        .encode(
            x=alt.X(
                "outcome:N",
                sort=alt.EncodingSortField(field="order", op="min"),
                title=labels["x"],
                # Every bar keeps its year. Streamlit's theme thins overlapping axis labels, and it judges the
                # slanted labels by their upright bounding boxes, so it dropped every second year even with a
                # few bars wide apart (2024, 2027, 2043 under seven bars). Parallel slanted labels stay apart up to
                # about seventeen bars on a desk screen's chart.
                axis=alt.Axis(labelAngle=-45, labelOverlap=False),
            ),
            y=alt.Y("probability:Q", title=labels["y"], axis=alt.Axis(format="%")),
            color=alt.Color(
                "deadline:N", legend=None, scale=alt.Scale(domain=["ok", "late"], range=["#54a24b", "#9ecae1"])
            ),
            tooltip=[
                alt.Tooltip("outcome:N", title=labels["x"]),
                alt.Tooltip("probability:Q", format=".0%", title=labels["y"]),
            ],
        )
        .properties(title=labels["title"], height=_height("peak_histogram", large))
    )
    return _font_config(chart, large)


def ecdf_chart(
    ecdf: pd.DataFrame,
    labels: dict[str, str],
    target_year: int = 2030,
    large: bool = False,
    by: str | None = None,
    order: Sequence[str] | None = None,
) -> ChartSpec:
    """P(peaked by year) as a step line (one per scenario when ``by`` names a column).

    ``order``: the ``by`` values in legend order, coloured as :func:`compare_fans` colours them for the same
    order. Why: without it Vega sorts the names, so next to the fan chart a scenario changed colour (the
    comparison's "Current settings" blue in one chart and orange in the other).
    """
    labels = dict(labels)
    order = tuple(order) if order is not None else None
    data = {"ecdf": ecdf, "rule": pd.DataFrame({"year": [target_year]})}
    key = _key(labels, "ecdf", large, by, order)
    return _chart_spec(key, data, lambda sources: _ecdf_chart(sources, labels, large, by, order))


def _ecdf_chart(
    sources: Sources, labels: dict[str, str], large: bool, by: str | None, order: tuple[str, ...] | None = None
) -> alt.TopLevelMixin:
    x = _year_axis(labels["x"])
    enc = {
        "x": x,
        "y": alt.Y("p_peaked_by_year:Q", title=labels["y"], axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        "tooltip": [
            alt.Tooltip("year:Q", format="d", title=labels["x"]),
            alt.Tooltip("p_peaked_by_year:Q", format=".0%", title=labels["y"]),
        ],
    }
    if by:
        scale = (
            alt.Scale(range=PALETTE) if order is None else alt.Scale(domain=list(order), range=PALETTE[: len(order)])
        )
        enc["color"] = alt.Color(f"{by}:N", title=labels.get("legend"), scale=scale)
        enc["tooltip"] = [alt.Tooltip(f"{by}:N", title=labels["legend"]), *enc["tooltip"]]
    line = alt.Chart(sources["ecdf"]).mark_line(interpolate="step-after", strokeWidth=3, color=BAND_COLOUR)
    line = line.encode(**enc)
    rule = alt.Chart(sources["rule"]).mark_rule(strokeDash=[4, 4], color=REFERENCE_COLOUR)
    chart = alt.layer(line, rule.encode(x=x)).properties(title=labels["title"], height=_height("ecdf", large))
    return _font_config(chart, large)


def compare_fans(
    bands: pd.DataFrame, labels: dict[str, str], order: list[str], large: bool = False
) -> alt.TopLevelMixin:
    """Several scenarios' P5-P95 bands (translucent) and medians (lines) on one chart.

    Args:
        bands: ``scenario, year, p5, p50, p95``.
        labels: ``title``, ``x``, ``y``, ``legend``.
        order: scenario names in legend order.
    """
    x = _year_axis(labels["x"])
    colour = alt.Color("scenario:N", title=labels["legend"], scale=alt.Scale(domain=order, range=PALETTE[: len(order)]))
    band = (
        alt.Chart(bands)
        .mark_area(opacity=0.18)
        .encode(x=x, y=alt.Y("p5:Q", title=labels["y"]), y2="p95:Q", color=colour)
    )
    line = (
        alt.Chart(bands)
        .mark_line(strokeWidth=3)
        .encode(
            x=x,
            y="p50:Q",
            color=colour,
            tooltip=[
                alt.Tooltip("scenario:N", title=labels["legend"]),
                alt.Tooltip("year:Q", format="d", title=labels["x"]),
                alt.Tooltip("p50:Q", format=".2f", title="P50"),
                alt.Tooltip("p5:Q", format=".2f", title="P5"),
                alt.Tooltip("p95:Q", format=".2f", title="P95"),
            ],
        )
    )
    chart = alt.layer(band, line).properties(title=labels["title"], height=_height("compare_fans", large))
    return _font_config(chart.configure_legend(orient="bottom"), large)


def paired_histogram(
    diff: pd.DataFrame, labels: dict[str, str], order: list[str], large: bool = False
) -> alt.TopLevelMixin:
    """Histogram of paired (same-member) cumulative-emission differences against the reference."""
    colour = alt.Color("scenario:N", title=labels["legend"], scale=alt.Scale(domain=order, range=PALETTE[: len(order)]))
    bars = (
        alt.Chart(diff)
        .mark_bar(opacity=0.7)
        .encode(
            x=alt.X("dcum_mt:Q", bin=alt.Bin(maxbins=30), title=labels["x"]),
            y=alt.Y("count():Q", stack=None, title=labels["y"]),
            color=colour,
        )
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="black").encode(x="x:Q")
    chart = alt.layer(bars, zero).properties(title=labels["title"], height=_height("paired_histogram", large))
    return _font_config(chart.configure_legend(orient="bottom"), large)


def index_bars(
    table: pd.DataFrame, labels: dict[str, str], large: bool = False, lowest: float | None = None
) -> alt.TopLevelMixin:
    """Sensitivity indices as horizontal bars with 95% CI whiskers, largest first.

    Args:
        table: ``parameter`` (translated), ``value``, ``conf`` (CI half-width, may be NaN).
        labels: ``title``, ``x``, ``y``, ``ci`` (the tooltip's name for the CI half-width).
        lowest: the least value the index can take, where the whisker stops. Why: SALib gives Morris' μ* (a
            mean of absolute effects, never negative) a symmetric normal-approximation interval, which with few
            trajectories reaches far below zero; drawn as is, it shows values the index cannot have.
    """
    t = table.copy()
    t["lo"] = t["value"] - t["conf"].fillna(0.0)
    if lowest is not None:
        t["lo"] = t["lo"].clip(lower=lowest)
    t["hi"] = t["value"] + t["conf"].fillna(0.0)
    order = list(t.sort_values("value", ascending=False)["parameter"])
    y = alt.Y("parameter:N", sort=order, title=labels["y"], axis=alt.Axis(labelLimit=360))
    bars = (
        alt.Chart(t)
        .mark_bar(color=BAND_COLOUR, opacity=0.85)
        .encode(
            x=alt.X("value:Q", title=labels["x"]),
            y=y,
            tooltip=[
                alt.Tooltip("parameter:N", title=labels["y"]),
                alt.Tooltip("value:Q", format=".3g", title=labels["x"]),
                alt.Tooltip("conf:Q", format=".2g", title=labels["ci"]),
            ],
        )
    )
    whiskers = alt.Chart(t).mark_rule(color="black", strokeWidth=1.5).encode(x="lo:Q", x2="hi:Q", y=y)
    ends = alt.Chart(t.melt(id_vars=["parameter"], value_vars=["lo", "hi"], value_name="end")).mark_tick(
        color="black", thickness=1.5, size=12
    )
    chart = alt.layer(bars, whiskers, ends.encode(x="end:Q", y=y)).properties(
        title=labels["title"], height=alt.Step(34)
    )
    return _font_config(chart, large)


def cost_bars(table: pd.DataFrame, column: str, labels: dict[str, str], large: bool = False) -> alt.TopLevelMixin:
    """Horizontal bars of one lever-cost column per lever family (NaN rows dropped)."""
    t = table[["family", column]].replace([np.inf, -np.inf], np.nan).dropna()
    order = list(t.sort_values(column, ascending=False)["family"])
    chart = (
        alt.Chart(t)
        .mark_bar()
        .encode(
            x=alt.X(f"{column}:Q", title=labels["x"]),
            y=alt.Y("family:N", sort=order, title=None, axis=alt.Axis(labelLimit=360)),
            color=alt.condition(alt.datum[column] >= 0, alt.value(BAND_COLOUR), alt.value("#e45756")),
            tooltip=[
                alt.Tooltip("family:N", title=labels["family"]),
                alt.Tooltip(f"{column}:Q", format=",.1f", title=labels["x"]),
            ],
        )
        .properties(title=labels["title"], height=alt.Step(24))
    )
    return _font_config(chart, large)


def candidates_chart(
    frame: pd.DataFrame, labels: dict[str, str], target_p: float | None = None, large: bool = False
) -> alt.TopLevelMixin:
    """The packages a target search evaluated: mean cost against probability, with 95% CIs.

    Args:
        frame: ``cost_mcny``, ``probability``, ``ci_low``, ``ci_high``, ``status`` (translated "meets the
            target" / "misses it"), ``best`` (True for the package found).
        labels: ``title``, ``x``, ``y``, ``legend``, ``target`` (text of the probability rule), ``ci_low`` and
            ``ci_high`` (the tooltip's names for the interval's ends).
        target_p: the required probability, drawn as a rule.
    """
    statuses = list(dict.fromkeys(frame["status"]))
    colour = alt.Color(
        "status:N", title=labels["legend"], scale=alt.Scale(domain=statuses, range=["#54a24b", "#bab0ac"])
    )
    x = alt.X("cost_mcny:Q", title=labels["x"], scale=alt.Scale(zero=False))
    y = alt.Y("probability:Q", title=labels["y"], axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]))
    whiskers = alt.Chart(frame).mark_rule(opacity=0.6).encode(x=x, y="ci_low:Q", y2="ci_high:Q", color=colour)
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=70)
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=[
                alt.Tooltip("cost_mcny:Q", format=",.0f", title=labels["x"]),
                alt.Tooltip("probability:Q", format=".0%", title=labels["y"]),
                alt.Tooltip("ci_low:Q", format=".0%", title=labels["ci_low"]),
                alt.Tooltip("ci_high:Q", format=".0%", title=labels["ci_high"]),
            ],
        )
    )
    best = alt.Chart(frame[frame["best"]]).mark_point(size=320, strokeWidth=2.5, color="black").encode(x=x, y=y)
    layers = [whiskers, points, best]
    if target_p is not None:
        rule = pd.DataFrame({"p": [target_p], "text": [labels["target"]]})
        layers.append(alt.Chart(rule).mark_rule(strokeDash=[4, 4], color=REFERENCE_COLOUR).encode(y="p:Q"))
        layers.append(
            alt.Chart(rule)
            .mark_text(align="left", x=4, dy=-8, color=REFERENCE_COLOUR, fontSize=16 if large else 12)
            .encode(y="p:Q", text="text:N")
        )
    chart = alt.layer(*layers).properties(title=labels["title"], height=_height("candidates", large))
    return _font_config(chart.configure_legend(orient="bottom"), large)
