"""Compiled plans against the real services: every shipped document answers what Strawberry answers,
for operators and partners, with the same backend calls."""

from __future__ import annotations

from collections import Counter
from typing import Any

from graphql_facade.backend import open_backend
from graphql_facade.pipeline.execute import EXECUTIONS
from tests.integration.graphql_facade.conftest import facade_app
from tests.integration.graphql_facade.facade_stack import (
    OPERATOR,
    CountingInterceptor,
    Stack,
    create_partner,
    seed_orders,
)
from tests.unit.graphql_facade.test_facade_compiled_differential import comparable, shipped_documents


async def answers(stack: Stack, compiled: bool, requests: list[tuple[str, dict[str, Any], dict[str, str]]]) -> Any:
    counter = CountingInterceptor()
    settings = stack.facade_settings(MES_FACADE_CACHE="0", MES_FACADE_COMPILED="1" if compiled else "0")
    found = []
    async with facade_app(settings, backend=open_backend(settings, interceptors=[counter])) as facade:
        for query, variables, headers in requests:
            response = await facade.gql(query, variables, headers=headers)
            found.append(comparable(response.status_code, response.json()))
    return found, Counter(counter.calls)


async def test_shipped_documents_answer_the_same_on_both_paths(stack: Stack) -> None:
    key = await create_partner(stack, "acme")
    ids = await seed_orders(stack, "acme", 12)
    partner = {"X-API-Key": key}
    variables = {"first": 10, "queue": 3, "id": ids[0]}
    requests = [(query, variables, headers) for _, query in shipped_documents() for headers in (OPERATOR, partner)]
    before = float(EXECUTIONS.labels("compiled")._value.get())
    fast, fast_calls = await answers(stack, True, requests)
    compiled = float(EXECUTIONS.labels("compiled")._value.get()) - before
    slow, slow_calls = await answers(stack, False, requests)
    assert fast == slow
    del fast_calls["AuthenticatePartner"], slow_calls["AuthenticatePartner"]  # the key cache's TTL, not execution
    assert fast_calls == slow_calls  # the same backend calls, one per RPC and level
    assert compiled >= len([status for status, body in fast if status == 200 and "data" in body]) - 2  # mutations
    assert any(status == 200 and body.get("data", {}).get("orders") for status, body in fast)
