"""Malformed, deep, wide and expensive requests are refused before any resolver runs, with the
right code, never with a 500, never with exception text."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.graphql_facade.conftest import PARTNER_A, PARTNER_A_KEY, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

REFUSAL_CODES = {
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_USER_INPUT",
    "BAD_REQUEST",
    "QUERY_TOO_DEEP",
    "TOO_MANY_ALIASES",
    "TOO_MANY_TOKENS",
    "MAX_COST_EXCEEDED",
    "PAYLOAD_TOO_LARGE",
    "PAGINATION_ARGUMENT_REQUIRED",
    "PAGINATION_ARGUMENT_OUT_OF_RANGE",
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_NOT_SUPPORTED",
    "PERSISTED_QUERY_HASH_MISMATCH",
}
LEAKS = ("Traceback", "Exception", ".py", 'File "', "object at 0x")


def deep(levels: int) -> str:
    return "{ " + "a { " * levels + "id" + " }" * levels + " }"


def wide(aliases: int) -> str:
    return "{ " + " ".join(f"o{i}: orders(first: 1) {{ nodes {{ id }} }}" for i in range(aliases)) + " }"


def expensive(copies: int) -> str:
    page = "orders(first: 100) { nodes { lines { style { sku } } statusHistory { reason } } }"
    return "{ " + " ".join(f"e{i}: {page}" for i in range(copies)) + " }"


def token_flood(fields: int) -> str:
    return "{ orders(first: 1) { nodes { " + " ".join(["id"] * fields) + " } } }"


def fragment_cycle() -> str:
    return "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"


queries = st.one_of(
    st.text(max_size=200),
    st.builds(deep, st.integers(9, 60)),
    st.builds(wide, st.integers(16, 40)),
    st.builds(expensive, st.integers(3, 12)),
    st.builds(token_flood, st.integers(2100, 3000)),
    st.just(fragment_cycle()),
    st.sampled_from(
        [
            "{ orders { nodes { id } } }",
            "{ orders(first: 0) { nodes { id } } }",
            "{ orders(first: 1000) { nodes { id } } }",
            "{ __schema { types { name } } }",
            "{ order(id: 1) { id } }",
            'mutation { submitOrder(input: {}, idempotencyKey: "k") { replayed } }',
            "subscription { orderStatusChanged { __typename } }",
            "{ orders(first: 1) { nodes { workOrders { id } } } }",
            "query Q { orders(first: 1) { nodes { id } } } query R { orders(first: 1) { nodes { id } } }",
        ]
    ),
)
bodies = st.one_of(
    st.builds(lambda q: {"query": q}, queries),
    st.builds(lambda q, v: {"query": q, "variables": v}, queries, st.one_of(st.lists(st.integers()), st.text())),
    st.builds(lambda e: {"extensions": e}, st.dictionaries(st.text(max_size=10), st.integers(), max_size=3)),
    st.builds(
        lambda h: {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": h}}},
        st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    ),
    st.just([]),
    st.integers(),
)


async def send_all(cases: list[Any]) -> None:
    backend = FakeBackend()
    backend.add_catalogue()
    backend.add_partner("partner-a", PARTNER_A_KEY)
    async with running_app(backend, facade_settings(MES_FACADE_CACHE="0")) as client:
        for body in cases:
            backend.reset_calls()
            response = await client.http.post(
                "/graphql", content=json.dumps(body), headers={**PARTNER_A, "content-type": "application/json"}
            )
            text = response.text
            assert response.status_code != 500, text
            assert not any(leak in text for leak in LEAKS), text
            payload = response.json()
            if response.status_code >= 400 or payload.get("data") is None:
                codes = {e["extensions"]["code"] for e in payload["errors"]}
                assert codes <= REFUSAL_CODES, (body, payload)
                resolver_calls = {m: n for m, n in backend.calls.items() if m != "AuthenticatePartner"}
                assert resolver_calls == {}, (body, resolver_calls)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(bodies, min_size=1, max_size=12))
def test_bad_requests_are_refused_before_resolvers(cases: list[Any]) -> None:
    asyncio.run(send_all(cases))


def test_every_structural_limit_has_its_code() -> None:
    expected = {
        deep(20): "QUERY_TOO_DEEP",
        wide(20): "TOO_MANY_ALIASES",
        expensive(4): "MAX_COST_EXCEEDED",
        token_flood(2500): "TOO_MANY_TOKENS",
        "{ orders { nodes { id } } }": "GRAPHQL_VALIDATION_FAILED",
        "{ orders(first: 101) { nodes { id } } }": "PAGINATION_ARGUMENT_OUT_OF_RANGE",
        "{ orders(first: 1) { nodes { id }": "GRAPHQL_PARSE_FAILED",
    }

    async def run() -> None:
        backend = FakeBackend()
        backend.add_partner("partner-a", PARTNER_A_KEY)
        async with running_app(backend) as client:
            for query, code in expected.items():
                response = await client.gql(query, headers=PARTNER_A)
                assert response.status_code == 400, (query, response.text)
                assert response.json()["errors"][0]["extensions"]["code"] == code, (query, response.text)
            assert set(backend.calls) <= {"AuthenticatePartner"}

    asyncio.run(run())
