"""Global sensitivity analysis with SALib, built from the parameter registry.

This module is the model-independent half of the analysis: it turns registry entries into a SALib problem,
draws the design for one of six methods, and turns model outputs back into a tidy table of indices. The
model itself enters only through a callable ``evaluate(X) -> Y`` (see :func:`run_analysis`), so the same
code serves a toy function in the tests, one ``CityModel`` run per row, or an ensemble on a cluster.

Methods and what they answer:

- ``sobol``: variance shares, first order ``S1``, total ``ST`` (and ``S2`` on request), Sobol' (2001) with
  the Saltelli et al. (2010) estimators. The reference method; needs ``N (D + 2)`` runs, ``N`` a power of 2.
- ``morris``: elementary effects ``mu``, ``mu_star``, ``sigma`` (Morris 1991; Campolongo et al. 2007).
  Cheap screening with ``(D + 1) N`` runs; ranks, does not apportion variance.
- ``fast``: extended FAST ``S1`` and ``ST`` (Saltelli et al. 1999) on a periodic design of ``N D`` runs.
- ``rbd_fast``: first-order ``S1`` from any sample (Tarantola et al. 2006; Plischke 2010).
- ``delta``: Borgonovo's moment-independent ``delta`` (Plischke et al. 2013) and a binned ``S1``.
- ``pawn``: the PAWN index (Pianosi & Wagener 2015): Kolmogorov-Smirnov distance between conditional and
  unconditional output CDFs; robust for skewed or censored outputs such as the peak year.

Conventions that the rest of CityPeak relies on:

- One registry drives everything: a parameter's bounds and distribution here are the ones the ensemble
  sampler uses, so sensitivity indices describe the same uncertainty as the percentile bands.
- Designs are seeded and reproducible: the same ``(method, problem, n, seed)`` always gives the same
  ``X``; SALib's bootstrap confidence intervals are seeded from the same seed (and SALib analysers that
  reseed NumPy's global generator get it restored afterwards, so calling this module does not perturb
  anybody else's random stream).
- ``conf`` in every table is the half-width of a 95% bootstrap confidence interval (NaN where a method gives
  none). SALib's FAST intervals are known to be unreliable (SALib issue 649): treat them as indicative.
- Failed runs (NaN or inf in ``Y``) are an error, not something to drop: Sobol', Morris and FAST designs
  are structured and lose their meaning with holes in them (``drop_nonfinite=True`` is offered for the
  sample-based methods, whose designs are plain random samples).
- Groups (``S1`` of a whole block such as "prices") are supported by ``sobol`` and ``morris`` only, the two
  SALib methods whose designs and estimators treat a group as one factor.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from SALib.analyze import delta as _delta_analyze
from SALib.analyze import fast as _fast_analyze
from SALib.analyze import morris as _morris_analyze
from SALib.analyze import pawn as _pawn_analyze
from SALib.analyze import rbd_fast as _rbd_fast_analyze
from SALib.analyze import sobol as _sobol_analyze
from SALib.sample import fast_sampler as _fast_sample
from SALib.sample import latin as _latin_sample
from SALib.sample import morris as _morris_sample
from SALib.sample import sobol as _sobol_sample
from SALib.util import ResultDict

from sim import registry
from sim.registry import Parameter

__all__ = [
    "CONF_LEVEL",
    "GROUP_METHODS",
    "METHODS",
    "SensitivityResult",
    "analyze",
    "analyze_raw",
    "build_problem",
    "convergence",
    "expected_sample_count",
    "peak_year_output",
    "run_analysis",
    "sample",
    "tidy_indices",
]

METHODS: tuple[str, ...] = ("sobol", "morris", "fast", "rbd_fast", "delta", "pawn")
"""Supported SALib methods; what each answers and costs is in the module docstring."""

GROUP_METHODS: tuple[str, ...] = ("sobol", "morris")
"""Methods whose SALib design and estimator treat a group of parameters as one factor."""

CONF_LEVEL = 0.95
"""Confidence level of every ``conf`` column; fixed so tables from different runs compare."""

_SAMPLE_BASED = ("rbd_fast", "delta", "pawn")

_SAMPLE_OPTIONS: dict[str, frozenset[str]] = {
    "sobol": frozenset({"calc_second_order", "scramble"}),
    "morris": frozenset({"num_levels", "optimal_trajectories", "local_optimization"}),
    "fast": frozenset({"M"}),
    "rbd_fast": frozenset(),
    "delta": frozenset(),
    "pawn": frozenset(),
}

_ANALYZE_OPTIONS: dict[str, frozenset[str]] = {
    "sobol": frozenset({"calc_second_order", "num_resamples"}),
    "morris": frozenset({"num_levels", "num_resamples", "scaled"}),
    "fast": frozenset({"M", "num_resamples"}),
    "rbd_fast": frozenset({"M", "num_resamples", "drop_nonfinite"}),
    "delta": frozenset({"num_resamples", "y_resamples", "drop_nonfinite"}),
    "pawn": frozenset({"S", "drop_nonfinite"}),
}

# Warnings SALib raises about parts of its output that this module does not report or documents itself.
# FAST: SALib warns on every call that its bootstrap CIs are unreliable (issue 649); the module docstring
# says so instead. Delta: SALib 1.6 also computes "balanced" and "step" variants (we report the classic
# "raw" estimator, right for a design drawn from the intended distributions) and warns about those.
_BENIGN_SALIB_WARNINGS = (
    "FAST confidence intervals are estimated via bootstrap",
    "Potential Bias Notice",
    "Bin Merge Notice",
    "bins skipped",
)


# ---------------------------------------------------------------------------------------------- problem


def _resolve(params: Sequence[Parameter | str]) -> list[Parameter]:
    resolved: list[Parameter] = []
    for p in params:
        if isinstance(p, Parameter):
            resolved.append(p)
            continue
        try:
            resolved.append(registry.get(p))
        except KeyError as err:
            raise ValueError(err.args[0]) from None
    return resolved


def _salib_distribution(p: Parameter) -> tuple[str, list[float]]:
    """Map one registry distribution to SALib's ``(dist, bounds)`` convention (SALib 1.6).

    SALib's conventions, read from ``SALib.util._nonuniform_scale_samples``:

    - ``unif``: ``[low, high]``.
    - ``triang``: ``[low, high, c]`` with the peak ``c`` as a fraction of the width, so the registry's mode at
      ``default`` is ``c = (default - low) / (high - low)``. SALib rejects ``c == 1`` (it requires
      ``c < 1``), so a mode at the upper bound is moved one part in 10^9 below it, which changes no sample
      measurably. SALib also rejects an upper bound below zero (its check reads ``upper < 0`` where it
      means a negative width); such an entry raises here rather than deep inside sampling.
    - ``truncnorm``: ``[low, high, mean, sd]``, the registry's normal centred on ``default`` and truncated to
      its bounds, exactly as the ensemble sampler reads it.
    - lognormal: SALib's ``lognorm`` takes log-space mean and sd and is unbounded. The registry's lognormal
      has no log-space parameters, and an unbounded law would put samples outside the validated
      ``[low, high]`` range (Morris' grid levels 0 and 1 would map to 0 and infinity). It falls back to
      ``unif`` on ``[low, high]``: the indices then describe the parameter's range, not its density.
    """
    width = p.high - p.low
    if p.distribution == "uniform" or p.distribution == "lognormal":
        return "unif", [float(p.low), float(p.high)]
    if p.distribution == "triangular":
        if p.high < 0:
            raise ValueError(
                f"parameter '{p.name}': SALib 1.6 rejects triangular distributions whose upper bound is "
                f"negative ({p.high}); express the parameter as a positive magnitude or make it uniform"
            )
        c = min((p.default - p.low) / width, 1.0 - 1e-9)
        return "triang", [float(p.low), float(p.high), float(c)]
    if p.distribution == "normal":
        return "truncnorm", [float(p.low), float(p.high), float(p.default), float(p.sd)]
    raise ValueError(f"parameter '{p.name}': unknown distribution '{p.distribution}'")


def build_problem(
    params: Sequence[Parameter | str],
    groups: Mapping[str, Sequence[str]] | None = None,
    use_registry_groups: bool = False,
) -> dict:
    """Build a SALib problem dict from registry entries.

    Only uncertainties and levers can be varied: a ``setting`` (model resolution, structural constant)
    changes what the model is, not an input to it, so asking for one is an error.

    Integer parameters (years, counts) are sampled as continuous values like every other; the evaluate
    callable rounds them, so that the design keeps its balance properties.

    Args:
        params: registry entries, or their names (looked up with :func:`sim.registry.get`).
        groups: optional ``{group name: [parameter names]}``. Parameters not listed form a group of their
            own, named after themselves. Sobol' and Morris then report one index per group.
        use_registry_groups: group by each entry's ``group`` field (``demand``, ``prices``, ...).

    Returns:
        ``{"num_vars", "names", "bounds", "dists"}`` plus ``"groups"`` (one group name per parameter) when
        the grouping is not one parameter per group.

    Raises:
        ValueError: unknown name (with the closest registry names), a ``setting``, a duplicate, an entry with
            ``low == high``, an unusable grouping (unknown member, member in two groups, one group only),
            or both ``groups`` and ``use_registry_groups``.
    """
    resolved = _resolve(params)
    if not resolved:
        raise ValueError("build_problem needs at least one parameter")
    names = [p.name for p in resolved]
    seen: set[str] = set()
    for p in resolved:
        if p.name in seen:
            raise ValueError(f"parameter '{p.name}' is listed twice")
        seen.add(p.name)
        if p.kind == "setting":
            raise ValueError(
                f"parameter '{p.name}' is a setting (model resolution or structural constant) and cannot "
                "be varied in a sensitivity analysis"
            )
        if not p.low < p.high:
            raise ValueError(f"parameter '{p.name}' has low == high ({p.low}); nothing to vary")

    dists, bounds = zip(*(_salib_distribution(p) for p in resolved), strict=True)
    problem: dict[str, Any] = {
        "num_vars": len(resolved),
        "names": names,
        "bounds": list(bounds),
        "dists": list(dists),
    }

    if groups is not None and use_registry_groups:
        raise ValueError("give either groups or use_registry_groups, not both")
    membership: list[str] | None = None
    if use_registry_groups:
        membership = [p.group for p in resolved]
    elif groups is not None:
        owner: dict[str, str] = {}
        for group, members in groups.items():
            for member in members:
                if member not in seen:
                    raise ValueError(f"group '{group}' lists '{member}', which is not among the parameters")
                if member in owner:
                    raise ValueError(f"parameter '{member}' is in groups '{owner[member]}' and '{group}'")
                owner[member] = group
        membership = [owner.get(n, n) for n in names]
    if membership is not None and membership != names:
        if len(set(membership)) < 2:
            raise ValueError(
                "all parameters fall in one group: a single group has index 1 by construction and ranks nothing"
            )
        problem["groups"] = membership
    return problem


def _factor_names(problem: Mapping) -> list[str]:
    """Names SALib reports indices for: groups in order of first appearance, else parameters."""
    membership = problem.get("groups") or problem["names"]
    return list(dict.fromkeys(membership))


def _has_groups(problem: Mapping) -> bool:
    membership = problem.get("groups")
    return bool(membership) and list(membership) != list(problem["names"])


def _salib_problem(problem: Mapping) -> dict:
    """A deep copy for SALib, whose samplers write keys (``groups``, ``sample_scaled``) into the dict."""
    return copy.deepcopy(dict(problem))


# ---------------------------------------------------------------------------------------------- sampling


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")


def _check_options(method: str, options: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = set(options) - allowed
    if unknown:
        hint = ", ".join(sorted(allowed)) or "none"
        raise ValueError(f"{what} for '{method}' does not take {', '.join(sorted(unknown))}; options: {hint}")


def _check_groups_supported(method: str, problem: Mapping) -> None:
    if _has_groups(problem) and method not in GROUP_METHODS:
        raise ValueError(
            f"method '{method}' does not support parameter groups (only {', '.join(GROUP_METHODS)} do); "
            "build the problem without groups"
        )


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def _check_n(method: str, n: int, options: Mapping[str, Any]) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise ValueError(f"n must be an integer, got {n!r}")
    if method == "sobol" and not (_is_power_of_two(n) and n >= 2):
        lower = 1 << max(int(n).bit_length() - 1, 1)
        raise ValueError(
            f"sobol needs n (base samples) to be a power of 2 so the Sobol' sequence keeps its balance "
            f"properties; got {n}, try {lower} or {lower * 2}"
        )
    if method == "morris" and n < 2:
        raise ValueError(f"morris needs at least 2 trajectories to estimate sigma; got {n}")
    if method == "fast":
        m = options.get("M", 4)
        if n <= 4 * m**2:
            raise ValueError(f"fast needs n > 4 M^2 = {4 * m**2} samples per parameter (M = {m}); got {n}")
    if method in _SAMPLE_BASED and n < 2:
        raise ValueError(f"{method} needs at least 2 samples; got {n}")


def expected_sample_count(
    method: str,
    problem: Mapping,
    n: int,
    calc_second_order: bool = False,
    optimal_trajectories: int | None = None,
) -> int:
    """Return the exact number of model runs that :func:`sample` will ask for.

    Lets a caller budget the runs (or size a cluster) before drawing anything. With groups, ``G`` (the
    number of groups) replaces ``D`` in the Sobol' and Morris counts, which is why groups make large
    problems affordable.

    Args:
        method: one of :data:`METHODS`.
        problem: from :func:`build_problem`.
        n: base samples (sobol), trajectories (morris), samples per parameter (fast) or samples (others).
        calc_second_order: sobol only; the cross-sampled ``BA`` block doubles the per-factor rows.
        optimal_trajectories: morris only; the number of trajectories kept by Campolongo's selection.

    Returns:
        sobol: ``N (G + 2)``, or ``N (2G + 2)`` with second order; morris: ``(G + 1) N``; fast: ``N D``;
        rbd_fast, delta, pawn: ``N``.
    """
    _check_method(method)
    _check_n(method, n, {})
    g = len(_factor_names(problem))
    d = problem["num_vars"]
    if method == "sobol":
        return n * (2 * g + 2) if calc_second_order else n * (g + 2)
    if method == "morris":
        return (g + 1) * (optimal_trajectories or n)
    if method == "fast":
        return n * d
    return n


def sample(method: str, problem: Mapping, n: int, seed: int, **kw: Any) -> np.ndarray:
    """Draw the design for one method.

    Sobol' uses ``SALib.sample.sobol`` (scrambled Sobol' sequence with Saltelli's cross-sampling), not the
    deprecated ``saltelli`` module; the rows come in blocks of ``G + 2`` (or ``2G + 2``) per base sample.
    ``rbd_fast``, ``delta`` and ``pawn`` accept any sample of the inputs (their SALib analysers say
    "compatible with all samplers"); a Latin hypercube is used because it covers each marginal evenly.

    Args:
        method: one of :data:`METHODS`.
        problem: from :func:`build_problem`.
        n: see :func:`expected_sample_count`.
        seed: seeds the design; the same arguments always give the same rows.
        **kw: sobol: ``calc_second_order`` (default False), ``scramble``; morris: ``num_levels`` (default
            4, even), ``optimal_trajectories``, ``local_optimization``; fast: ``M`` (default 4).

    Returns:
        ``X`` of shape ``(expected_sample_count(...), num_vars)`` in the parameters' own units.

    Raises:
        ValueError: unknown method or option, sobol ``n`` not a power of 2, too small ``n``, or groups with
            a method that cannot use them.
    """
    _check_method(method)
    _check_options(method, kw, _SAMPLE_OPTIONS[method], "sample")
    _check_groups_supported(method, problem)
    _check_n(method, n, kw)
    p = _salib_problem(problem)
    n = int(n)
    if method == "sobol":
        X = _sobol_sample.sample(
            p,
            n,
            calc_second_order=kw.get("calc_second_order", False),
            scramble=kw.get("scramble", True),
            seed=seed,
        )
    elif method == "morris":
        X = _morris_sample.sample(
            p,
            n,
            num_levels=kw.get("num_levels", 4),
            optimal_trajectories=kw.get("optimal_trajectories"),
            local_optimization=kw.get("local_optimization", True),
            seed=seed,
        )
    elif method == "fast":
        X = _fast_sample.sample(p, n, M=kw.get("M", 4), seed=seed)
    else:
        X = _latin_sample.sample(p, n, seed=seed)
    # Every SALib bounds list used here starts with [low, high]. Quantiles 0 and 1 (Morris' end levels,
    # FAST's turning points) can land a rounding error outside them, e.g. a truncated normal's ppf(0) is
    # computed as mean + sd * (low - mean) / sd; clipping keeps every row valid for the schema's checks.
    low, high = np.array([b[:2] for b in problem["bounds"]], dtype=float).T
    return np.clip(X, low, high)


# ---------------------------------------------------------------------------------------------- analysis


def _analysis_seed(seed: int) -> int:
    """A non-zero 32-bit seed derived from ``seed`` for SALib's bootstrap.

    SALib's Sobol', FAST, delta and PAWN analysers test ``if seed:``, so a seed of 0 would silently fall back
    to an unseeded generator; deriving the bootstrap seed through ``SeedSequence`` also keeps it apart from
    the stream that drew the design.
    """
    return int(np.random.SeedSequence([int(seed), 0x5A11B]).generate_state(1)[0]) or 1


@contextlib.contextmanager
def _salib_call() -> Iterator[None]:
    """Run a SALib analyser without side effects on the caller's process.

    SALib's FAST, delta and PAWN analysers reseed NumPy's global generator; delta also replaces
    ``warnings.formatwarning`` and installs a ``"once"`` filter. This restores all three, drops the
    warnings listed in ``_BENIGN_SALIB_WARNINGS`` (about output this module does not report) and re-emits
    any other warning unchanged, so real problems still surface (and fail tests that run with
    ``-W error``).
    """
    rng_state = np.random.get_state()
    formatwarning = warnings.formatwarning
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        np.random.set_state(rng_state)
        warnings.formatwarning = formatwarning
    for w in caught:
        if not any(text in str(w.message) for text in _BENIGN_SALIB_WARNINGS):
            warnings.warn(w.message, w.category, stacklevel=3)


def _as_vector(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one value per run (1-D), got shape {arr.shape}")
    return arr


def _check_xy(
    method: str, problem: Mapping, X: np.ndarray, Y: np.ndarray, output: str, drop_nonfinite: bool
) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != problem["num_vars"]:
        raise ValueError(f"X must have shape (runs, {problem['num_vars']}), got {X.shape}")
    if len(Y) != len(X):
        raise ValueError(f"output '{output}' has {len(Y)} values for {len(X)} rows of X")
    bad = ~np.isfinite(Y)
    if bad.any():
        n_nan = int(np.isnan(Y).sum())
        n_inf = int(bad.sum()) - n_nan
        if drop_nonfinite and method in _SAMPLE_BASED:
            X, Y = X[~bad], Y[~bad]
        else:
            hint = (
                "drop_nonfinite=True drops them (unbiased only if failures do not depend on the inputs)"
                if method in _SAMPLE_BASED
                else f"{method} needs every run of its design; rerun or fix the failed runs"
            )
            raise ValueError(
                f"output '{output}' has {int(bad.sum())} failed runs of {len(Y)} ({n_nan} NaN, {n_inf} inf); " + hint
            )
    if len(Y) > 0 and np.ptp(Y) == 0:
        raise ValueError(
            f"output '{output}' is constant ({Y[0]:g}) across all {len(Y)} runs: there is no variance to "
            "attribute to the parameters"
        )
    return X, Y


def _sobol_second_order(problem: Mapping, n_rows: int, calc_second_order: bool | None) -> bool:
    """Infer whether a Sobol' design carries the second-order block from its row count.

    With ``N`` a power of 2 the two layouts cannot be confused: ``N1 (G + 2) = N2 (2G + 2)`` would need
    ``(2G + 2) / (G + 2)``, which lies strictly between 1 and 2, to be a power of 2.
    """
    g = len(_factor_names(problem))
    fits = {
        second: n_rows % step == 0 and _is_power_of_two(n_rows // step)
        for second, step in ((False, g + 2), (True, 2 * g + 2))
    }
    if calc_second_order is not None:
        if not fits[calc_second_order]:
            step = 2 * g + 2 if calc_second_order else g + 2
            raise ValueError(
                f"{n_rows} runs is not N * {step} with N a power of 2: does calc_second_order="
                f"{calc_second_order} match the sample?"
            )
        return calc_second_order
    if fits[False]:
        return False
    if fits[True]:
        return True
    raise ValueError(
        f"{n_rows} runs is neither N * (G + 2) = N * {g + 2} nor N * (2G + 2) = N * {2 * g + 2} with N a "
        "power of 2: this is not a complete sobol design for this problem"
    )


def analyze_raw(
    method: str, problem: Mapping, X: np.ndarray, Y: np.ndarray, seed: int, output: str = "y", **kw: Any
) -> ResultDict:
    """Run the SALib analyser and return its own result dict, untouched.

    Use this for anything the tidy table leaves out (SALib's ``to_df()``, delta's ``balanced`` variant,
    PAWN's min/max/CV across slides, bootstrap draws).

    Args:
        method: one of :data:`METHODS`.
        problem: the problem the design was drawn from.
        X: the design from :func:`sample`.
        Y: one output value per row of ``X``.
        seed: seeds SALib's bootstrap so confidence intervals are reproducible.
        output: name used in error messages.
        **kw: sobol: ``calc_second_order`` (inferred from the row count when omitted), ``num_resamples``;
            morris: ``num_levels`` (must match the sample, default 4), ``num_resamples``, ``scaled``;
            fast: ``M`` (must match the sample, default 4), ``num_resamples``; rbd_fast: ``M`` (harmonics,
            default 10), ``num_resamples``; delta: ``num_resamples``, ``y_resamples``; pawn: ``S`` (slides,
            default 10). ``drop_nonfinite`` (rbd_fast, delta, pawn) drops failed runs instead of raising.

    Raises:
        ValueError: failed runs (counted), a constant output, a size that does not match the design.
    """
    _check_method(method)
    _check_options(method, kw, _ANALYZE_OPTIONS[method], "analyze")
    _check_groups_supported(method, problem)
    Y = _as_vector(Y, f"output '{output}'")
    X, Y = _check_xy(method, problem, X, Y, output, kw.get("drop_nonfinite", False))
    p = _salib_problem(problem)
    aseed = _analysis_seed(seed)
    resamples = kw.get("num_resamples", 100)
    with _salib_call():
        if method == "sobol":
            second = _sobol_second_order(problem, len(Y), kw.get("calc_second_order"))
            return _sobol_analyze.analyze(
                p, Y, calc_second_order=second, num_resamples=resamples, conf_level=CONF_LEVEL, seed=aseed
            )
        if method == "morris":
            g = len(_factor_names(problem))
            if len(Y) % (g + 1):
                raise ValueError(f"{len(Y)} runs is not a whole number of morris trajectories of {g + 1} rows")
            return _morris_analyze.analyze(
                p,
                X,
                Y,
                num_resamples=resamples,
                conf_level=CONF_LEVEL,
                scaled=kw.get("scaled", False),
                num_levels=kw.get("num_levels", 4),
                seed=aseed,
            )
        if method == "fast":
            if len(Y) % problem["num_vars"]:
                raise ValueError(f"{len(Y)} runs is not N * D = N * {problem['num_vars']}")
            return _fast_analyze.analyze(
                p, Y, M=kw.get("M", 4), num_resamples=resamples, conf_level=CONF_LEVEL, seed=aseed
            )
        if method == "rbd_fast":
            return _rbd_fast_analyze.analyze(
                p, X, Y, M=kw.get("M", 10), num_resamples=resamples, conf_level=CONF_LEVEL, seed=aseed
            )
        if method == "delta":
            return _delta_analyze.analyze(
                p,
                X,
                Y,
                num_resamples=resamples,
                conf_level=CONF_LEVEL,
                seed=aseed,
                y_resamples=kw.get("y_resamples"),
            )
        return _pawn_analyze.analyze(p, X, Y, S=kw.get("S", 10), seed=aseed)


def _filled(values: Any) -> np.ndarray:
    """SALib's Morris returns masked arrays for groups; masked means undefined, i.e. NaN."""
    return np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)


# (index name in the tidy table, SALib key for the value, SALib key for the CI half-width or None)
_INDEX_KEYS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "sobol": (("S1", "S1", "S1_conf"), ("ST", "ST", "ST_conf")),
    "morris": (("mu_star", "mu_star", "mu_star_conf"), ("mu", "mu", None), ("sigma", "sigma", None)),
    "fast": (("S1", "S1", "S1_conf"), ("ST", "ST", "ST_conf")),
    "rbd_fast": (("S1", "S1", "S1_conf"),),
    # "raw" is Borgonovo's delta bootstrapped from the sample as drawn, right for a design drawn from the
    # intended distributions; SALib's "balanced" variant re-weights bins towards a uniform input.
    "delta": (("delta", "delta_raw", "delta_raw_conf"), ("S1", "S1", "S1_conf")),
    "pawn": (("median", "median", None), ("mean", "mean", None), ("maximum", "maximum", None)),
}


