"""The ProductionService servicer: decode the request with the caller, call the use case,
encode the reply."""

from __future__ import annotations

from typing import Any

import grpc

from mes.production.v1 import production_pb2 as pb
from mes.production.v1 import production_pb2_grpc as pb_grpc
from mes_platform.auth import current_principal
from mes_platform.wire import page_reply
from services.production.entrypoints.codec import records as rec
from services.production.entrypoints.codec import requests as q
from services.production.entrypoints.codec import responses as r
from services.production.entrypoints.codec import shifts as sh
from services.production.service_layer.handlers import Handlers
from services.production.service_layer.records import work_order_view

__all__ = ["SERVICE_NAME", "ProductionServicer"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ProductionService"].full_name
Ctx = grpc.aio.ServicerContext[Any, Any]


class ProductionServicer(pb_grpc.ProductionServiceServicer):
    def __init__(self, handlers: Handlers) -> None:
        self._catalog = handlers.catalog
        self._work_orders = handlers.work_orders
        self._operations = handlers.operations
        self._views = handlers.views
        self._sign_in = handlers.sign_in
        self._shifts = handlers.shifts

    # -- styles ---------------------------------------------------------------------

    async def UpsertStyle(self, request: pb.UpsertStyleRequest, context: Ctx) -> pb.UpsertStyleResponse:
        style = await self._catalog.upsert_style(q.upsert_style(request, current_principal()))
        return pb.UpsertStyleResponse(style=r.style_msg(style))

    async def GetStyle(self, request: pb.GetStyleRequest, context: Ctx) -> pb.GetStyleResponse:
        style = await self._catalog.get_style(q.get(request, "styles", current_principal()))
        return pb.GetStyleResponse(style=r.style_msg(style))

    async def ListStyles(self, request: pb.ListStylesRequest, context: Ctx) -> pb.ListStylesResponse:
        page = await self._catalog.list_styles(q.list_page(request, current_principal()))
        return page_reply(pb.ListStylesResponse, "styles", page, r.style_msg)

    async def BatchGetStyles(self, request: pb.BatchGetStylesRequest, context: Ctx) -> pb.BatchGetStylesResponse:
        found = await self._catalog.batch_get_styles(q.batch_get(request, "styles", current_principal()))
        return pb.BatchGetStylesResponse(
            styles=[r.style_msg(s) for s in found.items], missing_names=[f"styles/{k}" for k in found.missing]
        )

    async def ExplodeBillOfMaterials(
        self, request: pb.ExplodeBillOfMaterialsRequest, context: Ctx
    ) -> pb.ExplodeBillOfMaterialsResponse:
        requirements = await self._catalog.explode_bill_of_materials(q.explode(request, current_principal()))
        return pb.ExplodeBillOfMaterialsResponse(requirements=[r.requirement_msg(x) for x in requirements])

    # -- work centers and operators ---------------------------------------------------

    async def UpsertWorkCenter(self, request: pb.UpsertWorkCenterRequest, context: Ctx) -> pb.UpsertWorkCenterResponse:
        center = await self._catalog.upsert_work_center(q.upsert_work_center(request, current_principal()))
        return pb.UpsertWorkCenterResponse(work_center=r.work_center_msg(center))

    async def GetWorkCenter(self, request: pb.GetWorkCenterRequest, context: Ctx) -> pb.GetWorkCenterResponse:
        center = await self._catalog.get_work_center(q.get(request, "workCenters", current_principal()))
        return pb.GetWorkCenterResponse(work_center=r.work_center_msg(center))

    async def ListWorkCenters(self, request: pb.ListWorkCentersRequest, context: Ctx) -> pb.ListWorkCentersResponse:
        page = await self._catalog.list_work_centers(q.list_page(request, current_principal()))
        return page_reply(pb.ListWorkCentersResponse, "work_centers", page, r.work_center_msg)

    async def ListWorkCenterStats(
        self, request: pb.ListWorkCenterStatsRequest, context: Ctx
    ) -> pb.ListWorkCenterStatsResponse:
        stats = await self._views.work_center_stats(q.work_center_stats(request, current_principal()))
        return pb.ListWorkCenterStatsResponse(stats=[r.stats_msg(s) for s in stats])

    async def BlockWorkCenter(self, request: pb.BlockWorkCenterRequest, context: Ctx) -> pb.BlockWorkCenterResponse:
        center = await self._catalog.block_work_center(q.block_work_center(request, current_principal()))
        return pb.BlockWorkCenterResponse(work_center=r.work_center_msg(center))

    async def UnblockWorkCenter(
        self, request: pb.UnblockWorkCenterRequest, context: Ctx
    ) -> pb.UnblockWorkCenterResponse:
        center = await self._catalog.unblock_work_center(q.unblock_work_center(request, current_principal()))
        return pb.UnblockWorkCenterResponse(work_center=r.work_center_msg(center))

    async def SetShiftCalendar(self, request: pb.SetShiftCalendarRequest, context: Ctx) -> pb.SetShiftCalendarResponse:
        calendar = await self._shifts.set_shift_calendar(sh.set_shift_calendar(request, current_principal()))
        return pb.SetShiftCalendarResponse(calendar=sh.calendar_msg(calendar))

    async def GetShiftCalendar(self, request: pb.GetShiftCalendarRequest, context: Ctx) -> pb.GetShiftCalendarResponse:
        calendar = await self._shifts.get_shift_calendar(sh.get_shift_calendar(request, current_principal()))
        return pb.GetShiftCalendarResponse(calendar=sh.calendar_msg(calendar))

    async def BatchGetShiftCalendars(
        self, request: pb.BatchGetShiftCalendarsRequest, context: Ctx
    ) -> pb.BatchGetShiftCalendarsResponse:
        found = await self._shifts.batch_get_shift_calendars(sh.batch_get_shift_calendars(request, current_principal()))
        return pb.BatchGetShiftCalendarsResponse(
            calendars=[sh.calendar_msg(c) for c in found.items],
            missing_names=[sh.calendar_name(k) for k in found.missing],
        )

    async def ListWorkCenterOutput(
        self, request: pb.ListWorkCenterOutputRequest, context: Ctx
    ) -> pb.ListWorkCenterOutputResponse:
        outputs = await self._shifts.list_work_center_output(sh.list_work_center_output(request, current_principal()))
        return pb.ListWorkCenterOutputResponse(outputs=[sh.output_msg(o) for o in outputs])

    async def UpsertOperator(self, request: pb.UpsertOperatorRequest, context: Ctx) -> pb.UpsertOperatorResponse:
        operator = await self._catalog.upsert_operator(q.upsert_operator(request, current_principal()))
        return pb.UpsertOperatorResponse(operator=r.operator_msg(operator))

    async def ListOperators(self, request: pb.ListOperatorsRequest, context: Ctx) -> pb.ListOperatorsResponse:
        page = await self._catalog.list_operators(q.list_page(request, current_principal()))
        return page_reply(pb.ListOperatorsResponse, "operators", page, r.operator_msg)

    # -- signing in ---------------------------------------------------------------------

    async def SetOperatorPassword(
        self, request: pb.SetOperatorPasswordRequest, context: Ctx
    ) -> pb.SetOperatorPasswordResponse:
        operator = await self._sign_in.set_operator_password(q.set_operator_password(request, current_principal()))
        return pb.SetOperatorPasswordResponse(operator=r.operator_msg(operator))

    async def SignIn(self, request: pb.SignInRequest, context: Ctx) -> pb.SignInResponse:
        signed_in = await self._sign_in.sign_in(q.sign_in(request, current_principal(), context.peer() or ""))
        return pb.SignInResponse(
            session_token=signed_in.session_token,
            operator=r.operator_msg(signed_in.operator),
            expire_time=r.timestamp(signed_in.expire_time),
        )

    async def CheckSession(self, request: pb.CheckSessionRequest, context: Ctx) -> pb.CheckSessionResponse:
        session = await self._sign_in.check_session(q.check_session(request, current_principal()))
        return pb.CheckSessionResponse(
            operator=r.operator_msg(session.operator), expire_time=r.timestamp(session.expire_time)
        )

    async def SignOut(self, request: pb.SignOutRequest, context: Ctx) -> pb.SignOutResponse:
        await self._sign_in.sign_out(q.sign_out(request, current_principal()))
        return pb.SignOutResponse()

    # -- work orders ------------------------------------------------------------------

    async def CreateWorkOrders(self, request: pb.CreateWorkOrdersRequest, context: Ctx) -> pb.CreateWorkOrdersResponse:
        work_orders = await self._work_orders.create_work_orders(q.create_work_orders(request, current_principal()))
        return pb.CreateWorkOrdersResponse(work_orders=[r.work_order_msg(w) for w in work_orders])

    async def GetWorkOrder(self, request: pb.GetWorkOrderRequest, context: Ctx) -> pb.GetWorkOrderResponse:
        fields = rec.work_order_fields(request.read_mask)
        work_order = await self._work_orders.get_work_order(q.get(request, "workOrders", current_principal()))
        response = pb.GetWorkOrderResponse()
        rec.work_order_into(response.work_order, work_order_view(work_order), fields)
        return response

    async def BatchGetWorkOrders(
        self, request: pb.BatchGetWorkOrdersRequest, context: Ctx
    ) -> pb.BatchGetWorkOrdersResponse:
        fields = rec.work_order_fields(request.read_mask)
        found = await self._work_orders.batch_get_work_orders(
            q.batch_get(request, "workOrders", current_principal()), with_routing=rec.wants_routing(fields)
        )
        response = pb.BatchGetWorkOrdersResponse(missing_names=[f"workOrders/{k}" for k in found.missing])
        rec.work_orders_into(response.work_orders, found.items, fields)
        return response

    async def ListWorkOrders(self, request: pb.ListWorkOrdersRequest, context: Ctx) -> pb.ListWorkOrdersResponse:
        page = await self._work_orders.list_work_orders(q.list_work_orders(request, current_principal()))
        response = pb.ListWorkOrdersResponse(next_page_token=page.next_page_token)
        rec.work_orders_into(response.work_orders, page.items, rec.work_order_fields(request.read_mask))
        return response

    async def HoldWorkOrder(self, request: pb.HoldWorkOrderRequest, context: Ctx) -> pb.HoldWorkOrderResponse:
        work_order = await self._work_orders.hold_work_order(q.hold_work_order(request, current_principal()))
        return pb.HoldWorkOrderResponse(work_order=r.work_order_msg(work_order))

    async def ResumeWorkOrder(self, request: pb.ResumeWorkOrderRequest, context: Ctx) -> pb.ResumeWorkOrderResponse:
        work_order = await self._work_orders.resume_work_order(q.resume_work_order(request, current_principal()))
        return pb.ResumeWorkOrderResponse(work_order=r.work_order_msg(work_order))

    async def CloseWorkOrder(self, request: pb.CloseWorkOrderRequest, context: Ctx) -> pb.CloseWorkOrderResponse:
        work_order = await self._work_orders.close_work_order(q.close_work_order(request, current_principal()))
        return pb.CloseWorkOrderResponse(work_order=r.work_order_msg(work_order))

    async def CancelWorkOrders(self, request: pb.CancelWorkOrdersRequest, context: Ctx) -> pb.CancelWorkOrdersResponse:
        work_orders = await self._work_orders.cancel_work_orders(q.cancel_work_orders(request, current_principal()))
        return pb.CancelWorkOrdersResponse(work_orders=[r.work_order_msg(w) for w in work_orders])

    # -- operations -------------------------------------------------------------------

    async def StartOperation(self, request: pb.StartOperationRequest, context: Ctx) -> pb.StartOperationResponse:
        operation = await self._operations.start_operation(q.start_operation(request, current_principal()))
        return pb.StartOperationResponse(operation=r.operation_msg(operation))

    async def PauseOperation(self, request: pb.PauseOperationRequest, context: Ctx) -> pb.PauseOperationResponse:
        operation = await self._operations.pause_operation(q.pause_operation(request, current_principal()))
        return pb.PauseOperationResponse(operation=r.operation_msg(operation))

    async def ResumeOperation(self, request: pb.ResumeOperationRequest, context: Ctx) -> pb.ResumeOperationResponse:
        operation = await self._operations.resume_operation(q.resume_operation(request, current_principal()))
        return pb.ResumeOperationResponse(operation=r.operation_msg(operation))

    async def FinishOperation(self, request: pb.FinishOperationRequest, context: Ctx) -> pb.FinishOperationResponse:
        operation = await self._operations.finish_operation(q.finish_operation(request, current_principal()))
        return pb.FinishOperationResponse(operation=r.operation_msg(operation))

    async def ResolveLossReview(
        self, request: pb.ResolveLossReviewRequest, context: Ctx
    ) -> pb.ResolveLossReviewResponse:
        operation = await self._operations.resolve_loss_review(q.resolve_loss_review(request, current_principal()))
        return pb.ResolveLossReviewResponse(operation=r.operation_msg(operation))

    async def GetOperation(self, request: pb.GetOperationRequest, context: Ctx) -> pb.GetOperationResponse:
        operation = await self._operations.get_operation(q.get(request, "operations", current_principal()))
        return pb.GetOperationResponse(operation=r.operation_msg(operation))

    async def BatchGetOperations(
        self, request: pb.BatchGetOperationsRequest, context: Ctx
    ) -> pb.BatchGetOperationsResponse:
        found = await self._operations.batch_get_operations(q.batch_get(request, "operations", current_principal()))
        response = pb.BatchGetOperationsResponse(missing_names=[r.operation_name(wo, seq) for wo, seq in found.missing])
        rec.operations_into(response.operations, found.items)
        return response

    async def ListOperations(self, request: pb.ListOperationsRequest, context: Ctx) -> pb.ListOperationsResponse:
        page = await self._operations.list_operations(q.list_operations(request, current_principal()))
        response = pb.ListOperationsResponse(next_page_token=page.next_page_token)
        rec.operations_into(response.operations, page.items)
        return response

    async def SummarizeMetalLoss(
        self, request: pb.SummarizeMetalLossRequest, context: Ctx
    ) -> pb.SummarizeMetalLossResponse:
        summaries = await self._views.summarize_metal_loss(q.summarize_metal_loss(request, current_principal()))
        return pb.SummarizeMetalLossResponse(summaries=[r.loss_summary_msg(s) for s in summaries])
