"""Services split by role, restarted one process at a time while callers keep calling.

``RoleStack`` runs, per service, two ``api`` processes on two of three ports (the third is
the spare a new process starts on) and one ``worker`` process, all on one PostgreSQL
database and a private nats-server (the fault suite's processes, environment and knobs:
``tests/e2e/faults/_procs.py``). ``roll`` replaces a service's processes one at a time the
way a Kubernetes rolling update does: start the new process, wait until it is SERVING and
taking calls, SIGTERM the old one and wait for it to exit.

``Callers`` submit orders at a steady pace and read from inventory and production through
the ``clients`` library over round-robin channels that list all three ports of each
service; every call that fails despite the library's retries is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from prometheus_client.parser import text_string_to_metric_families

from clients import ClientConfig, InventoryClient, MesClientError, OrdersClient, ProductionClient
from mes_platform.provision import SERVICES
from tests._infra.nats import NatsServer
from tests._infra.ports import LOOPBACK, free_ports
from tests.e2e.faults._ledger import Ledger, submit_one
from tests.e2e.faults._procs import SERVICE_TOKEN, FaultStack, ServiceProcess
from tests.e2e.faults._run import Clients, CodeCounter
from tests.e2e.faults._workload import PARENT, PlannedOrder

#: The NOT_SERVING delay of a stopping API process (5 s by default; shorter keeps the test short).
SHUTDOWN_DELAY_S = 2.0
#: A restarted address is tried again within a second (gRPC's default back-off grows to 120 s).
_CHANNEL_OPTIONS = [("grpc.max_reconnect_backoff_ms", 1000), ("grpc.initial_reconnect_backoff_ms", 200)]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class RoleStack:
    """Two API processes (plus a spare port) and one worker per service."""

    nats: NatsServer
    db_urls: Mapping[str, str]
    log_dir: Path
    apis: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    spare: dict[str, int] = field(default_factory=dict)
    ports: dict[str, list[int]] = field(default_factory=dict)
    workers: dict[str, ServiceProcess] = field(default_factory=dict)
    retired: list[ServiceProcess] = field(default_factory=list)
    _serial: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self._faults = FaultStack(self.nats, self.db_urls, self.log_dir, {})
        for service in SERVICES:
            ports = free_ports(3)
            self.ports[service] = ports
            self.apis[service] = [self._process(service, "api", port) for port in ports[:2]]
            self.spare[service] = ports[2]
            self.workers[service] = self._process(service, "worker", free_ports(1)[0])

    def _process(self, service: str, role: str, port: int) -> ServiceProcess:
        serial = next(self._serial)
        metrics_port = free_ports(1)[0]
        prefix = f"MES_{service.upper()}_"
        env = self._faults.service_env(service, port, metrics_port)  # the fault suite's settings and knobs
        env.update({"MES_SHUTDOWN_DELAY_S": str(SHUTDOWN_DELAY_S), prefix + "ROLE": role})
        if role == "worker":
            env[prefix + "MIGRATE_ON_START"] = "0"  # the first API process migrated the schema
        log = self.log_dir / f"{service}-{role}-{serial}.log"
        return ServiceProcess(service, serial, port, metrics_port, env, log)

    def target(self, service: str) -> str:
        """Every port an API process of ``service`` may listen on (one is free at any time)."""
        return "ipv4:" + ",".join(f"{LOOPBACK}:{port}" for port in self.ports[service])

    def running(self) -> list[ServiceProcess]:
        return [p for s in SERVICES for p in (*self.apis[s], self.workers[s])]

    async def start(self) -> None:
        for service in SERVICES:  # the first API process migrates its schema
            await self.apis[service][0].start()
        rest = [p for s in SERVICES for p in (self.apis[s][1], self.workers[s])]
        for proc in rest:
            proc.spawn()
        await asyncio.gather(*(p.wait_serving() for p in rest))

    async def roll(self, service: str, note: Callable[[str], None]) -> list[int | None]:
        """Replace each API process, then the worker, one at a time; the old ones' exit codes."""
        codes: list[int | None] = []
        for slot in range(len(self.apis[service])):
            new = self._process(service, "api", self.spare[service])
            await new.start()
            await served(new)
            old = self.apis[service][slot]
            codes.append(await self._stop(old, note))
            self.apis[service][slot], self.spare[service] = new, old.port
        new_worker = self._process(service, "worker", free_ports(1)[0])
        await new_worker.start()
        old_worker, self.workers[service] = self.workers[service], new_worker
        codes.append(await self._stop(old_worker, note))
        return codes

    async def _stop(self, proc: ServiceProcess, note: Callable[[str], None]) -> int | None:
        assert proc.proc is not None
        started = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.reap, 60.0)
        self.retired.append(proc)
        note(f"SIGTERM {proc.service} {proc.log_path.stem}: exit {code} after {time.monotonic() - started:.1f}s")
        return code

    def shutdown(self) -> None:
        for proc in self.running():
            proc.terminate()

    def logs(self, lines: int = 12) -> str:
        procs = [*self.retired, *self.running()]
        return "\n".join(f"--- {p.log_path.name} ---\n{p.log_tail(lines)}" for p in procs)


