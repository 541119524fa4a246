"""The custody ledger (staff): append entries (idempotent by request_id when given) and list them.

RecordCustody only writes the ledger: it moves no stock (a LOSS is of metal already issued).
Stock-moving entries are written by lots and reservations.
"""

from __future__ import annotations

from mes_kernel.errors import InvalidArgument, NotFound
from mes_kernel.paging import Page
from mes_kernel.principal import require_staff
from mes_kernel.validation import Violations
from services.inventory.domain.custody import CustodyEntry
from services.inventory.domain.materials import MAX_STONE_PIECES, MAX_WEIGHT_MG
from services.inventory.service_layer.commands import ListCustody, RecordCustody
from services.inventory.service_layer.common import is_id, new_id, pager, parse_key
from services.inventory.service_layer.ports import CustodyFilter, InventoryDeps, UnitOfWork
from services.inventory.service_layer.transitions import record

__all__ = ["MAX_NAME_LEN", "Custody", "load_entry"]

#: Holders and references are resource names ("workOrders/{id}/operations/{n}").
MAX_NAME_LEN = 120


class Custody:
    def __init__(self, deps: InventoryDeps) -> None:
        self._deps = deps

    async def record(self, cmd: RecordCustody) -> CustodyEntry:
        require_staff(cmd.principal)
        _validate(cmd)
        entry, _replayed = await self._deps.uows.idempotent(
            scope=f"{cmd.principal.label}:RecordCustody",
            request_id=cmd.request_id,
            fingerprint=cmd.fingerprint,
            create=lambda uow: self._append(uow, cmd),
            load=load_entry,
        )
        return entry

    async def _append(self, uow: UnitOfWork, cmd: RecordCustody) -> tuple[str, CustodyEntry]:
        assert cmd.kind is not None
        if cmd.lot_id:
            lot = await uow.lots.get(cmd.lot_id)
            if lot is None or lot.material_code != cmd.material_code:
                raise InvalidArgument(
                    "lot_id does not name a lot of this material",
                    violations=Violations().add("lot_id", "is not a lot of material_code").items,
                )
        entry = CustodyEntry(
            entry_id=new_id(),
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
        await record(uow, entry)
        return f"custodyEntries/{entry.entry_id}", entry

    async def list_entries(self, query: ListCustody) -> Page[CustodyEntry]:
        """Newest first."""
        require_staff(query.principal)
        v = Violations()
        v.text(query.holder, "holder", max_len=MAX_NAME_LEN)
        v.text(query.reference, "reference", max_len=MAX_NAME_LEN)
        if query.material_code:
            v.code(query.material_code, "material_code")
        v.raise_if_any()
        where = CustodyFilter(query.holder, query.material_code, query.reference)
        filters = {"holder": where.holder, "material_code": where.material_code, "reference": where.reference}
        page = pager(self._deps, query, "custody", scope=query.principal.scope, **filters)
        async with self._deps.uows.read() as uow:
            rows = await uow.custody.find(where, page.after(lambda k: parse_key(k, int)[0]), page.limit)
        found = page.page(rows, lambda row: [row[0]])
        return Page([entry for _seq, entry in found.items], found.next_page_token)


async def load_entry(uow: UnitOfWork, name: str) -> CustodyEntry:
    """The entry named ``custodyEntries/{id}`` (an idempotent request's earlier result)."""
    entry_id = name.removeprefix("custodyEntries/")
    entry = await uow.custody.get(entry_id)
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
