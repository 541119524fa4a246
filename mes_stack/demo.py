"""Load the demo data into running services through their gRPC APIs.

Idempotent: each object is created only when it is missing (existing ones are left as
they are, so a second run changes nothing); lots are received with deterministic
``request_id``s (``demo-lot-AU750Y-1``, also stored as the supplier reference).
A partner's API key is shown only once, so the demo keys are kept in
``<data-dir>/demo-partners.json`` (``partner_keys``); a partner whose key is not on file
(or no longer valid) gets a new one with RotatePartnerApiKey.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes.production.v1 import production_pb2, production_pb2_grpc
from mes_stack import demo_data as d
from mes_stack.partner_keys import PARTNERS_FILE, read_partner_keys, write_partner_keys

__all__ = ["DemoReport", "DemoTargets", "alloy_message", "load_demo_data", "style_message"]

DEADLINE_S = 10.0
T = TypeVar("T")
Resp = TypeVar("Resp", bound=Message)


@dataclass(frozen=True)
class DemoTargets:
    orders: str
    inventory: str
    production: str


@dataclass
class DemoReport:
    #: kind -> (created now, total defined)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    partner_keys: dict[str, str] = field(default_factory=dict)
    rotated: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{kind} {new} new/{total}" for kind, (new, total) in self.counts.items()]
        return "demo data: " + ", ".join(parts)


# -- proto conversions (pure) -----------------------------------------------------------


def alloy_message(alloy: d.AlloyDef) -> inventory_pb2.Alloy:
    return inventory_pb2.Alloy(
        name=f"alloys/{alloy.code}",
        code=alloy.code,
        metal=inventory_pb2.Metal.Value(f"METAL_{alloy.metal}"),
        fineness=alloy.fineness,
        colour=alloy.colour,
        density_mg_per_cm3=alloy.density_mg_per_cm3,
        display_name=alloy.display_name,
        active=True,
    )


def style_message(style: d.StyleDef) -> production_pb2.Style:
    return production_pb2.Style(
        name=f"styles/{style.sku}",
        sku=style.sku,
        display_name=style.display_name,
        category=production_pb2.StyleCategory.Value(f"STYLE_CATEGORY_{style.category}"),
        routing=[
            production_pb2.RoutingStep(
                sequence=s.sequence,
                operation_code=s.operation_code,
                work_center_type=s.work_center_type,
                expected_minutes=s.expected_minutes,
                loss_tolerance_per_mille=s.loss_tolerance_per_mille,
                optional=s.optional,
            )
            for s in style.routing
        ],
        bill_of_materials=[
            production_pb2.BomItem(
                kind=common_pb2.MaterialKind.Value(f"MATERIAL_KIND_{b.kind}"),
                material_code=b.material_code,
                weight_mg=b.weight_mg,
                pieces=b.pieces,
            )
            for b in style.bill_of_materials
        ],
        active=True,
    )


# -- calling the services ---------------------------------------------------------------


class _Caller:
    """Adds the bearer token and a deadline to every call; retries UNAVAILABLE briefly."""

    def __init__(self, token: str, deadline_s: float = DEADLINE_S) -> None:
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.deadline_s = deadline_s

    async def __call__(self, method: Callable[..., Awaitable[Resp]], request: Message) -> Resp:
        for attempt in range(1, 4):
            try:
                return await method(request, metadata=self.metadata, timeout=self.deadline_s)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == 3:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")


async def _all_pages(fetch: Callable[[str], Awaitable[tuple[list[T], str]]]) -> list[T]:
    items: list[T] = []
    token = ""
    while True:
        page, token = await fetch(token)
        items.extend(page)
        if not token:
            return items


def _is(exc: grpc.aio.AioRpcError, *codes: grpc.StatusCode) -> bool:
    return exc.code() in codes


async def _load_inventory(
    stub: inventory_pb2_grpc.InventoryServiceAsyncStub, call: _Caller, report: DemoReport
) -> None:
    res = await call(
        stub.BatchGetAlloys,
        inventory_pb2.BatchGetAlloysRequest(names=[f"alloys/{a.code}" for a in d.ALLOYS], allow_missing=True),
    )
    missing = set(res.missing_names)
    new = 0
    for alloy in d.ALLOYS:
        if f"alloys/{alloy.code}" in missing:
            await call(stub.UpsertAlloy, inventory_pb2.UpsertAlloyRequest(alloy=alloy_message(alloy)))
            new += 1
    report.counts["alloys"] = (new, len(d.ALLOYS))

    async def lots_page(token: str) -> tuple[list[inventory_pb2.MaterialLot], str]:
        page = await call(stub.ListLots, inventory_pb2.ListLotsRequest(page_size=100, page_token=token))
        return list(page.lots), page.next_page_token

    known = {lot.supplier_reference for lot in await _all_pages(lots_page)}
    new = 0
    for metal in d.METAL_LOTS:
        if metal.request_id not in known:
            await call(
                stub.ReceiveLot,
                inventory_pb2.ReceiveLotRequest(
                    kind=common_pb2.MATERIAL_KIND_METAL,
                    material_code=metal.alloy_code,
                    weight_mg=metal.weight_mg,
                    supplier_reference=metal.request_id,
                    request_id=metal.request_id,
                ),
            )
            new += 1
    for stone in d.STONE_LOTS:
        if stone.request_id not in known:
            await call(
                stub.ReceiveLot,
                inventory_pb2.ReceiveLotRequest(
                    kind=common_pb2.MATERIAL_KIND_STONE,
                    material_code=stone.stone_code,
                    pieces=stone.pieces,
                    weight_points=stone.weight_points,
                    supplier_reference=stone.request_id,
                    request_id=stone.request_id,
                ),
            )
            new += 1
    report.counts["lots"] = (new, len(d.METAL_LOTS) + len(d.STONE_LOTS))


async def _load_production(
    stub: production_pb2_grpc.ProductionServiceAsyncStub, call: _Caller, report: DemoReport
) -> None:
    async def centers_page(token: str) -> tuple[list[production_pb2.WorkCenter], str]:
        page = await call(stub.ListWorkCenters, production_pb2.ListWorkCentersRequest(page_size=100, page_token=token))
        return list(page.work_centers), page.next_page_token

    known = {wc.code for wc in await _all_pages(centers_page)}
    new = 0
    for wc in d.WORK_CENTERS:
        if wc.code not in known:
            await call(
                stub.UpsertWorkCenter,
                production_pb2.UpsertWorkCenterRequest(
                    work_center=production_pb2.WorkCenter(
                        name=f"workCenters/{wc.code}",
                        code=wc.code,
                        work_center_type=wc.work_center_type,
                        display_name=wc.display_name,
                        capacity=wc.capacity,
                        active=True,
                    )
                ),
            )
            new += 1
    report.counts["work centers"] = (new, len(d.WORK_CENTERS))

    async def operators_page(token: str) -> tuple[list[production_pb2.Operator], str]:
        page = await call(stub.ListOperators, production_pb2.ListOperatorsRequest(page_size=100, page_token=token))
        return list(page.operators), page.next_page_token

    known = {op.code for op in await _all_pages(operators_page)}
    new = 0
    for op in d.OPERATORS:
        if op.code not in known:
            role = production_pb2.OPERATOR_ROLE_SUPERVISOR if op.supervisor else production_pb2.OPERATOR_ROLE_OPERATOR
            await call(
                stub.UpsertOperator,
                production_pb2.UpsertOperatorRequest(
                    operator=production_pb2.Operator(
                        name=f"operators/{op.code}", code=op.code, display_name=op.display_name, role=role, active=True
                    )
                ),
            )
            new += 1
    report.counts["operators"] = (new, len(d.OPERATORS))

    res = await call(
        stub.BatchGetStyles,
        production_pb2.BatchGetStylesRequest(names=[f"styles/{s.sku}" for s in d.STYLES], allow_missing=True),
    )
    missing = set(res.missing_names)
    new = 0
    for style in d.STYLES:
        if f"styles/{style.sku}" in missing:
            await call(stub.UpsertStyle, production_pb2.UpsertStyleRequest(style=style_message(style)))
            new += 1
    report.counts["styles"] = (new, len(d.STYLES))


async def _key_is_valid(stub: orders_pb2_grpc.OrdersServiceAsyncStub, call: _Caller, partner_id: str, key: str) -> bool:
    try:
        res = await call(stub.AuthenticatePartner, orders_pb2.AuthenticatePartnerRequest(api_key=key))
    except grpc.aio.AioRpcError as exc:
        if _is(exc, grpc.StatusCode.UNIMPLEMENTED):
            return True  # cannot check: trust the file
        if _is(exc, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL):
            raise
        return False
    return bool(res.partner.partner_id == partner_id)


async def _load_partners(
    stub: orders_pb2_grpc.OrdersServiceAsyncStub, call: _Caller, report: DemoReport, data_dir: Path
) -> None:
    keys = read_partner_keys(data_dir)
    before = dict(keys)
    new = 0
    for partner in d.PARTNERS:
        name = f"partners/{partner.partner_id}"
        try:
            await call(stub.GetPartner, orders_pb2.GetPartnerRequest(name=name))
            exists = True
        except grpc.aio.AioRpcError as exc:
            if not _is(exc, grpc.StatusCode.NOT_FOUND):
                raise
            exists = False
        if not exists:
            try:
                created = await call(
                    stub.CreatePartner,
                    orders_pb2.CreatePartnerRequest(
                        partner_id=partner.partner_id,
                        display_name=partner.display_name,
                        tier=orders_pb2.PartnerTier.Value(f"PARTNER_TIER_{partner.tier}"),
                    ),
                )
                keys[partner.partner_id] = created.api_key
                new += 1
                continue
            except grpc.aio.AioRpcError as exc:
                if not _is(exc, grpc.StatusCode.ALREADY_EXISTS):
                    raise
        key = keys.get(partner.partner_id)
        if key is None or not await _key_is_valid(stub, call, partner.partner_id, key):
            rotated = await call(stub.RotatePartnerApiKey, orders_pb2.RotatePartnerApiKeyRequest(name=name))
            keys[partner.partner_id] = rotated.api_key
            report.rotated.append(partner.partner_id)
    report.counts["partners"] = (new, len(d.PARTNERS))
    if keys != before or not (data_dir / PARTNERS_FILE).exists():
        write_partner_keys(data_dir, keys)
    report.partner_keys = {p.partner_id: keys[p.partner_id] for p in d.PARTNERS if p.partner_id in keys}


async def load_demo_data(targets: DemoTargets, *, token: str, data_dir: Path) -> DemoReport:
    """Create whatever demo data is missing; returns counts and the partners' API keys."""
    call = _Caller(token)
    report = DemoReport()
    async with (
        grpc.aio.insecure_channel(targets.inventory) as inventory,
        grpc.aio.insecure_channel(targets.production) as production,
        grpc.aio.insecure_channel(targets.orders) as orders,
    ):
        await _load_inventory(inventory_pb2_grpc.InventoryServiceStub(inventory), call, report)
        await _load_production(production_pb2_grpc.ProductionServiceStub(production), call, report)
        await _load_partners(orders_pb2_grpc.OrdersServiceStub(orders), call, report, data_dir)
    return report
