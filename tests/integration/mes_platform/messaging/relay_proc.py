"""Runs one relay sweep in a separate process (used by the fault-point tests).

Usage: python relay_proc.py DATABASE_URL SCHEMA NATS_URL
"""

from __future__ import annotations

import asyncio
import sys

from mes_platform.db import Database
from mes_platform.messaging import OutboxRelay, connect_nats
from tests.integration.mes_platform.messaging.msg_helpers import infra


async def main(db_url: str, schema: str, nats_url: str) -> None:
    db = Database(db_url, schema=schema, pool_size=2)
    conn = await connect_nats(nats_url, name="relay-proc", initial_timeout_s=10)
    try:
        await OutboxRelay(db, infra.outbox, conn.js, "orders", batch_size=50).publish_pending()
    finally:
        await conn.close()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
