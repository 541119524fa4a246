"""Writer and reader engines, sessions, and the SQLite/PostgreSQL differences.

Each service owns one schema. On PostgreSQL the connection's ``search_path`` is
the service's schema, so tables are declared without a schema and the same
models run on SQLite (one file per service). Writes go to the writer engine;
reads that need not see the caller's own writes go to the reader engine
(``DATABASE_READ_URL``, which defaults to the writer).

When the reader is another PostgreSQL server (a streaming replica), reads are routed by
:class:`~mes_platform.replica.ReplicaRouter`: a gRPC call's reads see the caller's earlier writes
(commit positions), a call that wrote reads on the writer, and a failed replica sends reads to
the writer without errors (see :mod:`mes_platform.replica` and its knobs).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from mes_kernel.errors import Unavailable
from mes_platform.replica import (
    ReplicaRouter,
    ReplicaSettings,
    Route,
    current_call,
    ensure_flushed_commits,
    wrote_anything,
)

__all__ = ["WROTE_OUTBOX", "Database", "is_postgres", "unavailable_on_db_errors"]

#: ``session.info`` key set by ``OutboxWriter.add``: the transaction wrote outbox rows.
WROTE_OUTBOX = "mes.wrote_outbox"


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _make_engine(url: str, schema: str, *, writer: bool, pool_size: int) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Writers take the lock up front: no deadlock upgrading a read lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"server_settings": {"search_path": schema}, "timeout": 5},
    )


class Database:
    """The writer and reader engines of one service."""

    def __init__(
        self,
        url: str,
        read_url: str | None = None,
        *,
        schema: str,
        pool_size: int = 10,
        replica: ReplicaSettings | None = None,
    ) -> None:
        self.url = url
        self.read_url = read_url or url
        self.schema = schema
        self.writer = _make_engine(url, schema, writer=True, pool_size=pool_size)
        self.reader = (
            self.writer
            if self.read_url == url and not url.startswith("sqlite")
            else _make_engine(self.read_url, schema, writer=False, pool_size=pool_size)
        )
        self._write_sessions = async_sessionmaker(self.writer, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)
        self._outbox_listeners: list[Callable[[], None]] = []
        #: Routes the reads when the reader is a PostgreSQL replica (None: reads go to ``reader``).
        self.router: ReplicaRouter | None = None
        if self.reader is not self.writer and is_postgres(url) and is_postgres(self.read_url):
            ensure_flushed_commits(self.writer)
            self.router = ReplicaRouter(self.writer, self.reader, replica or ReplicaSettings(service=schema))

    def on_outbox_committed(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each :meth:`write` transaction that wrote outbox rows
        commits (the outbox relay's ``notify``). It must be quick and must not raise."""
        self._outbox_listeners.append(callback)

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.url)

    def start_replica_probe(self) -> None:
        """Start probing the replica (its lag, its health) now; reads and writes also start it."""
        if self.router is not None:
            self.router.start()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction on the writer, committed on success. Inside a gRPC call, with a
        replica, a transaction that changed something notes its commit position for the call."""
        router = self.router
        call = None
        if router is not None:
            router.start()
            call = current_call()
        if router is None or call is None:
            async with unavailable_on_db_errors(), self._write_sessions() as session:
                async with session.begin():
                    yield session
                wrote_outbox = session.info.pop(WROTE_OUTBOX, False)
        else:
            async with unavailable_on_db_errors(), self.writer.connect() as conn:
                # A session on a connection of ours: after the commit the connection is still ours, to
                # ask for the position the commit reached.
                async with AsyncSession(bind=conn, expire_on_commit=False) as session:
                    async with session.begin():
                        yield session
                        wrote = await wrote_anything(await session.connection())
                    wrote_outbox = session.info.pop(WROTE_OUTBOX, False)
                if wrote:
                    await router.note_commit(call, conn)
        if wrote_outbox:
            for callback in self._outbox_listeners:
                callback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session on the reader (may lag the writer on a replica, except for what the gRPC call
        being served must see: see :mod:`mes_platform.replica`)."""
        if self.router is None:
            async with unavailable_on_db_errors(), self._read_sessions() as session, session.begin():
                yield session
            return
        async with unavailable_on_db_errors():
            session = await self._routed_read_session(self.router)
            try:
                yield session
                await session.commit()
            finally:
                await session.close()

    async def _routed_read_session(self, router: ReplicaRouter) -> AsyncSession:
        """A session on the replica when it may serve this read (connected, position applied), else
        on the writer."""
        router.start()
        call = current_call()
        route = router.route(call)
        if route in (Route.WRITER_FAILED, Route.WRITER_WROTE, Route.WRITER_BEHIND):
            router.count(route)
            return self._write_sessions()
        session = self._read_sessions()
        try:
            async with asyncio.timeout(router.connect_timeout_s):
                conn = await session.connection()
                if route is Route.CHECK:
                    assert call is not None
                    route = (
                        Route.REPLICA_WAITED if await router.wait_replayed(conn, call.needed) else Route.WRITER_BEHIND
                    )
        except (OperationalError, DBAPIError, OSError, TimeoutError) as exc:
            if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not _is_connection_error(exc):
                await session.close()
                raise
            router.mark_failed(exc)
            route = Route.WRITER_FAILED
        router.count(route)
        if route is Route.REPLICA or route is Route.REPLICA_WAITED:
            return session
        with contextlib.suppress(Exception):
            await session.close()
        return self._write_sessions()

    async def ping(self, timeout: float = 2.0) -> bool:
        # On SQLite the writer begins with BEGIN IMMEDIATE, which waits behind any long write (a
        # bulk import): the reader's plain read shows the file is there and readable without it.
        engine = self.reader if self.writer.dialect.name == "sqlite" else self.writer
        try:
            async with asyncio.timeout(timeout), engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        if self.router is not None:
            await self.router.aclose()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


@asynccontextmanager
async def unavailable_on_db_errors() -> AsyncIterator[None]:
    """Connection-level database failures become UNAVAILABLE (retryable)."""
    try:
        yield
    except (OperationalError, DBAPIError) as exc:
        if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not _is_connection_error(exc):
            raise
        raise Unavailable("the database is unavailable; retry later") from exc
    except (OSError, ConnectionError) as exc:
        raise Unavailable("the database is unavailable; retry later") from exc


def _is_connection_error(exc: DBAPIError) -> bool:
    text_ = str(exc.orig).lower() if exc.orig is not None else ""
    markers = (
        "connection",
        "could not connect",
        "terminating",
        "shutting down",
        "database is locked",
        "server closed",
        "cannot connect",
        "the database system is",
    )
    return isinstance(exc, OperationalError) or any(m in text_ for m in markers)
