"""A rolling restart of every service during a burst fails no call and loses nothing.

Each service runs as two API processes and one worker (``ROLE=api``/``worker``) on PostgreSQL
and a private nats-server; orders are submitted at a steady pace and inventory and production
are read beside, through the ``clients`` library over round-robin channels (the way the
facade calls the services, without client-side health checking). Meanwhile every process of
every service is replaced one at a time: the new one starts and takes calls, then the old
one gets SIGTERM -- NOT_SERVING, still accepting calls for its delay, then refusing new calls
while those in flight finish -- and exits 0. A call the stopping server dropped (CANCELLED,
UNAVAILABLE) is retried by the library with its request id; none may reach the caller.
Afterwards the fault suite's checker finds every acknowledged order in its expected state,
once: no loss, no duplicate, reservations and work orders consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from mes_platform.messaging.connection import connect_nats
from mes_platform.provision import SERVICES
from tests._infra.nats import NatsServer
from tests._infra.postgres import PostgresAdmin
from tests.e2e._rolling import Callers, RoleStack
from tests.e2e.faults._checker import check, wait_quiescent
from tests.e2e.faults._jetstream import AckTap
from tests.e2e.faults._ledger import Ledger
from tests.e2e.faults._procs import fresh_database
from tests.e2e.faults._workload import Workload, seed

ORDERS = 400
TIMEOUT_S = 600.0


async def test_a_rolling_restart_of_every_service_fails_no_call(
    postgres_admin: PostgresAdmin, make_nats_server: Callable[..., NatsServer], tmp_path: Path
) -> None:
    notes: list[str] = []
    started = time.monotonic()

    def note(text: str) -> None:
        notes.append(f"{time.monotonic() - started:.1f}s {text}")

    nats_server = make_nats_server()
    stack: RoleStack | None = None
    callers: Callers | None = None
    async with fresh_database(postgres_admin) as (admin_dsn, db_urls):
        try:
            stack = RoleStack(nats_server, db_urls, tmp_path / "logs")
            await stack.start()
            callers = Callers.connect(stack)
            workload = Workload.plan(ORDERS, "rolling")
            await seed(callers, workload)
            note("seeded")
            ledger = Ledger()
            done = asyncio.Event()
            codes: dict[str, list[int | None]] = {}

            async def restart_everything() -> None:
                try:
                    for service in SERVICES:
                        codes[service] = await stack.roll(service, note)
                finally:
                    done.set()

            nats = await connect_nats(nats_server.url, name="rolling-check", initial_timeout_s=10)
            tap = await AckTap.start(nats_server.url)
            try:
                await asyncio.wait_for(
                    asyncio.gather(callers.burst(workload.orders, ledger, done), restart_everything()), TIMEOUT_S
                )
                note(f"burst done: {len(ledger.acknowledged)} acknowledged, {callers.reads} reads")
                quiet = await wait_quiescent(callers, nats, admin_dsn, len(ledger.acknowledged), timeout_s=240)
                report = await check("rolling", callers, ledger, workload, tap, nats, admin_dsn)
            finally:
                await tap.close()
                await nats.close()
            report.faults = notes
            report.submit_codes = callers.counter.of("SubmitOrder")
            problem = f"{report.explain()}\nreads failed: {dict(callers.read_failures)}\n{stack.logs()}"
            attempts = {m: callers.counter.of(m) for m in ("ListLots", "ListWorkOrders", "CountOrders")}
            print(report.line(), f"reads={callers.reads} read attempts={attempts}")  # shown with -s

            assert quiet, f"not quiescent\n{problem}"
            assert codes == {s: [0, 0, 0] for s in SERVICES}, f"exit codes after SIGTERM: {codes}\n{problem}"
            assert ledger.errors_text() == "none", f"submissions failed: {ledger.errors_text()}\n{problem}"
            assert callers.reads > 0 and not callers.read_failures, problem
            assert not (broken := report.broken(ORDERS)), f"violated: {broken}\n{problem}"
        finally:
            if callers is not None:
                with contextlib.suppress(Exception):
                    await callers.close()
            if stack is not None:
                await asyncio.to_thread(stack.shutdown)
