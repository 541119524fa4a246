"""Load the demo data into running services through their gRPC APIs.

Idempotent: each object is created only when it is missing (existing ones are left as
they are, so a second run changes nothing: an operator gets its development-only sign-in password
when it is created, and keeps whatever password it has after that); lots are received with deterministic
``request_id``s (``demo-lot-AU750Y-1``, also stored as the supplier reference).
A partner's API key is shown only once, so the demo keys are kept in
``<data-dir>/demo-partners.json`` (``partner_keys``); a partner whose key is not on file
(or no longer valid, or issued before keys had a checksum: the facade refuses those) gets a new
one with RotatePartnerApiKey.

Each service is called with its own :class:`_Caller`, which reads its own writes: it keeps the
highest commit position a call reported (``x-mes-commit-lsn``) and sends it as ``x-mes-min-lsn``,
so that on a streaming replica (``mes up --postgres-replica``) a read after a write (the password
of an operator just created) sees that write (``mes_platform.replica``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from clients._base import COMMIT_POSITION_KEY, MIN_POSITION_KEY, format_position, parse_position
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes.production.v1 import production_pb2, production_pb2_grpc
from mes_kernel import api_keys
from mes_stack import demo_data as d
from mes_stack.partner_keys import PARTNERS_FILE, read_partner_keys, write_partner_keys

__all__ = [
    "DemoReport",
    "DemoTargets",
    "alloy_message",
    "load_demo_data",
    "lot_request",
    "operator_message",
    "style_message",
    "work_center_message",
]

DEADLINE_S = 10.0
D = TypeVar("D")
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
    metal = inventory_pb2.Metal.Value(f"METAL_{alloy.metal}")
    return inventory_pb2.Alloy(name=f"alloys/{alloy.code}", active=True, **{**asdict(alloy), "metal": metal})


def style_message(style: d.StyleDef) -> production_pb2.Style:
    """The style with its routing steps and bill of materials (the definitions name the proto fields)."""
    bill = [
        production_pb2.BomItem(**{**asdict(b), "kind": common_pb2.MaterialKind.Value(f"MATERIAL_KIND_{b.kind}")})
        for b in style.bill_of_materials
    ]
    return production_pb2.Style(
        name=f"styles/{style.sku}",
        sku=style.sku,
        display_name=style.display_name,
        category=production_pb2.StyleCategory.Value(f"STYLE_CATEGORY_{style.category}"),
        routing=[production_pb2.RoutingStep(**asdict(step)) for step in style.routing],
        bill_of_materials=bill,
        active=True,
    )


def lot_request(lot: d.MetalLotDef | d.StoneLotDef) -> inventory_pb2.ReceiveLotRequest:
    """The receipt of a demo lot; its request id doubles as the supplier reference."""
    request = inventory_pb2.ReceiveLotRequest(supplier_reference=lot.request_id, request_id=lot.request_id)
    if isinstance(lot, d.MetalLotDef):
        request.kind, request.material_code = common_pb2.MATERIAL_KIND_METAL, lot.alloy_code
        request.weight_mg = lot.weight_mg
    else:
        request.kind, request.material_code = common_pb2.MATERIAL_KIND_STONE, lot.stone_code
        request.pieces, request.weight_points = lot.pieces, lot.weight_points
    return request


def work_center_message(wc: d.WorkCenterDef) -> production_pb2.WorkCenter:
    return production_pb2.WorkCenter(name=f"workCenters/{wc.code}", active=True, **asdict(wc))


def calendar_message(cal: d.CalendarDef) -> production_pb2.ShiftCalendar:
    return production_pb2.ShiftCalendar(
        name=f"workCenters/{cal.work_center}/calendar",
        time_zone=cal.time_zone,
        windows=[production_pb2.ShiftWindow(**asdict(w)) for w in cal.windows],
        output_target_per_hour=cal.output_target_per_hour,
    )


def operator_message(op: d.OperatorDef) -> production_pb2.Operator:
    role = production_pb2.OPERATOR_ROLE_SUPERVISOR if op.supervisor else production_pb2.OPERATOR_ROLE_OPERATOR
    return production_pb2.Operator(
        name=f"operators/{op.code}", code=op.code, display_name=op.display_name, role=role, active=True
    )


# -- calling the services ---------------------------------------------------------------


class _Caller:
    """Adds the bearer token and a deadline to every call; retries UNAVAILABLE briefly; sends the
    highest commit position its calls reported (one caller per service: positions are a server's)."""

    def __init__(self, token: str, deadline_s: float = DEADLINE_S) -> None:
        self.metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),)
        self.deadline_s = deadline_s
        #: Highest ``x-mes-commit-lsn`` seen (0: none yet).
        self.position = 0

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        if not self.position:
            return self.metadata
        return (*self.metadata, (MIN_POSITION_KEY, format_position(self.position)))

    async def _note(self, call: Any) -> None:
        trailing = await call.trailing_metadata() if hasattr(call, "trailing_metadata") else None
        for key, value in trailing or ():
            if key == COMMIT_POSITION_KEY and isinstance(value, str):
                try:
                    self.position = max(self.position, parse_position(value))
                except ValueError:
                    continue

    async def __call__(self, method: Callable[..., Awaitable[Resp]], request: Message) -> Resp:
        for attempt in range(1, 4):
            try:
                call = method(request, metadata=self._metadata(), timeout=self.deadline_s)
                response = await call
                await self._note(call)
                return response
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == 3:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")


