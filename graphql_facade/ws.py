"""GraphQL subscriptions over WebSocket (graphql-transport-ws) on ``/graphql``.

The connection authenticates in ``connection_init``: ``{"apiKey": "..."}`` for partners or
``{"token": "..."}`` for operators; until then nothing else is accepted (Strawberry closes
with 4401), a bad credential closes with 4403. The schema of the caller's audience is picked
at that moment. Only subscriptions run here (queries and mutations go over HTTP, where the
cost and rate limits apply); each subscription's document passes the token, depth, alias and
cost checks, counts against the caller's requests per minute, and the number per connection is
capped (``TOO_MANY_SUBSCRIPTIONS``; per partner on this replica too, see ``subscriptions``); its
``variables`` have the size and depth limits of the caller's tier (``VARIABLES_TOO_LARGE``,
``VARIABLES_TOO_DEEP``), answered with an ``error`` message like the other refusals.

Every message is bounded before Strawberry sees it: one larger than ``MES_FACADE_WS_MAX_MESSAGE_BYTES``
(UTF-8 bytes) or nested deeper than 128 levels (the limit of HTTP bodies) closes the socket with 4400
(the protocol's code for invalid messages) and a short reason, as do a message that is not JSON or
not a JSON object.

A partner's connection keeps the API key it authenticated with (in its own memory only, never logged)
and is registered, by partner id and the key's SHA-256, in the replica's
:class:`~graphql_facade.partner_sockets.PartnerSockets`. Its key is re-checked through the Authenticator
(served by its key cache) before every ``subscribe`` message and by the registry's periodic sweep; a
revocation or rotation event closes it at once on every replica. A key that no longer holds closes the
connection with 4403 ``API key revoked``. The connection's tier follows the partner's: a tier change (the
event, or the re-check's answer) applies the new tier's limits to the next subscriptions, without closing.

An operator's browser may authenticate with the session cookie instead (``connection_init`` without
``token`` or ``apiKey``; the cookie came with the handshake): then the handshake's ``Origin`` must be the
facade's own (``graphql_facade.sessions``), else the socket is closed with 4403 like any refused
credential; and every ``subscribe`` message re-checks the session (through the sessions' cache): one
that has ended closes the socket with 4403 ``Session ended``. Tokens' and partners' sockets are unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError, OperationType, get_operation_ast
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from graphql_facade.auth import session_cookie_of
from graphql_facade.context import RequestContext
from graphql_facade.errors import ErrorCode, FacadeError, syntax_error
from graphql_facade.limits import LimitError, Priced, check_document, check_subscriptions, check_variables
from graphql_facade.metrics import WS_CREDENTIAL_CLOSES
from graphql_facade.partner_sockets import FORBIDDEN, KEY_REVOKED
from graphql_facade.pipeline.request import dumps, parse_json
from graphql_facade.runtime import Facade
from graphql_facade.sessions import own_origin, request_origin
from graphql_facade.strawberry_internals import CloseConnection, GuardedTransportWSHandler, RefusedMessage
from mes_platform.telemetry.logs import get_logger

__all__ = ["SubscriptionEndpoint"]

_log = get_logger("mes.facade.ws")
SESSION_ENDED = "Session ended"


@dataclass
class _SocketContext(RequestContext):
    """A connection's context, with what its handshake carried for a session: the cookie (never
    logged) and whether its ``Origin`` is the facade's own."""

    session_token: str = field(default="", repr=False)
    same_origin: bool = False


def _formatted(error: FacadeError | LimitError | GraphQLError) -> dict[str, Any]:
    return dict(error.formatted) if isinstance(error, GraphQLError) else error.to_dict()


def _key_digest(api_key: str) -> str:
    """The SHA-256 hex digest of a key: what the Authenticator caches it under and the revocation
    events carry."""
    return hashlib.sha256(api_key.encode()).hexdigest()


