"""Pins every use of Strawberry beyond its public API (``graphql_facade.strawberry_internals``).

A failure here means Strawberry changed something the facade relies on: read the adapter again
against the new version before changing the pin.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import get_origin

import pytest
import strawberry
from graphql import GraphQLSchema, parse, specified_rules
from graphql import validate as core_validate
from strawberry.asgi import GraphQL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from graphql_facade.schema import build_schemas
from graphql_facade.strawberry_internals import GuardedTransportWSHandler, graphql_schema, validate
from graphql_facade.ws import SubscriptionEndpoint

CHECKED_AGAINST = "0.341.2"


@strawberry.input(one_of=True)
class Pick:
    a: int | None = strawberry.UNSET
    b: int | None = strawberry.UNSET


@strawberry.type
class Query:
    @strawberry.field
    def pick(self, by: Pick) -> int:
        return 1


def test_the_adapter_was_checked_against_the_installed_strawberry() -> None:
    assert version("strawberry-graphql") == CHECKED_AGAINST, (
        "Strawberry changed: check graphql_facade/strawberry_internals.py against it, then update CHECKED_AGAINST"
    )


def test_graphql_schema_is_the_schema_strawberry_executes_with() -> None:
    schemas = build_schemas()
    for schema in (schemas.operator, schemas.partner):
        built = graphql_schema(schema)
        assert isinstance(built, GraphQLSchema)
        assert built is schemas.for_audience("partner" if schema is schemas.partner else "operator")[1].graphql
        assert built.query_type is not None and built.query_type.name == "Query"
        assert set(built.query_type.fields) >= {"orders", "styles", "alloys"}
    probe = strawberry.Schema(query=Query)
    result = probe.execute_sync("{ __schema { queryType { name } } }")
    assert result.data == {"__schema": {"queryType": {"name": "Query"}}}
    assert graphql_schema(probe).get_type("Pick") is not None


def test_validate_applies_strawberrys_own_rules_too() -> None:
    schema = graphql_schema(strawberry.Schema(query=Query))
    both = parse("{ pick(by: {a: 1, b: 2}) }")
    assert core_validate(schema, both) == []  # graphql-core alone lets it through
    assert [e.message for e in validate(schema, both, specified_rules)] == [
        "OneOf Input Object 'Pick' must specify exactly one key."
    ]
    assert validate(schema, parse("{ pick(by: {a: 1}) }"), specified_rules) == []
    assert [e.message for e in validate(schema, parse("{ nope }"), specified_rules)] == [
        "Cannot query field 'nope' on type 'Query'."
    ]


def test_the_websocket_handler_still_has_what_the_guarded_handler_uses() -> None:
    assert issubclass(GuardedTransportWSHandler, BaseGraphQLTransportWSHandler)
    assert SubscriptionEndpoint.graphql_transport_ws_handler_class.__mro__[1] is GuardedTransportWSHandler
    # The view builds its handler from this attribute (the facade's view sets it to its own subclass).
    default = GraphQL.graphql_transport_ws_handler_class
    assert (get_origin(default) or default) is BaseGraphQLTransportWSHandler
    init = inspect.signature(BaseGraphQLTransportWSHandler.__init__).parameters
    assert list(init)[:6] == ["self", "view", "websocket", "context", "root_value", "schema"]
    for method in ("handle_connection_init", "handle_subscribe", "send_message"):
        assert inspect.iscoroutinefunction(getattr(BaseGraphQLTransportWSHandler, method)), method
    source = inspect.getsource(BaseGraphQLTransportWSHandler.__init__)
    for attribute in ("self.context", "self.schema", "self.connection_acknowledged", "self.operations"):
        assert f"{attribute} =" in source or f"{attribute}:" in source, attribute


@pytest.mark.parametrize("name", ["ConnectionInitMessage", "SubscribeMessage", "ErrorMessage"])
def test_the_message_types_exist(name: str) -> None:
    from strawberry.subscriptions.protocols.graphql_transport_ws import types

    assert hasattr(types, name)


def test_the_handler_can_still_be_closed_from_outside() -> None:
    """``close_connection`` cancels ``operations`` with ``cleanup_operation`` and closes ``websocket``;
    ``connection_closed`` runs from ``shutdown``, which ``handle`` calls however the socket ended."""
    from strawberry.http.async_base_view import AsyncWebSocketAdapter

    for method in ("shutdown", "cleanup_operation"):
        assert inspect.iscoroutinefunction(getattr(BaseGraphQLTransportWSHandler, method)), method
    assert inspect.iscoroutinefunction(AsyncWebSocketAdapter.close)
    assert list(inspect.signature(AsyncWebSocketAdapter.close).parameters) == ["self", "code", "reason"]
    assert "self.websocket = websocket" in inspect.getsource(BaseGraphQLTransportWSHandler.__init__)
    handle = inspect.getsource(BaseGraphQLTransportWSHandler.handle)
    assert "finally:" in handle and "await self.shutdown()" in handle
    assert "self.operations.pop(operation_id)" in inspect.getsource(BaseGraphQLTransportWSHandler.cleanup_operation)