async def _listed(
    call: _Caller, method: Callable[..., Awaitable[Any]], request: type[Message], field: str
) -> list[Any]:
    """Every item of a List RPC (``field`` of each page), page after page."""
    items: list[Any] = []
    token = ""
    while True:
        page = await call(method, request(page_size=100, page_token=token))
        items.extend(getattr(page, field))
        token = page.next_page_token
        if not token:
            return items


async def _found(
    call: _Caller, method: Callable[..., Awaitable[Any]], request: type[Message], names: list[str]
) -> set[str]:
    """The names a BatchGet RPC finds."""
    return set(names) - set((await call(method, request(names=names, allow_missing=True))).missing_names)


async def _create_missing(
    report: DemoReport,
    kind: str,
    wanted: Sequence[D],
    missing: Callable[[D], bool],
    create: Callable[[D], Awaitable[None]],
) -> None:
    """Create each of ``wanted`` that is ``missing``; counted under ``kind`` (created, defined)."""
    new = [item for item in wanted if missing(item)]
    for item in new:
        await create(item)
    report.counts[kind] = (len(new), len(wanted))


def _is(exc: grpc.aio.AioRpcError, *codes: grpc.StatusCode) -> bool:
    return exc.code() in codes


async def _load_inventory(
    stub: inventory_pb2_grpc.InventoryServiceAsyncStub, call: _Caller, report: DemoReport
) -> None:
    names = [f"alloys/{a.code}" for a in d.ALLOYS]
    alloys = await _found(call, stub.BatchGetAlloys, inventory_pb2.BatchGetAlloysRequest, names)

    async def upsert_alloy(alloy: d.AlloyDef) -> None:
        await call(stub.UpsertAlloy, inventory_pb2.UpsertAlloyRequest(alloy=alloy_message(alloy)))

    await _create_missing(report, "alloys", d.ALLOYS, lambda a: f"alloys/{a.code}" not in alloys, upsert_alloy)

    async def receive(lot: d.MetalLotDef | d.StoneLotDef) -> None:
        await call(stub.ReceiveLot, lot_request(lot))

    received = {
        lot.supplier_reference for lot in await _listed(call, stub.ListLots, inventory_pb2.ListLotsRequest, "lots")
    }
    lots: list[d.MetalLotDef | d.StoneLotDef] = [*d.METAL_LOTS, *d.STONE_LOTS]
    await _create_missing(report, "lots", lots, lambda lot: lot.request_id not in received, receive)


