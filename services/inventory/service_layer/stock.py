"""Lots and balances: receive (staff, idempotent by request_id), get, list; balances per material."""

from __future__ import annotations

from collections.abc import Sequence

from mes_kernel.errors import InvalidArgument, NotFound
from mes_kernel.validation import Violations
from services.inventory.domain.balances import Balance
from services.inventory.domain.custody import STORES, CustodyEntry, CustodyKind
from services.inventory.domain.events import CustodyRecorded, LotReceived
from services.inventory.domain.lots import MaterialLot
from services.inventory.domain.materials import MAX_STONE_PIECES, MAX_WEIGHT_MG, MaterialKind
from services.inventory.service_layer.commands import ListQuery, ReceiveLot
from services.inventory.service_layer.common import Deps
from services.inventory.service_layer.ports import Tx

__all__ = ["Stock", "receive_into_stores"]

#: Total stone weight of one lot, in points (1,000,000 ct).
MAX_WEIGHT_POINTS = 100_000_000


async def receive_into_stores(
    deps: Deps,
    tx: Tx,
    *,
    kind: MaterialKind,
    material_code: str,
    weight_mg: int,
    pieces: int = 0,
    weight_points: int = 0,
    supplier_reference: str = "",
    custody_kind: CustodyKind = CustodyKind.RECEIVE,
    custody_reference: str = "",
    batch_id: str = "",
    causation_id: str = "",
) -> tuple[MaterialLot, CustodyEntry]:
    """A new lot in stores, its custody entry and their events."""
    now = deps.clock()
    lot = MaterialLot.receive(
        lot_id=deps.new_id(),
        kind=kind,
        material_code=material_code,
        weight_mg=weight_mg,
        pieces=pieces,
        weight_points=weight_points,
        supplier_reference=supplier_reference,
        now=now,
    )
    await tx.lots.add(lot)
    entry = CustodyEntry(
        entry_id=deps.new_id(),
        kind=custody_kind,
        holder=STORES,
        material_code=material_code,
        lot_id=lot.lot_id,
        weight_mg=lot.received_mg,
        pieces=lot.received_pieces,
        reference=custody_reference or f"lots/{lot.lot_id}",
        operator_code="",
        create_time=now,
        batch_id=batch_id,
    )
    await tx.custody.add(entry)
    await tx.events.add(LotReceived(lot), causation_id=causation_id)
    await tx.events.add(CustodyRecorded(entry), causation_id=causation_id)
    return lot, entry


class Stock:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def receive_lot(self, cmd: ReceiveLot) -> MaterialLot:
        """Receive a lot once per (caller, request_id); a replay returns the lot made the first time."""
        await self._validate(cmd)
        assert cmd.kind is not None
        kind = cmd.kind
        scope = f"{cmd.caller}:ReceiveLot"

        async def attempt(_n: int) -> MaterialLot:
            async with self._deps.uow.write() as tx:
                earlier = await tx.idempotency.lookup(scope, cmd.request_id, cmd.fingerprint)
                if earlier is not None:
                    return await _load_lot(tx, earlier.removeprefix("lots/"))
                lot, _entry = await receive_into_stores(
                    self._deps,
                    tx,
                    kind=kind,
                    material_code=cmd.material_code,
                    weight_mg=cmd.weight_mg,
                    pieces=cmd.pieces,
                    weight_points=cmd.weight_points,
                    supplier_reference=cmd.supplier_reference,
                )
                await tx.idempotency.record(scope, cmd.request_id, cmd.fingerprint, f"lots/{lot.lot_id}")
                return lot

        return await self._deps.retrying(attempt)

    async def _validate(self, cmd: ReceiveLot) -> None:
        v = _receive_violations(cmd)
        unknown_alloy = False
        if cmd.kind is MaterialKind.METAL and not any(x.field == "material_code" for x in v.items):
            async with self._deps.uow.read() as tx:
                unknown_alloy = await tx.alloys.get(cmd.material_code) is None
            if unknown_alloy:
                v.add("material_code", "is not a known alloy code")
        if v.items:
            raise InvalidArgument(
                f"alloy {cmd.material_code} is not known" if unknown_alloy else "the request has invalid fields",
                reason="UNKNOWN_ALLOY" if unknown_alloy else None,
                metadata={"material_code": cmd.material_code} if unknown_alloy else None,
                violations=v.items,
            )

    async def get_lot(self, lot_id: str) -> MaterialLot:
        async with self._deps.uow.read() as tx:
            return await _load_lot(tx, lot_id)

    async def list_lots(self, query: ListQuery, material_code: str = "") -> tuple[list[MaterialLot], str]:
        v = Violations()
        if material_code:
            v.code(material_code, "material_code")
        v.raise_if_any()
        filters = {"material_code": material_code}
        after, size = self._deps.page_start("lots", query.page_token, filters, query.page_size)
        async with self._deps.uow.read() as tx:
            page = await tx.lots.page(material_code, after, size)
        return page.items, self._deps.next_token("lots", page, filters)

    async def list_balances(self, query: ListQuery, kind: MaterialKind | None) -> tuple[list[Balance], str]:
        filters = {"kind": kind.value if kind else ""}
        after, size = self._deps.page_start("balances", query.page_token, filters, query.page_size)
        async with self._deps.uow.read() as tx:
            page = await tx.balances.page(kind, after, size)
        return page.items, self._deps.next_token("balances", page, filters)

    async def batch_get_balances(self, codes: Sequence[str]) -> list[Balance]:
        """Balances in the order of ``codes``; an unknown code has zero balances."""
        async with self._deps.uow.read() as tx:
            found = await tx.balances.balances(set(codes))
        return [found.get(code) or Balance(code, None) for code in codes]


async def _load_lot(tx: Tx, lot_id: str) -> MaterialLot:
    lot = await tx.lots.get(lot_id)
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
