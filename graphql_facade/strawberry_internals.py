"""Every use of Strawberry beyond its public API, in one module (checked against Strawberry 0.341.2).

``tests/unit/graphql_facade/test_facade_strawberry_internals.py`` pins each of them: it fails when
Strawberry changes one, which is the moment to look here again.

* :func:`graphql_schema`: the graphql-core schema a Strawberry schema built. Strawberry has no public
  accessor (its own extensions read ``schema._schema``); cost analysis and validation need it.
* :func:`validate`: Strawberry's validation of a document, as ``Schema.execute`` runs it: graphql-core's
  rules plus Strawberry's Maybe-null and oneOf rules (``strawberry.schema.schema.validate_document``,
  not exported).
* :class:`GuardedTransportWSHandler`: Strawberry's graphql-transport-ws handler (the view's
  ``graphql_transport_ws_handler_class``) with two hooks, so the facade never touches the handler's
  state: :meth:`~GuardedTransportWSHandler.schema_for_connection` picks the schema once the connection
  is acknowledged, :meth:`~GuardedTransportWSHandler.admit_subscription` may refuse a subscribe message
  with an ``error`` message before Strawberry runs it. Strawberry's ASGI adapter hands every text frame to
  the view's ``decode_json`` (public) and what it returns to ``handle_message`` (not public): a view returns a
  :class:`RefusedMessage` for a frame it will not decode, and the handler closes the socket with 4400 and
  its reason, as Strawberry does for invalid messages. A message that is not a JSON object, an ``id`` that is
  not a string and a ``subscribe`` payload that is not an object close it the same way (Strawberry would
  raise on them), and every close reason is cut to the 123 bytes a close frame can carry. Three more hooks
  follow a connection's credential: :meth:`~GuardedTransportWSHandler.connection_ready` (acknowledged),
  :meth:`~GuardedTransportWSHandler.connection_closed` (from Strawberry's ``shutdown``, however the socket
  ended) and an ``admit_subscription`` answer of :class:`CloseConnection`; and
  :meth:`~GuardedTransportWSHandler.close_connection` closes the socket from outside the message loop (a
  revoked key): it cancels the running operations (Strawberry's ``operations`` and ``cleanup_operation``)
  first, so none sends after the close frame, and every message received after it is ignored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

import strawberry
from graphql import DocumentNode, GraphQLError, GraphQLSchema
from graphql.validation import ASTValidationRule
from strawberry.schema.schema import validate_document
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    Message,
    SubscribeMessage,
)

__all__ = [
    "CloseConnection",
    "GuardedTransportWSHandler",
    "RefusedMessage",
    "graphql_schema",
    "validate",
]

#: What a WebSocket close frame's reason can hold (RFC 6455: 125 bytes of payload, 2 of them the code).
_MAX_CLOSE_REASON_BYTES = 123

Context = TypeVar("Context")


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema ``schema`` executes with."""
    built = schema._schema
    if not isinstance(built, GraphQLSchema):  # pragma: no cover - only when Strawberry changes
        raise TypeError(f"Strawberry's schema no longer keeps a GraphQLSchema in _schema ({type(built)!r})")
    return built


def validate(
    schema: GraphQLSchema, document: DocumentNode, rules: Sequence[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """Validation errors of ``document`` under ``rules`` and Strawberry's own rules (empty when valid)."""
    return validate_document(schema, document, tuple(rules))


class RefusedMessage:
    """What a view's ``decode_json`` returns for a WebSocket message it refuses to decode: the
    :class:`GuardedTransportWSHandler` closes the socket with 4400 and ``reason``."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"RefusedMessage({self.reason!r})"


class CloseConnection:
    """What ``admit_subscription`` returns to close the whole connection (``code``, ``reason``)
    instead of refusing one subscription."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"CloseConnection({self.code}, {self.reason!r})"


def _close_reason(reason: str) -> str:
    return reason.encode()[:_MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


class GuardedTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None], Generic[Context]):
    """Strawberry's graphql-transport-ws handler with a schema per connection and a check per subscription.

    A ``subscribe`` before ``connection_ack``, or with an id in use, goes to Strawberry as is (it closes
    the socket with 4401 / 4409).
    """

    #: Set by :meth:`close_connection`: the close frame went out, later messages are ignored.
    closed_by_server: bool = False

    def schema_for_connection(self, context: Context) -> strawberry.Schema | None:
        """The schema of an acknowledged connection (None: keep the view's)."""
        return None

    async def admit_subscription(
        self, context: Context, payload: Mapping[str, Any], active: int
    ) -> dict[str, Any] | CloseConnection | None:
        """None to run the subscription, the formatted GraphQL error to refuse it with, or
        :class:`CloseConnection` to close the connection instead.

        ``payload`` is the subscribe message's (``query``, ``variables``, ``operationName``); ``active``
        is how many operations the connection already runs.
        """
        return None

    def connection_ready(self, context: Context) -> None:
        """The connection was acknowledged (``connection_ack`` sent)."""

    def connection_closed(self, context: Context) -> None:
        """The connection ended (closed by either side, or the handler failed); called once."""

    async def close_connection(self, code: int, reason: str) -> None:
        """Close the socket with ``code`` and ``reason`` from anywhere (another task included): the running
        operations are cancelled first and every later message is ignored. Closing again does nothing."""
        if self.closed_by_server:
            return
        self.closed_by_server = True
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.websocket.close(code=code, reason=_close_reason(reason))

    async def shutdown(self) -> None:
        try:
            self.connection_closed(self.context)
        finally:
            await super().shutdown()

    async def handle_message(self, message: Message) -> None:
        received = cast(object, message)
        if self.closed_by_server:
            return
        if isinstance(received, RefusedMessage):
            await self.handle_invalid_message(received.reason)
        elif not isinstance(received, dict):
            await self.handle_invalid_message("The message is not a JSON object.")
        elif "id" in received and not isinstance(received["id"], str):
            await self.handle_invalid_message("The message id is not a string.")
        else:
            await super().handle_message(message)

    async def handle_invalid_message(self, error_message: str) -> None:
        await super().handle_invalid_message(_close_reason(error_message))

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        acknowledged = self.connection_acknowledged
        await super().handle_connection_init(message)
        if self.connection_acknowledged and not acknowledged:
            schema = self.schema_for_connection(self.context)
            if schema is not None:
                self.schema = schema
            self.connection_ready(self.context)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and message["id"] not in self.operations:
            payload: object = message.get("payload", {})
            if not isinstance(payload, dict):
                await self.handle_invalid_message("The subscribe payload is not a JSON object.")
                return
            refusal = await self.admit_subscription(self.context, payload, len(self.operations))
            if isinstance(refusal, CloseConnection):
                await self.close_connection(refusal.code, refusal.reason)
                return
            if self.closed_by_server:  # closed from elsewhere while admitting
                return
            if refusal is not None:
                reply: ErrorMessage = {"id": message["id"], "type": "error", "payload": [refusal]}  # type: ignore[list-item]
                await self.send_message(reply)
                return
        await super().handle_subscribe(message)
