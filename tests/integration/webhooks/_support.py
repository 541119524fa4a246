"""What the webhooks integration tests share: credentials, fast knobs, the running service."""

from __future__ import annotations

from typing import Any

from mes.webhooks.v1 import webhooks_pb2 as pb
from services.webhooks.bootstrap import App
from tests.integration.saga.saga_stack import eventually

__all__ = ["AUTH_TOKENS", "FAST", "SERVICE", "STAFF", "Running", "T", "acting", "eventually"]

T = 10.0
AUTH_TOKENS = "wh-svc=service:facade,wh-op=operator:OP-1"
STAFF = (("authorization", "Bearer wh-op"),)
SERVICE = (("authorization", "Bearer wh-svc"),)
#: Retries within a fraction of a second, short attempts and leases, quick polls.
FAST = {
    "MES_WEBHOOKS_RETRY_INITIAL_S": "0.05",
    "MES_WEBHOOKS_RETRY_MAX_S": "0.2",
    "MES_WEBHOOKS_POLL_S": "0.05",
    "MES_WEBHOOKS_CONNECT_TIMEOUT_S": "1",
    "MES_WEBHOOKS_READ_TIMEOUT_S": "2",
    "MES_WEBHOOKS_REQUEST_TIMEOUT_S": "2",
    "MES_WEBHOOKS_LEASE_S": "4",
    "MES_WEBHOOKS_CONSUMER_ACK_WAIT_S": "5",
    "MES_WEBHOOKS_CONSUMER_FETCH_TIMEOUT_S": "0.5",
    "MES_WEBHOOKS_CONSUMER_BACKOFF_S": "0.1,0.3",
}


def acting(partner: str) -> tuple[tuple[str, str], ...]:
    """Metadata of the facade acting for a partner."""
    return (*SERVICE, ("x-mes-partner", partner))


class Running:
    """The service with its consumer and dispatcher, and a stub to call it."""

    def __init__(self, service: App, stub: Any) -> None:
        self.service = service
        self.stub = stub

    async def endpoint(self, partner: str, url: str, *, event_types: tuple[int, ...] = (1,)) -> tuple[str, str]:
        """Register an endpoint for ``partner`` (as the facade would); (name, secret)."""
        reply = await self.stub.CreateWebhookEndpoint(
            pb.CreateWebhookEndpointRequest(url=url, event_types=list(event_types)), metadata=acting(partner), timeout=T
        )
        return reply.endpoint.name, reply.secret

    async def deliveries(self, parent: str, *states: int) -> list[pb.WebhookDelivery]:
        found: list[pb.WebhookDelivery] = []
        token = ""
        while True:
            reply = await self.stub.ListWebhookDeliveries(
                pb.ListWebhookDeliveriesRequest(parent=parent, states=list(states), page_size=100, page_token=token),
                metadata=STAFF,
                timeout=T,
            )
            found.extend(reply.deliveries)
            token = reply.next_page_token
            if not token:
                return found

    async def log(self, parent: str) -> list[pb.WebhookLogEntry]:
        reply = await self.stub.ListWebhookLogEntries(
            pb.ListWebhookLogEntriesRequest(parent=parent, page_size=100), metadata=STAFF, timeout=T
        )
        return list(reply.entries)
