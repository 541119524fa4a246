"""Listings page in their sort order; a page token is good only for the listing, the filter
(and, for staff listings, the tenant) it was issued for."""

from __future__ import annotations

import pytest

from mes_kernel.errors import InvalidArgument, NotFound, PermissionDenied
from mes_kernel.paging import PageRequest
from services.inventory.domain.materials import Metal
from services.inventory.service_layer import commands as c
from tests.unit.inventory._factories import OPERATOR, PARTNER
from tests.unit.inventory._shop import Shop


async def test_lots_page_by_receive_time_and_tokens_keep_their_filter(shop: Shop) -> None:
    await shop.alloy("AG925", Metal.SILVER, 925)
    silver = [await shop.receive("AG925", 1_000) for _ in range(3)]
    await shop.receive(mg=1_000)

    first = await shop.handlers.stock.list_lots(c.ListLots(OPERATOR, PageRequest(2), material_code="AG925"))
    rest = await shop.handlers.stock.list_lots(
        c.ListLots(OPERATOR, PageRequest(2, first.next_page_token), material_code="AG925")
    )
    assert [x.lot_id for x in first.items + rest.items] == [x.lot_id for x in silver]
    assert rest.next_page_token == ""
    with pytest.raises(InvalidArgument) as caught:  # the same token for every material
        await shop.handlers.stock.list_lots(c.ListLots(OPERATOR, PageRequest(2, first.next_page_token)))
    assert caught.value.reason == "INVALID_PAGE_TOKEN"
    with pytest.raises(InvalidArgument) as caught:  # another listing's token
        await shop.handlers.reservations.list_shortages(c.ListQuery(OPERATOR, PageRequest(2, first.next_page_token)))
    assert caught.value.reason == "INVALID_PAGE_TOKEN"
    with pytest.raises(PermissionDenied):
        await shop.handlers.stock.list_lots(c.ListLots(PARTNER))


async def test_the_alloy_catalogue_is_open_to_partners_and_its_tokens_to_every_tenant() -> None:
    shop = Shop()
    for code, metal, fineness in [
        ("PT950", Metal.PLATINUM, 950),
        ("AG925", Metal.SILVER, 925),
        ("AU585Y", Metal.GOLD, 585),
    ]:
        await shop.alloy(code, metal, fineness)
    first = await shop.handlers.catalogue.list_alloys(c.ListQuery(PARTNER, PageRequest(2)))
    rest = await shop.handlers.catalogue.list_alloys(c.ListQuery(OPERATOR, PageRequest(2, first.next_page_token)))
    assert [a.code for a in first.items + rest.items] == ["AG925", "AU585Y", "PT950"]

    found = await shop.handlers.catalogue.batch_get_alloys(c.BatchGet(PARTNER, ("PT950", "XX1", "PT950"), True))
    assert ([a.code for a in found.items], found.missing) == (["PT950", "PT950"], ["XX1"])
    with pytest.raises(NotFound):
        await shop.handlers.catalogue.batch_get_alloys(c.BatchGet(PARTNER, ("XX1",)))
    with pytest.raises(PermissionDenied):
        await shop.handlers.catalogue.upsert_alloy(c.UpsertAlloy(PARTNER, "AU750Y", Metal.GOLD, 750, "yellow"))
