"""MessagingSettings: the messaging knobs of a service process, from its prefixed environment."""

from __future__ import annotations

import pytest

from mes_contracts.events import ORDER_CANCELLED, ORDER_SUBMITTED, RESERVATION_HELD
from mes_platform.config import ServiceSettings
from mes_platform.messaging.backoff import DEFAULT_REDELIVERY_BACKOFF
from mes_platform.messaging.events import EventContext
from mes_platform.messaging.runtime import ConsumerSpec, MessagingSettings


def settings(**env: str) -> MessagingSettings | None:
    return MessagingSettings.from_settings(ServiceSettings.from_env("inventory", env=env))


def test_without_nats_url_there_is_no_messaging() -> None:
    assert settings() is None
    assert settings(MES_INVENTORY_CONSUMER_MAX_DELIVER="3") is None


def test_defaults() -> None:
    got = settings(NATS_URL="nats://127.0.0.1:4222")
    assert got is not None
    assert (got.nats_url, got.connect_timeout_s, got.max_deliver, got.ack_wait_s) == (
        "nats://127.0.0.1:4222",
        10.0,
        5,
        30.0,
    )
    assert got.backoff_s == DEFAULT_REDELIVERY_BACKOFF
    assert got.run_consumers and got.run_relay


def test_knobs_come_from_the_service_prefix() -> None:
    got = settings(
        MES_INVENTORY_NATS_URL="nats://n:4222",
        MES_INVENTORY_NATS_CONNECT_TIMEOUT_S="0.5",
        MES_INVENTORY_CONSUMERS="0",
        MES_INVENTORY_RELAY="false",
        MES_INVENTORY_CONSUMER_ACK_WAIT_S="2",
        MES_INVENTORY_CONSUMER_MAX_DELIVER="3",
        MES_INVENTORY_CONSUMER_BACKOFF_S="0.1, 0.5,1",
        MES_INVENTORY_CONSUMER_BATCH="10",
        MES_INVENTORY_STREAM_DUPLICATE_WINDOW_S="5",
        MES_ORDERS_CONSUMER_MAX_DELIVER="9",  # another service's knob
    )
    assert got is not None
    assert got.nats_url == "nats://n:4222"
    assert (got.connect_timeout_s, got.ack_wait_s, got.max_deliver, got.batch) == (0.5, 2.0, 3, 10)
    assert got.backoff_s == (0.1, 0.5, 1.0)
    assert not got.run_consumers and not got.run_relay
    assert got.duplicate_window_s == 5.0


@pytest.mark.parametrize(
    ("key", "value"),
    [("CONSUMER_MAX_DELIVER", "0"), ("CONSUMER_ACK_WAIT_S", "soon"), ("CONSUMER_BACKOFF_S", "1,-2")],
)
def test_bad_knobs_are_refused(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        settings(NATS_URL="nats://n:4222", **{f"MES_INVENTORY_{key}": value})


async def _handler(session: object, event: object, ctx: EventContext) -> None:
    return None


def test_durable_names_are_service_and_purpose() -> None:
    spec = ConsumerSpec("order-events", {ORDER_SUBMITTED: _handler})
    assert spec.durable("inventory") == "inventory-order-events"


def test_a_consumer_spec_takes_its_stream_subjects_and_decoders_from_the_registry() -> None:
    spec = ConsumerSpec("order-events", {ORDER_SUBMITTED: _handler, ORDER_CANCELLED: _handler})
    assert spec.stream.name == "ORDERS"
    assert spec.subjects == [ORDER_SUBMITTED.subject, ORDER_CANCELLED.subject]
    assert spec.decoders() == {e.subject: e.message for e in (ORDER_SUBMITTED, ORDER_CANCELLED)}


def test_a_consumer_spec_refuses_events_of_two_streams() -> None:
    with pytest.raises(ValueError, match="exactly one stream"):
        ConsumerSpec("mixed", {ORDER_SUBMITTED: _handler, RESERVATION_HELD: _handler})
