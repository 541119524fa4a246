"""Requests -> commands and queries: enum values, resource names and line specs decoded,
the caller attached, nothing decided."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC
from typing import Any, Protocol

from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb
from mes_kernel.errors import FieldViolation, InvalidArgument
from mes_kernel.paging import PageRequest
from mes_kernel.principal import Principal
from mes_kernel.validation import parse_name
from services.production.domain.bom import LineSpec
from services.production.domain.operations import LossDecision, OperationStatus
from services.production.domain.resources import OperatorRole
from services.production.domain.styles import BomItem, MaterialKind, RoutingStep, StyleCategory, StyleDefinition
from services.production.domain.views import LossGrouping
from services.production.domain.work_orders import WorkOrderStatus
from services.production.entrypoints.codec.records import wants_routing, work_order_fields
from services.production.service_layer import commands as c
from services.production.service_layer import sign_in as s

__all__ = [
    "LineLike",
    "batch_get",
    "block_work_center",
    "cancel_work_orders",
    "check_session",
    "close_work_order",
    "create_work_orders",
    "explode",
    "finish_operation",
    "get",
    "hold_work_order",
    "line_specs",
    "list_operations",
    "list_page",
    "list_work_orders",
    "operation_key",
    "pause_operation",
    "resolve_loss_review",
    "resume_work_order",
    "set_operator_password",
    "sign_in",
    "sign_out",
    "start_operation",
    "summarize_metal_loss",
    "unblock_work_center",
    "upsert_operator",
    "upsert_style",
    "upsert_work_center",
    "work_center_stats",
]

_OPERATION_NAME = re.compile(r"^workOrders/([A-Za-z0-9][A-Za-z0-9_-]{0,63})/operations/([1-9][0-9]{0,2})$")
_OPERATION = "operations"  # the pseudo collection of operation names in get/batch_get


class LineLike(Protocol):
    """An order line: ``mes.production.v1.LineSpec`` or ``mes.orders.v1.OrderLine``."""

    @property
    def line_number(self) -> int: ...
    @property
    def style_code(self) -> str: ...
    @property
    def alloy_code(self) -> str: ...
    @property
    def size(self) -> str: ...
    @property
    def engraving(self) -> str: ...
    @property
    def quantity(self) -> int: ...


def _invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument(f"{field} {description}", violations=[FieldViolation(field, description)])


def operation_key(name: str, field: str = "name") -> tuple[str, int]:
    match = _OPERATION_NAME.match(name)
    if match is None:
        raise _invalid(field, "must look like 'workOrders/{work_order_id}/operations/{sequence}'")
    return match.group(1), int(match.group(2))


def _key(name: str, collection: str, field: str) -> Any:
    return operation_key(name, field) if collection == _OPERATION else parse_name(name, collection, field)


def _keys(names: Sequence[str], collection: str, field: str) -> tuple[Any, ...]:
    """Keys of ``{collection}/{id}`` names; every malformed one reported at once."""
    keys: list[Any] = []
    violations: list[FieldViolation] = []
    for i, name in enumerate(names):
        try:
            keys.append(_key(name, collection, f"{field}[{i}]"))
        except InvalidArgument as err:
            violations.extend(err.violations)
    if violations:
        raise InvalidArgument("names are malformed", violations=violations)
    return tuple(keys)


def get(request: Any, collection: str, principal: Principal) -> c.Get[Any]:
    """``Get*Request.name`` of ``collection`` ("operations": an operation's name)."""
    return c.Get(principal, _key(request.name, collection, "name"))


def batch_get(request: Any, collection: str, principal: Principal) -> c.BatchGet[Any]:
    return c.BatchGet(principal, _keys(request.names, collection, "names"), request.allow_missing)


def list_page(request: Any, principal: Principal) -> c.ListPage:
    return c.ListPage(principal, PageRequest(request.page_size, request.page_token))


def _enum(value: int, enum: Any, prefix: str) -> str | None:
    """The member name without ``prefix`` (None: unspecified or unknown)."""
    names = {int(number): name for name, number in enum.items()}
    name = names.get(value, "")
    return name[len(prefix) :] if name.startswith(prefix) and not name.endswith("_UNSPECIFIED") else None


def _enums(values: Sequence[int], enum: Any, prefix: str, field: str, what: str) -> tuple[str, ...]:
    out: list[str] = []
    for i, value in enumerate(values):
        name = _enum(value, enum, prefix)
        if name is None:
            raise _invalid(f"{field}[{i}]", f"must be {what}")
        out.append(name)
    return tuple(out)


def _code(code: str, name: str, collection: str, field: str) -> str:
    """An upsert's key: ``code``, else the id of ``name`` when given."""
    return code or (parse_name(name, collection, field) if name else "")


def line_specs(lines: Sequence[LineLike]) -> tuple[LineSpec, ...]:
    return tuple(
        LineSpec(ln.line_number, ln.style_code, ln.alloy_code, ln.size, ln.engraving, ln.quantity) for ln in lines
    )


# -- catalogue --------------------------------------------------------------------------


def upsert_style(request: pb.UpsertStyleRequest, principal: Principal) -> c.UpsertStyle:
    """The style's key is ``sku``; ``name`` ("styles/{sku}") may be sent instead, or must agree."""
    style = request.style
    sku = style.sku
    if style.name:
        from_name = parse_name(style.name, "styles", "style.name")
        if sku and sku != from_name:
            raise _invalid("style.name", "must be 'styles/' + style.sku")
        sku = from_name
    category = _enum(style.category, pb.StyleCategory, "STYLE_CATEGORY_")
    kinds = [_enum(i.kind, common_pb2.MaterialKind, "MATERIAL_KIND_") for i in style.bill_of_materials]
    definition = StyleDefinition(
        sku=sku,
        display_name=style.display_name,
        category=StyleCategory(category) if category else None,
        routing=tuple(
            RoutingStep(
                s.sequence,
                s.operation_code,
                s.work_center_type,
                s.expected_minutes,
                s.loss_tolerance_per_mille,
                s.optional,
            )
            for s in style.routing
        ),
        bill_of_materials=tuple(
            BomItem(MaterialKind(kind) if kind else None, i.material_code, i.weight_mg, i.pieces)
            for kind, i in zip(kinds, style.bill_of_materials, strict=True)
        ),
        active=style.active,
    )
    return c.UpsertStyle(principal, definition)


def explode(request: pb.ExplodeBillOfMaterialsRequest, principal: Principal) -> c.ExplodeBillOfMaterials:
    return c.ExplodeBillOfMaterials(principal, line_specs(request.lines))


def upsert_work_center(request: pb.UpsertWorkCenterRequest, principal: Principal) -> c.UpsertWorkCenter:
    wc = request.work_center
    code = _code(wc.code, wc.name, "workCenters", "work_center.name")
    return c.UpsertWorkCenter(principal, code, wc.work_center_type, wc.display_name, wc.capacity, wc.active)


def upsert_operator(request: pb.UpsertOperatorRequest, principal: Principal) -> c.UpsertOperator:
    op = request.operator
    code = _code(op.code, op.name, "operators", "operator.name")
    role = _enum(op.role, pb.OperatorRole, "OPERATOR_ROLE_")
    return c.UpsertOperator(principal, code, op.display_name, OperatorRole(role) if role else None, op.active)


def set_operator_password(request: pb.SetOperatorPasswordRequest, principal: Principal) -> s.SetOperatorPassword:
    return s.SetOperatorPassword(principal, parse_name(request.name, "operators", "name"), request.password)


def sign_in(request: pb.SignInRequest, principal: Principal, peer: str) -> s.SignIn:
    """The client's address as the request gives it (the web app's client), else the caller's own."""
    return s.SignIn(principal, request.operator_code, request.password, request.client_address or peer)


def check_session(request: pb.CheckSessionRequest, principal: Principal) -> s.CheckSession:
    return s.CheckSession(principal, request.session_token)


def sign_out(request: pb.SignOutRequest, principal: Principal) -> s.SignOut:
    return s.SignOut(principal, request.session_token)


def block_work_center(request: pb.BlockWorkCenterRequest, principal: Principal) -> c.BlockWorkCenter:
    code = parse_name(request.name, "workCenters")
    return c.BlockWorkCenter(principal, code, request.reason, request.operator_code)


def unblock_work_center(request: pb.UnblockWorkCenterRequest, principal: Principal) -> c.UnblockWorkCenter:
    return c.UnblockWorkCenter(principal, parse_name(request.name, "workCenters"), request.operator_code)


def work_center_stats(request: pb.ListWorkCenterStatsRequest, principal: Principal) -> c.WorkCenterStatsQuery:
    codes = _keys(request.work_centers, "workCenters", "work_centers")
    return c.WorkCenterStatsQuery(principal, codes, request.window_minutes)


def summarize_metal_loss(request: pb.SummarizeMetalLossRequest, principal: Principal) -> c.SummarizeMetalLoss:
    if request.grouping not in (
        pb.LOSS_GROUPING_UNSPECIFIED,
        pb.LOSS_GROUPING_OPERATION_CODE,
        pb.LOSS_GROUPING_OPERATOR,
    ):
        raise _invalid("grouping", "must be OPERATION_CODE or OPERATOR")
    grouping = LossGrouping.OPERATOR if request.grouping == pb.LOSS_GROUPING_OPERATOR else LossGrouping.OPERATION_CODE
    since = request.since_time.ToDatetime(tzinfo=UTC) if request.HasField("since_time") else None
    return c.SummarizeMetalLoss(principal, grouping, since)


# -- work orders ------------------------------------------------------------------------


def create_work_orders(request: pb.CreateWorkOrdersRequest, principal: Principal) -> c.CreateWorkOrders:
    return c.CreateWorkOrders(principal, request.order_id, request.priority, line_specs(request.lines))


def list_work_orders(request: pb.ListWorkOrdersRequest, principal: Principal) -> c.ListWorkOrders:
    statuses = _enums(request.statuses, pb.WorkOrderStatus, "WORK_ORDER_STATUS_", "statuses", "a work order status")
    return c.ListWorkOrders(
        principal,
        PageRequest(request.page_size, request.page_token),
        tuple(request.order_ids),
        tuple(WorkOrderStatus(s) for s in statuses),
        with_routing=wants_routing(work_order_fields(request.read_mask)),
    )


def hold_work_order(request: pb.HoldWorkOrderRequest, principal: Principal) -> c.HoldWorkOrder:
    return c.HoldWorkOrder(principal, parse_name(request.name, "workOrders"), request.reason)


def resume_work_order(request: pb.ResumeWorkOrderRequest, principal: Principal) -> c.ResumeWorkOrder:
    return c.ResumeWorkOrder(principal, parse_name(request.name, "workOrders"))


def close_work_order(request: pb.CloseWorkOrderRequest, principal: Principal) -> c.CloseWorkOrder:
    return c.CloseWorkOrder(principal, parse_name(request.name, "workOrders"))


def cancel_work_orders(request: pb.CancelWorkOrdersRequest, principal: Principal) -> c.CancelWorkOrders:
    return c.CancelWorkOrders(principal, request.order_id, request.reason)


# -- operations -------------------------------------------------------------------------


def start_operation(request: pb.StartOperationRequest, principal: Principal) -> c.StartOperation:
    wo, seq = operation_key(request.name)
    return c.StartOperation(principal, wo, seq, request.operator_code, request.weigh_in_mg, request.request_id)


def pause_operation(request: pb.PauseOperationRequest, principal: Principal) -> c.PauseOperation:
    wo, seq = operation_key(request.name)
    return c.PauseOperation(principal, wo, seq, request.operator_code, request.reason, request.request_id)


def resume_operation(request: pb.ResumeOperationRequest, principal: Principal) -> c.ResumeOperation:
    wo, seq = operation_key(request.name)
    return c.ResumeOperation(principal, wo, seq, request.operator_code, request.request_id)


def finish_operation(request: pb.FinishOperationRequest, principal: Principal) -> c.FinishOperation:
    wo, seq = operation_key(request.name)
    return c.FinishOperation(
        principal, wo, seq, request.operator_code, request.weigh_out_mg, request.scrap_returned_mg, request.request_id
    )


def resolve_loss_review(request: pb.ResolveLossReviewRequest, principal: Principal) -> c.ResolveLossReview:
    wo, seq = operation_key(request.name)
    decision = _enum(request.decision, pb.LossReviewDecision, "LOSS_REVIEW_DECISION_")
    return c.ResolveLossReview(
        principal, wo, seq, request.supervisor_code, LossDecision(decision) if decision else None, request.note
    )


def list_operations(request: pb.ListOperationsRequest, principal: Principal) -> c.ListOperations:
    work_center = parse_name(request.work_center, "workCenters", "work_center") if request.work_center else None
    statuses = _enums(request.statuses, pb.OperationStatus, "OPERATION_STATUS_", "statuses", "an operation status")
    return c.ListOperations(
        principal,
        PageRequest(request.page_size, request.page_token),
        work_center,
        tuple(request.work_order_ids),
        tuple(OperationStatus(s) for s in statuses),
    )
