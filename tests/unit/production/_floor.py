"""The production use cases on the in-memory fakes: a shop floor to run the rules on."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any, TypeVar

from mes_kernel.deps import Deps
from mes_kernel.paging import PageTokens
from mes_kernel.principal import Principal
from services.production.domain.bom import LineSpec
from services.production.domain.operations import LossDecision, Operation
from services.production.domain.resources import OperatorRole, WorkCenter
from services.production.domain.work_orders import WorkOrder
from services.production.service_layer import commands as c
from services.production.service_layer.handlers import Handlers
from tests.unit.production._factories import NOW, WORK_CENTERS, definition, line
from tests.unit.production.fakes import FakeUnitOfWork, FakeUnitOfWorkFactory

__all__ = ["OPERATOR_1", "PARTNER", "STAFF", "Clock", "Floor"]

E = TypeVar("E")
STAFF = Principal("service", "test")
OPERATOR_1 = Principal("operator", "OP-1")
PARTNER = Principal("service", "facade", "acme")


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: int = 1) -> None:
        self.now += timedelta(minutes=minutes)


class Floor:
    """Handlers on fakes; ``seed()`` adds the ring style, its work centers and operators."""

    def __init__(self) -> None:
        self.uows = FakeUnitOfWorkFactory()
        self.clock = Clock()
        ids = itertools.count(1)
        deps = Deps(self.uows, PageTokens(b"unit-test"), clock=self.clock)
        self.handlers = Handlers.build(deps, new_id=lambda: f"wo-{next(ids)}")  # type: ignore[arg-type]

    async def seed(self, *, capacity: int = 2, supervisor_active: bool = True) -> None:
        await self.handlers.catalog.upsert_style(c.UpsertStyle(STAFF, definition()))
        for code, wc_type in WORK_CENTERS:
            await self.handlers.catalog.upsert_work_center(
                c.UpsertWorkCenter(STAFF, code, wc_type, code, capacity, True)
            )
        for code, role, active in (
            ("OP-1", OperatorRole.OPERATOR, True),
            ("OP-2", OperatorRole.OPERATOR, True),
            ("OP-OLD", OperatorRole.OPERATOR, False),
            ("SUP-1", OperatorRole.SUPERVISOR, supervisor_active),
        ):
            await self.handlers.catalog.upsert_operator(c.UpsertOperator(STAFF, code, code, role, active))

    def events(self, kind: type[E]) -> list[E]:
        return [e for e in self.uows.events if isinstance(e, kind)]

    def causes(self, kind: type[Any]) -> list[str]:
        return [e.causation_id for e in self.uows.state.outbox if isinstance(e.event, kind)]

    async def consume(self, cause: str, handler: str, event: Any) -> Any:
        """An order-event handler as a consumer runs it: inside its transaction, ``cause`` as cause."""

        async def call(uow: FakeUnitOfWork) -> Any:
            handlers = self.handlers.order_events.bound(self.uows.borrow(uow, causation_id=cause))  # type: ignore[arg-type]
            return await getattr(handlers, handler)(event)

        return await self.uows.transact(call)

    async def create(self, order_id: str = "ORD-1", *lines: LineSpec, priority: int = 2) -> list[WorkOrder]:
        cmd = c.CreateWorkOrders(STAFF, order_id, priority, lines or (line(),))
        return await self.handlers.work_orders.create_work_orders(cmd)

    async def operation(self, work_order_id: str, sequence: int) -> Operation:
        return await self.handlers.operations.get_operation(c.Get(STAFF, (work_order_id, sequence)))

    async def work_order(self, work_order_id: str) -> WorkOrder:
        return await self.handlers.work_orders.get_work_order(c.Get(STAFF, work_order_id))

    async def start(
        self, wo: str, seq: int, weigh_in: int, operator: str = "OP-2", *, by: Principal = STAFF, request_id: str = ""
    ) -> Operation:
        cmd = c.StartOperation(by, wo, seq, operator, weigh_in, request_id)
        return await self.handlers.operations.start_operation(cmd)

    async def finish(
        self, wo: str, seq: int, weigh_out: int, scrap: int = 0, operator: str = "OP-2", *, request_id: str = ""
    ) -> Operation:
        cmd = c.FinishOperation(STAFF, wo, seq, operator, weigh_out, scrap, request_id)
        return await self.handlers.operations.finish_operation(cmd)

    async def pause(
        self,
        wo: str,
        seq: int,
        reason: str = "break",
        operator: str = "OP-2",
        *,
        by: Principal = STAFF,
        request_id: str = "",
    ) -> Operation:
        cmd = c.PauseOperation(by, wo, seq, operator, reason, request_id)
        return await self.handlers.operations.pause_operation(cmd)

    async def resume(
        self, wo: str, seq: int, operator: str = "OP-2", *, by: Principal = STAFF, request_id: str = ""
    ) -> Operation:
        cmd = c.ResumeOperation(by, wo, seq, operator, request_id)
        return await self.handlers.operations.resume_operation(cmd)

    async def center(self, code: str) -> WorkCenter:
        return await self.handlers.catalog.get_work_center(c.Get(STAFF, code))

    async def block(
        self, code: str, reason: str = "kiln down", operator: str = "", *, by: Principal = STAFF
    ) -> WorkCenter:
        return await self.handlers.catalog.block_work_center(c.BlockWorkCenter(by, code, reason, operator))

    async def unblock(self, code: str, operator: str = "", *, by: Principal = STAFF) -> WorkCenter:
        return await self.handlers.catalog.unblock_work_center(c.UnblockWorkCenter(by, code, operator))

    async def review(self, wo: str, seq: int, decision: LossDecision, supervisor: str = "SUP-1") -> Operation:
        cmd = c.ResolveLossReview(STAFF, wo, seq, supervisor, decision, "checked")
        return await self.handlers.operations.resolve_loss_review(cmd)

    async def walk(self, wo: str, sequences: tuple[int, ...], weight: int = 5_000) -> None:
        """Start and finish each operation without loss."""
        for seq in sequences:
            await self.start(wo, seq, weight)
            await self.finish(wo, seq, weight)
