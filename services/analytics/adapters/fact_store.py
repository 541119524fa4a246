"""The facts on SQL: merges as single upserts, so that any order of arrival gives the same rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from mes_platform.rows import row_values
from services.analytics.adapters import tables as t
from services.analytics.adapters.sql import SqlWrites, earliest, latest
from services.analytics.domain.facts import (
    CustodyKind,
    CustodyMove,
    FactBatch,
    OperationSnapshot,
    OrderRecord,
    StreamMark,
    UsageMinute,
    WorkOrderChange,
)
from services.analytics.domain.shifts import WorkCenterCalendar
from services.analytics.domain.timeline import to_us, to_us_or_none

__all__ = ["SqlFactStore", "calendar_text", "join_numbers", "latency_slots"]

_STAGES = {None: "", False: "BEFORE", True: "AFTER"}
#: Operation columns that belong to the snapshot (the highest version's win).
_SNAPSHOT = (
    "work_order_id",
    "order_id",
    "operation_code",
    "work_center",
    "alloy_code",
    "status",
    "version",
    "start_us",
    "finish_us",
    "stop_us",
    "paused_seconds",
    "weigh_in_mg",
    "weigh_out_mg",
    "scrap_mg",
    "loss_mg",
    "allowed_mg",
    "excess_mg",
    "over_tolerance",
    "tolerance_per_mille",
    "finished_by",
)

#: The usage minute's columns its quarter's rollup sums.
_QUARTER_SUMS = (
    *("requests", "throttled", "rate_limited", "cost_used", "errors_4xx", "errors_5xx"),
    *("submissions", "replays", "key_reused"),
    *(f"lat_{i}" for i in range(t.LATENCY_SLOTS)),
)


def join_numbers(values: Sequence[float | int]) -> str:
    return ",".join(repr(v) if isinstance(v, float) else str(v) for v in values)


def latency_slots(counts: Sequence[int]) -> dict[str, int]:
    """``lat_0``... of a histogram; counts past the last slot are added to it."""
    slots = [0] * t.LATENCY_SLOTS
    for i, count in enumerate(counts):
        slots[min(i, t.LATENCY_SLOTS - 1)] += count
    return {f"lat_{i}": count for i, count in enumerate(slots)}


_BALANCE = {CustodyKind.ISSUE: "issued_mg", CustodyKind.RETURN: "returned_mg", CustodyKind.LOSS: "lost_mg"}


def _balance_merge(table: Table, new: Any) -> dict[str, Any]:
    c = table.c
    return {
        "issued_mg": c.issued_mg + new.issued_mg,
        "returned_mg": c.returned_mg + new.returned_mg,
        "lost_mg": c.lost_mg + new.lost_mg,
        "pending_mg": c.pending_mg + new.pending_mg,
    }


def calendar_text(calendar: WorkCenterCalendar) -> str:
    return ";".join(f"{w.weekday} {w.start:%H:%M} {w.end:%H:%M}" for w in calendar.windows)


def _order_merge(table: Table, new: Any) -> dict[str, Any]:
    c = table.c
    return {
        "partner_id": func.coalesce(func.nullif(c.partner_id, ""), new.partner_id),
        "submit_us": earliest(c.submit_us, new.submit_us),
        "due_us": func.coalesce(c.due_us, new.due_us),
        "ship_us": earliest(c.ship_us, new.ship_us),
        "cancel_us": earliest(c.cancel_us, new.cancel_us),
        "release_us": earliest(c.release_us, new.release_us),
        # AFTER over BEFORE over "", whatever the order they come in
        "cancel_stage": case(
            (or_(c.cancel_stage == "AFTER", new.cancel_stage == "AFTER"), "AFTER"),
            (or_(c.cancel_stage == "BEFORE", new.cancel_stage == "BEFORE"), "BEFORE"),
            else_="",
        ),
        "pieces": func.coalesce(func.nullif(c.pieces, 0), new.pieces),
        "imported": or_(c.imported, new.imported),
    }


def _work_order_merge(table: Table, new: Any) -> dict[str, Any]:
    c = table.c
    return {
        "order_id": func.coalesce(func.nullif(c.order_id, ""), new.order_id),
        "release_us": earliest(c.release_us, new.release_us),
        "complete_us": earliest(c.complete_us, new.complete_us),
        "cancel_us": earliest(c.cancel_us, new.cancel_us),
        "imported": or_(c.imported, new.imported),
    }


def _operation_merge(table: Table, new: Any) -> dict[str, Any]:
    c = table.c
    # An event (version >= 1) replaces a lower version; an imported fact (0) only another one.
    newer = or_(new.version > c.version, and_(new.version == 0, c.version == 0))
    merged: dict[str, Any] = {name: case((newer, getattr(new, name)), else_=getattr(c, name)) for name in _SNAPSHOT}
    merged["imported"] = or_(c.imported, new.imported)
    return merged


def _version_merge(columns: Sequence[str]) -> Any:
    def merge(table: Table, new: Any) -> dict[str, Any]:
        c = table.c
        return {name: case((new.version >= c.version, getattr(new, name)), else_=getattr(c, name)) for name in columns}

    return merge


_alloy_merge = _version_merge(("fineness", "version"))
_calendar_merge = _version_merge(("time_zone", "windows", "version"))


def _quarter_merge(table: Table, new: Any) -> dict[str, Any]:
    merged = {name: table.c[name] + new[name] for name in _QUARTER_SUMS}
    merged["latency_ms_max"] = latest(table.c.latency_ms_max, new.latency_ms_max)
    return merged


def _capacity_merge(table: Table, new: Any) -> dict[str, Any]:
    return {"capacity": latest(table.c.capacity, new.capacity)}


def _position_merge(table: Table, new: Any) -> dict[str, Any]:
    return {
        "sequence": latest(table.c.sequence, new.sequence),
        "last_event_us": latest(table.c.last_event_us, new.last_event_us),
    }


_op, _ready = t.operations, t.operation_ready
#: An operation's ready time: the latest time it became ready before it started (or at all).
_SET_READY = (
    update(_op)
    .where(_op.c.name == bindparam("op_name"))
    .values(
        ready_us=select(func.max(_ready.c.ready_us))
        .where(_ready.c.name == _op.c.name, or_(_op.c.start_us.is_(None), _ready.c.ready_us <= _op.c.start_us))
        .scalar_subquery()
    )
)


def _times_us(record: Any, *names: str) -> dict[str, int | None]:
    """``<name>_us`` (microseconds, or None) for each ``<name>_at`` of ``record``."""
    return {f"{name}_us": to_us_or_none(getattr(record, f"{name}_at")) for name in names}


def _order_row(order: OrderRecord) -> dict[str, Any]:
    return row_values(
        order,
        ("order_id", "partner_id", "pieces", "imported"),
        cancel_stage=_STAGES[order.cancelled_after_release],
        **_times_us(order, "submit", "due", "ship", "cancel", "release"),
    )


def _line_rows(order: OrderRecord, row: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order.order_id,
            "line_number": line.line_number,
            "partner_id": order.partner_id,
            "submit_us": row["submit_us"],
            "style_code": line.style_code,
            "alloy_code": line.alloy_code,
            "quantity": line.quantity,
        }
        for line in order.lines
    ]


def _work_order_row(change: WorkOrderChange) -> dict[str, Any]:
    return row_values(
        change, ("work_order_id", "order_id", "imported"), **_times_us(change, "release", "complete", "cancel")
    )


#: The operation columns stored as the snapshot holds them.
_OPERATION_FIELDS = (
    "name",
    *(name for name in _SNAPSHOT if not name.endswith("_us") and name != "over_tolerance"),
    "imported",
)


def _operation_row(s: OperationSnapshot) -> dict[str, Any]:
    return row_values(
        s,
        _OPERATION_FIELDS,
        ready_us=None,
        over_tolerance=int(s.over_tolerance),
        **_times_us(s, "start", "finish", "stop"),
    )


def _calendar_row(calendar: WorkCenterCalendar) -> dict[str, Any]:
    return row_values(calendar, ("work_center", "time_zone", "version"), windows=calendar_text(calendar))


class SqlFactStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._writes = SqlWrites(session)

    async def merge(self, batch: FactBatch) -> None:
        """Every fact of ``batch``, each kind in one execution of its statement (rows as
        parameters, not one statement per fact): the merges are those of one fact at a time, and
        as they do not depend on the order facts arrive in, grouping them by kind changes nothing.
        The ready times are derived after every operation snapshot and READY transition is in."""
        w = self._writes
        if batch.orders:
            orders = [_order_row(order) for order in batch.orders]
            await w.upsert(t.orders, orders, _order_merge)
            lines = [line for order, row in zip(batch.orders, orders, strict=True) for line in _line_rows(order, row)]
            await w.insert_ignore(t.order_lines, lines)
        if batch.work_orders:
            await w.upsert(t.work_orders, [_work_order_row(change) for change in batch.work_orders], _work_order_merge)
        if batch.operations:
            await w.upsert(t.operations, [_operation_row(op) for op in batch.operations], _operation_merge)
            ready = [{"name": op.name, "ready_us": to_us(op.ready_at)} for op in batch.operations if op.ready_at]
            await w.insert_ignore(t.operation_ready, ready)
            names = dict.fromkeys(op.name for op in batch.operations)
            await self._session.execute(_SET_READY, [{"op_name": name} for name in names])
        for move in batch.custody:
            await self.add_custody(move)
        if batch.alloys:
            rows = [{"alloy_code": g.alloy_code, "fineness": g.fineness, "version": g.version} for g in batch.alloys]
            await w.upsert(t.alloys, rows, _alloy_merge)
        if batch.calendars:
            await w.upsert(t.calendars, [_calendar_row(calendar) for calendar in batch.calendars], _calendar_merge)
        for minute in batch.usage:
            await self.add_usage(minute)

    async def add_custody(self, move: CustodyMove) -> None:
        fields = ("entry_id", "kind", "holder", "party", "material_code", "weight_mg", "operator_code")
        row = row_values(move, fields, at_us=to_us(move.at))
        if not await self._writes.inserted(t.custody, row) or move.kind not in _BALANCE:
            return  # a repeat, or a movement that changes no holder's balance
        amounts = dict.fromkeys(_BALANCE.values(), 0)
        amounts[_BALANCE[move.kind]] = move.weight_mg
        pending = move.weight_mg if move.kind is CustodyKind.ISSUE else -move.weight_mg
        balance = {"party": move.party, "material_code": move.material_code, **amounts, "pending_mg": pending}
        await self._writes.upsert(t.custody_balances, [balance], _balance_merge)

    async def add_usage(self, minute: UsageMinute) -> None:
        m = minute
        at = to_us(m.minute_start)
        bounds = join_numbers(m.latency_bounds_ms)
        row = {
            "event_id": m.event_id,
            "partner_id": m.partner_id,
            "instance": m.instance,
            "minute_us": at,
            "requests": m.requests,
            "throttled": m.throttled,
            "rate_limited": m.rate_limited,
            "cost_used": m.cost_used,
            "cost_capacity": m.cost_capacity,
            "errors_4xx": m.errors_4xx,
            "errors_5xx": m.errors_5xx,
            "latency_ms_sum": m.latency_ms_sum,
            "latency_ms_max": m.latency_ms_max,
            **latency_slots(m.latency_counts),
            "latency_bounds": bounds,
            "submissions": m.submissions,
            "replays": m.replays,
            "key_reused": m.key_reused,
        }
        if await self._writes.inserted(t.usage_minutes, row):  # its rollups count it once
            await self._roll_up_usage(row)
        operations = {
            op.operation: {
                "event_id": m.event_id,
                "operation": op.operation,
                "partner_id": m.partner_id,
                "minute_us": at,
                "requests": op.requests,
                "errors": op.errors,
                "latency_ms_max": m.latency_ms_max,
                **latency_slots(op.latency_counts),
                "latency_bounds": bounds,
            }
            for op in m.operations
        }
        await self._writes.insert_ignore(t.usage_operations, list(operations.values()))
        codes = {
            code: {"event_id": m.event_id, "code": code, "partner_id": m.partner_id, "minute_us": at, "count": count}
            for code, count in m.error_codes
        }
        await self._writes.insert_ignore(t.usage_errors, list(codes.values()))

    async def _roll_up_usage(self, row: dict[str, Any]) -> None:
        """Add a minute just inserted to its quarter's sums, and its capacity to its minute's."""
        quarter = {name: row[name] for name in _QUARTER_SUMS}
        quarter.update(
            partner_id=row["partner_id"],
            quarter_us=row["minute_us"] - row["minute_us"] % t.USAGE_QUARTER_US,
            latency_bounds=row["latency_bounds"],
            latency_ms_max=row["latency_ms_max"],
        )
        await self._writes.upsert(t.usage_quarters, [quarter], _quarter_merge)
        capacity = {"partner_id": row["partner_id"], "minute_us": row["minute_us"], "capacity": row["cost_capacity"]}
        await self._writes.upsert(t.usage_capacities, [capacity], _capacity_merge)

    async def advance(self, mark: StreamMark) -> None:
        row = {"stream": mark.stream, "sequence": mark.sequence, "last_event_us": to_us_or_none(mark.occurred_at)}
        await self._writes.upsert(t.stream_positions, [row], _position_merge)

    async def clear(self, *, keep_imported: bool, consumers: Sequence[str]) -> None:
        s = self._session
        for table in (
            t.custody,
            t.custody_balances,
            t.usage_errors,
            t.usage_operations,
            t.usage_minutes,
            t.usage_quarters,
            t.usage_capacities,
            t.stream_positions,
        ):
            await s.execute(delete(table))

        def dropped(imported: ColumnElement[bool]) -> ColumnElement[bool]:
            return ~imported if keep_imported else true()

        await s.execute(delete(t.orders).where(dropped(t.orders.c.imported)))
        await s.execute(delete(t.order_lines).where(~t.order_lines.c.order_id.in_(select(t.orders.c.order_id))))
        await s.execute(delete(t.work_orders).where(dropped(t.work_orders.c.imported)))
        await s.execute(delete(t.operations).where(dropped(t.operations.c.imported)))
        await s.execute(delete(t.operation_ready).where(~t.operation_ready.c.name.in_(select(t.operations.c.name))))
        if consumers:
            await s.execute(delete(t.infra.inbox).where(t.infra.inbox.c.consumer.in_(list(consumers))))
