"""Prometheus metrics of the messaging layer (beside ``mes_platform.telemetry.metrics``), and the
poller of the event pipeline's gauges.

Counted where it happens (the relay, the consumers):

* ``mes_outbox_publish_lag_seconds{service}``: from the outbox insert to the JetStream PubAck;
* ``mes_outbox_relay_failures_total{service}``: rows whose publish failed (retried);
* ``mes_consumer_handle_seconds{service,consumer}``: time to handle one message;
* ``mes_events_published_total`` and ``mes_events_consumed_total{service,consumer,outcome}``
  (:mod:`mes_platform.telemetry.metrics`); the outcomes ``dead_letter`` and ``poison`` are the dead
  letters written, ``retry`` the failed attempts given back for redelivery.

Read by :class:`PipelineGauges` every ``METRICS_POLL_S`` seconds (5; ``MES_<SERVICE>_METRICS_POLL_S``
or ``MES_METRICS_POLL_S``) in every process that serves ``/metrics``:

* ``mes_outbox_oldest_unpublished_age_seconds{service}``: age of the oldest outbox row not yet
  published (0 when none waits): the relay's backlog, whichever process relays;
* ``mes_outbox_unpublished_events{service}``: how many rows wait;
* ``mes_dead_letters_waiting{service,consumer}``: dead letters not replayed yet;
* from JetStream's consumer info, where the process runs messaging (a worker, or ``ROLE=all``):
  ``mes_consumer_pending_messages{stream,consumer}`` (not yet delivered),
  ``mes_consumer_ack_pending_messages{stream,consumer}`` (delivered, not yet acknowledged) and
  ``mes_consumer_redelivered_messages{stream,consumer}`` (delivered more than once, not yet
  acknowledged). The lag of a consumer is pending + ack pending (what KEDA's JetStream scaler
  reads). They are read for the process's own durable consumers *and* for every durable consumer
  of the service's own stream, so a consumer whose processes are all stopped is still watched by
  the processes of the service that publishes its events. The same consumer may so be reported by
  several processes (``max by (stream, consumer)`` in the rules).

The database is read on the writer (a replica may lag); a poll that fails keeps the last values and
logs once until it succeeds again. The poller pre-creates the dead-letter outcomes of its consumers
at 0 so that ``increase()`` sees the first dead letter of a process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from nats.js import JetStreamContext
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Select, func, select

from mes_contracts.events import STREAMS
from mes_kernel.clock import as_utc, utcnow
from mes_kernel.settings import parse_number
from mes_platform.db import Database, unavailable_on_db_errors
from mes_platform.messaging._util import sleep_or_event
from mes_platform.tables import InfraTables
from mes_platform.tasks import cancel_and_wait
from mes_platform.telemetry.logs import get_logger
from mes_platform.telemetry.metrics import EVENTS_CONSUMED

__all__ = [
    "CONSUMER_ACK_PENDING",
    "CONSUMER_HANDLE_SECONDS",
    "CONSUMER_PENDING",
    "CONSUMER_REDELIVERED",
    "DEAD_LETTERS_WAITING",
    "DEAD_LETTER_OUTCOMES",
    "DEFAULT_POLL_S",
    "OUTBOX_OLDEST_AGE",
    "OUTBOX_PUBLISH_LAG",
    "OUTBOX_UNPUBLISHED",
    "RELAY_FAILURES",
    "PipelineGauges",
    "poll_interval",
]

_log = get_logger("mes.messaging.metrics")

OUTBOX_PUBLISH_LAG = Histogram(
    "mes_outbox_publish_lag_seconds",
    "Time from the outbox insert to the JetStream PubAck",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RELAY_FAILURES = Counter("mes_outbox_relay_failures_total", "Outbox rows whose publish failed (retried)", ["service"])
CONSUMER_HANDLE_SECONDS = Histogram(
    "mes_consumer_handle_seconds",
    "Time to handle one message (transaction included)",
    ["service", "consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_OLDEST_AGE = Gauge(
    "mes_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest outbox event not yet published to JetStream (0: none waits)",
    ["service"],
)
OUTBOX_UNPUBLISHED = Gauge("mes_outbox_unpublished_events", "Outbox events not yet published to JetStream", ["service"])
DEAD_LETTERS_WAITING = Gauge(
    "mes_dead_letters_waiting", "Dead letters not replayed yet, by the consumer that gave up", ["service", "consumer"]
)
CONSUMER_PENDING = Gauge(
    "mes_consumer_pending_messages",
    "Messages of the stream not yet delivered to the durable consumer",
    ["stream", "consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "mes_consumer_ack_pending_messages",
    "Messages delivered to the durable consumer and not yet acknowledged",
    ["stream", "consumer"],
)
CONSUMER_REDELIVERED = Gauge(
    "mes_consumer_redelivered_messages",
    "Messages delivered more than once to the durable consumer and not yet acknowledged",
    ["stream", "consumer"],
)
#: The ``mes_events_consumed_total`` outcomes that write a dead letter.
DEAD_LETTER_OUTCOMES = ("dead_letter", "poison")
DEFAULT_POLL_S = 5.0
_POLL_KNOB = "METRICS_POLL_S"
_MIN_POLL_S = 0.1


def poll_interval(knobs: Mapping[str, str]) -> float:
    """``METRICS_POLL_S`` (seconds between two polls; 5 when unset); ``ValueError`` when it is not a
    number of at least 0.1."""
    return parse_number(_POLL_KNOB, knobs.get(_POLL_KNOB, ""), DEFAULT_POLL_S, minimum=_MIN_POLL_S)


class _Consumer(Protocol):
    @property
    def stream(self) -> str: ...

    @property
    def durable(self) -> str: ...


class _Connection(Protocol):
    @property
    def js(self) -> JetStreamContext: ...


class Messaging(Protocol):
    """What the poller reads of a process's messaging (``ServiceMessaging``)."""

    @property
    def conn(self) -> _Connection: ...

    @property
    def consumers(self) -> Sequence[_Consumer]: ...


