"""Outbox relay: publishes the service's outbox rows to JetStream.

Rows are written by :class:`mes_platform.outbox.OutboxWriter` in the same
transaction as the state change. The relay is a background task that

* sweeps every unpublished row at start-up, then polls every ``poll_interval_s``
  (200 ms) and is woken at once by :meth:`OutboxRelay.notify` (call it after commit);
* publishes a batch (``seq`` order) with ``Nats-Msg-Id = event_id`` using asynchronous
  publishing: all messages are sent, then all PubAcks are awaited together;
* marks ``published_at`` only for the rows JetStream acknowledged;
* on NATS errors retries with exponential back-off (capped at ``max_backoff_s``)
  forever. A row stays unpublished until acknowledged, so nothing is lost.

A row JetStream *rejects* (no stream for its subject, payload too large, ...) would sit
at the head of every batch; after ``stuck_after`` rejections it moves to a slow lane
that is retried every ``stuck_retry_interval_s`` (and at start-up), so it never blocks
the rows behind it and is still never dropped. Connection errors and timeouts do not
count as rejections, so an outage never pushes rows into the slow lane; nor does "no
responders" for a subject that a stream does capture (asked of JetStream,
``$JS.API.STREAM.NAMES``): on a NATS cluster that is a stream electing its leader, for a
second or a few, and the relay backs off and publishes those rows again.

Several relay replicas
----------------------
On PostgreSQL a batch is *claimed*: one transaction selects the rows with
``FOR UPDATE SKIP LOCKED``, publishes them, marks the acknowledged ones and commits.
Replicas therefore work on disjoint batches; a replica that dies mid-batch releases
its locks with its connection and another replica publishes the rows again. Holding
the row locks during the publish blocks no service write (inserts do not conflict
with row locks) and is bounded by ``publish_timeout_s``.

On SQLite (one file, one process) nothing is claimed: the rows are read in a short
transaction, published, then marked in another, so the single writer lock is never
held while waiting for NATS.

In every case a row may be published more than once (a crash after the PubAck and
before the mark, or two SQLite processes): JetStream drops the copy inside the
stream's duplicate window (same ``Nats-Msg-Id``) and consumers' inbox tables drop it
after that. At-least-once, never lost.

:meth:`OutboxRelay.republish` re-publishes a ``created_at`` range whatever its
``published_at`` (after a broker lost data); consumers deduplicate by event id.

When the service reads on a streaming replica (:mod:`mes_platform.replica`), every message of a batch
carries ``Mes-Commit-Lsn``: the writer's WAL flush location read right after the batch was fetched, so
at or past the commit of each of its rows (a row is visible only once its commit is flushed). A reader
of the service that must see what an event says happened sends it as its minimum position (the
facade's live feeds do): the event's effects are then read on the writer, or on the replica once it
has replayed them. One statement per batch; nothing without a replica.

Each traced row is published in a producer span (``publish <subject>``) under the span that
wrote it (the row's ``traceparent``), ended when its PubAck arrives or the row fails; the NATS
header ``traceparent`` stays the row's, so the consumers' spans are children of the writer's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError
from sqlalchemy import BigInteger, Select, Table, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc, utcnow
from mes_platform.db import Database
from mes_platform.messaging._util import EVENT_POSITION_HEADER, MSG_ID_HEADER, decode_headers, sleep_or_event
from mes_platform.messaging.backoff import Backoff
from mes_platform.messaging.connection import client_of
from mes_platform.messaging.faults import fault_point
from mes_platform.messaging.metrics import OUTBOX_PUBLISH_LAG, RELAY_FAILURES
from mes_platform.replica import flushed_position, format_lsn
from mes_platform.telemetry.logs import get_logger
from mes_platform.telemetry.metrics import EVENTS_PUBLISHED
from mes_platform.telemetry.tracing import TRACEPARENT, DetachedSpan, SpanKind, parse_traceparent, start_detached_span

__all__ = ["OutboxRelay", "PublishError", "PublishOutcome"]

_log = get_logger("mes.messaging.relay")


class PublishError(Exception):
    """Some rows of a batch were not acknowledged by JetStream (they stay unpublished)."""

    def __init__(self, failed: int, total: int, cause: BaseException | None) -> None:
        super().__init__(f"{failed} of {total} events not acknowledged: {cause!r}")
        self.failed = failed
        self.total = total
        self.cause = cause


@dataclass(frozen=True)
class _OutboxRow:
    seq: int
    event_id: str
    subject: str
    payload: bytes
    headers: str
    created_at: datetime


@dataclass(frozen=True)
class PublishOutcome:
    acked: list[tuple[_OutboxRow, PubAck]]
    failed: list[_OutboxRow]
    error: BaseException | None
    rejected: list[_OutboxRow]  # failed because JetStream refused the message itself


#: Errors about the message itself (not the connection): they count towards ``stuck_after``.
_REJECTIONS = (APIError, NoStreamResponseError, nats.errors.MaxPayloadError, nats.errors.BadSubjectError)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        outbox: Table,
        js: JetStreamContext,
        service: str,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 0.2,
        publish_timeout_s: float = 5.0,
        max_backoff_s: float = 5.0,
        claim_rows: bool | None = None,
        connected: Callable[[], bool] | None = None,
        stuck_after: int = 10,
        stuck_retry_interval_s: float = 60.0,
    ) -> None:
        if batch_size < 1 or stuck_after < 1:
            raise ValueError("batch_size and stuck_after must be >= 1")
        self._db = db
        self._t = outbox
        self._js = js
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.publish_timeout_s = publish_timeout_s
        self.claim_rows = db.is_postgres if claim_rows is None else claim_rows
        self._connected = connected or (lambda: client_of(js).is_connected)
        self._backoff = Backoff(initial=min(0.1, max_backoff_s), cap=max_backoff_s)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stuck_after = stuck_after
        self.stuck_retry_interval_s = stuck_retry_interval_s
        self._stuck_tried_at = -math.inf
        self.published_total = 0
        self._queries = self._build_queries()
        self._mark_acked, self._mark_rejected = self._build_marks()

    # -- lifecycle -------------------------------------------------------------------

    def notify(self) -> None:
        """Wake the relay now (call after committing a transaction that wrote events)."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in flight (bounded by ``timeout``), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    async def _run(self) -> None:
        _log.info("relay_started", service=self.service, claim_rows=self.claim_rows)
        while not self._stopping.is_set():
            self._wake.clear()
            if not self._connected():
                await sleep_or_event(self._stopping, self._backoff.next())
                continue
            try:
                await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = self._backoff.next()
                _log.warning("relay_retry", service=self.service, error=repr(exc), retry_in_s=delay)
                await sleep_or_event(self._stopping, delay)
                continue
            self._backoff.reset()
            await sleep_or_event(self._wake, self.poll_interval_s)
        _log.info("relay_stopped", service=self.service, published=self.published_total)

    # -- publishing ------------------------------------------------------------------

    async def publish_pending(self) -> int:
        """Publish every unpublished row (batch after batch); returns how many were acknowledged.

        Raises :class:`PublishError` (after marking what was acknowledged) when a batch
        was not fully acknowledged.
        """
        total = 0
        if time.monotonic() - self._stuck_tried_at >= self.stuck_retry_interval_s:
            self._stuck_tried_at = time.monotonic()
            total += await self._publish_stuck()
        while not self._stopping.is_set():
            count, full = await self.publish_batch()
            total += count
            if not full:
                break
        return total

    async def _publish_stuck(self) -> int:
        """One pass over the slow lane; its failures are logged, not raised."""
        total = 0
        try:
            while not self._stopping.is_set():
                count, full = await self.publish_batch(stuck=True)
                total += count
                if not full:
                    break
        except PublishError as exc:
            _log.warning("relay_stuck_lane_failed", service=self.service, failed=exc.failed, error=repr(exc.cause))
        return total

    async def publish_batch(self, *, stuck: bool = False) -> tuple[int, bool]:
        """Publish one batch; returns (acknowledged rows, whether the batch was full).

        ``stuck=True`` takes the batch from the slow lane (rows rejected ``stuck_after`` times).
        """
        if self.claim_rows:
            async with self._db.write() as session:
                rows = await self._fetch(session, self._unpublished(stuck))
                if not rows:
                    return 0, False
                outcome = await self._publish_claimed(rows, await self._position(session))
                await self._mark(session, outcome)
        else:
            async with self._db.write() as session:
                rows = await self._fetch(session, self._unpublished(stuck))
                position = await self._position(session) if rows else 0
            if not rows:
                return 0, False
            outcome = await self._publish_claimed(rows, position)
            async with self._db.write() as session:
                await self._mark(session, outcome)
        self._account(outcome)
        # Rejected rows are counted (see stuck_after) but do not stop the relay; anything
        # else (connection lost, no PubAck in time) makes the caller back off.
        if len(outcome.failed) > len(outcome.rejected):
            raise PublishError(len(outcome.failed), len(rows), outcome.error)
        return len(outcome.acked), len(rows) == self.batch_size

    async def republish(self, since: datetime, until: datetime, *, max_attempts: int = 5) -> int:
        """Publish again every row with ``since <= created_at < until``, published or not.

        Returns the number of acknowledged rows (duplicates JetStream dropped included).
        Each batch is retried with back-off up to ``max_attempts`` times.
        """
        t = self._t
        after_seq = 0
        total = 0
        while True:
            query = (
                select(t.c.seq, t.c.event_id, t.c.subject, t.c.payload, t.c.headers, t.c.created_at)
                .where(t.c.created_at >= since, t.c.created_at < until, t.c.seq > after_seq)
                .order_by(t.c.seq)
                .limit(self.batch_size)
            )
            async with self._db.write() as session:
                rows = await self._fetch(session, query)
            if not rows:
                return total
            pending = rows
            backoff = Backoff(initial=self._backoff.initial, cap=self._backoff.cap)
            for attempt in range(1, max_attempts + 1):
                outcome = await self._publish(pending)
                async with self._db.write() as session:
                    await self._mark(session, outcome)
                self._account(outcome)
                total += len(outcome.acked)
                if not outcome.failed:
                    break
                if attempt == max_attempts:
                    raise PublishError(len(outcome.failed), len(rows), outcome.error)
                pending = outcome.failed
                await asyncio.sleep(backoff.next())
            after_seq = rows[-1].seq
            _log.info("relay_republished_batch", service=self.service, rows=len(rows), up_to_seq=after_seq)

    # -- internals -------------------------------------------------------------------

    def _unpublished(self, stuck: bool) -> Select[int, str, str, bytes, str, datetime]:
        return self._queries[stuck]

    def _build_queries(self) -> dict[bool, Select[int, str, str, bytes, str, datetime]]:
        """The unpublished rows of the normal lane (False) and of the slow lane (True), built once."""
        t = self._t
        queries = {}
        for stuck in (False, True):
            lane = t.c.attempts >= self.stuck_after if stuck else t.c.attempts < self.stuck_after
            query = (
                select(t.c.seq, t.c.event_id, t.c.subject, t.c.payload, t.c.headers, t.c.created_at)
                .where(t.c.published_at.is_(None), lane)
                .order_by(t.c.seq)
                .limit(self.batch_size)
            )
            queries[stuck] = query.with_for_update(skip_locked=True) if self.claim_rows else query
        return queries

    def _build_marks(self) -> tuple[Any, Any]:
        """The updates of acknowledged and of rejected rows, built once; on PostgreSQL the rows
        are one array parameter (one statement text whatever their number)."""
        t = self._t
        if self._db.is_postgres:
            rows: Any = t.c.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger)))
        else:
            rows = t.c.seq.in_(bindparam("seqs", expanding=True))
        published = func.coalesce(t.c.published_at, bindparam("now"))
        acked = update(t).where(rows).values(published_at=published, attempts=t.c.attempts + 1)
        rejected = update(t).where(rows).values(attempts=t.c.attempts + 1)
        return acked, rejected

    async def _fetch(
        self, session: AsyncSession, query: Select[int, str, str, bytes, str, datetime]
    ) -> list[_OutboxRow]:
        result = (await session.execute(query)).all()
        return [_OutboxRow(r[0], r[1], r[2], bytes(r[3]), r[4] or "{}", as_utc(r[5])) for r in result]

    async def _position(self, session: AsyncSession) -> int:
        """The writer's flush location for the batch's ``Mes-Commit-Lsn`` (0: no replica, or unknown)."""
        if self._db.router is None:
            return 0
        try:
            return await flushed_position(await session.connection())
        except Exception as exc:  # the batch goes without it: readers of its events do not wait
            _log.warning("event_position_unknown", service=self.service, error=str(exc) or type(exc).__name__)
            return 0

    async def _publish_claimed(self, rows: Sequence[_OutboxRow], position: int = 0) -> PublishOutcome:
        """:meth:`_publish` a fetched batch, with a fault point either side (where crash tests stop the relay)."""
        fault_point("relay.after_commit_before_publish")
        outcome = await self._publish(rows, position)
        fault_point("relay.after_publish_before_mark")
        return outcome

    async def _publish(self, rows: Sequence[_OutboxRow], position: int = 0) -> PublishOutcome:
        """Send every row (with ``position`` as ``Mes-Commit-Lsn`` when given), then await all PubAcks
        together (bounded by ``publish_timeout_s``)."""
        futures: list[tuple[_OutboxRow, asyncio.Future[PubAck]]] = []
        error: BaseException | None = None
        rejected: list[_OutboxRow] = []
        no_responders: set[int] = set()
        sent = 0
        spans: dict[int, DetachedSpan] = {}
        for row in rows:
            headers = decode_headers(row.headers)
            headers[MSG_ID_HEADER] = row.event_id
            if position:
                headers[EVENT_POSITION_HEADER] = format_lsn(position)
            producer = _producer_span(row, headers)
            if producer is not None:
                spans[row.seq] = producer
            try:
                future = await self._js.publish_async(
                    row.subject, row.payload, headers=headers, wait_stall=self.publish_timeout_s
                )
            except _REJECTIONS as exc:  # this message cannot be sent: go on with the others
                error = exc
                rejected.append(row)
                if isinstance(exc, NoStreamResponseError):
                    no_responders.add(row.seq)
                sent += 1
                continue
            except Exception as exc:  # connection closed, buffer full, stalled: stop sending
                error = exc
                break
            sent += 1
            futures.append((row, future))
        if futures:
            _, pending = await asyncio.wait([f for _, f in futures], timeout=self.publish_timeout_s)
            for future in pending:
                future.cancel()
        acked: list[tuple[_OutboxRow, PubAck]] = []
        failed: list[_OutboxRow] = list(rejected)
        for row, future in futures:
            if future.done() and not future.cancelled() and future.exception() is None:
                acked.append((row, future.result()))
                continue
            failed.append(row)
            problem = TimeoutError("no PubAck within publish_timeout_s") if future.cancelled() else future.exception()
            if isinstance(problem, _REJECTIONS):
                rejected.append(row)
                if isinstance(problem, NoStreamResponseError):
                    no_responders.add(row.seq)
            error = error or problem
        failed.extend(rows[sent:])
        if spans:
            _end_spans(spans, acked, failed, error)
        if no_responders:
            rejected = await self._without_leaderless(rejected, no_responders)
        return PublishOutcome(acked, failed, error, rejected)

    async def _without_leaderless(self, rejected: list[_OutboxRow], no_responders: set[int]) -> list[_OutboxRow]:
        """``rejected`` without the rows refused with "no responders" (``no_responders``: their
        seqs) although a stream captures their subject: its leader is being elected, not the
        message's fault. A subject whose stream cannot be looked up now is not held against its
        rows either."""
        subjects = {row.subject for row in rejected if row.seq in no_responders}
        streamless: set[str] = set()
        for subject in subjects:
            try:
                await asyncio.wait_for(self._js.find_stream_name_by_subject(subject), timeout=self.publish_timeout_s)
            except NotFoundError:
                streamless.add(subject)
            except Exception:  # JetStream unreachable now: transient, retried after the back-off
                continue
        return [row for row in rejected if row.seq not in no_responders or row.subject in streamless]

    async def _mark(self, session: AsyncSession, outcome: PublishOutcome) -> None:
        acked = [row.seq for row, _ in outcome.acked]
        if acked:
            await session.execute(self._mark_acked, {"seqs": acked, "now": utcnow()})
        if outcome.rejected:
            await session.execute(self._mark_rejected, {"seqs": [row.seq for row in outcome.rejected]})

    def _account(self, outcome: PublishOutcome) -> None:
        now = time.time()
        for row, _ack in outcome.acked:
            EVENTS_PUBLISHED.labels(self.service, row.subject).inc()
            OUTBOX_PUBLISH_LAG.labels(self.service).observe(max(0.0, now - row.created_at.timestamp()))
        self.published_total += len(outcome.acked)
        if outcome.failed:
            RELAY_FAILURES.labels(self.service).inc(len(outcome.failed))
            _log.warning(
                "relay_publish_failed",
                service=self.service,
                failed=len(outcome.failed),
                acked=len(outcome.acked),
                error=repr(outcome.error),
                first_event_id=outcome.failed[0].event_id,
            )


def _producer_span(row: _OutboxRow, headers: dict[str, str]) -> DetachedSpan | None:
    """The producer span of a traced row (None: untraced, or tracing off)."""
    parent = parse_traceparent(headers.get(TRACEPARENT))
    if parent is None:
        return None
    return start_detached_span(
        f"publish {row.subject}",
        kind=SpanKind.PRODUCER,
        parent=parent,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "publish",
            "messaging.destination.name": row.subject,
            "messaging.message.id": row.event_id,
        },
    )


def _end_spans(
    spans: dict[int, DetachedSpan],
    acked: Sequence[tuple[_OutboxRow, PubAck]],
    failed: Sequence[_OutboxRow],
    error: BaseException | None,
) -> None:
    for row, _ack in acked:
        done = spans.pop(row.seq, None)
        if done is not None:
            done.end()
    why = type(error).__name__ if error is not None else "not acknowledged"
    for row in failed:
        done = spans.pop(row.seq, None)
        if done is not None:
            done.end(error=why)
    for rest in spans.values():
        rest.end()
