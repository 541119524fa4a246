"""Order use cases: intake, reads, cancel and ship (authorization by the acting principal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mes_kernel.batch import batch_result, check_batch_size
from mes_kernel.clock import as_utc
from mes_kernel.errors import FieldViolation, InvalidArgument, NotFound
from mes_kernel.paging import Page, Pager
from mes_kernel.principal import Principal, check_partner_access, require_staff
from mes_kernel.validation import Violations, parse_name
from services.orders.domain.catalogue import CatalogueKind
from services.orders.domain.events import OrderSubmitted, status_events
from services.orders.domain.intake import check_catalogue, validate_order
from services.orders.domain.order import Order, StatusChange, new_order_id
from services.orders.domain.status import OrderStatus
from services.orders.service_layer.commands import (
    BatchGetOrders,
    CancelOrder,
    CountOrders,
    GetOrder,
    ListOrders,
    ListOrderStatusChanges,
    ShipOrder,
    SubmitOrder,
)
from services.orders.service_layer.ports import OrderFilter, OrderView, UnitOfWork
from services.orders.service_layer.use_case import UseCase

__all__ = ["OrderService", "Submitted"]

_ORDER_NOT_FOUND = "order not found"
_PARTNER_NOT_FOUND = "partner not found"


@dataclass(frozen=True)
class Submitted:
    order: Order
    #: True when an earlier request with the same request_id created the order.
    replayed: bool


def _cause(principal: Principal, request_id: str = "") -> str:
    """What caused a change made by a caller: its request id, or the caller."""
    return f"request:{request_id}" if request_id else principal.label


def _idempotency_scope(principal: Principal, method: str) -> str:
    who = f"partner:{principal.partner_id}" if principal.partner_id else principal.label
    return f"{who}:{method}"


def _parent(principal: Principal, parent: str) -> str | None:
    """The partner a call is confined to: the caller's own for partners (another partner's
    parent answers NOT_FOUND, like a missing partner), the parent's (or None: all) for staff."""
    if not parent:
        return principal.scope
    partner_id = parse_name(parent, "partners", "parent")
    check_partner_access(principal, partner_id, "partner")
    return partner_id


async def _load(uow: UnitOfWork, order_id: str, scope: str | None, *, for_update: bool = False) -> Order:
    order = await uow.orders.get(order_id, partner_id=scope, for_update=for_update)
    if order is None:
        raise NotFound(_ORDER_NOT_FOUND)
    return order


