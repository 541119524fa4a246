"""Service settings from the environment.

Every key is looked up first with the service prefix, then without it, so one
environment can configure all services: ``MES_ORDERS_DATABASE_URL`` wins over
``DATABASE_URL`` for the orders service, which wins over ``MES_DATABASE_URL``.

Operational knobs (same lookup; defaults in brackets):

``DATABASE_POOL_SIZE`` [10]
    connections per engine (writer, and the reader when it is another URL) on
    PostgreSQL; as many again may be opened on bursts (``max_overflow`` = pool size).
``METRICS_PORT`` [0 = disabled]
    serve Prometheus text at ``http://<GRPC_HOST>:<port>/metrics`` (``mes up`` only
    passes the per-service ``MES_<SVC>_METRICS_PORT``).
``GRPC_MAX_CONNECTION_AGE_S`` [300; 0 = unlimited]
    the server closes (GOAWAY) client connections older than this (+/- 10 % jitter),
    so clients re-resolve and spread onto new replicas.
``GRPC_MAX_CONNECTION_AGE_GRACE_S`` [30]
    calls in flight on such a connection get this long to finish.
``GRPC_KEEPALIVE_S`` [60; 0 = off]
    the server pings idle clients this often and drops them after 20 s without an
    answer; client pings are accepted down to every 10 s.
``ROLE`` [all]
    what this process runs: ``api`` (the gRPC API; the outbox relay runs in the
    worker, woken over NATS), ``worker`` (consumers, background tasks, retention and the
    outbox relay, with gRPC health on ``GRPC_PORT``) or ``all`` (both, one process).
``SHUTDOWN_DELAY_S`` [5]
    on SIGTERM the process reports NOT_SERVING at once and keeps accepting calls this
    long, so that balancers move away (a worker serves no calls: no delay there).
``SHUTDOWN_GRACE_S`` [10]
    then new calls are refused (UNAVAILABLE) and calls in flight get this long to finish.
``GRPC_REFLECTION`` [1]
    0 leaves the gRPC reflection service out (health stays).

Secrets. Without ``AUTH_TOKENS`` the development token (:data:`DEFAULT_DEV_TOKEN`) is
accepted, without ``PAGE_TOKEN_SECRET`` a development key signs page tokens: only when the
process binds to loopback (``GRPC_HOST`` 127.0.0.1, ::1 or localhost, as under ``mes up``)
or with the development flag ``DEV_MODE`` (``MES_DEV_MODE=1``, never set in production);
elsewhere those values, set or defaulted, are refused at start. A secret set but empty, and
any setting read here that still holds the secrets template's ``REPLACE_ME``, are refused
always (:class:`InsecureSettings`, naming the variable).

``common`` holds the unprefixed ``MES_<NAME>`` values (without ``MES_``, other services'
prefixed keys left out): the fallback of ``extra`` for knobs read by name, such as the
messaging knobs (``MES_CONSUMER_MAX_DELIVER`` for every service,
``MES_INVENTORY_CONSUMER_MAX_DELIVER`` for one).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Self

from mes_kernel.settings import (
    FALSE,
    PLACEHOLDER,
    TRUE,
    InsecureSettings,
    dev_refusal,
    is_loopback,
    parse_number,
    refuse_placeholder,
)
from mes_platform.auth import Principal, parse_tokens

__all__ = [
    "DEFAULT_DEV_TOKEN",
    "DEFAULT_PORTS",
    "DEV_PAGE_TOKEN_SECRET",
    "PLACEHOLDER",
    "ROLES",
    "InsecureSettings",
    "Role",
    "ServiceSettings",
    "is_loopback",
    "normalize_db_url",
]

#: Token accepted when MES_AUTH_TOKENS is not set (loopback or MES_DEV_MODE=1 only).
DEFAULT_DEV_TOKEN = "mes-dev-token"
#: Page-token key used when MES_PAGE_TOKEN_SECRET is not set (loopback or MES_DEV_MODE=1 only).
DEV_PAGE_TOKEN_SECRET = "mes-dev-page-secret"
#: The value of every secret in the Kubernetes secrets template (deploy/k8s/base/secrets.yaml).
#: Default gRPC ports; chosen away from the usual 50051 and from other servers' ports.
DEFAULT_PORTS = {"orders": 50151, "inventory": 50152, "production": 50153}
Role = Literal["all", "api", "worker"]
#: What one process of a service may run (``ROLE``): the API, the workers, or both.
ROLES: tuple[Role, ...] = ("all", "api", "worker")


def normalize_db_url(url: str) -> str:
    """Pick the async driver: postgresql:// -> asyncpg, sqlite:// -> aiosqlite."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _dev_refusal(what: str, host: str) -> str:
    return dev_refusal(what, host, values="values", process="service", host_setting="GRPC_HOST")


