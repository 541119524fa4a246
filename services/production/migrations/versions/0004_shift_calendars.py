"""Shift calendars: a work center's weekly shifts in local time, its IANA zone and its hourly
output target.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Existing work centers get no calendar: they are off shift, with no target, until one is set
(SetShiftCalendar, ``mesctl production work-center calendar set``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "work_center_calendars",
        sa.Column("work_center", sa.String(40), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("output_target_per_hour", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["work_center"], ["work_centers.code"], name=op.f("fk_work_center_calendars_work_center_work_centers")
        ),
        sa.PrimaryKeyConstraint("work_center", name=op.f("pk_work_center_calendars")),
    )


def downgrade() -> None:
    op.drop_table("work_center_calendars")
