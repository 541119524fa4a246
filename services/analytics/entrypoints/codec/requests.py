"""gRPC requests -> the queries and commands of the use cases (with the acting principal).

Facts given to ImportFacts are checked here, every bad field reported at once (INVALID_ARGUMENT).
"""

from __future__ import annotations

import re

from mes.analytics.v1 import analytics_pb2 as pb
from mes_kernel.principal import Principal
from mes_kernel.validation import Violations
from services.analytics.domain.facts import OperationSnapshot, OperationStatus, OrderLine, OrderRecord
from services.analytics.domain.timeline import Grain
from services.analytics.entrypoints.codec.consumed import operation_snapshot, stamp
from services.analytics.service_layer import commands as c

__all__ = [
    "flow_query",
    "import_facts",
    "metal_query",
    "operation_fact",
    "order_fact",
    "partner_query",
    "rebuild",
    "status_query",
    "window",
]

_GRAINS = {
    pb.GRAIN_UNSPECIFIED: Grain.DAY,
    pb.GRAIN_HOUR: Grain.HOUR,
    pb.GRAIN_DAY: Grain.DAY,
    pb.GRAIN_WEEK: Grain.WEEK,
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_OPERATION_NAME = re.compile(r"^workOrders/([A-Za-z0-9][A-Za-z0-9_.:-]{0,79})/operations/([0-9]{1,4})$")
#: Status names ImportFacts takes (the production service's QUEUED and DONE too).
_STATUS_NAMES = {
    **{s.value: s for s in OperationStatus},
    "QUEUED": OperationStatus.READY,
    "DONE": OperationStatus.FINISHED,
}


def window(value: pb.Window, v: Violations, field: str = "window") -> c.WindowSpec:
    grain = _GRAINS.get(value.grain)
    v.check(grain is not None, f"{field}.grain", "must be GRAIN_HOUR, GRAIN_DAY or GRAIN_WEEK")
    return c.WindowSpec(
        start=stamp(value.from_time, value.HasField("from_time")),
        end=stamp(value.to_time, value.HasField("to_time")),
        grain=grain or Grain.DAY,
    )


def _window_of(
    request: pb.GetPartnerAnalyticsRequest | pb.GetFlowAnalyticsRequest | pb.GetMetalAnalyticsRequest,
) -> c.WindowSpec:
    v = Violations()
    spec = window(request.window, v)
    v.raise_if_any("the window is invalid")
    return spec


def partner_query(request: pb.GetPartnerAnalyticsRequest, principal: Principal) -> c.PartnerQuery:
    return c.PartnerQuery(principal, _window_of(request), request.partner_id)


def flow_query(request: pb.GetFlowAnalyticsRequest, principal: Principal) -> c.FlowQuery:
    return c.FlowQuery(principal, _window_of(request))


def metal_query(request: pb.GetMetalAnalyticsRequest, principal: Principal) -> c.MetalQuery:
    return c.MetalQuery(principal, _window_of(request))


def status_query(request: pb.GetProjectionStatusRequest, principal: Principal) -> c.StatusQuery:
    return c.StatusQuery(principal)


def rebuild(request: pb.RebuildRequest, principal: Principal) -> c.Rebuild:
    return c.Rebuild(principal, request.keep_imported, request.request_id)


def order_fact(fact: pb.OrderFact, v: Violations, field: str) -> OrderRecord:
    v.check(bool(_ID.match(fact.order_id)), f"{field}.order_id", "must be an order id (1..64 of A-Z, a-z, 0-9, '_-.:')")
    partner = fact.partner_id.removeprefix("partners/")
    v.check(bool(_ID.match(partner)), f"{field}.partner_id", "must be a partner id")
    v.check(fact.HasField("submit_time"), f"{field}.submit_time", "is required")
    for i, line in enumerate(fact.lines):
        v.check(line.quantity > 0, f"{field}.lines[{i}].quantity", "must be greater than zero")
        v.check(bool(line.style_code), f"{field}.lines[{i}].style_code", "is required")
        v.check(bool(line.alloy_code), f"{field}.lines[{i}].alloy_code", "is required")
    return OrderRecord(
        order_id=fact.order_id,
        partner_id=partner,
        submit_at=stamp(fact.submit_time, fact.HasField("submit_time")),
        due_at=stamp(fact.due_time, fact.HasField("due_time")),
        ship_at=stamp(fact.ship_time, fact.HasField("ship_time")),
        cancel_at=stamp(fact.cancel_time, fact.HasField("cancel_time")),
        release_at=stamp(fact.release_time, fact.HasField("release_time")),
        lines=tuple(
            OrderLine(i, line.style_code, line.alloy_code, line.quantity) for i, line in enumerate(fact.lines, start=1)
        ),
        imported=True,
    )


def operation_fact(fact: pb.OperationFact, v: Violations, field: str) -> OperationSnapshot:
    match = _OPERATION_NAME.match(fact.name)
    v.check(match is not None, f"{field}.name", "must look like 'workOrders/{id}/operations/{sequence}'")
    status = _STATUS_NAMES.get(fact.status)
    v.check(
        status is not None, f"{field}.status", "must be READY, IN_PROGRESS, PAUSED, LOSS_REVIEW, FINISHED, CANCELLED..."
    )
    for name in ("weigh_in_mg", "weigh_out_mg", "scrap_returned_mg", "paused_seconds", "loss_tolerance_per_mille"):
        v.check(getattr(fact, name) >= 0, f"{field}.{name}", "must not be negative")
    stop = stamp(fact.finish_time, fact.HasField("finish_time"))
    if stop is None and status is OperationStatus.CANCELLED:
        stop = stamp(fact.start_time, fact.HasField("start_time"))  # no time in progress is known for it
    return operation_snapshot(
        fact,
        work_order_id=match.group(1) if match else "",
        status=status or OperationStatus.PENDING,
        version=0,
        stop_at=stop,
        ready_at=stamp(fact.ready_time, fact.HasField("ready_time")),
        release_at=stamp(fact.release_time, fact.HasField("release_time")),
        imported=True,
    )


def import_facts(request: pb.ImportFactsRequest, principal: Principal) -> c.ImportFacts:
    v = Violations()
    orders = tuple(order_fact(fact, v, f"orders[{i}]") for i, fact in enumerate(request.orders))
    operations = tuple(operation_fact(fact, v, f"operations[{i}]") for i, fact in enumerate(request.operations))
    v.raise_if_any("the facts are invalid")
    return c.ImportFacts(principal, orders, operations)