def rpc_count(proc: ServiceProcess) -> float:
    """Calls this process has answered (its ``mes_rpc_seconds`` histogram), health checks aside."""
    url = f"http://{LOOPBACK}:{proc.metrics_port}/metrics"
    total = 0.0
    with _NO_PROXY.open(url, timeout=5) as response:
        for family in text_string_to_metric_families(response.read().decode()):
            if family.name == "mes_rpc_seconds":
                total += sum(s.value for s in family.samples if s.name.endswith("_count"))
    return total


async def served(proc: ServiceProcess, timeout_s: float = 60.0) -> None:
    """Until the callers' channels have found the new process (it answered a call)."""
    deadline = time.monotonic() + timeout_s
    while await asyncio.to_thread(rpc_count, proc) < 1:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{proc.log_path.stem} answered no call within {timeout_s:.0f}s")
        await asyncio.sleep(0.2)


@dataclass
class Callers(Clients):
    """The clients of the burst, over round-robin channels listing every port of each service."""

    #: Reads that failed despite the library's retries, by method and code.
    read_failures: Counter[str] = field(default_factory=Counter)
    reads: int = 0

    @classmethod
    def connect(cls, stack: RoleStack) -> Callers:
        config = ClientConfig(token=SERVICE_TOKEN, deadline_s=10.0, lb_policy="round_robin")
        counter = CodeCounter()
        options = [*config.channel_options(), *_CHANNEL_OPTIONS]
        orders, inventory, production = (
            grpc.aio.insecure_channel(stack.target(service), options=options, interceptors=[counter])
            for service in SERVICES
        )
        made = (
            OrdersClient(config, channel=orders),
            InventoryClient(config, channel=inventory),
            ProductionClient(config, channel=production),
        )
        return cls(*made, [orders, inventory, production], counter)

    async def read(self, name: str, call: Callable[[], Awaitable[object]]) -> None:
        self.reads += 1
        try:
            await call()
        except MesClientError as err:
            self.read_failures[f"{name}:{err.code.name}"] += 1

    async def burst(
        self,
        planned: list[PlannedOrder],
        ledger: Ledger,
        done: asyncio.Event,
        *,
        per_second: float = 5.0,
        reads_per_order: int = 3,
    ) -> None:
        """Submit at ``per_second`` while ``done`` is not set (keeping a reserve so the burst
        outlasts it), then the rest at once; beside each submission, ``reads_per_order`` reads
        from each service."""
        queue = list(reversed(planned))
        reserve = min(50, len(planned) // 4)
        calls: set[asyncio.Task[None]] = set()

        def spawn(coro: Awaitable[None]) -> None:
            task = asyncio.ensure_future(coro)
            calls.add(task)
            task.add_done_callback(calls.discard)

        give_up_at = time.monotonic() + 600
        while not done.is_set():
            pause = 1.0 / per_second if len(queue) > reserve else 1.0
            if queue:
                spawn(submit_one(self.orders, queue.pop(), ledger, give_up_at=give_up_at))
            for _ in range(reads_per_order):
                spawn(self.read("ListLots", lambda: self.inventory.list_lots(page_size=5)))
                spawn(self.read("ListWorkOrders", lambda: self.production.list_work_orders(page_size=5)))
                spawn(self.read("CountOrders", lambda: self.orders.count_orders(parent=PARENT)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=pause)
        while queue:
            batch = [queue.pop() for _ in range(min(16, len(queue)))]
            await asyncio.gather(*(submit_one(self.orders, o, ledger, give_up_at=give_up_at) for o in batch))
        while calls:
            await asyncio.gather(*list(calls))
