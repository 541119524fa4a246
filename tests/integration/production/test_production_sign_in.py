"""Signing in through gRPC on SQLite and PostgreSQL: passwords, sessions, sign-out, a disabled
operator, the limit of failed attempts shared by two replicas of the service, and the migration
that adds the tables to a database that already has operators."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from alembic import command
from sqlalchemy import inspect, select

from mes.production.v1 import production_pb2 as pb
from mes.production.v1 import production_pb2_grpc as pb_grpc
from mes_platform.config import ServiceSettings
from mes_platform.db import Database
from mes_platform.migrations import alembic_config, upgrade
from services.production.adapters import tables
from services.production.adapters.catalog_repository import SqlOperatorRepository
from services.production.bootstrap import SPEC, App
from services.production.domain.people import hash_token, verify_password
from services.production.domain.resources import Operator, OperatorRole
from tests._infra.ports import LOOPBACK
from tests._infra.rpc import fails
from tests._infra.services import start_service_under_test
from tests.integration.production._support import OPERATOR_1, SERVICE, T, row_counts, setup_floor

PASSWORD = "a long floor passphrase"
ADDRESS = "ipv4:192.0.2.10:50000"
SIGN_IN_TABLES = ("operator_passwords", "operator_sessions", "sign_in_failures")


async def set_password(stub: Any, code: str, password: str = PASSWORD, metadata: Any = SERVICE) -> pb.Operator:
    request = pb.SetOperatorPasswordRequest(name=f"operators/{code}", password=password)
    return (await stub.SetOperatorPassword(request, metadata=metadata, timeout=T)).operator


def sign_in(stub: Any, code: str = "OP-1", password: str = PASSWORD, address: str = ADDRESS) -> Any:
    request = pb.SignInRequest(operator_code=code, password=password, client_address=address)
    return stub.SignIn(request, metadata=SERVICE, timeout=T)


def check(stub: Any, token: str) -> Any:
    return stub.CheckSession(pb.CheckSessionRequest(session_token=token), metadata=SERVICE, timeout=T)


def sign_out(stub: Any, token: str) -> Any:
    return stub.SignOut(pb.SignOutRequest(session_token=token), metadata=SERVICE, timeout=T)


async def closed(stub: Any, token: str) -> None:
    failure = await fails(check(stub, token))
    assert (failure.code, failure.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_CLOSED")


async def refused(stub: Any, code: str = "OP-1", password: str = PASSWORD, address: str = ADDRESS) -> None:
    failure = await fails(sign_in(stub, code, password, address))
    assert (failure.code, failure.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SIGN_IN_FAILED")
    assert failure.message == "operator code or password is wrong"


async def test_sign_in_check_and_sign_out(app: App, stub: Any) -> None:
    await setup_floor(stub)
    operator = await set_password(stub, "OP-1")
    assert (operator.name, operator.code) == ("operators/OP-1", "OP-1")
    before = datetime.now(UTC)
    reply = await sign_in(stub)
    assert reply.operator.code == "OP-1" and reply.operator.role == pb.OPERATOR_ROLE_OPERATOR
    assert (
        before + timedelta(hours=12)
        <= reply.expire_time.ToDatetime(tzinfo=UTC)
        <= datetime.now(UTC) + timedelta(hours=12)
    )
    checked = await check(stub, reply.session_token)
    assert checked.operator.code == "OP-1" and checked.expire_time == reply.expire_time

    async with app.db.read() as session:
        stored = (await session.execute(select(tables.operator_sessions))).one()
        password_row = (await session.execute(select(tables.operator_passwords))).one()
    assert stored.token_hash == hash_token(reply.session_token) and stored.client_address == ADDRESS
    assert password_row.password_hash.startswith("scrypt$16384$8$1$") and PASSWORD not in password_row.password_hash
    assert verify_password(PASSWORD, password_row.password_hash)

    await sign_out(stub, reply.session_token)
    await closed(stub, reply.session_token)
    await sign_out(stub, reply.session_token)  # again: still OK
    await sign_out(stub, "never-issued")
    await closed(stub, "never-issued")


async def test_every_failure_is_the_same_answer_and_changes_nothing_but_the_count(app: App, stub: Any) -> None:
    await setup_floor(stub)
    await set_password(stub, "OP-1")
    before = await row_counts(app)
    await refused(stub, "OP-1", "not the passphrase")
    await refused(stub, "NOBODY")
    await refused(stub, "OP-2")  # no password yet
    after = await row_counts(app)
    assert after.pop("sign_in_failures") == before.pop("sign_in_failures") + 3
    assert after == before


async def test_bad_passwords_and_unknown_operators_are_refused(app: App, stub: Any) -> None:
    await setup_floor(stub)
    short = await fails(set_password(stub, "OP-1", "too short"))
    assert (short.code, short.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["password"])
    long = await fails(set_password(stub, "OP-1", "x" * 1025))
    assert long.code == grpc.StatusCode.INVALID_ARGUMENT
    unknown = await fails(set_password(stub, "NOBODY"))
    assert unknown.code == grpc.StatusCode.NOT_FOUND
    malformed = await fails(
        stub.SetOperatorPassword(
            pb.SetOperatorPasswordRequest(name="OP-1", password=PASSWORD), metadata=SERVICE, timeout=T
        )
    )
    assert (malformed.code, malformed.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["name"])
    other = await fails(set_password(stub, "OP-2", metadata=OPERATOR_1))  # OP-1's own token
    assert other.code == grpc.StatusCode.PERMISSION_DENIED
    await set_password(stub, "OP-1", metadata=OPERATOR_1)
    async with app.db.read() as session:
        assert (await session.execute(select(tables.operator_passwords.c.operator_code))).scalars().all() == ["OP-1"]


async def test_disabling_an_operator_or_a_new_password_closes_their_sessions(app: App, stub: Any) -> None:
    await setup_floor(stub)
    await set_password(stub, "OP-1")
    await set_password(stub, "OP-2")
    first = (await sign_in(stub)).session_token
    theirs = (await sign_in(stub, "OP-2")).session_token
    disabled = pb.Operator(code="OP-1", display_name="Operator OP-1", role=pb.OPERATOR_ROLE_OPERATOR, active=False)
    await stub.UpsertOperator(pb.UpsertOperatorRequest(operator=disabled), metadata=SERVICE, timeout=T)
    await closed(stub, first)
    await refused(stub, "OP-1")
    await stub.UpsertOperator(
        pb.UpsertOperatorRequest(operator=pb.Operator(**{**_fields(disabled), "active": True})),
        metadata=SERVICE,
        timeout=T,
    )
    second = (await sign_in(stub)).session_token
    await set_password(stub, "OP-1", "another long passphrase")
    await closed(stub, first)
    await closed(stub, second)
    assert (await check(stub, theirs)).operator.code == "OP-2"


def _fields(operator: pb.Operator) -> dict[str, Any]:
    return {f.name: v for f, v in operator.ListFields()}


async def test_the_client_address_defaults_to_the_callers(app: App, stub: Any) -> None:
    await setup_floor(stub)
    await set_password(stub, "OP-1")
    await sign_in(stub, address="")
    async with app.db.read() as session:
        address = (await session.execute(select(tables.operator_sessions.c.client_address))).scalar_one()
    assert LOOPBACK in address


async def test_the_session_time_is_a_setting(make_settings: Any) -> None:
    settings: ServiceSettings = make_settings(MES_PRODUCTION_SESSION_TTL_S="600")
    async with start_service_under_test(SPEC, settings) as service, _stub(service) as stub:
        await setup_floor(stub)
        await set_password(stub, "OP-1")
        before = datetime.now(UTC)
        reply = await sign_in(stub)
        ttl = timedelta(seconds=600)
        assert before + ttl <= reply.expire_time.ToDatetime(tzinfo=UTC) <= datetime.now(UTC) + ttl


@asynccontextmanager
async def _stub(service: App) -> AsyncIterator[Any]:
    """A stub on a channel of its own to ``service``."""
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{service.port}") as channel:
        yield pb_grpc.ProductionServiceStub(channel)


async def test_the_limit_of_failures_holds_across_replicas(app: App, stub: Any, make_settings: Any) -> None:
    await setup_floor(stub)
    await set_password(stub, "OP-1")
    async with start_service_under_test(SPEC, make_settings()) as replica, _stub(replica) as other:
        for n in range(5):  # alternately on each replica, from different addresses
            await refused(stub if n % 2 else other, "OP-1", "wrong passphrase", f"ipv4:192.0.2.{n}:1")
        for target in (stub, other):
            call = sign_in(target)  # the right password: refused all the same
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            trailers = dict(await call.trailing_metadata())
            assert 890 <= int(trailers["retry-after"]) <= 900
            failure = await fails(sign_in(target))
            assert failure.reason == "SIGN_IN_THROTTLED"
            assert 890 <= int(failure.metadata["retry_after_s"]) <= 900
        await set_password(stub, "OP-2")
        await sign_in(other, "OP-2")  # another operator is not blocked
    async with app.db.read() as session:
        assert len((await session.execute(select(tables.sign_in_failures))).all()) == 5


async def test_the_migration_adds_the_tables_to_a_database_with_operators(db_url: str) -> None:
    await upgrade(SPEC.migrations, db_url, SPEC.name, "0002")
    db = Database(db_url, schema=SPEC.name)
    try:
        now = datetime.now(UTC)
        async with db.write() as session:
            for code in ("OP-7", "SUP-7"):
                await SqlOperatorRepository(session).add(Operator(code, code, OperatorRole.OPERATOR, True, now, now))
        await upgrade(SPEC.migrations, db_url, SPEC.name)
        assert set(SIGN_IN_TABLES) <= await _tables(db)
        async with db.write() as session:
            operators = (await session.execute(select(tables.operators.c.code))).scalars().all()
            passwords = (await session.execute(select(tables.operator_passwords))).all()
        assert sorted(operators) == ["OP-7", "SUP-7"] and passwords == []

        config = alembic_config(SPEC.migrations, db_url, SPEC.name)
        await asyncio.to_thread(command.downgrade, config, "0002")
        assert not set(SIGN_IN_TABLES) & await _tables(db)
        async with db.write() as session:
            assert len((await session.execute(select(tables.operators.c.code))).all()) == 2
        await upgrade(SPEC.migrations, db_url, SPEC.name)
        assert set(SIGN_IN_TABLES) <= await _tables(db)
    finally:
        await db.dispose()


async def _tables(db: Database) -> set[str]:
    async with db.write() as session:
        connection = await session.connection()
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_sign_ins_are_audit_lines_without_secrets(
    app: App, stub: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    await setup_floor(stub)
    await set_password(stub, "OP-1")
    token = (await sign_in(stub)).session_token
    await refused(stub, "OP-1", "not the passphrase")
    await sign_out(stub, token)
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    audit = [entry for entry in map(_log_entry, lines) if entry.get("operator_code") == "OP-1"]
    events = [entry["event"] for entry in audit]
    assert events == ["operator_password_set", "sign_in", "sign_in_failed", "sign_out"]
    assert all(entry.get("client_address") == ADDRESS for entry in audit[1:3])
    assert "wrong password" in str(audit[2])
    text = "\n".join(lines)
    assert PASSWORD not in text and "not the passphrase" not in text and token not in text


def _log_entry(line: str) -> dict[str, Any]:
    """One log line as a dict, whichever format the process's logging has (the first test that
    configures it decides, as structlog caches its loggers): JSON, or console ``<time> [info ] <event> k=v``."""
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if isinstance(entry, dict):
        return entry
    if "] " not in line:
        return {}
    event, *pairs = line.split("] ", 1)[1].split()
    fields = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    return {"event": event, **fields, "text": line}
