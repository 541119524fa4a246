"""Order use cases: intake, reads, cancel and ship (authorization by the calling principal)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mes_kernel.clock import utcnow
from mes_kernel.errors import FieldViolation, InvalidArgument, NotFound
from mes_kernel.paging import PageTokens, page_size
from mes_kernel.validation import Violations, parse_name
from mes_platform.auth import current_principal, partner_scope, require_staff
from services.orders.domain.catalogue import CatalogueKind
from services.orders.domain.intake import check_catalogue, validate_order
from services.orders.domain.order import Order, StatusChange, new_order_id
from services.orders.domain.status import OrderStatus
from services.orders.service_layer.commands import CancelOrder, ListOrders, ShipOrder, SubmitOrder
from services.orders.service_layer.paging import Page, Pager, PageRequest
from services.orders.service_layer.ports import OrderFilter, UnitOfWork, UnitOfWorkFactory

__all__ = ["MAX_BATCH_NAMES", "OrderService", "Submitted", "caller_cause", "resolve_parent"]

MAX_BATCH_NAMES = 1000
_ORDER_NOT_FOUND = "order not found"
_PARTNER_NOT_FOUND = "partner not found"


@dataclass(frozen=True)
class Submitted:
    order: Order
    #: True when an earlier request with the same request_id created the order.
    replayed: bool


def caller_cause(request_id: str = "") -> str:
    """What caused a change made by the current caller: its request id, or the caller."""
    if request_id:
        return f"request:{request_id}"
    principal = current_principal()
    return f"{principal.kind}:{principal.subject}"


def _caller_scope() -> str:
    principal = current_principal()
    return f"partner:{principal.partner_id}" if principal.partner_id else f"{principal.kind}:{principal.subject}"


def resolve_parent(parent: str) -> str | None:
    """The partner a call is confined to: the caller's own for partners (another partner's
    parent answers NOT_FOUND, like a missing partner), the parent's (or None: all) for staff."""
    scope = partner_scope()
    if not parent:
        return scope
    partner_id = parse_name(parent, "partners", "parent")
    if scope is not None and partner_id != scope:
        raise NotFound(_PARTNER_NOT_FOUND)
    return partner_id


