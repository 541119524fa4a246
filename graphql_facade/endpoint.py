"""The GraphQL-over-HTTP endpoint: the request around the staged pipeline (:mod:`graphql_facade.pipeline`).

For each request::

    in-flight cap (503 OVERLOADED, shed early)  ->  authenticate (401)
    -> body size, batch size, requests per minute               (limits.check_request)
    per operation: the pipeline (APQ, cache lookup, prepare, admit, execute, settle)
    -> ``{"data", "errors", "extensions": {"cost": ...}}`` + RateLimit headers

The response cache holds the serialized ``data`` of queries keyed by audience and tenant,
document, operation name and variables; a hit answers without running GraphQL at all (see
:mod:`graphql_facade.response_cache`; ``x-mes-min-position`` asks for an answer reflecting
given stream positions).
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.types.graphql import OperationType as StrawberryOperationType

from graphql_facade.auth import Viewer
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.limits import LimitCode, LimitError, merge_rate_limit_headers
from graphql_facade.metrics import record_request
from graphql_facade.pipeline import InflightGate, Outcome, Pipeline, operation_from
from graphql_facade.pipeline.request import bad_request, error_body
from graphql_facade.response_cache import MIN_POSITION_HEADER
from graphql_facade.runtime import Facade
from graphql_facade.strawberry_internals import graphiql_html
from mes_platform.telemetry.logs import get_logger

__all__ = ["GraphQLEndpoint"]

_log = get_logger("mes.facade.http")
_JSON = "application/json"
_GRAPHQL_JSON = "application/graphql-response+json"
_QUERY_ONLY = frozenset({StrawberryOperationType.QUERY})
_ALL_OPERATIONS = frozenset({StrawberryOperationType.QUERY, StrawberryOperationType.MUTATION})


def _too_large(size: int, limit: int) -> LimitError:
    return LimitError(
        LimitCode.PAYLOAD_TOO_LARGE,
        f"The request body has {size} bytes; the limit is {limit}.",
        extensions={"size": size, "maxBytes": limit},
    )


def _json_param(request: Request, name: str) -> Any:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request(f"`{name}` must be JSON.") from None


class GraphQLEndpoint:
    """Starlette endpoint for ``GET``/``POST /graphql``."""

    def __init__(self, facade: Facade) -> None:
        self._facade = facade
        self._pipeline = Pipeline(facade)
        #: The in-flight cap, shared with the hit lane (``graphql_facade.hit_lane``).
        self.gate = InflightGate(facade.settings.max_inflight)
        self._max_body = max(
            limits.max_body_bytes for limits in (*facade.limits.tiers.values(), facade.limits.operator)
        )

    async def __call__(self, request: Request) -> Response:
        facade = self._facade
        if request.method == "GET" and facade.settings.graphiql and "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(graphiql_html())
        if not self.gate.enter():
            overloaded = FacadeError(ErrorCode.OVERLOADED, "The server is busy; retry shortly.")
            return _response(Outcome(error_body([overloaded.to_dict()]), 503, {"Retry-After": "1"}), request)
        started = time.perf_counter()
        audience = "anonymous"
        outcome: Outcome
        try:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_body:  # before spending anything on the caller
                raise _too_large(int(declared), self._max_body)
            viewer = await facade.authenticator.from_headers(request.headers)
            audience = viewer.audience
            outcome = await self._handle(request, viewer)
        except (FacadeError, LimitError) as err:
            outcome = Outcome(error_body([err.to_dict()]), status=err.http_status, headers=err.headers, kind="error")
        except Exception:
            _log.exception("request_failed")
            error = FacadeError(ErrorCode.INTERNAL_SERVER_ERROR, "Internal server error.")
            outcome = Outcome(error_body([error.to_dict()]), status=500, kind="error")
        finally:
            self.gate.leave()
        record_request(audience, outcome.kind, outcome.status, outcome.cache, time.perf_counter() - started)
        return _response(outcome, request)

    async def _handle(self, request: Request, viewer: Viewer) -> Outcome:
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
                raise _too_large(int(declared), limits.max_body_bytes)
            if "json" not in request.headers.get("content-type", ""):
                raise bad_request("Send the request as application/json.", http_status=415)
            body = await request.body()
            size = len(body)
            try:
                payload = json.loads(body) if size <= limits.max_body_bytes else None
            except ValueError:
                raise bad_request("The body is not valid JSON.") from None
        batch = isinstance(payload, list)
        if batch and not facade.settings.batching:
            raise bad_request("Batched requests are not enabled.")
        operations = payload if isinstance(payload, list) else [payload]
        rate_headers = await facade.guard.check_request(
            viewer.rate_key, limits, body_size=size, operations=len(operations)
        )
        allowed = _QUERY_ONLY if request.method == "GET" else _ALL_OPERATIONS
        run = functools.partial(self._pipeline.run, min_position=request.headers.get(MIN_POSITION_HEADER))
        if not batch:
            outcome = await run(viewer, limits, operation_from(payload), allowed)
            outcome.headers = merge_rate_limit_headers(rate_headers, outcome.headers or {})
            return outcome
        outcomes = []
        for item in operations:
            try:
                outcomes.append(await run(viewer, limits, operation_from(item), allowed))
            except (FacadeError, LimitError) as err:
                outcomes.append(Outcome(error_body([err.to_dict()]), status=err.http_status, headers=err.headers))
        headers = merge_rate_limit_headers(rate_headers, *(o.headers or {} for o in outcomes))
        return Outcome(b"[" + b",".join(o.body for o in outcomes) + b"]", headers=headers, kind="batch")


def _response(outcome: Outcome, request: Request) -> Response:
    media = _GRAPHQL_JSON if _GRAPHQL_JSON in request.headers.get("accept", "") else _JSON
    return Response(outcome.body, status_code=outcome.status, headers=outcome.headers, media_type=media)
