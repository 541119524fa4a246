"""Reads on a streaming replica: read-your-writes by commit position, the lag probe, the fall-back.

A service whose reader (``DATABASE_READ_URL``) is another PostgreSQL server than its writer (a
streaming replica) routes the reads of :meth:`mes_platform.db.Database.read` with a
:class:`ReplicaRouter`; SQLite, and a reader that is the writer, keep reading where they did.

**Positions.** A position is a PostgreSQL WAL location (an LSN, ``16/B374D848``; an integer here). A
gRPC call's write transaction that changed something reports, after its commit, the writer's WAL
flush location (``pg_current_wal_flush_lsn()``: the end of the commit record at least, since the
routed writer never commits with ``synchronous_commit = off``; a connection whose server default
is ``off`` gets ``local``). The call's answer carries the highest one in its trailing metadata
``x-mes-commit-lsn``; a caller that wrote sends the highest position it has seen in the metadata
``x-mes-min-lsn`` of its later calls (:mod:`clients._base` does both). A malformed
``x-mes-min-lsn`` is INVALID_ARGUMENT ``MALFORMED_POSITION``.

**Routing** of one read (:meth:`ReplicaRouter.route`):

* the replica is marked failed: the writer;
* the call wrote before this read: the writer (the replica cannot have its commit yet);
* no position, or one the replica is known to have applied (``pg_last_wal_replay_lsn()``, from the
  probe or an earlier read): the replica;
* a position the replica is not known to have applied: the read's replica connection polls
  ``pg_last_wal_replay_lsn()`` (every 2 ms, backing off to 25 ms) for up to
  ``DATABASE_REPLICA_WAIT_MS``, then reads there once it got there, else on the writer. When the
  replica is behind by more than that wait already (the probe's lag), the read goes to the writer
  at once.

A read that cannot reach the replica (a connection error, or no connection within
``DATABASE_REPLICA_PROBE_TIMEOUT_S`` plus the wait) runs on the writer and marks the replica failed.

**The probe** runs every ``DATABASE_REPLICA_PROBE_S`` in the background: it reads the replica's
applied location and lag, and the writer's flush location. It sets
``mes_db_replica_lag_seconds{service}``: the larger of the replica's own measure (time since the
last applied commit while received WAL waits to be applied: what ``recovery_min_apply_delay`` or a
slow apply shows) and the writer's (how long ago the writer was already past what the replica has
applied: what a stalled stream shows, at the probe's resolution); ``+Inf`` while the replica is
marked failed. A probe that fails or does not answer within ``DATABASE_REPLICA_PROBE_TIMEOUT_S``
marks the replica failed: reads go to the writer, without errors, until a probe succeeds again.
So a failed replica is detected within the probe interval plus its timeout (2 s by default).
``mes_db_replica_reads_total{service,route}`` counts the reads by where they ran and why
(``replica``, ``replica_waited``, ``writer_behind``, ``writer_wrote``, ``writer_failed``).

Knobs (service settings, looked up like the others: ``MES_<SERVICE>_<KEY>``, then ``MES_<KEY>``):

``DATABASE_REPLICA_WAIT_MS`` [200]
    how long a read may wait for the replica to apply the caller's position (0: at once to the writer).
``DATABASE_REPLICA_PROBE_S`` [1]
    interval of the lag probe.
``DATABASE_REPLICA_PROBE_TIMEOUT_S`` [1]
    a probe (or a read's connection to the replica) slower than this marks the replica failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import deque
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from prometheus_client import Counter
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mes_kernel.errors import InvalidArgument
from mes_kernel.settings import parse_number
from mes_platform.tasks import cancel_and_wait
from mes_platform.telemetry.logs import get_logger
from mes_platform.telemetry.metrics import REPLICA_LAG

__all__ = [
    "COMMIT_POSITION_KEY",
    "MIN_POSITION_KEY",
    "CallPositions",
    "ReplicaRouter",
    "ReplicaSettings",
    "Route",
    "call_positions",
    "current_call",
    "enter_call",
    "format_lsn",
    "leave_call",
    "parse_lsn",
]

#: Trailing metadata of a call whose writes committed: the highest commit position (LSN text).
COMMIT_POSITION_KEY = "x-mes-commit-lsn"
#: Metadata of a call that must see the caller's writes: the highest position the caller has seen.
MIN_POSITION_KEY = "x-mes-min-lsn"

_log = get_logger("mes.db.replica")
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")
_LSN_BYTES = "(({}) - '0/0'::pg_lsn)::bigint"
#: On the replica: in recovery?, what it has applied, and how long its received WAL has waited.
_REPLICA_STATE = text(
    "SELECT pg_is_in_recovery(), "
    + _LSN_BYTES.format("pg_last_wal_replay_lsn()")
    + ", CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()"
    " THEN 0 ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END"
)
_REPLAYED = text("SELECT " + _LSN_BYTES.format("pg_last_wal_replay_lsn()"))
_FLUSHED = "SELECT " + _LSN_BYTES.format("pg_current_wal_flush_lsn()")
_WROTE = text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
#: A routed writer connection never commits asynchronously: its flush location must cover its commits.
_NO_ASYNC_COMMIT = (
    "SELECT set_config('synchronous_commit', 'local', false) WHERE current_setting('synchronous_commit') = 'off'"
)
#: Writer samples kept for the lag measure (at the probe interval: 10 minutes by default).
_SAMPLES = 600

READS = Counter(
    "mes_db_replica_reads_total",
    "Reads of a service that has a read replica, by where they ran and why",
    ["service", "route"],
)


def parse_lsn(raw: str) -> int:
    """``"16/B374D848"`` -> its byte position (``ValueError`` when it is not an LSN)."""
    match = _LSN.match(raw.strip())
    if match is None:
        raise ValueError(f"not a WAL position: {raw!r}")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value: int) -> str:
    """A byte position in PostgreSQL's text form (``16/B374D848``)."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


