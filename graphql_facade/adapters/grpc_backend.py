"""The :class:`~graphql_facade.backend.Backend` port over the services' gRPC APIs (the ``clients`` library).

One channel per service (round-robin over the addresses of a ``ipv4:a,b`` target), opened
once and shared; every call carries the facade's service token and a deadline, and idempotent
calls are retried on UNAVAILABLE by the clients. Partner-scoped calls use an orders client whose
metadata adds ``x-mes-partner`` (kept per partner in a small LRU; they share the channel).
Every call also carries the request's W3C ``traceparent`` (``mes_platform.telemetry.tracing``).
Optional client interceptors (tests count calls per method with one).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients import ClientConfig, InventoryClient, MesClientError, OrdersClient, ProductionClient, RetryPolicy
from graphql_facade.config import FacadeSettings
from graphql_facade.metrics import BACKEND_CALLS, BACKEND_LATENCY
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod
from mes_platform.telemetry.tracing import outgoing_metadata

__all__ = ["GrpcBackend", "open_channel"]

T = TypeVar("T")
_MAX_PARTNER_CLIENTS = 1024
_SERVICE_NAMES = {
    "orders": "mes.orders.v1.OrdersService",
    "inventory": "mes.inventory.v1.InventoryService",
    "production": "mes.production.v1.ProductionService",
}


def open_channel(
    target: str, *, tls_ca_file: str | None = None, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()
) -> grpc.aio.Channel:
    options: list[tuple[str, Any]] = [
        ("grpc.primary_user_agent", "mes-graphql-facade/0.1"),
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.lb_policy_name", "round_robin"),
    ]
    if tls_ca_file:
        credentials = grpc.ssl_channel_credentials(root_certificates=Path(tls_ca_file).read_bytes())
        return grpc.aio.secure_channel(target, credentials, options=options, interceptors=list(interceptors) or None)
    return grpc.aio.insecure_channel(target, options=options, interceptors=list(interceptors) or None)


class GrpcBackend:
    def __init__(
        self,
        config: ClientConfig,
        *,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        self._config = config
        self._channels = {
            name: open_channel(config.address(name), tls_ca_file=config.tls_ca_file, interceptors=interceptors)
            for name in ("orders", "inventory", "production")
        }
        trace = outgoing_metadata
        self.orders = OrdersClient(config, channel=self._channels["orders"], extra_metadata=trace)
        self.inventory = InventoryClient(config, channel=self._channels["inventory"], extra_metadata=trace)
        self.production = ProductionClient(config, channel=self._channels["production"], extra_metadata=trace)
        self._partner_clients: OrderedDict[str, OrdersClient] = OrderedDict()
        self._health = {n: health_pb2_grpc.HealthStub(c) for n, c in self._channels.items()}

    @classmethod
    def from_settings(
        cls, settings: FacadeSettings, *, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()
    ) -> GrpcBackend:
        config = ClientConfig(
            orders_addr=settings.orders_addr,
            inventory_addr=settings.inventory_addr,
            production_addr=settings.production_addr,
            token=settings.service_token,
            tls_ca_file=settings.backend_tls_ca_file,
            deadline_s=settings.backend_timeout_s,
            retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.05, max_backoff_s=0.5),
            user_agent="mes-graphql-facade/0.1",
        )
        return cls(config, interceptors=interceptors)

    def _orders_for(self, partner: str | None) -> OrdersClient:
        if partner is None:
            return self.orders
        client = self._partner_clients.get(partner)
        if client is None:
            client = OrdersClient(
                self._config.with_changes(partner=partner),
                channel=self._channels["orders"],
                extra_metadata=outgoing_metadata,
            )
            self._partner_clients[partner] = client
            while len(self._partner_clients) > _MAX_PARTNER_CLIENTS:
                self._partner_clients.popitem(last=False)
        else:
            self._partner_clients.move_to_end(partner)
        return client

    async def _timed(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        code = "OK"
        try:
            return await call()
        except MesClientError as err:
            code = err.code.name
            raise
        finally:
            BACKEND_CALLS.labels(method, code).inc()
            BACKEND_LATENCY.labels(method).observe(time.perf_counter() - started)

    # -- orders --------------------------------------------------------------------------

    async def authenticate_partner(self, request: ords.AuthenticatePartnerRequest) -> ords.AuthenticatePartnerResponse:
        partner = await self._timed("AuthenticatePartner", lambda: self.orders.authenticate_partner(request.api_key))
        return ords.AuthenticatePartnerResponse(partner=partner)

    async def batch_get_orders(
        self, request: ords.BatchGetOrdersRequest, *, partner: str | None = None
    ) -> ords.BatchGetOrdersResponse:
        client = self._orders_for(partner)
        return await self._timed(
            "BatchGetOrders", lambda: client.batch_get_orders(list(request.names), allow_missing=request.allow_missing)
        )

    async def list_orders(
        self, request: ords.ListOrdersRequest, *, partner: str | None = None
    ) -> ords.ListOrdersResponse:
        client = self._orders_for(partner)
        return await self._timed("ListOrders", lambda: client.list_orders(request))

    async def count_orders(
        self, request: ords.CountOrdersRequest, *, partner: str | None = None
    ) -> ords.CountOrdersResponse:
        client = self._orders_for(partner)
        return await self._timed("CountOrders", lambda: client.count_orders(parent=request.parent))

    async def list_order_status_changes(
        self, request: ords.ListOrderStatusChangesRequest, *, partner: str | None = None
    ) -> ords.ListOrderStatusChangesResponse:
        client = self._orders_for(partner)
        return await self._timed(
            "ListOrderStatusChanges",
            lambda: client.list_order_status_changes(
                request.parent, page_size=request.page_size, page_token=request.page_token
            ),
        )

    async def submit_order(self, request: ords.SubmitOrderRequest, *, partner: str) -> ords.SubmitOrderResponse:
        client = self._orders_for(partner)
        return await self._timed("SubmitOrder", lambda: client.submit_order(request))

    async def cancel_order(
        self, request: ords.CancelOrderRequest, *, partner: str | None = None
    ) -> ords.CancelOrderResponse:
        client = self._orders_for(partner)
        order = await self._timed(
            "CancelOrder",
            lambda: client.cancel_order(request.name, reason=request.reason, request_id=request.request_id or None),
        )
        return ords.CancelOrderResponse(order=order)

    async def ship_order(self, request: ords.ShipOrderRequest) -> ords.ShipOrderResponse:
        order = await self._timed(
            "ShipOrder",
            lambda: self.orders.ship_order(
                request.name, tracking_reference=request.tracking_reference, request_id=request.request_id or None
            ),
        )
        return ords.ShipOrderResponse(order=order)

    # -- production ----------------------------------------------------------------------

    async def batch_get_styles(self, request: prod.BatchGetStylesRequest) -> prod.BatchGetStylesResponse:
        return await self._timed(
            "BatchGetStyles",
            lambda: self.production.batch_get_styles(list(request.names), allow_missing=request.allow_missing),
        )

    async def list_styles(self, request: prod.ListStylesRequest) -> prod.ListStylesResponse:
        return await self._timed(
            "ListStyles",
            lambda: self.production.list_styles(page_size=request.page_size, page_token=request.page_token),
        )

    async def list_work_centers(self, request: prod.ListWorkCentersRequest) -> prod.ListWorkCentersResponse:
        return await self._timed(
            "ListWorkCenters",
            lambda: self.production.list_work_centers(page_size=request.page_size, page_token=request.page_token),
        )

    async def list_work_center_stats(
        self, request: prod.ListWorkCenterStatsRequest
    ) -> prod.ListWorkCenterStatsResponse:
        stats = await self._timed(
            "ListWorkCenterStats",
            lambda: self.production.list_work_center_stats(
                work_centers=list(request.work_centers), window_minutes=request.window_minutes
            ),
        )
        return prod.ListWorkCenterStatsResponse(stats=stats)

    async def list_work_orders(self, request: prod.ListWorkOrdersRequest) -> prod.ListWorkOrdersResponse:
        return await self._timed(
            "ListWorkOrders",
            lambda: self.production.list_work_orders(
                order_ids=list(request.order_ids),
                statuses=list(request.statuses),
                page_size=request.page_size,
                page_token=request.page_token,
            ),
        )

    async def batch_get_work_orders(self, request: prod.BatchGetWorkOrdersRequest) -> prod.BatchGetWorkOrdersResponse:
        return await self._timed(
            "BatchGetWorkOrders",
            lambda: self.production.batch_get_work_orders(list(request.names), allow_missing=request.allow_missing),
        )

    async def batch_get_operations(self, request: prod.BatchGetOperationsRequest) -> prod.BatchGetOperationsResponse:
        return await self._timed(
            "BatchGetOperations",
            lambda: self.production.batch_get_operations(list(request.names), allow_missing=request.allow_missing),
        )

    async def list_operations(self, request: prod.ListOperationsRequest) -> prod.ListOperationsResponse:
        return await self._timed(
            "ListOperations",
            lambda: self.production.list_operations(
                work_center=request.work_center,
                work_order_ids=list(request.work_order_ids),
                statuses=list(request.statuses),
                page_size=request.page_size,
                page_token=request.page_token,
            ),
        )

    async def summarize_metal_loss(self, request: prod.SummarizeMetalLossRequest) -> prod.SummarizeMetalLossResponse:
        since = request.since_time if request.HasField("since_time") else None
        summaries = await self._timed(
            "SummarizeMetalLoss", lambda: self.production.summarize_metal_loss(grouping=request.grouping, since=since)
        )
        return prod.SummarizeMetalLossResponse(summaries=summaries)

    async def start_operation(self, request: prod.StartOperationRequest) -> prod.StartOperationResponse:
        operation = await self._timed("StartOperation", lambda: self.production.start_operation(request))
        return prod.StartOperationResponse(operation=operation)

    async def finish_operation(self, request: prod.FinishOperationRequest) -> prod.FinishOperationResponse:
        operation = await self._timed("FinishOperation", lambda: self.production.finish_operation(request))
        return prod.FinishOperationResponse(operation=operation)

    async def resolve_loss_review(self, request: prod.ResolveLossReviewRequest) -> prod.ResolveLossReviewResponse:
        operation = await self._timed(
            "ResolveLossReview",
            lambda: self.production.resolve_loss_review(
                request.name, supervisor_code=request.supervisor_code, decision=request.decision, note=request.note
            ),
        )
        return prod.ResolveLossReviewResponse(operation=operation)

    # -- inventory -----------------------------------------------------------------------

    async def batch_get_alloys(self, request: inv.BatchGetAlloysRequest) -> inv.BatchGetAlloysResponse:
        return await self._timed(
            "BatchGetAlloys",
            lambda: self.inventory.batch_get_alloys(list(request.names), allow_missing=request.allow_missing),
        )

    async def list_alloys(self, request: inv.ListAlloysRequest) -> inv.ListAlloysResponse:
        return await self._timed(
            "ListAlloys",
            lambda: self.inventory.list_alloys(page_size=request.page_size, page_token=request.page_token),
        )

    async def list_balances(self, request: inv.ListBalancesRequest) -> inv.ListBalancesResponse:
        return await self._timed(
            "ListBalances",
            lambda: self.inventory.list_balances(
                kind=request.kind, page_size=request.page_size, page_token=request.page_token
            ),
        )

    async def batch_get_balances(self, request: inv.BatchGetBalancesRequest) -> inv.BatchGetBalancesResponse:
        balances = await self._timed("BatchGetBalances", lambda: self.inventory.batch_get_balances(list(request.names)))
        return inv.BatchGetBalancesResponse(balances=balances)

    async def list_shortages(self, request: inv.ListShortagesRequest) -> inv.ListShortagesResponse:
        return await self._timed(
            "ListShortages",
            lambda: self.inventory.list_shortages(page_size=request.page_size, page_token=request.page_token),
        )

    async def list_reservations(self, request: inv.ListReservationsRequest) -> inv.ListReservationsResponse:
        return await self._timed(
            "ListReservations",
            lambda: self.inventory.list_reservations(
                order_ids=list(request.order_ids),
                states=list(request.states),
                page_size=request.page_size,
                page_token=request.page_token,
            ),
        )

    async def receive_lot(self, request: inv.ReceiveLotRequest) -> inv.ReceiveLotResponse:
        lot = await self._timed("ReceiveLot", lambda: self.inventory.receive_lot(request))
        return inv.ReceiveLotResponse(lot=lot)

    # -- operations ----------------------------------------------------------------------

    async def health(self) -> Mapping[str, bool]:
        async def serving(name: str) -> bool:
            try:
                check = self._health[name].Check  # type: ignore[attr-defined]  # untyped in the stubs
                response = await check(health_pb2.HealthCheckRequest(service=_SERVICE_NAMES[name]), timeout=1.0)
            except grpc.aio.AioRpcError:
                return False
            return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

        names = list(self._channels)
        results = await asyncio.gather(*(serving(n) for n in names))
        return dict(zip(names, results, strict=True))

    async def aclose(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self._channels.values()))
