"""Typed async client of ``mes.production.v1.ProductionService``: styles, work centers, work orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import TypeAlias

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from clients._base import MetadataPairs, ServiceClient, build_request, to_timestamp, with_request_id
from clients._config import ClientConfig
from clients._pagination import paginate
from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb
from mes.production.v1 import production_pb2_grpc

__all__ = ["ProductionClient"]

Priority: TypeAlias = common_pb2.Priority.ValueType
WorkOrderStatus: TypeAlias = pb.WorkOrderStatus.ValueType
OperationStatus: TypeAlias = pb.OperationStatus.ValueType
Decision: TypeAlias = pb.LossReviewDecision.ValueType
Grouping: TypeAlias = pb.LossGrouping.ValueType


class ProductionClient(ServiceClient):
    """Client of the production service. Get-style calls return the resource, others the response message."""

    service = "production"

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        channel: grpc.aio.Channel | None = None,
        extra_metadata: Callable[[], MetadataPairs] | None = None,
    ) -> None:
        super().__init__(config, channel=channel, extra_metadata=extra_metadata)
        self._stub = production_pb2_grpc.ProductionServiceStub(self.channel)

    # -- styles -------------------------------------------------------------------------

    async def upsert_style(self, style: pb.Style, *, timeout: float | None = None) -> pb.Style:
        """Create a style or a new routing/BOM version of it."""
        resp = await self._call("UpsertStyle", self._stub.UpsertStyle, pb.UpsertStyleRequest(style=style), timeout)
        return resp.style

    async def get_style(self, name: str, *, timeout: float | None = None) -> pb.Style:
        resp = await self._call("GetStyle", self._stub.GetStyle, pb.GetStyleRequest(name=name), timeout)
        return resp.style

    async def list_styles(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListStylesResponse:
        req = pb.ListStylesRequest(page_size=page_size, page_token=page_token)
        return await self._call("ListStyles", self._stub.ListStyles, req, timeout)

    def iter_styles(
        self, *, page_size: int = 100, limit: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[pb.Style]:
        async def fetch(token: str) -> pb.ListStylesResponse:
            return await self.list_styles(page_size=page_size, page_token=token, timeout=timeout)

        return paginate(fetch, lambda page: page.styles, limit=limit)

    async def batch_get_styles(
        self, names: Sequence[str], *, allow_missing: bool = False, timeout: float | None = None
    ) -> pb.BatchGetStylesResponse:
        req = pb.BatchGetStylesRequest(names=names, allow_missing=allow_missing)
        return await self._call("BatchGetStyles", self._stub.BatchGetStyles, req, timeout)

    async def explode_bill_of_materials(
        self, lines: Sequence[pb.LineSpec], *, timeout: float | None = None
    ) -> list[common_pb2.MaterialRequirement]:
        """Material requirements of order lines, through the styles' bills of materials."""
        req = pb.ExplodeBillOfMaterialsRequest(lines=lines)
        resp = await self._call("ExplodeBillOfMaterials", self._stub.ExplodeBillOfMaterials, req, timeout)
        return list(resp.requirements)

    # -- work centers and operators -----------------------------------------------------

    async def upsert_work_center(self, work_center: pb.WorkCenter, *, timeout: float | None = None) -> pb.WorkCenter:
        req = pb.UpsertWorkCenterRequest(work_center=work_center)
        resp = await self._call("UpsertWorkCenter", self._stub.UpsertWorkCenter, req, timeout)
        return resp.work_center

    async def get_work_center(self, name: str, *, timeout: float | None = None) -> pb.WorkCenter:
        req = pb.GetWorkCenterRequest(name=name)
        resp = await self._call("GetWorkCenter", self._stub.GetWorkCenter, req, timeout)
        return resp.work_center

    async def list_work_centers(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListWorkCentersResponse:
        req = pb.ListWorkCentersRequest(page_size=page_size, page_token=page_token)
        return await self._call("ListWorkCenters", self._stub.ListWorkCenters, req, timeout)

    def iter_work_centers(self, *, page_size: int = 100, timeout: float | None = None) -> AsyncIterator[pb.WorkCenter]:
        async def fetch(token: str) -> pb.ListWorkCentersResponse:
            return await self.list_work_centers(page_size=page_size, page_token=token, timeout=timeout)

        return paginate(fetch, lambda page: page.work_centers)

    async def list_work_center_stats(
        self, *, work_centers: Sequence[str] = (), window_minutes: int = 0, timeout: float | None = None
    ) -> list[pb.WorkCenterStats]:
        """WIP and throughput per work center (every one when ``work_centers`` is empty)."""
        req = pb.ListWorkCenterStatsRequest(work_centers=work_centers, window_minutes=window_minutes)
        resp = await self._call("ListWorkCenterStats", self._stub.ListWorkCenterStats, req, timeout)
        return list(resp.stats)

    async def upsert_operator(self, operator: pb.Operator, *, timeout: float | None = None) -> pb.Operator:
        req = pb.UpsertOperatorRequest(operator=operator)
        resp = await self._call("UpsertOperator", self._stub.UpsertOperator, req, timeout)
        return resp.operator

    async def list_operators(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListOperatorsResponse:
        req = pb.ListOperatorsRequest(page_size=page_size, page_token=page_token)
        return await self._call("ListOperators", self._stub.ListOperators, req, timeout)

    def iter_operators(self, *, page_size: int = 100, timeout: float | None = None) -> AsyncIterator[pb.Operator]:
        async def fetch(token: str) -> pb.ListOperatorsResponse:
            return await self.list_operators(page_size=page_size, page_token=token, timeout=timeout)

        return paginate(fetch, lambda page: page.operators)

    # -- work orders --------------------------------------------------------------------

    async def create_work_orders(
        self,
        order_id: str,
        lines: Sequence[pb.LineSpec],
        *,
        priority: Priority = common_pb2.PRIORITY_UNSPECIFIED,
        timeout: float | None = None,
    ) -> list[pb.WorkOrder]:
        """Create and release the work orders of an order, one per line (idempotent per order)."""
        req = pb.CreateWorkOrdersRequest(order_id=order_id, priority=priority, lines=lines)
        resp = await self._call("CreateWorkOrders", self._stub.CreateWorkOrders, req, timeout)
        return list(resp.work_orders)

    async def get_work_order(self, name: str, *, timeout: float | None = None) -> pb.WorkOrder:
        resp = await self._call("GetWorkOrder", self._stub.GetWorkOrder, pb.GetWorkOrderRequest(name=name), timeout)
        return resp.work_order

    async def batch_get_work_orders(
        self, names: Sequence[str], *, allow_missing: bool = False, timeout: float | None = None
    ) -> pb.BatchGetWorkOrdersResponse:
        req = pb.BatchGetWorkOrdersRequest(names=names, allow_missing=allow_missing)
        return await self._call("BatchGetWorkOrders", self._stub.BatchGetWorkOrders, req, timeout)

    async def list_work_orders(
        self,
        *,
        order_ids: Sequence[str] = (),
        statuses: Sequence[WorkOrderStatus] = (),
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> pb.ListWorkOrdersResponse:
        req = pb.ListWorkOrdersRequest(
            order_ids=order_ids, statuses=statuses, page_size=page_size, page_token=page_token
        )
        return await self._call("ListWorkOrders", self._stub.ListWorkOrders, req, timeout)

    def iter_work_orders(
        self,
        *,
        order_ids: Sequence[str] = (),
        statuses: Sequence[WorkOrderStatus] = (),
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.WorkOrder]:
        async def fetch(token: str) -> pb.ListWorkOrdersResponse:
            return await self.list_work_orders(
                order_ids=order_ids, statuses=statuses, page_size=page_size, page_token=token, timeout=timeout
            )

        return paginate(fetch, lambda page: page.work_orders, limit=limit)

    async def hold_work_order(self, name: str, *, reason: str = "", timeout: float | None = None) -> pb.WorkOrder:
        req = pb.HoldWorkOrderRequest(name=name, reason=reason)
        resp = await self._call("HoldWorkOrder", self._stub.HoldWorkOrder, req, timeout)
        return resp.work_order

    async def resume_work_order(self, name: str, *, timeout: float | None = None) -> pb.WorkOrder:
        req = pb.ResumeWorkOrderRequest(name=name)
        resp = await self._call("ResumeWorkOrder", self._stub.ResumeWorkOrder, req, timeout)
        return resp.work_order

    async def close_work_order(self, name: str, *, timeout: float | None = None) -> pb.WorkOrder:
        """Close a completed work order, reconciling its metal."""
        req = pb.CloseWorkOrderRequest(name=name)
        resp = await self._call("CloseWorkOrder", self._stub.CloseWorkOrder, req, timeout)
        return resp.work_order

    async def cancel_work_orders(
        self, order_id: str, *, reason: str = "", timeout: float | None = None
    ) -> list[pb.WorkOrder]:
        req = pb.CancelWorkOrdersRequest(order_id=order_id, reason=reason)
        resp = await self._call("CancelWorkOrders", self._stub.CancelWorkOrders, req, timeout)
        return list(resp.work_orders)

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
        timeout: float | None = None,
    ) -> pb.Operation:
        """Start an operation with its weigh-in (a request_id is generated when none is given)."""
        req = build_request(
            pb.StartOperationRequest,
            request,
            name=name,
            operator_code=operator_code,
            weigh_in_mg=weigh_in_mg,
            request_id=request_id,
        )
        resp = await self._call("StartOperation", self._stub.StartOperation, with_request_id(req), timeout)
        return resp.operation

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
        timeout: float | None = None,
    ) -> pb.Operation:
        """Finish an operation with its weigh-out; above the loss tolerance it goes to LOSS_REVIEW."""
        req = build_request(
            pb.FinishOperationRequest,
            request,
            name=name,
            operator_code=operator_code,
            weigh_out_mg=weigh_out_mg,
            scrap_returned_mg=scrap_returned_mg,
            request_id=request_id,
        )
        resp = await self._call("FinishOperation", self._stub.FinishOperation, with_request_id(req), timeout)
        return resp.operation

    async def resolve_loss_review(
        self,
        name: str,
        *,
        supervisor_code: str,
        decision: Decision,
        note: str = "",
        timeout: float | None = None,
    ) -> pb.Operation:
        """Approve (DONE) or send to rework an operation in LOSS_REVIEW."""
        req = pb.ResolveLossReviewRequest(name=name, supervisor_code=supervisor_code, decision=decision, note=note)
        resp = await self._call("ResolveLossReview", self._stub.ResolveLossReview, req, timeout)
        return resp.operation

    async def get_operation(self, name: str, *, timeout: float | None = None) -> pb.Operation:
        resp = await self._call("GetOperation", self._stub.GetOperation, pb.GetOperationRequest(name=name), timeout)
        return resp.operation

    async def batch_get_operations(
        self, names: Sequence[str], *, allow_missing: bool = False, timeout: float | None = None
    ) -> pb.BatchGetOperationsResponse:
        req = pb.BatchGetOperationsRequest(names=names, allow_missing=allow_missing)
        return await self._call("BatchGetOperations", self._stub.BatchGetOperations, req, timeout)

    async def list_operations(
        self,
        *,
        work_center: str = "",
        work_order_ids: Sequence[str] = (),
        statuses: Sequence[OperationStatus] = (),
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> pb.ListOperationsResponse:
        """One page of operations: a work center's queue, or a work order's steps."""
        req = pb.ListOperationsRequest(
            work_center=work_center,
            work_order_ids=work_order_ids,
            statuses=statuses,
            page_size=page_size,
            page_token=page_token,
        )
        return await self._call("ListOperations", self._stub.ListOperations, req, timeout)

    def iter_operations(
        self,
        *,
        work_center: str = "",
        work_order_ids: Sequence[str] = (),
        statuses: Sequence[OperationStatus] = (),
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Operation]:
        async def fetch(token: str) -> pb.ListOperationsResponse:
            return await self.list_operations(
                work_center=work_center,
                work_order_ids=work_order_ids,
                statuses=statuses,
                page_size=page_size,
                page_token=token,
                timeout=timeout,
            )

        return paginate(fetch, lambda page: page.operations, limit=limit)

    async def summarize_metal_loss(
        self,
        *,
        grouping: Grouping = pb.LOSS_GROUPING_OPERATION_CODE,
        since: datetime | Timestamp | None = None,
        timeout: float | None = None,
    ) -> list[pb.LossSummary]:
        """Metal loss grouped by operation code or by operator (operations finished after ``since``)."""
        req = build_request(pb.SummarizeMetalLossRequest, None, grouping=grouping, since_time=to_timestamp(since))
        resp = await self._call("SummarizeMetalLoss", self._stub.SummarizeMetalLoss, req, timeout)
        return list(resp.summaries)
