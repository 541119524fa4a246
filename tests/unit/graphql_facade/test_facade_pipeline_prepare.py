"""Pipeline stages on their own: the request's operation, the cache lookup and prepare (APQ, parse,
operation, structure, type, validation, cost)."""

from __future__ import annotations

import dataclasses

import pytest
from strawberry.types.graphql import OperationType

from graphql_facade.auth import Viewer
from graphql_facade.caching import CachedResponse
from graphql_facade.errors import FacadeError
from graphql_facade.events import EventHub
from graphql_facade.limits import (
    LimitCode,
    LimitError,
    LimitGuard,
    MemoryCostBucket,
    MemoryRateLimiter,
    PersistedQueryStore,
    operator_limits,
    partner_limits,
    query_hash,
)
from graphql_facade.pipeline import CacheLookup, Operation, Outcome, Prepare, Prepared, operation_from
from graphql_facade.pipeline.lookup import operator_hit
from graphql_facade.pipeline.request import response_body
from graphql_facade.response_cache import CacheConfig, ResponseCache
from graphql_facade.schema import build_schemas

OPERATOR = Viewer("operator", "OP-01")
PARTNER = Viewer("partner", "acme", "acme", "STANDARD")
STANDARD = partner_limits("STANDARD")
BOTH = frozenset({OperationType.QUERY, OperationType.MUTATION})
ORDERS = "query Board($n: Int!) { orders(first: $n) { nodes { id } } }"
SCHEMAS = build_schemas()


def op(query: str | None, variables: dict[str, object] | None = None, **kwargs: object) -> Operation:
    return Operation(query, variables, kwargs.get("name"), kwargs.get("extensions"))  # type: ignore[arg-type]


@pytest.fixture
def prepare() -> Prepare:
    return Prepare(PersistedQueryStore(), LimitGuard(MemoryCostBucket(), MemoryRateLimiter()), SCHEMAS)


# -- the operation of a request body -------------------------------------------------------------


def test_operation_from_a_body_item() -> None:
    parsed = operation_from({"query": "{ a }", "variables": {"x": 1}, "operationName": "", "extensions": {}})
    assert parsed == Operation("{ a }", {"x": 1}, None, {})
    for bad in ([], {"query": 1}, {"variables": []}, {"operationName": 2}, {"extensions": "x"}):
        with pytest.raises(FacadeError, match="must"):
            operation_from(bad)


def test_only_a_well_formed_hash_only_request_is_a_persisted_hash() -> None:
    digest = "A" * 64
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    assert op(None, extensions=persisted).persisted_hash == digest.lower()
    assert op("{ a }", extensions=persisted).persisted_hash is None  # a query is registered, not looked up
    assert op(None, extensions={"persistedQuery": {"version": 2, "sha256Hash": digest}}).persisted_hash is None
    assert op(None, extensions={"persistedQuery": {"version": 1, "sha256Hash": "xyz"}}).persisted_hash is None


# -- cache lookup ---------------------------------------------------------------------------------


def test_the_slot_is_per_tenant_and_absent_where_caching_is_off() -> None:
    responses: ResponseCache[object] = ResponseCache(CacheConfig(), EventHub())
    lookup = CacheLookup(responses, partners=True)
    operation = op(ORDERS, {"n": 5})
    operator_slot = lookup.slot(OPERATOR, operation, "doc")
    partner_slot = lookup.slot(PARTNER, operation, "doc")
    assert operator_slot is not None and partner_slot is not None
    assert operator_slot.key != partner_slot.key and ":partner:acme:" in partner_slot.key
    assert lookup.slot(OPERATOR, op(ORDERS, {"n": 6}), "doc") != operator_slot
    assert CacheLookup(responses, partners=False).slot(PARTNER, operation, "doc") is None
    assert CacheLookup(None, partners=True).slot(OPERATOR, operation, "doc") is None
    needing = lookup.slot(OPERATOR, operation, "doc", "ORDERS:12,production:3")
    assert needing is not None and needing.needed == {"ORDERS": 12, "PRODUCTION": 3}
    assert needing.key == operator_slot.key  # the positions a request needs are not part of the key
    with pytest.raises(FacadeError, match="x-mes-min-position"):
        lookup.slot(OPERATOR, operation, "doc", "ORDERS:twelve")


