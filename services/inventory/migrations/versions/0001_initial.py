"""Initial inventory schema: alloys, lots, reservations, waiting orders, the custody
ledger (append-only, enforced by triggers) and the infrastructure tables (outbox, inbox,
dead letters, idempotency keys) of :func:`mes_platform.migrations.create_infrastructure_tables`.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mes_platform.migrations import create_infrastructure_tables, drop_infrastructure_tables

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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


def upgrade() -> None:
    op.create_table(
        "alloys",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("metal", sa.String(length=16), nullable=False),
        sa.Column("fineness", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=16), nullable=False),
        sa.Column("density_mg_per_cm3", sa.BigInteger(), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_alloys")),
    )
    op.create_table(
        "closed_orders",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_closed_orders")),
    )
    op.create_table(
        "custody_entries",
        sa.Column("seq", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("material_code", sa.String(length=40), nullable=False),
        sa.Column("lot_id", sa.String(length=64), nullable=False),
        sa.Column("weight_mg", sa.BigInteger(), nullable=False),
        sa.Column("pieces", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("operator_code", sa.String(length=40), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.CheckConstraint("weight_mg >= 0 AND pieces >= 0", name=op.f("ck_custody_entries_non_negative")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_custody_entries")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_custody_entries_entry_id")),
    )
    op.create_index("ix_custody_entries_batch", "custody_entries", ["batch_id"], unique=False)
    op.create_index("ix_custody_entries_holder", "custody_entries", ["holder", "seq"], unique=False)
    op.create_index("ix_custody_entries_material", "custody_entries", ["material_code", "seq"], unique=False)
    op.create_index("ix_custody_entries_reference", "custody_entries", ["reference", "seq"], unique=False)

    create_infrastructure_tables(op)

    op.create_table(
        "lots",
        sa.Column("lot_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("material_code", sa.String(length=40), nullable=False),
        sa.Column("received_mg", sa.BigInteger(), nullable=False),
        sa.Column("on_hand_mg", sa.BigInteger(), nullable=False),
        sa.Column("reserved_mg", sa.BigInteger(), nullable=False),
        sa.Column("received_pieces", sa.Integer(), nullable=False),
        sa.Column("on_hand_pieces", sa.Integer(), nullable=False),
        sa.Column("reserved_pieces", sa.Integer(), nullable=False),
        sa.Column("weight_points", sa.BigInteger(), nullable=False),
        sa.Column("supplier_reference", sa.String(length=120), nullable=False),
        sa.Column("receive_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
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
        sa.Column("reservation_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("release_reason", sa.String(length=500), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
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
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("submit_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_waiting_orders")),
    )
    op.create_index("ix_waiting_orders_serve", "waiting_orders", ["priority", "submit_time", "order_id"], unique=False)

    op.create_table(
        "reservation_items",
        sa.Column("reservation_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("material_code", sa.String(length=40), nullable=False),
        sa.Column("weight_mg", sa.BigInteger(), nullable=False),
        sa.Column("pieces", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
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
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("material_code", sa.String(length=40), nullable=False),
        sa.Column("required", sa.BigInteger(), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("since_time", sa.DateTime(timezone=True), nullable=False),
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
