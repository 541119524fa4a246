"""The operators' schema: the shop floor board, order detail, materials, metal loss, and the
mutations of the floor (start/pause/resume/finish an operation, resolve a loss review, block a
work center, receive a lot, ship, cancel)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TypeVar

import strawberry

from graphql_facade.backend import Backend
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.pagination import Fetch, check_first
from graphql_facade.schema.catalogue import alloys_page, styles_page
from graphql_facade.schema.common import Alloy, AsOf, Long, LossGrouping, MaterialKind, OrderStatus, Style
from graphql_facade.schema.connections import Connection, fixed_connection, list_connection, paged_connection
from graphql_facade.schema.floor import Floor, FloorEvent, floor_of
from graphql_facade.schema.floor import floor_events as floor_stream
from graphql_facade.schema.info import Info, check_id, check_key, field, mutation, subscription
from graphql_facade.schema.inventory import AlloyBalance, MaterialLot
from graphql_facade.schema.live import DashboardCounters, OperatorStatusUpdate, operator_event, status_updates
from graphql_facade.schema.orders import OperatorOrder, OrderCounts
from graphql_facade.schema.production import LossSummary, Operation, WorkCenter, operation_name
from graphql_facade.schema.roles import supervisor_mutation
from graphql_facade.schema.shifts import ShiftCalendar, ShiftCalendarInput, set_shift_calendar
from graphql_facade.schema.shortages import Shortage
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod

__all__ = [
    "OperatorMutation",
    "OperatorQuery",
    "OperatorSubscription",
    "balances_of",
    "board_request",
    "counts_request",
    "metal_loss_request",
    "offset_fetch",
]

T = TypeVar("T")


@strawberry.input(description="Order board filter.")
class OrderFilter:
    statuses: list[OrderStatus] | None = None
    partner_id: strawberry.ID | None = None
    late_only: bool = False


@strawberry.enum
class LossReviewDecision(Enum):
    APPROVE = prod.LOSS_REVIEW_DECISION_APPROVE
    REWORK = prod.LOSS_REVIEW_DECISION_REWORK


@strawberry.input(description="A lot of metal (weightMg) or stones (pieces, weightPoints).")
class ReceiveLotInput:
    kind: MaterialKind
    material_code: str
    weight_mg: Long | None = None
    pieces: int | None = None
    weight_points: Long | None = None
    supplier_reference: str = ""


_ZERO = Long(0)


def _as_viewer(info: Info, code: str | None, field: str) -> str:
    """The operator code to record: the caller's own (an operator records only their own work)."""
    own = info.context.viewer.subject
    if code is not None and code != own:
        raise FacadeError(
            ErrorCode.FORBIDDEN,
            f"`{field}` must be your own operator code ({own}).",
            extensions={"fieldViolations": [{"field": field, "description": "must be the caller's operator code"}]},
        )
    return own


def _operation(ident: str) -> str:
    name = operation_name(ident)
    if name is None:
        raise FacadeError(
            ErrorCode.INVALID_ARGUMENT,
            "`id` is not an operation id.",
            extensions={"fieldViolations": [{"field": "id", "description": "must look like '<work order id>.<seq>'"}]},
        )
    return name


def board_request(
    statuses: Sequence[OrderStatus] | None, partner_id: str | None, late_only: bool
) -> ords.ListOrdersRequest:
    """The ListOrders filter of the board (``INVALID_ARGUMENT`` for a malformed partner id)."""
    parent = f"partners/{check_id(str(partner_id), 'filter.partnerId')}" if partner_id else ""
    return ords.ListOrdersRequest(parent=parent, statuses=[s.value for s in statuses or []], late_only=late_only)


def counts_request(partner_id: str | None) -> ords.CountOrdersRequest:
    parent = f"partners/{check_id(str(partner_id), 'partnerId')}" if partner_id else ""
    return ords.CountOrdersRequest(parent=parent)


def offset_fetch(items: Sequence[T]) -> Fetch[T]:
    """Pages of an in-memory list (tokens are offsets)."""

    async def fetch(token: str, size: int) -> tuple[Sequence[T], str]:
        offset = int(token) if token.isdigit() else 0
        end = offset + size
        return items[offset:end], (str(end) if end < len(items) else "")

    return fetch


