"""Alloys: upsert (staff), get, list, batch get (every authenticated caller)."""

from __future__ import annotations

from dataclasses import replace

from mes_kernel.batch import BatchResult, batch_result
from mes_kernel.errors import Conflict, NotFound
from mes_kernel.paging import Page
from mes_kernel.principal import require_staff
from mes_kernel.uow import WriteConflict
from mes_kernel.validation import Violations
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.events import AlloyUpserted
from services.inventory.domain.materials import COLOURS, MAX_DENSITY_MG_PER_CM3, fineness_allowed
from services.inventory.service_layer.commands import BatchGet, Get, ListQuery, UpsertAlloy
from services.inventory.service_layer.common import pager, parse_key
from services.inventory.service_layer.ports import InventoryDeps, UnitOfWork

__all__ = ["Catalogue", "validate_alloy"]


def validate_alloy(cmd: UpsertAlloy) -> None:
    v = Violations()
    v.code(cmd.code, "alloy.code")
    if cmd.name and cmd.name != f"alloys/{cmd.code}":
        v.add("alloy.name", "must be empty or 'alloys/{code}' for the alloy's code")
    if cmd.metal is None:
        v.add("alloy.metal", "must be set")
    elif not fineness_allowed(cmd.metal, cmd.fineness):
        v.add("alloy.fineness", f"{cmd.fineness} is not a valid fineness for {cmd.metal.value.lower()}")
    if cmd.colour not in COLOURS:
        v.add("alloy.colour", "must be one of " + ", ".join(COLOURS))
    v.non_negative(cmd.density_mg_per_cm3, "alloy.density_mg_per_cm3", maximum=MAX_DENSITY_MG_PER_CM3)
    v.text(cmd.display_name, "alloy.display_name", max_len=120)
    v.non_negative(cmd.version, "alloy.version")
    v.raise_if_any()


class Catalogue:
    def __init__(self, deps: InventoryDeps, *, attempts: int) -> None:
        self._deps = deps
        self._attempts = attempts

    async def upsert_alloy(self, cmd: UpsertAlloy) -> Alloy:
        """Create the alloy or change it (one version more); an identical upsert changes nothing."""
        require_staff(cmd.principal)
        cmd = replace(cmd, colour=cmd.colour.strip().lower(), display_name=cmd.display_name.strip())
        validate_alloy(cmd)
        return await self._deps.uows.transact(lambda uow: self._upsert(uow, cmd), attempts=self._attempts)

    async def _upsert(self, uow: UnitOfWork, cmd: UpsertAlloy) -> Alloy:
        assert cmd.metal is not None
        now = self._deps.clock()
        spec = Alloy(
            code=cmd.code,
            metal=cmd.metal,
            fineness=cmd.fineness,
            colour=cmd.colour,
            density_mg_per_cm3=cmd.density_mg_per_cm3,
            display_name=cmd.display_name,
            active=cmd.active,
            version=1,
            create_time=now,
            update_time=now,
        )
        current = await uow.alloys.get(cmd.code)
        if cmd.version and (current is None or current.version != cmd.version):
            raise Conflict(
                f"alloy {cmd.code} is not at version {cmd.version}",
                metadata={"code": cmd.code, "version": str(current.version if current else 0)},
            )
        if current is None:
            await uow.alloys.add(spec)
            result = spec
        elif current.same_spec(spec):
            return current
        else:
            result = current.updated_from(spec, now)
            if not await uow.alloys.update(result, current.version):
                raise WriteConflict(f"alloy {cmd.code} changed concurrently")
        await uow.emit(AlloyUpserted(result))
        return result

    async def get_alloy(self, query: Get) -> Alloy:
        async with self._deps.uows.read() as uow:
            alloy = await uow.alloys.get(query.key)
        if alloy is None:
            raise NotFound(f"alloy {query.key} not found", metadata={"name": f"alloys/{query.key}"})
        return alloy

    async def list_alloys(self, query: ListQuery) -> Page[Alloy]:
        # The catalogue is the same for every tenant: its tokens are not bound to one
        # (the facade shares cached pages between partners).
        page = pager(self._deps, query, "alloys", scope=None)
        async with self._deps.uows.read() as uow:
            rows = await uow.alloys.find(page.after(lambda k: parse_key(k, str)[0]), page.limit)
        return page.page(rows, lambda a: [a.code])

    async def batch_get_alloys(self, query: BatchGet) -> BatchResult[str, Alloy]:
        """Alloys in the order of the codes asked for (duplicates repeated) and the codes not found."""
        async with self._deps.uows.read() as uow:
            found = await uow.alloys.get_many(set(query.keys))
        return batch_result(query.keys, found, allow_missing=query.allow_missing, label=lambda c: f"alloys/{c}")
