"""Watching JetStream from the side: redeliveries, consumer state, a poison message.

``AckTap`` subscribes to ``$JS.ACK.>`` on a plain connection. Every ack, nak, term and
in-progress a consumer sends goes to a subject that carries the message's stream, durable
consumer, stream sequence and *delivery count*, so the tap sees each delivery that got
settled and counts redeliveries exactly (a message settled on its 3rd delivery was
redelivered twice), across consumer crashes and across broker restarts (it reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError

from mes_platform.messaging.connection import NatsConnection, connect_nats

ACK_SUBJECTS = "$JS.ACK.>"
#: Durable consumers of the saga (service-purpose) and their streams.
SAGA_CONSUMERS: tuple[tuple[str, str], ...] = (
    ("ORDERS", "production-order-events"),
    ("ORDERS", "inventory-order-events"),
    ("INVENTORY", "orders-inventory-events"),
    ("INVENTORY", "production-inventory-events"),
    ("INVENTORY", "inventory-stock-events"),
    ("PRODUCTION", "orders-production-events"),
    ("PRODUCTION", "inventory-production-events"),
)
_KINDS = {b"": "ack", b"+ACK": "ack", b"-NAK": "nak", b"+TERM": "term", b"+WPI": "progress", b"+NXT": "next"}


@dataclass
class AckTap:
    conn: NatsConnection | None = None
    #: (stream, consumer, stream sequence) -> highest delivery count seen settled.
    deliveries: dict[tuple[str, str, int], int] = field(default_factory=dict)
    settlements: Counter[str] = field(default_factory=Counter)

    @classmethod
    async def start(cls, url: str) -> AckTap:
        tap = cls()
        tap.conn = await connect_nats(url, name="fault-ack-tap", initial_timeout_s=10, reconnect_time_wait_s=0.2)
        await tap.conn.nc.subscribe(ACK_SUBJECTS, cb=tap._on_ack)
        return tap

    async def _on_ack(self, msg: Msg) -> None:
        try:
            md = Msg.Metadata._from_reply(msg.subject)
        except Exception:
            return
        kind = _KINDS.get(bytes(msg.data[:5]).split(b" ", 1)[0], "other")
        self.settlements[kind] += 1
        key = (md.stream, md.consumer, md.sequence.stream)
        if md.num_delivered > self.deliveries.get(key, 0):
            self.deliveries[key] = md.num_delivered

    @property
    def redeliveries(self) -> int:
        return sum(n - 1 for n in self.deliveries.values())

    def redeliveries_of(self, consumer: str) -> int:
        return sum(n - 1 for (_, c, _), n in self.deliveries.items() if c == consumer)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


@dataclass(frozen=True)
class ConsumerState:
    stream: str
    consumer: str
    pending: int  # not yet delivered
    ack_pending: int  # delivered, not settled
    redelivered: int  # redelivered and not yet settled (a current value, not a total)

    @property
    def idle(self) -> bool:
        return self.pending == 0 and self.ack_pending == 0


async def consumer_state(conn: NatsConnection, stream: str, consumer: str) -> ConsumerState | None:
    try:
        info: ConsumerInfo = await conn.js.consumer_info(stream, consumer, timeout=2)
    except NotFoundError:
        return None
    return ConsumerState(stream, consumer, info.num_pending or 0, info.num_ack_pending or 0, info.num_redelivered or 0)


async def saga_states(conn: NatsConnection) -> list[ConsumerState]:
    states = [await consumer_state(conn, s, c) for s, c in SAGA_CONSUMERS]
    return [s for s in states if s is not None]


async def wait_ack_pending(conn: NatsConnection, stream: str, consumer: str, *, timeout_s: float = 10.0) -> int:
    """Until ``consumer`` holds unacknowledged messages (returns how many; 0 on timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            state = await consumer_state(conn, stream, consumer)
            if state is not None and state.ack_pending > 0:
                return state.ack_pending
        await asyncio.sleep(0.02)
    return 0


async def publish_poison(conn: NatsConnection, subject: str, payload: bytes = b"\xffnot-a-protobuf\x00") -> str:
    """Publish a payload no consumer can decode, with a fresh ``Nats-Msg-Id``; returns the id."""
    msg_id = f"poison-{uuid.uuid4()}"
    await conn.js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id}, timeout=5)
    return msg_id


async def stream_messages(
    conn: NatsConnection, streams: tuple[str, ...] = ("ORDERS", "INVENTORY", "PRODUCTION")
) -> int:
    """Messages stored in the MES streams (republished copies outside the duplicate window count)."""
    total = 0
    for name in streams:
        info = await conn.js.stream_info(name)
        total += info.state.messages
    return total


async def wait_pullers(conn: NatsConnection, minimum: int, *, timeout_s: float = 15.0) -> dict[str, int]:
    """Until every saga consumer has ``minimum`` pending pull requests (one per replica that
    is fetching); returns the highest number seen per consumer."""
    best: dict[str, int] = {c: 0 for _, c in SAGA_CONSUMERS}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for stream, consumer in SAGA_CONSUMERS:
            with contextlib.suppress(nats.errors.Error, NotFoundError, TimeoutError):
                info = await conn.js.consumer_info(stream, consumer, timeout=2)
                best[consumer] = max(best[consumer], info.num_waiting or 0)
        if all(n >= minimum for n in best.values()):
            break
        await asyncio.sleep(0.05)
    return best


async def consumer_filters(conn: NatsConnection) -> dict[str, list[str]]:
    """The subjects each saga consumer takes (from its server-side configuration)."""
    filters: dict[str, list[str]] = {}
    for stream, consumer in SAGA_CONSUMERS:
        with contextlib.suppress(NotFoundError):
            config = (await conn.js.consumer_info(stream, consumer, timeout=5)).config
            filters[consumer] = list(
                config.filter_subjects or ([config.filter_subject] if config.filter_subject else [])
            )
    return filters
