"""Floor states: an operation's pauses, and a work center's state (running, idle, blocked).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

``operations`` gains the current pause (reason, start), the seconds of the attempt's ended
pauses and who paused and resumed it last; ``work_centers`` its state, the reason of a block,
when the state last changed and who blocked or unblocked it last. Existing work centers become
RUNNING where an operation is in progress and IDLE elsewhere, since the upgrade. SQLite alters
tables in batch mode. The downgrade turns paused operations back into in-progress ones.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_TIME = sa.DateTime(timezone=True)
_OPERATION_COLUMNS = ("resumed_by", "paused_by", "paused_seconds", "pause_time", "pause_reason")
_CENTER_COLUMNS = ("state_by", "state_time", "state_reason", "state")


def upgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pause_reason", sa.String(200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("pause_time", _TIME, nullable=True))
        batch_op.add_column(sa.Column("paused_seconds", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("paused_by", sa.String(40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("resumed_by", sa.String(40), nullable=False, server_default=""))
    with op.batch_alter_table("work_centers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(20), nullable=False, server_default="IDLE"))
        batch_op.add_column(sa.Column("state_reason", sa.String(200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("state_time", _TIME, nullable=True))
        batch_op.add_column(sa.Column("state_by", sa.String(40), nullable=False, server_default=""))

    centers = sa.table("work_centers", sa.column("code", sa.String()), sa.column("state", sa.String()))
    centers.append_column(sa.column("state_time", _TIME))
    operations = sa.table("operations", sa.column("work_center", sa.String()), sa.column("status", sa.String()))
    in_progress = sa.select(operations.c.work_center).where(operations.c.status == "IN_PROGRESS")
    op.execute(centers.update().values(state_time=datetime.now(UTC)))
    op.execute(centers.update().where(centers.c.code.in_(in_progress)).values(state="RUNNING"))
    with op.batch_alter_table("work_centers", schema=None) as batch_op:
        batch_op.alter_column("state_time", existing_type=_TIME, nullable=False)


def downgrade() -> None:
    # The earlier schema knows no pause: a paused operation is in progress again.
    operations = sa.table("operations", sa.column("status", sa.String()))
    op.execute(operations.update().where(operations.c.status == "PAUSED").values(status="IN_PROGRESS"))
    with op.batch_alter_table("work_centers", schema=None) as batch_op:
        for name in _CENTER_COLUMNS:
            batch_op.drop_column(name)
    with op.batch_alter_table("operations", schema=None) as batch_op:
        for name in _OPERATION_COLUMNS:
            batch_op.drop_column(name)
