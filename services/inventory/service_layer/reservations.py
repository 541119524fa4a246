"""Reservation use cases behind the RPCs (staff only): reserve, release, commit, consume,
reads and the waiting orders' shortages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from mes_kernel.batch import MAX_BATCH, BatchResult, batch_result
from mes_kernel.errors import NotFound
from mes_kernel.paging import MAX_PAGE_SIZE, Page, Pager
from mes_kernel.principal import require_staff
from mes_kernel.validation import Violations
from services.inventory.domain.materials import Priority
from services.inventory.domain.reservations import Reservation
from services.inventory.domain.waiting import Shortage
from services.inventory.service_layer import reserving
from services.inventory.service_layer.commands import (
    BatchGet,
    ChangeReservation,
    Get,
    ListQuery,
    ListReservations,
    ReserveOrder,
)
from services.inventory.service_layer.common import check_id, iso, pager, parse_key
from services.inventory.service_layer.ports import InventoryDeps, ReservationView, UnitOfWork
from services.inventory.service_layer.transitions import commit_in, consume_in, release_in

__all__ = ["Reservations", "load_reservation"]

Transition = Callable[[UnitOfWork, Reservation], Awaitable[bool]]


class Reservations:
    def __init__(self, deps: InventoryDeps, *, attempts: int) -> None:
        self._deps = deps
        self._attempts = attempts

    async def reserve_order(self, cmd: ReserveOrder) -> reserving.ReserveOutcome:
        """Reserve every requirement or none; short of stock: queue (queue_on_shortage) or
        FAILED_PRECONDITION ``INSUFFICIENT_STOCK``."""
        require_staff(cmd.principal)
        request = reserving.ReserveRequest(
            order_id=cmd.order_id,
            priority=cmd.priority or Priority.NORMAL,
            requirements=reserving.validate(cmd.order_id, cmd.requirements),
            submit_time=cmd.submit_time or self._deps.clock(),
            queue_on_shortage=cmd.queue_on_shortage,
        )
        outcome = await reserving.reserve(self._deps, request, attempts=self._attempts)
        if outcome.reservation is None and not cmd.queue_on_shortage:
            raise reserving.insufficient_stock(cmd.order_id, outcome.shortages)
        return outcome

    async def release(self, cmd: ChangeReservation) -> Reservation:
        require_staff(cmd.principal)
        v = Violations()
        v.text(cmd.reason, "reason", max_len=500)
        v.raise_if_any()
        return await self._transition(cmd, lambda uow, r: release_in(uow, r, cmd.reason, self._deps.clock()))

    async def commit(self, cmd: ChangeReservation) -> Reservation:
        return await self._transition(cmd, lambda uow, r: commit_in(uow, r, self._deps.clock()))

    async def consume(self, cmd: ChangeReservation) -> Reservation:
        return await self._transition(cmd, lambda uow, r: consume_in(uow, r, self._deps.clock()))

    async def _transition(self, cmd: ChangeReservation, move: Transition) -> Reservation:
        require_staff(cmd.principal)

        async def attempt(uow: UnitOfWork) -> Reservation:
            reservation = await load_reservation(uow, cmd.reservation_id)
            await move(uow, reservation)
            return reservation

        return await self._deps.uows.transact(attempt, attempts=self._attempts)

    async def get(self, query: Get) -> Reservation:
        require_staff(query.principal)
        async with self._deps.uows.read() as uow:
            return await load_reservation(uow, query.key)

    async def batch_get(self, query: BatchGet) -> BatchResult[str, ReservationView]:
        require_staff(query.principal)
        async with self._deps.uows.read() as uow:
            found = await uow.reservations.get_many(set(query.keys))
        return batch_result(query.keys, found, allow_missing=query.allow_missing, label=lambda i: f"reservations/{i}")

    async def list_reservations(self, query: ListReservations) -> Page[ReservationView]:
        """By (create time, id); pages of up to 1000 when the reservations of given orders are listed."""
        require_staff(query.principal)
        v = Violations()
        for i, order_id in enumerate(query.order_ids):
            check_id(v, order_id, f"order_ids[{i}]")
        v.check(len(query.order_ids) <= MAX_BATCH, "order_ids", f"at most {MAX_BATCH} order ids")
        v.raise_if_any()
        order_ids = sorted(set(query.order_ids))
        states = sorted(set(query.states))
        page = Pager.of(
            self._deps.tokens,
            query.page,
            scope=query.principal.scope,
            filters={"listing": "reservations", "order_ids": order_ids, "states": [s.value for s in states]},
            maximum=MAX_BATCH if order_ids else MAX_PAGE_SIZE,
        )
        async with self._deps.uows.read() as uow:
            rows = await uow.reservations.find(
                order_ids, states, page.after(lambda k: parse_key(k, datetime, str)), page.limit
            )
        return page.page(rows, lambda r: [iso(r.create_time), r.reservation_id])

    async def list_shortages(self, query: ListQuery) -> Page[Shortage]:
        """Waiting orders' shortages in the order they will be served in."""
        require_staff(query.principal)
        page = pager(self._deps, query, "shortages", scope=query.principal.scope)
        async with self._deps.uows.read() as uow:
            rows = await uow.waiting.shortages(
                page.after(lambda k: parse_key(k, int, datetime, str, str, str)), page.limit
            )
        return page.page(
            rows, lambda s: [int(s.priority), iso(s.since_time), s.order_id, s.kind.value, s.material_code]
        )


async def load_reservation(uow: UnitOfWork, reservation_id: str) -> Reservation:
    reservation = await uow.reservations.get(reservation_id)
    if reservation is None:
        raise NotFound(f"reservation {reservation_id} not found", metadata={"name": f"reservations/{reservation_id}"})
    return reservation
