"""Helpers of the inventory integration tests: calls with credentials, error details, DB peeks."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Table, func, select

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as pb
from mes.inventory.v1 import inventory_pb2_grpc
from services.inventory.adapters.tables import infra
from services.inventory.bootstrap import App
from tests._infra.auth import AS_OPERATOR, AS_SERVICE, DEADLINE_S

Stub = inventory_pb2_grpc.InventoryServiceStub
SVC, OPERATOR, TIMEOUT = AS_SERVICE, AS_OPERATOR, DEADLINE_S
PARTNER = (*SVC, ("x-mes-partner", "acme"))
METAL = common_pb2.MATERIAL_KIND_METAL
STONE = common_pb2.MATERIAL_KIND_STONE


async def count(app: App, table: Table, *where: Any) -> int:
    async with app.db.write() as session:
        return int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def subjects(app: App) -> list[str]:
    async with app.db.write() as session:
        rows = await session.execute(select(infra.outbox.c.subject).order_by(infra.outbox.c.seq))
        return [row.subject for row in rows]


async def upsert_alloy(
    stub: Stub, code: str = "AU750Y", metal: int = pb.METAL_GOLD, fineness: int = 750, colour: str = "yellow"
) -> pb.Alloy:
    alloy = pb.Alloy(code=code, metal=metal, fineness=fineness, colour=colour, display_name=code, active=True)  # type: ignore[arg-type]
    response = await stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=alloy), metadata=SVC, timeout=TIMEOUT)
    return response.alloy


async def receive_metal(stub: Stub, code: str, weight_mg: int, request_id: str | None = None) -> pb.MaterialLot:
    request = pb.ReceiveLotRequest(
        kind=METAL, material_code=code, weight_mg=weight_mg, request_id=request_id or str(uuid.uuid4())
    )
    return (await stub.ReceiveLot(request, metadata=SVC, timeout=TIMEOUT)).lot


async def receive_stones(stub: Stub, code: str, pieces: int, points: int = 0) -> pb.MaterialLot:
    request = pb.ReceiveLotRequest(
        kind=STONE, material_code=code, pieces=pieces, weight_points=points, request_id=str(uuid.uuid4())
    )
    return (await stub.ReceiveLot(request, metadata=SVC, timeout=TIMEOUT)).lot


def metal(code: str, weight_mg: int, line: int = 1) -> common_pb2.MaterialRequirement:
    return common_pb2.MaterialRequirement(material_code=code, kind=METAL, weight_mg=weight_mg, line_number=line)


def stones(code: str, pieces: int, line: int = 1) -> common_pb2.MaterialRequirement:
    return common_pb2.MaterialRequirement(material_code=code, kind=STONE, pieces=pieces, line_number=line)


async def reserve(
    stub: Stub,
    order_id: str,
    *requirements: common_pb2.MaterialRequirement,
    priority: int = common_pb2.PRIORITY_NORMAL,
    queue: bool = False,
) -> pb.ReserveOrderResponse:
    request = pb.ReserveOrderRequest(
        order_id=order_id,
        priority=priority,  # type: ignore[arg-type]
        requirements=list(requirements),
        queue_on_shortage=queue,
    )
    return await stub.ReserveOrder(request, metadata=SVC, timeout=TIMEOUT)


async def balance(stub: Stub, code: str) -> pb.Balance:
    response = await stub.BatchGetBalances(
        pb.BatchGetBalancesRequest(names=[f"balances/{code}"]), metadata=SVC, timeout=TIMEOUT
    )
    return response.balances[0]


async def get_lot(stub: Stub, lot: pb.MaterialLot) -> pb.MaterialLot:
    return (await stub.GetLot(pb.GetLotRequest(name=lot.name), metadata=SVC, timeout=TIMEOUT)).lot
