"""A fresh PostgreSQL database for a generated data set, provisioned and migrated as
``mes db provision`` and ``mes db migrate`` do (one schema and login role per service)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from mes_platform.provision import service_url
from mes_stack.database import migrate_services, provision_database
from mes_stack.options import SERVICES

__all__ = ["create_database", "database_url", "drop_database", "plain_url", "prepare_schemas"]

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def plain_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def database_url(admin_url: str, database: str) -> str:
    """The admin URL pointed at ``database``."""
    parts = urlsplit(plain_url(admin_url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _check(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"unsafe database name {name!r}")
    return name


async def create_database(admin_url: str, database: str, *, replace: bool = False) -> str:
    """Create ``database`` (dropping it first with ``replace``); returns its admin URL."""
    conn = await asyncpg.connect(plain_url(admin_url))
    try:
        if replace:
            await _drop(conn, database)
        await conn.execute(f'CREATE DATABASE "{_check(database)}"')
    finally:
        await conn.close()
    return database_url(admin_url, database)


async def _drop(conn: asyncpg.Connection, database: str) -> None:
    await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database)
    await conn.execute(f'DROP DATABASE IF EXISTS "{_check(database)}"')


async def drop_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(plain_url(admin_url))
    try:
        await _drop(conn, database)
    finally:
        await conn.close()


async def prepare_schemas(db_admin_url: str) -> None:
    """Schemas and roles (``mes db provision``), then every service's migrations as its own role."""
    await provision_database(db_admin_url)
    envs = {svc: {f"MES_{svc.upper()}_DATABASE_URL": service_url(db_admin_url, svc)} for svc in SERVICES}
    await migrate_services(envs, say=lambda _m: None)