class OrderService:
    def __init__(
        self, uows: UnitOfWorkFactory, page_tokens: PageTokens, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._uows = uows
        self._tokens = page_tokens
        self._clock = clock

    # -- intake -----------------------------------------------------------------------

    async def submit(self, cmd: SubmitOrder) -> Submitted:
        partner_id = resolve_parent(cmd.parent)
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
        cause = caller_cause(cmd.request_id)

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
                cause=cause,
                now=self._clock(),
            )
            await uow.orders.add(order)
            await uow.events.order_submitted(order)
            return order.name, order

        order, replayed = await self._uows.idempotent(
            scope=f"partner:{partner_id}:SubmitOrder",
            request_id=cmd.request_id,
            fingerprint=cmd.fingerprint,
            create=create,
            load=lambda uow, name: self._load(uow, name.removeprefix("orders/"), partner_id),
        )
        return Submitted(order, replayed)

    # -- reads ------------------------------------------------------------------------

    async def get(self, name: str) -> Order:
        order_id = parse_name(name, "orders")
        async with self._uows.read() as uow:
            return await self._load(uow, order_id, partner_scope())

    async def batch_get(self, names: Sequence[str], *, allow_missing: bool) -> tuple[list[Order], list[str]]:
        """Orders in the order of ``names`` (duplicates repeated) and the names not found."""
        if len(names) > MAX_BATCH_NAMES:
            raise InvalidArgument(
                f"at most {MAX_BATCH_NAMES} names per call",
                violations=[FieldViolation("names", f"at most {MAX_BATCH_NAMES} names")],
            )
        ids = [parse_name(name, "orders", f"names[{i}]") for i, name in enumerate(names)]
        async with self._uows.read() as uow:
            found = await uow.orders.get_many(ids, partner_id=partner_scope())
        missing = [name for name, order_id in zip(names, ids, strict=True) if order_id not in found]
        if missing and not allow_missing:
            raise NotFound(_ORDER_NOT_FOUND)
        return [found[order_id] for order_id in ids if order_id in found], missing

    async def list_orders(self, query: ListOrders) -> Page[Order]:
        partner_id = resolve_parent(query.parent)
        size = page_size(query.page_size)
        statuses = sorted(set(query.statuses))
        pager = Pager(
            self._tokens,
            partner_scope(),
            {"parent": partner_id, "statuses": [s.value for s in statuses], "late_only": query.late_only},
        )
        after = pager.start(query.page_token, _created_key)
        async with self._uows.read() as uow:
            rows = await uow.orders.find(
                OrderFilter(partner_id, statuses, query.late_only), now=self._clock(), after=after, limit=size + 1
            )
        return pager.page(rows, size, lambda order: [order.create_time.isoformat(), order.order_id])

    async def count(self, parent: str) -> tuple[dict[OrderStatus, int], int]:
        """(orders per status, every status present; late orders) for the scope."""
        partner_id = resolve_parent(parent)
        async with self._uows.read() as uow:
            counts, late = await uow.orders.count(partner_id, now=self._clock())
        return {status: counts.get(status, 0) for status in OrderStatus}, late

    async def status_changes(self, parent: str, request: PageRequest) -> Page[StatusChange]:
        order_id = parse_name(parent, "orders", "parent")
        size = page_size(request.page_size)
        pager = Pager(self._tokens, partner_scope(), {"parent": order_id})
        after = pager.start(request.page_token, lambda key: int(key[0]))
        async with self._uows.read() as uow:
            await self._load(uow, order_id, partner_scope())
            rows = await uow.orders.status_changes(order_id, after_version=after or 0, limit=size + 1)
        return pager.page(rows, size, lambda change: [change.version])

    # -- changes ----------------------------------------------------------------------

    async def cancel(self, cmd: CancelOrder) -> Order:
        """SUBMITTED/ACCEPTED/ON_HOLD/IN_PRODUCTION -> CANCELLED; a cancelled order is returned as is."""
        order_id = parse_name(cmd.name, "orders")
        v = Violations()
        v.text(cmd.reason, "reason", max_len=500)
        v.request_id(cmd.request_id)
        v.raise_if_any()
        reason = cmd.reason or f"cancelled by {current_principal().kind}"
        return await self._finish(
            "CancelOrder", order_id, OrderStatus.CANCELLED, reason, cmd.request_id, cmd.fingerprint, partner_scope()
        )

    async def ship(self, cmd: ShipOrder) -> Order:
        """READY_TO_SHIP -> SHIPPED (staff only); a shipped order is returned as is."""
        require_staff()
        order_id = parse_name(cmd.name, "orders")
        v = Violations()
        v.text(cmd.tracking_reference, "tracking_reference", max_len=64)
        v.request_id(cmd.request_id)
        v.raise_if_any()
        return await self._finish(
            "ShipOrder",
            order_id,
            OrderStatus.SHIPPED,
            f"tracking {cmd.tracking_reference}" if cmd.tracking_reference else "",
            cmd.request_id,
            cmd.fingerprint,
            None,
            tracking_reference=cmd.tracking_reference,
        )

    async def _finish(
        self,
        method: str,
        order_id: str,
        target: OrderStatus,
        reason: str,
        request_id: str,
        fingerprint: str,
        scope: str | None,
        *,
        tracking_reference: str = "",
    ) -> Order:
        """Move an order to a final status once (idempotent by request_id and by status)."""
        cause = caller_cause(request_id)

        async def create(uow: UnitOfWork) -> tuple[str, Order]:
            order = await self._load(uow, order_id, scope, for_update=True)
            if order.status is target:
                return order.name, order
            expected = order.version
            change = order.transition(target, reason=reason, cause=cause, now=self._clock())
            if tracking_reference:
                order.tracking_reference = tracking_reference
            await uow.orders.save(order, expected_version=expected)
            await uow.events.status_changed(order, change)
            if target is OrderStatus.CANCELLED:
                await uow.events.order_cancelled(order, change)
            return order.name, order

        order, _ = await self._uows.idempotent(
            scope=f"{_caller_scope()}:{method}",
            request_id=request_id,
            fingerprint=fingerprint,
            create=create,
            load=lambda uow, _name: self._load(uow, order_id, scope),
        )
        return order

    @staticmethod
    async def _load(uow: UnitOfWork, order_id: str, scope: str | None, *, for_update: bool = False) -> Order:
        order = await uow.orders.get(order_id, partner_id=scope, for_update=for_update)
        if order is None:
            raise NotFound(_ORDER_NOT_FOUND)
        return order


def _created_key(key: list[Any]) -> tuple[datetime, str]:
    created = datetime.fromisoformat(str(key[0]))
    if created.tzinfo is None:
        raise ValueError("naive time in page token")
    return created, str(key[1])
