"""Lots and balances (staff): receive (idempotent by request_id), get, list; balances per material."""

from __future__ import annotations

from datetime import datetime

from mes_kernel.errors import InvalidArgument, NotFound
from mes_kernel.paging import Page
from mes_kernel.principal import require_staff
from mes_kernel.validation import Violations
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import STORES, CustodyEntry, CustodyKind
from services.inventory.domain.events import LotReceived
from services.inventory.domain.lots import MaterialLot
from services.inventory.domain.materials import MAX_STONE_PIECES, MAX_WEIGHT_MG, MaterialKind
from services.inventory.service_layer.commands import BatchGet, Get, ListBalances, ListLots, ReceiveLot
from services.inventory.service_layer.common import iso, new_id, pager, parse_key
from services.inventory.service_layer.ports import InventoryDeps, UnitOfWork
from services.inventory.service_layer.transitions import record

__all__ = ["Stock", "receive_into_stores"]

#: Total stone weight of one lot, in points (1,000,000 ct).
MAX_WEIGHT_POINTS = 100_000_000


async def receive_into_stores(
    uow: UnitOfWork,
    lot: MaterialLot,
    *,
    custody_kind: CustodyKind = CustodyKind.RECEIVE,
    custody_reference: str = "",
    batch_id: str = "",
) -> CustodyEntry:
    """A new lot in stores, its custody entry and their events."""
    await uow.lots.add(lot)
    await uow.emit(LotReceived(lot))
    entry = CustodyEntry.of(
        new_id(),
        custody_kind,
        STORES,
        lot.key,
        lot.received,
        lot.receive_time,
        lot_id=lot.lot_id,
        reference=custody_reference or f"lots/{lot.lot_id}",
        batch_id=batch_id,
    )
    return await record(uow, entry)


class Stock:
    def __init__(self, deps: InventoryDeps) -> None:
        self._deps = deps

    async def receive_lot(self, cmd: ReceiveLot) -> MaterialLot:
        """Receive a lot once per (caller, request_id); a replay returns the lot made the first time."""
        require_staff(cmd.principal)
        await self._validate(cmd)
        assert cmd.kind is not None
        kind = cmd.kind

        async def create(uow: UnitOfWork) -> tuple[str, MaterialLot]:
            lot = MaterialLot.receive(
                lot_id=new_id(),
                kind=kind,
                material_code=cmd.material_code,
                weight_mg=cmd.weight_mg,
                pieces=cmd.pieces,
                weight_points=cmd.weight_points,
                supplier_reference=cmd.supplier_reference,
                now=self._deps.clock(),
            )
            await receive_into_stores(uow, lot)
            return f"lots/{lot.lot_id}", lot

        lot, _replayed = await self._deps.uows.idempotent(
            scope=f"{cmd.principal.label}:ReceiveLot",
            request_id=cmd.request_id,
            fingerprint=cmd.fingerprint,
            create=create,
            load=lambda uow, name: load_lot(uow, name.removeprefix("lots/")),
        )
        return lot

    async def _validate(self, cmd: ReceiveLot) -> None:
        v = _receive_violations(cmd)
        unknown_alloy = False
        if cmd.kind is MaterialKind.METAL and not any(x.field == "material_code" for x in v.items):
            async with self._deps.uows.read() as uow:
                unknown_alloy = await uow.alloys.get(cmd.material_code) is None
            if unknown_alloy:
                v.add("material_code", "is not a known alloy code")
        if v.items:
            raise InvalidArgument(
                f"alloy {cmd.material_code} is not known" if unknown_alloy else "the request has invalid fields",
                reason="UNKNOWN_ALLOY" if unknown_alloy else None,
                metadata={"material_code": cmd.material_code} if unknown_alloy else None,
                violations=v.items,
            )

    async def get_lot(self, query: Get) -> MaterialLot:
        require_staff(query.principal)
        async with self._deps.uows.read() as uow:
            return await load_lot(uow, query.key)

    async def list_lots(self, query: ListLots) -> Page[MaterialLot]:
        require_staff(query.principal)
        v = Violations()
        if query.material_code:
            v.code(query.material_code, "material_code")
        v.raise_if_any()
        page = pager(self._deps, query, "lots", scope=query.principal.scope, material_code=query.material_code)
        async with self._deps.uows.read() as uow:
            after = page.after(lambda k: parse_key(k, datetime, str))
            rows = await uow.lots.find(query.material_code, after, page.limit)
        return page.page(rows, lambda lot: [iso(lot.receive_time), lot.lot_id])

    async def list_balances(self, query: ListBalances) -> Page[Balance]:
        require_staff(query.principal)
        kind = query.kind.value if query.kind else ""
        page = pager(self._deps, query, "balances", scope=query.principal.scope, kind=kind)
        async with self._deps.uows.read() as uow:
            rows = await uow.balances.find(query.kind, page.after(lambda k: parse_key(k, str, str)), page.limit)
        return page.page(rows, lambda b: [b.material_code, b.kind.value if b.kind else ""])

    async def batch_get_balances(self, query: BatchGet) -> list[Balance]:
        """Balances in the order of the codes asked for; an unknown code has zero balances."""
        require_staff(query.principal)
        async with self._deps.uows.read() as uow:
            found = await uow.balances.balances(set(query.keys))
        return [found.get(code) or Balance(code, None) for code in query.keys]


async def load_lot(uow: UnitOfWork, lot_id: str) -> MaterialLot:
    lot = await uow.lots.get(lot_id)
    if lot is None:
        raise NotFound(f"lot {lot_id} not found", metadata={"name": f"lots/{lot_id}"})
    return lot


def _receive_violations(cmd: ReceiveLot) -> Violations:
    v = Violations()
    v.code(cmd.material_code, "material_code")
    v.text(cmd.supplier_reference, "supplier_reference", max_len=64)
    v.request_id(cmd.request_id, required=True)
    if cmd.kind is None:
        v.add("kind", "must be MATERIAL_KIND_METAL or MATERIAL_KIND_STONE")
    elif cmd.kind is MaterialKind.METAL:
        v.positive(cmd.weight_mg, "weight_mg", maximum=MAX_WEIGHT_MG)
        v.check(cmd.pieces == 0, "pieces", "must be 0 for metal")
        v.check(cmd.weight_points == 0, "weight_points", "must be 0 for metal")
    else:
        v.positive(cmd.pieces, "pieces", maximum=MAX_STONE_PIECES)
        v.non_negative(cmd.weight_points, "weight_points", maximum=MAX_WEIGHT_POINTS)
        v.check(cmd.weight_mg == 0, "weight_mg", "must be 0 for stones (use pieces and weight_points)")
    return v
