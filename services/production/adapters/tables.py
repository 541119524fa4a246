"""Tables of the production schema (one MetaData), plus outbox/inbox/dead letters/idempotency."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from mes_platform.tables import SEQUENCE, add_infrastructure_tables, service_metadata, timestamp

__all__ = [
    "infra",
    "metadata",
    "operation_attempts",
    "operations",
    "operator_passwords",
    "operator_sessions",
    "operators",
    "order_specs",
    "sign_in_failures",
    "style_versions",
    "styles",
    "work_center_calendars",
    "work_centers",
    "work_orders",
]

metadata = service_metadata()
infra = add_infrastructure_tables(metadata)


def _mg(name: str) -> Column[Any]:
    return Column(name, BigInteger, nullable=False, default=0)


def _weighing() -> list[Column[Any]]:
    """The weights and who weighed: of an operation and of each of its attempts."""
    return [
        *(_mg(f"{what}_mg") for what in ("weigh_in", "weigh_out", "scrap_returned", "loss")),
        *(Column(f"{who}_by", String(40), nullable=False) for who in ("started", "finished", "reviewed")),
        Column("review_note", String(500), nullable=False),
    ]


styles = Table(
    "styles",
    metadata,
    Column("sku", String(40), primary_key=True),
    Column("display_name", String(120), nullable=False),
    Column("category", String(20), nullable=False),
    Column("routing_version", Integer, nullable=False),
    Column("routing", JSON, nullable=False),
    Column("bill_of_materials", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
)

# Every routing/BOM version a style ever had (work orders keep their own snapshot anyway).
style_versions = Table(
    "style_versions",
    metadata,
    Column("sku", String(40), ForeignKey("styles.sku"), primary_key=True),
    Column("routing_version", Integer, primary_key=True),
    Column("routing", JSON, nullable=False),
    Column("bill_of_materials", JSON, nullable=False),
    timestamp("created_at"),
)

work_centers = Table(
    "work_centers",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("work_center_type", String(40), nullable=False, index=True),
    Column("display_name", String(120), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
    # Its state on the floor (RUNNING, IDLE, BLOCKED), why it is blocked, since when, and who
    # blocked or unblocked it last.
    Column("state", String(20), nullable=False),
    Column("state_reason", String(200), nullable=False),
    timestamp("state_time"),
    Column("state_by", String(40), nullable=False),
)

# A work center's shift calendar: its IANA zone, its weekly windows in local time (JSON list of
# {weekday, start, end, name}) and its hourly output target (0: none).
work_center_calendars = Table(
    "work_center_calendars",
    metadata,
    Column("work_center", String(40), ForeignKey("work_centers.code"), primary_key=True),
    Column("time_zone", String(64), nullable=False),
    Column("windows", JSON, nullable=False),
    Column("output_target_per_hour", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
)

operators = Table(
    "operators",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("display_name", String(120), nullable=False),
    Column("role", String(20), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
)

# An operator's password: its salted scrypt hash with the parameters (``domain/people.py``).
operator_passwords = Table(
    "operator_passwords",
    metadata,
    Column("operator_code", String(40), ForeignKey("operators.code"), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    timestamp("set_time"),
)

# Signed-in operators: a session is found by the SHA-256 of its token (the token is never stored).
operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_code", String(40), ForeignKey("operators.code"), nullable=False, index=True),
    Column("client_address", String(100), nullable=False),
    timestamp("created_at"),
    timestamp("expire_time"),
    timestamp("end_time", nullable=True),
)
Index("ix_operator_sessions_expire_time", operator_sessions.c.expire_time)

# Failed sign-in attempts of the last window (older ones are pruned), counted per code and per address.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", SEQUENCE, primary_key=True, autoincrement=True),
    Column("operator_code", String(40), nullable=False),
    Column("client_address", String(100), nullable=False),
    timestamp("failed_at"),
)
Index("ix_sign_in_failures_code", sign_in_failures.c.operator_code, sign_in_failures.c.failed_at)
Index("ix_sign_in_failures_address", sign_in_failures.c.client_address, sign_in_failures.c.failed_at)
Index("ix_sign_in_failures_failed_at", sign_in_failures.c.failed_at)

# Line specs of submitted orders, kept until the reservation releases the work orders.
order_specs = Table(
    "order_specs",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("priority", Integer, nullable=False),
    Column("lines", JSON, nullable=False),
    timestamp("submit_time", nullable=True),
    Column("status", String(20), nullable=False),
    Column("version", BigInteger, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
)

work_orders = Table(
    "work_orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("order_id", String(64), nullable=False),
    Column("line_number", Integer, nullable=False),
    Column("style_sku", String(40), nullable=False),
    Column("alloy_code", String(40), nullable=False),
    Column("size", String(40), nullable=False),
    Column("engraving", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("routing_version", Integer, nullable=False),
    Column("routing_snapshot", JSON, nullable=False),
    _mg("issued_mg"),
    _mg("finished_mg"),
    _mg("loss_mg"),
    _mg("scrap_returned_mg"),
    Column("version", BigInteger, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
    UniqueConstraint("order_id", "line_number"),
)
Index("ix_work_orders_created", work_orders.c.created_at, work_orders.c.order_id, work_orders.c.line_number)
Index("ix_work_orders_status", work_orders.c.status, work_orders.c.created_at)

operations = Table(
    "operations",
    metadata,
    Column("work_order_id", String(64), ForeignKey("work_orders.id"), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("order_id", String(64), nullable=False),
    Column("operation_code", String(40), nullable=False),
    Column("work_center_type", String(40), nullable=False),
    Column("work_center", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("alloy_code", String(40), nullable=False),
    Column("loss_tolerance_per_mille", Integer, nullable=False),
    *_weighing(),
    timestamp("start_time", nullable=True),
    timestamp("finish_time", nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
    # The current pause (PAUSED only), the ended pauses of the attempt, who paused and resumed last.
    Column("pause_reason", String(200), nullable=False),
    timestamp("pause_time", nullable=True),
    Column("paused_seconds", BigInteger, nullable=False),
    Column("paused_by", String(40), nullable=False),
    Column("resumed_by", String(40), nullable=False),
)
# A work center's queue in queue order, and open work per center.
Index(
    "ix_operations_queue",
    operations.c.work_center,
    operations.c.status,
    operations.c.priority,
    operations.c.created_at,
)
Index("ix_operations_order", operations.c.priority, operations.c.created_at, operations.c.work_order_id)
Index("ix_operations_type", operations.c.work_center_type, operations.c.work_center)
# A work center's recent finishes (done in a window, work spans for utilisation).
Index("ix_operations_finished", operations.c.work_center, operations.c.finish_time)
# Every operation of a status in queue order (the floor's listings across work centers).
Index(
    "ix_operations_status",
    operations.c.status,
    operations.c.priority.desc(),
    operations.c.created_at,
    operations.c.work_order_id,
    operations.c.sequence,
)

# Every weighed attempt: a reworked attempt keeps its loss here after the operation is re-queued.
operation_attempts = Table(
    "operation_attempts",
    metadata,
    Column("work_order_id", String(64), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("operation_code", String(40), nullable=False),
    Column("work_center", String(40), nullable=False),
    Column("alloy_code", String(40), nullable=False),
    *_weighing(),
    Column("outcome", String(20), nullable=False),
    Column("reviewed", Boolean, nullable=False),
    timestamp("start_time", nullable=True),
    timestamp("finish_time", nullable=True),
)
Index("ix_operation_attempts_finished", operation_attempts.c.finish_time)
