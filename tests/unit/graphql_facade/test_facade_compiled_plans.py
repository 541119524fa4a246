"""Compiled plans: which documents get one, how they are cached, what falls back to Strawberry, and the
registry that must know every field a query can reach."""

from __future__ import annotations

import hashlib

import pytest
from graphql import GraphQLObjectType, get_named_type, is_object_type, parse
from graphql.execution.values import VariableValues

from graphql_facade.compiled import PlanCache, Unsupported, compile_plan
from graphql_facade.compiled.pages import CONNECTION, EDGE, PAGE_INFO
from graphql_facade.pipeline.execute import EXECUTIONS
from graphql_facade.response_cache import LIVE_FIELDS
from graphql_facade.schema import build_schemas
from mes.orders.v1 import orders_pb2 as ords
from tests.unit.graphql_facade.conftest import PARTNER_A, FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend


def runs(path: str) -> float:
    return float(EXECUTIONS.labels(path)._value.get())


def reachable_fields(root: GraphQLObjectType) -> set[tuple[str, str]]:
    """Every (type, field) a query can select, from the query type down (but the live root fields:
    partners' webhook endpoints, never cached, run on Strawberry only)."""
    seen: set[str] = set()
    fields: set[tuple[str, str]] = set()
    todo = [root]
    while todo:
        kind = todo.pop()
        if kind.name in seen:
            continue
        seen.add(kind.name)
        for name, definition in kind.fields.items():
            if kind is root and name in LIVE_FIELDS:
                continue
            fields.add((kind.name, name))
            named = get_named_type(definition.type)
            if is_object_type(named):
                todo.append(named)
    return fields


@pytest.mark.parametrize("audience", ["operator", "partner"])
def test_the_registry_knows_every_field_a_query_reaches(audience: str) -> None:
    schemas = build_schemas()
    schema = schemas.for_audience(audience)[1].graphql
    assert schema.query_type is not None
    specs = PlanCache().specs[audience]
    missing = []
    for kind, name in sorted(reachable_fields(schema.query_type)):
        own = specs.get(kind)
        if own is None:
            own = CONNECTION if kind.endswith("Connection") else EDGE if kind.endswith("Edge") else None
            own = PAGE_INFO if kind == "PageInfo" else own
        if own is None or name not in own:
            missing.append(f"{kind}.{name}")
    assert missing == []


def test_no_resolver_middleware_or_field_extensions() -> None:
    """Nothing runs per field on the generic path either: no schema extension resolves, no field has extensions."""
    schemas = build_schemas()
    for schema in (schemas.operator, schemas.partner):
        assert not any(extension._implements_resolve() for extension in schema.get_extensions())
        for definition in schema.schema_converter.type_map.values():
            for field in getattr(definition.definition, "fields", ()):
                assert not field.extensions, field.name


def test_unsupported_documents_say_why() -> None:
    schema = build_schemas().operator_documents.graphql
    none = VariableValues({}, {})
    for query, reason in (
        ("{ __schema { queryType { name } } }", "introspection"),
        ('mutation { cancelOrder(id: "o1") { id } }', "mutation operations"),
        ("{ orders(first: 1) { nodes { id } } }", "Query.orders"),
    ):
        specs = {} if reason == "Query.orders" else PlanCache().specs["operator"]
        with pytest.raises(Unsupported, match=reason):
            compile_plan(schema, specs, parse(query), None, none)


async def test_introspection_and_mutations_run_on_strawberry(client: FacadeClient, backend: FakeBackend) -> None:
    order = backend.add_order("partner-a", status=ords.ORDER_STATUS_READY_TO_SHIP)
    before = runs("compiled"), runs("generic")
    introspection = await client.gql('{ __type(name: "Order") { name } }')
    assert introspection.json()["data"] == {"__type": {"name": "Order"}}
    shipped = await client.gql(f'mutation {{ shipOrder(id: "{order.order_id}") {{ id status }} }}')
    assert shipped.json()["data"]["shipOrder"]["status"] == "SHIPPED"
    assert (runs("compiled"), runs("generic")) == (before[0], before[1] + 2)


async def test_a_plan_per_document_and_values_of_its_conditions(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a", lines=2)
    query = "query($l: Boolean!) { orders(first: 5) { nodes { id lines @include(if: $l) { size } } } }"
    answers = [await client.gql(query, {"l": flag}) for flag in (True, False, True, False)]
    assert "lines" in answers[0].json()["data"]["orders"]["nodes"][0]
    assert "lines" not in answers[1].json()["data"]["orders"]["nodes"][0]
    plans = client.facade.plans
    assert plans is not None
    document_id = hashlib.sha256(query.encode()).hexdigest()
    document = parse(query)
    entry = plans.entry("operator", document_id, document, None)
    assert entry.conditions == ("l",) and len(entry.plans) == 2


async def test_persisted_and_ad_hoc_documents_both_run_compiled(backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    query = "{ orders(first: 5) { nodes { id status } } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    async with running_app(backend, facade_settings(MES_FACADE_CACHE="0")) as client:
        before = runs("compiled")
        ad_hoc = await client.gql("{ orders(first: 5) { nodes { id } } }", headers=PARTNER_A)
        registered = await client.gql(query, extensions=persisted, headers=PARTNER_A)
        by_hash = await client.http.post("/graphql", json={"extensions": persisted}, headers=PARTNER_A)
        assert ad_hoc.status_code == registered.status_code == by_hash.status_code == 200
        assert registered.json()["data"] == by_hash.json()["data"]
        assert runs("compiled") == before + 3


async def test_the_request_timeout_stops_a_compiled_run(backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    backend.delay["ListWorkOrders"] = 2.0
    settings = facade_settings(MES_FACADE_CACHE="0", MES_FACADE_LIMITS_OPERATOR_REQUEST_TIMEOUT_S="0.1")
    async with running_app(backend, settings) as client:
        answer = await client.gql("{ orders(first: 5) { nodes { id workOrders { id } } } }")
    assert answer.status_code == 504
    assert answer.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"


async def test_merged_object_fields_leave_the_cost_to_the_walker(client: FacadeClient, backend: FakeBackend) -> None:
    """A field selected twice is charged twice by the cost model: such plans do not count during execution."""
    backend.add_order("partner-a")
    schema = client.facade.schemas.operator_documents.graphql
    specs = PlanCache().specs["operator"]
    none = VariableValues({}, {})
    twice = parse("{ orders(first: 2) { nodes { id } nodes { status } } }")
    once = parse("{ orders(first: 2) { nodes { id status } } }")
    assert not compile_plan(schema, specs, twice, None, none).counts_cost
    assert compile_plan(schema, specs, once, None, none).counts_cost
    cost = (await client.gql("{ orders(first: 2) { nodes { id } nodes { status } } }")).json()["extensions"]["cost"]
    assert cost["actualQueryCost"] == 2 + 2 * 1  # the connection, and each node once per occurrence
