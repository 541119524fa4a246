"""The custody ledger: append entries (staff; idempotent by request_id when given) and list them.

RecordCustody only writes the ledger: it moves no stock (a LOSS is of metal
already issued). Stock-moving entries are written by lots and reservations.
"""

from __future__ import annotations

from mes_kernel.errors import InvalidArgument, NotFound
from mes_kernel.validation import Violations
from services.inventory.domain.custody import CustodyEntry
from services.inventory.domain.events import CustodyRecorded
from services.inventory.domain.materials import MAX_STONE_PIECES, MAX_WEIGHT_MG
from services.inventory.service_layer.commands import ListQuery, RecordCustody
from services.inventory.service_layer.common import Deps, is_id
from services.inventory.service_layer.ports import CustodyFilter, Tx

__all__ = ["MAX_NAME_LEN", "Custody"]

#: Holders and references are resource names ("workOrders/{id}/operations/{n}").
MAX_NAME_LEN = 120


class Custody:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def record(self, cmd: RecordCustody) -> CustodyEntry:
        _validate(cmd)
        scope = f"{cmd.caller}:RecordCustody"

        async def attempt(_n: int) -> CustodyEntry:
            async with self._deps.uow.write() as tx:
                if cmd.request_id:
                    earlier = await tx.idempotency.lookup(scope, cmd.request_id, cmd.fingerprint)
                    if earlier is not None:
                        return await _load(tx, earlier.removeprefix("custodyEntries/"))
                entry = await self._append(tx, cmd)
                if cmd.request_id:
                    await tx.idempotency.record(
                        scope, cmd.request_id, cmd.fingerprint, f"custodyEntries/{entry.entry_id}"
                    )
                return entry

        return await self._deps.retrying(attempt)

    async def _append(self, tx: Tx, cmd: RecordCustody) -> CustodyEntry:
        assert cmd.kind is not None
        if cmd.lot_id:
            lot = await tx.lots.get(cmd.lot_id)
            if lot is None or lot.material_code != cmd.material_code:
                raise InvalidArgument(
                    "lot_id does not name a lot of this material",
                    violations=Violations().add("lot_id", "is not a lot of material_code").items,
                )
        entry = CustodyEntry(
            entry_id=self._deps.new_id(),
            kind=cmd.kind,
            holder=cmd.holder,
            material_code=cmd.material_code,
            lot_id=cmd.lot_id,
            weight_mg=cmd.weight_mg,
            pieces=cmd.pieces,
            reference=cmd.reference,
            operator_code=cmd.operator_code,
            create_time=self._deps.clock(),
        )
        await tx.custody.add(entry)
        await tx.events.add(CustodyRecorded(entry))
        return entry

    async def list_entries(self, query: ListQuery, where: CustodyFilter) -> tuple[list[CustodyEntry], str]:
        v = Violations()
        v.text(where.holder, "holder", max_len=MAX_NAME_LEN)
        v.text(where.reference, "reference", max_len=MAX_NAME_LEN)
        if where.material_code:
            v.code(where.material_code, "material_code")
        v.raise_if_any()
        filters = {"holder": where.holder, "material_code": where.material_code, "reference": where.reference}
        after, size = self._deps.page_start("custody", query.page_token, filters, query.page_size)
        async with self._deps.uow.read() as tx:
            page = await tx.custody.page(where, after, size)
        return page.items, self._deps.next_token("custody", page, filters)


async def _load(tx: Tx, entry_id: str) -> CustodyEntry:
    entry = await tx.custody.get(entry_id)
    if entry is None:  # only if the ledger lost a row: it is append-only
        raise NotFound(f"custody entry {entry_id} not found")
    return entry


def _validate(cmd: RecordCustody) -> None:
    v = Violations()
    if cmd.kind is None:
        v.add("kind", "must be set (ISSUE, RECEIVE, LOSS, RECOVERY or RETURN)")
    v.text(cmd.holder, "holder", max_len=MAX_NAME_LEN, required=True)
    v.code(cmd.material_code, "material_code")
    if cmd.lot_id and not is_id(cmd.lot_id):
        v.add("lot_id", "must be a lot id")
    v.non_negative(cmd.weight_mg, "weight_mg", maximum=MAX_WEIGHT_MG)
    v.non_negative(cmd.pieces, "pieces", maximum=MAX_STONE_PIECES)
    if cmd.weight_mg == 0 and cmd.pieces == 0:
        v.add("weight_mg", "weight_mg or pieces must be greater than zero")
    v.text(cmd.reference, "reference", max_len=MAX_NAME_LEN)
    if cmd.operator_code:
        v.code(cmd.operator_code, "operator_code")
    v.request_id(cmd.request_id)
    v.raise_if_any()
