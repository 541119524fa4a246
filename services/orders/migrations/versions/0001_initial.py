"""Initial tables of the orders service (partners, orders, catalogue copy, outbox/inbox/idempotency).

Revision ID: 0001
Revises:
Create Date: 2026-11-26

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


def upgrade() -> None:
    op.create_table(
        "catalogue_items",
        *_required(kind=sa.String(10), code=sa.String(40), display_name=sa.String(120), active=sa.Boolean()),
        *_required(source_version=sa.BigInteger(), updated_at=_TIME),
        sa.PrimaryKeyConstraint("kind", "code", name=op.f("pk_catalogue_items")),
    )
    create_infrastructure_tables(op)
    op.create_table(
        "partners",
        *_required(partner_id=sa.String(40), display_name=sa.String(120), tier=sa.String(20)),
        *_required(version=sa.Integer(), created_at=_TIME, updated_at=_TIME),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_partners")),
    )
    op.create_table(
        "api_keys",
        *_required(key_id=sa.String(32), partner_id=sa.String(40), key_hash=sa.String(64), prefix=sa.String(12)),
        *_required(created_at=_TIME),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.partner_id"], name=op.f("fk_api_keys_partner_id_partners")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index("ix_api_keys_partner", "api_keys", ["partner_id", "created_at"], unique=False)
    op.create_table(
        "orders",
        *_required(order_id=sa.String(36), partner_id=sa.String(40), partner_reference=sa.String(64)),
        *_required(priority=sa.String(10), due_time=_TIME, status=sa.String(20), status_reason=sa.String(500)),
        *_required(tracking_reference=sa.String(64), version=sa.Integer(), created_at=_TIME, updated_at=_TIME),
        sa.CheckConstraint("version >= 1", name=op.f("ck_orders_version_positive")),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.partner_id"], name=op.f("fk_orders_partner_id_partners")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
    )
    op.create_index("ix_orders_created", "orders", ["created_at", "order_id"], unique=False)
    op.create_index("ix_orders_partner_created", "orders", ["partner_id", "created_at", "order_id"], unique=False)
    op.create_index("ix_orders_partner_status", "orders", ["partner_id", "status"], unique=False)
    op.create_index("ix_orders_status_due", "orders", ["status", "due_time"], unique=False)
    op.create_table(
        "order_lines",
        *_required(order_id=sa.String(36), line_number=sa.Integer(), style_code=sa.String(40)),
        *_required(alloy_code=sa.String(40), size=sa.String(16), engraving=sa.String(40), quantity=sa.Integer()),
        sa.CheckConstraint("quantity BETWEEN 1 AND 10000", name=op.f("ck_order_lines_quantity_range")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"], name=op.f("fk_order_lines_order_id_orders")),
        sa.PrimaryKeyConstraint("order_id", "line_number", name=op.f("pk_order_lines")),
    )
    op.create_table(
        "order_status_changes",
        *_required(order_id=sa.String(36), version=sa.Integer()),
        sa.Column("from_status", sa.String(20), nullable=True),
        *_required(to_status=sa.String(20), reason=sa.String(500), cause=sa.String(120), changed_at=_TIME),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name=op.f("fk_order_status_changes_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", "version", name=op.f("pk_order_status_changes")),
    )


def downgrade() -> None:
    op.drop_table("order_status_changes")
    op.drop_table("order_lines")
    for index in ("ix_orders_status_due", "ix_orders_partner_status", "ix_orders_partner_created", "ix_orders_created"):
        op.drop_index(index, table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_api_keys_partner", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("partners")
    drop_infrastructure_tables(op)
    op.drop_table("catalogue_items")


def _required(**types: Any) -> list[sa.Column[Any]]:
    """NOT NULL columns, in the order given."""
    return [sa.Column(name, type_, nullable=False) for name, type_ in types.items()]
