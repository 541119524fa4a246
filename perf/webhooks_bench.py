"""Webhook delivery benchmark: event -> receiver latency, deliveries per CPU-second, a hanging receiver.

    python perf/webhooks_bench.py [--rate 50] [--seconds 20] [--burst 2000] [--endpoints 8] [--rounds 2]

Starts a private nats-server and ``python -m services.webhooks`` (one process: API, consumer and
dispatcher; SQLite in a temporary folder, or ``MES_BENCH_POSTGRES_URL``'s server is not used
here), and a receiver on loopback in this process that verifies every signature
(``standardwebhooks``) and answers at once. Order events are published on the ORDERS stream as
the orders service's relay would. Scenarios:

* ``latency``  -- ``--rate`` status changes per second for ``--seconds`` (open loop; each order's
  next change a second after its previous one) to one endpoint: p50/p95/p99 from the publish to
  the receiver, and the service's CPU per delivery;
* ``hang``     -- the same, while another partner's endpoint hangs (answers nothing; the
  attempt is cut after ``REQUEST_TIMEOUT_S``) and gets events at a fifth of the rate: the healthy
  endpoint's percentiles, to compare with ``latency`` (the rounds alternate the two);
* ``burst``    -- ``--burst`` new orders spread over ``--endpoints`` partners published at once:
  deliveries per second (wall) and per CPU-second of the service process (consumer included).

Timing on a shared machine is noisy: compare the alternating rounds, and the CPU figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import nats

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "protos" / "gen")]

from mes.webhooks.v1 import webhooks_pb2 as pb  # noqa: E402
from mes.webhooks.v1 import webhooks_pb2_grpc  # noqa: E402
from perf._stats import percentile, process_cpu_s  # noqa: E402
from tests._infra.nats import NatsServer  # noqa: E402
from tests._infra.ports import free_ports  # noqa: E402
from tests.e2e.faults._procs import ServiceProcess, base_env  # noqa: E402
from tests.integration.webhooks._orders import LIFECYCLE, OrderEvents  # noqa: E402
from tests.integration.webhooks._receiver import Receiver, Route  # noqa: E402

TOKEN = (("authorization", "Bearer bench-svc"),)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Bench:
    process: ServiceProcess
    stub: webhooks_pb2_grpc.WebhooksServiceStub
    events: OrderEvents
    receiver: Receiver
    #: (order id, version) -> time.monotonic() of its publication
    published: dict[tuple[str, int], float]

    async def endpoint(self, partner: str, path: str, **behaviour: object) -> Route:
        request = pb.CreateWebhookEndpointRequest(url=self.receiver.url(path), event_types=[1])
        metadata = (*TOKEN, ("x-mes-partner", partner))
        created = await self.stub.CreateWebhookEndpoint(request, metadata=metadata, timeout=10)
        return self.receiver.route(path, [created.secret], **behaviour)

    async def publish(self, order_id: str, partner: str, step: int) -> None:
        version = step + 1
        self.published[(order_id, version)] = time.monotonic()
        if step == 0:
            await self.events.submitted(order_id, partner, f"PO-{order_id[:8]}")
        else:
            await self.events.changed(order_id, partner, LIFECYCLE[step - 1], LIFECYCLE[step], version)

    def latencies_ms(self, route: Route) -> list[float]:
        found = []
        for delivered in route.processed:
            data = delivered.payload["data"]
            sent = self.published.get((data["orderId"], data["orderVersion"]))
            if sent is not None:
                found.append((delivered.at - sent) * 1000)
        return sorted(found)


async def _paced(bench: Bench, partner: str, rate: float, seconds: float) -> int:
    """``rate`` events/s for ``seconds``: blocks of ``rate`` orders, each order's steps 1 s apart."""
    total = int(rate * seconds)
    per_block = max(1, int(rate))
    schedule: list[tuple[str, int]] = []
    while len(schedule) < total:
        block = [str(uuid.uuid4()) for _ in range(per_block)]
        schedule += [(order_id, step) for step in range(len(LIFECYCLE)) for order_id in block]
    schedule = schedule[:total]
    start = time.monotonic()
    for index, (order_id, step) in enumerate(schedule):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await bench.publish(order_id, partner, step)
    return total


async def _until(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if done() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.05)


async def latency(bench: Bench, args: argparse.Namespace, *, with_hang: bool, round_no: int) -> dict[str, float]:
    route = await bench.endpoint(f"lat-{round_no}-{with_hang}", f"/lat{round_no}{with_hang}")
    tasks = []
    if with_hang:
        await bench.endpoint(f"hang-{round_no}", f"/hang{round_no}", hang=True)
        tasks.append(asyncio.create_task(_paced(bench, f"hang-{round_no}", args.rate / 5, args.seconds)))
    cpu0 = process_cpu_s(bench.process.pid or 0)
    total = await _paced(bench, f"lat-{round_no}-{with_hang}", args.rate, args.seconds)
    await _until(lambda: len(route.processed) >= total, 30)
    cpu = process_cpu_s(bench.process.pid or 0) - cpu0
    for task in tasks:
        await task
    values = bench.latencies_ms(route)
    hang_cpu = " (incl. the hanging endpoint's attempts)" if with_hang else ""
    _say(f"  {'hang   ' if with_hang else 'latency'} round {round_no}: {len(values)}/{total} delivered{hang_cpu}")
    return {
        "delivered": len(values),
        "p50_ms": percentile(values, 50),
        "p95_ms": percentile(values, 95),
        "p99_ms": percentile(values, 99),
        "max_ms": values[-1] if values else 0.0,
        "cpu_ms_per_delivery": 1000 * cpu / max(1, len(values)),
    }


