"""PostgreSQL stopped and started again in the middle of the intake, ~200 orders.

The services run on a private cluster (``PostgresCluster``, synchronous commit on) that is
shut down for a few seconds while orders are being submitted. Callers get UNAVAILABLE --
never INTERNAL or UNKNOWN -- and send the same request again (same request_id) until it
is acknowledged; no acknowledged order is lost, the saga completes, and the processes
survive the outage without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests._infra.nats import NatsServer
from tests._infra.postgres import PostgresCluster
from tests.e2e.faults._report import Report
from tests.e2e.faults._run import TARGETED_BUDGET_S, TARGETED_QUIESCE_S, TARGETED_TIMEOUT_S, FaultRun, open_run

ORDERS = 200
OUTAGE_S = 4.0


async def outage(cluster: PostgresCluster, run: FaultRun) -> None:
    await run.wait_progress(0.3)
    await asyncio.to_thread(cluster.stop)
    run.note("PostgreSQL stopped")
    await asyncio.sleep(OUTAGE_S)
    await asyncio.to_thread(cluster.start)
    run.note("PostgreSQL started")


async def test_database_outage_during_intake_loses_nothing_acknowledged(
    postgres_admin_url: str,  # PostgreSQL is configured here: skipped without it, failed in CI
    make_postgres_cluster: Callable[..., PostgresCluster],
    fault_nats: NatsServer,
    fault_logs: Path,
    fault_report: Callable[[Report], None],
) -> None:
    cluster = make_postgres_cluster(settings={"synchronous_commit": "on"})

    async def body() -> tuple[Report, dict[str, int], dict[str, bool], str]:
        async with open_run(
            "database-outage", admin=cluster.admin(), nats_server=fault_nats, log_dir=fault_logs, orders=ORDERS
        ) as run:
            await run.submit_with(lambda r: outage(cluster, r), budget_s=TARGETED_BUDGET_S)
            report = await run.finish(quiesce_timeout_s=TARGETED_QUIESCE_S)
            survived = {p.label: p.running and p.starts == 1 for p in run.stack.all()}
            codes = {code: n for (method, code), n in run.clients.counter.codes.items() if method == "SubmitOrder"}
            return report, codes, survived, run.stack.logs(8)

    report, codes, survived, logs = await asyncio.wait_for(body(), timeout=TARGETED_TIMEOUT_S)
    fault_report(report)
    problem = f"{report.explain()}\nSubmitOrder attempts: {codes}; processes alive: {survived}\n{logs}"
    assert codes.get("UNAVAILABLE", 0) > 0, f"no caller saw the outage\n{problem}"
    assert codes.get("INTERNAL", 0) == 0 and codes.get("UNKNOWN", 0) == 0, problem
    assert all(survived.values()), problem
    assert not (broken := report.broken(ORDERS)), f"violated: {broken}\n{problem}"
