"""Client configuration: where the services are, how to authenticate, deadlines and retries.

Where a service is, in this order: the caller's own value (``mesctl --orders-addr``), then
``MES_<SERVICE>_ADDR`` (the address to dial: ``host:port`` or an ``ipv4:a,b`` list; not to be
confused with the service's own ``MES_<SERVICE>_GRPC_PORT``, the port it listens on), then, with
``ClientConfig.from_env()`` reading the process environment, the local stack that ``mes up`` runs
(``$MES_DATA_DIR/stack.json``, else ``./var/stack.json``, while its ``mes up`` is alive), then the
defaults below. ``ClientConfig.address_sources`` says which one gave each address and
``stack_lookup`` what was found of a stack, so that tools can say where they connect
(``mesctl`` prints it on stderr when a default is used: another stack may listen there).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from mes_kernel.processes import pid_alive

__all__ = [
    "DEFAULT_ADDRESSES",
    "DEFAULT_TOKEN",
    "SERVICE_NAMES",
    "SOURCE_DEFAULT",
    "ClientConfig",
    "RetryPolicy",
    "ServiceName",
    "find_stack",
]

ServiceName = Literal["orders", "inventory", "production", "webhooks", "analytics"]
#: The services ``MesClients.health()`` checks (the webhooks and analytics services are optional).
SERVICE_NAMES: tuple[ServiceName, ...] = ("orders", "inventory", "production")

#: Token accepted by services started without ``MES_AUTH_TOKENS`` (local development only).
DEFAULT_TOKEN = "mes-dev-token"
DEFAULT_ADDRESSES: Mapping[ServiceName, str] = {
    "orders": "127.0.0.1:50151",
    "inventory": "127.0.0.1:50152",
    "production": "127.0.0.1:50153",
    "webhooks": "127.0.0.1:50154",
    "analytics": "127.0.0.1:50155",
}
#: ``ClientConfig.address_sources`` value of an address that nothing gave (the default).
SOURCE_DEFAULT = "default"
_ALL_SERVICES: tuple[ServiceName, ...] = ("orders", "inventory", "production", "webhooks", "analytics")
#: The file a running ``mes up`` writes in its data folder (``mes_stack.state``).
_STACK_FILE = "stack.json"
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter, applied to UNAVAILABLE and CANCELLED failures of calls that are
    safe to repeat only (reads, upserts and calls with a ``request_id``: see ``clients._retry``).

    Attempt ``n`` (1-based) that fails waits ``min(max_backoff_s, initial_backoff_s * multiplier ** (n - 1))``
    scaled by a random factor in ``[1 - jitter, 1]`` before the next attempt. All attempts share the
    call's deadline; no attempt starts when the deadline would expire during the back-off.
    """

    max_attempts: int = 4
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff_s < 0 or self.max_backoff_s < 0 or self.multiplier < 1:
            raise ValueError("back-off values must be non-negative and multiplier >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be within [0, 1]")

    def backoff(self, failed_attempt: int, random_unit: float) -> float:
        """Seconds to wait after the ``failed_attempt``-th attempt; ``random_unit`` is uniform in [0, 1)."""
        base = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (failed_attempt - 1))
        return base * (1.0 - self.jitter * random_unit)

    @classmethod
    def disabled(cls) -> RetryPolicy:
        return cls(max_attempts=1)


