"""Reading the facade's GraphQL answers in tests, and the body of a request: the data of an answer
that must have succeeded, the first error of one that must have failed. One reading for the unit
tests (the app over the fake backend) and the integration tests (the app over the real services), so
that both check the same things: an answer with data has status 200 and no errors; a failed one has
no data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def data(response: Any) -> dict[str, Any]:
    """The ``data`` of a successful answer; fails the test, showing the body, on any error."""
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def error(response: Any) -> dict[str, Any]:
    """The first error of an answer that must have failed as a whole (no ``data``)."""
    body = response.json()
    assert body.get("data") is None, body
    first: dict[str, Any] = body["errors"][0]
    return first


def error_code(response: Any) -> str:
    """The ``extensions.code`` of the first error of an answer that must have failed as a whole."""
    code: str = error(response)["extensions"]["code"]
    return code


def request_body(
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    operation_name: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of a GraphQL request over HTTP POST: the keys not given are left out."""
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = dict(variables)
    if operation_name is not None:
        body["operationName"] = operation_name
    if extensions is not None:
        body["extensions"] = dict(extensions)
    return body
