"""Operators sign in: their passwords (salted scrypt hashes), their sessions (by the SHA-256 of the
token) and the failed attempts of the last window (the limit of failures per code and per address).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Existing operators get no password: they cannot sign in until one is set (SetOperatorPassword,
``mesctl production set-password``).
"""

import sqlalchemy as sa
from alembic import op

from mes_platform.tables import SEQUENCE

revision = "0003"
down_revision = "0002"

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "operator_passwords",
        sa.Column("operator_code", sa.String(40), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("set_time", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_code"], ["operators.code"], name=op.f("fk_operator_passwords_operator_code_operators")
        ),
        sa.PrimaryKeyConstraint("operator_code", name=op.f("pk_operator_passwords")),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("operator_code", sa.String(40), nullable=False),
        sa.Column("client_address", sa.String(100), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expire_time", _TIME, nullable=False),
        sa.Column("end_time", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_code"], ["operators.code"], name=op.f("fk_operator_sessions_operator_code_operators")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_operator_sessions")),
    )
    with op.batch_alter_table("operator_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_sessions_operator_code"), ["operator_code"], unique=False)
        batch_op.create_index("ix_operator_sessions_expire_time", ["expire_time"], unique=False)

    op.create_table(
        "sign_in_failures",
        sa.Column("id", SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("operator_code", sa.String(40), nullable=False),
        sa.Column("client_address", sa.String(100), nullable=False),
        sa.Column("failed_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_failures_code", ["operator_code", "failed_at"], unique=False)
        batch_op.create_index("ix_sign_in_failures_address", ["client_address", "failed_at"], unique=False)
        batch_op.create_index("ix_sign_in_failures_failed_at", ["failed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_failures_failed_at")
        batch_op.drop_index("ix_sign_in_failures_address")
        batch_op.drop_index("ix_sign_in_failures_code")
    op.drop_table("sign_in_failures")
    with op.batch_alter_table("operator_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_operator_sessions_expire_time")
        batch_op.drop_index(batch_op.f("ix_operator_sessions_operator_code"))
    op.drop_table("operator_sessions")
    op.drop_table("operator_passwords")
