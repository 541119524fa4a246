"""Initial inventory schema: alloys, lots, reservations, waiting orders, the custody
ledger (append-only, enforced by triggers) and the infrastructure tables (outbox, inbox,
dead letters, idempotency keys) of :func:`mes_platform.migrations.create_infrastructure_tables`.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

A table's columns are listed ``name=type`` in order (``_required``: NOT NULL).
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from mes_platform.migrations import create_infrastructure_tables, drop_infrastructure_tables

revision = "0001"
down_revision = None

_TABLES = (
    "waiting_shortages",
    "reservation_items",
    "waiting_orders",
    "reservations",
    "lots",
    "custody_entries",
    "closed_orders",
    "alloys",
)

_ACTIVE = sa.text("state IN ('HELD', 'COMMITTED')")
_PG_APPEND_ONLY = (
    """CREATE FUNCTION custody_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'custody entries are append-only';
    END;
    $$""",
    """CREATE TRIGGER custody_entries_append_only
    BEFORE UPDATE OR DELETE ON custody_entries
    FOR EACH ROW EXECUTE FUNCTION custody_entries_append_only()""",
)
_SQLITE_APPEND_ONLY = (
    """CREATE TRIGGER custody_entries_no_update BEFORE UPDATE ON custody_entries
    BEGIN SELECT RAISE(ABORT, 'custody entries are append-only'); END""",
    """CREATE TRIGGER custody_entries_no_delete BEFORE DELETE ON custody_entries
    BEGIN SELECT RAISE(ABORT, 'custody entries are append-only'); END""",
)

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alloys",
        *_required(code=sa.String(40), metal=sa.String(16), fineness=sa.Integer(), colour=sa.String(16)),
        *_required(density_mg_per_cm3=sa.BigInteger(), display_name=sa.String(120), active=sa.Boolean()),
        *_required(version=sa.BigInteger(), create_time=_TIME, update_time=_TIME),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_alloys")),
    )
    op.create_table(
        "closed_orders",
        *_required(order_id=sa.String(64), reason=sa.String(500), closed_at=_TIME),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_closed_orders")),
    )
    op.create_table(
        "custody_entries",
        sa.Column("seq", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), autoincrement=True, nullable=False),
        *_required(entry_id=sa.String(64), kind=sa.String(16), holder=sa.String(200), material_code=sa.String(40)),
        *_required(lot_id=sa.String(64), weight_mg=sa.BigInteger(), pieces=sa.Integer(), reference=sa.String(200)),
        *_required(operator_code=sa.String(40), create_time=_TIME, batch_id=sa.String(64)),
        sa.CheckConstraint("weight_mg >= 0 AND pieces >= 0", name=op.f("ck_custody_entries_non_negative")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_custody_entries")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_custody_entries_entry_id")),
    )
    op.create_index("ix_custody_entries_batch", "custody_entries", ["batch_id"], unique=False)
    for index, column in (("holder", "holder"), ("material", "material_code"), ("reference", "reference")):
        op.create_index(f"ix_custody_entries_{index}", "custody_entries", [column, "seq"], unique=False)

    create_infrastructure_tables(op)

    op.create_table(
        "lots",
        *_required(lot_id=sa.String(64), kind=sa.String(8), material_code=sa.String(40)),
        *_required(received_mg=sa.BigInteger(), on_hand_mg=sa.BigInteger(), reserved_mg=sa.BigInteger()),
        *_required(received_pieces=sa.Integer(), on_hand_pieces=sa.Integer(), reserved_pieces=sa.Integer()),
        *_required(weight_points=sa.BigInteger(), supplier_reference=sa.String(120), receive_time=_TIME),
        *_required(version=sa.BigInteger()),
        sa.CheckConstraint(
            "reserved_mg >= 0 AND reserved_mg <= on_hand_mg", name=op.f("ck_lots_reserved_mg_within_on_hand")
        ),
        sa.CheckConstraint(
            "reserved_pieces >= 0 AND reserved_pieces <= on_hand_pieces",
            name=op.f("ck_lots_reserved_pieces_within_on_hand"),
        ),
        sa.PrimaryKeyConstraint("lot_id", name=op.f("pk_lots")),
    )
    op.create_index("ix_lots_fifo", "lots", ["receive_time", "lot_id"], unique=False)
    op.create_index("ix_lots_material_fifo", "lots", ["material_code", "receive_time", "lot_id"], unique=False)

    op.create_table(
        "reservations",
        *_required(reservation_id=sa.String(64), order_id=sa.String(64), state=sa.String(16), priority=sa.Integer()),
        *_required(release_reason=sa.String(500), create_time=_TIME, update_time=_TIME, version=sa.BigInteger()),
        sa.PrimaryKeyConstraint("reservation_id", name=op.f("pk_reservations")),
    )
    op.create_index("ix_reservations_created", "reservations", ["create_time", "reservation_id"], unique=False)
    op.create_index("ix_reservations_order", "reservations", ["order_id", "create_time"], unique=False)
    op.create_index(
        "uq_reservations_active_order",
        "reservations",
        ["order_id"],
        unique=True,
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    )

    op.create_table(
        "waiting_orders",
        *_required(order_id=sa.String(64), priority=sa.Integer(), submit_time=_TIME, requirements=sa.Text()),
        *_required(updated_at=_TIME),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_waiting_orders")),
    )
    op.create_index("ix_waiting_orders_serve", "waiting_orders", ["priority", "submit_time", "order_id"], unique=False)

    op.create_table(
        "reservation_items",
        *_required(reservation_id=sa.String(64), position=sa.Integer(), lot_id=sa.String(64), kind=sa.String(8)),
        *_required(material_code=sa.String(40), weight_mg=sa.BigInteger(), pieces=sa.Integer()),
        *_required(line_number=sa.Integer()),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.reservation_id"],
            name=op.f("fk_reservation_items_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reservation_id", "position", name=op.f("pk_reservation_items")),
    )
    op.create_table(
        "waiting_shortages",
        *_required(order_id=sa.String(64), kind=sa.String(8), material_code=sa.String(40)),
        *_required(required=sa.BigInteger(), available=sa.BigInteger(), priority=sa.Integer(), since_time=_TIME),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["waiting_orders.order_id"],
            name=op.f("fk_waiting_shortages_order_id_waiting_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "kind", "material_code", name=op.f("pk_waiting_shortages")),
    )
    op.create_index(
        "ix_waiting_shortages_serve", "waiting_shortages", ["priority", "since_time", "order_id"], unique=False
    )

    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_APPEND_ONLY if postgres else _SQLITE_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS custody_entries_append_only ON custody_entries")
        op.execute("DROP FUNCTION IF EXISTS custody_entries_append_only()")
    for table in _TABLES:
        op.drop_table(table)
    drop_infrastructure_tables(op)


def _required(**types: Any) -> list[sa.Column[Any]]:
    """NOT NULL columns, in the order given."""
    return [sa.Column(name, type_, nullable=False) for name, type_ in types.items()]
