"""The analytics' reads on SQL: aggregates with GROUP BY over the indexed time columns, buckets
computed in SQL (:func:`~services.analytics.adapters.sql.bucket_index`), histograms summed in SQL,
percentiles from the window's values read in one scan through its covering index, sorted per group
(:meth:`SqlFactReader._sorted_groups`, exact: on PostgreSQL one sorted array per group,
``array_agg(... ORDER BY ...)``, since fetching one row per value cost more than the statements
themselves; on SQLite rows sorted here; ranking in SQL with ROW_NUMBER and COUNT over the group was
several times slower on both); rows of values otherwise only where an interval union needs them (the
operations' time in progress, P10)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, time, tzinfo
from fractions import Fraction
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    Table,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.adapters import tables as t
from services.analytics.adapters.sql import bucket_index, earliest
from services.analytics.domain.facts import WIP_STATUSES, CustodyKind, OperationStatus
from services.analytics.domain.shifts import ShiftWindow, WorkCenterCalendar
from services.analytics.domain.stats import Ranked, rank_positions
from services.analytics.domain.timeline import Buckets, from_us
from services.analytics.domain.views import MixDimension
from services.analytics.service_layer.ports import (
    CohortRow,
    CustodyRow,
    HistogramRow,
    LittleSums,
    LossRow,
    Span,
    StatusCounts,
    StepRanks,
    UsageRow,
    WipRow,
)

__all__ = ["SqlFactReader", "parse_calendar", "split_numbers"]

_o, _l, _w, _op = t.orders, t.order_lines, t.work_orders, t.operations
_um, _uo, _ue = t.usage_minutes, t.usage_operations, t.usage_errors
#: Holders asked about in one statement at most.
_CHUNK = 500
#: A microsecond, to turn the integer times into PostgreSQL timestamps exactly.
_MICROSECOND: ColumnElement[Any] = literal_column("interval '1 microsecond'")


def split_numbers(text: str, kind: type[Any]) -> tuple[Any, ...]:
    return tuple(kind(part) for part in text.split(",") if part) if text else ()


def parse_calendar(work_center: str, time_zone: str, windows: str, version: int) -> WorkCenterCalendar:
    parsed = []
    for item in windows.split(";") if windows else ():
        weekday, start, end = item.split(" ")
        parsed.append(ShiftWindow(int(weekday), time.fromisoformat(start), time.fromisoformat(end)))
    return WorkCenterCalendar(work_center, time_zone, tuple(parsed), version)


def _zone_name(zone: tzinfo) -> str | None:
    """The zone's IANA name, None for a zone that has none (a fixed offset other than UTC)."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    return "UTC" if zone is UTC else None


def _at_ranks(ordered: Sequence[int], qs: Sequence[Fraction]) -> Ranked:
    """The ascending ``ordered`` values at the ranks the quantiles ``qs`` need (none when empty)."""
    n = len(ordered)
    needed = {rank for q in qs for rank in rank_positions(q, n)[:2]} if n else set()
    return Ranked(n, {rank: float(ordered[rank]) for rank in needed})


def _between(column: ColumnElement[Any], start_us: int, end_us: int) -> ColumnElement[bool]:
    return and_(column >= start_us, column < end_us)


def _partner(column: ColumnElement[Any], partner: str | None) -> ColumnElement[bool]:
    return column == partner if partner is not None else literal_column("1") == 1


def _sum(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(column), 0)


