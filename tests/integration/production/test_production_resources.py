"""Work centers and operators through gRPC."""

from __future__ import annotations

from typing import Any

import grpc

from mes.production.v1 import production_pb2 as pb
from services.production.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.production._support import SERVICE, T, row_counts


def center(code: str, capacity: int = 2, wc_type: str = "CAST") -> pb.WorkCenter:
    return pb.WorkCenter(
        code=code, work_center_type=wc_type, display_name=f"Center {code}", capacity=capacity, active=True
    )


async def upsert_center(stub: Any, wc: pb.WorkCenter) -> pb.WorkCenter:
    reply = await stub.UpsertWorkCenter(pb.UpsertWorkCenterRequest(work_center=wc), metadata=SERVICE, timeout=T)
    return reply.work_center


async def test_work_centers_upsert_get_and_list(app: App, stub: Any) -> None:
    created = await upsert_center(stub, center("CAST-1"))
    assert (created.name, created.version, created.capacity) == ("workCenters/CAST-1", 1, 2)
    assert (await upsert_center(stub, center("CAST-1"))).version == 1
    assert (await upsert_center(stub, center("CAST-1", capacity=5))).version == 2
    by_name = pb.WorkCenter(name="workCenters/CAST-2", work_center_type="CAST", capacity=1, active=True)
    assert (await upsert_center(stub, by_name)).code == "CAST-2"
    await upsert_center(stub, center("BENCH-1", wc_type="BENCH"))

    got = await stub.GetWorkCenter(pb.GetWorkCenterRequest(name="workCenters/CAST-1"), metadata=SERVICE, timeout=T)
    assert got.work_center.capacity == 5
    missing = await fails(
        stub.GetWorkCenter(pb.GetWorkCenterRequest(name="workCenters/X"), metadata=SERVICE, timeout=T)
    )
    assert missing.code == grpc.StatusCode.NOT_FOUND

    page1 = await stub.ListWorkCenters(pb.ListWorkCentersRequest(page_size=2), metadata=SERVICE, timeout=T)
    page2 = await stub.ListWorkCenters(
        pb.ListWorkCentersRequest(page_size=2, page_token=page1.next_page_token), metadata=SERVICE, timeout=T
    )
    assert [w.code for w in [*page1.work_centers, *page2.work_centers]] == ["BENCH-1", "CAST-1", "CAST-2"]
    assert not page2.next_page_token
    styles_token = await fails(
        stub.ListStyles(pb.ListStylesRequest(page_token=page1.next_page_token), metadata=SERVICE, timeout=T)
    )
    assert styles_token.reason == "INVALID_PAGE_TOKEN"
    clamped = await stub.ListWorkCenters(pb.ListWorkCentersRequest(page_size=1000), metadata=SERVICE, timeout=T)
    assert len(clamped.work_centers) == 3

    before = await row_counts(app)
    bad = pb.WorkCenter(code="cast 3", work_center_type="", display_name="x" * 121, capacity=1001)
    invalid = await fails(
        stub.UpsertWorkCenter(pb.UpsertWorkCenterRequest(work_center=bad), metadata=SERVICE, timeout=T)
    )
    assert set(invalid.fields) == {
        "work_center.code",
        "work_center.work_center_type",
        "work_center.display_name",
        "work_center.capacity",
    }
    assert await row_counts(app) == before


async def test_operators_upsert_and_list(stub: Any) -> None:
    for code, role in (("OP-2", pb.OPERATOR_ROLE_OPERATOR), ("SUP-1", pb.OPERATOR_ROLE_SUPERVISOR), ("OP-1", 1)):
        operator = pb.Operator(code=code, display_name=f"Person {code}", role=role, active=True)  # type: ignore[arg-type]
        reply = await stub.UpsertOperator(pb.UpsertOperatorRequest(operator=operator), metadata=SERVICE, timeout=T)
        assert (reply.operator.name, reply.operator.version) == (f"operators/{code}", 1)
    retired = pb.Operator(code="OP-2", display_name="Person OP-2", role=pb.OPERATOR_ROLE_OPERATOR, active=False)
    reply = await stub.UpsertOperator(pb.UpsertOperatorRequest(operator=retired), metadata=SERVICE, timeout=T)
    assert (reply.operator.active, reply.operator.version) == (False, 2)

    listed = await stub.ListOperators(pb.ListOperatorsRequest(page_size=2), metadata=SERVICE, timeout=T)
    rest = await stub.ListOperators(
        pb.ListOperatorsRequest(page_token=listed.next_page_token, page_size=2), metadata=SERVICE, timeout=T
    )
    assert [o.code for o in [*listed.operators, *rest.operators]] == ["OP-1", "OP-2", "SUP-1"]

    nobody = pb.Operator(code="OP-9", display_name="", role=pb.OPERATOR_ROLE_UNSPECIFIED)
    invalid = await fails(stub.UpsertOperator(pb.UpsertOperatorRequest(operator=nobody), metadata=SERVICE, timeout=T))
    assert set(invalid.fields) == {"operator.display_name", "operator.role"}


async def test_shop_floor_reads_are_staff_only(stub: Any) -> None:
    for_partner = (*SERVICE, ("x-mes-partner", "acme"))
    for call in (
        stub.ListWorkCenters(pb.ListWorkCentersRequest(), metadata=for_partner, timeout=T),
        stub.ListWorkOrders(pb.ListWorkOrdersRequest(), metadata=for_partner, timeout=T),
        stub.ListOperations(pb.ListOperationsRequest(), metadata=for_partner, timeout=T),
        stub.SummarizeMetalLoss(pb.SummarizeMetalLossRequest(), metadata=for_partner, timeout=T),
    ):
        assert (await fails(call)).code == grpc.StatusCode.PERMISSION_DENIED
