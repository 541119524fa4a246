"""The use cases of the orders service wired on the fakes, the callers, and valid requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from mes_kernel.principal import Principal
from services.orders.domain.catalogue import CatalogueKind
from services.orders.domain.order import Order, OrderLine, StatusChange
from services.orders.domain.status import OrderStatus
from services.orders.service_layer.api_key_cache import ApiKeyCache
from services.orders.service_layer.catalogue import CatalogueService
from services.orders.service_layer.commands import CancelOrder, CreatePartner, ShipOrder, SubmitOrder
from services.orders.service_layer.event_handlers import OrderEventHandlers
from services.orders.service_layer.orders import OrderService
from services.orders.service_layer.partners import PartnerService
from services.orders.service_layer.ports import OrdersDeps
from tests.unit.orders.fakes import FakeUnitsOfWork

__all__ = [
    "ALLOYS",
    "SERVICE",
    "STAFF",
    "STYLES",
    "T0",
    "Clock",
    "Orders",
    "acting_for",
    "fake_deps",
    "partner",
    "submit_order",
]

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class Clock:
    """A clock the test moves (``tick`` advances it)."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def fake_deps(uows: FakeUnitsOfWork | None = None, clock: Clock | None = None) -> OrdersDeps:
    """The dependency bag of the use cases on fakes (the fake satisfies the port's protocol)."""
    deps: Any = Deps(uows or FakeUnitsOfWork(), PageTokens(b"unit-test-secret"), clock or Clock())
    return deps


STAFF = Principal("operator", "OP-1")
SERVICE = Principal("service", "facade")
STYLES = ("RNG-SOL-001", "PND-HRT-002")
ALLOYS = ("AU750Y", "AG925")


def partner(partner_id: str) -> Principal:
    """A partner calling with its own API key."""
    return Principal("partner", partner_id, partner_id)


def acting_for(partner_id: str) -> Principal:
    """A service (the facade) acting for a partner."""
    return SERVICE.acting_for(partner_id)


@dataclass
class Orders:
    """The use cases of the service wired on one set of fakes."""

    uows: FakeUnitsOfWork = field(default_factory=FakeUnitsOfWork)
    clock: Clock = field(default_factory=Clock)
    cache_ttl_s: float = 0.0

    def __post_init__(self) -> None:
        deps = fake_deps(self.uows, self.clock)
        self.orders = OrderService(deps)
        self.partners = PartnerService(deps, ApiKeyCache(self.cache_ttl_s))
        self.handlers = OrderEventHandlers(deps)
        self.catalogue = CatalogueService(deps)

    async def seed(self, *partner_ids: str) -> dict[str, str]:
        """The catalogue (active styles and alloys) and partners; their plain API keys."""
        for kind, codes in ((CatalogueKind.STYLE, STYLES), (CatalogueKind.ALLOY, ALLOYS)):
            for code in codes:
                await self.handlers.apply_catalogue_item(kind, code, code.title(), True, 1)
        keys = {}
        for partner_id in partner_ids:
            _, keys[partner_id] = await self.partners.create(CreatePartner(STAFF, partner_id, partner_id.title()))
        return keys

    async def submit(self, caller: Principal, request_id: str = "r-1", **fields: Any) -> Order:
        submitted = await self.orders.submit(submit_order(caller, request_id, **fields))
        return submitted.order

    async def stored(self, order: Order) -> Order:
        async with self.uows.read() as uow:
            found = await uow.orders.get(order.order_id, partner_id=None)
        assert found is not None
        return found

    async def bring_to(self, order: Order, status: OrderStatus) -> Order:
        """``order`` moved to ``status`` the way the saga (and staff, for SHIPPED) moves orders."""
        h = self.handlers
        moves = {
            OrderStatus.SUBMITTED: lambda: _nothing(),
            OrderStatus.ACCEPTED: lambda: h.on_reservation_held(order.order_id, "evt-held"),
            OrderStatus.ON_HOLD: lambda: h.on_reservation_failed(order.order_id, "short of AU750Y", "evt-failed"),
            OrderStatus.IN_PRODUCTION: lambda: h.on_work_orders_released(order.order_id, "evt-released"),
            OrderStatus.READY_TO_SHIP: lambda: h.on_order_completed(order.order_id, "evt-done"),
            OrderStatus.REJECTED: lambda: h.on_requirements_failed(order.order_id, "no bill", "evt-rejected"),
            OrderStatus.CANCELLED: lambda: self.orders.cancel(CancelOrder(STAFF, order.name)),
        }
        if status is OrderStatus.SHIPPED:
            await self.bring_to(order, OrderStatus.READY_TO_SHIP)
            await self.orders.ship(ShipOrder(STAFF, order.name, "1Z999"))
        else:
            await moves[status]()
        moved = await self.stored(order)
        assert moved.status is status
        return moved

    async def history(self, order: Order) -> list[StatusChange]:
        async with self.uows.read() as uow:
            return await uow.orders.status_changes(order.order_id, after_version=0, limit=100)


async def _nothing() -> None:
    return None


def submit_order(caller: Principal, request_id: str = "r-1", **fields: Any) -> SubmitOrder:
    """A valid submission (fields override), fingerprinted by its content."""
    values: dict[str, Any] = {
        "parent": "",
        "partner_reference": "PO-1",
        "priority": 0,
        "due_time": T0 + timedelta(days=14),
        "lines": (OrderLine(0, STYLES[0], ALLOYS[0], 1),),
        **fields,
    }
    fingerprint = repr(sorted((k, v) for k, v in values.items() if k != "parent"))
    return SubmitOrder(caller, request_id=request_id, fingerprint=fingerprint, **values)
