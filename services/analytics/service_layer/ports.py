"""Ports: what the use cases need from the store and from the streams (the adapters implement them).

The unit of work is the shared port of :mod:`mes_kernel.uow` with the service's two sides: the
:class:`FactStore` the projection, the import and the rebuild write, and the :class:`FactReader`
the queries read (aggregates in SQL; values only where a percentile needs them). Times are integer
microseconds since the epoch; ``partner`` None means every partner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from fractions import Fraction
from typing import NamedTuple, Protocol, TypeAlias

from mes_kernel import uow
from mes_kernel.deps import Deps
from mes_kernel.uow import UnitOfWorkFactory
from services.analytics.domain.facts import CustodyMove, FactBatch, StreamMark, UsageMinute
from services.analytics.domain.shifts import WorkCenterCalendar
from services.analytics.domain.stats import Ranked
from services.analytics.domain.timeline import Buckets
from services.analytics.domain.views import MixDimension

__all__ = [
    "AnalyticsDeps",
    "CohortRow",
    "CustodyRow",
    "FactReader",
    "FactStore",
    "HistogramRow",
    "LittleSums",
    "LossRow",
    "NoReplay",
    "RebuildLog",
    "Span",
    "StatusCounts",
    "StepRanks",
    "StreamReplay",
    "UnitOfWork",
    "UnitsOfWork",
    "UsageRow",
    "WipRow",
]


class FactStore(Protocol):
    """Merges facts (see :mod:`services.analytics.domain.facts` for the rules)."""

    async def merge(self, batch: FactBatch) -> None:
        """Every fact of the batch, as if merged one at a time in any order. An operation
        snapshot: keep the one of the highest version (an imported one only over another
        imported one), record a transition into READY, and derive the ready time again: the
        latest transition into READY at or before the current attempt's start."""

    async def add_custody(self, move: CustodyMove) -> None: ...

    async def add_usage(self, minute: UsageMinute) -> None: ...

    async def advance(self, mark: StreamMark) -> None:
        """The stream's applied position and the last event time, never moved back."""

    async def clear(self, *, keep_imported: bool, consumers: Sequence[str]) -> None:
        """Empty the facts (the imported orders, work orders and operations stay with
        ``keep_imported``), the inbox rows of ``consumers`` and the positions. Alloys and
        calendars stay (reference data, merged again by version)."""


class StatusCounts(NamedTuple):
    orders: int
    operations: int
    custody_entries: int
    usage_minutes: int
    imported_orders: int
    imported_operations: int
    last_event_us: int | None


class CohortRow(NamedTuple):
    partner_id: str
    bucket: int
    submitted: int
    cancelled: int
    cancelled_after_release: int


class HistogramRow(NamedTuple):
    """Latency counts summed per partner and ``key`` (a bucket index or an operation name) over the
    minutes with the same bounds, and the largest latency of those minutes."""

    partner_id: str
    key: int | str
    counts: tuple[int, ...]
    bounds: tuple[float, ...]
    latency_max_ms: int


class UsageRow(NamedTuple):
    """Usage minutes summed per partner, bucket and latency bounds (one group in practice)."""

    partner_id: str
    bucket: int
    requests: int
    throttled: int
    rate_limited: int
    cost_used: int
    errors_4xx: int
    errors_5xx: int
    submissions: int
    replays: int
    key_reused: int
    histogram: HistogramRow


class StepRanks(NamedTuple):
    """P5, P6 of one operation code: queue and touch times (microseconds), ranked."""

    queue: Ranked
    touch: Ranked


class LittleSums(NamedTuple):
    """P9 over [start, until): the area under the count of open work orders (microseconds), the
    work orders completed and their summed flow time, the counts open at both ends."""

    area_us: int
    completed: int
    flow_us: int
    open_at_start: int
    open_at_end: int


class WipRow(NamedTuple):
    work_center: str
    status: str
    alloy_code: str
    operations: int
    weigh_in_mg: int


class Span(NamedTuple):
    """An operation's time in progress at a work center: [start + paused, stop or now)."""

    work_center: str
    start_us: int
    paused_seconds: int
    stop_us: int | None


class LossRow(NamedTuple):
    key: str
    alloy_code: str
    operations: int
    gross_in_mg: int
    loss_mg: int
    allowed_mg: int
    excess_mg: int
    exceptions: int


class CustodyRow(NamedTuple):
    holder: str
    material_code: str
    issued_mg: int
    returned_mg: int
    loss_mg: int
    oldest_open_issue_us: int | None


