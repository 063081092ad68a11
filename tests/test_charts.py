"""The results tab's charts drawn from validated templates (ui/charts.py) are the Altair charts they replace."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import pytest

from ui import charts

LABELS = {
    "title": "Emissions",
    "x": "Year",
    "y": "Mt CO2",
    "band_90": "90%",
    "band_50": "50%",
    "median": "Median",
    "base_year": "Base year",
    "target": "2030",
    "reference": "Reference",
    "legend": "Sector",
}


def _bands(shift: float = 0.0) -> pd.DataFrame:
    years = np.arange(2024, 2061)
    mid = 40 + shift + np.sin(years / 5.0)
    return pd.DataFrame(
        {"year": years, "p5": mid - 4, "p25": mid - 2, "p50": mid, "p75": mid + 2, "p95": mid + 4, "mean": mid}
    )


def _cases(shift: float = 0.0) -> dict[str, charts.ChartSpec]:
    bands = _bands(shift)
    sectors = pd.DataFrame(
        [(y, s, 1.0 + shift + i) for y in range(2024, 2061) for i, s in enumerate(["Power", "Industry"])],
        columns=["year", "sector", "emissions_mt"],
    )
    dist = pd.DataFrame(
        {"outcome": ["2028", "2029", "2030", "2031", "not peaked"], "probability": [0.1, 0.2, 0.3, 0.2, 0.2]}
    )
    ecdf = pd.DataFrame({"year": np.arange(2024, 2061), "p_peaked_by_year": np.linspace(0, 0.9 - shift / 100, 37)})
    return {
        "fan": charts.fan_chart(bands, LABELS, 2024, reference=_bands(1.0)),
        "fan_workshop": charts.fan_chart(bands, LABELS, 2024, large=True),
        "sectors": charts.sector_area(sectors, LABELS, ["Power", "Industry"]),
        "peaks": charts.peak_histogram(dist, LABELS),
        "ecdf": charts.ecdf_chart(ecdf, LABELS),
        "ecdf_by": charts.ecdf_chart(ecdf.assign(scenario="A"), LABELS, by="scenario"),
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    """The frame as Altair inlines it."""
    return json.loads(json.dumps(alt.utils.sanitize_pandas_dataframe(frame).to_dict(orient="records")))


def _inline_spec(chart: alt.TopLevelMixin) -> dict:
    """What ``st.altair_chart`` drew before: the chart's own spec, under the "none" theme, data inline."""
    with alt.theme.enable("none"):
        return chart.to_dict()


@pytest.mark.parametrize("name", list(_cases()))
def test_template_spec_is_the_altair_charts_spec_with_its_data_as_named_datasets(name: str) -> None:
    chart = _cases()[name]
    spec = chart.spec()
    inline = _inline_spec(chart.altair())
    # Each inline dataset is one of the chart's frames; name it as the template does.
    names = {}
    for inline_name, values in inline.pop("datasets").items():
        matches = [n for n, frame in chart.data.items() if _records(frame) == json.loads(json.dumps(values))]
        assert matches, f"{name}: dataset {inline_name} is none of the chart's frames"
        names[inline_name] = matches[0]
    text = json.dumps(inline)
    for inline_name, template_name in names.items():
        text = text.replace(f'"name": "{inline_name}"', f'"name": "{template_name}"')
    datasets = spec.pop("datasets")
    assert json.loads(text) == spec
    assert set(datasets) == set(chart.data)
    for frame_name, frame in datasets.items():
        assert frame is chart.data[frame_name]


def test_templates_are_built_once_per_labels_and_options_and_take_new_data() -> None:
    first, second = _cases(0.0), _cases(3.0)
    for name in first:
        assert second[name].template is first[name].template or second[name].template == first[name].template
        assert not first[name].data.keys() - second[name].data.keys()
    assert not first["fan"].data["bands"].equals(second["fan"].data["bands"])
    other = charts.fan_chart(_bands(), LABELS | {"title": "排放"}, 2024)
    assert other.template != first["fan_workshop"].template and "排放" in other.spec()["title"]


def test_exported_chart_has_the_data_inline() -> None:
    chart = _cases()["fan"]
    data, ext, _ = charts.export_chart(chart)
    assert ext in ("png", "html") and len(data) > 1000
    assert "datasets" in chart.altair().to_dict()


