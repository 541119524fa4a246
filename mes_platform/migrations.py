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

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from mes_platform.db import Database

__all__ = ["alembic_config", "run_env", "upgrade"]


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
