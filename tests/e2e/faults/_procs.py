"""Real service processes on loopback for the fault-injection tests.

``FaultStack`` owns a private nats-server (SIGKILL-able, store kept), one fresh PostgreSQL
database with a schema and a login role per service (``mes_platform.provision``), and
``python -m services.<svc>`` processes -- optionally several replicas of each -- on free
ports. Processes can be SIGKILLed and started again with the same port and environment;
their output goes to one log file per replica, appended across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from mes_platform.provision import SERVICES, provision, service_url
from tests._infra.child import ChildProcess
from tests._infra.ports import LOOPBACK, free_ports
from tests._infra.postgres import PostgresAdmin, plain_dsn

ROOT = Path(__file__).resolve().parents[3]
SERVICE_TOKEN = "fault-svc-token"
AUTH_TOKENS = f"{SERVICE_TOKEN}=service:faults,fault-op=operator:OP-1"
START_TIMEOUT_S = 60.0

#: Short waits so that redeliveries and retries happen within seconds (knobs of
#: mes_platform/messaging/runtime.py). A killed consumer's messages come back after
#: the 2 s ack wait; a failing handler is retried after 0.2, 0.5, 1, 1... s. The relay is
#: woken by every commit, its poll is only a fallback. Inventory's periodic retry of
#: waiting orders keeps its default (30 s): no lot arrives during these runs.
FAST_MESSAGING = {
    "CONSUMER_ACK_WAIT_S": "2",
    "CONSUMER_MAX_DELIVER": "10",
    "CONSUMER_BACKOFF_S": "0.2,0.5,1",
    "RELAY_POLL_S": "1",
    "RELAY_PUBLISH_TIMEOUT_S": "3",
    "NATS_CONNECT_TIMEOUT_S": "20",
    "NATS_DRAIN_TIMEOUT_S": "2",
}
#: Loopback scrapes must never go through a configured HTTP proxy.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
#: Clears a fault point armed through the environment when a process is started again.
DISARMED = {"MES_FAULT_POINT": ""}
#: Variables of the caller's shell that must not leak into the services.
_DROP_PREFIXES = ("MES_",)
_DROP = {"NATS_URL", "DATABASE_URL", "DATABASE_READ_URL", "REDIS_URL", "LOG_FORMAT", "LOG_LEVEL"}


class NatsEndpoint(Protocol):
    """What the services are given as ``NATS_URL``: a private nats-server, or a cluster (its
    ``url`` then lists every node, comma separated)."""

    @property
    def url(self) -> str: ...


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES) and k not in _DROP}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "protos" / "gen")])
    return env


@dataclass
class ServiceProcess(ChildProcess):
    """One replica of one service: ``python -m services.<service>`` on a fixed port."""

    tail_lines: ClassVar[int] = 40

    service: str
    replica: int
    port: int
    metrics_port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"{self.service}#{self.replica}"

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def spawn(self, extra_env: Mapping[str, str] | None = None) -> None:
        if self.running:
            raise RuntimeError(f"{self.label} is already running")
        log = self._open_log()
        log.write(f"\n=== start {self.starts + 1} of {self.label} ===\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.service}"],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1

    async def wait_serving(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until the health service answers SERVING (database and NATS reachable)."""
        deadline = time.monotonic() + timeout
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.label} exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.aio.AioRpcError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.label} not SERVING within {timeout:.0f}s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    async def start(self, extra_env: Mapping[str, str] | None = None, *, wait: bool = True) -> None:
        self.spawn(extra_env)
        if wait:
            await self.wait_serving()

    def kill(self) -> None:
        """SIGKILL, like ``kill -9``: no shutdown code runs."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.kills += 1
        self.reap()

    def reap(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10.0)
        self._close_log()
        return code

    def terminate(self, timeout: float = 20.0) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.reap()

    def consumed(self) -> dict[tuple[str, str], float]:
        """``mes_events_consumed_total`` of this process since it started: (consumer, outcome) -> n."""
        url = f"http://{LOOPBACK}:{self.metrics_port}/metrics"
        counts: dict[tuple[str, str], float] = {}
        with _NO_PROXY.open(url, timeout=5) as response:
            for family in text_string_to_metric_families(response.read().decode()):
                if family.name != "mes_events_consumed":
                    continue
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        key = (sample.labels["consumer"], sample.labels["outcome"])
                        counts[key] = counts.get(key, 0.0) + sample.value
        return counts


async def provision_database(admin_db_url: str) -> dict[str, str]:
    """Schemas and roles in the database of ``admin_db_url``; returns each service's URL."""
    plain = admin_db_url.replace("postgresql+asyncpg://", "postgresql://")
    await provision(plain)
    return {service: service_url(plain, service) for service in SERVICES}


