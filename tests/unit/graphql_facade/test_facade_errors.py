"""One error model: typed backend errors become codes; anything else is masked."""

from __future__ import annotations

import grpc
import pytest
from graphql import GraphQLError

from clients import (
    AlreadyExistsError,
    ConflictError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    IdempotencyKeyReusedError,
    InsufficientStockError,
    InternalError,
    InvalidArgumentError,
    MesClientError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from graphql_facade.errors import INTERNAL_MESSAGE, FacadeError, from_client_error, shape_error
from tests.unit.graphql_facade.conftest import PARTNER_A, FacadeClient
from tests.unit.graphql_facade.facade_fakes import FakeBackend

S = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFoundError(S.NOT_FOUND, "order not found"), "NOT_FOUND"),
        (InvalidArgumentError(S.INVALID_ARGUMENT, "bad"), "INVALID_ARGUMENT"),
        (IdempotencyKeyReusedError(S.ALREADY_EXISTS, "x", reason="IDEMPOTENCY_KEY_REUSED"), "IDEMPOTENCY_KEY_REUSED"),
        (AlreadyExistsError(S.ALREADY_EXISTS, "x"), "ALREADY_EXISTS"),
        (
            FailedPreconditionError(S.FAILED_PRECONDITION, "x", reason="INVALID_STATE_TRANSITION"),
            "INVALID_STATE_TRANSITION",
        ),
        (InsufficientStockError(S.FAILED_PRECONDITION, "x", reason="INSUFFICIENT_STOCK"), "INSUFFICIENT_STOCK"),
        (FailedPreconditionError(S.FAILED_PRECONDITION, "x"), "FAILED_PRECONDITION"),
        (ConflictError(S.ABORTED, "x", reason="VERSION_CONFLICT"), "VERSION_CONFLICT"),
        (ResourceExhaustedError(S.RESOURCE_EXHAUSTED, "x", reason="CAPACITY_EXCEEDED"), "RESOURCE_EXHAUSTED"),
        (PermissionDeniedError(S.PERMISSION_DENIED, "staff only"), "FORBIDDEN"),
        (UnavailableError(S.UNAVAILABLE, "db down"), "UNAVAILABLE"),
        (DeadlineExceededError(S.DEADLINE_EXCEEDED, "slow"), "UNAVAILABLE"),
        (UnauthenticatedError(S.UNAUTHENTICATED, "bad service token"), "INTERNAL_SERVER_ERROR"),
        (InternalError(S.INTERNAL, "internal error"), "INTERNAL_SERVER_ERROR"),
        (MesClientError(S.CANCELLED, "x"), "INTERNAL_SERVER_ERROR"),
    ],
)
def test_client_errors_map_to_codes(error: MesClientError, code: str) -> None:
    public = from_client_error(error)
    assert public.code == code and public.extensions["code"] == code
    if code in ("INTERNAL_SERVER_ERROR", "UNAVAILABLE", "FORBIDDEN"):
        assert error.message not in public.message  # internal wording never leaks


def test_field_violations_are_kept() -> None:
    error = InvalidArgumentError(
        S.INVALID_ARGUMENT, "bad lines", violations=[FieldViolation("lines[0].quantity", "must be greater than zero")]
    )
    public = from_client_error(error)
    assert public.extensions["fieldViolations"] == [
        {"field": "lines[0].quantity", "description": "must be greater than zero"}
    ]


def test_unexpected_exceptions_are_masked() -> None:
    raw = GraphQLError("boom", original_error=RuntimeError("password=hunter2 at db.internal:5432"), path=["order"])
    shaped = shape_error(raw, hide_suggestions=False)
    assert shaped.message == INTERNAL_MESSAGE
    assert shaped.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(shaped.formatted)


def test_facade_errors_pass_through() -> None:
    raw = GraphQLError("x", original_error=FacadeError("NOT_FOUND", "order not found"), path=["order"])
    assert shape_error(raw, hide_suggestions=True).formatted["extensions"] == {"code": "NOT_FOUND"}


async def test_unexpected_resolver_failure_is_masked(client: FacadeClient, backend: FakeBackend) -> None:
    backend.fail["ListOrders"] = ZeroDivisionError("secret internals: /srv/app.py line 12")
    response = await client.gql("{ orders(first: 5) { nodes { id } } }", headers=PARTNER_A)
    assert response.status_code == 200
    text = response.text
    assert "secret" not in text and "ZeroDivision" not in text and "app.py" not in text
    error = response.json()["errors"][0]
    assert error == {
        "message": INTERNAL_MESSAGE,
        "locations": error["locations"],
        "path": ["orders"],
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }


async def test_unavailable_backend_is_retryable_unavailable(client: FacadeClient, backend: FakeBackend) -> None:
    backend.fail["CountOrders"] = UnavailableError(S.UNAVAILABLE, "connection refused to 10.0.0.7")
    response = await client.gql("{ orderCounts { total } }")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAVAILABLE" and error["extensions"]["retryable"] is True
    assert "10.0.0.7" not in response.text


async def test_partial_results_keep_the_good_fields(client: FacadeClient, backend: FakeBackend) -> None:
    backend.add_order("partner-a")
    backend.fail["ListReservations"] = UnavailableError(S.UNAVAILABLE, "down")
    response = await client.gql("{ orders(first: 5) { nodes { id reservations { id } } } orderCounts { total } }")
    body = response.json()
    assert body["data"]["orderCounts"] == {"total": 1}
    assert body["errors"][0]["path"][:3] == ["orders", "nodes", 0]
