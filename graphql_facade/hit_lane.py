"""The hit lane: operators' ``POST /graphql`` requests answered from the response cache, in front of
Starlette (no routing, no request or response objects, no tracing: a hit logs nothing and calls
nothing).

A request takes the lane when it carries an operator's bearer token, a JSON body the lane has seen
before (the same bytes: its parsed operation and cache key are kept, at most ``_MEMO`` bodies of up
to ``_MAX_BODY`` bytes, nested at most 128 levels, variables within the operators' limits), no
``x-mes-min-position`` and no database position (``x-mes-db-position``, the ``mes_pos`` cookie:
:mod:`graphql_facade.read_your_writes`), and the response cache holds a fresh answer or
a stale one within the bound (then one recomputation starts, as on the endpoint), and, when the
process records spans, no sampled ``traceparent`` (a caller that asks for its request to be traced
gets the traced path: a server span, the hit served by the endpoint). The lane does
what the endpoint does for such a request, in the same order: fair admission (a slot free now for the
operator, else the endpoint queues it), the body size and
the requests-per-minute limit (their errors answered the same way), the answer with its
``extensions.cost`` and RateLimit headers, the request metrics. Everything else (first sight of a
body, another audience, GET, batches, a miss) goes on to the app with the body it sent.
"""

from __future__ import annotations

import time
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Viewer
from graphql_facade.errors import FacadeError
from graphql_facade.limits import LimitError, check_variables, merge_rate_limit_headers, query_hash
from graphql_facade.metrics import record_operation, record_request
from graphql_facade.pipeline import FairGate, Operation, Outcome, Pipeline, Source, operation_from
from graphql_facade.pipeline.lookup import CacheSlot, operator_hit
from graphql_facade.pipeline.request import error_body, parse_json
from graphql_facade.read_your_writes import POSITION_COOKIE, POSITION_HEADER
from graphql_facade.response_cache import MIN_POSITION_HEADER
from graphql_facade.runtime import Facade
from mes_platform.telemetry.tracing import parse_traceparent, tracing_enabled

__all__ = ["HitLane", "Parts"]

_MEMO = 512
_MAX_BODY = 16 * 1024
#: What a POST may run (the endpoint's rule); the lane only ever recomputes queries.
_POST = frozenset({StrawberryOperationType.QUERY, StrawberryOperationType.MUTATION})
_JSON = b"application/json"
_GRAPHQL_JSON = b"application/graphql-response+json"
_MIN_POSITION = MIN_POSITION_HEADER.encode()
_DB_POSITION = POSITION_HEADER.encode()
_DB_COOKIE = POSITION_COOKIE.encode() + b"="
_TRACEPARENT = b"traceparent"


class Parts(Protocol):
    """Where the lane finds the opened facade and the endpoint's in-flight gate (None while starting)."""

    @property
    def facade(self) -> Facade | None: ...

    @property
    def gate(self) -> FairGate | None: ...


class _Known:
    """A body seen before: its operation, where its answer is kept, and how to recompute it."""

    __slots__ = ("key", "op", "source")

    def __init__(self, op: Operation, source: Source, key: str) -> None:
        self.op = op
        self.source = source
        self.key = key


class _Lane:
    def __init__(self, facade: Facade) -> None:
        self.facade = facade
        self.pipeline = Pipeline(facade)
        self.known: dict[bytes, _Known | None] = {}

    def recall(self, body: bytes) -> _Known | None:
        """The operation of a body seen before; the first sight is remembered (None: not for the lane)."""
        if body in self.known:
            return self.known[body]
        known = _known(body, self.facade)
        if len(self.known) >= _MEMO:
            self.known.pop(next(iter(self.known)))
        self.known[body] = known
        return known


def _known(body: bytes, facade: Facade) -> _Known | None:
    responses = facade.responses
    if responses is None:
        return None
    try:
        op = operation_from(parse_json(body))
        check_variables(op.variables, facade.limits.for_operator())
    except (FacadeError, LimitError):
        return None  # the endpoint answers it (400)
    if op.persisted_hash is not None:
        source = Source(None, op.persisted_hash)
    elif op.query and not op.extensions:
        source = Source(op.query, query_hash(op.query))
    else:
        return None  # persisted-query registration and other extensions: the endpoint's
    key = responses.key(
        scope="operator", document_id=source.document_id, operation_name=op.operation_name, variables=op.variables
    )
    return _Known(op, source, key)


def _sampled(traceparent: bytes) -> bool:
    """Whether a ``traceparent`` asks for a recorded span here (spans are recorded and it is sampled)."""
    if not tracing_enabled():
        return False
    parsed = parse_traceparent(traceparent.decode("latin-1"))
    return parsed is not None and parsed.sampled


