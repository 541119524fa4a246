"""Publishes the partners' API usage (:mod:`graphql_facade.usage`) as ``PARTNER_USAGE_RECORDED`` events.

A background task of the facade's lifespan (started by :class:`graphql_facade.runtime.Facade` when the
facade has NATS and ``MES_FACADE_USAGE_EVENTS`` is on) looks at the meter every ``interval_s`` (1 s):
the minutes that ended are turned into one event per partner active in them and published in order,
oldest first, to the FACADE stream (:data:`mes_contracts.events.FACADE_STREAM`).

* **Idempotent.** An event is built once; every retry sends the same bytes with the same
  ``Nats-Msg-Id``, which is ``meta.event_id``: a UUID derived from the instance (``MES_INSTANCE``),
  this process's run, the partner and the minute. JetStream drops a retried publish it already
  stored (within the stream's duplicate window), consumers deduplicate by the event id beyond it.
  The run keeps apart the minute a replica flushed when it stopped and the rest of that minute
  counted by its next start under the same instance name: two events, both counted.
* **Retries.** A failed publish is retried after an exponential back-off (0.5 s doubling up to
  30 s, within the 120 s duplicate window), the events keep their order.
* **Bounded.** While NATS is away the events of at most ``buffer_minutes`` minutes
  (``MES_FACADE_USAGE_BUFFER_MINUTES``, 60) are kept; past that the oldest minute is dropped,
  counted in ``mes_facade_usage_events_dropped_total{reason="buffer_full"}`` with a warning.
* **Stop.** :meth:`UsagePublisher.stop` closes the open minute (no request counts any more) and
  publishes what is left within ``stop_timeout_s``; what still fails is counted (``reason="shutdown"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from graphql_facade.metrics import USAGE_DROPPED, USAGE_PUBLISHED
from graphql_facade.usage import LATENCY_BOUNDS_MS, ClosedMinute, PartnerMinute, UsageMeter
from mes.facade.v1 import usage_events_pb2
from mes_contracts.events import PARTNER_USAGE_RECORDED
from mes_platform.messaging.backoff import Backoff
from mes_platform.telemetry.logs import get_logger

__all__ = ["PRODUCER", "Publish", "UsageEvent", "UsagePublisher", "usage_event"]

_log = get_logger("mes.facade.usage")
#: ``meta.producer`` of the facade's events.
PRODUCER = "facade"
#: The namespace of the events' ids (uuid5 of instance, run, partner and minute).
_ID_NAMESPACE = uuid.UUID("5d0f8f5e-7b1a-4c39-9a55-3f4a1f0c2b61")

#: ``await publish(subject, payload, msg_id)``: returns once JetStream acknowledged, raises otherwise.
Publish = Callable[[str, bytes, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One event ready to publish (and to publish again, unchanged)."""

    msg_id: str
    partner_id: str
    minute_start: int
    payload: bytes


def usage_event(tally: PartnerMinute, minute_start: int, *, instance: str, run: str, now: float) -> UsageEvent:
    """The ``PartnerUsageRecordedEvent`` of one partner's minute, encoded (operations and error codes
    in the order of their names: the same tally always gives the same bytes)."""
    event_id = str(uuid.uuid5(_ID_NAMESPACE, f"{instance}\n{run}\n{tally.partner_id}\n{minute_start}"))
    message = usage_events_pb2.PartnerUsageRecordedEvent(
        partner_id=tally.partner_id,
        tier=tally.tier,
        minute_start=Timestamp(seconds=minute_start),
        instance=instance,
        requests=tally.requests,
        throttled=tally.throttled,
        rate_limited=tally.rate_limited,
        rejected_cost=tally.rejected_cost,
        cost_used=tally.cost_used,
        cost_capacity=tally.cost_capacity,
        errors_4xx=tally.errors_4xx,
        errors_5xx=tally.errors_5xx,
        latency_ms_sum=round(tally.latency_ms_sum),
        latency_ms_max=round(tally.latency_ms_max),
        latency_bucket_counts=tally.latency_counts,
        latency_bucket_bounds_ms=LATENCY_BOUNDS_MS,
        operations=[
            usage_events_pb2.OperationUsage(
                operation=op.operation,
                requests=op.requests,
                errors=op.errors,
                latency_ms_sum=round(op.latency_ms_sum),
                latency_bucket_counts=op.latency_counts,
            )
            for _name, op in sorted(tally.operations.items())
        ],
        error_codes=[
            usage_events_pb2.ErrorCodeCount(code=code, count=count) for code, count in sorted(tally.error_codes.items())
        ],
        submissions=tally.submissions,
        replays=tally.replays,
        key_reused=tally.key_reused,
    )
    message.meta.event_id = event_id
    message.meta.producer = PRODUCER
    message.meta.occur_time.FromDatetime(datetime.fromtimestamp(now, UTC))
    return UsageEvent(event_id, tally.partner_id, minute_start, message.SerializeToString())