def test_the_peak_histogram_keeps_one_template_whatever_years_occur_and_draws_the_bars_in_row_order() -> None:
    """A slider move changes which peak years occur; the template (and so the browser's chart) must stay."""
    early = pd.DataFrame({"outcome": ["2026", "2027", "not peaked"], "probability": [0.5, 0.3, 0.2]})
    late = pd.DataFrame({"outcome": ["2031", "2033", "2035", "not peaked"], "probability": [0.2, 0.3, 0.3, 0.2]})
    a, b = charts.peak_histogram(early, LABELS), charts.peak_histogram(late, LABELS)
    assert a.template == b.template
    x = a.spec()["encoding"]["x"]
    assert x["sort"] == {"field": "order", "op": "min"}
    assert list(b.data["peaks"]["order"]) == [0, 1, 2, 3]
    assert list(b.data["peaks"]["outcome"]) == ["2031", "2033", "2035", "not peaked"]


def _fake_fc_list(folder, families: str) -> None:
    """An ``fc-list`` on PATH that prints ``families`` whatever it is asked."""
    script = folder / "fc-list"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{families}'\n")
    script.chmod(0o755)


def test_chinese_charts_download_as_html_where_the_server_has_no_chinese_font(tmp_path, monkeypatch) -> None:
    # vl-convert draws with the server's fonts: without a CJK font every Chinese label of a PNG was an empty box.
    monkeypatch.setenv("PATH", str(tmp_path))
    _fake_fc_list(tmp_path, "")
    charts.has_cjk_font.cache_clear()
    try:
        assert not charts.has_cjk_font()
        assert not charts.png_export("zh")
        assert charts.png_export("en") == charts.has_png_export()
        charts.has_cjk_font.cache_clear()
        _fake_fc_list(tmp_path, "Noto Sans CJK SC")
        assert charts.has_cjk_font() and charts.png_export("zh") == charts.has_png_export()
        charts.has_cjk_font.cache_clear()
        (tmp_path / "fc-list").unlink()  # no fontconfig at all (macOS, Windows): their fonts cover Chinese
        assert charts.has_cjk_font()
    finally:
        charts.has_cjk_font.cache_clear()
    chart = charts.peak_histogram(pd.DataFrame({"outcome": ["2030"], "probability": [1.0]}), LABELS)
    data, ext, mime = charts.export_chart(chart, png=False)
    assert (ext, mime) == ("html", "text/html") and b"<html" in data[:200].lower()


def test_every_peak_year_bar_keeps_its_axis_label() -> None:
    # Streamlit's theme sets labelOverlap on every axis, which judged the slanted years by their upright boxes
    # and dropped every second one; the histogram's own axis must turn that off.
    dist = pd.DataFrame(
        {"outcome": ["2024", "2025", "2027", "2043", "not peaked"], "probability": [0.6, 0.1, 0.2, 0.05, 0.05]}
    )
    axis = charts.peak_histogram(dist, LABELS).spec()["encoding"]["x"]["axis"]
    assert axis["labelOverlap"] is False and axis["labelAngle"] == -45


def test_index_whiskers_stop_at_the_least_value_the_index_can_take() -> None:
    table = pd.DataFrame({"parameter": ["GDP", "Coal price"], "value": [9.0, 0.5], "conf": [16.0, np.nan]})
    labels = {"title": "μ*", "x": "Index", "y": "Parameter", "ci": "± 95% CI"}

    def ends(chart: alt.TopLevelMixin) -> dict[str, tuple[float, float]]:
        rows = next(r for r in chart.to_dict()["datasets"].values() if "lo" in r[0])
        return {r["parameter"]: (r["lo"], r["hi"]) for r in rows}

    assert ends(charts.index_bars(table, labels)) == {"GDP": (-7.0, 25.0), "Coal price": (0.5, 0.5)}
    assert ends(charts.index_bars(table, labels, lowest=0.0)) == {"GDP": (0.0, 25.0), "Coal price": (0.5, 0.5)}


def test_the_compare_ecdf_colours_scenarios_as_the_compare_fan_does() -> None:
    order = ["Current settings", "Current policies", "Accelerated"]  # not alphabetical
    ecdf = pd.DataFrame(
        [(s, y, min(1.0, (y - 2024) / 10)) for s in order for y in range(2024, 2061)],
        columns=["scenario", "year", "p_peaked_by_year"],
    )
    labels = {"title": "P", "x": "Year", "y": "P", "legend": "Scenario"}
    bands = pd.DataFrame([(s, 2024, 1.0, 2.0, 3.0) for s in order], columns=["scenario", "year", "p5", "p50", "p95"])

    def colour_scale(spec: dict) -> dict:
        return next(layer["encoding"]["color"]["scale"] for layer in spec["layer"] if "color" in layer["encoding"])

    fan = colour_scale(charts.compare_fans(bands, labels, order).to_dict())
    ecdf_spec = colour_scale(charts.ecdf_chart(ecdf, labels, by="scenario", order=order).spec())
    assert ecdf_spec["domain"] == fan["domain"] == order
    assert ecdf_spec["range"] == fan["range"]