class CallPositions:
    """The positions of one gRPC call: what the caller must see, and what the call committed."""

    __slots__ = ("committed", "needed", "wrote")

    def __init__(self, needed: int = 0) -> None:
        self.needed = needed
        #: The highest commit position of the call's writes (0: none known).
        self.committed = 0
        #: A write of the call changed something (its reads go to the writer from then on).
        self.wrote = False

    def note_commit(self, position: int) -> None:
        self.wrote = True
        if position > self.committed:
            self.committed = position


_CALL: ContextVar[CallPositions | None] = ContextVar("mes_call_positions", default=None)


def call_positions(raw: str | None) -> CallPositions:
    """The positions of a call from its ``x-mes-min-lsn`` metadata (INVALID_ARGUMENT when malformed)."""
    if not raw:
        return CallPositions()
    try:
        return CallPositions(parse_lsn(raw))
    except ValueError:
        raise InvalidArgument(
            f"{MIN_POSITION_KEY} must be a WAL position as {COMMIT_POSITION_KEY} gave it (e.g. 16/B374D848)",
            reason="MALFORMED_POSITION",
        ) from None


def enter_call(positions: CallPositions) -> Token[CallPositions | None]:
    return _CALL.set(positions)


def leave_call(token: Token[CallPositions | None]) -> None:
    _CALL.reset(token)


def current_call() -> CallPositions | None:
    """The positions of the gRPC call being served (None outside calls: consumers, tasks, tools)."""
    return _CALL.get()


@dataclass(frozen=True)
class ReplicaSettings:
    """The knobs of one service's replica routing (see the module)."""

    service: str = ""
    wait_s: float = 0.2
    probe_interval_s: float = 1.0
    probe_timeout_s: float = 1.0

    @classmethod
    def from_knobs(cls, service: str, knobs: Mapping[str, str]) -> ReplicaSettings:
        def number(key: str, default: float, minimum: float) -> float:
            return parse_number(key, knobs.get(key, ""), default, minimum=minimum)

        return cls(
            service=service,
            wait_s=number("DATABASE_REPLICA_WAIT_MS", 200.0, 0.0) / 1000.0,
            probe_interval_s=number("DATABASE_REPLICA_PROBE_S", 1.0, 0.05),
            probe_timeout_s=number("DATABASE_REPLICA_PROBE_TIMEOUT_S", 1.0, 0.05),
        )


class Route(StrEnum):
    """Where a read runs, and why (the ``route`` label of ``mes_db_replica_reads_total``)."""

    REPLICA = "replica"
    #: The replica, after waiting for it to apply the caller's position.
    REPLICA_WAITED = "replica_waited"
    #: The caller's position is not applied on the replica (within the wait).
    WRITER_BEHIND = "writer_behind"
    #: The call wrote before this read.
    WRITER_WROTE = "writer_wrote"
    #: The replica is marked failed.
    WRITER_FAILED = "writer_failed"
    #: Not decided yet: check the replica for the position (:meth:`ReplicaRouter.wait_replayed`).
    CHECK = "check"


