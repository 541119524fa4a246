"""Two replicas of every service, hence of every durable consumer, ~200 orders.

Replicas bind the same durable consumer, so JetStream hands each message to one of them;
both pull at once (each has a pull request waiting on every saga consumer) and both apply
events (their ``/metrics``; for the killed replica, read before the kill plus since its
restart). Calls go round robin over the two replicas of each service.
Mid-run one inventory replica is SIGKILLed while the shared consumer holds unacknowledged
messages (they go to the other replica after the ack wait) and started again. Each order
is still processed once in effect: one reservation, one work order per line, each status
transition recorded once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from mes_platform.provision import SERVICES
from tests._infra.nats import NatsServer
from tests._infra.postgres import PostgresAdmin
from tests.e2e.faults._faults import kill_consumer_holding
from tests.e2e.faults._jetstream import wait_pullers
from tests.e2e.faults._procs import ServiceProcess
from tests.e2e.faults._report import Report
from tests.e2e.faults._run import TARGETED_BUDGET_S, TARGETED_QUIESCE_S, TARGETED_TIMEOUT_S, FaultRun, open_run

ORDERS = 200
REPLICAS = 2


def applied_by(proc: ServiceProcess) -> float:
    """Events this replica applied since it (last) started, from its /metrics endpoint."""
    return sum(n for (_, outcome), n in proc.consumed().items() if outcome == "applied")


async def kill_one_inventory_replica(run: FaultRun, held: list[int], before_kill: dict[str, float]) -> None:
    await run.wait_progress(0.4)
    replica = run.stack.of("inventory")[1]
    # Its counters restart with it: what it applied before the kill is read first (the
    # rest of the run may need nothing more from it once it is back).
    before_kill[replica.label] = await asyncio.to_thread(applied_by, replica)
    held.append(await kill_consumer_holding(run, replica, "PRODUCTION", "inventory-production-events"))


async def test_two_replicas_of_each_consumer_apply_each_event_once(
    postgres_admin: PostgresAdmin,
    fault_nats: NatsServer,
    fault_logs: Path,
    fault_report: Callable[[Report], None],
) -> None:
    held: list[int] = []
    before_kill: dict[str, float] = {}

    async def body() -> tuple[Report, dict[str, int], dict[str, float], str]:
        async with open_run(
            "replicas",
            admin=postgres_admin,
            nats_server=fault_nats,
            log_dir=fault_logs,
            orders=ORDERS,
            replicas=dict.fromkeys(SERVICES, REPLICAS),
        ) as run:
            pullers = await wait_pullers(run.nats, REPLICAS)
            await run.submit_with(
                lambda r: kill_one_inventory_replica(r, held, before_kill), budget_s=TARGETED_BUDGET_S
            )
            report = await run.finish(quiesce_timeout_s=TARGETED_QUIESCE_S)
            applied = {
                p.label: before_kill.get(p.label, 0.0) + await asyncio.to_thread(applied_by, p) for p in run.stack.all()
            }
            report.faults.append("events applied per replica: " + ", ".join(f"{k}={v:g}" for k, v in applied.items()))
            return report, pullers, applied, run.stack.logs(8)

    report, pullers, applied, logs = await asyncio.wait_for(body(), timeout=TARGETED_TIMEOUT_S)
    fault_report(report)
    problem = f"{report.explain()}\npull requests waiting per consumer: {pullers}\n{logs}"
    assert all(n >= REPLICAS for n in pullers.values()), f"not every replica pulls\n{problem}"
    assert all(n > 0 for n in applied.values()), f"a replica applied no event: {applied}\n{problem}"
    assert held and held[-1] > 0, f"the replica was not killed holding messages: {held}\n{problem}"
    assert not (broken := report.broken(ORDERS)), f"violated: {broken}\n{problem}"
    assert report.redeliveries > 0, problem
