"""Keyset pages enter the listing's index at the key on PostgreSQL: a page deep in a listing
reads what the first page reads (no index entries read and filtered away), whatever the sort
directions; and every page holds exactly the rows after the key, as ``ORDER BY`` says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from mes_platform.keyset import keyset_after
from mes_platform.sql import one_of

pytestmark = pytest.mark.postgres

_meta = MetaData()
_items = Table(
    "items",
    _meta,
    Column("id", String(20), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_items_created", _items.c.created_at, _items.c.id)
Index("ix_items_rank_created", _items.c.rank, _items.c.created_at, _items.c.id)
T0 = datetime(2030, 1, 1, tzinfo=UTC)
ROWS = [{"id": f"i-{n:05d}", "rank": n % 3, "created_at": T0 + timedelta(seconds=n // 2)} for n in range(5000)]


def _plan(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(p for child in node.get("Plans", []) for p in _plan(child))]


def _expanded(parts: list[tuple[Any, Any, bool]]) -> Any:
    """The condition as it was written before: an OR of the parts, no bound an index can use."""
    clauses = []
    for i, (column, value, desc) in enumerate(parts):
        equal = [c == v for c, v, _d in parts[:i]]
        clauses.append(and_(*equal, column < value if desc else column > value))
    return or_(*clauses)


async def _filtered(conn: Any, query: Any) -> int:
    """Index entries or rows the plan read and then filtered away."""
    compiled = query.compile(conn.sync_connection, compile_kwargs={"literal_binds": True})
    explained = (await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}")).scalar_one()
    nodes = _plan((json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"])
    return sum(int(n.get("Rows Removed by Filter", 0)) + int(n.get("Rows Removed by Index Recheck", 0)) for n in nodes)


async def test_a_deep_page_reads_the_index_from_the_key(pg_database_url: str) -> None:
    engine = create_async_engine(pg_database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_meta.create_all)
            await conn.execute(insert(_items), ROWS)
            await conn.exec_driver_sql("ANALYZE items")
        newest = sorted(ROWS, key=lambda r: (r["created_at"], r["id"]), reverse=True)
        queue = sorted(ROWS, key=lambda r: (-r["rank"], r["created_at"], r["id"]))
        cases = [
            (  # newest first: one direction
                [(_items.c.created_at, True), (_items.c.id, True)],
                newest,
                lambda r: (r["created_at"], r["id"]),
            ),
            (  # a queue: the first part descending, the rest ascending
                [(_items.c.rank, True), (_items.c.created_at, False), (_items.c.id, False)],
                queue,
                lambda r: (r["rank"], r["created_at"], r["id"]),
            ),
        ]
        async with engine.connect() as conn:
            for order, rows, key_of in cases:
                key = key_of(rows[2999])
                parts = [(column, value, desc) for (column, desc), value in zip(order, key, strict=True)]
                filtered = {}
                for label, condition in (("keyset", keyset_after(parts)), ("expanded", _expanded(parts))):
                    query = (
                        select(_items.c.id)
                        .where(condition)
                        .order_by(*(column.desc() if desc else column for column, desc in order))
                        .limit(100)
                    )
                    page = [row.id for row in await conn.execute(query)]
                    assert page == [r["id"] for r in rows[3000:3100]]
                    filtered[label] = await _filtered(conn, query)
                assert filtered["keyset"] < filtered["expanded"] / 2, filtered
                if len({desc for _c, desc in order}) == 1:
                    assert filtered["keyset"] == 0
    finally:
        await engine.dispose()


async def test_one_of_is_one_array_parameter(pg_database_url: str) -> None:
    engine = create_async_engine(pg_database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_meta.create_all)
            await conn.execute(insert(_items), ROWS[:50])
        async with AsyncSession(engine) as session:
            for wanted in (["i-00001", "i-00007", "nope"], [f"i-{n:05d}" for n in range(40)]):
                condition = one_of(session, _items.c.id, wanted)
                assert "ANY" in str(condition.compile(engine.sync_engine))
                found = {row.id for row in await session.execute(select(_items.c.id).where(condition))}
                assert found == {w for w in wanted if w != "nope"}
    finally:
        await engine.dispose()
