"""Settings of the webhooks service: the shared ``ServiceSettings`` plus its own knobs.

Knobs (environment, ``MES_WEBHOOKS_`` prefix; defaults in brackets):

``DEV_MODE`` [0]                 the development flag (also ``MES_DEV_MODE``): endpoints may use
                                 ``http://`` and private or loopback hosts. Never set in production.
``MAX_IN_FLIGHT`` [64]           deliveries being sent at once, in all
``PER_ENDPOINT`` [4]             ... to one endpoint (1 while it is failing)
``CONNECT_TIMEOUT_S`` [5]        connection (and TLS handshake) to a receiver
``READ_TIMEOUT_S`` [10]          between two reads of the answer
``REQUEST_TIMEOUT_S`` [15]       one whole attempt, resolution included
``RESPONSE_MAX_BYTES`` [65536]   of an answer read at most (then the connection is dropped)
``RETRY_INITIAL_S`` [5]          first back-off; doubled after each failure, +/- 20 % jitter
``RETRY_MAX_S`` [3600]           longest back-off
``RETRY_FOR_S`` [86400]          a delivery is retried at least this long, then it is a dead letter
``DISABLE_AFTER_S`` [259200]     an endpoint whose every delivery failed this long is disabled (3 days)
``SECRET_OVERLAP_S`` [86400]     after a rotation the previous secret signs this long too
``MAX_ENDPOINTS`` [20]           endpoints per partner
``LEASE_S`` [60]                 how long a dispatcher holds a delivery it sends (at least twice
                                 ``REQUEST_TIMEOUT_S``): after a crash, the delivery is sent again then
``POLL_S`` [0.5]                 how often the dispatcher looks for due retries
``RETENTION_DAYS`` [30]          delivered deliveries and log entries are kept this long (pending,
                                 held and dead ones until they are dealt with)
``ORDER_REFS_DAYS`` [365]        the partners' order references are kept this long
``RETENTION_INTERVAL_S`` [3600]  how often the purge runs (the platform's knob of the same name)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, ClassVar

from mes_kernel.settings import TRUE, parse_number
from mes_platform.own_port import OwnPortSettings
from services.webhooks.adapters.http_sender import SenderLimits
from services.webhooks.domain.delivery import RetryPolicy
from services.webhooks.service_layer.commands import WebhookPolicy
from services.webhooks.service_layer.dispatcher import DispatchSettings
from services.webhooks.service_layer.retention import RetentionSettings

__all__ = ["DEFAULT_PORT", "SERVICE", "Settings"]

SERVICE = "webhooks"
DEFAULT_PORT = 50154


def _number(extra: Mapping[str, str], key: str, default: float, *, minimum: float = 0.001) -> float:
    return parse_number(f"MES_WEBHOOKS_{key}", extra.get(key, ""), default, minimum=minimum)


def _knob(default: float, *, minimum: float = 0.001) -> Any:
    """A field of :class:`Settings` read from its knob (the field's name in capitals): its
    default, and the smallest value the knob may set."""
    return field(default=default, metadata={"minimum": minimum})


@dataclass(frozen=True)
class Settings(OwnPortSettings):
    default_port: ClassVar[int] = DEFAULT_PORT

    max_in_flight: int = _knob(64, minimum=1)
    per_endpoint: int = _knob(4, minimum=1)
    connect_timeout_s: float = _knob(5.0)
    read_timeout_s: float = _knob(10.0)
    request_timeout_s: float = _knob(15.0)
    response_max_bytes: int = _knob(64 * 1024, minimum=1)
    retry_initial_s: float = _knob(5.0)
    retry_max_s: float = _knob(3600.0)
    retry_for_s: float = _knob(86400.0)
    disable_after_s: float = _knob(3 * 86400.0)
    secret_overlap_s: float = _knob(86400.0, minimum=0)
    max_endpoints: int = _knob(20, minimum=1)
    lease_s: float = _knob(60.0)
    poll_s: float = _knob(0.5)
    retention_days: float = _knob(30.0)
    order_refs_days: float = _knob(365.0)

    @classmethod
    def own_knobs(cls, extra: Mapping[str, str]) -> dict[str, Any]:
        """Each own field from its knob (the field's name in capitals), the field's default when
        unset; whole numbers stay whole."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if "minimum" in f.metadata:
                default: float = f.default  # type: ignore[assignment]  # every knob has one
                value = _number(extra, f.name.upper(), default, minimum=f.metadata["minimum"])
                values[f.name] = int(value) if isinstance(default, int) else value
        return values

    @property
    def dev_mode(self) -> bool:
        """The development flag: ``MES_WEBHOOKS_DEV_MODE`` or ``MES_DEV_MODE``."""
        return self.knobs.get("DEV_MODE", "").strip().lower() in TRUE

    def policy(self) -> WebhookPolicy:
        return WebhookPolicy(
            allow_insecure=self.dev_mode,
            secret_overlap=timedelta(seconds=self.secret_overlap_s),
            disable_after=timedelta(seconds=self.disable_after_s),
            max_endpoints_per_partner=self.max_endpoints,
            retry=RetryPolicy(
                initial=timedelta(seconds=self.retry_initial_s),
                cap=timedelta(seconds=max(self.retry_max_s, self.retry_initial_s)),
                retry_for=timedelta(seconds=self.retry_for_s),
            ),
        )

    def retention(self) -> RetentionSettings:
        interval = _number(self.knobs, "RETENTION_INTERVAL_S", 3600.0, minimum=1.0)
        return RetentionSettings(
            kept_for=timedelta(days=self.retention_days),
            order_refs_for=timedelta(days=self.order_refs_days),
            interval_s=interval,
        )

    def sender_limits(self) -> SenderLimits:
        return SenderLimits(
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            total_timeout_s=self.request_timeout_s,
            max_response_bytes=self.response_max_bytes,
            connections_per_endpoint=self.per_endpoint,
        )

    def dispatch(self) -> DispatchSettings:
        return DispatchSettings(
            max_in_flight=self.max_in_flight,
            per_endpoint=self.per_endpoint,
            lease=timedelta(seconds=max(self.lease_s, 2 * self.request_timeout_s)),
            poll_interval_s=self.poll_s,
            stop_timeout_s=self.request_timeout_s,
        )
