"""The facade's backend in unit tests: the real ``clients`` over fake channels answered in memory.

:class:`FakeBackend` is a :class:`clients.MesClients` whose three channels dispatch every RPC
(``/mes.orders.v1.OrdersService/ListOrders``) to the method of the same name in snake case
(``list_orders(request, partner=...)``), with the partner taken from the ``x-mes-partner`` metadata
the client sent. It counts calls per RPC method (``calls``), records who they acted for
(``partner_calls``), the requests and the metadata, and injects failures (``fail``) and latency
(``delay``). The data lives in plain dicts (``stored_orders``, ``work_orders``, ...).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from clients import (
    ClientConfig,
    ConflictError,
    FailedPreconditionError,
    IdempotencyKeyReusedError,
    InvalidArgumentError,
    MesClientError,
    MesClients,
    NotFoundError,
    ResourceExhaustedError,
    RetryPolicy,
    UnauthenticatedError,
)
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod

T = TypeVar("T")
ROUTING = ("CASTING", "FILING", "POLISHING", "QC", "PACKING")
MAX_PAGE = 100
MAX_ID_PAGE = 1000


def _masked(work_order: prod.WorkOrder, mask: FieldMask) -> prod.WorkOrder:
    """The work order with only the fields of a read mask (all of them without one)."""
    if not mask.paths:
        return work_order
    kept = prod.WorkOrder()
    mask.MergeMessage(work_order, kept)
    return kept


SERVICE_TOKEN = "facade-service-token"
Metadata = tuple[tuple[str, str], ...]


def _page(items: Sequence[T], size: int, token: str, *, maximum: int = MAX_PAGE) -> tuple[list[T], str]:
    """A page as the services cut it (lists filtered by ids take ``maximum=MAX_ID_PAGE``)."""
    size = MAX_PAGE if size <= 0 else min(size, maximum)
    start = int(token) if token else 0
    chunk = list(items[start : start + size])
    end = start + len(chunk)
    return chunk, (str(end) if end < len(items) else "")


def _invalid_transition(message: str) -> FailedPreconditionError:
    """What a service answers to a change its object's state does not allow."""
    return FailedPreconditionError(grpc.StatusCode.FAILED_PRECONDITION, message, reason="INVALID_STATE_TRANSITION")