async def _load_production(
    stub: production_pb2_grpc.ProductionServiceAsyncStub, call: _Caller, report: DemoReport
) -> None:
    async def upsert_center(wc: d.WorkCenterDef) -> None:
        request = production_pb2.UpsertWorkCenterRequest(work_center=work_center_message(wc))
        await call(stub.UpsertWorkCenter, request)

    centers = await _listed(call, stub.ListWorkCenters, production_pb2.ListWorkCentersRequest, "work_centers")
    codes = {wc.code for wc in centers}
    await _create_missing(report, "work centers", d.WORK_CENTERS, lambda wc: wc.code not in codes, upsert_center)

    async def set_calendar(cal: d.CalendarDef) -> None:
        request = production_pb2.SetShiftCalendarRequest(
            calendar=calendar_message(cal), request_id=f"demo-calendar-{cal.work_center}"
        )
        await call(stub.SetShiftCalendar, request)

    names = [f"workCenters/{cal.work_center}/calendar" for cal in d.CALENDARS]
    calendars = await _found(call, stub.BatchGetShiftCalendars, production_pb2.BatchGetShiftCalendarsRequest, names)
    await _create_missing(
        report,
        "shift calendars",
        d.CALENDARS,
        lambda c: f"workCenters/{c.work_center}/calendar" not in calendars,
        set_calendar,
    )

    async def upsert_operator(op: d.OperatorDef) -> None:
        await call(stub.UpsertOperator, production_pb2.UpsertOperatorRequest(operator=operator_message(op)))
        request = production_pb2.SetOperatorPasswordRequest(name=f"operators/{op.code}", password=op.password)
        await call(stub.SetOperatorPassword, request)

    operators = await _listed(call, stub.ListOperators, production_pb2.ListOperatorsRequest, "operators")
    codes = {op.code for op in operators}
    await _create_missing(report, "operators", d.OPERATORS, lambda op: op.code not in codes, upsert_operator)

    async def upsert_style(style: d.StyleDef) -> None:
        await call(stub.UpsertStyle, production_pb2.UpsertStyleRequest(style=style_message(style)))

    names = [f"styles/{s.sku}" for s in d.STYLES]
    styles = await _found(call, stub.BatchGetStyles, production_pb2.BatchGetStylesRequest, names)
    await _create_missing(report, "styles", d.STYLES, lambda s: f"styles/{s.sku}" not in styles, upsert_style)


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
        if key is None or api_keys.is_legacy(key) or not await _key_is_valid(stub, call, partner.partner_id, key):
            rotated = await call(stub.RotatePartnerApiKey, orders_pb2.RotatePartnerApiKeyRequest(name=name))
            keys[partner.partner_id] = rotated.api_key
            report.rotated.append(partner.partner_id)
    report.counts["partners"] = (new, len(d.PARTNERS))
    if keys != before or not (data_dir / PARTNERS_FILE).exists():
        write_partner_keys(data_dir, keys)
    report.partner_keys = {p.partner_id: keys[p.partner_id] for p in d.PARTNERS if p.partner_id in keys}


async def load_demo_data(targets: DemoTargets, *, token: str, data_dir: Path) -> DemoReport:
    """Create whatever demo data is missing; returns counts and the partners' API keys."""
    report = DemoReport()
    async with (
        grpc.aio.insecure_channel(targets.inventory) as inventory,
        grpc.aio.insecure_channel(targets.production) as production,
        grpc.aio.insecure_channel(targets.orders) as orders,
    ):
        await _load_inventory(inventory_pb2_grpc.InventoryServiceStub(inventory), _Caller(token), report)
        await _load_production(production_pb2_grpc.ProductionServiceStub(production), _Caller(token), report)
        await _load_partners(orders_pb2_grpc.OrdersServiceStub(orders), _Caller(token), report, data_dir)
    return report
