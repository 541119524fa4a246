"""Reading the catalogue copy."""

from __future__ import annotations

from mes_kernel.paging import Page, Pager
from services.orders.domain.catalogue import CatalogueItem
from services.orders.service_layer.commands import ListCatalogueItems
from services.orders.service_layer.use_case import UseCase

__all__ = ["CatalogueService"]


class CatalogueService(UseCase):
    async def list_items(self, query: ListCatalogueItems) -> Page[CatalogueItem]:
        kind = query.kind
        pager = Pager.of(self._tokens, query.page, scope=None, filters={"kind": kind.name if kind else None})
        after = pager.after(lambda key: (str(key[0]), str(key[1])))
        async with self._uows.read() as uow:
            rows = await uow.catalogue.find(kind, after=after, limit=pager.limit)
        return pager.page(rows, lambda item: [item.kind.name, item.code])