def tidy_indices(method: str, problem: Mapping, raw: Mapping, output: str = "y") -> pd.DataFrame:
    """Flatten a SALib result dict into the tidy table :func:`analyze` returns.

    Returns:
        Columns ``output``, ``parameter`` (a group name when the problem has groups), ``parameter_2`` (the
        second factor of an ``S2`` row, else None), ``index``, ``value`` and ``conf`` (95% CI half-width,
        NaN where the method gives none).
    """
    _check_method(method)
    factors = _factor_names(problem)
    rows: list[dict[str, Any]] = []
    for index, value_key, conf_key in _INDEX_KEYS[method]:
        values = _filled(raw[value_key])
        confs = _filled(raw[conf_key]) if conf_key else np.full(len(factors), np.nan)
        for name, value, conf in zip(factors, values, confs, strict=True):
            rows.append({"parameter": name, "parameter_2": None, "index": index, "value": value, "conf": conf})
    if method == "sobol" and "S2" in raw:
        s2, s2_conf = np.asarray(raw["S2"]), np.asarray(raw["S2_conf"])
        for j in range(len(factors)):
            for k in range(j + 1, len(factors)):
                rows.append(
                    {
                        "parameter": factors[j],
                        "parameter_2": factors[k],
                        "index": "S2",
                        "value": s2[j, k],
                        "conf": s2_conf[j, k],
                    }
                )
    table = pd.DataFrame(rows, columns=["parameter", "parameter_2", "index", "value", "conf"])
    table.insert(0, "output", output)
    # pandas' nullable "string" dtype: missing parameter_2 reads as <NA> under pandas 2 and 3 alike.
    text = {"output": "string", "parameter": "string", "parameter_2": "string", "index": "string"}
    return table.astype({**text, "value": float, "conf": float})