async def balances_of(backend: Backend, codes: Sequence[str], first: int) -> list[inv.Balance]:
    """The balances of the alloys ``codes`` picks (at most ``first``, duplicates once)."""
    check_first(first)
    wanted = list(dict.fromkeys(codes))[:first]
    response = await backend.inventory.batch_get_balances(
        inv.BatchGetBalancesRequest(names=[f"balances/{c}" for c in wanted])
    )
    return list(response.balances)


def metal_loss_request(by: LossGrouping, since: datetime | None) -> prod.SummarizeMetalLossRequest:
    request = prod.SummarizeMetalLossRequest(grouping=by.value)
    if since is not None:
        request.since_time.FromDatetime(since if since.tzinfo else since.replace(tzinfo=UTC))
    return request


@strawberry.enum(description="What an operator may do: supervisors also resolve loss reviews, block work centers...")
class OperatorRole(Enum):
    OPERATOR = "OPERATOR"
    SUPERVISOR = "SUPERVISOR"


@strawberry.type(description="The operator this request is made for.")
class Me:
    operator_code: str
    role: OperatorRole
    signed_in: bool = strawberry.field(description="True for a sign-in session (the cookie), false for a token.")


@strawberry.type(name="Query")
class OperatorQuery:
    @field(description="Who is calling: the operator code and role (never answered from the cache).")
    def me(self, info: Info) -> Me:
        viewer = info.context.viewer
        role = OperatorRole.SUPERVISOR if viewer.is_supervisor else OperatorRole.OPERATOR
        return Me(operator_code=viewer.subject, role=role, signed_in=viewer.session)

    @field(description="The event sequences this response reflects at least.")
    def as_of(self, info: Info) -> AsOf:
        seqs = info.context.as_of or info.context.hub.as_of()
        return AsOf(
            seq=Long(seqs.get("ORDERS", 0)),
            inventory_seq=Long(seqs.get("INVENTORY", 0)),
            production_seq=Long(seqs.get("PRODUCTION", 0)),
            at=info.context.started_at,
        )

    @field(description="The order board.")
    async def orders(
        self, info: Info, first: int, after: str | None = None, filter: OrderFilter | None = None
    ) -> Connection[OperatorOrder]:
        flt = filter or OrderFilter()
        request = board_request(flt.statuses, flt.partner_id, flt.late_only)
        call = info.context.backend.orders.list_orders
        return await list_connection(call, request, lambda page: page.orders, OperatorOrder.from_pb, first, after)

    @field(description="Orders per status (and late orders), optionally of one partner.")
    async def order_counts(self, info: Info, partner_id: strawberry.ID | None = None) -> OrderCounts:
        return OrderCounts.from_pb(await info.context.backend.orders.count_orders(counts_request(partner_id)))

    @strawberry.field
    async def order(self, info: Info, id: strawberry.ID) -> OperatorOrder | None:
        found = await info.context.loaders.order.load(check_id(str(id)))
        return OperatorOrder.from_pb(found) if found is not None else None

    @field(description="Work centers with their queue, WIP and throughput.")
    async def work_centers(self, info: Info, first: int, after: str | None = None) -> Connection[WorkCenter]:
        centers = await info.context.loaders.work_centers.all()
        return await paged_connection(offset_fetch(centers), WorkCenter.from_pb, first, after)

    @field(
        description="The shop floor: a tile per work center (state, queue, WIP, output this hour and shift) "
        "and the late orders; `floorEvents` keeps it live."
    )
    def floor(self, info: Info) -> Floor:
        return floor_of(info.context)

    @strawberry.field
    async def work_center(self, info: Info, id: strawberry.ID) -> WorkCenter | None:
        found = await info.context.loaders.work_center.load(str(id))
        return WorkCenter.from_pb(found) if found is not None else None

    @field(description="Metal balances per alloy; `codes` picks alloys (at most `first`).")
    async def alloy_balances(
        self, info: Info, first: int, after: str | None = None, codes: list[str] | None = None
    ) -> Connection[AlloyBalance]:
        backend = info.context.backend
        if codes:
            nodes = [AlloyBalance.from_pb(b) for b in await balances_of(backend, codes, first)]
            return fixed_connection(nodes, lambda node: f"code:{node.material_code}")
        request = inv.ListBalancesRequest(kind=common_pb2.MATERIAL_KIND_METAL)
        call = backend.inventory.list_balances
        return await list_connection(call, request, lambda page: page.balances, AlloyBalance.from_pb, first, after)

    @field(description="Orders waiting for material, with what they lack.")
    async def shortages(self, info: Info, first: int, after: str | None = None) -> Connection[Shortage]:
        call = info.context.backend.inventory.list_shortages
        request = inv.ListShortagesRequest()
        return await list_connection(call, request, lambda page: page.shortages, Shortage.from_pb, first, after)

    @field(description="Metal loss per operation code or per operator.")
    async def metal_loss(self, info: Info, by: LossGrouping, since: datetime | None = None) -> list[LossSummary]:
        response = await info.context.backend.production.summarize_metal_loss(metal_loss_request(by, since))
        return [LossSummary.from_pb(s) for s in response.summaries]

    @field(description="Styles of the catalogue.")
    async def styles(self, info: Info, first: int, after: str | None = None) -> Connection[Style]:
        return await styles_page(info, first, after)

    @field(description="Alloys of the catalogue.")
    async def alloys(self, info: Info, first: int, after: str | None = None) -> Connection[Alloy]:
        return await alloys_page(info, first, after)


