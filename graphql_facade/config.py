"""Facade settings from the environment.

Limits per partner tier and for operators (cost, bucket, depth, rates, request timeout,
subscriptions per connection) are read by :class:`graphql_facade.limits.LimitsConfig` from
``MES_FACADE_LIMITS_<TIER>_<FIELD>``; this module holds everything else.

Every knob has a default that works with the local stack. Names are looked up as given
(``MES_FACADE_PORT``); a few also accept the names the local stack or the other processes
use (``MES_FACADE_HTTP_PORT``, ``NATS_URL``, ``REDIS_URL``).

The development tokens and secret (``MES_FACADE_SERVICE_TOKEN``, ``MES_FACADE_OPERATOR_TOKENS`` and
``MES_FACADE_POSITION_SECRET`` unset, or set to those values) are accepted only when the facade binds to loopback
(``MES_FACADE_HOST`` 127.0.0.1, ::1 or localhost) or with ``MES_DEV_MODE=1``; an empty token
setting, and any setting that still holds the secrets template's ``REPLACE_ME``, are refused
at start (:class:`InsecureSettings`). The same rules as the services' (``mes_platform.config``).

Prometheus metrics are served on a port of their own (``MES_FACADE_METRICS_PORT``, 18180 by
default, 0: off; ``MES_FACADE_METRICS_HOST``, the facade's host by default), never on the port
partners call: ``MES_FACADE_METRICS_PORT=public`` serves them there too, for deployments that no
partner reaches.

Optional services: ``MES_FACADE_WEBHOOKS_ADDR`` names the webhooks service (partners' webhook endpoints)
and ``MES_FACADE_ANALYTICS_ADDR`` the analytics service (``partnerAnalytics``, ``flowAnalytics``,
``metalAnalytics`` and the web app's Metal & loss, Analytics and Partners pages); unset, the installation
has none and those fields answer ``WEBHOOKS_NOT_ENABLED`` / ``ANALYTICS_NOT_ENABLED``.
``MES_FACADE_PLANT_TIME_ZONE`` (an IANA name; ``MES_ANALYTICS_TIME_ZONE`` when unset, else UTC) is the
plant's time zone: the analytics pages' windows end at its midnight, where the analytics service's
day and week buckets start.

Operators' bearer tokens carry a role: ``token=CODE:supervisor`` or ``token=CODE:operator``; a token
without one is a supervisor's (tools and dashboards keep the rights they had). People on the floor sign
in instead (``graphql_facade.sessions``): ``MES_FACADE_SESSION_CACHE_TTL_S``, ``MES_FACADE_PUBLIC_ORIGIN``
and ``MES_FACADE_SESSION_COOKIE_SECURE`` tune it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from graphql_facade.env_values import non_negative_number
from mes_kernel.settings import FALSE, TRUE, InsecureSettings, dev_refusal, is_loopback, refuse_placeholder

__all__ = [
    "DEFAULT_METRICS_PORT",
    "DEFAULT_OPERATOR_CODE",
    "DEFAULT_OPERATOR_TOKEN",
    "DEFAULT_POSITION_SECRET",
    "DEFAULT_SERVICE_TOKEN",
    "FacadeSettings",
    "InsecureSettings",
    "parse_operator_token_roles",
    "parse_operator_tokens",
]

#: Token the services accept when started without MES_AUTH_TOKENS (local development only).
DEFAULT_SERVICE_TOKEN = "mes-dev-token"
#: Operator token accepted when MES_FACADE_OPERATOR_TOKENS is not set (local development only).
DEFAULT_OPERATOR_TOKEN = "mes-dev-operator"
#: The operator the development token stands for (the supervisor of the demo data).
DEFAULT_OPERATOR_CODE = "SUP-01"
#: Port of the facade's ``/metrics`` listener (away from the facade's 8180, the local stack's ports
#: and Prometheus' own 9090).
DEFAULT_METRICS_PORT = 18180
#: ``MES_FACADE_METRICS_PORT`` value that serves ``/metrics`` on the public port instead.
METRICS_ON_PUBLIC_PORT = "public"
#: Secret partners' positions are sealed with when MES_FACADE_POSITION_SECRET is not set (local
#: development only; see graphql_facade.positions_sealed).
DEFAULT_POSITION_SECRET = "mes-dev-position-secret"


def _dev_refusal(what: str, host: str) -> str:
    return dev_refusal(what, host, values="tokens", process="facade", host_setting="MES_FACADE_HOST")


_TOKEN_SETTINGS = ("MES_FACADE_SERVICE_TOKEN", "MES_FACADE_OPERATOR_TOKENS", "MES_FACADE_POSITION_SECRET")


def _blank(env: Mapping[str, str], name: str) -> bool:
    return name in env and not env[name].strip()


#: The roles of operators (``OperatorRole`` of the production service, without its prefix).
ROLE_OPERATOR = "OPERATOR"
ROLE_SUPERVISOR = "SUPERVISOR"
#: The role of an operator bearer token that names none (the rights tokens had before roles).
DEFAULT_TOKEN_ROLE = ROLE_SUPERVISOR


def _operator_token_entries(spec: str) -> dict[str, tuple[str, str]]:
    """``"t1=OP-01:operator,t2=SUP-01"`` -> ``{"t1": ("OP-01", "OPERATOR"), "t2": ("SUP-01", "SUPERVISOR")}``."""
    entries: dict[str, tuple[str, str]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        token, sep, operator = item.partition("=")
        code, colon, role = operator.partition(":")
        role = role.strip().upper() if colon else DEFAULT_TOKEN_ROLE
        if not sep or not token.strip() or not code.strip():
            raise ValueError(f"bad MES_FACADE_OPERATOR_TOKENS entry {item!r}: want token=OPERATOR-CODE[:role]")
        if role not in (ROLE_OPERATOR, ROLE_SUPERVISOR):
            raise ValueError(
                f"bad MES_FACADE_OPERATOR_TOKENS entry for {code.strip()!r}: the role is operator or supervisor"
            )
        entries[token.strip()] = (code.strip(), role)
    return entries


def parse_operator_tokens(spec: str) -> dict[str, str]:
    """``"tok1=OP-01,tok2=OP-02:operator"`` -> ``{"tok1": "OP-01", "tok2": "OP-02"}``."""
    return {token: code for token, (code, _) in _operator_token_entries(spec).items()}


def parse_operator_token_roles(spec: str) -> dict[str, str]:
    """``"tok1=OP-01,tok2=OP-02:operator"`` -> ``{"tok1": "SUPERVISOR", "tok2": "OPERATOR"}``."""
    return {token: role for token, (_, role) in _operator_token_entries(spec).items()}


def parse_public_origin(raw: str | None) -> str | None:
    """``MES_FACADE_PUBLIC_ORIGIN``: ``https://mes.example.com[:port]`` -> its normalised form."""
    if raw is None:
        return None
    scheme, sep, rest = raw.strip().partition("://")
    host = rest.rstrip("/")
    if not sep or scheme.lower() not in ("http", "https") or not host or any(c in host for c in "/?#@ "):
        raise ValueError(f"MES_FACADE_PUBLIC_ORIGIN must be scheme://host[:port] (http or https), not {raw!r}")
    return f"{scheme.lower()}://{host.lower()}"


