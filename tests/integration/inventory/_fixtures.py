"""Units of work for the repository contract suite: the in-memory fakes, and the SQL ones on
SQLite and on PostgreSQL (migrated like the service migrates its database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mes.common.v1 import common_pb2
from mes_contracts.events import by_subject
from mes_platform.db import Database
from mes_platform.migrations import upgrade
from mes_platform.uow import SqlUnitOfWorkFactory
from services.inventory.adapters.tables import infra
from services.inventory.adapters.unit_of_work import InventoryUnitOfWork
from services.inventory.bootstrap import SPEC
from services.inventory.entrypoints.codec import encode_event
from tests.unit.inventory.fakes import FakeUnitOfWork, FakeUnitOfWorkFactory

__all__ = ["BACKENDS", "emitted", "make_uows", "transaction"]

BACKENDS = ["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def make_uows(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """The units of work of ``request.param`` ("fake", "sqlite" or "postgres") on an empty schema."""
    if request.param == "fake":
        yield FakeUnitOfWorkFactory()
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}"
    else:
        url = request.getfixturevalue("pg_database_url")
    await upgrade(SPEC.migrations, url, SPEC.name)
    db = Database(url, schema=SPEC.name, pool_size=2)
    try:
        yield SqlUnitOfWorkFactory(db, infra, producer=SPEC.name, make=InventoryUnitOfWork, encode=encode_event)
    finally:
        await db.dispose()


async def emitted(uows: Any) -> list[tuple[str, str]]:
    """(subject, causation id) of every committed event, oldest first."""
    if isinstance(uows, FakeUnitOfWorkFactory):
        return [(encode_event(e.event)[0].subject, e.causation_id) for e in uows.state.outbox]
    outbox = infra.outbox
    async with uows.db.read() as session:
        rows = (await session.execute(select(outbox.c.subject, outbox.c.payload).order_by(outbox.c.seq))).all()
    result = []
    for subject, payload in rows:
        meta: common_pb2.EventMeta = by_subject(subject).decode(payload).meta  # type: ignore[attr-defined]
        result.append((subject, meta.causation_id))
    return result


def transaction(uow: Any) -> object:
    """The transaction an open unit of work runs in, as its factory's ``borrow`` takes it."""
    return uow if isinstance(uow, FakeUnitOfWork) else uow.session
