"""Reservation use cases behind the RPCs: reserve, release, commit, consume, reads, shortages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from mes_kernel.errors import NotFound
from mes_kernel.validation import Violations
from services.inventory.domain.materials import Priority
from services.inventory.domain.reservations import Reservation
from services.inventory.domain.waiting import Shortage
from services.inventory.service_layer import reserving
from services.inventory.service_layer.commands import ListQuery, ListReservations, ReserveOrder
from services.inventory.service_layer.common import MAX_BATCH_NAMES, Deps, check_id
from services.inventory.service_layer.ports import Tx
from services.inventory.service_layer.transitions import commit_in, consume_in, release_in

__all__ = ["Reservations"]

Transition = Callable[[Tx, Reservation], Awaitable[bool]]


class Reservations:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def reserve_order(self, cmd: ReserveOrder) -> reserving.ReserveOutcome:
        """Reserve every requirement or none; short of stock: queue (queue_on_shortage) or
        FAILED_PRECONDITION ``INSUFFICIENT_STOCK``."""
        requirements = reserving.validate(cmd)
        request = reserving.ReserveRequest(
            order_id=cmd.order_id,
            priority=cmd.priority or Priority.NORMAL,
            requirements=requirements,
            submit_time=cmd.submit_time or self._deps.clock(),
            queue_on_shortage=cmd.queue_on_shortage,
        )
        outcome = await reserving.reserve(self._deps, request)
        if outcome.reservation is None and not cmd.queue_on_shortage:
            raise reserving.insufficient_stock(cmd.order_id, outcome.shortages)
        return outcome

    async def release(self, reservation_id: str, reason: str) -> Reservation:
        _check_reason(reason)
        return await self._transition(reservation_id, lambda tx, r: release_in(self._deps, tx, r, reason))

    async def commit(self, reservation_id: str) -> Reservation:
        return await self._transition(reservation_id, lambda tx, r: commit_in(self._deps, tx, r))

    async def consume(self, reservation_id: str) -> Reservation:
        return await self._transition(reservation_id, lambda tx, r: consume_in(self._deps, tx, r))

    async def _transition(self, reservation_id: str, move: Transition) -> Reservation:
        async def attempt(_n: int) -> Reservation:
            async with self._deps.uow.write() as tx:
                reservation = await _load(tx, reservation_id)
                await move(tx, reservation)
                return reservation

        return await self._deps.retrying(attempt)

    async def get(self, reservation_id: str) -> Reservation:
        async with self._deps.uow.read() as tx:
            return await _load(tx, reservation_id)

    async def batch_get(self, ids: Sequence[str], *, allow_missing: bool) -> tuple[list[Reservation], list[str]]:
        async with self._deps.uow.read() as tx:
            found = await tx.reservations.get_many(set(ids))
        missing = [i for i in ids if i not in found]
        if missing and not allow_missing:
            raise NotFound(f"reservation {missing[0]} not found", metadata={"name": f"reservations/{missing[0]}"})
        return [found[i] for i in ids if i in found], missing

    async def list_reservations(self, query: ListReservations) -> tuple[list[Reservation], str]:
        v = Violations()
        for i, order_id in enumerate(query.order_ids):
            check_id(v, order_id, f"order_ids[{i}]")
        v.check(len(query.order_ids) <= MAX_BATCH_NAMES, "order_ids", f"at most {MAX_BATCH_NAMES} order ids")
        v.raise_if_any()
        order_ids = sorted(set(query.order_ids))
        states = sorted({s.value for s in query.states})
        filters = {"order_ids": order_ids, "states": states}
        after, size = self._deps.page_start("reservations", query.page_token, filters, query.page_size)
        async with self._deps.uow.read() as tx:
            page = await tx.reservations.page(order_ids, sorted(set(query.states)), after, size)
        return page.items, self._deps.next_token("reservations", page, filters)

    async def list_shortages(self, query: ListQuery) -> tuple[list[Shortage], str]:
        """Waiting orders' shortages in the order they will be served in."""
        after, size = self._deps.page_start("shortages", query.page_token, {}, query.page_size)
        async with self._deps.uow.read() as tx:
            page = await tx.waiting.shortages(after, size)
        return page.items, self._deps.next_token("shortages", page, {})


def _check_reason(reason: str) -> None:
    v = Violations()
    v.text(reason, "reason", max_len=500)
    v.raise_if_any()


async def _load(tx: Tx, reservation_id: str) -> Reservation:
    reservation = await tx.reservations.get(reservation_id)
    if reservation is None:
        raise NotFound(f"reservation {reservation_id} not found", metadata={"name": f"reservations/{reservation_id}"})
    return reservation