class UsagePublisher:
    """Turns the meter's closed minutes into events and publishes them (see the module)."""

    def __init__(
        self,
        meter: UsageMeter,
        publish: Publish,
        *,
        instance: str,
        buffer_minutes: int = 60,
        interval_s: float = 1.0,
        stop_timeout_s: float = 5.0,
        backoff: Backoff | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if buffer_minutes < 1:
            raise ValueError("buffer_minutes must be at least 1")
        self.meter = meter
        self.instance = instance
        self.buffer_minutes = buffer_minutes
        #: This process's run: part of every event id (see the module).
        self.run = uuid.uuid4().hex
        self._publish = publish
        #: How often the meter is looked at; the back-off between failed publishes; the flush's bound.
        self.interval_s = interval_s
        self.backoff = backoff or Backoff(initial=0.5, factor=2.0, cap=30.0)
        self.stop_timeout_s = stop_timeout_s
        #: The clock of the back-off (monotonic seconds).
        self._timer = timer
        #: Minutes waiting to be published, oldest first; each with its events not yet acknowledged.
        self._pending: deque[tuple[int, deque[UsageEvent]]] = deque()
        self._retry_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self.published_total = 0
        self.dropped_total = 0

    @property
    def pending_events(self) -> int:
        return sum(len(events) for _, events in self._pending)

    @property
    def pending_minutes(self) -> list[int]:
        """The starts (epoch seconds) of the minutes waiting, oldest first."""
        return [start for start, _ in self._pending]

    def collect(self, *, everything: bool = False) -> int:
        """Take the meter's closed minutes (``everything``: the open one too) as events; drop the
        oldest minutes beyond ``buffer_minutes``. Returns how many events were added."""
        added = 0
        now = self.meter.clock()
        for closed in self.meter.close(everything=everything):
            added += self._add(closed, now)
        while len(self._pending) > self.buffer_minutes:
            start, events = self._pending.popleft()
            self._drop(len(events), "buffer_full", minute_start=start)
        return added

    def _add(self, closed: ClosedMinute, now: float) -> int:
        if not closed.partners:
            return 0
        events = deque(
            usage_event(tally, closed.start, instance=self.instance, run=self.run, now=now) for tally in closed.partners
        )
        self._pending.append((closed.start, events))  # the meter closes each minute once
        return len(events)

    async def publish_pending(self) -> bool:
        """Publish the waiting events in order; False at the first failure (the rest stays)."""
        while self._pending:
            _start, events = self._pending[0]
            while events:
                event = events[0]
                try:
                    await self._publish(PARTNER_USAGE_RECORDED.subject, event.payload, event.msg_id)
                except Exception as exc:
                    _log.warning(
                        "usage_publish_failed",
                        error=type(exc).__name__,
                        detail=str(exc)[:200],
                        pending_events=self.pending_events,
                        pending_minutes=len(self._pending),
                    )
                    return False
                events.popleft()
                self.published_total += 1
                USAGE_PUBLISHED.inc()
            self._pending.popleft()
        return True

    async def tick(self) -> None:
        """One round of the background task: collect, then publish unless a back-off is running."""
        self.collect()
        if not self._pending or self._timer() < self._retry_at:
            return
        if await self.publish_pending():
            self.backoff.reset()
            self._retry_at = 0.0
        else:
            self._retry_at = self._timer() + self.backoff.next()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="facade-usage-events")

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                _log.exception("usage_tick_failed")
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        """Stop the task, close the open minute and publish what is left (bounded by ``stop_timeout_s``)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.collect(everything=True)
        self.backoff.reset()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.stop_timeout_s):
                while True:
                    if await self.publish_pending():
                        break
                    await asyncio.sleep(self.backoff.next())
        left = self.pending_events
        if left:
            first = self._pending[0][0] if self._pending else 0
            self._pending.clear()
            self._drop(left, "shutdown", minute_start=first)
        _log.info("usage_events_stopped", published=self.published_total, dropped=self.dropped_total)

    def _drop(self, count: int, reason: str, *, minute_start: int) -> None:
        self.dropped_total += count
        USAGE_DROPPED.labels(reason).inc(count)
        _log.warning(
            "usage_events_dropped",
            reason=reason,
            events=count,
            minute=datetime.fromtimestamp(minute_start, UTC).isoformat(),
            buffer_minutes=self.buffer_minutes,
        )
