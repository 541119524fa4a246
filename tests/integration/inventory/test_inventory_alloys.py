"""Alloys through gRPC: upsert (versioned, staff only, validated), get, list, batch get."""

from __future__ import annotations

import grpc

from mes.inventory.v1 import inventory_pb2 as pb
from mes_contracts.events import ALLOY_UPSERTED
from services.inventory.adapters.tables import alloys
from services.inventory.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.inventory._support import OPERATOR, PARTNER, SVC, TIMEOUT, Stub, count, subjects, upsert_alloy


async def test_upsert_creates_then_bumps_version_only_on_change(app: App, stub: Stub) -> None:
    created = await upsert_alloy(stub, "AU750Y")
    assert (created.name, created.version, created.metal, created.fineness) == ("alloys/AU750Y", 1, pb.METAL_GOLD, 750)

    same = await upsert_alloy(stub, "AU750Y")
    assert same.version == 1

    changed = pb.Alloy(
        code="AU750Y", metal=pb.METAL_GOLD, fineness=750, colour="Yellow ", density_mg_per_cm3=15_500_000, active=True
    )
    response = await stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=changed), metadata=OPERATOR, timeout=TIMEOUT)
    assert (response.alloy.version, response.alloy.colour, response.alloy.density_mg_per_cm3) == (
        2,
        "yellow",
        15_500_000,
    )
    assert await subjects(app) == [ALLOY_UPSERTED.subject, ALLOY_UPSERTED.subject]

    stale = pb.Alloy(code="AU750Y", metal=pb.METAL_GOLD, fineness=750, colour="rose", version=1)
    err = await fails(stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=stale), metadata=SVC, timeout=TIMEOUT))
    assert (err.code, err.reason) == (grpc.StatusCode.ABORTED, "VERSION_CONFLICT")

    got = await stub.GetAlloy(pb.GetAlloyRequest(name="alloys/AU750Y"), metadata=PARTNER, timeout=TIMEOUT)
    assert got.alloy == response.alloy


async def test_invalid_alloy_reports_every_field_and_writes_nothing(app: App, stub: Stub) -> None:
    bad = pb.Alloy(code="au 750", metal=pb.METAL_UNSPECIFIED, fineness=750, colour="blue", density_mg_per_cm3=-5)
    err = await fails(stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=bad), metadata=SVC, timeout=TIMEOUT))
    assert (err.code, err.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert set(err.fields) == {"alloy.code", "alloy.metal", "alloy.colour", "alloy.density_mg_per_cm3"}

    silver_750 = pb.Alloy(code="AG750", metal=pb.METAL_SILVER, fineness=750, colour="white")
    err = await fails(stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=silver_750), metadata=SVC, timeout=TIMEOUT))
    assert set(err.fields) == {"alloy.fineness"}
    assert await count(app, alloys) == 0
    assert await subjects(app) == []


async def test_partner_scoped_callers_cannot_upsert(app: App, stub: Stub) -> None:
    alloy = pb.Alloy(code="AU585R", metal=pb.METAL_GOLD, fineness=585, colour="rose")
    err = await fails(stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=alloy), metadata=PARTNER, timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.PERMISSION_DENIED
    err = await fails(stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=alloy), timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.UNAUTHENTICATED


async def test_get_missing_and_malformed_names(stub: Stub) -> None:
    err = await fails(stub.GetAlloy(pb.GetAlloyRequest(name="alloys/PT950"), metadata=SVC, timeout=TIMEOUT))
    assert (err.code, err.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    for name in ("PT950", "alloys/", "alloys/pt950", "lots/PT950"):
        err = await fails(stub.GetAlloy(pb.GetAlloyRequest(name=name), metadata=SVC, timeout=TIMEOUT))
        assert err.code is grpc.StatusCode.INVALID_ARGUMENT, name


async def test_list_pages_by_code_and_batch_get_keeps_key_order(stub: Stub) -> None:
    for code, metal, fineness in [
        ("PT950", pb.METAL_PLATINUM, 950),
        ("AG925", pb.METAL_SILVER, 925),
        ("AU585W", pb.METAL_GOLD, 585),
        ("PD500", pb.METAL_PALLADIUM, 500),
        ("AU375Y", pb.METAL_GOLD, 375),
    ]:
        await upsert_alloy(stub, code, metal, fineness, "white")

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await stub.ListAlloys(pb.ListAlloysRequest(page_size=2, page_token=token), metadata=SVC, timeout=TIMEOUT)
        seen += [a.code for a in page.alloys]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == ["AG925", "AU375Y", "AU585W", "PD500", "PT950"]
    assert pages == 3

    names = ["alloys/PT950", "alloys/AG925", "alloys/PT950", "alloys/XX1"]
    err = await fails(stub.BatchGetAlloys(pb.BatchGetAlloysRequest(names=names), metadata=SVC, timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.NOT_FOUND
    batch = await stub.BatchGetAlloys(
        pb.BatchGetAlloysRequest(names=names, allow_missing=True), metadata=SVC, timeout=TIMEOUT
    )
    assert [a.code for a in batch.alloys] == ["PT950", "AG925", "PT950"]
    assert list(batch.missing_names) == ["alloys/XX1"]

    err = await fails(stub.ListAlloys(pb.ListAlloysRequest(page_token="garbage"), metadata=SVC, timeout=TIMEOUT))
    assert (err.code, err.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")
    err = await fails(stub.ListAlloys(pb.ListAlloysRequest(page_size=-1), metadata=SVC, timeout=TIMEOUT))
    assert err.code is grpc.StatusCode.INVALID_ARGUMENT
