"""Initial tables of the analytics service (the facts: orders and their lines, work orders,
operations and their transitions into READY, custody entries and balances, alloys, shift calendars,
partners' usage minutes with their operations and error codes; stream positions;
outbox/inbox/idempotency).

Revision ID: 0001
Revises:
Create Date: 2026-12-08

A table's columns are listed ``name=type`` in order (``_required``: NOT NULL); the nullable
ones are spelled out. Times are BIGINT microseconds since the epoch.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from mes_platform.migrations import create_infrastructure_tables, drop_infrastructure_tables

revision = "0001"
down_revision = None

_BIG = sa.BigInteger()
_LATENCY = {f"lat_{i}": _BIG for i in range(16)}
#: The operations finished in a window, with what the queries of them read.
_FINISH_COVERING = [
    *("finish_us", "operation_code", "alloy_code", "work_center", "finished_by", "weigh_in_mg", "loss_mg"),
    *("allowed_mg", "excess_mg", "over_tolerance", "start_us", "ready_us", "paused_seconds"),
]
_INDEXES = {
    "orders": {
        "ix_orders_submit": ["submit_us"],
        "ix_orders_partner_submit": ["partner_id", "submit_us"],
        "ix_orders_ship": ["ship_us"],
    },
    "order_lines": {"ix_order_lines_submit": ["submit_us", "partner_id"]},
    "work_orders": {
        "ix_work_orders_release": ["release_us"],
        "ix_work_orders_open": ["complete_us", "cancel_us"],
    },
    "operations": {
        "ix_operations_finish": _FINISH_COVERING,
        "ix_operations_start": ["start_us", "work_center", "ready_us"],
        "ix_operations_stop": ["stop_us", "start_us", "work_center", "paused_seconds"],
        "ix_operations_status": ["status", "work_center"],
    },
    "custody": {"ix_custody_party": ["party", "material_code", "at_us"]},
    "custody_balances": {"ix_custody_balances_pending": ["pending_mg"]},
    "usage_minutes": {
        "ix_usage_minutes_minute": ["minute_us", "partner_id"],
        "ix_usage_minutes_partner": ["partner_id", "minute_us"],
    },
    "usage_operations": {"ix_usage_operations_minute": ["minute_us", "partner_id"]},
    "usage_errors": {"ix_usage_errors_minute": ["minute_us", "partner_id"]},
}
_TABLES = (
    "stream_positions",
    "usage_errors",
    "usage_operations",
    "usage_minutes",
    "calendars",
    "alloys",
    "custody_balances",
    "custody",
    "operation_ready",
    "operations",
    "work_orders",
    "order_lines",
    "orders",
)


def _required(**types: Any) -> list[sa.Column[Any]]:
    """NOT NULL columns, in the order given."""
    return [sa.Column(name, type_, nullable=False) for name, type_ in types.items()]


def _nullable(**types: Any) -> list[sa.Column[Any]]:
    return [sa.Column(name, type_, nullable=True) for name, type_ in types.items()]


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def upgrade() -> None:
    create_infrastructure_tables(op)
    op.create_table(
        "orders",
        *_required(order_id=sa.String(64), partner_id=sa.String(64)),
        *_nullable(submit_us=_BIG, due_us=_BIG, ship_us=_BIG, cancel_us=_BIG, release_us=_BIG),
        *_required(cancel_stage=sa.String(6), pieces=sa.Integer(), imported=sa.Boolean()),
        _pk("orders", "order_id"),
    )
    op.create_table(
        "order_lines",
        *_required(order_id=sa.String(64), line_number=sa.Integer(), partner_id=sa.String(64)),
        *_nullable(submit_us=_BIG),
        *_required(style_code=sa.String(64), alloy_code=sa.String(40), quantity=sa.Integer()),
        _pk("order_lines", "order_id", "line_number"),
    )
    op.create_table(
        "work_orders",
        *_required(work_order_id=sa.String(80), order_id=sa.String(64)),
        *_nullable(release_us=_BIG, complete_us=_BIG, cancel_us=_BIG),
        *_required(imported=sa.Boolean()),
        _pk("work_orders", "work_order_id"),
    )
    op.create_table(
        "operations",
        *_required(name=sa.String(160), work_order_id=sa.String(80), order_id=sa.String(64)),
        *_required(operation_code=sa.String(40), work_center=sa.String(40), alloy_code=sa.String(40)),
        *_required(status=sa.String(12), version=_BIG),
        *_nullable(ready_us=_BIG, start_us=_BIG, finish_us=_BIG, stop_us=_BIG),
        *_required(paused_seconds=_BIG, weigh_in_mg=_BIG, weigh_out_mg=_BIG, scrap_mg=_BIG, loss_mg=_BIG),
        *_required(allowed_mg=_BIG, excess_mg=_BIG, over_tolerance=sa.Integer()),
        *_required(tolerance_per_mille=sa.Integer(), finished_by=sa.String(40), imported=sa.Boolean()),
        _pk("operations", "name"),
    )
    op.create_table(
        "operation_ready",
        *_required(name=sa.String(160), ready_us=_BIG),
        _pk("operation_ready", "name", "ready_us"),
    )
    op.create_table(
        "custody",
        *_required(entry_id=sa.String(64), kind=sa.String(10), holder=sa.String(120), party=sa.String(120)),
        *_required(material_code=sa.String(40), weight_mg=_BIG, operator_code=sa.String(40), at_us=_BIG),
        _pk("custody", "entry_id"),
    )
    op.create_table(
        "custody_balances",
        *_required(party=sa.String(120), material_code=sa.String(40), issued_mg=_BIG, returned_mg=_BIG),
        *_required(lost_mg=_BIG, pending_mg=_BIG),
        _pk("custody_balances", "party", "material_code"),
    )
    op.create_table(
        "alloys",
        *_required(alloy_code=sa.String(40), fineness=sa.Integer(), version=_BIG),
        _pk("alloys", "alloy_code"),
    )
    op.create_table(
        "calendars",
        *_required(work_center=sa.String(40), time_zone=sa.String(64), windows=sa.Text(), version=_BIG),
        _pk("calendars", "work_center"),
    )
    op.create_table(
        "usage_minutes",
        *_required(event_id=sa.String(64), partner_id=sa.String(64), instance=sa.String(120), minute_us=_BIG),
        *_required(requests=_BIG, throttled=_BIG, rate_limited=_BIG, cost_used=_BIG, cost_capacity=_BIG),
        *_required(errors_4xx=_BIG, errors_5xx=_BIG, latency_ms_sum=_BIG, latency_ms_max=_BIG),
        *_required(**_LATENCY, latency_bounds=sa.Text()),
        *_required(submissions=_BIG, replays=_BIG, key_reused=_BIG),
        _pk("usage_minutes", "event_id"),
    )
    op.create_table(
        "usage_operations",
        *_required(event_id=sa.String(64), operation=sa.String(120), partner_id=sa.String(64), minute_us=_BIG),
        *_required(requests=_BIG, errors=_BIG, latency_ms_max=_BIG, **_LATENCY, latency_bounds=sa.Text()),
        _pk("usage_operations", "event_id", "operation"),
    )
    op.create_table(
        "usage_errors",
        *_required(event_id=sa.String(64), code=sa.String(64), partner_id=sa.String(64), minute_us=_BIG),
        *_required(count=_BIG),
        _pk("usage_errors", "event_id", "code"),
    )
    op.create_table(
        "stream_positions",
        *_required(stream=sa.String(40), sequence=_BIG),
        *_nullable(last_event_us=_BIG),
        _pk("stream_positions", "stream"),
    )
    for table, indexes in _INDEXES.items():
        for name, columns in indexes.items():
            op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, indexes in _INDEXES.items():
        for name in indexes:
            op.drop_index(name, table_name=table)
    for table in _TABLES:
        op.drop_table(table)
    drop_infrastructure_tables(op)
