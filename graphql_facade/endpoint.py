"""The GraphQL-over-HTTP endpoint: our own pipeline in front of ``schema.execute``.

For each request::

    in-flight cap (503 OVERLOADED, shed early)  ->  authenticate (401)
    -> body size, batch size, requests per minute               (limits.check_request)
    per operation:
      -> APQ (persisted query resolved)  -> operators: response-cache lookup (before any parsing)
      -> tokens  -> parse (cached)  -> depth/aliases  -> operation type  -> validation (cached)
      -> cost (pagination arguments, max cost), submissions per minute,
         cost bucket (partners; operators are measured only)     (limits.admit)
      -> partners: response-cache lookup
      -> execute (request timeout)  -> actual cost, refund       (limits.settle)
      -> store queries without errors in the response cache
    -> ``{"data", "errors", "extensions": {"cost": ...}}`` + RateLimit headers

The response cache holds the serialized ``data`` of queries keyed by audience and tenant,
document, operation name, variables and the event version; a hit answers without running
GraphQL at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, OperationType, get_operation_ast
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.http.ides import get_graphql_ide_html
from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Viewer
from graphql_facade.context import PreparedDocument
from graphql_facade.errors import ErrorCode, FacadeError, format_errors
from graphql_facade.limits import (
    BucketState,
    LimitCode,
    LimitError,
    Limits,
    check_document,
    cost_extension,
    merge_rate_limit_headers,
    query_hash,
    rate_limit_headers,
    resolve_persisted_query,
    run_with_timeout,
)
from graphql_facade.metrics import INFLIGHT, QUERY_COST, REQUEST_LATENCY, REQUESTS, SHED
from graphql_facade.runtime import Facade
from mes_platform.telemetry.logs import get_logger

__all__ = ["GraphQLEndpoint"]

_log = get_logger("mes.facade.http")
_JSON = "application/json"
_GRAPHQL_JSON = "application/graphql-response+json"
_QUERY_ONLY = frozenset({StrawberryOperationType.QUERY})
_ALL_OPERATIONS = frozenset({StrawberryOperationType.QUERY, StrawberryOperationType.MUTATION})


@dataclass
class _Operation:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


@dataclass
class _Outcome:
    body: bytes
    status: int = 200
    headers: Mapping[str, str] | None = None
    kind: str = "query"
    cache: str = "none"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _error_body(errors: list[dict[str, Any]]) -> bytes:
    return b'{"errors":' + _dumps(errors) + b"}"


def _bad_request(message: str) -> FacadeError:
    return FacadeError(ErrorCode.BAD_REQUEST, message, http_status=400)


def _operation(data: object) -> _Operation:
    if not isinstance(data, dict):
        raise _bad_request("The request must be a JSON object with a `query`.")
    query = data.get("query")
    variables = data.get("variables")
    name = data.get("operationName")
    extensions = data.get("extensions")
    if query is not None and not isinstance(query, str):
        raise _bad_request("`query` must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise _bad_request("`variables` must be an object.")
    if name is not None and not isinstance(name, str):
        raise _bad_request("`operationName` must be a string.")
    if extensions is not None and not isinstance(extensions, dict):
        raise _bad_request("`extensions` must be an object.")
    return _Operation(query, variables, name or None, extensions)


def _persisted_hash(op: _Operation) -> str | None:
    """The sha256 of a well-formed hash-only APQ request (no query text), else None."""
    if op.query or not op.extensions:
        return None
    persisted = op.extensions.get("persistedQuery")
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        return None
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        return None
    lowered = digest.lower()
    return lowered if all(c in "0123456789abcdef" for c in lowered) else None


def _json_param(request: Request, name: str) -> Any:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise _bad_request(f"`{name}` must be JSON.") from None


class GraphQLEndpoint:
    """Starlette endpoint for ``GET``/``POST /graphql``."""

    def __init__(self, facade: Facade) -> None:
        self._facade = facade
        self._inflight = 0
        self._max_body = max(
            limits.max_body_bytes for limits in (*facade.limits.tiers.values(), facade.limits.operator)
        )

    async def __call__(self, request: Request) -> Response:
        facade = self._facade
        if request.method == "GET" and facade.settings.graphiql and "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(get_graphql_ide_html(graphql_ide="graphiql"))
        if self._inflight >= facade.settings.max_inflight:
            SHED.inc()
            return _response(
                _Outcome(
                    _error_body([FacadeError(ErrorCode.OVERLOADED, "The server is busy; retry shortly.").to_dict()]),
                    status=503,
                    headers={"Retry-After": "1"},
                ),
                request,
            )
        self._inflight += 1
        INFLIGHT.inc()
        started = time.perf_counter()
        audience = "anonymous"
        outcome: _Outcome
        try:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_body:  # before spending anything on the caller
                raise LimitError(
                    LimitCode.PAYLOAD_TOO_LARGE,
                    f"The request body has {declared} bytes; the limit is {self._max_body}.",
                    extensions={"size": int(declared), "maxBytes": self._max_body},
                )
            viewer = await facade.authenticator.from_headers(request.headers)
            audience = viewer.audience
            outcome = await self._handle(request, viewer)
        except (FacadeError, LimitError) as err:
            outcome = _Outcome(_error_body([err.to_dict()]), status=err.http_status, headers=err.headers, kind="error")
        except Exception:
            _log.exception("request_failed")
            error = FacadeError(ErrorCode.INTERNAL_SERVER_ERROR, "Internal server error.")
            outcome = _Outcome(_error_body([error.to_dict()]), status=500, kind="error")
        finally:
            self._inflight -= 1
            INFLIGHT.dec()
        REQUESTS.labels(audience, outcome.kind, str(outcome.status)).inc()
        REQUEST_LATENCY.labels(audience, outcome.cache).observe(time.perf_counter() - started)
        return _response(outcome, request)

    async def _handle(self, request: Request, viewer: Viewer) -> _Outcome:
        facade = self._facade
        limits = facade.limits_for(viewer)
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
                raise LimitError(
                    LimitCode.PAYLOAD_TOO_LARGE,
                    f"The request body has {declared} bytes; the limit is {limits.max_body_bytes}.",
                    extensions={"size": int(declared), "maxBytes": limits.max_body_bytes},
                )
            if "json" not in request.headers.get("content-type", ""):
                raise FacadeError(ErrorCode.BAD_REQUEST, "Send the request as application/json.", http_status=415)
            body = await request.body()
            size = len(body)
            try:
                payload = json.loads(body) if size <= limits.max_body_bytes else None
            except ValueError:
                raise _bad_request("The body is not valid JSON.") from None
        batch = isinstance(payload, list)
        if batch and not facade.settings.batching:
            raise _bad_request("Batched requests are not enabled.")
        operations = payload if isinstance(payload, list) else [payload]
        rate_headers = await facade.guard.check_request(
            viewer.rate_key, limits, body_size=size, operations=len(operations)
        )
        allowed = _QUERY_ONLY if request.method == "GET" else _ALL_OPERATIONS
        if not batch:
            outcome = await self._run(viewer, limits, _operation(payload), allowed)
            outcome.headers = merge_rate_limit_headers(rate_headers, outcome.headers or {})
            return outcome
        outcomes = []
        for item in operations:
            try:
                outcomes.append(await self._run(viewer, limits, _operation(item), allowed))
            except (FacadeError, LimitError) as err:
                outcomes.append(_Outcome(_error_body([err.to_dict()]), status=err.http_status, headers=err.headers))
        headers = merge_rate_limit_headers(rate_headers, *(o.headers or {} for o in outcomes))
        return _Outcome(b"[" + b",".join(o.body for o in outcomes) + b"]", headers=headers, kind="batch")

    async def _run(
        self, viewer: Viewer, limits: Limits, op: _Operation, allowed: frozenset[StrawberryOperationType]
    ) -> _Outcome:
        facade = self._facade
        # A hash-only persisted query is identified by its hash: a cached answer needs no store lookup.
        hashed = _persisted_hash(op)
        query = None if hashed is not None else await resolve_persisted_query(facade.apq, op.query, op.extensions)
        responses = facade.responses
        cacheable = responses is not None and (not viewer.is_partner or facade.settings.response_cache_partners)
        key = ""
        if responses is not None and cacheable:
            key = responses.key(
                scope=viewer.scope,
                document_id=hashed if hashed is not None else query_hash(query or ""),
                operation_name=op.operation_name,
                variables=op.variables,
            )
            if not viewer.is_partner:
                hit = await responses.get(key)
                if hit is not None:
                    state = BucketState.unthrottled(limits)
                    cost = hit.cost or 0
                    return _Outcome(_body(hit.data, None, {"cost": cost_extension(cost, cost, state)}), cache="hit")
        if query is None:
            query = await resolve_persisted_query(facade.apq, op.query, op.extensions)

        facade.guard.check_query(query, limits)
        schema, documents = facade.schemas.for_audience(viewer.audience)
        try:
            document = documents.parse(query)
        except GraphQLSyntaxError as err:
            error = GraphQLError(err.message, source=err.source, positions=err.positions)
            error.extensions = {"code": ErrorCode.GRAPHQL_PARSE_FAILED}
            return _Outcome(_error_body(format_errors([error])), status=400, kind="invalid")
        operation = get_operation_ast(document, op.operation_name)
        if operation is None:
            message = (
                f"Unknown operation named '{op.operation_name}'."
                if op.operation_name
                else "Provide `operationName` to pick one of the operations in the document."
            )
            return _Outcome(_error_body([_bad_request(message).to_dict()]), status=400, kind="invalid")
        check_document(document, limits, op.operation_name)  # depth and aliases, before validation walks it
        kind = operation.operation.value
        if operation.operation is OperationType.SUBSCRIPTION:
            raise _bad_request("Subscriptions are served over WebSocket (graphql-transport-ws) on this path.")
        if StrawberryOperationType(kind) not in allowed:
            raise FacadeError(ErrorCode.BAD_REQUEST, "Mutations are not allowed over GET; use POST.", http_status=405)
        errors = documents.validate(query, document)
        if errors:
            return _Outcome(_error_body(format_errors(list(errors))), status=400, kind="invalid")

        admission = await facade.guard.admit(
            viewer.rate_key, limits, schema._schema, document, op.variables, op.operation_name
        )
        QUERY_COST.labels(viewer.audience, "requested").observe(admission.requested)
        use_cache = cacheable and kind == "query" and responses is not None
        if use_cache and viewer.is_partner and responses is not None:
            hit = await responses.get(key)
            if hit is not None:
                actual = hit.cost if hit.cost is not None else admission.requested
                state = admission.state
                refund = admission.requested - actual
                if limits.throttle and refund > 0 and not state.degraded:
                    state = await facade.guard.bucket.refund(admission.key, refund, limits)
                return _Outcome(
                    _body(hit.data, None, {"cost": cost_extension(admission.requested, actual, state)}),
                    headers=rate_limit_headers(state),
                    kind=kind,
                    cache="hit",
                )

        context = facade.context(viewer, PreparedDocument(document))
        result = await run_with_timeout(
            schema.execute(
                query,
                variable_values=op.variables,
                context_value=context,
                operation_name=op.operation_name,
                allowed_operation_types=allowed,
            ),
            limits.request_timeout_s,
        )
        settled = await facade.guard.settle(admission, result.data, result.errors)
        QUERY_COST.labels(viewer.audience, "actual").observe(settled.actual)
        data_bytes = _dumps(result.data) if result.data is not None else None
        if use_cache and responses is not None and data_bytes is not None and not result.errors:
            await responses.put(key, data_bytes, settled.actual)
        error_list = format_errors(result.errors) if result.errors else None
        extensions: dict[str, Any] = {"cost": settled.extension}
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # A request error (variables that do not coerce): nothing was executed.
            body = b'{"errors":' + _dumps(error_list) + b',"extensions":' + _dumps(extensions) + b"}"
            return _Outcome(body, status=400, headers=settled.headers, kind="invalid")
        return _Outcome(
            _body(data_bytes, error_list, extensions),
            headers=settled.headers,
            kind=kind,
            cache="miss" if use_cache else "none",
        )


def _body(data: bytes | None, errors: list[dict[str, Any]] | None, extensions: dict[str, Any] | None) -> bytes:
    parts = [b'{"data":', data if data is not None else b"null"]
    if errors:
        parts += [b',"errors":', _dumps(errors)]
    if extensions:
        parts += [b',"extensions":', _dumps(extensions)]
    parts.append(b"}")
    return b"".join(parts)


def _response(outcome: _Outcome, request: Request) -> Response:
    media = _GRAPHQL_JSON if _GRAPHQL_JSON in request.headers.get("accept", "") else _JSON
    response = Response(outcome.body, status_code=outcome.status, media_type=media)
    if outcome.headers:
        response.headers.update(outcome.headers)
    return response