def ensure_flushed_commits(writer: AsyncEngine) -> None:
    """Every new connection of ``writer`` commits synchronously at least locally (``local`` when the
    server's default is ``off``), so the flush location after a commit covers it."""

    @event.listens_for(writer.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.run_async(lambda conn: conn.execute(_NO_ASYNC_COMMIT))


async def wrote_anything(conn: AsyncConnection) -> bool:
    """Whether the transaction open on ``conn`` changed something (it has a transaction id)."""
    return bool(await conn.scalar(_WROTE))


async def flushed_position(conn: AsyncConnection) -> int:
    """The writer's WAL flush location, asked on ``conn`` outside any transaction (one round trip)."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    return int(await driver.fetchval(_FLUSHED))


class ReplicaRouter:
    """Where the reads of one service go, and what is known of its replica (see the module)."""

    def __init__(self, writer: AsyncEngine, reader: AsyncEngine, settings: ReplicaSettings) -> None:
        self.settings = settings
        self._writer = writer
        self._reader = reader
        #: The replica is marked failed (reads go to the writer) until a probe succeeds.
        self.failed = False
        #: The highest position the replica is known to have applied.
        self.replayed = 0
        #: The reader is not in recovery (a primary): it has every commit.
        self.complete = False
        #: The last lag measured (None before the first probe).
        self.lag_s: float | None = None
        self._samples: deque[tuple[float, int]] = deque(maxlen=_SAMPLES)
        self._task: asyncio.Task[None] | None = None
        self._gauge = REPLICA_LAG.labels(settings.service)
        self._reads: dict[Route, Counter] = {
            route: READS.labels(settings.service, route.value) for route in Route if route is not Route.CHECK
        }

    # -- routing ----------------------------------------------------------------------------

    def route(self, call: CallPositions | None) -> Route:
        """Where a read of ``call`` (None: outside a call) goes, or CHECK: the replica if it applies
        the position in time."""
        if self.failed:
            return Route.WRITER_FAILED
        if call is None:
            return Route.REPLICA
        if call.wrote:
            return Route.WRITER_WROTE
        if not call.needed or self.complete or call.needed <= self.replayed:
            return Route.REPLICA
        lag = self.lag_s
        if self.settings.wait_s <= 0 or (lag is not None and lag > self.settings.wait_s):
            return Route.WRITER_BEHIND
        return Route.CHECK

    def count(self, route: Route) -> None:
        self._reads[route].inc()

    async def note_commit(self, call: CallPositions, conn: AsyncConnection) -> None:
        """After a commit that changed something: its position, for the call's answer. The commit stands
        whatever happens here; a position that cannot be read is left out (the call reads on the writer)."""
        call.wrote = True
        try:
            call.note_commit(await flushed_position(conn))
        except Exception as exc:
            _log.warning("commit_position_unknown", service=self.settings.service, error=str(exc) or type(exc).__name__)

    async def wait_replayed(self, conn: AsyncConnection, needed: int) -> bool:
        """Poll the replica on ``conn`` until it applied ``needed`` (True), or the wait is over (False)."""
        deadline = time.monotonic() + self.settings.wait_s
        delay = 0.002
        while True:
            applied = await conn.scalar(_REPLAYED)
            if applied is None:  # not a standby: it has everything
                self.complete = True
                return True
            self.replayed = max(self.replayed, int(applied))
            if applied >= needed:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.025)

    @property
    def connect_timeout_s(self) -> float:
        """How long a read may take to get its replica connection and the position (then: the writer)."""
        return self.settings.probe_timeout_s + self.settings.wait_s

    # -- health -----------------------------------------------------------------------------

    def mark_failed(self, error: BaseException | str) -> None:
        """Reads go to the writer until a probe succeeds."""
        if not self.failed:
            self.failed = True
            _log.warning("replica_failed", service=self.settings.service, error=str(error) or type(error).__name__)
        self._gauge.set(math.inf)

    def start(self) -> None:
        """Start the probe (once, in the running event loop)."""
        task = self._task
        if task is not None and not task.done():
            return
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"replica-probe-{self.settings.service}")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _loop(self) -> None:
        while True:
            await self.probe_once()
            await asyncio.sleep(self.settings.probe_interval_s)

    async def probe_once(self) -> bool:
        """Read the replica's state (and the writer's position); False when the replica failed."""
        try:
            async with asyncio.timeout(self.settings.probe_timeout_s), self._reader.connect() as conn:
                in_recovery, applied, own_lag = (await conn.execute(_REPLICA_STATE)).one()
        except Exception as exc:  # any failure of the replica means: read from the writer
            self.mark_failed(exc)
            return False
        now = time.monotonic()
        await self._sample_writer(now)
        if not in_recovery:
            self.complete, lag = True, 0.0
        else:
            self.complete = False
            self.replayed = max(self.replayed, int(applied or 0))
            lag = max(float(own_lag or 0.0), self._writer_lag(now))
        self.lag_s = lag
        self._gauge.set(lag)
        if self.failed:
            self.failed = False
            _log.info("replica_recovered", service=self.settings.service, lag_s=round(lag, 3))
        return True

    async def _sample_writer(self, now: float) -> None:
        """Note the writer's flush location now (a writer that does not answer adds no sample)."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.settings.probe_timeout_s), self._writer.connect() as conn:
                self._samples.append((now, await flushed_position(conn)))

    def _writer_lag(self, now: float) -> float:
        """How long ago the writer was already past what the replica has applied (0: it was not)."""
        for at, position in self._samples:
            if position > self.replayed:
                return now - at
        return 0.0
