"""Initial tables of the production service (styles and their routing versions, work centers,
operators, order specs, work orders, operations and their attempts) and the shared
outbox/inbox/dead-letter/idempotency tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mes_platform.migrations import create_infrastructure_tables, drop_infrastructure_tables

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    create_infrastructure_tables(op)
    op.create_table(
        "operation_attempts",
        sa.Column("work_order_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("operation_code", sa.String(length=40), nullable=False),
        sa.Column("work_center", sa.String(length=40), nullable=False),
        sa.Column("alloy_code", sa.String(length=40), nullable=False),
        sa.Column("weigh_in_mg", sa.BigInteger(), nullable=False),
        sa.Column("weigh_out_mg", sa.BigInteger(), nullable=False),
        sa.Column("scrap_returned_mg", sa.BigInteger(), nullable=False),
        sa.Column("loss_mg", sa.BigInteger(), nullable=False),
        sa.Column("started_by", sa.String(length=40), nullable=False),
        sa.Column("finished_by", sa.String(length=40), nullable=False),
        sa.Column("reviewed_by", sa.String(length=40), nullable=False),
        sa.Column("review_note", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finish_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("work_order_id", "sequence", "attempt", name=op.f("pk_operation_attempts")),
    )
    with op.batch_alter_table("operation_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_operation_attempts_finished", ["finish_time"], unique=False)

    op.create_table(
        "operators",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_operators")),
    )
    op.create_table(
        "order_specs",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("submit_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_specs")),
    )
    op.create_table(
        "styles",
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("routing_version", sa.Integer(), nullable=False),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.Column("bill_of_materials", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_styles")),
    )
    op.create_table(
        "work_centers",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("work_center_type", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_work_centers")),
    )
    with op.batch_alter_table("work_centers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_centers_work_center_type"), ["work_center_type"], unique=False)

    op.create_table(
        "work_orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("style_sku", sa.String(length=40), nullable=False),
        sa.Column("alloy_code", sa.String(length=40), nullable=False),
        sa.Column("size", sa.String(length=40), nullable=False),
        sa.Column("engraving", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("routing_version", sa.Integer(), nullable=False),
        sa.Column("routing_snapshot", sa.JSON(), nullable=False),
        sa.Column("issued_mg", sa.BigInteger(), nullable=False),
        sa.Column("finished_mg", sa.BigInteger(), nullable=False),
        sa.Column("loss_mg", sa.BigInteger(), nullable=False),
        sa.Column("scrap_returned_mg", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("order_id", "line_number", name=op.f("uq_work_orders_order_id")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index("ix_work_orders_created", ["created_at", "order_id", "line_number"], unique=False)
        batch_op.create_index("ix_work_orders_status", ["status", "created_at"], unique=False)

    op.create_table(
        "operations",
        sa.Column("work_order_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("operation_code", sa.String(length=40), nullable=False),
        sa.Column("work_center_type", sa.String(length=40), nullable=False),
        sa.Column("work_center", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("alloy_code", sa.String(length=40), nullable=False),
        sa.Column("loss_tolerance_per_mille", sa.Integer(), nullable=False),
        sa.Column("weigh_in_mg", sa.BigInteger(), nullable=False),
        sa.Column("weigh_out_mg", sa.BigInteger(), nullable=False),
        sa.Column("scrap_returned_mg", sa.BigInteger(), nullable=False),
        sa.Column("loss_mg", sa.BigInteger(), nullable=False),
        sa.Column("started_by", sa.String(length=40), nullable=False),
        sa.Column("finished_by", sa.String(length=40), nullable=False),
        sa.Column("reviewed_by", sa.String(length=40), nullable=False),
        sa.Column("review_note", sa.String(length=500), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finish_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"], ["work_orders.id"], name=op.f("fk_operations_work_order_id_work_orders")
        ),
        sa.PrimaryKeyConstraint("work_order_id", "sequence", name=op.f("pk_operations")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index("ix_operations_order", ["priority", "created_at", "work_order_id"], unique=False)
        batch_op.create_index("ix_operations_queue", ["work_center", "status", "priority", "created_at"], unique=False)
        batch_op.create_index("ix_operations_type", ["work_center_type", "work_center"], unique=False)

    op.create_table(
        "style_versions",
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("routing_version", sa.Integer(), nullable=False),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.Column("bill_of_materials", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sku"], ["styles.sku"], name=op.f("fk_style_versions_sku_styles")),
        sa.PrimaryKeyConstraint("sku", "routing_version", name=op.f("pk_style_versions")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("style_versions")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_type")
        batch_op.drop_index("ix_operations_queue")
        batch_op.drop_index("ix_operations_order")

    op.drop_table("operations")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_work_orders_status")
        batch_op.drop_index("ix_work_orders_created")

    op.drop_table("work_orders")
    with op.batch_alter_table("work_centers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_centers_work_center_type"))

    op.drop_table("work_centers")
    op.drop_table("styles")
    op.drop_table("order_specs")
    op.drop_table("operators")
    with op.batch_alter_table("operation_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_operation_attempts_finished")

    op.drop_table("operation_attempts")
    drop_infrastructure_tables(op)
