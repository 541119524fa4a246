"""Typed async client of ``mes.inventory.v1.InventoryService``: alloys, lots, reservations, custody."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import TypeAlias

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from clients._base import MetadataPairs, ServiceClient, build_request, to_timestamp, with_request_id
from clients._config import ClientConfig
from clients._pagination import paginate
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as pb
from mes.inventory.v1 import inventory_pb2_grpc

__all__ = ["InventoryClient"]

MaterialKind: TypeAlias = common_pb2.MaterialKind.ValueType
Priority: TypeAlias = common_pb2.Priority.ValueType
ReservationState: TypeAlias = pb.ReservationState.ValueType
CustodyKind: TypeAlias = pb.CustodyKind.ValueType


class InventoryClient(ServiceClient):
    """Client of the inventory service. Get-style calls return the resource, others the response message."""

    service = "inventory"

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        channel: grpc.aio.Channel | None = None,
        extra_metadata: Callable[[], MetadataPairs] | None = None,
    ) -> None:
        super().__init__(config, channel=channel, extra_metadata=extra_metadata)
        self._stub = inventory_pb2_grpc.InventoryServiceStub(self.channel)

    # -- alloys -------------------------------------------------------------------------

    async def upsert_alloy(self, alloy: pb.Alloy, *, timeout: float | None = None) -> pb.Alloy:
        """Create or update an alloy by code (idempotent, so retried)."""
        resp = await self._call("UpsertAlloy", self._stub.UpsertAlloy, pb.UpsertAlloyRequest(alloy=alloy), timeout)
        return resp.alloy

    async def get_alloy(self, name: str, *, timeout: float | None = None) -> pb.Alloy:
        resp = await self._call("GetAlloy", self._stub.GetAlloy, pb.GetAlloyRequest(name=name), timeout)
        return resp.alloy

    async def list_alloys(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListAlloysResponse:
        req = pb.ListAlloysRequest(page_size=page_size, page_token=page_token)
        return await self._call("ListAlloys", self._stub.ListAlloys, req, timeout)

    def iter_alloys(self, *, page_size: int = 100, timeout: float | None = None) -> AsyncIterator[pb.Alloy]:
        async def fetch(token: str) -> pb.ListAlloysResponse:
            return await self.list_alloys(page_size=page_size, page_token=token, timeout=timeout)

        return paginate(fetch, lambda page: page.alloys)

    async def batch_get_alloys(
        self, names: Sequence[str], *, allow_missing: bool = False, timeout: float | None = None
    ) -> pb.BatchGetAlloysResponse:
        req = pb.BatchGetAlloysRequest(names=names, allow_missing=allow_missing)
        return await self._call("BatchGetAlloys", self._stub.BatchGetAlloys, req, timeout)

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
        timeout: float | None = None,
    ) -> pb.MaterialLot:
        """Receive metal (``weight_mg``) or stones (``pieces`` + ``weight_points``) into stores.

        A request_id is generated when none is given, so a retried call cannot receive the lot twice.
        """
        req = build_request(
            pb.ReceiveLotRequest,
            request,
            kind=kind,
            material_code=material_code,
            weight_mg=weight_mg,
            pieces=pieces,
            weight_points=weight_points,
            supplier_reference=supplier_reference,
            request_id=request_id,
        )
        req = with_request_id(req)
        resp = await self._call("ReceiveLot", self._stub.ReceiveLot, req, timeout)
        return resp.lot

    async def get_lot(self, name: str, *, timeout: float | None = None) -> pb.MaterialLot:
        resp = await self._call("GetLot", self._stub.GetLot, pb.GetLotRequest(name=name), timeout)
        return resp.lot

    async def list_lots(
        self, *, material_code: str = "", page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListLotsResponse:
        req = pb.ListLotsRequest(material_code=material_code, page_size=page_size, page_token=page_token)
        return await self._call("ListLots", self._stub.ListLots, req, timeout)

    def iter_lots(
        self, *, material_code: str = "", page_size: int = 100, limit: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[pb.MaterialLot]:
        async def fetch(token: str) -> pb.ListLotsResponse:
            return await self.list_lots(
                material_code=material_code, page_size=page_size, page_token=token, timeout=timeout
            )

        return paginate(fetch, lambda page: page.lots, limit=limit)

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
        timeout: float | None = None,
    ) -> pb.ReserveOrderResponse:
        """Reserve every requirement of an order or none (idempotent per order)."""
        req = build_request(
            pb.ReserveOrderRequest,
            request,
            order_id=order_id,
            priority=priority,
            requirements=requirements,
            queue_on_shortage=queue_on_shortage,
            submit_time=to_timestamp(submit_time),
        )
        return await self._call("ReserveOrder", self._stub.ReserveOrder, req, timeout)

    async def release_reservation(self, name: str, *, reason: str = "", timeout: float | None = None) -> pb.Reservation:
        req = pb.ReleaseReservationRequest(name=name, reason=reason)
        resp = await self._call("ReleaseReservation", self._stub.ReleaseReservation, req, timeout)
        return resp.reservation

    async def commit_reservation(self, name: str, *, timeout: float | None = None) -> pb.Reservation:
        req = pb.CommitReservationRequest(name=name)
        resp = await self._call("CommitReservation", self._stub.CommitReservation, req, timeout)
        return resp.reservation

    async def consume_reservation(self, name: str, *, timeout: float | None = None) -> pb.Reservation:
        req = pb.ConsumeReservationRequest(name=name)
        resp = await self._call("ConsumeReservation", self._stub.ConsumeReservation, req, timeout)
        return resp.reservation

    async def get_reservation(self, name: str, *, timeout: float | None = None) -> pb.Reservation:
        req = pb.GetReservationRequest(name=name)
        resp = await self._call("GetReservation", self._stub.GetReservation, req, timeout)
        return resp.reservation

    async def batch_get_reservations(
        self, names: Sequence[str], *, allow_missing: bool = False, timeout: float | None = None
    ) -> pb.BatchGetReservationsResponse:
        req = pb.BatchGetReservationsRequest(names=names, allow_missing=allow_missing)
        return await self._call("BatchGetReservations", self._stub.BatchGetReservations, req, timeout)

    async def list_reservations(
        self,
        *,
        order_ids: Sequence[str] = (),
        states: Sequence[ReservationState] = (),
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> pb.ListReservationsResponse:
        req = pb.ListReservationsRequest(order_ids=order_ids, states=states, page_size=page_size, page_token=page_token)
        return await self._call("ListReservations", self._stub.ListReservations, req, timeout)

    def iter_reservations(
        self,
        *,
        order_ids: Sequence[str] = (),
        states: Sequence[ReservationState] = (),
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Reservation]:
        async def fetch(token: str) -> pb.ListReservationsResponse:
            return await self.list_reservations(
                order_ids=order_ids, states=states, page_size=page_size, page_token=token, timeout=timeout
            )

        return paginate(fetch, lambda page: page.reservations, limit=limit)

    # -- balances and shortages ---------------------------------------------------------

    async def list_balances(
        self,
        *,
        kind: MaterialKind = common_pb2.MATERIAL_KIND_UNSPECIFIED,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> pb.ListBalancesResponse:
        req = pb.ListBalancesRequest(kind=kind, page_size=page_size, page_token=page_token)
        return await self._call("ListBalances", self._stub.ListBalances, req, timeout)

    def iter_balances(
        self,
        *,
        kind: MaterialKind = common_pb2.MATERIAL_KIND_UNSPECIFIED,
        page_size: int = 100,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.Balance]:
        async def fetch(token: str) -> pb.ListBalancesResponse:
            return await self.list_balances(kind=kind, page_size=page_size, page_token=token, timeout=timeout)

        return paginate(fetch, lambda page: page.balances)

    async def batch_get_balances(self, names: Sequence[str], *, timeout: float | None = None) -> list[pb.Balance]:
        """Balances of ``balances/{material_code}`` in key order (zero for materials without stock)."""
        req = pb.BatchGetBalancesRequest(names=names)
        resp = await self._call("BatchGetBalances", self._stub.BatchGetBalances, req, timeout)
        return list(resp.balances)

    async def list_shortages(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListShortagesResponse:
        req = pb.ListShortagesRequest(page_size=page_size, page_token=page_token)
        return await self._call("ListShortages", self._stub.ListShortages, req, timeout)

    def iter_shortages(
        self, *, page_size: int = 100, limit: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[pb.Shortage]:
        async def fetch(token: str) -> pb.ListShortagesResponse:
            return await self.list_shortages(page_size=page_size, page_token=token, timeout=timeout)

        return paginate(fetch, lambda page: page.shortages, limit=limit)

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
        timeout: float | None = None,
    ) -> pb.CustodyEntry:
        """Append a custody entry (a request_id is generated when none is given)."""
        req = build_request(
            pb.RecordCustodyRequest,
            request,
            kind=kind,
            holder=holder,
            material_code=material_code,
            lot_id=lot_id,
            weight_mg=weight_mg,
            pieces=pieces,
            reference=reference,
            operator_code=operator_code,
            request_id=request_id,
        )
        req = with_request_id(req)
        resp = await self._call("RecordCustody", self._stub.RecordCustody, req, timeout)
        return resp.entry

    async def list_custody_entries(
        self,
        *,
        holder: str = "",
        material_code: str = "",
        reference: str = "",
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> pb.ListCustodyEntriesResponse:
        """One page of custody entries, newest first."""
        req = pb.ListCustodyEntriesRequest(
            holder=holder,
            material_code=material_code,
            reference=reference,
            page_size=page_size,
            page_token=page_token,
        )
        return await self._call("ListCustodyEntries", self._stub.ListCustodyEntries, req, timeout)

    def iter_custody_entries(
        self,
        *,
        holder: str = "",
        material_code: str = "",
        reference: str = "",
        page_size: int = 100,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[pb.CustodyEntry]:
        async def fetch(token: str) -> pb.ListCustodyEntriesResponse:
            return await self.list_custody_entries(
                holder=holder,
                material_code=material_code,
                reference=reference,
                page_size=page_size,
                page_token=token,
                timeout=timeout,
            )

        return paginate(fetch, lambda page: page.entries, limit=limit)