def _positive(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((value > 0, value), else_=0)


def _bounds_text(text: str) -> tuple[float, ...]:
    return split_numbers(text, float)


def _usage_parts(buckets: Buckets) -> list[tuple[Table, str, int, int]]:
    """Where the usage of a window is read: the whole quarter hours inside it from their rollup,
    the minutes at its ends from the minutes; all from the minutes when a bucket's bound is not on
    a quarter hour (the rollup could not split it)."""
    q, w = t.USAGE_QUARTER_US, buckets.window
    first, last = -(-w.start_us // q) * q, w.end_us // q * q
    minutes = (t.usage_minutes, "minute_us")
    if first >= last or any(bound % q for bound in buckets.bounds_us):
        return [(*minutes, w.start_us, w.end_us)]
    parts = [(t.usage_quarters, "quarter_us", first, last)]
    parts += [(*minutes, a, b) for a, b in ((w.start_us, first), (last, w.end_us)) if a < b]
    return parts


class SqlFactReader:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _rows(self, stmt: Select[Any]) -> Sequence[Any]:
        rows: Sequence[Any] = (await self._session.execute(stmt)).all()
        return rows

    async def _count(self, stmt: Select[Any]) -> int:
        return int((await self._session.execute(stmt)).scalar_one() or 0)

    def _on_postgresql(self) -> bool:
        return bool(self._session.get_bind().dialect.name == "postgresql")

    async def _sorted_groups(self, stmt: Select[Any], values: int = 1) -> dict[str, list[list[int]]]:
        """Per group (the first column of ``stmt``), each value column after it (``values`` of them)
        in ascending order. On PostgreSQL each group comes as one row of sorted arrays (``array_agg``
        with ``ORDER BY``: the driver decodes an array far faster than as many rows); elsewhere
        the rows come one by one and are sorted here."""
        if self._on_postgresql():
            rows = stmt.subquery()
            key = rows.c[0]
            arrays = [func.array_agg(aggregate_order_by(rows.c[i + 1], rows.c[i + 1])) for i in range(values)]
            return {
                str(row[0]): [list(row[i + 1]) for i in range(values)]
                for row in await self._rows(select(key, *arrays).group_by(key))
            }
        columns: dict[str, list[list[int]]] = {}
        for row in await self._rows(stmt):
            key_value = str(row[0])
            group = columns.get(key_value)
            if group is None:
                group = columns[key_value] = [[] for _ in range(values)]
            for i in range(values):
                group[i].append(int(row[i + 1]))
        for group in columns.values():
            for column in group:
                column.sort()
        return columns

    async def _ranked(
        self, stmt: Select[Any], qs: Sequence[Fraction], values: int = 1, everyone: str | None = None
    ) -> list[dict[str, Ranked]]:
        """Per group (the first column of ``stmt``), for each value column after it (``values`` of
        them), the values at the ranks the quantiles ``qs`` need (:func:`rank_positions`); with
        ``everyone``, the values of all groups under that key as well. One scan through the window's
        index, the groups sorted (:meth:`_sorted_groups`)."""
        columns = await self._sorted_groups(stmt, values)
        if everyone is not None and columns:
            columns[everyone] = [sorted(v for group in columns.values() for v in group[i]) for i in range(values)]
        found: list[dict[str, Ranked]] = [{} for _ in range(values)]
        for key, group in columns.items():
            for i, column in enumerate(group):
                found[i][key] = _at_ranks(column, qs)
        return found

    async def _ranked_in_sql(
        self, stmt: Select[Any], qs: Sequence[Fraction], values: int = 1
    ) -> list[dict[str, Ranked]]:
        """:meth:`_ranked` by ROW_NUMBER and COUNT over the group in SQL: only the rows at the ranks
        ``r = floor(q (n - 1))`` or one more come back, tested with integer products only. On
        PostgreSQL this is the faster of the two for large windows of operations."""
        rows = stmt.subquery()
        source = select(
            rows.c[0].label("k"), *(rows.c[i + 1].label(f"v{i}") for i in range(values))
        ).subquery()  # fmt: skip
        k = source.c.k
        ranks = [(func.row_number().over(partition_by=k, order_by=source.c[f"v{i}"]) - 1) for i in range(values)]
        inner = select(
            k.label("k"),
            func.count().over(partition_by=k).label("n"),
            *(source.c[f"v{i}"].label(f"v{i}") for i in range(values)),
            *(rank.label(f"r{i}") for i, rank in enumerate(ranks)),
        ).subquery()
        last = inner.c.n - 1
        wanted = []
        for i in range(values):
            r = inner.c[f"r{i}"]
            for q in qs:
                a, b = q.numerator, q.denominator
                wanted.append(and_(r * b <= last * a, last * a < (r + 1) * b))
                wanted.append(and_((r - 1) * b <= last * a, last * a < r * b))
        found: list[dict[str, tuple[int, dict[int, float]]]] = [{} for _ in range(values)]
        for row in await self._rows(select(inner).where(or_(*wanted))):
            key, n = str(row.k), int(row.n)
            needed = {rank for q in qs for rank in rank_positions(q, n)[:2]}
            for i in range(values):
                at = int(row._mapping[f"r{i}"])
                if at in needed:
                    found[i].setdefault(key, (n, {}))[1][at] = float(row._mapping[f"v{i}"])
        return [{key: Ranked(n, ranked) for key, (n, ranked) in group.items()} for group in found]

    async def positions(self) -> dict[str, int]:
        rows = await self._rows(select(t.stream_positions.c.stream, t.stream_positions.c.sequence))
        return {str(stream): int(seq) for stream, seq in rows}

    async def status_counts(self) -> StatusCounts:
        count = func.count()
        return StatusCounts(
            orders=await self._count(select(count).select_from(_o)),
            operations=await self._count(select(count).select_from(_op)),
            custody_entries=await self._count(select(count).select_from(t.custody)),
            usage_minutes=await self._count(select(count).select_from(_um)),
            # ``= true``, not the bare column, so that the ``imported`` indexes answer.
            imported_orders=await self._count(select(count).select_from(_o).where(_o.c.imported == true())),
            imported_operations=await self._count(select(count).select_from(_op).where(_op.c.imported == true())),
            last_event_us=(await self._session.execute(select(func.max(t.stream_positions.c.last_event_us)))).scalar(),
        )

    # -- partners -----------------------------------------------------------------------

    def _submitted(self, buckets: Buckets, partner: str | None) -> ColumnElement[bool]:
        w = buckets.window
        return and_(_between(_o.c.submit_us, w.start_us, w.end_us), _partner(_o.c.partner_id, partner))

    async def volume(self, buckets: Buckets, partner: str | None) -> list[tuple[str, int, int, int]]:
        bucket = bucket_index(_o.c.submit_us, buckets.bounds_us)
        stmt = (
            select(_o.c.partner_id, bucket, func.count(), _sum(_o.c.pieces))
            .where(self._submitted(buckets, partner))
            .group_by(_o.c.partner_id, bucket)
        )
        return [(str(p), int(i), int(n), int(pc)) for p, i, n, pc in await self._rows(stmt)]

    async def mix(self, start_us: int, end_us: int, partner: str | None) -> list[tuple[MixDimension, str, int]]:
        where = and_(_between(_l.c.submit_us, start_us, end_us), _partner(_l.c.partner_id, partner))
        found: list[tuple[MixDimension, str, int]] = []
        for dimension, column in ((MixDimension.STYLE, _l.c.style_code), (MixDimension.ALLOY, _l.c.alloy_code)):
            stmt = select(column, _sum(_l.c.quantity)).where(where).group_by(column)
            found.extend((dimension, str(key), int(pieces)) for key, pieces in await self._rows(stmt))
        return found

    async def cohorts(self, buckets: Buckets, partner: str | None, within_us: int) -> list[CohortRow]:
        bucket = bucket_index(_o.c.submit_us, buckets.bounds_us)
        cancelled = and_(_o.c.cancel_us.is_not(None), _o.c.cancel_us <= _o.c.submit_us + within_us)
        after = or_(_o.c.cancel_stage == "AFTER", and_(_o.c.release_us.is_not(None), _o.c.release_us <= _o.c.cancel_us))
        stmt = (
            select(
                _o.c.partner_id,
                bucket,
                func.count(),
                _sum(case((cancelled, 1), else_=0)),
                _sum(case((and_(cancelled, after), 1), else_=0)),
            )
            .where(self._submitted(buckets, partner))
            .group_by(_o.c.partner_id, bucket)
        )
        return [CohortRow(str(p), int(i), int(n), int(c), int(a)) for p, i, n, c, a in await self._rows(stmt)]

    async def lead_times(
        self, start_us: int, end_us: int, partner: str | None, qs: Sequence[Fraction]
    ) -> dict[str, Ranked]:
        where = and_(
            _between(_o.c.ship_us, start_us, end_us), _o.c.submit_us.is_not(None), _partner(_o.c.partner_id, partner)
        )
        lead = select(_o.c.partner_id, _o.c.ship_us - _o.c.submit_us).where(where)
        (found,) = await self._ranked(lead, qs, everyone="")
        return found

    async def shipments_by_due_day(
        self, start_us: int, end_us: int, partner: str | None, zone: tzinfo
    ) -> list[tuple[str, date | None, list[int]]]:
        where = and_(_between(_o.c.ship_us, start_us, end_us), _partner(_o.c.partner_id, partner))
        name = _zone_name(zone)
        if self._on_postgresql() and name is not None:
            # The local date of an instant is never ambiguous: only it is computed in SQL (the end of
            # that day, which a clock change can make ambiguous, is the caller's). A zone by its IANA
            # name only: PostgreSQL reads "UTC+02:00" as two hours west (POSIX).
            due = func.to_timestamp(0) + _o.c.due_us * _MICROSECOND
            day = cast(func.timezone(name, due), Date).label("day")
            ships = func.array_agg(aggregate_order_by(_o.c.ship_us, _o.c.ship_us))
            stmt = select(_o.c.partner_id, day, ships).where(where).group_by(_o.c.partner_id, day)
            return [(str(p), d, list(at)) for p, d, at in await self._rows(stmt)]
        days: dict[int, date] = {}
        groups: dict[tuple[str, date | None], list[int]] = {}
        for p, ship, due in await self._rows(select(_o.c.partner_id, _o.c.ship_us, _o.c.due_us).where(where)):
            local: date | None = None
            if due is not None:
                local = days.get(due)
                if local is None:
                    local = days[due] = from_us(int(due)).astimezone(zone).date()
            groups.setdefault((str(p), local), []).append(int(ship))
        return [(p, d, sorted(at)) for (p, d), at in groups.items()]

    async def submission_gaps(
        self, start_us: int, end_us: int, partner: str | None, qs: Sequence[Fraction]
    ) -> dict[str, tuple[int, Ranked]]:
        where = and_(_between(_o.c.submit_us, start_us, end_us), _partner(_o.c.partner_id, partner))
        found: dict[str, tuple[int, Ranked]] = {}

        def add(p: str, submissions: int, gaps: list[int]) -> None:
            found[p] = (submissions, _at_ranks(gaps, qs))

        if self._on_postgresql():
            # The gaps by LAG through the (partner, submit) index, sorted per partner into one array.
            previous = func.lag(_o.c.submit_us).over(partition_by=_o.c.partner_id, order_by=_o.c.submit_us)
            gaps = select(_o.c.partner_id.label("p"), (_o.c.submit_us - previous).label("gap")).where(where).subquery()
            ordered = func.array_agg(aggregate_order_by(gaps.c.gap, gaps.c.gap)).filter(gaps.c.gap.is_not(None))
            for p, n, values in await self._rows(select(gaps.c.p, func.count(), ordered).group_by(gaps.c.p)):
                add(str(p), int(n), list(values or ()))
            return found
        # Through the (partner, submit) index, in its order: the gaps are the differences of neighbours.
        stmt = select(_o.c.partner_id, _o.c.submit_us).where(where).order_by(_o.c.partner_id, _o.c.submit_us)
        times: dict[str, list[int]] = {}
        for p, at in await self._rows(stmt):
            times.setdefault(str(p), []).append(int(at))
        for p, ats in times.items():
            add(p, len(ats), sorted(b - a for a, b in pairwise(ats)))
        return found

    async def last_submissions(self, end_us: int, partner: str | None) -> dict[str, int]:
        stmt = (
            select(_o.c.partner_id, func.max(_o.c.submit_us))
            .where(_o.c.submit_us < end_us, _o.c.partner_id != "", _partner(_o.c.partner_id, partner))
            .group_by(_o.c.partner_id)
        )
        return {str(p): int(at) for p, at in await self._rows(stmt)}

    async def usage(self, buckets: Buckets, partner: str | None) -> list[UsageRow]:
        totals: dict[tuple[str, int, str], list[int]] = {}
        for table, at, start_us, end_us in _usage_parts(buckets):
            c = table.c
            sums = [c.requests, c.throttled, c.rate_limited, c.cost_used, c.errors_4xx, c.errors_5xx]
            sums += [c.submissions, c.replays, c.key_reused, *t.latency_columns(table)]
            bucket = bucket_index(c[at], buckets.bounds_us)
            stmt = (
                select(c.partner_id, bucket, c.latency_bounds, func.max(c.latency_ms_max), *(_sum(x) for x in sums))
                .where(_between(c[at], start_us, end_us), _partner(c.partner_id, partner))
                .group_by(c.partner_id, bucket, c.latency_bounds)
            )
            for p, i, bounds, top, *values in await self._rows(stmt):
                key = (str(p), int(i), str(bounds))
                found = totals.get(key)
                if found is None:
                    totals[key] = [int(top or 0), *(int(v) for v in values)]
                else:
                    found[0] = max(found[0], int(top or 0))
                    found[1:] = [a + int(b) for a, b in zip(found[1:], values, strict=True)]
        rows = []
        for (p, i, bounds), (top, *n) in totals.items():
            histogram = HistogramRow(p, i, tuple(n[9:]), _bounds_text(bounds), top)
            requests, throttled, limited, used, e4, e5, submissions, replays, reused = n[:9]
            rows.append(
                UsageRow(p, i, requests, throttled, limited, used, e4, e5, submissions, replays, reused, histogram)
            )
        return rows

    async def capacities(self, buckets: Buckets, partner: str | None) -> dict[tuple[str, int], int]:
        c, w = t.usage_capacities.c, buckets.window
        bucket = bucket_index(c.minute_us, buckets.bounds_us)
        stmt = (
            select(c.partner_id, bucket, _sum(c.capacity))
            .where(_between(c.minute_us, w.start_us, w.end_us), _partner(c.partner_id, partner))
            .group_by(c.partner_id, bucket)
        )
        return {(str(p), int(i)): int(n) for p, i, n in await self._rows(stmt)}

    async def operation_usage(self, start_us: int, end_us: int, partner: str | None) -> list[tuple[str, str, int, int]]:
        stmt = (
            select(_uo.c.partner_id, _uo.c.operation, _sum(_uo.c.requests), _sum(_uo.c.errors))
            .where(_between(_uo.c.minute_us, start_us, end_us), _partner(_uo.c.partner_id, partner))
            .group_by(_uo.c.partner_id, _uo.c.operation)
        )
        return [(str(p), str(op), int(r), int(e)) for p, op, r, e in await self._rows(stmt)]

    async def operation_histograms(self, start_us: int, end_us: int, partner: str | None) -> list[HistogramRow]:
        slots = [_sum(column) for column in t.latency_columns(_uo)]
        stmt = (
            select(_uo.c.partner_id, _uo.c.operation, _uo.c.latency_bounds, func.max(_uo.c.latency_ms_max), *slots)
            .where(_between(_uo.c.minute_us, start_us, end_us), _partner(_uo.c.partner_id, partner))
            .group_by(_uo.c.partner_id, _uo.c.operation, _uo.c.latency_bounds)
        )
        return [
            HistogramRow(str(p), str(op), tuple(int(c) for c in counts), _bounds_text(bounds), int(top or 0))
            for p, op, bounds, top, *counts in await self._rows(stmt)
        ]

    async def error_counts(self, start_us: int, end_us: int, partner: str | None) -> list[tuple[str, str, int]]:
        stmt = (
            select(_ue.c.partner_id, _ue.c.code, _sum(_ue.c.count))
            .where(_between(_ue.c.minute_us, start_us, end_us), _partner(_ue.c.partner_id, partner))
            .group_by(_ue.c.partner_id, _ue.c.code)
        )
        return [(str(p), str(code), int(n)) for p, code, n in await self._rows(stmt)]

    # -- flow ---------------------------------------------------------------------------

    async def step_times(self, start_us: int, end_us: int, qs: Sequence[Fraction]) -> dict[str, StepRanks]:
        c = _op.c
        where = and_(_between(c.finish_us, start_us, end_us), c.ready_us.is_not(None), c.start_us.is_not(None))
        touch = _positive(c.finish_us - c.start_us - c.paused_seconds * 1_000_000)
        source = select(c.operation_code, c.start_us - c.ready_us, touch).where(where)
        # Ranked in SQL on PostgreSQL, sorted here on SQLite: measured the faster on each.
        rank = self._ranked_in_sql if self._on_postgresql() else self._ranked
        queues, touches = await rank(source, qs, values=2)
        return {code: StepRanks(found, touches[code]) for code, found in queues.items()}

    async def wip(self) -> list[WipRow]:
        c = _op.c
        stmt = (
            select(c.work_center, c.status, c.alloy_code, func.count(), _sum(c.weigh_in_mg))
            .where(c.status.in_([s.value for s in WIP_STATUSES]), c.work_center != "")
            .group_by(c.work_center, c.status, c.alloy_code)
        )
        return [WipRow(str(wc), str(st), str(al), int(n), int(mg)) for wc, st, al, n, mg in await self._rows(stmt)]

    async def ready_times(self) -> list[tuple[str, int | None]]:
        c = _op.c
        stmt = select(c.work_center, c.ready_us).where(c.status == OperationStatus.READY.value, c.work_center != "")
        return [(str(wc), None if r is None else int(r)) for wc, r in await self._rows(stmt)]

    async def open_work_orders(self) -> list[int]:
        c = _w.c
        stmt = select(c.release_us).where(c.complete_us.is_(None), c.cancel_us.is_(None), c.release_us.is_not(None))
        return [int(r) for (r,) in await self._rows(stmt)]

    async def throughput(self, buckets: Buckets) -> list[tuple[str, int, int]]:
        c, w = _op.c, buckets.window
        bucket = bucket_index(c.finish_us, buckets.bounds_us)
        stmt = (
            select(c.work_center, bucket, func.count())
            .where(_between(c.finish_us, w.start_us, w.end_us), c.work_center != "")
            .group_by(c.work_center, bucket)
        )
        return [(str(wc), int(i), int(n)) for wc, i, n in await self._rows(stmt)]

    async def shipped(self, buckets: Buckets) -> list[tuple[int, int]]:
        w = buckets.window
        bucket = bucket_index(_o.c.ship_us, buckets.bounds_us)
        stmt = select(bucket, func.count()).where(_between(_o.c.ship_us, w.start_us, w.end_us)).group_by(bucket)
        return [(int(i), int(n)) for i, n in await self._rows(stmt)]

    async def spans(self, start_us: int, end_us: int, work_centers: Sequence[str]) -> list[Span]:
        c = _op.c
        columns = (c.work_center, c.start_us, c.paused_seconds, c.stop_us)
        at = c.work_center.in_(list(work_centers))
        stopped = select(*columns).where(c.stop_us > start_us, c.start_us < end_us, at)
        going = select(*columns).where(c.stop_us.is_(None), c.start_us < end_us, at)
        rows = (await self._session.execute(union_all(stopped, going))).all()
        return [Span(str(wc), int(s), int(p), None if e is None else int(e)) for wc, s, p, e in rows]

    async def queue_means(self, start_us: int, end_us: int) -> dict[str, float]:
        c = _op.c
        stmt = (
            select(c.work_center, func.avg(c.start_us - c.ready_us))
            .where(_between(c.start_us, start_us, end_us), c.ready_us.is_not(None), c.work_center != "")
            .group_by(c.work_center)
        )
        return {str(wc): float(mean) for wc, mean in await self._rows(stmt)}

    async def calendars(self) -> list[WorkCenterCalendar]:
        c = t.calendars.c
        rows = await self._rows(select(c.work_center, c.time_zone, c.windows, c.version))
        return [parse_calendar(str(wc), str(zone), str(windows), int(v)) for wc, zone, windows, v in rows]

    async def little_sums(self, start_us: int, until_us: int) -> LittleSums:
        c = _w.c
        leaves = earliest(c.complete_us, c.cancel_us).label("leaves")
        columns = (c.release_us.label("release_us"), c.complete_us.label("complete_us"), leaves)
        parts = union_all(  # completed since the start, cancelled since, still open: the (complete, cancel) index
            select(*columns).where(c.complete_us >= start_us),
            select(*columns).where(c.complete_us.is_(None), c.cancel_us >= start_us),
            select(*columns).where(c.complete_us.is_(None), c.cancel_us.is_(None)),
        ).subquery()
        release, complete, left = parts.c.release_us, parts.c.complete_us, parts.c.leaves
        end = case((left.is_(None), until_us), (left < until_us, left), else_=until_us)
        begin = case((release > start_us, release), else_=start_us)
        completed = and_(complete >= start_us, complete < until_us, complete == left)
        # Released by the end; not ``release <= until``, which SQLite would push into the parts and
        # read through the release index instead of (complete, cancel).
        known = func.coalesce(release, until_us + 1) <= until_us

        def open_at(at: int) -> ColumnElement[Any]:
            return _sum(case((and_(release <= at, or_(left.is_(None), left > at)), 1), else_=0))

        stmt = select(
            _sum(_positive(end - begin)),
            _sum(case((completed, 1), else_=0)),
            _sum(case((completed, complete - release), else_=0)),
            open_at(start_us),
            open_at(until_us),
        ).where(known, or_(left.is_(None), left >= start_us))
        area, done, flow, first, last = (await self._rows(stmt))[0]
        return LittleSums(int(area), int(done), int(flow), int(first), int(last))

    # -- metal --------------------------------------------------------------------------

    def _loss_columns(self) -> list[ColumnElement[Any]]:
        c = _op.c
        return [
            func.count(),
            _sum(c.weigh_in_mg),
            _sum(c.loss_mg),
            _sum(c.allowed_mg),
            _sum(c.excess_mg),
            _sum(c.over_tolerance),
        ]

    async def loss_by_operation(self, start_us: int, end_us: int) -> list[LossRow]:
        c = _op.c
        stmt = (
            select(c.operation_code, c.alloy_code, *self._loss_columns())
            .where(_between(c.finish_us, start_us, end_us))
            .group_by(c.operation_code, c.alloy_code)
        )
        return [LossRow(str(k), str(a), *(int(x) for x in rest)) for k, a, *rest in await self._rows(stmt)]

    async def loss_by_operator(self, start_us: int, end_us: int) -> list[LossRow]:
        c = _op.c
        stmt = (
            select(c.finished_by, *self._loss_columns())
            .where(_between(c.finish_us, start_us, end_us))
            .group_by(c.finished_by)
        )
        return [LossRow(str(k), "", *(int(x) for x in rest)) for k, *rest in await self._rows(stmt)]

    async def loss_trend(self, buckets: Buckets) -> list[LossRow]:
        c, w = _op.c, buckets.window
        bucket = bucket_index(c.finish_us, buckets.bounds_us)
        stmt = select(bucket, *self._loss_columns()).where(_between(c.finish_us, w.start_us, w.end_us)).group_by(bucket)
        return [LossRow(str(int(i)), "", *(int(x) for x in rest)) for i, *rest in await self._rows(stmt)]

    async def custody(self) -> list[CustodyRow]:
        b, c = t.custody_balances.c, t.custody.c
        balances = select(b.party, b.material_code, b.issued_mg, b.returned_mg, b.lost_mg).where(
            or_(b.pending_mg > 0, b.pending_mg < 0)
        )
        rows = [(str(p), str(m), int(i), int(r), int(lost)) for p, m, i, r, lost in await self._rows(balances)]
        settled = {(p, m): r + lost for p, m, i, r, lost in rows if i - r - lost > 0}
        oldest: dict[tuple[str, str], int] = {}
        parties = sorted({p for p, _ in settled})
        for chunk in range(0, len(parties), _CHUNK):  # through the (party, material, time) index
            issues = (
                select(c.party, c.material_code, c.at_us, c.weight_mg)
                .where(c.party.in_(parties[chunk : chunk + _CHUNK]), c.kind == CustodyKind.ISSUE.value)
                .order_by(c.party, c.material_code, c.at_us, c.entry_id)
            )
            running: dict[tuple[str, str], int] = {}
            for party, material, at, weight in await self._rows(issues):
                key = (str(party), str(material))
                if key not in settled or key in oldest:
                    continue
                running[key] = running.get(key, 0) + int(weight)
                if running[key] > settled[key]:  # returns and losses balance the oldest issues first
                    oldest[key] = int(at)
        return [CustodyRow(p, m, i, r, lost, oldest.get((p, m))) for p, m, i, r, lost in rows]

    async def fineness(self) -> dict[str, int]:
        rows = await self._rows(select(t.alloys.c.alloy_code, t.alloys.c.fineness))
        return {str(code): int(f) for code, f in rows}