def analyze(
    method: str, problem: Mapping, X: np.ndarray, Y: np.ndarray, seed: int, output: str = "y", **kw: Any
) -> pd.DataFrame:
    """Analyse one output and return a tidy table of indices.

    Indices by method: sobol ``S1``, ``ST`` (``S2`` with second order); morris ``mu_star`` (with CI),
    ``mu``, ``sigma`` (NaN for multi-parameter groups, where SALib leaves them undefined); fast ``S1``,
    ``ST``; rbd_fast ``S1``; delta ``delta`` and a binned ``S1``; pawn ``median`` (the usually reported
    PAWN index), ``mean`` and ``maximum`` of the KS statistic across slides.

    Args and raises: as :func:`analyze_raw`.

    Returns:
        See :func:`tidy_indices`.
    """
    raw = analyze_raw(method, problem, X, Y, seed, output=output, **kw)
    return tidy_indices(method, problem, raw, output)


# ---------------------------------------------------------------------------------------------- pipeline


@dataclass
class SensitivityResult:
    """Everything one sensitivity run produced.

    Attributes:
        method: the SALib method.
        problem: the SALib problem dict.
        X: the design, one row per model run.
        Y: ``{output name: values}``, one value per row of ``X``.
        indices: tidy table of all outputs (see :func:`tidy_indices`).
        raw: ``{output name: SALib ResultDict}``.
        n: the ``n`` passed to the sampler.
        seed: the seed of design and bootstrap.
        options: the method options used (sample and analysis).
    """

    method: str
    problem: dict
    X: np.ndarray
    Y: dict[str, np.ndarray]
    indices: pd.DataFrame
    raw: dict[str, ResultDict]
    n: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)


