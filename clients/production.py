"""Typed async client of ``mes.production.v1.ProductionService``: styles, work centers, operators and
their sign-in, work orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from google.protobuf.timestamp_pb2 import Timestamp

from clients._base import Rpc, ServiceClient, to_timestamp
from clients._methods import batch_get, by_name, iter_pages, list_page
from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb
from mes.production.v1 import production_pb2_grpc

__all__ = ["RPCS", "ProductionClient"]

Priority: TypeAlias = common_pb2.Priority.ValueType
WorkOrderStatus: TypeAlias = pb.WorkOrderStatus.ValueType
OperationStatus: TypeAlias = pb.OperationStatus.ValueType
Decision: TypeAlias = pb.LossReviewDecision.ValueType
Grouping: TypeAlias = pb.LossGrouping.ValueType

_UPSERT_STYLE = Rpc("UpsertStyle", pb.UpsertStyleRequest, pb.UpsertStyleResponse, positional="style")
_GET_STYLE = Rpc("GetStyle", pb.GetStyleRequest, pb.GetStyleResponse, positional="name")
_LIST_STYLES = Rpc("ListStyles", pb.ListStylesRequest, pb.ListStylesResponse)
_BATCH_GET_STYLES = Rpc("BatchGetStyles", pb.BatchGetStylesRequest, pb.BatchGetStylesResponse, positional="names")
_EXPLODE_BOM = Rpc(
    "ExplodeBillOfMaterials", pb.ExplodeBillOfMaterialsRequest, pb.ExplodeBillOfMaterialsResponse, positional="lines"
)
_UPSERT_WORK_CENTER = Rpc(
    "UpsertWorkCenter", pb.UpsertWorkCenterRequest, pb.UpsertWorkCenterResponse, positional="work_center"
)
_GET_WORK_CENTER = Rpc("GetWorkCenter", pb.GetWorkCenterRequest, pb.GetWorkCenterResponse, positional="name")
_LIST_WORK_CENTERS = Rpc("ListWorkCenters", pb.ListWorkCentersRequest, pb.ListWorkCentersResponse)
_WORK_CENTER_STATS = Rpc("ListWorkCenterStats", pb.ListWorkCenterStatsRequest, pb.ListWorkCenterStatsResponse)
_BLOCK = Rpc("BlockWorkCenter", pb.BlockWorkCenterRequest, pb.BlockWorkCenterResponse, positional="name")
_UNBLOCK = Rpc("UnblockWorkCenter", pb.UnblockWorkCenterRequest, pb.UnblockWorkCenterResponse, positional="name")
_SET_CALENDAR = Rpc(
    "SetShiftCalendar", pb.SetShiftCalendarRequest, pb.SetShiftCalendarResponse, positional="calendar", request_id=True
)
_GET_CALENDAR = Rpc("GetShiftCalendar", pb.GetShiftCalendarRequest, pb.GetShiftCalendarResponse, positional="name")
_BATCH_GET_CALENDARS = Rpc(
    "BatchGetShiftCalendars", pb.BatchGetShiftCalendarsRequest, pb.BatchGetShiftCalendarsResponse, positional="names"
)
_OUTPUT = Rpc("ListWorkCenterOutput", pb.ListWorkCenterOutputRequest, pb.ListWorkCenterOutputResponse)
_UPSERT_OPERATOR = Rpc("UpsertOperator", pb.UpsertOperatorRequest, pb.UpsertOperatorResponse, positional="operator")
_LIST_OPERATORS = Rpc("ListOperators", pb.ListOperatorsRequest, pb.ListOperatorsResponse)
_SET_PASSWORD = Rpc(
    "SetOperatorPassword", pb.SetOperatorPasswordRequest, pb.SetOperatorPasswordResponse, positional="name"
)
_SIGN_IN = Rpc("SignIn", pb.SignInRequest, pb.SignInResponse)
_CHECK_SESSION = Rpc("CheckSession", pb.CheckSessionRequest, pb.CheckSessionResponse, positional="session_token")
_SIGN_OUT = Rpc("SignOut", pb.SignOutRequest, pb.SignOutResponse, positional="session_token")
_CREATE_WORK_ORDERS = Rpc(
    "CreateWorkOrders", pb.CreateWorkOrdersRequest, pb.CreateWorkOrdersResponse, positional="order_id"
)
_GET_WORK_ORDER = Rpc("GetWorkOrder", pb.GetWorkOrderRequest, pb.GetWorkOrderResponse, positional="name")
_BATCH_GET_WORK_ORDERS = Rpc(
    "BatchGetWorkOrders", pb.BatchGetWorkOrdersRequest, pb.BatchGetWorkOrdersResponse, positional="names"
)
_LIST_WORK_ORDERS = Rpc("ListWorkOrders", pb.ListWorkOrdersRequest, pb.ListWorkOrdersResponse)
_HOLD = Rpc("HoldWorkOrder", pb.HoldWorkOrderRequest, pb.HoldWorkOrderResponse, positional="name")
_RESUME = Rpc("ResumeWorkOrder", pb.ResumeWorkOrderRequest, pb.ResumeWorkOrderResponse, positional="name")
_CLOSE = Rpc("CloseWorkOrder", pb.CloseWorkOrderRequest, pb.CloseWorkOrderResponse, positional="name")
_CANCEL_WORK_ORDERS = Rpc(
    "CancelWorkOrders", pb.CancelWorkOrdersRequest, pb.CancelWorkOrdersResponse, positional="order_id"
)
_START = Rpc("StartOperation", pb.StartOperationRequest, pb.StartOperationResponse, request_id=True)
_PAUSE = Rpc("PauseOperation", pb.PauseOperationRequest, pb.PauseOperationResponse, request_id=True)
_RESUME_OPERATION = Rpc("ResumeOperation", pb.ResumeOperationRequest, pb.ResumeOperationResponse, request_id=True)
_FINISH = Rpc("FinishOperation", pb.FinishOperationRequest, pb.FinishOperationResponse, request_id=True)
_RESOLVE = Rpc("ResolveLossReview", pb.ResolveLossReviewRequest, pb.ResolveLossReviewResponse, positional="name")
_GET_OPERATION = Rpc("GetOperation", pb.GetOperationRequest, pb.GetOperationResponse, positional="name")
_BATCH_GET_OPERATIONS = Rpc(
    "BatchGetOperations", pb.BatchGetOperationsRequest, pb.BatchGetOperationsResponse, positional="names"
)
_LIST_OPERATIONS = Rpc("ListOperations", pb.ListOperationsRequest, pb.ListOperationsResponse)
_METAL_LOSS = Rpc("SummarizeMetalLoss", pb.SummarizeMetalLossRequest, pb.SummarizeMetalLossResponse)

#: Every RPC of the service, as this client calls it.
RPCS: tuple[Rpc[Any, Any], ...] = (
    _UPSERT_STYLE, _GET_STYLE, _LIST_STYLES, _BATCH_GET_STYLES, _EXPLODE_BOM, _UPSERT_WORK_CENTER, _GET_WORK_CENTER,
    _LIST_WORK_CENTERS, _WORK_CENTER_STATS, _BLOCK, _UNBLOCK, _SET_CALENDAR, _GET_CALENDAR,
    _BATCH_GET_CALENDARS, _OUTPUT,
    _UPSERT_OPERATOR, _LIST_OPERATORS, _SET_PASSWORD, _SIGN_IN, _CHECK_SESSION, _SIGN_OUT,
    _CREATE_WORK_ORDERS, _GET_WORK_ORDER,
    _BATCH_GET_WORK_ORDERS, _LIST_WORK_ORDERS, _HOLD, _RESUME, _CLOSE, _CANCEL_WORK_ORDERS,
    _START, _PAUSE, _RESUME_OPERATION, _FINISH,
    _RESOLVE, _GET_OPERATION, _BATCH_GET_OPERATIONS, _LIST_OPERATIONS, _METAL_LOSS,
)  # fmt: skip


class ProductionClient(ServiceClient):
    """Client of the production service.

    Every method takes the request message or keyword fields, and ``partner=`` (``x-mes-partner``, service
    principals only). Calls answering one resource return it; the others return the response message
    (``explode_bill_of_materials``, ``create_work_orders`` and ``cancel_work_orders`` return their list).
    """

    service = "production"
    grpc_service = "mes.production.v1.ProductionService"
    stub_type = production_pb2_grpc.ProductionServiceStub

    # -- styles -------------------------------------------------------------------------

    async def upsert_style(
        self, style: pb.Style | pb.UpsertStyleRequest, *, partner: str | None = None, timeout: float | None = None
    ) -> pb.Style:
        """Create a style or a new routing/BOM version of it."""
        return (await self._call_with(_UPSERT_STYLE, locals())).style

    get_style = by_name(_GET_STYLE, lambda response: response.style)
    list_styles = list_page(_LIST_STYLES)
    iter_styles = iter_pages(_LIST_STYLES, lambda page: page.styles)
    batch_get_styles = batch_get(_BATCH_GET_STYLES)

    async def explode_bill_of_materials(
        self,
        lines: Sequence[pb.LineSpec] | pb.ExplodeBillOfMaterialsRequest,
        *,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> list[common_pb2.MaterialRequirement]:
        """Material requirements of order lines, through the styles' bills of materials."""
        return list((await self._call_with(_EXPLODE_BOM, locals())).requirements)

    # -- work centers and operators -----------------------------------------------------

    async def upsert_work_center(
        self,
        work_center: pb.WorkCenter | pb.UpsertWorkCenterRequest,
        *,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.WorkCenter:
        return (await self._call_with(_UPSERT_WORK_CENTER, locals())).work_center

    get_work_center = by_name(_GET_WORK_CENTER, lambda response: response.work_center)
    list_work_centers = list_page(_LIST_WORK_CENTERS)
    iter_work_centers = iter_pages(_LIST_WORK_CENTERS, lambda page: page.work_centers)

    async def list_work_center_stats(
        self,
        request: pb.ListWorkCenterStatsRequest | None = None,
        /,
        *,
        work_centers: Sequence[str] | None = None,
        window_minutes: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListWorkCenterStatsResponse:
        """WIP and throughput per work center (every one when ``work_centers`` is empty)."""
        return await self._call_with(_WORK_CENTER_STATS, locals())

    async def block_work_center(
        self,
        name: str | pb.BlockWorkCenterRequest,
        *,
        reason: str | None = None,
        operator_code: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.WorkCenter:
        """Block a work center with a reason: no operation starts or resumes there until it is unblocked."""
        return (await self._call_with(_BLOCK, locals())).work_center

    async def unblock_work_center(
        self,
        name: str | pb.UnblockWorkCenterRequest,
        *,
        operator_code: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.WorkCenter:
        """Lift a work center's block: it is RUNNING or IDLE again, as its operations say."""
        return (await self._call_with(_UNBLOCK, locals())).work_center

    async def set_shift_calendar(
        self,
        calendar: pb.ShiftCalendar | pb.SetShiftCalendarRequest,
        *,
        expected_version: int | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ShiftCalendar:
        """Set a work center's shift calendar (``name`` "workCenters/{code}/calendar") and hourly target;
        ``expected_version`` (ABORTED when the stored one differs), a request_id generated when none is given."""
        return (await self._call_with(_SET_CALENDAR, locals())).calendar

    get_shift_calendar = by_name(_GET_CALENDAR, lambda response: response.calendar)
    batch_get_shift_calendars = batch_get(_BATCH_GET_CALENDARS)

    async def list_work_center_output(
        self,
        request: pb.ListWorkCenterOutputRequest | None = None,
        /,
        *,
        work_centers: Sequence[str] | None = None,
        at: datetime | Timestamp | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> list[pb.WorkCenterOutput]:
        """Output against target and utilisation of the work centers ("workCenters/{code}"), in their
        order, at ``at`` (now when unset)."""
        return list((await self._call_with(_OUTPUT, locals())).outputs)

    async def upsert_operator(
        self,
        operator: pb.Operator | pb.UpsertOperatorRequest,
        *,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Operator:
        return (await self._call_with(_UPSERT_OPERATOR, locals())).operator

    list_operators = list_page(_LIST_OPERATORS)
    iter_operators = iter_pages(_LIST_OPERATORS, lambda page: page.operators)

    # -- signing in (sign_in is never sent twice: a repeat would count as another attempt) --

    async def set_operator_password(
        self,
        name: str | pb.SetOperatorPasswordRequest,
        *,
        password: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Operator:
        """Set an operator's sign-in password (``operators/{code}``); ends the operator's open sessions."""
        return (await self._call_with(_SET_PASSWORD, locals())).operator

    async def sign_in(
        self,
        request: pb.SignInRequest | None = None,
        /,
        *,
        operator_code: str | None = None,
        password: str | None = None,
        client_address: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.SignInResponse:
        """Open a session: its token (shown once), the operator and the expiry. Every failure is
        ``UnauthenticatedError``; too many failures ``ResourceExhaustedError`` (``metadata["retry_after_s"]``)."""
        return await self._call_with(_SIGN_IN, locals())

    async def check_session(
        self,
        session_token: str | pb.CheckSessionRequest,
        *,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.CheckSessionResponse:
        """The operator of an open session; ``UnauthenticatedError`` (reason SESSION_CLOSED) otherwise."""
        return await self._call_with(_CHECK_SESSION, locals())

    async def sign_out(
        self,
        session_token: str | pb.SignOutRequest,
        *,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """End a session (an ended or unknown one answers the same)."""
        await self._call_with(_SIGN_OUT, locals())

    # -- work orders --------------------------------------------------------------------

    async def create_work_orders(
        self,
        order_id: str | pb.CreateWorkOrdersRequest,
        lines: Sequence[pb.LineSpec] | None = None,
        *,
        priority: Priority | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> list[pb.WorkOrder]:
        """Create and release the work orders of an order, one per line (idempotent per order)."""
        return list((await self._call_with(_CREATE_WORK_ORDERS, locals())).work_orders)

    get_work_order = by_name(_GET_WORK_ORDER, lambda response: response.work_order)
    batch_get_work_orders = batch_get(_BATCH_GET_WORK_ORDERS)

    async def list_work_orders(
        self,
        request: pb.ListWorkOrdersRequest | None = None,
        /,
        *,
        order_ids: Sequence[str] | None = None,
        statuses: Sequence[WorkOrderStatus] | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListWorkOrdersResponse:
        return await self._call_with(_LIST_WORK_ORDERS, locals())

    def iter_work_orders(
        self,
        *,
        order_ids: Sequence[str] = (),
        statuses: Sequence[WorkOrderStatus] = (),
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.WorkOrder]:
        return self._iterate(_LIST_WORK_ORDERS, lambda page: page.work_orders, locals())

    async def hold_work_order(
        self,
        name: str | pb.HoldWorkOrderRequest,
        *,
        reason: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.WorkOrder:
        return (await self._call_with(_HOLD, locals())).work_order

    resume_work_order = by_name(_RESUME, lambda response: response.work_order)
    close_work_order = by_name(
        _CLOSE, lambda response: response.work_order, doc="Close a completed work order, reconciling its metal."
    )

    async def cancel_work_orders(
        self,
        order_id: str | pb.CancelWorkOrdersRequest,
        *,
        reason: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> list[pb.WorkOrder]:
        return list((await self._call_with(_CANCEL_WORK_ORDERS, locals())).work_orders)

    # -- operations ---------------------------------------------------------------------

    async def start_operation(
        self,
        request: pb.StartOperationRequest | None = None,
        /,
        *,
        name: str | None = None,
        operator_code: str | None = None,
        weigh_in_mg: int | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Operation:
        """Start an operation with its weigh-in (a request_id is generated when none is given)."""
        return (await self._call_with(_START, locals())).operation

    async def pause_operation(
        self,
        request: pb.PauseOperationRequest | None = None,
        /,
        *,
        name: str | None = None,
        operator_code: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Operation:
        """Pause an operation in progress with a reason (a request_id is generated when none is given)."""
        return (await self._call_with(_PAUSE, locals())).operation

    async def resume_operation(
        self,
        request: pb.ResumeOperationRequest | None = None,
        /,
        *,
        name: str | None = None,
        operator_code: str | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Operation:
        """Resume a paused operation (a request_id is generated when none is given)."""
        return (await self._call_with(_RESUME_OPERATION, locals())).operation

    async def finish_operation(
        self,
        request: pb.FinishOperationRequest | None = None,
        /,
        *,
        name: str | None = None,
        operator_code: str | None = None,
        weigh_out_mg: int | None = None,
        scrap_returned_mg: int | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Operation:
        """Finish an operation with its weigh-out; above the loss tolerance it goes to LOSS_REVIEW."""
        return (await self._call_with(_FINISH, locals())).operation

    async def resolve_loss_review(
        self,
        name: str | pb.ResolveLossReviewRequest,
        *,
        supervisor_code: str | None = None,
        decision: Decision | None = None,
        note: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Operation:
        """Approve (DONE) or send to rework an operation in LOSS_REVIEW."""
        return (await self._call_with(_RESOLVE, locals())).operation

    get_operation = by_name(_GET_OPERATION, lambda response: response.operation)
    batch_get_operations = batch_get(_BATCH_GET_OPERATIONS)

    async def list_operations(
        self,
        request: pb.ListOperationsRequest | None = None,
        /,
        *,
        work_center: str | None = None,
        work_order_ids: Sequence[str] | None = None,
        statuses: Sequence[OperationStatus] | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListOperationsResponse:
        """One page of operations: a work center's queue, or a work order's steps."""
        return await self._call_with(_LIST_OPERATIONS, locals())

    def iter_operations(
        self,
        *,
        work_center: str = "",
        work_order_ids: Sequence[str] = (),
        statuses: Sequence[OperationStatus] = (),
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Operation]:
        return self._iterate(_LIST_OPERATIONS, lambda page: page.operations, locals())

    async def summarize_metal_loss(
        self,
        request: pb.SummarizeMetalLossRequest | None = None,
        /,
        *,
        grouping: Grouping | None = None,
        since: datetime | Timestamp | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.SummarizeMetalLossResponse:
        """Metal loss grouped by operation code (the default) or by operator, of operations finished after
        ``since``."""
        if request is None and grouping is None:
            grouping = pb.LOSS_GROUPING_OPERATION_CODE
        since_time = to_timestamp(since)
        return await self._unary(_METAL_LOSS, request, partner, timeout, grouping=grouping, since_time=since_time)
