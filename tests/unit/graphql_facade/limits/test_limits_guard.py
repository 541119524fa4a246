"""LimitGuard: the checks in endpoint order, with memory limiters and a fake clock."""

from __future__ import annotations

import dataclasses

import pytest
from graphql import graphql_sync, parse

from graphql_facade.limits import (
    LimitCode,
    LimitError,
    LimitGuard,
    MemoryCostBucket,
    MemoryRateLimiter,
    operator_limits,
    partner_limits,
)
from tests.unit.graphql_facade.fake_clock import FakeClock
from tests.unit.graphql_facade.limits.limits_schemas import MES, ORDERS_DASHBOARD, SUBMIT_ORDER, SUBMIT_VARIABLES

STANDARD = partner_limits("STANDARD")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(50.0)


@pytest.fixture
def guard(clock: FakeClock) -> LimitGuard:
    return LimitGuard(MemoryCostBucket(clock=clock), MemoryRateLimiter(clock=clock))


async def test_admit_charges_the_requested_cost_and_settle_refunds_the_rest(guard: LimitGuard) -> None:
    document = parse(ORDERS_DASHBOARD)
    admission = await guard.admit("p1", STANDARD, MES, document, None, "Orders")
    assert admission.requested == 403
    assert admission.state.currently_available == 2000 - 403
    assert admission.headers["RateLimit"] == '"cost";r=1597;t=5'

    data = {"orders": {"totalCount": 0, "pageInfo": {"hasNextPage": False}, "edges": []}}
    result = graphql_sync(MES, ORDERS_DASHBOARD, root_value=data)
    settled = await guard.settle(admission, result.data, result.errors)
    assert settled.actual == 3
    assert settled.state.currently_available == 2000 - 3
    assert settled.extension == {
        "requestedQueryCost": 403,
        "actualQueryCost": 3,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1997.0, "restoreRate": 100.0},
    }
    assert settled.headers["RateLimit"] == '"cost";r=1997;t=1'


async def test_an_empty_bucket_throttles_with_429(guard: LimitGuard, clock: FakeClock) -> None:
    document = parse(ORDERS_DASHBOARD)
    for _ in range(4):
        await guard.admit("p1", STANDARD, MES, document, None, "Orders")  # 4 x 403 = 1612 -> 388 left
    with pytest.raises(LimitError) as info:
        await guard.admit("p1", STANDARD, MES, document, None, "Orders")
    error = info.value
    assert (error.code, error.http_status) == ("THROTTLED", 429)
    assert error.headers["Retry-After"] == "1"  # (403 - 388) / 100 = 0.15 s
    assert error.extensions["cost"]["throttleStatus"]["currentlyAvailable"] == 388.0
    clock.now += 0.16
    await guard.admit("p1", STANDARD, MES, document, None, "Orders")
    await guard.admit("p2", STANDARD, MES, document, None, "Orders")  # other partners are unaffected


async def test_structure_and_cost_are_checked_before_anything_is_charged(guard: LimitGuard) -> None:
    with pytest.raises(LimitError) as info:
        await guard.admit("p1", STANDARD, MES, parse(ORDERS_DASHBOARD), {"first": 50}, "Orders")
    assert info.value.code == LimitCode.MAX_COST_EXCEEDED
    with pytest.raises(LimitError) as info:
        await guard.admit("p1", STANDARD, MES, parse("{ orders { totalCount } }"), None, None)
    assert info.value.code == LimitCode.PAGINATION_ARGUMENT_REQUIRED
    deep = (
        "{ orders(first: 1) { edges { node { lines(first: 1) { nodes { style {"
        " stones(first: 1) { nodes { code } } } } } } } } }"
    )
    with pytest.raises(LimitError) as info:
        await guard.admit("p1", dataclasses.replace(STANDARD, max_depth=7), MES, parse(deep), None, None)
    assert info.value.code == LimitCode.QUERY_TOO_DEEP
    admission = await guard.admit("p1", STANDARD, MES, parse("{ viewer { name } }"), None, None)
    assert admission.state.currently_available == 1999.0  # nothing was taken by the refused ones


async def test_operators_are_measured_but_not_throttled(guard: LimitGuard) -> None:
    document = parse(ORDERS_DASHBOARD)
    limits = operator_limits()
    for _ in range(100):
        admission = await guard.admit("op", limits, MES, document, {"first": 100}, "Orders")
    assert admission.requested == 2003
    assert admission.state.currently_available == float(limits.bucket_capacity)
    settled = await guard.settle(admission, None)
    assert settled.extension["actualQueryCost"] == 2003
    with pytest.raises(LimitError) as info:
        await guard.admit("op", dataclasses.replace(limits, max_cost=2000), MES, document, {"first": 100}, "Orders")
    assert info.value.code == LimitCode.MAX_COST_EXCEEDED


async def test_submissions_are_rate_limited_per_partner(guard: LimitGuard) -> None:
    limits = dataclasses.replace(STANDARD, submissions_per_minute=3)
    document = parse(SUBMIT_ORDER)
    assert guard.submissions(document, None) == 1
    for _ in range(3):
        await guard.admit("p1", limits, MES, document, SUBMIT_VARIABLES, None)
    with pytest.raises(LimitError) as info:
        await guard.admit("p1", limits, MES, document, SUBMIT_VARIABLES, None)
    assert (info.value.code, info.value.extensions["policy"]) == ("RATE_LIMITED", "submissions")
    assert info.value.headers["Retry-After"] == "20"
    await guard.admit("p2", limits, MES, document, SUBMIT_VARIABLES, None)
    await guard.admit("p1", limits, MES, parse("{ viewer { name } }"), None, None)  # queries are not submissions


def test_submissions_are_counted_through_aliases_and_fragments(guard: LimitGuard) -> None:
    query = """mutation($i: SubmitOrderInput!) {
        a: submitOrder(input: $i) { order { id } }
        ... on Mutation { b: submitOrder(input: $i) { order { id } } }
        ...More
        cancelOrder(id: 1) { order { id } }
    }
    fragment More on Mutation { c: submitOrder(input: $i) { order { id } } }"""
    assert guard.submissions(parse(query), None) == 3
    assert guard.submissions(parse("{ viewer { name } }"), None) == 0


async def test_check_request(guard: LimitGuard) -> None:
    limits = dataclasses.replace(STANDARD, requests_per_minute=2)
    headers = await guard.check_request("p1", limits, body_size=100, operations=1)
    assert headers == {"RateLimit-Policy": '"requests";q=2;w=60', "RateLimit": '"requests";r=1;t=30'}
    await guard.check_request("p1", limits, body_size=100)
    with pytest.raises(LimitError) as info:
        await guard.check_request("p1", limits, body_size=100)
    assert (info.value.code, info.value.extensions["policy"]) == ("RATE_LIMITED", "requests")
    with pytest.raises(LimitError) as info:
        await guard.check_request("p2", limits, body_size=2_000_000)
    assert info.value.code == LimitCode.PAYLOAD_TOO_LARGE
    with pytest.raises(LimitError) as info:
        await guard.check_request("p2", limits, body_size=10, operations=6)
    assert info.value.code == LimitCode.BATCH_TOO_LARGE
    assert guard.check_query("{ a }", limits) == 3
