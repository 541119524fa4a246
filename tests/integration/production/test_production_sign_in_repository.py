"""The repositories of signing in, one contract on the fakes and on SQLite and PostgreSQL:
passwords replaced in place, sessions found with their operator, ended once, pruned when
expired, and failures listed newest first within a window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.production.adapters.unit_of_work import ProductionUnitOfWork
from services.production.bootstrap import SPEC
from services.production.domain.people import Credential, Session, SignInFailure
from services.production.domain.resources import Operator, OperatorRole
from services.production.entrypoints.codec.events import encode_event
from tests._infra.contract import RepositoryContract
from tests.unit.production._factories import NOW
from tests.unit.production.fakes import FakeUnitOfWorkFactory

CONTRACT = RepositoryContract(SPEC, ProductionUnitOfWork, encode_event, FakeUnitOfWorkFactory)
uows = CONTRACT.uows_fixture()


async def _operators(uows: Any, *codes: str) -> None:
    async with uows.write() as uow:
        for code in codes:
            await uow.operators.add(Operator(code, f"Operator {code}", OperatorRole.SUPERVISOR, True, NOW, NOW))


def _session(token_hash: str, code: str = "OP-1", *, hours: int = 12) -> Session:
    return Session(token_hash, code, NOW, NOW + timedelta(hours=hours), None, "ipv4:10.0.0.1:1")


async def test_a_password_is_saved_and_replaced(uows: Any) -> None:
    await _operators(uows, "OP-1")
    async with uows.write() as uow:
        assert await uow.credentials.get("OP-1") is None
        await uow.credentials.save(Credential("OP-1", "scrypt$first", NOW))
    async with uows.write() as uow:
        await uow.credentials.save(Credential("OP-1", "scrypt$second", NOW + timedelta(minutes=1)))
    async with uows.read() as uow:
        assert await uow.credentials.get("OP-1") == Credential("OP-1", "scrypt$second", NOW + timedelta(minutes=1))


async def test_sessions_are_found_with_their_operator_ended_once_and_pruned(uows: Any) -> None:
    await _operators(uows, "OP-1", "OP-2")
    async with uows.write() as uow:
        await uow.sessions.add(_session("a" * 64))
        await uow.sessions.add(_session("b" * 64))
        await uow.sessions.add(_session("c" * 64, "OP-2", hours=1))
    async with uows.read() as uow:
        found = await uow.sessions.find("a" * 64)
        assert await uow.sessions.find("z" * 64) is None
    assert found is not None
    session, operator = found
    assert session == _session("a" * 64)
    assert (operator.code, operator.role, operator.active, operator.create_time) == (
        "OP-1",
        OperatorRole.SUPERVISOR,
        True,
        NOW,
    )
    later = NOW + timedelta(minutes=5)
    async with uows.write() as uow:
        assert await uow.sessions.end("a" * 64, later) is True
        assert await uow.sessions.end("a" * 64, later) is False
        assert await uow.sessions.end("z" * 64, later) is False
        assert await uow.sessions.end_all("OP-1", later) == 1  # b only: a is already ended
    async with uows.read() as uow:
        ended = await uow.sessions.find("b" * 64)
        assert ended is not None and ended[0].end_time == later
    async with uows.write() as uow:
        assert await uow.sessions.prune(NOW + timedelta(hours=2)) == 1  # c expired after an hour
    async with uows.read() as uow:
        assert await uow.sessions.find("c" * 64) is None
        assert await uow.sessions.find("a" * 64) is not None


async def test_failures_are_listed_newest_first_within_the_window_and_pruned(uows: Any) -> None:
    at = [NOW + timedelta(minutes=m) for m in range(6)]
    async with uows.write() as uow:
        for i, time in enumerate(at):
            await uow.sign_in_failures.add(SignInFailure("OP-1" if i % 2 else "OP-2", "ipv4:10.0.0.1:1", time))
        await uow.sign_in_failures.add(SignInFailure("OP-1", "ipv4:10.0.0.2:1", at[5]))
    async with uows.read() as uow:
        assert await uow.sign_in_failures.latest(at[0], 10, operator_code="OP-1") == [at[5], at[5], at[3], at[1]]
        assert await uow.sign_in_failures.latest(at[1], 2, operator_code="OP-1") == [at[5], at[5]]
        assert await uow.sign_in_failures.latest(at[2], 10, client_address="ipv4:10.0.0.1:1") == [at[5], at[4], at[3]]
        assert await uow.sign_in_failures.latest(at[0], 10, operator_code="NOBODY") == []
    async with uows.write() as uow:
        assert await uow.sign_in_failures.prune(at[3]) == 3
    async with uows.read() as uow:
        assert await uow.sign_in_failures.latest(NOW - timedelta(days=1), 10, client_address="ipv4:10.0.0.1:1") == [
            at[5],
            at[4],
            at[3],
        ]
