"""Shortcuts the population kernels take around numpy's samplers give numpy's own draws.

The kernels draw some numbers without the sampler call that defines them, because at the app's resolution a
call's fixed cost is most of its price: waiting times from exponentials they draw anyway, and initial
powertrains by the inverse-CDF rule of ``Generator.choice``. Runs then keep their random numbers from
before the shortcut; these tests pin the equality on this numpy, so a numpy whose samplers change is caught
here, by name, instead of as a drift in the reference comparison.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from agents.population import (
    GEOMETRIC_BY_INVERSION_BELOW,
    DrawnByMember,
    PopulationStack,
    choice_by_shares,
    event_years_from_exponentials,
    next_event_years,
)


@pytest.mark.parametrize("p", [1e-4, 0.02, 1 / 15, 0.2, GEOMETRIC_BY_INVERSION_BELOW * 0.999])
def test_waiting_years_from_exponentials_equal_the_generators_geometric_draws(p: float) -> None:
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    from_generator = next_event_years(a, p, 500, after=2030)
    from_exponentials = event_years_from_exponentials(b.standard_exponential(500), p, after=2030)
    np.testing.assert_array_equal(from_exponentials, from_generator)
    assert from_exponentials.dtype == from_generator.dtype
    assert a.bit_generator.state == b.bit_generator.state  # the same numbers consumed


@pytest.mark.parametrize(
    "shares",
    [[0.9, 0.05, 0.03, 0.02, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0], [0.3, 0.0, 0.2, 0.0, 0.25, 0.25]],
)
def test_choice_by_shares_equals_generator_choice(shares: list[float]) -> None:
    p = np.asarray(shares, dtype=float)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    chosen = a.choice(len(p), size=400, p=p / p.sum())
    np.testing.assert_array_equal(choice_by_shares(b, p, 400), chosen)
    assert a.bit_generator.state == b.bit_generator.state


@pytest.mark.parametrize("sampler", ["random", "geometric", "standard_exponential"])
def test_drawn_by_member_gives_each_member_its_own_generators_draws(sampler: str) -> None:
    counts = [3, 0, 17, 1, 9]
    args = (0.07,) if sampler == "geometric" else ()
    own = [np.random.default_rng(40 + m) for m in range(len(counts))]
    stacked = [np.random.default_rng(40 + m) for m in range(len(counts))]
    expected = np.concatenate([getattr(rng, sampler)(*args, k) for rng, k in zip(own, counts, strict=True) if k])
    drawn = DrawnByMember(SimpleNamespace(rngs=stacked), counts)
    np.testing.assert_array_equal(getattr(drawn, sampler)(*args, sum(counts)), expected)
    assert [r.bit_generator.state for r in own] == [r.bit_generator.state for r in stacked]
    with pytest.raises(ValueError):
        getattr(drawn, sampler)(*args, sum(counts) + 1)


def test_member_sums_are_each_members_ndarray_sum() -> None:
    """``np.add.reduce`` (what ``member_sums`` calls) is ``ndarray.sum``'s pairwise sum, to the bit."""
    rng = np.random.default_rng(3)
    n = np.array([0, 1, 7, 8, 9, 130, 1000, 999], dtype=np.int64)
    stack = PopulationStack.__new__(PopulationStack)
    stack.models, stack.n, stack.capacity = [None] * len(n), n, 1024
    values = rng.lognormal(0.0, 4.0, len(n) * stack.capacity)
    rows = values.reshape(len(n), stack.capacity)
    expected = np.array([rows[m, :k].sum() for m, k in enumerate(n.tolist())])
    assert stack.member_sums(values).tobytes() == expected.tobytes()
