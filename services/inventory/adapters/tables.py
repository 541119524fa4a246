"""Tables of the inventory schema (one MetaData; infrastructure tables included).

Lots carry CHECK constraints that restate the invariant (0 <= reserved <= on hand),
so even a faulty update could not over-reserve a lot. ``reservations`` has a
partial unique index: at most one active (HELD/COMMITTED) reservation per order.
``custody_entries`` is append-only (triggers in the migration reject UPDATE/DELETE).
"""

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
    Text,
    text,
)

from mes_platform.tables import SEQUENCE, add_infrastructure_tables, service_metadata, timestamp

__all__ = [
    "alloys",
    "closed_orders",
    "custody_entries",
    "infra",
    "lots",
    "metadata",
    "reservation_items",
    "reservations",
    "waiting_orders",
    "waiting_shortages",
]

# Indexes and unique constraints are named after their table and all their columns.
metadata = service_metadata(ix="ix_%(table_name)s_%(column_0_N_name)s", uq="uq_%(table_name)s_%(column_0_N_name)s")
infra = add_infrastructure_tables(metadata)

_BigInt = BigInteger()

alloys = Table(
    "alloys",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("metal", String(16), nullable=False),
    Column("fineness", Integer, nullable=False),
    Column("colour", String(16), nullable=False),
    Column("density_mg_per_cm3", _BigInt, nullable=False),
    Column("display_name", String(120), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", _BigInt, nullable=False),
    timestamp("create_time"),
    timestamp("update_time"),
)

lots = Table(
    "lots",
    metadata,
    Column("lot_id", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("material_code", String(40), nullable=False),
    Column("received_mg", _BigInt, nullable=False),
    Column("on_hand_mg", _BigInt, nullable=False),
    Column("reserved_mg", _BigInt, nullable=False),
    Column("received_pieces", Integer, nullable=False),
    Column("on_hand_pieces", Integer, nullable=False),
    Column("reserved_pieces", Integer, nullable=False),
    Column("weight_points", _BigInt, nullable=False),
    Column("supplier_reference", String(120), nullable=False),
    timestamp("receive_time"),
    Column("version", _BigInt, nullable=False),
    CheckConstraint("reserved_mg >= 0 AND reserved_mg <= on_hand_mg", name="reserved_mg_within_on_hand"),
    CheckConstraint(
        "reserved_pieces >= 0 AND reserved_pieces <= on_hand_pieces", name="reserved_pieces_within_on_hand"
    ),
)
Index("ix_lots_material_fifo", lots.c.material_code, lots.c.receive_time, lots.c.lot_id)
Index("ix_lots_fifo", lots.c.receive_time, lots.c.lot_id)

reservations = Table(
    "reservations",
    metadata,
    Column("reservation_id", String(64), primary_key=True),
    Column("order_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("release_reason", String(500), nullable=False),
    timestamp("create_time"),
    timestamp("update_time"),
    Column("version", _BigInt, nullable=False),
)
_ACTIVE = text("state IN ('HELD', 'COMMITTED')")
Index(
    "uq_reservations_active_order",
    reservations.c.order_id,
    unique=True,
    postgresql_where=_ACTIVE,
    sqlite_where=_ACTIVE,
)
Index("ix_reservations_order", reservations.c.order_id, reservations.c.create_time)
Index("ix_reservations_created", reservations.c.create_time, reservations.c.reservation_id)

reservation_items = Table(
    "reservation_items",
    metadata,
    Column(
        "reservation_id",
        String(64),
        ForeignKey("reservations.reservation_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("lot_id", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("material_code", String(40), nullable=False),
    Column("weight_mg", _BigInt, nullable=False),
    Column("pieces", Integer, nullable=False),
    Column("line_number", Integer, nullable=False),
)

waiting_orders = Table(
    "waiting_orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("priority", Integer, nullable=False),
    timestamp("submit_time"),
    # JSON list of {"kind", "material_code", "quantity", "line_number"}.
    Column("requirements", Text, nullable=False),
    timestamp("updated_at"),
)
Index("ix_waiting_orders_serve", waiting_orders.c.priority, waiting_orders.c.submit_time, waiting_orders.c.order_id)

waiting_shortages = Table(
    "waiting_shortages",
    metadata,
    Column(
        "order_id",
        String(64),
        ForeignKey("waiting_orders.order_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(8), primary_key=True),
    Column("material_code", String(40), primary_key=True),
    Column("required", _BigInt, nullable=False),
    Column("available", _BigInt, nullable=False),
    # Copies of the order's priority and submit time, for listing in serve order.
    Column("priority", Integer, nullable=False),
    timestamp("since_time"),
)
Index(
    "ix_waiting_shortages_serve",
    waiting_shortages.c.priority,
    waiting_shortages.c.since_time,
    waiting_shortages.c.order_id,
)

closed_orders = Table(
    "closed_orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("reason", String(500), nullable=False),
    timestamp("closed_at"),
)

custody_entries = Table(
    "custody_entries",
    metadata,
    Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
    Column("entry_id", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("holder", String(200), nullable=False),
    Column("material_code", String(40), nullable=False),
    Column("lot_id", String(64), nullable=False),
    Column("weight_mg", _BigInt, nullable=False),
    Column("pieces", Integer, nullable=False),
    Column("reference", String(200), nullable=False),
    Column("operator_code", String(40), nullable=False),
    timestamp("create_time"),
    Column("batch_id", String(64), nullable=False),
    CheckConstraint("weight_mg >= 0 AND pieces >= 0", name="non_negative"),
)
Index("ix_custody_entries_holder", custody_entries.c.holder, custody_entries.c.seq)
Index("ix_custody_entries_reference", custody_entries.c.reference, custody_entries.c.seq)
Index("ix_custody_entries_material", custody_entries.c.material_code, custody_entries.c.seq)
Index("ix_custody_entries_batch", custody_entries.c.batch_id)
