"""A burst of 1,000 orders on a three-node JetStream cluster (streams at 3 replicas) while nodes die.

The cluster is the one ``mes up --nats-cluster 3`` runs (same command lines); every service
process gets the URLs of the three nodes and ``MES_STREAM_REPLICAS=3``. While the orders flow,
the node leading the ORDERS stream (asked of JetStream, ``$JS.API.STREAM.INFO``) is SIGKILLed and
started again on its store; once it is a current replica of every stream again, a second node
(the ORDERS leader then) is SIGKILLed and left down: two of three nodes keep the quorum.

Afterwards, by the client's ledger, no acknowledged order is lost or duplicated in effect (one
order per request id, one reservation, one work order per line, each status transition once),
and every order reached its expected state (IN_PRODUCTION or ON_HOLD, by the stock the workload
planned) within 60 s of the burst's end: a liveness bound, the target's definition.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mes_platform.provision import SERVICES
from tests._infra.postgres import PostgresAdmin
from tests.e2e.faults._checker import SETTLED
from tests.e2e.faults._cluster import NatsCluster, leader, replicas, wait_current
from tests.e2e.faults._report import Report
from tests.e2e.faults._run import FaultRun, open_run
from tests.e2e.faults._workload import PARENT

ORDERS = 1_000
#: Every order in its expected state within this many seconds of the burst's end.
SETTLE_BOUND_S = 60.0
STREAM_REPLICAS = 3
#: The cluster's settings for every service process (what ``mes up --nats-cluster 3`` passes).
CLUSTER_ENV = {svc: {"MES_STREAM_REPLICAS": str(STREAM_REPLICAS)} for svc in SERVICES}


@dataclass
class Kills:
    first: str = ""
    rejoined_s: float = -1.0
    second: str = ""
    second_during_burst: bool = False
    notes: list[str] = field(default_factory=list)


async def kill_leader_then_a_second_node(run: FaultRun, cluster: NatsCluster, kills: Kills) -> None:
    await run.wait_progress(0.05)
    kills.first = await leader(run.nats, "ORDERS")
    await cluster.kill(kills.first)
    run.note(f"SIGKILL {kills.first} (ORDERS leader)")
    await asyncio.sleep(1.0)
    await cluster.start([kills.first])
    kills.rejoined_s = await wait_current(run.nats, cluster, kills.first, timeout_s=120.0)
    run.note(f"{kills.first} restarted, current on every stream after {kills.rejoined_s:.1f}s")
    now_leading = await leader(run.nats, "ORDERS")
    kills.second = now_leading if now_leading != kills.first else next(n for n in cluster.names() if n != kills.first)
    kills.second_during_burst = not run.intake_done.is_set()
    await cluster.kill(kills.second)
    what = "ORDERS leader" if kills.second == now_leading else "a follower"
    during = "during the burst" if kills.second_during_burst else "after the burst"
    run.note(f"SIGKILL {kills.second} ({what}, {during}), left down")


async def settled_after_burst(run: FaultRun, *, timeout_s: float) -> float:
    """Seconds from the burst's end until every acknowledged order is IN_PRODUCTION or ON_HOLD
    (polled through the orders service); ``timeout_s`` bounds the wait, not the result."""
    await run.intake_done.wait()
    assert run.intake_ended is not None
    expected = len(run.ledger.acknowledged)
    deadline = run.intake_ended + timeout_s
    while True:
        try:
            counts = await run.clients.orders.count_orders(parent=PARENT, timeout=5)
            by_status = {c.status: c.count for c in counts.counts}
            if sum(by_status.get(s, 0) for s in SETTLED) >= expected:
                return time.monotonic() - run.intake_ended
        except Exception:  # the orders service briefly unavailable: asked again
            pass
        if time.monotonic() > deadline:
            return float("inf")
        await asyncio.sleep(0.25)


async def test_cluster_survives_the_stream_leader_and_a_second_node_dying(
    postgres_admin: PostgresAdmin,
    fault_cluster: NatsCluster,
    fault_logs: Path,
    fault_report: Callable[[Report], None],
) -> None:
    kills = Kills()

    async def body() -> tuple[Report, dict[str, int], float, str]:
        await fault_cluster.start()
        async with open_run(
            "cluster",
            admin=postgres_admin,
            nats_server=fault_cluster,
            log_dir=fault_logs,
            orders=ORDERS,
            env=CLUSTER_ENV,
        ) as run:
            stream_replicas = await replicas(run.nats)
            settling = asyncio.create_task(settled_after_burst(run, timeout_s=4 * SETTLE_BOUND_S))
            await run.submit_with(lambda r: kill_leader_then_a_second_node(r, fault_cluster, kills), budget_s=240)
            settled_s = await settling
            run.note(f"every order settled {settled_s:.1f}s after the burst's end")
            report = await run.finish(quiesce_timeout_s=240)
            return report, stream_replicas, settled_s, f"{run.stack.logs(8)}\n{fault_cluster.logs(8)}"

    report, stream_replicas, settled_s, logs = await asyncio.wait_for(body(), timeout=600)
    fault_report(report)
    problem = f"{report.explain()}\n{logs}"
    assert stream_replicas == dict.fromkeys(("ORDERS", "INVENTORY", "PRODUCTION"), STREAM_REPLICAS), problem
    assert kills.first and kills.rejoined_s >= 0, f"the ORDERS leader was not killed and restarted: {kills}"
    assert kills.second and kills.second != kills.first, f"no second node was killed: {kills}\n{problem}"
    assert fault_cluster.node(kills.first).kills == 1 and fault_cluster.node(kills.second).kills == 1
    assert not (broken := report.broken(ORDERS)), f"violated: {broken}\n{problem}"
    late = f"orders settled {settled_s:.1f}s after the burst's end (bound {SETTLE_BOUND_S:.0f}s)"
    assert settled_s <= SETTLE_BOUND_S, f"{late}\n{problem}"
