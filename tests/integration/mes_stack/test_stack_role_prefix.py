"""Role prefixes on PostgreSQL: two stacks on one cluster, each with its own roles and schemas
``<prefix>_<service>`` (``mes db provision --prefix``, ``MES_STACK_ROLE_PREFIX`` under ``mes up``)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from mes_platform.provision import role_name, schema_name
from mes_stack.database import migrate_services, provision_database
from mes_stack.options import SERVICES, StackOptions
from mes_stack.plan import build_plan
from tests._infra.postgres import PostgresAdmin

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def shared_database(postgres_admin: PostgresAdmin) -> AsyncIterator[tuple[str, list[str]]]:
    """A fresh database (admin URL) and two fresh prefixes; their roles are dropped at the end
    (roles belong to the whole cluster, not to the database)."""
    name = postgres_admin.create_database()
    prefixes = [f"t{secrets.token_hex(4)}", f"t{secrets.token_hex(4)}"]
    try:
        yield postgres_admin.url(name, None), prefixes
    finally:
        postgres_admin.drop_database(name)
        conn = await asyncpg.connect(postgres_admin.url("postgres", None))
        try:
            for prefix in prefixes:
                for svc in SERVICES:
                    await conn.execute(f'DROP ROLE IF EXISTS "{role_name(svc, prefix)}"')
        finally:
            await conn.close()


def _as_role(admin_url: str, role: str) -> str:
    scheme, _, rest = admin_url.partition("://")
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


async def test_two_prefixes_get_their_own_roles_and_schemas_and_cannot_touch_each_other(
    shared_database: tuple[str, list[str]],
) -> None:
    admin_url, (first, second) = shared_database
    await provision_database(admin_url, prefix=first)
    await provision_database(admin_url, prefix=second)
    await provision_database(admin_url, prefix=first)  # idempotent
    conn = await asyncpg.connect(admin_url)
    try:
        owners = dict(
            await conn.fetch(
                "SELECT n.nspname, r.rolname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner"
                " WHERE n.nspname LIKE $1 OR n.nspname LIKE $2",
                f"{first}_%",
                f"{second}_%",
            )
        )
    finally:
        await conn.close()
    assert owners == {f"{p}_{svc}": f"{p}_{svc}" for p in (first, second) for svc in SERVICES}

    mine = await asyncpg.connect(_as_role(admin_url, role_name("orders", first)))
    try:
        await mine.execute(f'CREATE TABLE "{first}_orders".probe (id int)')
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await mine.execute(f'CREATE TABLE "{second}_orders".probe (id int)')
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await mine.execute(f'CREATE TABLE "{first}_inventory".probe (id int)')
    finally:
        await mine.close()


async def test_the_stack_plan_migrates_each_service_into_its_prefixed_schema(
    shared_database: tuple[str, list[str]],
) -> None:
    admin_url, (prefix, _) = shared_database
    env = {"MES_STACK_ROLE_PREFIX": prefix}
    options = StackOptions.resolve(env, data_dir="/unused", database_url=admin_url)
    plan = build_plan(options, env, python=sys.executable, nats_binary="nats-server", facade_available=False)
    orders = next(s for s in plan.processes if s.name == "orders")
    assert orders.env["MES_ORDERS_DATABASE_SCHEMA"] == f"{prefix}_orders"
    assert plan.database_urls["orders"] == _as_role(admin_url, f"{prefix}_orders")

    await provision_database(admin_url, prefix=options.role_prefix)
    await migrate_services({"orders": orders.env}, services=["orders"], say=lambda _: None)
    conn = await asyncpg.connect(admin_url)
    try:
        tables = {
            row["tablename"]
            for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", f"{prefix}_orders")
        }
        owner = await conn.fetchval(
            "SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = 'outbox'", f"{prefix}_orders"
        )
        untouched = await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = 'orders'")
    finally:
        await conn.close()
    assert {"outbox", "inbox"} <= tables and owner == f"{prefix}_orders"
    assert untouched == 0  # the default schema names were not used


def test_mes_db_provision_takes_a_prefix_and_refuses_an_unsafe_one(shared_database: tuple[str, list[str]]) -> None:
    admin_url, (_, prefix) = shared_database

    def provision(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mes_stack", "db", "provision", "--admin-url", admin_url, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = provision("--prefix", prefix)
    assert done.returncode == 0, done.stderr
    assert f"{role_name('orders', prefix)}/{schema_name('orders', prefix)}" in done.stdout
    assert f"{prefix}_analytics/{prefix}_analytics" in done.stdout
    bad = provision("--prefix", "Shop-2")
    assert bad.returncode == 2 and "use a lower-case letter" in bad.stderr
