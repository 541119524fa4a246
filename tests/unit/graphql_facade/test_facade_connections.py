"""The connection builders: a List RPC paged with the resolver's filters, a caller-picked list, and
cursors that continue where a page ended."""

from __future__ import annotations

from graphql_facade.schema.connections import fixed_connection, list_connection
from mes.orders.v1 import orders_pb2 as ords


def _orders(*ids: str) -> list[ords.Order]:
    return [ords.Order(order_id=i) for i in ids]


async def test_list_connection_keeps_the_filters_and_sets_page_fields_per_page() -> None:
    pages = {"": (_orders("a", "b"), "t1"), "t1": (_orders("c"), "")}
    sent: list[ords.ListOrdersRequest] = []

    async def call(request: ords.ListOrdersRequest) -> ords.ListOrdersResponse:
        sent.append(request)
        orders, token = pages[request.page_token]
        return ords.ListOrdersResponse(orders=orders, next_page_token=token)

    template = ords.ListOrdersRequest(parent="partners/acme", statuses=[ords.ORDER_STATUS_SUBMITTED], late_only=True)
    first = await list_connection(call, template, lambda page: page.orders, lambda o: o.order_id, 3, None)
    assert first.nodes() == ["a", "b", "c"] and not first.page_info.has_next_page
    assert [(r.page_token, r.page_size) for r in sent] == [("", 3), ("t1", 1)]
    assert all(r.parent == "partners/acme" and r.late_only and list(r.statuses) == [1] for r in sent)
    assert template.page_size == 0 and template.page_token == ""  # the resolver's request is left as given

    sent.clear()
    page = await list_connection(call, template, lambda page: page.orders, lambda o: o.order_id, 1, None)
    assert page.nodes() == ["a"] and page.page_info.has_next_page
    rest = await list_connection(
        call, template, lambda page: page.orders, lambda o: o.order_id, 5, page.page_info.end_cursor
    )
    assert rest.nodes() == ["b", "c"] and rest.page_info.start_cursor == rest.edges[0].cursor


def test_fixed_connection_has_every_node_and_no_next_page() -> None:
    built = fixed_connection(["x", "y"], lambda node: f"code:{node}")
    assert [(e.cursor, e.node) for e in built.edges] == [("code:x", "x"), ("code:y", "y")]
    assert (built.page_info.has_next_page, built.page_info.end_cursor, built.page_info.start_cursor) == (
        False,
        None,
        None,
    )
