"""Events as consumers see them: the handler contract, the context, decoding.

Handler contract
----------------
A handler is ``async def handler(session, event, ctx) -> None``:

* ``session`` -- an ``AsyncSession`` already inside the consumer's transaction on the
  writer. The framework inserted the inbox row in it before calling the handler; every
  write of the handler (business rows *and* outbox events via ``OutboxWriter.add``) goes
  through this session, so the effect, the inbox row and the follow-up events commit or
  roll back together. The handler must not commit, roll back or open another unit of
  work. Service layers therefore expose their event reactions as functions taking a
  session (``async def on_order_submitted(session, event, ctx)``), and their own
  command handlers wrap the same functions in ``db.write()``.
* ``event`` -- the decoded protobuf message (its class is given per subject).
* ``ctx`` -- :class:`EventContext`: subject, event id (``event.meta.event_id``), the
  consumer name, delivery count, stream sequence and headers. Use ``ctx.event_id`` as
  the ``causation_id`` of events the handler writes.

Raising any exception rolls everything back; the message is redelivered with back-off
and dead-lettered after ``max_deliver`` attempts. ``mes_kernel.errors.Unavailable``
(the database is unreachable) is not the message's fault: the consumer keeps the message
and retries it locally until the database is back, without using up deliveries.
Returning normally commits, then the message is acknowledged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError, Message
from sqlalchemy.ext.asyncio import AsyncSession

from mes.common.v1 import common_pb2
from mes_platform.messaging.subjects import SubjectRouter

__all__ = ["EventContext", "Handler", "PoisonMessage", "decode_event"]


@dataclass(frozen=True)
class EventContext:
    subject: str
    event_id: str
    consumer: str
    num_delivered: int
    stream_sequence: int
    headers: Mapping[str, str] = field(default_factory=dict)
    meta: common_pb2.EventMeta = field(default_factory=common_pb2.EventMeta)


#: ``async def handler(session, event, ctx) -> None`` (``event`` is the decoded message).
Handler = Callable[[AsyncSession, Any, EventContext], Awaitable[None]]


class PoisonMessage(Exception):
    """The payload cannot be turned into an event."""


def decode_event(decoders: SubjectRouter[type[Message]], subject: str, data: bytes) -> tuple[Message, str]:
    """Decode ``data`` with the class registered for ``subject``; returns (event, event id)."""
    cls = decoders.get(subject)
    if cls is None:
        raise PoisonMessage(f"no decoder for subject {subject!r}")
    event = cls()
    try:
        event.ParseFromString(data)
    except DecodeError as exc:
        raise PoisonMessage(f"cannot decode {cls.__name__}: {exc}") from exc
    meta = getattr(event, "meta", None)
    event_id = getattr(meta, "event_id", "") if meta is not None else ""
    if not event_id:
        raise PoisonMessage(f"{cls.__name__} has no meta.event_id")
    return event, str(event_id)
