"""Pure parts of the messaging layer: back-off, fault points, subjects, decoding, configs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nats.js.api import AckPolicy, RetentionPolicy, StorageType

from mes.orders.v1 import orders_events_pb2
from mes_contracts.events import (
    LOT_RECEIVED,
    ORDER_CANCELLED,
    ORDER_SUBMITTED,
    RESERVATION_COMMITTED,
    RESERVATION_HELD,
    WORK_ORDER_COMPLETED,
)
from mes_platform.messaging import faults
from mes_platform.messaging._util import decode_headers, encode_headers
from mes_platform.messaging.backoff import Backoff, exponential_delay, redelivery_delay, server_backoff
from mes_platform.messaging.deadletters import describe_error, replay_msg_id
from mes_platform.messaging.events import PoisonMessage, decode_event
from mes_platform.messaging.retention import RetentionPolicy as Retention
from mes_platform.messaging.streams import (
    INVENTORY,
    ORDERS,
    PRODUCTION,
    consumer_config,
    durable_name,
    stream_config,
    stream_for_subject,
)
from mes_platform.messaging.subjects import SubjectRouter, subject_matches, validate_subject

# -- back-off ---------------------------------------------------------------------------


def test_exponential_delay_doubles_and_is_capped() -> None:
    assert [exponential_delay(n, initial=0.1, cap=5.0) for n in range(1, 9)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    )
    assert exponential_delay(0) == 0.0
    assert exponential_delay(10_000, cap=5.0) == 5.0  # no overflow


def test_backoff_object_resets() -> None:
    b = Backoff(initial=0.5, cap=2.0)
    assert [b.next(), b.next(), b.next(), b.next()] == [0.5, 1.0, 2.0, 2.0]
    b.reset()
    assert b.next() == 0.5
    with pytest.raises(ValueError):
        Backoff(initial=0)


def test_redelivery_delay_follows_the_list_then_repeats_the_last() -> None:
    backoff = [1.0, 5.0, 15.0]
    assert [redelivery_delay(backoff, n) for n in range(1, 6)] == [1.0, 5.0, 15.0, 15.0, 15.0]
    assert redelivery_delay([], 3) == 0.0
    assert redelivery_delay(backoff, 0) == 1.0


def test_server_backoff_never_undercuts_ack_wait_nor_exceeds_max_deliver() -> None:
    assert server_backoff([1, 5, 60], ack_wait=30, max_deliver=6) == [30, 30, 60]
    assert server_backoff([1, 2, 3, 4, 5, 6, 7], ack_wait=1, max_deliver=3) == [1, 2, 3]
    assert server_backoff([], ack_wait=10, max_deliver=3) == [10]


# -- fault points -----------------------------------------------------------------------


@pytest.fixture
def crashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    calls: list[int] = []
    monkeypatch.setattr(faults, "_crash", lambda: calls.append(1))
    faults.reset_fault_points()
    yield calls
    faults.reset_fault_points()


def test_fault_point_is_inert_unless_switched_on(crashes: list[int]) -> None:
    assert faults.fault_point("relay.after_publish_before_mark", env={}) is False
    env = {faults.ENV_VAR: "relay.after_commit_before_publish"}
    assert faults.fault_point("relay.after_publish_before_mark", env=env) is False
    assert crashes == []


def test_fault_point_fires_on_the_configured_hit(crashes: list[int]) -> None:
    env = {faults.ENV_VAR: "consumer.after_commit_before_ack, relay.after_publish_before_mark:3"}
    hits = [faults.fault_point("relay.after_publish_before_mark", env=env) for _ in range(4)]
    assert hits == [False, False, True, False]
    assert faults.fault_point("consumer.after_commit_before_ack", env=env) is True
    assert len(crashes) == 2


def test_fault_point_spec_parsing() -> None:
    assert faults.parse_fault_points("a, b:2,,") == {"a": 1, "b": 2}
    with pytest.raises(ValueError):
        faults.parse_fault_points("a:0")
    with pytest.raises(ValueError):
        faults.parse_fault_points("a:x")
    assert "relay.after_publish_before_mark" in faults.KNOWN_FAULT_POINTS


# -- subjects and decoding --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        (ORDER_SUBMITTED.subject, ORDER_SUBMITTED.subject, True),
        (ORDER_SUBMITTED.subject, ORDER_CANCELLED.subject, False),
        ("orders.*.cancelled", ORDER_CANCELLED.subject, True),
        ("orders.*", ORDER_CANCELLED.subject, False),
        ("orders.>", ORDER_CANCELLED.subject, True),
        ("orders.>", "orders", False),
        ("inventory.reservation.*", RESERVATION_COMMITTED.subject, True),
    ],
)
def test_subject_matching(pattern: str, subject: str, expected: bool) -> None:
    assert subject_matches(pattern, subject) is expected


@pytest.mark.parametrize("bad", ["", "a..b", "a.>.b", "a.b*", "a b"])
def test_invalid_subjects_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        validate_subject(bad)


def test_router_prefers_exact_subjects_then_first_pattern() -> None:
    router: SubjectRouter[str] = SubjectRouter(
        {"inventory.reservation.*": "state", "inventory.>": "any", RESERVATION_HELD.subject: "held"}
    )
    assert router.get(RESERVATION_HELD.subject) == "held"
    assert router.get(RESERVATION_COMMITTED.subject) == "state"
    assert router.get(LOT_RECEIVED.subject) == "any"
    assert router.get(ORDER_SUBMITTED.subject) is None
    assert LOT_RECEIVED.subject in router
    with pytest.raises(ValueError):
        router.add(RESERVATION_HELD.subject, "again")


def test_decode_event_by_subject() -> None:
    decoders: SubjectRouter[type] = SubjectRouter({ORDER_SUBMITTED.subject: orders_events_pb2.OrderSubmittedEvent})
    event = orders_events_pb2.OrderSubmittedEvent()
    event.meta.event_id = "e-1"
    decoded, event_id = decode_event(decoders, ORDER_SUBMITTED.subject, event.SerializeToString())
    assert isinstance(decoded, orders_events_pb2.OrderSubmittedEvent) and event_id == "e-1"
    with pytest.raises(PoisonMessage, match="cannot decode"):
        decode_event(decoders, ORDER_SUBMITTED.subject, b"\xff\xff\xff")
    with pytest.raises(PoisonMessage, match=r"no meta\.event_id"):
        decode_event(decoders, ORDER_SUBMITTED.subject, b"")
    with pytest.raises(PoisonMessage, match="no decoder"):
        decode_event(decoders, ORDER_CANCELLED.subject, event.SerializeToString())


# -- stream and consumer configuration ---------------------------------------------------


def test_stream_config_uses_limits_retention_and_file_storage() -> None:
    config = stream_config(ORDERS, replicas=3, duplicate_window_s=90)
    assert (config.retention, config.storage, config.num_replicas) == (RetentionPolicy.LIMITS, StorageType.FILE, 3)
    assert config.duplicate_window == 90 and config.max_age == 7 * 24 * 3600
    with pytest.raises(ValueError):
        stream_config(ORDERS, duplicate_window_s=100, max_age_s=10)
    assert stream_for_subject(WORK_ORDER_COMPLETED.subject) is PRODUCTION
    assert stream_for_subject(LOT_RECEIVED.subject) is INVENTORY
    with pytest.raises(LookupError):
        stream_for_subject("catalogue.x")


def test_consumer_config_reserves_a_spare_delivery() -> None:
    config = consumer_config("inventory-orders", [ORDER_SUBMITTED.subject], max_deliver=5, backoff=[1, 5], ack_wait=30)
    assert config.durable_name == config.name == "inventory-orders"
    assert config.ack_policy == AckPolicy.EXPLICIT
    assert config.max_deliver == 6
    assert config.backoff == [30, 30]
    assert config.filter_subjects == [ORDER_SUBMITTED.subject]


def test_durable_names() -> None:
    assert durable_name("inventory", "order-events") == "inventory-order-events"
    for bad in ("a.b", "a b", "x>"):
        with pytest.raises(ValueError):
            durable_name("svc", bad)


# -- retention, dead letters, headers ----------------------------------------------------


def test_retention_policy_guards() -> None:
    Retention()
    with pytest.raises(ValueError, match="max_age"):
        Retention(inbox_days=7)  # not longer than the stream's 7 days
    with pytest.raises(ValueError, match="idempotency_days"):
        Retention(idempotency_days=6)
    with pytest.raises(ValueError):
        Retention(outbox_days=0)


def test_dead_letter_helpers() -> None:
    assert replay_msg_id("abc", 2) == "abc:replay:2"
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        text = describe_error(exc)
    assert text.startswith("RuntimeError: boom") and "test_dead_letter_helpers" in text
    assert len(describe_error(ValueError("x" * 20_000))) <= 8000


def test_header_columns_round_trip() -> None:
    assert decode_headers(encode_headers({"a": "1"})) == {"a": "1"}
    assert decode_headers('{"n": 2}') == {"n": "2"}
    assert decode_headers("not json") == {} and decode_headers(None) == {} and decode_headers("[1]") == {}
