"""Rows of the services' own tables, bulk-loaded with PostgreSQL COPY.

Rows are dicts named by column; the sink orders them by the columns of the service's
``Table`` (``services/<svc>/adapters/tables.py``), fills a column that is left out with its
scalar default (or NULL where allowed) and refuses anything else, so a column added by a
migration fails loudly here instead of loading wrong data. Tables whose key is a serial
(``outbox.seq``, ``custody_entries.seq``) are numbered in time order, as the services'
commits numbered them: their rows go through a staging table and are inserted ordered by
time, then the sequence is moved past the last value.

Loading runs as the admin role with ``session_replication_role = replica`` (no foreign-key
or trigger checks: the generator writes parents first and the checker verifies afterwards),
except into a table with triggers on INSERT: those fire, as for the services' own inserts, so
a read model that triggers keep (``orders.order_terminal_counts``) is filled as it would be.
A table the generator does not write must be filled that way, or stay empty on purpose.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import asyncpg
from sqlalchemy import MetaData, Table

__all__ = ["Sink", "UngeneratedTable"]

#: Tables a generated history leaves empty on purpose: dead letters, and the sign-in state of people
#: (passwords, sessions, failed attempts), which a run sets up itself (``SetOperatorPassword``).
_EMPTY = {"dead_letters", "operator_passwords", "operator_sessions", "sign_in_failures"}


class UngeneratedTable(RuntimeError):
    """A service has a table the generator does not fill (a new table: teach the generator)."""


class Sink:
    def __init__(self, metadata: Mapping[str, MetaData], *, batch_rows: int = 50_000) -> None:
        self._tables: dict[tuple[str, str], Table] = {
            (service, table.name): table for service, md in metadata.items() for table in md.tables.values()
        }
        self._rows: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        self._ordered: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        self._tick = itertools.count()
        self._batch = batch_rows
        self._staged: set[tuple[str, str]] = set()
        self.loaded: dict[tuple[str, str], int] = defaultdict(int)
        self._layouts: dict[tuple[str, str | None], tuple[list[str], frozenset[str], dict[str, Any]]] = {}
        self._fires: dict[tuple[str, str], bool] = {}
        self._current_role = ""

    def _table(self, service: str, name: str) -> Table:
        try:
            return self._tables[(service, name)]
        except KeyError:
            raise UngeneratedTable(f"{service} has no table {name!r}") from None

    def _layout(self, table: Table, skip: str | None) -> tuple[list[str], frozenset[str], dict[str, Any]]:
        """(column names, their set, fill values of the columns a row may leave out)."""
        key = (table.fullname, skip)
        found = self._layouts.get(key)
        if found is None:
            names, fill = [], {}
            for column in table.c:
                if column.name == skip:
                    continue
                names.append(column.name)
                if column.default is not None and getattr(column.default, "is_scalar", False):
                    fill[column.name] = column.default.arg  # type: ignore[attr-defined]
                elif column.nullable:
                    fill[column.name] = None
            found = self._layouts[key] = (names, frozenset(names), fill)
        return found

    def _values(self, table: Table, row: Mapping[str, Any], skip: str | None = None) -> tuple[Any, ...]:
        names, known, fill = self._layout(table, skip)
        if not row.keys() <= known:
            raise UngeneratedTable(f"{table.name} has no column(s) {sorted(set(row) - known)}")
        try:
            return tuple([row[n] if n in row else fill[n] for n in names])
        except KeyError as exc:
            raise UngeneratedTable(
                f"{table.name}.{exc.args[0]} is required and the generator does not set it"
            ) from None

    def add(self, service: str, name: str, row: Mapping[str, Any]) -> None:
        table = self._table(service, name)
        self._rows[(service, name)].append(self._values(table, row))

    def add_ordered(self, service: str, name: str, at: float, row: Mapping[str, Any]) -> None:
        """A row of a table keyed by a serial ``seq``, numbered later in the order of ``at``."""
        table = self._table(service, name)
        self._ordered[(service, name)].append((*self._values(table, row, skip="seq"), at, next(self._tick)))

    def pending(self) -> int:
        return sum(len(v) for v in self._rows.values()) + sum(len(v) for v in self._ordered.values())

    async def check_complete(self, conn: asyncpg.Connection, generated: set[tuple[str, str]]) -> None:
        """Every table of every service is generated, filled by the database (triggers), or empty on purpose."""
        missing = []
        for service, name in sorted(self._tables):
            if (service, name) in generated or name in _EMPTY:
                continue
            if not await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{service}"."{name}")'):
                missing.append(f"{service}.{name}")
        if missing:
            raise UngeneratedTable("the generator does not fill " + ", ".join(missing) + ": teach perf/datagen")

    async def _role(self, conn: asyncpg.Connection, key: tuple[str, str]) -> None:
        """Triggers fire on tables with INSERT triggers (read models), nowhere else."""
        fire = self._fires.get(key)
        if fire is None:
            fire = self._fires[key] = bool(
                await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = $1 AND c.relname = $2 AND NOT t.tgisinternal AND t.tgtype & 4 <> 0)",
                    *key,
                )
            )
        role = "DEFAULT" if fire else "replica"
        if role != self._current_role:
            await conn.execute(f"SET session_replication_role = {role}")
            self._current_role = role

    async def flush(self, conn: asyncpg.Connection, *, force: bool = False) -> None:
        for key, rows in list(self._rows.items()):
            if rows and (force or len(rows) >= self._batch):
                service, name = key
                columns = [c.name for c in self._tables[key].c]
                await self._role(conn, key)
                await conn.copy_records_to_table(name, records=rows, columns=columns, schema_name=service)
                self.loaded[key] += len(rows)
                self._rows[key] = []
        for key, rows in list(self._ordered.items()):
            if rows and (force or len(rows) >= self._batch):
                service, name = key
                stage = await self._stage(conn, key)
                columns = [c.name for c in self._tables[key].c if c.name != "seq"] + ["_at", "_n"]
                await conn.copy_records_to_table(stage, records=rows, columns=columns)
                self.loaded[key] += len(rows)
                self._ordered[key] = []

    async def _stage(self, conn: asyncpg.Connection, key: tuple[str, str]) -> str:
        service, name = key
        stage = f"stage_{service}_{name}"
        if key not in self._staged:
            await conn.execute(
                f'CREATE TEMP TABLE {stage} AS SELECT * FROM "{service}"."{name}" WITH NO DATA;'
                f" ALTER TABLE {stage} DROP COLUMN seq, ADD COLUMN _at float8, ADD COLUMN _n bigint"
            )
            self._staged.add(key)
        return stage

    async def finish(self, conn: asyncpg.Connection) -> None:
        """Flush everything, number the staged rows in time order, move the sequences on."""
        await self.flush(conn, force=True)
        for key in sorted(self._staged):
            service, name = key
            stage = f"stage_{service}_{name}"
            columns = ", ".join(f'"{c.name}"' for c in self._tables[key].c if c.name != "seq")
            await self._role(conn, key)
            await conn.execute(
                f'INSERT INTO "{service}"."{name}" (seq, {columns})'
                f" SELECT row_number() OVER (ORDER BY _at, _n), {columns} FROM {stage}"
            )
            await conn.execute(f"DROP TABLE {stage}")
        await conn.execute("SET session_replication_role = DEFAULT")
        self._current_role = "DEFAULT"
        for (service, name), table in self._tables.items():
            if "seq" in table.c and table.c.seq.primary_key:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{service}\".\"{name}\"', 'seq'),"
                    f' coalesce((SELECT max(seq) FROM "{service}"."{name}"), 0) + 1, false)'
                )