def parse_metrics_port(raw: str | None, public_port: int) -> tuple[int, bool]:
    """``MES_FACADE_METRICS_PORT`` -> (port of the metrics listener, 0: none; served on the public port)."""
    if raw is None:
        return DEFAULT_METRICS_PORT, False
    if raw.lower() == METRICS_ON_PUBLIC_PORT:
        return 0, True
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(
            f"MES_FACADE_METRICS_PORT must be a TCP port (1..65535), 0 (off) or {METRICS_ON_PUBLIC_PORT}, not {raw!r}"
        )
    if port and port == public_port:
        raise ValueError(
            f"MES_FACADE_METRICS_PORT is the facade's own port ({port}):"
            " give the metrics a port of their own, or 0 (off)"
        )
    return port, False


def parse_time_zone(raw: str | None) -> str:
    """``MES_FACADE_PLANT_TIME_ZONE``: an IANA time zone name (``Europe/Rome``); UTC when unset."""
    if raw is None:
        return "UTC"
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"MES_FACADE_PLANT_TIME_ZONE must be an IANA time zone (Europe/Rome), not {raw!r}") from None
    return raw


def parse_networks(spec: str) -> tuple[str, ...]:
    """``MES_FACADE_TRUSTED_PROXIES``: ``"10.0.0.0/8, 192.168.1.7"`` -> normalised networks."""
    networks: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"MES_FACADE_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
    return tuple(networks)


