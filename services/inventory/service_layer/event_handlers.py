"""Handlers the event consumers call (one per reaction of inventory to another service).

Every handler is idempotent and tolerant of duplicated and out-of-order events:
``cause`` is the id of the event being handled; it becomes the causation id of
the events written and, where a handler appends to the ledger, its idempotency key.

* ``reserve_for_order``   orders.order.submitted (requirements from production's BOM explosion)
* ``retry_waiting_orders`` inventory.lot.received, inventory.reservation.released, custody RETURN
* ``release_for_order``   order cancelled (``keep_committed``: metal out on the shop floor
  stays issued until production reports what comes back)
* ``commit_for_order``    work orders released
* ``consume_for_order``   order produced
* ``record_operation_loss`` operation done with a loss
* ``return_metal``        metal given back to stores by production
* ``settle_cancelled_work`` production cancelled the order's work orders: ``return_metal``
  then ``release_for_order`` (what the order still holds goes back to its lots)

``bound(uow)`` gives the same handlers on another unit of work, e.g. one borrowed from an
event consumer's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from mes_kernel.errors import InvalidArgument
from mes_kernel.validation import Violations
from services.inventory.domain.allocation import totals_by_material
from services.inventory.domain.custody import CustodyEntry, CustodyKind, order_holder
from services.inventory.domain.events import CustodyRecorded
from services.inventory.domain.materials import MAX_WEIGHT_MG, MaterialKey, MaterialKind, Priority
from services.inventory.domain.reservations import Reservation, ReservationState
from services.inventory.service_layer import reserving
from services.inventory.service_layer.commands import RequirementInput, ReserveOrder
from services.inventory.service_layer.common import Deps, check_id, digest
from services.inventory.service_layer.custody import MAX_NAME_LEN
from services.inventory.service_layer.ports import UnitOfWork
from services.inventory.service_layer.stock import receive_into_stores
from services.inventory.service_layer.transitions import (
    commit_in,
    consume_in,
    custody_entry,
    release_in,
    return_outstanding,
)

__all__ = ["EventHandlers", "RetryReport"]


@dataclass(frozen=True)
class RetryReport:
    #: Reservations made by this pass, in the order they were made.
    reserved: tuple[Reservation, ...]
    #: Orders still waiting after the pass, in serve order.
    still_waiting: tuple[str, ...]


class EventHandlers:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def bound(self, uow: UnitOfWork) -> EventHandlers:
        """These handlers on ``uow`` (e.g. inside an event consumer's transaction)."""
        return EventHandlers(replace(self._deps, uow=uow))

    async def reserve_for_order(
        self,
        order_id: str,
        priority: Priority | None,
        requirements: Sequence[RequirementInput],
        submit_time: datetime | None,
        cause: str,
    ) -> reserving.ReserveOutcome:
        """Reserve all or queue the order as waiting (ReservationFailedEvent the first time).

        A no-op returning the earlier result when the order already has a reservation in
        any state, or was released (cancelled) before this event arrived.
        """
        cmd = ReserveOrder(order_id, tuple(requirements), priority, True, submit_time)
        request = reserving.ReserveRequest(
            order_id=order_id,
            priority=priority or Priority.NORMAL,
            requirements=reserving.validate(cmd),
            submit_time=submit_time or self._deps.clock(),
            queue_on_shortage=True,
            mode=reserving.Mode.EVENT,
            causation_id=cause,
        )
        return await reserving.reserve(self._deps, request)

    async def retry_waiting_orders(self, cause: str) -> RetryReport:
        """Try waiting orders by priority, then submit time; each success emits held."""
        async with self._deps.uow.write() as tx:  # the writer: decide on the latest state
            waiting = await tx.waiting.in_serve_order(self._deps.retry_batch)
            codes = {r.material_code for w in waiting for r in w.requirements}
            balances = await tx.balances.balances(codes) if waiting else {}
        free: dict[MaterialKey, int] = {}
        for b in balances.values():
            if b.kind is not None:
                free[(b.kind, b.material_code)] = b.available_mg if b.kind is MaterialKind.METAL else b.available_pieces
        reserved: list[Reservation] = []
        still: list[str] = []
        for order in waiting:
            totals = totals_by_material(order.requirements)
            if any(free.get(key, 0) < qty for key, qty in totals.items()):
                still.append(order.order_id)  # cannot fit: spare the transaction
                continue
            outcome = await reserving.reserve(
                self._deps,
                reserving.ReserveRequest(
                    order.order_id,
                    order.priority,
                    order.requirements,
                    order.submit_time,
                    queue_on_shortage=True,
                    mode=reserving.Mode.RETRY,
                    causation_id=cause,
                ),
            )
            if outcome.created and outcome.reservation is not None:
                reserved.append(outcome.reservation)
                for key, qty in totals.items():
                    free[key] = free.get(key, 0) - qty
            elif outcome.reservation is None and not outcome.skipped:
                still.append(order.order_id)
        return RetryReport(tuple(reserved), tuple(still))

    async def release_for_order(
        self, order_id: str, reason: str, cause: str, *, keep_committed: bool = False
    ) -> Reservation | None:
        """Release the order's active reservation, drop it from the waiting list and close the
        order for later reserve_for_order events. Returns the order's latest reservation, if any.

        ``keep_committed``: a COMMITTED reservation (metal issued to the shop floor) is left
        alone; ``settle_cancelled_work`` releases it once production says what came back."""
        _check_order(order_id, reason)

        async def attempt(_n: int) -> Reservation | None:
            async with self._deps.uow.write() as tx:
                reservation = await tx.reservations.active_for_order(order_id)
                if reservation is not None:
                    if not (keep_committed and reservation.state is ReservationState.COMMITTED):
                        await release_in(self._deps, tx, reservation, reason, cause)
                else:
                    reservation = await tx.reservations.latest_for_order(order_id)
                await tx.waiting.remove(order_id)
                if await tx.waiting.closed_reason(order_id) is None:
                    await tx.waiting.close(order_id, reason, self._deps.clock())
                return reservation

        return await self._deps.retrying(attempt)

    async def settle_cancelled_work(
        self, order_id: str, returned: Sequence[tuple[str, int]], cause: str
    ) -> Reservation | None:
        """Production cancelled the order's work: the metal it gives back (``returned``, may be
        empty) goes to stores first, then the reservation is released, which returns what the
        order still holds by the ledger. Each metal is returned once, whatever the order of the
        cancellation events."""
        if returned:
            await self.return_metal(order_id, returned, cause)
        return await self.release_for_order(order_id, "work orders cancelled", cause)

    async def commit_for_order(self, order_id: str, cause: str) -> Reservation | None:
        """HELD -> COMMITTED (issue to the order); a no-op when committed, consumed, released or absent."""
        return await self._advance(order_id, cause, consume=False)

    async def consume_for_order(self, order_id: str, cause: str) -> Reservation | None:
        """-> CONSUMED (committing first if the commit event was missed); no-op when released or absent."""
        return await self._advance(order_id, cause, consume=True)

    async def _advance(self, order_id: str, cause: str, *, consume: bool) -> Reservation | None:
        _check_order(order_id)

        async def attempt(_n: int) -> Reservation | None:
            async with self._deps.uow.write() as tx:
                reservation = await tx.reservations.latest_for_order(order_id)
                if reservation is None or reservation.state is ReservationState.RELEASED:
                    return reservation
                await commit_in(self._deps, tx, reservation, cause)
                if consume:
                    await consume_in(self._deps, tx, reservation, cause)
                return reservation

        return await self._deps.retrying(attempt)

    async def record_operation_loss(
        self,
        operation_name: str,
        order_id: str,
        alloy_code: str,
        loss_mg: int,
        operator_code: str,
        cause: str,
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
        scope, key = "events:RecordOperationLoss", digest(operation_name, cause)
        fingerprint = digest(order_id, alloy_code, loss_mg, operator_code)

        async def attempt(_n: int) -> CustodyEntry | None:
            async with self._deps.uow.write() as tx:
                if cause:
                    earlier = await tx.idempotency.lookup(scope, key, fingerprint)
                    if earlier is not None:
                        return await tx.custody.get(earlier.removeprefix("custodyEntries/"))
                entry = custody_entry(
                    self._deps,
                    kind=CustodyKind.LOSS,
                    holder=order_holder(order_id),
                    material_code=alloy_code,
                    quantity=loss_mg,
                    material_kind=MaterialKind.METAL,
                    reference=operation_name,
                    operator_code=operator_code,
                )
                await tx.custody.add(entry)
                await tx.events.add(CustodyRecorded(entry), causation_id=cause)
                if cause:
                    await tx.idempotency.record(scope, key, fingerprint, f"custodyEntries/{entry.entry_id}")
                return entry

        return await self._deps.retrying(attempt)

    async def return_metal(self, order_id: str, returned: Sequence[tuple[str, int]], cause: str) -> list[CustodyEntry]:
        """Metal given back to stores: into the lots it was issued from (up to what the order
        still holds there), any excess into a new lot. Custody RETURN entries; once per cause."""
        totals = _check_returns(order_id, returned)
        await self._check_alloys(totals)
        scope, key = "events:ReturnMetal", digest(order_id, cause)
        fingerprint = digest(sorted(totals.items()))

        async def attempt(_n: int) -> list[CustodyEntry]:
            async with self._deps.uow.write() as tx:
                if cause:
                    earlier = await tx.idempotency.lookup(scope, key, fingerprint)
                    if earlier is not None:
                        return await tx.custody.batch(earlier.removeprefix("custodyBatches/"))
                batch_id = self._deps.new_id()
                entries: list[CustodyEntry] = []
                for code, weight in totals.items():
                    written, excess = await return_outstanding(
                        self._deps,
                        tx,
                        order_id,
                        MaterialKind.METAL,
                        code,
                        weight,
                        batch_id=batch_id,
                        causation_id=cause,
                    )
                    entries.extend(written)
                    if excess > 0:
                        _lot, entry = await receive_into_stores(
                            self._deps,
                            tx,
                            kind=MaterialKind.METAL,
                            material_code=code,
                            weight_mg=excess,
                            supplier_reference=f"returned by {order_holder(order_id)}",
                            custody_kind=CustodyKind.RETURN,
                            custody_reference=order_holder(order_id),
                            batch_id=batch_id,
                            causation_id=cause,
                        )
                        entries.append(entry)
                if cause:
                    await tx.idempotency.record(scope, key, fingerprint, f"custodyBatches/{batch_id}")
                return entries

        return await self._deps.retrying(attempt)

    async def _check_alloys(self, totals: dict[str, int]) -> None:
        async with self._deps.uow.read() as tx:
            known = await tx.alloys.get_many(set(totals))
        unknown = [code for code in totals if code not in known]
        if unknown:
            raise InvalidArgument(
                f"alloy {unknown[0]} is not known",
                reason="UNKNOWN_ALLOY",
                metadata={"material_code": unknown[0]},
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
