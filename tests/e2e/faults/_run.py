"""One fault run: processes up, stock seeded, orders submitted while a fault script strikes,
then wait for quiescence and check.

A test builds a ``FaultRun`` with ``open_run`` (inside ``async with``), starts its fault
script beside ``run.submit()`` and calls ``run.finish()``, which returns the checker's
``Report``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from clients import ClientConfig, InventoryClient, OrdersClient, ProductionClient
from mes_platform.messaging.connection import NatsConnection, connect_nats
from tests._infra.postgres import PostgresAdmin
from tests.e2e.faults._checker import check, wait_quiescent
from tests.e2e.faults._jetstream import AckTap
from tests.e2e.faults._ledger import Ledger, submit_all
from tests.e2e.faults._procs import SERVICE_TOKEN, FaultStack, NatsEndpoint, fresh_database, supervise
from tests.e2e.faults._report import Report
from tests.e2e.faults._workload import Workload, seed

#: Bounds of a targeted run (~200 orders): intake retries, wait for quiescence, whole test.
#: Generous on purpose -- a run takes 15-25 s on an idle 2-core machine -- so that a busy
#: machine slows the tests down without failing them.
TARGETED_BUDGET_S, TARGETED_QUIESCE_S, TARGETED_TIMEOUT_S = 120.0, 150.0, 330.0

_CHANNEL_OPTIONS = [("grpc.lb_policy_name", "round_robin"), ("grpc.enable_retries", 0)]


class CodeCounter(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Counts the status of every RPC attempt per method (the library's own retries included)."""

    def __init__(self) -> None:
        self.codes: Counter[tuple[str, str]] = Counter()

    async def intercept_unary_unary(
        self, continuation: Callable[..., Awaitable[Any]], client_call_details: Any, request: Any
    ) -> Any:
        call = await continuation(client_call_details, request)
        method = client_call_details.method
        name = (method.decode() if isinstance(method, bytes) else str(method)).rsplit("/", 1)[-1]
        try:
            code = await call.code()
        except asyncio.CancelledError:
            raise
        except Exception:
            code = grpc.StatusCode.UNKNOWN
        self.codes[(name, code.name)] += 1
        return call

    def of(self, method: str) -> str:
        found = sorted((code, n) for (m, code), n in self.codes.items() if m == method)
        return ",".join(f"{code}:{n}" for code, n in found) or "none"


