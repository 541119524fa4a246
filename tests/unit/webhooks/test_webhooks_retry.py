"""The retry schedule: exponential back-off with jitter, for at least 24 h, then a dead letter."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.webhooks.domain.delivery import RetryPolicy, delivery_id

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_delays_double_up_to_the_cap_within_the_jitter() -> None:
    policy = RetryPolicy()
    middle = [policy.delay(n, 0.5).total_seconds() for n in range(1, 14)]
    assert middle[:6] == [5, 10, 20, 40, 80, 160]
    assert middle[-1] == 3600 and all(a <= b for a, b in itertools.pairwise(middle))
    for attempts in (1, 5, 30):
        base = policy.delay(attempts, 0.5).total_seconds()
        low, high = policy.delay(attempts, 0.0).total_seconds(), policy.delay(attempts, 0.999999).total_seconds()
        assert low == pytest.approx(base * 0.8) and high == pytest.approx(base * 1.2, rel=1e-5)


def test_a_delivery_is_retried_for_at_least_24_hours_then_it_is_dead() -> None:
    policy = RetryPolicy()
    for unit in (0.0, 0.5, 0.999):
        at, attempts = T0, 1
        while not policy.exhausted(T0, at):
            at += policy.delay(attempts, unit)
            attempts += 1
        assert at - T0 >= timedelta(hours=24)
        assert 20 <= attempts <= 40  # a few every hour once at the cap, never a flood
    assert not policy.exhausted(T0, T0 + timedelta(hours=23, minutes=59))
    assert policy.exhausted(T0, T0 + timedelta(hours=24))


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(initial=timedelta(0))
    with pytest.raises(ValueError):
        RetryPolicy(initial=timedelta(seconds=10), cap=timedelta(seconds=5))
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.0)


def test_the_webhook_id_is_the_same_for_the_same_event_and_endpoint() -> None:
    first = delivery_id("0b1e5a9e-0000-4000-8000-000000000001", "ep_a")
    assert first == delivery_id("0b1e5a9e-0000-4000-8000-000000000001", "ep_a")
    assert first != delivery_id("0b1e5a9e-0000-4000-8000-000000000001", "ep_b")
    assert first.startswith("msg_") and len(first) == 30
