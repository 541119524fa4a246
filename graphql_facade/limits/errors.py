"""The one exception raised by the partner-protection layer.

Every limit that rejects a request raises :class:`LimitError`. It carries everything the
HTTP endpoint needs to answer without knowing which limit fired:

* ``code``: the frozen GraphQL ``extensions.code`` (see :class:`LimitCode`);
* ``message``: a client-safe sentence (never internal details);
* ``http_status``: the status to answer with (see the table in :mod:`graphql_facade.limits`);
* ``extensions``: the GraphQL error ``extensions`` (always contains ``code``);
* ``headers``: extra HTTP headers (``Retry-After``, ``RateLimit``, ``RateLimit-Policy``).

The error is a *request error*: it is raised before execution, so the response has no
``data``; :meth:`LimitError.to_dict` gives the ``{"message", "extensions"}`` entry for the
``errors`` list and :meth:`LimitError.to_graphql_error` the graphql-core equivalent.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from graphql import GraphQLError

__all__ = ["DOCUMENTATION_URL", "HTTP_STATUS", "LimitCode", "LimitError"]

#: Where the limits are described for partners; added to every error's extensions.
DOCUMENTATION_URL = "https://docs.mes.example/api/limits"


class LimitCode(StrEnum):
    """Frozen ``extensions.code`` values. Renaming one is a breaking change."""

    THROTTLED = "THROTTLED"
    RATE_LIMITED = "RATE_LIMITED"
    MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
    TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    VARIABLES_TOO_LARGE = "VARIABLES_TOO_LARGE"
    VARIABLES_TOO_DEEP = "VARIABLES_TOO_DEEP"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    TOO_MANY_ORDER_LINES = "TOO_MANY_ORDER_LINES"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    PAGINATION_ARGUMENT_REQUIRED = "PAGINATION_ARGUMENT_REQUIRED"
    PAGINATION_ARGUMENT_OUT_OF_RANGE = "PAGINATION_ARGUMENT_OUT_OF_RANGE"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    BAD_REQUEST = "BAD_REQUEST"
    TIMEOUT = "TIMEOUT"
    TOO_MANY_CONCURRENT_REQUESTS = "TOO_MANY_CONCURRENT_REQUESTS"


#: Default HTTP status per code. 4xx for requests that were refused before execution
#: (GraphQL-over-HTTP, ``application/graphql-response+json``); 200 only where a client
#: protocol expects it (Apollo APQ clients retry on a 200 ``PERSISTED_QUERY_NOT_FOUND``).
HTTP_STATUS: Mapping[LimitCode, int] = {
    LimitCode.THROTTLED: 429,
    LimitCode.RATE_LIMITED: 429,
    LimitCode.MAX_COST_EXCEEDED: 400,
    LimitCode.QUERY_TOO_DEEP: 400,
    LimitCode.TOO_MANY_ALIASES: 400,
    LimitCode.TOO_MANY_TOKENS: 400,
    LimitCode.PAYLOAD_TOO_LARGE: 413,
    LimitCode.VARIABLES_TOO_LARGE: 400,
    LimitCode.VARIABLES_TOO_DEEP: 400,
    LimitCode.BATCH_TOO_LARGE: 400,
    LimitCode.TOO_MANY_ORDER_LINES: 400,
    LimitCode.TOO_MANY_SUBSCRIPTIONS: 400,
    LimitCode.PAGINATION_ARGUMENT_REQUIRED: 400,
    LimitCode.PAGINATION_ARGUMENT_OUT_OF_RANGE: 400,
    LimitCode.PERSISTED_QUERY_NOT_FOUND: 200,
    LimitCode.PERSISTED_QUERY_HASH_MISMATCH: 400,
    LimitCode.PERSISTED_QUERY_NOT_SUPPORTED: 400,
    LimitCode.BAD_REQUEST: 400,
    LimitCode.TIMEOUT: 504,
    LimitCode.TOO_MANY_CONCURRENT_REQUESTS: 429,
}


class LimitError(Exception):
    """A request refused by a limit; safe to show to the client as is."""

    def __init__(
        self,
        code: LimitCode,
        message: str,
        *,
        http_status: int | None = None,
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code: str = str(code)
        self.message = message
        self.http_status: int = HTTP_STATUS[code] if http_status is None else http_status
        self.extensions: dict[str, Any] = {"code": self.code, **dict(extensions or {})}
        self.extensions.setdefault("documentation", DOCUMENTATION_URL)
        self.headers: dict[str, str] = dict(headers or {})

    def to_dict(self) -> dict[str, Any]:
        """The entry for the response's ``errors`` list."""
        return {"message": self.message, "extensions": dict(self.extensions)}

    def to_graphql_error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions=dict(self.extensions), original_error=self)

    def __repr__(self) -> str:
        return f"LimitError({self.code}, {self.message!r}, http_status={self.http_status})"
