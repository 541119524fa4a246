"""The GraphQL-over-HTTP endpoint: the request around the staged pipeline (:mod:`graphql_facade.pipeline`).

For each request::

    a declared Content-Length above every caller's limit is refused unread (413)
    -> authenticate (401; an address with too many failed attempts: 429 unless its credential is known)
    -> signed in with the session cookie: a POST must come from the facade's own origin and be
       application/json (403 FORBIDDEN otherwise: graphql_facade.sessions, docs/adr/0005)
    -> fair admission (graphql_facade.pipeline.admit): the caller's own concurrency cap and queue,
       its turn when the replica is full (429 TOO_MANY_CONCURRENT_REQUESTS, 503 OVERLOADED)
    -> body: read as a stream (chunked or not) and reading stops at the caller's ``max_body_bytes``
       (413: the app holds at most the limit, the server discards the rest) or when it has not all
       arrived within ``MES_FACADE_BODY_TIMEOUT_S`` (408); JSON nested deeper than 128 levels is a 400
    -> body size, batch size, requests per minute               (limits.check_request)
    per operation: the pipeline (variables, APQ, cache lookup, prepare, admit, execute, settle)
    -> ``{"data", "errors", "extensions": {"cost": ...}}`` + RateLimit headers

Every partner response carries the ``"requests"`` and ``"cost"`` RateLimit headers, errors included
(429 and 503 too): what a response did not charge is reported as it stands
(:meth:`LimitGuard.current_headers`). Admission comes after authentication, so a refused request
always knows its caller; a request refused before that (401, or 429 for its address) has no partner
to report on.

Each partner request is counted in its minute (:mod:`graphql_facade.usage`: status, refusal and
error codes, its operations, cost charged, server time) when the facade publishes usage events.

The response cache holds the serialized ``data`` of queries keyed by audience and tenant,
document, operation name and variables; a hit answers without running GraphQL at all (see
:mod:`graphql_facade.response_cache`; ``x-mes-min-position`` asks for an answer reflecting
given stream positions).

Read-your-writes on the services' read replicas (:mod:`graphql_facade.read_your_writes`): the
caller's database positions (``x-mes-db-position`` header, ``mes_pos`` cookie) go with every backend
call of the request, a mutation's commit position comes back in both, and while they are recent the
request bypasses cached answers.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Authenticator, Viewer, session_cookie_of
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.limits import (
    AddressLimiter,
    ClientAddresses,
    LimitCode,
    LimitError,
    Limits,
    merge_rate_limit_headers,
)
from graphql_facade.metrics import ADMISSION_REFUSED, record_operation, record_refusal, record_request
from graphql_facade.pipeline import FairGate, Outcome, Pipeline, operation_from
from graphql_facade.pipeline.request import bad_request, error_body, parse_json
from graphql_facade.read_your_writes import ReadYourWrites, RequestPositions
from graphql_facade.response_cache import MIN_POSITION_HEADER
from graphql_facade.runtime import Facade
from graphql_facade.sessions import check_same_origin, own_origin
from graphql_facade.usage import RequestUsage, note_error, note_operations, note_refusal, operation, track, untrack
from mes_platform.telemetry.logs import get_logger

__all__ = ["GraphQLEndpoint"]

_log = get_logger("mes.facade.http")
_JSON = "application/json"
_GRAPHQL_JSON = "application/graphql-response+json"
_QUERY_ONLY = frozenset({StrawberryOperationType.QUERY})
_ALL_OPERATIONS = frozenset({StrawberryOperationType.QUERY, StrawberryOperationType.MUTATION})


def _too_large(size: int, limit: int, *, read: bool = False) -> LimitError:
    """413. The app reads no further; the server discards what the client still sends (closing the
    connection instead would reset it, and the client could lose the answer)."""
    has = f"more than {limit}" if read else str(size)
    return LimitError(
        LimitCode.PAYLOAD_TOO_LARGE,
        f"The request body has {has} bytes; the limit is {limit}.",
        extensions={"size": size, "maxBytes": limit},
    )


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The body, read as it arrives (chunked or not); ``PAYLOAD_TOO_LARGE`` as soon as it passes ``limit``,
    ``TIMEOUT`` (408) when it has not all arrived within ``timeout_s``."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(size, limit, read=True)
                chunks.append(chunk)
    except TimeoutError:
        raise LimitError(
            LimitCode.TIMEOUT,
            f"The request body did not arrive within {timeout_s:g} s.",
            http_status=408,
            headers={"Connection": "close"},
        ) from None
    return b"".join(chunks)


def _json_param(request: Request, name: str) -> Any:
    raw = request.query_params.get(name)
    if not raw:
        return None
    return parse_json(raw, f"`{name}`")


class GraphQLEndpoint:
    """Starlette endpoint for ``GET``/``POST /graphql``."""

    def __init__(self, facade: Facade) -> None:
        self._facade = facade
        self._pipeline = Pipeline(facade)
        self._positions = ReadYourWrites(facade.settings)
        settings = facade.settings
        #: Fair admission, shared with the hit lane (``graphql_facade.hit_lane``).
        self.gate = FairGate(
            settings.max_inflight, wait_s=settings.admission_wait_s, refusal_hold_s=settings.refusal_hold_s
        )
        self._addresses = ClientAddresses(settings.trusted_proxies)
        self._unauthenticated = AddressLimiter(settings.unauthenticated_per_minute)
        self._max_body = max(
            limits.max_body_bytes for limits in (*facade.limits.tiers.values(), facade.limits.operator)
        )

    async def __call__(self, request: Request) -> Response:
        facade = self._facade
        started = time.perf_counter()
        audience = "anonymous"
        outcome: Outcome | None = None
        admitted: str | None = None
        usage = RequestUsage()
        tracking = track(usage)
        viewer: Viewer | None = None
        try:
            try:
                declared = request.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self._max_body:  # before spending anything on the caller
                    raise _too_large(int(declared), self._max_body)
                viewer = await self._authenticate(request)
                audience = viewer.audience
                if viewer.session and request.method == "POST":
                    _check_cookie_post(request, facade.settings.public_origin)
                limits = facade.limits_for(viewer)
                await self.gate.enter(viewer.rate_key, limits)
                admitted = viewer.rate_key
                # read-your-writes, and what the events received say (graphql_facade.read_your_writes)
                positions = self._positions.of(request, viewer, facade.hub.positions())
                with positions.serving():
                    outcome = await self._handle(request, viewer, limits, positions)
                outcome.headers = {**(outcome.headers or {}), **self._positions.answer(positions, request, viewer)}
            except (FacadeError, LimitError) as err:
                record_refusal(viewer.partner_id if viewer is not None else None, err.code)
                outcome = _error(err)
            if viewer is not None and viewer.is_partner:
                outcome.headers = await self._rate_headers(viewer, outcome.headers or {})
        except Exception:
            _log.exception("request_failed")
            error = FacadeError(ErrorCode.INTERNAL_SERVER_ERROR, "Internal server error.")
            note_error(error.code)
            outcome = Outcome(error_body([error.to_dict()]), status=500, kind="error")
        finally:
            untrack(tracking)
            if admitted is not None:
                self.gate.leave(admitted, refused=outcome is not None and outcome.status == 429)
        assert outcome is not None
        elapsed = time.perf_counter() - started
        record_request(audience, outcome.kind, outcome.status, outcome.cache, elapsed)
        if facade.usage is not None and viewer is not None:
            facade.usage.record(viewer, facade.limits_for(viewer), usage, outcome.status, elapsed)
        return _response(outcome, request)

    async def _authenticate(self, request: Request) -> Viewer:
        """The caller; an address over its unauthenticated limit is refused unless the credential is a
        valid operator token or a partner key this replica resolved as valid (then checked as usual)."""
        headers = request.headers
        address = self._addresses.of(request.client.host if request.client else None, headers)
        authenticator = self._facade.authenticator
        try:
            self._unauthenticated.check(address)
        except LimitError:
            key = "" if headers.get("authorization") else headers.get("x-api-key", "").strip()
            known = authenticator.known(key) if key else _valid_token(authenticator, headers)
            if not (known or _known_session(authenticator, headers)):
                ADMISSION_REFUSED.labels("address").inc()
                raise
        try:
            return await authenticator.from_headers(headers)
        except FacadeError as err:
            if err.code == ErrorCode.UNAUTHENTICATED:
                self._unauthenticated.failed(address)
            elif err.http_status == 503:  # the key lookup met an outage: the one outage shape
                err.headers.setdefault("Retry-After", "1")
            raise

    async def _handle(
        self, request: Request, viewer: Viewer, limits: Limits, positions: RequestPositions | None = None
    ) -> Outcome:
        facade = self._facade
        if request.method == "GET":
            payload: object = {
                "query": request.query_params.get("query"),
                "variables": _json_param(request, "variables"),
                "operationName": request.query_params.get("operationName"),
                "extensions": _json_param(request, "extensions"),
            }
            size = len(request.url.query.encode())
        else:
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
                raise _too_large(int(declared), limits.max_body_bytes)
            if "json" not in request.headers.get("content-type", ""):
                raise bad_request("Send the request as application/json.", http_status=415)
            body = await _read_body(request, limits.max_body_bytes, facade.settings.body_timeout_s)
            size = len(body)
            payload = parse_json(body)
        batch = isinstance(payload, list)
        if batch and not facade.settings.batching:
            raise bad_request("Batched requests are not enabled.")
        operations = payload if isinstance(payload, list) else [payload]
        note_operations(operations)
        rate_headers = await facade.guard.check_request(
            viewer.rate_key, limits, body_size=size, operations=len(operations)
        )
        allowed = _QUERY_ONLY if request.method == "GET" else _ALL_OPERATIONS
        run = functools.partial(
            self._pipeline.run,
            min_position=request.headers.get(MIN_POSITION_HEADER),
            db_positions=positions.needed if positions is not None else None,
        )
        if not batch:
            op_started = time.perf_counter()
            try:
                outcome = await run(viewer, limits, operation_from(payload), allowed)
            except (FacadeError, LimitError) as err:
                record_refusal(viewer.partner_id, err.code)
                outcome = _error(err)
            except Exception:  # answered 500 by __call__
                record_operation(viewer.audience, payload, 500, b"", time.perf_counter() - op_started)
                raise
            record_operation(viewer.audience, payload, outcome.status, outcome.body, time.perf_counter() - op_started)
            outcome.headers = merge_rate_limit_headers(rate_headers, outcome.headers or {})
            return outcome
        outcomes = []
        for index, item in enumerate(operations):
            with operation(index):
                op_started = time.perf_counter()
                try:
                    outcomes.append(await run(viewer, limits, operation_from(item), allowed))
                except (FacadeError, LimitError) as err:
                    note_refusal(err.code, err.extensions)
                    record_refusal(viewer.partner_id, err.code)
                    outcomes.append(Outcome(error_body([err.to_dict()]), status=err.http_status, headers=err.headers))
                except Exception:  # the whole request is answered 500 by __call__
                    record_operation(viewer.audience, item, 500, b"", time.perf_counter() - op_started)
                    raise
                answered, elapsed = outcomes[-1], time.perf_counter() - op_started
                record_operation(viewer.audience, item, answered.status, answered.body, elapsed)
        headers = merge_rate_limit_headers(rate_headers, *(o.headers or {} for o in outcomes))
        return Outcome(b"[" + b",".join(o.body for o in outcomes) + b"]", headers=headers, kind="batch")

    async def _rate_headers(self, viewer: Viewer, headers: Mapping[str, str]) -> Mapping[str, str]:
        """``headers`` with the partner's ``"requests"`` and ``"cost"`` RateLimit headers, the missing ones
        as they stand (nothing charged)."""
        policies = headers.get("RateLimit-Policy", "")
        requests = '"requests"' not in policies
        cost = '"cost"' not in policies
        if not (requests or cost):
            return headers
        limits = self._facade.limits_for(viewer)
        current = await self._facade.guard.current_headers(viewer.rate_key, limits, requests=requests, cost=cost)
        return merge_rate_limit_headers(headers, current)


def _valid_token(authenticator: Authenticator, headers: Mapping[str, str]) -> bool:
    """Whether the request carries a valid operator bearer token (checked locally, nothing looked up)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and authenticator.operator(token.strip()) is not None


