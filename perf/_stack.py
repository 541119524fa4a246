"""The system under test for one bench run, started with the local stack's own parts.

``BenchStack`` picks free loopback ports and a temporary data folder, plans the processes
exactly as ``mes up`` does (``mes_stack.plan``), starts nats-server and the three
services with ``mes_stack.supervisor``, loads the demo data (or, on PostgreSQL, a generated
history of ``perf.datagen`` before the services start), and can add GraphQL
facades (each with its own environment, HTTP port and ``/metrics`` port) and other HTTP
servers. ``aclose`` stops every child by PID (SIGTERM, SIGKILL after the grace period) and
drops the temporary PostgreSQL database when one was created. Server processes can be pinned
to a CPU set (``taskset``).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from mes_stack.database import migrate_services, provision_database
from mes_stack.demo import DemoTargets, load_demo_data, read_partner_keys
from mes_stack.options import SERVICES, StackOptions, port_env_var

try:  # services split into API and worker processes (mes up's default since the intake was isolated)
    from mes_stack.options import worker_port_env_var
except ImportError:  # an older tree: one process per service
    worker_port_env_var = None  # type: ignore[assignment]
from mes_stack.plan import HttpProbe, PortClaim, ProcessSpec, StackPlan, build_plan, repo_root
from mes_stack.supervisor import Supervisor
from mes_stack.up import find_nats_server
from perf.datagen import Options, Summary, load_into

__all__ = ["BenchStack", "HttpServer", "free_ports"]

#: Variables of the caller's shell that would point the stack somewhere else.
_SCRUB = ("DATABASE_URL", "MES_DATABASE_URL", "NATS_URL", "MES_NATS_URL", "MES_DATA_DIR", "REDIS_URL")
_SCRUB_PREFIXES = ("MES_FACADE_", "MES_ORDERS_", "MES_INVENTORY_", "MES_PRODUCTION_", "MES_STACK_")


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


@dataclass(frozen=True)
class HttpServer:
    name: str
    port: int
    pid: int
    #: Where a facade serves Prometheus /metrics (never on ``port``); 0: nowhere.
    metrics_port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def metrics_url(self) -> str:
        assert self.metrics_port, f"{self.name} serves no metrics"
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


def _with_database(admin_url: str, database: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class BenchStack:
    def __init__(
        self,
        workdir: Path,
        *,
        postgres_admin_url: str | None = None,
        server_cpus: str | None = None,
        service_env: Mapping[str, str] | None = None,
        dataset: Options | None = None,
        existing_database: str | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.postgres_admin_url = postgres_admin_url
        self.server_cpus = server_cpus
        self._service_env = dict(service_env or {})
        #: A generated history to load (PostgreSQL only) instead of the demo data.
        self.dataset = dataset
        self.dataset_summary: Summary | None = None
        self.database_url: str | None = None
        #: A database prepared before (e.g. by ``python -m perf.datagen``): used as it is, kept at the end.
        self.existing_database = existing_database
        self._say = say
        self._sup = Supervisor(start_timeout_s=90.0, stop_timeout_s=15.0, say=lambda m: say("  [stack] " + m.strip()))
        self._plan: StackPlan | None = None
        self._facade_template: ProcessSpec | None = None
        self._database: str | None = None
        self.partner_keys: dict[str, str] = {}
        self.token = "mes-dev-token"

    # -- addresses -------------------------------------------------------------------------

    @property
    def plan(self) -> StackPlan:
        assert self._plan is not None, "start() first"
        return self._plan

    def address(self, service: str) -> str:
        return self.plan.addresses[service][0]

    @property
    def nats_url(self) -> str:
        return self.plan.nats_url

    @property
    def database(self) -> str | None:
        """Name of the bench database (PostgreSQL), while it exists."""
        return self._database

    @property
    def database_kind(self) -> str:
        return "PostgreSQL" if self._database else "SQLite"

    def pid(self, name: str) -> int:
        for child in self._sup.children:
            if child.name == name and child.returncode is None:
                return child.pid
        raise KeyError(name)

    def pids(self, names: Sequence[str]) -> list[int]:
        return [self.pid(n) for n in names]

    def process_pids(self, name: str) -> list[int]:
        """The running processes of that name (``analytics-worker``, ``webhooks``...)."""
        return [c.pid for c in self._sup.children if c.name == name and c.returncode is None]

    def service_pids(self, service: str) -> list[int]:
        """The processes of one service: its API process and, when split, its worker."""
        return [c.pid for c in self._sup.children if c.name in (service, f"{service}-worker") and c.returncode is None]

    # -- start and stop --------------------------------------------------------------------

    def _env(self, ports: list[int]) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if k not in _SCRUB and not any(k.startswith(p) for p in _SCRUB_PREFIXES)
        }
        env.update(self._service_env)
        env["MES_STACK_NATS_PORT"], env["MES_STACK_NATS_MONITOR_PORT"] = str(ports[0]), str(ports[1])
        env["MES_FACADE_PORT"] = str(ports[2])
        for svc, port, worker_port in zip(SERVICES, ports[3::2], ports[4::2], strict=True):
            env[port_env_var(svc)] = str(port)
            if worker_port_env_var is not None:  # services split into API and worker processes
                env[worker_port_env_var(svc)] = str(worker_port)
        env["PYTHONPATH"] = os.pathsep.join([str(repo_root()), str(repo_root() / "protos" / "gen")])
        return env

    async def _create_database(self) -> str:
        assert self.postgres_admin_url is not None
        if self.existing_database is not None:
            self._database = self.existing_database
            return _with_database(self.postgres_admin_url, self.existing_database)
        name = "mes_bench_" + secrets.token_hex(4)
        conn = await asyncpg.connect(_plain(self.postgres_admin_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self._database = name
        return _with_database(self.postgres_admin_url, name)

    async def _drop_database(self) -> None:
        if self._database is None or self.postgres_admin_url is None or self.existing_database is not None:
            return
        conn = await asyncpg.connect(_plain(self.postgres_admin_url))
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", self._database
            )
            await conn.execute(f'DROP DATABASE IF EXISTS "{self._database}"')
        finally:
            await conn.close()
        self._database = None

    def _pin(self, spec: ProcessSpec) -> ProcessSpec:
        if not self.server_cpus or shutil.which("taskset") is None:
            return spec
        return dataclasses.replace(spec, argv=("taskset", "-c", self.server_cpus, *spec.argv))

    async def start(self, *, demo: bool = True) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = self._env(free_ports(3 + 2 * len(SERVICES)))
        db_url = await self._create_database() if self.postgres_admin_url else None
        options = StackOptions.resolve(env, data_dir=str(self.data_dir), database_url=db_url)
        self.token = options.token
        plan = build_plan(options, env, python=sys.executable, nats_binary=find_nats_server(), facade_available=True)
        self._plan = plan
        self._facade_template = next(s for s in plan.processes if s.role == "facade")
        self.database_url = db_url
        if db_url is not None and self.dataset is not None:
            self._say(f"  [stack] generating {self.dataset.orders:,} orders into PostgreSQL database {self._database}")
            self.dataset_summary = await load_into(db_url, self.dataset, say=lambda m: self._say("  [stack]" + m))
            self.partner_keys = dict(self.dataset_summary.partner_keys)
        elif db_url is not None and self.existing_database is None:
            self._say(f"  [stack] provisioning and migrating PostgreSQL database {self._database}")
            await provision_database(db_url, options.db_password)
            envs = {svc: next(s.env for s in plan.processes if s.service == svc) for svc in SERVICES}
            await migrate_services(envs, say=lambda m: None)
        await self._sup.start_group([self._pin(s) for s in plan.processes if s.role == "nats"])
        await self._sup.start_group([self._pin(s) for s in plan.processes if s.role == "service"])
        workers = [self._pin(s) for s in plan.processes if s.role == "worker"]
        if workers:  # the services' consumers and relays, in processes of their own
            await self._sup.start_group(workers)
        if demo and self.dataset is None and self.existing_database is None:
            targets = DemoTargets(self.address("orders"), self.address("inventory"), self.address("production"))
            report = await load_demo_data(targets, token=options.token, data_dir=self.data_dir)
            self.partner_keys = dict(report.partner_keys) or read_partner_keys(self.data_dir)
            self._say("  [stack] " + report.summary())

    def facade_spec(self, name: str, env: Mapping[str, str]) -> ProcessSpec:
        """A GraphQL facade on free ports (HTTP and metrics), with ``env`` added to the stack's facade
        environment."""
        assert self._facade_template is not None, "start() first"
        port, metrics_port = free_ports(2)
        full = {**self._facade_template.env, **env}
        full.update(
            {
                "MES_FACADE_PORT": str(port),
                "MES_FACADE_HTTP_PORT": str(port),
                "MES_FACADE_METRICS_HOST": "127.0.0.1",
                "MES_FACADE_METRICS_PORT": str(metrics_port),
                "MES_INSTANCE": name,
            }
        )
        return dataclasses.replace(
            self._facade_template,
            name=name,
            env=full,
            port=port,
            claims=(
                PortClaim("127.0.0.1", port, "MES_FACADE_PORT", name),
                PortClaim("127.0.0.1", metrics_port, "MES_FACADE_METRICS_PORT", f"{name} metrics"),
            ),
            probe=HttpProbe(port, "/healthz"),
            log_path=self.data_dir / "logs" / f"{name}.log",
        )

    async def start_facade(self, name: str, env: Mapping[str, str]) -> HttpServer:
        """One more GraphQL facade on free ports, with ``env`` added to the stack's facade environment."""
        spec = self.facade_spec(name, env)
        await self._sup.start_group([self._pin(spec)])
        return HttpServer(name, spec.port, self.pid(name), int(spec.env["MES_FACADE_METRICS_PORT"]))

    async def start_http(self, name: str, argv: Sequence[str], port: int, health_path: str = "/healthz") -> HttpServer:
        """Any HTTP server process (the baseline), stopped with the facades."""
        assert self._facade_template is not None, "start() first"
        spec = ProcessSpec(
            name=name,
            role="facade",
            argv=tuple(argv),
            env=dict(self._facade_template.env),
            host="127.0.0.1",
            port=port,
            claims=(),
            probe=HttpProbe(port, health_path),
            log_path=self.data_dir / "logs" / f"{name}.log",
        )
        await self._sup.start_group([self._pin(spec)])
        return HttpServer(name, port, self.pid(name))

    async def aclose(self) -> None:
        try:
            await self._sup.stop_all()
        finally:
            await self._drop_database()