@contextlib.asynccontextmanager
async def fresh_database(admin: PostgresAdmin) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A new database with the services' schemas and roles: (its admin DSN, each service's URL).
    Dropped at the end: stop what runs on it inside the ``async with``."""
    database = await asyncio.to_thread(admin.create_database)
    try:
        admin_dsn = plain_dsn(admin.url(database, None))
        yield admin_dsn, await provision_database(admin_dsn)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(admin.drop_database, database)


@dataclass
class FaultStack:
    """nats-server (or a cluster) + the three services (``replicas`` processes each) on one database."""

    nats: NatsEndpoint
    db_urls: Mapping[str, str]
    log_dir: Path
    replicas: Mapping[str, int]
    env_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    processes: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in SERVICES:
            count = self.replicas.get(service, 1)
            ports = free_ports(2 * count)
            self.processes[service] = [
                ServiceProcess(
                    service,
                    i,
                    ports[2 * i],
                    ports[2 * i + 1],
                    self.service_env(service, ports[2 * i], ports[2 * i + 1]),
                    self.log_dir / f"{service}-{i}.log",
                )
                for i in range(count)
            ]

    def service_env(self, service: str, port: int, metrics_port: int) -> dict[str, str]:
        prefix = f"MES_{service.upper()}_"
        env = base_env()
        env.update(
            {
                "NATS_URL": self.nats.url,
                "MES_AUTH_TOKENS": AUTH_TOKENS,
                "MES_DATA_DIR": str(self.log_dir),
                "MES_PAGE_TOKEN_SECRET": "fault-page-secret",
                "LOG_FORMAT": "json",
                "MES_LOG_LEVEL": "INFO",
                "MES_SHUTDOWN_GRACE_S": "2",
                prefix + "GRPC_HOST": LOOPBACK,
                prefix + "GRPC_PORT": str(port),
                prefix + "METRICS_PORT": str(metrics_port),
                prefix + "DATABASE_URL": self.db_urls[service],
            }
        )
        env.update({prefix + key: value for key, value in FAST_MESSAGING.items()})
        env.update(self.env_overrides.get(service, {}))
        return env

    def of(self, service: str) -> list[ServiceProcess]:
        return self.processes[service]

    def first(self, service: str) -> ServiceProcess:
        return self.processes[service][0]

    def target(self, service: str) -> str:
        """gRPC target naming every replica (``ipv4:a:p1,a:p2``; use round_robin)."""
        return "ipv4:" + ",".join(p.address for p in self.processes[service])

    async def start(self) -> None:
        """Start replica 0 of each service first (it migrates), then the others."""
        for service in SERVICES:
            await self.first(service).start()
        rest = [p for service in SERVICES for p in self.processes[service][1:]]
        for proc in rest:
            proc.spawn()
        await asyncio.gather(*(p.wait_serving() for p in rest))

    def all(self) -> list[ServiceProcess]:
        return [p for service in SERVICES for p in self.processes[service]]

    def shutdown(self) -> None:
        """SIGTERM to every replica at once, then wait (SIGKILL after a grace period)."""
        for proc in self.all():
            if proc.running:
                assert proc.proc is not None
                proc.proc.send_signal(signal.SIGTERM)
        for proc in self.all():
            proc.terminate()

    def logs(self, lines: int = 15) -> str:
        return "\n".join(f"--- {p.label} ---\n{p.log_tail(lines)}" for p in self.all())


async def supervise(
    stack: FaultStack, stop: asyncio.Event, note: Callable[[str], None], *, poll_s: float = 0.05
) -> None:
    """Until ``stop``: start again, fault point disarmed, every replica that died by itself."""
    while not stop.is_set():
        for proc in stack.all():
            if proc.proc is not None and proc.proc.poll() is not None:
                code = proc.proc.returncode
                await asyncio.to_thread(proc.reap)
                proc.kills += 1
                note(f"{proc.label} died (exit {code}), restarted")
                await proc.start(DISARMED)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_s)
