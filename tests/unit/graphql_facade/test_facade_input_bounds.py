"""Every input of the HTTP edge is bounded: the body is read as a stream and reading stops at the
limit (chunked or not, in front of and behind the hit lane), deeply nested JSON is a 400, variables
have a size and depth limit, and every partner response carries the RateLimit headers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from graphql_facade.limits import (
    LimitCode,
    LimitError,
    Limits,
    LimitsConfig,
    check_variables,
    nesting_depth,
    partner_limits,
)
from graphql_facade.pipeline.request import MAX_JSON_DEPTH, parse_json
from mes_kernel import api_keys
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    PARTNER_A_KEY,
    PARTNER_B,
    FacadeClient,
    add_full_pages,
    facade_settings,
    running_app,
    throttling_settings,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend

QUERY = "{ orders(first: 5) { nodes { id } } }"
VARIABLES_QUERY = "query($n: Int!) { orders(first: $n) { nodes { id } } }"
JSON = {"content-type": "application/json"}


class Upload:
    """A chunked request body (no Content-Length) that counts the chunks the server pulled."""

    def __init__(self, body: bytes, chunk: int = 1000) -> None:
        self.chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk


def padded(size: int, query: str = QUERY) -> bytes:
    """A valid body of ``size`` bytes (the query padded with spaces)."""
    head = json.dumps({"query": query})[:-2].encode()
    return head + b" " * (size - len(head) - 2) + b'"}'


def code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


def policies(response: httpx.Response) -> str:
    return response.headers.get("ratelimit-policy", "")


def assert_rate_headers(response: httpx.Response) -> None:
    assert '"requests"' in policies(response) and '"cost"' in policies(response), dict(response.headers)
    assert '"requests";r=' in response.headers["ratelimit"] and '"cost";r=' in response.headers["ratelimit"]


# -- the body: read as a stream, reading stops at the limit -------------------------------------


async def test_a_chunked_body_is_not_read_past_the_partners_limit(backend: FakeBackend) -> None:
    settings = facade_settings(MES_FACADE_LIMITS_STANDARD_MAX_BODY_BYTES="10000")
    upload = Upload(padded(1_000_000))
    async with running_app(backend, settings) as client:
        response = await client.http.post("/graphql", content=upload, headers={**PARTNER_A, **JSON})
    assert response.status_code == 413
    assert code(response) == LimitCode.PAYLOAD_TOO_LARGE
    assert response.json()["errors"][0]["extensions"]["maxBytes"] == 10000
    assert upload.pulled <= 11  # 10 chunks are the limit; the 11th passes it, nothing more is read
    assert_rate_headers(response)


async def test_an_operators_chunked_body_stops_at_the_operators_limit_behind_the_hit_lane(
    backend: FakeBackend,
) -> None:
    settings = facade_settings(MES_FACADE_LIMITS_OPERATOR_MAX_BODY_BYTES="20000")
    upload = Upload(padded(1_000_000))
    async with running_app(backend, settings) as client:
        response = await client.http.post("/graphql", content=upload, headers={**OPERATOR, **JSON})
    assert response.status_code == 413 and code(response) == LimitCode.PAYLOAD_TOO_LARGE
    assert upload.pulled <= 21


async def test_a_declared_length_above_every_limit_is_refused_unread(client: FacadeClient) -> None:
    upload = Upload(padded(1_100_000))

    async def declared() -> AsyncIterator[bytes]:
        async for chunk in upload:
            yield chunk

    response = await client.http.post(
        "/graphql",
        content=declared(),
        headers={**PARTNER_A, **JSON, "content-length": "1100000"},
    )
    assert response.status_code == 413 and upload.pulled == 0


@pytest.mark.parametrize("size", [5_000, 16_000, 40_000, 200_000])
async def test_chunked_bodies_the_lane_hands_on_arrive_whole(
    client: FacadeClient, backend: FakeBackend, size: int
) -> None:
    order = backend.add_order("partner-a")
    body = padded(size)
    for _ in range(2):  # the second time, a body the lane has seen (when it takes bodies of that size)
        response = await client.http.post("/graphql", content=Upload(body, 997), headers={**OPERATOR, **JSON})
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"orders": {"nodes": [{"id": order.order_id}]}}


# -- deeply nested JSON: a 400, never a 500 -------------------------------------------------------


def nested_variables(depth: int) -> bytes:
    inner = '{"a":' * depth + "1" + "}" * depth
    return ('{"query":"{a}","variables":{"a":' + inner + "}}").encode()


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        nested_variables(5000),
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
    ],
    ids=["brackets", "braces", "variables", "just-past-the-bound"],
)
@pytest.mark.parametrize("caller", [PARTNER_A, OPERATOR], ids=["partner", "operator"])
async def test_deeply_nested_json_is_a_bad_request(client: FacadeClient, body: bytes, caller: dict[str, str]) -> None:
    response = await client.http.post("/graphql", content=body, headers={**caller, **JSON})
    assert response.status_code == 400, response.text
    assert code(response) == "BAD_REQUEST"
    assert "nests more than 128 levels" in response.json()["errors"][0]["message"]


async def test_deeply_nested_get_parameters_are_a_bad_request(client: FacadeClient) -> None:
    for name in ("variables", "extensions"):
        response = await client.http.get(
            "/graphql", params={"query": QUERY, name: "[" * 5000}, headers=PARTNER_A, timeout=10
        )
        assert response.status_code == 400 and code(response) == "BAD_REQUEST", response.text


async def test_deeply_nested_batches_are_a_bad_request(backend: FakeBackend) -> None:
    async with running_app(backend, facade_settings(MES_FACADE_BATCHING="1")) as client:
        body = b"[" + nested_variables(3000) + b"]"
        response = await client.http.post("/graphql", content=body, headers={**PARTNER_A, **JSON})
    assert response.status_code == 400 and code(response) == "BAD_REQUEST"


def test_parse_json_keeps_the_standard_librarys_numbers() -> None:
    assert parse_json(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
    depth = MAX_JSON_DEPTH
    assert nesting_depth(parse_json(b"[" * depth + b"]" * depth), depth) == depth
    assert nesting_depth(parse_json('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}' * 1), depth) == 1


# -- variables: size and depth limits ------------------------------------------------------------


def test_variable_limits_are_settings_of_every_tier() -> None:
    assert Limits().max_variables_bytes == 262_144 and Limits().max_variables_depth == 16
    config = LimitsConfig.from_env(
        {"MES_FACADE_LIMITS_PLUS_MAX_VARIABLES_BYTES": "500", "MES_FACADE_LIMITS_OPERATOR_MAX_VARIABLES_DEPTH": "30"}
    )
    assert config.for_partner("PLUS").max_variables_bytes == 500
    assert config.for_operator().max_variables_depth == 30
    with pytest.raises(ValueError, match="max_variables_depth"):
        Limits(max_variables_depth=MAX_JSON_DEPTH)


def test_nesting_depth_and_check_variables() -> None:
    assert nesting_depth(1, 5) == 0
    assert nesting_depth({"a": [1, {"b": []}]}, 10) == 4
    assert nesting_depth({"a": [[[[[[]]]]]]}, 3) == 4  # stops past the bound
    limits = partner_limits("STANDARD")
    check_variables(None, limits)
    check_variables({"a": {"b": "x" * 1000}}, limits)
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(limits.max_variables_depth):
        cursor["a"] = cursor = {}
    with pytest.raises(LimitError) as too_deep:
        check_variables(deep, limits)
    assert too_deep.value.code == "VARIABLES_TOO_DEEP" and too_deep.value.http_status == 400
    assert too_deep.value.extensions["limit"] == "max_variables_depth"
    with pytest.raises(LimitError) as too_large:
        check_variables({"pad": "x" * limits.max_variables_bytes}, limits)
    assert too_large.value.code == "VARIABLES_TOO_LARGE"
    assert too_large.value.extensions["limit"] == "max_variables_bytes"
    assert too_large.value.extensions["maxBytes"] == limits.max_variables_bytes
    check_variables({"big": 2**70}, limits)  # what orjson cannot serialize is measured all the same


@pytest.mark.parametrize("caller", [PARTNER_A, OPERATOR], ids=["partner", "operator"])
async def test_variables_beyond_their_limits_are_refused(backend: FakeBackend, caller: dict[str, str]) -> None:
    settings = facade_settings(
        MES_FACADE_LIMITS_STANDARD_MAX_VARIABLES_BYTES="200",
        MES_FACADE_LIMITS_OPERATOR_MAX_VARIABLES_BYTES="200",
        MES_FACADE_LIMITS_STANDARD_MAX_VARIABLES_DEPTH="3",
        MES_FACADE_LIMITS_OPERATOR_MAX_VARIABLES_DEPTH="3",
    )
    async with running_app(backend, settings) as client:
        fine = await client.gql(VARIABLES_QUERY, {"n": 5, "x": [[1]]}, headers=caller)
        large = await client.gql(VARIABLES_QUERY, {"n": 5, "pad": "x" * 300}, headers=caller)
        deep = await client.gql(VARIABLES_QUERY, {"n": 5, "x": [[[1]]]}, headers=caller)
        twice = await client.gql(VARIABLES_QUERY, {"n": 5, "x": [[[1]]]}, headers=caller)  # the lane's second sight
    assert fine.status_code == 200, fine.text
    assert large.status_code == 400 and code(large) == "VARIABLES_TOO_LARGE"
    assert "max_variables_bytes" in large.json()["errors"][0]["message"]
    assert large.json()["errors"][0]["extensions"]["maxBytes"] == 200
    for response in (deep, twice):
        assert response.status_code == 400 and code(response) == "VARIABLES_TOO_DEEP"
        assert "max_variables_depth" in response.json()["errors"][0]["message"]
    assert backend.calls["ListOrders"] == 1


async def test_a_batched_operation_beyond_the_variable_limits_is_refused_alone(backend: FakeBackend) -> None:
    settings = facade_settings(MES_FACADE_BATCHING="1", MES_FACADE_LIMITS_STANDARD_MAX_VARIABLES_BYTES="200")
    async with running_app(backend, settings) as client:
        body = [
            {"query": VARIABLES_QUERY, "variables": {"n": 1}},
            {"query": VARIABLES_QUERY, "variables": {"n": 1, "pad": "x" * 300}},
        ]
        response = await client.http.post("/graphql", json=body, headers=PARTNER_A)
    first, second = response.json()
    assert "data" in first and second["errors"][0]["extensions"]["code"] == "VARIABLES_TOO_LARGE"
    assert_rate_headers(response)


# -- every partner response carries the RateLimit headers ----------------------------------------


async def test_a_shed_partner_gets_its_rate_limit_headers(backend: FakeBackend) -> None:
    backend.delay["ListOrders"] = 0.2
    settings = facade_settings(MES_FACADE_MAX_INFLIGHT="1", MES_FACADE_ADMISSION_WAIT_S="0.05", MES_FACADE_CACHE="0")
    async with running_app(backend, settings) as client:
        await client.gql(QUERY, headers=PARTNER_A)  # the key is known
        responses = await asyncio.gather(*(client.gql(QUERY, headers=PARTNER_A) for _ in range(3)))
        shed_operator = await asyncio.gather(*(client.gql(QUERY) for _ in range(2)))
    shed = [r for r in responses if r.status_code == 503]
    assert len(shed) == 2
    for response in shed:
        assert code(response) == "OVERLOADED" and response.headers["retry-after"] == "1"
        assert_rate_headers(response)
    assert sorted(r.status_code for r in shed_operator) == [200, 503]


async def test_admission_comes_after_authentication(backend: FakeBackend) -> None:
    """A request waits for its turn knowing its caller: an unknown key is a 401 at once (not a 503),
    a partner shed after waiting on a full replica gets its own RateLimit headers, and the caller
    holding the only slot is not disturbed."""
    backend.delay["ListOrders"] = 0.5
    settings = facade_settings(MES_FACADE_MAX_INFLIGHT="1", MES_FACADE_ADMISSION_WAIT_S="0.05", MES_FACADE_CACHE="0")
    async with running_app(backend, settings) as client:
        holder = asyncio.create_task(client.gql(QUERY, headers=PARTNER_A))
        for _ in range(500):  # until the holder is in flight
            if backend.calls["ListOrders"]:
                break
            await asyncio.sleep(0.01)
        shed = await client.gql(QUERY, headers=PARTNER_B)
        unknown = await client.gql(QUERY, headers={"X-API-Key": api_keys.issue()})
        assert (await holder).status_code == 200
        answered = await client.gql(QUERY, headers=PARTNER_B)
    assert shed.status_code == 503 and code(shed) == "OVERLOADED" and shed.headers["retry-after"] == "1"
    assert_rate_headers(shed)
    assert unknown.status_code == 401 and code(unknown) == "UNAUTHENTICATED"
    assert answered.status_code == 200


async def test_cached_partner_sees_what_partner_resolved(client: FacadeClient, backend: FakeBackend) -> None:
    authenticator = client.facade.authenticator
    assert authenticator.cached_partner(PARTNER_A_KEY) is None
    viewer = await authenticator.partner(PARTNER_A_KEY)
    assert authenticator.cached_partner(PARTNER_A_KEY) == viewer
    unknown = api_keys.issue()  # well-formed: the service is asked, and says no
    with pytest.raises(Exception, match="not valid"):
        await authenticator.partner(unknown)
    assert authenticator.cached_partner(unknown) is None  # remembered as unknown: still no viewer
    calls = backend.calls["AuthenticatePartner"]
    authenticator.forget_all()
    assert authenticator.cached_partner(PARTNER_A_KEY) is None
    assert backend.calls["AuthenticatePartner"] == calls


async def test_refused_partner_requests_carry_both_policies(backend: FakeBackend) -> None:
    add_full_pages(backend, "partner-a")
    settings = throttling_settings(MES_FACADE_LIMITS_STANDARD_MAX_BODY_BYTES="2000")
    async with running_app(backend, settings) as client:
        invalid = await client.gql("{ nope }", headers=PARTNER_A)
        too_costly = await client.gql("{ orders(first: 100) { nodes { id } } }", headers=PARTNER_A)
        not_json = await client.http.post("/graphql", content=b"{nope", headers={**PARTNER_A, **JSON})
        chunked = Upload(padded(3000))
        too_large = await client.http.post("/graphql", content=chunked, headers={**PARTNER_A, **JSON})
        declared = await client.http.post("/graphql", content=padded(3000), headers={**PARTNER_A, **JSON})
        answered = [await client.gql(QUERY, headers=PARTNER_A) for _ in range(6)]
    assert invalid.status_code == 400 and too_costly.status_code == 400 and not_json.status_code == 400
    assert too_large.status_code == 413 and declared.status_code == 413
    throttled = answered[-1]
    assert throttled.status_code == 429 and code(throttled) == "THROTTLED"
    assert "retry-after" in throttled.headers
    for response in (invalid, too_costly, not_json, too_large, declared, *answered):
        assert_rate_headers(response)

    async with running_app(backend, facade_settings(MES_FACADE_LIMITS_STANDARD_REQUESTS_PER_MINUTE="2")) as client:
        statuses = [(await client.gql(QUERY, headers=PARTNER_A)).status_code for _ in range(2)]
        limited = await client.gql(QUERY, headers=PARTNER_A)
    assert statuses == [200, 200]
    assert limited.status_code == 429 and code(limited) == "RATE_LIMITED" and "retry-after" in limited.headers
    assert_rate_headers(limited)
    assert '"requests";r=0' in limited.headers["ratelimit"]
