"""A PostgreSQL primary and a hot-standby streaming replica for tests, each on a free loopback port.

The primary is a private :class:`~tests._infra.pg_cluster.PostgresCluster` (initdb, trust
authentication; ``pg_hba.conf`` from initdb already lets loopback connections replicate) with
``mes_stack.postgres.PRIMARY_SETTINGS``. The replica is made with ``pg_basebackup -R -X stream`` from
the running primary (``mes_stack.postgres.PostgresServer``, what ``mes up --postgres-replica`` runs
too): ``-R`` writes ``standby.signal`` and the ``primary_conninfo`` line into
``postgresql.auto.conf``, so the copy starts as a standby that streams the primary's WAL and answers
read-only queries. Both run as the same
non-root OS user as the private clusters (``embedded_postgres`` when the tests run as root) and are
stopped by the postmaster's PID.

Lag is injected with ``recovery_min_apply_delay`` on the replica (:meth:`ReplicatedPostgres.set_apply_delay`:
``ALTER SYSTEM`` and a reload, so a test changes it at any time; it is never put on the command line,
where it would override ``ALTER SYSTEM``): the replica receives the WAL at once but applies each
commit only that long after the commit's time. :meth:`ReplicatedPostgres.wait_replayed` waits until
the replica has applied everything the primary had written when it was called.

``make_replicated_postgres`` (``tests/conftest.py``) gives a started pair per test; the test may
stop, kill and start the replica (``pair.replica``) for outages.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from mes_stack.postgres import PRIMARY_SETTINGS, REPLICA_SETTINGS
from tests._infra.pg_admin import PostgresAdmin, run_sync, with_database
from tests._infra.pg_cluster import PostgresCluster

__all__ = ["PostgresReplica", "ReplicatedPostgres"]

_APPLY_DELAY_MS = "SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'"


class PostgresReplica(PostgresCluster):
    """A hot standby of ``primary``: ``pg_basebackup -R`` on first start, then a plain postmaster.

    ``stop()`` (fast shutdown), ``kill()`` (immediate) and ``start()`` (same port, same data, it
    resumes streaming) come from :class:`PostgresCluster`.
    """

    label = "postgres-replica"

    def __init__(self, primary: PostgresCluster, *, start_timeout: float = 60.0) -> None:
        super().__init__(bindir=primary.bindir, start_timeout=start_timeout, settings=REPLICA_SETTINGS, primary=primary)
        self.primary = primary


class ReplicatedPostgres:
    """A started primary and its streaming replica (close both with :meth:`close`)."""

    def __init__(self) -> None:
        self.primary = PostgresCluster(settings=PRIMARY_SETTINGS)
        self.replica = PostgresReplica(self.primary)

    def start(self) -> ReplicatedPostgres:
        self.primary.start()
        self.replica.start()
        return self

    def close(self) -> None:
        """Stop both by PID (the replica first) and delete their temporary directories."""
        try:
            self.replica.close()
        finally:
            self.primary.close()

    def __enter__(self) -> ReplicatedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- addresses -----------------------------------------------------------------------

    def create_database(self) -> str:
        """A new database on the primary (it reaches the replica through the WAL); returns its name."""
        return PostgresAdmin(self.primary.url).create_database()

    def urls(self, database: str, driver: str | None = "asyncpg") -> tuple[str, str]:
        """(writer URL on the primary, reader URL on the replica) of ``database``."""
        return with_database(self.primary.url, database, driver), with_database(self.replica.url, database, driver)

    # -- lag -----------------------------------------------------------------------------

    def set_apply_delay(self, delay_ms: int) -> None:
        """``recovery_min_apply_delay`` on the replica (0: none), applied with a reload."""
        delay_ms = int(delay_ms)
        run_sync(_execute(self.replica.url, f"ALTER SYSTEM SET recovery_min_apply_delay = '{delay_ms}ms'"))
        run_sync(_execute(self.replica.url, "SELECT pg_reload_conf()"))
        deadline = time.monotonic() + 10
        while int(run_sync(_fetchval(self.replica.url, _APPLY_DELAY_MS))) != delay_ms:
            if time.monotonic() > deadline:
                raise TimeoutError(f"recovery_min_apply_delay did not become {delay_ms} ms")
            time.sleep(0.02)

    def primary_lsn(self) -> int:
        """The primary's current WAL write position (bytes)."""
        return int(run_sync(_fetchval(self.primary.url, "SELECT (pg_current_wal_lsn() - '0/0')::bigint")))

    def replayed_lsn(self) -> int:
        """What the replica has applied (bytes)."""
        value = run_sync(_fetchval(self.replica.url, "SELECT (pg_last_wal_replay_lsn() - '0/0')::bigint"))
        return int(value or 0)

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Wait until the replica has applied everything the primary had written at the call."""
        target = self.primary_lsn()
        deadline = time.monotonic() + timeout
        while self.replayed_lsn() < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica did not replay up to {target} within {timeout:g}s")
            time.sleep(0.02)

    def __repr__(self) -> str:
        return f"ReplicatedPostgres(primary={self.primary!r}, replica={self.replica!r})"


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _fetchval(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()
