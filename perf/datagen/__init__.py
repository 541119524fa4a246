"""A generator of realistic histories for the benchmarks: N orders (default 100,000) over 90
days, written straight into the services' own stores (their schemas, through their tables)
with PostgreSQL COPY, consistent with what the services would have written.

    python -m perf.datagen --orders 100000 --postgres postgresql://postgres@127.0.0.1:5432/postgres

creates a database (``--database``, default ``mes_gen_<N>``; ``--replace`` drops an existing
one), provisions and migrates it as ``mes db provision``/``mes db migrate`` do, generates,
loads, analyses, and prints a JSON summary (order and work-order statuses, rows per table,
events, the partners' API keys, timings). See ``perf/README.md`` for what the data holds.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from perf.datagen.database import create_database, plain_url, prepare_schemas
from perf.datagen.generate import GENERATED_TABLES, Options, Summary, generate

__all__ = ["GENERATED_TABLES", "Options", "Summary", "generate", "load", "load_into"]


async def load_into(db_admin_url: str, options: Options, say: Callable[[str], None] = print) -> Summary:
    """Provision and migrate the (empty) database of ``db_admin_url``, then generate into it."""
    await prepare_schemas(db_admin_url)
    conn = await asyncpg.connect(plain_url(db_admin_url))
    try:
        return await generate(conn, options, say)
    finally:
        await conn.close()


async def load(
    admin_url: str, database: str, options: Options, *, replace: bool = False, say: Callable[[str], None] = print
) -> Summary:
    """Create ``database`` on ``admin_url``'s server, then :func:`load_into` it."""
    return await load_into(await create_database(admin_url, database, replace=replace), options, say)
