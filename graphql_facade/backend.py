"""The facade's backend: the services' typed clients (:class:`clients.MesClients`), used directly.

Resolvers, loaders and the authenticator call ``backend.orders`` / ``backend.inventory`` /
``backend.production`` (and ``backend.webhooks`` when ``MES_FACADE_WEBHOOKS_ADDR`` names the webhooks
service, ``backend.analytics`` when ``MES_FACADE_ANALYTICS_ADDR`` names the analytics service) with the
RPC's request message and use the message the client returns (the resource for single-resource calls,
else the response as the service sent it). Calls of the
orders and webhooks services pass ``partner=`` for partners: the client sends it as ``x-mes-partner``
and the service confines the call to that partner (another partner's order or endpoint answers like a
missing one). Failures raise the typed exceptions of :mod:`clients`, which :mod:`graphql_facade.errors`
maps to GraphQL error codes.

:func:`open_backend` configures them for the facade: one channel per service (round-robin over the
addresses of an ``ipv4:a,b`` target, keepalive), the facade's service token, the backend deadline,
retries of idempotent calls on UNAVAILABLE, the request's W3C ``traceparent`` on every call, the
backend call metrics, and optional client interceptors (tests count calls per method with one).
Unit tests give a :class:`clients.MesClients` over fake channels instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import grpc

from clients import ClientConfig, MesClients, RetryPolicy
from graphql_facade.config import FacadeSettings
from graphql_facade.metrics import record_backend_call
from mes_platform.telemetry.tracing import outgoing_metadata

__all__ = ["Backend", "client_config", "open_backend"]

Backend: TypeAlias = MesClients
USER_AGENT = "mes-graphql-facade/0.1"


def client_config(settings: FacadeSettings) -> ClientConfig:
    """Where the services are and how the facade calls them."""
    return ClientConfig(
        orders_addr=settings.orders_addr,
        inventory_addr=settings.inventory_addr,
        production_addr=settings.production_addr,
        token=settings.service_token,
        tls_ca_file=settings.backend_tls_ca_file,
        deadline_s=settings.backend_timeout_s,
        retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.05, max_backoff_s=0.5),
        user_agent=USER_AGENT,
        keepalive_time_ms=60_000,
        keepalive_timeout_ms=20_000,
        lb_policy="round_robin",
    ).with_changes(webhooks_addr=settings.webhooks_addr, analytics_addr=settings.analytics_addr)


def open_backend(settings: FacadeSettings, *, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> Backend:
    """The clients the facade calls the services with (opened by ``Facade.start``)."""
    return MesClients(
        client_config(settings),
        interceptors=interceptors,
        extra_metadata=outgoing_metadata,
        observe=record_backend_call,
    )
