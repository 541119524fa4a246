"""Tables of the orders service (one MetaData; the service's own schema on PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from mes_platform.tables import add_infrastructure_tables, service_metadata, timestamp

__all__ = [
    "api_keys",
    "catalogue_items",
    "infra",
    "metadata",
    "order_lines",
    "order_status_changes",
    "order_terminal_counts",
    "orders",
    "partners",
]

metadata = service_metadata()

partners = Table(
    "partners",
    metadata,
    Column("partner_id", String(40), primary_key=True),
    Column("display_name", String(120), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("partner_id", String(40), ForeignKey("partners.partner_id"), nullable=False),
    # SHA-256 (hex) of the whole key; the key itself is never stored.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(12), nullable=False),
    timestamp("created_at"),
    timestamp("revoked_at", nullable=True),
)
Index("ix_api_keys_partner", api_keys.c.partner_id, api_keys.c.created_at)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("partner_id", String(40), ForeignKey("partners.partner_id"), nullable=False),
    Column("partner_reference", String(64), nullable=False),
    Column("priority", String(10), nullable=False),
    timestamp("due_time"),
    Column("status", String(20), nullable=False),
    Column("status_reason", String(500), nullable=False, default=""),
    Column("tracking_reference", String(64), nullable=False, default=""),
    Column("version", Integer, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
    CheckConstraint("version >= 1", name="version_positive"),
)
# Newest-first lists, all partners and one partner; status counts; late orders.
Index("ix_orders_created", orders.c.created_at, orders.c.order_id)
Index("ix_orders_partner_created", orders.c.partner_id, orders.c.created_at, orders.c.order_id)
Index("ix_orders_status_due", orders.c.status, orders.c.due_time)
Index("ix_orders_partner_status", orders.c.partner_id, orders.c.status)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.order_id"), primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("style_code", String(40), nullable=False),
    Column("alloy_code", String(40), nullable=False),
    Column("size", String(16), nullable=False),
    Column("engraving", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity BETWEEN 1 AND 10000", name="quantity_range"),
)

order_status_changes = Table(
    "order_status_changes",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.order_id"), primary_key=True),
    # The order version the change produced: one row per version, oldest first.
    Column("version", Integer, primary_key=True),
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("cause", String(120), nullable=False),
    timestamp("changed_at"),
)

# Orders per partner in each final status (SHIPPED, REJECTED, CANCELLED): a read model kept by
# triggers on ``orders`` in the transaction that closes an order (migration 0002), so that
# CountOrders reads the closed orders from here and counts only the open ones.
order_terminal_counts = Table(
    "order_terminal_counts",
    metadata,
    Column("partner_id", String(40), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("order_count", BigInteger, nullable=False),
)

catalogue_items = Table(
    "catalogue_items",
    metadata,
    Column("kind", String(10), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("display_name", String(120), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("source_version", BigInteger, nullable=False),
    timestamp("updated_at"),
)

infra = add_infrastructure_tables(metadata)
