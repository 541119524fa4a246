"""PostgreSQL provisioning: one schema and one login role per service.

Each service's role owns its schema and has no privileges on the others', so no
service can read another's tables. Run once per database with an admin URL::

    mes db provision --admin-url postgresql://postgres@127.0.0.1:5432/mes

and give each service ``DATABASE_URL=postgresql://mes_<service>[:password]@host/mes``.

Roles are objects of the whole PostgreSQL cluster, so two stacks sharing one cluster need
names of their own: with a ``prefix`` (``mes db provision --prefix shop2``, or
``MES_STACK_ROLE_PREFIX`` under ``mes up``) each service gets the role *and* the schema
``<prefix>_<service>`` (the service then needs ``DATABASE_SCHEMA=<prefix>_<service>``).
Without one the names are those of every existing database: role ``mes_<service>``, schema
``<service>``.
"""

from __future__ import annotations

import re

import asyncpg

__all__ = ["DEFAULT_ROLE_PREFIX", "SERVICES", "check_prefix", "provision", "role_name", "schema_name", "service_url"]

SERVICES = ("orders", "inventory", "production")
#: The role prefix of a database provisioned without one.
DEFAULT_ROLE_PREFIX = "mes"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,29}$")


def check_prefix(prefix: str) -> str:
    """``prefix`` when it makes safe role and schema names (lower-case letter, then letters,
    digits and ``_``, at most 30 characters); ``ValueError`` otherwise."""
    if not _PREFIX.match(prefix):
        raise ValueError(
            f"role prefix {prefix!r}: use a lower-case letter followed by lower-case letters, digits or _"
            " (at most 30 characters)"
        )
    return prefix


def role_name(service: str, prefix: str | None = None) -> str:
    """``mes_<service>``, or ``<prefix>_<service>``."""
    return f"{check_prefix(prefix) if prefix else DEFAULT_ROLE_PREFIX}_{service}"


def schema_name(service: str, prefix: str | None = None) -> str:
    """``<service>`` (no prefix, or the default one), or ``<prefix>_<service>``."""
    if not prefix or prefix == DEFAULT_ROLE_PREFIX:
        return service
    return f"{check_prefix(prefix)}_{service}"


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unsafe identifier {name!r}")
    return f'"{name}"'


async def provision(
    admin_dsn: str, services: tuple[str, ...] = SERVICES, password: str | None = None, *, prefix: str | None = None
) -> None:
    """Create (idempotently) each service's role and schema in the admin DSN's database
    (names: :func:`role_name` and :func:`schema_name` of ``prefix``)."""
    if prefix:
        check_prefix(prefix)
    conn = await asyncpg.connect(admin_dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        database = await conn.fetchval("SELECT current_database()")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for service in services:
            role, schema = role_name(service, prefix), schema_name(service, prefix)
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            if not exists:
                await conn.execute(f"CREATE ROLE {_ident(role)} LOGIN")
            if password is not None:
                await conn.execute(f"ALTER ROLE {_ident(role)} PASSWORD {_literal(password)}")
            await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {_ident(role)}")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)} AUTHORIZATION {_ident(role)}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {_ident(schema)} FROM PUBLIC")
    finally:
        await conn.close()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def service_url(admin_dsn: str, service: str, prefix: str | None = None) -> str:
    """The admin DSN with the service's role as user (trust/peer setups; add a password otherwise)."""
    scheme, _, rest = admin_dsn.partition("://")
    hostpart = rest.split("@", 1)[1] if "@" in rest else rest
    return f"{scheme}://{role_name(service, prefix)}@{hostpart}"
