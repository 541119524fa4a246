"""Actual cost, computed from results produced by graphql-core's executor."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLResolveInfo,
    get_named_type,
    get_nullable_type,
    graphql_sync,
    is_enum_type,
    is_leaf_type,
    is_list_type,
    parse,
)

from graphql_facade.limits import actual_cost, is_connection, requested_cost
from tests.unit.graphql_facade.limits.limits_schemas import (
    CATALOGUE,
    MES,
    ORDER_WITH_FRAGMENTS,
    ORDERS_DASHBOARD,
    SMALL,
    SUBMIT_ORDER,
    SUBMIT_VARIABLES,
)


def _sample(named: Any) -> Any:
    if is_enum_type(named):
        return next(iter(named.values))
    return {"Int": 1, "Boolean": True}.get(named.name, "x")


def full_pages(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """Resolver returning full pages: every connection has exactly first/last items."""
    named = get_named_type(info.return_type)
    nullable = get_nullable_type(info.return_type)
    if is_leaf_type(named):
        return [_sample(named)] * 2 if is_list_type(nullable) else _sample(named)
    if is_connection(named):
        return {"size": max(args.get("first") or 0, args.get("last") or 0)}
    if is_list_type(nullable):
        size = source.get("size", 2) if info.field_name in ("edges", "nodes") else 2
        return [{} for _ in range(size)]
    return {}


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (ORDERS_DASHBOARD, None),
        (ORDERS_DASHBOARD, {"first": 3}),
        (CATALOGUE, None),
        (SUBMIT_ORDER, SUBMIT_VARIABLES),
        (ORDER_WITH_FRAGMENTS, {"id": "1", "n": 4}),
    ],
)
def test_full_pages_cost_exactly_what_was_requested(query: str, variables: dict[str, Any] | None) -> None:
    result = graphql_sync(MES, query, root_value={}, variable_values=variables, field_resolver=full_pages)
    assert result.errors is None, result.errors
    document = parse(query)
    requested = requested_cost(MES, document, variables, None)
    assert actual_cost(MES, document, variables, None, result.data, result.errors) == requested


def _order(lines: int, history: int) -> dict[str, Any]:
    return {
        "id": "o",
        "reference": "R",
        "status": "RECEIVED",
        "partner": {"name": "p"},
        "lines": {"nodes": [{"quantity": 1, "style": {"name": "s"}, "alloy": {"code": "AU750"}}] * lines},
        "statusHistory": [{"status": "RECEIVED", "at": "t"}] * history,
    }


def test_short_pages_are_refunded() -> None:
    data = {
        "orders": {
            "totalCount": 2,
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "edges": [{"cursor": "a", "node": _order(1, 2)}, {"cursor": "b", "node": _order(0, 0)}],
        }
    }
    result = graphql_sync(MES, ORDERS_DASHBOARD, root_value=data)
    assert result.errors is None
    document = parse(ORDERS_DASHBOARD)
    # 2 + pageInfo 1 + order 1: (1 + partner 1 + lines (2 + 1 x 3) + history 1) + order 2: (1 + 1 + 2 + 1)
    assert actual_cost(MES, document, None, None, result.data) == 2 + 1 + 8 + 5
    assert requested_cost(MES, document, None, None) == 403


def test_empty_page_costs_the_connection_only() -> None:
    data = {"orders": {"totalCount": 0, "pageInfo": {"hasNextPage": False}, "edges": []}}
    result = graphql_sync(MES, ORDERS_DASHBOARD, root_value=data)
    assert actual_cost(MES, parse(ORDERS_DASHBOARD), None, None, result.data) == 3


def test_null_objects_cost_nothing() -> None:
    query = '{ order(id: "1") { reference partner { name } } viewer { name } }'
    result = graphql_sync(MES, query, root_value={"order": None, "viewer": {"name": "v"}})
    assert actual_cost(MES, parse(query), None, None, result.data) == 1
    assert requested_cost(MES, parse(query), None, None) == 3


def test_a_field_nulled_by_an_error_is_charged_its_requested_cost() -> None:
    def boom(*_: Any) -> Any:
        raise RuntimeError("backend down")

    query = '{ order(id: "1") { reference partner { name } lines(first: 10) { nodes { id } } } viewer { name } }'
    root = {"order": {"reference": "R", "partner": boom, "lines": {"nodes": []}}, "viewer": {"name": "v"}}
    result = graphql_sync(MES, query, root_value=root)
    assert result.errors is not None and result.errors[0].path == ["order", "partner"]
    assert result.data == {"order": None, "viewer": {"name": "v"}}
    document = parse(query)
    requested = requested_cost(MES, document, None, None)
    assert actual_cost(MES, document, None, None, result.data, result.errors) == requested
    # the same null without an error is a real "not found" and costs nothing
    assert actual_cost(MES, document, None, None, result.data) == 1
    # errors given as response dicts work too
    as_dicts = [e.formatted for e in result.errors]
    assert actual_cost(MES, document, None, None, result.data, as_dicts) == requested


def test_no_data_means_no_refund() -> None:
    document = parse(ORDERS_DASHBOARD)
    assert actual_cost(MES, document, None, None, None) == requested_cost(MES, document, None, None)


def test_mutation_keeps_its_base_cost_when_the_payload_is_null() -> None:
    document = parse(SUBMIT_ORDER)
    assert actual_cost(MES, document, SUBMIT_VARIABLES, None, {"submitOrder": None}) == 10
    data = {"submitOrder": {"order": None, "userErrors": [{"field": ["lines"], "message": "m", "code": "C"}]}}
    assert actual_cost(MES, document, SUBMIT_VARIABLES, None, data) == 11


def test_union_items_are_charged_by_their_runtime_type() -> None:
    query = """{ search(text: "r", first: 10) { edges { node {
        __typename
        ... on Order { reference partner { name } }
        ... on Style { name stones(first: 2) { nodes { code } } }
    } } } }"""
    order = {"__typename": "Order", "reference": "R", "partner": {"name": "p"}}
    style = {"__typename": "Style", "name": "s", "stones": {"nodes": [{"code": "D"}]}}
    result = graphql_sync(MES, query, root_value={"search": {"edges": [{"node": order}, {"node": style}]}})
    assert result.errors is None
    # 2 + Order (1 + 1) + Style (1 + (2 + 1 x 1))
    assert actual_cost(MES, parse(query), None, None, result.data) == 2 + 2 + 4


def test_abstract_item_without_typename_is_charged_by_the_fields_it_returned() -> None:
    query = '{ node(id: "1") { id ... on Person { friends(first: 4) { nodes { id } } } } }'
    assert actual_cost(SMALL, parse(query), None, None, {"node": {"id": "1"}}) == 1
    person = {"node": {"id": "1", "friends": {"nodes": [{"id": "2"}, {"id": "3"}]}}}
    assert actual_cost(SMALL, parse(query), None, None, person) == 1 + 2 + 2


def test_non_connection_lists_cost_their_most_expensive_item_once() -> None:
    query = '{ search(term: "x") { ... on Product { variants(first: 3) { nodes { id } } } ... on Person { name } } }'
    data = {
        "search": [
            {"__typename": "Person", "name": "n"},
            {"__typename": "Product", "variants": {"nodes": [{"id": "1"}, {"id": "2"}]}},
            {"__typename": "Product", "variants": {"nodes": []}},
        ]
    }
    assert actual_cost(SMALL, parse(query), None, None, data) == 1 + (2 + 2)
    assert actual_cost(SMALL, parse(query), None, None, {"search": []}) == 1


def test_aliases_and_fragments_are_followed_in_the_data() -> None:
    query = (
        "{ a: products(first: 2) { ...P } b: products(first: 3) { ...P } }"
        " fragment P on ProductConnection { nodes { id vendor { id } } }"
    )
    data = {
        "a": {"nodes": [{"id": "1", "vendor": None}]},
        "b": {"nodes": [{"id": "2", "vendor": {"id": "v"}}, {"id": "3", "vendor": {"id": "w"}}]},
    }
    assert actual_cost(SMALL, parse(query), None, None, data) == (2 + 1) + (2 + 2 + 2)


def test_edges_without_nodes_and_null_edges() -> None:
    query = "{ products(first: 5) { edges { cursor node { id } } } }"
    data = {"products": {"edges": [{"cursor": "a", "node": {"id": "1"}}, None]}}
    assert actual_cost(SMALL, parse(query), None, None, data) == 3


def test_fragment_bomb_on_data_is_walked_in_linear_time() -> None:
    levels = 40
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    fragments += f" fragment F{levels} on Query {{ shop {{ name }} }}"
    assert actual_cost(SMALL, parse("{ ...F0 } " + fragments), None, None, {"shop": {"name": "s"}}) == 2**levels


def test_skipped_fields_are_not_charged() -> None:
    query = "query($s: Boolean!) { shop @skip(if: $s) { name } }"
    assert actual_cost(SMALL, parse(query), {"s": True}, None, {}) == 0
