"""Styles through gRPC: versioning, reads, BOM explosion, validation."""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy import select

from mes.production.v1 import production_pb2 as pb
from mes_contracts.events import STYLE_UPSERTED
from services.production.adapters.tables import style_versions
from services.production.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.production._support import (
    METAL,
    SERVICE,
    STONE,
    T,
    line,
    outbox,
    row_counts,
    style,
    upsert_style,
)


async def test_style_versions_follow_routing_and_bom_changes(app: App, stub: Any) -> None:
    created = await upsert_style(stub)
    assert (created.name, created.routing_version, created.version) == ("styles/RNG-001", 1, 1)

    same = await upsert_style(stub)
    assert (same.routing_version, same.version) == (1, 1)
    assert len(await outbox(app, STYLE_UPSERTED.subject)) == 1  # an identical upsert is a no-op

    renamed = await upsert_style(stub, style(display_name="Solitaire ring, new name"))
    assert (renamed.routing_version, renamed.version) == (1, 2)

    heavier = await upsert_style(stub, style(display_name="Solitaire ring, new name", metal_mg=5_500))
    assert (heavier.routing_version, heavier.version) == (2, 3)
    assert heavier.bill_of_materials[0].weight_mg == 5_500

    events = await outbox(app, STYLE_UPSERTED.subject)
    assert [e.style.routing_version for _, e in events] == [1, 1, 2]
    assert events[-1][1].meta.producer == "production" and events[-1][1].meta.event_id
    async with app.db.read() as session:
        rows = (await session.execute(select(style_versions).order_by(style_versions.c.routing_version))).all()
    assert [(r.sku, r.routing_version, r.bill_of_materials[0]["weight_mg"]) for r in rows] == [
        ("RNG-001", 1, 5_000),
        ("RNG-001", 2, 5_500),
    ]

    got = await stub.GetStyle(pb.GetStyleRequest(name="styles/RNG-001"), metadata=SERVICE, timeout=T)
    assert got.style == heavier


