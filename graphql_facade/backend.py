"""The port to the MES services: exactly the calls the facade makes.

Every method takes the RPC's request message and returns its response message (the
generated ``mes.*_pb2`` classes), so the schema never sees gRPC. Calls of the orders
service take ``partner``: when set, the call acts for that partner and the orders service
confines it to the partner's data (another partner's order answers like a missing one).

Failures raise the typed exceptions of :mod:`clients` (``NotFoundError``,
``InvalidArgumentError``, ``IdempotencyKeyReusedError``, ``UnavailableError``, ...), which
:mod:`graphql_facade.errors` maps to GraphQL error codes.

Implementations: :class:`graphql_facade.adapters.grpc_backend.GrpcBackend` (the services
over gRPC) and the fake of the unit tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod

__all__ = ["Backend"]


class Backend(Protocol):
    # -- orders --------------------------------------------------------------------------

    async def authenticate_partner(self, request: ords.AuthenticatePartnerRequest) -> ords.AuthenticatePartnerResponse:
        """Resolve an API key; UNAUTHENTICATED (or NOT_FOUND) for an unknown or revoked key."""
        ...

    async def batch_get_orders(
        self, request: ords.BatchGetOrdersRequest, *, partner: str | None = None
    ) -> ords.BatchGetOrdersResponse: ...

    async def list_orders(
        self, request: ords.ListOrdersRequest, *, partner: str | None = None
    ) -> ords.ListOrdersResponse: ...

    async def count_orders(
        self, request: ords.CountOrdersRequest, *, partner: str | None = None
    ) -> ords.CountOrdersResponse: ...

    async def list_order_status_changes(
        self, request: ords.ListOrderStatusChangesRequest, *, partner: str | None = None
    ) -> ords.ListOrderStatusChangesResponse: ...

    async def submit_order(self, request: ords.SubmitOrderRequest, *, partner: str) -> ords.SubmitOrderResponse: ...

    async def cancel_order(
        self, request: ords.CancelOrderRequest, *, partner: str | None = None
    ) -> ords.CancelOrderResponse: ...

    async def ship_order(self, request: ords.ShipOrderRequest) -> ords.ShipOrderResponse: ...

    # -- production ----------------------------------------------------------------------

    async def batch_get_styles(self, request: prod.BatchGetStylesRequest) -> prod.BatchGetStylesResponse: ...

    async def list_styles(self, request: prod.ListStylesRequest) -> prod.ListStylesResponse: ...

    async def list_work_centers(self, request: prod.ListWorkCentersRequest) -> prod.ListWorkCentersResponse: ...

    async def list_work_center_stats(
        self, request: prod.ListWorkCenterStatsRequest
    ) -> prod.ListWorkCenterStatsResponse: ...

    async def list_work_orders(self, request: prod.ListWorkOrdersRequest) -> prod.ListWorkOrdersResponse: ...

    async def batch_get_work_orders(
        self, request: prod.BatchGetWorkOrdersRequest
    ) -> prod.BatchGetWorkOrdersResponse: ...

    async def batch_get_operations(
        self, request: prod.BatchGetOperationsRequest
    ) -> prod.BatchGetOperationsResponse: ...

    async def list_operations(self, request: prod.ListOperationsRequest) -> prod.ListOperationsResponse: ...

    async def summarize_metal_loss(
        self, request: prod.SummarizeMetalLossRequest
    ) -> prod.SummarizeMetalLossResponse: ...

    async def start_operation(self, request: prod.StartOperationRequest) -> prod.StartOperationResponse: ...

    async def finish_operation(self, request: prod.FinishOperationRequest) -> prod.FinishOperationResponse: ...

    async def resolve_loss_review(self, request: prod.ResolveLossReviewRequest) -> prod.ResolveLossReviewResponse: ...

    # -- inventory -----------------------------------------------------------------------

    async def batch_get_alloys(self, request: inv.BatchGetAlloysRequest) -> inv.BatchGetAlloysResponse: ...

    async def list_alloys(self, request: inv.ListAlloysRequest) -> inv.ListAlloysResponse: ...

    async def list_balances(self, request: inv.ListBalancesRequest) -> inv.ListBalancesResponse: ...

    async def batch_get_balances(self, request: inv.BatchGetBalancesRequest) -> inv.BatchGetBalancesResponse: ...

    async def list_shortages(self, request: inv.ListShortagesRequest) -> inv.ListShortagesResponse: ...

    async def list_reservations(self, request: inv.ListReservationsRequest) -> inv.ListReservationsResponse: ...

    async def receive_lot(self, request: inv.ReceiveLotRequest) -> inv.ReceiveLotResponse: ...

    # -- operations ----------------------------------------------------------------------

    async def health(self) -> Mapping[str, bool]:
        """Per service ("orders", "inventory", "production"): True when it reports SERVING."""
        ...

    async def aclose(self) -> None: ...