def _role(value: str) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise ValueError(f"ROLE must be one of {', '.join(ROLES)}, not {value!r}")


@dataclass(frozen=True)
class ServiceSettings:
    service: str
    grpc_host: str
    grpc_port: int
    database_url: str
    database_read_url: str
    database_schema: str
    nats_url: str | None
    tokens: Mapping[str, Principal]
    page_token_secret: bytes
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    shutdown_grace_s: float = 10.0
    default_deadline_s: float = 30.0
    log_level: str = "INFO"
    log_json: bool = True
    migrate_on_start: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)
    database_pool_size: int = 10
    metrics_port: int = 0
    grpc_max_connection_age_s: float = 300.0
    grpc_max_connection_age_grace_s: float = 30.0
    grpc_keepalive_s: float = 60.0
    common: Mapping[str, str] = field(default_factory=dict)
    role: Role = "all"
    shutdown_delay_s: float = 5.0
    #: Serve gRPC reflection (``GRPC_REFLECTION``, default on).
    grpc_reflection: bool = True

    @property
    def serves_api(self) -> bool:
        """This process serves the service's gRPC API (roles ``api`` and ``all``)."""
        return self.role != "worker"

    @property
    def runs_workers(self) -> bool:
        """This process runs the consumers, background tasks and retention (``worker``, ``all``)."""
        return self.role != "api"

    @classmethod
    def of(cls, base: ServiceSettings) -> Self:
        """These settings for common ones: a service's subclass adds its own knobs, read by
        :meth:`own_knobs` from ``base.extra`` (its ``MES_<SERVICE>_<NAME>`` variables)."""
        if isinstance(base, cls):
            return base
        values = {f.name: getattr(base, f.name) for f in fields(ServiceSettings)}
        return cls(**values, **cls.own_knobs(base.extra))

    @classmethod
    def own_knobs(cls, extra: Mapping[str, str]) -> dict[str, Any]:
        """The subclass's own fields from the service's prefixed variables."""
        return {}

    @property
    def knobs(self) -> Mapping[str, str]:
        """``common`` overlaid with ``extra`` (the service's own values win)."""
        return {**self.common, **self.extra}

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None) -> ServiceSettings:
        env = os.environ if env is None else env
        prefix = f"MES_{service.upper()}_"

        def names(key: str) -> tuple[str, str, str]:
            return (prefix + key, key, "MES_" + key)

        def get(key: str, default: str | None = None) -> str | None:
            for name in names(key):
                value = env.get(name)
                if value:
                    refuse_placeholder(name, value)
                    return value
            return default

        problems: list[str] = []

        def secret(key: str) -> tuple[str, str | None] | None:
            """None: not set; else the variable and its value (None: empty, refused)."""
            for name in names(key):
                value = env.get(name)
                if value is None:
                    continue
                if not value.strip():
                    problems.append(f"{name} is empty: set a secret or leave the variable out")
                    return name, None
                return name, get(key)
            return None

        data_dir = Path(get("DATA_DIR", "var") or "var")
        default_db = f"sqlite:///{data_dir / (service + '.db')}"
        database_url = normalize_db_url(get("DATABASE_URL", default_db) or default_db)
        read_url = normalize_db_url(get("DATABASE_READ_URL", database_url) or database_url)
        grpc_host = get("GRPC_HOST", "127.0.0.1") or "127.0.0.1"
        dev_allowed = is_loopback(grpc_host) or (get("DEV_MODE") or "").strip().lower() in TRUE
        tokens: Mapping[str, Principal] = {}
        tokens = parse_tokens(f"{DEFAULT_DEV_TOKEN}=service:dev")
        found = secret("AUTH_TOKENS")
        if found is None:
            if not dev_allowed:
                problems.append(_dev_refusal("MES_AUTH_TOKENS is not set", grpc_host))
        elif found[1] is not None:
            tokens = parse_tokens(found[1])
            if not tokens:
                problems.append(f"{found[0]} lists no token")
            elif DEFAULT_DEV_TOKEN in tokens and not dev_allowed:
                problems.append(
                    _dev_refusal(f"{found[0]} holds the development token {DEFAULT_DEV_TOKEN!r}", grpc_host)
                )
        page_secret = DEV_PAGE_TOKEN_SECRET
        found = secret("PAGE_TOKEN_SECRET")
        if found is None:
            if not dev_allowed:
                problems.append(_dev_refusal("MES_PAGE_TOKEN_SECRET is not set", grpc_host))
        elif found[1] is not None:
            page_secret = found[1]
            if page_secret == DEV_PAGE_TOKEN_SECRET and not dev_allowed:
                problems.append(_dev_refusal(f"{found[0]} holds the development page-token secret", grpc_host))
        if problems:
            raise InsecureSettings("refusing to start: " + "; ".join(problems))
        reflection = (get("GRPC_REFLECTION", "1") or "1").strip().lower()
        if reflection not in TRUE | FALSE:
            raise ValueError(f"GRPC_REFLECTION must be 0 or 1, not {reflection!r}")
        others = tuple(f"MES_{name.upper()}_" for name in DEFAULT_PORTS if name != service)

        def number(key: str, default: float, *, minimum: float = 0.0) -> float:
            return parse_number(key, get(key) or "", default, minimum=minimum)

        role = _role((get("ROLE", "all") or "all").strip().lower())
        metrics_port = int(number("METRICS_PORT", 0))
        if metrics_port > 65535:
            raise ValueError("METRICS_PORT must be a TCP port (1..65535) or 0")
        return cls(
            service=service,
            grpc_host=grpc_host,
            grpc_port=int(get("GRPC_PORT", str(DEFAULT_PORTS.get(service, 0))) or 0),
            database_url=database_url,
            database_read_url=read_url,
            database_schema=get("DATABASE_SCHEMA", service) or service,
            nats_url=get("NATS_URL"),
            tokens=tokens,
            page_token_secret=page_secret.encode(),
            tls_cert_file=get("TLS_CERT_FILE"),
            tls_key_file=get("TLS_KEY_FILE"),
            shutdown_grace_s=number("SHUTDOWN_GRACE_S", 10.0),
            shutdown_delay_s=number("SHUTDOWN_DELAY_S", 5.0),
            role=role,
            default_deadline_s=float(get("DEFAULT_DEADLINE_S", "30") or 30),
            log_level=(get("LOG_LEVEL", "INFO") or "INFO").upper(),
            log_json=(get("LOG_FORMAT", "json") or "json") == "json",
            migrate_on_start=(get("MIGRATE_ON_START", "1") or "1") not in ("0", "false", "no"),
            extra={k[len(prefix) :]: v for k, v in env.items() if k.startswith(prefix)},
            database_pool_size=int(number("DATABASE_POOL_SIZE", 10, minimum=1)),
            metrics_port=metrics_port,
            grpc_max_connection_age_s=number("GRPC_MAX_CONNECTION_AGE_S", 300.0),
            grpc_max_connection_age_grace_s=number("GRPC_MAX_CONNECTION_AGE_GRACE_S", 30.0),
            grpc_keepalive_s=number("GRPC_KEEPALIVE_S", 60.0),
            grpc_reflection=reflection in TRUE,
            common={
                k[4:]: v
                for k, v in env.items()
                if k.startswith("MES_") and not k.startswith(prefix) and not k.startswith(others)
            },
        )