async def test_get_batch_get_and_list_styles(stub: Any) -> None:
    for sku in ("PND-003", "RNG-001", "BRC-002"):
        await upsert_style(stub, style(sku))

    missing = await fails(stub.GetStyle(pb.GetStyleRequest(name="styles/NOPE"), metadata=SERVICE, timeout=T))
    assert (missing.code, missing.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    bad = await fails(stub.GetStyle(pb.GetStyleRequest(name="style/RNG-001"), metadata=SERVICE, timeout=T))
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT

    names = ["styles/RNG-001", "styles/PND-003", "styles/RNG-001", "styles/NOPE"]
    batch = await stub.BatchGetStyles(
        pb.BatchGetStylesRequest(names=names, allow_missing=True), metadata=SERVICE, timeout=T
    )
    assert [s.name for s in batch.styles] == names[:3]
    assert list(batch.missing_names) == ["styles/NOPE"]
    strict = await fails(stub.BatchGetStyles(pb.BatchGetStylesRequest(names=names), metadata=SERVICE, timeout=T))
    assert strict.code == grpc.StatusCode.NOT_FOUND

    first = await stub.ListStyles(pb.ListStylesRequest(page_size=2), metadata=SERVICE, timeout=T)
    assert [s.sku for s in first.styles] == ["BRC-002", "PND-003"] and first.next_page_token
    second = await stub.ListStyles(
        pb.ListStylesRequest(page_size=2, page_token=first.next_page_token), metadata=SERVICE, timeout=T
    )
    assert [s.sku for s in second.styles] == ["RNG-001"] and not second.next_page_token
    tampered = await fails(
        stub.ListStyles(pb.ListStylesRequest(page_token=first.next_page_token + "x"), metadata=SERVICE, timeout=T)
    )
    assert (tampered.code, tampered.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")
    negative = await fails(stub.ListStyles(pb.ListStylesRequest(page_size=-1), metadata=SERVICE, timeout=T))
    assert negative.fields == ["page_size"]


async def test_invalid_style_reports_every_field_and_writes_nothing(app: App, stub: Any) -> None:
    before = await row_counts(app)
    bad = style("bad sku")
    bad.category = pb.STYLE_CATEGORY_UNSPECIFIED
    bad.routing[1].sequence = 5
    bad.routing[2].operation_code = "WELDING"
    bad.routing[3].expected_minutes = 0
    bad.routing[0].loss_tolerance_per_mille = 1001
    bad.bill_of_materials.append(pb.BomItem(kind=METAL, weight_mg=10))
    bad.bill_of_materials.append(pb.BomItem(kind=STONE, pieces=2))
    failure = await fails(stub.UpsertStyle(pb.UpsertStyleRequest(style=bad), metadata=SERVICE, timeout=T))
    assert (failure.code, failure.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert set(failure.fields) == {
        "style.sku",
        "style.category",
        "style.routing[1].sequence",
        "style.routing[2].operation_code",
        "style.routing[3].expected_minutes",
        "style.routing[0].loss_tolerance_per_mille",
        "style.bill_of_materials",
        "style.bill_of_materials[3].material_code",
    }
    empty = style("RNG-009", routing=())
    assert (await fails(stub.UpsertStyle(pb.UpsertStyleRequest(style=empty), metadata=SERVICE, timeout=T))).fields == [
        "style.routing"
    ]
    assert await row_counts(app) == before


async def test_explode_bill_of_materials(stub: Any) -> None:
    await upsert_style(stub, style("RNG-001", metal_mg=5_000, stones=(("DIA-150", 3), ("RUBY-2", 2), ("DIA-150", 1))))
    await upsert_style(stub, style("PND-002", metal_mg=2_500, stones=()))
    reply = await stub.ExplodeBillOfMaterials(
        pb.ExplodeBillOfMaterialsRequest(lines=[line(1, "RNG-001", "AU750Y", 2), line(2, "PND-002", "AG925", 3)]),
        metadata=SERVICE,
        timeout=T,
    )
    got = [(r.line_number, r.kind, r.material_code, r.weight_mg, r.pieces) for r in reply.requirements]
    assert got == [
        (1, METAL, "AU750Y", 10_000, 0),
        (1, STONE, "DIA-150", 0, 8),
        (1, STONE, "RUBY-2", 0, 4),
        (2, METAL, "AG925", 7_500, 0),
    ]

    unknown = await fails(
        stub.ExplodeBillOfMaterials(
            pb.ExplodeBillOfMaterialsRequest(lines=[line(1, "RNG-001"), line(2, "GHOST-1")]),
            metadata=SERVICE,
            timeout=T,
        )
    )
    assert (unknown.code, unknown.reason, unknown.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "UNKNOWN_STYLE",
        ["lines[1].style_code"],
    )
    invalid = await fails(
        stub.ExplodeBillOfMaterials(
            pb.ExplodeBillOfMaterialsRequest(lines=[line(1, quantity=0), line(1, alloy="")]),
            metadata=SERVICE,
            timeout=T,
        )
    )
    assert set(invalid.fields) == {"lines[0].quantity", "lines[1].line_number", "lines[1].alloy_code"}


async def test_callers_must_authenticate_and_partners_cannot_write(stub: Any) -> None:
    anonymous = await fails(stub.UpsertStyle(pb.UpsertStyleRequest(style=style()), timeout=T))
    assert anonymous.code == grpc.StatusCode.UNAUTHENTICATED
    for_partner = (*SERVICE, ("x-mes-partner", "acme"))
    denied = await fails(stub.UpsertStyle(pb.UpsertStyleRequest(style=style()), metadata=for_partner, timeout=T))
    assert (denied.code, denied.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    await upsert_style(stub)
    catalogue = await stub.GetStyle(pb.GetStyleRequest(name="styles/RNG-001"), metadata=for_partner, timeout=T)
    assert catalogue.style.sku == "RNG-001"
