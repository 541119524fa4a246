"""The relay killed (SIGKILL) at its named fault points loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from mes_platform.db import Database
from mes_platform.messaging import NatsConnection, OutboxRelay
from tests._infra.nats import NatsServer
from tests.integration.mes_platform.messaging.msg_helpers import (
    DbTarget,
    infra,
    stream_messages,
    unpublished,
    write_events,
)

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = Path(__file__).with_name("relay_proc.py")


async def _run_relay_process(target: DbTarget, nats_url: str, fault: str) -> int:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "protos" / "gen")]),
        "MES_FAULT_POINT": fault,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), target.url, target.schema, nats_url, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    if proc.returncode != -signal.SIGKILL:
        raise AssertionError(f"relay process exited with {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    return proc.returncode


@pytest.mark.parametrize("fault", ["relay.after_commit_before_publish", "relay.after_publish_before_mark"])
async def test_relay_killed_at_fault_point_loses_and_duplicates_nothing(
    fault: str, db: Database, db_target: DbTarget, nats_conn: NatsConnection, server: NatsServer
) -> None:
    ids = await write_events(db, 30)
    await _run_relay_process(db_target, server.url, fault)
    assert await unpublished(db) == 30  # killed before marking anything
    in_stream = [m[1] for m in await stream_messages(nats_conn.js, "ORDERS")]
    if fault == "relay.after_commit_before_publish":
        assert in_stream == []
    else:
        assert in_stream == ids  # published, acknowledged, not marked
    # A new relay (the restarted process) sweeps: every event exactly once in the stream.
    relay = OutboxRelay(db, infra.outbox, nats_conn.js, "orders")
    assert await relay.publish_pending() == 30
    assert await unpublished(db) == 0
    assert [m[1] for m in await stream_messages(nats_conn.js, "ORDERS")] == ids