class HitLane:
    """ASGI middleware: serves what it can (see the module), hands everything else to ``app``."""

    def __init__(self, app: ASGIApp, parts: Parts) -> None:
        self._app = app
        self._parts = parts
        self._lane: _Lane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        facade = self._parts.facade
        if (
            facade is None
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != "/graphql"
            or facade.responses is None
        ):
            await self._app(scope, receive, send)
            return
        lane = self._lane
        if lane is None or lane.facade is not facade:
            lane = self._lane = _Lane(facade)
        token = accept = b""
        json_body = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = value
            elif name == b"accept":
                accept = value
            elif name == b"content-type":
                json_body = b"json" in value
            elif name in (b"x-api-key", _MIN_POSITION, _DB_POSITION) or (name == b"cookie" and _DB_COOKIE in value):
                json_body = False  # partners and read-your-writes: the endpoint's
                break
            elif name == _TRACEPARENT and _sampled(value):
                json_body = False  # to be traced: the traced path's
                break
        viewer = _operator(facade, token) if json_body else None
        if viewer is None:
            await self._app(scope, receive, send)
            return
        read, body = await _read_body(receive)
        replay = _replay(read, receive)
        if body is None:
            await self._app(scope, replay, send)
            return
        known = lane.recall(body)
        if known is None or not await self._serve(lane, viewer, known, body, accept, send):
            await self._app(scope, replay, send)

    async def _serve(self, lane: _Lane, viewer: Viewer, known: _Known, body: bytes, accept: bytes, send: Send) -> bool:
        facade = lane.facade
        responses = facade.responses
        gate = self._parts.gate
        limits = facade.limits_for(viewer)
        if responses is None or gate is None or not gate.try_enter(viewer.rate_key, limits):
            return False  # the endpoint answers it (waiting for the caller's turn)
        started = time.perf_counter()
        slot = CacheSlot(responses, known.key)
        outcome: Outcome | None = None
        try:
            hit = slot.peek()
            if hit is None:
                return False
            try:
                rate = await facade.guard.check_request(viewer.rate_key, limits, body_size=len(body))
            except LimitError as err:
                outcome = Outcome(
                    error_body([err.to_dict()]), status=err.http_status, headers=err.headers, kind="error"
                )
            else:
                slot.count()
                if slot.stale:
                    slot.refresh(lane.pipeline.computation(viewer, limits, known.op, _POST, known.source, None))
                outcome = operator_hit(hit, limits, slot.state.value)
                outcome.headers = merge_rate_limit_headers(rate, {})
        finally:
            gate.leave(viewer.rate_key, refused=outcome is not None and outcome.status == 429)
        elapsed = time.perf_counter() - started
        record_request(viewer.audience, outcome.kind, outcome.status, outcome.cache, elapsed)
        record_operation(viewer.audience, known.op, outcome.status, outcome.body, elapsed)
        await _respond(outcome, accept, send)
        return True


def _operator(facade: Facade, authorization: bytes) -> Viewer | None:
    scheme, _, token = authorization.partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    return facade.authenticator.operator(token.strip().decode("latin-1"))


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages read and the whole body (None: longer than the lane takes, or not a body).

    Reading stops at the first message that takes the body past ``_MAX_BODY`` (so the lane holds at
    most that much plus one message, whose size the server bounds); the app gets the messages read,
    then reads the rest itself (:func:`_replay`), with its own limit."""
    read: list[Message] = []
    size = 0
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            return read, None
        size += len(message.get("body", b""))
        if size > _MAX_BODY:
            return read, None
        if not message.get("more_body", False):
            return read, b"".join(m.get("body", b"") for m in read)


def _replay(read: list[Message], receive: Receive) -> Receive:
    """``receive`` for the app: the messages the lane read, then the rest."""
    pending = list(reversed(read))

    async def again() -> Message:
        return pending.pop() if pending else await receive()

    return again


async def _respond(outcome: Outcome, accept: bytes, send: Send) -> None:
    """What ``endpoint._response`` sends (Starlette's ``Response``), without building it."""
    media = _GRAPHQL_JSON if _GRAPHQL_JSON in accept else _JSON
    headers: list[tuple[bytes, bytes]] = [
        (key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in (outcome.headers or {}).items()
    ]
    headers.append((b"content-length", str(len(outcome.body)).encode()))
    headers.append((b"content-type", media))
    await send({"type": "http.response.start", "status": outcome.status, "headers": headers})
    await send({"type": "http.response.body", "body": outcome.body})
