"""Percentiles (linear, only from five values), ratios of sums with zero denominators, percentiles
from latency histograms."""

from __future__ import annotations

import pytest

from services.analytics.domain.stats import add_counts, histogram_percentile, percentile_cont, percentiles, ratio

BOUNDS = (1.0, 2.5, 5.0, 10.0)


def test_analytics_percentiles_are_linear_between_ranks() -> None:
    assert percentile_cont([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert percentile_cont([10.0, 20.0, 30.0, 40.0, 50.0], 0.85) == pytest.approx(44.0)
    assert percentile_cont([7.0], 0.95) == 7.0
    with pytest.raises(ValueError):
        percentile_cont([], 0.5)


def test_analytics_no_percentiles_below_five_values() -> None:
    assert percentiles([1.0, 2.0, 3.0, 4.0], (0.5,)) is None
    assert percentiles([], (0.5, 0.95)) is None
    assert percentiles([5.0, 1.0, 4.0, 2.0, 3.0], (0.5, 0.95)) == (3.0, pytest.approx(4.8))


def test_analytics_a_ratio_with_a_zero_denominator_is_zero() -> None:
    assert ratio(0, 0) == 0.0
    assert ratio(5, 0) == 0.0
    assert ratio(1, 4) == 0.25


def test_analytics_histogram_percentile_is_the_upper_bound_of_the_bucket_holding_the_rank() -> None:
    counts = [2, 0, 3, 4, 1]  # 10 requests; the last count is above 10 ms
    assert histogram_percentile(counts, BOUNDS, 0.5, above=0) == 5.0  # rank 5: third bucket
    assert histogram_percentile(counts, BOUNDS, 0.2, above=0) == 1.0  # rank 2: first bucket
    assert histogram_percentile(counts, BOUNDS, 0.9, above=0) == 10.0  # rank 9: fourth bucket
    assert histogram_percentile(counts, BOUNDS, 0.95, above=37) == 37.0  # rank 10, above every bound: the largest seen
    assert histogram_percentile(counts, BOUNDS, 0.95, above=3) == 10.0  # ...never below the last bound
    assert histogram_percentile([0, 0, 0, 0, 0], BOUNDS, 0.5, above=0) == 0.0


def test_analytics_histograms_add_up_bucket_by_bucket() -> None:
    total: list[int] = []
    add_counts(total, [1, 2])
    add_counts(total, [0, 1, 5])
    assert total == [1, 3, 5]
