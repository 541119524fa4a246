"""The compiled path's view of the object types: each field read from the service's message.

Every getter answers what the generic path's ``from_pb`` + Strawberry's serialization answer for
the same message (the differential tests compare both); resolver-backed fields go through the
request's DataLoaders, as the Strawberry resolvers do.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from graphql_facade.compiled.fields import Args, Batch, Getter, Spec, TypeSpecs, each, enum_names, iso, loaded
from graphql_facade.context import RequestContext
from graphql_facade.schema.common import (
    MaterialKind,
    Metal,
    OperationStatus,
    OrderStatus,
    Priority,
    ReservationState,
    StyleCategory,
    WorkOrderStatus,
)
from graphql_facade.schema.connections import list_fetch
from graphql_facade.schema.production import WorkCenterState, operation_id
from mes.production.v1 import production_pb2 as prod

__all__ = ["OBJECTS"]

_order_status = enum_names(OrderStatus)
_priority = enum_names(Priority)


def _attrs(**fields: str) -> dict[str, Spec]:
    """Fields that are one attribute of the message each (GraphQL name -> attribute)."""
    return {name: Getter(attrgetter(attr)) for name, attr in fields.items()}


def _enum(attr: str, names: Any) -> Getter:
    get = attrgetter(attr)
    return Getter(lambda pb: names(get(pb)))


def _time(attr: str) -> Getter:
    get = attrgetter(attr)
    return Getter(lambda pb: iso(get(pb)))


def _id_after(attr: str, prefix: str) -> Getter:
    get = attrgetter(attr)
    return Getter(lambda pb: get(pb).removeprefix(prefix))


def _ref(loader: str, attr: str) -> Batch:
    """A reference (style, alloy, order, work order...) looked up by one attribute of the source."""
    return loaded(attrgetter(f"loaders.{loader}"), attrgetter(attr))


def _operations_key(pb: prod.WorkOrder) -> tuple[str, tuple[int, ...]]:
    return pb.work_order_id, tuple(step.sequence for step in pb.routing_snapshot)


async def _work_center(context: RequestContext, pb: prod.Operation, args: Args) -> Any:
    center = pb.work_center.removeprefix("workCenters/")
    return None if not center else await context.loaders.work_center.load(center)


async def _queue(context: RequestContext, pb: prod.WorkCenter, args: Args) -> Any:
    from graphql_facade.compiled.pages import PageSource

    statuses: Sequence[Any] | None = args.get("statuses")
    wanted = [s.value for s in statuses] if statuses else [prod.OPERATION_STATUS_QUEUED]
    request = prod.ListOperationsRequest(work_center=f"workCenters/{pb.code}", statuses=wanted)
    fetch = list_fetch(context.backend.production.list_operations, request, lambda page: page.operations)
    return await PageSource.fetch(fetch, args["first"], args.get("after"))


def _stats_window(pb: prod.WorkCenterStats) -> int:
    return pb.window_minutes or 1


_ORDER = {
    **_attrs(
        id="order_id",
        partnerReference="partner_reference",
        statusReason="status_reason",
        late="late",
        version="version",
    ),
    "priority": _enum("priority", _priority),
    "status": _enum("status", _order_status),
    "dueTime": _time("due_time"),
    "createTime": _time("create_time"),
    "updateTime": _time("update_time"),
    "lines": Getter(attrgetter("lines")),
    "partnerId": _id_after("partner", "partners/"),
    "statusHistory": _ref("status_history", "order_id"),
    "workOrders": _ref("work_orders_by_order", "order_id"),
    "reservations": _ref("reservations_by_order", "order_id"),
}

_WORK_ORDER = {
    **_attrs(
        id="work_order_id",
        orderId="order_id",
        lineNumber="line_number",
        styleSku="style_sku",
        alloyCode="alloy_code",
        size="size",
        engraving="engraving",
        quantity="quantity",
        routingVersion="routing_version",
        issuedMg="issued_mg",
        finishedMg="finished_mg",
        lossMg="loss_mg",
        scrapReturnedMg="scrap_returned_mg",
        version="version",
    ),
    "status": _enum("status", enum_names(WorkOrderStatus)),
    "priority": _enum("priority", _priority),
    "createTime": _time("create_time"),
    "updateTime": _time("update_time"),
    "operations": loaded(attrgetter("loaders.operations"), _operations_key),
    "style": _ref("style", "style_sku"),
    "alloy": _ref("alloy", "alloy_code"),
}

_OPERATION = {
    **_attrs(
        workOrderId="work_order_id",
        orderId="order_id",
        sequence="sequence",
        operationCode="operation_code",
        workCenterType="work_center_type",
        weighInMg="weigh_in_mg",
        weighOutMg="weigh_out_mg",
        scrapReturnedMg="scrap_returned_mg",
        lossMg="loss_mg",
        lossTolerancePerMille="loss_tolerance_per_mille",
        startedBy="started_by",
        finishedBy="finished_by",
        reviewedBy="reviewed_by",
        reviewNote="review_note",
        attempt="attempt",
        alloyCode="alloy_code",
        version="version",
        pauseReason="pause_reason",
        pausedSeconds="paused_seconds",
    ),
    "id": Getter(operation_id),
    "workCenterId": Getter(lambda pb: pb.work_center.removeprefix("workCenters/") or None),
    "status": _enum("status", enum_names(OperationStatus)),
    "startTime": _time("start_time"),
    "finishTime": _time("finish_time"),
    "pauseTime": _time("pause_time"),
    "workCenter": each(_work_center),
    "workOrder": _ref("work_order", "work_order_id"),
}

OBJECTS: TypeSpecs = {
    "Order": _ORDER,
    "OrderLine": {
        **_attrs(
            lineNumber="line_number",
            styleCode="style_code",
            alloyCode="alloy_code",
            size="size",
            engraving="engraving",
            quantity="quantity",
        ),
        "style": _ref("style", "style_code"),
        "alloy": _ref("alloy", "alloy_code"),
    },
    "StatusChange": {
        "fromStatus": _enum("from_status", _order_status),
        "toStatus": _enum("to_status", _order_status),
        "reason": Getter(attrgetter("reason")),
        "time": _time("change_time"),
    },
    "OrderCounts": {
        "byStatus": Getter(lambda pb: [c for c in pb.counts if _order_status(c.status) is not None]),
        "late": Getter(attrgetter("late_count")),
        "total": Getter(lambda pb: sum(c.count for c in pb.counts)),
    },
    "StatusCount": {"status": _enum("status", _order_status), "count": Getter(attrgetter("count"))},
    "WorkOrder": _WORK_ORDER,
    "Operation": _OPERATION,
    "WorkCenter": {
        **_attrs(
            id="code",
            code="code",
            workCenterType="work_center_type",
            displayName="display_name",
            capacity="capacity",
            active="active",
            version="version",
            stateReason="state_reason",
        ),
        "state": _enum("state", enum_names(WorkCenterState)),
        "stateTime": _time("state_time"),
        "stats": _ref("work_center_stats", "code"),
        "queue": each(_queue),
    },
    "WorkCenterStats": {
        **_attrs(
            queued="queued",
            inProgress="in_progress",
            inReview="in_review",
            doneInWindow="done_in_window",
            windowMinutes="window_minutes",
            capacity="capacity",
        ),
        "wip": Getter(lambda pb: pb.in_progress + pb.in_review),
        "throughputPerHour": Getter(lambda pb: round(pb.done_in_window * 60 / _stats_window(pb), 3)),
    },
    "LossSummary": _attrs(
        key="key",
        operations="operations",
        weighInMg="weigh_in_mg",
        lossMg="loss_mg",
        lossPpm="loss_ppm",
        reviews="reviews",
    ),
    "Style": {
        **_attrs(id="sku", sku="sku", displayName="display_name", active="active", routingVersion="routing_version"),
        "category": _enum("category", enum_names(StyleCategory)),
    },
    "Alloy": {
        **_attrs(
            id="code", code="code", fineness="fineness", colour="colour", displayName="display_name", active="active"
        ),
        "metal": _enum("metal", enum_names(Metal)),
    },
    "Reservation": {
        **_attrs(id="reservation_id", orderId="order_id", version="version", items="items"),
        "state": _enum("state", enum_names(ReservationState)),
        "createTime": _time("create_time"),
        "updateTime": _time("update_time"),
    },
    "ReservationItem": {
        **_attrs(
            lotId="lot_id",
            materialCode="material_code",
            weightMg="weight_mg",
            pieces="pieces",
            lineNumber="line_number",
        ),
        "kind": _enum("kind", enum_names(MaterialKind)),
    },
    "AlloyBalance": {
        **_attrs(
            materialCode="material_code",
            onHandMg="on_hand_mg",
            reservedMg="reserved_mg",
            availableMg="available_mg",
            fineOnHandMg="fine_on_hand_mg",
            fineAvailableMg="fine_available_mg",
        ),
        "alloy": _ref("alloy", "material_code"),
    },
    "Shortage": {
        **_attrs(
            orderId="order_id",
            materialCode="material_code",
            requiredMg="required_mg",
            availableMg="available_mg",
            requiredPieces="required_pieces",
            availablePieces="available_pieces",
        ),
        "kind": _enum("kind", enum_names(MaterialKind)),
        "missingMg": Getter(lambda pb: max(0, pb.required_mg - pb.available_mg)),
        "missingPieces": Getter(lambda pb: max(0, pb.required_pieces - pb.available_pieces)),
        "priority": _enum("priority", _priority),
        "since": _time("since_time"),
        "order": _ref("order", "order_id"),
    },
}
