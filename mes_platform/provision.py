"""PostgreSQL provisioning: one schema and one login role per service.

Each service's role owns its schema and has no privileges on the others', so no
service can read another's tables. Run once per database with an admin URL::

    mes db provision --admin-url postgresql://postgres@127.0.0.1:5432/mes

and give each service ``DATABASE_URL=postgresql://mes_<service>[:password]@host/mes``.
"""

from __future__ import annotations

import re

import asyncpg

__all__ = ["SERVICES", "provision", "role_name", "service_url"]

SERVICES = ("orders", "inventory", "production")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def role_name(service: str) -> str:
    return f"mes_{service}"


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unsafe identifier {name!r}")
    return f'"{name}"'


async def provision(admin_dsn: str, services: tuple[str, ...] = SERVICES, password: str | None = None) -> None:
    """Create (idempotently) each service's role and schema in the admin DSN's database."""
    conn = await asyncpg.connect(admin_dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        database = await conn.fetchval("SELECT current_database()")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for service in services:
            role = role_name(service)
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            if not exists:
                await conn.execute(f"CREATE ROLE {_ident(role)} LOGIN")
            if password is not None:
                await conn.execute(f"ALTER ROLE {_ident(role)} PASSWORD {_literal(password)}")
            await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {_ident(role)}")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(service)} AUTHORIZATION {_ident(role)}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {_ident(service)} FROM PUBLIC")
    finally:
        await conn.close()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def service_url(admin_dsn: str, service: str) -> str:
    """The admin DSN with the service's role as user (trust/peer setups; add a password otherwise)."""
    scheme, _, rest = admin_dsn.partition("://")
    hostpart = rest.split("@", 1)[1] if "@" in rest else rest
    return f"{scheme}://{role_name(service)}@{hostpart}"
