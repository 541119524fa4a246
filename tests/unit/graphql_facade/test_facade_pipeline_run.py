"""Pipeline stages on their own: the in-flight gate, admit, execute and settle, then the pipeline
stringing them together (cache hits answered at the right stage)."""

from __future__ import annotations

import dataclasses

import pytest
from strawberry.types.graphql import OperationType

from graphql_facade.auth import Viewer
from graphql_facade.caching import CachedResponse
from graphql_facade.limits import BucketState, LimitCode, LimitError
from graphql_facade.pipeline import Admit, Execute, Operation, Pipeline, Prepare, Prepared, Settle
from graphql_facade.response_cache import CacheConfig, ResponseCache
from graphql_facade.runtime import Facade
from tests.unit.graphql_facade.conftest import FacadeClient
from tests.unit.graphql_facade.facade_fakes import FakeBackend

OPERATOR = Viewer("operator", "OP-01")
PARTNER = Viewer("partner", "partner-a", "partner-a", "STANDARD")
BOTH = frozenset({OperationType.QUERY, OperationType.MUTATION})
ORDERS = "{ orders(first: 10) { nodes { id } } }"


async def prepared_for(facade: Facade, viewer: Viewer, query: str) -> tuple[Operation, Prepared]:
    prepare = Prepare(facade.apq, facade.guard, facade.schemas)
    operation = Operation(query, None, None, None)
    prepared = await prepare(viewer, facade.limits_for(viewer), operation, await prepare.identify(operation), BOTH)
    assert isinstance(prepared, Prepared)
    return operation, prepared


async def test_admit_charges_partners_and_measures_operators(client: FacadeClient) -> None:
    facade = client.facade
    admit = Admit(facade.guard)
    _, prepared = await prepared_for(facade, PARTNER, ORDERS)
    limits = facade.limits_for(PARTNER)
    admission = await admit(PARTNER, limits, prepared)
    assert admission.requested == prepared.requested == 12
    assert admission.state.currently_available == limits.bucket_capacity - 12
    _, prepared = await prepared_for(facade, OPERATOR, ORDERS)
    measured = await admit(OPERATOR, facade.limits_for(OPERATOR), prepared)
    assert measured.state == BucketState.unthrottled(facade.limits_for(OPERATOR))
    tight = dataclasses.replace(limits, bucket_capacity=13, max_cost=13, restore_rate=0.001)
    await admit(PARTNER, tight, prepared)
    with pytest.raises(LimitError) as throttled:
        await admit(PARTNER, tight, prepared)
    assert throttled.value.code == LimitCode.THROTTLED


async def test_execute_runs_the_prepared_document_within_the_timeout(
    client: FacadeClient, backend: FakeBackend
) -> None:
    facade = client.facade
    backend.add_order("partner-a")
    execute = Execute(facade.context)
    operation, prepared = await prepared_for(facade, PARTNER, ORDERS)
    result = await execute(PARTNER, facade.limits_for(PARTNER), prepared, operation, BOTH)
    assert result.errors is None and len(result.data["orders"]["nodes"]) == 1  # type: ignore[index]
    backend.delay["ListOrders"] = 0.5
    quick = dataclasses.replace(facade.limits_for(PARTNER), request_timeout_s=0.05)
    with pytest.raises(LimitError) as timed_out:
        await execute(PARTNER, quick, prepared, operation, BOTH)
    assert timed_out.value.code == LimitCode.TIMEOUT