class PipelineGauges:
    """Polls the outbox, the dead letters and the JetStream consumers of one process (see the module)."""

    def __init__(
        self,
        service: str,
        db: Database,
        infra: InfraTables,
        *,
        js: JetStreamContext | None = None,
        consumers: Sequence[tuple[str, str]] = (),
        interval_s: float = DEFAULT_POLL_S,
    ) -> None:
        """``consumers``: the (stream, durable) of the process's own consumers; with ``js``, these and the
        durable consumers of the service's own stream are read from JetStream."""
        self.service = service
        self.interval_s = interval_s
        self._db = db
        self._infra = infra
        self._js = js
        self._own = frozenset(consumers)
        own_stream = next((s.name for s in STREAMS if s.service == service), None)
        self._streams = sorted({stream for stream, _ in consumers} | ({own_stream} if own_stream else set()))
        self._own_stream = own_stream
        self._reported: set[tuple[str, str]] = set()
        self._dead_letter_consumers: set[str] = set()
        self._failing: set[str] = set()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        for _, durable in sorted(self._own):
            for outcome in DEAD_LETTER_OUTCOMES:
                EVENTS_CONSUMED.labels(service, durable, outcome)
            DEAD_LETTERS_WAITING.labels(service, durable).set(0)
            self._dead_letter_consumers.add(durable)

    @classmethod
    def of(
        cls,
        service: str,
        db: Database,
        infra: InfraTables,
        messaging: Messaging | None,
        *,
        interval_s: float = DEFAULT_POLL_S,
    ) -> PipelineGauges:
        """The poller of a service process: its messaging's consumers (none without messaging)."""
        interval = interval_s
        if messaging is None:
            return cls(service, db, infra, interval_s=interval)
        consumers = [(c.stream, c.durable) for c in messaging.consumers]
        return cls(service, db, infra, js=messaging.conn.js, consumers=consumers, interval_s=interval)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name=f"pipeline-gauges-{self.service}")

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.poll_once()
            await sleep_or_event(self._stopping, self.interval_s)

    # -- one poll --------------------------------------------------------------------

    async def poll_once(self) -> None:
        """Read everything once; a part that fails keeps its last values."""
        await self._guarded("database", self._poll_database())
        if self._js is not None:
            await self._guarded("jetstream", self._poll_jetstream(self._js))

    async def _guarded(self, part: str, poll: Any) -> None:
        try:
            await poll
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if part not in self._failing:
                self._failing.add(part)
                _log.warning("pipeline_gauges_failed", service=self.service, part=part, error=repr(exc))
            return
        if part in self._failing:
            self._failing.discard(part)
            _log.info("pipeline_gauges_recovered", service=self.service, part=part)

    async def _poll_database(self) -> None:
        outbox, letters = self._infra.outbox, self._infra.dead_letters
        waiting = select(func.min(outbox.c.created_at), func.count()).where(outbox.c.published_at.is_(None))
        by_consumer = (
            select(letters.c.consumer, func.count()).where(letters.c.replayed_at.is_(None)).group_by(letters.c.consumer)
        )
        (oldest, count), *_ = await self._rows(waiting)
        dead = {str(consumer): int(n) for consumer, n in await self._rows(by_consumer)}
        age = max(0.0, (utcnow() - as_utc(oldest)).total_seconds()) if oldest is not None else 0.0
        OUTBOX_OLDEST_AGE.labels(self.service).set(age)
        OUTBOX_UNPUBLISHED.labels(self.service).set(int(count or 0))
        self._dead_letter_consumers |= set(dead)
        for consumer in self._dead_letter_consumers:
            DEAD_LETTERS_WAITING.labels(self.service, consumer).set(dead.get(consumer, 0))

    async def _rows(self, statement: Select[Any, Any]) -> list[Any]:
        """The rows of ``statement`` read on the writer (on SQLite: the one file, through the reader)."""
        db = self._db
        if not db.is_postgres:
            async with db.read() as session:
                return list((await session.execute(statement)).all())
        async with unavailable_on_db_errors(), db.writer.connect() as conn:
            return list((await conn.execute(statement)).all())

    async def _poll_jetstream(self, js: JetStreamContext) -> None:
        seen: set[tuple[str, str]] = set()
        for stream in self._streams:
            for info in await js.consumers_info(stream):
                name = info.config.durable_name or ""
                key = (stream, name)
                if not name or (stream != self._own_stream and key not in self._own):
                    continue  # ephemeral (the facade's ordered consumers), or another service's business
                seen.add(key)
                CONSUMER_PENDING.labels(*key).set(info.num_pending or 0)
                CONSUMER_ACK_PENDING.labels(*key).set(info.num_ack_pending or 0)
                CONSUMER_REDELIVERED.labels(*key).set(info.num_redelivered or 0)
        for gone in self._reported - seen:  # a deleted consumer: no series left behind
            for gauge in (CONSUMER_PENDING, CONSUMER_ACK_PENDING, CONSUMER_REDELIVERED):
                with contextlib.suppress(KeyError):
                    gauge.remove(*gone)
        self._reported = seen
