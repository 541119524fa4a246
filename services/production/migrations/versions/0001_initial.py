"""Initial tables of the production service (styles and their routing versions, work centers,
operators, order specs, work orders, operations and their attempts) and the shared
outbox/inbox/dead-letter/idempotency tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

A table's columns are listed ``name=type`` in order (``_required``: NOT NULL), the groups
several tables share once.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from mes_platform.migrations import create_infrastructure_tables, drop_infrastructure_tables

revision = "0001"
down_revision = None

_TIME = sa.DateTime(timezone=True)


def _versioned() -> list[sa.Column[Any]]:
    """The version a conditional update checks, and when the row was made and last changed."""
    return _required(version=sa.BigInteger(), created_at=_TIME, updated_at=_TIME)


def _weighing() -> list[sa.Column[Any]]:
    """What an operation and each of its attempts record: the metal weighed, who worked and reviewed it."""
    return [
        *_required(weigh_in_mg=sa.BigInteger(), weigh_out_mg=sa.BigInteger(), scrap_returned_mg=sa.BigInteger()),
        *_required(loss_mg=sa.BigInteger(), started_by=sa.String(40), finished_by=sa.String(40)),
        *_required(reviewed_by=sa.String(40), review_note=sa.String(500)),
    ]


def _times() -> list[sa.Column[Any]]:
    """When work started and finished (empty until it does)."""
    return [sa.Column("start_time", _TIME, nullable=True), sa.Column("finish_time", _TIME, nullable=True)]


def upgrade() -> None:
    create_infrastructure_tables(op)
    op.create_table(
        "operation_attempts",
        *_required(work_order_id=sa.String(64), sequence=sa.Integer(), attempt=sa.Integer()),
        *_required(operation_code=sa.String(40), work_center=sa.String(40), alloy_code=sa.String(40)),
        *_weighing(),
        *_required(outcome=sa.String(20), reviewed=sa.Boolean()),
        *_times(),
        sa.PrimaryKeyConstraint("work_order_id", "sequence", "attempt", name=op.f("pk_operation_attempts")),
    )
    with op.batch_alter_table("operation_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_operation_attempts_finished", ["finish_time"], unique=False)

    op.create_table(
        "operators",
        *_required(code=sa.String(40), display_name=sa.String(120), role=sa.String(20), active=sa.Boolean()),
        *_versioned(),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_operators")),
    )
    op.create_table(
        "order_specs",
        *_required(order_id=sa.String(64), priority=sa.Integer(), lines=sa.JSON()),
        sa.Column("submit_time", _TIME, nullable=True),
        *_required(status=sa.String(20)),
        *_versioned(),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_specs")),
    )
    op.create_table(
        "styles",
        *_required(sku=sa.String(40), display_name=sa.String(120), category=sa.String(20)),
        *_required(routing_version=sa.Integer(), routing=sa.JSON(), bill_of_materials=sa.JSON(), active=sa.Boolean()),
        *_versioned(),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_styles")),
    )
    op.create_table(
        "work_centers",
        *_required(code=sa.String(40), work_center_type=sa.String(40), display_name=sa.String(120)),
        *_required(capacity=sa.Integer(), active=sa.Boolean()),
        *_versioned(),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_work_centers")),
    )
    with op.batch_alter_table("work_centers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_centers_work_center_type"), ["work_center_type"], unique=False)

    op.create_table(
        "work_orders",
        *_required(id=sa.String(64), order_id=sa.String(64), line_number=sa.Integer(), style_sku=sa.String(40)),
        *_required(alloy_code=sa.String(40), size=sa.String(40), engraving=sa.String(40), quantity=sa.Integer()),
        *_required(status=sa.String(20), priority=sa.Integer(), routing_version=sa.Integer()),
        *_required(routing_snapshot=sa.JSON(), issued_mg=sa.BigInteger(), finished_mg=sa.BigInteger()),
        *_required(loss_mg=sa.BigInteger(), scrap_returned_mg=sa.BigInteger()),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("order_id", "line_number", name=op.f("uq_work_orders_order_id")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index("ix_work_orders_created", ["created_at", "order_id", "line_number"], unique=False)
        batch_op.create_index("ix_work_orders_status", ["status", "created_at"], unique=False)

    op.create_table(
        "operations",
        *_required(work_order_id=sa.String(64), sequence=sa.Integer(), order_id=sa.String(64)),
        *_required(operation_code=sa.String(40), work_center_type=sa.String(40), work_center=sa.String(40)),
        *_required(status=sa.String(20), priority=sa.Integer(), alloy_code=sa.String(40)),
        *_required(loss_tolerance_per_mille=sa.Integer()),
        *_weighing(),
        *_times(),
        *_required(attempt=sa.Integer()),
        *_versioned(),
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
        *_required(sku=sa.String(40), routing_version=sa.Integer(), routing=sa.JSON(), bill_of_materials=sa.JSON()),
        *_required(created_at=_TIME),
        sa.ForeignKeyConstraint(["sku"], ["styles.sku"], name=op.f("fk_style_versions_sku_styles")),
        sa.PrimaryKeyConstraint("sku", "routing_version", name=op.f("pk_style_versions")),
    )


def downgrade() -> None:
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


def _required(**types: Any) -> list[sa.Column[Any]]:
    """NOT NULL columns, in the order given."""
    return [sa.Column(name, type_, nullable=False) for name, type_ in types.items()]
