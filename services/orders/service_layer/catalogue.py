"""Reading the catalogue copy."""

from __future__ import annotations

from mes_kernel.paging import PageTokens, page_size
from services.orders.domain.catalogue import CatalogueItem, CatalogueKind
from services.orders.service_layer.paging import Page, Pager, PageRequest
from services.orders.service_layer.ports import UnitOfWorkFactory

__all__ = ["CatalogueService"]


class CatalogueService:
    def __init__(self, uows: UnitOfWorkFactory, page_tokens: PageTokens) -> None:
        self._uows = uows
        self._tokens = page_tokens

    async def list_items(self, kind: CatalogueKind | None, request: PageRequest) -> Page[CatalogueItem]:
        size = page_size(request.page_size)
        pager = Pager(self._tokens, None, {"kind": kind.name if kind else None})
        after = pager.start(request.page_token, lambda key: (str(key[0]), str(key[1])))
        async with self._uows.read() as uow:
            rows = await uow.catalogue.find(kind, after=after, limit=size + 1)
        return pager.page(rows, size, lambda item: [item.kind.name, item.code])
