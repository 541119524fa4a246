"""The outbox relays killed at their named fault points (``MES_FAULT_POINT``), ~200 orders.

Every service's relay is armed (a different hit for each, past the seeding), so each of the
three processes SIGKILLs itself once in the middle of the saga and is started again,
disarmed, by the supervisor:

* ``relay.after_commit_before_publish`` -- rows claimed, nothing published: the restarted
  relay's start-up sweep publishes them; nothing lost.
* ``relay.after_publish_before_mark`` -- JetStream has the batch, ``published_at`` is not
  written: the batch is published again. The streams' duplicate window is cut to 0.5 s so
  that JetStream keeps the copies (the restart takes longer) and the consumers' inboxes
  must absorb them: copies in the streams > 0, yet every effect once.

A relay's hit can come late (its batches are fewer when the machine is slow): the run waits, after
the intake, until every armed process has crashed and serves again before it is checked, so that no
crash falls into the checker's calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from mes_platform.provision import SERVICES
from tests._infra.nats import NatsServer
from tests._infra.postgres import PostgresAdmin
from tests.e2e.faults._jetstream import stream_messages
from tests.e2e.faults._procs import FaultStack
from tests.e2e.faults._report import Report
from tests.e2e.faults._run import TARGETED_BUDGET_S, TARGETED_QUIESCE_S, TARGETED_TIMEOUT_S, open_run
from tests.e2e.faults._tables import outbox_rows

ORDERS = 200
#: Hit of each relay's fault point: past the batches of the seeding, early in the saga.
HITS = {"orders": 5, "inventory": 25, "production": 25}
COMMIT_BEFORE_PUBLISH = "relay.after_commit_before_publish"
PUBLISH_BEFORE_MARK = "relay.after_publish_before_mark"
#: How long after the intake a relay may still reach its hit.
LATE_CRASH_S = 45.0


def armed_env(point: str) -> dict[str, dict[str, str]]:
    env: dict[str, dict[str, str]] = {}
    for service in SERVICES:
        env[service] = {"MES_FAULT_POINT": f"{point}:{HITS[service]}"}
        if point == PUBLISH_BEFORE_MARK:
            env[service][f"MES_{service.upper()}_STREAM_DUPLICATE_WINDOW_S"] = "0.5"
    return env


@pytest.mark.parametrize("point", [COMMIT_BEFORE_PUBLISH, PUBLISH_BEFORE_MARK])
async def test_relay_killed_at_fault_point_loses_and_repeats_nothing(
    point: str,
    postgres_admin: PostgresAdmin,
    fault_nats: NatsServer,
    fault_logs: Path,
    fault_report: Callable[[Report], None],
) -> None:
    name = "relay." + point.split(".", 1)[1]

    async def body() -> tuple[Report, dict[str, int], int, str]:
        async with open_run(
            name,
            admin=postgres_admin,
            nats_server=fault_nats,
            log_dir=fault_logs,
            orders=ORDERS,
            env=armed_env(point),
            restart_crashed=True,
        ) as run:
            await run.submit(budget_s=TARGETED_BUDGET_S)
            await crashed_and_back(run.stack, timeout_s=LATE_CRASH_S)
            report = await run.finish(quiesce_timeout_s=TARGETED_QUIESCE_S)
            crashes = {service: sum(p.kills for p in run.stack.of(service)) for service in SERVICES}
            copies = await stream_messages(run.nats) - await outbox_rows(run.admin_dsn)
            return report, crashes, copies, run.stack.logs(8)

    report, crashes, copies, logs = await asyncio.wait_for(body(), timeout=TARGETED_TIMEOUT_S)
    fault_report(report)
    problem = f"{report.explain()}\ncrashes={crashes} stream copies={copies}\n{logs}"
    assert crashes == {service: 1 for service in SERVICES}, problem
    assert not (broken := report.broken(ORDERS)), f"violated: {broken}\n{problem}"
    if point == PUBLISH_BEFORE_MARK:
        assert copies > 0, f"the republished batches should be in the streams twice\n{problem}"
    else:
        assert copies == 0, problem


async def crashed_and_back(stack: FaultStack, *, timeout_s: float) -> None:
    """Until every service has crashed at its fault point and all its processes serve again
    (at most ``timeout_s``; the caller's assertion names a service that never crashed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if all(sum(p.kills for p in stack.of(service)) >= 1 for service in SERVICES):
            for proc in stack.all():
                if proc.running:
                    await proc.wait_serving()
            if all(proc.running for proc in stack.all()):
                return
        await asyncio.sleep(0.1)
