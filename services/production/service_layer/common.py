"""What the use cases share: their dependencies, who may act as whom, and found-or-404."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import TypeVar

from mes_kernel.batch import BatchResult, batch_result, check_batch_size
from mes_kernel.errors import NotFound, PermissionDenied
from mes_kernel.principal import Principal, require_staff
from services.production.service_layer.commands import BatchGet
from services.production.service_layer.ports import ProductionDeps, UnitOfWork

__all__ = ["DEFAULT_ATTEMPTS", "IdFactory", "UseCases", "act_as", "found", "new_work_order_id"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
IdFactory = Callable[[], str]
#: How often a write use case runs again after a race with another writer.
DEFAULT_ATTEMPTS = 4


def new_work_order_id() -> str:
    return f"wo-{uuid.uuid4().hex}"


def act_as(principal: Principal, code: str) -> Principal:
    """Staff only; an operator's own token may only act as that operator."""
    require_staff(principal)
    if principal.kind == "operator" and principal.subject != code:
        raise PermissionDenied("an operator may only record their own work")
    return principal


def found(value: T | None, what: str) -> T:
    """``value``, or NOT_FOUND "``what`` not found"."""
    if value is None:
        raise NotFound(f"{what} not found")
    return value


class UseCases:
    """Base of the use-case groups: the dependency bag and the retry budget of writes."""

    def __init__(self, deps: ProductionDeps, *, attempts: int = DEFAULT_ATTEMPTS) -> None:
        self._deps = deps
        self._uows = deps.uows
        self._attempts = attempts

    async def _write(self, fn: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """``fn`` in a write unit of work, run again on a race (up to the retry budget)."""
        return await self._uows.transact(fn, attempts=self._attempts)

    async def _batch(
        self,
        query: BatchGet[K],
        fetch: Callable[[UnitOfWork, set[K]], Awaitable[Mapping[K, T]]],
        label: Callable[[K], str],
    ) -> BatchResult[K, T]:
        """A batch read: the items in the order of the keys asked for (see ``batch_result``)."""
        check_batch_size(len(query.keys))
        async with self._uows.read() as uow:
            items = await fetch(uow, set(query.keys))
        return batch_result(query.keys, items, allow_missing=query.allow_missing, label=label)
