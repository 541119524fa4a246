"""Durable pull consumers with inbox deduplication and dead letters.

One :class:`EventConsumer` per (service, purpose): one durable pull consumer on one
stream, shared by all replicas of the service (same durable name, so each message goes
to one replica). Each message is handled as follows:

1. decode the protobuf by subject; a payload that does not decode or has no
   ``meta.event_id`` is poison: dead letter + ``term`` at once;
2. ONE transaction: insert the inbox row (consumer, ``meta.event_id`` -- never the stream
   sequence) + the handler's effect (see :mod:`mes_platform.messaging.events` for the
   handler contract); commit, then ``ack``. A fetched batch shares one transaction
   (``tx_batch`` messages at most): one multi-row inbox insert tells which events are new,
   their handlers run in stream order (each under its own event's trace), then one commit
   and the acks. The batch is *flat* (:func:`mes_platform.uow.begin_flat_batch`): the use
   cases take no savepoint and make no retry of their own, and the first error of any of
   them (even one a handler caught) fails the batch: the whole transaction rolls back and
   the batch is handled again one message per transaction, with savepoints and retries,
   so only the failing message is retried (step 4) and the others are applied. The batch
   rollback gives what a savepoint per use case gave, without its two round trips; a
   batch of one message goes the same way (flat first, then with savepoints if it failed);
3. inbox key already present: roll back and ``ack`` (a duplicate applies nothing);
4. handler raised: ``nak`` with the delay of the back-off list; on the ``max_deliver``-th
   delivery write a dead letter and ``term`` the message.

While a message is handled, the consumer continues the event's trace
(``meta.traceparent``, else the ``traceparent`` header) in a consumer span of its own
(``process <subject>``: ``messaging.destination.name``, ``messaging.message.id``, the durable,
the delivery count, ``mes.order_id`` when the event has one): log lines carry
``trace_id``/``span_id`` and the events the handler writes carry that span on. A batch applied
in one transaction is a consumer span too (``process <durable> batch``, in the trace of its first
sampled event, linked to every event), and each event of it still gets its own span under the
event's context, linked to the batch span (OpenTelemetry links).

The server-side ``max_deliver`` is one more than ``max_deliver``: the spare delivery only
happens when the process died during the last attempt, and it goes straight to the
dead letters (unless the inbox shows the event was applied). Messages of a fetched batch
get ``in_progress`` every ``ack_wait / 3`` until they are settled, so a slow handler or a
long batch is not redelivered to another replica. :meth:`EventConsumer.stop` stops
fetching, finishes the message in flight, returns the rest of the batch (``nak``) and
unsubscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import nats.errors
from google.protobuf.message import Message
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError

from mes.common.v1 import common_pb2
from mes_kernel.errors import Unavailable
from mes_platform.db import Database
from mes_platform.messaging._util import MSG_ID_HEADER, sleep_or_event
from mes_platform.messaging.backoff import DEFAULT_REDELIVERY_BACKOFF, Backoff, redelivery_delay
from mes_platform.messaging.connection import track_pull_subscription, unsubscribe_quietly, untrack_pull_subscription
from mes_platform.messaging.deadletters import describe_error, record_dead_letter
from mes_platform.messaging.events import EventContext, Handler, PoisonMessage, decode_event
from mes_platform.messaging.faults import fault_point
from mes_platform.messaging.inbox import insert_inbox, insert_inbox_many
from mes_platform.messaging.metrics import CONSUMER_HANDLE_SECONDS
from mes_platform.messaging.streams import check_consumer_name, consumer_config
from mes_platform.messaging.subjects import SubjectRouter
from mes_platform.tables import InfraTables
from mes_platform.telemetry.logs import get_logger
from mes_platform.telemetry.metrics import EVENTS_CONSUMED
from mes_platform.telemetry.tracing import (
    TRACEPARENT,
    SpanKind,
    TraceContext,
    parse_traceparent,
    span,
    tracing_enabled,
)
from mes_platform.uow import begin_flat_batch, flat_batch_failed

__all__ = ["EventConsumer"]

_log = get_logger("mes.messaging.consumer")


class _Duplicate(Exception):
    pass


class _DeliveryLimit(Exception):
    pass


class _Stopping(Exception):
    pass


class _BatchFailed(Exception):
    """A handler of a flat batch returned after one of its units of work failed."""


@dataclass(frozen=True)
class _Prepared:
    """A decoded message with its handler and context, ready to apply."""

    msg: Msg
    handler: Handler
    event: Message
    ctx: EventContext

    def parent(self) -> TraceContext | None:
        """The span that wrote the event (None: the event carries no trace)."""
        return parse_traceparent(self.ctx.meta.traceparent or self.ctx.headers.get(TRACEPARENT))

    def attributes(self) -> dict[str, str | int]:
        ctx = self.ctx
        attributes: dict[str, str | int] = {
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.destination.name": ctx.subject,
            "messaging.message.id": ctx.event_id,
            "messaging.consumer.group.name": ctx.consumer,
            "messaging.nats.delivery_count": ctx.num_delivered,
        }
        order_id = getattr(self.event, "order_id", None) or getattr(
            getattr(self.event, "order", None), "order_id", None
        )
        if isinstance(order_id, str) and order_id:
            attributes["mes.order_id"] = order_id
        return attributes

    def span(self, links: Sequence[TraceContext] = ()) -> AbstractContextManager[TraceContext]:
        """The consumer span of this event (its parent: the span that wrote it)."""
        return span(
            f"process {self.ctx.subject}",
            kind=SpanKind.CONSUMER,
            parent=self.parent(),
            links=links,
            attributes=self.attributes(),
        )


class EventConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        db: Database,
        infra: InfraTables,
        service: str,
        durable: str,
        stream: str,
        filter_subjects: Sequence[str] | None,
        handlers: Mapping[str, Handler],
        decoders: Mapping[str, type[Message]],
        *,
        max_deliver: int = 5,
        backoff: Sequence[float] = DEFAULT_REDELIVERY_BACKOFF,
        ack_wait: float = 30.0,
        batch: int = 50,
        fetch_timeout_s: float = 2.0,
        max_ack_pending: int = 1000,
        verify_interval_s: float = 30.0,
        tx_batch: int = 64,
    ) -> None:
        self._js, self._db, self._infra = js, db, infra
        self.service, self.durable, self.stream = service, check_consumer_name(durable), stream
        self._handlers: SubjectRouter[Handler] = SubjectRouter(handlers)
        self._decoders: SubjectRouter[type[Message]] = SubjectRouter(decoders)
        missing = [s for s in handlers if s not in decoders]
        if missing:
            raise ValueError(f"handlers without a decoder: {missing}")
        self.filter_subjects = list(filter_subjects or handlers)
        if not self.filter_subjects:
            raise ValueError("a consumer needs at least one subject")
        self.max_deliver, self.backoff, self.ack_wait = max_deliver, tuple(backoff), ack_wait
        self.batch, self.fetch_timeout_s, self.verify_interval_s = batch, fetch_timeout_s, verify_interval_s
        self.tx_batch = max(1, tx_batch)
        self.config = consumer_config(
            self.durable,
            self.filter_subjects,
            max_deliver=max_deliver,
            backoff=self.backoff,
            ack_wait=ack_wait,
            max_ack_pending=max_ack_pending,
            description=f"{service}: {', '.join(self.filter_subjects)}",
        )
        self._sub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._inflight: dict[int, Msg] = {}  # Msg is an unhashable dataclass: keyed by id()
        self.outcomes: dict[str, int] = {}
        self._last_outcome = ""

    # -- lifecycle -------------------------------------------------------------------

    async def ensure(self) -> ConsumerInfo:
        """Create the durable consumer or update its configuration (idempotent)."""
        return await self._js.add_consumer(self.stream, self.config)

    async def start(self) -> None:
        """Ensure the consumer, bind the pull subscription and start the fetch loop."""
        if self.running:
            return
        await self._setup()
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.durable}")
        self._keepalive = asyncio.create_task(self._keep_alive(), name=f"consumer-{self.durable}-wpi")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop fetching, finish the message in flight, ``nak`` the rest, unsubscribe."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
            self._keepalive = None
        await self._unsubscribe()

    async def _setup(self) -> None:
        await self.ensure()
        if self._sub is None:
            self._sub = await self._js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
            track_pull_subscription(self._js, self._sub)

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            untrack_pull_subscription(self._js, sub)
            await unsubscribe_quietly(sub)

    async def _run(self) -> None:
        backoff = Backoff(initial=0.2, cap=5.0)
        last_verified = time.monotonic()
        while not self._stopping.is_set():
            try:
                if self._sub is None or time.monotonic() - last_verified > self.verify_interval_s:
                    await self._verify()
                    last_verified = time.monotonic()
                msgs = await self._fetch()
            except TimeoutError:  # nats.errors.TimeoutError, or the plain one nats-py raises near the deadline
                continue  # nothing to do (fetch raises instead of returning [])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next()
                _log.warning("consumer_fetch_failed", consumer=self.durable, error=repr(exc), retry_in_s=delay)
                await self._unsubscribe()
                await sleep_or_event(self._stopping, delay)
                continue
            backoff.reset()
            try:
                await self._process_batch(msgs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the loop die; unsettled messages come back after ack_wait
                _log.exception("consumer_batch_failed", consumer=self.durable, error=repr(exc))

    async def _verify(self) -> None:
        """Re-create the consumer if it vanished (stream re-created, consumer deleted)."""
        if self._sub is not None:
            try:
                await self._js.consumer_info(self.stream, self.durable)
                return
            except NotFoundError:
                _log.warning("consumer_missing_recreating", consumer=self.durable, stream=self.stream)
                await self._unsubscribe()
        await self._setup()

    async def _fetch(self) -> list[Msg]:
        """Fetch a batch, or return [] as soon as stop() is called."""
        assert self._sub is not None
        fetch = asyncio.ensure_future(self._sub.fetch(self.batch, timeout=self.fetch_timeout_s))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch
            return []
        return fetch.result()

    async def _keep_alive(self) -> None:
        interval = max(self.ack_wait / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            for msg in list(self._inflight.values()):
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    # -- processing ------------------------------------------------------------------

    async def _process_batch(self, msgs: list[Msg]) -> None:
        self._inflight.update((id(m), m) for m in msgs)
        try:
            for start in range(0, len(msgs), self.tx_batch):
                if self._stopping.is_set():
                    for rest in msgs[start:]:
                        await self._settle(rest, "requeued", rest.nak)
                    return
                chunk = msgs[start : start + self.tx_batch]
                started = time.perf_counter()
                ready = [p for p in [await self._prepare(m) for m in chunk] if p is not None]
                if ready and await self._apply_together(ready):
                    elapsed = (time.perf_counter() - started) / len(ready)
                    for _ in ready:
                        CONSUMER_HANDLE_SECONDS.labels(self.service, self.durable).observe(elapsed)
                    continue
                for prepared in ready:
                    await self._process_one(prepared)
        finally:
            for m in msgs:
                self._inflight.pop(id(m), None)

    async def _process_one(self, prepared: _Prepared) -> None:
        if self._stopping.is_set():
            await self._settle(prepared.msg, "requeued", prepared.msg.nak)
            return
        msg = prepared.msg
        started = time.perf_counter()
        try:
            with prepared.span():
                await self._handle(prepared)
        except _Stopping:
            await self._settle(msg, "requeued", msg.nak)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the framework itself failed (e.g. dead-letter insert): retry later
            _log.exception("consumer_process_failed", consumer=self.durable, error=repr(exc))
            delay = redelivery_delay(self.backoff, msg.metadata.num_delivered)
            await self._settle(msg, "retry", functools.partial(msg.nak, delay=delay))
        CONSUMER_HANDLE_SECONDS.labels(self.service, self.durable).observe(time.perf_counter() - started)

    async def _apply_together(self, batch: list[_Prepared]) -> bool:
        """Apply a batch in one transaction; False (nothing applied) when a handler raised or a
        message is on its spare delivery, so the caller handles the batch one by one."""
        if any(p.ctx.num_delivered > self.max_deliver for p in batch):
            return False
        outcomes: list[str] = []
        links: tuple[TraceContext, ...] = ()  # the batch span, which each event's span links to

        async def apply() -> None:
            outcomes.clear()
            async with self._db.write() as session:
                begin_flat_batch(session)
                fresh = await insert_inbox_many(
                    session,
                    self._infra.inbox,
                    consumer=self.durable,
                    events=[(p.ctx.event_id, p.ctx.subject) for p in batch],
                )
                seen: set[str] = set()
                for prepared in batch:
                    event_id = prepared.ctx.event_id
                    if event_id not in fresh or event_id in seen:
                        outcomes.append("duplicate")
                        continue
                    seen.add(event_id)
                    with prepared.span(links):
                        await prepared.handler(session, prepared.event, prepared.ctx)
                    if flat_batch_failed(session):  # an error was caught after a partial write
                        raise _BatchFailed(event_id)
                    outcomes.append("applied")
                fault_point("consumer.after_effect_before_commit")

        try:
            if tracing_enabled():
                with self._batch_span(batch) as batch_span:
                    links = (batch_span,)
                    await self._retry_db(apply)
            else:  # ids only: the batch span would be nothing but an id nobody records
                await self._retry_db(apply)
        except _Stopping:
            raise
        except Exception as exc:
            if len(batch) > 1:
                _log.info("consumer_batch_split", consumer=self.durable, size=len(batch), error=repr(exc))
            return False
        fault_point("consumer.after_commit_before_ack")
        for prepared, outcome in zip(batch, outcomes, strict=True):
            await self._settle(prepared.msg, outcome, prepared.msg.ack)
        return True

    def _batch_span(self, batch: Sequence[_Prepared]) -> AbstractContextManager[TraceContext]:
        """The span of a batch applied in one transaction: in the trace of its first sampled event
        (so it is recorded when any of them is), linked to every event's context."""
        traced = [ctx for ctx in (p.parent() for p in batch) if ctx is not None]
        first = next((ctx for ctx in traced if ctx.sampled), traced[0] if traced else None)
        attributes: dict[str, str | int] = {
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": self.durable,
            "messaging.batch.message_count": len(batch),
        }
        return span(
            f"process {self.durable} batch", kind=SpanKind.CONSUMER, parent=first, links=traced, attributes=attributes
        )

    async def _prepare(self, msg: Msg) -> _Prepared | None:
        """Decode a message; settle it at once (and return None) when it is not for a handler."""
        subject = msg.subject
        md = msg.metadata
        headers = dict(msg.headers or {})
        handler = self._handlers.get(subject)
        if handler is None:
            await self._settle(msg, "ignored", msg.ack)
            return None
        try:
            event, event_id = decode_event(self._decoders, subject, msg.data)
        except PoisonMessage as exc:
            guess = headers.get(MSG_ID_HEADER) or f"seq:{md.sequence.stream}"
            poison_attributes = {"messaging.system": "nats", "messaging.destination.name": subject}
            with span(
                f"dead-letter {subject}",
                kind=SpanKind.CONSUMER,
                parent=parse_traceparent(headers.get(TRACEPARENT)),
                attributes=poison_attributes,
            ):
                await self._dead_letter(msg, guess, f"poison message: {exc}")
                await self._settle(msg, "poison", msg.term)
            return None
        meta: common_pb2.EventMeta = getattr(event, "meta")  # noqa: B009 - every event has meta (checked by decode_event)
        ctx = EventContext(
            subject=subject,
            event_id=event_id,
            consumer=self.durable,
            num_delivered=md.num_delivered,
            stream_sequence=md.sequence.stream,
            headers=headers,
            meta=meta,
        )
        return _Prepared(msg, handler, event, ctx)

    async def process(self, msg: Msg) -> str:
        """Handle one message in its own transaction and settle it (ack / nak / term); returns
        the outcome."""
        prepared = await self._prepare(msg)
        if prepared is None:
            return self._last_outcome
        with prepared.span():
            return await self._handle(prepared)

    async def _handle(self, prepared: _Prepared) -> str:
        msg, handler, event, ctx = prepared.msg, prepared.handler, prepared.event, prepared.ctx
        try:
            await self._retry_db(
                lambda: self._apply(handler, event, ctx, run_handler=ctx.num_delivered <= self.max_deliver)
            )
        except _Duplicate:
            return await self._settle(msg, "duplicate", msg.ack)
        except _DeliveryLimit:
            error = "delivery limit reached: the consumer stopped or crashed during the last attempt"
            await self._dead_letter(msg, ctx.event_id, error)
            return await self._settle(msg, "dead_letter", msg.term)
        except _Stopping:
            raise
        except Exception as exc:
            return await self._failed(msg, ctx, exc)
        fault_point("consumer.after_commit_before_ack")
        return await self._settle(msg, "applied", msg.ack)

    async def _apply(self, handler: Handler, event: Any, ctx: EventContext, *, run_handler: bool) -> None:
        async with self._db.write() as session:
            fresh = await insert_inbox(
                session, self._infra.inbox, consumer=self.durable, event_id=ctx.event_id, subject=ctx.subject
            )
            if not fresh:
                raise _Duplicate
            if not run_handler:
                raise _DeliveryLimit
            await handler(session, event, ctx)
            fault_point("consumer.after_effect_before_commit")

    async def _failed(self, msg: Msg, ctx: EventContext, exc: Exception) -> str:
        if ctx.num_delivered >= self.max_deliver:
            _log.error(
                "consumer_dead_letter", consumer=self.durable, event_id=ctx.event_id, subject=ctx.subject,
                deliveries=ctx.num_delivered, error=repr(exc),
            )  # fmt: skip
            await self._dead_letter(msg, ctx.event_id, describe_error(exc))
            return await self._settle(msg, "dead_letter", msg.term)
        delay = redelivery_delay(self.backoff, ctx.num_delivered)
        _log.warning(
            "consumer_handler_failed", consumer=self.durable, event_id=ctx.event_id, subject=ctx.subject,
            deliveries=ctx.num_delivered, retry_in_s=delay, error=repr(exc),
        )  # fmt: skip
        return await self._settle(msg, "retry", functools.partial(msg.nak, delay=delay))

    async def _dead_letter(self, msg: Msg, event_id: str, error: str) -> None:
        async def write() -> None:
            async with self._db.write() as session:
                await record_dead_letter(
                    session,
                    self._infra.dead_letters,
                    consumer=self.durable,
                    event_id=event_id,
                    subject=msg.subject,
                    payload=msg.data,
                    headers=dict(msg.headers or {}),
                    error=error,
                    deliveries=msg.metadata.num_delivered,
                )

        await self._retry_db(write)

    async def _retry_db(self, op: Callable[[], Awaitable[None]]) -> None:
        """Run ``op`` until the database answers; the message stays in progress meanwhile."""
        backoff = Backoff(initial=0.2, cap=5.0)
        while True:
            try:
                await op()
                return
            except Unavailable as exc:
                if self._stopping.is_set():
                    raise _Stopping from exc
                delay = backoff.next()
                _log.warning("consumer_db_unavailable", consumer=self.durable, retry_in_s=delay)
                await sleep_or_event(self._stopping, delay)

    async def _settle(self, msg: Msg, outcome: str, action: Callable[[], Awaitable[None]]) -> str:
        with contextlib.suppress(nats.errors.MsgAlreadyAckdError):
            await action()
        self._inflight.pop(id(msg), None)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        self._last_outcome = outcome
        EVENTS_CONSUMED.labels(self.service, self.durable, outcome).inc()
        return outcome