def _snake(method: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()


class FakeChannel:
    """The part of ``grpc.aio.Channel`` the clients use, answered by a :class:`FakeBackend`."""

    def __init__(self, backend: FakeBackend) -> None:
        self._backend = backend

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Callable[..., Awaitable[Any]]:
        name = method.rsplit("/", 1)[-1]

        def invoke(request: Message, *, timeout: float | None = None, metadata: Metadata = ()) -> Awaitable[Any]:
            return self._backend.dispatch(name, request, tuple(metadata or ()))

        return invoke

    async def close(self, grace: float | None = None) -> None:
        return None


class FakeBackend(MesClients):
    """Data lives in plain dicts; ``calls`` counts every RPC; ``fail`` injects errors, ``delay`` latency."""

    def __init__(self) -> None:
        channel: Any = FakeChannel(self)
        super().__init__(
            ClientConfig(token=SERVICE_TOKEN, retry=RetryPolicy.disabled()),
            channels={"orders": channel, "inventory": channel, "production": channel},
        )
        self.calls: Counter[str] = Counter()
        self.partner_calls: list[tuple[str, str | None]] = []
        self.requests: list[tuple[str, Message]] = []
        self.metadata: list[tuple[str, Metadata]] = []
        self.fail: dict[str, BaseException] = {}
        self.delay: dict[str, float] = {}
        self.api_keys: dict[str, ords.Partner] = {}
        self.stored_orders: dict[str, ords.Order] = {}
        self.status_changes: dict[str, list[ords.OrderStatusChange]] = {}
        self.work_orders: dict[str, prod.WorkOrder] = {}
        self.operations: dict[str, prod.Operation] = {}
        self.reservations: dict[str, inv.Reservation] = {}
        self.styles: dict[str, prod.Style] = {}
        self.alloys: dict[str, inv.Alloy] = {}
        self.balances: dict[str, inv.Balance] = {}
        self.shortages: list[inv.Shortage] = []
        self.work_centers: dict[str, prod.WorkCenter] = {}
        #: Per work-center code, how many minutes ago its operations finished (``ListWorkCenterStats``
        #: counts those in the window; a code without an entry answers 8).
        self.finished_minutes_ago: dict[str, list[int]] = {}
        self.lots: dict[str, inv.MaterialLot] = {}
        #: Shift calendars by work-center code, and the output ``ListWorkCenterOutput`` answers per code
        #: (a known center without an entry answers an empty one: off shift).
        self.calendars: dict[str, prod.ShiftCalendar] = {}
        self.outputs: dict[str, prod.WorkCenterOutput] = {}
        self.idempotency: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.healthy = {"orders": True, "inventory": True, "production": True}
        #: Signing in, as the production service does it: operators (``add_operator``), their passwords,
        #: open sessions (token -> operator code, expiry on ``clock``) and failed attempts.
        self.operators: dict[str, prod.Operator] = {}
        self.passwords: dict[str, str] = {}
        self.sessions: dict[str, tuple[str, float]] = {}
        self.sign_in_failures: list[tuple[str, str, float]] = []
        self.session_ttl_s = 12 * 3600.0
        self.clock: Callable[[], float] = time.time
        self._ids = 0

    # -- seeding ---------------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:05d}"

    def add_partner(self, partner_id: str, api_key: str, tier: int = ords.PARTNER_TIER_STANDARD) -> None:
        self.api_keys[api_key] = ords.Partner(name=f"partners/{partner_id}", partner_id=partner_id, tier=tier)

    def add_catalogue(self) -> None:
        for sku, name in (("RNG-SOL-001", "Solitaire ring"), ("PND-HRT-002", "Heart pendant")):
            self.styles[sku] = prod.Style(
                name=f"styles/{sku}",
                sku=sku,
                display_name=name,
                category=prod.STYLE_CATEGORY_RING,
                active=True,
                routing_version=1,
            )
        for code, fineness in (("AU750Y", 750), ("AG925", 925)):
            self.alloys[code] = inv.Alloy(
                name=f"alloys/{code}", code=code, metal=inv.METAL_GOLD, fineness=fineness, active=True
            )
            self.balances[code] = inv.Balance(
                name=f"balances/{code}",
                material_code=code,
                kind=common_pb2.MATERIAL_KIND_METAL,
                on_hand_mg=10_000_000,
                reserved_mg=2_000_000,
                available_mg=8_000_000,
                fine_on_hand_mg=10_000_000 * fineness // 1000,
                fine_available_mg=8_000_000 * fineness // 1000,
            )
        for code in ("CAST-1", "FILE-1", "POL-1"):
            self.work_centers[code] = prod.WorkCenter(
                name=f"workCenters/{code}",
                code=code,
                work_center_type=code.split("-")[0],
                capacity=4,
                active=True,
                state=prod.WORK_CENTER_STATE_IDLE,
            )

    def add_operator(
        self, code: str, password: str | None = None, *, supervisor: bool = False, active: bool = True
    ) -> prod.Operator:
        role = prod.OPERATOR_ROLE_SUPERVISOR if supervisor else prod.OPERATOR_ROLE_OPERATOR
        operator = prod.Operator(name=f"operators/{code}", code=code, display_name=code, role=role, active=active)
        self.operators[code] = operator
        if password is not None:
            self.passwords[code] = password
        return operator

    def add_order(
        self,
        partner_id: str,
        *,
        status: int = ords.ORDER_STATUS_IN_PRODUCTION,
        lines: int = 1,
        with_production: bool = True,
    ) -> ords.Order:
        order_id = self.next_id("ord")
        order = ords.Order(
            name=f"orders/{order_id}",
            order_id=order_id,
            partner=f"partners/{partner_id}",
            partner_reference=f"REF-{order_id}",
            priority=common_pb2.PRIORITY_NORMAL,
            status=status,
            version=1,
            lines=[
                ords.OrderLine(line_number=n, style_code="RNG-SOL-001", alloy_code="AU750Y", size="52", quantity=1)
                for n in range(1, lines + 1)
            ],
        )
        order.create_time.GetCurrentTime()
        self.stored_orders[order_id] = order
        self.status_changes[order_id] = [
            ords.OrderStatusChange(from_status=ords.ORDER_STATUS_UNSPECIFIED, to_status=ords.ORDER_STATUS_SUBMITTED)
        ]
        if with_production:
            for line in order.lines:
                wo_id = self.next_id("wo")
                wo = prod.WorkOrder(
                    name=f"workOrders/{wo_id}",
                    work_order_id=wo_id,
                    order_id=order_id,
                    line_number=line.line_number,
                    style_sku=line.style_code,
                    alloy_code=line.alloy_code,
                    quantity=line.quantity,
                    status=prod.WORK_ORDER_STATUS_IN_PROGRESS,
                    routing_snapshot=[
                        prod.RoutingStep(sequence=i, operation_code=code, work_center_type=code)
                        for i, code in enumerate(ROUTING, start=1)
                    ],
                )
                self.work_orders[wo_id] = wo
                for step in wo.routing_snapshot:
                    op_name = f"workOrders/{wo_id}/operations/{step.sequence}"
                    self.operations[op_name] = prod.Operation(
                        name=op_name,
                        work_order_id=wo_id,
                        sequence=step.sequence,
                        operation_code=step.operation_code,
                        work_center="workCenters/CAST-1",
                        status=prod.OPERATION_STATUS_QUEUED,
                        order_id=order_id,
                    )
            res_id = self.next_id("res")
            self.reservations[res_id] = inv.Reservation(
                name=f"reservations/{res_id}",
                reservation_id=res_id,
                order_id=order_id,
                state=inv.RESERVATION_STATE_HELD,
                items=[inv.ReservationItem(lot_id="lot1", material_code="AU750Y", weight_mg=5000)],
            )
        return order

    # -- the transport -----------------------------------------------------------------------

    async def dispatch(self, method: str, request: Message, metadata: Metadata) -> Any:
        """One RPC as the service would see it: counted, delayed or failed as configured, then answered."""
        partner = next((value for key, value in metadata if key == "x-mes-partner"), None)
        self.calls[method] += 1
        self.partner_calls.append((method, partner))
        self.requests.append((method, request))
        self.metadata.append((method, metadata))
        delay = self.delay.get(method)
        if delay:
            await asyncio.sleep(delay)
        error = self.fail.get(method)
        if error is not None:
            raise error
        handler = getattr(self, _snake(method))
        if "partner" in inspect.signature(handler).parameters:
            return await handler(request, partner=partner)
        if partner is not None:
            raise AssertionError(f"{method} was sent x-mes-partner, which only orders calls take")
        return await handler(request)

    def _visible(self, order: ords.Order, partner: str | None) -> bool:
        return partner is None or order.partner == f"partners/{partner}"

    def _order(self, name: str, partner: str | None = None) -> ords.Order:
        """The order ``name`` (``orders/<id>``), NOT_FOUND when it does not exist or ``partner`` may not see it."""
        order = self.stored_orders.get(name.removeprefix("orders/"))
        if order is None or not self._visible(order, partner):
            raise NotFoundError(grpc.StatusCode.NOT_FOUND, "order not found")
        return order

    def count(self, *methods: str) -> dict[str, int]:
        return {m: self.calls[m] for m in methods} if methods else dict(self.calls)

    def reset_calls(self) -> None:
        self.calls.clear()
        self.partner_calls.clear()
        self.requests.clear()
        self.metadata.clear()

    # -- orders ----------------------------------------------------------------------------

    async def authenticate_partner(self, request: ords.AuthenticatePartnerRequest) -> ords.AuthenticatePartnerResponse:
        partner = self.api_keys.get(request.api_key)
        if partner is None:
            raise UnauthenticatedError(grpc.StatusCode.UNAUTHENTICATED, "invalid API key")
        return ords.AuthenticatePartnerResponse(partner=partner)

    async def batch_get_orders(
        self, request: ords.BatchGetOrdersRequest, *, partner: str | None = None
    ) -> ords.BatchGetOrdersResponse:
        found, missing = [], []
        for name in request.names:
            order = self.stored_orders.get(name.removeprefix("orders/"))
            if order is not None and self._visible(order, partner):
                found.append(order)
            else:
                missing.append(name)
        if missing and not request.allow_missing:
            raise NotFoundError(grpc.StatusCode.NOT_FOUND, "order not found")
        return ords.BatchGetOrdersResponse(orders=found, missing_names=missing)

    def _filtered_orders(self, partner: str | None, parent: str, statuses: Sequence[int], late: bool) -> list[Any]:
        orders = [o for o in self.stored_orders.values() if self._visible(o, partner)]
        if parent:
            orders = [o for o in orders if o.partner == parent]
        if statuses:
            orders = [o for o in orders if o.status in statuses]
        if late:
            orders = [o for o in orders if o.late]
        return orders

    async def list_orders(
        self, request: ords.ListOrdersRequest, *, partner: str | None = None
    ) -> ords.ListOrdersResponse:
        if partner is not None and request.parent not in ("", f"partners/{partner}"):
            return ords.ListOrdersResponse()
        orders = self._filtered_orders(partner, request.parent, list(request.statuses), request.late_only)
        page, token = _page(orders, request.page_size, request.page_token)
        return ords.ListOrdersResponse(orders=page, next_page_token=token)

    async def count_orders(
        self, request: ords.CountOrdersRequest, *, partner: str | None = None
    ) -> ords.CountOrdersResponse:
        counts: Counter[int] = Counter(o.status for o in self._filtered_orders(partner, request.parent, [], False))
        return ords.CountOrdersResponse(
            counts=[ords.StatusCount(status=s, count=c) for s, c in sorted(counts.items())],
            late_count=sum(1 for o in self.stored_orders.values() if o.late),
        )

    async def list_order_status_changes(
        self, request: ords.ListOrderStatusChangesRequest, *, partner: str | None = None
    ) -> ords.ListOrderStatusChangesResponse:
        order = self._order(request.parent, partner)
        page, token = _page(self.status_changes.get(order.order_id, []), request.page_size, request.page_token)
        return ords.ListOrderStatusChangesResponse(status_changes=page, next_page_token=token)

    async def submit_order(self, request: ords.SubmitOrderRequest, *, partner: str) -> ords.SubmitOrderResponse:
        fingerprint = request.SerializeToString(deterministic=True)
        known = self.idempotency.get((partner, request.request_id))
        if known is not None:
            if known[0] != fingerprint:
                raise IdempotencyKeyReusedError(
                    grpc.StatusCode.ALREADY_EXISTS, "request_id reused", reason="IDEMPOTENCY_KEY_REUSED"
                )
            return ords.SubmitOrderResponse(order=self.stored_orders[known[1]], replayed=True)
        bad = [line for line in request.lines if line.style_code not in self.styles]
        if bad:
            raise InvalidArgumentError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "unknown style",
                reason="UNKNOWN_STYLE",
                violations=[],
            )
        order_id = self.next_id("ord")
        order = ords.Order(
            name=f"orders/{order_id}",
            order_id=order_id,
            partner=f"partners/{partner}",
            partner_reference=request.partner_reference,
            priority=request.priority,
            status=ords.ORDER_STATUS_SUBMITTED,
            lines=request.lines,
            version=1,
        )
        if request.HasField("due_time"):
            order.due_time.CopyFrom(request.due_time)
        self.stored_orders[order_id] = order
        self.status_changes[order_id] = []
        self.idempotency[(partner, request.request_id)] = (fingerprint, order_id)
        return ords.SubmitOrderResponse(order=order, replayed=False)

    async def cancel_order(
        self, request: ords.CancelOrderRequest, *, partner: str | None = None
    ) -> ords.CancelOrderResponse:
        order = self._order(request.name, partner)
        if order.status in (ords.ORDER_STATUS_SHIPPED, ords.ORDER_STATUS_CANCELLED):
            raise _invalid_transition("order cannot be cancelled")
        order.status = ords.ORDER_STATUS_CANCELLED
        order.version += 1
        return ords.CancelOrderResponse(order=order)

    async def ship_order(self, request: ords.ShipOrderRequest) -> ords.ShipOrderResponse:
        order = self._order(request.name)
        if order.status != ords.ORDER_STATUS_READY_TO_SHIP:
            raise _invalid_transition("order is not ready to ship")
        order.status = ords.ORDER_STATUS_SHIPPED
        return ords.ShipOrderResponse(order=order)

    # -- production ------------------------------------------------------------------------

    async def batch_get_styles(self, request: prod.BatchGetStylesRequest) -> prod.BatchGetStylesResponse:
        found = [
            self.styles[n.removeprefix("styles/")] for n in request.names if n.removeprefix("styles/") in self.styles
        ]
        return prod.BatchGetStylesResponse(styles=found)

    async def list_styles(self, request: prod.ListStylesRequest) -> prod.ListStylesResponse:
        page, token = _page(list(self.styles.values()), request.page_size, request.page_token)
        return prod.ListStylesResponse(styles=page, next_page_token=token)

    async def list_work_centers(self, request: prod.ListWorkCentersRequest) -> prod.ListWorkCentersResponse:
        page, token = _page(list(self.work_centers.values()), request.page_size, request.page_token)
        return prod.ListWorkCentersResponse(work_centers=page, next_page_token=token)

    async def list_work_center_stats(
        self, request: prod.ListWorkCenterStatsRequest
    ) -> prod.ListWorkCenterStatsResponse:
        """Counts and bench figures from the fake's operations, as the service computes them."""
        names = list(request.work_centers) or [wc.name for wc in self.work_centers.values()]
        window = request.window_minutes or 480

        def done(name: str) -> int:
            ages = self.finished_minutes_ago.get(name.removeprefix("workCenters/"))
            return 8 if ages is None else sum(1 for age in ages if age < window)

        def stats(name: str) -> prod.WorkCenterStats:
            ops = [op for op in self.operations.values() if op.work_center == name]
            count = Counter(op.status for op in ops)
            queued_at = [
                at
                for op in ops
                if op.status == prod.OPERATION_STATUS_QUEUED and (at := self._queued_at(op)) is not None
            ]
            bench = [op for op in ops if op.status in (prod.OPERATION_STATUS_IN_PROGRESS, prod.OPERATION_STATUS_PAUSED)]
            metal: Counter[str] = Counter()
            for op in bench:
                metal[op.alloy_code] += op.weigh_in_mg
            found = prod.WorkCenterStats(
                work_center=name,
                queued=count[prod.OPERATION_STATUS_QUEUED],
                in_progress=count[prod.OPERATION_STATUS_IN_PROGRESS] + count[prod.OPERATION_STATUS_PAUSED],
                paused=count[prod.OPERATION_STATUS_PAUSED],
                in_review=count[prod.OPERATION_STATUS_LOSS_REVIEW],
                done_in_window=done(name),
                window_minutes=window,
                capacity=4,
                wip_pieces=sum(
                    self.work_orders[op.work_order_id].quantity for op in bench if op.work_order_id in self.work_orders
                ),
                wip_metal=[prod.AlloyWeight(alloy_code=a, gross_mg=g) for a, g in sorted(metal.items())],
            )
            if queued_at:
                found.oldest_queued_time.FromDatetime(min(queued_at))
            return found

        return prod.ListWorkCenterStatsResponse(stats=[stats(n) for n in names])

    def _queued_at(self, op: prod.Operation) -> datetime | None:
        """Since when a queued operation waits (the service's rule; None without any time)."""
        times = [
            step.finish_time.ToDatetime(UTC)
            for step in self.operations.values()
            if step.work_order_id == op.work_order_id and step.sequence < op.sequence and step.HasField("finish_time")
        ]
        if op.HasField("finish_time"):
            times.append(op.finish_time.ToDatetime(UTC))
        work_order = self.work_orders.get(op.work_order_id)
        if work_order is not None and work_order.HasField("create_time"):
            times.append(work_order.create_time.ToDatetime(UTC))
        return max(times, default=None)

    async def list_work_orders(self, request: prod.ListWorkOrdersRequest) -> prod.ListWorkOrdersResponse:
        wanted = set(request.order_ids)
        items = [wo for wo in self.work_orders.values() if not wanted or wo.order_id in wanted]
        maximum = MAX_ID_PAGE if wanted else MAX_PAGE
        page, token = _page(items, request.page_size, request.page_token, maximum=maximum)
        return prod.ListWorkOrdersResponse(
            work_orders=[_masked(wo, request.read_mask) for wo in page], next_page_token=token
        )

    async def batch_get_work_orders(self, request: prod.BatchGetWorkOrdersRequest) -> prod.BatchGetWorkOrdersResponse:
        ids = [n.removeprefix("workOrders/") for n in request.names]
        found = [_masked(self.work_orders[i], request.read_mask) for i in ids if i in self.work_orders]
        return prod.BatchGetWorkOrdersResponse(work_orders=found)

    async def batch_get_operations(self, request: prod.BatchGetOperationsRequest) -> prod.BatchGetOperationsResponse:
        if len(request.names) > 1000:
            raise InvalidArgumentError(grpc.StatusCode.INVALID_ARGUMENT, "too many names")
        return prod.BatchGetOperationsResponse(
            operations=[self.operations[n] for n in request.names if n in self.operations]
        )

    async def list_operations(self, request: prod.ListOperationsRequest) -> prod.ListOperationsResponse:
        items = list(self.operations.values())
        if request.work_center:
            items = [o for o in items if o.work_center == request.work_center]
        if request.work_order_ids:
            items = [o for o in items if o.work_order_id in set(request.work_order_ids)]
        if request.statuses:
            items = [o for o in items if o.status in set(request.statuses)]
        maximum = MAX_ID_PAGE if request.work_order_ids else MAX_PAGE
        page, token = _page(items, request.page_size, request.page_token, maximum=maximum)
        return prod.ListOperationsResponse(operations=page, next_page_token=token)

    async def summarize_metal_loss(self, request: prod.SummarizeMetalLossRequest) -> prod.SummarizeMetalLossResponse:
        key = "CASTING" if request.grouping == prod.LOSS_GROUPING_OPERATION_CODE else "OP-01"
        return prod.SummarizeMetalLossResponse(
            summaries=[prod.LossSummary(key=key, operations=4, weigh_in_mg=40_000, loss_mg=400, loss_ppm=10_000)]
        )

    def _operation(self, name: str) -> prod.Operation:
        op = self.operations.get(name)
        if op is None:
            raise NotFoundError(grpc.StatusCode.NOT_FOUND, "operation not found")
        return op

    def _operation_in(self, name: str, status: int, state: str) -> prod.Operation:
        """The operation ``name``, refused (INVALID_STATE_TRANSITION) unless it is in ``status`` (``state``)."""
        op = self._operation(name)
        if op.status != status:
            raise _invalid_transition(f"operation is not {state}")
        return op

    async def start_operation(self, request: prod.StartOperationRequest) -> prod.StartOperationResponse:
        op = self._operation_in(request.name, prod.OPERATION_STATUS_QUEUED, "queued")
        op.status = prod.OPERATION_STATUS_IN_PROGRESS
        op.weigh_in_mg = request.weigh_in_mg
        op.started_by = request.operator_code
        return prod.StartOperationResponse(operation=op)

    async def pause_operation(self, request: prod.PauseOperationRequest) -> prod.PauseOperationResponse:
        op = self._operation_in(request.name, prod.OPERATION_STATUS_IN_PROGRESS, "in progress")
        op.status = prod.OPERATION_STATUS_PAUSED
        op.pause_reason = request.reason.strip()
        op.pause_time.GetCurrentTime()
        return prod.PauseOperationResponse(operation=op)

    async def resume_operation(self, request: prod.ResumeOperationRequest) -> prod.ResumeOperationResponse:
        op = self._operation_in(request.name, prod.OPERATION_STATUS_PAUSED, "paused")
        op.status = prod.OPERATION_STATUS_IN_PROGRESS
        op.paused_seconds += 60
        op.pause_reason = ""
        op.ClearField("pause_time")
        return prod.ResumeOperationResponse(operation=op)

    def _work_center(self, name: str) -> prod.WorkCenter:
        center = self.work_centers.get(name.removeprefix("workCenters/"))
        if center is None:
            raise NotFoundError(grpc.StatusCode.NOT_FOUND, "work center not found")
        return center

    async def block_work_center(self, request: prod.BlockWorkCenterRequest) -> prod.BlockWorkCenterResponse:
        center = self._work_center(request.name)
        if center.state != prod.WORK_CENTER_STATE_BLOCKED:
            center.state_time.GetCurrentTime()
        center.state, center.state_reason = prod.WORK_CENTER_STATE_BLOCKED, request.reason.strip()
        return prod.BlockWorkCenterResponse(work_center=center)

    async def unblock_work_center(self, request: prod.UnblockWorkCenterRequest) -> prod.UnblockWorkCenterResponse:
        center = self._work_center(request.name)
        if center.state != prod.WORK_CENTER_STATE_BLOCKED:
            raise _invalid_transition("work center is not blocked")
        center.state, center.state_reason = prod.WORK_CENTER_STATE_IDLE, ""
        center.state_time.GetCurrentTime()
        return prod.UnblockWorkCenterResponse(work_center=center)

    async def set_shift_calendar(self, request: prod.SetShiftCalendarRequest) -> prod.SetShiftCalendarResponse:
        code = request.calendar.name.removeprefix("workCenters/").removesuffix("/calendar")
        self._work_center(f"workCenters/{code}")
        current = self.calendars.get(code)
        version = current.version if current is not None else 0
        if request.expected_version and request.expected_version != version:
            raise ConflictError(grpc.StatusCode.ABORTED, "the calendar changed", reason="VERSION_CONFLICT")
        calendar = prod.ShiftCalendar()
        calendar.CopyFrom(request.calendar)
        calendar.version = version + 1
        calendar.update_time.GetCurrentTime()
        self.calendars[code] = calendar
        return prod.SetShiftCalendarResponse(calendar=calendar)

    async def batch_get_shift_calendars(
        self, request: prod.BatchGetShiftCalendarsRequest
    ) -> prod.BatchGetShiftCalendarsResponse:
        codes = [n.removeprefix("workCenters/").removesuffix("/calendar") for n in request.names]
        return prod.BatchGetShiftCalendarsResponse(
            calendars=[self.calendars[c] for c in codes if c in self.calendars],
            missing_names=[f"workCenters/{c}/calendar" for c in codes if c not in self.calendars],
        )

    async def list_work_center_output(
        self, request: prod.ListWorkCenterOutputRequest
    ) -> prod.ListWorkCenterOutputResponse:
        outputs = []
        for name in request.work_centers:
            self._work_center(name)
            code = name.removeprefix("workCenters/")
            outputs.append(self.outputs.get(code, prod.WorkCenterOutput(work_center=name)))
        return prod.ListWorkCenterOutputResponse(outputs=outputs)

    async def finish_operation(self, request: prod.FinishOperationRequest) -> prod.FinishOperationResponse:
        op = self._operation(request.name)
        op.status = prod.OPERATION_STATUS_DONE
        op.weigh_out_mg = request.weigh_out_mg
        op.scrap_returned_mg = request.scrap_returned_mg
        op.loss_mg = op.weigh_in_mg - op.weigh_out_mg - op.scrap_returned_mg
        return prod.FinishOperationResponse(operation=op)

    async def resolve_loss_review(self, request: prod.ResolveLossReviewRequest) -> prod.ResolveLossReviewResponse:
        op = self._operation(request.name)
        op.status = prod.OPERATION_STATUS_DONE
        op.reviewed_by = request.supervisor_code
        return prod.ResolveLossReviewResponse(operation=op)

    # -- signing in (production) -------------------------------------------------------------

    async def set_operator_password(self, request: prod.SetOperatorPasswordRequest) -> prod.SetOperatorPasswordResponse:
        operator = self.operators.get(request.name.removeprefix("operators/"))
        if not 12 <= len(request.password) <= 1024:
            raise InvalidArgumentError(grpc.StatusCode.INVALID_ARGUMENT, "the password is invalid")
        if operator is None:
            raise NotFoundError(grpc.StatusCode.NOT_FOUND, f"operator {request.name} not found")
        self.passwords[operator.code] = request.password
        self.sessions = {t: s for t, s in self.sessions.items() if s[0] != operator.code}
        return prod.SetOperatorPasswordResponse(operator=operator)

    async def sign_in(self, request: prod.SignInRequest) -> prod.SignInResponse:
        now, code, address = self.clock(), request.operator_code, request.client_address
        recent = [f for f in self.sign_in_failures if f[2] > now - 900]
        by_code = sorted((f[2] for f in recent if f[0] == code), reverse=True)
        by_address = sorted((f[2] for f in recent if f[1] == address), reverse=True)
        limits = ((by_code, 5), (by_address, 20))
        waits = [times[limit - 1] + 900 - now for times, limit in limits if len(times) >= limit]
        if waits:
            raise ResourceExhaustedError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "too many failed sign-in attempts; try again later",
                reason="SIGN_IN_THROTTLED",
                metadata={"retry_after_s": str(max(1, math.ceil(max(waits))))},
            )
        operator = self.operators.get(code)
        if operator is None or not operator.active or self.passwords.get(code) != request.password:
            self.sign_in_failures.append((code, address, now))
            raise UnauthenticatedError(
                grpc.StatusCode.UNAUTHENTICATED, "operator code or password is wrong", reason="SIGN_IN_FAILED"
            )
        token = secrets.token_urlsafe(32)
        self.sessions[token] = (code, now + self.session_ttl_s)
        response = prod.SignInResponse(session_token=token, operator=operator)
        response.expire_time.FromSeconds(int(now + self.session_ttl_s))
        return response

    async def check_session(self, request: prod.CheckSessionRequest) -> prod.CheckSessionResponse:
        code, expires = self.sessions.get(request.session_token, ("", 0.0))
        operator = self.operators.get(code)
        if operator is None or not operator.active or expires <= self.clock():
            raise UnauthenticatedError(
                grpc.StatusCode.UNAUTHENTICATED,
                "the session is not open (unknown, expired or signed out)",
                reason="SESSION_CLOSED",
            )
        response = prod.CheckSessionResponse(operator=operator)
        response.expire_time.FromSeconds(int(expires))
        return response

    async def sign_out(self, request: prod.SignOutRequest) -> prod.SignOutResponse:
        self.sessions.pop(request.session_token, None)
        return prod.SignOutResponse()

    # -- inventory -------------------------------------------------------------------------

    async def batch_get_alloys(self, request: inv.BatchGetAlloysRequest) -> inv.BatchGetAlloysResponse:
        codes = [n.removeprefix("alloys/") for n in request.names]
        return inv.BatchGetAlloysResponse(alloys=[self.alloys[c] for c in codes if c in self.alloys])

    async def list_alloys(self, request: inv.ListAlloysRequest) -> inv.ListAlloysResponse:
        page, token = _page(list(self.alloys.values()), request.page_size, request.page_token)
        return inv.ListAlloysResponse(alloys=page, next_page_token=token)

    async def list_balances(self, request: inv.ListBalancesRequest) -> inv.ListBalancesResponse:
        page, token = _page(list(self.balances.values()), request.page_size, request.page_token)
        return inv.ListBalancesResponse(balances=page, next_page_token=token)

    async def batch_get_balances(self, request: inv.BatchGetBalancesRequest) -> inv.BatchGetBalancesResponse:
        out = []
        for name in request.names:
            code = name.removeprefix("balances/")
            out.append(self.balances.get(code, inv.Balance(name=name, material_code=code)))
        return inv.BatchGetBalancesResponse(balances=out)

    async def list_shortages(self, request: inv.ListShortagesRequest) -> inv.ListShortagesResponse:
        page, token = _page(self.shortages, request.page_size, request.page_token)
        return inv.ListShortagesResponse(shortages=page, next_page_token=token)

    async def list_reservations(self, request: inv.ListReservationsRequest) -> inv.ListReservationsResponse:
        wanted = set(request.order_ids)
        items = [r for r in self.reservations.values() if not wanted or r.order_id in wanted]
        maximum = MAX_ID_PAGE if wanted else MAX_PAGE
        page, token = _page(items, request.page_size, request.page_token, maximum=maximum)
        return inv.ListReservationsResponse(reservations=page, next_page_token=token)

    async def receive_lot(self, request: inv.ReceiveLotRequest) -> inv.ReceiveLotResponse:
        lot_id = self.next_id("lot")
        lot = inv.MaterialLot(
            name=f"lots/{lot_id}",
            lot_id=lot_id,
            kind=request.kind,
            material_code=request.material_code,
            received_mg=request.weight_mg,
            on_hand_mg=request.weight_mg,
        )
        self.lots[lot_id] = lot
        return inv.ReceiveLotResponse(lot=lot)

    # -- operations ------------------------------------------------------------------------

    async def health(self) -> dict[Any, bool]:
        return dict(self.healthy)


def client_error(cls: type[MesClientError], code: grpc.StatusCode, message: str, **kwargs: Any) -> MesClientError:
    return cls(code, message, **kwargs)


def message_equal(a: Message, b: Message) -> bool:
    return a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)