class FactReader(Protocol):
    async def positions(self) -> dict[str, int]: ...

    async def status_counts(self) -> StatusCounts: ...

    # -- partners (C, A) ----------------------------------------------------------------

    async def volume(self, buckets: Buckets, partner: str | None) -> list[tuple[str, int, int, int]]:
        """(partner, bucket, orders, pieces) of the orders submitted in the window."""

    async def mix(self, start_us: int, end_us: int, partner: str | None) -> list[tuple[MixDimension, str, int]]:
        """(dimension, key, pieces) of the lines of the orders submitted in the window."""

    async def cohorts(self, buckets: Buckets, partner: str | None, within_us: int) -> list[CohortRow]:
        """Orders submitted in the window per partner and bucket, and those cancelled within
        ``within_us`` of their submission (and among them after a release)."""

    async def lead_times(
        self, start_us: int, end_us: int, partner: str | None, qs: Sequence[Fraction]
    ) -> dict[str, Ranked]:
        """``ship - submit`` (microseconds) of the orders shipped in the window that were submitted,
        ranked per partner and for all of them (key "")."""

    async def shipments_by_due_day(
        self, start_us: int, end_us: int, partner: str | None, zone: tzinfo
    ) -> list[tuple[str, date | None, list[int]]]:
        """The orders shipped in the window grouped by partner and by the local date (in ``zone``) of
        their due time (None: no due time): (partner, due date, ship times ascending)."""

    async def submission_gaps(
        self, start_us: int, end_us: int, partner: str | None, qs: Sequence[Fraction]
    ) -> dict[str, tuple[int, Ranked]]:
        """Per partner: the orders submitted in the window, and the gaps (microseconds) between
        consecutive ones, ranked."""

    async def last_submissions(self, end_us: int, partner: str | None) -> dict[str, int]: ...

    async def usage(self, buckets: Buckets, partner: str | None) -> list[UsageRow]:
        """The usage minutes in the window summed per partner, bucket and latency bounds (one read
        of them)."""

    async def capacities(self, buckets: Buckets, partner: str | None) -> dict[tuple[str, int], int]:
        """Per partner and bucket: the largest cost capacity the replicas reported for each minute,
        summed over the minutes."""

    async def operation_usage(self, start_us: int, end_us: int, partner: str | None) -> list[tuple[str, str, int, int]]:
        """(partner, operation, requests, errors) in the window."""

    async def operation_histograms(self, start_us: int, end_us: int, partner: str | None) -> list[HistogramRow]:
        """Latency counts per partner and operation (key: the operation)."""

    async def error_counts(self, start_us: int, end_us: int, partner: str | None) -> list[tuple[str, str, int]]: ...

    # -- flow (P) -----------------------------------------------------------------------

    async def step_times(self, start_us: int, end_us: int, qs: Sequence[Fraction]) -> dict[str, StepRanks]:
        """Per operation code, over the operations finished in the window that have a ready and a
        start time: queue (start - ready) and touch (finish - start - paused) times, ranked."""

    async def wip(self) -> list[WipRow]:
        """Operations in progress (P1 statuses) per work center, status and alloy."""

    async def ready_times(self) -> list[tuple[str, int | None]]:
        """(work center, ready time) of every READY operation."""

    async def open_work_orders(self) -> list[int]:
        """Release times of the released work orders neither completed nor cancelled."""

    async def throughput(self, buckets: Buckets) -> list[tuple[str, int, int]]:
        """(work center, bucket, operations finished)."""

    async def shipped(self, buckets: Buckets) -> list[tuple[int, int]]: ...

    async def spans(self, start_us: int, end_us: int, work_centers: Sequence[str]) -> list[Span]:
        """Operations at ``work_centers`` whose time in progress may overlap the window."""

    async def queue_means(self, start_us: int, end_us: int) -> dict[str, float]:
        """Mean queue time (microseconds) per work center of the operations started in the window."""

    async def calendars(self) -> list[WorkCenterCalendar]: ...

    async def little_sums(self, start_us: int, until_us: int) -> LittleSums:
        """Over the released work orders (a work order leaves at its completion or cancellation)."""

    # -- metal (J) ----------------------------------------------------------------------

    async def loss_by_operation(self, start_us: int, end_us: int) -> list[LossRow]: ...

    async def loss_by_operator(self, start_us: int, end_us: int) -> list[LossRow]:
        """Per operator (``key``; ``alloy_code`` empty)."""

    async def loss_trend(self, buckets: Buckets) -> list[LossRow]:
        """Per bucket (``key``: its index as text)."""

    async def custody(self) -> list[CustodyRow]:
        """Per holder and material with something pending (issued - returned - lost != 0)."""

    async def fineness(self) -> dict[str, int]: ...


class RebuildLog(Protocol):
    async def seen(self, request_id: str, fingerprint: str) -> bool:
        """The request id was recorded (ALREADY_EXISTS when with another request)."""

    async def record(self, request_id: str, fingerprint: str) -> None: ...


class UnitOfWork(uow.UnitOfWork, Protocol):
    facts: FactStore
    reader: FactReader
    rebuilds: RebuildLog


class StreamReplay(Protocol):
    async def replay_all(self) -> None:
        """Make every consumer deliver again from its stream's first kept message."""


@dataclass(frozen=True)
class NoReplay:
    """Without NATS there is nothing to replay."""

    async def replay_all(self) -> None:
        return None


UnitsOfWork: TypeAlias = UnitOfWorkFactory[UnitOfWork]
AnalyticsDeps: TypeAlias = Deps[UnitsOfWork]
