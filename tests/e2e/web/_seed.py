"""What the browser tests need in the demo stack besides its master data: a few orders in production
(submitted by the demo partner through the facade) and an operation started at a bench (gRPC), so
that every page has rows to show, and the analytics service caught up with them. Everything is keyed
by fixed references and request ids: the same demo shop floor on every run, which the screenshots rely
on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx

from mes.analytics.v1 import analytics_pb2, analytics_pb2_grpc
from mes.production.v1 import production_pb2 as pb
from mes.production.v1 import production_pb2_grpc
from tests.e2e._graphql import SERVICE_TOKEN, SUBMIT, GraphQLStack, partner

#: The demo partner whose orders the pages show.
PARTNER = "aurora-jewels"
#: (partner reference, style, alloy, quantity, size, due date): the demo orders of the tests.
ORDERS: tuple[tuple[str, str, str, int, str, str], ...] = (
    ("PO-2001", "RNG-BND-003", "AU585Y", 2, "54", "2031-03-02T16:00:00Z"),
    ("PO-2002", "RNG-SOL-001", "AU750Y", 1, "52", "2031-03-09T16:00:00Z"),
    ("PO-2003", "PND-HRT-001", "AU585R", 3, "", "2031-03-16T16:00:00Z"),
)
#: The demo operator who works at the bench in the tests, and the one who signs in as a supervisor.
OPERATOR, SUPERVISOR = "OP-01", "SUP-01"
WAIT_S = 30.0
#: What the orders service answers while the demo catalogue is still on its way.
_NOT_YET = frozenset({"UNKNOWN_ALLOY", "UNKNOWN_STYLE"})


@dataclass(frozen=True)
class Seeded:
    """The demo orders' ids (by reference) and the operation started at its work center."""

    order_ids: dict[str, str]
    started: pb.Operation

    @property
    def work_center(self) -> str:
        """The code of the work center of the started operation (``CAST-1``)."""
        return self.started.work_center.removeprefix("workCenters/")


def order_input(reference: str, style: str, alloy: str, quantity: int, size: str, due: str) -> dict[str, Any]:
    line: dict[str, Any] = {"styleCode": style, "alloyCode": alloy, "quantity": quantity}
    if size:
        line["size"] = size
    return {"partnerReference": reference, "dueTime": due, "priority": "NORMAL", "lines": [line]}


def submit_order(gq: GraphQLStack, reference: str, order: dict[str, Any], who: str = PARTNER) -> str:
    """Submit an order as the partner ``who`` (idempotent by its reference); returns its id.

    Right after ``mes up`` the orders service may not have the demo catalogue yet (it arrives as
    events): an unknown style or alloy is tried again until ``WAIT_S``."""
    body = {"query": SUBMIT, "variables": {"k": f"web-{reference}", "i": order}}
    deadline = time.monotonic() + WAIT_S
    while True:
        response = httpx.post(gq.url, json=body, headers=partner(gq.keys[who]), timeout=15.0, trust_env=False)
        assert response.status_code == 200, response.text
        result = response.json()
        reasons = {(e.get("extensions") or {}).get("reason") for e in result.get("errors", [])}
        if not reasons & _NOT_YET or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "errors" not in result, result
    return str(result["data"]["submitOrder"]["order"]["id"])


def production(gq: GraphQLStack) -> tuple[grpc.Channel, production_pb2_grpc.ProductionServiceStub]:
    channel = grpc.insecure_channel(gq.stack.address("production"))
    return channel, production_pb2_grpc.ProductionServiceStub(channel)


def queued(gq: GraphQLStack, order_ids: Sequence[str]) -> list[pb.Operation]:
    """The QUEUED operations of the orders' work orders, in routing order."""
    channel, stub = production(gq)
    with channel:
        request = pb.ListWorkOrdersRequest(order_ids=order_ids, page_size=1000)
        work_orders = stub.ListWorkOrders(request, metadata=SERVICE_TOKEN, timeout=10).work_orders
        ids = [w.work_order_id for w in work_orders]
        if not ids:
            return []
        wanted = pb.ListOperationsRequest(work_order_ids=ids, statuses=[pb.OPERATION_STATUS_QUEUED], page_size=1000)
        ops = stub.ListOperations(wanted, metadata=SERVICE_TOKEN, timeout=10).operations
    return sorted(ops, key=lambda op: (op.order_id, op.name))


def wait_queued(gq: GraphQLStack, order_ids: Sequence[str], timeout: float = WAIT_S) -> list[pb.Operation]:
    """Wait until each order has released its work orders (the saga: reserved, then in production)."""
    deadline = time.monotonic() + timeout
    while True:
        ops = queued(gq, order_ids)
        if {op.order_id for op in ops} >= set(order_ids):
            return ops
        assert time.monotonic() < deadline, f"the orders {order_ids} were not released to production in time"
        time.sleep(0.2)