@strawberry.type(name="Mutation")
class OperatorMutation:
    @mutation(description="Start an operation with its weigh-in.")
    async def start_operation(
        self,
        info: Info,
        id: strawberry.ID,
        weigh_in_mg: Long,
        operator_code: str | None = None,
        idempotency_key: str | None = None,
    ) -> Operation:
        request = prod.StartOperationRequest(
            name=_operation(str(id)),
            operator_code=_as_viewer(info, operator_code, "operatorCode"),
            weigh_in_mg=weigh_in_mg,
            request_id=check_key(idempotency_key),
        )
        return Operation.from_pb(await info.context.backend.production.start_operation(request))

    @mutation(description="Finish an operation with its weigh-out (loss above tolerance goes to review).")
    async def finish_operation(
        self,
        info: Info,
        id: strawberry.ID,
        weigh_out_mg: Long,
        scrap_returned_mg: Long = _ZERO,
        operator_code: str | None = None,
        idempotency_key: str | None = None,
    ) -> Operation:
        request = prod.FinishOperationRequest(
            name=_operation(str(id)),
            operator_code=_as_viewer(info, operator_code, "operatorCode"),
            weigh_out_mg=weigh_out_mg,
            scrap_returned_mg=scrap_returned_mg,
            request_id=check_key(idempotency_key),
        )
        return Operation.from_pb(await info.context.backend.production.finish_operation(request))

    @supervisor_mutation(description="Approve (DONE) or send to rework an operation in loss review (supervisors).")
    async def resolve_loss_review(
        self,
        info: Info,
        id: strawberry.ID,
        decision: LossReviewDecision,
        note: str = "",
        supervisor_code: str | None = None,
    ) -> Operation:
        request = prod.ResolveLossReviewRequest(
            name=_operation(str(id)),
            supervisor_code=_as_viewer(info, supervisor_code, "supervisorCode"),
            decision=decision.value,
            note=note,
        )
        return Operation.from_pb(await info.context.backend.production.resolve_loss_review(request))

    @supervisor_mutation(description="Receive a lot of metal or stones into stores (supervisors).")
    async def receive_lot(self, info: Info, input: ReceiveLotInput, idempotency_key: str | None = None) -> MaterialLot:
        request = inv.ReceiveLotRequest(
            kind=input.kind.value,
            material_code=input.material_code,
            weight_mg=input.weight_mg or 0,
            pieces=input.pieces or 0,
            weight_points=input.weight_points or 0,
            supplier_reference=input.supplier_reference,
            request_id=check_key(idempotency_key),
        )
        return MaterialLot.from_pb(await info.context.backend.inventory.receive_lot(request))

    @supervisor_mutation(description="Ship an order that is READY_TO_SHIP (supervisors).")
    async def ship_order(
        self, info: Info, id: strawberry.ID, tracking_reference: str = "", idempotency_key: str | None = None
    ) -> OperatorOrder:
        request = ords.ShipOrderRequest(
            name=f"orders/{check_id(str(id))}",
            tracking_reference=tracking_reference,
            request_id=check_key(idempotency_key),
        )
        return OperatorOrder.from_pb(await info.context.backend.orders.ship_order(request))

    @supervisor_mutation(description="Cancel an order that has not shipped (supervisors).")
    async def cancel_order(
        self, info: Info, id: strawberry.ID, reason: str = "", idempotency_key: str | None = None
    ) -> OperatorOrder:
        request = ords.CancelOrderRequest(
            name=f"orders/{check_id(str(id))}", reason=reason, request_id=check_key(idempotency_key)
        )
        return OperatorOrder.from_pb(await info.context.backend.orders.cancel_order(request))

    @mutation(description="Pause an operation in progress with a reason (a break, waiting for stones).")
    async def pause_operation(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str,
        operator_code: str | None = None,
        idempotency_key: str | None = None,
    ) -> Operation:
        request = prod.PauseOperationRequest(
            name=_operation(str(id)),
            operator_code=_as_viewer(info, operator_code, "operatorCode"),
            reason=reason,
            request_id=check_key(idempotency_key),
        )
        return Operation.from_pb(await info.context.backend.production.pause_operation(request))

    @mutation(description="Resume a paused operation.")
    async def resume_operation(
        self,
        info: Info,
        id: strawberry.ID,
        operator_code: str | None = None,
        idempotency_key: str | None = None,
    ) -> Operation:
        request = prod.ResumeOperationRequest(
            name=_operation(str(id)),
            operator_code=_as_viewer(info, operator_code, "operatorCode"),
            request_id=check_key(idempotency_key),
        )
        return Operation.from_pb(await info.context.backend.production.resume_operation(request))

    @supervisor_mutation(description="Block a work center with a reason: nothing starts there (supervisors).")
    async def block_work_center(self, info: Info, id: strawberry.ID, reason: str) -> WorkCenter:
        request = prod.BlockWorkCenterRequest(
            name=f"workCenters/{check_id(str(id))}",
            reason=reason,
            operator_code=_as_viewer(info, None, "operatorCode"),
        )
        return WorkCenter.from_pb(await info.context.backend.production.block_work_center(request))

    @supervisor_mutation(description="Unblock a work center: running or idle as its operations say (supervisors).")
    async def unblock_work_center(self, info: Info, id: strawberry.ID) -> WorkCenter:
        request = prod.UnblockWorkCenterRequest(
            name=f"workCenters/{check_id(str(id))}", operator_code=_as_viewer(info, None, "operatorCode")
        )
        return WorkCenter.from_pb(await info.context.backend.production.unblock_work_center(request))

    @supervisor_mutation(
        description="Set a work center's shifts and hourly output target (supervisors); `expectedVersion` "
        "refuses the change (ABORTED) when the calendar changed since it was read."
    )
    async def set_shift_calendar(
        self,
        info: Info,
        work_center_id: strawberry.ID,
        input: ShiftCalendarInput,
        expected_version: Long | None = None,
        idempotency_key: str | None = None,
    ) -> ShiftCalendar:
        return await set_shift_calendar(info, str(work_center_id), input, expected_version, idempotency_key)


