"""Typed async gRPC clients of the Jewelry MES services (orders, inventory, production, webhooks,
analytics).

::

    from clients import ClientConfig, MesClients, NotFoundError

    async with MesClients(ClientConfig.from_env()) as mes:
        async for order in mes.orders.iter_orders(late_only=True):
            print(order.name, order.partner_reference)

Every call has a deadline (``ClientConfig.deadline_s`` or ``timeout=``), carries the configured
credentials, retries UNAVAILABLE with exponential back-off and jitter when the call is idempotent, and
raises a :class:`MesClientError` subclass decoded from the server's ``ErrorInfo`` reason. Every method
takes the request message or keyword fields, and ``partner=`` to act for a partner (service
principals only). Channels come from :func:`open_channel`, with every option in the ``ClientConfig``.
"""

from clients._base import CallObserver
from clients._bundle import MesClients
from clients._channel import open_channel
from clients._config import ClientConfig, RetryPolicy
from clients._errors import (
    ERROR_DOMAIN,
    AlreadyExistsError,
    ConflictError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    IdempotencyKeyReusedError,
    InsufficientStockError,
    InternalError,
    InvalidArgumentError,
    MesClientError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from clients._retry import is_idempotent
from clients.analytics import AnalyticsClient
from clients.inventory import InventoryClient
from clients.orders import OrdersClient
from clients.production import ProductionClient
from clients.webhooks import WebhooksClient

__all__ = [
    "ERROR_DOMAIN",
    "AlreadyExistsError",
    "AnalyticsClient",
    "CallObserver",
    "ClientConfig",
    "ConflictError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "IdempotencyKeyReusedError",
    "InsufficientStockError",
    "InternalError",
    "InvalidArgumentError",
    "InventoryClient",
    "MesClientError",
    "MesClients",
    "NotFoundError",
    "OrdersClient",
    "PermissionDeniedError",
    "ProductionClient",
    "ResourceExhaustedError",
    "RetryPolicy",
    "UnauthenticatedError",
    "UnavailableError",
    "WebhooksClient",
    "is_idempotent",
    "open_channel",
]
