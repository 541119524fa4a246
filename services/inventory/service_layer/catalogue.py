"""Alloys: upsert (staff), get, list, batch get."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mes_kernel.errors import Conflict, NotFound
from mes_kernel.validation import Violations
from services.inventory.domain.alloys import Alloy
from services.inventory.domain.events import AlloyUpserted
from services.inventory.domain.materials import COLOURS, MAX_DENSITY_MG_PER_CM3, fineness_allowed
from services.inventory.service_layer.commands import ListQuery, UpsertAlloy
from services.inventory.service_layer.common import Deps
from services.inventory.service_layer.ports import Page, WriteConflict

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
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def upsert_alloy(self, cmd: UpsertAlloy) -> Alloy:
        """Create the alloy or change it (one version more); an identical upsert changes nothing."""
        cmd = _normalized(cmd)
        validate_alloy(cmd)
        return await self._deps.retrying(lambda _n: self._upsert(cmd))

    async def _upsert(self, cmd: UpsertAlloy) -> Alloy:
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
        async with self._deps.uow.write() as tx:
            current = await tx.alloys.get(cmd.code)
            if cmd.version and (current is None or current.version != cmd.version):
                raise Conflict(
                    f"alloy {cmd.code} is not at version {cmd.version}",
                    metadata={"code": cmd.code, "version": str(current.version if current else 0)},
                )
            if current is None:
                await tx.alloys.add(spec)
                result = spec
            elif current.same_spec(spec):
                return current
            else:
                result = current.updated_from(spec, now)
                if not await tx.alloys.update(result, current.version):
                    raise WriteConflict
            await tx.events.add(AlloyUpserted(result))
            return result

    async def get_alloy(self, code: str) -> Alloy:
        async with self._deps.uow.read() as tx:
            alloy = await tx.alloys.get(code)
        if alloy is None:
            raise NotFound(f"alloy {code} not found", metadata={"name": f"alloys/{code}"})
        return alloy

    async def list_alloys(self, query: ListQuery) -> tuple[list[Alloy], str]:
        after, size = self._deps.page_start("alloys", query.page_token, {}, query.page_size)
        async with self._deps.uow.read() as tx:
            page: Page[Alloy] = await tx.alloys.page(after, size)
        return page.items, self._deps.next_token("alloys", page, {})

    async def batch_get_alloys(self, codes: Sequence[str], *, allow_missing: bool) -> tuple[list[Alloy], list[str]]:
        """Alloys in the order of ``codes`` (duplicates repeated) and the codes not found."""
        async with self._deps.uow.read() as tx:
            found = await tx.alloys.get_many(set(codes))
        missing = [code for code in codes if code not in found]
        if missing and not allow_missing:
            raise NotFound(f"alloy {missing[0]} not found", metadata={"name": f"alloys/{missing[0]}"})
        return [found[code] for code in codes if code in found], missing


def _normalized(cmd: UpsertAlloy) -> UpsertAlloy:
    return replace(cmd, colour=cmd.colour.strip().lower(), display_name=cmd.display_name.strip())
