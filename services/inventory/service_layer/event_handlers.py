"""Handlers the event consumers call (one per reaction of inventory to another service).

Every handler is idempotent and tolerant of duplicated and out-of-order events. An event
consumer calls them on units of work borrowed from its transaction (``bound``), whose
events carry the handled event's id as their cause; ``cause`` (the handled event's id) is
also the idempotency key where a handler appends to the ledger.

* ``reserve_for_order``    requirements computed by production for a submitted order
* ``retry_waiting_orders`` a pass over every waiting order (the sweeper runs it at start,
  periodically and when woken by inventory.lot.received or inventory.reservation.released)
* ``release_for_order``    order cancelled (``keep_committed``: metal out on the shop floor
  stays issued until production reports what comes back)
* ``commit_for_order``     work orders released
* ``consume_for_order``    order produced
* ``record_operation_loss`` operation done with a loss
* ``return_metal``         metal given back to stores by production
* ``settle_cancelled_work`` production cancelled the order's work orders: ``return_metal``
  then ``release_for_order`` (what the order still holds goes back to its lots)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from mes_kernel.errors import InvalidArgument
from mes_kernel.validation import Violations
from services.inventory.domain.allocation import totals_by_material
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import CustodyEntry, CustodyKind, order_holder
from services.inventory.domain.lots import MaterialLot
from services.inventory.domain.materials import MAX_WEIGHT_MG, MaterialKey, MaterialKind, Priority
from services.inventory.domain.reservations import Reservation, ReservationState
from services.inventory.domain.waiting import WaitingOrder
from services.inventory.service_layer import reserving
from services.inventory.service_layer.commands import RequirementInput
from services.inventory.service_layer.common import check_id, digest, new_id
from services.inventory.service_layer.custody import MAX_NAME_LEN, load_entry
from services.inventory.service_layer.ports import InventoryDeps, UnitOfWork, UnitOfWorkFactory, WaitingKey
from services.inventory.service_layer.stock import receive_into_stores
from services.inventory.service_layer.transitions import commit_in, consume_in, record, release_in, return_outstanding

__all__ = ["EventHandlers", "RetryReport"]


@dataclass(frozen=True)
class RetryReport:
    #: Reservations made by this pass, in the order they were made.
    reserved: tuple[Reservation, ...]
    #: Orders the pass saw waiting that still wait, in serve order (without any free stock it
    #: looks at the first page only).
    still_waiting: tuple[str, ...]


class EventHandlers:
    def __init__(self, deps: InventoryDeps, *, attempts: int, retry_batch: int) -> None:
        self._deps = deps
        self._attempts = attempts
        #: How many waiting orders one retry pass looks at.
        self._retry_batch = retry_batch

    def bound(self, uows: UnitOfWorkFactory) -> EventHandlers:
        """These handlers on other units of work (e.g. borrowed from an event consumer's transaction)."""
        return EventHandlers(replace(self._deps, uows=uows), attempts=self._attempts, retry_batch=self._retry_batch)

    async def reserve_for_order(
        self,
        order_id: str,
        priority: Priority | None,
        requirements: Sequence[RequirementInput],
        submit_time: datetime | None,
    ) -> reserving.ReserveOutcome:
        """Reserve all or queue the order as waiting (ReservationFailedEvent the first time).

        A no-op returning the earlier result when the order already has a reservation in
        any state, or was released (cancelled) before this event arrived.
        """
        request = reserving.ReserveRequest(
            order_id=order_id,
            priority=priority or Priority.NORMAL,
            requirements=reserving.validate(order_id, requirements),
            submit_time=submit_time or self._deps.clock(),
            queue_on_shortage=True,
            mode=reserving.Mode.EVENT,
        )
        return await reserving.reserve(self._deps, request, attempts=self._attempts)

    async def retry_waiting_orders(self) -> RetryReport:
        """One pass over every waiting order, by priority then submit time, in pages of
        ``retry_batch``: an order that the free stock covers is reserved (each success emits
        held), the others keep waiting. Each reservation is a unit of work of its own, so on the
        service's own units of work (the waiting-orders sweeper) a pass over thousands of orders
        is as many short transactions, none holding a lot's lock for long. Without any free
        stock the pass reads nothing more."""
        reserved: list[Reservation] = []
        still: list[str] = []
        after: WaitingKey | None = None
        while True:
            async with self._deps.uows.write() as uow:  # the writer: decide on the latest state
                if after is None and not await uow.lots.any_free():
                    waiting = await uow.waiting.in_serve_order(self._retry_batch)
                    return RetryReport((), tuple(order.order_id for order in waiting))
                waiting = await uow.waiting.in_serve_order(self._retry_batch, after)
                codes = {r.material_code for w in waiting for r in w.requirements}
                balances = await uow.balances.balances(codes) if waiting else {}
            await self._retry_page(waiting, balances, reserved, still)
            if len(waiting) < self._retry_batch:
                return RetryReport(tuple(reserved), tuple(still))
            last = waiting[-1]
            after = (int(last.priority), last.submit_time, last.order_id)

    async def _retry_page(
        self,
        waiting: Sequence[WaitingOrder],
        balances: Mapping[str, Balance],
        reserved: list[Reservation],
        still: list[str],
    ) -> None:
        free: dict[MaterialKey, int] = {
            (b.kind, b.material_code): b.available_mg if b.kind is MaterialKind.METAL else b.available_pieces
            for b in balances.values()
            if b.kind is not None
        }
        for order in waiting:
            totals = totals_by_material(order.requirements)
            if any(free.get(key, 0) < qty for key, qty in totals.items()):
                still.append(order.order_id)  # cannot fit: spare the transaction
                continue
            request = reserving.ReserveRequest(
                order.order_id, order.priority, order.requirements, order.submit_time, True, reserving.Mode.RETRY
            )
            outcome = await reserving.reserve(self._deps, request, attempts=self._attempts)
            if outcome.created and outcome.reservation is not None:
                reserved.append(outcome.reservation)
                for key, qty in totals.items():
                    free[key] = free.get(key, 0) - qty
            elif outcome.reservation is None and not outcome.skipped:
                still.append(order.order_id)

    async def release_for_order(
        self, order_id: str, reason: str, *, keep_committed: bool = False
    ) -> Reservation | None:
        """Release the order's active reservation, drop it from the waiting list and close the
        order for later reserve_for_order events. Returns the order's latest reservation, if any.

        ``keep_committed``: a COMMITTED reservation (metal issued to the shop floor) is left
        alone; ``settle_cancelled_work`` releases it once production says what came back."""
        _check_order(order_id, reason)

        async def attempt(uow: UnitOfWork) -> Reservation | None:
            now = self._deps.clock()
            reservation = await uow.reservations.for_order(order_id)  # the active one, else the latest
            kept = keep_committed and reservation is not None and reservation.state is ReservationState.COMMITTED
            if reservation is not None and reservation.active and not kept:
                await release_in(uow, reservation, reason, now)
            await uow.waiting.remove(order_id)
            if await uow.waiting.closed_reason(order_id) is None:
                await uow.waiting.close(order_id, reason, now)
            return reservation

        return await self._deps.uows.transact(attempt, attempts=self._attempts)

    async def settle_cancelled_work(
        self, order_id: str, returned: Sequence[tuple[str, int]], cause: str
    ) -> Reservation | None:
        """Production cancelled the order's work: the metal it gives back (``returned``, may be
        empty) goes to stores first, then the reservation is released, which returns what the
        order still holds by the ledger. Each metal is returned once, whatever the order of the
        cancellation events."""
        if returned:
            await self.return_metal(order_id, returned, cause)
        return await self.release_for_order(order_id, "work orders cancelled")

    async def commit_for_order(self, order_id: str) -> Reservation | None:
        """HELD -> COMMITTED (issue to the order); a no-op when committed, consumed, released or absent."""
        return await self._advance(order_id, consume=False)

    async def consume_for_order(self, order_id: str) -> Reservation | None:
        """-> CONSUMED (committing first if the commit event was missed); no-op when released or absent."""
        return await self._advance(order_id, consume=True)

    async def _advance(self, order_id: str, *, consume: bool) -> Reservation | None:
        _check_order(order_id)

        async def attempt(uow: UnitOfWork) -> Reservation | None:
            reservation = await uow.reservations.for_order(order_id)
            if reservation is None or reservation.state is ReservationState.RELEASED:
                return reservation
            await commit_in(uow, reservation, self._deps.clock())
            if consume:
                await consume_in(uow, reservation, self._deps.clock())
            return reservation

        return await self._deps.uows.transact(attempt, attempts=self._attempts)

    async def record_operation_loss(
        self, operation_name: str, order_id: str, alloy_code: str, loss_mg: int, operator_code: str, cause: str
    ) -> CustodyEntry | None:
        """A custody LOSS entry (holder ``orders/{order_id}``, reference the operation), once per
        (operation, cause). A loss of 0 records nothing (None)."""
        v = Violations()
        v.text(operation_name, "operation_name", max_len=MAX_NAME_LEN, required=True)
        check_id(v, order_id, "order_id")
        v.code(alloy_code, "alloy_code")
        v.non_negative(loss_mg, "loss_mg", maximum=MAX_WEIGHT_MG)
        if operator_code:
            v.code(operator_code, "operator_code")
        v.raise_if_any()
        if loss_mg == 0:
            return None

        async def create(uow: UnitOfWork) -> tuple[str, CustodyEntry]:
            entry = CustodyEntry.of(
                new_id(),
                CustodyKind.LOSS,
                order_holder(order_id),
                (MaterialKind.METAL, alloy_code),
                loss_mg,
                self._deps.clock(),
                reference=operation_name,
                operator_code=operator_code,
            )
            await record(uow, entry)
            return f"custodyEntries/{entry.entry_id}", entry

        entry, _replayed = await self._deps.uows.idempotent(
            scope="events:RecordOperationLoss",
            request_id=digest(operation_name, cause) if cause else "",
            fingerprint=digest(order_id, alloy_code, loss_mg, operator_code),
            create=create,
            load=load_entry,
        )
        return entry

    async def return_metal(self, order_id: str, returned: Sequence[tuple[str, int]], cause: str) -> list[CustodyEntry]:
        """Metal given back to stores: into the lots it was issued from (up to what the order
        still holds there), any excess into a new lot. Custody RETURN entries; once per cause."""
        totals = _check_returns(order_id, returned)
        await self._check_alloys(totals)

        async def create(uow: UnitOfWork) -> tuple[str, list[CustodyEntry]]:
            batch_id, now = new_id(), self._deps.clock()
            entries: list[CustodyEntry] = []
            for code, weight in totals.items():
                written, excess = await return_outstanding(
                    uow, order_id, MaterialKind.METAL, code, weight, batch_id=batch_id, now=now
                )
                entries.extend(written)
                if excess > 0:
                    lot = MaterialLot.receive(
                        lot_id=new_id(),
                        kind=MaterialKind.METAL,
                        material_code=code,
                        weight_mg=excess,
                        pieces=0,
                        weight_points=0,
                        supplier_reference=f"returned by {order_holder(order_id)}",
                        now=now,
                    )
                    reference = order_holder(order_id)
                    entries.append(
                        await receive_into_stores(
                            uow, lot, custody_kind=CustodyKind.RETURN, custody_reference=reference, batch_id=batch_id
                        )
                    )
            return f"custodyBatches/{batch_id}", entries

        entries, _replayed = await self._deps.uows.idempotent(
            scope="events:ReturnMetal",
            request_id=digest(order_id, cause) if cause else "",
            fingerprint=digest(sorted(totals.items())),
            create=create,
            load=lambda uow, name: uow.custody.batch(name.removeprefix("custodyBatches/")),
        )
        return entries

    async def _check_alloys(self, totals: dict[str, int]) -> None:
        async with self._deps.uows.read() as uow:
            known = await uow.alloys.get_many(set(totals))
        unknown = [code for code in totals if code not in known]
        if unknown:
            raise InvalidArgument(
                f"alloy {unknown[0]} is not known", reason="UNKNOWN_ALLOY", metadata={"material_code": unknown[0]}
            )


def _check_order(order_id: str, reason: str = "") -> None:
    v = Violations()
    check_id(v, order_id, "order_id")
    v.text(reason, "reason", max_len=500)
    v.raise_if_any()


def _check_returns(order_id: str, returned: Sequence[tuple[str, int]]) -> dict[str, int]:
    v = Violations()
    check_id(v, order_id, "order_id")
    totals: dict[str, int] = {}
    for i, (code, weight) in enumerate(returned):
        v.code(code, f"returned[{i}].alloy_code")
        v.positive(weight, f"returned[{i}].weight_mg", maximum=MAX_WEIGHT_MG)
        totals[code] = totals.get(code, 0) + weight
    if not returned:
        v.add("returned", "at least one alloy weight is required")
    v.raise_if_any()
    return totals
