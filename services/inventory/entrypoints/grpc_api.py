"""The InventoryService servicer: the caller, decode -> call a use case -> encode. No decisions here.

The acting principal comes from the server interceptor (:func:`current_principal`) and
travels in every command and query; the use cases decide what it may do (alloy reads are
open to every authenticated caller, everything else is for staff).
"""

from __future__ import annotations

from typing import Any, TypeVar

import grpc

from mes.inventory.v1 import inventory_pb2 as pb
from mes.inventory.v1 import inventory_pb2_grpc
from mes_kernel.paging import page_request
from mes_platform.auth import current_principal
from mes_platform.idempotency import request_fingerprint
from services.inventory.entrypoints import codec
from services.inventory.entrypoints.codec_records import reservations_into
from services.inventory.service_layer import commands as c
from services.inventory.service_layer.handlers import Handlers

__all__ = ["SERVICE_NAME", "InventoryServicer"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["InventoryService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]
Q = TypeVar("Q", bound=c.ListQuery)


def _get(name: str, collection: str, *, code: bool = False) -> c.Get:
    return c.Get(current_principal(), codec.key_of(name, collection, code=code))


def _batch(request: Any, collection: str, *, code: bool = False) -> c.BatchGet:
    allow_missing = bool(getattr(request, "allow_missing", False))
    return c.BatchGet(current_principal(), codec.keys_of(request.names, collection, code=code), allow_missing)


def _change(request: Any) -> c.ChangeReservation:
    reason = str(getattr(request, "reason", ""))
    return c.ChangeReservation(current_principal(), codec.key_of(request.name, "reservations"), reason)


def _listing(cls: type[Q], request: Any) -> Q:
    return codec.command(cls, request, principal=current_principal(), page=page_request(request))


class InventoryServicer(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self, handlers: Handlers) -> None:
        self._h = handlers

    # -- alloys -------------------------------------------------------------------------

    async def UpsertAlloy(self, request: pb.UpsertAlloyRequest, context: Context) -> pb.UpsertAlloyResponse:
        cmd = codec.command(c.UpsertAlloy, request.alloy, principal=current_principal())
        return pb.UpsertAlloyResponse(alloy=codec.alloy(await self._h.catalogue.upsert_alloy(cmd)))

    async def GetAlloy(self, request: pb.GetAlloyRequest, context: Context) -> pb.GetAlloyResponse:
        alloy = await self._h.catalogue.get_alloy(_get(request.name, "alloys", code=True))
        return pb.GetAlloyResponse(alloy=codec.alloy(alloy))

    async def ListAlloys(self, request: pb.ListAlloysRequest, context: Context) -> pb.ListAlloysResponse:
        page = await self._h.catalogue.list_alloys(_listing(c.ListQuery, request))
        return pb.ListAlloysResponse(alloys=map(codec.alloy, page.items), next_page_token=page.next_page_token)

    async def BatchGetAlloys(self, request: pb.BatchGetAlloysRequest, context: Context) -> pb.BatchGetAlloysResponse:
        found = await self._h.catalogue.batch_get_alloys(_batch(request, "alloys", code=True))
        missing = [f"alloys/{code}" for code in found.missing]
        return pb.BatchGetAlloysResponse(alloys=map(codec.alloy, found.items), missing_names=missing)

    # -- lots ---------------------------------------------------------------------------

    async def ReceiveLot(self, request: pb.ReceiveLotRequest, context: Context) -> pb.ReceiveLotResponse:
        fingerprint = request_fingerprint(request)
        cmd = codec.command(c.ReceiveLot, request, principal=current_principal(), fingerprint=fingerprint)
        return pb.ReceiveLotResponse(lot=codec.lot(await self._h.stock.receive_lot(cmd)))

    async def GetLot(self, request: pb.GetLotRequest, context: Context) -> pb.GetLotResponse:
        return pb.GetLotResponse(lot=codec.lot(await self._h.stock.get_lot(_get(request.name, "lots"))))

    async def ListLots(self, request: pb.ListLotsRequest, context: Context) -> pb.ListLotsResponse:
        page = await self._h.stock.list_lots(_listing(c.ListLots, request))
        return pb.ListLotsResponse(lots=map(codec.lot, page.items), next_page_token=page.next_page_token)

    # -- reservations -------------------------------------------------------------------

    async def ReserveOrder(self, request: pb.ReserveOrderRequest, context: Context) -> pb.ReserveOrderResponse:
        requirements = codec.requirements(request.requirements)
        cmd = codec.command(c.ReserveOrder, request, principal=current_principal(), requirements=requirements)
        outcome = await self._h.reservations.reserve_order(cmd)
        response = pb.ReserveOrderResponse(shortages=map(codec.shortage, outcome.shortages))
        if outcome.reservation is not None:
            response.reservation.CopyFrom(codec.reservation(outcome.reservation))
        return response

    async def ReleaseReservation(
        self, request: pb.ReleaseReservationRequest, context: Context
    ) -> pb.ReleaseReservationResponse:
        reservation = await self._h.reservations.release(_change(request))
        return pb.ReleaseReservationResponse(reservation=codec.reservation(reservation))

    async def CommitReservation(
        self, request: pb.CommitReservationRequest, context: Context
    ) -> pb.CommitReservationResponse:
        reservation = await self._h.reservations.commit(_change(request))
        return pb.CommitReservationResponse(reservation=codec.reservation(reservation))

    async def ConsumeReservation(
        self, request: pb.ConsumeReservationRequest, context: Context
    ) -> pb.ConsumeReservationResponse:
        reservation = await self._h.reservations.consume(_change(request))
        return pb.ConsumeReservationResponse(reservation=codec.reservation(reservation))

    async def GetReservation(self, request: pb.GetReservationRequest, context: Context) -> pb.GetReservationResponse:
        reservation = await self._h.reservations.get(_get(request.name, "reservations"))
        return pb.GetReservationResponse(reservation=codec.reservation(reservation))

    async def BatchGetReservations(
        self, request: pb.BatchGetReservationsRequest, context: Context
    ) -> pb.BatchGetReservationsResponse:
        found = await self._h.reservations.batch_get(_batch(request, "reservations"))
        response = pb.BatchGetReservationsResponse(missing_names=[f"reservations/{i}" for i in found.missing])
        reservations_into(response.reservations, found.items)
        return response

    async def ListReservations(
        self, request: pb.ListReservationsRequest, context: Context
    ) -> pb.ListReservationsResponse:
        query = codec.list_reservations(request, current_principal())
        page = await self._h.reservations.list_reservations(query)
        response = pb.ListReservationsResponse(next_page_token=page.next_page_token)
        reservations_into(response.reservations, page.items)
        return response

    # -- balances and shortages ---------------------------------------------------------

    async def ListBalances(self, request: pb.ListBalancesRequest, context: Context) -> pb.ListBalancesResponse:
        page = await self._h.stock.list_balances(_listing(c.ListBalances, request))
        return pb.ListBalancesResponse(balances=map(codec.balance, page.items), next_page_token=page.next_page_token)

    async def BatchGetBalances(
        self, request: pb.BatchGetBalancesRequest, context: Context
    ) -> pb.BatchGetBalancesResponse:
        balances = await self._h.stock.batch_get_balances(_batch(request, "balances", code=True))
        return pb.BatchGetBalancesResponse(balances=map(codec.balance, balances))

    async def ListShortages(self, request: pb.ListShortagesRequest, context: Context) -> pb.ListShortagesResponse:
        page = await self._h.reservations.list_shortages(_listing(c.ListQuery, request))
        return pb.ListShortagesResponse(shortages=map(codec.shortage, page.items), next_page_token=page.next_page_token)

    # -- custody ------------------------------------------------------------------------

    async def RecordCustody(self, request: pb.RecordCustodyRequest, context: Context) -> pb.RecordCustodyResponse:
        fingerprint = request_fingerprint(request)
        cmd = codec.command(c.RecordCustody, request, principal=current_principal(), fingerprint=fingerprint)
        return pb.RecordCustodyResponse(entry=codec.entry(await self._h.custody.record(cmd)))

    async def ListCustodyEntries(
        self, request: pb.ListCustodyEntriesRequest, context: Context
    ) -> pb.ListCustodyEntriesResponse:
        page = await self._h.custody.list_entries(_listing(c.ListCustody, request))
        return pb.ListCustodyEntriesResponse(entries=map(codec.entry, page.items), next_page_token=page.next_page_token)
