"""GraphQL subscriptions over WebSocket (graphql-transport-ws) on ``/graphql``.

The connection authenticates in ``connection_init``: ``{"apiKey": "..."}`` for partners or
``{"token": "..."}`` for operators; until then nothing else is accepted (Strawberry closes
with 4401), a bad credential closes with 4403. The schema of the caller's audience is picked
at that moment. Only subscriptions run here (queries and mutations go over HTTP, where the
cost and rate limits apply); each subscription's document passes the token, depth, alias and
cost checks, counts against the caller's requests per minute, and the number per connection is
capped (``TOO_MANY_SUBSCRIPTIONS``; per partner on this replica too, see ``subscriptions``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, OperationType, get_operation_ast
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)

from graphql_facade.context import RequestContext
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.limits import LimitError, check_cost, check_document, check_subscriptions, requested_cost
from graphql_facade.runtime import Facade
from mes_platform.telemetry.logs import get_logger

__all__ = ["SubscriptionEndpoint"]

_log = get_logger("mes.facade.ws")


class _Handler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    view: SubscriptionEndpoint

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        viewer = self.context.viewer_
        if self.connection_acknowledged and viewer is not None:
            self.schema = self.view.facade.schemas.for_audience(viewer.audience)[0]

    async def _refuse(self, message: SubscribeMessage, error: FacadeError | LimitError | GraphQLError) -> None:
        payload = error.formatted if isinstance(error, GraphQLError) else error.to_dict()
        reply: ErrorMessage = {"id": message["id"], "type": "error", "payload": [payload]}  # type: ignore[list-item]
        await self.send_message(reply)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        viewer = self.context.viewer_
        if not self.connection_acknowledged or viewer is None or message["id"] in self.operations:
            await super().handle_subscribe(message)  # closes the socket (4401 / 4409)
            return
        facade = self.view.facade
        limits = facade.limits_for(viewer)
        payload = message.get("payload") or {}
        query = payload.get("query")
        if not isinstance(query, str) or not query:
            await self._refuse(message, FacadeError(ErrorCode.BAD_REQUEST, "No query in the subscribe message."))
            return
        try:
            check_subscriptions(len(self.operations), limits)
            await facade.guard.check_request(viewer.rate_key, limits, body_size=len(query.encode()))
            facade.guard.check_query(query, limits)
            schema, documents = facade.schemas.for_audience(viewer.audience)
            document = documents.parse(query)
            operation = get_operation_ast(document, payload.get("operationName"))
            if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
                raise FacadeError(
                    ErrorCode.BAD_REQUEST, "Only subscriptions run over WebSocket; use HTTP for the rest."
                )
            errors = documents.validate(query, document)
            if errors:
                raise errors[0]
            check_document(document, limits, payload.get("operationName"))
            check_cost(
                requested_cost(
                    schema._schema,
                    document,
                    payload.get("variables"),
                    payload.get("operationName"),
                    max_page_size=limits.max_page_size,
                ),
                limits,
            )
        except GraphQLSyntaxError as err:
            error = GraphQLError(err.message, source=err.source, positions=err.positions)
            error.extensions = {"code": ErrorCode.GRAPHQL_PARSE_FAILED}
            await self._refuse(message, error)
            return
        except (FacadeError, LimitError, GraphQLError) as err:
            await self._refuse(message, err)
            return
        await super().handle_subscribe(message)


class SubscriptionEndpoint(GraphQL[RequestContext, None]):
    """Strawberry's WebSocket support, with authentication and audience picked per connection."""

    graphql_transport_ws_handler_class = _Handler

    def __init__(self, facade: Facade) -> None:
        settings = facade.settings
        super().__init__(
            facade.schemas.operator,
            graphql_ide=None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_s),
            max_subscriptions_per_connection=None,
            allowed_origins=settings.ws_allowed_origins,
        )
        self.facade = facade

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RequestContext:
        return self.facade.context(None)

    async def on_ws_connect(self, context: RequestContext) -> dict[str, object] | None:
        params: dict[str, Any] = context.connection_params or {}
        try:
            viewer = await self.facade.authenticator.from_connection_params(params)
        except FacadeError as err:
            _log.info("ws_rejected", code=err.code)
            raise ConnectionRejectionError({"code": err.code}) from err
        context.viewer_ = viewer
        return {"audience": viewer.audience}