class _Handler(GuardedTransportWSHandler[RequestContext]):
    """One graphql-transport-ws connection; a partner's is a
    :class:`~graphql_facade.partner_sockets.PartnerSocket` of the replica's registry."""

    view: SubscriptionEndpoint
    #: The partner's API key (None: an operator, or not authenticated yet). Kept in this connection's
    #: memory only, to re-check it; never logged.
    _api_key: str | None = None
    _key_hash: str = ""
    _partner_id: str = ""

    @property
    def partner_id(self) -> str:
        return self._partner_id

    @property
    def key_hash(self) -> str:
        return self._key_hash

    def schema_for_connection(self, context: RequestContext) -> strawberry.Schema | None:
        viewer = context.viewer_
        return None if viewer is None else self.view.facade.schemas.for_audience(viewer.audience)[0]

    def connection_ready(self, context: RequestContext) -> None:
        viewer = context.viewer_
        key = (context.connection_params or {}).get("apiKey")
        if viewer is None or viewer.partner_id is None or not isinstance(key, str):
            return
        self._api_key = key.strip()  # as the Authenticator resolved it
        self._key_hash = _key_digest(self._api_key)
        self._partner_id = viewer.partner_id
        sockets = self.view.facade.sockets
        if sockets is not None:
            sockets.add(self)

    def connection_closed(self, context: RequestContext) -> None:
        sockets = self.view.facade.sockets
        if sockets is not None and self._api_key is not None:
            sockets.discard(self)

    async def revalidate(self) -> bool:
        """Whether the key still holds (through the Authenticator: its cache, else the orders service);
        the connection's caller, tier included, becomes the answer. FacadeError when it cannot be told."""
        key = self._api_key
        if key is None:
            return True
        try:
            viewer = await self.view.facade.authenticator.partner(key)
        except FacadeError as err:
            if err.code == ErrorCode.UNAUTHENTICATED:
                return False
            raise
        if viewer.partner_id != self._partner_id:
            return False
        if viewer != self.context.viewer_:
            self.context.viewer_ = viewer
        return True

    async def close_forbidden(self, reason: str) -> None:
        await self.close_connection(FORBIDDEN, reason)

    def follow_tier(self, tier: str) -> None:
        viewer = self.context.viewer_
        if viewer is not None and viewer.is_partner and viewer.tier != tier:
            self.context.viewer_ = replace(viewer, tier=tier)

    async def _session_holds(self, context: RequestContext) -> bool:
        """Whether a cookie-authenticated connection's session is still open (True for the others);
        FacadeError when it cannot be told."""
        viewer = context.viewer_
        if viewer is None or not viewer.session or not isinstance(context, _SocketContext):
            return True
        try:
            await self.view.facade.authenticator.session(context.session_token)
        except FacadeError as err:
            if err.code == ErrorCode.UNAUTHENTICATED:
                return False
            raise
        return True

    async def admit_subscription(
        self, context: RequestContext, payload: Mapping[str, Any], active: int
    ) -> dict[str, Any] | CloseConnection | None:
        try:
            if not await self._session_holds(context):
                _log.info("ws_closed_session_ended", operator=context.viewer.subject)
                return CloseConnection(FORBIDDEN, SESSION_ENDED)
        except FacadeError as err:
            return _formatted(err)
        if self._api_key is not None:
            try:
                valid = await self.revalidate()
            except FacadeError as err:  # the key cannot be checked now: refuse this subscription only
                return _formatted(err)
            if not valid:
                sockets = self.view.facade.sockets
                if sockets is not None:
                    sockets.discard(self)
                WS_CREDENTIAL_CLOSES.labels("subscribe").inc()
                _log.info("ws_closed_key_revoked", partner=self._partner_id, trigger="subscribe")
                return CloseConnection(FORBIDDEN, KEY_REVOKED)
        viewer = context.viewer_
        if viewer is None:
            return None
        facade = self.view.facade
        limits = facade.limits_for(viewer)
        query = payload.get("query")
        if not isinstance(query, str) or not query:
            return FacadeError(ErrorCode.BAD_REQUEST, "No query in the subscribe message.").to_dict()
        name = payload.get("operationName")
        variables = payload.get("variables")
        try:
            check_subscriptions(active, limits)
            await facade.guard.check_request(viewer.rate_key, limits, body_size=len(query.encode()))
            if variables is not None and not isinstance(variables, dict):
                raise FacadeError(ErrorCode.BAD_REQUEST, "`variables` must be an object.")
            check_variables(variables, limits)
            facade.guard.check_query(query, limits)
            documents = facade.schemas.for_audience(viewer.audience)[1]
            document = documents.parse(query)
            operation = get_operation_ast(document, name)
            if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
                raise FacadeError(
                    ErrorCode.BAD_REQUEST, "Only subscriptions run over WebSocket; use HTTP for the rest."
                )
            errors = documents.validate(query, document)
            if errors:
                raise errors[0]
            check_document(document, limits, name)
            facade.guard.price(limits, Priced(documents.graphql, document, variables, name))
        except GraphQLSyntaxError as err:
            return _formatted(syntax_error(err))
        except (FacadeError, LimitError, GraphQLError) as err:
            return _formatted(err)
        return None


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
        self._max_message_bytes = settings.ws_max_message_bytes

    def decode_json(self, data: str | bytes) -> object:
        """A message, or a :class:`RefusedMessage` (the socket closes with 4400) when it is larger than
        ``ws_max_message_bytes``, not JSON, or nested deeper than the JSON limit of HTTP bodies."""
        size = len(data) if isinstance(data, bytes) or data.isascii() else len(data.encode())
        if size > self._max_message_bytes:
            return RefusedMessage(f"The message is larger than {self._max_message_bytes} bytes.")
        try:
            return parse_json(data, "The message")
        except FacadeError as err:
            return RefusedMessage(err.message)

    def encode_json(self, data: object) -> str:
        """Messages as text frames (graphql-transport-ws), encoded by orjson."""
        return dumps(data).decode()

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RequestContext:
        context = self.facade.context(None)
        token = session_cookie_of(request.headers) if isinstance(request, WebSocket) else ""
        if not token:
            return context
        own = own_origin(request.url.scheme, request.headers.get("host", ""), self.facade.settings.public_origin)
        same = own is not None and request_origin(request.headers) == own
        base = {f.name: getattr(context, f.name) for f in fields(context)}
        return _SocketContext(**base, session_token=token, same_origin=same)

    async def on_ws_connect(self, context: RequestContext) -> dict[str, object] | None:
        params: dict[str, Any] = context.connection_params or {}
        try:
            if params.get("token") or params.get("apiKey") or not isinstance(context, _SocketContext):
                viewer = await self.facade.authenticator.from_connection_params(params)
            elif not context.same_origin:
                raise FacadeError(
                    ErrorCode.FORBIDDEN, "A socket signed in with the session cookie must come from this site."
                )
            else:
                viewer = await self.facade.authenticator.session(context.session_token)
        except FacadeError as err:
            _log.info("ws_rejected", code=err.code)
            raise ConnectionRejectionError({"code": err.code}) from err
        context.viewer_ = viewer
        return {"audience": viewer.audience}