@dataclass
class Clients:
    """The three service clients; each channel spreads calls over every replica (round robin)."""

    orders: OrdersClient
    inventory: InventoryClient
    production: ProductionClient
    channels: list[grpc.aio.Channel]
    counter: CodeCounter

    @classmethod
    def open(cls, stack: FaultStack, *, deadline_s: float = 10.0) -> Clients:
        config = ClientConfig(token=SERVICE_TOKEN, deadline_s=deadline_s)
        counter = CodeCounter()
        channels = {
            s: grpc.aio.insecure_channel(stack.target(s), options=_CHANNEL_OPTIONS, interceptors=[counter])
            for s in stack.processes
        }
        return cls(
            OrdersClient(config, channel=channels["orders"]),
            InventoryClient(config, channel=channels["inventory"]),
            ProductionClient(config, channel=channels["production"]),
            list(channels.values()),
            counter,
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


@dataclass
class FaultRun:
    name: str
    stack: FaultStack
    nats_server: NatsEndpoint
    admin_dsn: str
    clients: Clients
    nats: NatsConnection
    tap: AckTap
    workload: Workload
    ledger: Ledger = field(default_factory=Ledger)
    faults: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    intake_done: asyncio.Event = field(default_factory=asyncio.Event)
    #: ``time.monotonic()`` when the intake (the burst) ended.
    intake_ended: float | None = None

    def note(self, fault: str) -> None:
        self.faults.append(f"{time.monotonic() - self.started:.1f}s {fault}")

    async def submit(self, *, concurrency: int = 16, budget_s: float = 180.0) -> Ledger:
        try:
            return await submit_all(
                self.clients.orders, self.workload.orders, self.ledger, concurrency=concurrency, budget_s=budget_s
            )
        finally:
            self.intake_ended = time.monotonic()
            self.intake_done.set()
            self.note(f"intake done ({len(self.ledger.acknowledged)} acknowledged)")

    async def submit_with(
        self, script: Callable[[FaultRun], Awaitable[None]], *, concurrency: int = 16, budget_s: float = 180.0
    ) -> None:
        """Submit while ``script`` runs; both must finish (the script's errors propagate)."""
        await asyncio.gather(self.submit(concurrency=concurrency, budget_s=budget_s), script(self))

    async def wait_progress(self, fraction: float) -> None:
        """Until ``fraction`` of the planned orders are acknowledged, or the intake is over."""
        target = int(len(self.workload.orders) * fraction)
        while len(self.ledger.acknowledged) < target and not self.intake_done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.intake_done.wait(), timeout=0.01)

    def _deduplicated(self) -> float:
        total = 0.0
        for proc in self.stack.all():
            with contextlib.suppress(OSError, ValueError):
                total += sum(n for (_, outcome), n in proc.consumed().items() if outcome == "duplicate")
        return total

    async def finish(self, *, quiesce_timeout_s: float = 120.0) -> Report:
        quiet = await wait_quiescent(
            self.clients,
            self.nats,
            self.admin_dsn,
            len(self.ledger.acknowledged),
            timeout_s=quiesce_timeout_s,
        )
        self.note("quiescent" if quiet else "NOT quiescent")
        report = await check(self.name, self.clients, self.ledger, self.workload, self.tap, self.nats, self.admin_dsn)
        report.faults = list(self.faults)
        report.submit_codes = self.clients.counter.of("SubmitOrder")
        report.deduplicated = int(await asyncio.to_thread(self._deduplicated))
        if not quiet:
            report.details.insert(0, f"not quiescent within {quiesce_timeout_s:.0f}s")
        report.elapsed_s = time.monotonic() - self.started
        return report


@contextlib.asynccontextmanager
async def open_run(
    name: str,
    *,
    admin: PostgresAdmin,
    nats_server: NatsEndpoint,
    log_dir: Path,
    orders: int,
    replicas: Mapping[str, int] | None = None,
    env: Mapping[str, Mapping[str, str]] | None = None,
    restart_crashed: bool = False,
) -> AsyncIterator[FaultRun]:
    """A fresh database (schemas and roles provisioned), the services, seeded stock, the tap.

    ``restart_crashed``: a supervisor starts again (fault point disarmed) any process that
    dies by itself -- from seeding until the end of the run.
    """
    stack: FaultStack | None = None
    clients: Clients | None = None
    nats: NatsConnection | None = None
    tap: AckTap | None = None
    stop = asyncio.Event()
    supervisor: asyncio.Task[None] | None = None
    notes: list[str] = []
    started = time.monotonic()
    async with fresh_database(admin) as (admin_dsn, db_urls):
        try:
            stack = FaultStack(nats_server, db_urls, log_dir, replicas or {}, env or {})
            await stack.start()
            if restart_crashed:
                supervisor = asyncio.create_task(
                    supervise(stack, stop, lambda text: notes.append(f"{time.monotonic() - started:.1f}s {text}"))
                )
            clients = Clients.open(stack)
            nats = await connect_nats(
                nats_server.url, name=f"fault-{name}", initial_timeout_s=10, reconnect_time_wait_s=0.2
            )
            tap = await AckTap.start(nats_server.url)
            workload = Workload.plan(orders, name)
            await seed(clients, workload)
            notes.append(f"{time.monotonic() - started:.1f}s seeded")
            yield FaultRun(
                name, stack, nats_server, admin_dsn, clients, nats, tap, workload, faults=notes, started=started
            )
        finally:
            stop.set()
            if supervisor is not None:
                with contextlib.suppress(Exception):
                    await supervisor
            for closing in (tap, nats, clients):
                if closing is not None:
                    with contextlib.suppress(Exception):
                        await closing.close()
            if stack is not None:
                await asyncio.to_thread(stack.shutdown)
