"""gRPC requests -> the commands and queries of the use cases (with the acting principal)."""

from __future__ import annotations

from collections.abc import Iterable

from mes.webhooks.v1 import webhooks_pb2 as pb
from mes_kernel.paging import page_request
from mes_kernel.principal import Principal
from mes_kernel.validation import Violations
from mes_platform.idempotency import request_fingerprint
from services.webhooks.domain.delivery import DeliveryState
from services.webhooks.entrypoints.codec.messages import delivery_state
from services.webhooks.service_layer import commands as c

__all__ = [
    "create_endpoint",
    "delete_endpoint",
    "delivery_states",
    "disable_endpoint",
    "enable_endpoint",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "list_log_entries",
    "replay_deliveries",
    "rotate_secret",
    "update_endpoint",
]

_STATES = {int(delivery_state(s)): s for s in DeliveryState}


def create_endpoint(request: pb.CreateWebhookEndpointRequest, principal: Principal) -> c.CreateEndpoint:
    return c.CreateEndpoint(
        principal=principal,
        parent=request.parent,
        url=request.url,
        description=request.description,
        event_types=tuple(int(t) for t in request.event_types),
        request_id=request.request_id,
        # The scope already names the partner: `parent` ("" or the caller's own) changes nothing.
        fingerprint=request_fingerprint(request, ignore=("request_id", "parent")),
    )


def get_endpoint(request: pb.GetWebhookEndpointRequest, principal: Principal) -> c.GetEndpoint:
    return c.GetEndpoint(principal, request.name)


def list_endpoints(request: pb.ListWebhookEndpointsRequest, principal: Principal) -> c.ListEndpoints:
    return c.ListEndpoints(principal, request.parent, page_request(request))


def update_endpoint(request: pb.UpdateWebhookEndpointRequest, principal: Principal) -> c.UpdateEndpoint:
    return c.UpdateEndpoint(
        principal=principal,
        name=request.name,
        url=request.url if request.HasField("url") else None,
        description=request.description if request.HasField("description") else None,
        event_types=tuple(int(t) for t in request.event_types),
        version=request.version,
    )


def enable_endpoint(request: pb.EnableWebhookEndpointRequest, principal: Principal) -> c.EnableEndpoint:
    return c.EnableEndpoint(principal, request.name)


def disable_endpoint(request: pb.DisableWebhookEndpointRequest, principal: Principal) -> c.DisableEndpoint:
    return c.DisableEndpoint(principal, request.name, request.reason)


def rotate_secret(request: pb.RotateWebhookEndpointSecretRequest, principal: Principal) -> c.RotateSecret:
    return c.RotateSecret(principal, request.name)


def delete_endpoint(request: pb.DeleteWebhookEndpointRequest, principal: Principal) -> c.DeleteEndpoint:
    return c.DeleteEndpoint(principal, request.name)


def list_deliveries(request: pb.ListWebhookDeliveriesRequest, principal: Principal) -> c.ListDeliveries:
    return c.ListDeliveries(principal, request.parent, delivery_states(request.states), page_request(request))


def list_log_entries(request: pb.ListWebhookLogEntriesRequest, principal: Principal) -> c.ListLogEntries:
    return c.ListLogEntries(principal, request.parent, page_request(request))


def replay_deliveries(request: pb.ReplayWebhookDeliveriesRequest, principal: Principal) -> c.ReplayDeliveries:
    return c.ReplayDeliveries(principal, request.parent, tuple(request.names))


def delivery_states(values: Iterable[int]) -> tuple[DeliveryState, ...]:
    """Wire states of a filter; INVALID_ARGUMENT naming each unknown one."""
    v = Violations()
    states = v.members(values, _STATES, "states", "must be PENDING, HELD, DELIVERED or DEAD")
    v.raise_if_any()
    return tuple(states)
