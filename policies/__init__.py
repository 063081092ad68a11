"""Policy levers, applied to agents' decisions through a small hook interface.

Levers never touch emission totals: they change prices, costs, availability or constraints that agents
see when they decide (a carbon price raises the marginal cost of a coal unit; a subsidy lowers the price
of an EV at purchase; a mandate fixes the powertrain of a share of fleet purchases). Each lever family is a
class in this package; :class:`PolicySet` composes them and is what agents call. Every lever records its
fiscal cost or revenue per year so that cost per tonne avoided can be computed against a run without it.
"""

from __future__ import annotations

from policies.base import PolicySet

__all__ = ["PolicySet"]