class OrderService(UseCase):
    # -- intake -----------------------------------------------------------------------

    async def submit(self, cmd: SubmitOrder) -> Submitted:
        partner_id = _parent(cmd.principal, cmd.parent)
        if partner_id is None:
            raise InvalidArgument(
                "parent is required for callers that are not partners",
                violations=[FieldViolation("parent", "is required: 'partners/{partner_id}'")],
            )
        priority, due_time, lines = validate_order(
            partner_reference=cmd.partner_reference,
            priority=cmd.priority,
            due_time=cmd.due_time,
            lines=cmd.lines,
            request_id=cmd.request_id,
        )

        async def create(uow: UnitOfWork) -> tuple[str, Order]:
            if not await uow.partners.exists(partner_id):
                raise NotFound(_PARTNER_NOT_FOUND)
            styles = await uow.catalogue.active_codes(CatalogueKind.STYLE, {line.style_code for line in lines})
            alloys = await uow.catalogue.active_codes(CatalogueKind.ALLOY, {line.alloy_code for line in lines})
            check_catalogue(lines, styles, alloys)
            order = Order.submit(
                order_id=new_order_id(),
                partner_id=partner_id,
                partner_reference=cmd.partner_reference,
                priority=priority,
                due_time=due_time,
                lines=lines,
                cause=_cause(cmd.principal, cmd.request_id),
                now=self._clock(),
            )
            await uow.orders.add(order)
            await uow.emit(OrderSubmitted(order))
            return order.name, order

        order, replayed = await self._uows.idempotent(
            scope=f"partner:{partner_id}:SubmitOrder",
            request_id=cmd.request_id,
            fingerprint=cmd.fingerprint,
            create=create,
            load=lambda uow, name: _load(uow, name.removeprefix("orders/"), partner_id),
        )
        return Submitted(order, replayed)

    # -- reads ------------------------------------------------------------------------

    async def get(self, query: GetOrder) -> Order:
        order_id = parse_name(query.name, "orders")
        async with self._uows.read() as uow:
            return await _load(uow, order_id, query.principal.scope)

    async def batch_get(self, query: BatchGetOrders) -> tuple[list[OrderView], list[str]]:
        """Orders in the order of the names (duplicates repeated) and the names not found."""
        check_batch_size(len(query.names))
        ids = [parse_name(name, "orders", f"names[{i}]") for i, name in enumerate(query.names)]
        async with self._uows.read() as uow:
            found = await uow.orders.get_many(ids, partner_id=query.principal.scope)
        by_name = {f"orders/{order_id}": order for order_id, order in found.items()}
        result = batch_result(query.names, by_name, allow_missing=True, label=str)
        if result.missing and not query.allow_missing:
            raise NotFound(_ORDER_NOT_FOUND)  # the same answer for a foreign order and a missing one
        return result.items, result.missing

    async def list_orders(self, query: ListOrders) -> Page[OrderView]:
        partner_id = _parent(query.principal, query.parent)
        statuses = sorted(set(query.statuses))
        filters = {"parent": partner_id, "statuses": [s.value for s in statuses], "late_only": query.late_only}
        pager = Pager.of(self._tokens, query.page, scope=query.principal.scope, filters=filters)
        after = pager.after(_created_key)
        async with self._uows.read() as uow:
            rows = await uow.orders.find(
                OrderFilter(partner_id, statuses, query.late_only), now=self._clock(), after=after, limit=pager.limit
            )
        return pager.page(rows, lambda order: [as_utc(order.create_time).isoformat(), order.order_id])

    async def count(self, query: CountOrders) -> tuple[dict[OrderStatus, int], int]:
        """(orders per status, every status present; late orders) for the scope."""
        partner_id = _parent(query.principal, query.parent)
        async with self._uows.read() as uow:
            counts, late = await uow.orders.count(partner_id, now=self._clock())
        return {status: counts.get(status, 0) for status in OrderStatus}, late

    async def status_changes(self, query: ListOrderStatusChanges) -> Page[StatusChange]:
        order_id = parse_name(query.parent, "orders", "parent")
        scope = query.principal.scope
        pager = Pager.of(self._tokens, query.page, scope=scope, filters={"parent": order_id})
        after = pager.after(lambda key: int(key[0]))
        async with self._uows.read() as uow:
            await _load(uow, order_id, scope)
            rows = await uow.orders.status_changes(order_id, after_version=after or 0, limit=pager.limit)
        return pager.page(rows, lambda change: [change.version])

    # -- changes ----------------------------------------------------------------------

    async def cancel(self, cmd: CancelOrder) -> Order:
        """SUBMITTED/ACCEPTED/ON_HOLD/IN_PRODUCTION -> CANCELLED; a cancelled order is returned as is."""
        order_id = parse_name(cmd.name, "orders")
        v = Violations()
        v.text(cmd.reason, "reason", max_len=500)
        v.request_id(cmd.request_id)
        v.raise_if_any()
        # The default reason is shown to partners too: it names who cancelled in their terms.
        reason = cmd.reason or (
            "cancelled by the partner" if cmd.principal.kind == "partner" else "cancelled by the manufacturer"
        )
        return await self._finish(
            cmd.principal, "CancelOrder", order_id, OrderStatus.CANCELLED, reason, cmd.request_id, cmd.fingerprint
        )

    async def ship(self, cmd: ShipOrder) -> Order:
        """READY_TO_SHIP -> SHIPPED (staff only); a shipped order is returned as is."""
        require_staff(cmd.principal)
        order_id = parse_name(cmd.name, "orders")
        v = Violations()
        v.text(cmd.tracking_reference, "tracking_reference", max_len=64)
        v.request_id(cmd.request_id)
        v.raise_if_any()
        return await self._finish(
            cmd.principal,
            "ShipOrder",
            order_id,
            OrderStatus.SHIPPED,
            f"tracking {cmd.tracking_reference}" if cmd.tracking_reference else "",
            cmd.request_id,
            cmd.fingerprint,
            tracking_reference=cmd.tracking_reference,
        )

    async def _finish(
        self,
        principal: Principal,
        method: str,
        order_id: str,
        target: OrderStatus,
        reason: str,
        request_id: str,
        fingerprint: str,
        *,
        tracking_reference: str = "",
    ) -> Order:
        """Move an order to a final status once (idempotent by request_id and by status)."""
        scope = principal.scope

        async def create(uow: UnitOfWork) -> tuple[str, Order]:
            order = await _load(uow, order_id, scope, for_update=True)
            if order.status is target:
                return order.name, order
            expected = order.version
            change = order.transition(target, reason=reason, cause=_cause(principal, request_id), now=self._clock())
            if tracking_reference:
                order.tracking_reference = tracking_reference
            await uow.orders.save(order, expected_version=expected)
            for event in status_events(order, change):
                await uow.emit(event)
            return order.name, order

        order, _ = await self._uows.idempotent(
            scope=_idempotency_scope(principal, method),
            request_id=request_id,
            fingerprint=fingerprint,
            create=create,
            load=lambda uow, _name: _load(uow, order_id, scope),
        )
        return order


def _created_key(key: list[Any]) -> tuple[datetime, str]:
    created = datetime.fromisoformat(str(key[0]))
    if created.tzinfo is None:
        raise ValueError("naive time in page token")
    return created, str(key[1])