async def burst(bench: Bench, args: argparse.Namespace) -> dict[str, float]:
    routes = [await bench.endpoint(f"burst-{i}", f"/burst{i}") for i in range(args.endpoints)]
    order_ids = [str(uuid.uuid4()) for _ in range(args.burst)]
    cpu0 = process_cpu_s(bench.process.pid or 0)
    start = time.monotonic()
    await asyncio.gather(
        *(bench.publish(order_id, f"burst-{i % args.endpoints}", 0) for i, order_id in enumerate(order_ids))
    )
    published = time.monotonic() - start
    await _until(lambda: sum(len(r.processed) for r in routes) >= args.burst, 300)
    elapsed = time.monotonic() - start
    cpu = process_cpu_s(bench.process.pid or 0) - cpu0
    delivered = sum(len(r.processed) for r in routes)
    return {
        "delivered": delivered,
        "publish_s": published,
        "elapsed_s": elapsed,
        "deliveries_per_s": delivered / elapsed,
        "cpu_s": cpu,
        "deliveries_per_cpu_s": delivered / cpu if cpu else 0.0,
    }


async def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mes-webhooks-bench-"))
    nats_server = NatsServer(store_dir=folder / "nats")
    nats_server.start()
    port, metrics_port = free_ports(2)
    env = base_env()
    env.update(
        {
            "NATS_URL": nats_server.url,
            "MES_AUTH_TOKENS": "bench-svc=service:bench",
            "MES_DATA_DIR": str(folder),
            "MES_DEV_MODE": "1",
            "MES_LOG_LEVEL": "WARNING",
            "MES_WEBHOOKS_GRPC_PORT": str(port),
            "MES_WEBHOOKS_DATABASE_URL": f"sqlite:///{folder / 'webhooks.db'}",
            "MES_WEBHOOKS_REQUEST_TIMEOUT_S": str(args.hang_timeout),
            "MES_WEBHOOKS_READ_TIMEOUT_S": str(args.hang_timeout),
        }
    )
    process = ServiceProcess("webhooks", 0, port, metrics_port, env, folder / "webhooks.log")
    receiver = await Receiver().start()
    connection = await nats.connect(nats_server.url)
    try:
        await process.start()
        async with grpc.aio.insecure_channel(process.address) as channel:
            stub = webhooks_pb2_grpc.WebhooksServiceStub(channel)
            bench = Bench(process, stub, OrderEvents(connection.jetstream()), receiver, {})
            if args.profile_pid_file:
                await asyncio.to_thread(Path(args.profile_pid_file).write_text, str(process.pid))
            results: dict[str, list[dict[str, float]]] = {"latency": [], "hang": []}
            for round_no in range(args.rounds):
                results["latency"].append(await latency(bench, args, with_hang=False, round_no=round_no))
                results["hang"].append(await latency(bench, args, with_hang=True, round_no=round_no))
            burst_result = await burst(bench, args)
        _report(args, results, burst_result)
    finally:
        await connection.close()
        await receiver.close()
        process.terminate()
        nats_server.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            _say(f"kept {folder}")


def _report(
    args: argparse.Namespace, results: dict[str, list[dict[str, float]]], burst_result: dict[str, float]
) -> None:
    print(f"## Webhooks ({args.rate:g} events/s for {args.seconds:g} s per round, SQLite, one service process)\n")
    print("| scenario | round | delivered | p50 ms | p95 ms | p99 ms | max ms | service CPU ms/delivery |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("latency", "hang"):
        for round_no, r in enumerate(results[name]):
            label = "alone" if name == "latency" else "beside a hanging receiver"
            print(
                f"| {label} | {round_no + 1} | {r['delivered']:.0f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} "
                f"| {r['p99_ms']:.0f} | {r['max_ms']:.0f} | {r['cpu_ms_per_delivery']:.2f} |"
            )
    b = burst_result
    print(
        f"\nburst: {b['delivered']:.0f} deliveries to {args.endpoints} endpoints in {b['elapsed_s']:.1f} s "
        f"({b['deliveries_per_s']:.0f}/s wall; published in {b['publish_s']:.1f} s); service CPU {b['cpu_s']:.1f} s "
        f"= {b['deliveries_per_cpu_s']:.0f} deliveries per CPU-second (consumer and dispatcher)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hang-timeout", type=float, default=15.0, help="REQUEST_TIMEOUT_S of the service")
    parser.add_argument("--profile-pid-file", help="write the service's pid here (for py-spy)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, SQLite file)")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
