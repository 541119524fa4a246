"""The ProductionService servicer: decode the request, call the use case, encode the reply."""

from __future__ import annotations

from typing import Any

import grpc

from mes.production.v1 import production_pb2 as pb
from mes.production.v1 import production_pb2_grpc as pb_grpc
from mes_kernel.validation import parse_name
from services.production.adapters import messages as m
from services.production.entrypoints import mapping as d
from services.production.service_layer import commands as c
from services.production.service_layer.handlers import Handlers

__all__ = ["SERVICE_NAME", "ProductionServicer"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ProductionService"].full_name
Ctx = grpc.aio.ServicerContext[Any, Any]


class ProductionServicer(pb_grpc.ProductionServiceServicer):
    def __init__(self, handlers: Handlers) -> None:
        self._h = handlers

    # -- styles ---------------------------------------------------------------------

    async def UpsertStyle(self, request: pb.UpsertStyleRequest, context: Ctx) -> pb.UpsertStyleResponse:
        style = await self._h.catalog.upsert_style(c.UpsertStyle(d.style_definition(request.style)))
        return pb.UpsertStyleResponse(style=m.style_msg(style))

    async def GetStyle(self, request: pb.GetStyleRequest, context: Ctx) -> pb.GetStyleResponse:
        style = await self._h.catalog.get_style(parse_name(request.name, "styles"))
        return pb.GetStyleResponse(style=m.style_msg(style))

    async def ListStyles(self, request: pb.ListStylesRequest, context: Ctx) -> pb.ListStylesResponse:
        page = await self._h.catalog.list_styles(d.page(request))
        return pb.ListStylesResponse(styles=[m.style_msg(s) for s in page.items], next_page_token=page.next_page_token)

    async def BatchGetStyles(self, request: pb.BatchGetStylesRequest, context: Ctx) -> pb.BatchGetStylesResponse:
        found = await self._h.catalog.batch_get_styles(
            d.parse_names(request.names, "styles"), allow_missing=request.allow_missing
        )
        return pb.BatchGetStylesResponse(
            styles=[m.style_msg(s) for s in found.items], missing_names=[f"styles/{k}" for k in found.missing]
        )

    async def ExplodeBillOfMaterials(
        self, request: pb.ExplodeBillOfMaterialsRequest, context: Ctx
    ) -> pb.ExplodeBillOfMaterialsResponse:
        requirements = await self._h.catalog.explode_bill_of_materials(d.line_specs(request.lines))
        return pb.ExplodeBillOfMaterialsResponse(requirements=[m.requirement_msg(r) for r in requirements])

    # -- work centers and operators ---------------------------------------------------

    async def UpsertWorkCenter(self, request: pb.UpsertWorkCenterRequest, context: Ctx) -> pb.UpsertWorkCenterResponse:
        wc = request.work_center
        code = wc.code or (parse_name(wc.name, "workCenters", "work_center.name") if wc.name else "")
        center = await self._h.catalog.upsert_work_center(
            c.UpsertWorkCenter(code, wc.work_center_type, wc.display_name, wc.capacity, wc.active)
        )
        return pb.UpsertWorkCenterResponse(work_center=m.work_center_msg(center))

    async def GetWorkCenter(self, request: pb.GetWorkCenterRequest, context: Ctx) -> pb.GetWorkCenterResponse:
        center = await self._h.catalog.get_work_center(parse_name(request.name, "workCenters"))
        return pb.GetWorkCenterResponse(work_center=m.work_center_msg(center))

    async def ListWorkCenters(self, request: pb.ListWorkCentersRequest, context: Ctx) -> pb.ListWorkCentersResponse:
        page = await self._h.catalog.list_work_centers(d.page(request))
        return pb.ListWorkCentersResponse(
            work_centers=[m.work_center_msg(w) for w in page.items], next_page_token=page.next_page_token
        )

    async def ListWorkCenterStats(
        self, request: pb.ListWorkCenterStatsRequest, context: Ctx
    ) -> pb.ListWorkCenterStatsResponse:
        codes = d.parse_names(request.work_centers, "workCenters", field="work_centers")
        stats = await self._h.views.work_center_stats(c.WorkCenterStatsQuery(tuple(codes), request.window_minutes))
        return pb.ListWorkCenterStatsResponse(stats=[m.stats_msg(s) for s in stats])

    async def UpsertOperator(self, request: pb.UpsertOperatorRequest, context: Ctx) -> pb.UpsertOperatorResponse:
        op = request.operator
        code = op.code or (parse_name(op.name, "operators", "operator.name") if op.name else "")
        operator = await self._h.catalog.upsert_operator(
            c.UpsertOperator(code, op.display_name, d.operator_role(op.role), op.active)
        )
        return pb.UpsertOperatorResponse(operator=m.operator_msg(operator))

    async def ListOperators(self, request: pb.ListOperatorsRequest, context: Ctx) -> pb.ListOperatorsResponse:
        page = await self._h.catalog.list_operators(d.page(request))
        return pb.ListOperatorsResponse(
            operators=[m.operator_msg(o) for o in page.items], next_page_token=page.next_page_token
        )

    # -- work orders ------------------------------------------------------------------

    async def CreateWorkOrders(self, request: pb.CreateWorkOrdersRequest, context: Ctx) -> pb.CreateWorkOrdersResponse:
        work_orders = await self._h.work_orders.create_work_orders(
            c.CreateWorkOrders(request.order_id, request.priority, d.line_specs(request.lines))
        )
        return pb.CreateWorkOrdersResponse(work_orders=[m.work_order_msg(w) for w in work_orders])

    async def GetWorkOrder(self, request: pb.GetWorkOrderRequest, context: Ctx) -> pb.GetWorkOrderResponse:
        work_order = await self._h.work_orders.get_work_order(parse_name(request.name, "workOrders"))
        return pb.GetWorkOrderResponse(work_order=m.work_order_msg(work_order))

    async def BatchGetWorkOrders(
        self, request: pb.BatchGetWorkOrdersRequest, context: Ctx
    ) -> pb.BatchGetWorkOrdersResponse:
        found = await self._h.work_orders.batch_get_work_orders(
            d.parse_names(request.names, "workOrders"), allow_missing=request.allow_missing
        )
        return pb.BatchGetWorkOrdersResponse(
            work_orders=[m.work_order_msg(w) for w in found.items],
            missing_names=[f"workOrders/{k}" for k in found.missing],
        )

    async def ListWorkOrders(self, request: pb.ListWorkOrdersRequest, context: Ctx) -> pb.ListWorkOrdersResponse:
        page = await self._h.work_orders.list_work_orders(
            c.ListWorkOrders(
                c.PageRequest(request.page_size, request.page_token),
                tuple(request.order_ids),
                d.work_order_statuses(request.statuses),
            )
        )
        return pb.ListWorkOrdersResponse(
            work_orders=[m.work_order_msg(w) for w in page.items], next_page_token=page.next_page_token
        )

    async def HoldWorkOrder(self, request: pb.HoldWorkOrderRequest, context: Ctx) -> pb.HoldWorkOrderResponse:
        cmd = c.HoldWorkOrder(parse_name(request.name, "workOrders"), request.reason)
        return pb.HoldWorkOrderResponse(work_order=m.work_order_msg(await self._h.work_orders.hold_work_order(cmd)))

    async def ResumeWorkOrder(self, request: pb.ResumeWorkOrderRequest, context: Ctx) -> pb.ResumeWorkOrderResponse:
        cmd = c.ResumeWorkOrder(parse_name(request.name, "workOrders"))
        return pb.ResumeWorkOrderResponse(work_order=m.work_order_msg(await self._h.work_orders.resume_work_order(cmd)))

    async def CloseWorkOrder(self, request: pb.CloseWorkOrderRequest, context: Ctx) -> pb.CloseWorkOrderResponse:
        cmd = c.CloseWorkOrder(parse_name(request.name, "workOrders"))
        return pb.CloseWorkOrderResponse(work_order=m.work_order_msg(await self._h.work_orders.close_work_order(cmd)))

    async def CancelWorkOrders(self, request: pb.CancelWorkOrdersRequest, context: Ctx) -> pb.CancelWorkOrdersResponse:
        work_orders = await self._h.work_orders.cancel_work_orders(c.CancelWorkOrders(request.order_id, request.reason))
        return pb.CancelWorkOrdersResponse(work_orders=[m.work_order_msg(w) for w in work_orders])

    # -- operations -------------------------------------------------------------------

    async def StartOperation(self, request: pb.StartOperationRequest, context: Ctx) -> pb.StartOperationResponse:
        wo, seq = d.operation_key(request.name)
        cmd = c.StartOperation(wo, seq, request.operator_code, request.weigh_in_mg, request.request_id)
        return pb.StartOperationResponse(operation=m.operation_msg(await self._h.operations.start_operation(cmd)))

    async def FinishOperation(self, request: pb.FinishOperationRequest, context: Ctx) -> pb.FinishOperationResponse:
        wo, seq = d.operation_key(request.name)
        cmd = c.FinishOperation(
            wo, seq, request.operator_code, request.weigh_out_mg, request.scrap_returned_mg, request.request_id
        )
        return pb.FinishOperationResponse(operation=m.operation_msg(await self._h.operations.finish_operation(cmd)))

    async def ResolveLossReview(
        self, request: pb.ResolveLossReviewRequest, context: Ctx
    ) -> pb.ResolveLossReviewResponse:
        wo, seq = d.operation_key(request.name)
        cmd = c.ResolveLossReview(wo, seq, request.supervisor_code, d.loss_decision(request.decision), request.note)
        operation = await self._h.operations.resolve_loss_review(cmd)
        return pb.ResolveLossReviewResponse(operation=m.operation_msg(operation))

    async def GetOperation(self, request: pb.GetOperationRequest, context: Ctx) -> pb.GetOperationResponse:
        operation = await self._h.operations.get_operation(d.operation_key(request.name))
        return pb.GetOperationResponse(operation=m.operation_msg(operation))

    async def BatchGetOperations(
        self, request: pb.BatchGetOperationsRequest, context: Ctx
    ) -> pb.BatchGetOperationsResponse:
        keys = d.operation_keys(request.names)
        found = await self._h.operations.batch_get_operations(keys, allow_missing=request.allow_missing)
        return pb.BatchGetOperationsResponse(
            operations=[m.operation_msg(o) for o in found.items],
            missing_names=[f"workOrders/{wo}/operations/{seq}" for wo, seq in found.missing],
        )

    async def ListOperations(self, request: pb.ListOperationsRequest, context: Ctx) -> pb.ListOperationsResponse:
        work_center = parse_name(request.work_center, "workCenters", "work_center") if request.work_center else None
        page = await self._h.operations.list_operations(
            c.ListOperations(
                c.PageRequest(request.page_size, request.page_token),
                work_center,
                tuple(request.work_order_ids),
                d.operation_statuses(request.statuses),
            )
        )
        return pb.ListOperationsResponse(
            operations=[m.operation_msg(o) for o in page.items], next_page_token=page.next_page_token
        )

    async def SummarizeMetalLoss(
        self, request: pb.SummarizeMetalLossRequest, context: Ctx
    ) -> pb.SummarizeMetalLossResponse:
        summaries = await self._h.views.summarize_metal_loss(d.summarize_query(request))
        return pb.SummarizeMetalLossResponse(summaries=[m.loss_summary_msg(s) for s in summaries])
