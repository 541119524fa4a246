"""Structural limits: body, batch, tokens, depth and aliases (fragments included)."""

from __future__ import annotations

import dataclasses

import pytest
from graphql import Lexer, parse

from graphql_facade.limits import (
    DocumentShape,
    LimitCode,
    LimitError,
    Limits,
    check_batch,
    check_body_size,
    check_document,
    check_order_lines,
    check_subscriptions,
    check_tokens,
    operator_limits,
    partner_limits,
)

STANDARD = partner_limits("STANDARD")


def limits(**changes: int) -> Limits:
    return dataclasses.replace(STANDARD, **changes)


def refused(code: LimitCode) -> pytest.RaisesExc[LimitError]:
    return pytest.raises(LimitError, check=lambda e: e.code == code)


# -- body, batch, inputs ------------------------------------------------------------------


def test_body_size() -> None:
    check_body_size(1_000_000, STANDARD)
    with refused(LimitCode.PAYLOAD_TOO_LARGE) as info:
        check_body_size(1_000_001, STANDARD)
    assert info.value.http_status == 413
    assert info.value.extensions["maxBytes"] == 1_000_000


def test_batch_size() -> None:
    check_batch(5, STANDARD)
    with refused(LimitCode.BATCH_TOO_LARGE) as info:
        check_batch(6, STANDARD)
    assert (info.value.extensions["operations"], info.value.extensions["maxOperations"]) == (6, 5)
    with refused(LimitCode.BAD_REQUEST):
        check_batch(0, STANDARD)


def test_order_lines_and_subscriptions() -> None:
    check_order_lines(250, STANDARD)
    with refused(LimitCode.TOO_MANY_ORDER_LINES):
        check_order_lines(251, STANDARD)
    check_subscriptions(9, STANDARD)
    with refused(LimitCode.TOO_MANY_SUBSCRIPTIONS):
        check_subscriptions(10, STANDARD)


# -- tokens -----------------------------------------------------------------------------


def test_tokens_are_lexer_tokens_without_comments() -> None:
    query = '# a comment with many words\nquery Q($n: Int = 5) { orders(first: $n, note: "a b c") { id } }'
    # query Q ( $ n : Int = 5 ) { orders ( first : $ n note : "..." ) { id } }  (commas are ignored)
    assert check_tokens(query, STANDARD) == 25
    assert check_tokens(query, limits(max_tokens=25)) == 25
    with refused(LimitCode.TOO_MANY_TOKENS) as info:
        check_tokens(query, limits(max_tokens=24))
    assert info.value.extensions["maxTokens"] == 24


def test_a_huge_query_is_never_tokenized_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    original = Lexer.advance

    def counting(self: Lexer) -> object:
        nonlocal calls
        calls += 1
        return original(self)

    monkeypatch.setattr(Lexer, "advance", counting)
    huge = "{ " + "a " * 500_000 + "}"
    with refused(LimitCode.TOO_MANY_TOKENS):
        check_tokens(huge, STANDARD)
    assert calls == STANDARD.max_tokens + 1


def test_syntax_errors_are_left_to_the_parser() -> None:
    assert check_tokens('{ a "unterminated', STANDARD) == 2
    assert check_tokens("", STANDARD) == 0


# -- depth ------------------------------------------------------------------------------


def shape(query: str, lim: Limits = STANDARD, operation: str | None = None) -> DocumentShape:
    return check_document(parse(query), lim, operation)


def test_depth_counts_every_level_including_edges_and_node() -> None:
    assert shape("{ orders(first: 5) { edges { node { id } } } }").depth == 4
    assert shape("{ a b { c } }").depth == 2
    assert shape("{ __typename }").depth == 1


