"""The InventoryService servicer: decode -> call a use case -> encode. No decisions here.

Alloy reads are open to every authenticated caller (the catalogue); everything else
is for staff (operators and services not acting for a partner).
"""

from __future__ import annotations

from typing import Any

import grpc

from mes.inventory.v1 import inventory_pb2 as pb
from mes.inventory.v1 import inventory_pb2_grpc
from mes_kernel.validation import parse_name
from mes_platform.auth import current_principal, require_staff
from services.inventory.adapters.codec import alloy_pb, balance_pb, entry_pb, lot_pb, reservation_pb, shortage_pb
from services.inventory.entrypoints import mapping
from services.inventory.service_layer.commands import ListQuery
from services.inventory.service_layer.handlers import Handlers
from services.inventory.service_layer.ports import CustodyFilter

__all__ = ["SERVICE_NAME", "InventoryServicer"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["InventoryService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]


def _staff() -> str:
    """The caller (idempotency keys are scoped to it); partners acting through a service are refused."""
    principal = require_staff()
    return f"{principal.kind}:{principal.subject}"


class InventoryServicer(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self, handlers: Handlers) -> None:
        self._h = handlers

    # -- alloys -------------------------------------------------------------------------

    async def UpsertAlloy(self, request: pb.UpsertAlloyRequest, context: Context) -> pb.UpsertAlloyResponse:
        _staff()
        alloy = await self._h.catalogue.upsert_alloy(mapping.upsert_alloy(request))
        return pb.UpsertAlloyResponse(alloy=alloy_pb(alloy))

    async def GetAlloy(self, request: pb.GetAlloyRequest, context: Context) -> pb.GetAlloyResponse:
        current_principal()
        alloy = await self._h.catalogue.get_alloy(mapping.code_from_name(request.name, "alloys"))
        return pb.GetAlloyResponse(alloy=alloy_pb(alloy))

    async def ListAlloys(self, request: pb.ListAlloysRequest, context: Context) -> pb.ListAlloysResponse:
        current_principal()
        alloys, token = await self._h.catalogue.list_alloys(ListQuery(request.page_size, request.page_token))
        return pb.ListAlloysResponse(alloys=[alloy_pb(a) for a in alloys], next_page_token=token)

    async def BatchGetAlloys(self, request: pb.BatchGetAlloysRequest, context: Context) -> pb.BatchGetAlloysResponse:
        current_principal()
        codes = mapping.codes_from_names(request.names, "alloys")
        alloys, missing = await self._h.catalogue.batch_get_alloys(codes, allow_missing=request.allow_missing)
        return pb.BatchGetAlloysResponse(
            alloys=[alloy_pb(a) for a in alloys], missing_names=[f"alloys/{code}" for code in missing]
        )

    # -- lots ---------------------------------------------------------------------------

    async def ReceiveLot(self, request: pb.ReceiveLotRequest, context: Context) -> pb.ReceiveLotResponse:
        lot = await self._h.stock.receive_lot(mapping.receive_lot(request, _staff()))
        return pb.ReceiveLotResponse(lot=lot_pb(lot))

    async def GetLot(self, request: pb.GetLotRequest, context: Context) -> pb.GetLotResponse:
        _staff()
        lot = await self._h.stock.get_lot(parse_name(request.name, "lots"))
        return pb.GetLotResponse(lot=lot_pb(lot))

    async def ListLots(self, request: pb.ListLotsRequest, context: Context) -> pb.ListLotsResponse:
        _staff()
        query = ListQuery(request.page_size, request.page_token)
        lots, token = await self._h.stock.list_lots(query, request.material_code)
        return pb.ListLotsResponse(lots=[lot_pb(lot) for lot in lots], next_page_token=token)

    # -- reservations -------------------------------------------------------------------

    async def ReserveOrder(self, request: pb.ReserveOrderRequest, context: Context) -> pb.ReserveOrderResponse:
        _staff()
        outcome = await self._h.reservations.reserve_order(mapping.reserve_order(request))
        response = pb.ReserveOrderResponse(shortages=[shortage_pb(s) for s in outcome.shortages])
        if outcome.reservation is not None:
            response.reservation.CopyFrom(reservation_pb(outcome.reservation))
        return response

    async def ReleaseReservation(
        self, request: pb.ReleaseReservationRequest, context: Context
    ) -> pb.ReleaseReservationResponse:
        _staff()
        reservation_id = parse_name(request.name, "reservations")
        reservation = await self._h.reservations.release(reservation_id, request.reason)
        return pb.ReleaseReservationResponse(reservation=reservation_pb(reservation))

    async def CommitReservation(
        self, request: pb.CommitReservationRequest, context: Context
    ) -> pb.CommitReservationResponse:
        _staff()
        reservation = await self._h.reservations.commit(parse_name(request.name, "reservations"))
        return pb.CommitReservationResponse(reservation=reservation_pb(reservation))

    async def ConsumeReservation(
        self, request: pb.ConsumeReservationRequest, context: Context
    ) -> pb.ConsumeReservationResponse:
        _staff()
        reservation = await self._h.reservations.consume(parse_name(request.name, "reservations"))
        return pb.ConsumeReservationResponse(reservation=reservation_pb(reservation))

    async def GetReservation(self, request: pb.GetReservationRequest, context: Context) -> pb.GetReservationResponse:
        _staff()
        reservation = await self._h.reservations.get(parse_name(request.name, "reservations"))
        return pb.GetReservationResponse(reservation=reservation_pb(reservation))

    async def BatchGetReservations(
        self, request: pb.BatchGetReservationsRequest, context: Context
    ) -> pb.BatchGetReservationsResponse:
        _staff()
        ids = mapping.ids_from_names(request.names, "reservations")
        found, missing = await self._h.reservations.batch_get(ids, allow_missing=request.allow_missing)
        return pb.BatchGetReservationsResponse(
            reservations=[reservation_pb(r) for r in found],
            missing_names=[f"reservations/{i}" for i in missing],
        )

    async def ListReservations(
        self, request: pb.ListReservationsRequest, context: Context
    ) -> pb.ListReservationsResponse:
        _staff()
        found, token = await self._h.reservations.list_reservations(mapping.list_reservations(request))
        return pb.ListReservationsResponse(reservations=[reservation_pb(r) for r in found], next_page_token=token)

    # -- balances and shortages ---------------------------------------------------------

    async def ListBalances(self, request: pb.ListBalancesRequest, context: Context) -> pb.ListBalancesResponse:
        _staff()
        query = ListQuery(request.page_size, request.page_token)
        balances, token = await self._h.stock.list_balances(query, mapping.kind_of(request.kind))
        return pb.ListBalancesResponse(balances=[balance_pb(b) for b in balances], next_page_token=token)

    async def BatchGetBalances(
        self, request: pb.BatchGetBalancesRequest, context: Context
    ) -> pb.BatchGetBalancesResponse:
        _staff()
        balances = await self._h.stock.batch_get_balances(mapping.codes_from_names(request.names, "balances"))
        return pb.BatchGetBalancesResponse(balances=[balance_pb(b) for b in balances])

    async def ListShortages(self, request: pb.ListShortagesRequest, context: Context) -> pb.ListShortagesResponse:
        _staff()
        shortages, token = await self._h.reservations.list_shortages(ListQuery(request.page_size, request.page_token))
        return pb.ListShortagesResponse(shortages=[shortage_pb(s) for s in shortages], next_page_token=token)

    # -- custody ------------------------------------------------------------------------

    async def RecordCustody(self, request: pb.RecordCustodyRequest, context: Context) -> pb.RecordCustodyResponse:
        entry = await self._h.custody.record(mapping.record_custody(request, _staff()))
        return pb.RecordCustodyResponse(entry=entry_pb(entry))

    async def ListCustodyEntries(
        self, request: pb.ListCustodyEntriesRequest, context: Context
    ) -> pb.ListCustodyEntriesResponse:
        _staff()
        where = CustodyFilter(request.holder, request.material_code, request.reference)
        entries, token = await self._h.custody.list_entries(ListQuery(request.page_size, request.page_token), where)
        return pb.ListCustodyEntriesResponse(entries=[entry_pb(e) for e in entries], next_page_token=token)
