"""Alembic, driven from code: each service keeps its own ``migrations/`` folder
(env.py + versions) and version table in its own schema.

``env.py`` of a service is two lines::

    from mes_platform.migrations import run_env
    from services.orders.adapters.tables import metadata
    run_env(metadata)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from mes_platform.db import Database

__all__ = [
    "alembic_config",
    "create_infrastructure_tables",
    "drop_infrastructure_tables",
    "run_env",
    "upgrade",
]


def alembic_config(script_location: Path, url: str, schema: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    return cfg


def _configure_and_run(connection: Connection, metadata: MetaData, schema: str) -> None:
    postgres = connection.dialect.name == "postgresql"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema if postgres else None,
        render_as_batch=not postgres,  # SQLite needs batch mode for ALTER
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_env(metadata: MetaData) -> None:
    """Body of every service's env.py (online mode only)."""
    cfg = context.config
    url = cfg.get_main_option("sqlalchemy.url") or ""
    schema = str(cfg.attributes.get("schema", "public"))

    async def _run() -> None:
        db = Database(url, schema=schema, pool_size=1)
        try:
            async with db.writer.connect() as conn:
                if conn.dialect.name == "postgresql":
                    exists = await conn.scalar(
                        text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
                    )
                    if not exists:
                        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                    await conn.commit()
                await conn.run_sync(_configure_and_run, metadata, schema)
                await conn.commit()
        finally:
            await db.dispose()

    asyncio.run(_run())


async def upgrade(script_location: Path, url: str, schema: str, revision: str = "head") -> None:
    """Upgrade the service's schema (runs Alembic in a worker thread with its own loop)."""
    cfg = alembic_config(script_location, url, schema)
    await asyncio.to_thread(command.upgrade, cfg, revision)


def create_infrastructure_tables(op: Operations) -> None:
    """In a service's migration: the outbox, inbox, dead-letter and idempotency tables of
    :func:`mes_platform.tables.add_infrastructure_tables`, with their indexes."""
    big_id = sa.Integer().with_variant(sa.BigInteger(), "postgresql")
    op.create_table(
        "dead_letters",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("consumer", sa.String(length=80), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("resource_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "request_id", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("ix_idempotency_created", "idempotency_keys", ["created_at"], unique=False)
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=80), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
    )
    op.create_index("ix_inbox_processed", "inbox", ["processed_at"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("seq", big_id, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index("ix_outbox_created", "outbox", ["created_at"], unique=False)
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "seq"], unique=False)


def drop_infrastructure_tables(op: Operations) -> None:
    """The reverse of :func:`create_infrastructure_tables`."""
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_index("ix_outbox_created", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_inbox_processed", table_name="inbox")
    op.drop_table("inbox")
    op.drop_index("ix_idempotency_created", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("dead_letters")
