"""Options of ``mes up``: command-line arguments first, then the environment, then defaults.

Every knob has an environment variable so tests and scripts can move the stack onto
free ports without touching the command line (see ``KNOBS`` for the list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mes_platform.config import DEFAULT_DEV_TOKEN, DEFAULT_PORTS
from services.webhooks.config import DEFAULT_PORT as WEBHOOKS_PORT

__all__ = [
    "DEFAULT_FACADE_METRICS_PORT",
    "DEFAULT_FACADE_PORT",
    "DEFAULT_NATS_MONITOR_PORT",
    "DEFAULT_NATS_PORT",
    "FACADE_METRICS_PORT_VAR",
    "FACADE_PORT_VAR",
    "KNOBS",
    "SERVICES",
    "SERVICE_PORTS",
    "OptionsError",
    "StackOptions",
    "port_env_var",
    "worker_port_env_var",
]

SERVICES = ("orders", "inventory", "production", "webhooks")
#: Default gRPC port of each service (the webhooks service keeps its own default).
SERVICE_PORTS: Mapping[str, int] = {**DEFAULT_PORTS, "webhooks": WEBHOOKS_PORT}
#: Away from the standard 4222/8222 so a machine's own NATS keeps running.
DEFAULT_NATS_PORT = 14322
DEFAULT_NATS_MONITOR_PORT = 18322
DEFAULT_FACADE_PORT = 8180  # the facade's own default
DEFAULT_FACADE_METRICS_PORT = 18180  # the facade's own default (its /metrics, apart from the public port)
DEFAULT_REPLICA_PORT_STEP = 10
#: A service's worker listens (gRPC health) this far above the service's gRPC port by default.
WORKER_PORT_OFFSET = 1000
DEFAULT_WORKER_NICE = 10
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
    ("MES_STACK_DB_PASSWORD", "(unset)", "password given to the service roles on PostgreSQL (trust auth without)"),
    ("MES_ORDERS_GRPC_PORT", "50151", "orders gRPC port (replica i: port + i * step)"),
    ("MES_INVENTORY_GRPC_PORT", "50152", "inventory gRPC port"),
    ("MES_PRODUCTION_GRPC_PORT", "50153", "production gRPC port"),
    ("MES_WEBHOOKS_GRPC_PORT", str(WEBHOOKS_PORT), "webhooks gRPC port (its worker runs the dispatcher)"),
    ("MES_WEBHOOKS_DEV_MODE", "1", "mes up lets webhooks reach http:// and loopback receivers; 0: production rules"),
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
    ("MES_FACADE_PORT / MES_FACADE_HTTP_PORT", str(DEFAULT_FACADE_PORT), "GraphQL facade HTTP port (if it exists)"),
    (
        FACADE_METRICS_PORT_VAR,
        str(DEFAULT_FACADE_METRICS_PORT),
        "the facade's Prometheus /metrics (not on its HTTP port; 0: off)",
    ),
    ("MES_STACK_HOST", "127.0.0.1", "address every process binds to"),
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
    facade: bool = True
    nats_url: str | None = None
    database_url: str | None = None
    db_password: str | None = None
    host: str = "127.0.0.1"
    nats_port: int = DEFAULT_NATS_PORT
    nats_monitor_port: int = DEFAULT_NATS_MONITOR_PORT
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
        if db_url is not None and not db_url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise OptionsError(
                "--database-url (DATABASE_URL) must be a PostgreSQL URL (postgresql://...),"
                f" not {db_url.split(':')[0]}: leave it unset for SQLite files in the data folder"
            )
        if count > 1 and db_url is None:
            raise OptionsError(
                "--replicas > 1 needs PostgreSQL:"
                " pass --database-url postgresql://USER@HOST:PORT/DB (or set DATABASE_URL)"
            )
        demo_env = (get("MES_STACK_DEMO") or "1").lower() not in _OFF
        service_ports = {svc: _port(env, port_env_var(svc), SERVICE_PORTS[svc]) for svc in SERVICES}
        facade_env = (get("MES_STACK_FACADE") or "1").lower() not in _OFF
        return cls(
            data_dir=data,
            log_dir=logs,
            replicas=count,
            demo=demo_env and not no_demo,
            facade=facade_env and not no_facade,
            nats_url=nats_url or get("NATS_URL", "MES_NATS_URL"),
            database_url=db_url,
            db_password=get("MES_STACK_DB_PASSWORD"),
            host=get("MES_STACK_HOST") or "127.0.0.1",
            nats_port=_port(env, "MES_STACK_NATS_PORT", DEFAULT_NATS_PORT),
            nats_monitor_port=_port(env, "MES_STACK_NATS_MONITOR_PORT", DEFAULT_NATS_MONITOR_PORT),
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
