"""The workload of the fault tests: catalogue, stock sized so that every outcome is known, orders.

Three kinds of orders, chosen by position (``kind_of``):

``ok``      one or two lines in AU750Y (ring with a diamond, or pendant): stock suffices
            -> IN_PRODUCTION. The AU750Y and diamond lots hold *exactly* what these orders
            need, spread over several lots, so one reservation too many (or one lost)
            leaves a lot over- or under-reserved and some order in the wrong state.
``hold``    a ring in AU750Y plus a pendant in PT950, of which there is no stock at all
            -> ON_HOLD, and all-or-none means its AU750Y line reserves nothing either.
``scarce``  a pendant in AG925, whose single lot serves exactly half of these orders
            -> that many IN_PRODUCTION (whichever came first), the others ON_HOLD.

Everything is created through the gRPC clients, as an operator would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from clients import (
    AlreadyExistsError,
    DeadlineExceededError,
    InventoryClient,
    OrdersClient,
    ProductionClient,
    UnavailableError,
)
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod

PARTNER_ID = "fault-partner"
PARENT = f"partners/{PARTNER_ID}"
RING, PENDANT = "FLT-RNG-1", "FLT-PND-1"
GOLD, SILVER, PLATINUM = "AU750Y", "AG925", "PT950"
DIAMOND = "DIA-FLT-010"
DIAMOND_POINTS = 10
#: Lots the exact AU750Y / diamond requirement is split into (first in, first out).
SPLIT_LOTS = 3

KIND_OK, KIND_HOLD, KIND_SCARCE = "ok", "hold", "scarce"
DUE_TIME = datetime.now(UTC).replace(microsecond=0) + timedelta(days=60)
IN_PRODUCTION = ords.ORDER_STATUS_IN_PRODUCTION
ON_HOLD = ords.ORDER_STATUS_ON_HOLD

_ALLOYS = (
    (GOLD, inv.METAL_GOLD, 750, "yellow", 15_500),
    (SILVER, inv.METAL_SILVER, 925, "natural", 10_360),
    (PLATINUM, inv.METAL_PLATINUM, 950, "natural", 20_700),
)
_ROUTING = (("CASTING", "CASTING", 20), ("FILING", "FILING", 15), ("POLISHING", "POLISHING", 10), ("QC", "QC", 1))
_STYLES = (
    # sku, display name, category, metal mg per piece, diamonds per piece
    (RING, "Fault ring", prod.STYLE_CATEGORY_RING, 3_500, 1),
    (PENDANT, "Fault pendant", prod.STYLE_CATEGORY_PENDANT, 2_000, 0),
)


class ServiceClients(Protocol):
    """``clients.MesClients`` or anything with the three clients."""

    @property
    def orders(self) -> OrdersClient: ...
    @property
    def inventory(self) -> InventoryClient: ...
    @property
    def production(self) -> ProductionClient: ...


def kind_of(index: int) -> str:
    if index % 10 == 9:
        return KIND_HOLD
    if index % 10 == 4:
        return KIND_SCARCE
    return KIND_OK


def lines_of(index: int) -> list[ords.OrderLine]:
    kind = kind_of(index)
    if kind == KIND_HOLD:
        return [
            ords.OrderLine(line_number=1, style_code=RING, alloy_code=GOLD, size="54", quantity=1),
            ords.OrderLine(line_number=2, style_code=PENDANT, alloy_code=PLATINUM, quantity=1),
        ]
    if kind == KIND_SCARCE:
        return [ords.OrderLine(line_number=1, style_code=PENDANT, alloy_code=SILVER, quantity=1)]
    lines = [ords.OrderLine(line_number=1, style_code=RING, alloy_code=GOLD, size="52", quantity=1 + index % 2)]
    if index % 6 == 0:
        lines.append(ords.OrderLine(line_number=2, style_code=PENDANT, alloy_code=GOLD, quantity=1))
    return lines


@dataclass(frozen=True)
class PlannedOrder:
    index: int
    request_id: str
    kind: str
    lines: tuple[ords.OrderLine, ...]

    def request(self) -> ords.SubmitOrderRequest:
        due = Timestamp()
        due.FromDatetime(DUE_TIME)
        return ords.SubmitOrderRequest(
            parent=PARENT,
            due_time=due,
            # The request id doubles as the partner's reference: duplicates are visible in ListOrders.
            partner_reference=self.request_id,
            priority=common_pb2.PRIORITY_NORMAL,
            lines=list(self.lines),
            request_id=self.request_id,
        )


@dataclass
class Workload:
    """The planned orders of one run and the stock that makes their outcome known."""

    tag: str
    orders: list[PlannedOrder]
    #: (kind, material) -> quantity (mg or pieces) the ``ok`` orders need in total.
    exact_stock: dict[tuple[int, str], int] = field(default_factory=dict)
    scarce_capacity: int = 0

    @classmethod
    def plan(cls, count: int, tag: str) -> Workload:
        orders = [PlannedOrder(i, f"{tag}-{i:06d}", kind_of(i), tuple(lines_of(i))) for i in range(count)]
        return cls(tag, orders)

    def counts(self) -> Counter[str]:
        return Counter(o.kind for o in self.orders)

    def by_request(self) -> dict[str, PlannedOrder]:
        return {o.request_id: o for o in self.orders}


T = TypeVar("T")


async def patiently(call: Callable[[], Awaitable[T]], *, timeout_s: float = 60.0) -> T:
    """``call()`` again while the service is unavailable (a process may be restarting)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await call()
        except (UnavailableError, DeadlineExceededError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


def _line_spec(line: ords.OrderLine) -> prod.LineSpec:
    return prod.LineSpec(
        line_number=line.line_number,
        style_code=line.style_code,
        alloy_code=line.alloy_code,
        size=line.size,
        engraving=line.engraving,
        quantity=line.quantity,
    )


async def seed(mes: ServiceClients, workload: Workload, *, catalogue_timeout_s: float = 60.0) -> None:
    """Catalogue, work centers, operator, partner and lots; waits for the catalogue copy in orders."""
    for code, metal, fineness, colour, density in _ALLOYS:
        alloy = inv.Alloy(
            code=code,
            metal=metal,
            fineness=fineness,
            colour=colour,
            density_mg_per_cm3=density,
            display_name=f"{code} fault alloy",
            active=True,
        )
        await patiently(lambda alloy=alloy: mes.inventory.upsert_alloy(alloy))
    for sku, name, category, metal_mg, diamonds in _STYLES:
        bom = [prod.BomItem(kind=common_pb2.MATERIAL_KIND_METAL, weight_mg=metal_mg)]
        if diamonds:
            bom.append(prod.BomItem(kind=common_pb2.MATERIAL_KIND_STONE, material_code=DIAMOND, pieces=diamonds))
        routing = [
            prod.RoutingStep(
                sequence=i,
                operation_code=op,
                work_center_type=wct,
                expected_minutes=20,
                loss_tolerance_per_mille=tolerance,
            )
            for i, (op, wct, tolerance) in enumerate(_ROUTING, start=1)
        ]
        style = prod.Style(
            sku=sku, display_name=name, category=category, routing=routing, bill_of_materials=bom, active=True
        )
        await patiently(lambda style=style: mes.production.upsert_style(style))
    for _, wct, _ in _ROUTING:
        center = prod.WorkCenter(
            code=f"{wct}-1", work_center_type=wct, display_name=wct.title(), capacity=50, active=True
        )
        await patiently(lambda center=center: mes.production.upsert_work_center(center))
    operator = prod.Operator(
        code="OP-1", display_name="Fault operator", role=prod.OPERATOR_ROLE_SUPERVISOR, active=True
    )
    await patiently(lambda: mes.production.upsert_operator(operator))
    with contextlib.suppress(AlreadyExistsError):  # created by an attempt whose reply was lost
        await patiently(lambda: mes.orders.create_partner(PARTNER_ID, display_name="Fault partner"))
    await _receive_stock(mes, workload)
    await wait_catalogue(mes, timeout_s=catalogue_timeout_s)


async def _requirements(mes: ServiceClients, orders: Sequence[PlannedOrder]) -> Counter[tuple[int, str]]:
    """Exact needs of ``orders`` per (kind, material), by the production service's own explosion."""
    needs: Counter[tuple[int, str]] = Counter()
    shapes: Counter[tuple[bytes, ...]] = Counter(tuple(line.SerializeToString() for line in o.lines) for o in orders)
    for shape, times in shapes.items():
        lines = [_line_spec(ords.OrderLine.FromString(raw)) for raw in shape]
        for req in await patiently(lambda lines=lines: mes.production.explode_bill_of_materials(lines)):
            qty = req.weight_mg if req.kind == common_pb2.MATERIAL_KIND_METAL else req.pieces
            needs[(req.kind, req.material_code)] += qty * times
    return needs


def _split(total: int, parts: int) -> list[int]:
    base, rest = divmod(total, parts)
    return [base + (1 if i < rest else 0) for i in range(parts) if base + (1 if i < rest else 0) > 0]


async def _receive_stock(mes: ServiceClients, workload: Workload) -> None:
    ok = [o for o in workload.orders if o.kind == KIND_OK]
    scarce = [o for o in workload.orders if o.kind == KIND_SCARCE]
    workload.exact_stock = dict(await _requirements(mes, ok))
    workload.scarce_capacity = len(scarce) // 2
    lots: list[tuple[int, str, int]] = []
    for (kind, material), qty in sorted(workload.exact_stock.items()):
        lots += [(kind, material, part) for part in _split(qty, SPLIT_LOTS)]
    if scarce:
        per_order = await _requirements(mes, scarce[:1])
        for (kind, material), qty in per_order.items():
            lots.append((kind, material, qty * workload.scarce_capacity))
    for n, (kind, material, qty) in enumerate(lots):
        ref = f"{workload.tag}-lot-{n}"
        if qty <= 0:
            continue
        metal = kind == common_pb2.MATERIAL_KIND_METAL
        request = inv.ReceiveLotRequest(
            kind=kind,
            material_code=material,
            weight_mg=qty if metal else 0,
            pieces=0 if metal else qty,
            weight_points=0 if metal else qty * DIAMOND_POINTS,
            supplier_reference=ref,
            request_id=ref,
        )
        await patiently(lambda request=request: mes.inventory.receive_lot(request))


async def wait_catalogue(mes: ServiceClients, *, timeout_s: float) -> None:
    """Until the orders service's catalogue copy (fed by events) knows every style and alloy."""
    wanted = {RING, PENDANT, GOLD, SILVER, PLATINUM}
    deadline = time.monotonic() + timeout_s
    seen: set[str] = set()
    while time.monotonic() < deadline:
        with contextlib.suppress(UnavailableError, DeadlineExceededError):
            seen = {item.code async for item in mes.orders.iter_catalogue_items() if item.active}
        if wanted <= seen:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"catalogue copy incomplete after {timeout_s:.0f}s: missing {sorted(wanted - seen)}")
