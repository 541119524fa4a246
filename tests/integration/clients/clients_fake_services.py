"""Small in-memory servicers on real in-process gRPC servers (mes_platform.grpc_server), used to test
the clients' transport, metadata and error decoding independently of the real services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from clients import ClientConfig, RetryPolicy
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv
from mes.inventory.v1 import inventory_pb2_grpc
from mes.orders.v1 import orders_pb2 as ords
from mes.orders.v1 import orders_pb2_grpc
from mes.production.v1 import production_pb2 as prod
from mes.production.v1 import production_pb2_grpc
from mes_kernel.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from mes_platform.auth import current_principal, parse_tokens
from mes_platform.grpc_server import Authenticator, ServerHandle, create_server
from tests.integration.clients.clients_stack import AUTH_TOKENS, client_config, mesctl_argv

PARTNER_KEY = "pk-acme-secret"


@dataclass
class Flaky:
    """Fail the next ``count`` calls of a method with UNAVAILABLE (as a dependency outage would)."""

    failures: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def check(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.failures.get(method, 0) > 0:
            self.failures[method] -= 1
            raise Unavailable("database unreachable")


class FakeOrders(orders_pb2_grpc.OrdersServiceServicer):
    def __init__(self) -> None:
        self.orders: dict[str, ords.Order] = {}
        self.requests: dict[str, bytes] = {}
        self.flaky = Flaky()
        self.principals: list[tuple[str, str, str | None]] = []

    def _seen(self, method: str) -> None:
        p = current_principal()
        self.principals.append((p.kind, p.subject, p.partner_id))
        self.flaky.check(method)

    async def SubmitOrder(self, request: ords.SubmitOrderRequest, context: Any) -> ords.SubmitOrderResponse:
        self._seen("SubmitOrder")
        if not request.lines:
            raise InvalidArgument(
                "the request has invalid fields",
                violations=[FieldViolation("lines", "at least one line is required")],
            )
        if any(line.style_code == "NOPE" for line in request.lines):
            raise FailedPrecondition("unknown style NOPE", reason="UNKNOWN_STYLE")
        body = ords.SubmitOrderRequest()
        body.CopyFrom(request)
        body.request_id = ""
        fingerprint = body.SerializeToString(deterministic=True)
        if request.request_id in self.requests:
            if self.requests[request.request_id] != fingerprint:
                raise AlreadyExists("request_id reused with another request", reason="IDEMPOTENCY_KEY_REUSED")
            order = next(o for o in self.orders.values() if o.status_reason == request.request_id)
            return ords.SubmitOrderResponse(order=order, replayed=True)
        self.requests[request.request_id] = fingerprint
        order_id = str(len(self.orders) + 1)
        partner = request.parent or f"partners/{current_principal().partner_id}"
        order = ords.Order(
            name=f"orders/{order_id}",
            order_id=order_id,
            partner=partner,
            partner_reference=request.partner_reference,
            priority=request.priority,
            status=ords.ORDER_STATUS_SUBMITTED,
            lines=request.lines,
            status_reason=request.request_id,
            version=1,
        )
        if request.HasField("due_time"):
            order.due_time.CopyFrom(request.due_time)
        self.orders[order.name] = order
        return ords.SubmitOrderResponse(order=order, replayed=False)

    async def GetOrder(self, request: ords.GetOrderRequest, context: Any) -> ords.GetOrderResponse:
        self._seen("GetOrder")
        if request.name == "orders/slow":
            await asyncio.sleep(3)
        if request.name not in self.orders:
            raise NotFound("order not found")
        return ords.GetOrderResponse(order=self.orders[request.name])

    async def ListOrders(self, request: ords.ListOrdersRequest, context: Any) -> ords.ListOrdersResponse:
        self._seen("ListOrders")
        matching = [
            o
            for o in self.orders.values()
            if (not request.statuses or o.status in request.statuses) and (not request.late_only or o.late)
        ]
        start = int(request.page_token or 0)
        size = request.page_size or 50
        page = matching[start : start + size]
        token = str(start + size) if start + size < len(matching) else ""
        return ords.ListOrdersResponse(orders=page, next_page_token=token)

    async def CountOrders(self, request: ords.CountOrdersRequest, context: Any) -> ords.CountOrdersResponse:
        self._seen("CountOrders")
        counts: dict[int, int] = {}
        for order in self.orders.values():
            counts[order.status] = counts.get(order.status, 0) + 1
        return ords.CountOrdersResponse(
            counts=[ords.StatusCount(status=s, count=n) for s, n in sorted(counts.items())],  # type: ignore[arg-type]
            late_count=sum(1 for o in self.orders.values() if o.late),
        )

    async def ShipOrder(self, request: ords.ShipOrderRequest, context: Any) -> ords.ShipOrderResponse:
        self._seen("ShipOrder")
        order = self.orders.get(request.name)
        if order is None:
            raise NotFound("order not found")
        if order.status != ords.ORDER_STATUS_READY_TO_SHIP:
            raise FailedPrecondition("the order is not ready to ship", metadata={"status": "SUBMITTED"})
        order.status = ords.ORDER_STATUS_SHIPPED
        return ords.ShipOrderResponse(order=order)

    async def CreatePartner(self, request: ords.CreatePartnerRequest, context: Any) -> ords.CreatePartnerResponse:
        self._seen("CreatePartner")
        partner = ords.Partner(
            name=f"partners/{request.partner_id}",
            partner_id=request.partner_id,
            display_name=request.display_name,
            tier=request.tier,
            api_keys=[ords.ApiKey(key_id="k1", prefix="pk-acme")],
        )
        return ords.CreatePartnerResponse(partner=partner, api_key=PARTNER_KEY)


class FakeInventory(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self) -> None:
        self.lots: dict[str, inv.MaterialLot] = {}
        self.flaky = Flaky()

    async def ReceiveLot(self, request: inv.ReceiveLotRequest, context: Any) -> inv.ReceiveLotResponse:
        self.flaky.check("ReceiveLot")
        if request.request_id not in self.lots:
            self.lots[request.request_id] = inv.MaterialLot(
                name=f"lots/L{len(self.lots) + 1}",
                lot_id=f"L{len(self.lots) + 1}",
                kind=request.kind,
                material_code=request.material_code,
                received_mg=request.weight_mg,
                on_hand_mg=request.weight_mg,
                received_pieces=request.pieces,
                on_hand_pieces=request.pieces,
                weight_points=request.weight_points,
                supplier_reference=request.supplier_reference,
            )
        return inv.ReceiveLotResponse(lot=self.lots[request.request_id])

    async def ListBalances(self, request: inv.ListBalancesRequest, context: Any) -> inv.ListBalancesResponse:
        self.flaky.check("ListBalances")
        totals: dict[str, int] = {}
        for lot in self.lots.values():
            totals[lot.material_code] = totals.get(lot.material_code, 0) + lot.on_hand_mg
        return inv.ListBalancesResponse(
            balances=[
                inv.Balance(
                    name=f"balances/{code}",
                    material_code=code,
                    kind=common_pb2.MATERIAL_KIND_METAL,
                    on_hand_mg=mg,
                    available_mg=mg,
                    fine_available_mg=mg * 750 // 1000,
                )
                for code, mg in sorted(totals.items())
            ]
        )

    async def ReserveOrder(self, request: inv.ReserveOrderRequest, context: Any) -> inv.ReserveOrderResponse:
        raise FailedPrecondition("not enough AU750Y", reason="INSUFFICIENT_STOCK", metadata={"material": "AU750Y"})


class FakeProduction(production_pb2_grpc.ProductionServiceServicer):
    def __init__(self) -> None:
        self.styles = [
            prod.Style(name=f"styles/RNG-{i}", sku=f"RNG-{i}", display_name=f"Ring {i}", routing_version=1)
            for i in range(1, 6)
        ]
        self.started: list[prod.StartOperationRequest] = []

    async def ListStyles(self, request: prod.ListStylesRequest, context: Any) -> prod.ListStylesResponse:
        start = int(request.page_token or 0)
        size = request.page_size or 2
        token = str(start + size) if start + size < len(self.styles) else ""
        return prod.ListStylesResponse(styles=self.styles[start : start + size], next_page_token=token)

    async def StartOperation(self, request: prod.StartOperationRequest, context: Any) -> prod.StartOperationResponse:
        self.started.append(request)
        return prod.StartOperationResponse(
            operation=prod.Operation(
                name=request.name,
                status=prod.OPERATION_STATUS_IN_PROGRESS,
                weigh_in_mg=request.weigh_in_mg,
                started_by=request.operator_code,
            )
        )


@dataclass
class FakeStack:
    orders: FakeOrders
    inventory: FakeInventory
    production: FakeProduction
    handles: list[ServerHandle]
    config: ClientConfig

    def argv(self, *extra: str) -> list[str]:
        """mesctl options pointing at these servers."""
        return mesctl_argv(self.config, *extra)


async def _resolve_key(key: str) -> str | None:
    return "acme" if key == PARTNER_KEY else None


@asynccontextmanager
async def fake_stack() -> AsyncIterator[FakeStack]:
    orders, inventory, production = FakeOrders(), FakeInventory(), FakeProduction()
    tokens = parse_tokens(AUTH_TOKENS)
    handles = [
        await create_server(
            service="orders",
            register=lambda s: orders_pb2_grpc.add_OrdersServiceServicer_to_server(orders, s),
            service_names=["mes.orders.v1.OrdersService"],
            authenticator=Authenticator(tokens, partner_keys=_resolve_key),
        ),
        await create_server(
            service="inventory",
            register=lambda s: inventory_pb2_grpc.add_InventoryServiceServicer_to_server(inventory, s),
            service_names=["mes.inventory.v1.InventoryService"],
            authenticator=Authenticator(tokens),
        ),
        await create_server(
            service="production",
            register=lambda s: production_pb2_grpc.add_ProductionServiceServicer_to_server(production, s),
            service_names=["mes.production.v1.ProductionService"],
            authenticator=Authenticator(tokens),
        ),
    ]
    config = client_config(
        *(handle.port for handle in handles),
        deadline_s=5.0,
        retry=RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.05),
    )
    try:
        yield FakeStack(orders, inventory, production, handles, config)
    finally:
        for handle in handles:
            await handle.stop(0)