def _outputs_from(evaluated: Any, outputs: Sequence[str] | None, n_rows: int) -> dict[str, np.ndarray]:
    if isinstance(evaluated, Mapping):
        available = dict(evaluated)
        names = list(outputs) if outputs is not None else list(available)
        missing = [o for o in names if o not in available]
        if missing:
            raise ValueError(f"evaluate returned no output {missing}; it returned {sorted(available)}")
    else:
        if outputs is not None and len(outputs) != 1:
            raise ValueError(f"evaluate returned one array but outputs names {len(outputs)}")
        names = list(outputs) if outputs is not None else ["y"]
        available = {names[0]: evaluated}
    if not names:
        raise ValueError("no outputs to analyse")
    result: dict[str, np.ndarray] = {}
    for name in names:
        values = _as_vector(available[name], f"output '{name}'")
        if len(values) != n_rows:
            raise ValueError(f"output '{name}' has {len(values)} values for {n_rows} rows of X")
        result[name] = values
    return result


def run_analysis(
    method: str,
    problem: Mapping,
    evaluate: Callable[[np.ndarray], np.ndarray | Mapping[str, np.ndarray]],
    n: int,
    seed: int,
    outputs: Sequence[str] | None = None,
    **kw: Any,
) -> SensitivityResult:
    """Sample, evaluate once, analyse every output.

    ``evaluate`` gets the whole design in one call so that it can batch, parallelise or send it to a
    cluster as it sees fit (``sim.executors``); it returns one array, or a dict of named outputs (peak
    year, peak level, emissions in 2030, ...), each with one value per row of ``X``. Every output is
    analysed on the same design, which is what makes their indices comparable.

    Args:
        method: one of :data:`METHODS`.
        problem: from :func:`build_problem`.
        evaluate: the model, ``X -> Y``.
        n: see :func:`expected_sample_count`.
        seed: seeds both the design and the bootstrap.
        outputs: which outputs to analyse, in this order (default: all that ``evaluate`` returns, a single
            array being named ``"y"``).
        **kw: options of :func:`sample` and :func:`analyze_raw` for this method; options that both take
            (``calc_second_order``, ``num_levels``, ``M`` for fast) go to both, so the design and the
            estimator always agree.

    Returns:
        A :class:`SensitivityResult` whose ``indices`` table stacks all outputs.
    """
    _check_method(method)
    _check_options(method, kw, _SAMPLE_OPTIONS[method] | _ANALYZE_OPTIONS[method], "run_analysis")
    sample_kw = {k: v for k, v in kw.items() if k in _SAMPLE_OPTIONS[method]}
    analyze_kw = {k: v for k, v in kw.items() if k in _ANALYZE_OPTIONS[method]}
    X = sample(method, problem, n, seed, **sample_kw)
    Y = _outputs_from(evaluate(X.copy()), outputs, len(X))
    raw = {name: analyze_raw(method, problem, X, values, seed, output=name, **analyze_kw) for name, values in Y.items()}
    indices = pd.concat([tidy_indices(method, problem, r, name) for name, r in raw.items()], ignore_index=True)
    return SensitivityResult(
        method=method,
        problem=dict(problem),
        X=X,
        Y=Y,
        indices=indices,
        raw=raw,
        n=int(n),
        seed=seed,
        options=kw,
    )


