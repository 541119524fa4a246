"""Leaky-bucket and GCRA arithmetic with a fake clock, and the memory implementations under concurrency."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from graphql_facade.limits import (
    BucketState,
    MemoryCostBucket,
    MemoryRateLimiter,
    make_limiters,
    partner_limits,
)
from graphql_facade.limits.bucket import leak
from graphql_facade.limits.ratelimit import gcra
from tests.unit.graphql_facade.fake_clock import FakeClock

STANDARD = partner_limits("STANDARD")  # 2000 points, 100 points/s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bucket(clock: FakeClock) -> MemoryCostBucket:
    return MemoryCostBucket(clock=clock)


# -- cost bucket ----------------------------------------------------------------------


async def test_a_new_key_starts_full_and_pays_the_requested_cost(bucket: MemoryCostBucket) -> None:
    state = await bucket.take("p1", 100, STANDARD)
    assert state == BucketState(True, 1900.0, 2000.0, 100.0, 0.0)


async def test_a_refused_take_removes_nothing_and_says_how_long_to_wait(
    bucket: MemoryCostBucket, clock: FakeClock
) -> None:
    assert (await bucket.take("p1", 1000, STANDARD)).allowed
    assert (await bucket.take("p1", 970, STANDARD)).currently_available == 30.0
    refused = await bucket.take("p1", 80, STANDARD)
    assert not refused.allowed
    assert refused.currently_available == 30.0
    assert refused.retry_after_s == pytest.approx(0.5)  # (80 - 30) / 100
    clock.advance(0.49)
    assert not (await bucket.take("p1", 80, STANDARD)).allowed
    clock.advance(0.01)
    state = await bucket.take("p1", 80, STANDARD)
    assert state.allowed
    assert state.currently_available == pytest.approx(0.0)


async def test_refill_is_continuous_and_capped(bucket: MemoryCostBucket, clock: FakeClock) -> None:
    await bucket.take("p1", 2000, STANDARD)
    clock.advance(2.5)
    assert (await bucket.take("p1", 0, STANDARD)).currently_available == pytest.approx(250.0)
    clock.advance(3600)
    assert (await bucket.take("p1", 0, STANDARD)).currently_available == 2000.0


async def test_refund_returns_the_unused_points_up_to_the_capacity(bucket: MemoryCostBucket, clock: FakeClock) -> None:
    await bucket.take("p1", 1000, STANDARD)
    state = await bucket.refund("p1", 700, STANDARD)
    assert state.allowed
    assert state.currently_available == 1700.0
    clock.advance(1)
    assert (await bucket.refund("p1", 700, STANDARD)).currently_available == 2000.0
    assert (await bucket.refund("p1", -5, STANDARD)).currently_available == 2000.0


async def test_keys_are_independent(bucket: MemoryCostBucket) -> None:
    await bucket.take("p1", 2000, STANDARD)
    assert not (await bucket.take("p1", 1, STANDARD)).allowed
    assert (await bucket.take("p2", 1, STANDARD)).allowed


async def test_a_tier_change_applies_the_new_capacity_and_rate(bucket: MemoryCostBucket, clock: FakeClock) -> None:
    plus = partner_limits("PLUS")  # 4000, 200/s
    await bucket.take("p1", 1500, STANDARD)  # 500 left
    clock.advance(1)
    state = await bucket.take("p1", 0, plus)
    assert state.currently_available == pytest.approx(700.0)
    assert (state.maximum_available, state.restore_rate) == (4000.0, 200.0)
    await bucket.refund("p1", 4000, plus)
    assert (await bucket.take("p1", 0, STANDARD)).currently_available == 2000.0


async def test_the_key_table_is_bounded(clock: FakeClock) -> None:
    bucket = MemoryCostBucket(clock=clock, max_keys=3)
    for key in ("a", "b", "c", "d"):
        await bucket.take(key, 2000, STANDARD)
    # "a" was the least recently used and was dropped: it has a full bucket again
    assert (await bucket.take("a", 2000, STANDARD)).allowed
    assert not (await bucket.take("d", 1, STANDARD)).allowed


def test_leak_formula() -> None:
    assert leak(0.0, 1.5, STANDARD) == 150.0
    assert leak(1990.0, 1.0, STANDARD) == 2000.0
    assert leak(10.0, -3.0, STANDARD) == 10.0  # a clock going backwards adds nothing


def test_unthrottled_state_reports_a_full_bucket() -> None:
    state = BucketState.unthrottled(STANDARD)
    assert (state.allowed, state.currently_available, state.maximum_available) == (True, 2000.0, 2000.0)


async def test_concurrent_takes_never_exceed_the_capacity(bucket: MemoryCostBucket) -> None:
    small = dataclasses.replace(STANDARD, bucket_capacity=1000, max_cost=100, restore_rate=0.001)
    states = await asyncio.gather(*(bucket.take("p1", 70, small) for _ in range(50)))
    assert sum(s.allowed for s in states) == 14  # floor(1000 / 70)
    assert min(s.currently_available for s in states) >= 0


# -- GCRA rate limiter ------------------------------------------------------------------


def test_gcra_allows_a_burst_of_limit_then_one_per_interval() -> None:
    now, tat = 100.0, None
    remaining = []
    for _ in range(10):
        tat, state = gcra(tat, now, 10, 60.0)
        assert state.allowed
        remaining.append(state.remaining)
    assert remaining == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert state.reset_s == pytest.approx(60.0)
    denied_tat, denied = gcra(tat, now, 10, 60.0)
    assert denied_tat is None
    assert (denied.allowed, denied.remaining) == (False, 0)
    assert denied.retry_after_s == pytest.approx(6.0)
    tat2, again = gcra(tat, now + 6.0, 10, 60.0)
    assert again.allowed and again.remaining == 0 and tat2 is not None


def test_gcra_is_exact_for_intervals_that_are_not_representable() -> None:
    now, tat, allowed = 0.0, None, 0
    for _ in range(20):
        new_tat, state = gcra(tat, now, 7, 60.0)
        if state.allowed:
            tat, allowed = new_tat, allowed + 1
    assert allowed == 7


def test_gcra_recovers_fully_after_a_window() -> None:
    tat = None
    for _ in range(5):
        tat, _ = gcra(tat, 0.0, 5, 10.0)
    _, state = gcra(tat, 10.0, 5, 10.0)
    assert state.allowed and state.remaining == 4


def test_gcra_weights() -> None:
    tat, state = gcra(None, 0.0, 10, 60.0, weight=4)
    assert state.allowed and state.remaining == 6
    tat, state = gcra(tat, 0.0, 10, 60.0, weight=6)
    assert state.allowed and state.remaining == 0
    _, state = gcra(tat, 0.0, 10, 60.0, weight=1)
    assert not state.allowed
    _, state = gcra(None, 0.0, 10, 60.0, weight=11)
    assert not state.allowed  # more than the limit is never admitted


async def test_memory_rate_limiter_with_a_fake_clock(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(clock=clock)
    states = [await limiter.hit("k", 3, 3.0) for _ in range(4)]
    assert [s.allowed for s in states] == [True, True, True, False]
    assert states[-1].retry_after_s == pytest.approx(1.0)
    assert states[0].limit == 3 and states[0].window_s == 3.0
    clock.advance(1.0)
    assert (await limiter.hit("k", 3, 3.0)).allowed
    assert (await limiter.hit("other", 3, 3.0)).remaining == 2


async def test_memory_rate_limiter_under_concurrency() -> None:
    limiter = MemoryRateLimiter()
    states = await asyncio.gather(*(limiter.hit("k", 10, 3600.0) for _ in range(50)))
    assert sum(s.allowed for s in states) == 10


async def test_make_limiters_without_redis_is_in_memory() -> None:
    limiters = make_limiters(None)
    assert isinstance(limiters.bucket, MemoryCostBucket)
    assert isinstance(limiters.rate, MemoryRateLimiter)
    assert limiters.redis is None
    await limiters.aclose()