@dataclass(frozen=True)
class ClientConfig:
    """Addresses, credentials, channel options, deadline and retry policy shared by the service clients.

    Credentials: a partner ``api_key`` (``x-api-key``) replaces the bearer ``token`` when set, since a
    partner's key and a staff token must not be mixed in one call. ``partner`` (``x-mes-partner``) lets a
    service token act for a partner in every call (a call's own ``partner=`` replaces it).

    Channel options (:func:`clients.open_channel`): ``user_agent``, ``max_message_bytes`` (largest
    response accepted), ``keepalive_time_ms``/``keepalive_timeout_ms`` (HTTP/2 pings; None: gRPC's
    default, no pings), ``lb_policy`` (e.g. ``"round_robin"`` over the addresses of an ``ipv4:a,b``
    target; None: gRPC's default, ``pick_first``), ``health_check`` (with ``round_robin`` only: each
    address's ``grpc.health.v1`` status is watched and calls go only to servers reporting SERVING, so
    a server that is stopping -- NOT_SERVING for its ``SHUTDOWN_DELAY_S`` -- gets no new calls),
    TLS (``tls``, ``tls_ca_file``).
    """

    orders_addr: str = DEFAULT_ADDRESSES["orders"]
    inventory_addr: str = DEFAULT_ADDRESSES["inventory"]
    production_addr: str = DEFAULT_ADDRESSES["production"]
    webhooks_addr: str = DEFAULT_ADDRESSES["webhooks"]
    analytics_addr: str = DEFAULT_ADDRESSES["analytics"]
    token: str | None = DEFAULT_TOKEN
    api_key: str | None = None
    partner: str | None = None
    tls: bool = False
    tls_ca_file: str | None = None
    deadline_s: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    user_agent: str = "mes-clients/0.1"
    max_message_bytes: int = _MAX_MESSAGE_BYTES
    keepalive_time_ms: int | None = None
    keepalive_timeout_ms: int | None = None
    lb_policy: str | None = None
    health_check: bool = False
    #: Where each address came from: ``"argument"``, ``"MES_<SERVICE>_ADDR"``, ``"stack <path>"`` or
    #: ``SOURCE_DEFAULT`` (a service missing here was given in the constructor).
    address_sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: What ``from_env`` found of a local stack (``"no stack found at var/stack.json"``...); None: not looked.
    stack_lookup: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.deadline_s <= 0:
            raise ValueError("deadline_s must be greater than zero")
        if self.max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be greater than zero")
        if self.health_check and self.lb_policy != "round_robin":
            raise ValueError("health_check needs lb_policy='round_robin' (pick_first ignores health)")

    @property
    def use_tls(self) -> bool:
        return self.tls or bool(self.tls_ca_file)

    def address(self, service: ServiceName) -> str:
        return {
            "orders": self.orders_addr,
            "inventory": self.inventory_addr,
            "production": self.production_addr,
            "webhooks": self.webhooks_addr,
            "analytics": self.analytics_addr,
        }[service]

    def credentials(self) -> tuple[tuple[str, str], ...]:
        """Call metadata carrying the credentials only (no acting partner)."""
        if self.api_key:
            return (("x-api-key", self.api_key),)
        if self.token:
            return (("authorization", f"Bearer {self.token}"),)
        return ()

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata carrying the credentials and the configured acting partner."""
        if self.partner:
            return (*self.credentials(), ("x-mes-partner", self.partner))
        return self.credentials()

    def channel_options(self) -> list[tuple[str, str | int]]:
        """The gRPC channel arguments of these settings (TLS aside)."""
        options: list[tuple[str, str | int]] = [
            ("grpc.primary_user_agent", self.user_agent),
            ("grpc.max_receive_message_length", self.max_message_bytes),
        ]
        if self.keepalive_time_ms is not None:
            options.append(("grpc.keepalive_time_ms", self.keepalive_time_ms))
        if self.keepalive_timeout_ms is not None:
            options.append(("grpc.keepalive_timeout_ms", self.keepalive_timeout_ms))
        if self.lb_policy:
            options.append(("grpc.lb_policy_name", self.lb_policy))
        if self.health_check:
            options.append(("grpc.service_config", json.dumps({"healthCheckConfig": {"serviceName": ""}})))
        return options

    def with_changes(self, **changes: Any) -> ClientConfig:
        """A copy with some fields replaced; ``None`` values are ignored (handy for CLI overrides).
        A replaced address counts as given by an ``"argument"`` in ``address_sources``."""
        given = {k: v for k, v in changes.items() if v is not None}
        sources = dict(self.address_sources)
        for service in _ALL_SERVICES:
            if f"{service}_addr" in given:
                sources[service] = "argument"
        return replace(self, **given, address_sources=sources)

    def defaulted(self) -> dict[str, str]:
        """service -> address of the addresses nothing gave (the defaults)."""
        return {svc: self.address(svc) for svc in _ALL_SERVICES if self.address_sources.get(svc) == SOURCE_DEFAULT}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, stack: bool | None = None) -> ClientConfig:
        """Read ``MES_ORDERS_ADDR``, ``MES_INVENTORY_ADDR``, ``MES_PRODUCTION_ADDR``, ``MES_WEBHOOKS_ADDR``,
        ``MES_ANALYTICS_ADDR``, ``MES_TOKEN``, ``MES_API_KEY``, ``MES_PARTNER``, ``MES_TLS_CA_FILE``,
        ``MES_TLS`` (0/1) and ``MES_DEADLINE_S``. An address missing there comes from the running local
        stack when ``stack`` (default: only when ``env`` is the process environment), else the default."""
        stack = env is None if stack is None else stack
        env = os.environ if env is None else env

        def get(key: str) -> str | None:
            value = env.get(key, "").strip()
            return value or None

        tls_raw = (get("MES_TLS") or "").lower()
        if tls_raw not in _TRUE | _FALSE:
            raise ValueError(f"MES_TLS must be 0 or 1, not {tls_raw!r}")
        deadline_raw = get("MES_DEADLINE_S") or "10"
        try:
            deadline = float(deadline_raw)
        except ValueError:
            raise ValueError(f"MES_DEADLINE_S must be a number of seconds, not {deadline_raw!r}") from None
        addresses: dict[str, str] = {}
        sources: dict[str, str] = {}
        missing = [svc for svc in _ALL_SERVICES if not get(f"MES_{svc.upper()}_ADDR")]
        found: Mapping[str, str] = {}
        lookup: str | None = None
        if stack and missing:
            found, lookup = find_stack(env)
        for svc in _ALL_SERVICES:
            var = f"MES_{svc.upper()}_ADDR"
            if get(var):
                addresses[svc], sources[svc] = str(get(var)), var
            elif svc in found:
                addresses[svc], sources[svc] = found[svc], str(lookup)
            else:
                addresses[svc], sources[svc] = DEFAULT_ADDRESSES[svc], SOURCE_DEFAULT
        return cls(
            orders_addr=addresses["orders"],
            inventory_addr=addresses["inventory"],
            production_addr=addresses["production"],
            webhooks_addr=addresses["webhooks"],
            analytics_addr=addresses["analytics"],
            address_sources=sources,
            stack_lookup=lookup,
            token=get("MES_TOKEN") or DEFAULT_TOKEN,
            api_key=get("MES_API_KEY"),
            partner=get("MES_PARTNER"),
            tls=tls_raw in _TRUE,
            tls_ca_file=get("MES_TLS_CA_FILE"),
            deadline_s=deadline,
        )


def _target(addresses: list[Any]) -> str:
    """One address, or a gRPC ``ipv4:`` target listing every replica (as ``mes up`` gives them)."""
    items = [str(a) for a in addresses]
    return items[0] if len(items) == 1 else "ipv4:" + ",".join(items)


def find_stack(env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """The service addresses of the running local stack (``$MES_DATA_DIR/stack.json``, else
    ``./var/stack.json``) and a phrase saying what was found: ``"stack <path>"`` with addresses, else
    why none (``"no stack found at <path>"``, or a stale file whose ``mes up`` is gone)."""
    folder = Path((env.get("MES_DATA_DIR") or "").strip() or "var")
    path = folder / _STACK_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pid = int(data["pid"])
        listed = dict(data["addresses"])
    except FileNotFoundError:
        return {}, f"no stack found at {path}"
    except (OSError, ValueError, KeyError, TypeError):
        return {}, f"no stack found at {path} (unreadable)"
    if not pid_alive(pid):
        return {}, f"no stack found at {path} (its mes up, pid {pid}, is not running)"
    addresses = {str(svc): _target(list(addrs)) for svc, addrs in listed.items() if addrs}
    return addresses, f"stack {path}"