def convergence(
    method: str,
    problem: Mapping,
    X: np.ndarray,
    Y: np.ndarray,
    seed: int,
    fractions: Sequence[float] = (0.25, 0.5, 1.0),
    output: str = "y",
    **kw: Any,
) -> pd.DataFrame:
    """Re-analyse growing prefixes of one design to show whether the indices have settled.

    If an index still moves between ``N/2`` and ``N`` by more than its confidence interval, the answer
    depends on the sample size and more runs are needed; CI half-widths of a converging estimator shrink
    roughly as ``1/sqrt(N)``.

    Prefixes are valid designs: a Sobol' design is blocked per base sample (rows ``i (G + 2)`` to
    ``(i + 1)(G + 2) - 1`` all derive from base point ``i``), and the first ``2^k`` points of a scrambled
    Sobol' sequence are themselves a balanced Sobol' set, so whole blocks are taken and each prefix must
    hold a power of 2 base samples. A Morris design is a list of independent trajectories. For rbd_fast,
    delta and pawn the first rows of a Latin hypercube are a random sample of the same distributions (no
    longer stratified). FAST's periodic design has no valid prefix and is rejected.

    Args:
        method: sobol, morris, rbd_fast, delta or pawn.
        problem: the problem the design was drawn from.
        X: the full design.
        Y: one output for the full design.
        seed: bootstrap seed (the same for every prefix, so only the data change).
        fractions: shares of the base samples / trajectories / rows to use, each in (0, 1].
        output: output name for the table.
        **kw: analysis options, as :func:`analyze_raw`.

    Returns:
        Tidy table with ``n_base`` (base samples, trajectories or rows in the prefix), ``n_runs`` (rows),
        ``output``, ``parameter``, ``parameter_2``, ``index``, ``value``, ``conf``.
    """
    _check_method(method)
    if method == "fast":
        raise ValueError("fast's periodic design has no valid prefix; convergence needs a larger new sample")
    Y = _as_vector(Y, f"output '{output}'")
    X = np.asarray(X, dtype=float)
    g = len(_factor_names(problem))
    if method == "sobol":
        second = _sobol_second_order(problem, len(Y), kw.get("calc_second_order"))
        rows_per_unit = 2 * g + 2 if second else g + 2
        kw = {**kw, "calc_second_order": second}
    elif method == "morris":
        rows_per_unit = g + 1
    else:
        rows_per_unit = 1
    units = len(Y) // rows_per_unit
    tables = []
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise ValueError(f"fractions must lie in (0, 1], got {fraction}")
        exact = units * fraction
        n_base = round(exact)
        if method == "sobol" and (abs(exact - n_base) > 1e-9 or not (_is_power_of_two(n_base) and n_base >= 2)):
            raise ValueError(
                f"fraction {fraction} of {units} base samples is {units * fraction:g}, not a power of 2 >= 2"
            )
        if method != "sobol" and n_base < 2:
            raise ValueError(f"fraction {fraction} of {units} leaves fewer than 2 units to analyse")
        n_runs = n_base * rows_per_unit
        table = analyze(method, problem, X[:n_runs], Y[:n_runs], seed, output=output, **kw)
        table.insert(0, "n_runs", n_runs)
        table.insert(0, "n_base", n_base)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


