"""Reading the facade's GraphQL answers in tests: the data of a successful one, the single error of another."""

from __future__ import annotations

from typing import Any

__all__ = ["data_of", "error_of"]


def data_of(response: Any) -> dict[str, Any]:
    """The ``data`` of an answer that must have no errors."""
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def error_of(response: Any) -> dict[str, Any]:
    """The one error of an answer that must have exactly one."""
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    found: dict[str, Any] = errors[0]
    return found
