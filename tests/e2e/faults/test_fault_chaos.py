"""The combined chaos run: 2,000 orders (20,000 with ``MES_SOAK=1``) while processes die.

While the orders flow, the inventory process is SIGKILLed four times at moments its
consumer holds unacknowledged messages (and started again each time), the orders process
-- with its outbox relay -- is SIGKILLed once while its outbox has unpublished rows, and
nats-server is SIGKILLed and started again on its kept store. Afterwards no acknowledged
order is lost or duplicated, no order holds two reservations, every lot's reserved and on-hand
quantities agree with the reservations, and every order is in its expected state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests._infra.nats import NatsServer
from tests._infra.postgres import PostgresAdmin
from tests.e2e.faults._faults import kill_consumer_holding, kill_nats, kill_relay_with_backlog
from tests.e2e.faults._report import Report
from tests.e2e.faults._run import FaultRun, open_run

CI_ORDERS = 2_000
#: The inventory consumer that reserves (requirements computed) and commits (work orders released).
INVENTORY_CONSUMER = ("PRODUCTION", "inventory-production-events")


async def chaos(run: FaultRun, held: list[int]) -> None:
    inventory, orders = run.stack.first("inventory"), run.stack.first("orders")
    await run.wait_progress(0.10)
    held.append(await kill_consumer_holding(run, inventory, *INVENTORY_CONSUMER))
    await run.wait_progress(0.25)
    await kill_relay_with_backlog(run, orders)
    await run.wait_progress(0.40)
    held.append(await kill_consumer_holding(run, inventory, *INVENTORY_CONSUMER))
    await run.wait_progress(0.55)
    await kill_nats(run)
    await run.wait_progress(0.70)
    held.append(await kill_consumer_holding(run, inventory, *INVENTORY_CONSUMER))
    await run.intake_done.wait()
    held.append(await kill_consumer_holding(run, inventory, *INVENTORY_CONSUMER))  # while the backlog drains


async def test_chaos_run_loses_and_duplicates_nothing(
    postgres_admin: PostgresAdmin,
    fault_nats: NatsServer,
    fault_logs: Path,
    fault_report: Callable[[Report], None],
    soak_orders: int,
) -> None:
    count = soak_orders or CI_ORDERS
    scale = max(1.0, count / CI_ORDERS)
    held: list[int] = []

    async def body() -> tuple[Report, str]:
        async with open_run(
            "chaos", admin=postgres_admin, nats_server=fault_nats, log_dir=fault_logs, orders=count
        ) as run:
            await run.submit_with(lambda r: chaos(r, held), concurrency=16, budget_s=240 * scale)
            report = await run.finish(quiesce_timeout_s=300 * scale)
            return report, run.stack.logs(8)

    report, logs = await asyncio.wait_for(body(), timeout=600 * scale)
    fault_report(report)
    problem = f"{report.explain()}\n{logs}"
    assert not (broken := report.broken(count)), f"violated: {broken}\n{problem}"
    assert report.redeliveries > 0, problem
    assert sum(1 for n in held if n > 0) >= 3, f"inventory was not killed holding messages often enough: {held}"