def start_operation(gq: GraphQLStack, operation: pb.Operation, *, operator: str = OPERATOR) -> pb.Operation:
    """Start ``operation`` as ``operator`` with a weigh-in (idempotent by a request id of its name)."""
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"web-start/{operation.name}"))
    channel, stub = production(gq)
    with channel:
        request = pb.StartOperationRequest(
            name=operation.name, operator_code=operator, weigh_in_mg=12_500, request_id=request_id
        )
        return stub.StartOperation(request, metadata=SERVICE_TOKEN, timeout=10).operation


def make_room(gq: GraphQLStack, work_center: str, *, operator: str = OPERATOR) -> None:
    """Finish (no loss) what is in progress at ``work_center`` ("workCenters/{code}"), so that a start
    there is not refused for capacity by what earlier tests left at the bench."""
    channel, stub = production(gq)
    with channel:
        wanted = pb.ListOperationsRequest(
            work_center=work_center, statuses=[pb.OPERATION_STATUS_IN_PROGRESS], page_size=100
        )
        for op in stub.ListOperations(wanted, metadata=SERVICE_TOKEN, timeout=10).operations:
            request = pb.FinishOperationRequest(
                name=op.name,
                operator_code=op.started_by or operator,
                weigh_out_mg=op.weigh_in_mg,
                request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"web-finish/{op.name}/{op.attempt}")),
            )
            stub.FinishOperation(request, metadata=SERVICE_TOKEN, timeout=10)


def block_work_center(gq: GraphQLStack, code: str, reason: str, *, by: str = SUPERVISOR) -> pb.WorkCenter:
    """Block a work center with a reason (as the supervisor ``by``)."""
    channel, stub = production(gq)
    with channel:
        request = pb.BlockWorkCenterRequest(name=f"workCenters/{code}", reason=reason, operator_code=by)
        return stub.BlockWorkCenter(request, metadata=SERVICE_TOKEN, timeout=10).work_center


def _analytics_hold(stub: analytics_pb2_grpc.AnalyticsServiceStub, seeded: Seeded) -> bool:
    """Whether the analytics read model holds the seed: its orders (volume), the metal issued to them
    (custody) and the operation started at the bench (the work center's WIP)."""
    now = datetime.now(UTC)
    window = analytics_pb2.Window(grain=analytics_pb2.GRAIN_DAY)
    window.from_time.FromDatetime(now - timedelta(days=1))
    window.to_time.FromDatetime(now + timedelta(days=1))
    partners = stub.GetPartnerAnalytics(
        analytics_pb2.GetPartnerAnalyticsRequest(window=window), metadata=SERVICE_TOKEN, timeout=10
    )
    metal = stub.GetMetalAnalytics(
        analytics_pb2.GetMetalAnalyticsRequest(window=window), metadata=SERVICE_TOKEN, timeout=10
    )
    flow = stub.GetFlowAnalytics(
        analytics_pb2.GetFlowAnalyticsRequest(window=window), metadata=SERVICE_TOKEN, timeout=10
    )
    orders = sum(v.orders for v in partners.volume if v.partner_id == PARTNER)
    holders = {c.holder for c in metal.custody if c.pending_mg > 0}
    at_bench = {w.work_center: w.wip_gross_mg for w in flow.work_centers}
    return (
        orders >= len(seeded.order_ids)
        and {f"orders/{order_id}" for order_id in seeded.order_ids.values()} <= holders
        and at_bench.get(seeded.started.work_center, 0) >= seeded.started.weigh_in_mg
    )


def wait_analytics(gq: GraphQLStack, seeded: Seeded, timeout: float = 60.0) -> None:
    """Wait until the analytics service has read the seed's events (the analytics pages answer from its read
    model, and the facade keeps their answers for minutes)."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(gq.stack.address("analytics")) as channel:
        stub = analytics_pb2_grpc.AnalyticsServiceStub(channel)
        while True:
            try:
                if _analytics_hold(stub, seeded):
                    return
            except grpc.RpcError:
                pass  # still starting
            assert time.monotonic() < deadline, "the analytics service did not read the demo orders in time"
            time.sleep(0.25)


def seed(gq: GraphQLStack) -> Seeded:
    """The demo orders in production and the first one's first operation started."""
    ids = {
        ref: submit_order(gq, ref, order_input(ref, style, alloy, quantity, size, due))
        for ref, style, alloy, quantity, size, due in ORDERS
    }
    ops = wait_queued(gq, list(ids.values()))
    first = next(op for op in ops if op.order_id == ids[ORDERS[0][0]])
    seeded = Seeded(ids, start_operation(gq, first))
    wait_analytics(gq, seeded)
    return seeded
