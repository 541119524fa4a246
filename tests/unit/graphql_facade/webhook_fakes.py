"""The webhooks service in the facade's unit tests: :class:`FakeBackend` plus a fourth channel whose
RPCs (``/mes.webhooks.v1.WebhooksService/...``) are answered from plain dicts, confined to the partner
of ``x-mes-partner`` like the real service (another partner's endpoint answers NOT_FOUND)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from clients import ConflictError, IdempotencyKeyReusedError, InvalidArgumentError, NotFoundError
from clients._errors import FieldViolation
from mes.webhooks.v1 import webhooks_pb2 as pb
from tests.unit.graphql_facade.facade_fakes import FakeBackend, FakeChannel, _page

ENDPOINTS = "webhookEndpoints/"
WEBHOOKS_ADDR = "webhooks.test:50154"


def _stamp(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


class FakeWebhooksBackend(FakeBackend):
    """``endpoints`` (id -> message), their ``secrets``, ``deliveries`` and ``log`` per endpoint id."""

    def __init__(self) -> None:
        super().__init__()
        assert self._channels is not None
        self._channels["webhooks"] = FakeChannel(self)  # type: ignore[assignment]
        self.endpoints: dict[str, pb.WebhookEndpoint] = {}
        self.secrets: dict[str, str] = {}
        self.deliveries: dict[str, list[pb.WebhookDelivery]] = {}
        self.log: dict[str, list[pb.WebhookLogEntry]] = {}
        self.created: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    # -- seeding ---------------------------------------------------------------------------

    def add_endpoint(self, partner: str, url: str = "https://hooks.example.com/mes") -> pb.WebhookEndpoint:
        endpoint_id = self.next_id("ep_")
        endpoint = pb.WebhookEndpoint(
            name=ENDPOINTS + endpoint_id,
            endpoint_id=endpoint_id,
            partner=f"partners/{partner}",
            url=url,
            event_types=[pb.WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED],
            enabled=True,
            version=1,
            create_time=_stamp(self.now),
            secret_create_time=_stamp(self.now),
        )
        self.endpoints[endpoint_id] = endpoint
        self.secrets[endpoint_id] = f"whsec_{endpoint_id}_1"
        self.deliveries[endpoint_id] = []
        self.log[endpoint_id] = []
        return endpoint

    def add_delivery(self, endpoint: pb.WebhookEndpoint, order_id: str, **fields: Any) -> pb.WebhookDelivery:
        delivery = pb.WebhookDelivery(
            name=f"{endpoint.name}/deliveries/msg_{order_id}",
            delivery_id=f"msg_{order_id}",
            endpoint=endpoint.name,
            event_type=pb.WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED,
            order_id=order_id,
            order_version=2,
            create_time=_stamp(self.now),
            payload='{"type":"order.status_changed"}',
            **fields,
        )
        self.deliveries[endpoint.endpoint_id].insert(0, delivery)
        return delivery

    def add_log(self, endpoint: pb.WebhookEndpoint, **fields: Any) -> pb.WebhookLogEntry:
        entry = pb.WebhookLogEntry(log_time=_stamp(self.now), **fields)
        self.log[endpoint.endpoint_id].insert(0, entry)
        return entry

    # -- the service -----------------------------------------------------------------------

    def _own(self, name: str, partner: str | None) -> pb.WebhookEndpoint:
        endpoint = self.endpoints.get(name.removeprefix(ENDPOINTS))
        if endpoint is None or (partner is not None and endpoint.partner != f"partners/{partner}"):
            raise NotFoundError(grpc.StatusCode.NOT_FOUND, "webhook endpoint not found")
        return endpoint

    @staticmethod
    def _check_url(url: str) -> None:
        if not url.startswith("https://") or "@" in url:
            raise InvalidArgumentError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "invalid request",
                violations=[FieldViolation("url", "must be an https URL")],
            )

    async def create_webhook_endpoint(
        self, request: pb.CreateWebhookEndpointRequest, *, partner: str | None = None
    ) -> pb.CreateWebhookEndpointResponse:
        assert partner is not None
        self._check_url(request.url)
        fingerprint = pb.CreateWebhookEndpointRequest(
            url=request.url, description=request.description, event_types=request.event_types
        ).SerializeToString(deterministic=True)
        known = self.created.get((partner, request.request_id))
        if known is not None:
            if known[0] != fingerprint:
                raise IdempotencyKeyReusedError(
                    grpc.StatusCode.ALREADY_EXISTS, "request_id reused", reason="IDEMPOTENCY_KEY_REUSED"
                )
            endpoint = self.endpoints[known[1]]
            return pb.CreateWebhookEndpointResponse(endpoint=endpoint, secret=self.secrets[known[1]])
        endpoint = self.add_endpoint(partner, request.url)
        endpoint.description = request.description
        del endpoint.event_types[:]
        endpoint.event_types.extend(request.event_types)
        self.created[(partner, request.request_id)] = (fingerprint, endpoint.endpoint_id)
        return pb.CreateWebhookEndpointResponse(endpoint=endpoint, secret=self.secrets[endpoint.endpoint_id])

    async def get_webhook_endpoint(
        self, request: pb.GetWebhookEndpointRequest, *, partner: str | None = None
    ) -> pb.GetWebhookEndpointResponse:
        return pb.GetWebhookEndpointResponse(endpoint=self._own(request.name, partner))

    async def list_webhook_endpoints(
        self, request: pb.ListWebhookEndpointsRequest, *, partner: str | None = None
    ) -> pb.ListWebhookEndpointsResponse:
        own = [e for e in self.endpoints.values() if partner is None or e.partner == f"partners/{partner}"]
        page, token = _page(own, request.page_size, request.page_token)
        return pb.ListWebhookEndpointsResponse(endpoints=page, next_page_token=token)

    async def update_webhook_endpoint(
        self, request: pb.UpdateWebhookEndpointRequest, *, partner: str | None = None
    ) -> pb.UpdateWebhookEndpointResponse:
        endpoint = self._own(request.name, partner)
        if request.version and request.version != endpoint.version:
            raise ConflictError(grpc.StatusCode.ABORTED, "version moved", reason="VERSION_CONFLICT")
        if request.HasField("url"):
            self._check_url(request.url)
            endpoint.url = request.url
        if request.HasField("description"):
            endpoint.description = request.description
        if request.event_types:
            del endpoint.event_types[:]
            endpoint.event_types.extend(request.event_types)
        endpoint.version += 1
        return pb.UpdateWebhookEndpointResponse(endpoint=endpoint)

    async def enable_webhook_endpoint(
        self, request: pb.EnableWebhookEndpointRequest, *, partner: str | None = None
    ) -> pb.EnableWebhookEndpointResponse:
        endpoint = self._own(request.name, partner)
        held = [d for d in self.deliveries[endpoint.endpoint_id] if d.state == pb.WEBHOOK_DELIVERY_STATE_HELD]
        for delivery in held:
            delivery.state = pb.WEBHOOK_DELIVERY_STATE_PENDING
        endpoint.enabled = True
        endpoint.disabled_by = pb.WEBHOOK_DISABLED_BY_UNSPECIFIED
        endpoint.disabled_reason = ""
        endpoint.ClearField("disable_time")
        endpoint.version += 1
        return pb.EnableWebhookEndpointResponse(endpoint=endpoint, resumed_deliveries=len(held))

    async def disable_webhook_endpoint(
        self, request: pb.DisableWebhookEndpointRequest, *, partner: str | None = None
    ) -> pb.DisableWebhookEndpointResponse:
        endpoint = self._own(request.name, partner)
        endpoint.enabled = False
        endpoint.disabled_by = pb.WEBHOOK_DISABLED_BY_PARTNER
        endpoint.disabled_reason = request.reason or "disabled by the partner"
        endpoint.disable_time.CopyFrom(_stamp(self.now))
        endpoint.version += 1
        return pb.DisableWebhookEndpointResponse(endpoint=endpoint)

    async def rotate_webhook_endpoint_secret(
        self, request: pb.RotateWebhookEndpointSecretRequest, *, partner: str | None = None
    ) -> pb.RotateWebhookEndpointSecretResponse:
        endpoint = self._own(request.name, partner)
        endpoint.version += 1
        self.secrets[endpoint.endpoint_id] = f"whsec_{endpoint.endpoint_id}_{endpoint.version}"
        endpoint.previous_secret_expire_time.CopyFrom(_stamp(self.now + timedelta(hours=24)))
        return pb.RotateWebhookEndpointSecretResponse(endpoint=endpoint, secret=self.secrets[endpoint.endpoint_id])

    async def delete_webhook_endpoint(
        self, request: pb.DeleteWebhookEndpointRequest, *, partner: str | None = None
    ) -> pb.DeleteWebhookEndpointResponse:
        endpoint = self._own(request.name, partner)
        del self.endpoints[endpoint.endpoint_id]
        return pb.DeleteWebhookEndpointResponse()

    async def list_webhook_deliveries(
        self, request: pb.ListWebhookDeliveriesRequest, *, partner: str | None = None
    ) -> pb.ListWebhookDeliveriesResponse:
        if request.parent:
            found = list(self.deliveries[self._own(request.parent, partner).endpoint_id])
        else:
            own = [e.endpoint_id for e in self.endpoints.values() if e.partner == f"partners/{partner}"]
            found = [d for endpoint_id in own for d in self.deliveries[endpoint_id]]
        if request.states:
            found = [d for d in found if d.state in request.states]
        page, token = _page(found, request.page_size, request.page_token)
        return pb.ListWebhookDeliveriesResponse(deliveries=page, next_page_token=token)

    async def list_webhook_log_entries(
        self, request: pb.ListWebhookLogEntriesRequest, *, partner: str | None = None
    ) -> pb.ListWebhookLogEntriesResponse:
        entries = self.log[self._own(request.parent, partner).endpoint_id]
        page, token = _page(entries, request.page_size, request.page_token)
        return pb.ListWebhookLogEntriesResponse(entries=page, next_page_token=token)
