"""Requested cost: a pinned table, pagination-argument validation, robustness."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from graphql_facade.limits import LimitCode, LimitError, check_cost, partner_limits, requested_cost
from tests.unit.graphql_facade.limits.limits_schemas import (
    CATALOGUE,
    MES,
    ORDER_EVENTS,
    ORDER_WITH_FRAGMENTS,
    ORDERS_DASHBOARD,
    SEARCH_UNION,
    SMALL,
    SUBMIT_ORDER,
    SUBMIT_VARIABLES,
)

# (schema, query, variables, operation name, expected cost, how it adds up)
PINNED: list[tuple[GraphQLSchema, str, dict[str, Any] | None, str | None, int, str]] = [
    (SMALL, "{ shop { name } }", None, None, 1, "object 1, scalar 0"),
    (SMALL, "{ shop { name owner { name } } }", None, None, 2, "nested objects"),
    (SMALL, "{ tags __typename }", None, None, 0, "scalar list and __typename are free"),
    (SMALL, "{ products(first: 10) { edges { cursor node { id title } } } }", None, None, 12, "2 + 10 x 1"),
    (
        SMALL,
        "{ products(first: 10) { edges { node { title variants(first: 5) { edges { node { price } } } } } } }",
        None,
        None,
        82,
        "Shopify's example: 2 + 10 x (1 + 2 + 5 x 1)",
    ),
    (SMALL, "{ products(first: 50) { pageInfo { hasNextPage } totalCount } }", None, None, 3, "2 + pageInfo 1"),
    (SMALL, "{ products(last: 20) { nodes { id vendor { name } } } }", None, None, 42, "2 + 20 x (1 + 1)"),
    (SMALL, "{ products(first: 10) { edges { node { id } } nodes { id } } }", None, None, 22, "edges + nodes"),
    (SMALL, "{ products(first: 3, last: 7) { nodes { id } } }", None, None, 9, "larger of first/last"),
    (
        SMALL,
        '{ search(term: "x") { ... on Product { variants(first: 3) { nodes { id } } } ... on Person { name } } }',
        None,
        None,
        6,
        "non-connection list 1 + max(union members 5, 0)",
    ),
    (
        SMALL,
        '{ node(id: "1") { id ... on Person { friends(first: 4) { nodes { id } } } } }',
        None,
        None,
        7,
        "interface: 1 + max(Person 6, Product 0)",
    ),
    (SMALL, "query($n: Int = 25) { products(first: $n) { nodes { id } } }", None, None, 27, "variable default"),
    (SMALL, "query($n: Int = 25) { products(first: $n) { nodes { id } } }", {"n": 5}, None, 7, "variable wins"),
    (SMALL, "{ featured { nodes { id } } }", None, None, 12, "schema default first: 10"),
    (
        SMALL,
        'mutation { createProduct(title: "x") { product { id } userErrors { message } } }',
        None,
        None,
        12,
        "mutation 10 + payload (1 + 1)",
    ),
    (SMALL, "mutation { ping }", None, None, 10, "mutation returning a scalar"),
    (SMALL, "subscription { productUpdated { id vendor { id } } }", None, None, 2, "subscription 1 + payload"),
    (
        SMALL,
        "{ a: products(first: 2) { ...P } b: products(first: 3) { ...P } }"
        " fragment P on ProductConnection { nodes { id vendor { id } } }",
        None,
        None,
        14,
        "fragment used twice: (2 + 2 x 2) + (2 + 3 x 2)",
    ),
    (
        SMALL,
        "query($s: Boolean = true) { shop @skip(if: $s) { name } products(first: 1) { nodes { id } } }",
        None,
        None,
        3,
        "@skip(if: true) is free",
    ),
    (
        SMALL,
        "query A { shop { name } } query B { products(first: 5) { nodes { id } } }",
        None,
        "B",
        7,
        "only the selected operation",
    ),
    (MES, ORDERS_DASHBOARD, None, "Orders", 403, "2 + pageInfo 1 + 20 x (1 + 1 + (2 + 5 x 3) + 1)"),
    (MES, ORDERS_DASHBOARD, {"first": 10, "status": "SHIPPED"}, "Orders", 203, "2 + 1 + 10 x 20"),
    (MES, CATALOGUE, None, None, 243, "2 + 30 x (1 + 1 + (2 + 4)) + 1"),
    (MES, SUBMIT_ORDER, SUBMIT_VARIABLES, None, 114, "10 + order (1 + 2 + 100 x 1) + userErrors 1"),
    (MES, SEARCH_UNION, None, None, 52, "2 + 10 x max(Order 2, Style 5)"),
    (MES, ORDER_WITH_FRAGMENTS, {"id": "1"}, None, 34, "1 + partner 1 + (2 + 10 x 3)"),
    (MES, ORDER_WITH_FRAGMENTS, {"id": "1", "n": 1}, None, 7, "1 + 1 + (2 + 1 x 3)"),
    (MES, ORDER_EVENTS, None, None, 2, "subscription 1 + max(1, 0)"),
    (MES, "{ alloys { code } viewer { name } }", None, None, 2, "list of objects charged once"),
]


@pytest.mark.parametrize(("schema", "query", "variables", "operation", "expected", "why"), PINNED)
def test_pinned_costs(
    schema: GraphQLSchema, query: str, variables: dict[str, Any] | None, operation: str | None, expected: int, why: str
) -> None:
    document = parse(query)
    assert validate(schema, document) == [], "the fixture itself must be a valid query"
    assert requested_cost(schema, document, variables, operation) == expected, why


def test_the_dashboard_at_fifty_orders_is_too_expensive() -> None:
    cost = requested_cost(MES, parse(ORDERS_DASHBOARD), {"first": 50}, "Orders")
    assert cost == 1003
    with pytest.raises(LimitError) as info:
        check_cost(cost, partner_limits("STANDARD"))
    error = info.value
    assert (error.code, error.http_status) == ("MAX_COST_EXCEEDED", 400)
    assert error.extensions["cost"] == 1003
    assert error.extensions["maxCost"] == 1000
    check_cost(1000, partner_limits("STANDARD"))


def _pagination_error(query: str, variables: dict[str, Any] | None = None) -> LimitError:
    with pytest.raises(LimitError) as info:
        requested_cost(MES, parse(query), variables, None)
    return info.value


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ orders { totalCount } }", None),
        ("query($n: Int) { orders(first: $n) { totalCount } }", None),
        ("query($n: Int) { orders(first: $n) { totalCount } }", {"n": None}),
        ("{ orders(first: null) { totalCount } }", None),
        ("{ order(id: 1) { lines { nodes { id } } } }", None),
        ("{ orders(first: 1) { edges { node { lines { nodes { id } } } } } }", None),
    ],
)
def test_first_or_last_is_required_on_every_connection(query: str, variables: dict[str, Any] | None) -> None:
    error = _pagination_error(query, variables)
    assert error.code == LimitCode.PAGINATION_ARGUMENT_REQUIRED
    assert error.http_status == 400
    assert error.extensions["arguments"] == ["first", "last"]


def test_the_required_error_names_the_field_path() -> None:
    error = _pagination_error("{ mine: orders(first: 2) { edges { node { lines { nodes { id } } } } } }")
    assert error.extensions["field"] == "mine.edges.node.lines"


@pytest.mark.parametrize(
    ("query", "variables", "argument", "value"),
    [
        ("{ orders(first: 0) { totalCount } }", None, "first", 0),
        ("{ orders(first: 101) { totalCount } }", None, "first", 101),
        ("{ orders(last: -1) { totalCount } }", None, "last", -1),
        ("query($n: Int = 500) { orders(first: $n) { totalCount } }", None, "first", 500),
        ("query($n: Int = 5) { orders(first: $n) { totalCount } }", {"n": 1000}, "first", 1000),
        ("query($n: Int) { orders(first: 5, last: $n) { totalCount } }", {"n": 101}, "last", 101),
        ("query($n: Int) { orders(first: $n) { totalCount } }", {"n": "10"}, "first", "10"),
        ("query($n: Int) { orders(first: $n) { totalCount } }", {"n": 2.5}, "first", 2.5),
        ("query($n: Int) { orders(first: $n) { totalCount } }", {"n": True}, "first", True),
    ],
)
def test_page_size_must_be_in_range(query: str, variables: dict[str, Any] | None, argument: str, value: Any) -> None:
    error = _pagination_error(query, variables)
    assert error.code == LimitCode.PAGINATION_ARGUMENT_OUT_OF_RANGE
    assert error.extensions["argument"] == argument
    assert error.extensions["value"] == value
    assert (error.extensions["min"], error.extensions["max"]) == (1, 100)


def test_page_size_bounds_are_inclusive_and_configurable() -> None:
    document = parse("query($n: Int!) { orders(first: $n) { edges { node { id } } } }")
    assert requested_cost(MES, document, {"n": 1}, None) == 3
    assert requested_cost(MES, document, {"n": 100}, None) == 102
    assert requested_cost(MES, document, {"n": 2.0}, None) == 4  # JSON may send integral floats
    with pytest.raises(LimitError):
        requested_cost(MES, document, {"n": 100}, None, max_page_size=50)


def test_pagination_is_checked_inside_skipped_fields_only_when_they_run() -> None:
    query = "query($skip: Boolean!) { orders @skip(if: $skip) { totalCount } }"
    assert requested_cost(MES, parse(query), {"skip": True}, None) == 0
    with pytest.raises(LimitError):
        requested_cost(MES, parse(query), {"skip": False}, None)


def test_include_false_is_free() -> None:
    query = "query($on: Boolean = false) { viewer @include(if: $on) { name } alloys { code } }"
    assert requested_cost(MES, parse(query), None, None) == 1
    assert requested_cost(MES, parse(query), {"on": True}, None) == 2


def test_pagination_is_checked_in_fragments() -> None:
    query = "{ order(id: 1) { ...F } } fragment F on Order { lines(first: 101) { nodes { id } } }"
    assert _pagination_error(query).code == LimitCode.PAGINATION_ARGUMENT_OUT_OF_RANGE


def test_connection_without_paging_arguments_is_charged_at_the_maximum() -> None:
    schema_sdl = "type Query { feed: ItemConnection! } type ItemConnection { nodes: [Item!]! } type Item { id: ID! }"
    assert requested_cost(build_schema(schema_sdl), parse("{ feed { nodes { id } } }"), None, None) == 102


def test_unknown_or_ambiguous_operation_costs_nothing() -> None:
    document = parse("query A { viewer { name } } query B { viewer { name } }")
    assert requested_cost(MES, document, None, None) == 0
    assert requested_cost(MES, document, None, "C") == 0


def test_unknown_fields_cost_nothing_and_do_not_crash() -> None:
    assert requested_cost(MES, parse("{ nope { deeper } viewer { name ghost } }"), None, None) == 1


def test_fragment_cycles_terminate() -> None:
    query = "{ viewer { ...A } } fragment A on Partner { name ...B } fragment B on Partner { id ...A }"
    assert requested_cost(MES, parse(query), None, None) == 1


def test_fragment_bomb_is_costed_in_linear_time() -> None:
    # F0 spreads F1 twice, F1 spreads F2 twice, ...: 2**40 paths if expanded naively.
    levels = 40
    fragments = (
        " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
        + f" fragment F{levels} on Query {{ viewer {{ name }} }}"
    )
    cost = requested_cost(MES, parse("{ ...F0 } " + fragments), None, None)
    assert cost == 2**levels


def test_deep_fragment_nesting_is_refused() -> None:
    levels = 60
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(levels))
    fragments += f" fragment F{levels} on Query {{ viewer {{ name }} }}"
    with pytest.raises(LimitError) as info:
        requested_cost(MES, parse("{ ...F0 } " + fragments), None, None)
    assert info.value.code == LimitCode.QUERY_TOO_DEEP


def test_introspection_fields_are_costed_as_objects() -> None:
    assert requested_cost(MES, parse("{ __schema { queryType { name } } }"), None, None) == 2
    assert requested_cost(MES, parse('{ __type(name: "Order") { fields { name } } }'), None, None) == 2


def test_the_required_error_lists_only_the_arguments_the_field_accepts() -> None:
    error = _pagination_error("{ catalogue { nodes { code } } }")
    assert error.extensions["arguments"] == ["first"]
    assert error.message == "'first' is required on field 'catalogue'."