def test_an_operator_hit_reports_the_cost_measured_at_store_time() -> None:
    outcome = operator_hit(CachedResponse(b'{"a":1}', 7), operator_limits())
    assert outcome.cache == "hit" and outcome.status == 200 and outcome.headers is None
    assert outcome.body.startswith(b'{"data":{"a":1},"extensions":{"cost":{"requestedQueryCost":7,')
    assert response_body(None, None, None) == b'{"data":null}'


# -- prepare --------------------------------------------------------------------------------------


async def test_identify_keeps_a_hash_and_hashes_a_text(prepare: Prepare) -> None:
    digest = query_hash(ORDERS)
    hashed = await prepare.identify(op(None, extensions={"persistedQuery": {"version": 1, "sha256Hash": digest}}))
    assert (hashed.query, hashed.document_id) == (None, digest)
    plain = await prepare.identify(op(ORDERS))
    assert (plain.query, plain.document_id) == (ORDERS, digest)


async def test_a_runnable_document_is_parsed_validated_and_priced(prepare: Prepare) -> None:
    operation = op(ORDERS, {"n": 10})
    prepared = await prepare(PARTNER, STANDARD, operation, await prepare.identify(operation), BOTH)
    assert isinstance(prepared, Prepared)
    assert (prepared.kind, prepared.requested) == ("query", 2 + 10 * 1)
    assert prepared.schema is SCHEMAS.partner and prepared.graphql is SCHEMAS.partner_documents.graphql
    mutation = op('mutation { cancelOrder(id: "o") { id } }')
    prepared = await prepare(PARTNER, STANDARD, mutation, await prepare.identify(mutation), BOTH)
    assert isinstance(prepared, Prepared) and prepared.kind == "mutation" and prepared.requested == 10


@pytest.mark.parametrize(
    ("query", "name", "code"),
    [
        ("{ orders(first: 5) { nodes { id } ", None, "GRAPHQL_PARSE_FAILED"),
        ("query A { styles(first: 1) { nodes { sku } } }", "B", "BAD_REQUEST"),
        ("{ orders(first: 5) { nodes { nope } } }", None, "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_a_document_that_cannot_run_is_answered_400(
    prepare: Prepare, query: str, name: str | None, code: str
) -> None:
    operation = op(query, name=name)
    outcome = await prepare(PARTNER, STANDARD, operation, await prepare.identify(operation), BOTH)
    assert isinstance(outcome, Outcome) and (outcome.status, outcome.kind) == (400, "invalid")
    assert f'"code":"{code}"'.encode() in outcome.body


async def test_subscriptions_mutations_over_get_and_limits_raise(prepare: Prepare) -> None:
    async def run(query: str, allowed: frozenset[OperationType] = BOTH, **limits: int) -> object:
        operation = op(query, {"n": 5})
        chosen = dataclasses.replace(STANDARD, **limits)
        return await prepare(PARTNER, chosen, operation, await prepare.identify(operation), allowed)

    with pytest.raises(FacadeError) as subscription:
        await run("subscription { orderStatusChanged { __typename } }")
    assert subscription.value.http_status == 400
    with pytest.raises(FacadeError) as over_get:
        await run('mutation { cancelOrder(id: "o") { id } }', frozenset({OperationType.QUERY}))
    assert over_get.value.http_status == 405
    with pytest.raises(LimitError) as costly:
        await run(ORDERS, max_cost=5)
    assert costly.value.code == LimitCode.MAX_COST_EXCEEDED
    with pytest.raises(LimitError) as deep:
        await run("{ orders(first: 1) { nodes { lines { style { sku } } } } }", max_depth=2)
    assert deep.value.code == LimitCode.QUERY_TOO_DEEP
