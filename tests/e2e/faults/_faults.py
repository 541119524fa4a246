"""Fault actions used by the test scripts: SIGKILL a consumer that holds unacknowledged
messages, SIGKILL a relay with a backlog, SIGKILL nats-server and bring it back on its store.

Blocking process calls run in threads so that the submitting callers keep going meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg

from tests._infra.nats import NatsServer
from tests.e2e.faults._jetstream import consumer_state, wait_ack_pending
from tests.e2e.faults._procs import DISARMED, ServiceProcess
from tests.e2e.faults._run import FaultRun


async def kill_consumer_holding(
    run: FaultRun,
    proc: ServiceProcess,
    stream: str,
    consumer: str,
    *,
    restart: bool = True,
    tries: int = 5,
) -> int:
    """SIGKILL ``proc`` at a moment its durable ``consumer`` has unacknowledged messages.

    Success is checked *after* the kill (nobody is left to settle them, so the count can
    only fall by ack-wait expiry): returns how many were unacknowledged then, 0 if no try
    caught any.
    """
    held = 0
    for attempt in range(1, tries + 1):
        await wait_ack_pending(run.nats, stream, consumer, timeout_s=10.0)
        await asyncio.to_thread(proc.kill)
        state = None
        with contextlib.suppress(Exception):
            state = await consumer_state(run.nats, stream, consumer)
        held = state.ack_pending if state is not None else 0
        run.note(f"SIGKILL {proc.label} (try {attempt}): {held} unacked on {consumer}")
        if restart:
            await proc.start(DISARMED)
        if held > 0:
            return held
    return held


async def _unpublished(conn: asyncpg.Connection, service: str) -> int:
    return int(await conn.fetchval(f'SELECT count(*) FROM "{service}".outbox WHERE published_at IS NULL'))


async def kill_relay_with_backlog(run: FaultRun, proc: ServiceProcess, *, timeout_s: float = 10.0) -> int:
    """SIGKILL ``proc`` (its relay with it) while its outbox has unpublished rows; restart it.

    Returns the rows still unpublished right after the kill."""
    conn = await asyncpg.connect(run.admin_dsn, timeout=5)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await _unpublished(conn, proc.service) > 0:
                break
            await asyncio.sleep(0.005)
        await asyncio.to_thread(proc.kill)
        after = await _unpublished(conn, proc.service)
    finally:
        await conn.close()
    run.note(f"SIGKILL {proc.label} (relay): {after} outbox rows unpublished")
    await proc.start(DISARMED)
    return after


async def kill_nats(run: FaultRun, *, down_s: float = 1.5) -> None:
    """SIGKILL nats-server, wait, start it again on the same ports and store."""
    assert isinstance(run.nats_server, NatsServer), "a single nats-server run"
    await asyncio.to_thread(run.nats_server.kill)
    run.note("SIGKILL nats-server")
    await asyncio.sleep(down_s)
    await asyncio.to_thread(run.nats_server.start)
    run.note("nats-server restarted on its store")
