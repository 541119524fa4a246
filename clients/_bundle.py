"""All three service clients behind one async context manager."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self, TypeVar

from clients._config import ClientConfig
from clients.inventory import InventoryClient
from clients.orders import OrdersClient
from clients.production import ProductionClient

__all__ = ["MesClients"]

C = TypeVar("C")


class MesClients:
    """Opens one channel per service on ``__aenter__`` and closes them on ``__aexit__``::

        async with MesClients(ClientConfig.from_env()) as mes:
            order = await mes.orders.get_order("orders/123")

    Channels connect lazily, so a service that is never called is never contacted.
    """

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config if config is not None else ClientConfig.from_env()
        self._orders: OrdersClient | None = None
        self._inventory: InventoryClient | None = None
        self._production: ProductionClient | None = None

    @property
    def orders(self) -> OrdersClient:
        return _opened(self._orders)

    @property
    def inventory(self) -> InventoryClient:
        return _opened(self._inventory)

    @property
    def production(self) -> ProductionClient:
        return _opened(self._production)

    async def open(self) -> None:
        if self._orders is None:
            self._orders = OrdersClient(self.config)
            self._inventory = InventoryClient(self.config)
            self._production = ProductionClient(self.config)

    async def aclose(self) -> None:
        clients = [c for c in (self._orders, self._inventory, self._production) if c is not None]
        self._orders = self._inventory = self._production = None
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
