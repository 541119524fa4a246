"""`mes up --nats-cluster 3 --postgres-replica` end to end, as the README's scale-out section says:
one command starts a three-node JetStream cluster and a PostgreSQL primary with a streaming replica;
a burst of orders (client ledger) while one NATS node is SIGKILLed loses and duplicates none, every
order reaches its expected state, the supervisor restarts the node and it rejoins; reads go to the
replica and read-your-writes holds; one service restarted with `mes run` serves again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from clients import ClientConfig, MesClients
from mes.orders.v1 import orders_pb2 as ords
from mes_stack.postgres import pg_bindir
from tests._infra.ci import service_unavailable
from tests._infra.ports import free_port
from tests.e2e._stack import RunningStack, eventually, stack_env, start_stack, stop_stack
from tests.e2e.faults._cluster import bindable, cluster_env, free_port_blocks
from tests.e2e.faults._ledger import Ledger, submit_all
from tests.e2e.faults._workload import KIND_HOLD, KIND_OK, PARENT, Workload, patiently, seed
from tests.e2e.test_stack_run_one import start_mes_run

NODES = ("nats-1", "nats-2", "nats-3")
ORDERS = 120
#: Liveness bounds (a loaded 2-core machine), never timings.
SETTLE_BOUND_S = 120.0
REJOIN_BOUND_S = 90.0
#: The stack's start: initdb and pg_basebackup, five migrations, three nodes, ten service processes.
START_BOUND_S = 300.0
SETTLED = (ords.ORDER_STATUS_IN_PRODUCTION, ords.ORDER_STATUS_ON_HOLD)
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> str:
    with _NO_PROXY.open(url, timeout=10) as response:
        return str(response.read().decode())


def _replica_reads(metrics: str, service: str) -> float:
    """``mes_db_replica_reads_total`` of ``service`` on the replica (routes replica and replica_waited)."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("mes_db_replica_reads_total{") and f'service="{service}"' in line:
            route = re.search(r'route="([a-z_]+)"', line)
            if route and route.group(1) in ("replica", "replica_waited"):
                total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def scaleout_dir() -> Iterator[Path]:
    """The stack's data folder in a fresh temporary folder (not under pytest's private one, whose mode
    another test session resets: as root, PostgreSQL runs as its own OS user, who must pass through)."""
    with tempfile.TemporaryDirectory(prefix="mes-scaleout-") as tmp:
        yield Path(tmp) / "var"


async def _burst_killing_a_node(
    stack: RunningStack, clients: MesClients, workload: Workload, kill_after: int
) -> tuple[Ledger, int, int]:
    """Submit the workload (16 callers, a client ledger); SIGKILL nats-2 once ``kill_after`` orders
    are acknowledged. Returns the ledger, the killed PID and the orders acknowledged at the kill."""
    ledger = Ledger()
    burst = asyncio.create_task(submit_all(clients.orders, workload.orders, ledger, budget_s=180))
    while True:
        if len(ledger.acknowledged) >= kill_after or burst.done():
            break
        await asyncio.sleep(0.02)
    victim = next(p for p in stack.state().processes if p.name == "nats-2")
    os.kill(victim.pid, signal.SIGKILL)
    at_kill = len(ledger.acknowledged)
    await burst
    return ledger, victim.pid, at_kill


async def _settled(clients: MesClients, expected: int) -> list[ords.Order]:
    deadline = time.monotonic() + SETTLE_BOUND_S
    while True:
        with_status: list[ords.Order] = []
        with contextlib.suppress(Exception):  # a service reconnecting: asked again
            with_status = [o async for o in clients.orders.iter_orders(parent=PARENT, page_size=100, timeout=30)]
        if len(with_status) >= expected and all(o.status in SETTLED for o in with_status):
            return with_status
        if time.monotonic() > deadline:
            counts = Counter(ords.OrderStatus.Name(o.status) for o in with_status)
            raise AssertionError(f"not every order settled within {SETTLE_BOUND_S:.0f}s: {dict(counts)}")
        await asyncio.sleep(0.5)


async def _replica_connections(replica_url: str) -> set[str]:
    conn = await asyncpg.connect(replica_url, timeout=10)
    try:
        rows = await conn.fetch("SELECT DISTINCT usename FROM pg_stat_activity WHERE usename LIKE 'mes_%'")
        return {str(row["usename"]) for row in rows}
    finally:
        await conn.close()


def test_scaleout_stack_survives_a_nats_node_and_reads_on_the_replica(scaleout_dir: Path) -> None:
    try:
        pg_bindir()
    except Exception as exc:
        service_unavailable(f"PostgreSQL server binaries: {exc}")
    base = stack_env()
    env = {**base, **cluster_env(3, beside=base), "MES_STACK_DEMO_HISTORY_DAYS": "0"}
    avoid = {int(v) for k, v in env.items() if k.endswith("_PORT") and v.isdigit()}
    (pg_port,) = free_port_blocks(1, 2, avoid=avoid)
    env["MES_STACK_POSTGRES_PORT"] = str(pg_port)
    env["MES_ORDERS_METRICS_PORT"] = str(metrics_port := _metrics_port(env, avoid | {pg_port, pg_port + 1}))
    argv = ("--nats-cluster", "3", "--postgres-replica", "--no-demo", "--no-facade")
    stack = start_stack(scaleout_dir, env, *argv, wait_ready=False)
    try:
        deadline = time.monotonic() + START_BOUND_S
        while not stack.ready.wait(0.5):
            if stack.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mes up did not become ready (exit code {stack.proc.poll()}):\n{stack.output}")
        _check(stack, env, pg_port, metrics_port)
    finally:
        stop_stack(stack)


def _metrics_port(env: dict[str, str], avoid: set[int]) -> int:
    """A free port for the orders API's /metrics whose worker twin (as far from it as the worker's
    gRPC port is from the API's, which ``mes up`` derives) is a free port too."""
    shift = int(env["MES_ORDERS_WORKER_PORT"]) - int(env["MES_ORDERS_GRPC_PORT"])
    for _ in range(200):
        port = free_port()
        twin = port + shift
        if 0 < twin <= 65535 and not {port, twin} & avoid and bindable(twin):
            return port
    raise RuntimeError("no free metrics port with a free worker twin")


def _check(stack: RunningStack, env: dict[str, str], pg_port: int, metrics_port: int) -> None:
    state = stack.state()
    names = [p.name for p in state.processes]
    assert names[:5] == ["postgres", "postgres-replica", *NODES], names
    replica_url = f"postgresql://postgres@127.0.0.1:{pg_port + 1}/postgres"
    assert replica_url in stack.output and "(replica)" in stack.output, stack.output
    assert (stack.data_dir / "postgres" / "replica" / "standby.signal").is_file()
    monitor = int(env["MES_STACK_NATS_MONITOR_PORT"])
    config = ClientConfig.from_env(env, stack=False)

    async def scenario() -> tuple[Ledger, int, int, list[ords.Order], Workload]:
        async with MesClients(config) as clients:
            workload = Workload.plan(ORDERS, f"so{os.getpid()}")
            await seed(clients, workload)
            ledger, killed, at_kill = await _burst_killing_a_node(stack, clients, workload, kill_after=ORDERS // 4)
            orders = await _settled(clients, len(ledger.acknowledged))
            return ledger, killed, at_kill, orders, workload

    ledger, killed, at_kill, orders, workload = asyncio.run(scenario())
    assert at_kill < ORDERS, "the node was killed after the burst, not during it"

    # 0 lost, 0 duplicated: every planned request acknowledged once, each reference once in the service.
    assert not ledger.abandoned and not ledger.rejected, (ledger.errors_text(), ledger.abandoned, ledger.rejected)
    assert len(ledger.acknowledged) == ORDERS
    assert all(len(ids) == 1 for ids in ledger.replies.values())
    by_reference = Counter(o.partner_reference for o in orders)
    assert set(by_reference) == set(ledger.acknowledged), "lost or unknown orders"
    assert max(by_reference.values()) == 1, "duplicated orders"
    assert {o.name.removeprefix("orders/") for o in orders} == set(ledger.acknowledged.values())
    planned = workload.by_request()
    for order in orders:
        kind = planned[order.partner_reference].kind
        if kind == KIND_OK:
            assert order.status == ords.ORDER_STATUS_IN_PRODUCTION, (order.name, kind)
        elif kind == KIND_HOLD:
            assert order.status == ords.ORDER_STATUS_ON_HOLD, (order.name, kind)

    # The supervisor restarted the killed node on its ports and store; it is back in the cluster.
    assert "mes: nats-2 (pid" in stack.output and "exited unexpectedly" in stack.output, stack.output
    eventually("nats-2 restarted", lambda: stack.output, lambda out: "mes: nats-2 restarted (pid" in out, 60)
    restarted = next(p for p in stack.state().processes if p.name == "nats-2")
    assert restarted.pid != killed
    eventually(
        "nats-2 back in the cluster",
        lambda: json.loads(_get(f"http://127.0.0.1:{monitor + 1}/jsz"))["meta_cluster"],
        lambda meta: meta["cluster_size"] == 3 and meta.get("leader") in NODES,
        REJOIN_BOUND_S,
    )
    assert stack.proc.poll() is None

    # Reads on the replica: the services hold connections there and the orders API counts replica reads;
    # a write then a read through one client sees the write (read-your-writes by commit position).
    assert {"mes_orders", "mes_inventory", "mes_production"} <= asyncio.run(_replica_connections(replica_url))
    assert _replica_reads(_get(f"http://127.0.0.1:{metrics_port}/metrics"), "orders") > 0

    async def write_then_read() -> tuple[ords.Order, ords.Order]:
        async with MesClients(config) as clients:
            extra = Workload.plan(1, f"ryw{os.getpid()}").orders[0]
            submitted = await clients.orders.submit_order(extra.request())
            return submitted.order, await clients.orders.get_order(submitted.order.name)

    written, read = asyncio.run(write_then_read())
    assert read.name == written.name and read.partner_reference == written.partner_reference

    # One service restarted with the single-process command: `mes run orders:api` takes it over.
    run = start_mes_run(env, "orders:api", "--data-dir", str(stack.data_dir))
    try:
        run.wait_for(f"mes run: orders is ready at {stack.address('orders')}")

        async def served() -> ords.Order:
            async with MesClients(config) as clients:
                return await patiently(lambda: clients.orders.get_order(written.name), timeout_s=60)

        assert asyncio.run(served()).name == written.name
        assert stack.proc.poll() is None and "handed over to `mes run`" in stack.output
        assert stack.interrupt() == 0, stack.output
        assert run.exit_code() == 0, run.output
    finally:
        run.stop()
