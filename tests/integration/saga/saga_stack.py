"""The three services in process, wired to a real nats-server, and helpers to drive the saga.

``start_stack`` starts ``replicas`` App instances per service (composition roots, free
ports) on the given databases and NATS; the stubs talk to the first replica. Seeding goes
through the RPCs. Waiting is polling with a deadline (``eventually``), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy import select

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv
from mes.inventory.v1 import inventory_pb2_grpc
from mes.orders.v1 import orders_pb2 as ords
from mes.orders.v1 import orders_pb2_grpc
from mes.production.v1 import production_pb2 as prod
from mes.production.v1 import production_pb2_grpc
from mes_platform.config import ServiceSettings
from mes_platform.messaging.consumer import EventConsumer
from services.inventory import bootstrap as inventory_boot
from services.inventory.adapters.tables import infra as inventory_infra
from services.orders import bootstrap as orders_boot
from services.orders.adapters.tables import infra as orders_infra
from services.production import bootstrap as production_boot
from services.production.adapters.tables import infra as production_infra

__all__ = ["SVC", "SagaStack", "T", "eventually", "start_stack"]

T = 10.0  # seconds: the deadline of every call
SVC = (("authorization", "Bearer svc-token"),)
TOKENS = "svc-token=service:test,op-token=operator:OP-1"
SERVICES = ("orders", "inventory", "production")
METAL = common_pb2.MATERIAL_KIND_METAL
OS = ords.OrderStatus
OP = prod.OperationStatus
R = TypeVar("R")
M = TypeVar("M", bound=Message)

ALLOY = "AU750Y"
STYLE = "RNG-SAGA"
#: metal per ring (mg) and the routing: (operation, work center type, loss tolerance per mille).
RING_MG = 5_000
ROUTING = (("CASTING", "CAST", 20), ("POLISHING", "POLISH", 10), ("QC", "QC", 0))
WORK_CENTERS = (("CAST-1", "CAST"), ("POL-1", "POLISH"), ("QC-1", "QC"))
OPERATOR, SUPERVISOR = "OP-1", "SUP-1"
PARTNER = "acme"

#: Short waits so that transient failures retry quickly in tests.
FAST_MESSAGING = {
    "CONSUMER_BACKOFF_S": "0.1,0.3,0.5",
    "CONSUMER_ACK_WAIT_S": "5",
    "CONSUMER_FETCH_TIMEOUT_S": "1",
    "RELAY_POLL_S": "0.1",
    "WAITING_RETRY_INTERVAL_S": "1",
}


async def eventually(
    probe: Callable[[], Awaitable[R]], *, what: str, timeout: float = 20.0, interval: float = 0.05
) -> R:
    """Poll ``probe()`` until it returns a truthy value (returned) or ``timeout`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last value: {result!r}")
        await asyncio.sleep(interval)


def service_env(service: str, db_url: str, nats_url: str, data_dir: str, **extra: str) -> dict[str, str]:
    prefix = f"MES_{service.upper()}_"
    env = {
        "MES_AUTH_TOKENS": TOKENS,
        "MES_DATA_DIR": data_dir,
        "MES_SHUTDOWN_GRACE_S": "1",
        "MES_LOG_FORMAT": "console",
        "MES_PAGE_TOKEN_SECRET": "saga-secret",
        "NATS_URL": nats_url,
        prefix + "DATABASE_URL": db_url,
        prefix + "DATABASE_SCHEMA": service,
    }
    env.update({prefix + key: value for key, value in {**FAST_MESSAGING, **extra}.items()})
    return env


@dataclass
class SagaStack:
    orders_apps: list[orders_boot.App]
    inventory_apps: list[inventory_boot.App]
    production_apps: list[production_boot.App]
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def __post_init__(self) -> None:
        def channel(port: int) -> grpc.aio.Channel:
            ch = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
            self.channels.append(ch)
            return ch

        self.orders = orders_pb2_grpc.OrdersServiceStub(channel(self.orders_apps[0].port))
        self.inventory = inventory_pb2_grpc.InventoryServiceStub(channel(self.inventory_apps[0].port))
        self.production = production_pb2_grpc.ProductionServiceStub(channel(self.production_apps[0].port))

    @property
    def apps(self) -> list[Any]:
        return [*self.orders_apps, *self.inventory_apps, *self.production_apps]

    async def aclose(self) -> None:
        for ch in self.channels:
            await ch.close()
        for app in reversed(self.apps):
            await app.aclose()

    def consumers(self, app: Any) -> list[EventConsumer]:
        return list(app.messaging.consumers) if app.messaging is not None else []

    async def outbox(self, service: str, subject: str, cls: type[M]) -> list[M]:
        """The events ``service`` wrote on ``subject`` (decoded from its outbox)."""
        app = {"orders": self.orders_apps, "inventory": self.inventory_apps, "production": self.production_apps}[
            service
        ][0]
        table = {"orders": orders_infra, "inventory": inventory_infra, "production": production_infra}[service].outbox
        async with app.db.write() as session:
            rows = (await session.execute(select(table.c.payload).where(table.c.subject == subject))).all()
        return [cls.FromString(bytes(row.payload)) for row in rows]

    # -- seeding ----------------------------------------------------------------------

    async def seed(self, *, metal_mg: int = 0) -> None:
        """Alloy, style, work centers, operators, a partner; a lot of ``metal_mg`` if > 0; then wait
        for the catalogue copy of orders to know the style and the alloy."""
        alloy = inv.Alloy(code=ALLOY, metal=inv.METAL_GOLD, fineness=750, colour="yellow", display_name="18k yellow")
        alloy.active = True
        await self.inventory.UpsertAlloy(inv.UpsertAlloyRequest(alloy=alloy), metadata=SVC, timeout=T)
        await self.upsert_style()
        for code, wc_type in WORK_CENTERS:
            center = prod.WorkCenter(code=code, work_center_type=wc_type, display_name=code, capacity=10, active=True)
            await self.production.UpsertWorkCenter(
                prod.UpsertWorkCenterRequest(work_center=center), metadata=SVC, timeout=T
            )
        for code, role in ((OPERATOR, prod.OPERATOR_ROLE_OPERATOR), (SUPERVISOR, prod.OPERATOR_ROLE_SUPERVISOR)):
            operator = prod.Operator(code=code, display_name=code, role=role, active=True)
            await self.production.UpsertOperator(prod.UpsertOperatorRequest(operator=operator), metadata=SVC, timeout=T)
        await self.orders.CreatePartner(
            ords.CreatePartnerRequest(partner_id=PARTNER, display_name="Acme"), metadata=SVC, timeout=T
        )
        if metal_mg:
            await self.receive(metal_mg)
        await eventually(
            lambda: self.catalogue_has(
                {(ords.CATALOGUE_ITEM_KIND_STYLE, STYLE, True), (ords.CATALOGUE_ITEM_KIND_ALLOY, ALLOY, True)}
            ),
            what="the catalogue copy",
        )

    async def upsert_style(self, *, active: bool = True, display_name: str = "Saga ring") -> prod.Style:
        style = prod.Style(
            sku=STYLE,
            display_name=display_name,
            category=prod.STYLE_CATEGORY_RING,
            routing=[
                prod.RoutingStep(
                    sequence=i + 1,
                    operation_code=code,
                    work_center_type=wc_type,
                    expected_minutes=30,
                    loss_tolerance_per_mille=tolerance,
                )
                for i, (code, wc_type, tolerance) in enumerate(ROUTING)
            ],
            bill_of_materials=[prod.BomItem(kind=METAL, weight_mg=RING_MG)],
            active=active,
        )
        reply = await self.production.UpsertStyle(prod.UpsertStyleRequest(style=style), metadata=SVC, timeout=T)
        return reply.style

    async def catalogue(self) -> dict[tuple[int, str], ords.CatalogueItem]:
        reply = await self.orders.ListCatalogueItems(
            ords.ListCatalogueItemsRequest(page_size=100), metadata=SVC, timeout=T
        )
        return {(item.kind, item.code): item for item in reply.items}

    async def catalogue_has(self, expected: set[tuple[int, str, bool]]) -> bool:
        items = await self.catalogue()
        return all((kind, code) in items and items[(kind, code)].active == active for kind, code, active in expected)

    async def receive(self, weight_mg: int) -> inv.MaterialLot:
        request = inv.ReceiveLotRequest(
            kind=METAL, material_code=ALLOY, weight_mg=weight_mg, request_id=str(uuid.uuid4())
        )
        return (await self.inventory.ReceiveLot(request, metadata=SVC, timeout=T)).lot

    # -- orders -----------------------------------------------------------------------

    async def submit(self, quantity: int = 1, *, priority: int = common_pb2.PRIORITY_NORMAL) -> str:
        request = ords.SubmitOrderRequest(
            parent=f"partners/{PARTNER}",
            partner_reference=f"ref-{uuid.uuid4().hex[:8]}",
            priority=priority,  # type: ignore[arg-type]
            lines=[ords.OrderLine(style_code=STYLE, alloy_code=ALLOY, quantity=quantity, size="54")],
            request_id=str(uuid.uuid4()),
        )
        request.due_time.FromDatetime(datetime.now(UTC) + timedelta(days=30))
        reply = await self.orders.SubmitOrder(request, metadata=SVC, timeout=T)
        return str(reply.order.order_id)

    async def order(self, order_id: str) -> ords.Order:
        return (
            await self.orders.GetOrder(ords.GetOrderRequest(name=f"orders/{order_id}"), metadata=SVC, timeout=T)
        ).order

    async def wait_status(self, order_id: str, status: int, *, timeout: float = 20.0) -> ords.Order:
        async def probe() -> ords.Order | None:
            order = await self.order(order_id)
            return order if order.status == status else None

        return await eventually(probe, what=f"order {order_id} {OS.Name(status)}", timeout=timeout)

    async def history(self, order_id: str) -> list[ords.OrderStatusChange]:
        request = ords.ListOrderStatusChangesRequest(parent=f"orders/{order_id}", page_size=100)
        return list((await self.orders.ListOrderStatusChanges(request, metadata=SVC, timeout=T)).status_changes)

    # -- inventory --------------------------------------------------------------------

    async def reservations(self, order_id: str) -> list[inv.Reservation]:
        request = inv.ListReservationsRequest(order_ids=[order_id], page_size=100)
        return list((await self.inventory.ListReservations(request, metadata=SVC, timeout=T)).reservations)

    async def custody(self, order_id: str | None = None, *, reference: str = "") -> list[inv.CustodyEntry]:
        request = inv.ListCustodyEntriesRequest(
            holder=f"orders/{order_id}" if order_id else "", reference=reference, page_size=100
        )
        return list((await self.inventory.ListCustodyEntries(request, metadata=SVC, timeout=T)).entries)

    async def shortages(self) -> list[inv.Shortage]:
        reply = await self.inventory.ListShortages(inv.ListShortagesRequest(page_size=100), metadata=SVC, timeout=T)
        return list(reply.shortages)

    async def lots(self) -> list[inv.MaterialLot]:
        reply = await self.inventory.ListLots(inv.ListLotsRequest(page_size=100), metadata=SVC, timeout=T)
        return list(reply.lots)

    # -- production -------------------------------------------------------------------

    async def work_orders(self, order_id: str) -> list[prod.WorkOrder]:
        request = prod.ListWorkOrdersRequest(order_ids=[order_id], page_size=100)
        return list((await self.production.ListWorkOrders(request, metadata=SVC, timeout=T)).work_orders)

    async def operations(self, work_order_ids: Sequence[str], *statuses: int) -> list[prod.Operation]:
        request = prod.ListOperationsRequest(
            work_order_ids=list(work_order_ids), statuses=list(statuses), page_size=100
        )
        return list((await self.production.ListOperations(request, metadata=SVC, timeout=T)).operations)

    async def start_op(self, op: prod.Operation, weigh_in_mg: int) -> prod.Operation:
        request = prod.StartOperationRequest(
            name=op.name, operator_code=OPERATOR, weigh_in_mg=weigh_in_mg, request_id=str(uuid.uuid4())
        )
        return (await self.production.StartOperation(request, metadata=SVC, timeout=T)).operation

    async def finish_op(self, op: prod.Operation, weigh_out_mg: int) -> prod.Operation:
        request = prod.FinishOperationRequest(
            name=op.name, operator_code=OPERATOR, weigh_out_mg=weigh_out_mg, request_id=str(uuid.uuid4())
        )
        return (await self.production.FinishOperation(request, metadata=SVC, timeout=T)).operation

    async def approve_loss(self, op: prod.Operation) -> prod.Operation:
        request = prod.ResolveLossReviewRequest(
            name=op.name, supervisor_code=SUPERVISOR, decision=prod.LOSS_REVIEW_DECISION_APPROVE, note="ok"
        )
        return (await self.production.ResolveLossReview(request, metadata=SVC, timeout=T)).operation


async def start_stack(
    db_urls: Mapping[str, str],
    nats_url: str,
    data_dir: str,
    *,
    replicas: int = 1,
    extra: Mapping[str, str] | None = None,
) -> SagaStack:
    """``replicas`` in-process instances of each service (the first one migrates)."""
    started: list[Any] = []
    boots: dict[str, Any] = {"orders": orders_boot, "inventory": inventory_boot, "production": production_boot}
    apps: dict[str, list[Any]] = {svc: [] for svc in SERVICES}
    try:
        for svc in SERVICES:
            for index in range(replicas):
                env = service_env(svc, db_urls[svc], nats_url, data_dir, **dict(extra or {}))
                if index:
                    env[f"MES_{svc.upper()}_MIGRATE_ON_START"] = "0"
                app = await boots[svc].start(ServiceSettings.from_env(svc, env=env), port=0)
                started.append(app)
                apps[svc].append(app)
    except BaseException:
        for app in reversed(started):
            await app.aclose()
        raise
    return SagaStack(apps["orders"], apps["inventory"], apps["production"])
