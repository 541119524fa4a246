"""The events of a generated history: ids for all of them, outbox and inbox rows where the
services would still hold them.

Every event gets an id (order status histories name the event that caused each change). The
services purge published outbox rows after 7 days, inbox rows after 14 and idempotency keys
after 7 (``mes_platform.messaging.retention``), so only those windows are written: an event
of the last 7 days is encoded by its service's own codec into an outbox row marked published
(``meta`` filled as ``mes_platform.outbox`` fills it), and every event of the last 14 days
gets an inbox row in every consumer that subscribes to its subject (the consumers the
services declare in ``entrypoints/consumers.py``), as if it had been handled a moment later.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf.message import Message

from mes.common.v1 import common_pb2
from mes_contracts.events import EventType
from mes_stack.options import SERVICES as STACK_SERVICES
from perf.datagen.ids import Ids, at
from perf.datagen.sink import Sink
from services.inventory.entrypoints import codec as inventory_codec
from services.inventory.entrypoints.consumers import consumer_specs as inventory_consumers
from services.orders.entrypoints.codec import messages as orders_codec
from services.orders.entrypoints.consumers import consumer_specs as orders_consumers
from services.production.entrypoints.codec import events as production_codec
from services.production.entrypoints.consumers import consumer_specs as production_consumers

__all__ = ["DAY_S", "WEBHOOKS", "EventLog", "consumers_by_subject"]

#: The stack of this tree runs the webhooks service (older trees, profiled for comparison, do not).
WEBHOOKS = "webhooks" in STACK_SERVICES

DAY_S = 86400.0
_ENCODERS: dict[str, Callable[[object], tuple[EventType[Message], Message]]] = {
    "orders": orders_codec.encode_event,
    "inventory": inventory_codec.encode_event,
    "production": production_codec.encode_event,
}
#: Delay from an event's commit to its publication and to its handling by a consumer.
_PUBLISH_S, _HANDLE_S = 0.05, 0.2


def _specs(consumer_specs: Callable[..., list[Any]]) -> list[Any]:
    """A service's ``consumer_specs`` called with None for everything it takes: the specs only name
    their subjects here, their handlers are never called (so new parameters need no change)."""
    args, kwargs = [], {}
    for param in inspect.signature(consumer_specs).parameters.values():
        if param.default is not inspect.Parameter.empty:
            continue
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            args.append(None)
        elif param.kind is param.KEYWORD_ONLY:
            kwargs[param.name] = None
    return consumer_specs(*args, **kwargs)


def consumers_by_subject() -> dict[str, list[tuple[str, str]]]:
    """subject -> [(service, durable consumer)] of every consumer the services declare."""
    declared = {
        "orders": _specs(orders_consumers),
        "inventory": _specs(inventory_consumers),
        "production": _specs(production_consumers),
    }
    if WEBHOOKS:
        from services.webhooks.entrypoints.consumers import consumer_specs as webhooks_consumers

        declared["webhooks"] = _specs(webhooks_consumers)
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for service, specs in declared.items():
        for spec in specs:
            for subject in spec.subjects:
                found[subject].append((service, spec.durable(service)))
    return dict(found)


class EventLog:
    def __init__(
        self,
        ids: Ids,
        sink: Sink,
        *,
        end: float,
        consumers: Mapping[str, list[tuple[str, str]]],
        outbox_days: float = 7.0,
        inbox_days: float = 14.0,
        idempotency_days: float = 7.0,
    ) -> None:
        self.ids, self.sink, self.end = ids, sink, end
        self.consumers = consumers
        self.outbox_from = end - outbox_days * DAY_S
        self.inbox_from = end - inbox_days * DAY_S
        self.idempotency_from = end - idempotency_days * DAY_S
        self.counts: dict[str, int] = defaultdict(int)

    def emit(self, service: str, event: object, t: float, cause: str = "", event_id: str = "") -> str:
        """Record ``event`` (a domain event of ``service``) written at ``t``; returns its id.

        The subject is the one the service's codec gives the event (so it follows the registry)."""
        event_id = event_id or self.ids.uuid4()
        if t < self.inbox_from:
            self.counts[type(event).__name__] += 1
            return event_id
        etype, message = _ENCODERS[service](event)
        self.counts[etype.subject] += 1
        if t >= self.outbox_from:
            meta = common_pb2.EventMeta(event_id=event_id, producer=service, causation_id=cause)
            meta.occur_time.FromDatetime(at(t))
            message.meta.CopyFrom(meta)  # type: ignore[attr-defined]
            row = {
                "event_id": event_id,
                "subject": etype.subject,
                "payload": message.SerializeToString(),
                "headers": "{}",
                "created_at": at(t),
                "published_at": at(min(self.end, t + _PUBLISH_S)),
                "attempts": 1,
            }
            self.sink.add_ordered(service, "outbox", t, row)
        handled = at(min(self.end, t + _HANDLE_S))
        for consumer_service, durable in self.consumers.get(etype.subject, ()):
            row = {"consumer": durable, "event_id": event_id, "subject": etype.subject, "processed_at": handled}
            self.sink.add(consumer_service, "inbox", row)
        return event_id

    def idempotent(self, service: str, scope: str, request_id: str, fingerprint: str, resource: str, t: float) -> None:
        """The idempotency record of a request made at ``t`` with a request id (kept 7 days)."""
        if request_id and t >= self.idempotency_from:
            row = {
                "scope": scope,
                "request_id": request_id,
                "request_hash": fingerprint,
                "resource_name": resource,
                "created_at": at(t),
            }
            self.sink.add(service, "idempotency_keys", row)
