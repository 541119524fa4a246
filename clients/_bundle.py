"""The service clients behind one async context manager."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Self, TypeVar

import grpc

from clients._base import CallObserver, MetadataPairs, ServiceClient
from clients._config import SERVICE_NAMES, ClientConfig, ServiceName
from clients.analytics import AnalyticsClient
from clients.inventory import InventoryClient
from clients.orders import OrdersClient
from clients.production import ProductionClient
from clients.webhooks import WebhooksClient

__all__ = ["MesClients"]

C = TypeVar("C")
S = TypeVar("S", bound=ServiceClient)


class MesClients:
    """Opens one channel per service on ``__aenter__`` (or ``open()``) and closes them on ``__aexit__``::

        async with MesClients(ClientConfig.from_env()) as mes:
            order = await mes.orders.get_order("orders/123")

    Channels connect lazily, so a service that is never called is never contacted. ``interceptors``,
    ``extra_metadata`` and ``observe`` apply to every client (see :class:`clients.OrdersClient`);
    ``channels`` replaces the opened channels by the caller's own (which stay open on ``aclose``; a
    service missing from it gets a channel of its own); the clients are then ready at once. ``open()``
    after ``aclose()`` opens the clients again.
    """

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
        extra_metadata: Callable[[], MetadataPairs] | None = None,
        observe: CallObserver | None = None,
        channels: Mapping[ServiceName, grpc.aio.Channel] | None = None,
    ) -> None:
        self.config = config if config is not None else ClientConfig.from_env()
        self._interceptors = tuple(interceptors)
        self._extra_metadata = extra_metadata
        self._observe = observe
        self._channels = dict(channels) if channels is not None else None
        self._orders: OrdersClient | None = None
        self._inventory: InventoryClient | None = None
        self._production: ProductionClient | None = None
        self._webhooks: WebhooksClient | None = None
        self._analytics: AnalyticsClient | None = None
        if self._channels is not None:
            self._create()

    @property
    def orders(self) -> OrdersClient:
        return _opened(self._orders)

    @property
    def inventory(self) -> InventoryClient:
        return _opened(self._inventory)

    @property
    def production(self) -> ProductionClient:
        return _opened(self._production)

    @property
    def webhooks(self) -> WebhooksClient:
        """Made on first use (most callers never need it, so no channel is opened for them)."""
        if self._webhooks is None and self._orders is not None:
            self._webhooks = self._client(WebhooksClient)
        return _opened(self._webhooks)

    @property
    def analytics(self) -> AnalyticsClient:
        """Made on first use, like :attr:`webhooks`."""
        if self._analytics is None and self._orders is not None:
            self._analytics = self._client(AnalyticsClient)
        return _opened(self._analytics)

    async def open(self) -> None:
        self._create()

    def _create(self) -> None:
        if self._orders is None:
            self._orders = self._client(OrdersClient)
            self._inventory = self._client(InventoryClient)
            self._production = self._client(ProductionClient)

    def _client(self, cls: type[S]) -> S:
        return cls(
            self.config,
            channel=self._channels.get(cls.service) if self._channels is not None else None,
            interceptors=self._interceptors,
            extra_metadata=self._extra_metadata,
            observe=self._observe,
        )

    async def health(self) -> dict[ServiceName, bool]:
        """Per service: True when it reports SERVING (``grpc.health.v1``, one second at most)."""
        clients = (self.orders, self.inventory, self.production)
        results = await asyncio.gather(*(client.health() for client in clients))
        return dict(zip(SERVICE_NAMES, results, strict=True))

    async def aclose(self) -> None:
        opened = (self._orders, self._inventory, self._production, self._webhooks, self._analytics)
        clients = [c for c in opened if c is not None]
        self._orders = self._inventory = self._production = self._webhooks = self._analytics = None
        await asyncio.gather(*(client.aclose() for client in clients))

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _opened(client: C | None) -> C:
    if client is None:
        raise RuntimeError("MesClients is not open: use 'async with MesClients(...)' or await open()")
    return client
