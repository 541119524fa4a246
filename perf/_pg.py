"""The PostgreSQL server behind a bench database: its processes, pinned to the servers' CPU
during read-path windows (and given back their affinity afterwards), and the ones that count
as "PostgreSQL" in a window's server CPU.

The bench uses the machine's PostgreSQL (an admin URL). Pinning it means setting the CPU
affinity of the postmaster and of every child it has (backends, checkpointer, background
writer, WAL writer...): children forked later inherit the postmaster's. Counted CPU: the
backends connected to the bench database and the server's auxiliary processes, not the
backends of other databases (other users' work on the same server is "other CPU").
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import asyncpg

__all__ = ["PostgresProcesses"]

_AUX = ("checkpointer", "background writer", "walwriter", "autovacuum launcher", "autovacuum worker", "io worker")


def _ppid(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text.rsplit(")", 1)[1].split()[1])


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if _ppid(int(entry.name)) == parent:
                    found.append(int(entry.name))
    return found


class PostgresProcesses:
    def __init__(self, dsn: str, database: str) -> None:
        self.dsn = dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.database = database
        self.postmaster = 0
        self._saved: dict[int, set[int]] = {}

    async def discover(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
            with contextlib.suppress(OSError, ValueError, IndexError):  # a server on another machine
                self.postmaster = _ppid(backend)  # while the backend lives
        finally:
            await conn.close()

    @property
    def local(self) -> bool:
        """The server runs on this machine and its processes are visible."""
        return self.postmaster > 1 and Path(f"/proc/{self.postmaster}").exists()

    def pin(self, cpus: set[int]) -> int:
        """Pin the postmaster and its children to ``cpus``; returns how many processes moved."""
        if not self.local:
            return 0
        moved = 0
        for pid in [self.postmaster, *_children(self.postmaster)]:
            with contextlib.suppress(OSError):
                self._saved.setdefault(pid, os.sched_getaffinity(pid))
                os.sched_setaffinity(pid, cpus)
                moved += 1
        return moved

    def restore(self) -> None:
        """Give every process pinned here its affinity back (new children: the postmaster's)."""
        everything = set(range(os.cpu_count() or 1))
        original = self._saved.get(self.postmaster, everything)
        pids = set(self._saved) | (set(_children(self.postmaster)) if self.local else set())
        for pid in pids:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, self._saved.get(pid, original))
        self._saved.clear()

    async def counted(self, *, application: str | None = None, not_application: str | None = None) -> list[int]:
        """Backends of the bench database (of one ``application_name``, or all but one) and the
        server's auxiliary processes."""
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND ("
                " (datname = $1 AND ($3::text IS NULL OR application_name = $3)"
                "  AND ($4::text IS NULL OR application_name <> $4))"
                " OR backend_type = ANY($2::text[]))",
                self.database,
                list(_AUX),
                application,
                not_application,
            )
        finally:
            await conn.close()
        return [int(r["pid"]) for r in rows]
