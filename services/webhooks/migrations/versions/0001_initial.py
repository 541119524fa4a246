"""Initial tables of the webhooks service (endpoints, deliveries, delivery log, order references,
outbox/inbox/idempotency).

Revision ID: 0001
Revises:
Create Date: 2026-12-06

A table's columns are listed ``name=type`` in order (``_required``: NOT NULL); the nullable
ones are spelled out.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from mes_platform.migrations import create_infrastructure_tables, drop_infrastructure_tables

revision = "0001"
down_revision = None

_TIME = sa.DateTime(timezone=True)
_SEQ = sa.Integer().with_variant(sa.BigInteger(), "postgresql")
_INDEXES = {
    "endpoints": {
        "ix_endpoints_partner_created": ["partner_id", "created_at", "endpoint_id"],
        "ix_endpoints_created": ["created_at", "endpoint_id"],
    },
    "deliveries": {
        "ix_deliveries_due": ["state", "next_attempt_at", "seq"],
        "ix_deliveries_endpoint": ["endpoint_id", "seq"],
        "ix_deliveries_partner": ["partner_id", "seq"],
        "ix_deliveries_order": ["endpoint_id", "order_id", "order_version"],
    },
    "delivery_log": {"ix_delivery_log_endpoint": ["endpoint_id", "seq"]},
}


def _required(**types: Any) -> list[sa.Column[Any]]:
    """NOT NULL columns, in the order given."""
    return [sa.Column(name, type_, nullable=False) for name, type_ in types.items()]


def _nullable(**types: Any) -> list[sa.Column[Any]]:
    return [sa.Column(name, type_, nullable=True) for name, type_ in types.items()]


def upgrade() -> None:
    create_infrastructure_tables(op)
    op.create_table(
        "endpoints",
        *_required(endpoint_id=sa.String(40), partner_id=sa.String(40), url=sa.String(2048)),
        *_required(description=sa.String(500), event_types=sa.String(200), enabled=sa.Boolean()),
        *_nullable(disabled_by=sa.String(20)),
        *_required(disabled_reason=sa.String(500)),
        *_nullable(disabled_at=_TIME, failing_since=_TIME),
        *_required(secret=sa.String(120), secret_created_at=_TIME),
        *_nullable(previous_secret=sa.String(120), previous_secret_expires_at=_TIME),
        *_required(version=sa.Integer(), created_at=_TIME, updated_at=_TIME),
        sa.PrimaryKeyConstraint("endpoint_id", name=op.f("pk_endpoints")),
    )
    op.create_table(
        "order_refs",
        *_required(order_id=sa.String(36), partner_id=sa.String(40), partner_reference=sa.String(64)),
        *_required(created_at=_TIME),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_refs")),
    )
    op.create_table(
        "deliveries",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        *_required(delivery_id=sa.String(40), endpoint_id=sa.String(40), partner_id=sa.String(40)),
        *_required(event_id=sa.String(36), event_type=sa.String(40), order_id=sa.String(36)),
        *_required(order_version=sa.BigInteger(), payload=sa.Text(), state=sa.String(10), attempts=sa.Integer()),
        *_required(created_at=_TIME),
        *_nullable(window_start=_TIME, next_attempt_at=_TIME, lease_owner=sa.String(80), lease_until=_TIME),
        *_nullable(last_attempt_at=_TIME),
        *_required(last_http_status=sa.Integer(), last_error=sa.String(500)),
        *_nullable(delivered_at=_TIME),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_deliveries_delivery_id")),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_deliveries_endpoint_event"),
    )
    op.create_table(
        "delivery_log",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        *_required(endpoint_id=sa.String(40), partner_id=sa.String(40), kind=sa.String(20), logged_at=_TIME),
        *_required(delivery_id=sa.String(40), event_type=sa.String(40), attempt=sa.Integer()),
        *_required(http_status=sa.Integer(), latency_ms=sa.Integer(), error=sa.String(500), message=sa.String(500)),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_delivery_log")),
    )
    for table, indexes in _INDEXES.items():
        for name, columns in indexes.items():
            op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, indexes in _INDEXES.items():
        for name in indexes:
            op.drop_index(name, table_name=table)
    for table in ("delivery_log", "deliveries", "order_refs", "endpoints"):
        op.drop_table(table)
    drop_infrastructure_tables(op)
