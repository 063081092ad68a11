"""Purchase mandates: a minimum share of this year's purchases must be of a given kind."""

from __future__ import annotations

import numpy as np


def enforce_share(
    rng: np.random.Generator,
    choice: np.ndarray,
    eligible: np.ndarray,
    compliant: np.ndarray,
    share: float,
    replacement: np.ndarray | int,
) -> tuple[np.ndarray, int]:
    """Force enough eligible, non-compliant purchases to a compliant option to meet ``share``.

    Compliance rule: buyers who chose a compliant option keep it; if the compliant share among eligible
    purchases is below the mandate, randomly chosen non-compliant buyers are switched to ``replacement``
    (per row or one value). Returns the new choices and how many were switched.

    Args:
        choice: chosen option per purchase.
        eligible: purchases the mandate covers (e.g. this segment).
        compliant: whether each purchase's chosen option complies.
        share: required compliant share among eligible purchases, 0-1.
        replacement: the compliant option a switched buyer gets.
    """
    n = int(eligible.sum())
    if n == 0 or share <= 0:
        return choice, 0
    need = int(np.ceil(share * n - 1e-9)) - int((eligible & compliant).sum())
    if need <= 0:
        return choice, 0
    candidates = np.flatnonzero(eligible & ~compliant)
    picked = rng.permutation(candidates)[:need]
    out = choice.copy()
    out[picked] = replacement[picked] if isinstance(replacement, np.ndarray) else replacement
    return out, len(picked)
