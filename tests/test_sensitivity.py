"""Tests of the SALib half of the sensitivity analysis, on functions whose answers are known.

Ishigami (a = 7, b = 0.1, inputs uniform on [-pi, pi]) has analytic Sobol' indices (Ishigami & Homma 1990;
Saltelli et al. 2008, "Global Sensitivity Analysis: The Primer", section 4.7):
S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437). The linear function y = 10 x1 + x2 + 0.1 x3 on
[0, 1]^3 has exact elementary effects 10, 1 and 0.1 and a single dominant input.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim import registry
from sim import sensitivity as sa
from sim.registry import Parameter

ISHIGAMI_S1 = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])


def _param(
    name: str,
    low: float = 0.0,
    high: float = 1.0,
    default: float | None = None,
    distribution: str = "uniform",
    sd: float | None = None,
    kind: str = "uncertainty",
    group: str = "test",
) -> Parameter:
    default = (low + high) / 2 if default is None else default
    return Parameter(name, kind, "-", default, low, high, distribution, name, name, group, "test: ad-hoc entry", sd=sd)


def _ishigami(X: np.ndarray) -> np.ndarray:
    return np.sin(X[:, 0]) + 7.0 * np.sin(X[:, 1]) ** 2 + 0.1 * X[:, 2] ** 4 * np.sin(X[:, 0])


def _linear(X: np.ndarray) -> np.ndarray:
    return 10.0 * X[:, 0] + X[:, 1] + 0.1 * X[:, 2]


@pytest.fixture
def ishigami_problem() -> dict:
    return sa.build_problem([_param(f"x{i}", -np.pi, np.pi) for i in (1, 2, 3)])


@pytest.fixture
def linear_problem() -> dict:
    return sa.build_problem([_param(f"x{i}") for i in (1, 2, 3)])


def _values(table: pd.DataFrame, index: str, column: str = "value") -> np.ndarray:
    return table.loc[table["index"] == index, column].to_numpy()


# ------------------------------------------------------------------------------------------- sobol


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sobol_reproduces_analytic_ishigami_indices(ishigami_problem: dict, seed: int) -> None:
    # Tolerance: the 95% CI half-width, or 0.05 where the CI is narrower. At N = 1024 the S1 CIs are
    # ~0.05-0.07 wide, but the ST CIs of x2 and x3 are only ~0.03-0.045, so for those the 0.05 applies.
    result = sa.run_analysis("sobol", ishigami_problem, _ishigami, n=1024, seed=seed)
    table = result.indices
    for index, truth in (("S1", ISHIGAMI_S1), ("ST", ISHIGAMI_ST)):
        estimate, conf = _values(table, index), _values(table, index, "conf")
        assert np.all(np.abs(estimate - truth) <= np.maximum(conf, 0.05)), (index, estimate, conf)
    assert list(table["parameter"].unique()) == ["x1", "x2", "x3"]


@pytest.mark.parametrize(("second_order", "rows_per_base"), [(False, 3 + 2), (True, 2 * 3 + 2)])
def test_sobol_sample_has_exact_saltelli_shape(ishigami_problem: dict, second_order: bool, rows_per_base: int) -> None:
    X = sa.sample("sobol", ishigami_problem, 64, seed=0, calc_second_order=second_order)
    assert X.shape == (64 * rows_per_base, 3)
    assert len(X) == sa.expected_sample_count("sobol", ishigami_problem, 64, calc_second_order=second_order)


def test_second_order_indices_appear_with_both_factor_names(ishigami_problem: dict) -> None:
    result = sa.run_analysis("sobol", ishigami_problem, _ishigami, n=256, seed=0, calc_second_order=True)
    s2 = result.indices[result.indices["index"] == "S2"]
    assert list(zip(s2["parameter"], s2["parameter_2"], strict=True)) == [
        ("x1", "x2"),
        ("x1", "x3"),
        ("x2", "x3"),
    ]
    # x1-x3 is Ishigami's only interaction (S13 = ST1 - S1 = 0.2437).
    assert s2["value"].abs().idxmax() == s2.index[1]
    assert result.indices.loc[result.indices["index"] != "S2", "parameter_2"].isna().all()


def test_analysis_infers_second_order_from_row_count_and_rejects_a_mismatch(ishigami_problem: dict) -> None:
    X = sa.sample("sobol", ishigami_problem, 32, seed=0, calc_second_order=True)
    table = sa.analyze("sobol", ishigami_problem, X, _ishigami(X), seed=0)
    assert "S2" in set(table["index"])
    with pytest.raises(ValueError, match="calc_second_order=False match the sample"):
        sa.analyze("sobol", ishigami_problem, X, _ishigami(X), seed=0, calc_second_order=False)


def test_groups_shrink_the_sobol_sample_and_report_group_indices() -> None:
    params = [_param(f"x{i}", -np.pi, np.pi) for i in (1, 2, 3)]
    grouped = sa.build_problem(params, groups={"x1_and_x3": ["x1", "x3"]})
    assert grouped["groups"] == ["x1_and_x3", "x2", "x1_and_x3"]
    n = 256
    X = sa.sample("sobol", grouped, n, seed=0)
    assert X.shape == (n * (2 + 2), 3)
    assert len(X) < sa.expected_sample_count("sobol", sa.build_problem(params), n)
    table = sa.analyze("sobol", grouped, X, _ishigami(X), seed=0)
    assert list(table["parameter"].unique()) == ["x1_and_x3", "x2"]
    # The group {x1, x3} carries everything but x2: S1 = 1 - S1(x2) = 0.5576.
    assert _values(table, "S1")[0] == pytest.approx(1 - 0.4424, abs=0.1)


def test_registry_groups_give_one_factor_per_registry_section() -> None:
    uncertain = registry.parameters("uncertainty")
    problem = sa.build_problem(uncertain, use_registry_groups=True)
    sections = list(dict.fromkeys(p.group for p in uncertain))
    assert problem["groups"] == [p.group for p in uncertain]
    assert sa.expected_sample_count("sobol", problem, 16) == 16 * (len(sections) + 2)
    assert sa.sample("sobol", problem, 16, seed=0).shape == (16 * (len(sections) + 2), len(uncertain))


@pytest.mark.parametrize("n", [1000, 100, 3])
def test_non_power_of_two_sobol_n_is_a_clear_error(ishigami_problem: dict, n: int) -> None:
    with pytest.raises(ValueError, match="power of 2"):
        sa.sample("sobol", ishigami_problem, n, seed=0)
    with pytest.raises(ValueError, match="power of 2"):
        sa.expected_sample_count("sobol", ishigami_problem, n)


def test_same_seed_gives_same_design_and_indices(ishigami_problem: dict) -> None:
    first = sa.run_analysis("sobol", ishigami_problem, _ishigami, n=128, seed=7)
    second = sa.run_analysis("sobol", ishigami_problem, _ishigami, n=128, seed=7)
    np.testing.assert_array_equal(first.X, second.X)
    pd.testing.assert_frame_equal(first.indices, second.indices)


def test_convergence_ci_widths_shrink_as_base_samples_grow(ishigami_problem: dict) -> None:
    X = sa.sample("sobol", ishigami_problem, 1024, seed=3)
    table = sa.convergence("sobol", ishigami_problem, X, _ishigami(X), seed=3)
    assert sorted(table["n_base"].unique()) == [256, 512, 1024]
    assert set(table["n_runs"]) == {256 * 5, 512 * 5, 1024 * 5}
    mean_width = table.groupby(["index", "n_base"])["conf"].mean().unstack("n_base")
    assert (mean_width.diff(axis=1).iloc[:, 1:] < 0).all().all(), mean_width
    last = table[table["n_base"] == 1024]
    assert np.abs(_values(last, "ST") - ISHIGAMI_ST).max() < 0.05


def test_convergence_rejects_prefixes_that_are_not_powers_of_two(ishigami_problem: dict) -> None:
    X = sa.sample("sobol", ishigami_problem, 64, seed=0)
    with pytest.raises(ValueError, match="not a power of 2"):
        sa.convergence("sobol", ishigami_problem, X, _ishigami(X), seed=0, fractions=(0.3, 1.0))


# ------------------------------------------------------------------------------------------- morris


def test_morris_ranks_the_dominant_parameter_first(linear_problem: dict) -> None:
    result = sa.run_analysis("morris", linear_problem, _linear, n=20, seed=0)
    assert len(result.X) == sa.expected_sample_count("morris", linear_problem, 20) == (3 + 1) * 20
    mu_star = result.indices[result.indices["index"] == "mu_star"].sort_values("value", ascending=False)
    assert list(mu_star["parameter"]) == ["x1", "x2", "x3"]
    # Elementary effects of a linear function on [0, 1] are its coefficients, with no spread.
    np.testing.assert_allclose(_values(result.indices, "mu_star"), [10.0, 1.0, 0.1], rtol=1e-9)
    np.testing.assert_allclose(_values(result.indices, "sigma"), 0.0, atol=1e-9)
    assert np.isnan(_values(result.indices, "mu", "conf")).all()  # SALib gives a CI for mu_star only


def test_morris_groups_count_trajectories_by_group(ishigami_problem: dict) -> None:
    grouped = dict(ishigami_problem, groups=["a", "b", "a"])
    X = sa.sample("morris", grouped, 10, seed=0)
    assert X.shape == ((2 + 1) * 10, 3)
    table = sa.analyze("morris", grouped, X, _ishigami(X), seed=0)
    assert list(table["parameter"].unique()) == ["a", "b"]
    # SALib leaves sigma undefined for a group of several parameters.
    assert np.isnan(_values(table, "sigma")[0])


def test_morris_convergence_uses_whole_trajectories(linear_problem: dict) -> None:
    X = sa.sample("morris", linear_problem, 40, seed=0)
    table = sa.convergence("morris", linear_problem, X, _linear(X), seed=0)
    assert sorted(table["n_base"].unique()) == [10, 20, 40]
    assert set(table["n_runs"]) == {40, 80, 160}
    np.testing.assert_allclose(_values(table, "mu_star"), np.tile([10.0, 1.0, 0.1], 3), rtol=1e-9)


# ------------------------------------------------------------------------------- other methods


@pytest.mark.parametrize(
    ("method", "n", "index"),
    [("delta", 500, "delta"), ("pawn", 500, "median"), ("rbd_fast", 500, "S1"), ("fast", 257, "S1")],
)
def test_method_ranks_the_dominant_parameter_first(linear_problem: dict, method: str, n: int, index: str) -> None:
    result = sa.run_analysis(method, linear_problem, _linear, n=n, seed=1)
    assert len(result.X) == sa.expected_sample_count(method, linear_problem, n)
    values = _values(result.indices, index)
    assert np.argmax(values) == 0
    assert values[0] > 2 * values[1:].max()


def test_methods_without_group_support_refuse_groups(ishigami_problem: dict) -> None:
    grouped = dict(ishigami_problem, groups=["a", "b", "a"])
    with pytest.raises(ValueError, match="does not support parameter groups"):
        sa.sample("delta", grouped, 100, seed=0)


def test_analysis_leaves_global_random_state_and_warning_format_alone(linear_problem: dict) -> None:
    # SALib's delta analyser reseeds NumPy's global generator and replaces warnings.formatwarning.
    np.random.seed(12345)
    expected = np.random.random(3)
    np.random.seed(12345)
    formatwarning = warnings.formatwarning
    X = sa.sample("delta", linear_problem, 300, seed=0)
    sa.analyze("delta", linear_problem, X, _linear(X), seed=0)
    np.testing.assert_array_equal(np.random.random(3), expected)
    assert warnings.formatwarning is formatwarning


# ------------------------------------------------------------------------------------- pipeline


def test_run_analysis_evaluates_once_and_stacks_named_outputs(linear_problem: dict) -> None:
    calls: list[int] = []

    def evaluate(X: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(len(X))
        return {"peak_year": 2025 + 10 * X[:, 1], "emissions_2030_mt": _linear(X), "unused": X[:, 0]}

    result = sa.run_analysis(
        "sobol", linear_problem, evaluate, n=64, seed=0, outputs=["emissions_2030_mt", "peak_year"]
    )
    assert calls == [64 * 5]
    assert list(result.Y) == ["emissions_2030_mt", "peak_year"]
    assert list(result.indices["output"].unique()) == ["emissions_2030_mt", "peak_year"]
    assert set(result.raw) == {"emissions_2030_mt", "peak_year"}
    assert list(result.indices.columns) == ["output", "parameter", "parameter_2", "index", "value", "conf"]
    top = result.indices[result.indices["index"] == "ST"].sort_values("value").groupby("output").tail(1)
    assert dict(zip(top["output"], top["parameter"], strict=True)) == {
        "emissions_2030_mt": "x1",
        "peak_year": "x2",
    }


def test_failed_runs_are_counted_not_dropped(linear_problem: dict) -> None:
    X = sa.sample("sobol", linear_problem, 32, seed=0)
    Y = _linear(X)
    Y[[3, 10, 50]] = np.nan
    Y[7] = np.inf
    with pytest.raises(ValueError, match=r"4 failed runs of 160 \(3 NaN, 1 inf\)"):
        sa.analyze("sobol", linear_problem, X, Y, seed=0)
    with pytest.raises(ValueError, match="drop_nonfinite"):
        sa.analyze("sobol", linear_problem, X, Y, seed=0, drop_nonfinite=True)


def test_sample_based_methods_may_drop_failed_runs_on_request(linear_problem: dict) -> None:
    X = sa.sample("pawn", linear_problem, 400, seed=0)
    Y = _linear(X)
    Y[:5] = np.nan
    with pytest.raises(ValueError, match="5 failed runs"):
        sa.analyze("pawn", linear_problem, X, Y, seed=0)
    table = sa.analyze("pawn", linear_problem, X, Y, seed=0, drop_nonfinite=True)
    assert np.argmax(_values(table, "median")) == 0


def test_constant_output_is_an_error(linear_problem: dict) -> None:
    with pytest.raises(ValueError, match="output 'peak_year' is constant"):
        sa.run_analysis("morris", linear_problem, lambda X: {"peak_year": np.full(len(X), 2028.0)}, 4, 0)


def test_sampling_does_not_modify_the_problem(linear_problem: dict) -> None:
    before = {k: list(v) if isinstance(v, list) else v for k, v in linear_problem.items()}
    sa.sample("morris", linear_problem, 4, seed=0)
    sa.sample("sobol", linear_problem, 4, seed=0)
    assert linear_problem == before


def test_unknown_method_and_option_are_clear_errors(linear_problem: dict) -> None:
    with pytest.raises(ValueError, match="unknown method 'saltelli'"):
        sa.sample("saltelli", linear_problem, 8, seed=0)
    with pytest.raises(ValueError, match="does not take num_level"):
        sa.sample("morris", linear_problem, 8, seed=0, num_level=6)


# ------------------------------------------------------------------------------- problem building


def test_triangular_registry_entry_samples_inside_bounds_with_mode_at_default() -> None:
    entry = registry.get("gdp_growth_pct_per_yr")
    assert entry.distribution == "triangular"
    problem = sa.build_problem([entry.name])
    c = (entry.default - entry.low) / (entry.high - entry.low)
    assert problem["dists"] == ["triang"]
    assert problem["bounds"] == [[entry.low, entry.high, pytest.approx(c)]]
    x = sa.sample("pawn", problem, 8000, seed=0)[:, 0]
    assert entry.low <= x.min() and x.max() <= entry.high
    # A triangular law puts exactly the share c of its mass below its mode.
    assert np.mean(x <= entry.default) == pytest.approx(c, abs=0.01)
    counts, edges = np.histogram(x, bins=11, range=(entry.low, entry.high))
    peak = np.argmax(counts)
    assert edges[peak] - 1e-9 <= entry.default <= edges[peak + 1] + 1e-9


def test_normal_entry_becomes_a_normal_truncated_to_its_bounds() -> None:
    # The registry has no normal entry yet, so an ad-hoc one stands in.
    entry = _param("capacity_factor", low=0.2, high=0.3, default=0.24, distribution="normal", sd=0.03)
    problem = sa.build_problem([entry, _param("other")])
    assert problem["dists"][0] == "truncnorm"
    assert problem["bounds"][0] == [0.2, 0.3, 0.24, 0.03]
    x = sa.sample("sobol", problem, 1024, seed=0)[:, 0]
    assert x.min() >= 0.2 and x.max() <= 0.3
    assert np.median(x) == pytest.approx(0.2427, abs=0.003)  # scipy truncnorm median for these numbers
    # Morris' grid includes the quantiles 0 and 1: the truncation keeps them finite, at the bounds.
    grid = sa.sample("morris", problem, 20, seed=0)[:, 0]
    assert np.isfinite(grid).all() and grid.min() >= 0.2 and grid.max() <= 0.3


def test_triangular_with_mode_at_upper_bound_is_accepted() -> None:
    problem = sa.build_problem([_param("x", 0.0, 2.0, default=2.0, distribution="triangular"), _param("y")])
    x = sa.sample("sobol", problem, 256, seed=0)[:, 0]
    assert x.max() <= 2.0 and np.mean(x > 1.0) == pytest.approx(0.75, abs=0.03)


def test_triangular_with_negative_upper_bound_is_explained() -> None:
    entry = _param("trend_pct", -6.0, -1.0, default=-3.0, distribution="triangular")
    with pytest.raises(ValueError, match="'trend_pct'.*upper bound is negative"):
        sa.build_problem([entry])


def test_lognormal_falls_back_to_uniform_on_its_bounds() -> None:
    problem = sa.build_problem([_param("cost", 1.0, 4.0, default=2.0, distribution="lognormal"), _param("y")])
    assert problem["dists"][0] == "unif"
    assert problem["bounds"][0] == [1.0, 4.0]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["resolution"], "'resolution' is a setting"),
        (["gdp_growth"], "unknown parameter 'gdp_growth'; did you mean gdp_growth_pct_per_yr"),
        (["wind_capacity_factor", "wind_capacity_factor"], "listed twice"),
        ([], "at least one parameter"),
    ],
)
def test_unusable_parameters_are_rejected_by_name(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sa.build_problem(names)


def test_levers_can_be_varied_but_bad_groupings_cannot() -> None:
    levers = [p.name for p in registry.parameters("lever")]
    assert sa.build_problem(levers)["names"] == levers
    with pytest.raises(ValueError, match="not among the parameters"):
        sa.build_problem(levers[:2], groups={"g": ["gdp_growth_pct_per_yr"]})
    with pytest.raises(ValueError, match="one group"):
        sa.build_problem(levers[:2], groups={"g": levers[:2]})
    with pytest.raises(ValueError, match="not both"):
        sa.build_problem(levers[:2], groups={}, use_registry_groups=True)


@settings(max_examples=40, deadline=None, database=None)
@given(
    low=st.floats(-100, 100),
    width=st.floats(0.01, 100),
    position=st.floats(0, 1),
    distribution=st.sampled_from(["uniform", "triangular", "normal"]),
)
# Found by hypothesis: truncnorm.ppf(0) rounded to 0.0, just below the lower bound 2e-179.
@example(low=2.1823525220847495e-179, width=1.0, position=1.0, distribution="normal")
def test_samples_stay_inside_registry_bounds(low: float, width: float, position: float, distribution: str) -> None:
    high = low + width
    if distribution == "triangular" and high < 0:
        low, high = -high, -low  # SALib 1.6 cannot express a triangular law with a negative upper bound
    default = min(max(low + position * (high - low), low), high)
    entry = _param("p", low, high, default=default, distribution=distribution, sd=(high - low) / 4)
    problem = sa.build_problem([entry, _param("q")])
    for method, n in (("sobol", 8), ("morris", 4)):
        x = sa.sample(method, problem, n, seed=0)[:, 0]
        assert np.all((x >= low) & (x <= high)), (method, x.min(), x.max())


# ------------------------------------------------------------------------------------- peak year


def test_unpeaked_runs_become_horizon_plus_one() -> None:
    out = sa.peak_year_output([2027, np.nan, 2041, 2060], [True, False, True, False], horizon=2060)
    np.testing.assert_array_equal(out, [2027.0, 2061.0, 2041.0, 2061.0])


@pytest.mark.parametrize(
    ("years", "peaked", "message"),
    [
        ([2027, np.nan], [True, True], "marked peaked but have no peak year"),
        ([2070, 2030], [True, True], "after the horizon"),
        ([2030], [True, False], "shape"),
    ],
)
def test_inconsistent_peak_inputs_are_rejected(years: list[float], peaked: list[bool], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sa.peak_year_output(years, peaked, horizon=2060)