async def test_settle_answers_clean_queries_for_the_cache_and_refunds(
    client: FacadeClient, backend: FakeBackend
) -> None:
    facade = client.facade
    order = backend.add_order("partner-a")
    settle, execute, admit = Settle(facade.guard), Execute(facade.context), Admit(facade.guard)
    limits = facade.limits_for(PARTNER)
    operation, prepared = await prepared_for(facade, PARTNER, ORDERS)
    admission = await admit(PARTNER, limits, prepared)
    result = await execute(PARTNER, limits, prepared, operation, BOTH)
    answer = await settle.answer(PARTNER, limits, prepared, operation, result)
    assert answer.cost == 3 and answer.data is not None
    assert answer.reads == {"o:partner-a:*", f"order:{order.order_id}"}  # what the cache invalidates it by
    outcome = await settle.answered(PARTNER, admission, prepared, answer, "miss")
    assert (outcome.status, outcome.kind, outcome.cache) == (200, "query", "miss")
    assert outcome.body.startswith(b'{"data":' + answer.data)
    assert b'"actualQueryCost":3' in outcome.body and outcome.headers is not None and "RateLimit" in outcome.headers

    backend.fail["ListOrders"] = RuntimeError("boom")
    failing = await execute(PARTNER, limits, prepared, operation, BOTH)
    assert (await settle.answer(PARTNER, limits, prepared, operation, failing)).reads is None  # never cached
    answered = await settle(PARTNER, await admit(PARTNER, limits, prepared), prepared, failing)
    assert answered.status == 200 and b'"errors"' in answered.body and answered.cache == "none"


async def test_a_cached_partner_answer_is_refunded_to_its_measured_cost(client: FacadeClient) -> None:
    facade = client.facade
    limits = facade.limits_for(PARTNER)
    _, prepared = await prepared_for(facade, PARTNER, ORDERS)
    admission = await Admit(facade.guard)(PARTNER, limits, prepared)
    outcome = await Settle(facade.guard).cached(admission, prepared, CachedResponse(b'{"orders":{"nodes":[]}}', 3))
    assert (outcome.cache, outcome.kind) == ("hit", "query")
    assert b'"requestedQueryCost":12,"actualQueryCost":3' in outcome.body
    assert outcome.headers is not None and outcome.headers["RateLimit"].startswith(
        f'"cost";r={limits.bucket_capacity - 3}'
    )


async def test_the_pipeline_answers_operator_hits_before_parsing_and_partner_hits_after_admission(
    client: FacadeClient, backend: FakeBackend
) -> None:
    facade = client.facade
    pipeline = Pipeline(facade)
    operation = Operation(ORDERS, None, None, None)
    for viewer in (OPERATOR, PARTNER):
        limits = facade.limits_for(viewer)
        first = await pipeline.run(viewer, limits, operation, BOTH)
        backend.reset_calls()
        again = await pipeline.run(viewer, limits, operation, BOTH)
        assert (first.cache, again.cache) == ("miss", "hit") and backend.count() == {}
    unparsable = Operation("{ nope", None, None, None)
    assert (await pipeline.run(OPERATOR, facade.limits_for(OPERATOR), unparsable, BOTH)).status == 400
    empty = Pipeline(dataclasses.replace(facade, responses=ResponseCache(CacheConfig(), facade.hub)))
    assert (await empty.run(OPERATOR, facade.limits_for(OPERATOR), operation, BOTH)).cache == "miss"
    uncached = Pipeline(dataclasses.replace(facade, responses=None))
    assert (await uncached.run(OPERATOR, facade.limits_for(OPERATOR), operation, BOTH)).cache == "none"


async def test_execute_reuses_the_prepared_document(client: FacadeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DocumentCaching extension hands Strawberry the prepared document: it neither parses nor validates."""
    import strawberry.schema.schema as strawberry_schema

    def forbidden(*args: object, **kwargs: object) -> object:
        raise AssertionError("Strawberry parsed or validated a prepared document again")

    facade = client.facade
    operation, prepared = await prepared_for(facade, OPERATOR, ORDERS)
    monkeypatch.setattr(strawberry_schema, "parse", forbidden)
    monkeypatch.setattr(strawberry_schema, "validate_document", forbidden)
    result = await Execute(facade.context)(OPERATOR, facade.limits_for(OPERATOR), prepared, operation, BOTH)
    assert result.errors is None and result.data == {"orders": {"nodes": []}}
