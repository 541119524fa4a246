"""Handlers that the event consumers call (the order saga and the catalogue copy).

Each is idempotent and tolerates duplicate and out-of-order delivery: a transition
that already happened, or that is no longer possible, is a no-op (an empty list),
never an error. Pass ``uows`` borrowed from the consumer's transaction (for its inbox
row) to run inside it; without it each call commits its own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mes_kernel.validation import Violations
from services.orders.domain.catalogue import CatalogueItem, CatalogueKind
from services.orders.domain.events import status_events
from services.orders.domain.order import StatusChange
from services.orders.domain.status import OrderStatus, forward_path
from services.orders.service_layer.ports import UnitOfWork, UnitsOfWork
from services.orders.service_layer.use_case import UseCase

__all__ = ["OrderEventHandlers"]

_log = logging.getLogger("mes.orders")
S = OrderStatus
# Reason recorded when an order moves forward because of an event.
_FORWARD_REASONS = {
    S.ACCEPTED: "materials reserved",
    S.IN_PRODUCTION: "work orders released",
    S.READY_TO_SHIP: "all work orders completed",
}
Plan = Callable[[OrderStatus], list[tuple[OrderStatus, str]]]


def _forward(target: OrderStatus) -> Plan:
    return lambda status: [(step, _FORWARD_REASONS[step]) for step in forward_path(status, target)]


def _only_from(source: OrderStatus, target: OrderStatus, reason: str) -> Plan:
    return lambda status: [(target, reason)] if status is source else []


class OrderEventHandlers(UseCase):
    async def on_reservation_held(
        self, order_id: str, cause: str, *, uows: UnitsOfWork | None = None
    ) -> list[StatusChange]:
        """``inventory.reservation.held``: SUBMITTED or ON_HOLD -> ACCEPTED."""
        return await self._apply(order_id, cause, _forward(S.ACCEPTED), uows)

    async def on_reservation_failed(
        self, order_id: str, reason: str, cause: str, *, uows: UnitsOfWork | None = None
    ) -> list[StatusChange]:
        """``inventory.reservation.failed``: SUBMITTED -> ON_HOLD.

        Only from SUBMITTED: an order that is ACCEPTED already holds its reservation, so a
        failure seen then is a stale delivery of an earlier attempt.
        """
        return await self._apply(order_id, cause, _only_from(S.SUBMITTED, S.ON_HOLD, reason), uows)

    async def on_work_orders_released(
        self, order_id: str, cause: str, *, uows: UnitsOfWork | None = None
    ) -> list[StatusChange]:
        """``production.work_orders.released``: -> IN_PRODUCTION (via ACCEPTED if SUBMITTED/ON_HOLD)."""
        return await self._apply(order_id, cause, _forward(S.IN_PRODUCTION), uows)

    async def on_order_completed(
        self, order_id: str, cause: str, *, uows: UnitsOfWork | None = None
    ) -> list[StatusChange]:
        """``production.work_order.completed`` with ``order_completed``: -> READY_TO_SHIP
        (through the statuses in between when their events have not arrived yet)."""
        return await self._apply(order_id, cause, _forward(S.READY_TO_SHIP), uows)

    async def on_requirements_failed(
        self, order_id: str, reason: str, cause: str, *, uows: UnitsOfWork | None = None
    ) -> list[StatusChange]:
        """``production.requirements.failed``: SUBMITTED -> REJECTED."""
        return await self._apply(order_id, cause, _only_from(S.SUBMITTED, S.REJECTED, reason), uows)

    async def apply_catalogue_item(
        self,
        kind: CatalogueKind,
        code: str,
        display_name: str,
        active: bool,
        source_version: int,
        *,
        uows: UnitsOfWork | None = None,
    ) -> bool:
        """``production.style.upserted`` / ``inventory.alloy.upserted``: store the copy when its
        source version is newer than the stored one; returns whether it was stored."""
        v = Violations()
        v.code(code, "code")
        v.non_negative(source_version, "source_version")
        v.raise_if_any("catalogue item is invalid")
        item = CatalogueItem(CatalogueKind(kind), code, display_name[:120], active, source_version)
        return await (uows or self._uows).transact(lambda uow: uow.catalogue.upsert_if_newer(item))

    async def _apply(self, order_id: str, cause: str, plan: Plan, uows: UnitsOfWork | None) -> list[StatusChange]:
        async def apply(uow: UnitOfWork) -> list[StatusChange]:
            order = await uow.orders.lock(order_id)
            if order is None:
                _log.warning("event for unknown order %s (cause %s)", order_id, cause)
                return []
            steps = plan(order.status)
            if not steps:
                return []
            expected = order.version
            now = self._clock()
            changes = [order.transition(target, reason=reason, cause=cause, now=now) for target, reason in steps]
            await uow.orders.save(order, expected_version=expected)
            for change in changes:
                for event in status_events(order, change):
                    await uow.emit(event, causation_id=cause)
            return changes

        return await (uows or self._uows).transact(apply)
