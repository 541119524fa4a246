"""All use cases of the service, built from one set of dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from services.inventory.service_layer.catalogue import Catalogue
from services.inventory.service_layer.custody import Custody
from services.inventory.service_layer.event_handlers import EventHandlers
from services.inventory.service_layer.ports import InventoryDeps
from services.inventory.service_layer.reservations import Reservations
from services.inventory.service_layer.stock import Stock

__all__ = ["Handlers"]


@dataclass(frozen=True)
class Handlers:
    catalogue: Catalogue
    stock: Stock
    reservations: Reservations
    custody: Custody
    #: What the event consumers call.
    events: EventHandlers

    @classmethod
    def build(cls, deps: InventoryDeps, *, attempts: int, retry_batch: int) -> Handlers:
        """``attempts``: runs of a use case after write races; ``retry_batch``: waiting orders
        one retry pass looks at."""
        return cls(
            Catalogue(deps, attempts=attempts),
            Stock(deps),
            Reservations(deps, attempts=attempts),
            Custody(deps),
            EventHandlers(deps, attempts=attempts, retry_batch=retry_batch),
        )
