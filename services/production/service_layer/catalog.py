"""Styles (with routing versions), BOM explosion, work centers and operators."""

from __future__ import annotations

from collections.abc import Sequence

from mes_kernel.errors import NotFound
from mes_kernel.validation import Violations
from mes_platform.auth import current_principal, require_staff
from services.production.domain.bom import LineSpec, MaterialRequirement, explode, validate_lines
from services.production.domain.events import StyleUpserted
from services.production.domain.resources import (
    Operator,
    WorkCenter,
    validate_operator,
    validate_work_center,
)
from services.production.domain.styles import Style, StyleChange, validate_style
from services.production.service_layer.commands import PageRequest, UpsertOperator, UpsertStyle, UpsertWorkCenter
from services.production.service_layer.common import (
    BatchResult,
    Context,
    Page,
    batch_result,
    check_batch_size,
    paginate,
)
from services.production.service_layer.ports import UnitOfWork

__all__ = ["CatalogHandlers"]


class CatalogHandlers:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    # -- styles ---------------------------------------------------------------------

    async def upsert_style(self, cmd: UpsertStyle) -> Style:
        """Create a style or change it; a routing/BOM change makes a new routing version.

        An identical upsert changes nothing (same version, no event).
        """
        require_staff()
        definition = cmd.definition
        validate_style(definition)
        now = self._ctx.clock()

        async def tx(uow: UnitOfWork) -> Style:
            style = await uow.styles.get(definition.sku)
            if style is None:
                style = Style.create(definition, now)
                await uow.styles.add(style)
            else:
                change = style.apply(definition, now)
                if change is StyleChange.NONE:
                    return style
                await uow.styles.update(style, new_routing_version=change is StyleChange.ROUTING)
            await uow.emit(StyleUpserted(style))
            return style

        return await self._ctx.uow.write(tx)

    async def get_style(self, sku: str) -> Style:
        current_principal()

        async def tx(uow: UnitOfWork) -> Style:
            style = await uow.styles.get(sku)
            if style is None:
                raise NotFound(f"style {sku} not found")
            return style

        return await self._ctx.uow.read(tx)

    async def list_styles(self, request: PageRequest) -> Page[Style]:
        current_principal()
        paging = paginate(self._ctx, request, {"list": "styles"})
        after = str(paging.after[0]) if paging.after else None

        async def tx(uow: UnitOfWork) -> list[Style]:
            return await uow.styles.list_page(after, paging.size + 1)

        return paging.page(await self._ctx.uow.read(tx), lambda s: [s.sku])

    async def batch_get_styles(self, skus: Sequence[str], *, allow_missing: bool) -> BatchResult[str, Style]:
        current_principal()
        check_batch_size(len(skus))

        async def tx(uow: UnitOfWork) -> dict[str, Style]:
            return await uow.styles.get_many(set(skus))

        found = await self._ctx.uow.read(tx)
        return batch_result(skus, found, allow_missing=allow_missing, label=lambda sku: f"styles/{sku}")

    async def explode_bill_of_materials(self, lines: Sequence[LineSpec]) -> list[MaterialRequirement]:
        """Material requirements per line; unknown styles fail INVALID_ARGUMENT (UNKNOWN_STYLE)."""
        current_principal()
        v = Violations()
        validate_lines(v, lines)
        v.raise_if_any()

        async def tx(uow: UnitOfWork) -> list[MaterialRequirement]:
            styles = await uow.styles.get_many({line.style_code for line in lines})
            return explode(lines, styles)

        return await self._ctx.uow.read(tx)

    # -- work centers ---------------------------------------------------------------

    async def upsert_work_center(self, cmd: UpsertWorkCenter) -> WorkCenter:
        """Create or change a work center. An active center adopts the unassigned open
        operations of its type (those created while no center of the type existed)."""
        require_staff()
        validate_work_center(cmd.code, cmd.work_center_type, cmd.display_name, cmd.capacity)
        now = self._ctx.clock()
        wanted = WorkCenter(cmd.code, cmd.work_center_type, cmd.display_name, cmd.capacity, cmd.active, now, now)

        async def tx(uow: UnitOfWork) -> WorkCenter:
            center = await uow.work_centers.get(cmd.code, for_update=True)
            if center is None:
                center = wanted
                await uow.work_centers.add(center)
            elif center.same_as(wanted):
                return center
            else:
                center.work_center_type, center.display_name = wanted.work_center_type, wanted.display_name
                center.capacity, center.active, center.update_time = wanted.capacity, wanted.active, now
                await uow.work_centers.update(center)
            if center.active:
                await uow.operations.adopt_unassigned(center.work_center_type, center.code, now)
            return center

        return await self._ctx.uow.write(tx)

    async def get_work_center(self, code: str) -> WorkCenter:
        require_staff()

        async def tx(uow: UnitOfWork) -> WorkCenter:
            center = await uow.work_centers.get(code)
            if center is None:
                raise NotFound(f"work center {code} not found")
            return center

        return await self._ctx.uow.read(tx)

    async def list_work_centers(self, request: PageRequest) -> Page[WorkCenter]:
        require_staff()
        paging = paginate(self._ctx, request, {"list": "work_centers"})
        after = str(paging.after[0]) if paging.after else None

        async def tx(uow: UnitOfWork) -> list[WorkCenter]:
            return await uow.work_centers.list_page(after, paging.size + 1)

        return paging.page(await self._ctx.uow.read(tx), lambda c: [c.code])

    # -- operators ------------------------------------------------------------------

    async def upsert_operator(self, cmd: UpsertOperator) -> Operator:
        require_staff()
        validate_operator(cmd.code, cmd.display_name, cmd.role)
        assert cmd.role is not None  # validated above
        now = self._ctx.clock()
        wanted = Operator(cmd.code, cmd.display_name, cmd.role, cmd.active, now, now)

        async def tx(uow: UnitOfWork) -> Operator:
            operator = await uow.operators.get(cmd.code)
            if operator is None:
                await uow.operators.add(wanted)
                return wanted
            if operator.same_as(wanted):
                return operator
            operator.display_name, operator.role, operator.active = wanted.display_name, wanted.role, wanted.active
            operator.update_time = now
            await uow.operators.update(operator)
            return operator

        return await self._ctx.uow.write(tx)

    async def list_operators(self, request: PageRequest) -> Page[Operator]:
        require_staff()
        paging = paginate(self._ctx, request, {"list": "operators"})
        after = str(paging.after[0]) if paging.after else None

        async def tx(uow: UnitOfWork) -> list[Operator]:
            return await uow.operators.list_page(after, paging.size + 1)

        return paging.page(await self._ctx.uow.read(tx), lambda o: [o.code])
