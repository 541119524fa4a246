"""Typed async client of ``mes.inventory.v1.InventoryService``: alloys, lots, reservations, custody."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from google.protobuf.timestamp_pb2 import Timestamp

from clients._base import Rpc, ServiceClient
from clients._methods import batch_get, by_name, iter_pages, list_page
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as pb
from mes.inventory.v1 import inventory_pb2_grpc

__all__ = ["RPCS", "InventoryClient"]

MaterialKind: TypeAlias = common_pb2.MaterialKind.ValueType
Priority: TypeAlias = common_pb2.Priority.ValueType
ReservationState: TypeAlias = pb.ReservationState.ValueType
CustodyKind: TypeAlias = pb.CustodyKind.ValueType

_UPSERT_ALLOY = Rpc("UpsertAlloy", pb.UpsertAlloyRequest, pb.UpsertAlloyResponse, positional="alloy")
_GET_ALLOY = Rpc("GetAlloy", pb.GetAlloyRequest, pb.GetAlloyResponse, positional="name")
_LIST_ALLOYS = Rpc("ListAlloys", pb.ListAlloysRequest, pb.ListAlloysResponse)
_BATCH_GET_ALLOYS = Rpc("BatchGetAlloys", pb.BatchGetAlloysRequest, pb.BatchGetAlloysResponse, positional="names")
_RECEIVE_LOT = Rpc("ReceiveLot", pb.ReceiveLotRequest, pb.ReceiveLotResponse, request_id=True)
_GET_LOT = Rpc("GetLot", pb.GetLotRequest, pb.GetLotResponse, positional="name")
_LIST_LOTS = Rpc("ListLots", pb.ListLotsRequest, pb.ListLotsResponse)
_RESERVE_ORDER = Rpc("ReserveOrder", pb.ReserveOrderRequest, pb.ReserveOrderResponse)
_RELEASE = Rpc("ReleaseReservation", pb.ReleaseReservationRequest, pb.ReleaseReservationResponse, positional="name")
_COMMIT = Rpc("CommitReservation", pb.CommitReservationRequest, pb.CommitReservationResponse, positional="name")
_CONSUME = Rpc("ConsumeReservation", pb.ConsumeReservationRequest, pb.ConsumeReservationResponse, positional="name")
_GET_RESERVATION = Rpc("GetReservation", pb.GetReservationRequest, pb.GetReservationResponse, positional="name")
_BATCH_GET_RESERVATIONS = Rpc(
    "BatchGetReservations", pb.BatchGetReservationsRequest, pb.BatchGetReservationsResponse, positional="names"
)
_LIST_RESERVATIONS = Rpc("ListReservations", pb.ListReservationsRequest, pb.ListReservationsResponse)
_LIST_BALANCES = Rpc("ListBalances", pb.ListBalancesRequest, pb.ListBalancesResponse)
_BATCH_GET_BALANCES = Rpc(
    "BatchGetBalances", pb.BatchGetBalancesRequest, pb.BatchGetBalancesResponse, positional="names"
)
_LIST_SHORTAGES = Rpc("ListShortages", pb.ListShortagesRequest, pb.ListShortagesResponse)
_RECORD_CUSTODY = Rpc("RecordCustody", pb.RecordCustodyRequest, pb.RecordCustodyResponse, request_id=True)
_LIST_CUSTODY = Rpc("ListCustodyEntries", pb.ListCustodyEntriesRequest, pb.ListCustodyEntriesResponse)

#: Every RPC of the service, as this client calls it.
RPCS: tuple[Rpc[Any, Any], ...] = (
    _UPSERT_ALLOY, _GET_ALLOY, _LIST_ALLOYS, _BATCH_GET_ALLOYS, _RECEIVE_LOT, _GET_LOT, _LIST_LOTS, _RESERVE_ORDER,
    _RELEASE, _COMMIT, _CONSUME, _GET_RESERVATION, _BATCH_GET_RESERVATIONS, _LIST_RESERVATIONS, _LIST_BALANCES,
    _BATCH_GET_BALANCES, _LIST_SHORTAGES, _RECORD_CUSTODY, _LIST_CUSTODY,
)  # fmt: skip


class InventoryClient(ServiceClient):
    """Client of the inventory service.

    Every method takes the request message or keyword fields, and ``partner=`` (``x-mes-partner``, service
    principals only). Calls answering one resource return it; the others return the response message.
    """

    service = "inventory"
    grpc_service = "mes.inventory.v1.InventoryService"
    stub_type = inventory_pb2_grpc.InventoryServiceStub

    # -- alloys -------------------------------------------------------------------------

    async def upsert_alloy(
        self, alloy: pb.Alloy | pb.UpsertAlloyRequest, *, partner: str | None = None, timeout: float | None = None
    ) -> pb.Alloy:
        """Create or update an alloy by code (idempotent, so retried)."""
        return (await self._call_with(_UPSERT_ALLOY, locals())).alloy

    get_alloy = by_name(_GET_ALLOY, lambda response: response.alloy)
    list_alloys = list_page(_LIST_ALLOYS)
    iter_alloys = iter_pages(_LIST_ALLOYS, lambda page: page.alloys)
    batch_get_alloys = batch_get(_BATCH_GET_ALLOYS)

    # -- lots ---------------------------------------------------------------------------

    async def receive_lot(
        self,
        request: pb.ReceiveLotRequest | None = None,
        /,
        *,
        kind: MaterialKind | None = None,
        material_code: str | None = None,
        weight_mg: int | None = None,
        pieces: int | None = None,
        weight_points: int | None = None,
        supplier_reference: str | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.MaterialLot:
        """Receive metal (``weight_mg``) or stones (``pieces`` + ``weight_points``) into stores.

        A request_id is generated when none is given, so a retried call cannot receive the lot twice.
        """
        return (await self._call_with(_RECEIVE_LOT, locals())).lot

    get_lot = by_name(_GET_LOT, lambda response: response.lot)

    async def list_lots(
        self,
        request: pb.ListLotsRequest | None = None,
        /,
        *,
        material_code: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListLotsResponse:
        return await self._call_with(_LIST_LOTS, locals())

    def iter_lots(
        self,
        *,
        material_code: str = "",
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.MaterialLot]:
        return self._iterate(_LIST_LOTS, lambda page: page.lots, locals())

    # -- reservations -------------------------------------------------------------------

    async def reserve_order(
        self,
        request: pb.ReserveOrderRequest | None = None,
        /,
        *,
        order_id: str | None = None,
        priority: Priority | None = None,
        requirements: Sequence[common_pb2.MaterialRequirement] | None = None,
        queue_on_shortage: bool | None = None,
        submit_time: datetime | Timestamp | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ReserveOrderResponse:
        """Reserve every requirement of an order or none (idempotent per order)."""
        return await self._call_with(_RESERVE_ORDER, locals())

    async def release_reservation(
        self,
        name: str | pb.ReleaseReservationRequest,
        *,
        reason: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.Reservation:
        return (await self._call_with(_RELEASE, locals())).reservation

    commit_reservation = by_name(_COMMIT, lambda response: response.reservation)
    consume_reservation = by_name(_CONSUME, lambda response: response.reservation)
    get_reservation = by_name(_GET_RESERVATION, lambda response: response.reservation)
    batch_get_reservations = batch_get(_BATCH_GET_RESERVATIONS)

    async def list_reservations(
        self,
        request: pb.ListReservationsRequest | None = None,
        /,
        *,
        order_ids: Sequence[str] | None = None,
        states: Sequence[ReservationState] | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListReservationsResponse:
        return await self._call_with(_LIST_RESERVATIONS, locals())

    def iter_reservations(
        self,
        *,
        order_ids: Sequence[str] = (),
        states: Sequence[ReservationState] = (),
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Reservation]:
        return self._iterate(_LIST_RESERVATIONS, lambda page: page.reservations, locals())

    # -- balances and shortages ---------------------------------------------------------

    async def list_balances(
        self,
        request: pb.ListBalancesRequest | None = None,
        /,
        *,
        kind: MaterialKind | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListBalancesResponse:
        return await self._call_with(_LIST_BALANCES, locals())

    def iter_balances(
        self,
        *,
        kind: MaterialKind = common_pb2.MATERIAL_KIND_UNSPECIFIED,
        page_size: int = 100,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Balance]:
        return self._iterate(_LIST_BALANCES, lambda page: page.balances, locals())

    async def batch_get_balances(
        self,
        names: Sequence[str] | pb.BatchGetBalancesRequest,
        *,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.BatchGetBalancesResponse:
        """Balances of ``balances/{material_code}`` in key order (zero for materials without stock)."""
        return await self._call_with(_BATCH_GET_BALANCES, locals())

    list_shortages = list_page(_LIST_SHORTAGES)
    iter_shortages = iter_pages(_LIST_SHORTAGES, lambda page: page.shortages)

    # -- custody ledger -----------------------------------------------------------------

    async def record_custody(
        self,
        request: pb.RecordCustodyRequest | None = None,
        /,
        *,
        kind: CustodyKind | None = None,
        holder: str | None = None,
        material_code: str | None = None,
        lot_id: str | None = None,
        weight_mg: int | None = None,
        pieces: int | None = None,
        reference: str | None = None,
        operator_code: str | None = None,
        request_id: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.CustodyEntry:
        """Append a custody entry (a request_id is generated when none is given)."""
        return (await self._call_with(_RECORD_CUSTODY, locals())).entry

    async def list_custody_entries(
        self,
        request: pb.ListCustodyEntriesRequest | None = None,
        /,
        *,
        holder: str | None = None,
        material_code: str | None = None,
        reference: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> pb.ListCustodyEntriesResponse:
        """One page of custody entries, newest first."""
        return await self._call_with(_LIST_CUSTODY, locals())

    def iter_custody_entries(
        self,
        *,
        holder: str = "",
        material_code: str = "",
        reference: str = "",
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.CustodyEntry]:
        return self._iterate(_LIST_CUSTODY, lambda page: page.entries, locals())