def test_depth_limit_is_inclusive() -> None:
    query = "{ a { b { c { d { e { f { g { h } } } } } } } }"  # depth 8
    assert shape(query).depth == 8
    with refused(LimitCode.QUERY_TOO_DEEP) as info:
        shape("{ a { b { c { d { e { f { g { h { i } } } } } } } } }")
    assert info.value.extensions["maxDepth"] == 8
    assert shape("{ a { b { c { d { e { f { g { h { i } } } } } } } } }", operator_limits()).depth == 9


def test_depth_through_named_and_inline_fragments() -> None:
    query = """
    { orders(first: 1) { ...Conn } }
    fragment Conn on OrderConnection { edges { node { ... on Order { ...Lines } } } }
    fragment Lines on Order { lines(first: 1) { nodes { style { name } } } }
    """
    # orders > edges > node > lines > nodes > style > name
    assert shape(query).depth == 7
    with refused(LimitCode.QUERY_TOO_DEEP):
        shape(query, limits(max_depth=6))


def test_depth_of_a_fragment_depends_on_where_it_is_used() -> None:
    query = "{ a { ...F } b { c { d { ...F } } } } fragment F on T { x { y } }"
    assert shape(query).depth == 5  # b > c > d > x > y; under a the same fragment is only 3 deep
    with refused(LimitCode.QUERY_TOO_DEEP):
        shape(query, limits(max_depth=4))


def test_fragment_cycles_do_not_hang_or_crash() -> None:
    query = "{ a { ...A } } fragment A on T { x ...B } fragment B on T { y { ...A } }"
    assert shape(query).depth == 2  # a > x and a > y; the spread of A inside A is cut
    assert shape("{ ...Self } fragment Self on Query { a ...Self }").depth == 1


def test_only_the_selected_operation_is_checked() -> None:
    query = "query Shallow { a } query Deep { a { b { c { d { e { f { g { h { i } } } } } } } } }"
    assert shape(query, operation="Shallow").depth == 1
    with refused(LimitCode.QUERY_TOO_DEEP):
        shape(query, operation="Deep")
    with refused(LimitCode.QUERY_TOO_DEEP):
        shape(query)  # no name: every operation


def test_deep_fragment_chains_are_refused() -> None:
    chain = " ".join(f"fragment F{i} on Q {{ ...F{i + 1} }}" for i in range(60)) + " fragment F60 on Q { a }"
    with refused(LimitCode.QUERY_TOO_DEEP):
        shape("{ ...F0 } " + chain)


# -- aliases ----------------------------------------------------------------------------


def test_aliases_are_counted() -> None:
    assert shape("{ a: x b: x c { d: y } }").aliases == 3
    assert shape("{ x y }").aliases == 0


def test_aliases_in_a_fragment_count_each_time_it_is_used() -> None:
    query = "{ o1: order { ...F } o2: order { ...F } } fragment F on Order { r1: ref r2: ref r3: ref }"
    assert shape(query).aliases == 2 + 2 * 3
    with refused(LimitCode.TOO_MANY_ALIASES) as info:
        shape(query, limits(max_aliases=7))
    assert (info.value.extensions["aliases"], info.value.extensions["maxAliases"]) == (8, 7)


def test_aliases_in_inline_fragments_and_nested_spreads() -> None:
    query = "{ ... on Query { a: x ...G } } fragment G on Query { ...H ...H } fragment H on Query { b: y }"
    assert shape(query).aliases == 3


def test_alias_amplification_through_fragments_is_caught_cheaply() -> None:
    levels = 40
    chain = " ".join(f"fragment F{i} on Q {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    chain += f" fragment F{levels} on Q {{ a: x }}"
    with refused(LimitCode.TOO_MANY_ALIASES) as info:
        shape("{ ...F0 } " + chain)
    assert info.value.extensions["aliases"] == 2**levels


def test_fifteen_aliases_pass_sixteen_fail() -> None:
    fifteen = "{ " + " ".join(f"a{i}: x" for i in range(15)) + " }"
    assert shape(fifteen).aliases == 15
    with refused(LimitCode.TOO_MANY_ALIASES):
        shape(fifteen.replace("}", "a15: x }"))
