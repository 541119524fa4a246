"""NATS JetStream messaging: streams, the outbox relay, consumers with an inbox, dead letters.

PostgreSQL (the outbox) is the source of truth, not the broker: events are written in
the business transaction, published by :class:`OutboxRelay` with ``Nats-Msg-Id`` = event
id, and applied by :class:`EventConsumer` exactly once per consumer thanks to the inbox
table (JetStream itself delivers at least once).

Wiring into a service's composition root (``bootstrap.start``), when ``settings.nats_url``
is set::

    conn = await connect_nats(settings.nats_url, name=f"{service}-{os.getpid()}")
    closer.push("nats", conn.close)                    # closed after the tasks below
    await ensure_streams(conn.js)                      # idempotent, every replica may run it
    relay = OutboxRelay(db, infra.outbox, conn.js, service)
    relay.start()
    closer.push("outbox-relay", relay.stop)
    consumer = EventConsumer(
        conn.js, db, infra, service, durable_name(service, "orders"), ORDERS.name, None,
        handlers={"orders.order.submitted": on_order_submitted},          # (session, event, ctx)
        decoders={"orders.order.submitted": orders_events_pb2.OrderSubmittedEvent},
    )
    await consumer.start()
    closer.push("consumer-orders", consumer.stop)
    retention = RetentionJob(db, infra)
    retention.start()
    closer.push("retention", retention.stop)
    probes["nats"] = conn.probe                        # HealthMonitor: NOT_SERVING without NATS

and call ``relay.notify()`` after committing a transaction that wrote outbox rows (the
200 ms poll is only the fallback; ``Database.on_outbox_committed(relay.notify)`` does it).
:class:`mes_platform.messaging.runtime.ServiceMessaging` does all of the above from the
service's settings (knobs ``MES_<SERVICE>_CONSUMER_*``, ``..._RELAY_*``: see that module).
"""

from mes_platform.messaging._util import EVENT_POSITION_HEADER
from mes_platform.messaging.connection import NatsConnection, connect_nats, nats_servers
from mes_platform.messaging.consumer import EventConsumer
from mes_platform.messaging.deadletters import (
    DeadLetter,
    ReplayResult,
    get_dead_letter,
    list_dead_letters,
    replay_dead_letter,
)
from mes_platform.messaging.events import EventContext, Handler, PoisonMessage
from mes_platform.messaging.faults import fault_point
from mes_platform.messaging.relay import OutboxRelay, PublishError
from mes_platform.messaging.retention import PurgeResult, RetentionJob, RetentionPolicy, purge
from mes_platform.messaging.streams import (
    INVENTORY,
    MES_STREAMS,
    ORDERS,
    PRODUCTION,
    StreamSpec,
    consumer_config,
    durable_name,
    ensure_streams,
)

__all__ = [
    "EVENT_POSITION_HEADER",
    "INVENTORY",
    "MES_STREAMS",
    "ORDERS",
    "PRODUCTION",
    "DeadLetter",
    "EventConsumer",
    "EventContext",
    "Handler",
    "NatsConnection",
    "OutboxRelay",
    "PoisonMessage",
    "PublishError",
    "PurgeResult",
    "ReplayResult",
    "RetentionJob",
    "RetentionPolicy",
    "StreamSpec",
    "connect_nats",
    "consumer_config",
    "durable_name",
    "ensure_streams",
    "fault_point",
    "get_dead_letter",
    "list_dead_letters",
    "nats_servers",
    "purge",
    "replay_dead_letter",
]