# ---------------------------------------------------------------------------------------------- outputs


def peak_year_output(peak_year: Any, peaked: Any, horizon: int) -> np.ndarray:
    """Turn peak years into one analysable number per run.

    A run that has not peaked by the horizon is treated as ``horizon + 1``, a censored value: the true peak
    year is unknown and only known to be later. This keeps every run of the design (Sobol' and Morris
    cannot drop any) and keeps the order "peaks later" right, but compresses all late peaks into one value.
    Variance-based indices of a heavily censored output describe "peaks late or not at all" more than the
    peak year itself; with a large censored share prefer PAWN or delta, and analyse ``peaked`` (0/1) as an
    output of its own.

    Args:
        peak_year: peak year per run; ignored (may be NaN) where ``peaked`` is False.
        peaked: whether the run's emissions peaked by the horizon.
        horizon: last simulated year.

    Returns:
        Float array, ``peak_year`` where peaked, ``horizon + 1`` elsewhere.

    Raises:
        ValueError: shapes differ, or a peaked run has a missing peak year or one after the horizon.
    """
    years = np.asarray(peak_year, dtype=float)
    flags = np.asarray(peaked, dtype=bool)
    if years.shape != flags.shape:
        raise ValueError(f"peak_year has shape {years.shape} but peaked has shape {flags.shape}")
    known = years[flags]
    if not np.isfinite(known).all():
        raise ValueError(f"{int((~np.isfinite(known)).sum())} runs are marked peaked but have no peak year")
    if (known > horizon).any():
        raise ValueError(f"{int((known > horizon).sum())} runs are marked peaked after the horizon {horizon}")
    return np.where(flags, years, float(horizon + 1))
