"""Order statistics, stated exactly so that anyone can recompute them.

``median``: the middle value, or the mean of the two middle values.
``percentile(values, p)``: nearest rank, the smallest value that at least
``p`` percent of the values do not exceed (``sorted[ceil(p/100 * n) - 1]``).
With it, "the p-th percentile is within the target" and "at least p percent
of cases meet the target" are the same statement.
"""

import math
from collections.abc import Sequence
from fractions import Fraction


def rank(p: float, n: int) -> int:
    """The nearest rank of the ``p``-th percentile among ``n`` values (1-based; n >= 1).

    Computed on the decimal value of ``p`` exactly: in floating point, 64.4 * 250
    is 16100.000000000002, one rank too many.
    """
    return max(1, math.ceil(Fraction(str(p)) * n / 100))


def median(ordered: Sequence[float]) -> float | None:
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(ordered: Sequence[float], p: float) -> float | None:
    if not ordered:
        return None
    return ordered[rank(p, len(ordered)) - 1]


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
