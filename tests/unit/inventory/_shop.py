"""The inventory's use cases on the in-memory fakes, with a clock that ticks a second a call."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from mes_kernel.principal import Principal
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import CustodyEntry
from services.inventory.domain.lots import MaterialLot
from services.inventory.domain.materials import MaterialKind, Metal, Priority
from services.inventory.domain.reservations import Reservation
from services.inventory.service_layer import commands as c
from services.inventory.service_layer.event_handlers import EventHandlers
from services.inventory.service_layer.handlers import Handlers
from services.inventory.service_layer.ports import CustodyFilter
from tests.unit.inventory._factories import NOW, OPERATOR
from tests.unit.inventory.fakes import FakeUnitOfWorkFactory

__all__ = ["Shop", "gold", "stones"]

E = TypeVar("E")


def gold(mg: int, line: int = 1, code: str = "AU750Y") -> c.RequirementInput:
    return c.RequirementInput(code, MaterialKind.METAL, weight_mg=mg, line_number=line)


def stones(pieces: int, line: int = 1, code: str = "DIA-1") -> c.RequirementInput:
    return c.RequirementInput(code, MaterialKind.STONE, pieces=pieces, line_number=line)


@dataclass
class Shop:
    """Handlers over fakes, and shortcuts for what the tests set up and look at."""

    uows: FakeUnitOfWorkFactory = field(default_factory=FakeUnitOfWorkFactory)
    ticks: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        deps = Deps(self.uows, PageTokens(b"test-secret"), clock=self.now)
        self.handlers = Handlers.build(deps, attempts=4, retry_batch=100)

    def now(self) -> datetime:
        return NOW + timedelta(seconds=next(self.ticks))

    @property
    def events(self) -> EventHandlers:
        return self.handlers.events

    def caused_by(self, cause: str) -> EventHandlers:
        """The event handlers as a consumer runs them for the event ``cause``."""
        return self.handlers.events.bound(self.uows.caused_by(cause))

    # -- setting up ---------------------------------------------------------------------

    async def alloy(self, code: str = "AU750Y", metal: Metal = Metal.GOLD, fineness: int = 750) -> Alloy:
        cmd = c.UpsertAlloy(OPERATOR, code, metal, fineness, "yellow")
        return await self.handlers.catalogue.upsert_alloy(cmd)

    async def receive(
        self, code: str = "AU750Y", mg: int = 0, *, pieces: int = 0, request_id: str = "", who: Principal = OPERATOR
    ) -> MaterialLot:
        kind = MaterialKind.STONE if pieces else MaterialKind.METAL
        request_id = request_id or f"rcv-{next(self.ticks)}"
        cmd = c.ReceiveLot(who, kind, code, mg, pieces, request_id=request_id, fingerprint=f"{code}:{mg}:{pieces}")
        return await self.handlers.stock.receive_lot(cmd)

    async def reserve(
        self,
        order_id: str,
        *requirements: c.RequirementInput,
        priority: Priority = Priority.NORMAL,
        queue: bool = False,
        submitted: datetime | None = None,
    ) -> Any:
        cmd = c.ReserveOrder(OPERATOR, order_id, tuple(requirements), priority, queue, submitted)
        return await self.handlers.reservations.reserve_order(cmd)

    def change(self, reservation: Reservation, reason: str = "") -> c.ChangeReservation:
        return c.ChangeReservation(OPERATOR, reservation.reservation_id, reason)

    # -- looking ------------------------------------------------------------------------

    async def lot(self, lot_id: str) -> MaterialLot:
        async with self.uows.read() as uow:
            found = await uow.lots.get(lot_id)
        assert found is not None
        return found

    async def reservation(self, reservation_id: str) -> Reservation:
        return await self.handlers.reservations.get(c.Get(OPERATOR, reservation_id))

    async def balance(self, code: str = "AU750Y") -> Balance:
        [found] = await self.handlers.stock.batch_get_balances(c.BatchGet(OPERATOR, (code,)))
        return found

    async def ledger(self, where: CustodyFilter | None = None) -> list[CustodyEntry]:
        """Custody entries, oldest first."""
        async with self.uows.read() as uow:
            return [e for _seq, e in reversed(await uow.custody.find(where or CustodyFilter(), None, 1_000))]

    def emitted(self, kind: type[E]) -> list[E]:
        return [e for e in self.uows.events if isinstance(e, kind)]

    def causes(self, kind: type[Any]) -> list[str]:
        return [x.causation_id for x in self.uows.state.outbox if isinstance(x.event, kind)]

    async def waiting(self) -> Sequence[str]:
        async with self.uows.read() as uow:
            return [w.order_id for w in await uow.waiting.in_serve_order(100)]
