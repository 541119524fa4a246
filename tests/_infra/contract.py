"""The units of work a service's repository contract suite runs on: its in-memory fakes, and its
SQL ones on SQLite and on PostgreSQL (migrated like the service migrates its database).

A contract module states its service once and takes the ``uows`` fixture from it::

    CONTRACT = RepositoryContract(SPEC, InventoryUnitOfWork, encode_event, FakeUnitOfWorkFactory)
    uows = CONTRACT.uows_fixture()

so what the unit tests assume of the fakes is checked against the real repositories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mes.common.v1 import common_pb2
from mes_contracts.events import by_subject
from mes_platform.db import Database
from mes_platform.migrations import upgrade
from mes_platform.runtime import ServiceSpec
from mes_platform.uow import EventEncoder, SqlUnitOfWorkFactory
from tests._infra.fakes import InMemoryUnitOfWork, InMemoryUnitsOfWork
from tests._infra.services import BACKENDS, backend_database_url

__all__ = ["CONTRACT_BACKENDS", "RepositoryContract", "transaction"]

#: The fakes, then the databases of every service suite.
CONTRACT_BACKENDS = ["fake", *BACKENDS]


@dataclass(frozen=True)
class RepositoryContract:
    """One service's units of work: the SQL ones (``make`` is its unit of work on a session)
    and the fakes (``fake()`` makes them on empty tables)."""

    spec: ServiceSpec[Any, Any]
    make: Callable[..., Any]
    encode: EventEncoder
    fake: Callable[[], InMemoryUnitsOfWork[Any, Any]]

    async def make_uows(self, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
        """The units of work of ``request.param`` (one of ``CONTRACT_BACKENDS``) on an empty schema."""
        if request.param == "fake":
            yield self.fake()
            return
        url = backend_database_url(request, tmp_path, self.spec.name)
        await upgrade(self.spec.migrations, url, self.spec.name)
        db = Database(url, schema=self.spec.name, pool_size=2)
        try:
            yield SqlUnitOfWorkFactory(db, self.spec.infra, producer=self.spec.name, make=self.make, encode=self.encode)
        finally:
            await db.dispose()

    def uows_fixture(self) -> Any:
        """The ``uows`` fixture of a contract module, over every backend."""

        @pytest.fixture(name="uows", params=CONTRACT_BACKENDS)
        async def uows(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
            async for factory in self.make_uows(request, tmp_path):
                yield factory

        return uows

    async def emitted(self, uows: Any) -> list[tuple[str, str]]:
        """(subject, causation id) of every committed event, oldest first."""
        if isinstance(uows, InMemoryUnitsOfWork):
            return [(self.encode(e.event)[0].subject, e.causation_id) for e in uows.state.outbox]
        outbox = self.spec.infra.outbox
        async with uows.db.read() as session:
            rows = (await session.execute(select(outbox.c.subject, outbox.c.payload).order_by(outbox.c.seq))).all()
        result = []
        for subject, payload in rows:
            meta: common_pb2.EventMeta = by_subject(subject).decode(payload).meta  # type: ignore[attr-defined]
            result.append((subject, meta.causation_id))
        return result


def transaction(uow: Any) -> object:
    """The transaction an open unit of work runs in, as its factory's ``borrow`` takes it."""
    return uow if isinstance(uow, InMemoryUnitOfWork) else uow.session
