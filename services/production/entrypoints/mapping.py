"""Requests -> commands: enum values, resource names and line specs decoded, nothing decided."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from mes.common.v1 import common_pb2
from mes.production.v1 import production_pb2 as pb
from mes_kernel.errors import FieldViolation, InvalidArgument
from mes_kernel.validation import parse_name
from services.production.domain.bom import LineSpec
from services.production.domain.operations import LossDecision, OperationStatus
from services.production.domain.resources import OperatorRole
from services.production.domain.styles import BomItem, MaterialKind, RoutingStep, StyleCategory, StyleDefinition
from services.production.domain.views import LossGrouping
from services.production.domain.work_orders import WorkOrderStatus
from services.production.service_layer import commands as c

__all__ = [
    "line_specs",
    "operation_key",
    "operation_keys",
    "operation_statuses",
    "parse_names",
    "style_definition",
    "work_order_statuses",
]

_OPERATION_NAME = re.compile(r"^workOrders/([A-Za-z0-9][A-Za-z0-9_-]{0,63})/operations/([1-9][0-9]{0,2})$")


def _invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument(f"{field} {description}", violations=[FieldViolation(field, description)])


def operation_key(name: str, field: str = "name") -> tuple[str, int]:
    match = _OPERATION_NAME.match(name)
    if match is None:
        raise _invalid(field, "must look like 'workOrders/{work_order_id}/operations/{sequence}'")
    return match.group(1), int(match.group(2))


def parse_names(names: Sequence[str], collection: str, *, field: str = "names") -> list[str]:
    """Ids of ``{collection}/{id}`` names; every malformed one reported at once."""
    ids: list[str] = []
    violations: list[FieldViolation] = []
    for i, name in enumerate(names):
        try:
            ids.append(parse_name(name, collection, f"{field}[{i}]"))
        except InvalidArgument as err:
            violations.extend(err.violations)
    if violations:
        raise InvalidArgument("names are malformed", violations=violations)
    return ids


def operation_keys(names: Sequence[str]) -> list[tuple[str, int]]:
    keys: list[tuple[str, int]] = []
    violations: list[FieldViolation] = []
    for i, name in enumerate(names):
        try:
            keys.append(operation_key(name, f"names[{i}]"))
        except InvalidArgument as err:
            violations.extend(err.violations)
    if violations:
        raise InvalidArgument("names are malformed", violations=violations)
    return keys


def page(request: pb.ListStylesRequest | pb.ListWorkCentersRequest | pb.ListOperatorsRequest) -> c.PageRequest:
    return c.PageRequest(request.page_size, request.page_token)


def _names(enum: Any) -> dict[int, str]:
    return {int(number): name for name, number in enum.items()}


def _enum_name(value: int, names: dict[int, str], prefix: str) -> str | None:
    name = names.get(value, "")
    return name[len(prefix) :] if name.startswith(prefix) and not name.endswith("_UNSPECIFIED") else None


def _kind(value: int) -> MaterialKind | None:
    name = _enum_name(value, _names(common_pb2.MaterialKind), "MATERIAL_KIND_")
    return MaterialKind(name) if name else None


def style_definition(style: pb.Style) -> StyleDefinition:
    """The style's key is ``sku``; ``name`` ("styles/{sku}") may be sent instead, or must agree."""
    sku = style.sku
    if style.name:
        from_name = parse_name(style.name, "styles", "style.name")
        if sku and sku != from_name:
            raise _invalid("style.name", "must be 'styles/' + style.sku")
        sku = from_name
    category = _enum_name(style.category, _names(pb.StyleCategory), "STYLE_CATEGORY_")
    return StyleDefinition(
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
            BomItem(_kind(i.kind), i.material_code, i.weight_mg, i.pieces) for i in style.bill_of_materials
        ),
        active=style.active,
    )


def operator_role(value: int) -> OperatorRole | None:
    role = _enum_name(value, _names(pb.OperatorRole), "OPERATOR_ROLE_")
    return OperatorRole(role) if role else None


def line_specs(lines: Sequence[pb.LineSpec]) -> tuple[LineSpec, ...]:
    return tuple(
        LineSpec(ln.line_number, ln.style_code, ln.alloy_code, ln.size, ln.engraving, ln.quantity) for ln in lines
    )


def work_order_statuses(values: Sequence[int], field: str = "statuses") -> tuple[WorkOrderStatus, ...]:
    names = _names(pb.WorkOrderStatus)
    out: list[WorkOrderStatus] = []
    for i, value in enumerate(values):
        name = _enum_name(value, names, "WORK_ORDER_STATUS_")
        if name is None:
            raise _invalid(f"{field}[{i}]", "must be a work order status")
        out.append(WorkOrderStatus(name))
    return tuple(out)


def operation_statuses(values: Sequence[int], field: str = "statuses") -> tuple[OperationStatus, ...]:
    names = _names(pb.OperationStatus)
    out: list[OperationStatus] = []
    for i, value in enumerate(values):
        name = _enum_name(value, names, "OPERATION_STATUS_")
        if name is None:
            raise _invalid(f"{field}[{i}]", "must be an operation status")
        out.append(OperationStatus(name))
    return tuple(out)


def loss_decision(value: int) -> LossDecision | None:
    name = _enum_name(value, _names(pb.LossReviewDecision), "LOSS_REVIEW_DECISION_")
    return LossDecision(name) if name else None


def summarize_query(request: pb.SummarizeMetalLossRequest) -> c.SummarizeMetalLoss:
    grouping = LossGrouping.OPERATOR if request.grouping == pb.LOSS_GROUPING_OPERATOR else LossGrouping.OPERATION_CODE
    if request.grouping not in (
        pb.LOSS_GROUPING_UNSPECIFIED,
        pb.LOSS_GROUPING_OPERATION_CODE,
        pb.LOSS_GROUPING_OPERATOR,
    ):
        raise _invalid("grouping", "must be OPERATION_CODE or OPERATOR")
    since = request.since_time.ToDatetime(tzinfo=UTC) if request.HasField("since_time") else None
    return c.SummarizeMetalLoss(grouping, since)
