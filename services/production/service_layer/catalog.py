"""Styles (with routing versions), BOM explosion, work centers (and their blocks) and operators."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from mes_kernel.batch import BatchResult
from mes_kernel.paging import Page
from mes_kernel.principal import Principal, require_staff
from mes_kernel.validation import Violations
from services.production.domain.bom import MaterialRequirement, explode, validate_lines
from services.production.domain.events import StyleUpserted, WorkCenterChanged
from services.production.domain.floor import MAX_REASON_LENGTH
from services.production.domain.resources import (
    Operator,
    WorkCenter,
    check_operator,
    validate_operator,
    validate_work_center,
)
from services.production.domain.styles import Style, StyleChange, validate_style
from services.production.service_layer.commands import (
    BatchGet,
    BlockWorkCenter,
    ExplodeBillOfMaterials,
    Get,
    ListPage,
    UnblockWorkCenter,
    UpsertOperator,
    UpsertStyle,
    UpsertWorkCenter,
)
from services.production.service_layer.common import UseCases, act_as, found
from services.production.service_layer.floor import follow_center
from services.production.service_layer.ports import UnitOfWork

__all__ = ["CatalogHandlers"]

T = TypeVar("T")
Fetch = Callable[[UnitOfWork, str | None, int], Awaitable[list[T]]]


def _floor_principal(principal: Principal, operator_code: str) -> None:
    """Staff only; an operator's own token acts only under its own code."""
    if operator_code:
        act_as(principal, operator_code)
    else:
        require_staff(principal)


def _check_center_change(principal: Principal, operator_code: str, reason: str | None = None) -> None:
    """Who may block or unblock a work center (:func:`_floor_principal`), then the command's
    operator code and reason (a block's; None: an unblock has none)."""
    _floor_principal(principal, operator_code)
    v = Violations()
    if reason is not None:
        v.text(reason.strip(), "reason", max_len=MAX_REASON_LENGTH, required=True)
    if operator_code:
        v.code(operator_code, "operator_code")
    v.raise_if_any()


class CatalogHandlers(UseCases):
    async def _page(self, query: ListPage, listing: str, fetch: Fetch[T], code: Callable[[T], str]) -> Page[T]:
        """A page of a catalogue listing, by code."""
        return await self._listing(
            query.principal, query.page, {"list": listing}, lambda key: str(key[0]), fetch, lambda item: [code(item)]
        )

    # -- styles ---------------------------------------------------------------------

    async def upsert_style(self, cmd: UpsertStyle) -> Style:
        """Create a style or change it; a routing/BOM change makes a new routing version.

        An identical upsert changes nothing (same version, no event).
        """
        require_staff(cmd.principal)
        definition = cmd.definition
        validate_style(definition)
        now = self._deps.clock()

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

        return await self._write(tx)

    async def get_style(self, query: Get[str]) -> Style:
        async with self._uows.read() as uow:
            return found(await uow.styles.get(query.key), f"style {query.key}")

    async def list_styles(self, query: ListPage) -> Page[Style]:
        return await self._page(query, "styles", lambda uow, after, n: uow.styles.list_page(after, n), lambda s: s.sku)

    async def batch_get_styles(self, query: BatchGet[str]) -> BatchResult[str, Style]:
        return await self._batch(query, lambda uow, skus: uow.styles.get_many(skus), "styles/{}".format)

    async def explode_bill_of_materials(self, query: ExplodeBillOfMaterials) -> list[MaterialRequirement]:
        """Material requirements per line; unknown styles fail INVALID_ARGUMENT (UNKNOWN_STYLE)."""
        v = Violations()
        validate_lines(v, query.lines)
        v.raise_if_any()
        async with self._uows.read() as uow:
            styles = await uow.styles.get_many({line.style_code for line in query.lines})
        return explode(query.lines, styles)

    # -- work centers ---------------------------------------------------------------

    async def upsert_work_center(self, cmd: UpsertWorkCenter) -> WorkCenter:
        """Create or change a work center. An active center adopts the unassigned open
        operations of its type (those created while no center of the type existed). A new
        center is IDLE until an operation starts there."""
        require_staff(cmd.principal)
        validate_work_center(cmd.code, cmd.work_center_type, cmd.display_name, cmd.capacity)
        now = self._deps.clock()
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
            if center.active and await uow.operations.adopt_unassigned(center.work_center_type, center.code, now):
                await follow_center(uow, center, now)  # an adopted operation may be in progress
            return center

        return await self._write(tx)

    async def block_work_center(self, cmd: BlockWorkCenter) -> WorkCenter:
        """Any state -> BLOCKED with a reason (a broken kiln, no gas): no operation starts or
        resumes there until the block is lifted; those in progress go on. Blocking a blocked
        center changes its reason (not ``state_time``); the same reason again changes nothing."""
        _check_center_change(cmd.principal, cmd.operator_code, cmd.reason)
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> WorkCenter:
            center = await self._center_by(uow, cmd.code, cmd.operator_code)
            previous = center.block(cmd.reason, now, cmd.operator_code)
            if previous is not None:
                await uow.work_centers.update(center)
                await uow.emit(WorkCenterChanged(center, previous))
            return center

        return await self._write(tx)

    async def unblock_work_center(self, cmd: UnblockWorkCenter) -> WorkCenter:
        """BLOCKED -> RUNNING or IDLE, as its operations say (FAILED_PRECONDITION when it is not
        blocked)."""
        _check_center_change(cmd.principal, cmd.operator_code)
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> WorkCenter:
            center = await self._center_by(uow, cmd.code, cmd.operator_code)
            running = await uow.operations.count_in_progress(center.code) > 0
            previous = center.unblock(running, now, cmd.operator_code)
            await uow.work_centers.update(center)
            await uow.emit(WorkCenterChanged(center, previous))
            return center

        return await self._write(tx)

    @staticmethod
    async def _center_by(uow: UnitOfWork, code: str, operator_code: str) -> WorkCenter:
        """The work center, locked; the operator who acts (when named) must be active."""
        center = found(await uow.work_centers.get(code, for_update=True), f"work center {code}")
        if operator_code:
            check_operator(await uow.operators.get(operator_code), "operator_code")
        return center

    async def get_work_center(self, query: Get[str]) -> WorkCenter:
        require_staff(query.principal)
        async with self._uows.read() as uow:
            return found(await uow.work_centers.get(query.key), f"work center {query.key}")

    async def list_work_centers(self, query: ListPage) -> Page[WorkCenter]:
        require_staff(query.principal)
        return await self._page(
            query, "work_centers", lambda uow, after, n: uow.work_centers.list_page(after, n), lambda c: c.code
        )

    # -- operators ------------------------------------------------------------------

    async def upsert_operator(self, cmd: UpsertOperator) -> Operator:
        require_staff(cmd.principal)
        validate_operator(cmd.code, cmd.display_name, cmd.role)
        assert cmd.role is not None  # validated above
        now = self._deps.clock()
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

        return await self._write(tx)

    async def list_operators(self, query: ListPage) -> Page[Operator]:
        require_staff(query.principal)
        return await self._page(
            query, "operators", lambda uow, after, n: uow.operators.list_page(after, n), lambda o: o.code
        )
