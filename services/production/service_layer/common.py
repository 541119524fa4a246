"""What the use cases share: their dependencies, who may act as whom, found-or-404, and
writes idempotent by request_id."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from mes_kernel.batch import MAX_BATCH, BatchResult, batch_result, check_batch_size
from mes_kernel.errors import NotFound, PermissionDenied
from mes_kernel.paging import MAX_PAGE_SIZE, Page, Pager, PageRequest
from mes_kernel.principal import Principal, require_staff
from services.production.service_layer.commands import BatchGet, fingerprint
from services.production.service_layer.ports import ProductionDeps, UnitOfWork

__all__ = ["DEFAULT_ATTEMPTS", "IdFactory", "UseCases", "WorkOrderIssuers", "act_as", "found", "new_work_order_id"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
A = TypeVar("A")
IdFactory = Callable[[], str]
#: How often a write use case runs again after a race with another writer.
DEFAULT_ATTEMPTS = 4


class _Requested(Protocol):
    """A command idempotent by its ``request_id`` (per caller and method)."""

    @property
    def principal(self) -> Principal: ...

    @property
    def request_id(self) -> str: ...


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

    async def _listing(
        self,
        principal: Principal,
        request: PageRequest,
        filters: Mapping[str, Any],
        parse: Callable[[list[Any]], A],
        fetch: Callable[[UnitOfWork, A | None, int], Awaitable[list[T]]],
        sort_key: Callable[[T], Sequence[Any]],
        *,
        by_ids: bool = False,
    ) -> Page[T]:
        """The page of a listing that ``request`` asks for: its tokens are bound to the caller's
        scope and to ``filters`` (the listing and its filter), ``parse`` reads a token's start key,
        ``fetch`` reads up to ``limit`` rows after it and ``sort_key`` is a row's key in the next
        token. Pages of up to ``MAX_BATCH`` when the listing is of given ids (``by_ids``), else of
        up to ``MAX_PAGE_SIZE``."""
        maximum = MAX_BATCH if by_ids else MAX_PAGE_SIZE
        pager = Pager.of(self._deps.tokens, request, scope=principal.scope, filters=filters, maximum=maximum)
        after = pager.after(parse)
        async with self._uows.read() as uow:
            rows = await fetch(uow, after, pager.limit)
        return pager.page(rows, sort_key)

    async def _once(
        self,
        cmd: _Requested,
        method: str,
        create: Callable[[UnitOfWork], Awaitable[tuple[str, T]]],
        load: Callable[[UnitOfWork, str], Awaitable[T]],
    ) -> T:
        """``create`` once per caller, ``method`` and ``cmd.request_id``: the same request again
        answers ``load`` of the resource it named; a different one with that id is ALREADY_EXISTS
        (see ``UnitOfWorkFactory.idempotent``)."""
        result, _replayed = await self._uows.idempotent(
            scope=f"{cmd.principal.kind}:{cmd.principal.subject}:{method}",
            request_id=cmd.request_id,
            fingerprint=fingerprint(cmd),
            create=create,
            load=load,
        )
        return result


class WorkOrderIssuers(UseCases):
    """Use cases that create work orders, with the factory of their ids."""

    def __init__(
        self, deps: ProductionDeps, *, attempts: int = DEFAULT_ATTEMPTS, new_id: IdFactory = new_work_order_id
    ) -> None:
        super().__init__(deps, attempts=attempts)
        self._new_id = new_id
