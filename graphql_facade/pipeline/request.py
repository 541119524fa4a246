"""One GraphQL operation of an HTTP request, and what the pipeline answers for it (an :class:`Outcome`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.limits import nesting_depth

__all__ = [
    "MAX_JSON_DEPTH",
    "Operation",
    "Outcome",
    "bad_request",
    "dumps",
    "error_body",
    "operation_from",
    "parse_json",
    "response_body",
]

#: How deeply a request's JSON (a body, or the ``variables``/``extensions`` of a GET) may nest.
MAX_JSON_DEPTH = 128


@dataclass(slots=True)
class Operation:
    """The ``query``, ``variables``, ``operationName`` and ``extensions`` of one operation."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None

    @property
    def persisted_hash(self) -> str | None:
        """The sha256 of a well-formed hash-only APQ request (no query text), else None."""
        if self.query or not self.extensions:
            return None
        persisted = self.extensions.get("persistedQuery")
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            return None
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            return None
        lowered = digest.lower()
        return lowered if all(c in "0123456789abcdef" for c in lowered) else None


@dataclass(slots=True)
class Outcome:
    """The answer to an operation (or a whole request): body, status, headers and how it went."""

    body: bytes
    status: int = 200
    headers: Mapping[str, str] | None = None
    #: query, mutation, batch, invalid or error (the metrics' ``kind``).
    kind: str = "query"
    #: hit, miss or none (the metrics' ``cache``).
    cache: str = "none"


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (orjson; the standard library for what orjson refuses: integers beyond 64 bits)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def error_body(errors: list[dict[str, Any]], extensions: dict[str, Any] | None = None) -> bytes:
    body = b'{"errors":' + dumps(errors)
    if extensions:
        body += b',"extensions":' + dumps(extensions)
    return body + b"}"


def response_body(data: bytes | None, errors: list[dict[str, Any]] | None, extensions: dict[str, Any] | None) -> bytes:
    """``{"data": ..., "errors": ..., "extensions": ...}`` around already serialized ``data``."""
    parts = [b'{"data":', data if data is not None else b"null"]
    if errors:
        parts += [b',"errors":', dumps(errors)]
    if extensions:
        parts += [b',"extensions":', dumps(extensions)]
    parts.append(b"}")
    return b"".join(parts)


def bad_request(message: str, *, http_status: int = 400) -> FacadeError:
    return FacadeError(ErrorCode.BAD_REQUEST, message, http_status=http_status)


def parse_json(raw: bytes | str, what: str = "The body") -> Any:
    """``raw`` parsed by the standard library (exact integers of any size); ``BAD_REQUEST`` when it is not
    JSON or nests deeper than :data:`MAX_JSON_DEPTH` (the decoder's own recursion limit included)."""
    try:
        value = json.loads(raw)
    except ValueError:
        raise bad_request(f"{what} is not valid JSON.") from None
    except RecursionError:
        raise bad_request(f"{what} nests more than {MAX_JSON_DEPTH} levels deep.") from None
    # Nesting deeper than the bound needs more brackets than the bound: most bodies are not walked at all.
    brackets = raw.count(b"[") + raw.count(b"{") if isinstance(raw, bytes) else raw.count("[") + raw.count("{")
    if brackets > MAX_JSON_DEPTH and nesting_depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise bad_request(f"{what} nests more than {MAX_JSON_DEPTH} levels deep.")
    return value


def operation_from(data: object) -> Operation:
    """The operation of a request body item (``BAD_REQUEST`` when it is not of the GraphQL shape)."""
    if not isinstance(data, dict):
        raise bad_request("The request must be a JSON object with a `query`.")
    query = data.get("query")
    variables = data.get("variables")
    name = data.get("operationName")
    extensions = data.get("extensions")
    if query is not None and not isinstance(query, str):
        raise bad_request("`query` must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise bad_request("`variables` must be an object.")
    if name is not None and not isinstance(name, str):
        raise bad_request("`operationName` must be a string.")
    if extensions is not None and not isinstance(extensions, dict):
        raise bad_request("`extensions` must be an object.")
    return Operation(query, variables, name or None, extensions)
