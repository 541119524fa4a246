"""The usage minutes' rollups, and covering indexes for the analytics' window scans and status.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-08

``usage_quarters`` sums the usage minutes per partner, quarter hour and histogram bounds;
``usage_capacities`` keeps each partner's minute's largest cost capacity. The projection adds a
minute to both when it inserts it; here they are filled from the minutes already stored.

The window reads of orders (by submit and by ship time), order lines and work orders (open or
left since a time) read every column they need from the index alone; ``imported`` is indexed on
orders and operations so that the status counts them without reading the tables.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_BIG = sa.BigInteger()
_QUARTER_US = 15 * 60 * 1_000_000
_LATENCY = [f"lat_{i}" for i in range(16)]
_SUMS = [
    *("requests", "throttled", "rate_limited", "cost_used", "errors_4xx", "errors_5xx"),
    *("submissions", "replays", "key_reused"),
    *_LATENCY,
]
#: Index name -> (table, columns before, columns after).
_CHANGED = {
    "ix_orders_submit": (
        "orders",
        ["submit_us"],
        ["submit_us", "partner_id", "pieces", "cancel_us", "release_us", "cancel_stage"],
    ),
    "ix_orders_ship": ("orders", ["ship_us"], ["ship_us", "partner_id", "submit_us", "due_us"]),
    "ix_order_lines_submit": (
        "order_lines",
        ["submit_us", "partner_id"],
        ["submit_us", "partner_id", "style_code", "alloy_code", "quantity"],
    ),
    "ix_work_orders_open": ("work_orders", ["complete_us", "cancel_us"], ["complete_us", "cancel_us", "release_us"]),
}
_ADDED = {
    "ix_orders_imported": ("orders", ["imported"]),
    "ix_operations_imported": ("operations", ["imported"]),
}


def _required(*names: str, type_: Any = _BIG) -> list[sa.Column[Any]]:
    return [sa.Column(name, type_, nullable=False) for name in names]


def _rollups() -> None:
    op.create_table(
        "usage_quarters",
        *_required("partner_id", type_=sa.String(64)),
        *_required("quarter_us"),
        *_required("latency_bounds", type_=sa.Text()),
        *_required(*_SUMS[:6], "latency_ms_max", *_LATENCY, *_SUMS[6:9]),
        sa.PrimaryKeyConstraint("partner_id", "quarter_us", "latency_bounds", name=op.f("pk_usage_quarters")),
    )
    op.create_index("ix_usage_quarters_quarter", "usage_quarters", ["quarter_us"], unique=False)
    op.create_table(
        "usage_capacities",
        *_required("partner_id", type_=sa.String(64)),
        *_required("minute_us", "capacity"),
        sa.PrimaryKeyConstraint("partner_id", "minute_us", name=op.f("pk_usage_capacities")),
    )
    op.create_index(
        "ix_usage_capacities_minute", "usage_capacities", ["minute_us", "partner_id", "capacity"], unique=False
    )
    quarter = f"minute_us - minute_us % {_QUARTER_US}"
    sums = ", ".join(f"SUM({name})" for name in _SUMS)
    op.execute(
        f"INSERT INTO usage_quarters (partner_id, quarter_us, latency_bounds, {', '.join(_SUMS)}, latency_ms_max) "
        f"SELECT partner_id, {quarter}, latency_bounds, {sums}, MAX(latency_ms_max) FROM usage_minutes "
        f"GROUP BY partner_id, {quarter}, latency_bounds"
    )
    op.execute(
        "INSERT INTO usage_capacities (partner_id, minute_us, capacity) "
        "SELECT partner_id, minute_us, MAX(cost_capacity) FROM usage_minutes GROUP BY partner_id, minute_us"
    )


def upgrade() -> None:
    _rollups()
    for name, (table, _before, after) in _CHANGED.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, after, unique=False)
    for name, (table, columns) in _ADDED.items():
        op.create_index(name, table, columns, unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":  # the planner's statistics for the new indexes
        bind.execute(sa.text("ANALYZE"))


def downgrade() -> None:
    op.drop_index("ix_usage_capacities_minute", table_name="usage_capacities")
    op.drop_table("usage_capacities")
    op.drop_index("ix_usage_quarters_quarter", table_name="usage_quarters")
    op.drop_table("usage_quarters")
    for name, (table, _columns) in _ADDED.items():
        op.drop_index(name, table_name=table)
    for name, (table, before, _after) in _CHANGED.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before, unique=False)
