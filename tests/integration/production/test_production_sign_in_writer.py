"""CheckSession reads the writer, never the read replica, on SQLite and PostgreSQL: a replica of the
service whose reader engine (``DATABASE_READ_URL``) points at a lagging copy of the database finds a
session the moment SignIn opened it on the writer, and refuses it the moment SignOut ended it there,
whatever the copy still says."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import Table, delete, insert, select

from mes.production.v1 import production_pb2 as pb
from mes.production.v1 import production_pb2_grpc as pb_grpc
from mes_platform.db import Database
from mes_platform.migrations import upgrade
from services.production.adapters import tables
from services.production.bootstrap import SPEC, App
from tests._infra.ports import LOOPBACK
from tests._infra.rpc import fails
from tests._infra.services import start_service_under_test
from tests.integration.production._support import SERVICE, T, setup_floor

PASSWORD = "a long floor passphrase"


@asynccontextmanager
async def lagging_copy(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """A second, migrated database of the same backend standing for a read replica that lags: it holds
    only what :func:`catch_up` copies into it."""
    if db_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}"
    else:
        make_pg_database: Callable[[], str] = request.getfixturevalue("make_pg_database")
        url = make_pg_database()
    await upgrade(SPEC.migrations, url, SPEC.name)
    replica = Database(url, schema=SPEC.name)
    try:
        yield replica
    finally:
        await replica.dispose()


async def catch_up(app: App, replica: Database, *tables_: Table) -> None:
    """The replica receives the writer's rows of ``tables_`` as they are now."""
    for table in tables_:
        async with app.db.write() as session:
            rows = [dict(row._mapping) for row in (await session.execute(select(table))).all()]
        async with replica.write() as session:
            await session.execute(delete(table))
            if rows:
                await session.execute(insert(table), rows)


@asynccontextmanager
async def stub_of(service: App) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{service.port}") as channel:
        yield pb_grpc.ProductionServiceStub(channel)


def check(stub: Any, token: str) -> Any:
    return stub.CheckSession(pb.CheckSessionRequest(session_token=token), metadata=SERVICE, timeout=T)


async def test_check_session_reads_the_writer_not_a_lagging_replica(
    app: App, stub: Any, db_url: str, make_settings: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    await setup_floor(stub)
    await stub.SetOperatorPassword(
        pb.SetOperatorPasswordRequest(name="operators/OP-1", password=PASSWORD), metadata=SERVICE, timeout=T
    )
    async with lagging_copy(db_url, tmp_path, request) as replica:
        await catch_up(app, replica, tables.operators)  # the operators, no session yet
        settings = make_settings(MES_PRODUCTION_DATABASE_READ_URL=str(replica.url))
        async with start_service_under_test(SPEC, settings) as reading, stub_of(reading) as other:
            assert reading.db.read_url != reading.db.url  # its reader is the lagging copy
            signed_in = await stub.SignIn(
                pb.SignInRequest(operator_code="OP-1", password=PASSWORD), metadata=SERVICE, timeout=T
            )
            token = signed_in.session_token
            # Just opened on the writer, not on the copy: found all the same.
            checked = await check(other, token)
            assert (checked.operator.code, checked.expire_time) == ("OP-1", signed_in.expire_time)

            await catch_up(app, replica, tables.operator_sessions)  # the copy now holds it, open
            await stub.SignOut(pb.SignOutRequest(session_token=token), metadata=SERVICE, timeout=T)
            # Ended on the writer, still open on the copy: refused at once.
            failure = await fails(check(other, token))
            assert (failure.code, failure.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_CLOSED")
            async with replica.read() as session:
                copied = (await session.execute(select(tables.operator_sessions.c.end_time))).scalar_one()
            assert copied is None  # the copy alone would still call it open