def _known_session(authenticator: Authenticator, headers: Mapping[str, str]) -> bool:
    """Whether the request has only a session cookie this replica holds as open (nothing looked up)."""
    if headers.get("authorization") or headers.get("x-api-key"):
        return False
    return authenticator.known_session(session_cookie_of(headers))


def _check_cookie_post(request: Request, public_origin: str | None) -> None:
    """A POST signed in with the session cookie: from the facade's own origin, as application/json
    (which a form of another site cannot send without a preflight); 403 FORBIDDEN otherwise."""
    own = own_origin(request.url.scheme, request.headers.get("host", ""), public_origin)
    check_same_origin(request.headers, own, "A request signed in with the session cookie")
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != _JSON:
        raise FacadeError(
            ErrorCode.FORBIDDEN,
            "A request signed in with the session cookie must send Content-Type: application/json.",
            http_status=403,
        )


def _error(err: FacadeError | LimitError) -> Outcome:
    note_refusal(err.code, err.extensions)
    return Outcome(error_body([err.to_dict()]), status=err.http_status, headers=err.headers, kind="error")


def _response(outcome: Outcome, request: Request) -> Response:
    media = _GRAPHQL_JSON if _GRAPHQL_JSON in request.headers.get("accept", "") else _JSON
    return Response(outcome.body, status_code=outcome.status, headers=outcome.headers, media_type=media)
