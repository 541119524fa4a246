"""Typed async client of ``mes.webhooks.v1.WebhooksService``: endpoints, deliveries, the delivery log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeAlias

from clients._base import Rpc, ServiceClient
from clients._methods import by_name
from mes.webhooks.v1 import webhooks_pb2 as pb
from mes.webhooks.v1 import webhooks_pb2_grpc

__all__ = ["RPCS", "WebhooksClient"]

EventType: TypeAlias = pb.WebhookEventType.ValueType
State: TypeAlias = pb.WebhookDeliveryState.ValueType

_CREATE = Rpc(
    "CreateWebhookEndpoint", pb.CreateWebhookEndpointRequest, pb.CreateWebhookEndpointResponse, request_id=True
)
_GET = Rpc("GetWebhookEndpoint", pb.GetWebhookEndpointRequest, pb.GetWebhookEndpointResponse, positional="name")
_LIST = Rpc("ListWebhookEndpoints", pb.ListWebhookEndpointsRequest, pb.ListWebhookEndpointsResponse)
_UPDATE = Rpc(
    "UpdateWebhookEndpoint", pb.UpdateWebhookEndpointRequest, pb.UpdateWebhookEndpointResponse, positional="name"
)
_ENABLE = Rpc(
    "EnableWebhookEndpoint", pb.EnableWebhookEndpointRequest, pb.EnableWebhookEndpointResponse, positional="name"
)
_DISABLE = Rpc(
    "DisableWebhookEndpoint", pb.DisableWebhookEndpointRequest, pb.DisableWebhookEndpointResponse, positional="name"
)
_ROTATE = Rpc(
    "RotateWebhookEndpointSecret",
    pb.RotateWebhookEndpointSecretRequest,
    pb.RotateWebhookEndpointSecretResponse,
    positional="name",
)
_DELETE = Rpc(
    "DeleteWebhookEndpoint", pb.DeleteWebhookEndpointRequest, pb.DeleteWebhookEndpointResponse, positional="name"
)
_DELIVERIES = Rpc("ListWebhookDeliveries", pb.ListWebhookDeliveriesRequest, pb.ListWebhookDeliveriesResponse)
_LOG = Rpc(
    "ListWebhookLogEntries", pb.ListWebhookLogEntriesRequest, pb.ListWebhookLogEntriesResponse, positional="parent"
)
_REPLAY = Rpc(
    "ReplayWebhookDeliveries",
    pb.ReplayWebhookDeliveriesRequest,
    pb.ReplayWebhookDeliveriesResponse,
    positional="parent",
)

#: Every RPC of the service, as this client calls it.
RPCS: tuple[Rpc[Any, Any], ...] = (
    _CREATE, _GET, _LIST, _UPDATE, _ENABLE, _DISABLE, _ROTATE, _DELETE, _DELIVERIES, _LOG, _REPLAY,
)  # fmt: skip


class WebhooksClient(ServiceClient):
    """Client of the webhooks service.

    Every method takes the request message or keyword fields, and ``partner=`` to act for a partner
    (``x-mes-partner``: the service confines the call to that partner's endpoints; service principals
    only). Calls answering one endpoint return it; the others return the response message.
    """

    service = "webhooks"
    grpc_service = "mes.webhooks.v1.WebhooksService"
    stub_type = webhooks_pb2_grpc.WebhooksServiceStub

    # -- endpoints ----------------------------------------------------------------------

    async def create_webhook_endpoint(
        self,
        request: pb.CreateWebhookEndpointRequest | None = None,
        /,
        *,
        parent: str | None = None,
        url: str | None = None,
        description: str | None = None,
        event_types: Sequence[EventType] | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.CreateWebhookEndpointResponse:
        """Register an endpoint; ``response.secret`` is its signing secret, shown only once (a request_id
        is generated when none is given, so a retry cannot register it twice)."""
        return await self._call_with(_CREATE, locals())

    get_webhook_endpoint = by_name(
        _GET, lambda response: response.endpoint, doc="The endpoint ``webhookEndpoints/{id}``."
    )

    async def list_webhook_endpoints(
        self,
        request: pb.ListWebhookEndpointsRequest | None = None,
        /,
        *,
        parent: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListWebhookEndpointsResponse:
        """One page of endpoints, oldest first."""
        return await self._call_with(_LIST, locals())

    def iter_webhook_endpoints(
        self,
        *,
        parent: str = "",
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.WebhookEndpoint]:
        """Every endpoint (at most ``limit``), following page tokens."""
        return self._iterate(_LIST, lambda page: page.endpoints, locals())

    async def update_webhook_endpoint(
        self,
        name: str | pb.UpdateWebhookEndpointRequest,
        *,
        url: str | None = None,
        description: str | None = None,
        event_types: Sequence[EventType] | None = None,
        version: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.WebhookEndpoint:
        """Change the URL, description or event types (None: unchanged); ``version`` checks the one read."""
        return (await self._call_with(_UPDATE, locals())).endpoint

    enable_webhook_endpoint = by_name(
        _ENABLE, doc="Enable an endpoint; the deliveries kept meanwhile are sent, oldest first."
    )

    async def disable_webhook_endpoint(
        self,
        name: str | pb.DisableWebhookEndpointRequest,
        *,
        reason: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.WebhookEndpoint:
        """Disable an endpoint; its events are kept until it is enabled again."""
        return (await self._call_with(_DISABLE, locals())).endpoint

    rotate_webhook_endpoint_secret = by_name(
        _ROTATE, doc="A new signing secret (``response.secret``, shown once); the previous one signs for the overlap."
    )
    delete_webhook_endpoint = by_name(_DELETE, doc="Delete an endpoint with its deliveries and log.")

    # -- deliveries ---------------------------------------------------------------------

    async def list_webhook_deliveries(
        self,
        request: pb.ListWebhookDeliveriesRequest | None = None,
        /,
        *,
        parent: str | None = None,
        states: Sequence[State] | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListWebhookDeliveriesResponse:
        """One page of deliveries, newest first (``states=[DEAD]``: the dead letters)."""
        return await self._call_with(_DELIVERIES, locals())

    def iter_webhook_deliveries(
        self,
        *,
        parent: str = "",
        states: Sequence[State] = (),
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.WebhookDelivery]:
        """Every matching delivery (at most ``limit``), newest first."""
        return self._iterate(_DELIVERIES, lambda page: page.deliveries, locals())

    async def list_webhook_log_entries(
        self,
        parent: str | pb.ListWebhookLogEntriesRequest,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListWebhookLogEntriesResponse:
        """One page of an endpoint's delivery log, newest first."""
        return await self._call_with(_LOG, locals())

    def iter_webhook_log_entries(
        self,
        parent: str,
        *,
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.WebhookLogEntry]:
        """An endpoint's delivery log (at most ``limit`` entries), newest first."""
        return self._iterate(_LOG, lambda page: page.entries, locals())

    async def replay_webhook_deliveries(
        self,
        parent: str | pb.ReplayWebhookDeliveriesRequest,
        *,
        names: Sequence[str] | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ReplayWebhookDeliveriesResponse:
        """Send dead letters of an endpoint again (all of them when ``names`` is empty), same webhook-id."""
        return await self._call_with(_REPLAY, locals())