@dataclass(frozen=True)
class FacadeSettings:
    """Every knob of the facade (see ``from_env`` for the environment names)."""

    host: str = "127.0.0.1"
    port: int = 8180
    #: Prometheus ``/metrics`` on a listener of its own (``MES_FACADE_METRICS_HOST``, by default the
    #: facade's host; ``MES_FACADE_METRICS_PORT``, 0: no metrics endpoint). Never on the public port
    #: unless ``MES_FACADE_METRICS_PORT=public`` (``metrics_on_public_port``).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = DEFAULT_METRICS_PORT
    metrics_on_public_port: bool = False
    orders_addr: str = "127.0.0.1:50151"
    inventory_addr: str = "127.0.0.1:50152"
    production_addr: str = "127.0.0.1:50153"
    #: The webhooks service (partners' endpoints); None: the installation has none, and the partners'
    #: webhook fields answer WEBHOOKS_NOT_ENABLED.
    webhooks_addr: str | None = None
    #: The analytics service (the read model of partner, flow and metal analytics); None: the installation
    #: has none, and the analytics fields answer ANALYTICS_NOT_ENABLED.
    analytics_addr: str | None = None
    #: The plant's IANA time zone: the analytics pages' windows end at its midnight.
    plant_time_zone: str = "UTC"
    backend_tls_ca_file: str | None = None
    service_token: str = DEFAULT_SERVICE_TOKEN
    operator_tokens: Mapping[str, str] = field(default_factory=lambda: {DEFAULT_OPERATOR_TOKEN: DEFAULT_OPERATOR_CODE})
    #: The role of each operator token (``token=CODE:operator``); a token missing here is a supervisor's.
    operator_token_roles: Mapping[str, str] = field(default_factory=dict)
    #: How long (seconds) a session cookie's CheckSession answer is kept: the delay of a sign-out or a
    #: disabled account on the other replicas (this replica forgets a session it signs out at once).
    session_cache_ttl_s: float = 5.0
    #: The origin browsers see (``https://mes.example.com``) when a proxy stands in front; None: the
    #: request's own scheme and host. Cookie-authenticated mutations and sockets must come from it.
    public_origin: str | None = None
    #: The session cookie's ``Secure`` attribute: None (auto): unless the request's host is loopback.
    session_cookie_secure: bool | None = None
    #: Partners' stream positions are sealed with it (the same on every replica).
    position_secret: str = DEFAULT_POSITION_SECRET
    redis_url: str | None = None
    nats_url: str | None = None
    backend_timeout_s: float = 5.0
    #: Requests one replica runs at once, all callers (fair admission: graphql_facade.pipeline.admit).
    max_inflight: int = 64
    #: How long a request may wait for its turn before 503 OVERLOADED / 429 TOO_MANY_CONCURRENT_REQUESTS.
    admission_wait_s: float = 5.0
    #: A request refused with 429 keeps its caller's slot this long after the answer.
    refusal_hold_s: float = 0.25
    #: Requests failing authentication allowed per client address and minute (0: no limit).
    unauthenticated_per_minute: int = 120
    #: Proxies whose X-Forwarded-For names the client (addresses or networks); none by default.
    trusted_proxies: tuple[str, ...] = ()
    #: The whole request body must arrive within this many seconds (408 otherwise).
    body_timeout_s: float = 10.0
    #: An HTTP connection idle this long between requests is closed.
    idle_timeout_s: float = 5.0
    cache_enabled: bool = True
    response_cache_ttl_s: float = 60.0
    response_cache_partners: bool = True
    reference_cache_ttl_s: float = 300.0
    api_key_cache_ttl_s: float = 5.0
    #: Keys issued before checksums (``mes_`` + 32 characters) are accepted (during a migration);
    #: off: they are refused like a malformed key, rotate them with ``mesctl partners rotate-key``.
    legacy_api_keys: bool = False
    #: Unknown keys (the orders service answered "not valid") remembered, apart from the good ones.
    api_key_negative_cache_size: int = 10_000
    #: How long an unknown key is remembered: keys are random, a well-formed unknown key does not
    #: become valid later.
    api_key_negative_ttl_s: float = 60.0
    memory_cache_max_entries: int = 20_000
    document_cache_size: int = 1024
    #: Queries run as compiled plans (``graphql_facade.compiled``); off: every query runs on Strawberry.
    compiled_execution: bool = True
    batching: bool = False
    #: ``GET /graphiql`` for operators (graphql_facade.web; never for partners); off: 404.
    graphiql: bool = True
    ws_allowed_origins: tuple[str, ...] = ()
    ws_init_timeout_s: float = 10.0
    #: The largest WebSocket message accepted (UTF-8 bytes); a larger one closes the socket with 4400.
    ws_max_message_bytes: int = 1_000_000
    #: How often (seconds) each open partner WebSocket's API key is re-checked through the key cache; a
    #: revoked key's connections close with 4403 (the safety net for a missed revocation event; 0: off).
    ws_recheck_s: float = 2.0
    max_subscriptions_per_partner: int = 10
    event_replay_buffer: int = 1000
    counters_interval_s: float = 0.25
    stats_window_minutes: int = 480
    #: Each partner's API usage per minute published to JetStream (``graphql_facade.usage``; needs NATS).
    usage_events: bool = True
    #: Minutes of usage events kept while NATS is away; then the oldest minute is dropped.
    usage_buffer_minutes: int = 60
    #: Partners counted per minute and replica; requests of more partners go uncounted (a metric says so).
    usage_max_partners: int = 1000
    shutdown_grace_s: float = 10.0
    log_level: str = "INFO"
    log_json: bool = True
    instance: str = "facade"
    #: The raw environment, for components that read their own keys (the limits layer).
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FacadeSettings:
        env = dict(os.environ if env is None else env)
        for name, value in env.items():
            if name.startswith(("MES_", "REDIS_", "NATS_")):
                refuse_placeholder(name, value)

        def get(*names: str, default: str | None = None) -> str | None:
            for name in names:
                value = env.get(name, "").strip()
                if value:
                    return value
            return default

        def number(name: str, default: float) -> float:
            return non_negative_number(name, get(name), default)

        def integer(*names: str, default: int) -> int:
            raw = get(*names)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise ValueError(f"{names[0]} must be an integer, not {raw!r}") from None

        def flag(name: str, default: bool) -> bool:
            raw = (get(name) or "").lower()
            if not raw:
                return default
            if raw in TRUE:
                return True
            if raw in FALSE:
                return False
            raise ValueError(f"{name} must be 0 or 1, not {raw!r}")

        host = get("MES_FACADE_HOST", "MES_FACADE_HTTP_HOST", default="127.0.0.1") or "127.0.0.1"
        dev_allowed = is_loopback(host) or (get("MES_DEV_MODE") or "").lower() in TRUE
        problems = [
            f"{name} is empty: set it or leave the variable out" for name in _TOKEN_SETTINGS if _blank(env, name)
        ]
        service_token = get("MES_FACADE_SERVICE_TOKEN", default=DEFAULT_SERVICE_TOKEN) or DEFAULT_SERVICE_TOKEN
        position_secret = get("MES_FACADE_POSITION_SECRET", default=DEFAULT_POSITION_SECRET) or DEFAULT_POSITION_SECRET
        tokens_spec = get("MES_FACADE_OPERATOR_TOKENS")
        operator_tokens = (
            parse_operator_tokens(tokens_spec)
            if tokens_spec is not None
            else {DEFAULT_OPERATOR_TOKEN: DEFAULT_OPERATOR_CODE}
        )
        token_roles = parse_operator_token_roles(tokens_spec) if tokens_spec is not None else {}
        cookie_secure = (get("MES_FACADE_SESSION_COOKIE_SECURE") or "auto").lower()
        if cookie_secure not in ("auto", *TRUE, *FALSE):
            raise ValueError(f"MES_FACADE_SESSION_COOKIE_SECURE must be auto, 1 or 0, not {cookie_secure!r}")
        if tokens_spec is not None and not operator_tokens:
            problems.append("MES_FACADE_OPERATOR_TOKENS lists no token")
        if not dev_allowed:
            if "MES_FACADE_SERVICE_TOKEN" not in env:
                problems.append(_dev_refusal("MES_FACADE_SERVICE_TOKEN is not set", host))
            elif service_token == DEFAULT_SERVICE_TOKEN:
                problems.append(_dev_refusal("MES_FACADE_SERVICE_TOKEN holds the development token", host))
            if "MES_FACADE_OPERATOR_TOKENS" not in env:
                problems.append(_dev_refusal("MES_FACADE_OPERATOR_TOKENS is not set", host))
            elif DEFAULT_OPERATOR_TOKEN in operator_tokens:
                problems.append(_dev_refusal("MES_FACADE_OPERATOR_TOKENS holds the development token", host))
            if "MES_FACADE_POSITION_SECRET" not in env:
                problems.append(_dev_refusal("MES_FACADE_POSITION_SECRET is not set", host))
            elif position_secret == DEFAULT_POSITION_SECRET:
                problems.append(_dev_refusal("MES_FACADE_POSITION_SECRET holds the development secret", host))
        if problems:
            raise InsecureSettings("refusing to start: " + "; ".join(dict.fromkeys(problems)))
        ws_max_message_bytes = integer("MES_FACADE_WS_MAX_MESSAGE_BYTES", default=1_000_000)
        if ws_max_message_bytes < 1:
            raise ValueError("MES_FACADE_WS_MAX_MESSAGE_BYTES must be at least 1")
        usage_buffer_minutes = integer("MES_FACADE_USAGE_BUFFER_MINUTES", default=60)
        usage_max_partners = integer("MES_FACADE_USAGE_MAX_PARTNERS", default=1000)
        for knob, count in (
            ("MES_FACADE_USAGE_BUFFER_MINUTES", usage_buffer_minutes),
            ("MES_FACADE_USAGE_MAX_PARTNERS", usage_max_partners),
        ):
            if count < 1:
                raise ValueError(f"{knob} must be at least 1")
        negative_cache_size = integer("MES_FACADE_API_KEY_NEGATIVE_CACHE_SIZE", default=10_000)
        if negative_cache_size < 0:
            raise ValueError("MES_FACADE_API_KEY_NEGATIVE_CACHE_SIZE must not be negative")
        origins = tuple(o.strip() for o in (get("MES_FACADE_WS_ALLOWED_ORIGINS") or "").split(",") if o.strip())
        port = integer("MES_FACADE_PORT", "MES_FACADE_HTTP_PORT", default=8180)
        metrics_port, metrics_on_public_port = parse_metrics_port(get("MES_FACADE_METRICS_PORT"), port)
        return cls(
            host=host,
            port=port,
            metrics_host=get("MES_FACADE_METRICS_HOST", default=host) or host,
            metrics_port=metrics_port,
            metrics_on_public_port=metrics_on_public_port,
            orders_addr=get("MES_ORDERS_ADDR", default="127.0.0.1:50151") or "",
            inventory_addr=get("MES_INVENTORY_ADDR", default="127.0.0.1:50152") or "",
            production_addr=get("MES_PRODUCTION_ADDR", default="127.0.0.1:50153") or "",
            webhooks_addr=get("MES_FACADE_WEBHOOKS_ADDR"),
            analytics_addr=get("MES_FACADE_ANALYTICS_ADDR"),
            plant_time_zone=parse_time_zone(get("MES_FACADE_PLANT_TIME_ZONE", "MES_ANALYTICS_TIME_ZONE")),
            backend_tls_ca_file=get("MES_FACADE_BACKEND_TLS_CA_FILE", "MES_TLS_CA_FILE"),
            service_token=service_token,
            operator_tokens=operator_tokens,
            operator_token_roles=token_roles,
            session_cache_ttl_s=number("MES_FACADE_SESSION_CACHE_TTL_S", 5.0),
            public_origin=parse_public_origin(get("MES_FACADE_PUBLIC_ORIGIN")),
            session_cookie_secure=None if cookie_secure == "auto" else cookie_secure in TRUE,
            position_secret=position_secret,
            redis_url=get("MES_FACADE_REDIS_URL", "REDIS_URL"),
            nats_url=get("MES_FACADE_NATS_URL", "NATS_URL", "MES_NATS_URL"),
            backend_timeout_s=number("MES_FACADE_BACKEND_TIMEOUT_S", 5.0),
            max_inflight=max(1, integer("MES_FACADE_MAX_INFLIGHT", default=64)),
            admission_wait_s=number("MES_FACADE_ADMISSION_WAIT_S", 5.0),
            refusal_hold_s=number("MES_FACADE_REFUSAL_HOLD_S", 0.25),
            unauthenticated_per_minute=integer("MES_FACADE_UNAUTHENTICATED_PER_MINUTE", default=120),
            trusted_proxies=parse_networks(get("MES_FACADE_TRUSTED_PROXIES") or ""),
            body_timeout_s=number("MES_FACADE_BODY_TIMEOUT_S", 10.0),
            idle_timeout_s=number("MES_FACADE_IDLE_TIMEOUT_S", 5.0),
            cache_enabled=flag("MES_FACADE_CACHE", True),
            response_cache_ttl_s=number("MES_FACADE_RESPONSE_CACHE_TTL_S", 60.0),
            response_cache_partners=flag("MES_FACADE_RESPONSE_CACHE_PARTNERS", True),
            reference_cache_ttl_s=number("MES_FACADE_REFERENCE_CACHE_TTL_S", 300.0),
            api_key_cache_ttl_s=number("MES_FACADE_API_KEY_CACHE_TTL_S", 5.0),
            legacy_api_keys=flag("MES_FACADE_LEGACY_API_KEYS", False),
            api_key_negative_cache_size=negative_cache_size,
            api_key_negative_ttl_s=number("MES_FACADE_API_KEY_NEGATIVE_TTL_S", 60.0),
            memory_cache_max_entries=integer("MES_FACADE_MEMORY_CACHE_MAX_ENTRIES", default=20_000),
            document_cache_size=integer("MES_FACADE_DOCUMENT_CACHE_SIZE", default=1024),
            compiled_execution=flag("MES_FACADE_COMPILED", True),
            batching=flag("MES_FACADE_BATCHING", False),
            graphiql=flag("MES_FACADE_GRAPHIQL", True),
            ws_allowed_origins=origins,
            ws_init_timeout_s=number("MES_FACADE_WS_INIT_TIMEOUT_S", 10.0),
            ws_max_message_bytes=ws_max_message_bytes,
            ws_recheck_s=number("MES_FACADE_WS_RECHECK_S", 2.0),
            max_subscriptions_per_partner=integer("MES_FACADE_MAX_SUBSCRIPTIONS_PER_PARTNER", default=10),
            event_replay_buffer=integer("MES_FACADE_EVENT_REPLAY_BUFFER", default=1000),
            counters_interval_s=number("MES_FACADE_COUNTERS_INTERVAL_MS", 250.0) / 1000.0,
            stats_window_minutes=integer("MES_FACADE_STATS_WINDOW_MINUTES", default=480),
            usage_events=flag("MES_FACADE_USAGE_EVENTS", True),
            usage_buffer_minutes=usage_buffer_minutes,
            usage_max_partners=usage_max_partners,
            shutdown_grace_s=number("MES_FACADE_SHUTDOWN_GRACE_S", 10.0),
            log_level=(get("MES_FACADE_LOG_LEVEL", "MES_LOG_LEVEL", default="INFO") or "INFO").upper(),
            log_json=(get("MES_FACADE_LOG_FORMAT", "MES_LOG_FORMAT", default="json") or "json") == "json",
            instance=get("MES_INSTANCE", default="facade") or "facade",
            env=env,
        )