@strawberry.type(name="Subscription")
class OperatorSubscription:
    @subscription(description="Status changes of orders (all, or filtered); `since` resumes after a seq.")
    async def order_status_changed(
        self,
        info: Info,
        order_ids: list[strawberry.ID] | None = None,
        partner_id: strawberry.ID | None = None,
        statuses: list[OrderStatus] | None = None,
        since: Long | None = None,
    ) -> AsyncGenerator[OperatorStatusUpdate, None]:
        async for event in status_updates(
            info.context,
            order_ids=[str(i) for i in order_ids] if order_ids else None,
            partner_id=str(partner_id) if partner_id else None,
            statuses=statuses,
            since=since,
        ):
            yield operator_event(event)

    @subscription(
        description="The floor live: `WorkCenterUpdated` (a whole tile, at most 4 per second per work center) and "
        "`OperationUpdated`, in PRODUCTION sequence order; `since` (a `floor.asOf.seq` or an event's `seq`) "
        "resumes after it, or answers `ResyncRequired` when those events are no longer kept."
    )
    async def floor_events(self, info: Info, since: Long | None = None) -> AsyncGenerator[FloorEvent, None]:
        async for event in floor_stream(info.context, since):
            yield event

    @subscription(description="Order counts: a snapshot first, then one whenever they change.")
    async def dashboard_counters(self, info: Info) -> AsyncGenerator[DashboardCounters, None]:
        context = info.context
        async with context.slots.hold(context.viewer):
            async for snapshot in context.counters.stream():
                yield DashboardCounters.from_snapshot(snapshot)
