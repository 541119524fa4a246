"""The statistics of the analytics, with the specification's conventions.

* percentiles are linear (``percentile_cont``: the value at rank ``q * (n - 1)``, interpolated
  between its neighbours) and only given when there are at least :data:`MIN_SAMPLE` values. The
  quantiles are exact fractions, so the two ranks a percentile needs are found with integer
  arithmetic (the store sorts the values and returns only those two: :class:`Ranked`);
* a ratio is a ratio of sums and 0 when its denominator is 0;
* a percentile from a latency histogram is the upper bound of the bucket that holds the rank
  ``ceil(q * n)`` (above the last bound: the largest latency seen).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import NamedTuple

__all__ = [
    "MIN_SAMPLE",
    "P50",
    "P85",
    "P95",
    "Ranked",
    "add_counts",
    "histogram_percentile",
    "percentile_cont",
    "percentiles",
    "rank_positions",
    "ranked",
    "ratio",
    "value_at",
]

#: Percentiles are given from this many values on.
MIN_SAMPLE = 5
P50, P85, P95 = Fraction(1, 2), Fraction(17, 20), Fraction(19, 20)


class Ranked(NamedTuple):
    """``n`` values, of which those at the ranks (0-based, ascending) the percentiles need."""

    n: int
    values: Mapping[int, float]


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def rank_positions(q: Fraction, n: int) -> tuple[int, int, float]:
    """The ranks around ``q * (n - 1)`` (the lower, the upper) and how far between them it is."""
    position = q * (n - 1)
    low = math.floor(position)
    return low, min(low + 1, n - 1), float(position - low)


def _at(values: Mapping[int, float], q: Fraction, n: int) -> float:
    low, high, weight = rank_positions(q, n)
    return values[low] + (values[high] - values[low]) * weight


def percentile_cont(ordered: Sequence[float], q: Fraction) -> float:
    """Linear percentile of ascending ``ordered`` values (at least one)."""
    if not ordered:
        raise ValueError("no values")
    return _at(dict(enumerate(ordered)), q, len(ordered))


def value_at(found: Ranked, q: Fraction) -> float | None:
    """The percentile ``q`` of any number of ranked values (None without values)."""
    return _at(found.values, q, found.n) if found.n > 0 else None


def ranked(found: Ranked, qs: Iterable[Fraction]) -> tuple[float, ...] | None:
    """The percentiles ``qs`` from the ranked values; None below :data:`MIN_SAMPLE` values."""
    if found.n < MIN_SAMPLE:
        return None
    return tuple(_at(found.values, q, found.n) for q in qs)


def percentiles(values: Sequence[float], qs: Iterable[Fraction]) -> tuple[float, ...] | None:
    """The percentiles ``qs`` of ``values`` (any order); None below :data:`MIN_SAMPLE` values."""
    ordered = sorted(values)
    return ranked(Ranked(len(ordered), dict(enumerate(ordered))), qs)


def add_counts(total: list[int], counts: Sequence[int]) -> None:
    """Add a histogram's counts into ``total`` (grown to fit)."""
    if len(total) < len(counts):
        total.extend([0] * (len(counts) - len(total)))
    for i, count in enumerate(counts):
        total[i] += count


def histogram_percentile(counts: Sequence[int], bounds: Sequence[float], q: Fraction, above: float) -> float:
    """The upper bound of the bucket holding rank ``ceil(q * n)``; ``above`` (never below the last
    bound) for the bucket past the last bound. ``counts`` are per bucket (not cumulative)."""
    n = sum(counts)
    if n <= 0:
        return 0.0
    rank = max(1, math.ceil(q * n))
    seen = 0
    for i, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return float(bounds[i]) if i < len(bounds) else float(max(above, bounds[-1] if bounds else 0.0))
    return float(above)
