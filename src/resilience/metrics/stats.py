"""Order statistics, stated exactly so that anyone can recompute them.

``median``: the middle value, or the mean of the two middle values.
``percentile(values, p)``: nearest rank, the smallest value that at least
``p`` percent of the values do not exceed (``sorted[ceil(p/100 * n) - 1]``).
With it, "the p-th percentile is within the target" and "at least p percent
of cases meet the target" are the same statement.
"""

import math
from collections.abc import Sequence


def median(ordered: Sequence[float]) -> float | None:
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(ordered: Sequence[float], p: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
